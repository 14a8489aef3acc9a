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

    /// <summary>
    /// A chain of ORT's fused operators (FusedConv, FusedGemm, FusedMatMul, QuickGelu, SkipLayerNormalization, FastGelu)
    /// for end-to-end and mutation tests. Input x [1, 3, 8, 8], output y [1, 8].
    /// </summary>
    public static byte[] Chain()
    {
        var b = new OnnxBuilder(13).Input("x", DType.Float, 1, 3, 8, 8)
            .Initializer("w", new[] { 6, 3, 3, 3 }, R(162, 2)).Initializer("cb", new[] { 6 }, R(6, 3))
            .Initializer("g", new[] { 8, 6 }, R(48, 4)).Initializer("gb", new[] { 8 }, R(8, 5))
            .Initializer("m", new[] { 8, 8 }, R(64, 6)).Initializer("ln", new[] { 8 }, R(8, 7)).Initializer("fb", new[] { 8 }, R(8, 8)).Output("y");
        Ms(b, "FusedConv", new[] { "x", "w", "cb" }, new[] { "c" }, ("pads", new long[] { 1, 1, 1, 1 }), ("activation", "Relu"));
        b.Node("GlobalAveragePool", new[] { "c" }, new[] { "p" }).Node("Flatten", new[] { "p" }, new[] { "f" });
        Ms(b, "FusedGemm", new[] { "f", "g", "gb" }, new[] { "h" }, ("transB", 1L), ("activation", "LeakyRelu"), ("activation_alpha", 0.1f));
        Ms(b, "FusedMatMul", new[] { "h", "m" }, new[] { "k" }, ("transB", 1L), ("alpha", 0.5f));
        Ms(b, "QuickGelu", new[] { "k" }, new[] { "q" });
        Ms(b, "SkipLayerNormalization", new[] { "q", "h", "ln" }, new[] { "s" });
        Ms(b, "FastGelu", new[] { "s", "fb" }, new[] { "y" });
        return b.Build();
    }

    [Fact]
    public void ChainOfFusedOperators() => OpCheck.AgainstOrt(Chain(), 1e-5, R(192, 1));

    /// <summary>The experimental operators of opsets 1-9 (ORT still runs them), as in the ONNX zoo's older models.</summary>
    [Theory]
    [InlineData("ImageScaler")] [InlineData("Scale")] [InlineData("Affine")] [InlineData("ScaledTanh")] [InlineData("ParametricSoftplus")]
    [InlineData("Crop")] [InlineData("CropScale")]
    public void ExperimentalOperatorsOfOldOpsets(string op)
    {
        var b = new OnnxBuilder(8).Input("x", DType.Float, 1, 3, 6, 5).Output("y");
        switch (op)
        {
            case "ImageScaler": b.Node(op, new[] { "x" }, new[] { "y" }, ("scale", 0.5f), ("bias", new[] { 1f, -2f, 0.25f })); break;
            case "Scale": b.Node(op, new[] { "x" }, new[] { "y" }, ("scale", 3f)); break;
            case "Affine": b.Node(op, new[] { "x" }, new[] { "y" }, ("alpha", 2f), ("beta", -0.5f)); break;
            case "ScaledTanh": case "ParametricSoftplus": b.Node(op, new[] { "x" }, new[] { "y" }, ("alpha", 1.5f), ("beta", 0.7f)); break;
            case "Crop": b.Node(op, new[] { "x" }, new[] { "y" }, ("border", new long[] { 1, 2, 0, 1 })); break;
            case "CropScale": b.Node("Crop", new[] { "x" }, new[] { "y" }, ("border", new long[] { 1, 1, 0, 0 }), ("scale", new long[] { 3, 2 })); break;
        }
        OpCheck.AgainstOrt(b.Build(), 1e-5, R(90, 1).Select(v => 3 * v).ToArray());
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

/// <summary>
/// quantize_dynamic's LSTM (com.microsoft DynamicQuantizeLSTM, int8 weights transposed to [dirs, input, 4 hidden]) runs
/// as a float LSTM on the dequantized weights, with an MG0013 warning. Exact against ORT running the float LSTM on those
/// weights; close to ORT's own DynamicQuantizeLSTM, which also quantizes the activations.
/// </summary>
public class DynamicQuantizeLstmTests(Xunit.Abstractions.ITestOutputHelper log)
{
    const int Seq = 5, Batch = 2, In = 6, Hid = 4;

    /// <summary>Per column (gate row) symmetric int8, or per tensor uint8 with a zero point.</summary>
    static (long[] Q, float[] Scale, long[] Zero, float[] Dequantized) Quantize(float[] w, int dirs, int rows, int cols, bool perColumn)
    {
        // w is LSTM's [dirs, cols (4 hidden), rows]; the quantized tensor is [dirs, rows, cols]
        var q = new long[w.Length]; var deq = new float[w.Length];
        int groups = perColumn ? dirs * cols : 1;
        var scale = new float[groups]; var zero = new long[groups];
        for (int gi = 0; gi < groups; gi++)
        {
            var members = Enumerable.Range(0, w.Length).Where(i => !perColumn || i / rows == gi).ToArray();
            float lo = Math.Min(0, members.Min(i => w[i])), hi = Math.Max(0, members.Max(i => w[i]));
            if (perColumn) { scale[gi] = Math.Max(-lo, hi) / 127f; zero[gi] = 0; }
            else { scale[gi] = (hi - lo) / 255f; zero[gi] = (long)Math.Round(-lo / scale[gi]); }
        }
        for (int d = 0; d < dirs; d++)
            for (int c = 0; c < cols; c++)
                for (int r = 0; r < rows; r++)
                {
                    int src = (d * cols + c) * rows + r, gi = perColumn ? d * cols + c : 0;
                    long v = (long)Math.Round(w[src] / scale[gi]) + zero[gi];
                    v = perColumn ? Math.Clamp(v, -127, 127) : Math.Clamp(v, 0, 255);
                    q[(d * rows + r) * cols + c] = v;
                    deq[src] = (v - zero[gi]) * scale[gi];
                }
        return (q, scale, zero, deq);
    }

    internal static byte[] Model(bool quantized, string direction, bool perColumn, out float[] wDeq, out float[] rDeq)
    {
        int dirs = direction == "bidirectional" ? 2 : 1;
        var w = Ort.Random(dirs * 4 * Hid * In, 2, 0.5f); var r = Ort.Random(dirs * 4 * Hid * Hid, 3, 0.5f);
        var wq = Quantize(w, dirs, In, 4 * Hid, perColumn); var rq = Quantize(r, dirs, Hid, 4 * Hid, perColumn);
        wDeq = wq.Dequantized; rDeq = rq.Dequantized;
        var b = new OnnxBuilder(14).Input("x", ModelGen.Compiler.IR.DType.Float, Seq, Batch, In)
            .Initializer("b", new[] { dirs, 8 * Hid }, Ort.Random(dirs * 8 * Hid, 4, 0.2f))
            .Output("y").Output("yh").Output("yc");
        var attrs = new (string, object)[] { ("hidden_size", (long)Hid), ("direction", direction) };
        if (!quantized)
        {
            b.Initializer("w", new[] { dirs, 4 * Hid, In }, wDeq).Initializer("r", new[] { dirs, 4 * Hid, Hid }, rDeq);
            b.Node("LSTM", new[] { "x", "w", "r", "b" }, new[] { "y", "yh", "yc" }, attrs);
            return b.Build();
        }
        var t = perColumn ? ModelGen.Compiler.IR.DType.Int8 : ModelGen.Compiler.IR.DType.UInt8;
        int[] sShape = perColumn ? new[] { dirs, 4 * Hid } : new[] { dirs }; // per tensor: one direction here
        QOperatorModels.Init(b, QOperatorModels.IntTensor("wq", t, new[] { dirs, In, 4 * Hid }, wq.Q));
        QOperatorModels.Init(b, QOperatorModels.IntTensor("rq", t, new[] { dirs, Hid, 4 * Hid }, rq.Q));
        b.Initializer("ws", sShape, wq.Scale).Initializer("rs", sShape, rq.Scale);
        QOperatorModels.Init(b, QOperatorModels.IntTensor("wz", t, sShape, wq.Zero));
        QOperatorModels.Init(b, QOperatorModels.IntTensor("rz", t, sShape, rq.Zero));
        QOperatorModels.Ms(b, "DynamicQuantizeLSTM", new[] { "x", "wq", "rq", "b", "", "", "", "", "ws", "wz", "rs", "rz" }, new[] { "y", "yh", "yc" }, attrs);
        return b.Build();
    }

    [Theory]
    [InlineData("forward", true)] [InlineData("reverse", true)] [InlineData("bidirectional", true)] [InlineData("forward", false)]
    public void RunsAsAFloatLstmOnTheDequantizedWeights(string direction, bool perColumn)
    {
        var x = Ort.Random(Seq * Batch * In, 1);
        var quantized = Model(true, direction, perColumn, out _, out _);
        var twin = OpCheck.RunOrt(Model(false, direction, perColumn, out _, out _), new Array[] { x });
        var ortOwn = OpCheck.RunOrt(quantized, new Array[] { x });
        foreach (var target in new[] { ModelGen.Compiler.TargetProfile.Net, ModelGen.Compiler.TargetProfile.Portable })
        {
            var ours = OpCheck.RunModelGen(quantized, target, new Array[] { x }, twin.Select(a => a.Length).ToArray(), twin.Select(_ => typeof(float)).ToArray());
            for (int k = 0; k < 3; k++)
            {
                OpCheck.AssertClose(twin[k], ours[k], 1e-5, $"{target} output {k} vs the float LSTM");
                double d = ((float[])ortOwn[k]).Zip((float[])ours[k]).Max(p => Math.Abs(p.First - p.Second));
                log.WriteLine($"{direction} perColumn={perColumn} {target} output {k}: max |ORT DynamicQuantizeLSTM - ModelGen| = {d:E2}");
                Assert.True(d < 0.01, $"output {k}: {d} from ORT's DynamicQuantizeLSTM");
            }
        }
        var r = ModelGen.Compiler.ModelCompiler.Compile(quantized, "q.onnx", new ModelGen.Compiler.ModelOptions { ClassName = "M" });
        Assert.Contains(r.Diagnostics, d => d.Kind == ModelGen.Compiler.Diag.QuantizedNotLowered && d.Message.Contains("DynamicQuantizeLSTM"));
    }
}
