using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Runtime;

/// <summary>Convolution kernels for generated code (NCHW, float32).</summary>
public static unsafe class Conv
{
    /// <summary>
    /// 2-D convolution, NCHW. x [batch, inC, inH, inW], w [outC, inC/groups, kH, kW], bias [outC] or empty (no bias),
    /// y [batch, outC, outH, outW]. Padding is implicit zeros: padTop/padLeft shift the windows, the bottom/right pads
    /// are implied by outH/outW. <paramref name="activation"/> is applied to each output as it is stored (fused epilogue).
    /// <paramref name="accumulate"/>: y already holds a residual Z of y's shape and receives act(conv + bias + Z) (a
    /// Conv fused with the Add after it; not for depthwise). Allocation-free (small stack buffers only); y must not
    /// overlap x, w or bias. <paramref name="panels"/>: optionally the same weights packed into panels of 16 output
    /// channels (the generator writes them at build time for dense spatial kernels), which lets
    /// <see cref="ConvPanels"/> vectorise over output channels; empty: w alone. w may be empty where panels are given
    /// for a dense spatial kernel: the panels are then the only copy of the weights (plain loops over them where the
    /// vector kernel declines).
    /// </summary>
    /// <remarks>
    /// Strategy by shape: depthwise (one input channel per group) runs direct kernels: eight or sixteen channels per
    /// vector where there are at least eight (<see cref="DepthwiseBlocked"/>), else a flat or stride-phase band for short rows and stride 2
    /// (<see cref="ConvDirect"/>), else a kernel vectorised along the output row. Dense spatial kernels given packed
    /// weights (<paramref name="panels"/>) run <see cref="ConvPanels"/> where its band fits: tiles of output-channel
    /// vectors x pixels of a row. Every other convolution with a spatial
    /// kernel (stems, dense KxK) and stride 1 or 2 along W whose row band fits the stack runs <see cref="ConvPlanes"/>:
    /// an implicit GEMM over staged stride-phase planes, register tiles of output channels x vectors of positions, no
    /// im2col. 1x1 stride-1 unpadded convolutions are a GEMM over the input planes as they lie. Where the planes path
    /// declines (stride 3+, very many input channels, wide planes) stems with few taps take the direct band kernel, and
    /// the rest (strided or padded 1x1 too) an implicit-im2col GEMM (weights as A, input patches packed into a stack
    /// panel on the fly, never materialised).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Conv2D(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y,
        int batch, int inC, int inH, int inW, int outC, int kH, int kW, int outH, int outW,
        int strideH, int strideW, int padTop, int padLeft, int dilH, int dilW, int groups, Activation activation = default, bool accumulate = false, ReadOnlySpan<float> panels = default)
    {
        if (batch < 0 || inC <= 0 || inH <= 0 || inW <= 0 || outC <= 0 || kH <= 0 || kW <= 0 || outH < 0 || outW < 0
            || strideH <= 0 || strideW <= 0 || dilH <= 0 || dilW <= 0 || padTop < 0 || padLeft < 0 || groups <= 0)
            throw new ArgumentOutOfRangeException(nameof(groups), "Conv2D: invalid geometry");
        if (inC % groups != 0 || outC % groups != 0) throw new ArgumentException("Conv2D: groups must divide inC and outC", nameof(groups));
        int icg = inC / groups, ocg = outC / groups;
        if (accumulate && icg == 1 && groups > 1) throw new ArgumentException("Conv2D: accumulate is not supported for depthwise convolutions", nameof(accumulate));
        long inPlane = (long)inH * inW, outPlane = (long)outH * outW;
        long kSize = (long)icg * kH * kW;
        if (x.Length < batch * inC * inPlane) throw new ArgumentException("Conv2D: x too small", nameof(x));
        // the panels alone (the generator drops W where it packs them): dense spatial kernels only
        bool panelsOnly = w.Length == 0 && panels.Length != 0;
        if (panelsOnly ? icg == 1 && groups > 1 || kH * kW == 1 : w.Length < outC * kSize) throw new ArgumentException("Conv2D: w too small", nameof(w));
        if (y.Length < batch * outC * outPlane) throw new ArgumentException("Conv2D: y too small", nameof(y));
        if (bias.Length != 0 && bias.Length < outC) throw new ArgumentException("Conv2D: bias must be empty or hold outC values", nameof(bias));
        if (panels.Length != 0 && panels.Length < ConvPanels.PackedLength(outC, groups, (int)Math.Min(kSize, int.MaxValue)))
            throw new ArgumentException("Conv2D: panels too small", nameof(panels));
        if (batch == 0 || outPlane == 0) return;
        if (kSize > int.MaxValue || outPlane > int.MaxValue) throw new ArgumentException("Conv2D: tensor too large");

        int hw = (int)outPlane, k = (int)kSize;
        bool pointwise = kH == 1 && kW == 1 && strideH == 1 && strideW == 1 && padTop == 0 && padLeft == 0 && outH == inH && outW == inW;
        fixed (float* px = x, pw = w, pb = bias, py = y, pp = panels)
        {
            for (int nb = 0; nb < batch; nb++)
            {
                float* xb = px + nb * inC * inPlane;
                float* yb = py + nb * outC * outPlane;
                if (icg == 1 && groups > 1)
                {
                    Depthwise(xb, pw, bias.Length == 0 ? null : pb, yb, outC, ocg, inH, inW, kH, kW, outH, outW,
                        strideH, strideW, padTop, padLeft, dilH, dilW, activation);
                    continue;
                }
                // packed weights (dense spatial kernels): vectorised over output channels, no lane on padding columns
                if (pp != null && kH * kW > 1 && ConvPanels.TryRun(xb, pp, bias.Length == 0 ? null : pb, yb, groups, icg, ocg,
                        inH, inW, kH, kW, outH, outW, strideH, strideW, padTop, padLeft, dilH, dilW, activation, accumulate, panelsOnly))
                    continue;
                if (panelsOnly)
                {
                    ConvPanels.RunScalar(xb, pp, bias.Length == 0 ? null : pb, yb, groups, icg, ocg,
                        inH, inW, kH, kW, outH, outW, strideH, strideW, padTop, padLeft, dilH, dilW, activation, accumulate);
                    continue;
                }
                // dense spatial kernels (not depthwise): implicit GEMM on staged stride-phase planes, no im2col panels
                // (1x1 stays on the GEMM: 10-20% faster there in MobileNet and DS-CNN, nothing to gain from staging)
                if (kH * kW > 1 && ConvPlanes.Enabled && ConvPlanes.TryRun(xb, pw, bias.Length == 0 ? null : pb, yb, groups, icg, ocg,
                        inH, inW, kH, kW, outH, outW, strideH, strideW, padTop, padLeft, dilH, dilW, activation, accumulate))
                    continue;
                // where that declines, stems (a few input channels) with stride 2 or short rows: direct, no im2col panels
                // (with more channels, or 1x1, the GEMM's register tile reuses the packed input better)
                if (!pointwise && !accumulate && DirectDense && icg <= 4 && kH * kW > 1 && ConvDirect.TryRun(xb, pw, bias.Length == 0 ? null : pb, yb, icg, outC, ocg, inH, inW, kH, kW,
                        outH, outW, strideH, strideW, padTop, padLeft, dilH, dilW, activation))
                    continue;
                for (int g = 0; g < groups; g++)
                {
                    float* xg = xb + g * icg * inPlane;
                    var src = pointwise
                        ? new BSource { Kind = BSource.RowMajor, B = xg, Ldb = hw }
                        : new BSource
                        {
                            Kind = BSource.Im2Col, B = xg, InH = inH, InW = inW, KH = kH, KW = kW, OutW = outW,
                            SH = strideH, SW = strideW, PT = padTop, PL = padLeft, DH = dilH, DW = dilW,
                        };
                    GemmCore.Run(pw + (nint)g * ocg * k, k, 1, src, yb + g * ocg * outPlane, hw, ocg, hw, k, 1f, accumulate,
                        bias.Length == 0 ? null : pb + g * ocg, activation);
                }
            }
        }
    }

    /// <summary>Lets non-depthwise convolutions take the direct kernels (a switch for A/B measurements and tests).</summary>
    internal static bool DirectDense = true;

    // ---------------- depthwise ----------------

    static void Depthwise(float* x, float* w, float* bias, float* y, int outC, int mult, int inH, int inW, int kH, int kW,
        int outH, int outW, int sh, int sw, int pt, int pl, int dh, int dw, Activation act)
    {
        switch (SimdLevel.Bits)
        {
            case 512: Depthwise<V512, Vector512<float>>(x, w, bias, y, outC, mult, inH, inW, kH, kW, outH, outW, sh, sw, pt, pl, dh, dw, act); break;
            case 256: Depthwise<V256, Vector256<float>>(x, w, bias, y, outC, mult, inH, inW, kH, kW, outH, outW, sh, sw, pt, pl, dh, dw, act); break;
            case 128: Depthwise<V128, Vector128<float>>(x, w, bias, y, outC, mult, inH, inW, kH, kW, outH, outW, sh, sw, pt, pl, dh, dw, act); break;
            default: Depthwise<V0, float>(x, w, bias, y, outC, mult, inH, inW, kH, kW, outH, outW, sh, sw, pt, pl, dh, dw, act); break;
        }
    }

    /// <summary>First output index whose window start ox*s + off is at least lo: ceil((lo - off) / s), at least 0.</summary>
    internal static int FirstAtLeast(int lo, int off, int s)
    {
        int num = lo - off;
        if (num <= 0) return 0;
        return (num + s - 1) / s;
    }

    /// <summary>One past the last output index whose ox*s + off is at most hi (floor((hi - off) / s) + 1), at least 0.</summary>
    internal static int EndAtMost(int hi, int off, int s)
    {
        int num = hi - off;
        if (num < 0) return 0;
        return num / s + 1;
    }

    /// <summary>Floats of input the depthwise path stages on the stack (a band of zero-padded rows, 32 KiB).</summary>
    const int DwStage = 8192;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Depthwise<S, TV>(float* x, float* w, float* bias, float* y, int outC, int mult, int inH, int inW, int kH, int kW,
        int outH, int outW, int sh, int sw, int pt, int pl, int dh, int dw, Activation act)
        where S : struct, ISimd<TV> where TV : struct
    {
        // eight or more channels: channels in the vector lanes; else short rows and stride 2: the direct kernels (flat band / phases)
        if (mult == 1 && S.Lanes >= 8 && DepthwiseBlocked.TryRun(x, w, bias, y, outC, inH, inW, kH, kW, outH, outW, sh, sw, pt, pl, dh, dw, act))
            return;
        if (ConvDirect.TryRun<S, TV>(x, w, bias, y, 1, outC, mult, inH, inW, kH, kW, outH, outW, sh, sw, pt, pl, dh, dw, act)) return;
        int l = S.Lanes;
        int nv = (outW + l - 1) / l * l;          // output row rounded up to whole vectors
        int wp = nv + (kW - 1) * dw;              // staged row: every tap of every (rounded-up) output column lies inside
        int rowsPerOut = (kH - 1) * dh + 1;
        if (sw != 1 || l == 1 || rowsPerOut * wp > DwStage)
        {
            DepthwiseGeneral<S, TV>(x, w, bias, y, outC, mult, inH, inW, kH, kW, outH, outW, sh, sw, pt, pl, dh, dw, act);
            return;
        }
        // Stride 1 along rows: stage a band of input rows zero-padded on every side (top/bottom pads as zero rows, the
        // left pad and the rounded-up tail as zero columns) so that every output vector is kH*kW unconditional FMAs.
        float* stage = stackalloc float[DwStage];
        float* tail = stackalloc float[4 * 64];
        int bandOut = Math.Max(1, Math.Min(outH, ((DwStage / wp) - rowsPerOut) / sh + 1));
        int copyLen = Math.Max(0, Math.Min(inW, wp - pl));
        var epilogue = Epilogue.Of(act);
        for (int oc = 0; oc < outC; oc++)
        {
            float* xc = x + (nint)(oc / mult) * inH * inW;
            float* wc = w + (nint)oc * kH * kW;
            float* yc = y + (nint)oc * outH * outW;
            TV vb = S.Splat(bias == null ? 0f : bias[oc]);
            for (int oy0 = 0; oy0 < outH; oy0 += bandOut)
            {
                int oy1 = Math.Min(outH, oy0 + bandOut);
                int top = oy0 * sh - pt, rows = (oy1 - 1 - oy0) * sh + rowsPerOut;
                for (int r = 0; r < rows; r++)
                {
                    float* d = stage + r * wp;
                    int iy = top + r;
                    if ((uint)iy >= (uint)inH) { new Span<float>(d, wp).Clear(); continue; }
                    int t = 0;
                    for (; t < Math.Min(pl, wp); t++) d[t] = 0f;
                    new ReadOnlySpan<float>(xc + iy * inW, copyLen).CopyTo(new Span<float>(d + t, copyLen));
                    for (t += copyLen; t < wp; t++) d[t] = 0f;
                }
                switch (epilogue)
                {
                    case EpilogueKind.None: DwBand<S, TV, NoEpilogue>(stage, oy0, oy1, sh, wp, wc, kH, kW, dh, dw, vb, yc, outW, nv, tail, act); break;
                    case EpilogueKind.Relu: DwBand<S, TV, ReluEpilogue>(stage, oy0, oy1, sh, wp, wc, kH, kW, dh, dw, vb, yc, outW, nv, tail, act); break;
                    case EpilogueKind.Clip: DwBand<S, TV, ClipEpilogue>(stage, oy0, oy1, sh, wp, wc, kH, kW, dh, dw, vb, yc, outW, nv, tail, act); break;
                    case EpilogueKind.LeakyRelu: DwBand<S, TV, LeakyReluEpilogue>(stage, oy0, oy1, sh, wp, wc, kH, kW, dh, dw, vb, yc, outW, nv, tail, act); break;
                    case EpilogueKind.HardSwish: DwBand<S, TV, HardSwishEpilogue>(stage, oy0, oy1, sh, wp, wc, kH, kW, dh, dw, vb, yc, outW, nv, tail, act); break;
                    case EpilogueKind.HardSigmoid: DwBand<S, TV, HardSigmoidEpilogue>(stage, oy0, oy1, sh, wp, wc, kH, kW, dh, dw, vb, yc, outW, nv, tail, act); break;
                    default: DwBand<S, TV, AnyEpilogue>(stage, oy0, oy1, sh, wp, wc, kH, kW, dh, dw, vb, yc, outW, nv, tail, act); break;
                }
            }
        }
    }

    /// <summary>Output rows [oy0, oy1) of one channel from the staged band, two at a time.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static void DwBand<S, TV, A>(float* stage, int oy0, int oy1, int sh, int wp, float* wc, int kH, int kW, int dh, int dw, TV vb,
        float* yc, int outW, int nv, float* tail, in Activation act)
        where S : struct, ISimd<TV> where TV : struct where A : struct, IEpilogue
    {
        int oy = oy0;
        for (; oy + 2 <= oy1; oy += 2)
            DwRows<S, TV, R2, A>(stage + (oy - oy0) * sh * wp, sh * wp, wp, wc, kH, kW, dh, dw, vb, yc + oy * outW, outW, nv, tail, act);
        if (oy < oy1)
            DwRows<S, TV, R1, A>(stage + (oy - oy0) * sh * wp, 0, wp, wc, kH, kW, dh, dw, vb, yc + oy * outW, outW, nv, tail, act);
    }

    /// <summary>R.N output rows (their staged windows rowStep apart) of one channel, two vectors at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void DwRows<S, TV, R, A>(float* s0, int rowStep, int wp, float* wc, int kH, int kW, int dh, int dw, TV vb,
        float* yr, int outW, int nv, float* tail, in Activation act)
        where S : struct, ISimd<TV> where TV : struct where R : struct, IRows where A : struct, IEpilogue
    {
        int l = S.Lanes;
        float* s1 = s0 + rowStep;
        for (int v = 0; v < nv; v += 2 * l)
        {
            bool two = v + l < nv;
            TV a0 = vb, a1 = vb, b0 = vb, b1 = vb;
            for (int ky = 0; ky < kH; ky++)
            {
                float* p0 = s0 + ky * dh * wp + v, p1 = s1 + ky * dh * wp + v;
                float* wr = wc + ky * kW;
                for (int kx = 0; kx < kW; kx++, p0 += dw, p1 += dw)
                {
                    TV wv = S.Splat(wr[kx]);
                    a0 = S.Fma(wv, S.Load(p0), a0);
                    if (two) a1 = S.Fma(wv, S.Load(p0 + l), a1);
                    if (R.N > 1)
                    {
                        b0 = S.Fma(wv, S.Load(p1), b0);
                        if (two) b1 = S.Fma(wv, S.Load(p1 + l), b1);
                    }
                }
            }
            a0 = A.Apply<S, TV>(a0, act); a1 = A.Apply<S, TV>(a1, act);
            if (R.N > 1) { b0 = A.Apply<S, TV>(b0, act); b1 = A.Apply<S, TV>(b1, act); }
            if (v + 2 * l <= outW)
            {
                S.Store(yr + v, a0); S.Store(yr + v + l, a1);
                if (R.N > 1) { S.Store(yr + outW + v, b0); S.Store(yr + outW + v + l, b1); }
            }
            else
            {
                int cnt = outW - v;
                S.Store(tail, a0); S.Store(tail + l, a1);
                new ReadOnlySpan<float>(tail, cnt).CopyTo(new Span<float>(yr + v, cnt));
                if (R.N > 1)
                {
                    S.Store(tail, b0); S.Store(tail + l, b1);
                    new ReadOnlySpan<float>(tail, cnt).CopyTo(new Span<float>(yr + outW + v, cnt));
                }
            }
        }
        if (A.AfterStore(act))
        {
            act.Apply<S, TV>(yr, outW);
            if (R.N > 1) act.Apply<S, TV>(yr + outW, outW);
        }
    }

    /// <summary>Any stride: vectorised interior columns for stride 1, scalar elsewhere.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void DepthwiseGeneral<S, TV>(float* x, float* w, float* bias, float* y, int outC, int mult, int inH, int inW, int kH, int kW,
        int outH, int outW, int sh, int sw, int pt, int pl, int dh, int dw, Activation act)
        where S : struct, ISimd<TV> where TV : struct
    {
        int l = S.Lanes;
        // Output columns whose whole window row lies inside the input: ox*sw - pl >= 0 and ox*sw - pl + (kW-1)*dw <= inW-1.
        int oxLo = Math.Min(outW, FirstAtLeast(0, -pl, sw));
        int oxHi = Math.Max(oxLo, Math.Min(outW, EndAtMost(inW - 1, -pl + (kW - 1) * dw, sw)));
        for (int oc = 0; oc < outC; oc++)
        {
            float* xc = x + (nint)(oc / mult) * inH * inW;
            float* wc = w + (nint)oc * kH * kW;
            float b = bias == null ? 0f : bias[oc];
            for (int oy = 0; oy < outH; oy++)
            {
                float* yr = y + ((nint)oc * outH + oy) * outW;
                int iy0 = oy * sh - pt;
                int kyLo = FirstAtLeast(0, iy0, dh), kyHi = Math.Min(kH, EndAtMost(inH - 1, iy0, dh));
                if (kyLo >= kyHi) { new Span<float>(yr, outW).Fill(b); act.Apply<S, TV>(yr, outW); continue; }
                int ox = 0;
                for (; ox < oxLo; ox++) yr[ox] = EdgeSum(xc, wc, b, inW, kW, iy0, kyLo, kyHi, ox * sw - pl, dh, dw);
                if (sw == 1 && l > 1)
                {
                    TV vb = S.Splat(b);
                    for (; ox + 4 * l <= oxHi; ox += 4 * l)
                    {
                        TV s0 = vb, s1 = vb, s2 = vb, s3 = vb;
                        for (int ky = kyLo; ky < kyHi; ky++)
                        {
                            float* xr = xc + (iy0 + ky * dh) * inW + ox - pl;
                            float* wr = wc + ky * kW;
                            for (int kx = 0; kx < kW; kx++, xr += dw)
                            {
                                TV wv = S.Splat(wr[kx]);
                                s0 = S.Fma(wv, S.Load(xr), s0); s1 = S.Fma(wv, S.Load(xr + l), s1);
                                s2 = S.Fma(wv, S.Load(xr + 2 * l), s2); s3 = S.Fma(wv, S.Load(xr + 3 * l), s3);
                            }
                        }
                        S.Store(yr + ox, s0); S.Store(yr + ox + l, s1); S.Store(yr + ox + 2 * l, s2); S.Store(yr + ox + 3 * l, s3);
                    }
                    for (; ox + l <= oxHi; ox += l)
                    {
                        TV s0 = vb, s1 = S.Zero;
                        for (int ky = kyLo; ky < kyHi; ky++)
                        {
                            float* xr = xc + (iy0 + ky * dh) * inW + ox - pl;
                            float* wr = wc + ky * kW;
                            int kx = 0;
                            for (; kx + 2 <= kW; kx += 2, xr += 2 * dw)
                            {
                                s0 = S.Fma(S.Splat(wr[kx]), S.Load(xr), s0);
                                s1 = S.Fma(S.Splat(wr[kx + 1]), S.Load(xr + dw), s1);
                            }
                            if (kx < kW) s0 = S.Fma(S.Splat(wr[kx]), S.Load(xr), s0);
                        }
                        S.Store(yr + ox, S.Add(s0, s1));
                    }
                }
                for (; ox < oxHi; ox++)
                {
                    // interior column: every kx tap is inside the row
                    float s = b;
                    int ix = ox * sw - pl;
                    for (int ky = kyLo; ky < kyHi; ky++)
                    {
                        float* xr = xc + (iy0 + ky * dh) * inW + ix;
                        float* wr = wc + ky * kW;
                        for (int kx = 0; kx < kW; kx++) s += wr[kx] * xr[kx * dw];
                    }
                    yr[ox] = s;
                }
                for (; ox < outW; ox++) yr[ox] = EdgeSum(xc, wc, b, inW, kW, iy0, kyLo, kyHi, ox * sw - pl, dh, dw);
                // the row just written is in L1: the activation over it costs no trip to memory
                act.Apply<S, TV>(yr, outW);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float EdgeSum(float* xc, float* wc, float b, int inW, int kW, int iy0, int kyLo, int kyHi, int ix0, int dh, int dw)
    {
        int kxLo = FirstAtLeast(0, ix0, dw), kxHi = Math.Min(kW, EndAtMost(inW - 1, ix0, dw));
        float s = b;
        for (int ky = kyLo; ky < kyHi; ky++)
        {
            float* xr = xc + (iy0 + ky * dh) * inW + ix0;
            float* wr = wc + ky * kW;
            for (int kx = kxLo; kx < kxHi; kx++) s += wr[kx] * xr[kx * dw];
        }
        return s;
    }
}
