using ModelGen.Compiler;
using ModelGen.Compiler.IR;
using ModelGen.Runtime;
using Xunit;

namespace ModelGen.Tests;

/// <summary>
/// 1x1 convolutions of small planes with the output channels in the vector lanes (ModelGen.Runtime.PointwiseConv, and
/// the generator's choice of it): against a double-precision reference at every vector width, with bias or none,
/// residual, the fused activations, channel counts on and off the 32-column padding; and whole models against ORT.
/// </summary>
[Collection("RuntimeKernels")] // SimdLevel.ForceBits is per thread; the collection keeps the kernel tests sequential
public class PointwiseConvTests
{
    static float[] Rand(Random r, int n, float scale = 1f)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(r.NextDouble() * 2 - 1) * scale;
        return a;
    }

    static readonly Activation[] Activations =
    {
        default, new(ActivationKind.Relu), new(ActivationKind.LeakyRelu, 0.1f, 0f, -0.5f, 0.8f), new(ActivationKind.HardSwish),
        new(ActivationKind.Sigmoid), new(ActivationKind.Silu), new(ActivationKind.Clip, 0f, 6f),
    };

    [Fact]
    public void MatchesReferenceAtEveryWidth()
    {
        var rng = new Random(5);
        try
        {
            for (int t = 0; t < 84; t++)
            {
                int batch = rng.Next(1, 3), inC = rng.Next(1, 70), outC = t % 3 == 0 ? 32 * rng.Next(1, 3) : rng.Next(1, 80), plane = rng.Next(1, 45);
                bool hasBias = rng.Next(3) > 0, accumulate = rng.Next(3) == 0;
                var act = Activations[t % Activations.Length];
                var x = Rand(rng, batch * inC * plane);
                var w = Rand(rng, outC * inC, 0.5f);
                var b = hasBias ? Rand(rng, outC) : Array.Empty<float>();
                var z = Rand(rng, batch * outC * plane);
                var wt = Compiler.Operators.Conv.ChannelLanesLayout(w, hasBias ? b : null, inC, outC);
                var want = new double[z.Length]; var mag = new double[z.Length];
                for (int n = 0; n < batch; n++)
                    for (int m = 0; m < outC; m++)
                        for (int p = 0; p < plane; p++)
                        {
                            int o = (n * outC + m) * plane + p;
                            double s = hasBias ? b[m] : 0, a = Math.Abs(s);
                            if (accumulate) { s += z[o]; a += Math.Abs(z[o]); }
                            for (int k = 0; k < inC; k++) { double v = (double)w[m * inC + k] * x[(n * inC + k) * plane + p]; s += v; a += Math.Abs(v); }
                            want[o] = act.Apply((float)s); mag[o] = a;
                        }
                foreach (int width in new[] { -1, 256, 128, 0 })
                {
                    SimdLevel.ForceBits = width;
                    var y = new float[z.Length + 40];
                    Array.Fill(y, float.NaN);
                    if (accumulate) z.CopyTo(y, 0);
                    y[z.Length] = 7f;
                    PointwiseConv.Run(x, wt, y, batch, inC, outC, plane, act, accumulate);
                    for (int i = 0; i < z.Length; i++)
                        Assert.True(Math.Abs(y[i] - want[i]) <= 4e-6 * mag[i] + 1e-6,
                            $"case {t} ({batch}x{inC}->{outC} x {plane}, bias {hasBias}, residual {accumulate}, {act.Kind}) width {width}: y[{i}] = {y[i]}, expected {want[i]}");
                    Assert.Equal(7f, y[z.Length]);
                    Assert.True(float.IsNaN(y[z.Length + 1]), "wrote past the output");
                }
            }
        }
        finally { SimdLevel.ForceBits = -1; }
    }

    [Fact]
    public void DoesNotAllocateAndRejectsShortOperands()
    {
        var x = new float[64 * 9]; var y = new float[40 * 9];
        var wt = Compiler.Operators.Conv.ChannelLanesLayout(new float[40 * 64], new float[40], 64, 40);
        PointwiseConv.Run(x, wt, y, 1, 64, 40, 9, new Activation(ActivationKind.Relu));
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++) PointwiseConv.Run(x, wt, y, 1, 64, 40, 9, new Activation(ActivationKind.Relu));
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Throws<ArgumentException>(() => PointwiseConv.Run(x, wt.AsSpan(0, 64 * 64), y, 1, 64, 40, 9));
        Assert.Throws<ArgumentException>(() => PointwiseConv.Run(x.AsSpan(1), wt, y, 1, 64, 40, 9));
        Assert.Throws<ArgumentException>(() => PointwiseConv.Run(x, wt, y.AsSpan(1), 1, 64, 40, 9));
        Assert.Throws<ArgumentOutOfRangeException>(() => PointwiseConv.Run(x, wt, y, 1, 0, 40, 9));
    }

    /// <summary>
    /// The layout the generator writes at build time: w transposed into panels of the runtime's column multiple
    /// ([panel][k][32], zeros past the channels), then the bias as one row of the padded channels.
    /// </summary>
    [Fact]
    public void GeneratorLayoutIsTheRuntimeLayout()
    {
        var rng = new Random(2);
        foreach (var (c, m) in new[] { (3, 5), (64, 32), (17, 33), (9, 70) })
        {
            var w = Rand(rng, m * c); var b = Rand(rng, m);
            int mp = (m + PointwiseConv.ColumnMultiple - 1) / PointwiseConv.ColumnMultiple * PointwiseConv.ColumnMultiple;
            foreach (var bias in new[] { b, null })
            {
                var t = Compiler.Operators.Conv.ChannelLanesLayout(w, bias, c, m);
                Assert.Equal((c + 1) * mp, t.Length);
                for (int j = 0; j < mp; j++)
                {
                    for (int k = 0; k < c; k++) Assert.Equal(j < m ? w[j * c + k] : 0f, t[((j / 32) * c + k) * 32 + j % 32]);
                    Assert.Equal(j < m && bias != null ? bias[j] : 0f, t[c * mp + j]);
                }
            }
        }
    }

    /// <summary>
    /// PointwiseConv.Patches (im2col for spatial convolutions onto small planes) against the definition: 1-D and 2-D,
    /// strides, padding on each side, dilation, rows shorter than 8 (value by value) and long rows of long kernels
    /// (8 x 8 register transposes, a last block shifted back), nothing written past the patches.
    /// </summary>
    [Fact]
    public void PatchesAreTheConvolutionsInput()
    {
        var rng = new Random(11);
        // batch, inC, inH, inW, kH, kW, strideH, strideW, padTop, padLeft, dilH, dilW
        foreach (var (n, c, h, w, kh, kw, sh, sw, pt, pl, dh, dw) in new[]
        {
            (1, 1, 1, 1760, 1, 512, 1, 160, 0, 0, 1, 1),   // melspectrogram's STFT
            (2, 3, 1, 100, 1, 20, 1, 9, 0, 0, 1, 1),       // 10 outputs, 20 taps: blocks shifted back along both
            (1, 2, 9, 30, 3, 9, 2, 2, 1, 0, 1, 1),         // 2-D, rows above the input
            (1, 4, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1),          // 3x3 padded: value by value
            (2, 2, 10, 12, 3, 3, 2, 3, 2, 2, 2, 2),        // dilation and padding
            (1, 1, 4, 40, 1, 8, 1, 4, 0, 0, 1, 1),         // exactly one block of taps
        })
        {
            int oh = (h + 2 * pt - dh * (kh - 1) - 1) / sh + 1, ow = (w + 2 * pl - dw * (kw - 1) - 1) / sw + 1, plane = oh * ow;
            var x = Rand(rng, n * c * h * w);
            int len = n * c * kh * kw * plane;
            var col = new float[len + 16];
            Array.Fill(col, float.NaN);
            PointwiseConv.Patches(x, col, n, c, h, w, kh, kw, oh, ow, sh, sw, pt, pl, dh, dw);
            for (int b = 0; b < n; b++)
                for (int ch = 0; ch < c; ch++)
                    for (int i = 0; i < kh; i++)
                        for (int j = 0; j < kw; j++)
                            for (int oy = 0; oy < oh; oy++)
                                for (int ox = 0; ox < ow; ox++)
                                {
                                    int iy = oy * sh - pt + i * dh, ix = ox * sw - pl + j * dw;
                                    float want = iy >= 0 && iy < h && ix >= 0 && ix < w ? x[((b * c + ch) * h + iy) * w + ix] : 0f;
                                    Assert.Equal(want, col[((((b * c + ch) * kh + i) * kw + j) * oh + oy) * ow + ox]);
                                }
            Assert.All(col.Skip(len), v => Assert.True(float.IsNaN(v)));
        }
    }

    /// <summary>
    /// Spatial convolutions onto small planes through their patches and PointwiseConv: an STFT-like 1-D convolution
    /// (1 -> 40 channels, 64 taps, stride 20, 8 positions) onto a residual, then Relu; a padded 3x3 (4 -> 24 channels
    /// on 4x4, a channel count ConvWeightPanels leaves) with bias and Relu, then a 3x3 that takes the panels; against
    /// ORT in both profiles. A larger plane keeps Conv2D.
    /// </summary>
    [Fact]
    public void SmallPlaneSpatialConvsMatchOrt()
    {
        var stft = new OnnxBuilder(13)
            .Input("x", DType.Float, 1, 1, 204).Input("z", DType.Float, 1, 40, 8)
            .Initializer("w", new[] { 40, 1, 64 }, Ort.Random(2560, 21, 0.2f))
            .Node("Conv", new[] { "x", "w" }, new[] { "c" }, ("strides", new long[] { 20 }))
            .Node("Add", new[] { "c", "z" }, new[] { "a" }).Node("Relu", new[] { "a" }, new[] { "y" })
            .Output("y").Build();
        OpCheck.AgainstOrt(stft, 1e-5, Ort.Random(204, 22, 3f), Ort.Random(320, 29));
        var src = ModelCompiler.Compile(stft, "t.onnx", new ModelOptions { ClassName = "M" }).Source!;
        Assert.Contains("PointwiseConv.Patches(", src);
        Assert.Contains("accumulate: true", src);

        var block = new OnnxBuilder(13)
            .Input("x", DType.Float, 1, 4, 4, 4)
            .Initializer("w1", new[] { 24, 4, 3, 3 }, Ort.Random(864, 23, 0.3f)).Initializer("b1", new[] { 24 }, Ort.Random(24, 24))
            .Initializer("w2", new[] { 24, 24, 3, 3 }, Ort.Random(5184, 25, 0.2f))
            .Node("Conv", new[] { "x", "w1", "b1" }, new[] { "c1" }, ("pads", new long[] { 1, 1, 1, 1 })).Node("Relu", new[] { "c1" }, new[] { "r1" })
            .Node("Conv", new[] { "r1", "w2" }, new[] { "y" }, ("pads", new long[] { 1, 1, 1, 1 }))
            .Output("y").Build();
        OpCheck.AgainstOrt(block, 1e-5, Ort.Random(64, 26, 2f));
        src = ModelCompiler.Compile(block, "t.onnx", new ModelOptions { ClassName = "M" }).Source!;
        Assert.Equal(1, src.Split("PointwiseConv.Patches(").Length - 1);

        var big = new OnnxBuilder(13)
            .Input("x", DType.Float, 1, 1, 4000)
            .Initializer("w", new[] { 40, 1, 64 }, Ort.Random(2560, 27, 0.2f))
            .Node("Conv", new[] { "x", "w" }, new[] { "y" }, ("strides", new long[] { 20 }))
            .Output("y").Build();
        OpCheck.AgainstOrt(big, 1e-5, Ort.Random(4000, 28, 3f));
        Assert.DoesNotContain("PointwiseConv", ModelCompiler.Compile(big, "t.onnx", new ModelOptions { ClassName = "M" }).Source!);
    }

    /// <summary>
    /// A small-plane block as MobileNet ends: 1x1 with bias and Relu, 1x1 without bias onto a residual (ConvAddFusion),
    /// 40 output channels (not a multiple of the 32-column padding), a 1-D 1x1 on 7 positions; and a 1x1 on a plane
    /// too large for the channel path. Against ORT in both profiles; the Net code takes PointwiseConv where it should.
    /// </summary>
    [Fact]
    public void SmallPlaneModelsMatchOrt()
    {
        var m = new OnnxBuilder(13)
            .Input("x", DType.Float, 1, 24, 3, 3)
            .Initializer("w1", new[] { 40, 24, 1, 1 }, Ort.Random(960, 1, 0.4f)).Initializer("b1", new[] { 40 }, Ort.Random(40, 2))
            .Initializer("w2", new[] { 40, 40, 1, 1 }, Ort.Random(1600, 3, 0.3f))
            .Node("Conv", new[] { "x", "w1", "b1" }, new[] { "c1" }).Node("Relu", new[] { "c1" }, new[] { "r1" })
            .Node("Conv", new[] { "r1", "w2" }, new[] { "c2" }).Node("Add", new[] { "c2", "r1" }, new[] { "a2" })
            .Node("Relu", new[] { "a2" }, new[] { "y" })
            .Output("y").Build();
        OpCheck.AgainstOrt(m, 1e-5, Ort.Random(216, 4, 2f));
        var src = ModelCompiler.Compile(m, "t.onnx", new ModelOptions { ClassName = "M" }).Source!;
        Assert.Equal(2, src.Split("ModelGen.Runtime.PointwiseConv.Run(").Length - 1);
        Assert.Contains("accumulate: true", src);

        var m1 = new OnnxBuilder(13)
            .Input("x", DType.Float, 2, 5, 7)
            .Initializer("w", new[] { 33, 5, 1 }, Ort.Random(165, 5)).Initializer("b", new[] { 33 }, Ort.Random(33, 6))
            .Node("Conv", new[] { "x", "w", "b" }, new[] { "c" }).Node("Sigmoid", new[] { "c" }, new[] { "y" })
            .Output("y").Build();
        OpCheck.AgainstOrt(m1, 1e-5, Ort.Random(70, 7));
        Assert.Contains("PointwiseConv.Run(", ModelCompiler.Compile(m1, "t.onnx", new ModelOptions { ClassName = "M" }).Source!);

        var big = new OnnxBuilder(13)
            .Input("x", DType.Float, 1, 8, 8, 8)
            .Initializer("w", new[] { 16, 8, 1, 1 }, Ort.Random(128, 8))
            .Node("Conv", new[] { "x", "w" }, new[] { "y" })
            .Output("y").Build();
        OpCheck.AgainstOrt(big, 1e-5, Ort.Random(512, 9));
        Assert.DoesNotContain("PointwiseConv", ModelCompiler.Compile(big, "t.onnx", new ModelOptions { ClassName = "M" }).Source!);
    }
}
