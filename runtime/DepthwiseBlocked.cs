using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

/// <summary>
/// Depthwise convolution (one input channel per output channel) with a block of channels in the lanes of one vector
/// (NCHWc-like: eight per 256-bit vector, sixteen per 512-bit one; AVX2 + FMA at least). A band of each block's input
/// planes is transposed on the stack into zero-padded positions (8 x 8 register transposes, eight input positions per
/// transpose whatever the row length), every output position is then taps FMAs of whole vectors whatever the row
/// length, stride or padding, eight positions at a time, and those eight results (activation applied in registers)
/// are transposed straight into the output planes. Position lists are built once per call, so a band costs only its
/// transposes and FMAs. Tails seldom go scalar: the last group of a row or band, the last band of rows and the last
/// block of channels are shifted back to overlap the one before (recomputing a few outputs, same values), so channel
/// counts that are not a multiple of the block take the same code.
/// </summary>
internal static unsafe class DepthwiseBlocked
{
    const int StageFloats = 6144;   // the padded input band, a block of channels per position (24 KiB, within L1) + a spare position
    const int MaxPositions = 1024;  // input positions of a band, and output positions of a band
    internal const int MaxTaps = 64;

    /// <summary>
    /// y [outC, outH, outW] = act(depthwise conv of x [outC, inH, inW] with w [outC, kH, kW] + bias). Returns false
    /// (nothing written) without AVX2/FMA, with fewer than 8 channels or 8 output positions per band, more than
    /// <see cref="MaxTaps"/> taps, or where a band of one output row does not fit the stack buffers.
    /// </summary>
    internal static bool TryRun(float* x, float* w, float* bias, float* y, int outC, int inH, int inW, int kH, int kW,
        int outH, int outW, int sh, int sw, int pt, int pl, int dh, int dw, in Activation act)
    {
        if (!Avx2.IsSupported || !Fma.IsSupported || outC < 8) return false;
        // sixteen channels per vector where AVX-512 is there and there are as many channels: half the instructions per
        // output (loads, FMAs, position arithmetic). Zen 4 splits 512-bit operations in two and runs both widths at the
        // same speed; where the wider positions do not fit the stack, eight
        return SimdLevel.Bits >= 512 && outC >= 16
            && Run<V512, Vector512<float>>(x, w, bias, y, outC, inH, inW, kH, kW, outH, outW, sh, sw, pt, pl, dh, dw, act)
            || Run<V256, Vector256<float>>(x, w, bias, y, outC, inH, inW, kH, kW, outH, outW, sh, sw, pt, pl, dh, dw, act);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static bool Run<S, TV>(float* x, float* w, float* bias, float* y, int outC, int inH, int inW, int kH, int kW,
        int outH, int outW, int sh, int sw, int pt, int pl, int dh, int dw, in Activation act)
        where S : struct, ISimd<TV> where TV : struct
    {
        int l = S.Lanes;
        int taps = kH * kW, spanY = (kH - 1) * dh;
        int wp = (outW - 1) * sw + (kW - 1) * dw + 1;          // padded row: every column some output reads
        int rowsFit = (StageFloats / l - 1) / wp;
        if (taps > MaxTaps || rowsFit < spanY + 1) return false;
        int bo = Math.Min(outH, Math.Min(MaxPositions / outW, (rowsFit - spanY - 1) / sh + 1));
        if (bo < 1) return false;
        bo = (outH + (outH + bo - 1) / bo - 1) / ((outH + bo - 1) / bo);   // bands of equal height, the last one full
        int hpb = (bo - 1) * sh + spanY + 1, n = bo * outW;
        if (n < 8 || (long)hpb * inW > MaxPositions) return false;

        int inPlane = inH * inW, outPlane = outH * outW, spare = hpb * wp * l;
        int* inPos = stackalloc int[MaxPositions];
        int* outPos = stackalloc int[MaxPositions + 7];
        int* tapOff = stackalloc int[MaxTaps];
        float* stage = stackalloc float[StageFloats];
        float* wt = stackalloc float[MaxTaps * 16];
        // 3x3 along rows of at least 8 outputs: eight neighbours of one row at a time, addressed from one pointer
        bool rows3 = kH == 3 && kW == 3 && dh == 1 && dw == 1 && sw <= 2 && outW >= 8;
        // input rows of at least 8 that fit their padded row: staged eight columns at a time into consecutive places
        bool byRows = inW >= 8 && pl + inW <= wp;
        // otherwise every band has bo output rows (the last one shifted back), so one list of padded places serves all
        // bands: input row r of the band (padded row r) column ix; columns no output reads go to the spare position
        if (!byRows)
            for (int r = 0; r < hpb; r++)
                for (int ix = 0; ix < inW; ix++)
                {
                    int px = ix + pl;
                    inPos[r * inW + ix] = px < wp ? (r * wp + px) * l : spare;
                }
        if (!rows3)
        {
            for (int oy = 0; oy < bo; oy++)
                for (int ox = 0; ox < outW; ox++) outPos[oy * outW + ox] = (oy * sh * wp + ox * sw) * l;
            // a last group of fewer than eight reads the last position again in its spare lanes
            for (int q = n; q < n + 7; q++) outPos[q] = outPos[n - 1];
            for (int ky = 0, t = 0; ky < kH; ky++)
                for (int kx = 0; kx < kW; kx++) tapOff[t++] = (ky * dh * wp + kx * dw) * l;
        }
        var epilogue = Epilogue.Of(act);
        // the padding columns are never written: cleared once
        new Span<float>(stage, spare + l).Clear();
        for (int b0 = 0; b0 < outH; b0 += bo)
        {
            int oy0 = Math.Min(b0, outH - bo), top = oy0 * sh - pt;
            int iy0 = Math.Max(0, top), iy1 = Math.Max(iy0, Math.Min(inH, top + hpb));
            // padded rows outside the input: zero (an earlier band may have staged input there)
            new Span<float>(stage, (iy0 - top) * wp * l).Clear();
            new Span<float>(stage + (iy1 - top) * wp * l, (hpb - (iy1 - top)) * wp * l).Clear();
            int pin = (iy1 - iy0) * inW;
            int* pos = inPos + (iy0 - top) * inW;
            for (int c0 = 0; c0 < outC; c0 += l)
            {
                if (c0 > outC - l) c0 = outC - l;
                // the block's planes, eight channels (one 8 x 8 transpose) at a time, into the lanes of each position
                for (int h = 0; h < l; h += 8)
                {
                    float* xc = x + (nint)(c0 + h) * inPlane + iy0 * inW;
                    if (byRows)
                        for (int iy = iy0; iy < iy1; iy++)
                        {
                            float* xr = xc + (iy - iy0) * inW, d = stage + ((iy - top) * wp + pl) * l + h;
                            for (int ix = 0; ; ix += 8)
                            {
                                if (ix > inW - 8) ix = inW - 8;
                                GemmCore.Transpose8x8(xr + ix, inPlane, d + ix * l, l);
                                if (ix == inW - 8) break;
                            }
                        }
                    else if (pin >= 8)
                        for (int p = 0; ; p += 8)
                        {
                            if (p > pin - 8) p = pin - 8;
                            TransposeIn(xc + p, inPlane, stage + h, pos + p);
                            if (p == pin - 8) break;
                        }
                    else
                        for (int p = 0; p < pin; p++)
                            for (int c = 0; c < 8; c++) stage[pos[p] + h + c] = xc[c * inPlane + p];
                    // the eight channels' weights (rows of taps) into their lanes of one vector per tap
                    float* wc = w + (nint)(c0 + h) * taps;
                    int t = 0;
                    for (; t + 8 <= taps; t += 8) GemmCore.Transpose8x8(wc + t, taps, wt + t * l + h, l);
                    for (; t < taps; t++)
                        for (int c = 0; c < 8; c++) wt[t * l + h + c] = wc[c * taps + t];
                }
                TV vb = bias == null ? S.Zero : S.Load(bias + c0);
                float* yb = y + (nint)c0 * outPlane + oy0 * outW;
                switch (epilogue)
                {
                    case EpilogueKind.None: Block<S, TV, NoEpilogue>(rows3, sw, stage, wp, sh, bo, outW, outPos, n, tapOff, wt, taps, vb, act, yb, outPlane); break;
                    case EpilogueKind.Relu: Block<S, TV, ReluEpilogue>(rows3, sw, stage, wp, sh, bo, outW, outPos, n, tapOff, wt, taps, vb, act, yb, outPlane); break;
                    case EpilogueKind.Clip: Block<S, TV, ClipEpilogue>(rows3, sw, stage, wp, sh, bo, outW, outPos, n, tapOff, wt, taps, vb, act, yb, outPlane); break;
                    case EpilogueKind.LeakyRelu: Block<S, TV, LeakyReluEpilogue>(rows3, sw, stage, wp, sh, bo, outW, outPos, n, tapOff, wt, taps, vb, act, yb, outPlane); break;
                    case EpilogueKind.HardSwish: Block<S, TV, HardSwishEpilogue>(rows3, sw, stage, wp, sh, bo, outW, outPos, n, tapOff, wt, taps, vb, act, yb, outPlane); break;
                    case EpilogueKind.HardSigmoid: Block<S, TV, HardSigmoidEpilogue>(rows3, sw, stage, wp, sh, bo, outW, outPos, n, tapOff, wt, taps, vb, act, yb, outPlane); break;
                    default: Block<S, TV, AnyEpilogue>(rows3, sw, stage, wp, sh, bo, outW, outPos, n, tapOff, wt, taps, vb, act, yb, outPlane); break;
                }
            }
        }
        return true;
    }

    /// <summary>One block of channels' outputs by the kernel that fits the shape.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Block<S, TV, A>(bool rows3, int sw, float* stage, int wp, int sh, int bo, int outW, int* outPos, int n, int* tapOff,
        float* wt, int taps, TV vb, in Activation act, float* yb, int outPlane)
        where S : struct, ISimd<TV> where TV : struct where A : struct, IEpilogue
    {
        if (rows3 && sw == 1) Rows3x3<S, TV, Sw1, A>(stage, wp, sh, bo, outW, wt, vb, act, yb, outPlane);
        else if (rows3) Rows3x3<S, TV, Sw2, A>(stage, wp, sh, bo, outW, wt, vb, act, yb, outPlane);
        else Positions<S, TV, A>(stage, outPos, n, tapOff, wt, taps, vb, act, yb, outPlane);
    }

    /// <summary>
    /// n (at least 8; outPos padded to whole groups) output positions of one block of channels: bias + sum over taps of
    /// wt[t] * stage[outPos[q] + tapOff[t]], eight positions at a time (eight FMA chains), then <see cref="Store8"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static void Positions<S, TV, A>(float* stage, int* outPos, int n, int* tapOff, float* wt, int taps, TV vb, in Activation act,
        float* y, int outPlane) where S : struct, ISimd<TV> where TV : struct where A : struct, IEpilogue
    {
        int l = S.Lanes;
        // 64-byte aligned: the transposes read back whole stored vectors (forwarded from the stores, none split over cache lines)
        float* buf = stackalloc float[8 * 16 + 64 + 16];
        float* tmp = (float*)(((nint)buf + 63) & ~(nint)63);
        for (int q = 0; q < n; q += 8)
        {
            // a last group of four to seven: shifted back to end at n (cheaper than writing it out value by value)
            if (n - q is >= 4 and < 8) q = n - 8;
            float* s0 = stage + outPos[q], s1 = stage + outPos[q + 1], s2 = stage + outPos[q + 2], s3 = stage + outPos[q + 3];
            float* s4 = stage + outPos[q + 4], s5 = stage + outPos[q + 5], s6 = stage + outPos[q + 6], s7 = stage + outPos[q + 7];
            TV a0 = vb, a1 = vb, a2 = vb, a3 = vb, a4 = vb, a5 = vb, a6 = vb, a7 = vb;
            for (int t = 0; t < taps; t++)
            {
                nint o = tapOff[t];
                TV wv = S.Load(wt + t * l);
                a0 = S.Fma(wv, S.Load(s0 + o), a0); a1 = S.Fma(wv, S.Load(s1 + o), a1);
                a2 = S.Fma(wv, S.Load(s2 + o), a2); a3 = S.Fma(wv, S.Load(s3 + o), a3);
                a4 = S.Fma(wv, S.Load(s4 + o), a4); a5 = S.Fma(wv, S.Load(s5 + o), a5);
                a6 = S.Fma(wv, S.Load(s6 + o), a6); a7 = S.Fma(wv, S.Load(s7 + o), a7);
            }
            Store8<S, TV, A>(a0, a1, a2, a3, a4, a5, a6, a7, act, tmp, y + q, outPlane, n - q);
        }
    }

    /// <summary>
    /// <see cref="Positions"/> for 3x3 kernels (no dilation, stride TS.N along W), bo output rows of outW (at least 8)
    /// outputs: groups of eight neighbours in a row (the last group of a row shifted back to end at the row's end), the
    /// taps' input vectors at constant offsets from three row pointers, the nine weight vectors held in registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static void Rows3x3<S, TV, TS, A>(float* stage, int wp, int sh, int bo, int outW, float* wt, TV vb, in Activation act,
        float* y, int outPlane) where S : struct, ISimd<TV> where TV : struct where TS : struct, IStrideW where A : struct, IEpilogue
    {
        int l = S.Lanes;
        float* buf = stackalloc float[8 * 16 + 64 + 16];
        float* tmp = (float*)(((nint)buf + 63) & ~(nint)63);
        TV w0 = S.Load(wt), w1 = S.Load(wt + l), w2 = S.Load(wt + 2 * l), w3 = S.Load(wt + 3 * l), w4 = S.Load(wt + 4 * l);
        TV w5 = S.Load(wt + 5 * l), w6 = S.Load(wt + 6 * l), w7 = S.Load(wt + 7 * l), w8 = S.Load(wt + 8 * l);
        nint row = wp * l;
        for (int oy = 0; oy < bo; oy++)
            for (int ox = 0; ; ox += 8)
            {
                if (ox > outW - 8) ox = outW - 8;
                float* r0 = stage + (oy * sh * wp + ox * TS.N) * l, r1 = r0 + row, r2 = r1 + row;
                TV a0 = vb, a1 = vb, a2 = vb, a3 = vb, a4 = vb, a5 = vb, a6 = vb, a7 = vb;
                Tap3<S, TV, TS>(r0, w0, w1, w2, ref a0, ref a1, ref a2, ref a3, ref a4, ref a5, ref a6, ref a7);
                Tap3<S, TV, TS>(r1, w3, w4, w5, ref a0, ref a1, ref a2, ref a3, ref a4, ref a5, ref a6, ref a7);
                Tap3<S, TV, TS>(r2, w6, w7, w8, ref a0, ref a1, ref a2, ref a3, ref a4, ref a5, ref a6, ref a7);
                Store8<S, TV, A>(a0, a1, a2, a3, a4, a5, a6, a7, act, tmp, y + oy * outW + ox, outPlane, 8);
                if (ox == outW - 8) break;
            }
    }

    /// <summary>One kernel row's three taps (weights wa, wb, wc) for eight neighbouring outputs whose windows start at r.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Tap3<S, TV, TS>(float* r, TV wa, TV wb, TV wc, ref TV a0, ref TV a1, ref TV a2, ref TV a3, ref TV a4, ref TV a5, ref TV a6, ref TV a7)
        where S : struct, ISimd<TV> where TV : struct where TS : struct, IStrideW
    {
        int l = S.Lanes, s = TS.N * l;
        a0 = S.Fma(wa, S.Load(r), a0); a0 = S.Fma(wb, S.Load(r + l), a0); a0 = S.Fma(wc, S.Load(r + 2 * l), a0); r += s;
        a1 = S.Fma(wa, S.Load(r), a1); a1 = S.Fma(wb, S.Load(r + l), a1); a1 = S.Fma(wc, S.Load(r + 2 * l), a1); r += s;
        a2 = S.Fma(wa, S.Load(r), a2); a2 = S.Fma(wb, S.Load(r + l), a2); a2 = S.Fma(wc, S.Load(r + 2 * l), a2); r += s;
        a3 = S.Fma(wa, S.Load(r), a3); a3 = S.Fma(wb, S.Load(r + l), a3); a3 = S.Fma(wc, S.Load(r + 2 * l), a3); r += s;
        a4 = S.Fma(wa, S.Load(r), a4); a4 = S.Fma(wb, S.Load(r + l), a4); a4 = S.Fma(wc, S.Load(r + 2 * l), a4); r += s;
        a5 = S.Fma(wa, S.Load(r), a5); a5 = S.Fma(wb, S.Load(r + l), a5); a5 = S.Fma(wc, S.Load(r + 2 * l), a5); r += s;
        a6 = S.Fma(wa, S.Load(r), a6); a6 = S.Fma(wb, S.Load(r + l), a6); a6 = S.Fma(wc, S.Load(r + 2 * l), a6); r += s;
        a7 = S.Fma(wa, S.Load(r), a7); a7 = S.Fma(wb, S.Load(r + l), a7); a7 = S.Fma(wc, S.Load(r + 2 * l), a7);
    }

    /// <summary>
    /// Eight positions' results (ai: position i, one lane per channel): the activation in registers (or over the
    /// stored block for the kinds that call out), then transposed eight channels at a time into the planes at y
    /// (outPlane apart); only the first cnt positions are written when fewer than eight remain.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store8<S, TV, A>(TV a0, TV a1, TV a2, TV a3, TV a4, TV a5, TV a6, TV a7, in Activation act, float* tmp, float* y, int outPlane, int cnt)
        where S : struct, ISimd<TV> where TV : struct where A : struct, IEpilogue
    {
        int l = S.Lanes;
        a0 = A.Apply<S, TV>(a0, act); a1 = A.Apply<S, TV>(a1, act); a2 = A.Apply<S, TV>(a2, act); a3 = A.Apply<S, TV>(a3, act);
        a4 = A.Apply<S, TV>(a4, act); a5 = A.Apply<S, TV>(a5, act); a6 = A.Apply<S, TV>(a6, act); a7 = A.Apply<S, TV>(a7, act);
        S.Store(tmp, a0); S.Store(tmp + l, a1); S.Store(tmp + 2 * l, a2); S.Store(tmp + 3 * l, a3);
        S.Store(tmp + 4 * l, a4); S.Store(tmp + 5 * l, a5); S.Store(tmp + 6 * l, a6); S.Store(tmp + 7 * l, a7);
        // the other kinds (exp) over the block in L1: a call inside the loop would spill the accumulators
        if (A.AfterStore(act)) act.Apply<S, TV>(tmp, 8 * l);
        for (int h = 0; h < l; h += 8)
        {
            float* yh = y + (nint)h * outPlane;
            if (cnt >= 8) GemmCore.Transpose8x8(tmp + h, l, yh, outPlane);
            else
            {
                float* part = tmp + 8 * l;
                GemmCore.Transpose8x8(tmp + h, l, part, 8);
                for (int c = 0; c < 8; c++)
                    for (int i = 0; i < cnt; i++) yh[c * outPlane + i] = part[c * 8 + i];
            }
        }
    }

    /// <summary>Transposes 8 channels (lds apart) x 8 positions; position i's 8 channels go to stage + pos[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void TransposeIn(float* src, nint lds, float* stage, int* pos)
    {
        GemmCore.Transpose8x8(src, lds, out var c0, out var c1, out var c2, out var c3, out var c4, out var c5, out var c6, out var c7);
        Avx.Store(stage + pos[0], c0); Avx.Store(stage + pos[1], c1); Avx.Store(stage + pos[2], c2); Avx.Store(stage + pos[3], c3);
        Avx.Store(stage + pos[4], c4); Avx.Store(stage + pos[5], c5); Avx.Store(stage + pos[6], c6); Avx.Store(stage + pos[7], c7);
    }
}

/// <summary>A stride along W as a type, so that kernels specialised for it address their inputs at constant offsets.</summary>
internal interface IStrideW { static abstract int N { get; } }
internal struct Sw1 : IStrideW { public static int N => 1; }
internal struct Sw2 : IStrideW { public static int N => 2; }
