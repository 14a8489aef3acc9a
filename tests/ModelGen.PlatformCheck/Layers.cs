using System;
using System.Globalization;
using ModelGen.Runtime;

namespace ModelGen.PlatformCheck;

/// <summary>
/// `--layers`: single int8 convolutions of the benchmark models' shapes (random weights, a typical requantization) on
/// the pair kernels and on the automatic path, median per-call time as <see cref="Timing"/> measures it.
/// </summary>
static class Layers
{
    public static void Run()
    {
        string auto = Program.Kernels;
        Console.WriteLine($"layer shape pairs_us {auto}_us pairs/{auto}, then the same with 256-bit kernels (an AVX2 machine's)");
        Conv("ds_cnn 1x1", 64, 64, 25, 5, 1, 1, 0);
        Conv("resnet8 3x3", 16, 16, 32, 32, 3, 1, 1);
        Conv("resnet8 3x3", 32, 32, 16, 16, 3, 1, 1);
        Conv("resnet8 3x3", 64, 64, 8, 8, 3, 1, 1);
        Conv("resnet8 3x3/2", 16, 32, 32, 32, 3, 2, 1);
        Conv("mobilenet stem 3x3/2", 3, 8, 96, 96, 3, 2, 1);
        Conv("mobilenet 1x1", 8, 16, 48, 48, 1, 1, 0);
        Conv("mobilenet 1x1", 16, 32, 24, 24, 1, 1, 0);
        Conv("mobilenet 1x1", 32, 32, 24, 24, 1, 1, 0);
        Conv("mobilenet 1x1", 64, 64, 12, 12, 1, 1, 0);
        Pointwise("mobilenet 1x1 lanes", 128, 128, 36);
        Pointwise("mobilenet 1x1 lanes", 256, 256, 9);
        Gemm("fc", 640, 128);
    }

    static (int[] Bias, int[] Mult, int[] Shift) Requant(Random r, int n)
    {
        var bias = new int[n]; var mult = new int[n]; var shift = new int[n];
        for (int i = 0; i < n; i++) { bias[i] = r.Next(-2000, 2000); mult[i] = r.Next(1 << 30, int.MaxValue); shift[i] = -9; }
        return (bias, mult, shift);
    }

    static void Conv(string name, int c, int m, int h, int w, int k, int stride, int pad)
    {
        var r = new Random(c + m);
        int oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;
        var x = new byte[c * h * w]; r.NextBytes(x);
        var wt = new sbyte[(m + 3) / 4 * 4 * k * k * ((c + 1) / 2) * 2];
        for (int i = 0; i < wt.Length; i++) wt[i] = (sbyte)r.Next(-127, 128);
        var (bias, mult, shift) = Requant(r, m);
        var y = new byte[m * oh * ow];
        var scratch = new short[QConv.Conv2DScratch(c, m, k, k, oh, ow, stride, stride, 1, 1, 1)];
        Row($"{name} {c}->{m} {h}x{w}", () => QConv.Conv2D(x, wt, bias, mult, shift, y, scratch, 1, c, h, w, m, k, k, oh, ow, stride, stride, pad, pad, 1, 1, 1,
            true, -5, 3, -128, 127));
    }

    static void Pointwise(string name, int c, int m, int plane)
    {
        var r = new Random(c + m);
        var x = new byte[c * plane]; r.NextBytes(x);
        var wt = new sbyte[(c + 1) / 2 * ((m + 15) / 16 * 16) * 2];
        for (int i = 0; i < wt.Length; i++) wt[i] = (sbyte)r.Next(-127, 128);
        var (bias, mult, shift) = Requant(r, m);
        var y = new byte[m * plane];
        var scratch = new short[QPointwise.Scratch(c, plane)];
        Row($"{name} {c}->{m} {plane}", () => QPointwise.Run(x, wt, bias, mult, shift, y, scratch, 1, c, m, plane, true, -5, 3, -128, 127));
    }

    static void Gemm(string name, int k, int n)
    {
        var r = new Random(k + n);
        var x = new byte[k]; r.NextBytes(x);
        var wt = new sbyte[n * ((k + 1) & ~1)];
        for (int i = 0; i < wt.Length; i++) wt[i] = (sbyte)r.Next(-127, 128);
        var (bias, mult, shift) = Requant(r, n);
        var y = new byte[n];
        var scratch = new short[(k + 1) & ~1];
        Row($"{name} {k}->{n}", () => QGemm.Run(x, wt, bias, mult, shift, y, scratch, 1, n, k, true, -5, 3, -128, 127));
    }

    static void Row(string label, Action call)
    {
        var (pairs, auto) = Both(call, -1);
        var (pairs256, auto256) = Both(call, 256);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"layer {label} {pairs:F2} {auto:F2} {pairs / auto:F2} | {pairs256:F2} {auto256:F2} {pairs256 / auto256:F2}"));
    }

    /// <summary>Median times of <paramref name="call"/> on the pair kernels and on the automatic path, at most <paramref name="bits"/> wide (-1: the machine's).</summary>
    internal static (double Pairs, double Auto) Both(Action call, int bits)
    {
        try
        {
            SimdLevel.ForceBits = bits;
            QDot.Force = 1;
            double pairs = Timing.Median(call);
            QDot.Force = -1;
            return (pairs, Timing.Median(call));
        }
        finally { QDot.Force = -1; SimdLevel.ForceBits = -1; }
    }
}
