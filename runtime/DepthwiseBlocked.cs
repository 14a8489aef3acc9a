using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

/// <summary>
/// Depthwise convolution (one input channel per output channel) eight channels at a time in the lanes of a 256-bit
/// vector (NCHWc-like, AVX2 + FMA). A band of each block of eight input planes is transposed on the stack into
/// zero-padded positions of eight channels (8 x 8 register transposes, eight input positions per transpose whatever
/// the row length), every output position is then taps FMAs of whole vectors whatever the row length, stride or
/// padding, eight positions at a time, and those eight results (activation applied in registers) are transposed
/// straight into the eight output planes. Position lists are built once per call, so a band costs only its
/// transposes and FMAs. Tails never go scalar: the last group of eight positions, the last band of rows and the last
/// block of eight channels are shifted back to overlap the one before (recomputing a few outputs, same values), so
/// channel counts that are not a multiple of 8 take the same code.
/// </summary>
internal static unsafe class DepthwiseBlocked
{
    const int StageFloats = 6144;   // the padded input band, 8 channels per position (24 KiB, within L1) + a spare position
    const int MaxPositions = 1024;  // input positions of a band, and output positions of a band
    internal const int MaxTaps = 64;
    internal static int Skip;

    /// <summary>
    /// y [outC, outH, outW] = act(depthwise conv of x [outC, inH, inW] with w [outC, kH, kW] + bias). Returns false
    /// (nothing written) without AVX2/FMA, with fewer than 8 channels or 8 output positions per band, more than
    /// <see cref="MaxTaps"/> taps, or where a band of one output row does not fit the stack buffers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool TryRun(float* x, float* w, float* bias, float* y, int outC, int inH, int inW, int kH, int kW,
        int outH, int outW, int sh, int sw, int pt, int pl, int dh, int dw, in Activation act)
    {
        if (!Avx2.IsSupported || !Fma.IsSupported || outC < 8) return false;
        int taps = kH * kW, spanY = (kH - 1) * dh;
        int wp = (outW - 1) * sw + (kW - 1) * dw + 1;          // padded row: every column some output reads
        int rowsFit = (StageFloats / 8 - 1) / wp;
        if (taps > MaxTaps || rowsFit < spanY + 1) return false;
        int bo = Math.Min(outH, Math.Min(MaxPositions / outW, (rowsFit - spanY - 1) / sh + 1));
        if (bo < 1) return false;
        bo = (outH + (outH + bo - 1) / bo - 1) / ((outH + bo - 1) / bo);   // bands of equal height, the last one full
        int hpb = (bo - 1) * sh + spanY + 1, n = bo * outW;
        if (n < 8 || (long)hpb * inW > MaxPositions) return false;

        int inPlane = inH * inW, outPlane = outH * outW, spare = hpb * wp * 8;
        int* inPos = stackalloc int[MaxPositions];
        int* outPos = stackalloc int[MaxPositions + 7];
        int* tapOff = stackalloc int[MaxTaps];
        float* stage = stackalloc float[StageFloats];
        float* wt = stackalloc float[MaxTaps * 8];
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
                    inPos[r * inW + ix] = px < wp ? (r * wp + px) * 8 : spare;
                }
        if (!rows3)
        {
            for (int oy = 0; oy < bo; oy++)
                for (int ox = 0; ox < outW; ox++) outPos[oy * outW + ox] = (oy * sh * wp + ox * sw) * 8;
            // a last group of fewer than eight reads the last position again in its spare lanes
            for (int q = n; q < n + 7; q++) outPos[q] = outPos[n - 1];
            for (int ky = 0, t = 0; ky < kH; ky++)
                for (int kx = 0; kx < kW; kx++) tapOff[t++] = (ky * dh * wp + kx * dw) * 8;
        }
        // the padding columns are never written: cleared once
        new Span<float>(stage, spare + 8).Clear();
        for (int b0 = 0; b0 < outH; b0 += bo)
        {
            int oy0 = Math.Min(b0, outH - bo), top = oy0 * sh - pt;
            int iy0 = Math.Max(0, top), iy1 = Math.Max(iy0, Math.Min(inH, top + hpb));
            // padded rows outside the input: zero (an earlier band may have staged input there)
            new Span<float>(stage, (iy0 - top) * wp * 8).Clear();
            new Span<float>(stage + (iy1 - top) * wp * 8, (hpb - (iy1 - top)) * wp * 8).Clear();
            int pin = (iy1 - iy0) * inW;
            int* pos = inPos + (iy0 - top) * inW;
            for (int c0 = 0; c0 < outC; c0 += 8)
            {
                if (c0 > outC - 8) c0 = outC - 8;
                float* xc = x + (nint)c0 * inPlane + iy0 * inW;
                if ((Skip & 1) != 0) { } else
                if (byRows)
                    for (int iy = iy0; iy < iy1; iy++)
                    {
                        float* xr = xc + (iy - iy0) * inW, d = stage + ((iy - top) * wp + pl) * 8;
                        for (int ix = 0; ; ix += 8)
                        {
                            if (ix > inW - 8) ix = inW - 8;
                            GemmCore.Transpose8x8(xr + ix, inPlane, d + ix * 8, 8);
                            if (ix == inW - 8) break;
                        }
                    }
                else if (pin >= 8)
                    for (int p = 0; ; p += 8)
                    {
                        if (p > pin - 8) p = pin - 8;
                        TransposeIn(xc + p, inPlane, stage, pos + p);
                        if (p == pin - 8) break;
                    }
                else
                    for (int p = 0; p < pin; p++)
                        for (int c = 0; c < 8; c++) stage[pos[p] + c] = xc[c * inPlane + p];
                // the eight channels' weights (rows of taps) to one vector per tap
                float* wc = w + (nint)c0 * taps;
                int t = 0;
                for (; t + 8 <= taps; t += 8) GemmCore.Transpose8x8(wc + t, taps, wt + t * 8, 8);
                for (; t < taps; t++)
                    for (int c = 0; c < 8; c++) wt[t * 8 + c] = wc[c * taps + t];
                Vector256<float> vb = bias == null ? Vector256<float>.Zero : Avx.LoadVector256(bias + c0);
                float* yb = y + (nint)c0 * outPlane + oy0 * outW;
                if ((Skip & 2) != 0) { }
                else if (rows3 && sw == 1) Rows3x3<Sw1>(stage, wp, sh, bo, outW, wt, vb, act, yb, outPlane);
                else if (rows3) Rows3x3<Sw2>(stage, wp, sh, bo, outW, wt, vb, act, yb, outPlane);
                else Positions(stage, outPos, n, tapOff, wt, taps, vb, act, yb, outPlane);
            }
        }
        return true;
    }

    /// <summary>
    /// n (at least 8; outPos padded to whole groups) output positions of eight channels: bias + sum over taps of wt[t] * stage[outPos[q] + tapOff[t]],
    /// eight positions at a time (eight FMA chains), the activation in registers, transposed into the eight planes at
    /// y (outPlane apart).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static void Positions(float* stage, int* outPos, int n, int* tapOff, float* wt, int taps, Vector256<float> vb, in Activation act,
        float* y, int outPlane)
    {
        // 32-byte aligned: the transpose reads back whole stored vectors (forwarded from the stores, none split over cache lines)
        float* buf = stackalloc float[128 + 8];
        float* tmp = (float*)(((nint)buf + 31) & ~(nint)31);
        bool inReg = act.InRegisters, none = act.Kind == ActivationKind.None;
        float* part = tmp + 64;
        for (int q = 0; q < n; q += 8)
        {
            float* s0 = stage + outPos[q], s1 = stage + outPos[q + 1], s2 = stage + outPos[q + 2], s3 = stage + outPos[q + 3];
            float* s4 = stage + outPos[q + 4], s5 = stage + outPos[q + 5], s6 = stage + outPos[q + 6], s7 = stage + outPos[q + 7];
            Vector256<float> a0 = vb, a1 = vb, a2 = vb, a3 = vb, a4 = vb, a5 = vb, a6 = vb, a7 = vb;
            for (int t = 0; t < taps; t++)
            {
                nint o = tapOff[t];
                Vector256<float> wv = Avx.LoadVector256(wt + t * 8);
                a0 = Fma.MultiplyAdd(wv, Avx.LoadVector256(s0 + o), a0);
                a1 = Fma.MultiplyAdd(wv, Avx.LoadVector256(s1 + o), a1);
                a2 = Fma.MultiplyAdd(wv, Avx.LoadVector256(s2 + o), a2);
                a3 = Fma.MultiplyAdd(wv, Avx.LoadVector256(s3 + o), a3);
                a4 = Fma.MultiplyAdd(wv, Avx.LoadVector256(s4 + o), a4);
                a5 = Fma.MultiplyAdd(wv, Avx.LoadVector256(s5 + o), a5);
                a6 = Fma.MultiplyAdd(wv, Avx.LoadVector256(s6 + o), a6);
                a7 = Fma.MultiplyAdd(wv, Avx.LoadVector256(s7 + o), a7);
            }
            if (!none && inReg)
            {
                a0 = act.Apply<V256, Vector256<float>>(a0); a1 = act.Apply<V256, Vector256<float>>(a1);
                a2 = act.Apply<V256, Vector256<float>>(a2); a3 = act.Apply<V256, Vector256<float>>(a3);
                a4 = act.Apply<V256, Vector256<float>>(a4); a5 = act.Apply<V256, Vector256<float>>(a5);
                a6 = act.Apply<V256, Vector256<float>>(a6); a7 = act.Apply<V256, Vector256<float>>(a7);
            }
            Avx.Store(tmp, a0); Avx.Store(tmp + 8, a1); Avx.Store(tmp + 16, a2); Avx.Store(tmp + 24, a3);
            Avx.Store(tmp + 32, a4); Avx.Store(tmp + 40, a5); Avx.Store(tmp + 48, a6); Avx.Store(tmp + 56, a7);
            // the other kinds (exp) on the 64 results in L1: a call that would spill the accumulators inside the loop
            if (!none && !inReg) act.Apply<V256, Vector256<float>>(tmp, 64);
            if (q + 8 <= n) GemmCore.Transpose8x8(tmp, 8, y + q, outPlane);
            else
            {
                GemmCore.Transpose8x8(tmp, 8, part, 8);
                for (int c = 0; c < 8; c++)
                    for (int i = 0; i < n - q; i++) y[c * outPlane + q + i] = part[c * 8 + i];
            }
        }
    }

    /// <summary>
    /// <see cref="Positions"/> for 3x3 kernels (no dilation, stride TS.N along W), bo output rows of outW (at least 8)
    /// outputs: groups of eight neighbours in a row (the last group of a row shifted back to end at the row's end), the
    /// taps' input vectors at constant offsets from three row pointers, the nine weight vectors held in registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static void Rows3x3<TS>(float* stage, int wp, int sh, int bo, int outW, float* wt, Vector256<float> vb, in Activation act,
        float* y, int outPlane) where TS : struct, IStrideW
    {
        float* buf = stackalloc float[64 + 8];
        float* tmp = (float*)(((nint)buf + 31) & ~(nint)31);
        bool inReg = act.InRegisters, none = act.Kind == ActivationKind.None;
        Vector256<float> w0 = Avx.LoadVector256(wt), w1 = Avx.LoadVector256(wt + 8), w2 = Avx.LoadVector256(wt + 16);
        Vector256<float> w3 = Avx.LoadVector256(wt + 24), w4 = Avx.LoadVector256(wt + 32), w5 = Avx.LoadVector256(wt + 40);
        Vector256<float> w6 = Avx.LoadVector256(wt + 48), w7 = Avx.LoadVector256(wt + 56), w8 = Avx.LoadVector256(wt + 64);
        nint row = wp * 8;
        for (int oy = 0; oy < bo; oy++)
            for (int ox = 0; ; ox += 8)
            {
                if (ox > outW - 8) ox = outW - 8;
                float* r0 = stage + (oy * sh * wp + ox * TS.N) * 8, r1 = r0 + row, r2 = r1 + row;
                Vector256<float> a0 = vb, a1 = vb, a2 = vb, a3 = vb, a4 = vb, a5 = vb, a6 = vb, a7 = vb;
                Tap3<TS>(r0, w0, w1, w2, ref a0, ref a1, ref a2, ref a3, ref a4, ref a5, ref a6, ref a7);
                Tap3<TS>(r1, w3, w4, w5, ref a0, ref a1, ref a2, ref a3, ref a4, ref a5, ref a6, ref a7);
                Tap3<TS>(r2, w6, w7, w8, ref a0, ref a1, ref a2, ref a3, ref a4, ref a5, ref a6, ref a7);
                if (!none && inReg)
                {
                    a0 = act.Apply<V256, Vector256<float>>(a0); a1 = act.Apply<V256, Vector256<float>>(a1);
                    a2 = act.Apply<V256, Vector256<float>>(a2); a3 = act.Apply<V256, Vector256<float>>(a3);
                    a4 = act.Apply<V256, Vector256<float>>(a4); a5 = act.Apply<V256, Vector256<float>>(a5);
                    a6 = act.Apply<V256, Vector256<float>>(a6); a7 = act.Apply<V256, Vector256<float>>(a7);
                }
                Avx.Store(tmp, a0); Avx.Store(tmp + 8, a1); Avx.Store(tmp + 16, a2); Avx.Store(tmp + 24, a3);
                Avx.Store(tmp + 32, a4); Avx.Store(tmp + 40, a5); Avx.Store(tmp + 48, a6); Avx.Store(tmp + 56, a7);
                if (!none && !inReg) act.Apply<V256, Vector256<float>>(tmp, 64);
                GemmCore.Transpose8x8(tmp, 8, y + oy * outW + ox, outPlane);
                if (ox == outW - 8) break;
            }
    }

    /// <summary>One kernel row's three taps (weights wa, wb, wc) for eight neighbouring outputs whose windows start at r.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Tap3<TS>(float* r, Vector256<float> wa, Vector256<float> wb, Vector256<float> wc, ref Vector256<float> a0, ref Vector256<float> a1,
        ref Vector256<float> a2, ref Vector256<float> a3, ref Vector256<float> a4, ref Vector256<float> a5, ref Vector256<float> a6,
        ref Vector256<float> a7) where TS : struct, IStrideW
    {
        int s = TS.N * 8;
        a0 = Fma.MultiplyAdd(wa, Avx.LoadVector256(r), a0); a0 = Fma.MultiplyAdd(wb, Avx.LoadVector256(r + 8), a0); a0 = Fma.MultiplyAdd(wc, Avx.LoadVector256(r + 16), a0);
        r += s;
        a1 = Fma.MultiplyAdd(wa, Avx.LoadVector256(r), a1); a1 = Fma.MultiplyAdd(wb, Avx.LoadVector256(r + 8), a1); a1 = Fma.MultiplyAdd(wc, Avx.LoadVector256(r + 16), a1);
        r += s;
        a2 = Fma.MultiplyAdd(wa, Avx.LoadVector256(r), a2); a2 = Fma.MultiplyAdd(wb, Avx.LoadVector256(r + 8), a2); a2 = Fma.MultiplyAdd(wc, Avx.LoadVector256(r + 16), a2);
        r += s;
        a3 = Fma.MultiplyAdd(wa, Avx.LoadVector256(r), a3); a3 = Fma.MultiplyAdd(wb, Avx.LoadVector256(r + 8), a3); a3 = Fma.MultiplyAdd(wc, Avx.LoadVector256(r + 16), a3);
        r += s;
        a4 = Fma.MultiplyAdd(wa, Avx.LoadVector256(r), a4); a4 = Fma.MultiplyAdd(wb, Avx.LoadVector256(r + 8), a4); a4 = Fma.MultiplyAdd(wc, Avx.LoadVector256(r + 16), a4);
        r += s;
        a5 = Fma.MultiplyAdd(wa, Avx.LoadVector256(r), a5); a5 = Fma.MultiplyAdd(wb, Avx.LoadVector256(r + 8), a5); a5 = Fma.MultiplyAdd(wc, Avx.LoadVector256(r + 16), a5);
        r += s;
        a6 = Fma.MultiplyAdd(wa, Avx.LoadVector256(r), a6); a6 = Fma.MultiplyAdd(wb, Avx.LoadVector256(r + 8), a6); a6 = Fma.MultiplyAdd(wc, Avx.LoadVector256(r + 16), a6);
        r += s;
        a7 = Fma.MultiplyAdd(wa, Avx.LoadVector256(r), a7); a7 = Fma.MultiplyAdd(wb, Avx.LoadVector256(r + 8), a7); a7 = Fma.MultiplyAdd(wc, Avx.LoadVector256(r + 16), a7);
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
