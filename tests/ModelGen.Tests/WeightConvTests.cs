using ModelGen.Compiler;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Passes;
using ModelGen.Runtime;
using Xunit;

namespace ModelGen.Tests;

/// <summary>
/// Quantize="Weights" convolutions (Net) take their int8 weights themselves (WeightConvFusion), packed at build time in
/// the layout of the float kernel they run (ConvWeightPanels' panels, PointwiseConv's channel lanes) and dequantized
/// into the arena per call: the lanes kernel bit for bit against the scalar product at every vector width,
/// WeightConv.Conv2D against the float kernel on the same floats, the pass's graph, and whole models against the
/// dequantize-then-float path and ONNX Runtime on the Weights graph.
/// </summary>
[Collection("RuntimeKernels")] // SimdLevel.ForceBits is per thread; the collection keeps the kernel tests sequential
public class WeightConvTests
{
    static readonly int[] Widths = { 512, 256, 128, 0 };

    [Fact]
    public void DequantizeLanesMatchesTheScalarProductAtEveryWidth()
    {
        var rng = new Random(5);
        try
        {
            foreach (var (blocks, rows, lanes) in new[] { (3, 7, 16), (1, 5, 32), (2, 3, 64), (1, 4, 13), (2, 2, 8), (1, 1, 4), (0, 3, 16) })
            {
                int n = blocks * rows * lanes;
                var x = Enumerable.Range(0, n).Select(_ => (sbyte)rng.Next(-128, 128)).ToArray();
                var s = Enumerable.Range(0, blocks * lanes).Select(_ => (float)(rng.NextDouble() * 0.05)).ToArray();
                foreach (int width in Widths)
                {
                    SimdLevel.ForceBits = width;
                    var y = new float[n + 1];
                    y[n] = 7f;
                    Int8.DequantizeLanes(x, s, y, blocks, rows, lanes);
                    for (int i = 0; i < n; i++)
                        Assert.Equal((float)x[i] * s[i / (rows * lanes) * lanes + i % lanes], y[i]);
                    Assert.Equal(7f, y[n]);
                }
            }
        }
        finally { SimdLevel.ForceBits = -1; }
        var q = new sbyte[4 * 16]; var sc = new float[16]; var f = new float[64];
        Int8.DequantizeLanes(q, sc, f, 1, 4, 16);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++) Int8.DequantizeLanes(q, sc, f, 1, 4, 16);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Throws<ArgumentException>(() => Int8.DequantizeLanes(q, sc.AsSpan(1), f, 1, 4, 16));
        Assert.Throws<ArgumentException>(() => Int8.DequantizeLanes(q, sc, f.AsSpan(1), 1, 4, 16));
    }

    /// <summary>
    /// DequantizeAxis (the weights of depthwise and other convolutions read in W's layout) at every width: short runs
    /// go as whole vectors spilling into the next run's places, which must end up right, and nothing past the data.
    /// </summary>
    [Fact]
    public void DequantizeAxisMatchesTheScalarProductAtEveryWidth()
    {
        var rng = new Random(9);
        try
        {
            foreach (var (outer, channels, inner) in new[] { (1, 37, 9), (1, 5, 1), (2, 7, 3), (1, 9, 16), (1, 3, 17), (1, 1, 9), (3, 4, 25), (1, 20, 8) })
                foreach (bool zeros in new[] { false, true })
                {
                    int n = outer * channels * inner;
                    var x = Enumerable.Range(0, n).Select(_ => (sbyte)rng.Next(-128, 128)).ToArray();
                    var s = Enumerable.Range(0, channels).Select(_ => (float)(rng.NextDouble() * 0.05)).ToArray();
                    var z = zeros ? Enumerable.Range(0, channels).Select(_ => (sbyte)rng.Next(-5, 6)).ToArray() : Array.Empty<sbyte>();
                    foreach (int width in Widths)
                    {
                        SimdLevel.ForceBits = width;
                        var y = Enumerable.Repeat(7f, n + 20).ToArray();
                        Int8.DequantizeAxis(x, s, z, y, outer, channels, inner);
                        for (int i = 0; i < n; i++)
                        {
                            int c = i / inner % channels;
                            Assert.Equal((float)(x[i] - (zeros ? z[c] : 0)) * s[c], y[i]);
                        }
                        Assert.All(y.Skip(n), v => Assert.Equal(7f, v));
                    }
                }
        }
        finally { SimdLevel.ForceBits = -1; }
    }

    /// <summary>
    /// WeightConv.Conv2D (int8 panels) gives what Conv.Conv2D gives on the dequantized floats with float panels, bit for
    /// bit at every width: the same kernel on the same floats, including where ConvPanels declines (scalar code, stride
    /// 3) and both fall back to W's layout.
    /// </summary>
    [Fact]
    public void PanelsConvMatchesTheFloatKernelOnTheSameFloats()
    {
        var rng = new Random(11);
        var cases = new (int Batch, int InC, int OutC, int H, int W, int K, int Stride, int Pad, int Groups, bool Bias, bool Acc)[]
        {
            (1, 8, 20, 7, 9, 3, 1, 1, 1, true, false),
            (2, 16, 32, 9, 8, 3, 2, 1, 1, true, true),
            (1, 16, 32, 6, 6, 3, 1, 1, 2, false, false),
            (1, 3, 8, 11, 16, 3, 2, 1, 1, true, false),
            (1, 8, 16, 10, 10, 3, 3, 0, 1, true, false),
            (1, 1, 24, 6, 16, 5, 1, 2, 1, true, false),
        };
        try
        {
            foreach (var c in cases)
            {
                int icg = c.InC / c.Groups, taps = icg * c.K * c.K;
                int outH = (c.H + 2 * c.Pad - c.K) / c.Stride + 1, outW = (c.W + 2 * c.Pad - c.K) / c.Stride + 1;
                var q = Enumerable.Range(0, c.OutC * taps).Select(_ => (long)rng.Next(-127, 128)).ToArray();
                var s = Enumerable.Range(0, c.OutC).Select(_ => (float)(rng.NextDouble() * 0.02 + 0.001)).ToArray();
                var wf = q.Select((v, i) => (float)v * s[i / taps]).ToArray();
                var pq = ConvWeightPanels.Pack(q, c.OutC, c.Groups, taps).Select(v => (sbyte)v).ToArray();
                var pf = ConvWeightPanels.Pack(wf, c.OutC, c.Groups, taps);
                int ocg = c.OutC / c.Groups, blocks = (ocg + 15) / 16;
                var sp = new float[c.Groups * blocks * 16];
                for (int g = 0; g < c.Groups; g++) Array.Copy(s, g * ocg, sp, g * blocks * 16, ocg);
                var x = Ort.Random(c.Batch * c.InC * c.H * c.W, 3);
                var b = c.Bias ? Ort.Random(c.OutC, 4) : Array.Empty<float>();
                var z = Ort.Random(c.Batch * c.OutC * outH * outW, 6);
                var act = new Activation(ActivationKind.Relu);
                foreach (int width in Widths)
                {
                    SimdLevel.ForceBits = width;
                    var want = c.Acc ? (float[])z.Clone() : new float[z.Length];
                    var got = c.Acc ? (float[])z.Clone() : new float[z.Length];
                    Conv.Conv2D(x, wf, b, want, c.Batch, c.InC, c.H, c.W, c.OutC, c.K, c.K, outH, outW, c.Stride, c.Stride, c.Pad, c.Pad, 1, 1, c.Groups, act, c.Acc, pf);
                    var scratch = new float[pf.Length];
                    WeightConv.Conv2D(x, pq, sp, b, scratch, got, c.Batch, c.InC, c.H, c.W, c.OutC, c.K, c.K, outH, outW, c.Stride, c.Stride, c.Pad, c.Pad, 1, 1, c.Groups, act, c.Acc);
                    for (int i = 0; i < want.Length; i++)
                        Assert.True(want[i] == got[i], $"{c} width {width}: y[{i}] = {got[i]}, float kernel {want[i]}");
                }
            }
        }
        finally { SimdLevel.ForceBits = -1; }
    }

    /// <summary>Every kind of convolution a small CNN has: a stem, dense 3x3 (panels), strided, grouped, depthwise, 1x1 on a small plane (channel lanes), a residual.</summary>
    static byte[] Cnn()
    {
        float[] W(int n, int seed) => Ort.Random(n, seed, 0.4f);
        return new OnnxBuilder(13)
            .Input("x", DType.Float, 1, 3, 16, 16)
            .Initializer("w0", new[] { 16, 3, 3, 3 }, W(16 * 27, 1)).Initializer("b0", new[] { 16 }, W(16, 2))
            .Initializer("w1", new[] { 32, 16, 3, 3 }, W(32 * 144, 3)).Initializer("b1", new[] { 32 }, W(32, 4))
            .Initializer("w2", new[] { 32, 1, 3, 3 }, W(32 * 9, 5))
            .Initializer("w3", new[] { 40, 32, 1, 1 }, W(40 * 32, 6)).Initializer("b3", new[] { 40 }, W(40, 7))
            .Initializer("w4", new[] { 40, 20, 3, 3 }, W(40 * 180, 8))
            .Initializer("w5", new[] { 24, 40, 1, 1 }, W(24 * 40, 9)).Initializer("b5", new[] { 24 }, W(24, 10))
            .Node("Conv", new[] { "x", "w0", "b0" }, new[] { "c0" }, ("pads", new long[] { 1, 1, 1, 1 })).Node("Relu", new[] { "c0" }, new[] { "r0" })
            .Node("Conv", new[] { "r0", "w1", "b1" }, new[] { "c1" }, ("pads", new long[] { 1, 1, 1, 1 }), ("strides", new long[] { 2, 2 })).Node("Relu", new[] { "c1" }, new[] { "r1" })
            .Node("Conv", new[] { "r1", "w2" }, new[] { "c2" }, ("pads", new long[] { 1, 1, 1, 1 }), ("group", 32L), ("strides", new long[] { 2, 2 }))
            .Node("Conv", new[] { "c2", "w3", "b3" }, new[] { "c3" }).Node("Relu", new[] { "c3" }, new[] { "r3" })
            .Node("Conv", new[] { "r3", "w4" }, new[] { "c4" }, ("pads", new long[] { 1, 1, 1, 1 }), ("group", 2L))
            .Node("Add", new[] { "c4", "r3" }, new[] { "s4" })
            .Node("Conv", new[] { "s4", "w5", "b5" }, new[] { "y" })
            .Output("y").Build();
    }

    [Fact]
    public void ThePassGivesNetConvolutionsTheirInt8WeightsAndPortableItsDequantizeLinear()
    {
        var net = ModelCompiler.Optimize(Cnn(), new ModelOptions { Quantize = QuantizeMode.Weights }, null, out _, out _).Graph;
        Assert.DoesNotContain(net.Nodes, n => n.OpType == "DequantizeLinear");
        var convs = net.Nodes.Where(n => n.OpType == "Conv").ToList();
        Assert.Equal(6, convs.Count);
        foreach (var c in convs)
        {
            Assert.Equal(DType.Int8, c.In(1).Type);
            Assert.True(c.In(1).IsConst);
            Assert.Equal(c.In(1).Shape[0], c.In(5).Length);
        }
        // the dense 3x3 layers (stem 3 -> 16 on rows of 16, 16 -> 32, grouped 20 -> 20 x 2) get int8 panels; depthwise and 1x1 do not
        Assert.Equal(new[] { true, true, false, false, true, false }, convs.Select(c => c.In(4) != null).ToArray());
        Assert.All(convs.Where(c => c.In(4) != null), c => Assert.Equal(DType.Int8, c.In(4).Type));
        var panels = convs[1].In(4).Const.L;
        var w = convs[1].In(1).Const.L;
        Assert.Equal(w[1 * 144 + 5], panels[5 * 16 + 1]); // channel 1, tap 5: panel 0, row 5, lane 1
        Assert.Equal(w[17 * 144], panels[144 * 16 + 1]); // channel 17: panel 1, lane 1

        var portable = ModelCompiler.Optimize(Cnn(), new ModelOptions { Quantize = QuantizeMode.Weights, Target = TargetProfile.Portable }, null, out _, out _).Graph;
        Assert.Equal(6, portable.Nodes.Count(n => n.OpType == "DequantizeLinear"));
        Assert.All(portable.Nodes.Where(n => n.OpType == "Conv"), c => Assert.Null(c.In(5)));
    }

    [Fact]
    public void FusedMatchesDequantizeThenConvAndOnnxRuntime()
    {
        var model = Cnn();
        var x = Ort.Random(3 * 16 * 16, 21);
        var outs = new[] { 24 * 4 * 4 };
        var types = new[] { typeof(float) };
        Array Run(TargetProfile target, string disabled)
        {
            var o = new ModelOptions { Target = target, DisabledPasses = disabled, Quantize = QuantizeMode.Weights };
            return OpCheck.RunModelGen(model, target, new Array[] { x }, outs, types, o)[0];
        }
        var fused = Run(TargetProfile.Net, "");
        var separate = Run(TargetProfile.Net, "WeightConvFusion");
        OpCheck.AssertClose(separate, fused, 1e-5, "fused vs DequantizeLinear + Conv");
        OpCheck.AssertClose(Run(TargetProfile.Portable, ""), fused, 1e-5, "Portable vs Net");
        // ONNX Runtime on the Weights graph (int8 weights + DequantizeLinear, float convolutions), before the lowering (and
        // without the residual fusion: a ModelGen-only Conv input)
        var unlowered = string.Join(",", PassManager.Lowering.Select(p => p.Name).Where(p => p != "DeadNodeElimination").Distinct());
        var qdq = OnnxWriter.Write(ModelCompiler.Optimize(model, new ModelOptions { Quantize = QuantizeMode.Weights, DisabledPasses = unlowered + ",ConvAddFusion" }, null, out _, out _));
        OpCheck.AssertClose(OpCheck.RunOrt(qdq, new Array[] { x })[0], fused, 1e-5, "ORT on the Weights graph vs fused");
    }
}
