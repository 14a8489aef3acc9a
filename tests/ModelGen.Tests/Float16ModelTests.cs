using Google.Protobuf;
using ModelGen.Compiler;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Onnx.Proto;
using Xunit;

namespace ModelGen.Tests;

/// <summary>
/// float16 models (as float16 converters write them: half weights, with or without float32 inputs and outputs kept by
/// Cast nodes) compile and compute in float32. Oracle: ONNX Runtime on the float32 twin of the model (the same
/// half-valued weights stored as float), fed inputs that are halves, so the model's Casts change nothing; and ORT's own
/// float -> float16 -> float Cast for the rounding.
/// </summary>
public class Float16ModelTests
{
    static float H(float f) => (float)(System.Half)f;

    static TensorProto HalfTensor(string name, int[] shape, float[] data)
    {
        var bytes = new byte[data.Length * 2];
        for (int i = 0; i < data.Length; i++) BitConverter.TryWriteBytes(bytes.AsSpan(2 * i), BitConverter.HalfToUInt16Bits((System.Half)data[i]));
        var t = new TensorProto { Name = name, DataType = (int)DType.Float16, RawData = ByteString.CopyFrom(bytes) };
        t.Dims.AddRange(shape.Select(d => (long)d));
        return t;
    }

    /// <summary>x [1,3,8,8] -> Conv 3->4 3x3 (+bias) -> Relu -> GlobalAveragePool -> Flatten -> Gemm 4->5 -> Sigmoid.</summary>
    static byte[] Cnn(bool half, bool halfIo)
    {
        var w = Ort.Random(4 * 3 * 9, 2).Select(H).ToArray();
        var cb = Ort.Random(4, 3).Select(H).ToArray();
        var g = Ort.Random(5 * 4, 4).Select(H).ToArray();
        var gb = Ort.Random(5, 5).Select(H).ToArray();
        var io = half && halfIo ? DType.Float16 : DType.Float;
        var b = new OnnxBuilder(17).Input("x", io, 1, 3, 8, 8).Output("y", io);
        string x = "x";
        if (half && !halfIo) { b.Node("Cast", new[] { "x" }, new[] { "xh" }, ("to", (long)DType.Float16)); x = "xh"; }
        void Init(string name, int[] shape, float[] data)
        {
            if (half) b.Proto.Graph.Initializer.Add(HalfTensor(name, shape, data)); else b.Initializer(name, shape, data);
        }
        Init("w", new[] { 4, 3, 3, 3 }, w); Init("cb", new[] { 4 }, cb); Init("g", new[] { 5, 4 }, g); Init("gb", new[] { 5 }, gb);
        b.Node("Conv", new[] { x, "w", "cb" }, new[] { "c" }, ("pads", new long[] { 1, 1, 1, 1 }));
        b.Node("Relu", new[] { "c" }, new[] { "r" });
        b.Node("GlobalAveragePool", new[] { "r" }, new[] { "p" });
        b.Node("Flatten", new[] { "p" }, new[] { "f" });
        b.Node("Gemm", new[] { "f", "g", "gb" }, new[] { "z" }, ("transB", 1L));
        if (half && !halfIo)
        {
            b.Node("Sigmoid", new[] { "z" }, new[] { "s" });
            b.Node("Cast", new[] { "s" }, new[] { "y" }, ("to", (long)DType.Float));
        }
        else b.Node("Sigmoid", new[] { "z" }, new[] { "y" });
        return b.Build();
    }

    [Theory]
    [InlineData(TargetProfile.Net, false)] [InlineData(TargetProfile.Net, true)]
    [InlineData(TargetProfile.Portable, false)] [InlineData(TargetProfile.Portable, true)]
    public void HalfModelMatchesItsFloatTwin(TargetProfile target, bool halfIo)
    {
        var x = Ort.Random(3 * 64, 1).Select(H).ToArray();
        var expected = OpCheck.RunOrt(Cnn(false, false), new Array[] { x });
        var actual = OpCheck.RunModelGen(Cnn(true, halfIo), target, new Array[] { x }, new[] { 5 }, new[] { typeof(float) });
        OpCheck.AssertClose(expected[0], actual[0], 1e-5, $"{target} float16 CNN");
    }

    [Fact]
    public void HalfInputsAndOutputsAreNamedInAnInfoDiagnostic()
    {
        var r = ModelCompiler.Compile(Cnn(true, true), "h.onnx", new ModelOptions { ClassName = "M" });
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        var note = Assert.Single(r.Diagnostics, d => d.Kind == Diag.Float16AsFloat);
        Assert.Contains("(x, y)", note.Message);
        // float inputs and outputs kept by Casts: nothing changes for the caller, nothing to say
        Assert.DoesNotContain(ModelCompiler.Compile(Cnn(true, false), "h.onnx", new ModelOptions { ClassName = "M" }).Diagnostics, d => d.Kind == Diag.Float16AsFloat);
    }

    static readonly float[] Edges =
    {
        0, -0f, 1, -1, 0.1f, 1.0009765625f /* 1 + 2^-10 */, 1.00048828125f /* tie: to 1 */, 1.00146484375f /* tie: up to 1 + 2^-9 */,
        65504, 65519.99f, 65520, -70000, 1e-8f, 2.98e-8f /* half the smallest subnormal: a tie, to 0 */, 3e-8f, 6.1e-5f, 6.0e-5f,
        float.NaN, float.PositiveInfinity, float.NegativeInfinity, 3.14159265f, -2.71828183f, 1234.5678f, 0.000123f,
    };

    [Fact]
    public void CastToHalfRoundsAsOnnxRuntime()
    {
        var b = new OnnxBuilder(13).Input("x", DType.Float, Edges.Length).Output("y");
        b.Node("Cast", new[] { "x" }, new[] { "h" }, ("to", (long)DType.Float16));
        b.Node("Cast", new[] { "h" }, new[] { "y" }, ("to", (long)DType.Float));
        OpCheck.AgainstOrt(b.Build(), 0, Edges.ToArray());
    }

    [Fact]
    public void CastLikeToAHalfValueRounds()
    {
        // the target is a float16 initializer, held as float: CastLike still rounds to halves, at run time and folded
        var b = new OnnxBuilder(15).Input("x", DType.Float, Edges.Length).Output("y").Output("z");
        b.Proto.Graph.Initializer.Add(HalfTensor("t", new[] { 1 }, new[] { 0.5f }));
        b.Initializer("k", new[] { Edges.Length }, Edges);
        b.Node("CastLike", new[] { "x", "t" }, new[] { "h" });
        b.Node("Cast", new[] { "h" }, new[] { "y" }, ("to", (long)DType.Float));
        b.Node("CastLike", new[] { "k", "t" }, new[] { "kh" });
        b.Node("Cast", new[] { "kh" }, new[] { "kf" }, ("to", (long)DType.Float));
        b.Node("Add", new[] { "x", "kf" }, new[] { "z" });
        OpCheck.AgainstOrt(b.Build(), 0, Edges.ToArray());
    }

    [Fact]
    public void CastToHalfFoldsAtBuildTimeAsAtRunTime()
    {
        // a constant Cast runs Half.Round in the compiler: compared with System.Half's rounding, value by value
        foreach (var f in Edges.Concat(Ort.Random(2000, 9).Select(v => v * 70000)).Concat(Ort.Random(2000, 10).Select(v => v * 1e-4f)))
            Assert.Equal(BitConverter.SingleToInt32Bits(H(f)), BitConverter.SingleToInt32Bits(ModelGen.Compiler.Half.Round(f)));
        var c = new OnnxBuilder(13).Input("x", DType.Float, Edges.Length).Output("y");
        c.Initializer("k", new[] { Edges.Length }, Edges);
        c.Node("Cast", new[] { "k" }, new[] { "h" }, ("to", (long)DType.Float16));
        c.Node("Cast", new[] { "h" }, new[] { "kh" }, ("to", (long)DType.Float));
        c.Node("Add", new[] { "x", "kh" }, new[] { "y" });
        OpCheck.AgainstOrt(c.Build(), 0, new float[Edges.Length]);
    }
}
