using Microsoft.ML.OnnxRuntime;

namespace ModelGen.Benchmarks;

/// <summary>
/// One ONNX Runtime session on its fastest path: one intra-op thread, all graph optimisations, input and output
/// OrtValues pinned over pre-allocated arrays, and Run(RunOptions, names, values, names, values).
/// </summary>
internal sealed class OrtOneOp : IDisposable
{
    readonly InferenceSession _session;
    readonly RunOptions _run = new();
    readonly string[] _inNames, _outNames;
    readonly OrtValue[] _in, _out;

    public OrtOneOp(byte[] model, float[] input, long[] inputShape, float[] output, long[] outputShape)
        : this(model, new[] { (input, inputShape) }, output, outputShape) { }

    public OrtOneOp(byte[] model, (float[] Data, long[] Shape)[] inputs, float[] output, long[] outputShape)
    {
        _session = new InferenceSession(model, Options());
        _inNames = _session.InputMetadata.Keys.ToArray();
        _outNames = _session.OutputMetadata.Keys.Take(1).ToArray();
        _in = inputs.Select(i => OrtValue.CreateTensorValueFromMemory(i.Data, i.Shape)).ToArray();
        _out = new[] { OrtValue.CreateTensorValueFromMemory(output, outputShape) };
    }

    public static SessionOptions Options() => new()
    {
        IntraOpNumThreads = 1,
        InterOpNumThreads = 1,
        ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
    };

    public void Run() => _session.Run(_run, _inNames, _in, _outNames, _out);

    public void Dispose()
    {
        foreach (var v in _in) v.Dispose();
        foreach (var v in _out) v.Dispose();
        _run.Dispose();
        _session.Dispose();
    }
}
