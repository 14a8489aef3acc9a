using ModelGen.Compiler.Operators;
using ModelGen.Compiler.Quant;
using ModelGen.Runtime;
using Xunit;

namespace ModelGen.Tests;

/// <summary>
/// The channel-blocked int8 depthwise kernel (<see cref="QDepthwise"/>) and <see cref="QConv.Depthwise2D"/>'s dispatch
/// to it, bit for bit against FixedPoint: random shapes (channel counts below, at and past the lanes, short and long
/// rows, strides, pads, dilations, bands), a multiplier and shift per channel (shifts of both signs), int8 and uint8.
/// </summary>
public class QDepthwiseTests
{
    /// <summary>(channels, inH, inW, kH, kW, stride, dilation, pad).</summary>
    public static TheoryData<int, int, int, int, int, int, int, int> Shapes => new()
    {
        { 64, 25, 5, 3, 3, 1, 1, 1 },    // DS-CNN
        { 8, 48, 48, 3, 3, 1, 1, 1 },    // MobileNet's first: bands of rows
        { 16, 48, 48, 3, 3, 2, 1, 1 },
        { 128, 6, 6, 3, 3, 1, 1, 1 },
        { 128, 6, 6, 3, 3, 2, 1, 1 },    // 3 x 3 outputs: a group of 8 and a partial one
        { 256, 3, 3, 3, 3, 1, 1, 1 },
        { 9, 25, 5, 3, 3, 1, 1, 1 },     // one block and one shifted back by 7
        { 17, 12, 40, 3, 3, 1, 1, 1 },   // rows of 40: staged by rows
        { 24, 11, 13, 5, 5, 2, 1, 2 },
        { 12, 13, 9, 3, 3, 1, 2, 2 },    // dilation 2: rows paired 2 apart
        { 20, 9, 21, 2, 4, 1, 1, 0 },    // even kernel
        { 33, 7, 19, 3, 1, 3, 1, 4 },    // stride 3, padding wider than the kernel reads
        { 8, 2, 2, 3, 3, 1, 1, 1 },      // 4 outputs: one partial group
        { 8, 4, 3, 1, 1, 1, 1, 0 },      // 1 x 1
        { 16, 5, 7, 7, 7, 1, 1, 3 },     // 28 tap pairs
        { 40, 30, 30, 3, 3, 2, 2, 2 },
        { 3, 9, 9, 3, 3, 1, 1, 1 },      // fewer channels than the lanes: the per-channel kernel
        { 7, 10, 6, 3, 3, 2, 1, 1 },
        { 1, 5, 5, 3, 3, 1, 1, 0 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BitExact(int c, int h, int w, int kh, int kw, int stride, int dil, int pad)
    {
        foreach (bool signed in new[] { true, false })
            foreach (bool extreme in new[] { false, true })
                foreach (var scales in new[] { Scales.Wide, Scales.Right, Scales.RightFullRange })
                    Check(c, h, w, kh, kw, stride, dil, pad, signed, extreme, scales, new Random(c * 977 + h * 31 + w + kh + (signed ? 1 : 0) + 7 * (int)scales));
    }

    /// <summary>
    /// Wide: shifts of both signs and a bias near the int32 range (the exact rounding); Right: every shift right and
    /// small biases, as calibrated models have them (the kernel's bounded form); RightFullRange: the same with int8
    /// clamped to [-128, 127] and zero points of either sign (the zero point folded into the rounding constants
    /// where it fits, a saturating narrow as the clamp).
    /// </summary>
    public enum Scales { Wide, Right, RightFullRange }

    static void Check(int c, int h, int w, int kh, int kw, int stride, int dil, int pad, bool signed, bool extreme, Scales scales, Random r)
    {
        const int batch = 2;
        int oh = (h + 2 * pad - dil * (kh - 1) - 1) / stride + 1, ow = (w + 2 * pad - dil * (kw - 1) - 1) / stride + 1;
        var x = new byte[batch * c * h * w];
        r.NextBytes(x);
        if (extreme) Array.Fill(x, signed ? (byte)0x80 : (byte)255);
        var wt = new sbyte[c * kh * kw];
        for (int i = 0; i < wt.Length; i++) wt[i] = extreme ? (sbyte)-128 : (sbyte)r.Next(-128, 128);
        var packed = QConvInt8.PackDepthwise(wt.Select(v => (long)v).ToArray(), c, kh, kw).Select(v => (sbyte)v).ToArray();
        var bias = Enumerable.Range(0, c).Select(_ => r.Next(-50000, 50000)).ToArray();
        var mult = new int[c]; var sh = new int[c];
        // each channel its own scale: int8, 2^-24 .. 2^4 (shifts from -23 to 5, the large ones wrapping the shifted
        // accumulator as the reference does); uint8, below 1 only (no left shifts: the kernel's short rounding)
        for (int j = 0; j < c; j++) FixedPoint.QuantizeMultiplier(Math.Pow(2, -24 + (signed ? 28 : 23) * r.NextDouble()), out mult[j], out sh[j]);
        // Right: shifts -31 .. -1; RightFullRange: -20 .. -1, where every zero point folds
        int deepest = scales == Scales.RightFullRange ? 20 : 31;
        if (scales != Scales.Wide)
            for (int j = 0; j < c; j++) FixedPoint.QuantizeMultiplier(Math.Pow(2, -deepest + (deepest - 1) * r.NextDouble()), out mult[j], out sh[j]);
        if (c > 2) { mult[0] = 0; sh[0] = scales == Scales.Wide ? 0 : -1; mult[1] = int.MaxValue; sh[1] = -deepest; } // the ends of QuantizeMultiplier's range
        // a bias near the int32 range in some shapes (the kernel's exact rounding path for the whole call)
        if (c % 2 == 0 && c > 3 && scales == Scales.Wide) { bias[3] = -(1 << 30) - 12345; sh[3] = -3; }
        int zx = extreme ? (signed ? 127 : 0) : (signed ? r.Next(-128, 128) : r.Next(0, 256));
        int zy = signed ? -3 : 130, lo = signed ? -128 : 0, hi = signed ? 100 : 255;
        if (scales == Scales.RightFullRange) { zy = signed ? r.Next(-128, 128) : r.Next(0, 256); hi = signed ? 127 : 255; }
        var want = new byte[batch * c * oh * ow];
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < c; o++)
                for (int y0 = 0; y0 < oh; y0++)
                    for (int x0 = 0; x0 < ow; x0++)
                    {
                        int acc = bias[o];
                        for (int i = 0; i < kh; i++)
                            for (int j = 0; j < kw; j++)
                            {
                                int iy = y0 * stride - pad + i * dil, ix = x0 * stride - pad + j * dil;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                byte xb = x[((b * c + o) * h + iy) * w + ix];
                                acc += ((signed ? (sbyte)xb : xb) - zx) * wt[(o * kh + i) * kw + j];
                            }
                        want[((b * c + o) * oh + y0) * ow + x0] = (byte)FixedPoint.Requantize(acc, mult[o], sh[o], zy, lo, hi);
                    }
        void Compare(string what, byte[] y)
        {
            for (int i = 0; i < want.Length; i++) Assert.True(want[i] == y[i], $"{what}: y[{i}] = {y[i]}, reference {want[i]}");
            Assert.All(y.Skip(want.Length), v => Assert.Equal(0xAB, v));
        }
        var nchw = want;
        try
        {
            // either side channels last too (an int8 chain's layout: channels-last input is paired straight from x)
            foreach (var (nhwcIn, nhwcOut) in new[] { (false, false), (true, true), (true, false), (false, true) })
            {
                var xs = nhwcIn ? QdqLoweringTests.ChannelsLast(x, batch, c, h * w) : x;
                want = nhwcOut ? QdqLoweringTests.ChannelsLast(nchw, batch, c, oh * ow) : nchw;
                foreach (int width in new[] { -1, 256, 128, 0 })
                {
                    SimdLevel.ForceBits = width;
                    string what = $"width {width} extreme {extreme} signed {signed} nhwc {nhwcIn}/{nhwcOut}";
                    var y = new byte[want.Length + 9];
                    Array.Fill(y, (byte)0xAB);
                    var scratch = new short[QConv.DepthwiseScratch(kh, kw, oh, ow, stride, stride, dil, dil)];
                    Array.Fill(scratch, (short)0x5A5A);
                    QConv.Depthwise2D(xs, packed, bias, mult, sh, y.AsSpan(0, want.Length), scratch, batch, c, h, w, kh, kw, oh, ow, stride, stride, pad, pad, dil, dil, signed, zx, zy, lo, hi,
                        nhwcIn, nhwcOut);
                    Compare($"Depthwise2D {what}", y);
                    if (width == 128) continue;
                    // the blocked kernel itself, whatever shapes the dispatch gives it
                    Array.Fill(y, (byte)0xAB);
                    bool ran = Run(xs, packed, bias, mult, sh, y, batch, c, h, w, kh, kw, oh, ow, stride, dil, pad, signed, zx, zy, lo, hi, nhwcIn, nhwcOut);
                    Assert.Equal(System.Runtime.Intrinsics.X86.Avx2.IsSupported && width != 0 && c >= 8, ran);
                    if (ran) Compare($"QDepthwise {what}", y);
                }
            }
        }
        finally { SimdLevel.ForceBits = -1; }
    }

    static unsafe bool Run(byte[] x, sbyte[] w, int[] bias, int[] mult, int[] sh, byte[] y, int batch, int c, int h, int wd, int kh, int kw, int oh, int ow,
        int stride, int dil, int pad, bool signed, int zx, int zy, int lo, int hi, bool nhwcIn, bool nhwcOut)
    {
        fixed (byte* px = x, py = y) fixed (sbyte* pw = w) fixed (int* pb = bias, pm = mult, ps = sh)
            return QDepthwise.TryRun(px, pw, pb, pm, ps, py, batch, c, h, wd, kh, kw, oh, ow, stride, stride, pad, pad, dil, dil, signed, zx, zy, lo, hi, nhwcIn, nhwcOut);
    }
}
