using Microsoft.ML.OnnxRuntime;
using ModelGen.Compiler;
using ModelGen.Compiler.Onnx.Proto;
using Xunit;
using Xunit.Abstractions;

namespace ModelGen.Tests;

/// <summary>
/// Users sometimes keep the model ONNX Runtime wrote after optimising it (SessionOptions.OptimizedModelFilePath at
/// ORT_ENABLE_EXTENDED), which holds ORT's own fused operators (FusedConv, FusedGemm, FusedMatMul, LayerNormalization,
/// Gelu, ...). Each repository model is optimised by ORT here, compiled by ModelGen and compared with ORT running the
/// original file.
/// </summary>
public class OrtOptimizedModelTests(ITestOutputHelper log)
{
    public static TheoryData<string> Files => new()
    {
        "zoo/tcn_kws", "zoo/gru_kws", "zoo/tiny_transformer_op14", "zoo/tiny_transformer_op17", "zoo/conv_autoencoder_op13",
        "zoo/swin_micro", "zoo/convnext_micro", "zoo/shufflenet_micro",
        "mlperf/ds_cnn", "mlperf/mobilenet_v1_025", "mlperf/resnet8", "mlperf/fc_autoencoder",
    };

    [Theory]
    [MemberData(nameof(Files))]
    public void OrtOptimisedModelMatchesTheOriginal(string name)
    {
        var original = File.ReadAllBytes(Path.Combine(Harness.RepoRoot, "tests", "models", name + ".onnx"));
        var optimisedLayers = Check(name, original, tolerance: 2e-5, step: 0);
        // ModelGen's passes fuse the rewritten operators again: no more layers than from the original file. Except
        // ConvNeXt: ORT splits its channel LayerNorm into ReduceMean, Sub, Transpose, SimplifiedLayerNormalization and
        // Add, a shape ModelGen's LayerNorm fusion does not recognise (92 layers against 66)
        var r = ModelCompiler.Compile(original, name + ".onnx", new ModelOptions { ClassName = "M" });
        int layers = Layers(r.Source!);
        log.WriteLine($"{name}: {layers} layers from the original, {optimisedLayers} from ORT's optimised file");
        if (name != "zoo/convnext_micro")
            Assert.True(optimisedLayers <= layers, $"{name}: ORT's optimised file gives {optimisedLayers} layers, the original {layers}");
    }

    static int Layers(string source)
    {
        var m = System.Text.RegularExpressions.Regex.Match(source, @"total: (\d+) layers");
        Assert.True(m.Success, "no layer total in the generated header");
        return int.Parse(m.Groups[1].Value);
    }

    /// <summary>
    /// Quantized models after ORT's optimisations: quantize_dynamic's graph becomes DynamicQuantizeMatMul (and
    /// MatMulIntegerToFloat), QDQ and QOperator graphs get ORT's own QLinear forms. Within one output quantization step
    /// of ORT on the original (the float output of a dynamic model: 1e-5 relative).
    /// </summary>
    [Theory]
    [InlineData("dynamic_mlp")] [InlineData("dynamic_cnn")] [InlineData("qoperator_cnn")] [InlineData("torch_qdq_cnn")]
    public void OrtOptimisedQuantizedModelMatchesTheOriginal(string name)
    {
        switch (name)
        {
            case "dynamic_mlp": Check(name, QOperatorModels.DynamicMlp(4, 64, 2), tolerance: 1e-5, step: 0); break;
            case "dynamic_cnn": Check(name, QOperatorModels.DynamicCnn(16, pooledOnly: true), tolerance: 1e-5, step: 0); break;
            case "qoperator_cnn": Check(name, QOperatorModels.Cnn(16, quantizedOutput: false), tolerance: 0, step: 0.05f); break;
            case "torch_qdq_cnn":
                var bytes = File.ReadAllBytes(Path.Combine(Harness.RepoRoot, "tests", "models", "zoo", name + ".onnx"));
                Check(name, bytes, tolerance: 0, step: ZooTests.OutputStep(bytes));
                break;
        }
    }

    /// <summary>ORT optimises <paramref name="original"/> and saves it; ModelGen compiles that file; both run one random input.</summary>
    /// <summary>ORT_ENABLE_ALL (ORT's default) writes its NCHWc layout for this machine: a diagnostic that says what to do instead.</summary>
    [Fact]
    public void OrtNchwcLayoutIsADiagnosticThatSaysWhatToDo()
    {
        var optimised = Path.Combine(Path.GetTempPath(), $"modelgen-ortall-{Environment.ProcessId}.onnx");
        using (var opts = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, OptimizedModelFilePath = optimised })
        using (new InferenceSession(Path.Combine(Harness.RepoRoot, "tests", "models", "mlperf", "ds_cnn.onnx"), opts)) { }
        try
        {
            var bytes = File.ReadAllBytes(optimised);
            if (!ModelProto.Parser.ParseFrom(bytes).Graph.Node.Any(n => n.Domain == "com.microsoft.nchwc"))
                return; // a machine without the vector width ORT's NCHWc layout needs: nothing to check here
            var r = ModelCompiler.Compile(bytes, "ds_cnn_all.onnx", new ModelOptions { ClassName = "M" });
            Assert.False(r.Success);
            var d = Assert.Single(r.Diagnostics);
            Assert.Equal(Diag.UnsupportedOperator, d.Kind);
            Assert.Contains("com.microsoft.nchwc.", d.Message);
            Assert.Contains("ORT_ENABLE_EXTENDED", d.Message);
        }
        finally { File.Delete(optimised); }
    }

    /// <returns>The layers in ModelGen's code for the optimised file.</returns>
    int Check(string name, byte[] original, double tolerance, float step)
    {
        var optimised = Path.Combine(Path.GetTempPath(), $"modelgen-ortopt-{Environment.ProcessId}-{name.Replace('/', '_')}.onnx");
        int[] shape;
        using (var opts = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_EXTENDED, OptimizedModelFilePath = optimised })
        using (var s = new InferenceSession(original, opts))
            shape = s.InputMetadata.Values.First().Dimensions.Select(d => d < 0 ? 3 : d).ToArray();
        try
        {
            var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(optimised));
            var own = proto.Graph.Node.Where(n => n.Domain == "com.microsoft" || n.OpType == "SimplifiedLayerNormalization").Select(n => n.OpType).Distinct().OrderBy(s => s).ToList();
            log.WriteLine($"{name}: ORT's optimised graph has {proto.Graph.Node.Count} nodes; its own operators: {string.Join(", ", own)}");
            var x = Ort.Random(shape.Aggregate(1, (a, b) => a * b), 5);
            var expected = OpCheck.RunOrt(original, new Array[] { x });
            int last = expected.Length - 1; // the float output (QOperatorModels.Cnn without its quantized one has one)
            var actual = OpCheck.RunModelGen(File.ReadAllBytes(optimised), TargetProfile.Net, new Array[] { x },
                expected.Select(e => e.Length).ToArray(), expected.Select(e => e.GetType().GetElementType()!).ToArray(),
                new ModelOptions());
            var e = (float[])expected[last]; var y = (float[])actual[last];
            int layers = Layers(ModelCompiler.Compile(File.ReadAllBytes(optimised), name + ".onnx", new ModelOptions { ClassName = "M" }).Source!);
            if (step > 0)
            {
                int off = e.Zip(y).Count(p => Math.Abs(p.First - p.Second) > 1e-6);
                log.WriteLine($"{name}: {off} of {y.Length} outputs one step ({step}) from ORT");
                Assert.All(e.Zip(y), p => Assert.True(Math.Abs(p.First - p.Second) <= step * 1.001, $"{name}: {p.Second} vs ORT {p.First}, more than one step {step}"));
            }
            else
            {
                var d = Ort.RelMaxDiff(y, e);
                log.WriteLine($"{name}: max rel diff {d:E2}");
                Assert.True(d < tolerance, $"{name}: max rel diff {d}");
            }
            return layers;
        }
        finally { File.Delete(optimised); }
    }
}
