using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

/// <summary>
/// int8 convolution for generated code (QConvInt8), NCHW: y = requantize(bias + sum (x - xZero) * w), bit-exact with
/// ModelGen.Compiler.Quant.FixedPoint. Activations are widened once per layer into a "pair plane": int16 pairs (two
/// input channels, or for depthwise and one-channel convolutions two kernel rows) with the zero point subtracted and padding as 0, split by stride
/// phase so that every tap of every output position is one contiguous read: output position q = oh * wq + ow (wq: the
/// padded width, columns past outW computed and dropped) reads tap (i, j) at q + a constant offset. No im2col.
/// <see cref="Conv2D"/> (implicit GEMM): tiles of <see cref="BlockRows"/> output channels x 2-3 vectors of positions
/// accumulate in registers (vpmaddwd on int16 pairs, weights broadcast from the build-time packing) and are requantized
/// there (where the accumulators are bounded, <see cref="IQBounded{TV}"/>, by the kernel itself, straight into y when
/// the plane has no padded columns). The weights arrive as compiled in, int8, and are widened to int16 pairs on the stack (at most
/// <see cref="ChunkSteps"/> taps x channel pairs at a time) for the micro-kernel that broadcasts them. 1x1 convolutions
/// of small planes go to <see cref="QPointwise"/> instead (the generator's choice: its own weight layout). Where the CPU
/// has a dot product (<see cref="QDot"/>: sdot on arm64 with FEAT_DotProd, vpdpbusd with AVX-VNNI), Conv2D with more than one input channel per group runs
/// <see cref="QDotConv"/> instead: byte quads of input channels, same weights and scratch.
/// <see cref="Depthwise2D"/>: channels in the lanes (<see cref="QDepthwise"/>) where they fill a vector, else one channel
/// at a time, vectors along the positions, kernel rows paired.
/// </summary>
public static unsafe class QConv
{
    /// <summary>Output channels per block of packed weights (the micro-kernel's rows).</summary>
    public const int BlockRows = 4;

    /// <summary>(tap, channel pair) steps of weights widened at a time: 32 KB of int16 on the stack.</summary>
    const int ChunkSteps = 2048;

    /// <summary>
    /// int16 elements of scratch <see cref="Conv2D"/> needs. The int8 weights it takes are packed per group, per block of
    /// <see cref="BlockRows"/> output channels (rows past the group's end 0), per tap (kh, kw), per input channel pair:
    /// the block's rows as pairs (channel 2c, 2c + 1; 0 past the group's channels):
    /// w[((((g * blocks + b) * kH * kW + tap) * pairs + c2) * BlockRows + r) * 2 + e], pairs = (inC / groups + 1) / 2.
    /// One input channel per group (stems): pairs of kernel rows instead, as <see cref="DepthwiseScratch"/> packs them
    /// (no half of every pair 0): w[(((g * blocks + b) * (kH + 1) / 2 + p) * kW + j) * BlockRows + r) * 2 + e].
    /// </summary>
    public static int Conv2DScratch(int inC, int outC, int kH, int kW, int outH, int outW, int strideH, int strideW, int dilH, int dilW, int groups)
    {
        bool rowPairs = inC == groups;
        var p = new Planes(outH, outW, rowPairs ? (kH + 1) & ~1 : kH, kW, strideH, strideW, dilH, dilW, rowPairs ? 2 : 1);
        // the output rows at the padded width, where there are padded columns (else both kernels write y directly)
        int rows = p.Wq == outW ? 0 : (outC / groups * p.OutStride + 1) / 2;
        int own = checked(2 * ((inC / groups + 1) / 2 * p.Size + p.Slack + Taps(kH, kW, rowPairs)) + rows + Align);
        // a strided 1x1 layer: room to run as a 1x1 one over its subsampled input, the bytes after that run's scratch
        return Strided1x1(kH, kW, strideH, strideW, rowPairs)
            ? Math.Max(own, checked(Conv2DScratch(inC, outC, 1, 1, outH, outW, 1, 1, 1, 1, groups) + (inC * outH * outW + 1) / 2)) : own;
    }

    static bool Strided1x1(int kH, int kW, int strideH, int strideW, bool rowPairs) => kH == 1 && kW == 1 && (strideH > 1 || strideW > 1) && !rowPairs;

    static int Taps(int kH, int kW, bool rowPairs) => rowPairs ? (kH + 1) / 2 * kW : kH * kW;

    /// <summary>
    /// int16 elements of scratch <see cref="Depthwise2D"/> needs. Its weights are packed per pair of kernel rows (2p,
    /// 2p + 1; 0 past kH), per kernel column, per channel, int8: w[((p * kW + j) * c + ch) * 2 + e] (a block of channels'
    /// pairs of one tap are consecutive: one widening load for the kernel with the channels in the lanes).
    /// </summary>
    public static int DepthwiseScratch(int kH, int kW, int outH, int outW, int strideH, int strideW, int dilH, int dilW)
    {
        var p = new Planes(outH, outW, (kH + 1) & ~1, kW, strideH, strideW, dilH, dilW, rows: 2);
        return checked(2 * (p.Size + p.Slack + 2 * ((kH + 1) / 2 * kW)) + (p.OutStride + 1) / 2 + Align + Padded(p, dilH) + Align / 2);
    }

    /// <summary>
    /// x [batch, inC, inH, inW] bytes (int8 when <paramref name="xSigned"/>, else uint8); w packed as
    /// <see cref="Conv2DScratch"/> says; bias, multiplier, shift [outC]; y [batch, outC, outH, outW] bytes clamped to
    /// [qmin, qmax]. Allocation-free.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Conv2D(ReadOnlySpan<byte> x, ReadOnlySpan<sbyte> w, ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> shift,
        Span<byte> y, Span<short> scratch,
        int batch, int inC, int inH, int inW, int outC, int kH, int kW, int outH, int outW,
        int strideH, int strideW, int padTop, int padLeft, int dilH, int dilW, int groups,
        bool xSigned, int xZero, int yZero, int qmin, int qmax)
    {
        Check(batch, inC, inH, inW, outC, kH, kW, outH, outW, strideH, strideW, padTop, padLeft, dilH, dilW, groups);
        int icg = inC / groups, ocg = outC / groups, pairs = (icg + 1) / 2, blocks = (ocg + BlockRows - 1) / BlockRows, plane = outH * outW;
        bool rowPairs = icg == 1;
        int taps = Taps(kH, kW, rowPairs);
        if (x.Length < (long)batch * inC * inH * inW || w.Length < (long)groups * blocks * taps * pairs * BlockRows * 2 || y.Length < (long)batch * outC * plane
            || bias.Length < outC || multiplier.Length < outC || shift.Length < outC
            || scratch.Length < Conv2DScratch(inC, outC, kH, kW, outH, outW, strideH, strideW, dilH, dilW, groups))
            throw new ArgumentException("QConv.Conv2D: sizes do not agree");
        CheckMultipliers(multiplier, outC);
        if (batch == 0 || plane == 0) return;
        if (Strided1x1(kH, kW, strideH, strideW, rowPairs) && padTop == 0 && padLeft == 0 && (outH - 1) * strideH < inH && (outW - 1) * strideW < inW)
        {
            // a strided 1x1 layer without padding (ResNet's downsampling shortcuts) reads one input position in
            // stride x stride: those positions copied out, it is a 1x1 layer on them (the strided planes built every
            // phase of the input, 3x the time of the 1x1 layer)
            int pointwiseScratch = Conv2DScratch(inC, outC, 1, 1, outH, outW, 1, 1, 1, 1, groups);
            var sub = MemoryMarshal.AsBytes(scratch.Slice(pointwiseScratch)).Slice(0, inC * plane);
            for (int nb = 0; nb < batch; nb++)
            {
                fixed (byte* px = x, ps = sub) Subsample(px + (long)nb * inC * inH * inW, ps, inC, inH, inW, outH, outW, strideH, strideW);
                Conv2D(sub, w, bias, multiplier, shift, y.Slice(nb * outC * plane, outC * plane), scratch.Slice(0, pointwiseScratch), 1, inC, outH, outW, outC, 1, 1,
                    outH, outW, 1, 1, 0, 0, 1, 1, groups, xSigned, xZero, yZero, qmin, qmax);
            }
            return;
        }
        var g = new Planes(outH, outW, rowPairs ? (kH + 1) & ~1 : kH, kW, strideH, strideW, dilH, dilW, rowPairs ? 2 : 1);
        // 1x1, stride 1, no padding: the pair plane is two channel planes interleaved, nothing to pad or split
        bool pointwise = kH == 1 && kW == 1 && strideH == 1 && strideW == 1 && padTop == 0 && padLeft == 0 && outH == inH && outW == inW && !rowPairs;
        // few positions (the deep layers' 3x3 and 6x6 planes): tiles of one 512-bit vector up to 16 (a 128-bit tile of
        // 12 for 9 positions took three instructions where this takes one, of twice the cost on double-pumped AVX-512),
        // else narrower vectors, the same instructions per tile with less of each past the positions
        int bits = SimdLevel.Bits, positions = outH * g.Wq;
        bool one = bits == 512 && positions <= 16;
        if (bits > 128 && !one && positions <= (Avx512F.IsSupported ? 12 : 8)) bits = 128;
        else if (bits > 256 && !one && positions <= 24) bits = 256;
        fixed (byte* px = x, py = y) fixed (sbyte* pw = w) fixed (short* ps = scratch) fixed (int* pb = bias, pm = multiplier, psh = shift)
        {
            // a dot product where the CPU has one; for one input channel (a stem) quads of kernel rows instead of
            // channels, one group of 16 or more output channels (256 bits: DS-CNN's 10x4 stem 1.4x, a 1 -> 32 3x3 1.6x,
            // but 8 channels 0.87x; 512 bits: 1.0-1.1x)
            long steps = rowPairs ? (long)(kH + 3) / 4 * kW : (long)(icg + 3) / 4 * kH * kW;
            int dot = rowPairs && (groups > 1 || ocg < 16) || steps > QDotConv.MaxSteps ? 0 : QDot.Path;
            // vpdpbusd at 256 bits against the pair kernels at 512 (ModelGen.PlatformCheck --layers, Sapphire Rapids:
            // 3x3 1.2-1.5x, 1x1 of 32-64 channels 1.2x) except for a one-step reduction, fewer than 16 output channels
            // (MobileNet's 3 -> 8 stem: 0.88x) and a single tile of positions, where the 512-bit pair kernel's one-vector
            // tile is as fast. Two or three steps go to the dot product too (experiment qconv, Zen 5: an 8 -> 48 1x1 on
            // 48x48, its rows straight to y, 17.2 -> 13.4 us; openWakeWord's 1 -> 24 3x3 stem, four kernel rows per step
            // against the pairs' two, 16.5 -> 12.6)
            if (dot == QDot.Vnni && SimdLevel.Bits == 512 && (steps < 2 || ocg < 16 || one)) dot = 0;
            if (dot != 0)
            {
                QDotConv.Run(dot, px, pw, pb, pm, psh, py, ps, g, batch, inC, inH, inW, outC, kH, kW, outH, outW, padTop, padLeft, groups, xSigned, xZero, yZero, qmin, qmax);
                return;
            }
            int* pairPlane = (int*)Aligned(ps), offsets = pairPlane + pairs * g.Size + g.Slack;
            for (int i = 0, o = 0; i < (rowPairs ? (kH + 1) / 2 : kH); i++) for (int j = 0; j < kW; j++) offsets[o++] = g.Offset(rowPairs ? 2 * i : i, j);
            var t = new Tile
            {
                X = pairPlane, Offsets = offsets, Taps = taps, Tmp = Aligned(offsets + taps), Bias = pb, Mult = pm, Shift = psh,
                Pairs = pairs, PairStride = g.Size, Blocks = blocks, Rows = ocg, Positions = outH * g.Wq, OutStride = g.OutStride,
                ZY = yZero, Lo = qmin, Hi = qmax, Direct = g.Wq == outW, Bounded = Bounded.Applies(pb, psh, outC, (long)icg * kH * kW),
            };
            t.Saturated = t.Bounded && qmin == -128 && qmax == 127 && Bounded.FoldsZero(psh, outC, yZero);
            // no padded columns (Wq = outW): the rows go straight to y, plane apart
            if (t.Direct) { t.OutStride = plane; t.End = py + (long)batch * outC * plane; }
            for (int nb = 0; nb < batch; nb++)
                for (int gr = 0; gr < groups; gr++)
                {
                    byte* xg = px + ((long)nb * inC + (long)gr * icg) * inH * inW;
                    long chan = (long)inH * inW;
                    if (rowPairs) BuildPlane(pairPlane, g, xg, xg, dilH, inH, inW, padTop, padLeft, xSigned, xZero, px + x.Length);
                    else if (pointwise)
                        for (int c2 = 0; c2 < pairs; c2++)
                            PairPlane(pairPlane + (long)c2 * g.Size, xg + 2 * c2 * chan, 2 * c2 + 1 < icg ? xg + (2 * c2 + 1) * chan : null, plane, xSigned, xZero);
                    else
                        for (int c2 = 0; c2 < pairs; c2++)
                            BuildPlane(pairPlane + (long)c2 * g.Size, g, xg + 2 * c2 * chan, 2 * c2 + 1 < icg ? xg + (2 * c2 + 1) * chan : null, 0,
                                inH, inW, padTop, padLeft, xSigned, xZero, px + x.Length);
                    new Span<int>(pairPlane + (long)pairs * g.Size, g.Slack).Clear();
                    t.W = pw + (long)gr * blocks * taps * pairs * BlockRows * 2;
                    t.Row0 = gr * ocg;
                    byte* yg = py + ((long)nb * outC + gr * ocg) * plane;
                    if (t.Direct) t.Tmp = yg;
                    switch (bits)
                    {
                        case 512 when Avx512BW.IsSupported:
                            // tiles of 2 vectors where they compute fewer positions past the last (125: 128, not 144)
                            if (one) Gemm<Vector512<int>, Q512, R1>(t);
                            else if ((positions + 31) / 32 * 32 < (positions + 47) / 48 * 48) Gemm<Vector512<int>, Q512, R2>(t); else Gemm<Vector512<int>, Q512, R3>(t);
                            break;
                        case 512 or 256 when Avx2.IsSupported:
                            if (Avx512F.IsSupported) Gemm<Vector256<int>, Q256, R3>(t); else Gemm<Vector256<int>, Q256, R2>(t); // 32 registers: 3 columns
                            break;
                        case 0: Gemm<int, Q1, R2>(t); break;
                        default:
                            if (Avx512F.IsSupported) Gemm<Vector128<int>, Q128, R3>(t); else Gemm<Vector128<int>, Q128, R2>(t);
                            break;
                    }
                    if (!t.Direct) Compact(yg, t.Tmp, ocg, outH, outW, g.Wq, g.OutStride);
                }
        }
    }

    /// <summary>
    /// Depthwise convolution (groups = inC = outC): x [batch, c, inH, inW] bytes; w packed as
    /// <see cref="DepthwiseScratch"/> says; bias, multiplier, shift [c]; y [batch, c, outH, outW]. nhwcIn / nhwcOut: x
    /// [batch, inH, inW, c] / y [batch, outH, outW, c] instead (channels last, an int8 chain's layout). Allocation-free.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Depthwise2D(ReadOnlySpan<byte> x, ReadOnlySpan<sbyte> w, ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> shift,
        Span<byte> y, Span<short> scratch,
        int batch, int channels, int inH, int inW, int kH, int kW, int outH, int outW,
        int strideH, int strideW, int padTop, int padLeft, int dilH, int dilW,
        bool xSigned, int xZero, int yZero, int qmin, int qmax, bool nhwcIn = false, bool nhwcOut = false)
    {
        Check(batch, channels, inH, inW, channels, kH, kW, outH, outW, strideH, strideW, padTop, padLeft, dilH, dilW, channels);
        int rowPairs = (kH + 1) / 2, plane = outH * outW;
        if (x.Length < (long)batch * channels * inH * inW || w.Length < (long)channels * rowPairs * kW * 2 || y.Length < (long)batch * channels * plane
            || bias.Length < channels || multiplier.Length < channels || shift.Length < channels
            || scratch.Length < DepthwiseScratch(kH, kW, outH, outW, strideH, strideW, dilH, dilW))
            throw new ArgumentException("QConv.Depthwise2D: sizes do not agree");
        CheckMultipliers(multiplier, channels);
        if (batch == 0 || plane == 0) return;
        var g = new Planes(outH, outW, 2 * rowPairs, kW, strideH, strideW, dilH, dilW, rows: 2);
        fixed (byte* px = x, py = y) fixed (sbyte* pw = w) fixed (short* ps = scratch) fixed (int* pb = bias, pm = multiplier, psh = shift)
        {
            if (nhwcIn || nhwcOut)
            {
                // channels last on either side: the channel-lanes kernel copies and stores each position's bytes whole
                if (!QDepthwise.TryRun(px, pw, pb, pm, psh, py, batch, channels, inH, inW, kH, kW, outH, outW, strideH, strideW, padTop, padLeft,
                    dilH, dilW, xSigned, xZero, yZero, qmin, qmax, nhwcIn, nhwcOut))
                    QDepthwiseLast.Run(px, pw, pb, pm, psh, py, batch, channels, inH, inW, kH, kW, outH, outW, strideH, strideW, padTop, padLeft,
                        dilH, dilW, xSigned, xZero, yZero, qmin, qmax, nhwcIn, nhwcOut);
                return;
            }
            // channels in the lanes (QDepthwise) wherever they fill the vector: 1.3-9x faster than a channel at a time on
            // MobileNet's and DS-CNN's shapes (experiment qdw, Zen 4: 64x25x5 6.2 vs 13.0 us, 128x6x6 s2 1.9 vs 18.4,
            // 32x24x24 11.0 vs 14.1); fewer than 16 channels under 512-bit vectors on a large plane, where a channel at a
            // time has twice the lanes, stays here (8x48x48: 12.6 us either way; 12.7 vs 14.2 at 256 bits)
            bool perChannel = channels < 16 && SimdLevel.Bits >= 512 && plane >= 1024;
            if (!perChannel && QDepthwise.TryRun(px, pw, pb, pm, psh, py, batch, channels, inH, inW, kH, kW, outH, outW, strideH, strideW, padTop, padLeft,
                dilH, dilW, xSigned, xZero, yZero, qmin, qmax)) return;
            int taps = rowPairs * kW;
            int* pairPlane = (int*)Aligned(ps), offsets = pairPlane + g.Size + g.Slack, wPairs = offsets + taps;
            for (int i = 0, o = 0; i < rowPairs; i++) for (int j = 0; j < kW; j++) offsets[o++] = g.Offset(2 * i, j);
            byte* tmp = Aligned(wPairs + taps);
            short* padded = (short*)Aligned(tmp + g.OutStride);
            new Span<int>(pairPlane + g.Size, g.Slack).Clear();
            var d = new Dw { X = pairPlane, Offsets = offsets, W = wPairs, Tmp = tmp, Positions = outH * g.Wq, RowPairs = rowPairs, KW = kW, ZY = yZero, Lo = qmin, Hi = qmax };
            long chan = (long)inH * inW;
            int bits = SimdLevel.Bits;
            for (int nb = 0; nb < batch; nb++)
                for (int c = 0; c < channels; c++)
                {
                    byte* xc = px + ((long)nb * channels + c) * chan;
                    if (strideH == 1 && strideW == 1 && padLeft + inW <= g.Wq && (Sse2.IsSupported || AdvSimd.Arm64.IsSupported))
                    {
                        // the pairs are (row, row + dilH) of one padded plane: stage it once, then one run of zips
                        // (pairing row by row cost a few vector operations per row, each input row twice)
                        BuildPadded(padded, xc, inH, inW, padTop, padLeft, g.Rq + dilH, g.Wq, xSigned, xZero, px + x.Length);
                        ZipRun(pairPlane, padded, padded + dilH * g.Wq, g.Size);
                    }
                    else BuildPlane(pairPlane, g, xc, xc, dilH, inH, inW, padTop, padLeft, xSigned, xZero, px + x.Length);
                    // the channel's weights as the int16 pairs its taps broadcast
                    for (int t = 0; t < taps; t++) wPairs[t] = Pair(pw[((long)t * channels + c) * 2], pw[((long)t * channels + c) * 2 + 1]);
                    d.Bias = pb[c]; d.Mult = pm[c]; d.Shift = psh[c];
                    switch (bits)
                    {
                        case 512 when Avx512BW.IsSupported: Depthwise<Vector512<int>, Q512>(d); break;
                        case 512 or 256 when Avx2.IsSupported: Depthwise<Vector256<int>, Q256>(d); break;
                        case 0: Depthwise<int, Q1>(d); break;
                        default: Depthwise<Vector128<int>, Q128>(d); break;
                    }
                    Compact(py + ((long)nb * channels + c) * plane, tmp, 1, outH, outW, g.Wq, g.OutStride);
                }
        }
    }

    /// <summary>int16 elements of the padded plane of one channel (stride 1 depthwise), with room for a vector written past its end.</summary>
    static int Padded(in Planes g, int dilH) => checked((g.Rq + dilH + 1) * g.Wq + 16);

    /// <summary>
    /// int16 elements of scratch for aligning the pair plane and the output rows to 64 bytes (the arena's placement
    /// is arbitrary; vector loads and stores across cache lines cost several percent).
    /// </summary>
    const int Align = 64;

    internal static byte* Aligned(void* p) => (byte*)(((nint)p + 63) & ~(nint)63);

    /// <summary>
    /// Each of c planes' positions (oy * sH, ox * sW) into planes of outH x outW. Stride 2 along the row: the even bytes
    /// of 32 (or 16) at a time, by a narrowing of 16-bit lanes, where the loads stay inside the row (a byte loop took
    /// longer than the 1x1 layer after it).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Subsample(byte* x, byte* d, int c, int inH, int inW, int outH, int outW, int sH, int sW)
    {
        bool simd = sW == 2 && Vector128.IsHardwareAccelerated && SimdLevel.Bits >= 128;
        for (int ch = 0; ch < c; ch++, x += (long)inH * inW)
            for (int oy = 0; oy < outH; oy++, d += outW)
            {
                byte* r = x + (long)oy * sH * inW;
                int ox = 0;
                if (sW == 1) { new ReadOnlySpan<byte>(r, outW).CopyTo(new Span<byte>(d, outW)); continue; }
                if (simd)
                {
                    for (; ox + 16 <= outW && 2 * ox + 32 <= inW; ox += 16)
                        Vector128.Narrow(Vector128.Load(r + 2 * ox).AsUInt16(), Vector128.Load(r + 2 * ox + 16).AsUInt16()).Store(d + ox);
                    if (ox + 8 <= outW && 2 * ox + 16 <= inW)
                    {
                        *(ulong*)(d + ox) = Vector128.Narrow(Vector128.Load(r + 2 * ox).AsUInt16(), Vector128<ushort>.Zero).AsUInt64().ToScalar();
                        ox += 8;
                    }
                }
                for (; ox < outW; ox++) d[ox] = r[ox * sW];
            }
    }

    internal static void Check(int batch, int inC, int inH, int inW, int outC, int kH, int kW, int outH, int outW,
        int strideH, int strideW, int padTop, int padLeft, int dilH, int dilW, int groups)
    {
        if (batch < 0 || inC <= 0 || inH <= 0 || inW <= 0 || outC <= 0 || kH <= 0 || kW <= 0 || outH < 0 || outW < 0
            || strideH <= 0 || strideW <= 0 || dilH <= 0 || dilW <= 0 || padTop < 0 || padLeft < 0 || groups <= 0
            || inC % groups != 0 || outC % groups != 0)
            throw new ArgumentOutOfRangeException(nameof(groups), "QConv: invalid geometry");
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void CheckMultipliers(ReadOnlySpan<int> multiplier, int n)
    {
        // one vectorized search for a negative value (a call's per-column work is kept short)
        if (multiplier.Slice(0, n).IndexOfAnyInRange(int.MinValue, -1) >= 0)
            throw new ArgumentException("requantization multipliers must be non-negative", nameof(multiplier));
    }

    /// <summary>
    /// The pair plane's geometry. Phase (rp, cp) of the stride holds rows rq * strideH + rp and columns u * strideW + cp
    /// of the padded input, [rq][u] over rq &lt; Rq, u &lt; Wq; tap (i, j) of output position q = oh * Wq + ow is element
    /// q + <see cref="Offset"/>(i, j). Reads of whole vectors past the last position stay inside the slack.
    /// </summary>
    internal readonly struct Planes
    {
        public readonly int Wq, Rq, SH, SW, DH, DW, Phase, Size, Slack, OutStride;

        /// <summary>rows: kernel rows per element (1; 2: pairs, depthwise and stems; 4: quads, stems on a dot product), kH a multiple of it.</summary>
        public Planes(int outH, int outW, int kH, int kW, int sH, int sW, int dH, int dW, int rows = 1)
        {
            SH = sH; SW = sW; DH = dH; DW = dW;
            Wq = outW + (kW - 1) * dW / sW;
            // grouped rows: element (rq, u) also holds the rows dH, 2 dH, ... below, so the last group starts at kernel row kH - rows
            Rq = outH + (kH - rows) * dH / sH;
            Phase = checked(Rq * Wq);
            Size = checked(sH * sW * Phase);
            Slack = Wq + 64; // a tile's last vectors: at most 48 positions past outH * Wq, plus a row of tap offset
            OutStride = checked(outH * Wq + 64);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int Offset(int i, int j)
        {
            int r = i * DH, c = j * DW;
            return (r % SH * SW + c % SW) * Phase + r / SH * Wq + c / SW;
        }
    }

    /// <summary>
    /// Fills one pair plane: element (phase, rq, u) = (a[row, col] - zero, b[row + bRows, col] - zero) at the padded
    /// input position (row, col) of that element, 0 outside the input; b null: the high halves are 0. end: the end of
    /// x (stride 2 reads a byte past a row where x goes on).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void BuildPlane(int* dst, in Planes g, byte* a, byte* b, int bRows, int inH, int inW, int padTop, int padLeft, bool signed, int zero, byte* end)
    {
        int whole0 = 0, whole1 = 0;
        if (g.SH == 1 && g.SW == 1 && padLeft == 0 && g.Wq == inW)
        {
            // unpadded rows of the same width follow each other in x as in the plane: the rows where both halves are
            // in the input make one run
            whole0 = Math.Max(padTop, padTop - bRows); whole1 = Math.Min(g.Rq, Math.Min(inH + padTop, inH + padTop - bRows));
            if (whole1 > whole0)
                PairRow(dst + (long)whole0 * g.Wq, a + (long)(whole0 - padTop) * inW, b == null ? null : b + (long)(whole0 - padTop + bRows) * inW,
                    (whole1 - whole0) * inW, signed, zero);
            else whole0 = whole1 = 0;
        }
        for (int rp = 0; rp < g.SH; rp++)
            for (int cp = 0; cp < g.SW; cp++)
            {
                int* ph = dst + (rp * g.SW + cp) * g.Phase;
                // columns u with 0 <= u * SW + cp - padLeft < inW (per phase: divisions per row cost more than short rows)
                int c0 = cp - padLeft, lo = c0 >= 0 ? 0 : Math.Min(g.Wq, (-c0 + g.SW - 1) / g.SW);
                int hi = Math.Clamp((inW - c0 + g.SW - 1) / g.SW, lo, g.Wq), first = lo * g.SW + c0;
                for (int rq = 0; rq < g.Rq; rq++)
                {
                    if (rq == whole0 && whole1 > whole0) { rq = whole1 - 1; continue; }
                    int ra = rq * g.SH + rp - padTop, rb = ra + bRows;
                    byte* rowA = (uint)ra < (uint)inH ? a + (long)ra * inW : null;
                    byte* rowB = b != null && (uint)rb < (uint)inH ? b + (long)rb * inW : null;
                    int* d = ph + (long)rq * g.Wq;
                    if (rowA == null && rowB == null) { new Span<int>(d, g.Wq).Clear(); continue; }
                    byte* fa = rowA == null ? null : rowA + first, fb = rowB == null ? null : rowB + first;
                    if (g.SW == 1) PairRow(d + lo, fa, fb, hi - lo, signed, zero);
                    else if (g.SW == 2) PairRowEven(d + lo, fa, fb, hi - lo, signed, zero, end);
                    else
                        for (int u = lo; u < hi; u++)
                        {
                            int col = (u - lo) * g.SW;
                            d[u] = Pair(fa == null ? 0 : Value(fa[col], signed) - zero, fb == null ? 0 : Value(fb[col], signed) - zero);
                        }
                    // the padding after the values (stride 2 writes whole vectors past them): a column or two, not worth a call
                    for (int u = 0; u < lo; u++) d[u] = 0;
                    for (int u = hi; u < g.Wq; u++) d[u] = 0;
                }
            }
    }

    /// <summary>
    /// dst[r, u] (rows x width, stride 1) = x[r - padTop, u - padLeft] - zero, 0 outside x. Rows ascending, each stored
    /// as whole vectors of 8 that may run past its end, its gap (right padding, the next row's left padding) as a
    /// vector of zeros after it: each later store repairs what an earlier one overran (dst has a row and 16 elements to
    /// spare for the last ones).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void BuildPadded(short* dst, byte* x, int inH, int inW, int padTop, int padLeft, int rows, int width, bool signed, int zero, byte* end)
    {
        int first = Math.Min(padTop, rows), last = Math.Min(inH + padTop, rows), gap = width - inW;
        Zeros(dst, first * width + (first < last ? padLeft : 0));
        var z = Vector128.Create((short)zero);
        for (int r = first; r < last; r++)
        {
            byte* src = x + (long)(r - padTop) * inW;
            short* d = dst + (long)r * width + padLeft;
            int i = 0;
            for (; i < inW && src + i + 8 <= end; i += 8)
                Widen(Vector128.CreateScalarUnsafe(*(ulong*)(src + i)).AsByte(), signed, z).Item1.Store(d + i);
            for (; i < inW; i++) d[i] = (short)(Value(src[i], signed) - zero); // the last bytes of x
            for (int j = 0; j < gap; j += 8) Vector128<short>.Zero.Store(d + inW + j);
        }
        if (last > first) Zeros(dst + (long)last * width + padLeft, (rows - last) * width - padLeft);
        else Zeros(dst + (long)first * width, (rows - first) * width);
    }

    /// <summary>n zeros (none for n &lt;= 0) as whole vectors: up to 7 past n (a few rows of padding: a memset call cost more).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Zeros(short* d, int n)
    {
        for (int i = 0; i < n; i += 8) Vector128<short>.Zero.Store(d + i);
    }

    /// <summary>dst[k] = (a[k], b[k]) as int16 pairs for n elements (n at least 8: the last vector overlaps).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void ZipRun(int* dst, short* a, short* b, int n)
    {
        if (n < 8) { for (int k = 0; k < n; k++) dst[k] = Pair(a[k], b[k]); return; }
        for (int k = 0; ; k += 8)
        {
            if (k > n - 8) k = n - 8;
            Zip(Vector128.Load(a + k), Vector128.Load(b + k), dst + k);
            if (k == n - 8) return;
        }
    }

    /// <summary>
    /// dst[i] = (a[i] - zero, b[i] - zero) for a whole plane of n positions (b null: 0): PairRow, with 32 positions per
    /// step on AVX-512 (two word permutes interleave them in order; the last step overlaps the one before).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PairPlane(int* dst, byte* a, byte* b, int n, bool signed, int zero)
    {
        if (!Avx512BW.IsSupported || n < 32 || SimdLevel.Bits < 512) { PairRow(dst, a, b, n, signed, zero); return; }
        var z = Vector512.Create((short)zero);
        for (int i = 0; ; i += 32)
        {
            if (i > n - 32) i = n - 32;
            Zip32(a == null ? Vector512<short>.Zero : Wide(Vector256.Load(a + i), signed) - z, b == null ? Vector512<short>.Zero : Wide(Vector256.Load(b + i), signed) - z, dst + i);
            if (i == n - 32) return;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<short> Wide(Vector256<byte> v, bool signed)
        => signed ? Avx512BW.ConvertToVector512Int16(v.AsSByte()) : Avx512BW.ConvertToVector512Int16(v).AsInt16();

    [MethodImpl(MethodImplOptions.AggressiveInlining)] static int Value(byte v, bool signed) => signed ? (sbyte)v : v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] static int Pair(int lo, int hi) => (ushort)lo | hi << 16;

    /// <summary>
    /// dst[i] = (a[i] - zero, b[i] - zero) as int16 pairs for n columns; a or b null: that half 0. Inlined: the rows of
    /// small planes are a few columns, a call per row cost more than the row. A row that is not a whole number of
    /// vectors ends with one that overlaps the one before (same values written twice; nothing read or written
    /// outside the n columns).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void PairRow(int* dst, byte* a, byte* b, int n, bool signed, int zero)
    {
        if ((Sse2.IsSupported || AdvSimd.Arm64.IsSupported) && n >= 4)
        {
            var z = Vector128.Create((short)zero);
            if (n >= 16)
            {
                for (int i = 0; ; i += 16)
                {
                    if (i > n - 16) i = n - 16;
                    var (al, ah) = a == null ? (Vector128<short>.Zero, Vector128<short>.Zero) : Widen(Vector128.Load(a + i), signed, z);
                    var (bl, bh) = b == null ? (Vector128<short>.Zero, Vector128<short>.Zero) : Widen(Vector128.Load(b + i), signed, z);
                    Zip(al, bl, dst + i); Zip(ah, bh, dst + i + 8);
                    if (i == n - 16) return;
                }
            }
            if (n >= 8)
            {
                PairRow8(dst, a, b, 0, signed, z);
                PairRow8(dst, a, b, n - 8, signed, z);
                return;
            }
            PairRow4(dst, a, b, 0, signed, z);
            PairRow4(dst, a, b, n - 4, signed, z);
            return;
        }
        for (int i = 0; i < n; i++) dst[i] = Pair(a == null ? 0 : Value(a[i], signed) - zero, b == null ? 0 : Value(b[i], signed) - zero);
    }

    /// <summary>
    /// Stride 2: dst[i] = (a[2i] - zero, b[2i] - zero). 16 bytes give 8 pairs (the even bytes of 8 int16 lanes), written
    /// whole: up to 7 pairs past n, into the plane's elements after this row, which are written after it (rows and
    /// phases in address order; the last row's go to the slack). Reads stay before end, else the rest goes scalar.
    /// AVX-512 first takes 32 pairs from 64 bytes at a time while they lie inside the row (no more written past it).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void PairRowEven(int* dst, byte* a, byte* b, int n, bool signed, int zero, byte* end)
    {
        int i = 0;
        if (Avx512BW.IsSupported && n >= 32)
        {
            var z = Vector512.Create((short)zero);
            for (; i + 32 <= n && (a == null || a + 2 * i + 64 <= end) && (b == null || b + 2 * i + 64 <= end); i += 32)
                Zip32(a == null ? Vector512<short>.Zero : Even(Vector512.Load(a + 2 * i), signed) - z, b == null ? Vector512<short>.Zero : Even(Vector512.Load(b + 2 * i), signed) - z, dst + i);
        }
        if (Sse2.IsSupported || AdvSimd.Arm64.IsSupported)
        {
            var z = Vector128.Create((short)zero);
            for (; i < n && (a == null || a + 2 * i + 16 <= end) && (b == null || b + 2 * i + 16 <= end); i += 8)
                Zip(a == null ? Vector128<short>.Zero : Even(Vector128.Load(a + 2 * i), signed, z), b == null ? Vector128<short>.Zero : Even(Vector128.Load(b + 2 * i), signed, z), dst + i);
        }
        for (; i < n; i++) dst[i] = Pair(a == null ? 0 : Value(a[2 * i], signed) - zero, b == null ? 0 : Value(b[2 * i], signed) - zero);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<short> Even(Vector512<byte> v, bool signed)
        => signed ? Vector512.ShiftRightArithmetic(Vector512.ShiftLeft(v.AsInt16(), 8), 8) : v.AsInt16() & Vector512.Create((short)0xFF);

    /// <summary>dst[k] = (a[k], b[k]) as int16 pairs for 32 lanes, in order (two word permutes; unpacks work within 128-bit lanes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Zip32(Vector512<short> a, Vector512<short> b, int* dst)
    {
        var lo = Vector512.Create((short)0, 32, 1, 33, 2, 34, 3, 35, 4, 36, 5, 37, 6, 38, 7, 39, 8, 40, 9, 41, 10, 42, 11, 43, 12, 44, 13, 45, 14, 46, 15, 47);
        Avx512BW.PermuteVar32x16x2(a, lo, b).Store((short*)dst);
        Avx512BW.PermuteVar32x16x2(a, lo + Vector512.Create((short)16), b).Store((short*)(dst + 16));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<short> Even(Vector128<byte> v, bool signed, Vector128<short> z)
        => (signed ? Vector128.ShiftRightArithmetic(Vector128.ShiftLeft(v.AsInt16(), 8), 8) : v.AsInt16() & Vector128.Create((short)0xFF)) - z;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void PairRow8(int* dst, byte* a, byte* b, int i, bool signed, Vector128<short> z)
    {
        var al = a == null ? Vector128<short>.Zero : Widen(Vector128.CreateScalarUnsafe(*(ulong*)(a + i)).AsByte(), signed, z).Item1;
        var bl = b == null ? Vector128<short>.Zero : Widen(Vector128.CreateScalarUnsafe(*(ulong*)(b + i)).AsByte(), signed, z).Item1;
        Zip(al, bl, dst + i);
    }

    /// <summary>Four pairs: the low half of a zip of four values each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void PairRow4(int* dst, byte* a, byte* b, int i, bool signed, Vector128<short> z)
    {
        var al = a == null ? Vector128<short>.Zero : Widen(Vector128.CreateScalarUnsafe(*(uint*)(a + i)).AsByte(), signed, z).Item1;
        var bl = b == null ? Vector128<short>.Zero : Widen(Vector128.CreateScalarUnsafe(*(uint*)(b + i)).AsByte(), signed, z).Item1;
        (Sse2.IsSupported ? Sse2.UnpackLow(al, bl) : AdvSimd.Arm64.ZipLow(al, bl)).Store((short*)(dst + i));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (Vector128<short>, Vector128<short>) Widen(Vector128<byte> v, bool signed, Vector128<short> z)
    {
        Vector128<short> lo, hi;
        if (signed) (lo, hi) = Vector128.Widen(v.AsSByte());
        else { var (l, h) = Vector128.Widen(v); lo = l.AsInt16(); hi = h.AsInt16(); }
        return (lo - z, hi - z);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Zip(Vector128<short> a, Vector128<short> b, int* dst)
    {
        if (Sse2.IsSupported) { Sse2.UnpackLow(a, b).Store((short*)dst); Sse2.UnpackHigh(a, b).Store((short*)dst + 8); }
        else { AdvSimd.Arm64.ZipLow(a, b).Store((short*)dst); AdvSimd.Arm64.ZipHigh(a, b).Store((short*)dst + 8); }
    }

    /// <summary>
    /// dst[oh * outW + ow] = tmp[r * stride + oh * wq + ow] for each row r of channels (drops the padded columns). Rows
    /// of 4 to 16 bytes: one whole 8- or 16-byte move each, its bytes past the row rewritten by the rows after it (the
    /// last row exact: nothing written outside dst's rows); other rows two overlapping moves (a call per row cost more
    /// than the copy).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Compact(byte* dst, byte* tmp, int rows, int outH, int outW, int wq, int stride)
    {
        if (wq == outW) { for (int r = 0; r < rows; r++) Unsafe.CopyBlockUnaligned(dst + (long)r * outH * outW, tmp + (long)r * stride, (uint)(outH * outW)); return; }
        if (outW >= 4 && outW <= 16)
        {
            for (int r = 0; r < rows; r++)
            {
                byte* d = dst + (long)r * outH * outW, t = tmp + (long)r * stride;
                int whole = r == rows - 1 ? outH - 1 : outH;
                if (outW <= 8) for (int oh = 0; oh < whole; oh++, d += outW, t += wq) *(ulong*)d = *(ulong*)t;
                else for (int oh = 0; oh < whole; oh++, d += outW, t += wq) { *(ulong*)d = *(ulong*)t; *(ulong*)(d + 8) = *(ulong*)(t + 8); }
            }
            byte* dl = dst + ((long)rows * outH - 1) * outW, tl = tmp + (long)(rows - 1) * stride + (long)(outH - 1) * wq;
            if (outW >= 8) { *(ulong*)dl = *(ulong*)tl; *(ulong*)(dl + outW - 8) = *(ulong*)(tl + outW - 8); }
            else { *(uint*)dl = *(uint*)tl; *(uint*)(dl + outW - 4) = *(uint*)(tl + outW - 4); }
            return;
        }
        for (int r = 0; r < rows; r++)
            for (int oh = 0; oh < outH; oh++)
            {
                byte* d = dst + ((long)r * outH + oh) * outW, t = tmp + (long)r * stride + (long)oh * wq;
                if (outW >= 16 && Vector128.IsHardwareAccelerated)
                {
                    for (int i = 0; i < outW - 16; i += 16) Vector128.Load(t + i).Store(d + i);
                    Vector128.Load(t + outW - 16).Store(d + outW - 16);
                }
                else for (int i = 0; i < outW; i++) d[i] = t[i];
            }
    }

    struct Tile
    {
        public int* X, Offsets, Bias, Mult, Shift; public sbyte* W; public byte* Tmp;
        public int Taps, Pairs, PairStride, Blocks, Rows, Row0, Positions, OutStride, ZY, Lo, Hi;
        /// <summary>
        /// Tmp is y itself (OutStride = the plane, End the end of y). The tiles then go last to first: the whole vectors of
        /// a row's last tile run into the next rows' first positions, which are written after it; past End, the stack.
        /// </summary>
        public bool Direct; public byte* End;
        /// <summary>Accumulators and shifts as <see cref="IQBounded{TV}"/> needs them; Saturated: see <see cref="Out.Saturated"/>.</summary>
        public bool Bounded, Saturated;
    }

    /// <summary>
    /// Column tiles of C.N vectors outermost (they stay in L1 while every block of output channels passes). The weights
    /// are widened to int16 on the stack: all blocks once when they fit (usually: one pass over the weights per call),
    /// else each block per tile, in chunks of taps (and of pairs) when one block does not fit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Gemm<TV, TS, C>(in Tile t) where TV : struct where TS : IQSimd<TV>, IQBounded<TV> where C : IRows
    {
        int width = C.N * TS.Lanes, steps = t.Taps * t.Pairs, blockW = steps * BlockRows * 2;
        byte* acc = stackalloc byte[BlockRows * 3 * 64], last = stackalloc byte[BlockRows * 3 * 64];
        byte** dst = stackalloc byte*[BlockRows];
        var o = new Out { ZY = t.ZY, Lo = t.Lo, Hi = t.Hi, Saturated = t.Saturated };
        bool all = (long)t.Blocks * steps <= ChunkSteps;
        short* wide = stackalloc short[(all ? t.Blocks * steps : Math.Min(steps, ChunkSteps)) * BlockRows * 2];
        if (all) Int8.Widen(t.W, wide, t.Blocks * blockW);
        int tiles = (t.Positions + width - 1) / width;
        for (int i = 0; i < tiles; i++)
            for (int b = 0, q = (t.Direct ? tiles - 1 - i : i) * width; b < t.Blocks; b++)
            {
                int r0 = b * BlockRows, m0 = t.Row0 + r0, live = Math.Min(BlockRows, t.Rows - r0);
                byte* y = t.Tmp + (long)r0 * t.OutStride + q;
                if (t.Bounded)
                {
                    // the kernel requantizes and stores its rows itself (after the last chunk; no round trip of the accumulators through acc)
                    for (int r = 0; r < live; r++) dst[r] = t.Direct && y + r * t.OutStride + width > t.End ? last + r * 3 * 64 : y + r * t.OutStride;
                    o.Dst = dst; o.Mult = t.Mult + m0; o.Shift = t.Shift + m0;
                    if (all) Kernel<TV, TS, C>(t.X + q, t.Offsets, t.Taps, t.Pairs, t.PairStride, (int*)(wide + (long)b * blockW), t.Bias + m0, live, acc, true, o);
                    else Chunks<TV, TS, C>(t, t.X + q, t.W + (long)b * blockW, wide, t.Bias + m0, live, acc, o);
                    for (int r = 0; r < live; r++) if (dst[r] != y + r * t.OutStride) Unsafe.CopyBlockUnaligned(y + r * t.OutStride, dst[r], (uint)(t.End - (y + r * t.OutStride)));
                    continue;
                }
                o.Dst = null;
                if (all) Kernel<TV, TS, C>(t.X + q, t.Offsets, t.Taps, t.Pairs, t.PairStride, (int*)(wide + (long)b * blockW), t.Bias + m0, live, acc, true, o);
                else Chunks<TV, TS, C>(t, t.X + q, t.W + (long)b * blockW, wide, t.Bias + m0, live, acc, o);
                // requantization in registers, row by row, out of the accumulators the kernel left
                for (int r = 0; r < live; r++, y += t.OutStride)
                {
                    var rq = TS.Prepare(t.Mult[m0 + r], t.Shift[m0 + r], t.ZY, t.Lo, t.Hi);
                    bool past = t.Direct && y + width > t.End;
                    byte* d = past ? last : y;
                    for (int c = 0; c < C.N; c++) TS.Store(Unsafe.Read<TV>(acc + (r * 3 + c) * 64), rq, d + c * TS.Lanes);
                    if (past) Unsafe.CopyBlockUnaligned(y, last, (uint)(t.End - y));
                }
            }
    }

    /// <summary>One block's reduction in chunks of at most <see cref="ChunkSteps"/> steps widened into wide, the accumulators carried in acc (o: after the last).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Chunks<TV, TS, C>(in Tile t, int* x, sbyte* w, short* wide, int* bias, int live, byte* acc, in Out o)
        where TV : struct where TS : IQSimd<TV>, IQBounded<TV> where C : IRows
    {
        const int step = BlockRows * 2;
        int pc = Math.Min(t.Pairs, ChunkSteps), tc = Math.Min(t.Taps, ChunkSteps / pc);
        var carry = o;
        carry.Dst = null;
        for (int t0 = 0; t0 < t.Taps; t0 += tc)
            for (int p0 = 0; p0 < t.Pairs; p0 += pc)
            {
                int nt = Math.Min(tc, t.Taps - t0), np = Math.Min(pc, t.Pairs - p0);
                if (np == t.Pairs) Int8.Widen(w + (long)t0 * np * step, wide, nt * np * step); // whole taps: one run
                else for (int i = 0; i < nt; i++) Int8.Widen(w + ((long)(t0 + i) * t.Pairs + p0) * step, wide + i * np * step, np * step);
                Kernel<TV, TS, C>(x + (long)p0 * t.PairStride, t.Offsets + t0, nt, np, t.PairStride, (int*)wide, bias, live, acc, t0 == 0 && p0 == 0,
                    t0 + nt == t.Taps && p0 + np == t.Pairs ? o : carry);
            }
    }

    /// <summary>
    /// BlockRows output channels x C.N vectors of positions over a chunk of the reduction (taps x channel pairs), the
    /// accumulators in registers, starting from the bias (<paramref name="first"/>) or from acc[row * 3 + column] (64
    /// bytes each), where they are written at the end, or with o.Dst requantized (bounded) into those rows. No calls inside.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Kernel<TV, TS, C>(int* x0, int* offsets, int taps, int pairs, int pairStride, int* w, int* bias, int live, byte* acc, bool first, in Out o)
        where TV : struct where TS : IQSimd<TV>, IQBounded<TV> where C : IRows
    {
        int n = C.N, lanes = TS.Lanes;
        TV a0, b0, c0, a1, b1, c1, a2, b2, c2, a3, b3, c3;
        if (first)
        {
            a0 = TS.Splat(bias[0]); b0 = a0; c0 = a0;
            a1 = live > 1 ? TS.Splat(bias[1]) : a0; b1 = a1; c1 = a1;
            a2 = live > 2 ? TS.Splat(bias[2]) : a0; b2 = a2; c2 = a2;
            a3 = live > 3 ? TS.Splat(bias[3]) : a0; b3 = a3; c3 = a3;
        }
        else
        {
            a0 = Unsafe.Read<TV>(acc); b0 = Unsafe.Read<TV>(acc + 64); c0 = Unsafe.Read<TV>(acc + 128);
            a1 = Unsafe.Read<TV>(acc + 192); b1 = Unsafe.Read<TV>(acc + 256); c1 = Unsafe.Read<TV>(acc + 320);
            a2 = Unsafe.Read<TV>(acc + 384); b2 = Unsafe.Read<TV>(acc + 448); c2 = Unsafe.Read<TV>(acc + 512);
            a3 = Unsafe.Read<TV>(acc + 576); b3 = Unsafe.Read<TV>(acc + 640); c3 = Unsafe.Read<TV>(acc + 704);
        }
        for (int t = 0; t < taps; t++)
        {
            int* x = x0 + offsets[t];
            for (int p = 0; p < pairs; p++, x += pairStride, w += BlockRows)
            {
                TV v0 = TS.Load(x), v1 = n > 1 ? TS.Load(x + lanes) : v0, v2 = n > 2 ? TS.Load(x + 2 * lanes) : v0;
                TV s = TS.Splat(w[0]); a0 = TS.Madd(v0, s, a0); if (n > 1) b0 = TS.Madd(v1, s, b0); if (n > 2) c0 = TS.Madd(v2, s, c0);
                s = TS.Splat(w[1]); a1 = TS.Madd(v0, s, a1); if (n > 1) b1 = TS.Madd(v1, s, b1); if (n > 2) c1 = TS.Madd(v2, s, c1);
                s = TS.Splat(w[2]); a2 = TS.Madd(v0, s, a2); if (n > 1) b2 = TS.Madd(v1, s, b2); if (n > 2) c2 = TS.Madd(v2, s, c2);
                s = TS.Splat(w[3]); a3 = TS.Madd(v0, s, a3); if (n > 1) b3 = TS.Madd(v1, s, b3); if (n > 2) c3 = TS.Madd(v2, s, c3);
            }
        }
        if (o.Dst != null)
        {
            TV z = TS.Splat(o.ZY), lo = TS.Splat(o.Lo), hi = TS.Splat(o.Hi);
            StoreRow<TV, TS, C>(a0, b0, c0, o, 0, z, lo, hi);
            if (live > 1) StoreRow<TV, TS, C>(a1, b1, c1, o, 1, z, lo, hi);
            if (live > 2) StoreRow<TV, TS, C>(a2, b2, c2, o, 2, z, lo, hi);
            if (live > 3) StoreRow<TV, TS, C>(a3, b3, c3, o, 3, z, lo, hi);
            return;
        }
        Unsafe.Write(acc, a0); Unsafe.Write(acc + 64, b0); Unsafe.Write(acc + 128, c0);
        Unsafe.Write(acc + 192, a1); Unsafe.Write(acc + 256, b1); Unsafe.Write(acc + 320, c1);
        Unsafe.Write(acc + 384, a2); Unsafe.Write(acc + 448, b2); Unsafe.Write(acc + 512, c2);
        Unsafe.Write(acc + 576, a3); Unsafe.Write(acc + 640, b3); Unsafe.Write(acc + 704, c3);
    }

    /// <summary>Where and how <see cref="Kernel"/> requantizes (Dst null: it leaves the accumulators in acc).</summary>
    struct Out
    {
        public byte** Dst; public int* Mult, Shift; public int ZY, Lo, Hi;
        /// <summary>int8 outputs over [-128, 127], the zero point folded into the rounding constant (IQBounded.StoreSaturated).</summary>
        public bool Saturated;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void StoreRow<TV, TS, C>(TV a, TV b, TV c, in Out o, int r, TV z, TV lo, TV hi) where TV : struct where TS : IQSimd<TV>, IQBounded<TV> where C : IRows
        => Bounded.StoreRow<TV, TS, C>(a, b, c, o.Mult[r], o.Shift[r], o.ZY, o.Saturated, z, lo, hi, o.Dst[r]);

    struct Dw
    {
        public int* X, Offsets, W; public byte* Tmp;
        public int Bias, Mult, Shift, Positions, RowPairs, KW, ZY, Lo, Hi;
    }

    /// <summary>One channel: each vector of positions sums its kernel-row pairs x columns; 3x3 with the six taps unrolled.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Depthwise<TV, TS>(in Dw d) where TV : struct where TS : IQSimd<TV>
    {
        int lanes = TS.Lanes;
        var rq = TS.Prepare(d.Mult, d.Shift, d.ZY, d.Lo, d.Hi);
        TV bias = TS.Splat(d.Bias);
        int* w = d.W;
        if (d.RowPairs == 2 && d.KW == 3)
        {
            TV w0 = TS.Splat(w[0]), w1 = TS.Splat(w[1]), w2 = TS.Splat(w[2]), w3 = TS.Splat(w[3]), w4 = TS.Splat(w[4]), w5 = TS.Splat(w[5]);
            int o0 = d.Offsets[0], o1 = d.Offsets[1], o2 = d.Offsets[2], o3 = d.Offsets[3], o4 = d.Offsets[4], o5 = d.Offsets[5];
            for (int q = 0; q < d.Positions; q += lanes)
            {
                int* x = d.X + q;
                TV s = TS.Madd(TS.Load(x + o0), w0, bias), u = TS.Madd(TS.Load(x + o3), w3, default);
                s = TS.Madd(TS.Load(x + o1), w1, s); u = TS.Madd(TS.Load(x + o4), w4, u);
                s = TS.Madd(TS.Load(x + o2), w2, s); u = TS.Madd(TS.Load(x + o5), w5, u);
                TS.Store(TS.Add(s, u), rq, d.Tmp + q);
            }
            return;
        }
        int taps = d.RowPairs * d.KW;
        for (int q = 0; q < d.Positions; q += lanes)
        {
            TV s = bias;
            for (int t = 0; t < taps; t++) s = TS.Madd(TS.Load(d.X + q + d.Offsets[t]), TS.Splat(w[t]), s);
            TS.Store(s, rq, d.Tmp + q);
        }
    }
}
