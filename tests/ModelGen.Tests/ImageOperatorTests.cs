using ModelGen.Compiler;
using ModelGen.Compiler.IR;
using Xunit;

namespace ModelGen.Tests;

/// <summary>The opset 18-20 image operators (Col2Im, CenterCropPad, AffineGrid, DeformConv) against ONNX Runtime.</summary>
public class ImageOperatorTests
{
    const double Tol = 1e-4;

    static int Count(int[] s) => s.Aggregate(1, (a, b) => a * b);

    static CompileResult Compile(byte[] model) => ModelCompiler.Compile(model, "t.onnx", new ModelOptions { ClassName = "M" });

    static void AssertDynamic(byte[] model, string fragment)
    {
        var r = Compile(model);
        Assert.False(r.Success);
        Assert.Contains(r.Diagnostics, d => d.Kind.Id == Diag.DynamicShape.Id && d.Message.Contains(fragment));
    }

    // ---------------- Col2Im ----------------

    /// <summary>Block positions per spatial dimension for the given geometry.</summary>
    static int[] Grid(int[] image, int[] block, int[] dil, int[] pads, int[] strides)
        => image.Select((s, d) => (s + pads[d] + pads[d + image.Length] - (dil[d] * (block[d] - 1) + 1)) / strides[d] + 1).ToArray();

    [Theory]
    [InlineData(new[] { 1, 1 }, new[] { 5, 5 }, new[] { 2, 2 }, null, null, null)]
    [InlineData(new[] { 2, 3 }, new[] { 5, 4 }, new[] { 2, 3 }, new[] { 2, 1 }, null, null)]
    [InlineData(new[] { 1, 2 }, new[] { 6, 5 }, new[] { 3, 2 }, null, new[] { 1, 0, 1, 2 }, null)]
    [InlineData(new[] { 2, 1 }, new[] { 7, 6 }, new[] { 2, 2 }, null, null, new[] { 2, 3 })]
    [InlineData(new[] { 1, 3 }, new[] { 9, 8 }, new[] { 3, 2 }, new[] { 2, 3 }, new[] { 2, 1, 0, 3 }, new[] { 3, 2 })]
    [InlineData(new[] { 1, 1 }, new[] { 3, 4, 5 }, new[] { 2, 2, 2 }, null, null, null)]
    [InlineData(new[] { 2, 2 }, new[] { 4, 5, 3 }, new[] { 2, 3, 2 }, null, new[] { 1, 0, 1, 0, 1, 1 }, new[] { 1, 2, 1 })]
    public void Col2ImAgainstOrt(int[] nc, int[] image, int[] block, int[]? dil, int[]? pads, int[]? strides)
    {
        int nd = image.Length;
        var attrs = new List<(string, object)>();
        if (dil != null) attrs.Add(("dilations", dil));
        if (pads != null) attrs.Add(("pads", pads));
        if (strides != null) attrs.Add(("strides", strides));
        int l = Count(Grid(image, block, dil ?? Enumerable.Repeat(1, nd).ToArray(), pads ?? new int[2 * nd], strides ?? Enumerable.Repeat(1, nd).ToArray()));
        int[] x = { nc[0], nc[1] * Count(block), l };
        var m = new OnnxBuilder(18).Input("x", DType.Float, x)
            .Initializer("i", new[] { nd }, image.Select(v => (long)v).ToArray()).Initializer("b", new[] { nd }, block.Select(v => (long)v).ToArray())
            .Node("Col2Im", new[] { "x", "i", "b" }, new[] { "y" }, attrs.ToArray()).Output("y").Build();
        OpCheck.AgainstOrt(m, Tol, Ort.Random(Count(x), 61));
    }

    /// <summary>
    /// 3-D with dilations, where ONNX Runtime's N-D Col2Im is wrong (microsoft/onnxruntime#18156: its block grid is not
    /// the spec's): checked instead against a gather written here (each pixel sums the column entries that land on it).
    /// </summary>
    [Fact]
    public void Col2Im3DDilatedAgainstGather()
    {
        int[] image = { 4, 5, 3 }, block = { 2, 2, 2 }, dil = { 1, 2, 1 }, pads = { 1, 0, 1, 0, 1, 1 }, strides = { 1, 2, 1 };
        var grid = Grid(image, block, dil, pads, strides);
        int c = 2, kb = Count(block), l = Count(grid);
        var x = Ort.Random(c * kb * l, 66);
        var expected = new float[c * Count(image)];
        for (int ch = 0; ch < c; ch++)
            for (int px = 0; px < Count(image); px++)
            {
                int[] pos = { px / (image[1] * image[2]), px / image[2] % image[1], px % image[2] };
                double sum = 0;
                for (int k = 0; k < kb; k++)
                {
                    int[] kk = { k / 4, k / 2 % 2, k % 2 };
                    int g = 0; bool hit = true;
                    for (int d = 0; d < 3 && hit; d++)
                    {
                        int t = pos[d] + pads[d] - kk[d] * dil[d];
                        hit = t >= 0 && t % strides[d] == 0 && t / strides[d] < grid[d];
                        g = g * grid[d] + t / strides[d];
                    }
                    if (hit) sum += x[(ch * kb + k) * l + g];
                }
                expected[ch * Count(image) + px] = (float)sum;
            }
        var m = new OnnxBuilder(18).Input("x", DType.Float, 1, c * kb, l)
            .Initializer("i", new[] { 3 }, image.Select(v => (long)v).ToArray()).Initializer("b", new[] { 3 }, block.Select(v => (long)v).ToArray())
            .Node("Col2Im", new[] { "x", "i", "b" }, new[] { "y" }, ("dilations", dil), ("pads", pads), ("strides", strides)).Output("y").Build();
        foreach (var target in new[] { TargetProfile.Net, TargetProfile.Portable })
            OpCheck.AssertClose(expected, OpCheck.RunModelGen(m, target, new Array[] { x }, new[] { expected.Length }, new[] { typeof(float) })[0], Tol, target.ToString());
    }

    [Fact]
    public void Col2ImFoldsWhenConstant()
    {
        int[] x = { 1, 4, 16 };
        var m = new OnnxBuilder(18).Initializer("x", x, Ort.Random(Count(x), 62)).Input("z", DType.Float, 1)
            .Initializer("i", new[] { 2 }, new long[] { 4, 4 }).Initializer("b", new[] { 2 }, new long[] { 2, 2 })
            .Node("Col2Im", new[] { "x", "i", "b" }, new[] { "s" }, ("pads", new[] { 0, 1, 1, 0 }))
            .Node("Add", new[] { "s", "z" }, new[] { "y" }).Output("y").Build();
        OpCheck.AgainstOrt(m, Tol, new float[] { 0 });
    }

    [Fact]
    public void Col2ImRuntimeImageShapeIsADynamicShape()
        => AssertDynamic(new OnnxBuilder(18).Input("x", DType.Float, 1, 4, 16).Input("i", DType.Int64, 2)
            .Initializer("b", new[] { 2 }, new long[] { 2, 2 })
            .Node("Col2Im", new[] { "x", "i", "b" }, new[] { "y" }).Output("y").Build(), "image_shape");

    // ---------------- CenterCropPad ----------------

    [Theory]
    [InlineData(new[] { 5, 6 }, new long[] { 3, 9 }, null)]
    [InlineData(new[] { 4, 7 }, new long[] { 7, 2 }, null)]
    [InlineData(new[] { 2, 5, 6, 3 }, new long[] { 2, 8 }, new long[] { 1, 2 })]
    [InlineData(new[] { 2, 5, 6, 3 }, new long[] { 4, 6 }, new long[] { -1, 1 })]
    [InlineData(new[] { 3, 4, 5 }, new long[] { 3, 4, 5 }, null)]
    [InlineData(new[] { 3, 8, 8 }, new long[] { 5, 5, 3 }, null)]
    public void CenterCropPadAgainstOrt(int[] shape, long[] size, long[]? axes)
    {
        var m = new OnnxBuilder(18).Input("x", DType.Float, shape).Initializer("s", new[] { size.Length }, size)
            .Node("CenterCropPad", new[] { "x", "s" }, new[] { "y" }, axes == null ? Array.Empty<(string, object)>() : new (string, object)[] { ("axes", axes) })
            .Output("y").Build();
        OpCheck.AgainstOrt(m, 0, Ort.Random(Count(shape), 63));
    }

    [Fact]
    public void CenterCropPadOnInt64()
    {
        int[] shape = { 3, 6 };
        var m = new OnnxBuilder(18).Input("x", DType.Int64, shape).Initializer("s", new[] { 2 }, new long[] { 6, 3 })
            .Node("CenterCropPad", new[] { "x", "s" }, new[] { "y" }).Output("y", DType.Int64).Build();
        OpCheck.AgainstOrt(m, 0, Enumerable.Range(1, Count(shape)).Select(v => (long)v).ToArray());
    }

    [Fact]
    public void CenterCropPadRuntimeShapeIsADynamicShape()
        => AssertDynamic(new OnnxBuilder(18).Input("x", DType.Float, 4, 4).Input("s", DType.Int64, 2)
            .Node("CenterCropPad", new[] { "x", "s" }, new[] { "y" }).Output("y").Build(), "shape");

    // ---------------- AffineGrid ----------------

    [Theory]
    [InlineData(new long[] { 2, 3, 5, 4 }, 0L)]
    [InlineData(new long[] { 2, 3, 5, 4 }, 1L)]
    [InlineData(new long[] { 1, 1, 1, 3 }, 0L)]
    [InlineData(new long[] { 1, 1, 3, 1 }, 1L)]
    [InlineData(new long[] { 2, 1, 3, 4, 5 }, 0L)]
    [InlineData(new long[] { 1, 2, 2, 3, 4 }, 1L)]
    [InlineData(new long[] { 1, 2, 1, 3, 2 }, 1L)]
    public void AffineGridAgainstOrt(long[] size, long align)
    {
        int nd = size.Length - 2;
        int[] theta = { (int)size[0], nd, nd + 1 };
        var m = new OnnxBuilder(20).Input("t", DType.Float, theta).Initializer("s", new[] { size.Length }, size)
            .Node("AffineGrid", new[] { "t", "s" }, new[] { "y" }, ("align_corners", align)).Output("y").Build();
        OpCheck.AgainstOrt(m, 1e-5, Ort.Random(Count(theta), 64, 1.5f));
    }

    [Fact]
    public void AffineGridOnDouble()
    {
        var m = new OnnxBuilder(20).Input("t", DType.Double, 1, 3, 4).Initializer("s", new[] { 5 }, new long[] { 1, 1, 2, 3, 4 })
            .Node("AffineGrid", new[] { "t", "s" }, new[] { "y" }, ("align_corners", 1L)).Output("y", DType.Double).Build();
        OpCheck.AgainstOrt(m, 1e-12, Ort.Random(12, 67).Select(v => (double)v).ToArray());
    }

    [Fact]
    public void AffineGridFoldsWhenConstant()
    {
        int[] theta = { 1, 2, 3 };
        var m = new OnnxBuilder(20).Initializer("t", theta, Ort.Random(Count(theta), 65)).Input("z", DType.Float, 1)
            .Initializer("s", new[] { 4 }, new long[] { 1, 1, 3, 4 })
            .Node("AffineGrid", new[] { "t", "s" }, new[] { "g" })
            .Node("Add", new[] { "g", "z" }, new[] { "y" }).Output("y").Build();
        OpCheck.AgainstOrt(m, 1e-5, new float[] { 0 });
    }

    [Fact]
    public void AffineGridRuntimeSizeIsADynamicShape()
        => AssertDynamic(new OnnxBuilder(20).Input("t", DType.Float, 1, 2, 3).Input("s", DType.Int64, 4)
            .Node("AffineGrid", new[] { "t", "s" }, new[] { "y" }).Output("y").Build(), "size");

    // ---------------- DeformConv ----------------

    /// <summary>DeformConv with offsets of up to +-scale pixels (so samples leave the image) and the given options.</summary>
    static void CheckDeform(int opset, int[] x, int[] w, int group, int offsetGroup, int[]? strides, int[]? pads, int[]? dil, bool bias, bool mask, bool constant = false)
    {
        int[] s = strides ?? new[] { 1, 1 }, p = pads ?? new int[4], d = dil ?? new[] { 1, 1 };
        int oh = (x[2] + p[0] + p[2] - (d[0] * (w[2] - 1) + 1)) / s[0] + 1, ow = (x[3] + p[1] + p[3] - (d[1] * (w[3] - 1) + 1)) / s[1] + 1;
        int k = w[2] * w[3];
        int[] off = { x[0], offsetGroup * k * 2, oh, ow }, msk = { x[0], offsetGroup * k, oh, ow };
        var attrs = new List<(string, object)> { ("group", (long)group), ("offset_group", (long)offsetGroup) };
        if (strides != null) attrs.Add(("strides", strides));
        if (pads != null) attrs.Add(("pads", pads));
        if (dil != null) attrs.Add(("dilations", dil));
        if (opset == 22) attrs.Add(("kernel_shape", new[] { w[2], w[3] }));
        var b = new OnnxBuilder(opset).Initializer("w", w, Ort.Random(Count(w), 71));
        var feeds = new List<Array>();
        if (constant) b.Initializer("x", x, Ort.Random(Count(x), 72)).Initializer("o", off, Ort.Random(Count(off), 73, 2.5f));
        else { b.Input("x", DType.Float, x).Input("o", DType.Float, off); feeds.Add(Ort.Random(Count(x), 72)); feeds.Add(Ort.Random(Count(off), 73, 2.5f)); }
        var inputs = new List<string> { "x", "w", "o" };
        if (bias || mask) { inputs.Add(bias ? "b" : ""); if (bias) b.Initializer("b", new[] { w[0] }, Ort.Random(w[0], 74)); }
        if (mask) { inputs.Add("m"); b.Input("m", DType.Float, msk); feeds.Add(Ort.Random(Count(msk), 75)); }
        string outName = constant ? "c" : "y";
        b.Node("DeformConv", inputs.ToArray(), new[] { outName }, attrs.ToArray());
        if (constant) { b.Input("z", DType.Float, 1).Node("Add", new[] { "c", "z" }, new[] { "y" }); feeds.Add(new float[] { 0 }); }
        OpCheck.AgainstOrt(b.Output("y").Build(), Tol, feeds.ToArray());
    }

    [Theory]
    [InlineData(19, 1, 1, false, false)]
    [InlineData(19, 1, 1, true, false)]
    [InlineData(19, 1, 1, false, true)]
    [InlineData(19, 1, 1, true, true)]
    [InlineData(19, 2, 1, true, false)]
    [InlineData(19, 1, 2, false, true)]
    [InlineData(19, 2, 2, true, true)]
    [InlineData(22, 2, 4, true, true)]
    public void DeformConvAgainstOrt(int opset, int group, int offsetGroup, bool bias, bool mask)
        => CheckDeform(opset, new[] { 2, 4, 6, 5 }, new[] { 6, 4 / group, 3, 3 }, group, offsetGroup, null, null, null, bias, mask);

    [Theory]
    [InlineData(new[] { 2, 1 }, null, null)]
    [InlineData(null, new[] { 1, 2, 0, 1 }, null)]
    [InlineData(null, null, new[] { 2, 1 })]
    [InlineData(new[] { 2, 2 }, new[] { 1, 1, 1, 1 }, new[] { 1, 2 })]
    public void DeformConvGeometryAgainstOrt(int[]? strides, int[]? pads, int[]? dil)
        => CheckDeform(19, new[] { 1, 3, 7, 6 }, new[] { 2, 3, 3, 2 }, 1, 1, strides, pads, dil, true, true);

    [Fact]
    public void DeformConvFoldsWhenConstant()
        => CheckDeform(19, new[] { 1, 2, 4, 4 }, new[] { 2, 2, 2, 2 }, 1, 2, null, new[] { 1, 0, 0, 1 }, null, true, false, constant: true);

    [Fact]
    public void DeformConvOnDouble()
    {
        int[] x = { 1, 2, 5, 5 }, w = { 2, 2, 2, 2 }, off = { 1, 8, 4, 4 };
        var m = new OnnxBuilder(19).Input("x", DType.Double, x).Input("w", DType.Double, w).Input("o", DType.Double, off)
            .Node("DeformConv", new[] { "x", "w", "o" }, new[] { "y" }).Output("y", DType.Double).Build();
        double[] D(int n, int seed, float scale = 1f) => Ort.Random(n, seed, scale).Select(v => (double)v).ToArray();
        OpCheck.AgainstOrt(m, 1e-9, D(Count(x), 76), D(Count(w), 77), D(Count(off), 78, 2.5f));
    }

    [Fact]
    public void DeformConv3DIsUnsupported()
    {
        var m = new OnnxBuilder(19).Input("x", DType.Float, 1, 1, 3, 3, 3).Input("w", DType.Float, 1, 1, 2, 2, 2).Input("o", DType.Float, 1, 24, 2, 2, 2)
            .Node("DeformConv", new[] { "x", "w", "o" }, new[] { "y" }).Output("y").Build();
        var r = Compile(m);
        Assert.False(r.Success);
        Assert.Contains(r.Diagnostics, d => d.Kind.Id == Diag.UnsupportedAttribute.Id && d.Message.Contains("2-D"));
    }
}
