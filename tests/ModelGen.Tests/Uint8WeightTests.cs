using ModelGen.Compiler;
using ModelGen.Compiler.IR;
using Xunit;
using static ModelGen.Tests.QOperatorModels;

namespace ModelGen.Tests;

/// <summary>
/// uint8 weights with a zero point away from 128 (ONNX Runtime's asymmetric uint8 weight quantization): w - z leaves
/// int8, so the lowering splits each weight into two int8 halves along K and feeds the input twice. The integer sums
/// are exact (a float-output MatMulInteger equals the reference loops bit for bit); quantized outputs are within one
/// step of the reference loops (DisabledPasses=QLinearLowering / QdqConvGemmLowering) and of ORT, as the fixed-point
/// requantization of every lowered layer is.
/// </summary>
public class Uint8WeightTests
{
    static void Check(byte[] model, Array input, string loopsPass, float step)
    {
        var r = ModelCompiler.Compile(model, "u8.onnx", new ModelOptions { ClassName = "M" });
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        Assert.DoesNotContain(r.Diagnostics, d => d.Kind == Diag.QuantizedNotLowered);
        var expected = OpCheck.RunOrt(model, new[] { input });
        var lens = expected.Select(e => e.Length).ToArray(); var types = expected.Select(e => e.GetType().GetElementType()!).ToArray();
        var loops = OpCheck.RunModelGen(model, TargetProfile.Net, new[] { input }, lens, types, new ModelOptions { DisabledPasses = loopsPass });
        foreach (var target in new[] { TargetProfile.Net, TargetProfile.Portable })
        {
            var lowered = OpCheck.RunModelGen(model, target, new[] { input }, lens, types);
            for (int k = 0; k < expected.Length; k++)
            {
                OpCheck.AssertClose(loops[k], lowered[k], types[k] == typeof(float) && step < 1e-3 ? 0 : step, $"{target} output {k}: lowered vs reference loops");
                OpCheck.AssertClose(expected[k], lowered[k], step, $"{target} output {k}: vs ORT");
            }
        }
    }

    static byte[] U8(int n, int seed) => L8(n, seed, 0, 255).Select(v => (byte)v).ToArray();

    [Theory] [InlineData(40L)] [InlineData(230L)]
    public void QLinearConv(long wZero)
    {
        var b = new OnnxBuilder(13).Input("x", DType.UInt8, 1, 4, 7, 7);
        QParams(b, "x", DType.UInt8, 0.02f, 120);
        Init(b, IntTensor("w", DType.UInt8, new[] { 6, 4, 3, 3 }, L8(216, 3, 0, 255)));
        b.Initializer("w_s", Array.Empty<int>(), new[] { 0.003f });
        Init(b, IntTensor("w_z", DType.UInt8, Array.Empty<int>(), new[] { wZero }));
        QParams(b, "y", DType.UInt8, 0.05f, 100);
        Init(b, IntTensor("bias", DType.Int32, new[] { 6 }, L8(6, 4, -500, 500)));
        b.Node("QLinearConv", new[] { "x", "x_s", "x_z", "w", "w_s", "w_z", "y_s", "y_z", "bias" }, new[] { "y" }, ("pads", new long[] { 1, 1, 1, 1 }), ("strides", new long[] { 2, 1 }));
        Check(b.Output("y", DType.UInt8).Build(), U8(196, 1), "QLinearLowering", 1);
    }

    [Fact]
    public void QLinearMatMulPerColumnZeroPoints()
    {
        var b = new OnnxBuilder(13).Input("a", DType.UInt8, 3, 20);
        QParams(b, "a", DType.UInt8, 0.02f, 128);
        Init(b, IntTensor("w", DType.UInt8, new[] { 20, 8 }, L8(160, 5, 0, 255)));
        b.Initializer("w_s", new[] { 8 }, Scales(8, 6, 0.002f, 0.004f));
        Init(b, IntTensor("w_z", DType.UInt8, new[] { 8 }, L8(8, 7, 0, 255)));
        QParams(b, "y", DType.UInt8, 0.08f, 128);
        b.Node("QLinearMatMul", new[] { "a", "a_s", "a_z", "w", "w_s", "w_z", "y_s", "y_z" }, new[] { "y" });
        Check(b.Output("y", DType.UInt8).Build(), U8(60, 2), "QLinearLowering", 1);
    }

    [Fact]
    public void DynamicMatMulIntegerWithUint8Weights()
    {
        // quantize_dynamic with weight_type=QUInt8: uint8 B with a zero point per tensor
        var b = new OnnxBuilder(13).Input("x", DType.Float, 4, 24);
        Init(b, IntTensor("w", DType.UInt8, new[] { 24, 10 }, L8(240, 8, 0, 255)));
        Init(b, IntTensor("w_z", DType.UInt8, Array.Empty<int>(), new long[] { 77 }));
        b.Initializer("w_s", Array.Empty<int>(), new[] { 0.01f }).Initializer("bias", new[] { 10 }, Scales(10, 9, -0.5f, 0.5f));
        b.Node("DynamicQuantizeLinear", new[] { "x" }, new[] { "xq", "xs", "xz" })
            .Node("MatMulInteger", new[] { "xq", "w", "xz", "w_z" }, new[] { "acc" })
            .Node("Cast", new[] { "acc" }, new[] { "accf" }, ("to", 1L))
            .Node("Mul", new[] { "xs", "w_s" }, new[] { "s" })
            .Node("Mul", new[] { "accf", "s" }, new[] { "mm" })
            .Node("Add", new[] { "mm", "bias" }, new[] { "y" });
        Check(b.Output("y").Build(), Ort.Random(96, 3), "QLinearLowering", 1e-5f);
    }

    [Theory] [InlineData(1)] [InlineData(3)]
    public void QdqConvWithUint8Weights(int groups)
    {
        var b = new OnnxBuilder(13).Input("x", DType.Float, 1, 3, 6, 6);
        QParams(b, "xq", DType.UInt8, 0.02f, 128);
        int m = groups == 1 ? 4 : 3, icg = 3 / groups;
        Init(b, IntTensor("w", DType.UInt8, new[] { m, icg, 3, 3 }, L8(m * icg * 9, 10, 0, 255)));
        b.Initializer("w_s", Array.Empty<int>(), new[] { 0.004f });
        Init(b, IntTensor("w_z", DType.UInt8, Array.Empty<int>(), new long[] { 30 }));
        QParams(b, "yq", DType.UInt8, 0.05f, 128);
        b.Node("QuantizeLinear", new[] { "x", "xq_s", "xq_z" }, new[] { "xq" })
            .Node("DequantizeLinear", new[] { "xq", "xq_s", "xq_z" }, new[] { "xd" })
            .Node("DequantizeLinear", new[] { "w", "w_s", "w_z" }, new[] { "wd" })
            .Node("Conv", new[] { "xd", "wd" }, new[] { "c" }, ("pads", new long[] { 1, 1, 1, 1 }), ("group", (long)groups))
            .Node("QuantizeLinear", new[] { "c", "yq_s", "yq_z" }, new[] { "yq" })
            .Node("DequantizeLinear", new[] { "yq", "yq_s", "yq_z" }, new[] { "y" });
        Check(b.Output("y").Build(), Ort.Random(108, 4), "QdqConvGemmLowering", 0.05f);
    }

    /// <summary>Grouped and depthwise: each input channel doubled in place, so every group keeps its channels.</summary>
    [Theory] [InlineData(4, 1)] [InlineData(2, 2)] [InlineData(4, 2)]
    public void GroupedQLinearConv(int groups, int multiplier)
    {
        int c = 4, m = groups * multiplier, icg = c / groups;
        var b = new OnnxBuilder(13).Input("x", DType.UInt8, 1, c, 6, 6);
        QParams(b, "x", DType.UInt8, 0.02f, 120);
        Init(b, IntTensor("w", DType.UInt8, new[] { m, icg, 3, 3 }, L8(m * icg * 9, 3, 0, 255)));
        b.Initializer("w_s", new[] { m }, Scales(m, 4, 0.002f, 0.004f));
        Init(b, IntTensor("w_z", DType.UInt8, new[] { m }, L8(m, 5, 0, 255)));
        QParams(b, "y", DType.UInt8, 0.05f, 100);
        b.Node("QLinearConv", new[] { "x", "x_s", "x_z", "w", "w_s", "w_z", "y_s", "y_z" }, new[] { "y" }, ("group", (long)groups), ("pads", new long[] { 1, 1, 1, 1 }));
        Check(b.Output("y", DType.UInt8).Build(), U8(c * 36, 6), "QLinearLowering", 1);
    }

    /// <summary>The QOperator CNN (stem, depthwise, 1x1, QGemm) with uint8 weights: every layer lowered.</summary>
    [Fact]
    public void QOperatorCnnWithUint8Weights() => Check(QOperatorModels.Cnn(16, quantizedOutput: false, uint8Weights: true), Ort.Random(768, 7, 2f), "QLinearLowering", 0.05f);
}
