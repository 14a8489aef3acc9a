using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

/// <summary>
/// Dense convolutions with a spatial kernel (ResNet's 3x3 layers, stride 1 and 2, stems) as an implicit GEMM over
/// padded stride-phase planes, with no im2col panels: a band of the group's input planes is staged on the stack exactly
/// as <see cref="ConvDirect"/> stages stems (zero-padded, split by stride phase, rows Wq = outW + (kW-1)*dW/sW apart),
/// so every tap (input channel, ky, kx) of every output position of the band is one read at a constant offset from the
/// position's flat index. A register tile of 8 output channels x 3 vectors of positions (AVX-512; 6 x 2 where only 16
/// vector registers exist) then runs over all taps: per tap three vector loads and one broadcast weight per channel
/// feed 24 FMAs, the weights read in place (one pointer per output channel, [outC, icg*kH*kW] is already tap-major).
/// The Wq - outW extra columns per row are computed and dropped; bias, residual (accumulate) and activation are applied
/// as the band's rows are copied into y. The im2col GEMM packs a panel per 32 columns per K block and splits 16 or 32
/// output channels into row blocks of 6 (poor fits); here the staging is about one copy of the input per layer.
/// Measured 1.2-2.8x faster than the GEMM on MLPerf Tiny's and openWakeWord's dense layers.
/// </summary>
internal static unsafe class ConvPlanes
{
    const int StageFloats = 20480;  // staged band of every input channel of the group (80 KiB)
    const int ResFloats = 8192;     // one block of output channels' band results (32 KiB)
    const int MaxTaps = 4608;       // offset table on the stack (18 KiB): 512 input channels of 3x3

    /// <summary>Lets dense convolutions take this path (a switch for A/B measurements and tests).</summary>
    internal static bool Enabled = true;

    /// <summary><see cref="TryRun{S, TV, R, V}"/> at this machine's vector width and register count.</summary>
    internal static bool TryRun(float* x, float* w, float* bias, float* y, int groups, int icg, int ocg, int inH, int inW,
        int kH, int kW, int outH, int outW, int sh, int sw, int pt, int pl, int dh, int dw, in Activation act, bool accumulate)
    {
        // 32 vector registers (AVX-512 encodings): 24 accumulators + 3 inputs + a weight; 16: 12 + 2 + 1
        bool wide = Avx512F.IsSupported;
        switch (SimdLevel.Bits)
        {
            case 512: return TryRun<V512, Vector512<float>, R8, R3>(x, w, bias, y, groups, icg, ocg, inH, inW, kH, kW, outH, outW, sh, sw, pt, pl, dh, dw, act, accumulate);
            case 256 when wide: return TryRun<V256, Vector256<float>, R8, R3>(x, w, bias, y, groups, icg, ocg, inH, inW, kH, kW, outH, outW, sh, sw, pt, pl, dh, dw, act, accumulate);
            case 256: return TryRun<V256, Vector256<float>, R6, R2>(x, w, bias, y, groups, icg, ocg, inH, inW, kH, kW, outH, outW, sh, sw, pt, pl, dh, dw, act, accumulate);
            case 128: return TryRun<V128, Vector128<float>, R6, R2>(x, w, bias, y, groups, icg, ocg, inH, inW, kH, kW, outH, outW, sh, sw, pt, pl, dh, dw, act, accumulate);
            default: return false;
        }
    }

    /// <summary>
    /// One group: icg input planes at x, ocg output planes at y, weights w [ocg, icg, kH, kW], bias [ocg] or null.
    /// Returns false (nothing written) where the stride is not 1 or 2 along W, the taps do not fit the offset table, or a
    /// band of a few output rows does not fit the stack buffers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static bool TryRun<S, TV, RB, V>(float* x, float* w, float* bias, float* y, int groups, int icg, int ocg, int inH, int inW,
        int kH, int kW, int outH, int outW, int sh, int sw, int pt, int pl, int dh, int dw, in Activation act, bool accumulate)
        where S : struct, ISimd<TV> where TV : struct where RB : struct, IRows where V : struct, IRows
    {
        int l = S.Lanes, step = V.N * l;
        int taps = icg * kH * kW;
        if (taps > MaxTaps || sw > 2) return false;
        int wq = outW + (kW - 1) * dw / sw, spanQ = (kH - 1) * dh / sh, phases = sh * sw, slack = step;
        int bo = Math.Min(outH, Math.Min((ResFloats / RB.N - slack) / wq, ((StageFloats / icg - slack) / phases) / wq - spanQ));
        // bands of fewer rows than the window spans would stage most rows more than once
        if (bo < Math.Min(outH, Math.Max(2, spanQ)) || 2 * wq + 16 > ConvDirect.RowFloats) return false;
        int planeQ = (bo + spanQ) * wq, chan = phases * planeQ + slack, resQ = bo * wq + slack;
        int* offs = stackalloc int[taps];
        ConvDirect.TapOffsets(offs, icg, kH, kW, sh, sw, dh, dw, wq, planeQ, chan);
        float* stage = stackalloc float[StageFloats];
        float* res = stackalloc float[ResFloats];
        float* prow = stackalloc float[ConvDirect.RowFloats];
        int pw = sw * wq;
        new Span<float>(prow, ConvDirect.RowFloats).Clear();
        var geo = new ConvDirect.StageGeometry
        {
            InH = inH, InW = inW, Icg = icg, Sh = sh, Sw = sw, Rows = bo + spanQ, Wq = wq, PlaneQ = planeQ, Chan = chan,
            Slack = slack, Col = Math.Min(pl, pw), CopyLen = Math.Max(0, Math.Min(inW, pw - pl)),
        };
        int outPlane = outH * outW;
        for (int g = 0; g < groups; g++)
        {
            for (int oy0 = 0; oy0 < outH; oy0 += bo)
            {
                int rows = Math.Min(outH, oy0 + bo) - oy0;
                // stride 1: the padding is the same for every channel, cleared once per band
                if (sw == 1) new Span<float>(stage, icg * chan).Clear();
                ConvDirect.Stage<S, TV>(x + (nint)g * icg * inH * inW, stage, oy0 * sh - pt, geo, prow);
                int n = (rows - 1) * wq + outW;
                for (int oc = 0; oc < ocg; oc += RB.N)
                {
                    int mr = Math.Min(RB.N, ocg - oc);
                    int o = g * ocg + oc;
                    float* wb = w + (nint)o * taps, bb = bias == null ? null : bias + o;
                    // whole tiles, then the rest with as few vectors as cover it (small planes: 80 positions are 5 vectors, not 6)
                    int full = n / step * step, rest = n - full;
                    if (full > 0) Block<S, TV, V>(mr, stage, offs, wb, taps, bb, res, resQ, full);
                    if (rest > 2 * l) Block<S, TV, R3>(mr, stage + full, offs, wb, taps, bb, res + full, resQ, rest);
                    else if (rest > l) Block<S, TV, R2>(mr, stage + full, offs, wb, taps, bb, res + full, resQ, rest);
                    else if (rest > 0) Block<S, TV, R1>(mr, stage + full, offs, wb, taps, bb, res + full, resQ, rest);
                    for (int r = 0; r < mr; r++)
                    {
                        float* yr = y + (nint)(o + r) * outPlane + oy0 * outW, rr = res + r * resQ;
                        // residual first (the activation belongs to the sum), then the activation over the whole band
                        // in vectors (short rows would leave it to scalar tails), then the rows into y
                        // (rows as long as the staged ones, kW = 1 unpadded: the band is one run)
                        int runs = wq == outW ? 1 : rows, len = wq == outW ? n : outW;
                        if (accumulate)
                            for (int i = 0; i < runs; i++) AddRow<S, TV>(rr + i * wq, yr + i * outW, len);
                        act.Apply<S, TV>(rr, n);
                        for (int i = 0; i < runs; i++) GemmCore.Copy<S, TV>(yr + i * outW, rr + i * wq, len);
                    }
                }
            }
        }
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Block<S, TV, V>(int mr, float* s, int* offs, float* w, int taps, float* bias, float* res, int rq, int n)
        where S : struct, ISimd<TV> where TV : struct where V : struct, IRows
    {
        switch (mr)
        {
            case 8: Block<S, TV, R8, V>(s, offs, w, taps, bias, res, rq, n); break;
            case 7: Block<S, TV, R7, V>(s, offs, w, taps, bias, res, rq, n); break;
            case 6: Block<S, TV, R6, V>(s, offs, w, taps, bias, res, rq, n); break;
            case 5: Block<S, TV, R5, V>(s, offs, w, taps, bias, res, rq, n); break;
            case 4: Block<S, TV, R4, V>(s, offs, w, taps, bias, res, rq, n); break;
            case 3: Block<S, TV, R3, V>(s, offs, w, taps, bias, res, rq, n); break;
            case 2: Block<S, TV, R2, V>(s, offs, w, taps, bias, res, rq, n); break;
            default: Block<S, TV, R1, V>(s, offs, w, taps, bias, res, rq, n); break;
        }
    }

    /// <summary>
    /// R.N output channels (weights taps apart, results rq apart) of the band's n flat positions, V.N vectors at a
    /// time (n rounded up: the stage's slack keeps the extra reads inside it).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static void Block<S, TV, R, V>(float* s, int* offs, float* w, int taps, float* bias, float* res, int rq, int n)
        where S : struct, ISimd<TV> where TV : struct where R : struct, IRows where V : struct, IRows
    {
        int l = S.Lanes;
        TV b0 = S.Zero, b1 = S.Zero, b2 = S.Zero, b3 = S.Zero, b4 = S.Zero, b5 = S.Zero, b6 = S.Zero, b7 = S.Zero;
        if (bias != null)
        {
            b0 = S.Splat(bias[0]);
            if (R.N > 1) b1 = S.Splat(bias[1]);
            if (R.N > 2) b2 = S.Splat(bias[2]);
            if (R.N > 3) b3 = S.Splat(bias[3]);
            if (R.N > 4) b4 = S.Splat(bias[4]);
            if (R.N > 5) b5 = S.Splat(bias[5]);
            if (R.N > 6) b6 = S.Splat(bias[6]);
            if (R.N > 7) b7 = S.Splat(bias[7]);
        }
        float* w0 = w, w1 = w0 + taps, w2 = w1 + taps, w3 = w2 + taps, w4 = w3 + taps, w5 = w4 + taps, w6 = w5 + taps, w7 = w6 + taps;
        for (int i = 0; i < n; i += V.N * l)
        {
            TV a00 = b0, a01 = b0, a02 = b0, a10 = b1, a11 = b1, a12 = b1, a20 = b2, a21 = b2, a22 = b2, a30 = b3, a31 = b3, a32 = b3;
            TV a40 = b4, a41 = b4, a42 = b4, a50 = b5, a51 = b5, a52 = b5, a60 = b6, a61 = b6, a62 = b6, a70 = b7, a71 = b7, a72 = b7;
            float* p = s + i;
            for (int t = 0; t < taps; t++)
            {
                float* q = p + offs[t];
                TV x0 = S.Load(q), x1 = V.N > 1 ? S.Load(q + l) : x0, x2 = V.N > 2 ? S.Load(q + 2 * l) : x0;
                TV wv = S.Splat(w0[t]);
                a00 = S.Fma(wv, x0, a00); if (V.N > 1) a01 = S.Fma(wv, x1, a01); if (V.N > 2) a02 = S.Fma(wv, x2, a02);
                if (R.N > 1) { wv = S.Splat(w1[t]); a10 = S.Fma(wv, x0, a10); if (V.N > 1) a11 = S.Fma(wv, x1, a11); if (V.N > 2) a12 = S.Fma(wv, x2, a12); }
                if (R.N > 2) { wv = S.Splat(w2[t]); a20 = S.Fma(wv, x0, a20); if (V.N > 1) a21 = S.Fma(wv, x1, a21); if (V.N > 2) a22 = S.Fma(wv, x2, a22); }
                if (R.N > 3) { wv = S.Splat(w3[t]); a30 = S.Fma(wv, x0, a30); if (V.N > 1) a31 = S.Fma(wv, x1, a31); if (V.N > 2) a32 = S.Fma(wv, x2, a32); }
                if (R.N > 4) { wv = S.Splat(w4[t]); a40 = S.Fma(wv, x0, a40); if (V.N > 1) a41 = S.Fma(wv, x1, a41); if (V.N > 2) a42 = S.Fma(wv, x2, a42); }
                if (R.N > 5) { wv = S.Splat(w5[t]); a50 = S.Fma(wv, x0, a50); if (V.N > 1) a51 = S.Fma(wv, x1, a51); if (V.N > 2) a52 = S.Fma(wv, x2, a52); }
                if (R.N > 6) { wv = S.Splat(w6[t]); a60 = S.Fma(wv, x0, a60); if (V.N > 1) a61 = S.Fma(wv, x1, a61); if (V.N > 2) a62 = S.Fma(wv, x2, a62); }
                if (R.N > 7) { wv = S.Splat(w7[t]); a70 = S.Fma(wv, x0, a70); if (V.N > 1) a71 = S.Fma(wv, x1, a71); if (V.N > 2) a72 = S.Fma(wv, x2, a72); }
            }
            float* d = res + i;
            Put<S, TV, V>(d, l, a00, a01, a02);
            if (R.N > 1) Put<S, TV, V>(d + rq, l, a10, a11, a12);
            if (R.N > 2) Put<S, TV, V>(d + 2 * rq, l, a20, a21, a22);
            if (R.N > 3) Put<S, TV, V>(d + 3 * rq, l, a30, a31, a32);
            if (R.N > 4) Put<S, TV, V>(d + 4 * rq, l, a40, a41, a42);
            if (R.N > 5) Put<S, TV, V>(d + 5 * rq, l, a50, a51, a52);
            if (R.N > 6) Put<S, TV, V>(d + 6 * rq, l, a60, a61, a62);
            if (R.N > 7) Put<S, TV, V>(d + 7 * rq, l, a70, a71, a72);
        }
    }

    /// <summary>The first V.N of three accumulator vectors to d, l floats apart (a register tile's row).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Put<S, TV, V>(float* d, int l, TV v0, TV v1, TV v2)
        where S : struct, ISimd<TV> where TV : struct where V : struct, IRows
    {
        S.Store(d, v0);
        if (V.N > 1) S.Store(d + l, v1);
        if (V.N > 2) S.Store(d + 2 * l, v2);
    }

    /// <summary>d[0..n) += s[0..n): whole vectors, then 8 and 4 wide, then single values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void AddRow<S, TV>(float* d, float* s, int n)
        where S : struct, ISimd<TV> where TV : struct
    {
        int l = S.Lanes, i = 0;
        for (; i + l <= n; i += l) S.Store(d + i, S.Add(S.Load(d + i), S.Load(s + i)));
        if (l > 8 && i + 8 <= n) { Vector256.Store(Vector256.Load(d + i) + Vector256.Load(s + i), d + i); i += 8; }
        if (l > 4 && i + 4 <= n && Vector128.IsHardwareAccelerated) { Vector128.Store(Vector128.Load(d + i) + Vector128.Load(s + i), d + i); i += 4; }
        for (; i < n; i++) d[i] += s[i];
    }
}
