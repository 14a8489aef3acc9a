using Google.Protobuf;
using ModelGen.Compiler;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Onnx.Proto;
using Xunit;

namespace ModelGen.Tests;

/// <summary>
/// Operators and attributes of opsets 18-21 (newer than Debian's ONNX backend test data, opset 17) against ONNX Runtime:
/// what PyTorch's newer exporters write (Reduce* axes as an input, Split's num_outputs, Pad's axes, GroupNormalization,
/// the Bitwise operators, Resize's antialias and axes, blocked and int16 quantization).
/// </summary>
public class NewOpsetTests
{
    static float[] R(int n, int seed) => Ort.Random(n, seed);

    // ---------------- GroupNormalization ----------------

    [Theory]
    [InlineData(21, new[] { 2, 6, 5 }, 3, false)]
    [InlineData(21, new[] { 1, 8, 3, 4 }, 2, false)]
    [InlineData(21, new[] { 2, 4, 2, 3, 2 }, 4, false)]   // groups = channels: InstanceNormalization
    [InlineData(21, new[] { 1, 6, 7 }, 1, false)]         // one group: LayerNormalization over [C, ...]
    [InlineData(21, new[] { 3, 6 }, 2, false)]            // no spatial dimensions
    [InlineData(18, new[] { 2, 6, 5 }, 3, true)]          // opset 18: scale and bias per group
    [InlineData(18, new[] { 1, 8, 3, 3 }, 4, true)]
    public void GroupNormalization(int opset, int[] shape, int groups, bool perGroup)
    {
        int c = shape[1], len = perGroup ? groups : c, count = shape.Aggregate(1, (a, b) => a * b);
        var b = new OnnxBuilder(opset).Input("x", DType.Float, shape)
            .Initializer("s", new[] { len }, R(len, 2)).Initializer("b", new[] { len }, R(len, 3)).Output("y");
        b.Node("GroupNormalization", new[] { "x", "s", "b" }, new[] { "y" }, ("num_groups", (long)groups), ("epsilon", 1e-3f));
        // an offset and spread like real activations: the variance is not near zero
        OpCheck.AgainstOrt(b.Build(), 1e-4, R(count, 1).Select(v => 3 * v + 1).ToArray());
    }

    [Fact]
    public void GroupNormalizationRejectsGroupsThatDoNotDivideTheChannels()
    {
        var b = new OnnxBuilder(21).Input("x", DType.Float, 1, 6, 4)
            .Initializer("s", new[] { 6 }, R(6, 2)).Initializer("b", new[] { 6 }, R(6, 3)).Output("y");
        b.Node("GroupNormalization", new[] { "x", "s", "b" }, new[] { "y" }, ("num_groups", 4L));
        var r = ModelCompiler.Compile(b.Build(), "g.onnx", new ModelOptions { ClassName = "M" });
        Assert.False(r.Success);
        Assert.Contains("do not divide into 4 groups", string.Join("\n", r.Diagnostics.Select(d => d.Message)));
    }

    // ---------------- Bitwise ----------------

    static Array Ints(DType t, long[] v) => t switch
    {
        DType.Int64 => v,
        DType.Int32 => v.Select(x => (int)x).ToArray(),
        DType.Int8 => v.Select(x => (sbyte)x).ToArray(),
        DType.UInt8 => v.Select(x => (byte)x).ToArray(),
        DType.Int16 => v.Select(x => (short)x).ToArray(),
        DType.UInt16 => v.Select(x => (ushort)x).ToArray(),
        DType.UInt32 => v.Select(x => (uint)x).ToArray(),
        _ => throw new ArgumentException(t.ToString()),
    };

    static readonly long[] A = { 1, 2, 3, -4, 5, 127, -128, long.MinValue + 5, 0x7FFF_FFFF_FFFF_FFF1, -1, 0, 99 };
    static readonly long[] B = { 7, 3, 1, 9, -1, 0, -1, -3, 0x0F0F_0F0F_0F0F_0F0F, 85, 6, 64 };

    [Theory]
    [InlineData("BitwiseAnd", DType.Int64)] [InlineData("BitwiseOr", DType.Int32)] [InlineData("BitwiseXor", DType.UInt8)]
    [InlineData("BitwiseAnd", DType.Int8)] [InlineData("BitwiseOr", DType.UInt32)] [InlineData("BitwiseXor", DType.Int16)]
    [InlineData("BitwiseAnd", DType.UInt16)] [InlineData("BitwiseXor", DType.UInt32)]
    public void Bitwise(string op, DType type)
    {
        // broadcast [3, 4] with [4]
        var b = new OnnxBuilder(18).Input("x", type, 3, 4).Input("z", type, 4).Output("y", type);
        b.Node(op, new[] { "x", "z" }, new[] { "y" });
        OpCheck.AgainstOrt(b.Build(), 0, Ints(type, A), Ints(type, B.Take(4).ToArray()));
    }

    [Theory] [InlineData(DType.Int64)] [InlineData(DType.UInt8)] [InlineData(DType.Int8)] [InlineData(DType.UInt16)] [InlineData(DType.Int32)]
    public void BitwiseNot(DType type)
    {
        var b = new OnnxBuilder(18).Input("x", type, 12).Output("y", type);
        b.Node("BitwiseNot", new[] { "x" }, new[] { "y" });
        OpCheck.AgainstOrt(b.Build(), 0, Ints(type, A));
    }

    [Fact]
    public void BitwiseFoldsAtBuildTime()
    {
        // constant operands fold (Evaluate on the 64-bit patterns): the generated code has no bitwise loop left
        var b = new OnnxBuilder(18).Input("x", DType.Int64, 2).Output("y", DType.Int64);
        b.Initializer("c", new[] { 2 }, new long[] { long.MaxValue - 2, 12 });
        b.Node("BitwiseNot", new[] { "c" }, new[] { "n" });
        b.Node("BitwiseAnd", new[] { "n", "x" }, new[] { "y" });
        OpCheck.AgainstOrt(b.Build(), 0, new long[] { -1, 0x7F });
    }

    [Fact]
    public void BitwiseRejectsFloats()
    {
        var b = new OnnxBuilder(18).Input("x", DType.Float, 2).Output("y");
        b.Node("BitwiseNot", new[] { "x" }, new[] { "y" });
        var r = ModelCompiler.Compile(b.Build(), "b.onnx", new ModelOptions { ClassName = "M" });
        Assert.False(r.Success);
        Assert.Contains("takes integers", string.Join("\n", r.Diagnostics.Select(d => d.Message)));
    }

    // ---------------- opset 18-21 forms of older operators ----------------

    [Theory]
    [InlineData("ReduceMean", 0L)] [InlineData("ReduceMax", 1L)] [InlineData("ReduceSum", 0L)] [InlineData("ReduceL2", 1L)] [InlineData("ReduceLogSumExp", 0L)]
    public void ReduceAxesAsInput(string op, long keepdims)
    {
        var b = new OnnxBuilder(18).Input("x", DType.Float, 2, 3, 4).Initializer("ax", new[] { 2 }, new long[] { -1, 0 }).Output("y");
        b.Node(op, new[] { "x", "ax" }, new[] { "y" }, ("keepdims", keepdims));
        OpCheck.AgainstOrt(b.Build(), 1e-5, R(24, 1));
    }

    [Fact]
    public void SplitNumOutputsUneven()
    {
        var b = new OnnxBuilder(18).Input("x", DType.Float, 2, 7).Output("a").Output("b").Output("c");
        b.Node("Split", new[] { "x" }, new[] { "a", "b", "c" }, ("axis", 1L), ("num_outputs", 3L));
        OpCheck.AgainstOrt(b.Build(), 0, R(14, 1));
    }

    [Theory] [InlineData("constant")] [InlineData("reflect")] [InlineData("edge")] [InlineData("wrap")]
    public void PadWithAxes(string mode)
    {
        var b = new OnnxBuilder(19).Input("x", DType.Float, 2, 3, 4).Initializer("p", new[] { 4 }, new long[] { 1, 2, 2, 1 })
            .Initializer("ax", new[] { 2 }, new long[] { 1, -1 }).Output("y");
        b.Node("Pad", new[] { "x", "p", "", "ax" }, new[] { "y" }, ("mode", mode));
        OpCheck.AgainstOrt(b.Build(), 0, R(24, 1));
    }

    [Fact]
    public void ResizeAntialiasDownsample()
    {
        var b = new OnnxBuilder(18).Input("x", DType.Float, 1, 1, 8, 8).Initializer("sc", new[] { 4 }, new float[] { 1, 1, 0.5f, 0.5f }).Output("y");
        b.Node("Resize", new[] { "x", "", "sc" }, new[] { "y" }, ("mode", "linear"), ("antialias", 1L));
        OpCheck.AgainstOrt(b.Build(), 1e-5, R(64, 1));
    }

    [Theory] [InlineData("stretch")] [InlineData("not_larger")] [InlineData("not_smaller")]
    public void ResizeAxesAndAspectPolicy(string policy)
    {
        var b = new OnnxBuilder(18).Input("x", DType.Float, 1, 2, 4, 6).Initializer("sz", new[] { 2 }, new long[] { 8, 8 }).Output("y");
        b.Node("Resize", new[] { "x", "", "", "sz" }, new[] { "y" }, ("mode", "linear"), ("axes", new long[] { 2, 3 }), ("keep_aspect_ratio_policy", policy));
        OpCheck.AgainstOrt(b.Build(), 1e-5, R(48, 1));
    }

    [Theory] [InlineData("max")] [InlineData("min")]
    public void ScatterElementsMinMax(string reduction)
    {
        var b = new OnnxBuilder(18).Input("x", DType.Float, 2, 5).Initializer("i", new[] { 2, 2 }, new long[] { 1, 1, 0, 4 }).Input("u", DType.Float, 2, 2).Output("y");
        b.Node("ScatterElements", new[] { "x", "i", "u" }, new[] { "y" }, ("axis", 1L), ("reduction", reduction));
        OpCheck.AgainstOrt(b.Build(), 0, R(10, 1), new float[] { 1.1f, -2.1f, 0.3f, -0.7f });
    }

    [Fact]
    public void AveragePoolDilations()
    {
        var b = new OnnxBuilder(19).Input("x", DType.Float, 1, 2, 7, 6).Output("y");
        b.Node("AveragePool", new[] { "x" }, new[] { "y" }, ("kernel_shape", new long[] { 2, 3 }), ("dilations", new long[] { 2, 1 }), ("pads", new long[] { 1, 0, 1, 1 }));
        OpCheck.AgainstOrt(b.Build(), 1e-5, R(84, 1));
    }

    [Fact]
    public void DequantizeLinearBlocked()
    {
        var b = new OnnxBuilder(21).Input("x", DType.Float, 2, 4);
        var t = new TensorProto { Name = "w", DataType = (int)DType.Int8, RawData = ByteString.CopyFrom(new byte[] { 1, 2, 3, 4, 5, 6, 250, 7, 8, 9, 10, 11 }) };
        t.Dims.AddRange(new long[] { 4, 3 });
        b.Proto.Graph.Initializer.Add(t);
        b.Initializer("ws", new[] { 2, 3 }, new float[] { 0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f }).Output("y");
        b.Node("DequantizeLinear", new[] { "w", "ws" }, new[] { "wf" }, ("axis", 0L), ("block_size", 2L));
        b.Node("MatMul", new[] { "x", "wf" }, new[] { "y" });
        OpCheck.AgainstOrt(b.Build(), 1e-5, R(8, 1));
    }

    [Theory] [InlineData(DType.Int16)] [InlineData(DType.UInt16)]
    public void QuantizeDequantize16Bit(DType type)
    {
        var b = new OnnxBuilder(21).Input("x", DType.Float, 10).Initializer("s", Array.Empty<int>(), new float[] { 0.0001f }).Output("y");
        var z = new TensorProto { Name = "z", DataType = (int)type };
        z.Int32Data.Add(type == DType.Int16 ? -3 : 30000);
        b.Proto.Graph.Initializer.Add(z);
        b.Node("QuantizeLinear", new[] { "x", "s", "z" }, new[] { "q" });
        b.Node("DequantizeLinear", new[] { "q", "s", "z" }, new[] { "y" });
        OpCheck.AgainstOrt(b.Build(), 1e-6, R(10, 1).Select(v => 4 * v).ToArray());
    }

    // ---------------- Det (opset 11; not in opset 18+, but in ONNX's backend tests) ----------------

    [Theory]
    [InlineData(new[] { 1, 1 })] [InlineData(new[] { 3, 3 })] [InlineData(new[] { 2, 4, 4 })] [InlineData(new[] { 2, 3, 5, 5 })]
    public void Det(int[] shape)
    {
        var b = new OnnxBuilder(11).Input("x", DType.Float, shape).Output("y");
        b.Node("Det", new[] { "x" }, new[] { "y" });
        OpCheck.AgainstOrt(b.Build(), 1e-4, R(shape.Aggregate(1, (p, q) => p * q), 1).Select(v => 2 * v).ToArray());
    }

    [Fact]
    public void DetOfSingularAndPivotingMatrices()
    {
        // singular (a zero pivot after elimination), a zero leading entry (needs a row swap), and the identity
        var b = new OnnxBuilder(11).Input("x", DType.Float, 3, 3, 3).Output("y");
        b.Node("Det", new[] { "x" }, new[] { "y" });
        OpCheck.AgainstOrt(b.Build(), 1e-5, new float[] { 1, 2, 3, 2, 4, 6, 1, 0, 1, 0, 2, 1, 3, 0, 1, 1, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1 });
        // folded at build time when constant
        var c = new OnnxBuilder(11).Input("x", DType.Float, 1).Initializer("m", new[] { 2, 2 }, new float[] { 0, 2, 3, 4 }).Output("y");
        c.Node("Det", new[] { "m" }, new[] { "d" }).Node("Add", new[] { "x", "d" }, new[] { "y" });
        OpCheck.AgainstOrt(c.Build(), 1e-6, new float[] { 0.5f });
    }
}
