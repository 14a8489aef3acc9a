using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

/// <summary>
/// Dense convolutions with a spatial kernel, vectorised over output channels: the layout ONNX Runtime's NCHWc kernels
/// use, without converting the activations. The weights come packed at build time into panels of <see cref="Width"/>
/// output channels, tap-major ([panel][icg*kH*kW][16], zero past the group's channels: <see cref="Pack"/>), so a tap's
/// weights for 16-64 output channels are 1-4 vector loads. The input band is staged as <see cref="ConvPlanes"/> stages
/// it (zero-padded stride-phase planes, every tap a constant offset), and a register tile of up to 4 channel vectors x
/// up to 8 consecutive output pixels of one row broadcasts one input value per pixel per tap. Unlike the pixel-vectorised
/// <see cref="ConvPlanes"/>, no lane computes a padding column or a rounded-up tail: on small planes (ResNet-8's 8x8
/// and 16x16 layers, a third of their lanes wasted there) and stride 2 it keeps the FMAs busy. The tile's sums are
/// scattered into the NCHW output (plus the residual, then the activation over the band's rows).
/// </summary>
internal static unsafe class ConvPanels
{
    /// <summary>Output channels per packed panel (one AVX-512 vector; two AVX, four SSE).</summary>
    internal const int Width = 16;
    const int StageFloats = 20480;  // staged band of every input channel of the group (80 KiB), as ConvPlanes
    const int MaxTaps = 4608;       // offset table on the stack (18 KiB): 512 input channels of 3x3
    const int MaxChannels = 4096;   // a group's output channels (bias padded to whole vectors on the stack)
    const int PartFloats = 8192;    // partial sums of a group of rows for one channel tile (32 KiB)
    internal static int KBlockFloats = 4096;  // weights of one block of taps for one channel tile (16 KiB)
    internal static int ExpV = 0, ExpP = 0;

    /// <summary>Floats of <see cref="Pack"/>'s layout for these weights.</summary>
    internal static long PackedLength(int outC, int groups, int taps) => (long)groups * ((outC / groups + Width - 1) / Width) * Width * taps;

    /// <summary>
    /// Packs w [outC, icg, kH, kW] (taps = icg*kH*kW) per group into panels of 16 output channels, tap-major:
    /// panels[((g*blocks + b)*taps + t)*16 + i] = w[g*ocg + b*16 + i, t], 0 where b*16 + i is past the group.
    /// (The generator writes the same layout at build time: ModelGen.Compiler.ConvOp.PackPanels.)
    /// </summary>
    internal static void Pack(ReadOnlySpan<float> w, Span<float> panels, int outC, int groups, int taps)
    {
        int ocg = outC / groups, blocks = (ocg + Width - 1) / Width;
        panels.Slice(0, (int)PackedLength(outC, groups, taps)).Clear();
        for (int g = 0; g < groups; g++)
            for (int o = 0; o < ocg; o++)
            {
                int dst = ((g * blocks + o / Width) * taps) * Width + o % Width;
                for (int t = 0; t < taps; t++) panels[dst + t * Width] = w[(g * ocg + o) * taps + t];
            }
    }

    /// <summary><see cref="TryRun{S, TV}"/> at this machine's vector width; false for scalar code.</summary>
    internal static bool TryRun(float* x, float* panels, float* bias, float* y, int groups, int icg, int ocg, int inH, int inW,
        int kH, int kW, int outH, int outW, int sh, int sw, int pt, int pl, int dh, int dw, in Activation act, bool accumulate)
    {
        // 32 vector registers (AVX-512 encodings): tiles up to 24 accumulators; 16: up to 12
        bool wide = Avx512F.IsSupported;
        switch (SimdLevel.Bits)
        {
            case 512: return TryRun<V512, Vector512<float>>(x, panels, bias, y, groups, icg, ocg, inH, inW, kH, kW, outH, outW, sh, sw, pt, pl, dh, dw, act, accumulate, true);
            case 256: return TryRun<V256, Vector256<float>>(x, panels, bias, y, groups, icg, ocg, inH, inW, kH, kW, outH, outW, sh, sw, pt, pl, dh, dw, act, accumulate, wide);
            case 128: return TryRun<V128, Vector128<float>>(x, panels, bias, y, groups, icg, ocg, inH, inW, kH, kW, outH, outW, sh, sw, pt, pl, dh, dw, act, accumulate, false);
            default: return false;
        }
    }

    /// <summary>
    /// All groups: icg input planes per group at x, ocg output planes per group at y, packed weights, bias [groups*ocg]
    /// or null. Returns false (nothing written) where the stride along W is not 1 or 2, the taps do not fit the offset
    /// table, or a band of a few output rows does not fit the stack buffer.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static bool TryRun<S, TV>(float* x, float* panels, float* bias, float* y, int groups, int icg, int ocg, int inH, int inW,
        int kH, int kW, int outH, int outW, int sh, int sw, int pt, int pl, int dh, int dw, in Activation act, bool accumulate, bool wide)
        where S : struct, ISimd<TV> where TV : struct
    {
        int l = S.Lanes;
        int taps = icg * kH * kW, blocks = (ocg + Width - 1) / Width;
        if (taps > MaxTaps || sw > 2 || ocg > MaxChannels) return false;
        int wq = outW + (kW - 1) * dw / sw, spanQ = (kH - 1) * dh / sh, phases = sh * sw, slack = Width;
        int bo = Math.Min(outH, ((StageFloats / icg - slack) / phases) / wq - spanQ);
        // bands of fewer rows than the window spans would stage most rows more than once
        if (bo < Math.Min(outH, Math.Max(2, spanQ)) || 2 * wq + 16 > ConvDirect.RowFloats) return false;
        int planeQ = (bo + spanQ) * wq, chan = phases * planeQ + slack;
        int* offs = stackalloc int[taps];
        for (int c = 0, t = 0; c < icg; c++)
            for (int ky = 0; ky < kH; ky++)
                for (int kx = 0; kx < kW; kx++)
                {
                    int dy = ky * dh, dx = kx * dw;
                    offs[t++] = c * chan + ((dy % sh) * sw + dx % sw) * planeQ + dy / sh * wq + dx / sw;
                }
        float* stage = stackalloc float[StageFloats];
        float* prow = stackalloc float[ConvDirect.RowFloats];
        float* bpad = stackalloc float[blocks * Width];
        float* part = stackalloc float[PartFloats];
        new Span<float>(prow, ConvDirect.RowFloats).Clear();
        var geo = new ConvDirect.StageGeometry
        {
            InH = inH, InW = inW, Icg = icg, Sh = sh, Sw = sw, Rows = bo + spanQ, Wq = wq, PlaneQ = planeQ, Chan = chan,
            Slack = slack, Col = Math.Min(pl, sw * wq), CopyLen = Math.Max(0, Math.Min(inW, sw * wq - pl)),
        };
        int outPlane = outH * outW, nv = (ocg + l - 1) / l;
        // the tile: up to 4 channel vectors x 6 pixels or 3 x 8 (24 accumulators, 32 registers); 2 x 6 or 1 x 8 (16)
        int maxV = ExpV > 0 ? ExpV : wide ? 4 : 2;
        for (int g = 0; g < groups; g++)
        {
            new Span<float>(bpad, blocks * Width).Clear();
            if (bias != null) new ReadOnlySpan<float>(bias + g * ocg, ocg).CopyTo(new Span<float>(bpad, ocg));
            float* wg = panels + (nint)g * blocks * Width * taps;
            float* yg = y + (nint)g * ocg * outPlane;
            for (int oy0 = 0; oy0 < outH; oy0 += bo)
            {
                int rows = Math.Min(outH, oy0 + bo) - oy0;
                // stride 1: the padding is the same for every channel, cleared once per band
                if (sw == 1) new Span<float>(stage, icg * chan).Clear();
                ConvDirect.Stage<S, TV>(x + (nint)g * icg * inH * inW, stage, oy0 * sh - pt, geo, prow);
                for (int v0 = 0; v0 < nv;)
                {
                    int vt = Math.Min(maxV, nv - v0), vl = vt * l, oc0 = v0 * l, m = Math.Min(vl, ocg - oc0);
                    int pmax = ExpP > 0 ? ExpP : wide ? (vt == 4 ? 6 : 8) : (vt == 2 ? 6 : 8);
                    float* wa = Weights(wg, oc0, taps), wb = Weights(wg, oc0 + l, taps), wc = Weights(wg, oc0 + 2 * l, taps), wd = Weights(wg, oc0 + 3 * l, taps);
                    // the tile's weights over all taps (64 channels of 3x3 over 64 inputs: 147 KiB) outgrow L1: blocks of
                    // taps (16 KiB of weights) run over a group of rows, their partial sums in part (which bounds the rows)
                    int kc = Math.Max(1, KBlockFloats / vl), rg = Math.Max(1, PartFloats / (outW * vl));
                    for (int r0 = 0; r0 < rows; r0 += rg)
                    {
                        int r1 = Math.Min(rows, r0 + rg);
                        for (int t0 = 0; t0 < taps; t0 += kc)
                        {
                            int t1 = Math.Min(taps, t0 + kc);
                            for (int r = r0; r < r1; r++)
                                for (int ox = 0; ox < outW; ox += pmax)
                                    Tile<S, TV>(vt, Math.Min(pmax, outW - ox), stage + r * wq + ox, offs, t0, t1, wa, wb, wc, wd, t0 == 0, bpad + oc0,
                                        part + ((r - r0) * outW + ox) * vl, vl);
                        }
                        Scatter(part, yg + (nint)oc0 * outPlane + (oy0 + r0) * outW, outPlane, m, (r1 - r0) * outW, vl, accumulate);
                    }
                    // the activation belongs to the sum (residual included): over the band's rows of each channel
                    if (act.Kind != ActivationKind.None)
                        for (int o = oc0; o < oc0 + m; o++) act.Apply<S, TV>(yg + (nint)o * outPlane + oy0 * outW, rows * outW);
                    v0 += vt;
                }
            }
        }
        return true;
    }

    /// <summary>The packed weights of output channel oc (a multiple of the vector width) of a group, tap 0.</summary>
    static float* Weights(float* wg, int oc, int taps) => wg + (nint)(oc / Width) * taps * Width + oc % Width;

    /// <summary>The sums of n pixels ([pixel][channel], vl apart) into m output planes.</summary>
    static void Scatter(float* part, float* y, int outPlane, int m, int n, int vl, bool accumulate)
    {
        for (int o = 0; o < m; o++)
        {
            float* s = part + o;
            float* d = y + (nint)o * outPlane;
            if (accumulate) for (int j = 0; j < n; j++) d[j] += s[j * vl];
            else for (int j = 0; j < n; j++) d[j] = s[j * vl];
        }
    }

    internal static void TileExp(int vt, int pc, float* p, int* offs, int t0, int t1, float* wa, float* wb, float* wc, float* wd, bool first, float* bias, float* part, int vl)
        => Tile<V512, Vector512<float>>(vt, pc, p, offs, t0, t1, wa, wb, wc, wd, first, bias, part, vl);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Tile<S, TV>(int vt, int pc, float* p, int* offs, int t0, int t1, float* wa, float* wb, float* wc, float* wd, bool first, float* bias, float* part, int vl)
        where S : struct, ISimd<TV> where TV : struct
    {
        switch (vt)
        {
            case 4: Tile<S, TV, R4>(pc, p, offs, t0, t1, wa, wb, wc, wd, first, bias, part, vl); break;
            case 3: Tile<S, TV, R3>(pc, p, offs, t0, t1, wa, wb, wc, wd, first, bias, part, vl); break;
            case 2: Tile<S, TV, R2>(pc, p, offs, t0, t1, wa, wb, wc, wd, first, bias, part, vl); break;
            default: Tile<S, TV, R1>(pc, p, offs, t0, t1, wa, wb, wc, wd, first, bias, part, vl); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Tile<S, TV, V>(int pc, float* p, int* offs, int t0, int t1, float* wa, float* wb, float* wc, float* wd, bool first, float* bias, float* part, int vl)
        where S : struct, ISimd<TV> where TV : struct where V : struct, IRows
    {
        switch (pc)
        {
            case 8: Tile<S, TV, V, R8>(p, offs, t0, t1, wa, wb, wc, wd, first, bias, part, vl); break;
            case 7: Tile<S, TV, V, R7>(p, offs, t0, t1, wa, wb, wc, wd, first, bias, part, vl); break;
            case 6: Tile<S, TV, V, R6>(p, offs, t0, t1, wa, wb, wc, wd, first, bias, part, vl); break;
            case 5: Tile<S, TV, V, R5>(p, offs, t0, t1, wa, wb, wc, wd, first, bias, part, vl); break;
            case 4: Tile<S, TV, V, R4>(p, offs, t0, t1, wa, wb, wc, wd, first, bias, part, vl); break;
            case 3: Tile<S, TV, V, R3>(p, offs, t0, t1, wa, wb, wc, wd, first, bias, part, vl); break;
            case 2: Tile<S, TV, V, R2>(p, offs, t0, t1, wa, wb, wc, wd, first, bias, part, vl); break;
            default: Tile<S, TV, V, R1>(p, offs, t0, t1, wa, wb, wc, wd, first, bias, part, vl); break;
        }
    }

    /// <summary>
    /// V.N channel vectors (weights at wa..wd, 16 floats per tap) x P.N consecutive output pixels (inputs at p + offs[t]
    /// + j) over taps [t0, t1), starting from the bias (first block) or the partial sums at part ([pixel][channel], vl
    /// apart), which receive the new sums.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static void Tile<S, TV, V, P>(float* p, int* offs, int t0, int t1, float* wa, float* wb, float* wc, float* wd, bool first, float* bias, float* part, int vl)
        where S : struct, ISimd<TV> where TV : struct where V : struct, IRows where P : struct, IRows
    {
        int l = S.Lanes;
        TV b0 = S.Load(bias), b1 = V.N > 1 ? S.Load(bias + l) : b0, b2 = V.N > 2 ? S.Load(bias + 2 * l) : b0, b3 = V.N > 3 ? S.Load(bias + 3 * l) : b0;
        TV a00 = b0, a01 = b0, a02 = b0, a03 = b0, a04 = b0, a05 = b0, a06 = b0, a07 = b0;
        TV a10 = b1, a11 = b1, a12 = b1, a13 = b1, a14 = b1, a15 = b1, a16 = b1, a17 = b1;
        TV a20 = b2, a21 = b2, a22 = b2, a23 = b2, a24 = b2, a25 = b2, a26 = b2, a27 = b2;
        TV a30 = b3, a31 = b3, a32 = b3, a33 = b3, a34 = b3, a35 = b3, a36 = b3, a37 = b3;
        if (!first)
        {
            { float* o = part + 0 * l; a00 = S.Load(o + 0 * vl); if (P.N > 1) a01 = S.Load(o + 1 * vl); if (P.N > 2) a02 = S.Load(o + 2 * vl); if (P.N > 3) a03 = S.Load(o + 3 * vl); if (P.N > 4) a04 = S.Load(o + 4 * vl); if (P.N > 5) a05 = S.Load(o + 5 * vl); if (P.N > 6) a06 = S.Load(o + 6 * vl); if (P.N > 7) a07 = S.Load(o + 7 * vl); }
            if (V.N > 1) { float* o = part + 1 * l; a10 = S.Load(o + 0 * vl); if (P.N > 1) a11 = S.Load(o + 1 * vl); if (P.N > 2) a12 = S.Load(o + 2 * vl); if (P.N > 3) a13 = S.Load(o + 3 * vl); if (P.N > 4) a14 = S.Load(o + 4 * vl); if (P.N > 5) a15 = S.Load(o + 5 * vl); if (P.N > 6) a16 = S.Load(o + 6 * vl); if (P.N > 7) a17 = S.Load(o + 7 * vl); }
            if (V.N > 2) { float* o = part + 2 * l; a20 = S.Load(o + 0 * vl); if (P.N > 1) a21 = S.Load(o + 1 * vl); if (P.N > 2) a22 = S.Load(o + 2 * vl); if (P.N > 3) a23 = S.Load(o + 3 * vl); if (P.N > 4) a24 = S.Load(o + 4 * vl); if (P.N > 5) a25 = S.Load(o + 5 * vl); if (P.N > 6) a26 = S.Load(o + 6 * vl); if (P.N > 7) a27 = S.Load(o + 7 * vl); }
            if (V.N > 3) { float* o = part + 3 * l; a30 = S.Load(o + 0 * vl); if (P.N > 1) a31 = S.Load(o + 1 * vl); if (P.N > 2) a32 = S.Load(o + 2 * vl); if (P.N > 3) a33 = S.Load(o + 3 * vl); if (P.N > 4) a34 = S.Load(o + 4 * vl); if (P.N > 5) a35 = S.Load(o + 5 * vl); if (P.N > 6) a36 = S.Load(o + 6 * vl); if (P.N > 7) a37 = S.Load(o + 7 * vl); }
        }
        for (int t = t0, k = t0 * Width; t < t1; t++, k += Width)
        {
            float* q = p + offs[t];
            TV w0 = S.Load(wa + k), w1 = V.N > 1 ? S.Load(wb + k) : w0, w2 = V.N > 2 ? S.Load(wc + k) : w0, w3 = V.N > 3 ? S.Load(wd + k) : w0;
            { TV x = S.Splat(q[0]); a00 = S.Fma(w0, x, a00); if (V.N > 1) a10 = S.Fma(w1, x, a10); if (V.N > 2) a20 = S.Fma(w2, x, a20); if (V.N > 3) a30 = S.Fma(w3, x, a30); }
            if (P.N > 1) { TV x = S.Splat(q[1]); a01 = S.Fma(w0, x, a01); if (V.N > 1) a11 = S.Fma(w1, x, a11); if (V.N > 2) a21 = S.Fma(w2, x, a21); if (V.N > 3) a31 = S.Fma(w3, x, a31); }
            if (P.N > 2) { TV x = S.Splat(q[2]); a02 = S.Fma(w0, x, a02); if (V.N > 1) a12 = S.Fma(w1, x, a12); if (V.N > 2) a22 = S.Fma(w2, x, a22); if (V.N > 3) a32 = S.Fma(w3, x, a32); }
            if (P.N > 3) { TV x = S.Splat(q[3]); a03 = S.Fma(w0, x, a03); if (V.N > 1) a13 = S.Fma(w1, x, a13); if (V.N > 2) a23 = S.Fma(w2, x, a23); if (V.N > 3) a33 = S.Fma(w3, x, a33); }
            if (P.N > 4) { TV x = S.Splat(q[4]); a04 = S.Fma(w0, x, a04); if (V.N > 1) a14 = S.Fma(w1, x, a14); if (V.N > 2) a24 = S.Fma(w2, x, a24); if (V.N > 3) a34 = S.Fma(w3, x, a34); }
            if (P.N > 5) { TV x = S.Splat(q[5]); a05 = S.Fma(w0, x, a05); if (V.N > 1) a15 = S.Fma(w1, x, a15); if (V.N > 2) a25 = S.Fma(w2, x, a25); if (V.N > 3) a35 = S.Fma(w3, x, a35); }
            if (P.N > 6) { TV x = S.Splat(q[6]); a06 = S.Fma(w0, x, a06); if (V.N > 1) a16 = S.Fma(w1, x, a16); if (V.N > 2) a26 = S.Fma(w2, x, a26); if (V.N > 3) a36 = S.Fma(w3, x, a36); }
            if (P.N > 7) { TV x = S.Splat(q[7]); a07 = S.Fma(w0, x, a07); if (V.N > 1) a17 = S.Fma(w1, x, a17); if (V.N > 2) a27 = S.Fma(w2, x, a27); if (V.N > 3) a37 = S.Fma(w3, x, a37); }
        }
        { float* o = part + 0 * l; S.Store(o + 0 * vl, a00); if (P.N > 1) S.Store(o + 1 * vl, a01); if (P.N > 2) S.Store(o + 2 * vl, a02); if (P.N > 3) S.Store(o + 3 * vl, a03); if (P.N > 4) S.Store(o + 4 * vl, a04); if (P.N > 5) S.Store(o + 5 * vl, a05); if (P.N > 6) S.Store(o + 6 * vl, a06); if (P.N > 7) S.Store(o + 7 * vl, a07); }
        if (V.N > 1) { float* o = part + 1 * l; S.Store(o + 0 * vl, a10); if (P.N > 1) S.Store(o + 1 * vl, a11); if (P.N > 2) S.Store(o + 2 * vl, a12); if (P.N > 3) S.Store(o + 3 * vl, a13); if (P.N > 4) S.Store(o + 4 * vl, a14); if (P.N > 5) S.Store(o + 5 * vl, a15); if (P.N > 6) S.Store(o + 6 * vl, a16); if (P.N > 7) S.Store(o + 7 * vl, a17); }
        if (V.N > 2) { float* o = part + 2 * l; S.Store(o + 0 * vl, a20); if (P.N > 1) S.Store(o + 1 * vl, a21); if (P.N > 2) S.Store(o + 2 * vl, a22); if (P.N > 3) S.Store(o + 3 * vl, a23); if (P.N > 4) S.Store(o + 4 * vl, a24); if (P.N > 5) S.Store(o + 5 * vl, a25); if (P.N > 6) S.Store(o + 6 * vl, a26); if (P.N > 7) S.Store(o + 7 * vl, a27); }
        if (V.N > 3) { float* o = part + 3 * l; S.Store(o + 0 * vl, a30); if (P.N > 1) S.Store(o + 1 * vl, a31); if (P.N > 2) S.Store(o + 2 * vl, a32); if (P.N > 3) S.Store(o + 3 * vl, a33); if (P.N > 4) S.Store(o + 4 * vl, a34); if (P.N > 5) S.Store(o + 5 * vl, a35); if (P.N > 6) S.Store(o + 6 * vl, a36); if (P.N > 7) S.Store(o + 7 * vl, a37); }

    }
}
internal static unsafe class ConvPanelsExp
{
    internal static double Raw(int vt, int pc, int taps, int reps)
    {
        var st = new float[taps + 64]; var w = new float[taps * 16 * 4 + 64]; var part = new float[4096]; var bias = new float[64];
        int[] offs = new int[taps]; for (int i = 0; i < taps; i++) offs[i] = i;
        var sw = System.Diagnostics.Stopwatch.StartNew();
        fixed (float* ps = st, pw = w, pp = part, pb = bias) fixed (int* po = offs)
        {
            for (int r = 0; r < reps; r++)
                ConvPanels.TileExp(vt, pc, ps, po, 0, taps, pw, pw + taps * 16, pw + 2 * taps * 16, pw + 3 * taps * 16, true, pb, pp, 64);
        }
        return (double)reps * taps * vt * pc * 16 / sw.Elapsed.TotalSeconds / 1e9;
    }
}
