using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Runtime;

/// <summary>
/// int8 convolutions (one group) of small output planes as a 1x1 convolution over their im2col rows: each output
/// position's receptive field, kernel row by kernel row, tap by tap, all input channels of a tap side by side (the
/// zero point where a tap falls in the padding), is one channels-last row of kH x kW x inC bytes, and
/// <see cref="QPointwise"/> runs the product with the output channels in the vector lanes. <see cref="QConv.Conv2D"/>
/// puts the positions in the lanes over a padded plane: a 2 x 2 output of a 3 x 3 kernel computes 8 positions for 4
/// and fills a quarter of a 512-bit vector, where here 384 output channels fill every lane. Weights as
/// <see cref="QPointwise"/> takes them, the reduction in this row order (ModelGen.Compiler's QConvInt8.PackRows).
/// Bit-exact with ModelGen.Compiler.Quant.FixedPoint (the same sums, QPointwise's requantization).
/// </summary>
public static unsafe class QConvRows
{
    /// <summary>A row's bytes: kH x kW x inC rounded up to 4 (the rest the zero point, where the weights are 0), so that QPointwise takes the rows in one run.</summary>
    public static int RowBytes(int inC, int kH, int kW) => checked((kH * kW * inC + 3) & ~3);

    /// <summary>
    /// int16 elements of scratch <see cref="Run"/> needs: QPointwise's (its pair plane, rows x RowBytes int16), the rows
    /// themselves as bytes in that plane's upper half (widened in place, front to back), the input channels last below
    /// them (read only before the widening starts), and room to align.
    /// </summary>
    public static int Scratch(int inC, int inH, int inW, int kH, int kW, int outH, int outW)
    {
        long rows = (long)outH * outW * RowBytes(inC, kH, kW), below = Math.Max(rows, (long)inC * inH * inW);
        return checked((int)((below + rows + 1) / 2 + 32));
    }

    /// <summary>
    /// x [batch, inC, inH, inW] bytes (int8 when <paramref name="xSigned"/>, else uint8); w: QPointwise's layout over
    /// the rows' <see cref="RowBytes"/> (kH x kW x inC, then 0); bias, multiplier, shift [outC]; y [batch, outC, outH,
    /// outW] bytes clamped to [qmin, qmax]. Allocation-free.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(ReadOnlySpan<byte> x, ReadOnlySpan<sbyte> w, ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> shift,
        Span<byte> y, Span<short> scratch,
        int batch, int inC, int inH, int inW, int outC, int kH, int kW, int outH, int outW,
        int strideH, int strideW, int padTop, int padLeft, int dilH, int dilW,
        bool xSigned, int xZero, int yZero, int qmin, int qmax)
    {
        QConv.Check(batch, inC, inH, inW, outC, kH, kW, outH, outW, strideH, strideW, padTop, padLeft, dilH, dilW, 1);
        int plane = outH * outW, inPlane = inH * inW, k = RowBytes(inC, kH, kW);
        if (x.Length < (long)batch * inC * inPlane || y.Length < (long)batch * outC * plane || scratch.Length < Scratch(inC, inH, inW, kH, kW, outH, outW))
            throw new ArgumentException("QConvRows.Run: sizes do not agree");
        if (batch == 0 || plane == 0) return;
        // the rows as uint8 (int8 ^ 0x80, the zero point with them): the dot-product tiles of x64 then read them where
        // they are, and the pair tiles subtract the moved zero point
        byte flip = xSigned ? (byte)0x80 : (byte)0;
        int zero = xSigned ? xZero + 128 : xZero;
        fixed (byte* px = x) fixed (short* ps = scratch)
        {
            // QPointwise aligns its pair plane to 64 bytes from the scratch's start: the same place here
            byte* pairs = QConv.Aligned(ps);
            long rowBytes = (long)plane * k;
            byte* last = pairs, rows = pairs + Math.Max(rowBytes, (long)inC * inPlane);
            var rowSpan = new ReadOnlySpan<byte>(rows, (int)rowBytes);
            for (int nb = 0; nb < batch; nb++)
            {
                ChannelsLast(last, px + (long)nb * inC * inPlane, inC, inPlane, flip);
                Rows(rows, rows + rowBytes, last, last + (long)inC * inPlane, inC, k, inH, inW, kH, kW, outH, outW, strideH, strideW, padTop, padLeft, dilH, dilW, (byte)zero);
                QPointwise.Run(rowSpan, w, bias, multiplier, shift, y.Slice(nb * outC * plane, outC * plane), scratch, 1, k, outC, plane,
                    false, zero, yZero, qmin, qmax, nhwcIn: true);
            }
        }
    }

    /// <summary>dst[p * c + ch] = src[ch * plane + p] ^ flip: the input channels last, so that a tap's channels are one copy.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void ChannelsLast(byte* dst, byte* src, int c, int plane, byte flip)
    {
        for (int ch = 0; ch < c; ch++, src += plane)
        {
            byte* d = dst + ch;
            for (int p = 0; p < plane; p++, d += c) *d = (byte)(src[p] ^ flip);
        }
    }

    /// <summary>
    /// Each output position's row of k bytes: per kernel row, per column, the tap's c channel bytes (the zero point in
    /// the padding), then the zero point up to k. rowsEnd, lastEnd: where the rows and the channels-last input end.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Rows(byte* rows, byte* rowsEnd, byte* last, byte* lastEnd, int c, int k, int inH, int inW, int kH, int kW, int outH, int outW,
        int sh, int sw, int pt, int pl, int dh, int dw, byte zero)
    {
        byte* d = rows;
        var pad = Vector128.Create(zero);
        int body = kH * kW * c, tail = k - body;
        for (int oy = 0; oy < outH; oy++)
            for (int ox = 0; ox < outW; ox++, d += tail)
            {
                int ix0 = ox * sw - pl, ix1 = ix0 + (kW - 1) * dw;
                // taps side by side (dilation 1): a kernel row's taps inside the input are one run of bytes, the
                // padding on either side written after it (a stem of one input channel copied a byte per tap: DS-CNN's
                // 10 x 4, 5,000 copies, 10 us). A run of at most 16 bytes is one vector, its excess overwritten by the
                // pad or the next writes (rows are written front to back), where both buffers have the room.
                int a = Math.Max(ix0, 0), b = Math.Min(ix1 + 1, inW), left = (a - ix0) * c, run = (b - a) * c;
                for (int i = 0; i < kH; i++)
                {
                    int iy = oy * sh - pt + i * dh;
                    if ((uint)iy >= (uint)inH || b <= a) { Fill(d, pad, kW * c); d += kW * c; continue; }
                    if (dw == 1)
                    {
                        byte* s = last + ((long)iy * inW + a) * c;
                        if (run <= 16 && s + 16 <= lastEnd && d + left + 16 <= rowsEnd) Vector128.Load(s).Store(d + left);
                        else Copy(d + left, s, run);
                        if (left > 0) Fill(d, pad, left);
                        if (left + run < kW * c) Fill(d + left + run, pad, kW * c - left - run);
                        d += kW * c;
                        continue;
                    }
                    for (int j = 0; j < kW; j++, d += c)
                    {
                        int ix = ix0 + j * dw;
                        if ((uint)ix < (uint)inW) Copy(d, last + ((long)iy * inW + ix) * c, c);
                        else Fill(d, pad, c);
                    }
                }
                // the zero point up to k, after the runs' excess
                for (int t = 0; t < tail; t++) d[t] = zero;
            }
    }

    /// <summary>
    /// c bytes from s to d, the last vector (or word) overlapping the one before: a tap of 8 channels is one 8-byte move
    /// (a copy of variable length is a Memmove call: 576 of them took a digits CNN's 8 -> 16 layer on 8 x 8 to 2.9 us).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Copy(byte* d, byte* s, int c)
    {
        if (c >= 16)
        {
            int i = 0;
            for (; i + 16 <= c; i += 16) Vector128.Load(s + i).Store(d + i);
            if (i < c) Vector128.Load(s + c - 16).Store(d + c - 16);
        }
        else if (c >= 8) { *(ulong*)d = *(ulong*)s; *(ulong*)(d + c - 8) = *(ulong*)(s + c - 8); }
        else if (c >= 4) { *(uint*)d = *(uint*)s; *(uint*)(d + c - 4) = *(uint*)(s + c - 4); }
        else for (int i = 0; i < c; i++) d[i] = s[i];
    }

    /// <summary>c bytes of the zero point (every byte of pad) at d, as <see cref="Copy"/> writes them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Fill(byte* d, Vector128<byte> pad, int c)
    {
        if (c >= 16)
        {
            int i = 0;
            for (; i + 16 <= c; i += 16) pad.Store(d + i);
            if (i < c) pad.Store(d + c - 16);
        }
        else if (c >= 8) { ulong v = pad.AsUInt64().ToScalar(); *(ulong*)d = v; *(ulong*)(d + c - 8) = v; }
        else if (c >= 4) { uint v = pad.AsUInt32().ToScalar(); *(uint*)d = v; *(uint*)(d + c - 4) = v; }
        else for (int i = 0; i < c; i++) d[i] = pad.ToScalar();
    }
}
