#if MODEL_BENCHMARKS
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;

namespace ModelGen.Benchmarks;

/// <summary>
/// `layers [model]`: where the time goes, layer by layer, on both sides: the generated Profile="true" copy of the model
/// (its ProfileReport) and ONNX Runtime's own per-node profile of the same file (the kernel time of each node, summed
/// over the same number of calls). ORT names its fused nodes after the first node of the pattern.
/// </summary>
internal static class LayerTimes
{
    const int Calls = 2000;

    public static void Run(string model)
    {
        var (predict, reset, report, shape) = model switch
        {
            "embedding_model" => ((Action<float[], float[]>)((a, c) => EmbeddingModelProfiled.Predict(a, c)), (Action)EmbeddingModelProfiled.ResetProfile, (Func<string>)EmbeddingModelProfiled.ProfileReport, new long[] { 1, 76, 32, 1 }),
            "ds_cnn" => ((Action<float[], float[]>)((a, c) => DsCnnProfiled.Predict(a, c)), DsCnnProfiled.ResetProfile, DsCnnProfiled.ProfileReport, new long[] { 1, 1, 49, 10 }),
            "mobilenet_v1_025" => ((Action<float[], float[]>)((a, c) => MobileNetV1025Profiled.Predict(a, c)), MobileNetV1025Profiled.ResetProfile, MobileNetV1025Profiled.ProfileReport, new long[] { 1, 3, 96, 96 }),
            "resnet8" => ((Action<float[], float[]>)((a, c) => ResNet8Profiled.Predict(a, c)), ResNet8Profiled.ResetProfile, ResNet8Profiled.ProfileReport, new long[] { 1, 3, 32, 32 }),
            "mobilenet_v3_block" => ((Action<float[], float[]>)((a, c) => MobileNetV3BlockProfiled.Predict(a, c)), MobileNetV3BlockProfiled.ResetProfile, MobileNetV3BlockProfiled.ProfileReport, new long[] { 1, 3, 64, 64 }),
            "tiny_transformer_op17" => ((Action<float[], float[]>)((a, c) => TinyTransformerProfiled.Predict(a, c)), TinyTransformerProfiled.ResetProfile, TinyTransformerProfiled.ProfileReport, new long[] { 1, 16, 32 }),
            _ => throw new ArgumentException($"layers: one of embedding_model, ds_cnn, mobilenet_v1_025, resnet8, mobilenet_v3_block, tiny_transformer_op17, not {model}"),
        };
        var b = new ModelBenchmarks { Model = model };
        b.Setup(); // checks the plain build against ORT; the profiled build is the same code plus clocks
        b.Cleanup();
        var x = Data.Random(new Random(42), (int)shape.Aggregate(1L, (a, c) => a * c));
        var options = OrtOneOp.Options();
        options.EnableProfiling = true;
        options.ProfileOutputPathPrefix = Path.Combine(Path.GetTempPath(), "ort_layers_" + model);
        using var session = new InferenceSession(ModelBenchmarks.PathOf(model), options);
        var name = session.InputMetadata.Keys.First();
        var input = new[] { NamedOnnxValue.CreateFromTensor(name, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(x, shape.Select(d => (int)d).ToArray())) };
        float[] y;
        using (var r = session.Run(input)) y = new float[r.First().AsTensor<float>().Length];
        for (int i = 0; i < Calls; i++) session.Run(input).Dispose();
        var file = session.EndProfiling();
        var nodes = new Dictionary<string, (string Op, double Us)>();
        var order = new List<string>();
        using (var doc = JsonDocument.Parse(File.ReadAllText(file)))
            foreach (var e in doc.RootElement.EnumerateArray())
            {
                if (e.GetProperty("cat").GetString() != "Node") continue;
                var n = e.GetProperty("name").GetString();
                if (!n.EndsWith("_kernel_time")) continue;
                n = n[..^"_kernel_time".Length];
                var op = e.GetProperty("args").GetProperty("op_name").GetString();
                if (!nodes.ContainsKey(n)) { order.Add(n); nodes[n] = (op, 0); }
                nodes[n] = (op, nodes[n].Us + e.GetProperty("dur").GetInt64());
            }
        File.Delete(file);

        for (int i = 0; i < 200; i++) predict(x, y);
        reset();
        for (int i = 0; i < Calls; i++) predict(x, y);
        Console.WriteLine($"ModelGen {model}, {Calls} calls:");
        Console.Write(report());
        double total = nodes.Values.Sum(v => v.Us);
        Console.WriteLine($"ONNX Runtime {model}, {Calls} calls (kernel time only; its per-call overhead is outside these):");
        Console.WriteLine("     us/call       %  node");
        foreach (var n in order)
            Console.WriteLine($"{nodes[n].Us / Calls,12:F1}{nodes[n].Us / total * 100,8:F1}  {nodes[n].Op} {n}");
        Console.WriteLine($"{total / Calls,12:F1}   100.0  total");
    }
}
#endif
