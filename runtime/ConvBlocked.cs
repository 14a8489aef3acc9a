using System;
using System.Runtime.CompilerServices;

namespace ModelGen.Runtime;

/// <summary>
/// Float convolutions on channel-blocked tensors (NCHW16c: element (n, c, h, w) at ((n * C/16 + c/16) * H*W + h*W + w) *
/// 16 + c % 16), for chains of depthwise and 1x1 layers (ModelGen.Compiler's ChannelBlocking pass, Net profile). In NCHW
/// each of these layers moves its data between planes and vectors of channels: the depthwise kernel transposes its
/// input in and its output out (<see cref="DepthwiseBlocked"/>), the 1x1 kernel of small planes transposes its output
/// (<see cref="PointwiseConv"/>). Blocked, a position's 16 channels are one 64-byte run: the depthwise layer loads and
/// stores whole vectors of them, the 1x1 layer broadcasts an input channel of a position and stores a position's output
/// channels as vectors, and the chain pays one transposition at each end (<see cref="ToBlocks"/>,
/// <see cref="FromBlocks"/>). Written once over <see cref="ISimd{TV}"/>: a block is one 512-bit vector, two 256-bit or
/// four 128-bit ones, sixteen scalars. Channel counts: multiples of 16.
/// </summary>
public static unsafe class ConvBlocked
{
    /// <summary>Channels per block.</summary>
    public const int Block = 16;

    const int StageFloats = 8192;   // a band of one slice's padded input rows (32 KiB)
    internal const int MaxTaps = 64;

    /// <summary>y (blocked) = x (NCHW [batch, channels, plane]) reordered; channels a multiple of 16.</summary>
    public static void ToBlocks(ReadOnlySpan<float> x, Span<float> y, int batch, int channels, int plane) => Reorder(x, y, batch, channels, plane, true);

    /// <summary>y (NCHW) = x (blocked) reordered: the inverse of <see cref="ToBlocks"/>.</summary>
    public static void FromBlocks(ReadOnlySpan<float> x, Span<float> y, int batch, int channels, int plane) => Reorder(x, y, batch, channels, plane, false);

    /// <summary>8 channels x 8 positions at a time through registers (AVX), the positions past the last 8 one by one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Reorder(ReadOnlySpan<float> x, Span<float> y, int batch, int channels, int plane, bool toBlocks)
    {
        Check(x.Length, y.Length, batch, channels, plane);
        fixed (float* px = x, py = y)
            for (int nb = 0; nb < batch; nb++)
            {
                float* xb = px + (nint)nb * channels * plane, yb = py + (nint)nb * channels * plane;
                for (int c = 0; c < channels; c += 8)
                {
                    // the 8 channels' first position in both layouts, and how far apart positions and channels lie
                    float* planes = (toBlocks ? xb : yb) + (nint)c * plane, blocks = (toBlocks ? yb : xb) + (nint)(c / Block) * plane * Block + c % Block;
                    float* src = toBlocks ? planes : blocks, dst = toBlocks ? blocks : planes;
                    nint sPos = toBlocks ? 1 : Block, sCh = toBlocks ? plane : 1, dPos = toBlocks ? Block : 1, dCh = toBlocks ? 1 : plane;
                    int p = 0;
                    if (System.Runtime.Intrinsics.X86.Avx.IsSupported)
                        for (; p + 8 <= plane; p += 8) GemmCore.Transpose8x8(src + p * sPos, toBlocks ? plane : Block, dst + p * dPos, toBlocks ? Block : plane);
                    for (; p < plane; p++)
                        for (int i = 0; i < 8; i++) dst[p * dPos + i * dCh] = src[p * sPos + i * sCh];
                }
            }
    }

    /// <summary>
    /// y = x * scale[n, c], x and y [batch, channels, plane] blocked (y may be x), scale [batch, channels]: a
    /// squeeze-excite gate applied to a chain's tensor where it lies, a vector of 16 gates per block.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ScaleChannels(ReadOnlySpan<float> x, ReadOnlySpan<float> scale, Span<float> y, int batch, int channels, int plane)
    {
        if (batch < 0 || channels <= 0 || channels % Block != 0 || plane < 0) throw new ArgumentOutOfRangeException(nameof(channels), "ConvBlocked.ScaleChannels: invalid geometry");
        if (x.Length < (long)batch * channels * plane || y.Length < (long)batch * channels * plane || scale.Length < (long)batch * channels)
            throw new ArgumentException("ConvBlocked.ScaleChannels: sizes do not agree");
        fixed (float* px = x, ps = scale, py = y)
            switch (SimdLevel.Bits)
            {
                case 512: ScaleChannels<V512, System.Runtime.Intrinsics.Vector512<float>>(px, ps, py, batch * channels / Block, plane); break;
                case 256: ScaleChannels<V256, System.Runtime.Intrinsics.Vector256<float>>(px, ps, py, batch * channels / Block, plane); break;
                case 128: ScaleChannels<V128, System.Runtime.Intrinsics.Vector128<float>>(px, ps, py, batch * channels / Block, plane); break;
                default: ScaleChannels<V0, float>(px, ps, py, batch * channels / Block, plane); break;
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void ScaleChannels<S, TV>(float* x, float* scale, float* y, int blocks, int plane) where S : struct, ISimd<TV> where TV : struct
    {
        int l = S.Lanes;
        for (int b = 0; b < blocks; b++)
            for (int j = 0; j < Block; j += l)
            {
                TV g = S.Load(scale + b * Block + j);
                float* s = x + (nint)b * plane * Block + j, d = y + (nint)b * plane * Block + j;
                for (int p = 0; p < plane; p++) S.Store(d + p * Block, S.Mul(S.Load(s + p * Block), g));
            }
    }

    /// <summary>
    /// Max pooling of a blocked x [batch, channels, inH, inW] into a blocked y [batch, channels, outH, outW] (channels a
    /// multiple of 16; ONNX MaxPool's windows: pads, strides, dilations, ceil mode as outH/outW say): every tap of a
    /// window is a whole vector of a block's 16 channels, maxed in registers (the hardware's max, as Pool's 3-wide
    /// stride-2 kernel takes it), no shuffles. A window with no tap inside the input gives -inf. Allocation-free.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MaxPool(ReadOnlySpan<float> x, Span<float> y, int batch, int channels, int inH, int inW, int outH, int outW,
        int kH, int kW, int strideH, int strideW, int padTop, int padLeft, int dilH, int dilW)
    {
        if (batch < 0 || channels <= 0 || channels % Block != 0 || inH <= 0 || inW <= 0 || outH < 0 || outW < 0 || kH <= 0 || kW <= 0
            || strideH <= 0 || strideW <= 0 || dilH <= 0 || dilW <= 0 || padTop < 0 || padLeft < 0)
            throw new ArgumentOutOfRangeException(nameof(channels), "ConvBlocked.MaxPool: invalid geometry");
        if (x.Length < (long)batch * channels * inH * inW || y.Length < (long)batch * channels * outH * outW)
            throw new ArgumentException("ConvBlocked.MaxPool: sizes do not agree");
        int blocks = batch * channels / Block;
        fixed (float* px = x, py = y)
            switch (SimdLevel.Bits)
            {
                case 512: MaxPool<V512, System.Runtime.Intrinsics.Vector512<float>>(px, py, blocks, inH, inW, outH, outW, kH, kW, strideH, strideW, padTop, padLeft, dilH, dilW); break;
                case 256: MaxPool<V256, System.Runtime.Intrinsics.Vector256<float>>(px, py, blocks, inH, inW, outH, outW, kH, kW, strideH, strideW, padTop, padLeft, dilH, dilW); break;
                case 128: MaxPool<V128, System.Runtime.Intrinsics.Vector128<float>>(px, py, blocks, inH, inW, outH, outW, kH, kW, strideH, strideW, padTop, padLeft, dilH, dilW); break;
                default: MaxPool<V0, float>(px, py, blocks, inH, inW, outH, outW, kH, kW, strideH, strideW, padTop, padLeft, dilH, dilW); break;
            }
    }

    /// <summary>Input columns up to which <see cref="MaxPool{S, TV}"/> reduces a window's rows into a stack row first (32 KB).</summary>
    const int PoolCols = 512;

    /// <summary>
    /// Per block and output row: the window's rows maxed column by column into a stack row (a vector per input column),
    /// then each output the max of its columns there; chains of at most kH and kW maxes, independent across columns
    /// (one chain of kH x kW maxes per output ran at the latency of vmaxps: 30 us for SqueezeNet's 64 x 47x47 pool).
    /// The outputs whose window lies inside the row skip the per-output bounds (3-wide windows: their own loop, which
    /// with the rows' maxes in small methods took that pool from 15-16 to 9.6-10.7 us). Wider rows: a window at a time.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void MaxPool<S, TV>(float* x, float* y, int blocks, int inH, int inW, int outH, int outW, int kH, int kW, int sh, int sw, int pt, int pl, int dh, int dw)
        where S : struct, ISimd<TV> where TV : struct
    {
        // the window's rows as pointers (each load's address a pointer plus the column)
        int l = S.Lanes;
        nint inPlane = (nint)inH * inW * Block, outPlane = (nint)outH * outW * Block, rowStride = (nint)inW * Block, tap = (nint)dw * Block;
        bool staged = inW <= PoolCols;
        float* row = stackalloc float[staged ? inW * Block : 0];
        float** rows = stackalloc float*[kH];
        for (int b = 0; b < blocks; b++)
        {
            float* xb = x + b * inPlane, yb = y + b * outPlane;
            for (int oy = 0; oy < outH; oy++)
            {
                int iy0 = oy * sh - pt, nr = 0;
                int kyLo = Conv.FirstAtLeast(0, iy0, dh), kyHi = Math.Min(kH, Conv.EndAtMost(inH - 1, iy0, dh));
                for (int ky = kyLo; ky < kyHi; ky++) rows[nr++] = xb + (nint)(iy0 + ky * dh) * rowStride;
                float* yr = yb + (nint)oy * outW * Block;
                if (staged)
                {
                    if (nr == 0) new Span<float>(row, inW * Block).Fill(float.NegativeInfinity);
                    else if (nr == 3) MaxOf3<S, TV>(rows[0], rows[1], rows[2], row, rowStride);
                    else
                        for (nint i = 0; i < rowStride; i += l)
                        {
                            TV a = S.Load(rows[0] + i);
                            for (int r = 1; r < nr; r++) a = S.MaxNative(a, S.Load(rows[r] + i));
                            S.Store(row + i, a);
                        }
                }
                // outputs whose whole window row lies inside the input: no bounds per output
                int oxLo = Math.Min(outW, Conv.FirstAtLeast(0, -pl, sw));
                int oxHi = Math.Max(oxLo, Math.Min(outW, Conv.EndAtMost(inW - 1, -pl + (kW - 1) * dw, sw)));
                if (staged && kW == 3 && l == Block)
                {
                    MaxOf3Strided<S, TV>(row + (nint)(oxLo * sw - pl) * Block, tap, (nint)sw * Block, yr + (nint)oxLo * Block, oxHi - oxLo);
                    PoolEdges<S, TV>(yr, row, rows, nr, 0, oxLo, inW, kW, sw, pl, dw);
                    PoolEdges<S, TV>(yr, row, rows, nr, oxHi, outW, inW, kW, sw, pl, dw);
                }
                else PoolEdges<S, TV>(yr, staged ? row : null, rows, nr, 0, outW, inW, kW, sw, pl, dw);
            }
        }
    }

    /// <summary>d[i] = max(a[i], b[i], c[i]) for n floats (n a multiple of the vector): a window's three rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void MaxOf3<S, TV>(float* a, float* b, float* c, float* d, nint n) where S : struct, ISimd<TV> where TV : struct
    {
        for (nint i = 0; i < n; i += S.Lanes) S.Store(d + i, S.MaxNative(S.MaxNative(S.Load(a + i), S.Load(b + i)), S.Load(c + i)));
    }

    /// <summary>
    /// n outputs of one vector each, y[o] = the max of the vectors at s + o * step, + tap and + 2 tap: a stack row's
    /// 3-wide windows. Its own method: inside MaxPool's loops the JIT spilled the pointers and reloaded them per output.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void MaxOf3Strided<S, TV>(float* s, nint tap, nint step, float* y, int n) where S : struct, ISimd<TV> where TV : struct
    {
        for (int o = 0; o < n; o++, s += step, y += S.Lanes) S.Store(y, S.MaxNative(S.MaxNative(S.Load(s), S.Load(s + tap)), S.Load(s + 2 * tap)));
    }

    /// <summary>
    /// Outputs from .. to of a row of <see cref="MaxPool{S, TV}"/> with each window's columns clipped to the input: from
    /// the stack row where there is one, else from the window's nr input rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PoolEdges<S, TV>(float* yr, float* row, float** rows, int nr, int from, int to, int inW, int kW, int sw, int pl, int dw)
        where S : struct, ISimd<TV> where TV : struct
    {
        int l = S.Lanes;
        nint tap = (nint)dw * Block;
        for (int ox = from; ox < to; ox++)
        {
            int ix0 = ox * sw - pl;
            int kxLo = Conv.FirstAtLeast(0, ix0, dw), kxHi = Math.Min(kW, Conv.EndAtMost(inW - 1, ix0, dw));
            float* d = yr + (nint)ox * Block;
            for (int j = 0; j < Block; j += l)
            {
                TV a = S.Splat(float.NegativeInfinity);
                if (row != null)
                {
                    float* c = row + (nint)ix0 * Block + j;
                    for (int kx = kxLo; kx < kxHi; kx++) a = S.MaxNative(a, S.Load(c + kx * tap));
                }
                else
                    for (int r = 0; r < nr; r++)
                    {
                        float* c = rows[r] + (nint)ix0 * Block + j;
                        for (int kx = kxLo; kx < kxHi; kx++) a = S.MaxNative(a, S.Load(c + kx * tap));
                    }
                S.Store(d + j, a);
            }
        }
    }

    /// <summary>
    /// Global average (or max) pooling of a blocked x [batch, channels, plane] into y [batch, channels] (plain order: one
    /// value per channel): a chain's last tensor pooled where it lies, with no reorder back to NCHW first. Per block,
    /// the positions' vectors reduced in four chains (the first position and the last few in one, every third of the
    /// others in each of the rest), then a mean divided by the plane's size.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GlobalPool(ReadOnlySpan<float> x, Span<float> y, int batch, int channels, int plane, bool max)
    {
        if (batch < 0 || channels <= 0 || channels % Block != 0 || plane <= 0) throw new ArgumentOutOfRangeException(nameof(channels), "ConvBlocked.GlobalPool: invalid geometry");
        if (x.Length < (long)batch * channels * plane || y.Length < (long)batch * channels) throw new ArgumentException("ConvBlocked.GlobalPool: sizes do not agree");
        fixed (float* px = x, py = y)
            switch (SimdLevel.Bits)
            {
                case 512: GlobalPool<V512, System.Runtime.Intrinsics.Vector512<float>>(px, py, batch * channels / Block, plane, max); break;
                case 256: GlobalPool<V256, System.Runtime.Intrinsics.Vector256<float>>(px, py, batch * channels / Block, plane, max); break;
                case 128: GlobalPool<V128, System.Runtime.Intrinsics.Vector128<float>>(px, py, batch * channels / Block, plane, max); break;
                default: GlobalPool<V0, float>(px, py, batch * channels / Block, plane, max); break;
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void GlobalPool<S, TV>(float* x, float* y, int blocks, int plane, bool max) where S : struct, ISimd<TV> where TV : struct
    {
        int l = S.Lanes;
        for (int b = 0; b < blocks; b++)
            for (int j = 0; j < Block; j += l)
            {
                float* p = x + (nint)b * plane * Block + j, d = y + b * Block + j;
                TV a0 = S.Load(p), a1 = a0, a2 = a0, a3 = a0;
                int i = 1;
                if (max)
                {
                    for (; i + 3 <= plane; i += 3) { a1 = S.Max(a1, S.Load(p + i * Block)); a2 = S.Max(a2, S.Load(p + (i + 1) * Block)); a3 = S.Max(a3, S.Load(p + (i + 2) * Block)); }
                    for (; i < plane; i++) a0 = S.Max(a0, S.Load(p + i * Block));
                    S.Store(d, S.Max(S.Max(a0, a1), S.Max(a2, a3)));
                }
                else
                {
                    a1 = a2 = a3 = S.Zero;
                    for (; i + 3 <= plane; i += 3) { a1 = S.Add(a1, S.Load(p + i * Block)); a2 = S.Add(a2, S.Load(p + (i + 1) * Block)); a3 = S.Add(a3, S.Load(p + (i + 2) * Block)); }
                    for (; i < plane; i++) a0 = S.Add(a0, S.Load(p + i * Block));
                    S.Store(d, S.Add(S.Add(a0, a1), S.Add(a2, a3)));
                }
            }
        if (max) return;
        int k = 0, total = blocks * Block;
        if (l > 1 && System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated)
            for (var n = System.Runtime.Intrinsics.Vector256.Create((float)plane); k < total; k += 8)
                System.Runtime.Intrinsics.Vector256.Store(System.Runtime.Intrinsics.Vector256.Load(y + k) / n, y + k);
        for (; k < total; k++) y[k] /= plane;
    }

    static void Check(int xLen, int yLen, int batch, int channels, int plane)
    {
        if (batch < 0 || channels <= 0 || channels % Block != 0 || plane < 0) throw new ArgumentOutOfRangeException(nameof(channels), "ConvBlocked: channels must be a positive multiple of 16");
        if (xLen < (long)batch * channels * plane || yLen < (long)batch * channels * plane) throw new ArgumentException("ConvBlocked: sizes do not agree");
    }

    // ---------------- depthwise ----------------

    /// <summary>
    /// y = act(depthwise convolution of x with w + bias), x [batch, channels, inH, inW] and y [batch, channels, outH,
    /// outW] blocked, w tap-major ([kH * kW, channels]: a tap's weights for consecutive channels are one vector load,
    /// laid out at build time). Allocation-free.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Depthwise(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y,
        int batch, int channels, int inH, int inW, int kH, int kW, int outH, int outW,
        int strideH, int strideW, int padTop, int padLeft, int dilH, int dilW, Activation activation = default)
    {
        if (batch < 0 || channels <= 0 || channels % Block != 0 || inH <= 0 || inW <= 0 || kH <= 0 || kW <= 0 || outH < 0 || outW < 0
            || strideH <= 0 || strideW <= 0 || dilH <= 0 || dilW <= 0 || padTop < 0 || padLeft < 0 || kH * kW > MaxTaps)
            throw new ArgumentOutOfRangeException(nameof(channels), "ConvBlocked.Depthwise: invalid geometry");
        int wp = (outW - 1) * strideW + (kW - 1) * dilW + 1;
        if (x.Length < (long)batch * channels * inH * inW || w.Length < (long)channels * kH * kW || y.Length < (long)batch * channels * outH * outW
            || bias.Length != 0 && bias.Length < channels || (long)(kH - 1) * dilH + 1 > StageFloats / Block / Math.Max(1, wp))
            throw new ArgumentException("ConvBlocked.Depthwise: sizes do not agree, or a padded row band does not fit");
        if (batch == 0 || outH == 0 || outW == 0) return;
        var g = new Geometry
        {
            Channels = channels, InH = inH, InW = inW, KH = kH, KW = kW, OutH = outH, OutW = outW,
            SH = strideH, SW = strideW, PT = padTop, PL = padLeft, DH = dilH, DW = dilW, Wp = wp,
        };
        fixed (float* px = x, pw = w, pb = bias, py = y)
            for (int nb = 0; nb < batch; nb++)
            {
                float* xb = px + (nint)nb * channels * inH * inW, yb = py + (nint)nb * channels * outH * outW;
                float* b = bias.Length == 0 ? null : pb;
                switch (SimdLevel.Bits)
                {
                    case 512: Depthwise<V512, System.Runtime.Intrinsics.Vector512<float>>(xb, pw, b, yb, g, activation); break;
                    case 256: Depthwise<V256, System.Runtime.Intrinsics.Vector256<float>>(xb, pw, b, yb, g, activation); break;
                    case 128: Depthwise<V128, System.Runtime.Intrinsics.Vector128<float>>(xb, pw, b, yb, g, activation); break;
                    default: Depthwise<V0, float>(xb, pw, b, yb, g, activation); break;
                }
            }
    }

    struct Geometry { public int Channels, InH, InW, KH, KW, OutH, OutW, SH, SW, PT, PL, DH, DW, Wp; }

    static void Depthwise<S, TV>(float* x, float* w, float* bias, float* y, in Geometry g, in Activation act)
        where S : struct, ISimd<TV> where TV : struct
    {
        // the in-register kinds inside the tiles; the others over the whole output after
        switch (Epilogue.Of(act))
        {
            case EpilogueKind.None: Depthwise<S, TV, NoEpilogue>(x, w, bias, y, g, act); break;
            case EpilogueKind.Relu: Depthwise<S, TV, ReluEpilogue>(x, w, bias, y, g, act); break;
            case EpilogueKind.Clip: Depthwise<S, TV, ClipEpilogue>(x, w, bias, y, g, act); break;
            case EpilogueKind.LeakyRelu: Depthwise<S, TV, LeakyReluEpilogue>(x, w, bias, y, g, act); break;
            case EpilogueKind.HardSwish: Depthwise<S, TV, HardSwishEpilogue>(x, w, bias, y, g, act); break;
            case EpilogueKind.HardSigmoid: Depthwise<S, TV, HardSigmoidEpilogue>(x, w, bias, y, g, act); break;
            default:
                Depthwise<S, TV, NoEpilogue>(x, w, bias, y, g, act);
                act.Apply<S, TV>(y, g.Channels * g.OutH * g.OutW);
                break;
        }
    }

    /// <summary>
    /// Per band of output rows and slice of a block (the lanes of one vector): the slice's input rows staged zero-padded
    /// (a vector copy per position, no transposition), then each output row in tiles of up to 8 neighbours, every tap a
    /// vector FMA at a constant offset from the tile's first position.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Depthwise<S, TV, A>(float* x, float* w, float* bias, float* y, in Geometry g, in Activation act)
        where S : struct, ISimd<TV> where TV : struct where A : struct, IEpilogue
    {
        int l = S.Lanes, wp = g.Wp, span = (g.KH - 1) * g.DH + 1;
        int bo = Math.Max(1, Math.Min(g.OutH, (StageFloats / (l * wp) - span) / g.SH + 1));
        int rows = (bo - 1) * g.SH + span;
        // 64-byte aligned: no vector of the stage across two cache lines
        byte* buf = stackalloc byte[StageFloats * sizeof(float) + 64];
        float* stage = (float*)(((nint)buf + 63) & ~(nint)63);
        int* tapOff = stackalloc int[MaxTaps];
        for (int ky = 0, t = 0; ky < g.KH; ky++)
            for (int kx = 0; kx < g.KW; kx++) tapOff[t++] = (ky * g.DH * wp + kx * g.DW) * l;
        int taps = g.KH * g.KW, inPlane = g.InH * g.InW, outPlane = g.OutH * g.OutW, copy = Math.Max(0, Math.Min(g.InW, wp - g.PL));
        TV zero = S.Zero;
        for (int c0 = 0; c0 < g.Channels; c0 += l)
        {
            TV vb = bias == null ? S.Zero : S.Load(bias + c0);
            float* xs = x + (nint)(c0 / Block) * inPlane * Block + c0 % Block;
            float* ys = y + (nint)(c0 / Block) * outPlane * Block + c0 % Block;
            for (int oy0 = 0; oy0 < g.OutH; oy0 += bo)
            {
                int n = Math.Min(bo, g.OutH - oy0), top = oy0 * g.SH - g.PT;
                // the slice's padded input rows: a vector per position (a row of whole blocks is one copy)
                for (int r = 0, used = Math.Min(rows, (n - 1) * g.SH + span); r < used; r++)
                {
                    float* d = stage + (nint)r * wp * l;
                    int iy = top + r;
                    if ((uint)iy >= (uint)g.InH) { for (int i = 0; i < wp; i++) S.Store(d + i * l, zero); continue; }
                    for (int i = 0; i < Math.Min(g.PL, wp); i++) S.Store(d + i * l, zero);
                    float* s = xs + (nint)iy * g.InW * Block;
                    if (l == Block) Buffer.MemoryCopy(s, d + g.PL * l, (long)copy * l * sizeof(float), (long)copy * l * sizeof(float));
                    else for (int ix = 0; ix < copy; ix++) S.Store(d + (g.PL + ix) * l, S.Load(s + ix * Block));
                    for (int i = g.PL + copy; i < wp; i++) S.Store(d + i * l, zero);
                }
                for (int r = 0; r < n; r++)
                {
                    float* srow = stage + (nint)r * g.SH * wp * l, yrow = ys + (nint)(oy0 + r) * g.OutW * Block;
                    for (int ox = 0; ox < g.OutW;)
                    {
                        int cnt = Math.Min(8, g.OutW - ox);
                        // a last group of fewer than 8 in a row of 8 or more: shifted back to end at the row's end
                        if (cnt < 8 && g.OutW >= 8) { ox = g.OutW - 8; cnt = 8; }
                        Tile<S, TV, A>(cnt, srow + (nint)ox * g.SW * l, g.SW * l, tapOff, w + c0, g.Channels, taps, vb, act, yrow + (nint)ox * Block);
                        ox += cnt;
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Tile<S, TV, A>(int cnt, float* s, int step, int* tapOff, float* wt, int wStride, int taps, TV vb, in Activation act, float* y)
        where S : struct, ISimd<TV> where TV : struct where A : struct, IEpilogue
    {
        switch (cnt)
        {
            case 8: Tile<S, TV, A, R8>(s, step, tapOff, wt, wStride, taps, vb, act, y); break;
            case 7: Tile<S, TV, A, R7>(s, step, tapOff, wt, wStride, taps, vb, act, y); break;
            case 6: Tile<S, TV, A, R6>(s, step, tapOff, wt, wStride, taps, vb, act, y); break;
            case 5: Tile<S, TV, A, R5>(s, step, tapOff, wt, wStride, taps, vb, act, y); break;
            case 4: Tile<S, TV, A, R4>(s, step, tapOff, wt, wStride, taps, vb, act, y); break;
            case 3: Tile<S, TV, A, R3>(s, step, tapOff, wt, wStride, taps, vb, act, y); break;
            case 2: Tile<S, TV, A, R2>(s, step, tapOff, wt, wStride, taps, vb, act, y); break;
            default: Tile<S, TV, A, R1>(s, step, tapOff, wt, wStride, taps, vb, act, y); break;
        }
    }

    /// <summary>R.N neighbours of an output row (inputs step floats apart in the stage) over all taps (weights wStride apart); stored 16 floats apart.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static void Tile<S, TV, A, R>(float* s, int step, int* tapOff, float* wt, int wStride, int taps, TV vb, in Activation act, float* y)
        where S : struct, ISimd<TV> where TV : struct where A : struct, IEpilogue where R : struct, IRows
    {
        TV a0 = vb, a1 = vb, a2 = vb, a3 = vb, a4 = vb, a5 = vb, a6 = vb, a7 = vb;
        nint st = step;
        for (int t = 0; t < taps; t++, wt += wStride)
        {
            float* p = s + tapOff[t];
            TV wv = S.Load(wt);
            a0 = S.Fma(wv, S.Load(p), a0);
            if (R.N > 1) a1 = S.Fma(wv, S.Load(p + st), a1);
            if (R.N > 2) a2 = S.Fma(wv, S.Load(p + 2 * st), a2);
            if (R.N > 3) a3 = S.Fma(wv, S.Load(p + 3 * st), a3);
            if (R.N > 4) a4 = S.Fma(wv, S.Load(p + 4 * st), a4);
            if (R.N > 5) a5 = S.Fma(wv, S.Load(p + 5 * st), a5);
            if (R.N > 6) a6 = S.Fma(wv, S.Load(p + 6 * st), a6);
            if (R.N > 7) a7 = S.Fma(wv, S.Load(p + 7 * st), a7);
        }
        S.Store(y, A.Apply<S, TV>(a0, act));
        if (R.N > 1) S.Store(y + Block, A.Apply<S, TV>(a1, act));
        if (R.N > 2) S.Store(y + 2 * Block, A.Apply<S, TV>(a2, act));
        if (R.N > 3) S.Store(y + 3 * Block, A.Apply<S, TV>(a3, act));
        if (R.N > 4) S.Store(y + 4 * Block, A.Apply<S, TV>(a4, act));
        if (R.N > 5) S.Store(y + 5 * Block, A.Apply<S, TV>(a5, act));
        if (R.N > 6) S.Store(y + 6 * Block, A.Apply<S, TV>(a6, act));
        if (R.N > 7) S.Store(y + 7 * Block, A.Apply<S, TV>(a7, act));
    }

    // ---------------- 1x1 ----------------

    /// <summary>
    /// y = act(dense convolution of x + bias), x NCHW [batch, inC, inH, inW], or blocked where <paramref name="xBlocked"/>
    /// (inC a multiple of 16: a convolution inside a chain, SqueezeNet's and VGG-style 3x3 layers), y [batch, outC,
    /// outH, outW] blocked (a chain's first tensor written as the chain reads it: DS-CNN's stem, no reorder after it),
    /// the weights as <see cref="ConvPanels"/> packs them (the only copy); one group, outC a multiple of 16. ConvPanels'
    /// channel tiles store their rows as the blocks' rows; plain loops where it declines. Allocation-free.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dense(ReadOnlySpan<float> x, ReadOnlySpan<float> panels, ReadOnlySpan<float> bias, Span<float> y,
        int batch, int inC, int inH, int inW, int outC, int kH, int kW, int outH, int outW,
        int strideH, int strideW, int padTop, int padLeft, int dilH, int dilW, Activation activation = default, bool xBlocked = false)
    {
        if (batch < 0 || inC <= 0 || inH <= 0 || inW <= 0 || outC <= 0 || outC % Block != 0 || xBlocked && inC % Block != 0 || kH <= 0 || kW <= 0 || outH < 0 || outW < 0
            || strideH <= 0 || strideW <= 0 || dilH <= 0 || dilW <= 0 || padTop < 0 || padLeft < 0)
            throw new ArgumentOutOfRangeException(nameof(outC), "ConvBlocked.Dense: invalid geometry");
        long inPlane = (long)inH * inW, outPlane = (long)outH * outW;
        if (x.Length < batch * inC * inPlane || y.Length < batch * outC * outPlane || bias.Length != 0 && bias.Length < outC
            || panels.Length < ConvPanels.PackedLength(outC, 1, inC * kH * kW))
            throw new ArgumentException("ConvBlocked.Dense: sizes do not agree");
        if (batch == 0 || outPlane == 0) return;
        fixed (float* px = x, pp = panels, pb = bias, py = y)
            for (int nb = 0; nb < batch; nb++)
            {
                float* xb = px + nb * inC * inPlane, yb = py + nb * outC * outPlane, b = bias.Length == 0 ? null : pb;
                if (!ConvPanels.TryRun(xb, pp, b, yb, 1, inC, outC, inH, inW, kH, kW, outH, outW, strideH, strideW, padTop, padLeft, dilH, dilW,
                        activation, accumulate: false, only: true, blocked: true, xBlocked: xBlocked))
                    ConvPanels.RunScalar(xb, pp, b, yb, 1, inC, outC, inH, inW, kH, kW, outH, outW, strideH, strideW, padTop, padLeft, dilH, dilW,
                        activation, accumulate: false, blocked: true, xBlocked: xBlocked);
            }
    }

    /// <summary>
    /// y = act(1x1 convolution of x + bias (+ y where <paramref name="accumulate"/>: a residual already in y, blocked
    /// too)), y [batch, outC, plane] blocked, x [batch, inC, plane] blocked or, where <paramref name="xBlocked"/> is
    /// false, NCHW (the first layer of a chain: any inC, no reordering before it); w as
    /// <see cref="PointwiseConv"/> takes it (panels of 32 output channels, [outC/32][inC][32], then the bias row of
    /// outC padded to 32). Allocation-free.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pointwise(ReadOnlySpan<float> x, ReadOnlySpan<float> w, Span<float> y, int batch, int inC, int outC, int plane, Activation activation = default, bool xBlocked = true, bool accumulate = false)
    {
        if (batch < 0 || inC <= 0 || xBlocked && inC % Block != 0 || outC <= 0 || outC % Block != 0 || plane < 0)
            throw new ArgumentOutOfRangeException(nameof(inC), "ConvBlocked.Pointwise: channels must be positive multiples of 16");
        int mp = (outC + PointwiseConv.ColumnMultiple - 1) / PointwiseConv.ColumnMultiple * PointwiseConv.ColumnMultiple;
        if (x.Length < (long)batch * inC * plane || y.Length < (long)batch * outC * plane || w.Length < (long)(inC + 1) * mp)
            throw new ArgumentException("ConvBlocked.Pointwise: sizes do not agree");
        if (batch == 0 || plane == 0) return;
        fixed (float* px = x, pw = w, py = y)
            for (int nb = 0; nb < batch; nb++)
            {
                float* xb = px + (nint)nb * inC * plane, yb = py + (nint)nb * outC * plane;
                switch (SimdLevel.Bits)
                {
                    case 512: Pointwise<V512, System.Runtime.Intrinsics.Vector512<float>>(xb, pw, yb, inC, outC, mp, plane, activation, xBlocked, accumulate); break;
                    case 256: Pointwise<V256, System.Runtime.Intrinsics.Vector256<float>>(xb, pw, yb, inC, outC, mp, plane, activation, xBlocked, accumulate); break;
                    case 128: Pointwise<V128, System.Runtime.Intrinsics.Vector128<float>>(xb, pw, yb, inC, outC, mp, plane, activation, xBlocked, accumulate); break;
                    default: Pointwise<V0, float>(xb, pw, yb, inC, outC, mp, plane, activation, xBlocked, accumulate); break;
                }
            }
    }

    static void Pointwise<S, TV>(float* x, float* w, float* y, int inC, int outC, int mp, int plane, in Activation act, bool xBlocked, bool accumulate)
        where S : struct, ISimd<TV> where TV : struct
    {
        if (xBlocked) Pointwise<S, TV, XBlocks>(x, w, y, inC, outC, mp, plane, act, accumulate);
        else Pointwise<S, TV, XPlanes>(x, w, y, inC, outC, mp, plane, act, accumulate);
    }

    static void Pointwise<S, TV, X>(float* x, float* w, float* y, int inC, int outC, int mp, int plane, in Activation act, bool accumulate)
        where S : struct, ISimd<TV> where TV : struct where X : struct, IXLayout
    {
        switch (Epilogue.Of(act))
        {
            case EpilogueKind.None: Pointwise<S, TV, X, NoEpilogue>(x, w, y, inC, outC, mp, plane, act, accumulate); break;
            case EpilogueKind.Relu: Pointwise<S, TV, X, ReluEpilogue>(x, w, y, inC, outC, mp, plane, act, accumulate); break;
            case EpilogueKind.Clip: Pointwise<S, TV, X, ClipEpilogue>(x, w, y, inC, outC, mp, plane, act, accumulate); break;
            case EpilogueKind.LeakyRelu: Pointwise<S, TV, X, LeakyReluEpilogue>(x, w, y, inC, outC, mp, plane, act, accumulate); break;
            case EpilogueKind.HardSwish: Pointwise<S, TV, X, HardSwishEpilogue>(x, w, y, inC, outC, mp, plane, act, accumulate); break;
            case EpilogueKind.HardSigmoid: Pointwise<S, TV, X, HardSigmoidEpilogue>(x, w, y, inC, outC, mp, plane, act, accumulate); break;
            default:
                Pointwise<S, TV, X, NoEpilogue>(x, w, y, inC, outC, mp, plane, act, accumulate);
                act.Apply<S, TV>(y, outC * plane);
                break;
        }
    }

    /// <summary>
    /// Tiles of R positions x 2 vectors of output channels: per input channel, two weight vectors and a broadcast of each
    /// position's value (one 16-float run per position and block of input channels). 8 positions with 32 registers,
    /// 6 with 16 (and fewer, narrower, for 128-bit and scalar).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Pointwise<S, TV, X, A>(float* x, float* w, float* y, int inC, int outC, int mp, int plane, in Activation act, bool accumulate)
        where S : struct, ISimd<TV> where TV : struct where X : struct, IXLayout where A : struct, IEpilogue
    {
        int l = S.Lanes, width = 2 * l, rmax = l >= 16 ? 8 : l == 8 ? 6 : 4;
        for (int m0 = 0; m0 < outC; m0 += width)
        {
            // the tile's 2 vectors within their panel of 32 (width divides 32), and the bias row
            float* panel = w + (nint)(m0 / PointwiseConv.ColumnMultiple) * inC * PointwiseConv.ColumnMultiple + m0 % PointwiseConv.ColumnMultiple;
            float* bias = w + (nint)inC * mp + m0;
            // outC is a multiple of 16: with 512-bit vectors the second vector may be past it
            bool two = m0 + l < outC;
            float* y0 = y + (nint)(m0 / Block) * plane * Block + m0 % Block, y1 = y + (nint)((m0 + l) / Block) * plane * Block + (m0 + l) % Block;
            if (!two)
            {
                // one vector of channels left (a last block of 16 with 512-bit vectors: SqueezeNet's 128 -> 16): tiles of
                // up to 16 positions on it, not the pair tile with its second vector's FMAs thrown away
                for (int p0 = 0; p0 < plane;)
                {
                    int cnt = Math.Min(16, plane - p0);
                    float* xt = x + (nint)p0 * X.Position, yt = y0 + (nint)p0 * Block;
                    if (cnt > 12) PTile1<S, TV, X, A, R16>(xt, plane, panel, bias, inC, act, yt, accumulate, cnt);
                    else if (cnt > 8) PTile1<S, TV, X, A, R12>(xt, plane, panel, bias, inC, act, yt, accumulate, cnt);
                    else PTile1<S, TV, X, A, R8>(xt, plane, panel, bias, inC, act, yt, accumulate, cnt);
                    p0 += cnt;
                }
                continue;
            }
            for (int p0 = 0; p0 < plane;)
            {
                int cnt = Math.Min(rmax, plane - p0);
                // a last group of more than half a tile: a whole one shifted back to end at the plane's end (the same
                // values again; not onto a residual, which would be added twice); of fewer, a smaller tile (a 3x3
                // plane: 8 + 1, not 8 + 8)
                if (cnt < rmax && plane >= rmax && 2 * cnt > rmax && !accumulate) { p0 = plane - rmax; cnt = rmax; }
                switch (cnt)
                {
                    case 8: PTile<S, TV, X, A, R8>(x + (nint)p0 * X.Position, plane, panel, bias, inC, act, y0 + (nint)p0 * Block, y1 + (nint)p0 * Block, two, accumulate); break;
                    case 7: PTile<S, TV, X, A, R7>(x + (nint)p0 * X.Position, plane, panel, bias, inC, act, y0 + (nint)p0 * Block, y1 + (nint)p0 * Block, two, accumulate); break;
                    case 6: PTile<S, TV, X, A, R6>(x + (nint)p0 * X.Position, plane, panel, bias, inC, act, y0 + (nint)p0 * Block, y1 + (nint)p0 * Block, two, accumulate); break;
                    case 5: PTile<S, TV, X, A, R5>(x + (nint)p0 * X.Position, plane, panel, bias, inC, act, y0 + (nint)p0 * Block, y1 + (nint)p0 * Block, two, accumulate); break;
                    case 4: PTile<S, TV, X, A, R4>(x + (nint)p0 * X.Position, plane, panel, bias, inC, act, y0 + (nint)p0 * Block, y1 + (nint)p0 * Block, two, accumulate); break;
                    case 3: PTile<S, TV, X, A, R3>(x + (nint)p0 * X.Position, plane, panel, bias, inC, act, y0 + (nint)p0 * Block, y1 + (nint)p0 * Block, two, accumulate); break;
                    case 2: PTile<S, TV, X, A, R2>(x + (nint)p0 * X.Position, plane, panel, bias, inC, act, y0 + (nint)p0 * Block, y1 + (nint)p0 * Block, two, accumulate); break;
                    default: PTile<S, TV, X, A, R1>(x + (nint)p0 * X.Position, plane, panel, bias, inC, act, y0 + (nint)p0 * Block, y1 + (nint)p0 * Block, two, accumulate); break;
                }
                p0 += cnt;
            }
        }
    }

    /// <summary>
    /// R.N positions x 2 vectors of output channels. x: the first position's first input channel (blocked: its run of
    /// the first block, blocks plane * 16 floats apart; planes: positions 1 apart, channels plane apart).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static void PTile<S, TV, X, A, R>(float* x, int plane, float* w, float* bias, int inC, in Activation act, float* y0, float* y1, bool two, bool accumulate)
        where S : struct, ISimd<TV> where TV : struct where X : struct, IXLayout where A : struct, IEpilogue where R : struct, IRows
    {
        int l = S.Lanes;
        TV b0 = S.Load(bias), b1 = S.Load(bias + l);
        TV c00 = b0, c01 = b1, c10 = b0, c11 = b1, c20 = b0, c21 = b1, c30 = b0, c31 = b1;
        TV c40 = b0, c41 = b1, c50 = b0, c51 = b1, c60 = b0, c61 = b1, c70 = b0, c71 = b1;
        nint blockStride = (nint)plane * Block - Block, ps = X.Position;
        float* xp = x;
        for (int c = 0; c < inC; c++, w += PointwiseConv.ColumnMultiple)
        {
            TV w0 = S.Load(w), w1 = S.Load(w + l);
            TV t = S.Splat(xp[0]); c00 = S.Fma(t, w0, c00); c01 = S.Fma(t, w1, c01);
            if (R.N > 1) { t = S.Splat(xp[ps]); c10 = S.Fma(t, w0, c10); c11 = S.Fma(t, w1, c11); }
            if (R.N > 2) { t = S.Splat(xp[2 * ps]); c20 = S.Fma(t, w0, c20); c21 = S.Fma(t, w1, c21); }
            if (R.N > 3) { t = S.Splat(xp[3 * ps]); c30 = S.Fma(t, w0, c30); c31 = S.Fma(t, w1, c31); }
            if (R.N > 4) { t = S.Splat(xp[4 * ps]); c40 = S.Fma(t, w0, c40); c41 = S.Fma(t, w1, c41); }
            if (R.N > 5) { t = S.Splat(xp[5 * ps]); c50 = S.Fma(t, w0, c50); c51 = S.Fma(t, w1, c51); }
            if (R.N > 6) { t = S.Splat(xp[6 * ps]); c60 = S.Fma(t, w0, c60); c61 = S.Fma(t, w1, c61); }
            if (R.N > 7) { t = S.Splat(xp[7 * ps]); c70 = S.Fma(t, w0, c70); c71 = S.Fma(t, w1, c71); }
            // the next input channel: the next plane, or the next float of the run or the next block's run
            xp += !X.Blocked ? plane : (c & (Block - 1)) == Block - 1 ? blockStride + 1 : 1;
        }
        Put<S, TV, A>(y0, y1, two, accumulate, c00, c01, act);
        if (R.N > 1) Put<S, TV, A>(y0 + Block, y1 + Block, two, accumulate, c10, c11, act);
        if (R.N > 2) Put<S, TV, A>(y0 + 2 * Block, y1 + 2 * Block, two, accumulate, c20, c21, act);
        if (R.N > 3) Put<S, TV, A>(y0 + 3 * Block, y1 + 3 * Block, two, accumulate, c30, c31, act);
        if (R.N > 4) Put<S, TV, A>(y0 + 4 * Block, y1 + 4 * Block, two, accumulate, c40, c41, act);
        if (R.N > 5) Put<S, TV, A>(y0 + 5 * Block, y1 + 5 * Block, two, accumulate, c50, c51, act);
        if (R.N > 6) Put<S, TV, A>(y0 + 6 * Block, y1 + 6 * Block, two, accumulate, c60, c61, act);
        if (R.N > 7) Put<S, TV, A>(y0 + 7 * Block, y1 + 7 * Block, two, accumulate, c70, c71, act);
    }

    /// <summary>
    /// Up to R.N positions (<paramref name="n"/>, the first n of the tile's registers) x one vector of output channels:
    /// per input channel one weight vector and a broadcast of each position's value.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static void PTile1<S, TV, X, A, R>(float* x, int plane, float* w, float* bias, int inC, in Activation act, float* y, bool accumulate, int n)
        where S : struct, ISimd<TV> where TV : struct where X : struct, IXLayout where A : struct, IEpilogue where R : struct, IRows
    {
        TV b = S.Load(bias);
        TV c0 = b, c1 = b, c2 = b, c3 = b, c4 = b, c5 = b, c6 = b, c7 = b, c8 = b, c9 = b, c10 = b, c11 = b, c12 = b, c13 = b, c14 = b, c15 = b;
        nint blockStride = (nint)plane * Block - Block, ps = X.Position;
        // a short tile reads its last position again in the unused registers (never stored): no tests in the loop
        nint q1 = Math.Min(1, n - 1) * ps, q2 = Math.Min(2, n - 1) * ps, q3 = Math.Min(3, n - 1) * ps, q4 = Math.Min(4, n - 1) * ps, q5 = Math.Min(5, n - 1) * ps;
        nint q6 = Math.Min(6, n - 1) * ps, q7 = Math.Min(7, n - 1) * ps, q8 = Math.Min(8, n - 1) * ps, q9 = Math.Min(9, n - 1) * ps, q10 = Math.Min(10, n - 1) * ps;
        nint q11 = Math.Min(11, n - 1) * ps, q12 = Math.Min(12, n - 1) * ps, q13 = Math.Min(13, n - 1) * ps, q14 = Math.Min(14, n - 1) * ps, q15 = Math.Min(15, n - 1) * ps;
        float* xp = x;
        for (int c = 0; c < inC; c++, w += PointwiseConv.ColumnMultiple)
        {
            TV w0 = S.Load(w);
            c0 = S.Fma(S.Splat(xp[0]), w0, c0);
            if (R.N > 1) c1 = S.Fma(S.Splat(xp[q1]), w0, c1);
            if (R.N > 2) c2 = S.Fma(S.Splat(xp[q2]), w0, c2);
            if (R.N > 3) c3 = S.Fma(S.Splat(xp[q3]), w0, c3);
            if (R.N > 4) c4 = S.Fma(S.Splat(xp[q4]), w0, c4);
            if (R.N > 5) c5 = S.Fma(S.Splat(xp[q5]), w0, c5);
            if (R.N > 6) c6 = S.Fma(S.Splat(xp[q6]), w0, c6);
            if (R.N > 7) c7 = S.Fma(S.Splat(xp[q7]), w0, c7);
            if (R.N > 8) c8 = S.Fma(S.Splat(xp[q8]), w0, c8);
            if (R.N > 9) c9 = S.Fma(S.Splat(xp[q9]), w0, c9);
            if (R.N > 10) c10 = S.Fma(S.Splat(xp[q10]), w0, c10);
            if (R.N > 11) c11 = S.Fma(S.Splat(xp[q11]), w0, c11);
            if (R.N > 12) c12 = S.Fma(S.Splat(xp[q12]), w0, c12);
            if (R.N > 13) c13 = S.Fma(S.Splat(xp[q13]), w0, c13);
            if (R.N > 14) c14 = S.Fma(S.Splat(xp[q14]), w0, c14);
            if (R.N > 15) c15 = S.Fma(S.Splat(xp[q15]), w0, c15);
            xp += !X.Blocked ? plane : (c & (Block - 1)) == Block - 1 ? blockStride + 1 : 1;
        }
        Put1<S, TV, A>(y, accumulate, c0, act);
        if (n > 1) Put1<S, TV, A>(y + Block, accumulate, c1, act);
        if (n > 2) Put1<S, TV, A>(y + 2 * Block, accumulate, c2, act);
        if (n > 3) Put1<S, TV, A>(y + 3 * Block, accumulate, c3, act);
        if (n > 4) Put1<S, TV, A>(y + 4 * Block, accumulate, c4, act);
        if (n > 5) Put1<S, TV, A>(y + 5 * Block, accumulate, c5, act);
        if (n > 6) Put1<S, TV, A>(y + 6 * Block, accumulate, c6, act);
        if (n > 7) Put1<S, TV, A>(y + 7 * Block, accumulate, c7, act);
        if (R.N > 8 && n > 8) Put1<S, TV, A>(y + 8 * Block, accumulate, c8, act);
        if (R.N > 9 && n > 9) Put1<S, TV, A>(y + 9 * Block, accumulate, c9, act);
        if (R.N > 10 && n > 10) Put1<S, TV, A>(y + 10 * Block, accumulate, c10, act);
        if (R.N > 11 && n > 11) Put1<S, TV, A>(y + 11 * Block, accumulate, c11, act);
        if (R.N > 12 && n > 12) Put1<S, TV, A>(y + 12 * Block, accumulate, c12, act);
        if (R.N > 13 && n > 13) Put1<S, TV, A>(y + 13 * Block, accumulate, c13, act);
        if (R.N > 14 && n > 14) Put1<S, TV, A>(y + 14 * Block, accumulate, c14, act);
        if (R.N > 15 && n > 15) Put1<S, TV, A>(y + 15 * Block, accumulate, c15, act);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Put1<S, TV, A>(float* y, bool accumulate, TV v, in Activation act)
        where S : struct, ISimd<TV> where TV : struct where A : struct, IEpilogue
    {
        // the residual first: the activation belongs to the sum
        if (accumulate) v = S.Add(v, S.Load(y));
        S.Store(y, A.Apply<S, TV>(v, act));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Put<S, TV, A>(float* y0, float* y1, bool two, bool accumulate, TV v0, TV v1, in Activation act)
        where S : struct, ISimd<TV> where TV : struct where A : struct, IEpilogue
    {
        Put1<S, TV, A>(y0, accumulate, v0, act);
        if (two) Put1<S, TV, A>(y1, accumulate, v1, act);
    }
}

/// <summary>The input layout of <see cref="ConvBlocked.Pointwise"/>'s tiles: floats between neighbouring positions.</summary>
internal interface IXLayout
{
    static abstract bool Blocked { get; }
    static abstract int Position { get; }
}

internal struct XBlocks : IXLayout { public static bool Blocked => true; public static int Position => ConvBlocked.Block; }
internal struct XPlanes : IXLayout { public static bool Blocked => false; public static int Position => 1; }
