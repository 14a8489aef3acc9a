using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Runtime;

/// <summary>
/// The int8 depthwise convolution with either side channels last ([batch, H, W, channels], an int8 chain's layout),
/// where <see cref="QDepthwise"/> does not run (no AVX2, fewer than 8 channels, a band that does not fit): position by
/// position, channel by channel, over the taps inside the input, with <see cref="Requantize.Clamped(int, int, int, int, int, int)"/>. Each side's
/// element (c, p) is at c * channel stride + p * position stride, so NCHW and channels last take the same loops.
/// Channels-last input takes four channels per vector (<see cref="Lanes"/>). Bit-exact with
/// <see cref="QConv.Depthwise2D"/>'s other paths by construction (the same sums, the same requantization).
/// </summary>
internal static unsafe class QDepthwiseLast
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Run(byte* x, sbyte* w, int* bias, int* mult, int* shift, byte* y,
        int batch, int channels, int inH, int inW, int kH, int kW, int outH, int outW,
        int sh, int sw, int pt, int pl, int dh, int dw, bool signed, int xZero, int yZero, int qmin, int qmax, bool nhwcIn, bool nhwcOut)
    {
        long inPlane = (long)inH * inW, outPlane = (long)outH * outW;
        long xc = nhwcIn ? 1 : inPlane, xp = nhwcIn ? channels : 1, yc = nhwcOut ? 1 : outPlane, yp = nhwcOut ? channels : 1;
        if (nhwcIn && channels >= 4 && (long)kH * kW * channels <= TableInts && Vector128.IsHardwareAccelerated && SimdLevel.Bits >= 128)
        {
            Lanes(x, w, bias, mult, shift, y, batch, channels, inH, inW, kH, kW, outH, outW, sh, sw, pt, pl, dh, dw, signed, xZero, yZero, qmin, qmax, yc, yp);
            return;
        }
        for (int nb = 0; nb < batch; nb++)
        {
            byte* xb = x + nb * channels * inPlane, yb = y + nb * channels * outPlane;
            for (int oy = 0; oy < outH; oy++)
                for (int ox = 0; ox < outW; ox++)
                {
                    long q = (long)oy * outW + ox;
                    for (int c = 0; c < channels; c++)
                    {
                        int acc = bias[c];
                        for (int i = 0; i < kH; i++)
                        {
                            int iy = oy * sh - pt + i * dh;
                            if ((uint)iy >= (uint)inH) continue;
                            for (int j = 0; j < kW; j++)
                            {
                                int ix = ox * sw - pl + j * dw;
                                if ((uint)ix >= (uint)inW) continue;
                                byte v = xb[c * xc + ((long)iy * inW + ix) * xp];
                                // the packed weights: per pair of kernel rows, per column, per channel, the pair
                                acc += ((signed ? (sbyte)v : v) - xZero) * w[(((long)(i >> 1) * kW + j) * channels + c) * 2 + (i & 1)];
                            }
                        }
                        yb[c * yc + q * yp] = (byte)Requantize.Clamped(acc, mult[c], shift[c], yZero, qmin, qmax);
                    }
                }
        }
    }

    /// <summary>The weights widened to int32 per tap and channel, on the stack (32 KB), for <see cref="Lanes"/>.</summary>
    const int TableInts = 8192;

    /// <summary>
    /// Channels-last input: four channels per Vector128 (each tap's four bytes one load, widened, less the zero point,
    /// times the tap's widened weights), the last group of four shifted back to overlap the one before (the same values
    /// written twice); requantized lane by lane. The path ARM64 takes inside an int8 chain.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Lanes(byte* x, sbyte* w, int* bias, int* mult, int* shift, byte* y,
        int batch, int channels, int inH, int inW, int kH, int kW, int outH, int outW,
        int sh, int sw, int pt, int pl, int dh, int dw, bool signed, int xZero, int yZero, int qmin, int qmax, long yc, long yp)
    {
        int* wt = stackalloc int[TableInts];
        for (int i = 0; i < kH; i++)
            for (int j = 0; j < kW; j++)
                for (int c = 0; c < channels; c++)
                    wt[(i * kW + j) * channels + c] = w[(((long)(i >> 1) * kW + j) * channels + c) * 2 + (i & 1)];
        var zero = Vector128.Create(xZero);
        long inPlane = (long)inH * inW, outPlane = (long)outH * outW;
        for (int nb = 0; nb < batch; nb++)
        {
            byte* xb = x + nb * channels * inPlane, yb = y + nb * channels * outPlane;
            for (int oy = 0; oy < outH; oy++)
                for (int ox = 0; ox < outW; ox++)
                {
                    long q = (long)oy * outW + ox;
                    for (int c0 = 0; c0 < channels; c0 += 4)
                    {
                        if (c0 > channels - 4) c0 = channels - 4;
                        var acc = Vector128.Load(bias + c0);
                        for (int i = 0; i < kH; i++)
                        {
                            int iy = oy * sh - pt + i * dh;
                            if ((uint)iy >= (uint)inH) continue;
                            for (int j = 0; j < kW; j++)
                            {
                                int ix = ox * sw - pl + j * dw;
                                if ((uint)ix >= (uint)inW) continue;
                                var b = Vector128.CreateScalarUnsafe(*(int*)(xb + ((long)iy * inW + ix) * channels + c0)).AsByte();
                                var v = signed ? Vector128.WidenLower(Vector128.WidenLower(b.AsSByte())) : Vector128.WidenLower(Vector128.WidenLower(b)).AsInt32();
                                acc += (v - zero) * Vector128.Load(wt + (i * kW + j) * channels + c0);
                            }
                        }
                        byte* yq = yb + q * yp + c0 * yc;
                        for (int l = 0; l < 4; l++) yq[l * yc] = (byte)Requantize.Clamped(acc.GetElement(l), mult[c0 + l], shift[c0 + l], yZero, qmin, qmax);
                        if (c0 == channels - 4) break;
                    }
                }
        }
    }
}
