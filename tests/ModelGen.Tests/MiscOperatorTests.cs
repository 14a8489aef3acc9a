using ModelGen.Compiler;
using ModelGen.Compiler.IR;
using Xunit;

namespace ModelGen.Tests;

/// <summary>Losses, signal windows and transforms, GridSample and the other late operators against ONNX Runtime.</summary>
public class MiscOperatorTests
{
    const double Tol = 1e-4;

    static int Count(int[] s) => s.Aggregate(1, (a, b) => a * b);

    static long[] Targets(int n, int c, int seed, long ignore = long.MinValue)
    {
        var r = new Random(seed);
        var t = new long[n];
        for (int i = 0; i < n; i++) t[i] = ignore != long.MinValue && i % 3 == 1 ? ignore : r.Next(c);
        return t;
    }

    static CompileResult Compile(byte[] model) => ModelCompiler.Compile(model, "t.onnx", new ModelOptions { ClassName = "M" });

    static void AssertRejected(byte[] model, string fragment)
    {
        var r = Compile(model);
        Assert.False(r.Success);
        Assert.Contains(fragment, string.Join("\n", r.Diagnostics.Select(d => d.Message)));
    }

    // ---------------- NegativeLogLikelihoodLoss / SoftmaxCrossEntropyLoss ----------------

    static void CheckLoss(string op, int opset, int[] x, bool weight, bool int32, bool logProb, long? ignore, string? reduction)
    {
        int c = x[1];
        var tShape = new[] { x[0] }.Concat(x.Skip(2)).ToArray();
        var b = new OnnxBuilder(opset).Input("x", DType.Float, x).Input("t", int32 ? DType.Int32 : DType.Int64, tShape);
        var ins = new List<string> { "x", "t" };
        if (weight) { b.Initializer("w", new[] { c }, Ort.Random(c, 5).Select(v => v + 1.5f).ToArray()); ins.Add("w"); }
        var attrs = new List<(string, object)>();
        if (ignore is long ig) attrs.Add(("ignore_index", ig));
        if (reduction != null) attrs.Add(("reduction", reduction));
        var outs = logProb ? new[] { "y", "lp" } : new[] { "y" };
        b.Node(op, ins.ToArray(), outs, attrs.ToArray()).Output("y");
        if (logProb) b.Output("lp");
        var t = Targets(Count(tShape), c, 9, ignore ?? long.MinValue);
        Array tv = int32 ? t.Select(v => (int)v).ToArray() : t;
        OpCheck.AgainstOrt(b.Build(), Tol, Ort.Random(Count(x), 3, 2f), tv);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("none")]
    [InlineData("sum")]
    [InlineData("mean")]
    public void NllLossReductions(string? reduction) => CheckLoss("NegativeLogLikelihoodLoss", 13, new[] { 3, 5 }, false, false, false, null, reduction);

    [Theory]
    [InlineData("none")]
    [InlineData("sum")]
    [InlineData("mean")]
    public void NllLossWeightIgnoreIndexNd(string reduction)
        => CheckLoss("NegativeLogLikelihoodLoss", 13, new[] { 2, 4, 3, 2 }, true, false, false, 2, reduction);

    [Fact]
    public void NllLossInt32TargetNegativeIgnoreOpset12()
        => CheckLoss("NegativeLogLikelihoodLoss", 12, new[] { 3, 4, 5 }, true, true, false, -1, "mean");

    [Theory]
    [InlineData("none", false)]
    [InlineData("sum", true)]
    [InlineData("mean", true)]
    [InlineData("mean", false)]
    public void SoftmaxCrossEntropyLossLogProb(string reduction, bool weight)
        => CheckLoss("SoftmaxCrossEntropyLoss", 13, new[] { 2, 5, 3 }, weight, false, true, 0, reduction);

    [Fact]
    public void SoftmaxCrossEntropyLoss2dInt32NoIgnoreOpset12()
        => CheckLoss("SoftmaxCrossEntropyLoss", 12, new[] { 4, 6 }, false, true, false, null, null);

    [Fact]
    public void SoftmaxCrossEntropyLossNdWeightedMean()
        => CheckLoss("SoftmaxCrossEntropyLoss", 13, new[] { 2, 3, 2, 2, 3 }, true, false, false, -5, "mean");

    [Fact]
    public void LossRejectsBadTargetShape()
    {
        var m = new OnnxBuilder(13).Input("x", DType.Float, 2, 3, 4).Input("t", DType.Int64, 2, 5)
            .Node("NegativeLogLikelihoodLoss", new[] { "x", "t" }, new[] { "y" }).Output("y").Build();
        AssertRejected(m, "target shape");
    }

    [Fact]
    public void LossRejectsUnknownReduction()
    {
        var m = new OnnxBuilder(13).Input("x", DType.Float, 2, 3).Input("t", DType.Int64, 2)
            .Node("SoftmaxCrossEntropyLoss", new[] { "x", "t" }, new[] { "y" }, ("reduction", "max")).Output("y").Build();
        AssertRejected(m, "reduction");
    }
}

public class SignalOperatorTests
{
    static byte[] WindowModel(string op, long size, long? periodic, DType type)
    {
        var attrs = new List<(string, object)>();
        if (periodic is long p) attrs.Add(("periodic", p));
        if (type != DType.Float) attrs.Add(("output_datatype", (long)type));
        return new OnnxBuilder(17).Input("x", DType.Float, 1).Initializer("size", Array.Empty<int>(), new[] { size })
            .Node(op, new[] { "size" }, new[] { "w" }, attrs.ToArray())
            .Node("Add", new[] { "w", "w" }, new[] { "y" }).Output("y", type).Build();
    }

    [Theory]
    [InlineData("HannWindow", 10L, null)]
    [InlineData("HannWindow", 7L, 0L)]
    [InlineData("HammingWindow", 12L, 1L)]
    [InlineData("HammingWindow", 5L, 0L)]
    [InlineData("BlackmanWindow", 16L, null)]
    [InlineData("BlackmanWindow", 9L, 0L)]
    public void CosineWindows(string op, long size, long? periodic)
    {
        OpCheck.AgainstOrt(WindowModel(op, size, periodic, DType.Float), 1e-5, new float[] { 0 });
        OpCheck.AgainstOrt(WindowModel(op, size, periodic, DType.Double), 1e-7, new float[] { 0 });
    }

    [Fact]
    public void WindowSizeMustBeConstant()
    {
        var m = new OnnxBuilder(17).Input("size", DType.Int64).Node("HannWindow", new[] { "size" }, new[] { "y" }).Output("y").Build();
        var r = ModelCompiler.Compile(m, "t.onnx", new ModelOptions { ClassName = "M" });
        Assert.False(r.Success);
        Assert.Contains(r.Diagnostics, d => d.Message.Contains("build time"));
    }

    [Theory]
    [InlineData(8L, 16L, 8192L, 0f, 4096f)]
    [InlineData(10L, 64L, 16000L, 100f, 7000f)]
    public void MelWeightMatrixFolds(long mels, long dft, long rate, float lo, float hi)
    {
        var m = new OnnxBuilder(17).Input("x", DType.Float, 1)
            .Initializer("m", Array.Empty<int>(), new[] { mels }).Initializer("d", Array.Empty<int>(), new[] { dft })
            .Initializer("r", Array.Empty<int>(), new[] { rate })
            .Initializer("lo", Array.Empty<int>(), new[] { lo }).Initializer("hi", Array.Empty<int>(), new[] { hi })
            .Node("MelWeightMatrix", new[] { "m", "d", "r", "lo", "hi" }, new[] { "w" })
            .Node("Add", new[] { "w", "x" }, new[] { "y" }).Output("y").Build();
        OpCheck.AgainstOrt(m, 1e-6, new float[] { 0.5f });
    }

    /// <summary>DFT against ONNX Runtime in both profiles: real and complex input, axes, onesided, inverse, dft_length padding and cutting.</summary>
    [Theory]
    [InlineData(new[] { 2, 12, 1 }, 1, 0L, 0L, 0L)]
    [InlineData(new[] { 2, 12, 2 }, 1, 0L, 0L, 0L)]
    [InlineData(new[] { 3, 5, 8, 1 }, 2, 1L, 0L, 0L)]
    [InlineData(new[] { 1, 9, 3, 2 }, 1, 0L, 1L, 0L)]
    [InlineData(new[] { 2, 10, 1 }, 1, 1L, 0L, 16L)]
    [InlineData(new[] { 2, 10, 2 }, 1, 0L, 0L, 6L)]
    public void Dft(int[] shape, int axis, long onesided, long inverse, long dftLength)
    {
        var b = new OnnxBuilder(17).Input("x", DType.Float, shape);
        var inputs = new List<string> { "x" };
        if (dftLength > 0) { b.Initializer("n", Array.Empty<int>(), new[] { dftLength }); inputs.Add("n"); }
        var m = b.Node("DFT", inputs.ToArray(), new[] { "y" }, ("axis", (long)axis), ("onesided", onesided), ("inverse", inverse)).Output("y").Build();
        OpCheck.AgainstOrt(m, 1e-4, Ort.Random(shape.Aggregate(1, (p, q) => p * q), 41));
    }

    /// <summary>STFT against ONNX Runtime in both profiles: a window given at run time, onesided or not, complex signal, frame_length without window.</summary>
    [Theory]
    [InlineData(1, 64, 1, 8, 16, true, 1L)]
    [InlineData(2, 50, 1, 5, 12, true, 0L)]
    [InlineData(1, 40, 2, 4, 8, true, 0L)]
    [InlineData(1, 33, 1, 3, 10, false, 1L)]
    public void Stft(int batch, int length, int complex, long step, long frame, bool window, long onesided)
    {
        var b = new OnnxBuilder(17).Input("x", DType.Float, batch, length, complex);
        if (window) b.Input("w", DType.Float, (int)frame);
        b.Initializer("step", Array.Empty<int>(), new[] { step }).Initializer("len", Array.Empty<int>(), new[] { frame });
        var m = b.Node("STFT", window ? new[] { "x", "step", "w" } : new[] { "x", "step", "", "len" }, new[] { "y" }, ("onesided", onesided)).Output("y").Build();
        var x = Ort.Random(batch * length * complex, 43);
        if (window) OpCheck.AgainstOrt(m, 1e-4, x, Enumerable.Range(0, (int)frame).Select(i => 0.5f - 0.5f * MathF.Cos(2 * MathF.PI * i / frame)).ToArray());
        else OpCheck.AgainstOrt(m, 1e-4, x);
    }

    [Fact]
    public void StftFrameStepMustBeConstant()
    {
        var m = new OnnxBuilder(17).Input("x", DType.Float, 1, 32, 1).Input("step", DType.Int64).Initializer("len", Array.Empty<int>(), new[] { 8L })
            .Node("STFT", new[] { "x", "step", "", "len" }, new[] { "y" }).Output("y").Build();
        var r = ModelCompiler.Compile(m, "t.onnx", new ModelOptions { ClassName = "M" });
        Assert.False(r.Success);
        Assert.Contains(r.Diagnostics, d => d.Kind.Id == "MG0012" && d.Message.Contains("frame_step"));
    }
}

public class GridSampleTests
{
    static byte[] Model(int opset, string mode, string pad, long align, bool constant, int[] x, int[] g)
    {
        var b = new OnnxBuilder(opset);
        if (constant) b.Initializer("x", x, Ort.Random(x.Aggregate(1, (p, q) => p * q), 31)).Initializer("g", g, Ort.Random(g.Aggregate(1, (p, q) => p * q), 32, 1.4f));
        else b.Input("x", DType.Float, x).Input("g", DType.Float, g);
        b.Input("z", DType.Float, 1).Node("GridSample", new[] { "x", "g" }, new[] { "s" }, ("mode", mode), ("padding_mode", pad), ("align_corners", align))
            .Node("Add", new[] { "s", "z" }, new[] { "y" }).Output("y");
        return b.Build();
    }

    public static IEnumerable<object[]> Cases()
    {
        foreach (var (opset, modes) in new[] { (16, new[] { "bilinear", "nearest", "bicubic" }), (20, new[] { "linear", "nearest", "cubic" }) })
            foreach (var mode in modes)
                foreach (var pad in new[] { "zeros", "border", "reflection" })
                    foreach (var align in new[] { 0L, 1L })
                        yield return new object[] { opset, mode, pad, align };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void AgainstOrt(int opset, string mode, string pad, long align)
    {
        int[] x = { 2, 3, 5, 4 }, g = { 2, 3, 6, 2 };
        // grid values in [-1.4, 1.4): points outside the image exercise the padding modes
        OpCheck.AgainstOrt(Model(opset, mode, pad, align, false, x, g), 1e-4,
            Ort.Random(x.Aggregate(1, (p, q) => p * q), 41), Ort.Random(g.Aggregate(1, (p, q) => p * q), 42, 1.4f), new float[] { 0 });
    }

    [Theory]
    [InlineData("bicubic", "reflection", 0L)]
    [InlineData("bilinear", "border", 1L)]
    [InlineData("nearest", "zeros", 0L)]
    public void FoldsWhenConstant(string mode, string pad, long align)
        => OpCheck.AgainstOrt(Model(16, mode, pad, align, true, new[] { 1, 2, 4, 3 }, new[] { 1, 5, 3, 2 }), 1e-4, new float[] { 0 });

    [Fact]
    public void RejectsUnknownMode()
    {
        var m = new OnnxBuilder(16).Input("x", DType.Float, 1, 1, 2, 2).Input("g", DType.Float, 1, 2, 2, 2)
            .Node("GridSample", new[] { "x", "g" }, new[] { "y" }, ("mode", "area")).Output("y").Build();
        var r = ModelCompiler.Compile(m, "t.onnx", new ModelOptions { ClassName = "M" });
        Assert.False(r.Success);
        Assert.Contains(r.Diagnostics, d => d.Message.Contains("mode 'area'"));
    }
}

public class ReverseSequenceTests
{
    [Theory]
    [InlineData(0L, 1L, new[] { 4, 3 }, new long[] { 4, 0, 2 })]
    [InlineData(1L, 0L, new[] { 3, 5, 2 }, new long[] { 1, 5, 3 })]
    [InlineData(0L, 1L, new[] { 5, 2, 3, 2 }, new long[] { 3, 5 })]
    public void AgainstOrt(long timeAxis, long batchAxis, int[] shape, long[] lens)
    {
        var m = new OnnxBuilder(10).Input("x", DType.Float, shape).Input("l", DType.Int64, lens.Length)
            .Node("ReverseSequence", new[] { "x", "l" }, new[] { "y" }, ("time_axis", timeAxis), ("batch_axis", batchAxis)).Output("y").Build();
        OpCheck.AgainstOrt(m, 0, Ort.Random(shape.Aggregate(1, (a, b) => a * b), 51), lens);
    }
}
