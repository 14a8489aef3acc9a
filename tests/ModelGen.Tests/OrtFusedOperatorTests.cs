using ModelGen.Compiler;
using ModelGen.Compiler.IR;
using Xunit;
using static ModelGen.Tests.QOperatorModels;

namespace ModelGen.Tests;

/// <summary>
/// Models saved after ONNX Runtime's graph optimisations hold its own fused operators (com.microsoft FusedConv,
/// FusedGemm, FusedMatMul, Gelu family, SkipLayerNormalization, SimplifiedLayerNormalization, DynamicQuantizeMatMul,
/// MatMulIntegerToFloat). ModelGen rewrites them into standard operators on import; ORT runs them natively as the oracle.
/// </summary>
public class OrtFusedOperatorTests
{
    static float[] R(int n, int seed) => Ort.Random(n, seed);

    [Theory]
    [InlineData("", false)] [InlineData("Relu", false)] [InlineData("Relu", true)] [InlineData("Tanh", false)] [InlineData("Sigmoid", true)]
    [InlineData("LeakyRelu", false)] [InlineData("Clip", false)] [InlineData("HardSigmoid", false)]
    public void FusedConv(string activation, bool residual)
    {
        var b = new OnnxBuilder(13).Input("x", DType.Float, 1, 3, 6, 6).Initializer("w", new[] { 4, 3, 3, 3 }, R(108, 2)).Initializer("bias", new[] { 4 }, R(4, 3)).Output("y");
        var ins = new List<string> { "x", "w", "bias" };
        if (residual) { b.Input("z", DType.Float, 1, 4, 6, 6); ins.Add("z"); }
        var attrs = new List<(string, object)> { ("pads", new long[] { 1, 1, 1, 1 }), ("kernel_shape", new long[] { 3, 3 }) };
        if (activation.Length > 0) attrs.Add(("activation", activation));
        if (activation == "LeakyRelu") attrs.Add(("activation_params", new[] { 0.2f }));
        if (activation == "Clip") attrs.Add(("activation_params", new[] { -0.5f, 0.75f }));
        if (activation == "HardSigmoid") attrs.Add(("activation_params", new[] { 0.3f, 0.4f }));
        Ms(b, "FusedConv", ins.ToArray(), new[] { "y" }, attrs.ToArray());
        var inputs = residual ? new Array[] { R(108, 1), R(144, 5) } : new Array[] { R(108, 1) };
        OpCheck.AgainstOrt(b.Build(), 1e-5, inputs);
    }

    [Theory] [InlineData("Relu")] [InlineData("LeakyRelu")] [InlineData("Sigmoid")]
    public void FusedGemm(string activation)
    {
        var b = new OnnxBuilder(13).Input("a", DType.Float, 3, 5).Initializer("w", new[] { 4, 5 }, R(20, 2)).Initializer("c", new[] { 4 }, R(4, 3)).Output("y");
        var attrs = new List<(string, object)> { ("transB", 1L), ("alpha", 0.5f), ("beta", 2f), ("activation", activation) };
        if (activation == "LeakyRelu") attrs.Add(("activation_alpha", 0.3f));
        Ms(b, "FusedGemm", new[] { "a", "w", "c" }, new[] { "y" }, attrs.ToArray());
        OpCheck.AgainstOrt(b.Build(), 1e-5, R(15, 1));
    }

    [Theory]
    [InlineData(new[] { 2, 3, 5 }, new[] { 5, 4 }, 0L, 0L, 0L, 0L, 1f)]
    [InlineData(new[] { 2, 5, 3 }, new[] { 5, 4 }, 1L, 0L, 0L, 0L, 0.25f)]
    [InlineData(new[] { 2, 3, 5 }, new[] { 4, 5 }, 0L, 1L, 0L, 0L, 1f)]
    [InlineData(new[] { 2, 5, 3 }, new[] { 4, 5 }, 1L, 1L, 0L, 0L, -2f)]
    [InlineData(new[] { 3, 2, 5 }, new[] { 2, 5, 4 }, 0L, 0L, 1L, 0L, 1f)]      // attention: [S, B, K] read as [B, S, K]
    [InlineData(new[] { 2, 3, 5 }, new[] { 5, 2, 4 }, 0L, 0L, 0L, 1L, 0.5f)]
    [InlineData(new[] { 3, 2, 5 }, new[] { 4, 2, 5 }, 0L, 1L, 1L, 1L, 1f)]
    [InlineData(new[] { 3, 2, 2, 5 }, new[] { 2, 2, 5, 4 }, 0L, 0L, 1L, 0L, 1f)] // rank 4: [S, B, H, K] read as [B, H, S, K]
    [InlineData(new[] { 5, 2, 2, 3 }, new[] { 4, 2, 2, 5 }, 1L, 1L, 1L, 1L, 0.125f)]
    public void FusedMatMul(int[] a, int[] w, long transA, long transB, long transBatchA, long transBatchB, float alpha)
    {
        var b = new OnnxBuilder(13).Input("a", DType.Float, a).Input("w", DType.Float, w).Output("y");
        Ms(b, "FusedMatMul", new[] { "a", "w" }, new[] { "y" }, ("transA", transA), ("transB", transB), ("transBatchA", transBatchA), ("transBatchB", transBatchB), ("alpha", alpha));
        OpCheck.AgainstOrt(b.Build(), 1e-5, R(a.Aggregate(1, (p, q) => p * q), 1), R(w.Aggregate(1, (p, q) => p * q), 2));
    }

    [Theory] [InlineData("Gelu")] [InlineData("BiasGelu")] [InlineData("FastGelu")] [InlineData("FastGeluNoBias")] [InlineData("QuickGelu")]
    public void GeluFamily(string op)
    {
        var b = new OnnxBuilder(13).Input("x", DType.Float, 2, 3, 8).Initializer("bias", new[] { 8 }, R(8, 2)).Output("y");
        switch (op)
        {
            case "Gelu": Ms(b, "Gelu", new[] { "x" }, new[] { "y" }); break;
            case "BiasGelu": Ms(b, "BiasGelu", new[] { "x", "bias" }, new[] { "y" }); break;
            case "FastGelu": Ms(b, "FastGelu", new[] { "x", "bias" }, new[] { "y" }); break;
            case "FastGeluNoBias": Ms(b, "FastGelu", new[] { "x" }, new[] { "y" }); break;
            case "QuickGelu": Ms(b, "QuickGelu", new[] { "x" }, new[] { "y" }, ("alpha", 1.5f)); break;
        }
        OpCheck.AgainstOrt(b.Build(), 1e-5, R(48, 1).Select(v => 3 * v).ToArray());
    }

    [Theory] [InlineData(false, false, false)] [InlineData(true, true, false)] [InlineData(true, false, true)] [InlineData(false, true, true)]
    public void SkipLayerNormalization(bool beta, bool bias, bool sumOut)
    {
        var b = new OnnxBuilder(13).Input("x", DType.Float, 2, 3, 8).Input("s", DType.Float, 2, 3, 8)
            .Initializer("g", new[] { 8 }, R(8, 2)).Initializer("be", new[] { 8 }, R(8, 3)).Initializer("bi", new[] { 8 }, R(8, 4)).Output("y");
        var ins = new[] { "x", "s", "g", beta ? "be" : "", bias ? "bi" : "" };
        var outs = sumOut ? new[] { "y", "", "", "sum" } : new[] { "y" };
        if (sumOut) b.Output("sum");
        Ms(b, "SkipLayerNormalization", ins, outs, ("epsilon", 1e-5f));
        OpCheck.AgainstOrt(b.Build(), 1e-4, R(48, 1), R(48, 5));
    }

    [Theory] [InlineData(false)] [InlineData(true)]
    public void SkipSimplifiedLayerNormalization(bool bias)
    {
        var b = new OnnxBuilder(13).Input("x", DType.Float, 2, 3, 8).Input("s", DType.Float, 2, 3, 8)
            .Initializer("g", new[] { 8 }, R(8, 2)).Initializer("bi", new[] { 8 }, R(8, 4)).Output("y");
        Ms(b, "SkipSimplifiedLayerNormalization", bias ? new[] { "x", "s", "g", "bi" } : new[] { "x", "s", "g" }, new[] { "y" }, ("epsilon", 1e-5f));
        OpCheck.AgainstOrt(b.Build(), 1e-4, R(48, 1), R(48, 5));
    }

    [Theory] [InlineData(13, false)] [InlineData(18, false)] [InlineData(13, true)] [InlineData(18, true)]
    public void SimplifiedLayerNormalization(int opset, bool invStdDev)
    {
        // ORT registers this one in the ONNX domain; its second output is 1 / sqrt(mean(x^2) + epsilon)
        var b = new OnnxBuilder(opset).Input("x", DType.Float, 2, 3, 8).Initializer("g", new[] { 8 }, R(8, 2)).Output("y");
        if (invStdDev) b.Output("inv");
        b.Node("SimplifiedLayerNormalization", new[] { "x", "g" }, invStdDev ? new[] { "y", "inv" } : new[] { "y" }, ("axis", -1L), ("epsilon", 1e-5f));
        OpCheck.AgainstOrt(b.Build(), 1e-4, R(48, 1));
    }

    [Theory] [InlineData(false, false)] [InlineData(true, true)]
    public void DynamicQuantizeMatMul(bool zeroPoint, bool bias)
    {
        // B int8 per column, the layout ORT's fusion of quantize_dynamic's graph writes
        var b = new OnnxBuilder(13).Input("a", DType.Float, 4, 16).Output("y");
        Init(b, IntTensor("w", DType.Int8, new[] { 16, 8 }, Enumerable.Range(0, 128).Select(i => (long)((i * 37) % 255 - 127)).ToArray()));
        b.Initializer("ws", new[] { 8 }, Enumerable.Range(0, 8).Select(i => 0.01f + 0.002f * i).ToArray());
        Init(b, IntTensor("wz", DType.Int8, new[] { 8 }, new long[8]));
        b.Initializer("bias", new[] { 8 }, R(8, 3));
        Ms(b, "DynamicQuantizeMatMul", new[] { "a", "w", "ws", zeroPoint ? "wz" : "", bias ? "bias" : "" }, new[] { "y" });
        OpCheck.AgainstOrt(b.Build(), 1e-5, R(64, 1));
        var r = ModelCompiler.Compile(b.Build(), "d.onnx", new ModelOptions { ClassName = "M" });
        // the rewritten graph is quantize_dynamic's: the MatMulInteger lowering takes it (no MG0013)
        Assert.DoesNotContain(r.Diagnostics, d => d.Kind == Diag.QuantizedNotLowered);
        Assert.Contains("MatMulIntegerInt8", r.Source);
    }

    [Fact]
    public void MatMulIntegerToFloat()
    {
        var b = new OnnxBuilder(13).Input("a", DType.UInt8, 3, 16).Output("y");
        Init(b, IntTensor("w", DType.Int8, new[] { 16, 8 }, Enumerable.Range(0, 128).Select(i => (long)((i * 53) % 255 - 127)).ToArray()));
        b.Initializer("as", Array.Empty<int>(), new[] { 0.02f }).Initializer("ws", new[] { 8 }, Enumerable.Range(0, 8).Select(i => 0.01f + 0.002f * i).ToArray());
        Init(b, IntTensor("az", DType.UInt8, Array.Empty<int>(), new long[] { 131 }));
        b.Initializer("bias", new[] { 8 }, R(8, 3));
        Ms(b, "MatMulIntegerToFloat", new[] { "a", "w", "as", "ws", "az", "", "bias" }, new[] { "y" });
        OpCheck.AgainstOrt(b.Build(), 1e-5, Enumerable.Range(0, 48).Select(i => (byte)(i * 29 % 256)).ToArray());
    }

    [Fact]
    public void UnsupportedFusedActivationIsADiagnostic()
    {
        var b = new OnnxBuilder(13).Input("x", DType.Float, 1, 3, 6, 6).Initializer("w", new[] { 4, 3, 3, 3 }, R(108, 2)).Output("y");
        Ms(b, "FusedConv", new[] { "x", "w" }, new[] { "y" }, ("activation", "Swish"));
        var r = ModelCompiler.Compile(b.Build(), "f.onnx", new ModelOptions { ClassName = "M" });
        Assert.False(r.Success);
        var d = Assert.Single(r.Diagnostics, d => d.Kind == Diag.UnsupportedAttribute);
        Assert.Contains("fused activation 'Swish'", d.Message);
        Assert.Contains("FusedConv", d.Message);
    }
}
