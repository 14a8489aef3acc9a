using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

/// <summary>
/// 1x1 convolutions (stride 1, no padding, one group) of small planes, with the output channels in the vector lanes.
/// Conv2D's GEMM puts the plane's positions in the lanes; on the small planes at the end of MobileNet-style networks
/// (6x6, 3x3) most lanes are then padding. Here a tile is 6 positions x 2 vectors of output channels, each k step one
/// weight row of 2 vectors and 6 broadcast inputs, so only the channel count rounds up to vectors, and the weights are
/// read in place: the generator writes them at build time transposed, in panels of <see cref="ColumnMultiple"/> output
/// channels ([panel][inC][32], zeros past outC: a tile streams its panel's weights contiguously, which layers of
/// hundreds of channels read from beyond L2: 1024 -> 1024 on 2x2 ran 2.1x faster than with rows of every channel),
/// then the bias as one row of the padded channels. The sums of a tile go through a
/// small stack buffer (bias, residual, activation) and are stored transposed into the NCHW output. With AVX-512 and
/// planes of 8 or more, tiles are 8 positions stored through register transposes (<see cref="Run8{A}"/>).
/// </summary>
public static unsafe class PointwiseConv
{
    /// <summary>The rows of the weight layout are padded to a multiple of this: two vectors at the widest (AVX-512).</summary>
    public const int ColumnMultiple = 32;

    /// <summary>Positions per tile.</summary>
    const int Rows = 6;

    /// <summary>
    /// y[n, m, p] = act(bias[m] + sum_k wt[k, m] x[n, k, p] (+ y[n, m, p] when accumulate)) for plane positions p.
    /// wt, with mp = outC rounded up to <see cref="ColumnMultiple"/>: wt[((m / 32) * inC + k) * 32 + m % 32] = w[m, k],
    /// then bias[m] at wt[inC * mp + m]; (inC + 1) * mp floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(ReadOnlySpan<float> x, ReadOnlySpan<float> wt, Span<float> y, int batch, int inC, int outC, int plane,
        Activation activation = default, bool accumulate = false)
    {
        if (batch < 0 || inC <= 0 || outC <= 0 || plane < 0) throw new ArgumentOutOfRangeException(nameof(plane), "PointwiseConv: invalid geometry");
        int mp = (outC + ColumnMultiple - 1) / ColumnMultiple * ColumnMultiple;
        if (x.Length < (long)batch * inC * plane) throw new ArgumentException("PointwiseConv: x too small", nameof(x));
        if (wt.Length < (long)(inC + 1) * mp) throw new ArgumentException("PointwiseConv: wt too small", nameof(wt));
        if (y.Length < (long)batch * outC * plane) throw new ArgumentException("PointwiseConv: y too small", nameof(y));
        if (batch == 0 || plane == 0) return;
        fixed (float* px = x, pw = wt, py = y)
        {
            for (int nb = 0; nb < batch; nb++)
            {
                float* xb = px + (nint)nb * inC * plane, yb = py + (nint)nb * outC * plane;
                switch (SimdLevel.Bits)
                {
                    case 512: Run<V512, Vector512<float>>(xb, pw, yb, inC, outC, mp, plane, activation, accumulate); break;
                    case 256: Run<V256, Vector256<float>>(xb, pw, yb, inC, outC, mp, plane, activation, accumulate); break;
                    case 128: Run<V128, Vector128<float>>(xb, pw, yb, inC, outC, mp, plane, activation, accumulate); break;
                    default: Run<V0, float>(xb, pw, yb, inC, outC, mp, plane, activation, accumulate); break;
                }
            }
        }
    }

    /// <summary>
    /// A convolution's input patches (im2col) as <see cref="Run"/>'s input, so that a spatial convolution onto a small
    /// plane runs as a 1x1 one: col[n, (c * kH + i) * kW + j, oy * outW + ox] = x[n, c, oy * strideH - padTop + i *
    /// dilH, ox * strideW - padLeft + j * dilW], 0 outside the input. col: batch x inC x kH x kW x outH x outW floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Patches(ReadOnlySpan<float> x, Span<float> col, int batch, int inC, int inH, int inW, int kH, int kW, int outH, int outW,
        int strideH, int strideW, int padTop, int padLeft, int dilH, int dilW)
    {
        if (batch < 0 || inC <= 0 || inH <= 0 || inW <= 0 || kH <= 0 || kW <= 0 || outH < 0 || outW < 0 || strideH <= 0 || strideW <= 0 || dilH <= 0 || dilW <= 0)
            throw new ArgumentOutOfRangeException(nameof(inC), "PointwiseConv.Patches: invalid geometry");
        int plane = outH * outW;
        if (x.Length < (long)batch * inC * inH * inW || col.Length < (long)batch * inC * kH * kW * plane) throw new ArgumentException("PointwiseConv.Patches: sizes do not agree");
        // rows of 8 or more outputs reading 8 or more consecutive inputs each, all inside the row: 8 x 8 blocks
        // (8 outputs' runs of 8 taps) transposed in registers; otherwise value by value (melspectrogram's 512-tap rows
        // took a fifth of the model that way)
        bool blocks = Avx.IsSupported && dilW == 1 && outW >= 8 && kW >= 8 && padLeft == 0 && (outW - 1) * strideW + kW <= inW;
        fixed (float* px = x, pc = col)
            for (int nb = 0; nb < batch; nb++)
                for (int c = 0; c < inC; c++)
                {
                    float* xc = px + ((long)nb * inC + c) * inH * inW;
                    for (int i = 0; i < kH; i++)
                    {
                        float* d = pc + (((long)nb * inC + c) * kH + i) * kW * plane; // row (c, i, 0) of the patches
                        for (int oy = 0; oy < outH; oy++)
                        {
                            int iy = oy * strideH - padTop + i * dilH;
                            float* dy = d + oy * outW;
                            if ((uint)iy >= (uint)inH)
                            {
                                for (int j = 0; j < kW; j++) new Span<float>(dy + (long)j * plane, outW).Clear();
                                continue;
                            }
                            float* row = xc + (long)iy * inW;
                            if (blocks)
                                for (int ox = 0; ; ox += 8)
                                {
                                    if (ox > outW - 8) ox = outW - 8;
                                    for (int j = 0; ; j += 8)
                                    {
                                        if (j > kW - 8) j = kW - 8;
                                        GemmCore.Transpose8x8(row + (long)ox * strideW + j, strideW, dy + (long)j * plane + ox, plane);
                                        if (j == kW - 8) break;
                                    }
                                    if (ox == outW - 8) break;
                                }
                            else
                                for (int j = 0; j < kW; j++)
                                    for (int ox = 0, ix = j * dilW - padLeft; ox < outW; ox++, ix += strideW)
                                        dy[(long)j * plane + ox] = (uint)ix < (uint)inW ? row[ix] : 0f;
                        }
                    }
                }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Run<S, TV>(float* x, float* wt, float* y, int inC, int outC, int mp, int plane, Activation act, bool accumulate)
        where S : struct, ISimd<TV> where TV : struct
    {
        var epilogue = Epilogue.Of(act);
        if (S.Lanes == 16 && plane >= 8 && Avx.IsSupported && (epilogue != EpilogueKind.Any || act.InRegisters))
        {
            switch (epilogue)
            {
                case EpilogueKind.None: Run8<NoEpilogue>(x, wt, y, inC, outC, mp, plane, act, accumulate); break;
                case EpilogueKind.Relu: Run8<ReluEpilogue>(x, wt, y, inC, outC, mp, plane, act, accumulate); break;
                case EpilogueKind.Clip: Run8<ClipEpilogue>(x, wt, y, inC, outC, mp, plane, act, accumulate); break;
                case EpilogueKind.LeakyRelu: Run8<LeakyReluEpilogue>(x, wt, y, inC, outC, mp, plane, act, accumulate); break;
                case EpilogueKind.HardSwish: Run8<HardSwishEpilogue>(x, wt, y, inC, outC, mp, plane, act, accumulate); break;
                case EpilogueKind.HardSigmoid: Run8<HardSigmoidEpilogue>(x, wt, y, inC, outC, mp, plane, act, accumulate); break;
                default: Run8<AnyEpilogue>(x, wt, y, inC, outC, mp, plane, act, accumulate); break;
            }
            return;
        }
        RunRows<S, TV>(x, wt, y, inC, outC, mp, plane, act, accumulate);
    }

    /// <summary>
    /// The AVX-512 form for planes of at least 8 positions: tiles of 8 positions x 32 channels (16 accumulators of 32
    /// registers), stored into the NCHW planes through 8 x 8 register transposes (residual and activation on the
    /// transposed vectors) instead of value by value, which cost MobileNet's 128 -> 128 layer on 6x6 a fifth of its time.
    /// A last group of five to seven positions is a whole tile shifted back to end at the plane's end (with a residual,
    /// it writes only its new positions); one to four, a tile of that many stored value by value.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Run8<A>(float* x, float* wt, float* y, int inC, int outC, int mp, int plane, in Activation act, bool accumulate)
        where A : struct, IEpilogue
    {
        float* buf = stackalloc float[8 * ColumnMultiple + 16];
        float* sums = (float*)(((nint)buf + 63) & ~(nint)63);
        for (int m0 = 0; m0 < outC; m0 += ColumnMultiple)
        {
            int cols = Math.Min(ColumnMultiple, outC - m0);
            float* panel = wt + (nint)(m0 / ColumnMultiple) * inC * ColumnMultiple, bias = wt + (nint)inC * mp + m0;
            for (int p0 = 0; p0 < plane;)
            {
                int rem = plane - p0, done = p0;
                float* yt;
                if (rem >= 8 || rem >= 5 && !(accumulate && rem < 7))
                {
                    // whole tiles; a last one of five to seven positions is shifted back to end at the plane's end
                    p0 = Math.Min(p0, plane - 8);
                    Tile8(x + p0, plane, panel, bias, inC, sums);
                    yt = y + (nint)m0 * plane + p0;
                    int h = 0;
                    // a residual must not be added twice to the positions the shifted tile recomputes
                    if (!accumulate || p0 == done)
                        for (; h + 8 <= cols; h += 8)
                        {
                            GemmCore.Transpose8x8(sums + h, ColumnMultiple, out var c0, out var c1, out var c2, out var c3, out var c4, out var c5, out var c6, out var c7);
                            float* e = yt + (nint)h * plane;
                            if (accumulate)
                            {
                                c0 += Vector256.Load(e); c1 += Vector256.Load(e + plane); c2 += Vector256.Load(e + 2 * plane); c3 += Vector256.Load(e + 3 * plane);
                                c4 += Vector256.Load(e + 4 * plane); c5 += Vector256.Load(e + 5 * plane); c6 += Vector256.Load(e + 6 * plane); c7 += Vector256.Load(e + 7 * plane);
                            }
                            A.Apply<V256, Vector256<float>>(c0, act).Store(e); A.Apply<V256, Vector256<float>>(c1, act).Store(e + plane);
                            A.Apply<V256, Vector256<float>>(c2, act).Store(e + 2 * plane); A.Apply<V256, Vector256<float>>(c3, act).Store(e + 3 * plane);
                            A.Apply<V256, Vector256<float>>(c4, act).Store(e + 4 * plane); A.Apply<V256, Vector256<float>>(c5, act).Store(e + 5 * plane);
                            A.Apply<V256, Vector256<float>>(c6, act).Store(e + 6 * plane); A.Apply<V256, Vector256<float>>(c7, act).Store(e + 7 * plane);
                        }
                    Scalar(sums, yt, plane, h, cols, done - p0, 8, act, accumulate);
                    p0 += 8;
                }
                else
                {
                    // one to four positions left (six with a residual): a tile of that many, not a recomputed 8
                    Tiles<V512, Vector512<float>>(rem, x + p0, plane, panel, bias, inC, sums);
                    Scalar(sums, y + (nint)m0 * plane + p0, plane, 0, cols, 0, rem, act, accumulate);
                    p0 = plane;
                }
            }
        }
    }

    /// <summary>Channels [j0, cols) x positions [r0, r1) of a tile's sums (rows 32 apart) into y, value by value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Scalar(float* sums, float* yt, int plane, int j0, int cols, int r0, int r1, in Activation act, bool accumulate)
    {
        for (int j = j0; j < cols; j++)
        {
            float* yj = yt + (nint)j * plane;
            for (int r = r0; r < r1; r++) yj[r] = act.Apply(accumulate ? yj[r] + sums[r * ColumnMultiple + j] : sums[r * ColumnMultiple + j]);
        }
    }

    /// <summary>8 positions (x[k * plane + r]) x 32 channels (panel + k * 32), bias added, into sums (rows 32 floats apart).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Tile8(float* x, int plane, float* panel, float* bias, int inC, float* sums)
    {
        var z = Vector512<float>.Zero;
        Vector512<float> c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
        Vector512<float> c40 = z, c41 = z, c50 = z, c51 = z, c60 = z, c61 = z, c70 = z, c71 = z;
        float* b = panel;
        for (int k = 0; k < inC; k++, x += plane, b += ColumnMultiple)
        {
            Vector512<float> b0 = V512.Load(b), b1 = V512.Load(b + 16);
            Vector512<float> t = V512.Splat(x[0]); c00 = V512.Fma(t, b0, c00); c01 = V512.Fma(t, b1, c01);
            t = V512.Splat(x[1]); c10 = V512.Fma(t, b0, c10); c11 = V512.Fma(t, b1, c11);
            t = V512.Splat(x[2]); c20 = V512.Fma(t, b0, c20); c21 = V512.Fma(t, b1, c21);
            t = V512.Splat(x[3]); c30 = V512.Fma(t, b0, c30); c31 = V512.Fma(t, b1, c31);
            t = V512.Splat(x[4]); c40 = V512.Fma(t, b0, c40); c41 = V512.Fma(t, b1, c41);
            t = V512.Splat(x[5]); c50 = V512.Fma(t, b0, c50); c51 = V512.Fma(t, b1, c51);
            t = V512.Splat(x[6]); c60 = V512.Fma(t, b0, c60); c61 = V512.Fma(t, b1, c61);
            t = V512.Splat(x[7]); c70 = V512.Fma(t, b0, c70); c71 = V512.Fma(t, b1, c71);
        }
        Vector512<float> v0 = V512.Load(bias), v1 = V512.Load(bias + 16);
        (c00 + v0).Store(sums); (c01 + v1).Store(sums + 16);
        (c10 + v0).Store(sums + 32); (c11 + v1).Store(sums + 48);
        (c20 + v0).Store(sums + 64); (c21 + v1).Store(sums + 80);
        (c30 + v0).Store(sums + 96); (c31 + v1).Store(sums + 112);
        (c40 + v0).Store(sums + 128); (c41 + v1).Store(sums + 144);
        (c50 + v0).Store(sums + 160); (c51 + v1).Store(sums + 176);
        (c60 + v0).Store(sums + 192); (c61 + v1).Store(sums + 208);
        (c70 + v0).Store(sums + 224); (c71 + v1).Store(sums + 240);
    }

    /// <summary>Tiles of <see cref="Rows"/> positions x 2 vectors of channels, stored value by value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void RunRows<S, TV>(float* x, float* wt, float* y, int inC, int outC, int mp, int plane, Activation act, bool accumulate)
        where S : struct, ISimd<TV> where TV : struct
    {
        float* sums = stackalloc float[Rows * 2 * 16];
        int w = 2 * S.Lanes;
        // channel panels outermost: a panel's weights (inC x 2 vectors) stay in L1 while the positions stream past
        for (int m0 = 0; m0 < outC; m0 += w)
        {
            int cols = Math.Min(w, outC - m0);
            // the tile's columns within their panel (w divides 32), and the same columns of the bias row
            float* panel = wt + (nint)(m0 / ColumnMultiple) * inC * ColumnMultiple + m0 % ColumnMultiple, bias = wt + (nint)inC * mp + m0;
            for (int p0 = 0; p0 < plane; p0 += Rows)
            {
                int rows = Math.Min(Rows, plane - p0);
                Tiles<S, TV>(rows, x + p0, plane, panel, bias, inC, sums);
                float* yt = y + (nint)m0 * plane + p0;
                if (accumulate)
                    for (int r = 0; r < rows; r++)
                        for (int j = 0; j < cols; j++) sums[r * w + j] += yt[j * plane + r];
                // the activation over the tile in L1 (one dispatch per tile): in the tile's registers, its instructions
                // for every row count made the kernel too large for the JIT's inliner (the FMAs became calls, 5x slower)
                act.Apply<S, TV>(sums, rows * w);
                // transposed store: position r of channel j
                for (int j = 0; j < cols; j++)
                {
                    float* yj = yt + (nint)j * plane;
                    for (int r = 0; r < rows; r++) yj[r] = sums[r * w + j];
                }
            }
        }
    }

    /// <summary>A tile of 1 to 6 positions (<see cref="Tile"/> for that count).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static void Tiles<S, TV>(int rows, float* x, int plane, float* panel, float* bias, int inC, float* sums)
        where S : struct, ISimd<TV> where TV : struct
    {
        switch (rows)
        {
            case 6: Tile<S, TV, R6>(x, plane, panel, bias, inC, sums); break;
            case 5: Tile<S, TV, R5>(x, plane, panel, bias, inC, sums); break;
            case 4: Tile<S, TV, R4>(x, plane, panel, bias, inC, sums); break;
            case 3: Tile<S, TV, R3>(x, plane, panel, bias, inC, sums); break;
            case 2: Tile<S, TV, R2>(x, plane, panel, bias, inC, sums); break;
            default: Tile<S, TV, R1>(x, plane, panel, bias, inC, sums); break;
        }
    }

    /// <summary>R.N positions (x[k * plane + r]) x 2 vectors of channels (panel + k * 32), bias added, into sums (rows 2 vectors apart).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Tile<S, TV, R>(float* x, int plane, float* panel, float* bias, int inC, float* sums)
        where S : struct, ISimd<TV> where TV : struct where R : struct, IRows
    {
        int l = S.Lanes;
        TV c00 = S.Zero, c01 = S.Zero, c10 = S.Zero, c11 = S.Zero, c20 = S.Zero, c21 = S.Zero;
        TV c30 = S.Zero, c31 = S.Zero, c40 = S.Zero, c41 = S.Zero, c50 = S.Zero, c51 = S.Zero;
        float* b = panel;
        for (int k = 0; k < inC; k++, x += plane, b += ColumnMultiple)
        {
            TV b0 = S.Load(b), b1 = S.Load(b + l);
            TV t = S.Splat(x[0]); c00 = S.Fma(t, b0, c00); c01 = S.Fma(t, b1, c01);
            if (R.N > 1) { t = S.Splat(x[1]); c10 = S.Fma(t, b0, c10); c11 = S.Fma(t, b1, c11); }
            if (R.N > 2) { t = S.Splat(x[2]); c20 = S.Fma(t, b0, c20); c21 = S.Fma(t, b1, c21); }
            if (R.N > 3) { t = S.Splat(x[3]); c30 = S.Fma(t, b0, c30); c31 = S.Fma(t, b1, c31); }
            if (R.N > 4) { t = S.Splat(x[4]); c40 = S.Fma(t, b0, c40); c41 = S.Fma(t, b1, c41); }
            if (R.N > 5) { t = S.Splat(x[5]); c50 = S.Fma(t, b0, c50); c51 = S.Fma(t, b1, c51); }
        }
        TV v0 = S.Load(bias), v1 = S.Load(bias + l);
        int w = 2 * l;
        S.Store(sums, S.Add(c00, v0)); S.Store(sums + l, S.Add(c01, v1));
        if (R.N > 1) { S.Store(sums + w, S.Add(c10, v0)); S.Store(sums + w + l, S.Add(c11, v1)); }
        if (R.N > 2) { S.Store(sums + 2 * w, S.Add(c20, v0)); S.Store(sums + 2 * w + l, S.Add(c21, v1)); }
        if (R.N > 3) { S.Store(sums + 3 * w, S.Add(c30, v0)); S.Store(sums + 3 * w + l, S.Add(c31, v1)); }
        if (R.N > 4) { S.Store(sums + 4 * w, S.Add(c40, v0)); S.Store(sums + 4 * w + l, S.Add(c41, v1)); }
        if (R.N > 5) { S.Store(sums + 5 * w, S.Add(c50, v0)); S.Store(sums + 5 * w + l, S.Add(c51, v1)); }
    }
}
