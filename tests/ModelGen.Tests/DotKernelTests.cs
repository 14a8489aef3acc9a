using ModelGen.Compiler.Operators;
using ModelGen.Compiler.Quant;
using ModelGen.Runtime;
using Xunit;

namespace ModelGen.Tests;

/// <summary>
/// The int8 kernels' dot-product paths (QDotConv, QPointwise's and QGemm's dot tiles: sdot on arm64 with FEAT_DotProd,
/// vpdpbusd on x64 with AVX-VNNI) run here through their scalar emulations (QDot.Force = 2 and 4: int8 activations and
/// 128-bit tiles, uint8 activations and QDotConv's 256-bit tiles), bit-exact against ModelGen.Compiler.Quant.FixedPoint: the quad
/// plane's layout, the zero point taken from the bias, padding at the zero point, odd channel counts, groups, strides,
/// dilation, tails. The same kernels on real sdot: PlatformCheck's KernelCheck under qemu (scripts/check-arm64.sh).
/// </summary>
[Collection("RuntimeKernels")] // sequential with the kernel tests (SimdLevel.ForceBits, QDot.Force are per thread)
public class DotKernelTests
{
    [Fact]
    public void KernelCheckFindsEveryPathBitExact()
        => Assert.Equal((0, 0, 0, 0), PlatformCheck.KernelCheck.Run(300, seed: 11));

    [Theory]
    // batch, inC, outC, h, w, kH, kW, stride, dilation, pad, groups, signed, xZero
    [InlineData(1, 16, 16, 5, 5, 1, 1, 1, 1, 0, 1, false, 0)]     // pointwise, whole plane as one run
    [InlineData(1, 7, 9, 25, 5, 1, 1, 1, 1, 0, 1, true, -128)]    // pointwise, 7 channels: a quad of 3, odd pairs
    [InlineData(2, 8, 12, 9, 13, 3, 3, 1, 1, 1, 1, true, 127)]
    [InlineData(1, 6, 10, 11, 7, 3, 2, 2, 1, 0, 1, false, 255)]   // stride 2, uint8 at its top
    [InlineData(1, 5, 7, 13, 17, 3, 3, 3, 2, 3, 1, false, 128)]   // stride 3, dilation 2, padding 3
    [InlineData(1, 6, 6, 7, 9, 3, 3, 1, 1, 2, 2, false, 17)]      // grouped, 3 channels per group
    [InlineData(1, 9, 9, 6, 40, 1, 3, 1, 1, 1, 3, true, -3)]      // grouped 1x3, rows of 40
    [InlineData(1, 2, 5, 4, 4, 3, 3, 1, 2, 2, 1, true, -128)]     // two channels, one pair, dilation 2
    [InlineData(1, 64, 70, 6, 6, 3, 3, 1, 1, 1, 1, true, -128)]   // many blocks, 16 quads
    [InlineData(1, 20, 24, 3, 3, 1, 1, 1, 1, 0, 1, false, 3)]     // 9 positions
    [InlineData(1, 3, 8, 9, 70, 3, 3, 2, 1, 1, 1, true, 0)]       // a stem with 3 channels, stride 2
    [InlineData(1, 1, 20, 20, 11, 10, 4, 2, 1, 2, 1, true, -7)]    // one input channel, 16 or more outputs: quads of kernel rows (DS-CNN's stem)
    [InlineData(2, 1, 16, 9, 9, 3, 3, 1, 2, 2, 1, false, 200)]     // one channel, dilation 2: rows 2 apart, a quad past the kernel
    [InlineData(1, 1, 17, 13, 40, 5, 3, 3, 1, 1, 1, true, 127)]    // one channel, stride 3, two quads of rows
    [InlineData(1, 1, 16, 4, 30, 1, 5, 1, 1, 0, 1, false, 0)]     // one channel, one kernel row
    [InlineData(1, 24, 24, 40, 12, 3, 1, 1, 1, 0, 1, true, -124)] // 3x1, no padded columns: rows straight to y, two chunks, the input rows one run
    [InlineData(2, 5, 9, 30, 14, 3, 1, 1, 1, 1, 1, false, 77)]    // 3x1 padded on both axes (still no padded columns), a partial block, the end of y
    [InlineData(1, 1, 16, 30, 8, 5, 1, 1, 1, 0, 1, true, 5)]      // one channel, 5x1: quads of kernel rows as one run
    [InlineData(2, 8, 8, 12, 10, 3, 1, 1, 1, 0, 2, true, 9)]      // 3x1 grouped, two images: no group's rows store into another's
    public void ConvMatchesTheReference(int batch, int c, int m, int h, int w, int kh, int kw, int stride, int dil, int pad, int groups, bool signed, int zx)
        => Conv(batch, c, m, h, w, kh, kw, stride, dil, pad, groups, signed, zx, columns: 0, biasRange: 50000);

    /// <summary>
    /// QDotConv's tiles of each width (1-4 vectors of positions) on planes past a chunk of accumulators (384 positions)
    /// and on tiles that end past the last position; a bias beyond the bounded requantization's range takes the general one.
    /// </summary>
    [Theory]
    [InlineData(1, 64, 64, 25, 5, 1, 1, 1, 0, 50000)]        // DS-CNN's 1x1: 125 positions
    [InlineData(1, 12, 9, 20, 25, 1, 1, 1, 0, 50000)]        // 500 positions: two chunks, a block of 1 row
    [InlineData(2, 8, 20, 19, 23, 3, 3, 1, 1, 50000)]        // padded rows of 25: 475 positions
    [InlineData(1, 1, 16, 40, 31, 10, 4, 2, 5, 50000)]       // a stem's quads of kernel rows
    [InlineData(1, 16, 8, 14, 14, 1, 1, 1, 0, 1 << 30)]      // accumulators past 2^30: the general requantization
    [InlineData(1, 12, 7, 41, 10, 3, 1, 1, 0, 50000)]        // 3x1: rows straight to y, a last chunk of 6 positions
    [InlineData(1, 12, 7, 41, 10, 3, 1, 1, 0, 1 << 30)]      // the same, the general requantization
    public void ConvTilesMatchTheReference(int batch, int c, int m, int h, int w, int kh, int kw, int stride, int pad, int biasRange)
    {
        for (int columns = 1; columns <= 4; columns++)
            Conv(batch, c, m, h, w, kh, kw, stride, 1, pad, 1, signed: columns % 2 == 0, zx: columns % 2 == 0 ? columns * 9 - 20 : columns * 9 + 100, columns, biasRange);
    }

    /// <summary>One convolution through QConv.Conv2D, or (rows; one group) QConvRows, on every dot path against the reference.</summary>
    static void Conv(int batch, int c, int m, int h, int w, int kh, int kw, int stride, int dil, int pad, int groups, bool signed, int zx, int columns, int biasRange,
        bool rows = false)
    {
        var r = new Random(c * 31 + m + kh);
        int icg = c / groups, k = icg * kh * kw;
        int oh = (h + 2 * pad - dil * (kh - 1) - 1) / stride + 1, ow = (w + 2 * pad - dil * (kw - 1) - 1) / stride + 1;
        var x = new byte[batch * c * h * w];
        r.NextBytes(x);
        var wt = new sbyte[m * k];
        for (int i = 0; i < wt.Length; i++) wt[i] = (sbyte)r.Next(-128, 128);
        var wl = wt.Select(v => (long)v).ToArray();
        var packed = (rows ? QConvInt8.PackRows(wl, m, c, kh, kw) : QConvInt8.PackGemm(wl, m, icg, kh, kw, groups)).Select(v => (sbyte)v).ToArray();
        var bias = Enumerable.Range(0, m).Select(_ => r.Next(-biasRange, biasRange)).ToArray();
        var mult = new int[m]; var sh = new int[m];
        for (int j = 0; j < m; j++) FixedPoint.QuantizeMultiplier(1e-4 * (1 + r.NextDouble() * 50), out mult[j], out sh[j]);
        int zy = signed ? -3 : 120, lo = signed ? -128 : 0, hi = signed ? 127 : 255;
        var want = QdqLoweringTests.ReferenceConv(x, wt, bias, mult, sh, batch, c, h, w, m, kh, kw, oh, ow, stride, dil, pad, groups, signed, zx, zy, lo, hi);
        var y = new byte[want.Length + 9];
        Array.Fill(y, (byte)0xAB);
        // 32 elements past the kernel's scratch, which it must leave alone
        int size = rows ? QConvRows.Scratch(c, h, w, kh, kw, oh, ow) : QConv.Conv2DScratch(c, m, kh, kw, oh, ow, stride, stride, dil, dil, groups);
        var scratch = new short[size + 32];
        Array.Fill(scratch, (short)0x5A5A);
        Emulated(() =>
        {
            Array.Fill(y, (byte)0xAB);
            Array.Fill(scratch, (short)0x5A5A);
            try
            {
                QDotConv.ForceColumns = columns;
                if (rows)
                    QConvRows.Run(x, packed, bias, mult, sh, y.AsSpan(0, want.Length), scratch.AsSpan(0, size), batch, c, h, w, m, kh, kw, oh, ow, stride, stride, pad, pad, dil, dil, signed, zx, zy, lo, hi);
                else
                    QConv.Conv2D(x, packed, bias, mult, sh, y.AsSpan(0, want.Length), scratch.AsSpan(0, size), batch, c, h, w, m, kh, kw, oh, ow, stride, stride, pad, pad, dil, dil, groups, signed, zx, zy, lo, hi);
            }
            finally { QDotConv.ForceColumns = 0; }
        }, () =>
        {
            Assert.Equal(want, y.Take(want.Length).ToArray());
            Assert.All(y.Skip(want.Length), v => Assert.Equal(0xAB, v));
            Assert.All(scratch.Skip(size), v => Assert.Equal((short)0x5A5A, v));
        });
    }

    /// <summary>QConvRows (im2col rows of small planes through QPointwise's dot tiles): the rows as uint8 with the zero point moved, in place in the pair plane's upper half.</summary>
    [Theory]
    // batch, inC, outC, h, w, k, stride, pad, signed, xZero
    [InlineData(2, 5, 16, 4, 4, 3, 1, 1, true, -128)]
    [InlineData(1, 12, 40, 2, 2, 3, 1, 1, false, 255)]
    [InlineData(1, 16, 33, 9, 7, 3, 2, 1, true, 127)]
    [InlineData(1, 64, 64, 4, 4, 3, 1, 1, false, 0)]
    public void ConvRowsMatchTheReference(int batch, int c, int m, int h, int w, int k, int stride, int pad, bool signed, int zx)
        => Conv(batch, c, m, h, w, k, k, stride, 1, pad, 1, signed, zx, columns: 0, biasRange: 50000, rows: true);

    [Theory]
    // batch, inC, outC, plane, signed, xZero
    [InlineData(1, 128, 128, 36, true, -128)]
    [InlineData(2, 20, 40, 9, false, 255)]
    [InlineData(1, 7, 17, 25, true, 127)]     // 7 channels: the last quad one pair, three missing
    [InlineData(1, 64, 100, 49, false, 128)]
    [InlineData(2, 30, 50, 20, true, 9)]      // two batches of 20 positions, a last panel of 2 channels
    [InlineData(2, 24, 1060, 16, true, -5)]   // two passes of output channels (1024, then 36)
    [InlineData(1, 3, 33, 2, true, 5)]
    [InlineData(1, 1, 8, 7, false, 0)]        // one channel
    [InlineData(1, 300, 40, 16, true, -100)]  // 150 pairs: the weights' sums in two runs of int16 (at most 127 rows each)
    [InlineData(1, 48, 8, 30, true, -7)]      // 8 channels: tiles of 12 positions x one vector, then 6
    [InlineData(2, 20, 5, 25, false, 200)]    // 5 channels: 4 bytes and 1 stored
    [InlineData(1, 36, 24, 40, true, 3)]      // a last panel of 8 channels after a whole one
    public void PointwiseMatchesTheReference(int batch, int c, int m, int plane, bool signed, int zx)
    {
        var r = new Random(c * 13 + m);
        var x = new byte[batch * c * plane]; r.NextBytes(x);
        var wt = new sbyte[m * c];
        for (int i = 0; i < wt.Length; i++) wt[i] = (sbyte)r.Next(-128, 128);
        if (c >= 256) Array.Fill(wt, (sbyte)-128); // the weights' largest sums: an int16 running sum over too many rows wraps
        var packed = QConvInt8.PackLanes(wt.Select(v => (long)v).ToArray(), m, c).Select(v => (sbyte)v).ToArray();
        var bias = Enumerable.Range(0, m).Select(_ => r.Next(-50000, 50000)).ToArray();
        var mult = new int[m]; var sh = new int[m];
        for (int j = 0; j < m; j++) FixedPoint.QuantizeMultiplier(1e-4 * (1 + r.NextDouble() * 50), out mult[j], out sh[j]);
        int zy = signed ? -3 : 120, lo = signed ? -128 : 0, hi = signed ? 127 : 255;
        var want = new byte[batch * m * plane];
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < m; o++)
                for (int p = 0; p < plane; p++)
                {
                    int acc = bias[o];
                    for (int ic = 0; ic < c; ic++)
                    {
                        byte xb = x[(b * c + ic) * plane + p];
                        acc += ((signed ? (sbyte)xb : xb) - zx) * wt[o * c + ic];
                    }
                    want[(b * m + o) * plane + p] = (byte)FixedPoint.Requantize(acc, mult[o], sh[o], zy, lo, hi);
                }
        var y = new byte[want.Length];
        var scratch = new short[QPointwise.Scratch(c, plane)];
        // NCHW, and channels last on either side (an int8 chain's layout)
        foreach (var (nhwcIn, nhwcOut) in new[] { (false, false), (true, false), (false, true), (true, true) })
        {
            var xs = nhwcIn ? QdqLoweringTests.ChannelsLast(x, batch, c, plane) : x;
            var ws = nhwcOut ? QdqLoweringTests.ChannelsLast(want, batch, m, plane) : want;
            Emulated(() => { Array.Clear(y); Array.Fill(scratch, (short)0x5A5A); QPointwise.Run(xs, packed, bias, mult, sh, y, scratch, batch, c, m, plane, signed, zx, zy, lo, hi, nhwcIn, nhwcOut); },
                () => Assert.Equal(ws, y));
        }
    }

    [Theory]
    [InlineData(1, 10, 37, true, -128)]
    [InlineData(5, 7, 64, false, 255)]
    [InlineData(3, 33, 129, true, 127)]
    [InlineData(2, 5, 15, false, 128)]   // below one vector: the scalar tail only
    [InlineData(1, 9, 48, true, 0)]      // whole vectors, no correction
    public void GemmMatchesTheReference(int mRows, int n, int k, bool signed, int zx)
    {
        var r = new Random(n * 7 + k);
        int kp = (k + 1) & ~1;
        var x = new byte[mRows * k]; r.NextBytes(x);
        var wt = new sbyte[n * k];
        for (int i = 0; i < wt.Length; i++) wt[i] = (sbyte)r.Next(-128, 128);
        var packed = new sbyte[n * kp];
        for (int j = 0; j < n; j++) for (int i = 0; i < k; i++) packed[j * kp + i] = wt[j * k + i];
        var bias = Enumerable.Range(0, n).Select(_ => r.Next(-50000, 50000)).ToArray();
        var mult = new int[n]; var sh = new int[n];
        for (int j = 0; j < n; j++) FixedPoint.QuantizeMultiplier(2e-4 * (1 + r.NextDouble() * 20), out mult[j], out sh[j]);
        int zy = signed ? 10 : 128;
        var want = QdqLoweringTests.ReferenceGemm(x, wt, bias, mult, sh, mRows, n, k, signed, zx, zy);
        var y = new byte[want.Length];
        Emulated(() => { Array.Clear(y); QGemm.Run(x, packed, bias, mult, sh, y, new short[kp], mRows, n, k, signed, zx, zy, signed ? -128 : 0, signed ? 127 : 255); },
            () => Assert.Equal(want, y));
        var y32 = new int[mRows * n];
        Emulated(() => { Array.Clear(y32); QGemm.RunInt32(x, packed, y32, new short[kp], mRows, n, k, signed, zx); },
            () => Assert.Equal(QdqLoweringTests.ReferenceSums(x, wt, mRows, n, k, signed, zx), y32));
    }

    /// <summary>Runs <paramref name="run"/> on the emulated sdot paths, then asserts with <paramref name="check"/>; the same on the emulated vpdpbusd paths.</summary>
    static void Emulated(Action run, Action check)
    {
        // vpdpbusd's emulation also at 256 bits: the requantization a CPU with AVX-VNNI and no AVX-512 runs
        // and the machine's own path (vpdpbusd or sdot where it has them)
        foreach (var (path, bits) in new[] { (QDot.SdotEmulated, -1), (QDot.VnniEmulated, -1), (QDot.VnniEmulated, 256), (-1, -1) })
        {
            try { QDot.Force = path; SimdLevel.ForceBits = bits; run(); }
            finally { QDot.Force = -1; SimdLevel.ForceBits = -1; }
            check();
        }
    }
}
