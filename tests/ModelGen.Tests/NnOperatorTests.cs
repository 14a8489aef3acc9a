using ModelGen.Compiler;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Onnx.Proto;
using Xunit;

namespace ModelGen.Tests;

/// <summary>Neural-network operators (Conv, pools, normalisations, MatMul, softmax family) against ONNX Runtime.</summary>
public class NnOperatorTests
{
    const double Tol = 1e-4;

    static int Count(int[] s) => s.Aggregate(1, (a, b) => a * b);

    /// <summary>Conv with constant weights (and bias) on a run-time input, checked against ORT.</summary>
    static void CheckConv(int opset, int[] x, int[] w, bool bias, params (string, object)[] attrs)
    {
        var b = new OnnxBuilder(opset).Input("x", DType.Float, x).Initializer("w", w, Ort.Random(Count(w), 11));
        var ins = new List<string> { "x", "w" };
        if (bias) { b.Initializer("b", new[] { w[0] }, Ort.Random(w[0], 12)); ins.Add("b"); }
        var m = b.Node("Conv", ins.ToArray(), new[] { "y" }, attrs).Output("y").Build();
        OpCheck.AgainstOrt(m, Tol, Ort.Random(Count(x), 13));
    }

    /// <summary>A single-input, single-output operator on a random input.</summary>
    static void CheckUnary(int opset, string op, int[] x, params (string, object)[] attrs)
    {
        var m = new OnnxBuilder(opset).Input("x", DType.Float, x).Node(op, new[] { "x" }, new[] { "y" }, attrs).Output("y").Build();
        OpCheck.AgainstOrt(m, Tol, Ort.Random(Count(x), 21, 3f));
    }

    static CompileResult Compile(byte[] model) => ModelCompiler.Compile(model, "t.onnx", new ModelOptions { ClassName = "M" });

    static void AssertRejected(byte[] model, string fragment)
    {
        var r = Compile(model);
        Assert.False(r.Success);
        Assert.Contains(fragment, string.Join("\n", r.Diagnostics.Select(d => d.Message)));
    }

    // ---------------- Conv ----------------

    [Fact]
    public void Conv2dAsymmetricPadsStridesBias()
        => CheckConv(13, new[] { 1, 3, 10, 12 }, new[] { 4, 3, 3, 3 }, true, ("pads", new long[] { 1, 0, 2, 1 }), ("strides", new long[] { 2, 1 }), ("kernel_shape", new long[] { 3, 3 }));

    [Fact]
    public void Conv2dStridedBothDims()
        => CheckConv(11, new[] { 2, 2, 9, 11 }, new[] { 3, 2, 3, 2 }, true, ("pads", new long[] { 2, 1, 0, 1 }), ("strides", new long[] { 2, 3 }));

    [Fact]
    public void Conv2dGroupsWithDilations()
        => CheckConv(13, new[] { 1, 4, 9, 7 }, new[] { 6, 2, 3, 2 }, true, ("group", 2L), ("dilations", new long[] { 2, 2 }), ("pads", new long[] { 2, 1, 1, 2 }));

    [Fact]
    public void Conv2dGroupsRowForm()
        => CheckConv(13, new[] { 1, 6, 5, 16 }, new[] { 6, 2, 3, 3 }, false, ("group", 3L), ("pads", new long[] { 1, 1, 1, 1 }));

    [Fact]
    public void Conv2dDepthwiseSameUpper()
        => CheckConv(13, new[] { 1, 6, 11, 10 }, new[] { 6, 1, 3, 3 }, true, ("group", 6L), ("auto_pad", "SAME_UPPER"), ("strides", new long[] { 2, 2 }));

    [Fact]
    public void Conv2dDepthwiseMultiplierSameLower()
        => CheckConv(13, new[] { 1, 3, 7, 12 }, new[] { 6, 1, 2, 4 }, true, ("group", 3L), ("auto_pad", "SAME_LOWER"));

    [Fact]
    public void Conv2dSameUpperEvenKernelRowForm()
        => CheckConv(13, new[] { 1, 2, 6, 12 }, new[] { 3, 2, 2, 4 }, false, ("auto_pad", "SAME_UPPER"));

    [Fact]
    public void SameWithStrideLargerThanKernel()
    {
        // the SAME pad formula gives a negative total here: no padding
        CheckConv(13, new[] { 1, 2, 7, 9 }, new[] { 3, 2, 1, 2 }, true, ("auto_pad", "SAME_UPPER"), ("strides", new long[] { 4, 4 }));
        CheckConv(13, new[] { 1, 2, 7, 9 }, new[] { 3, 2, 1, 2 }, true, ("auto_pad", "SAME_LOWER"), ("strides", new long[] { 4, 4 }));
    }

    [Fact]
    public void Conv2dValidStridesDilations()
        => CheckConv(13, new[] { 1, 2, 13, 14 }, new[] { 2, 2, 3, 3 }, true, ("auto_pad", "VALID"), ("strides", new long[] { 3, 2 }), ("dilations", new long[] { 2, 3 }));

    [Fact]
    public void Conv2dEmbeddingLayers()
    {
        // openWakeWord's embedding model: 3x3 on one channel with width padding, then 1x3 and 3x1 over many channels
        CheckConv(13, new[] { 1, 1, 20, 32 }, new[] { 8, 1, 3, 3 }, true, ("pads", new long[] { 0, 1, 0, 1 }), ("kernel_shape", new long[] { 3, 3 }));
        CheckConv(13, new[] { 1, 8, 6, 16 }, new[] { 8, 8, 1, 3 }, true, ("pads", new long[] { 0, 1, 0, 1 }));
        CheckConv(13, new[] { 1, 8, 6, 16 }, new[] { 8, 8, 3, 1 }, true);
        CheckConv(13, new[] { 1, 8, 5, 2 }, new[] { 8, 8, 1, 3 }, true, ("pads", new long[] { 0, 1, 0, 1 }));
        // many channels, short rows: dot products over the input channels (unrolled, with a remainder)
        CheckConv(13, new[] { 1, 18, 5, 2 }, new[] { 4, 18, 1, 3 }, true, ("pads", new long[] { 0, 1, 0, 1 }));
        CheckConv(13, new[] { 1, 32, 5, 2 }, new[] { 6, 32, 3, 1 }, true);
    }

    [Fact]
    public void Conv1dLargeKernelStrided()
        => CheckConv(13, new[] { 1, 1, 800 }, new[] { 17, 1, 64 }, false, ("strides", new long[] { 16 }), ("pads", new long[] { 0, 0 }), ("kernel_shape", new long[] { 64 }));

    [Fact]
    public void Conv1dPaddedWideKernelRowForm()
        => CheckConv(13, new[] { 2, 3, 40 }, new[] { 5, 3, 7 }, true, ("pads", new long[] { 3, 2 }));

    [Fact]
    public void Conv1dDilatedRowForm()
    {
        CheckConv(13, new[] { 1, 2, 30 }, new[] { 3, 2, 6 }, true, ("pads", new long[] { 4, 1 }), ("dilations", new long[] { 2 }));
        CheckConv(13, new[] { 1, 2, 12 }, new[] { 3, 2, 3 }, true, ("pads", new long[] { 3, 3 }), ("dilations", new long[] { 3 }));
        // no column is reached by every tap
        CheckConv(13, new[] { 1, 1, 4 }, new[] { 2, 1, 3 }, true, ("pads", new long[] { 4, 4 }), ("dilations", new long[] { 3 }));
    }

    [Fact]
    public void Conv3d()
        => CheckConv(13, new[] { 1, 2, 5, 6, 7 }, new[] { 3, 2, 2, 3, 3 }, true, ("pads", new long[] { 1, 0, 1, 0, 1, 2 }), ("strides", new long[] { 1, 2, 1 }), ("dilations", new long[] { 2, 1, 1 }));

    [Fact]
    public void Conv3dRowForm()
        => CheckConv(13, new[] { 2, 2, 3, 4, 10 }, new[] { 2, 2, 2, 2, 3 }, false, ("pads", new long[] { 1, 1, 1, 0, 0, 1 }));

    [Fact]
    public void ConvWeightsAtRunTime()
    {
        var m = new OnnxBuilder(13).Input("x", DType.Float, 2, 4, 6, 9).Input("w", DType.Float, 4, 2, 3, 3).Input("b", DType.Float, 4)
            .Node("Conv", new[] { "x", "w", "b" }, new[] { "y" }, ("group", 2L), ("pads", new long[] { 1, 1, 1, 1 }), ("strides", new long[] { 1, 2 }))
            .Output("y").Build();
        OpCheck.AgainstOrt(m, Tol, Ort.Random(2 * 4 * 6 * 9, 1), Ort.Random(4 * 2 * 9, 2), Ort.Random(4, 3));
    }

    [Fact]
    public void ConvOnConstantsIsFolded()
    {
        var m = new OnnxBuilder(13).Input("a", DType.Float, 1, 2, 5, 5)
            .Initializer("x", new[] { 1, 3, 6, 5 }, Ort.Random(90, 4)).Initializer("w", new[] { 2, 3, 3, 3 }, Ort.Random(54, 5)).Initializer("b", new[] { 2 }, Ort.Random(2, 6))
            .Node("Conv", new[] { "x", "w", "b" }, new[] { "c" }, ("pads", new long[] { 0, 1, 1, 1 }), ("strides", new long[] { 1, 1 }))
            .Node("Add", new[] { "c", "a" }, new[] { "y" })
            .Output("y").Build();
        var r = Compile(m);
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        Assert.DoesNotContain("Conv", r.Source!.Split('\n').Where(l => l.TrimStart().StartsWith("// [")));
        Assert.Contains("Add", r.Source);
        OpCheck.AgainstOrt(m, Tol, Ort.Random(50, 7));
    }

    [Fact]
    public void ConvDouble()
    {
        // ONNX Runtime has no double Conv: compare the double model against ORT on the same model in float
        OnnxBuilder Model(DType t) => new OnnxBuilder(13).Input("x", t, 1, 2, 5, 9).Input("w", t, 3, 2, 2, 3)
            .Node("Conv", new[] { "x", "w" }, new[] { "y" }, ("pads", new long[] { 1, 1, 0, 1 })).Output("y", t);
        float[] x = Ort.Random(90, 1), w = Ort.Random(36, 2);
        var expected = OpCheck.RunOrt(Model(DType.Float).Build(), new Array[] { x, w });
        foreach (var target in new[] { TargetProfile.Net, TargetProfile.Portable })
        {
            var actual = OpCheck.RunModelGen(Model(DType.Double).Build(), target, new Array[] { x.Select(v => (double)v).ToArray(), w.Select(v => (double)v).ToArray() },
                new[] { expected[0].Length }, new[] { typeof(double) });
            OpCheck.AssertClose(expected[0], actual[0], Tol, $"{target} double Conv");
        }
    }

    [Fact]
    public void PoolsDoubleAndInt8()
    {
        var md = new OnnxBuilder(12).Input("x", DType.Double, 1, 2, 6, 7)
            .Node("MaxPool", new[] { "x" }, new[] { "y" }, ("kernel_shape", new long[] { 3, 3 }), ("pads", new long[] { 1, 1, 1, 1 }))
            .Output("y", DType.Double).Build();
        OpCheck.AgainstOrt(md, 1e-9, Ort.Random(84, 1).Select(v => (double)v).ToArray());
        var mi = new OnnxBuilder(12).Input("x", DType.Int8, 1, 2, 6, 7)
            .Node("MaxPool", new[] { "x" }, new[] { "y" }, ("kernel_shape", new long[] { 2, 3 }), ("strides", new long[] { 2, 2 }), ("pads", new long[] { 1, 1, 1, 1 }))
            .Output("y", DType.Int8).Build();
        OpCheck.AgainstOrt(mi, 0, Ort.Random(84, 1).Select(v => (sbyte)(v * 127)).ToArray());
    }

    /// <summary>
    /// int8 and uint8 max pooling (Net: Int8.MaxPool2D's vector kernel) against ONNX Runtime: strides 1, 2 and 3, pads,
    /// dilations, ceil mode, 1-D, rows longer than one stack row (done in segments) and planes of 64 bytes or fewer.
    /// </summary>
    [Theory]
    [InlineData(new[] { 1, 4, 47, 47 }, new long[] { 3, 3 }, new long[] { 2, 2 }, new long[] { 0, 0, 0, 0 }, new long[] { 1, 1 }, 1L)]
    [InlineData(new[] { 2, 3, 9, 40 }, new long[] { 2, 3 }, new long[] { 1, 1 }, new long[] { 1, 2, 0, 1 }, new long[] { 2, 2 }, 0L)]
    [InlineData(new[] { 1, 2, 7, 8 }, new long[] { 3, 2 }, new long[] { 2, 3 }, new long[] { 0, 0, 0, 0 }, new long[] { 1, 1 }, 1L)]
    [InlineData(new[] { 1, 3, 11, 37 }, new long[] { 3, 5 }, new long[] { 3, 2 }, new long[] { 1, 2, 1, 2 }, new long[] { 1, 3 }, 0L)]
    [InlineData(new[] { 1, 2, 3, 2500 }, new long[] { 2, 7 }, new long[] { 1, 2 }, new long[] { 1, 3, 1, 3 }, new long[] { 1, 1 }, 0L)]
    [InlineData(new[] { 1, 2, 2, 5000 }, new long[] { 1, 3 }, new long[] { 1, 1 }, new long[] { 0, 1, 0, 1 }, new long[] { 1, 1 }, 0L)]
    [InlineData(new[] { 2, 3, 20 }, new long[] { 4 }, new long[] { 3 }, new long[] { 2, 1 }, new long[] { 1 }, 0L)]
    [InlineData(new[] { 1, 2, 5, 5 }, new long[] { 2, 2 }, new long[] { 2, 2 }, new long[] { 1, 1, 1, 1 }, new long[] { 3, 1 }, 0L)]
    // planes of at most 64 bytes (AVX512-VBMI: one byte permutation per tap)
    [InlineData(new[] { 1, 40, 4, 4 }, new long[] { 3, 3 }, new long[] { 1, 1 }, new long[] { 1, 1, 1, 1 }, new long[] { 1, 1 }, 0L)]
    [InlineData(new[] { 2, 9, 8, 8 }, new long[] { 3, 3 }, new long[] { 2, 2 }, new long[] { 1, 1, 1, 1 }, new long[] { 1, 1 }, 1L)]
    [InlineData(new[] { 1, 5, 2, 2 }, new long[] { 3, 3 }, new long[] { 1, 1 }, new long[] { 1, 1, 1, 1 }, new long[] { 1, 1 }, 0L)]
    [InlineData(new[] { 1, 3, 7, 9 }, new long[] { 2, 3 }, new long[] { 2, 1 }, new long[] { 0, 1, 0, 1 }, new long[] { 1, 2 }, 0L)]
    public void MaxPoolBytes(int[] shape, long[] kernel, long[] strides, long[] pads, long[] dilations, long ceil)
    {
        int count = Count(shape);
        var rng = new Random(count);
        foreach (var t in new[] { DType.Int8, DType.UInt8 })
        {
            var m = new OnnxBuilder(12).Input("x", t, shape)
                .Node("MaxPool", new[] { "x" }, new[] { "y" }, ("kernel_shape", kernel), ("strides", strides), ("pads", pads), ("dilations", dilations), ("ceil_mode", ceil))
                .Output("y", t).Build();
            Array x = t == DType.Int8 ? Enumerable.Range(0, count).Select(_ => (sbyte)rng.Next(-128, 128)).ToArray() : Enumerable.Range(0, count).Select(_ => (byte)rng.Next(256)).ToArray();
            OpCheck.AgainstOrt(m, 0, x);
        }
    }

    /// <summary>
    /// A mean over H and W of NCHW float planes (PyTorch's x.mean([2, 3]) head outside a channel-blocked chain): the Net
    /// profile's runtime global pool, either keepdims, axes as an attribute and as an input (opset 18), planes shorter
    /// and longer than a vector.
    /// </summary>
    [Theory]
    [InlineData(13, 0L, 9, 7)]
    [InlineData(13, 1L, 3, 3)]
    [InlineData(18, 1L, 25, 5)]
    [InlineData(18, 0L, 1, 2)]
    public void ReduceMeanOverThePlanes(int opset, long keepdims, int h, int w)
    {
        var b = new OnnxBuilder(opset).Input("x", DType.Float, 2, 5, h, w);
        if (opset >= 18) b.Initializer("axes", new[] { 2 }, new long[] { 2, 3 }).Node("ReduceMean", new[] { "x", "axes" }, new[] { "y" }, ("keepdims", keepdims));
        else b.Node("ReduceMean", new[] { "x" }, new[] { "y" }, ("axes", new long[] { 2, 3 }), ("keepdims", keepdims));
        OpCheck.AgainstOrt(b.Output("y").Build(), Tol, Ort.Random(10 * h * w, 31, 3f));
    }

    [Fact]
    public void ConvInvalidModelsAreRejected()
    {
        var badGroup = new OnnxBuilder(13).Input("x", DType.Float, 1, 4, 5, 5).Initializer("w", new[] { 2, 3, 3, 3 }, Ort.Random(54, 1))
            .Node("Conv", new[] { "x", "w" }, new[] { "y" }, ("group", 3L)).Output("y").Build();
        AssertRejected(badGroup, "group");
        var tooBig = new OnnxBuilder(13).Input("x", DType.Float, 1, 1, 2, 2).Initializer("w", new[] { 1, 1, 3, 3 }, Ort.Random(9, 1))
            .Node("Conv", new[] { "x", "w" }, new[] { "y" }).Output("y").Build();
        AssertRejected(tooBig, "larger than");
        var badPad = new OnnxBuilder(13).Input("x", DType.Float, 1, 1, 5, 5).Initializer("w", new[] { 1, 1, 3, 3 }, Ort.Random(9, 1))
            .Node("Conv", new[] { "x", "w" }, new[] { "y" }, ("auto_pad", "SAME")).Output("y").Build();
        AssertRejected(badPad, "auto_pad");
    }

    // ---------------- pools ----------------

    [Fact]
    public void MaxPoolPaddedStridedWithIndices()
    {
        var m = new OnnxBuilder(12).Input("x", DType.Float, 2, 3, 7, 9)
            .Node("MaxPool", new[] { "x" }, new[] { "y", "i" }, ("kernel_shape", new long[] { 3, 3 }), ("strides", new long[] { 2, 2 }), ("pads", new long[] { 1, 1, 1, 1 }))
            .Output("y").Output("i", DType.Int64).Build();
        OpCheck.AgainstOrt(m, Tol, Ort.Random(2 * 3 * 7 * 9, 1));
    }

    [Fact]
    public void MaxPoolColumnMajorIndicesDilated()
    {
        var m = new OnnxBuilder(12).Input("x", DType.Float, 1, 2, 8, 7)
            .Node("MaxPool", new[] { "x" }, new[] { "y", "i" }, ("kernel_shape", new long[] { 2, 3 }), ("dilations", new long[] { 2, 2 }), ("storage_order", 1L), ("pads", new long[] { 1, 2, 0, 1 }))
            .Output("y").Output("i", DType.Int64).Build();
        OpCheck.AgainstOrt(m, Tol, Ort.Random(112, 2));
    }

    [Fact]
    public void MaxPoolCeilMode()
    {
        CheckUnary(12, "MaxPool", new[] { 1, 2, 6, 6 }, ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 }), ("pads", new long[] { 0, 0, 1, 1 }), ("ceil_mode", 1L));
        CheckUnary(12, "MaxPool", new[] { 1, 2, 7, 8 }, ("kernel_shape", new long[] { 3, 2 }), ("strides", new long[] { 2, 3 }), ("ceil_mode", 1L));
    }

    [Fact]
    public void MaxPoolAutoPad()
    {
        CheckUnary(11, "MaxPool", new[] { 1, 2, 7, 8 }, ("kernel_shape", new long[] { 3, 2 }), ("strides", new long[] { 2, 1 }), ("auto_pad", "SAME_UPPER"));
        CheckUnary(11, "MaxPool", new[] { 1, 2, 7, 8 }, ("kernel_shape", new long[] { 3, 2 }), ("strides", new long[] { 2, 1 }), ("auto_pad", "SAME_LOWER"));
        CheckUnary(11, "MaxPool", new[] { 1, 2, 7, 8 }, ("kernel_shape", new long[] { 3, 2 }), ("strides", new long[] { 2, 3 }), ("auto_pad", "VALID"));
    }

    [Fact]
    public void MaxPoolEmbeddingShapes()
    {
        CheckUnary(13, "MaxPool", new[] { 1, 24, 10, 32 }, ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 }));
        CheckUnary(13, "MaxPool", new[] { 1, 8, 5, 16 }, ("kernel_shape", new long[] { 1, 2 }), ("strides", new long[] { 1, 2 }), ("pads", new long[] { 0, 0, 0, 0 }));
    }

    [Fact]
    public void MaxPool1dAnd3dAndOldOpset()
    {
        CheckUnary(12, "MaxPool", new[] { 2, 3, 20 }, ("kernel_shape", new long[] { 4 }), ("strides", new long[] { 3 }), ("pads", new long[] { 2, 1 }));
        CheckUnary(12, "MaxPool", new[] { 1, 2, 5, 6, 7 }, ("kernel_shape", new long[] { 2, 3, 2 }), ("strides", new long[] { 1, 2, 2 }), ("pads", new long[] { 1, 1, 0, 0, 1, 1 }));
        CheckUnary(8, "MaxPool", new[] { 1, 2, 6, 6 }, ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 }));
        CheckUnary(7, "MaxPool", new[] { 1, 2, 6, 7 }, ("kernel_shape", new long[] { 3, 3 }), ("pads", new long[] { 1, 1, 1, 1 }));
    }

    [Fact]
    public void AveragePoolCountIncludePad()
    {
        CheckUnary(11, "AveragePool", new[] { 1, 2, 7, 9 }, ("kernel_shape", new long[] { 3, 3 }), ("strides", new long[] { 2, 2 }), ("pads", new long[] { 1, 2, 1, 0 }));
        CheckUnary(11, "AveragePool", new[] { 1, 2, 7, 9 }, ("kernel_shape", new long[] { 3, 3 }), ("strides", new long[] { 2, 2 }), ("pads", new long[] { 1, 2, 1, 0 }), ("count_include_pad", 1L));
    }

    [Fact]
    public void AveragePoolCeilMode()
    {
        CheckUnary(11, "AveragePool", new[] { 1, 2, 7, 8 }, ("kernel_shape", new long[] { 3, 2 }), ("strides", new long[] { 2, 3 }), ("ceil_mode", 1L));
        CheckUnary(11, "AveragePool", new[] { 1, 2, 7, 8 }, ("kernel_shape", new long[] { 3, 2 }), ("strides", new long[] { 2, 3 }), ("pads", new long[] { 1, 1, 1, 1 }), ("ceil_mode", 1L), ("count_include_pad", 1L));
        CheckUnary(11, "AveragePool", new[] { 1, 2, 7, 8 }, ("kernel_shape", new long[] { 3, 2 }), ("strides", new long[] { 2, 3 }), ("pads", new long[] { 1, 1, 1, 1 }), ("ceil_mode", 1L));
    }

    [Fact]
    public void AveragePoolAutoPad()
    {
        CheckUnary(11, "AveragePool", new[] { 1, 3, 7, 8 }, ("kernel_shape", new long[] { 3, 2 }), ("strides", new long[] { 2, 2 }), ("auto_pad", "SAME_UPPER"));
        CheckUnary(11, "AveragePool", new[] { 1, 3, 7, 8 }, ("kernel_shape", new long[] { 2, 3 }), ("strides", new long[] { 1, 2 }), ("auto_pad", "SAME_LOWER"));
        CheckUnary(11, "AveragePool", new[] { 1, 3, 7, 8 }, ("kernel_shape", new long[] { 2, 3 }), ("strides", new long[] { 2, 2 }), ("auto_pad", "VALID"));
    }

    [Fact]
    public void AveragePoolDilationsOpset19()
    {
        CheckUnary(19, "AveragePool", new[] { 1, 2, 9, 10 }, ("kernel_shape", new long[] { 2, 3 }), ("dilations", new long[] { 2, 2 }), ("strides", new long[] { 1, 2 }));
        CheckUnary(19, "AveragePool", new[] { 1, 2, 9, 10 }, ("kernel_shape", new long[] { 2, 3 }), ("dilations", new long[] { 2, 2 }), ("pads", new long[] { 1, 1, 1, 1 }));
        CheckUnary(19, "AveragePool", new[] { 1, 2, 9, 10 }, ("kernel_shape", new long[] { 2, 3 }), ("dilations", new long[] { 2, 2 }), ("pads", new long[] { 1, 1, 1, 1 }), ("count_include_pad", 1L));
    }

    [Fact]
    public void AveragePool1dAnd3d()
    {
        CheckUnary(11, "AveragePool", new[] { 2, 3, 20 }, ("kernel_shape", new long[] { 4 }), ("strides", new long[] { 3 }), ("pads", new long[] { 2, 1 }));
        CheckUnary(11, "AveragePool", new[] { 1, 2, 5, 6, 7 }, ("kernel_shape", new long[] { 2, 3, 2 }), ("strides", new long[] { 1, 2, 2 }), ("pads", new long[] { 1, 1, 0, 0, 1, 1 }));
    }

    [Fact]
    public void LpPool()
    {
        CheckUnary(11, "LpPool", new[] { 1, 2, 7, 8 }, ("kernel_shape", new long[] { 3, 2 }), ("strides", new long[] { 2, 2 }), ("pads", new long[] { 1, 0, 1, 1 }));
        CheckUnary(11, "LpPool", new[] { 1, 2, 7, 8 }, ("kernel_shape", new long[] { 2, 2 }), ("p", 1L));
        CheckUnary(18, "LpPool", new[] { 1, 2, 7, 8 }, ("kernel_shape", new long[] { 3, 2 }), ("strides", new long[] { 2, 3 }), ("p", 3L), ("ceil_mode", 1L));
    }

    [Fact]
    public void GlobalPools()
    {
        CheckUnary(13, "GlobalAveragePool", new[] { 2, 3, 4, 5 });
        CheckUnary(13, "GlobalMaxPool", new[] { 2, 3, 4, 5 });
        CheckUnary(13, "GlobalLpPool", new[] { 2, 3, 4, 5 });
        CheckUnary(13, "GlobalLpPool", new[] { 1, 3, 6 }, ("p", 1L));
        CheckUnary(13, "GlobalAveragePool", new[] { 1, 4, 2, 3, 2 });
    }

    // ---------------- BatchNormalization ----------------

    static float[] Positive(int n, int seed) => Ort.Random(n, seed).Select(v => Math.Abs(v) + 0.1f).ToArray();

    [Fact]
    public void BatchNormalizationConstantParameters()
    {
        foreach (var opset in new[] { 9, 14, 15 })
        {
            var m = new OnnxBuilder(opset).Input("x", DType.Float, 2, 3, 4, 5)
                .Initializer("s", new[] { 3 }, Ort.Random(3, 1)).Initializer("b", new[] { 3 }, Ort.Random(3, 2))
                .Initializer("mean", new[] { 3 }, Ort.Random(3, 3)).Initializer("var", new[] { 3 }, Positive(3, 4))
                .Node("BatchNormalization", new[] { "x", "s", "b", "mean", "var" }, new[] { "y" }, ("epsilon", 1e-3f))
                .Output("y").Build();
            // the statistics fold at build time into one SIMD pass (Net profile)
            Assert.Contains("ModelGen.Runtime.Elementwise.ScaleShift(", ModelGen.Compiler.ModelCompiler.Compile(m, "m.onnx", new ModelGen.Compiler.ModelOptions()).Source);
            OpCheck.AgainstOrt(m, Tol, Ort.Random(120, 5, 2f));
        }
    }

    [Fact]
    public void BatchNormalizationRuntimeParametersRank2()
    {
        var m = new OnnxBuilder(15).Input("x", DType.Float, 4, 6).Input("s", DType.Float, 6).Input("b", DType.Float, 6).Input("mean", DType.Float, 6).Input("var", DType.Float, 6)
            .Node("BatchNormalization", new[] { "x", "s", "b", "mean", "var" }, new[] { "y" })
            .Output("y").Build();
        OpCheck.AgainstOrt(m, Tol, Ort.Random(24, 1), Ort.Random(6, 2), Ort.Random(6, 3), Ort.Random(6, 4), Positive(6, 5));
    }

    [Fact]
    public void BatchNormalizationOpset7Spatial()
    {
        var m = new OnnxBuilder(7).Input("x", DType.Float, 2, 3, 4)
            .Initializer("s", new[] { 3 }, Ort.Random(3, 1)).Initializer("b", new[] { 3 }, Ort.Random(3, 2))
            .Initializer("mean", new[] { 3 }, Ort.Random(3, 3)).Initializer("var", new[] { 3 }, Positive(3, 4))
            .Node("BatchNormalization", new[] { "x", "s", "b", "mean", "var" }, new[] { "y" }, ("spatial", 1L))
            .Output("y").Build();
        OpCheck.AgainstOrt(m, Tol, Ort.Random(24, 5));
    }

    [Fact]
    public void BatchNormalizationOpset7PerActivation()
    {
        var m = new OnnxBuilder(7).Input("x", DType.Float, 2, 3, 4)
            .Initializer("s", new[] { 3, 4 }, Ort.Random(12, 1)).Initializer("b", new[] { 3, 4 }, Ort.Random(12, 2))
            .Initializer("mean", new[] { 3, 4 }, Ort.Random(12, 3)).Initializer("var", new[] { 3, 4 }, Positive(12, 4))
            .Node("BatchNormalization", new[] { "x", "s", "b", "mean", "var" }, new[] { "y" }, ("spatial", 0L))
            .Output("y").Build();
        OpCheck.AgainstOrt(m, Tol, Ort.Random(24, 5));
    }

    [Fact]
    public void BatchNormalizationTrainingIsRejected()
    {
        var m = new OnnxBuilder(15).Input("x", DType.Float, 2, 3)
            .Initializer("s", new[] { 3 }, Ort.Random(3, 1)).Initializer("b", new[] { 3 }, Ort.Random(3, 2))
            .Initializer("mean", new[] { 3 }, Ort.Random(3, 3)).Initializer("var", new[] { 3 }, Positive(3, 4))
            .Node("BatchNormalization", new[] { "x", "s", "b", "mean", "var" }, new[] { "y", "rm", "rv" }, ("training_mode", 1L))
            .Output("y").Build();
        AssertRejected(m, "training_mode");
    }

    /// <summary>
    /// Dropout in training mode keeps every element when its ratio is a constant 0 (torchvision's Swin exports its
    /// attention dropout so): the input and an all-true mask. Any other ratio in training mode is random: rejected.
    /// </summary>
    [Fact]
    public void DropoutInTrainingModeWithRatioZeroIsIdentity()
    {
        byte[] Model(float ratio) => new OnnxBuilder(13).Input("x", DType.Float, 2, 5)
            .Initializer("ratio", Array.Empty<int>(), new[] { ratio }).Initializer("training", Array.Empty<int>(), new[] { true })
            .Node("Dropout", new[] { "x", "ratio", "training" }, new[] { "d", "mask" })
            .Node("Relu", new[] { "d" }, new[] { "y" })
            .Output("y").Output("mask", DType.Bool).Build();
        OpCheck.AgainstOrt(Model(0f), Tol, Ort.Random(10, 6));
        AssertRejected(Model(0.5f), "training_mode");
    }

    // ---------------- MatMul ----------------

    static void CheckMatMul(int[] a, int[] b, int seed = 1)
    {
        var m = new OnnxBuilder(13).Input("a", DType.Float, a).Input("b", DType.Float, b)
            .Node("MatMul", new[] { "a", "b" }, new[] { "y" }).Output("y").Build();
        OpCheck.AgainstOrt(m, Tol, Ort.Random(Count(a), seed), Ort.Random(Count(b), seed + 1));
    }

    [Fact]
    public void MatMul2d()
    {
        CheckMatMul(new[] { 3, 4 }, new[] { 4, 5 });
        CheckMatMul(new[] { 7, 33 }, new[] { 33, 20 });
    }

    [Fact]
    public void MatMulBatchedAndBroadcast()
    {
        CheckMatMul(new[] { 2, 3, 16, 8 }, new[] { 8, 20 });
        CheckMatMul(new[] { 2, 1, 3, 4 }, new[] { 5, 4, 10 });
        CheckMatMul(new[] { 3, 4 }, new[] { 2, 4, 9 });
        CheckMatMul(new[] { 2, 3, 5, 4 }, new[] { 2, 3, 4, 2 });
        // batch dimensions folded into rows where B is broadcast over them (a transformer's [16, 1, 32] x [32, 96]),
        // also behind an outer dimension that is not (A broadcast there), and with 1s between
        CheckMatMul(new[] { 16, 1, 32 }, new[] { 32, 96 });
        CheckMatMul(new[] { 2, 3, 5, 4 }, new[] { 1, 4, 7 });
        CheckMatMul(new[] { 3, 1, 4 }, new[] { 2, 1, 4, 9 });
        CheckMatMul(new[] { 2, 1, 3, 2, 4 }, new[] { 2, 1, 1, 4, 3 });
    }

    [Fact]
    public void MatMulVectors()
    {
        CheckMatMul(new[] { 4 }, new[] { 4, 9 });
        CheckMatMul(new[] { 5, 4 }, new[] { 4 });
        CheckMatMul(new[] { 6 }, new[] { 6 });
        CheckMatMul(new[] { 4 }, new[] { 3, 4, 12 });
        CheckMatMul(new[] { 2, 3, 5, 4 }, new[] { 4 });
    }

    [Fact]
    public void MatMulConstantWeights()
    {
        var m = new OnnxBuilder(13).Input("a", DType.Float, 1, 5, 257).Initializer("w", new[] { 257, 32 }, Ort.Random(257 * 32, 3))
            .Node("MatMul", new[] { "a", "w" }, new[] { "y" }).Output("y").Build();
        OpCheck.AgainstOrt(m, Tol, Ort.Random(5 * 257, 4));
    }

    [Fact]
    public void MatMulDoubleAndInt64()
    {
        var md = new OnnxBuilder(13).Input("a", DType.Double, 3, 4).Input("b", DType.Double, 4, 10)
            .Node("MatMul", new[] { "a", "b" }, new[] { "y" }).Output("y", DType.Double).Build();
        OpCheck.AgainstOrt(md, 1e-9, Ort.Random(12, 1).Select(v => (double)v).ToArray(), Ort.Random(40, 2).Select(v => (double)v).ToArray());
        var ml = new OnnxBuilder(13).Input("a", DType.Int64, 2, 3, 4).Input("b", DType.Int64, 4, 5)
            .Node("MatMul", new[] { "a", "b" }, new[] { "y" }).Output("y", DType.Int64).Build();
        OpCheck.AgainstOrt(ml, 0, Ort.Random(24, 1).Select(v => (long)(v * 100)).ToArray(), Ort.Random(20, 2).Select(v => (long)(v * 100)).ToArray());
    }

    // ---------------- Softmax family ----------------

    [Fact]
    public void SoftmaxOpset11Coerced2d()
    {
        CheckUnary(11, "Softmax", new[] { 2, 3, 4 });
        CheckUnary(11, "Softmax", new[] { 2, 3, 4 }, ("axis", 2L));
        CheckUnary(11, "Softmax", new[] { 2, 3, 4 }, ("axis", 0L));
        CheckUnary(11, "LogSoftmax", new[] { 2, 3, 4 });
        CheckUnary(11, "LogSoftmax", new[] { 2, 3, 4 }, ("axis", -1L));
        CheckUnary(11, "Hardmax", new[] { 2, 3, 4 });
    }

    [Fact]
    public void SoftmaxOpset13Axis()
    {
        CheckUnary(13, "Softmax", new[] { 2, 3, 4 });
        CheckUnary(13, "Softmax", new[] { 2, 3, 4 }, ("axis", 1L));
        CheckUnary(13, "Softmax", new[] { 2, 3, 4 }, ("axis", -3L));
        CheckUnary(13, "LogSoftmax", new[] { 2, 3, 4 }, ("axis", 1L));
        CheckUnary(13, "LogSoftmax", new[] { 5, 7 });
        CheckUnary(13, "Hardmax", new[] { 2, 3, 4 }, ("axis", 1L));
        CheckUnary(13, "Hardmax", new[] { 6 });
    }

    [Fact]
    public void SoftmaxLargeValuesStayFinite()
    {
        var m = new OnnxBuilder(13).Input("x", DType.Float, 2, 5).Node("Softmax", new[] { "x" }, new[] { "y" }).Output("y").Build();
        OpCheck.AgainstOrt(m, Tol, Ort.Random(10, 3).Select(v => v * 1000f).ToArray());
    }

    [Fact]
    public void SoftmaxDouble()
    {
        var m = new OnnxBuilder(13).Input("x", DType.Double, 3, 6).Node("LogSoftmax", new[] { "x" }, new[] { "y" }).Output("y", DType.Double).Build();
        OpCheck.AgainstOrt(m, 1e-9, Ort.Random(18, 3, 4f).Select(v => (double)v).ToArray());
    }

    // ---------------- Instance and layer normalisation ----------------

    [Fact]
    public void InstanceNormalization()
    {
        var m = new OnnxBuilder(13).Input("x", DType.Float, 2, 3, 5, 4)
            .Initializer("s", new[] { 3 }, Ort.Random(3, 1)).Initializer("b", new[] { 3 }, Ort.Random(3, 2))
            .Node("InstanceNormalization", new[] { "x", "s", "b" }, new[] { "y" }, ("epsilon", 1e-3f))
            .Output("y").Build();
        OpCheck.AgainstOrt(m, Tol, Ort.Random(120, 5, 2f));
    }

    [Fact]
    public void LayerNormalizationLastAxis()
    {
        var m = new OnnxBuilder(17).Input("x", DType.Float, 2, 3, 8)
            .Initializer("s", new[] { 8 }, Ort.Random(8, 1)).Initializer("b", new[] { 8 }, Ort.Random(8, 2))
            .Node("LayerNormalization", new[] { "x", "s", "b" }, new[] { "y" })
            .Output("y").Build();
        OpCheck.AgainstOrt(m, Tol, Ort.Random(48, 5, 2f));
    }

    /// <summary>The Net kernel (ModelGen.Runtime.LayerNorm) at every vector width, rows around them, with and without bias.</summary>
    [Theory]
    [InlineData(4, true)]
    [InlineData(7, false)]
    [InlineData(16, true)]
    [InlineData(33, true)]
    [InlineData(64, false)]
    public void LayerNormalizationRowsAtEveryWidth(int d, bool bias)
    {
        var b = new OnnxBuilder(17).Input("x", DType.Float, 3, d).Initializer("s", new[] { d }, Ort.Random(d, 1));
        if (bias) b.Initializer("b", new[] { d }, Ort.Random(d, 2));
        var m = b.Node("LayerNormalization", bias ? new[] { "x", "s", "b" } : new[] { "x", "s" }, new[] { "y" }, ("epsilon", 1e-4f)).Output("y").Build();
        try
        {
            foreach (var width in new[] { -1, 256, 128, 0 })
            {
                ModelGen.Runtime.SimdLevel.ForceBits = width;
                OpCheck.AgainstOrt(m, Tol, Ort.Random(3 * d, 5, 3f));
            }
        }
        finally { ModelGen.Runtime.SimdLevel.ForceBits = -1; }
    }

    [Fact]
    public void LayerNormalizationAxis1WithStatistics()
    {
        var m = new OnnxBuilder(17).Input("x", DType.Float, 2, 3, 4)
            .Initializer("s", new[] { 3, 4 }, Ort.Random(12, 1))
            .Node("LayerNormalization", new[] { "x", "s" }, new[] { "y", "mean", "inv" }, ("axis", 1L), ("epsilon", 1e-3f))
            .Output("y").Output("mean").Output("inv").Build();
        OpCheck.AgainstOrt(m, Tol, Ort.Random(24, 5, 2f));
    }

    [Fact]
    public void LayerNormalizationUnsupportedStashType()
    {
        var m = new OnnxBuilder(17).Input("x", DType.Float, 2, 3).Initializer("s", new[] { 3 }, Ort.Random(3, 1))
            .Node("LayerNormalization", new[] { "x", "s" }, new[] { "y" }, ("stash_type", 10L)).Output("y").Build();
        AssertRejected(m, "stash_type");
    }
}
