using Google.Protobuf;
using ModelGen.Compiler;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Onnx.Proto;
using Xunit;
using static ModelGen.Tests.QOperatorModels;
using Xunit.Abstractions;

namespace ModelGen.Tests;

/// <summary>
/// Quantized operators (QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger, QLinearMatMul,
/// ConvInteger, QLinearConv and ONNX Runtime's com.microsoft QLinear* ops) against ONNX Runtime, both profiles.
/// Exact operators are compared exactly; requantizing ones may differ by one quantization step (float rounding of
/// the multiplier product), and most outputs must match exactly.
/// </summary>
public class QuantOperatorTests
{
    readonly ITestOutputHelper _out;
    public QuantOperatorTests(ITestOutputHelper output) { _out = output; }

    // ---------- helpers ----------

    static sbyte[] I8(int n, int seed, int lo = -128, int hi = 127) { var r = new Random(seed); return Enumerable.Range(0, n).Select(_ => (sbyte)r.Next(lo, hi + 1)).ToArray(); }
    static byte[] U8(int n, int seed, int lo = 0, int hi = 255) { var r = new Random(seed); return Enumerable.Range(0, n).Select(_ => (byte)r.Next(lo, hi + 1)).ToArray(); }

    /// <summary>
    /// Runs ORT and ModelGen (both profiles); integer outputs may differ by <paramref name="steps"/> and at most
    /// <paramref name="maxOffFraction"/> of them may differ at all; float outputs compare to 1e-6 relative.
    /// </summary>
    void Check(byte[] model, int steps, double maxOffFraction, params Array[] inputs)
    {
        var expected = OpCheck.RunOrt(model, inputs);
        foreach (var target in new[] { TargetProfile.Net, TargetProfile.Portable })
        {
            var actual = OpCheck.RunModelGen(model, target, inputs, expected.Select(e => e.Length).ToArray(), expected.Select(e => e.GetType().GetElementType()!).ToArray());
            for (int k = 0; k < expected.Length; k++) Compare(expected[k], actual[k], steps, maxOffFraction, $"{target} output {k}");
        }
    }

    void Compare(Array expected, Array actual, int steps, double maxOffFraction, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        Assert.Equal(expected.GetType(), actual.GetType());
        bool isFloat = expected is float[] || expected is double[];
        int off = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            var e = Convert.ToDouble(expected.GetValue(i)); var a = Convert.ToDouble(actual.GetValue(i));
            if (isFloat) { Assert.True(Math.Abs(e - a) <= 1e-6 * Math.Max(1, Math.Abs(e)), $"{what}[{i}]: expected {e}, got {a}"); continue; }
            if (e != a) off++;
            Assert.True(Math.Abs(e - a) <= steps, $"{what}[{i}]: expected {e}, got {a} (more than {steps} step(s) apart)");
        }
        if (!isFloat)
        {
            _out.WriteLine($"{what}: {off} of {expected.Length} differ by one step");
            Assert.True(off <= maxOffFraction * expected.Length, $"{what}: {off} of {expected.Length} outputs differ from ONNX Runtime");
        }
    }

    /// <summary>Exact integer / float comparison.</summary>
    void Exact(byte[] model, params Array[] inputs) => Check(model, 0, 0, inputs);

    static TensorProto FloatTensor(string name, int[] shape, float[] data) => OnnxBuilder.Tensor(name, shape, data);

    // ---------- QuantizeLinear / DequantizeLinear ----------

    [Theory]
    [InlineData(10, DType.UInt8)]
    [InlineData(13, DType.Int8)]
    [InlineData(19, DType.UInt8)]
    [InlineData(21, DType.Int8)]
    public void QuantizePerTensorRoundsHalfToEvenAndSaturates(int opset, DType type)
    {
        // x = k / 4 with scale 0.5: many exact halves (ties to even) and values past the range (saturation)
        var x = Enumerable.Range(0, 2 * 3 * 100).Select(i => (i - 300) * 0.25f + (i % 7 == 0 ? 0.01f : 0f)).ToArray();
        var b = new OnnxBuilder(opset).Input("x", DType.Float, 2, 3, 100)
            .Initializer("s", Array.Empty<int>(), new[] { 0.5f });
        Init(b, IntTensor("z", type, Array.Empty<int>(), new long[] { type == DType.UInt8 ? 128 : -3 }));
        var m = b.Node("QuantizeLinear", new[] { "x", "s", "z" }, new[] { "y" }).Output("y", type).Build();
        Exact(m, x);
    }

    [Fact]
    public void QuantizeDefaultZeroPointIsUInt8()
    {
        var m = new OnnxBuilder(13).Input("x", DType.Float, 64).Initializer("s", Array.Empty<int>(), new[] { 0.03f })
            .Node("QuantizeLinear", new[] { "x", "s" }, new[] { "y" }).Output("y", DType.UInt8).Build();
        Exact(m, Ort.Random(64, 3, 5f));
    }

    [Theory]
    [InlineData(DType.Int8, 1)]
    [InlineData(DType.UInt8, -1)]
    [InlineData(DType.Int8, 0)]
    public void QuantizePerAxis(DType type, int axis)
    {
        int[] shape = { 3, 4, 5 };
        int c = shape[axis < 0 ? axis + 3 : axis];
        var b = new OnnxBuilder(13).Input("x", DType.Float, shape).Initializer("s", new[] { c }, Scales(c, 1, 0.005f, 0.05f));
        Init(b, IntTensor("z", type, new[] { c }, L8(c, 2, type == DType.UInt8 ? 100 : -10, type == DType.UInt8 ? 150 : 10)));
        var m = b.Node("QuantizeLinear", new[] { "x", "s", "z" }, new[] { "y" }, ("axis", (long)axis)).Output("y", type).Build();
        Exact(m, Ort.Random(60, 4, 4f));
    }

    [Theory]
    [InlineData(DType.UInt8, 10)]
    [InlineData(DType.Int8, 13)]
    [InlineData(DType.Int8, 21)]
    public void DequantizePerTensor(DType type, int opset)
    {
        var b = new OnnxBuilder(opset).Input("x", type, 4, 16).Initializer("s", Array.Empty<int>(), new[] { 0.0371f });
        Init(b, IntTensor("z", type, Array.Empty<int>(), new long[] { type == DType.UInt8 ? 131 : 7 }));
        var m = b.Node("DequantizeLinear", new[] { "x", "s", "z" }, new[] { "y" }).Output("y").Build();
        Exact(m, type == DType.UInt8 ? U8(64, 5) : I8(64, 5));
    }

    [Theory]
    [InlineData(DType.Int8, 0)]
    [InlineData(DType.UInt8, 2)]
    public void DequantizePerAxis(DType type, int axis)
    {
        int[] shape = { 3, 4, 5 };
        int c = shape[axis];
        var b = new OnnxBuilder(13).Input("x", type, shape).Initializer("s", new[] { c }, Scales(c, 6, 0.01f, 0.1f));
        Init(b, IntTensor("z", type, new[] { c }, L8(c, 7, type == DType.UInt8 ? 100 : -10, type == DType.UInt8 ? 150 : 10)));
        var m = b.Node("DequantizeLinear", new[] { "x", "s", "z" }, new[] { "y" }, ("axis", (long)axis)).Output("y").Build();
        Exact(m, type == DType.UInt8 ? U8(60, 8) : I8(60, 8));
    }

    /// <summary>int8 per axis with runs of 9 (convolution weights under Quantize="Weights"): the Net profile's Int8.DequantizeAxis.</summary>
    [Fact]
    public void DequantizePerAxisRunsOfNine()
    {
        var b = new OnnxBuilder(13).Input("x", DType.Int8, 2, 6, 9).Initializer("s", new[] { 6 }, Scales(6, 6, 0.01f, 0.1f));
        Init(b, IntTensor("z", DType.Int8, new[] { 6 }, L8(6, 7, -10, 10)));
        var m = b.Node("DequantizeLinear", new[] { "x", "s", "z" }, new[] { "y" }, ("axis", 1L)).Output("y").Build();
        Exact(m, I8(108, 8));
    }

    [Fact]
    public void DequantizeInt32WithoutZeroPoint()
    {
        var m = new OnnxBuilder(13).Input("x", DType.Int32, 10).Initializer("s", Array.Empty<int>(), new[] { 0.001f })
            .Node("DequantizeLinear", new[] { "x", "s" }, new[] { "y" }).Output("y").Build();
        Exact(m, new[] { 0, 1, -1, 1000, -100000, 123456, int.MaxValue / 3, 7, 8, 9 });
    }

    [Fact]
    public void BlockedQuantizeAndDequantize()
    {
        // opset 21 block_size 2 along axis 1 of [2, 5, 3]: parameters [2, 3, 3]
        var b = new OnnxBuilder(21).Input("x", DType.Float, 2, 5, 3).Initializer("s", new[] { 2, 3, 3 }, Scales(18, 9, 0.01f, 0.05f));
        Init(b, IntTensor("z", DType.Int8, new[] { 2, 3, 3 }, L8(18, 10, -5, 5)));
        var m = b.Node("QuantizeLinear", new[] { "x", "s", "z" }, new[] { "q" }, ("axis", 1L), ("block_size", 2L))
            .Node("DequantizeLinear", new[] { "q", "s", "z" }, new[] { "y" }, ("axis", 1L), ("block_size", 2L))
            .Output("q", DType.Int8).Output("y").Build();
        Exact(m, Ort.Random(30, 11, 2f));
    }

    [Fact]
    public void QuantizeOfConstantWeightsFolds()
    {
        // Q(constant) -> DQ(folded) -> Add: the folded values must equal ONNX Runtime's
        var b = new OnnxBuilder(13).Input("x", DType.Float, 3, 8)
            .Initializer("w", new[] { 3, 8 }, Ort.Random(24, 12, 3f)).Initializer("s", new[] { 3 }, new[] { 0.02f, 0.011f, 0.05f });
        Init(b, IntTensor("z", DType.Int8, new[] { 3 }, new long[] { 0, 3, -4 }));
        var m = b.Node("QuantizeLinear", new[] { "w", "s", "z" }, new[] { "wq" }, ("axis", 0L))
            .Node("DequantizeLinear", new[] { "wq", "s", "z" }, new[] { "wd" }, ("axis", 0L))
            .Node("Add", new[] { "x", "wd" }, new[] { "y" }).Output("y").Build();
        Exact(m, Ort.Random(24, 13));
    }

    [Fact]
    public void DynamicQuantizeLinear()
    {
        var m = new OnnxBuilder(11).Input("x", DType.Float, 6, 7)
            .Node("DynamicQuantizeLinear", new[] { "x" }, new[] { "y", "s", "z" })
            .Output("y", DType.UInt8).Output("s").Output("z", DType.UInt8).Build();
        Exact(m, Ort.Random(42, 14, 3f).Select(v => v + 1f).ToArray());
        Exact(m, Ort.Random(42, 15, 2f).Select(v => v - 5f).ToArray());
    }

    // ---------- MatMulInteger / QLinearMatMul ----------

    [Fact]
    public void MatMulIntegerBatchedWithZeroPoints()
    {
        var b = new OnnxBuilder(13).Input("a", DType.UInt8, 2, 3, 5).Input("b", DType.UInt8, 5, 4);
        Init(b, IntTensor("za", DType.UInt8, Array.Empty<int>(), new long[] { 12 }));
        Init(b, IntTensor("zb", DType.UInt8, Array.Empty<int>(), new long[] { 130 }));
        var m = b.Node("MatMulInteger", new[] { "a", "b", "za", "zb" }, new[] { "y" }).Output("y", DType.Int32).Build();
        Exact(m, U8(30, 16), U8(20, 17));
    }

    [Fact]
    public void MatMulIntegerInt8PerColumnZeroPoint()
    {
        var b = new OnnxBuilder(13).Input("a", DType.Int8, 4, 6);
        Init(b, IntTensor("w", DType.Int8, new[] { 6, 3 }, L8(18, 18, -128, 127)));
        Init(b, IntTensor("zb", DType.Int8, new[] { 3 }, new long[] { 1, -2, 0 }));
        var m = b.Node("MatMulInteger", new[] { "a", "w", "", "zb" }, new[] { "y" }).Output("y", DType.Int32).Build();
        Exact(m, I8(24, 19));
    }

    /// <summary>
    /// A MatMul quantized dynamically as ONNX Runtime's quantize_dynamic writes it: DynamicQuantizeLinear(x), then
    /// MatMulInteger on constant weights, Cast, the product of the two scales, bias. The MatMulInteger runs the SIMD
    /// kernel (int32 out) on Net; everything matches ONNX Runtime (exact integers, the same float operations).
    /// </summary>
    [Theory]
    [InlineData(DType.Int8, true, true, 6)]
    [InlineData(DType.Int8, false, true, 6)]
    [InlineData(DType.UInt8, false, true, 6)]
    [InlineData(DType.Int8, true, false, 6)] // the int32 product is also an output: not fused with the Cast, Mul and Add
    [InlineData(DType.Int8, true, true, 1)]  // one row: the row kernel
    [InlineData(DType.UInt8, true, false, 1)]
    [InlineData(DType.Int8, true, true, 4, true)] // the scales as [1, N]: a Reshape to [N] before the fused layer
    public void DynamicQuantizedMatMul(DType tb, bool perColumn, bool fused, int rows, bool scaleRow = false)
    {
        int k = 19, n = 24;
        var b = new OnnxBuilder(13).Input("x", DType.Float, rows == 1 ? new[] { 1, k } : new[] { 2, rows / 2, k });
        Init(b, IntTensor("bq", tb, new[] { k, n }, tb == DType.UInt8 ? L8(k * n, 90, 0, 255) : L8(k * n, 90, -127, 127)));
        var scales = perColumn ? Scales(n, 91, 0.002f, 0.01f) : new[] { 0.0061f };
        b.Initializer("bs", perColumn ? (scaleRow ? new[] { 1, n } : new[] { n }) : Array.Empty<int>(), scales);
        Init(b, IntTensor("bz", tb, perColumn ? new[] { n } : Array.Empty<int>(), Enumerable.Repeat(tb == DType.UInt8 ? 128L : 0L, perColumn ? n : 1).ToArray()));
        b.Initializer("bias", new[] { n }, Scales(n, 92, -0.5f, 0.5f));
        b.Node("DynamicQuantizeLinear", new[] { "x" }, new[] { "xq", "xs", "xz" })
            .Node("MatMulInteger", new[] { "xq", "bq", "xz", "bz" }, new[] { "acc" })
            .Node("Cast", new[] { "acc" }, new[] { "accf" }, ("to", 1L))
            .Node("Mul", new[] { "xs", "bs" }, new[] { "s" })
            .Node("Mul", new[] { "accf", "s" }, new[] { "mm" })
            .Node("Add", new[] { "mm", "bias" }, new[] { "y" })
            .Output("y");
        if (!fused) b.Output("acc", DType.Int32);
        var model = b.Build();
        var r = ModelCompiler.Compile(model, "q.onnx", new ModelOptions { ClassName = "M" });
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        Assert.Contains($"ModelGen.Runtime.{(rows == 1 ? "QGemm" : "QMatMulLanes")}.{(fused ? "RunFloat" : "RunInt32")}(", r.Source);
        Check(model, 0, 0, Ort.Random(rows * k, 93, 3f));
    }

    [Theory]
    [InlineData(DType.UInt8, DType.UInt8, false)]
    [InlineData(DType.Int8, DType.Int8, true)]
    [InlineData(DType.UInt8, DType.Int8, true)]
    public void QLinearMatMulBatched(DType ta, DType tb, bool perColumn)
    {
        int n = 5;
        // ONNX Runtime takes per-column parameters of B as [.., 1, N]: the per-column case uses a 2-D B [8, N]
        var b = new OnnxBuilder(13).Input("a", ta, 2, 3, 8);
        b.Initializer("sa", Array.Empty<int>(), new[] { 0.021f });
        Init(b, IntTensor("za", ta, Array.Empty<int>(), new long[] { ta == DType.UInt8 ? 120 : 3 }));
        int[] wShape = perColumn ? new[] { 8, n } : new[] { 2, 8, n };
        int wLen = wShape.Aggregate(1, (x, y) => x * y);
        Init(b, IntTensor("w", tb, wShape, tb == DType.UInt8 ? L8(wLen, 20, 0, 255) : L8(wLen, 20, -127, 127)));
        if (perColumn)
        {
            b.Initializer("sb", new[] { 1, n }, Scales(n, 21, 0.003f, 0.02f));
            Init(b, IntTensor("zb", tb, new[] { 1, n }, tb == DType.UInt8 ? L8(n, 22, 120, 136) : new long[n]));
        }
        else
        {
            b.Initializer("sb", Array.Empty<int>(), new[] { 0.0137f });
            Init(b, IntTensor("zb", tb, Array.Empty<int>(), new long[] { tb == DType.UInt8 ? 127 : 0 }));
        }
        b.Initializer("sy", Array.Empty<int>(), new[] { 0.09f });
        Init(b, IntTensor("zy", ta, Array.Empty<int>(), new long[] { ta == DType.UInt8 ? 128 : -1 }));
        var m = b.Node("QLinearMatMul", new[] { "a", "sa", "za", "w", "sb", "zb", "sy", "zy" }, new[] { "y" }).Output("y", ta).Build();
        Check(m, 1, 0.05, ta == DType.UInt8 ? U8(48, 23) : I8(48, 23));
    }

    // ---------- ConvInteger / QLinearConv ----------

    [Fact]
    public void ConvIntegerPaddedStridedPerChannelZeroPoint()
    {
        var b = new OnnxBuilder(13).Input("x", DType.UInt8, 1, 3, 7, 6);
        Init(b, IntTensor("w", DType.UInt8, new[] { 4, 3, 3, 3 }, L8(108, 30, 0, 255)));
        Init(b, IntTensor("zx", DType.UInt8, Array.Empty<int>(), new long[] { 9 }));
        Init(b, IntTensor("zw", DType.UInt8, Array.Empty<int>(), new long[] { 127 }));
        var m = b.Node("ConvInteger", new[] { "x", "w", "zx", "zw" }, new[] { "y" }, ("pads", new long[] { 1, 0, 2, 1 }), ("strides", new long[] { 2, 1 }))
            .Output("y", DType.Int32).Build();
        Exact(m, U8(126, 31));
    }

    public static IEnumerable<object[]> ConvCases() => new[]
    {
        // x type, w type, group, per-channel, bias, extra attributes
        new object[] { DType.UInt8, DType.UInt8, 1, false, true, "pads" },
        new object[] { DType.UInt8, DType.Int8, 1, true, true, "strides" },
        new object[] { DType.Int8, DType.Int8, 2, true, false, "dilations" },
        new object[] { DType.UInt8, DType.Int8, 6, true, true, "same_upper" },
        new object[] { DType.Int8, DType.Int8, 3, false, true, "valid" },
    };

    [Theory]
    [MemberData(nameof(ConvCases))]
    public void QLinearConv(DType tx, DType tw, int group, bool perChannel, bool bias, string variant)
    {
        int c = 6, mOut = group == 6 ? 6 : 4 * (group == 1 ? 1 : group) / (group == 3 ? 1 : 1);
        if (group == 3) mOut = 6;
        int icg = c / group;
        var b = new OnnxBuilder(13).Input("x", tx, 2, c, 9, 8);
        b.Initializer("sx", Array.Empty<int>(), new[] { 0.017f });
        Init(b, IntTensor("zx", tx, Array.Empty<int>(), new long[] { tx == DType.UInt8 ? 125 : -2 }));
        int wl = mOut * icg * 9;
        Init(b, IntTensor("w", tw, new[] { mOut, icg, 3, 3 }, tw == DType.UInt8 ? L8(wl, 40, 0, 255) : L8(wl, 40, -127, 127)));
        if (perChannel) b.Initializer("sw", new[] { mOut }, Scales(mOut, 41, 0.002f, 0.02f));
        else b.Initializer("sw", Array.Empty<int>(), new[] { 0.0091f });
        Init(b, IntTensor("zw", tw, perChannel ? new[] { mOut } : Array.Empty<int>(), tw == DType.UInt8 ? (perChannel ? L8(mOut, 42, 120, 135) : new long[] { 128 }) : new long[perChannel ? mOut : 1]));
        b.Initializer("sy", Array.Empty<int>(), new[] { 0.11f });
        Init(b, IntTensor("zy", tx, Array.Empty<int>(), new long[] { tx == DType.UInt8 ? 131 : 4 }));
        var ins = new List<string> { "x", "sx", "zx", "w", "sw", "zw", "sy", "zy" };
        if (bias) { Init(b, IntTensor("bias", DType.Int32, new[] { mOut }, L8(mOut, 43, -3000, 3000))); ins.Add("bias"); }
        var attrs = new List<(string, object)> { ("group", (long)group) };
        switch (variant)
        {
            case "pads": attrs.Add(("pads", new long[] { 1, 2, 0, 1 })); break;
            case "strides": attrs.Add(("strides", new long[] { 2, 3 })); attrs.Add(("pads", new long[] { 1, 1, 1, 1 })); break;
            case "dilations": attrs.Add(("dilations", new long[] { 2, 1 })); attrs.Add(("pads", new long[] { 2, 1, 2, 1 })); break;
            case "same_upper": attrs.Add(("auto_pad", "SAME_UPPER")); attrs.Add(("strides", new long[] { 2, 2 })); break;
            case "valid": attrs.Add(("auto_pad", "VALID")); break;
        }
        var m = b.Node("QLinearConv", ins.ToArray(), new[] { "y" }, attrs.ToArray()).Output("y", tx).Build();
        Check(m, 1, 0.05, tx == DType.UInt8 ? U8(2 * c * 72, 44) : I8(2 * c * 72, 44));
    }

    [Fact]
    public void QdqConvChainAsOrtQuantizerWritesIt()
    {
        // QuantizeLinear -> DequantizeLinear -> Conv (weights: int8 per-channel constant + DequantizeLinear, bias int32
        // + DequantizeLinear with scale sx * sw) -> QuantizeLinear -> DequantizeLinear
        int m = 4;
        var sw = Scales(m, 50, 0.004f, 0.01f);
        const float sx = 0.02f;
        var b = new OnnxBuilder(13).Input("x", DType.Float, 1, 3, 8, 8)
            .Initializer("sx", Array.Empty<int>(), new[] { sx }).Initializer("sw", new[] { m }, sw)
            .Initializer("sb", new[] { m }, sw.Select(s => s * sx).ToArray()).Initializer("sy", Array.Empty<int>(), new[] { 0.05f });
        Init(b, IntTensor("zx", DType.UInt8, Array.Empty<int>(), new long[] { 128 }));
        Init(b, IntTensor("zy", DType.UInt8, Array.Empty<int>(), new long[] { 120 }));
        Init(b, IntTensor("wq", DType.Int8, new[] { m, 3, 3, 3 }, L8(m * 27, 51, -127, 127)));
        Init(b, IntTensor("zw", DType.Int8, new[] { m }, new long[m]));
        Init(b, IntTensor("bq", DType.Int32, new[] { m }, L8(m, 52, -500, 500)));
        Init(b, IntTensor("zb", DType.Int32, new[] { m }, new long[m]));
        var model = b
            .Node("QuantizeLinear", new[] { "x", "sx", "zx" }, new[] { "xq" })
            .Node("DequantizeLinear", new[] { "xq", "sx", "zx" }, new[] { "xd" })
            .Node("DequantizeLinear", new[] { "wq", "sw", "zw" }, new[] { "wd" }, ("axis", 0L))
            .Node("DequantizeLinear", new[] { "bq", "sb", "zb" }, new[] { "bd" }, ("axis", 0L))
            .Node("Conv", new[] { "xd", "wd", "bd" }, new[] { "c" }, ("pads", new long[] { 1, 1, 1, 1 }))
            .Node("QuantizeLinear", new[] { "c", "sy", "zy" }, new[] { "yq" })
            .Node("DequantizeLinear", new[] { "yq", "sy", "zy" }, new[] { "y" })
            .Output("yq", DType.UInt8).Output("y").Build();
        // ONNX Runtime fuses the chain into an integer QLinearConv; ModelGen folds the weights' DequantizeLinear and
        // computes the Conv in float: the quantized outputs agree within one step.
        var x = Ort.Random(192, 53, 2f);
        var expected = OpCheck.RunOrt(model, new Array[] { x });
        foreach (var target in new[] { TargetProfile.Net, TargetProfile.Portable })
        {
            var actual = OpCheck.RunModelGen(model, target, new Array[] { x }, expected.Select(e => e.Length).ToArray(), expected.Select(e => e.GetType().GetElementType()!).ToArray());
            Compare(expected[0], actual[0], 1, 0.05, $"{target} yq");
            var ye = (float[])expected[1]; var ya = (float[])actual[1];
            for (int i = 0; i < ye.Length; i++) Assert.True(Math.Abs(ye[i] - ya[i]) <= 0.05f * 1.0001f, $"{target} y[{i}]: expected {ye[i]}, got {ya[i]}");
        }
    }

    // ---------- com.microsoft QOperator ops ----------

    [Theory]
    [InlineData("QLinearAdd", DType.UInt8)]
    [InlineData("QLinearAdd", DType.Int8)]
    [InlineData("QLinearMul", DType.UInt8)]
    [InlineData("QLinearMul", DType.Int8)]
    public void QLinearAddMulBroadcast(string op, DType t)
    {
        bool u = t == DType.UInt8;
        var b = new OnnxBuilder(13).Input("a", t, 2, 3, 4).Input("b", t, 3, 1);
        QParams(b, "a", t, 0.031f, u ? 120 : -3); QParams(b, "b", t, 0.047f, u ? 135 : 5); QParams(b, "c", t, op == "QLinearMul" ? 0.4f : 0.06f, u ? 128 : 1);
        Ms(b, op, new[] { "a", "a_s", "a_z", "b", "b_s", "b_z", "c_s", "c_z" }, new[] { "y" });
        var m = b.Output("y", t).Build();
        Check(m, 1, 0.05, u ? U8(24, 60) : I8(24, 60), u ? U8(3, 61) : I8(3, 61));
    }

    /// <summary>QLinearAdd of one shape (a residual connection): the Net profile's Int8.Add.</summary>
    [Theory]
    [InlineData(DType.UInt8)]
    [InlineData(DType.Int8)]
    public void QLinearAddSameShape(DType t)
    {
        bool u = t == DType.UInt8;
        var b = new OnnxBuilder(13).Input("a", t, 2, 3, 45).Input("b", t, 2, 3, 45);
        QParams(b, "a", t, 0.031f, u ? 120 : -3); QParams(b, "b", t, 0.047f, u ? 135 : 5); QParams(b, "c", t, 0.06f, u ? 128 : 1);
        Ms(b, "QLinearAdd", new[] { "a", "a_s", "a_z", "b", "b_s", "b_z", "c_s", "c_z" }, new[] { "y" });
        Check(b.Output("y", t).Build(), 1, 0.05, u ? U8(270, 62) : I8(270, 62), u ? U8(270, 63) : I8(270, 63));
    }

    /// <summary>
    /// QLinearMul where the Net profile runs ModelGen.Runtime's Int8.Mul: one shape, a squeeze-excite scale per channel
    /// ([1, C, 1, 1] on either side), a scalar. Within one step of ONNX Runtime, and the Net kernel bit-exact with the
    /// Portable profile's loop.
    /// </summary>
    [Theory]
    [InlineData(DType.Int8, new[] { 1, 5, 7, 9 }, new[] { 1, 5, 7, 9 })]
    [InlineData(DType.UInt8, new[] { 1, 5, 7, 9 }, new[] { 1, 5, 7, 9 })]
    [InlineData(DType.Int8, new[] { 2, 6, 5, 7 }, new[] { 2, 6, 1, 1 })]
    [InlineData(DType.UInt8, new[] { 1, 6, 1, 1 }, new[] { 1, 6, 5, 7 })]
    [InlineData(DType.Int8, new[] { 3, 37 }, new[] { 1 })]
    public void QLinearMulRuns(DType t, int[] sa, int[] sb)
    {
        bool u = t == DType.UInt8;
        var b = new OnnxBuilder(13).Input("a", t, sa).Input("b", t, sb);
        QParams(b, "a", t, 0.031f, u ? 120 : -3); QParams(b, "b", t, 0.047f, u ? 135 : 5); QParams(b, "c", t, 0.011f, u ? 128 : 1);
        Ms(b, "QLinearMul", new[] { "a", "a_s", "a_z", "b", "b_s", "b_z", "c_s", "c_z" }, new[] { "y" });
        var m = b.Output("y", t).Build();
        int na = sa.Aggregate(1, (x, y) => x * y), nb = sb.Aggregate(1, (x, y) => x * y);
        Array xa = u ? U8(na, 64) : I8(na, 64), xb = u ? U8(nb, 65) : I8(nb, 65);
        Check(m, 1, 0.05, xa, xb);
        var expected = OpCheck.RunOrt(m, new[] { xa, xb });
        var lengths = expected.Select(e => e.Length).ToArray(); var types = expected.Select(e => e.GetType().GetElementType()!).ToArray();
        var net = OpCheck.RunModelGen(m, TargetProfile.Net, new[] { xa, xb }, lengths, types);
        var portable = OpCheck.RunModelGen(m, TargetProfile.Portable, new[] { xa, xb }, lengths, types);
        Assert.Equal(portable[0], net[0]);
    }

    [Theory]
    [InlineData("QLinearSigmoid", DType.UInt8)]
    [InlineData("QLinearSigmoid", DType.Int8)]
    [InlineData("QLinearLeakyRelu", DType.UInt8)]
    [InlineData("QLinearLeakyRelu", DType.Int8)]
    public void QLinearLookupOps(string op, DType t)
    {
        bool u = t == DType.UInt8;
        var b = new OnnxBuilder(13).Input("x", t, 4, 64);
        QParams(b, "x", t, 0.05f, u ? 128 : 0); QParams(b, "y", t, op == "QLinearSigmoid" ? 1f / 256 : 0.04f, u ? (op == "QLinearSigmoid" ? 0 : 100) : (op == "QLinearSigmoid" ? -128 : -20));
        Ms(b, op, new[] { "x", "x_s", "x_z", "y_s", "y_z" }, new[] { "y" }, op == "QLinearLeakyRelu" ? new (string, object)[] { ("alpha", 0.1f) } : Array.Empty<(string, object)>());
        var m = b.Output("y", t).Build();
        // every input code once
        var codes = Enumerable.Range(0, 256).ToArray();
        Array x = u ? codes.Select(i => (byte)i).ToArray() : codes.Select(i => (sbyte)(i - 128)).ToArray();
        Check(m, 1, 0.02, x);
    }

    [Theory]
    [InlineData(DType.UInt8, 0, "pads")]
    [InlineData(DType.Int8, 1, "pads")]
    [InlineData(DType.UInt8, 0, "strides")]
    [InlineData(DType.Int8, 0, "ceil")]
    public void QLinearAveragePool(DType t, int countIncludePad, string variant)
    {
        bool u = t == DType.UInt8;
        var b = new OnnxBuilder(13).Input("x", t, 1, 3, 7, 7);
        QParams(b, "x", t, 0.03f, u ? 128 : 2); QParams(b, "y", t, 0.025f, u ? 120 : -4);
        var attrs = new List<(string, object)> { ("kernel_shape", new long[] { 3, 3 }), ("count_include_pad", (long)countIncludePad) };
        if (variant == "pads") attrs.Add(("pads", new long[] { 1, 1, 1, 1 }));
        if (variant == "strides") attrs.Add(("strides", new long[] { 2, 2 }));
        if (variant == "ceil") { attrs.Add(("strides", new long[] { 2, 2 })); attrs.Add(("ceil_mode", 1L)); attrs.Add(("pads", new long[] { 0, 0, 1, 1 })); }
        Ms(b, "QLinearAveragePool", new[] { "x", "x_s", "x_z", "y_s", "y_z" }, new[] { "y" }, attrs.ToArray());
        Check(b.Output("y", t).Build(), 1, 0.05, u ? U8(147, 70) : I8(147, 70));
    }

    /// <summary>A QLinearAveragePool whose window is the whole plane (as small CNNs end): the Net profile's Int8.Sum.</summary>
    [Theory]
    [InlineData(DType.UInt8)]
    [InlineData(DType.Int8)]
    public void QLinearAveragePoolGlobalWindow(DType t)
    {
        bool u = t == DType.UInt8;
        var b = new OnnxBuilder(13).Input("x", t, 2, 5, 25, 5);
        QParams(b, "x", t, 0.07f, u ? 128 : -128); QParams(b, "y", t, 0.013f, u ? 120 : -128);
        Ms(b, "QLinearAveragePool", new[] { "x", "x_s", "x_z", "y_s", "y_z" }, new[] { "y" }, ("kernel_shape", new long[] { 25, 5 }));
        Check(b.Output("y", t).Build(), 1, 0.05, u ? U8(1250, 72) : I8(1250, 72));
    }

    /// <summary>QLinearGlobalAveragePool on 6x7 planes, and on planes shorter than a vector (3x3: the Net kernel's sums reach back into the planes before).</summary>
    [Theory]
    [InlineData(DType.UInt8, 0, 5, 6, 7, 71)]
    [InlineData(DType.Int8, 0, 5, 6, 7, 71)]
    [InlineData(DType.UInt8, 1, 5, 6, 7, 71)]
    [InlineData(DType.UInt8, 0, 40, 3, 3, 73)]
    [InlineData(DType.Int8, 0, 40, 3, 3, 73)]
    public void QLinearGlobalAveragePool(DType t, int channelsLast, int c, int h, int w, int seed)
    {
        bool u = t == DType.UInt8;
        var b = new OnnxBuilder(13).Input("x", t, 2, c, h, w);
        QParams(b, "x", t, 0.03f, u ? 128 : 2); QParams(b, "y", t, 0.01f, u ? 120 : -4);
        Ms(b, "QLinearGlobalAveragePool", new[] { "x", "x_s", "x_z", "y_s", "y_z" }, new[] { "y" }, ("channels_last", (long)channelsLast));
        int n = 2 * c * h * w;
        Check(b.Output("y", t).Build(), 1, 0.05, u ? U8(n, seed) : I8(n, seed));
    }

    [Theory]
    [InlineData(DType.UInt8)]
    [InlineData(DType.Int8)]
    public void QLinearConcat(DType t)
    {
        bool u = t == DType.UInt8;
        var b = new OnnxBuilder(13).Input("a", t, 2, 3, 4).Input("b", t, 2, 2, 4).Input("c", t, 2, 1, 4);
        QParams(b, "y", t, 0.05f, u ? 128 : 0); QParams(b, "a", t, 0.05f, u ? 128 : 0); QParams(b, "b", t, 0.02f, u ? 100 : -7); QParams(b, "c", t, 0.13f, u ? 140 : 9);
        Ms(b, "QLinearConcat", new[] { "y_s", "y_z", "a", "a_s", "a_z", "b", "b_s", "b_z", "c", "c_s", "c_z" }, new[] { "y" }, ("axis", 1L));
        Check(b.Output("y", t).Build(), 1, 0.05, u ? U8(24, 80) : I8(24, 80), u ? U8(16, 81) : I8(16, 81), u ? U8(8, 82) : I8(8, 82));
    }

    [Theory]
    [InlineData(DType.UInt8, 13, -1L, 0.1f, 0.0039215f, 0L)]
    [InlineData(DType.UInt8, 13, 1L, 0.05f, 0.00390625f, 0L)]
    [InlineData(DType.UInt8, 12, 1L, 0.2f, 0.004f, 3L)]
    [InlineData(DType.Int8, 13, -1L, 0.08f, 0.00390625f, -128L)]
    [InlineData(DType.Int8, 11, 0L, 0.3f, 0.0078125f, 0L)]
    public void QLinearSoftmax(DType t, int opset, long axis, float xScale, float yScale, long yZero)
    {
        // ONNX Runtime's table-and-float-sum arithmetic (an int8 probability of 1 saturates to 127)
        var b = new OnnxBuilder(13).Input("x", t, 2, 5, 7);
        QParams(b, "x", t, xScale, t == DType.UInt8 ? 100 : -5);
        QParams(b, "y", t, yScale, yZero);
        Ms(b, "QLinearSoftmax", new[] { "x", "x_s", "x_z", "y_s", "y_z" }, new[] { "y" }, ("opset", (long)opset), ("axis", axis));
        var x = t == DType.UInt8 ? (Array)U8(70, 65) : I8(70, 65);
        if (t == DType.Int8) ((sbyte[])x)[3] = 127; // a row whose largest probability rounds to 1
        Exact(b.Output("y", t).Build(), x);
    }

    // ---------- com.microsoft QGemm ----------

    public static IEnumerable<object[]> GemmCases() => new[]
    {
        // A type, B type, transA, transB, alpha, C ("": none; its shape), quantized output, constant B
        new object[] { DType.UInt8, DType.Int8, false, true, 1f, "N", true, true }, // ONNX Runtime's quantizer's form: lowered
        new object[] { DType.Int8, DType.Int8, false, false, 0.75f, "1N", true, true }, // lowered, alpha in the multiplier
        new object[] { DType.Int8, DType.Int8, true, false, 0.5f, "MN", true, true }, // reference loops
        new object[] { DType.UInt8, DType.UInt8, false, true, 2f, "1", false, false }, // float output
        new object[] { DType.UInt8, DType.Int8, false, false, 1f, "M1", true, false },
        new object[] { DType.UInt8, DType.Int8, true, true, 1f, "", true, true },
    };

    /// <summary>com.microsoft QGemm [M, K] x [K, N] (M 3, K 11, N 7) with the given variant.</summary>
    static byte[] QGemmModel(DType ta, DType tb, bool transA, bool transB, float alpha, string c, bool quantized, bool constB)
    {
        int M = 3, K = 11, N = 7;
        var b = new OnnxBuilder(13).Input("a", ta, transA ? new[] { K, M } : new[] { M, K });
        int[] bShape = transB ? new[] { N, K } : new[] { K, N };
        if (!constB) b.Input("b", tb, bShape);
        b.Initializer("sa", Array.Empty<int>(), new[] { 0.023f });
        Init(b, IntTensor("za", ta, Array.Empty<int>(), new long[] { ta == DType.UInt8 ? 121 : -3 }));
        if (constB) Init(b, IntTensor("b", tb, bShape, tb == DType.UInt8 ? L8(K * N, 60, 0, 255) : L8(K * N, 60, -127, 127)));
        if (tb == DType.Int8)
        {
            b.Initializer("sb", new[] { N }, Scales(N, 61, 0.004f, 0.02f));
            Init(b, IntTensor("zb", tb, new[] { N }, new long[N]));
        }
        else
        {
            b.Initializer("sb", Array.Empty<int>(), new[] { 0.011f });
            Init(b, IntTensor("zb", tb, Array.Empty<int>(), new long[] { 128 }));
        }
        var ins = new List<string> { "a", "sa", "za", "b", "sb", "zb" };
        int[]? cShape = c switch { "N" => new[] { N }, "1N" => new[] { 1, N }, "MN" => new[] { M, N }, "M1" => new[] { M, 1 }, "1" => new[] { 1 }, _ => null };
        if (cShape != null)
        {
            int len = cShape.Aggregate(1, (x, y) => x * y);
            Init(b, IntTensor("c", DType.Int32, cShape, L8(len, 62, -4000, 4000)));
        }
        ins.Add(cShape == null ? "" : "c");
        if (quantized)
        {
            b.Initializer("sy", Array.Empty<int>(), new[] { 0.07f });
            Init(b, IntTensor("zy", ta, Array.Empty<int>(), new long[] { ta == DType.UInt8 ? 126 : 5 }));
            ins.Add("sy"); ins.Add("zy");
        }
        while (ins[^1] == "") ins.RemoveAt(ins.Count - 1);
        var attrs = new List<(string, object)> { ("transA", transA ? 1L : 0L), ("transB", transB ? 1L : 0L), ("alpha", alpha) };
        return Ms(b, "QGemm", ins.ToArray(), new[] { "y" }, attrs.ToArray()).Output("y", quantized ? ta : DType.Float).Build();
    }

    [Theory]
    [MemberData(nameof(GemmCases))]
    public void QGemm(DType ta, DType tb, bool transA, bool transB, float alpha, string c, bool quantized, bool constB)
    {
        var m = QGemmModel(ta, tb, transA, transB, alpha, c, quantized, constB);
        var inputs = new List<Array> { ta == DType.UInt8 ? U8(33, 63) : I8(33, 63) };
        if (!constB) inputs.Add(tb == DType.UInt8 ? U8(77, 64) : I8(77, 64, -127, 127));
        Check(m, 1, 0.05, inputs.ToArray());
    }

    [Fact]
    public void QOperatorLayersLowerToTheIntegerKernels()
    {
        // the quantizer's QGemm and a QLinearConv / QLinearMatMul with constant weights run the SIMD kernels; a QGemm
        // with transA keeps its loops and says why (MG0013)
        var r = ModelCompiler.Compile(QGemmModel(DType.UInt8, DType.Int8, false, true, 1f, "N", true, true), "q.onnx", new ModelOptions { ClassName = "M" });
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        Assert.Contains("ModelGen.Runtime.QMatMulLanes.Run(", r.Source); // three rows: the columns in the lanes
        Assert.DoesNotContain(r.Diagnostics, d => d.Kind.Id == "MG0013");
        r = ModelCompiler.Compile(SmallQLinearConv(), "q.onnx", new ModelOptions { ClassName = "M" });
        Assert.Contains("ModelGen.Runtime.QConv.Conv2D(", r.Source);
        r = ModelCompiler.Compile(QGemmModel(DType.Int8, DType.Int8, true, false, 0.5f, "MN", true, true), "q.onnx", new ModelOptions { ClassName = "M" });
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        Assert.DoesNotContain("ModelGen.Runtime.QMatMulLanes.Run(", r.Source);
        Assert.Contains(r.Diagnostics, d => d.Kind.Id == "MG0013" && d.Message.Contains("transA"));
        // the rewrite: one integer node with the QLinearConv's zero points; uint8 weights whose per-channel zero
        // points leave them outside int8 stay (and say so)
        var g = new ModelGen.Compiler.Onnx.OnnxImporter(new ModelOptions()).Import(SmallQLinearConv()).Graph;
        ModelGen.Compiler.Passes.PassManager.Run(g, new ModelOptions());
        Assert.Equal("QConvInt8", string.Join(",", g.Nodes.Select(x => x.OpType)));
        Assert.Equal(128, g.Nodes[0].Int("x_zero_point", 0));
        Assert.Equal(128, g.Nodes[0].Int("y_zero_point", 0));
        // switched off by name: the reference loops
        r = ModelCompiler.Compile(SmallQLinearConv(), "q.onnx", new ModelOptions { ClassName = "M", DisabledPasses = "QLinearLowering" });
        Assert.DoesNotContain("ModelGen.Runtime.QConv.", r.Source);
    }

    /// <summary>
    /// <see cref="QOperatorModels.Cnn"/>: every layer runs the integer kernels, and the result agrees with ONNX Runtime
    /// within two output steps (a one-step difference early moves later layers' inputs).
    /// </summary>
    [Fact]
    public void QOperatorCnnAgreesWithOnnxRuntime()
    {
        var model = QOperatorModels.Cnn(16);
        var r = ModelCompiler.Compile(model, "q.onnx", new ModelOptions { ClassName = "M" });
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        Assert.DoesNotContain(r.Diagnostics, d => d.Kind.Id == "MG0013");
        foreach (var kernel in new[] { "QConv.Conv2D(", "QConv.Depthwise2D(", "QGemm.Run(" }) Assert.Contains("ModelGen.Runtime." + kernel, r.Source);

        var x = Ort.Random(768, 71, 2f);
        var expected = OpCheck.RunOrt(model, new Array[] { x });
        var yq = (byte[])expected[0];
        Assert.True(yq.Distinct().Count() >= 5, "the test model saturates: " + string.Join(",", yq));
        foreach (var target in new[] { TargetProfile.Net, TargetProfile.Portable })
        {
            var actual = OpCheck.RunModelGen(model, target, new Array[] { x }, expected.Select(e => e.Length).ToArray(), expected.Select(e => e.GetType().GetElementType()!).ToArray());
            Compare(expected[0], actual[0], 2, 0.3, $"{target} yq");
        }
    }

    // ---------- generated code and diagnostics ----------

    static byte[] SmallQLinearConv(string? xScaleShape = null)
    {
        var b = new OnnxBuilder(13).Input("x", DType.UInt8, 1, 2, 5, 5);
        if (xScaleShape == null) b.Initializer("sx", Array.Empty<int>(), new[] { 0.02f });
        else b.Initializer("sx", new[] { 2 }, new[] { 0.02f, 0.03f });
        Init(b, IntTensor("zx", DType.UInt8, Array.Empty<int>(), new long[] { 128 }));
        Init(b, IntTensor("w", DType.Int8, new[] { 3, 2, 3, 3 }, L8(54, 90, -127, 127)));
        b.Initializer("sw", new[] { 3 }, new[] { 0.01f, 0.02f, 0.005f });
        Init(b, IntTensor("zw", DType.Int8, new[] { 3 }, new long[3]));
        b.Initializer("sy", Array.Empty<int>(), new[] { 0.1f });
        Init(b, IntTensor("zy", DType.UInt8, Array.Empty<int>(), new long[] { 128 }));
        return b.Node("QLinearConv", new[] { "x", "sx", "zx", "w", "sw", "zw", "sy", "zy" }, new[] { "y" }, ("pads", new long[] { 1, 1, 1, 1 }))
            .Output("y", DType.UInt8).Build();
    }

    [Fact]
    public void QLinearConvCompilesToAnIntegerKernel()
    {
        foreach (var target in new[] { TargetProfile.Net, TargetProfile.Portable })
        {
            var r = ModelCompiler.Compile(SmallQLinearConv(), "q.onnx", new ModelOptions { Target = target, ClassName = "M" });
            Assert.True(r.Success, string.Join("\n", r.Diagnostics));
            _out.WriteLine(r.Source);
            // Net: the SIMD kernel (QLinearLowering); Portable: integer loops
            Assert.Contains(target == TargetProfile.Net ? "ModelGen.Runtime.QConv.Conv2D(" : "int acc", r.Source);
            Assert.DoesNotContain("float acc", r.Source);
            Assert.Contains("sbyte", r.Source); // the weights stay int8 constants
        }
    }

    [Fact]
    public void UnsupportedQuantizationIsADiagnostic()
    {
        // QLinearConv's x_scale must be per tensor
        var r = ModelCompiler.Compile(SmallQLinearConv("[2]"), "q.onnx", new ModelOptions { ClassName = "M" });
        Assert.False(r.Success);
        Assert.Contains(r.Diagnostics, d => d.ToString()!.Contains("x_scale"));
        // QuantizeLinear to float is not an integer quantization
        var b = new OnnxBuilder(13).Input("x", DType.Float, 4).Initializer("s", Array.Empty<int>(), new[] { 0.1f })
            .Initializer("z", Array.Empty<int>(), new[] { 0f });
        var m = b.Node("QuantizeLinear", new[] { "x", "s", "z" }, new[] { "y" }).Output("y").Build();
        Assert.False(ModelCompiler.Compile(m, "q.onnx", new ModelOptions { ClassName = "M" }).Success);
    }

    // ---------- ONNX backend node tests ----------

    const string BackendDir = "/usr/share/libonnx-testdata/data/node";

    public static IEnumerable<object[]> BackendCases()
    {
        var names = new[] { "test_quantizelinear", "test_dequantizelinear", "test_qlinearconv", "test_qlinearmatmul", "test_matmulinteger", "test_convinteger", "test_basic_convinteger", "test_dynamicquantizelinear" };
        if (!Directory.Exists(BackendDir)) yield break;
        foreach (var d in Directory.GetDirectories(BackendDir).Select(Path.GetFileName).OrderBy(s => s, StringComparer.Ordinal))
            if (names.Any(p => d!.StartsWith(p, StringComparison.Ordinal))) yield return new object[] { d! };
    }

    static Array ToArray(TensorData t) => t.Type switch
    {
        DType.Float => t.F,
        DType.UInt8 => t.L.Select(v => (byte)v).ToArray(),
        DType.Int8 => t.L.Select(v => (sbyte)v).ToArray(),
        DType.Int32 => t.L.Select(v => (int)v).ToArray(),
        DType.Int64 => t.L,
        _ => throw new ArgumentException("unexpected type " + t.Type),
    };

    static Array Load(string path) => ToArray(ModelGen.Compiler.Onnx.TensorReader.Read(TensorProto.Parser.ParseFrom(File.ReadAllBytes(path)), path));

    [Theory]
    [MemberData(nameof(BackendCases))]
    public void OnnxBackendNodeTest(string name)
    {
        var dir = Path.Combine(BackendDir, name);
        var model = File.ReadAllBytes(Path.Combine(dir, "model.onnx"));
        var set = Path.Combine(dir, "test_data_set_0");
        var inputs = Directory.GetFiles(set, "input_*.pb").OrderBy(f => f, StringComparer.Ordinal).Select(Load).ToArray();
        var expected = Directory.GetFiles(set, "output_*.pb").OrderBy(f => f, StringComparer.Ordinal).Select(Load).ToArray();
        foreach (var target in new[] { TargetProfile.Net, TargetProfile.Portable })
        {
            var actual = OpCheck.RunModelGen(model, target, inputs, expected.Select(e => e.Length).ToArray(), expected.Select(e => e.GetType().GetElementType()!).ToArray());
            for (int k = 0; k < expected.Length; k++) Compare(expected[k], actual[k], 0, 0, $"{name} {target} output {k}");
        }
    }
}
