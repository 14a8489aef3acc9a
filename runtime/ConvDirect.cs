using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

/// <summary>
/// Direct convolution kernels for the shapes where the row-wise depthwise kernel and the im2col GEMM waste most:
/// small planes with short rows (every output row rounded up to whole vectors, per-row overhead), stride 2 (gathers)
/// and stems with few input channels (im2col panels as costly as the product). A band of the input planes is staged
/// on the stack, zero-padded on every side and split into its stride phases (polyphase: phase plane (py, px) holds
/// padded rows py, py+sH, ... and of them columns px, px+sW, ..., de-interleaved with vector shuffles for stride 2),
/// so that output (oy, ox) of tap (dy, dx) = (ky*dH, kx*dW) reads plane (dy % sH, dx % sW) at row oy + dy / sH and
/// column ox + dx / sW. The planes' rows are Wq = outW + (kW-1)*dW / sW apart, so output (oy, ox) is flat position
/// oy*Wq + ox for every tap: the whole band is one run of vectors (only Wq - outW columns per row are wasted, not a
/// vector's worth) with one unconditional FMA per tap (taps = input channels x kH x kW, staged offsets precomputed),
/// four independent vectors at a time (four output channels by three vectors for dense convolutions) into a stack
/// buffer; the fused activation runs over that buffer, then its rows are copied into y.
/// </summary>
internal static unsafe class ConvDirect
{
    const int StageFloats = 6144;   // staged input band (24 KiB, with the result buffer within L1)
    const int ResFloats = 2048;     // results of one band before they are copied to y
    internal const int RowFloats = 1024; // one padded input row before de-interleaving (stride 2)
    internal const int MaxTaps = 64;

    /// <summary><see cref="TryRun{S, TV}"/> at this machine's vector width.</summary>
    internal static bool TryRun(float* x, float* w, float* bias, float* y, int icg, int outC, int mult, int inH, int inW,
        int kH, int kW, int outH, int outW, int sh, int sw, int pt, int pl, int dh, int dw, in Activation act)
    {
        switch (SimdLevel.Bits)
        {
            case 512: return TryRun<V512, Vector512<float>>(x, w, bias, y, icg, outC, mult, inH, inW, kH, kW, outH, outW, sh, sw, pt, pl, dh, dw, act);
            case 256: return TryRun<V256, Vector256<float>>(x, w, bias, y, icg, outC, mult, inH, inW, kH, kW, outH, outW, sh, sw, pt, pl, dh, dw, act);
            case 128: return TryRun<V128, Vector128<float>>(x, w, bias, y, icg, outC, mult, inH, inW, kH, kW, outH, outW, sh, sw, pt, pl, dh, dw, act);
            default: return false;
        }
    }

    /// <summary>
    /// Convolves icg input planes per group (inH x inW each, group g's at x + g*icg planes) into outC output planes at
    /// y with weights w [outC, icg, kH, kW], mult output channels per group. Takes stride 2 along W, and stride 1 where
    /// the padded row is shorter than the output row rounded up to vectors; returns false (nothing written) otherwise.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool TryRun<S, TV>(float* x, float* w, float* bias, float* y, int icg, int outC, int mult, int inH, int inW,
        int kH, int kW, int outH, int outW, int sh, int sw, int pt, int pl, int dh, int dw, in Activation act)
        where S : struct, ISimd<TV> where TV : struct
    {
        int l = S.Lanes;
        int taps = icg * kH * kW;
        if (l == 1 || taps > MaxTaps || sw > 2) return false;
        int nv = (outW + l - 1) / l * l;
        int wq = outW + (kW - 1) * dw / sw, spanQ = (kH - 1) * dh / sh;
        if (sw == 1 && wq >= nv) return false;
        int phases = sh * sw;
        // band of output rows: each phase plane holds band + spanQ rows of wq; results band * wq
        // dense convolutions with several output channels per group: four channels per pass over the staged band (the
        // loaded input vectors feed four FMAs each), results of the four side by side
        int block = mult >= 4 ? 4 : 1, slack = 3 * l;
        // depthwise (many groups): two stage buffers, group g+1 staged before group g is computed, so the vector
        // loads never wait on the narrow stores that just wrote their data (failed store-to-load forwarding)
        int groups = outC / mult, nbuf = groups > 1 ? 2 : 1;
        int bo = Math.Min(outH, Math.Min((ResFloats / block - slack) / wq, ((StageFloats / nbuf / icg - slack) / phases) / wq - spanQ));
        if (bo < 1 || 2 * wq + 16 > RowFloats) return false;
        int planeQ = (bo + spanQ) * wq, chan = phases * planeQ + slack, resQ = bo * wq + slack;
        int* offs = stackalloc int[MaxTaps];
        for (int c = 0, t = 0; c < icg; c++)
            for (int ky = 0; ky < kH; ky++)
                for (int kx = 0; kx < kW; kx++)
                {
                    int dy = ky * dh, dx = kx * dw;
                    offs[t++] = c * chan + ((dy % sh) * sw + dx % sw) * planeQ + dy / sh * wq + dx / sw;
                }
        float* stage0 = stackalloc float[StageFloats];
        float* stage1 = stage0 + icg * chan;
        float* res = stackalloc float[ResFloats];
        float* prow = stackalloc float[RowFloats];
        // a padded row (stride 2): its zero columns stay zero, only the inside is copied per row
        int pw = sw * wq;
        new Span<float>(prow, RowFloats).Clear();
        var geo = new StageGeometry
        {
            InH = inH, InW = inW, Icg = icg, Sh = sh, Sw = sw, Rows = bo + spanQ, Wq = wq, PlaneQ = planeQ, Chan = chan,
            Slack = slack, Col = Math.Min(pl, pw), CopyLen = Math.Max(0, Math.Min(inW, pw - pl)),
        };
        int plane = inH * inW;
        for (int oy0 = 0; oy0 < outH; oy0 += bo)
        {
            int oy1 = Math.Min(outH, oy0 + bo), rows = oy1 - oy0, top = oy0 * sh - pt;
            // stride 1: the padding is the same for every channel, cleared once per band
            if (sw == 1) new Span<float>(stage0, nbuf * icg * chan).Clear();
            int n = ((rows - 1) * wq + outW + l - 1) / l * l;
            Stage<S, TV>(x, stage0, top, geo, prow);
            for (int g = 0; g < groups; g++)
            {
                float* stage = (g & 1) == 0 ? stage0 : stage1;
                if (g + 1 < groups) Stage<S, TV>(x + (nint)(g + 1) * icg * plane, (g & 1) == 0 ? stage1 : stage0, top, geo, prow);
                int m = 0;
                if (block == 4)
                    for (; m + 4 <= mult; m += 4)
                    {
                        int oc = g * mult + m;
                        Band4<S, TV>(stage, offs, w + (nint)oc * taps, taps, bias == null ? null : bias + oc, res, resQ, n);
                        for (int j = 0; j < 4; j++) CopyOut<S, TV>(res + j * resQ, n, wq, y + ((nint)(oc + j) * outH + oy0) * outW, outW, rows, act);
                    }
                for (; m < mult; m++)
                {
                    int oc = g * mult + m;
                    Band1<S, TV>(stage, offs, w + (nint)oc * taps, taps, bias == null ? 0f : bias[oc], res, n);
                    CopyOut<S, TV>(res, n, wq, y + ((nint)oc * outH + oy0) * outW, outW, rows, act);
                }
            }
        }
        return true;
    }

    /// <summary>
    /// offs[(c*kH + ky)*kW + kx]: where tap (c, ky, kx) of output position 0 lies in the staged phase planes (channels
    /// chan apart). The divisions run once per window tap, not once per channel: 4 per tap over 576 taps cost as much as
    /// a tenth of an 8x8 layer.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void TapOffsets(int* offs, int icg, int kH, int kW, int sh, int sw, int dh, int dw, int wq, int planeQ, int chan)
    {
        int kk = kH * kW;
        for (int ky = 0, t = 0; ky < kH; ky++)
            for (int kx = 0; kx < kW; kx++)
            {
                int dy = ky * dh, dx = kx * dw;
                offs[t++] = ((dy % sh) * sw + dx % sw) * planeQ + dy / sh * wq + dx / sw;
            }
        for (int c = 1; c < icg; c++)
            for (int t = 0; t < kk; t++) offs[c * kk + t] = offs[t] + c * chan;
    }

    internal struct StageGeometry
    {
        public int InH, InW, Icg, Sh, Sw, Rows, Wq, PlaneQ, Chan, Slack, Col, CopyLen;
    }

    /// <summary>Stages the band of one group's icg planes starting at padded row top into its phase planes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Stage<S, TV>(float* xg, float* stage, int top, in StageGeometry q, float* prow)
        where S : struct, ISimd<TV> where TV : struct
    {
        int plane = q.InH * q.InW;
        for (int c = 0; c < q.Icg; c++)
        {
            float* xc = xg + c * plane;
            float* sc = stage + c * q.Chan;
            if (q.Sw == 2) new Span<float>(sc + q.Sh * 2 * q.PlaneQ, q.Slack).Clear();
            for (int py = 0; py < q.Sh; py++)
                for (int i = 0; i < q.Rows; i++)
                {
                    int iy = top + py + i * q.Sh;
                    float* d = sc + py * q.Sw * q.PlaneQ + i * q.Wq;
                    if (q.Sw == 1)
                    {
                        if ((uint)iy < (uint)q.InH) GemmCore.Copy<S, TV>(d + q.Col, xc + iy * q.InW, q.CopyLen);
                    }
                    else if ((uint)iy >= (uint)q.InH)
                    {
                        new Span<float>(d, q.Wq).Clear();
                        new Span<float>(d + q.PlaneQ, q.Wq).Clear();
                    }
                    else
                    {
                        GemmCore.Copy<S, TV>(prow + q.Col, xc + iy * q.InW, q.CopyLen);
                        Deinterleave(prow, d, d + q.PlaneQ, q.Wq);
                    }
                }
        }
    }

    // The loops below are kept in small methods of their own: inside the large driver the JIT spills the accumulators.

    /// <summary>n floats of one output channel's flat band: bias + sum over taps of w[t] * stage[i + offs[t]], four vectors at a time.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static void Band1<S, TV>(float* s, int* offs, float* wc, int taps, float bias, float* res, int n)
        where S : struct, ISimd<TV> where TV : struct
    {
        int l = S.Lanes, i = 0;
        TV vb = S.Splat(bias);
        for (; i + 4 * l <= n; i += 4 * l)
        {
            TV a0 = vb, a1 = vb, a2 = vb, a3 = vb;
            float* p = s + i;
            for (int t = 0; t < taps; t++)
            {
                float* q = p + offs[t];
                TV wv = S.Splat(wc[t]);
                a0 = S.Fma(wv, S.Load(q), a0); a1 = S.Fma(wv, S.Load(q + l), a1);
                a2 = S.Fma(wv, S.Load(q + 2 * l), a2); a3 = S.Fma(wv, S.Load(q + 3 * l), a3);
            }
            S.Store(res + i, a0); S.Store(res + i + l, a1); S.Store(res + i + 2 * l, a2); S.Store(res + i + 3 * l, a3);
        }
        for (; i < n; i += l)
        {
            // two chains (even/odd taps) against the FMA latency
            TV a0 = vb, a1 = S.Zero;
            float* p = s + i;
            int t = 0;
            for (; t + 2 <= taps; t += 2)
            {
                a0 = S.Fma(S.Splat(wc[t]), S.Load(p + offs[t]), a0);
                a1 = S.Fma(S.Splat(wc[t + 1]), S.Load(p + offs[t + 1]), a1);
            }
            if (t < taps) a0 = S.Fma(S.Splat(wc[t]), S.Load(p + offs[t]), a0);
            S.Store(res + i, S.Add(a0, a1));
        }
    }

    /// <summary>
    /// Four output channels (weights taps apart, results rq apart) of the flat band, three vectors at a time: 12
    /// accumulators, each loaded input vector used by four FMAs. Computes n rounded up to three vectors.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static void Band4<S, TV>(float* s, int* offs, float* wc, int taps, float* bias, float* r, int rq, int n)
        where S : struct, ISimd<TV> where TV : struct
    {
        int l = S.Lanes;
        TV b0 = S.Zero, b1 = S.Zero, b2 = S.Zero, b3 = S.Zero;
        if (bias != null) { b0 = S.Splat(bias[0]); b1 = S.Splat(bias[1]); b2 = S.Splat(bias[2]); b3 = S.Splat(bias[3]); }
        float* w1 = wc + taps, w2 = w1 + taps, w3 = w2 + taps;
        for (int i = 0; i < n; i += 3 * l)
        {
            TV a00 = b0, a01 = b0, a02 = b0, a10 = b1, a11 = b1, a12 = b1, a20 = b2, a21 = b2, a22 = b2, a30 = b3, a31 = b3, a32 = b3;
            float* p = s + i;
            for (int t = 0; t < taps; t++)
            {
                float* q = p + offs[t];
                TV x0 = S.Load(q), x1 = S.Load(q + l), x2 = S.Load(q + 2 * l);
                TV wv = S.Splat(wc[t]); a00 = S.Fma(wv, x0, a00); a01 = S.Fma(wv, x1, a01); a02 = S.Fma(wv, x2, a02);
                wv = S.Splat(w1[t]); a10 = S.Fma(wv, x0, a10); a11 = S.Fma(wv, x1, a11); a12 = S.Fma(wv, x2, a12);
                wv = S.Splat(w2[t]); a20 = S.Fma(wv, x0, a20); a21 = S.Fma(wv, x1, a21); a22 = S.Fma(wv, x2, a22);
                wv = S.Splat(w3[t]); a30 = S.Fma(wv, x0, a30); a31 = S.Fma(wv, x1, a31); a32 = S.Fma(wv, x2, a32);
            }
            float* d = r + i;
            S.Store(d, a00); S.Store(d + l, a01); S.Store(d + 2 * l, a02); d += rq;
            S.Store(d, a10); S.Store(d + l, a11); S.Store(d + 2 * l, a12); d += rq;
            S.Store(d, a20); S.Store(d + l, a21); S.Store(d + 2 * l, a22); d += rq;
            S.Store(d, a30); S.Store(d + l, a31); S.Store(d + 2 * l, a32);
        }
    }

    /// <summary>The activation over the band's n results (still in L1), then its rows (wq apart) copied into y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void CopyOut<S, TV>(float* res, int n, int wq, float* y, int outW, int rows, in Activation act)
        where S : struct, ISimd<TV> where TV : struct
    {
        act.Apply<S, TV>(res, n);
        for (int r = 0; r < rows; r++) GemmCore.Copy<S, TV>(y + r * outW, res + r * wq, outW);
    }

    /// <summary>e[j] = p[2j], o[j] = p[2j + 1] for j &lt; half (8 at a time with AVX2 shuffles).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Deinterleave(float* p, float* e, float* o, int half)
    {
        int j = 0;
        if (Avx2.IsSupported)
        {
            for (; j + 8 <= half; j += 8)
            {
                Vector256<float> a = Avx.LoadVector256(p + 2 * j), b = Avx.LoadVector256(p + 2 * j + 8);
                Avx.Store(e + j, Avx2.Permute4x64(Avx.Shuffle(a, b, 0x88).AsDouble(), 0xD8).AsSingle());
                Avx.Store(o + j, Avx2.Permute4x64(Avx.Shuffle(a, b, 0xDD).AsDouble(), 0xD8).AsSingle());
            }
        }
        for (; j < half; j++) { e[j] = p[2 * j]; o[j] = p[2 * j + 1]; }
    }
}
