using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Runtime;

/// <summary>
/// The int8 depthwise convolution with either side channels last ([batch, H, W, channels], an int8 chain's layout),
/// where <see cref="QDepthwise"/> does not run (no AVX2, fewer than 8 channels, a band that does not fit): position by
/// position, channel by channel, over the taps inside the input, with <see cref="Requantize.Clamped(int, int, int, int, int, int)"/>. Each side's
/// element (c, p) is at c * channel stride + p * position stride, so NCHW and channels last take the same loops.
/// Channels-last input takes four channels per vector (the path ARM64 takes inside an int8 chain). Bit-exact with
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
        // channels-last input: four channels per vector, each tap's four bytes one load (the weights widened per tap
        // on the stack); the last group of four shifted back to overlap the one before (the same values written twice)
        bool lanes = nhwcIn && channels >= 4 && (long)kH * kW * channels <= TableInts && Vector128.IsHardwareAccelerated && SimdLevel.Bits >= 128;
        int* wt = stackalloc int[lanes ? TableInts : 1];
        if (lanes)
            for (int i = 0; i < kH; i++)
                for (int j = 0; j < kW; j++)
                    for (int c = 0; c < channels; c++) wt[(i * kW + j) * channels + c] = Weight(w, kW, channels, i, j, c);
        var zero = Vector128.Create(xZero);
        for (int nb = 0; nb < batch; nb++)
        {
            byte* xb = x + nb * channels * inPlane, yb = y + nb * channels * outPlane;
            for (int oy = 0; oy < outH; oy++)
                for (int ox = 0; ox < outW; ox++)
                {
                    // the taps inside the input: a rectangle of rows i0..i1 and columns j0..j1
                    int by = oy * sh - pt, bx = ox * sw - pl;
                    var (i0, i1) = Inside(by, dh, kH, inH);
                    var (j0, j1) = Inside(bx, dw, kW, inW);
                    long q = (long)oy * outW + ox;
                    if (lanes)
                        for (int c0 = 0; ; c0 += 4)
                        {
                            if (c0 > channels - 4) c0 = channels - 4;
                            var acc = Vector128.Load(bias + c0);
                            for (int i = i0; i < i1; i++)
                                for (int j = j0; j < j1; j++)
                                {
                                    var b = Vector128.CreateScalarUnsafe(*(int*)(xb + ((long)(by + i * dh) * inW + bx + j * dw) * channels + c0)).AsByte();
                                    var v = signed ? Vector128.WidenLower(Vector128.WidenLower(b.AsSByte())) : Vector128.WidenLower(Vector128.WidenLower(b)).AsInt32();
                                    acc += (v - zero) * Vector128.Load(wt + (i * kW + j) * channels + c0);
                                }
                            byte* yq = yb + q * yp + c0 * yc;
                            for (int l = 0; l < 4; l++) yq[l * yc] = (byte)Requantize.Clamped(acc.GetElement(l), mult[c0 + l], shift[c0 + l], yZero, qmin, qmax);
                            if (c0 == channels - 4) break;
                        }
                    else
                        for (int c = 0; c < channels; c++)
                        {
                            int acc = bias[c];
                            for (int i = i0; i < i1; i++)
                                for (int j = j0; j < j1; j++)
                                {
                                    byte v = xb[c * xc + ((long)(by + i * dh) * inW + bx + j * dw) * xp];
                                    acc += ((signed ? (sbyte)v : v) - xZero) * Weight(w, kW, channels, i, j, c);
                                }
                            yb[c * yc + q * yp] = (byte)Requantize.Clamped(acc, mult[c], shift[c], yZero, qmin, qmax);
                        }
                }
        }
    }

    /// <summary>The widened weights' room on the stack (32 KB): kH x kW x channels ints.</summary>
    const int TableInts = 8192;

    /// <summary>Tap (i, j) of channel c in the packed layout: per pair of kernel rows, per column, per channel, the pair.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int Weight(sbyte* w, int kW, int channels, int i, int j, int c) => w[(((long)(i >> 1) * kW + j) * channels + c) * 2 + (i & 1)];

    /// <summary>The taps t in [lo, hi) of a window starting at b (dilation d, k taps) that fall inside 0..n-1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (int, int) Inside(int b, int d, int k, int n)
    {
        int lo = b >= 0 ? 0 : (-b + d - 1) / d;
        int hi = b > n - 1 ? 0 : Math.Min(k, (n - 1 - b) / d + 1);
        return (lo, Math.Max(lo, hi));
    }
}
