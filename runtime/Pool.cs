using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

/// <summary>2-D pooling kernels for generated code (NCHW planes, float32).</summary>
public static unsafe class Pool
{
    /// <summary>
    /// Max pooling over batchTimesChannels planes of [inH, inW] into [outH, outW]. Pads never win (they count as -inf);
    /// the bottom/right pads are implied by outH/outW (ceil mode included). Allocation-free.
    /// </summary>
    public static void MaxPool2D(ReadOnlySpan<float> x, Span<float> y, int batchTimesChannels, int inH, int inW, int outH, int outW,
        int kH, int kW, int strideH, int strideW, int padTop, int padLeft, int dilH, int dilW)
    {
        Check(x.Length, y.Length, batchTimesChannels, inH, inW, outH, outW, kH, kW, strideH, strideW, padTop, padLeft, dilH, dilW);
        fixed (float* px = x, py = y)
            Run(true, px, py, batchTimesChannels, inH, inW, outH, outW, kH, kW, strideH, strideW, padTop, padLeft, dilH, dilW, false, 0, 0);
    }

    /// <summary>
    /// Average pooling. The divisor follows ONNX: with <paramref name="countIncludePad"/> it is the number of window taps
    /// inside the padded input [-padTop, inH + padBottom) x [-padLeft, inW + padRight) (taps past that, from ceil mode, do
    /// not count); otherwise the number of taps on real input elements. Allocation-free.
    /// </summary>
    public static void AveragePool2D(ReadOnlySpan<float> x, Span<float> y, int batchTimesChannels, int inH, int inW, int outH, int outW,
        int kH, int kW, int strideH, int strideW, int padTop, int padLeft, int dilH, int dilW, bool countIncludePad, int padBottom, int padRight)
    {
        Check(x.Length, y.Length, batchTimesChannels, inH, inW, outH, outW, kH, kW, strideH, strideW, padTop, padLeft, dilH, dilW);
        if (padBottom < 0 || padRight < 0) throw new ArgumentOutOfRangeException(nameof(padBottom), "AveragePool2D: negative pad");
        fixed (float* px = x, py = y)
            Run(false, px, py, batchTimesChannels, inH, inW, outH, outW, kH, kW, strideH, strideW, padTop, padLeft, dilH, dilW, countIncludePad, padBottom, padRight);
    }

    /// <summary>Global average pooling: y[c] = mean of plane c of x (planes of planeSize contiguous floats). Allocation-free.</summary>
    public static void GlobalAverage(ReadOnlySpan<float> x, Span<float> y, int planes, int planeSize)
    {
        if (planes < 0 || planeSize <= 0) throw new ArgumentOutOfRangeException(nameof(planes), "GlobalAverage: invalid geometry");
        if (x.Length < (long)planes * planeSize) throw new ArgumentException("GlobalAverage: x too small", nameof(x));
        if (y.Length < planes) throw new ArgumentException("GlobalAverage: y too small", nameof(y));
        // one window over each whole plane: the pooling driver's global path
        fixed (float* px = x, py = y)
            Run(false, px, py, planes, 1, planeSize, 1, 1, 1, planeSize, 1, 1, 0, 0, 1, 1, false, 0, 0);
    }

    internal static void Check(int xLen, int yLen, int planes, int inH, int inW, int outH, int outW, int kH, int kW, int sh, int sw, int pt, int pl, int dh, int dw)
    {
        if (planes < 0 || inH <= 0 || inW <= 0 || outH < 0 || outW < 0 || kH <= 0 || kW <= 0 || sh <= 0 || sw <= 0 || pt < 0 || pl < 0 || dh <= 0 || dw <= 0)
            throw new ArgumentOutOfRangeException(nameof(planes), "Pool2D: invalid geometry");
        if (xLen < (long)planes * inH * inW) throw new ArgumentException("Pool2D: x too small", "x");
        if (yLen < (long)planes * outH * outW) throw new ArgumentException("Pool2D: y too small", "y");
    }

    static void Run(bool max, float* x, float* y, int planes, int inH, int inW, int outH, int outW, int kH, int kW,
        int sh, int sw, int pt, int pl, int dh, int dw, bool includePad, int pb, int pr)
    {
        switch (SimdLevel.Bits)
        {
            case 512: Run<V512, Vector512<float>>(max, x, y, planes, inH, inW, outH, outW, kH, kW, sh, sw, pt, pl, dh, dw, includePad, pb, pr); break;
            case 256: Run<V256, Vector256<float>>(max, x, y, planes, inH, inW, outH, outW, kH, kW, sh, sw, pt, pl, dh, dw, includePad, pb, pr); break;
            case 128: Run<V128, Vector128<float>>(max, x, y, planes, inH, inW, outH, outW, kH, kW, sh, sw, pt, pl, dh, dw, includePad, pb, pr); break;
            default: Run<V0, float>(max, x, y, planes, inH, inW, outH, outW, kH, kW, sh, sw, pt, pl, dh, dw, includePad, pb, pr); break;
        }
    }

    /// <summary>Taps t in [0, k) with lo &lt;= start + t*d &lt; hi.</summary>
    static int Count(int start, int d, int k, int lo, int hi)
    {
        int a = Conv.FirstAtLeast(lo, start, d), b = Math.Min(k, Conv.EndAtMost(hi - 1, start, d));
        return Math.Max(0, b - a);
    }

    /// <summary>
    /// Max or mean of n contiguous floats: two vector accumulators, then narrower vectors for the rest (a classifier's
    /// 25x5 plane is 7 whole vectors and 13 left over). Hand-written rather than TensorPrimitives.Sum: that one's
    /// generic layers ran at tier 0 for most of a short run and cost 4-16x this on DS-CNN's pool.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Reduce<S, TV>(bool max, float* p, int n) where S : struct, ISimd<TV> where TV : struct
    {
        int l = S.Lanes, i = 0;
        float r = max ? float.NegativeInfinity : 0f;
        if (n >= 2 * l)
        {
            TV a = S.Load(p), b = S.Load(p + l);
            for (i = 2 * l; i + 2 * l <= n; i += 2 * l)
            {
                if (max) { a = S.Max(a, S.Load(p + i)); b = S.Max(b, S.Load(p + i + l)); }
                else { a = S.Add(a, S.Load(p + i)); b = S.Add(b, S.Load(p + i + l)); }
            }
            if (i + l <= n) { a = max ? S.Max(a, S.Load(p + i)) : S.Add(a, S.Load(p + i)); i += l; }
            if (max)
            {
                float* t = stackalloc float[16];
                S.Store(t, S.Max(a, b));
                for (int j = 0; j < l; j++) r = MathF.Max(r, t[j]);
            }
            else r = S.Sum(S.Add(a, b));
        }
        if (l > 8 && i + 8 <= n)
        {
            var v = Vector256.Load(p + i); i += 8;
            if (max) r = MathF.Max(r, Max4(Vector128.Max(v.GetLower(), v.GetUpper())));
            else r += Vector256.Sum(v);
        }
        if (l > 4 && i + 4 <= n)
        {
            var v = Vector128.Load(p + i); i += 4;
            if (max) r = MathF.Max(r, Max4(v));
            else r += Vector128.Sum(v);
        }
        if (max) for (; i < n; i++) r = MathF.Max(r, p[i]);
        else for (; i < n; i++) r += p[i];
        return max ? r : r / n;
    }

    static float Max4(Vector128<float> v) => MathF.Max(MathF.Max(v[0], v[1]), MathF.Max(v[2], v[3]));

    /// <summary>Longest input row <see cref="MaxPairs"/> takes (its stack row).</summary>
    const int PairRow = 4096;

    /// <summary>
    /// Max pooling with windows of two columns at stride 2 (no left pad, no column dilation), any rows. Each window's
    /// rows are reduced into a stack row, a band of output rows at a time; when the rows pair up exactly (even width,
    /// no ceil-mode column) the band's column pairs are one flat run of vectors, however short the rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void MaxPairs<S, TV>(float* x, float* y, int planes, int inH, int inW, int outH, int outW, int kH, int sh, int pt, int dh)
        where S : struct, ISimd<TV> where TV : struct
    {
        float* t = stackalloc float[PairRow];
        bool flat = inW % 2 == 0 && outW == inW / 2;
        // outputs whose two columns are both inside the row; a ceil-mode last output may have one
        int pairs = Math.Min(outW, inW / 2);
        int band = Math.Max(1, PairRow / inW);
        // every window's rows inside the input (no top pad, no clipped bottom): no per-row bounds (two divisions each)
        bool fullRows = pt == 0 && (long)(outH - 1) * sh + (long)(kH - 1) * dh <= inH - 1;
        if (flat && kH == 1 && sh == 1 && pt == 0 && outH == inH)
        {
            // 1x2/2: every row is its own window row, so the whole tensor is one run of column pairs
            int n = planes * outH * outW, j = PairMax(x, y, n);
            for (; j < n; j++) y[j] = MathF.Max(x[2 * j], x[2 * j + 1]);
            return;
        }
        for (int c = 0; c < planes; c++)
        {
            float* xc = x + (nint)c * inH * inW;
            for (int oy0 = 0; oy0 < outH; oy0 += band)
            {
                int rows = Math.Min(band, outH - oy0);
                for (int b = 0; b < rows; b++)
                {
                    float* tr = t + b * inW;
                    int iy0 = (oy0 + b) * sh - pt;
                    int kyLo = 0, kyHi = kH;
                    if (!fullRows) { kyLo = Conv.FirstAtLeast(0, iy0, dh); kyHi = Math.Min(kH, Conv.EndAtMost(inH - 1, iy0, dh)); }
                    if (kyLo >= kyHi) { new Span<float>(tr, inW).Fill(float.NegativeInfinity); continue; }
                    float* r0 = xc + (iy0 + kyLo * dh) * inW;
                    if (kyHi - kyLo == 1) { new ReadOnlySpan<float>(r0, inW).CopyTo(new Span<float>(tr, inW)); continue; }
                    MaxRows<S, TV>(r0, r0 + dh * inW, tr, inW);
                    for (int ky = kyLo + 2; ky < kyHi; ky++) MaxRows<S, TV>(tr, xc + (iy0 + ky * dh) * inW, tr, inW);
                }
                float* yb = y + ((nint)c * outH + oy0) * outW;
                if (flat)
                {
                    int n = rows * outW, j = PairMax(t, yb, n);
                    for (; j < n; j++) yb[j] = MathF.Max(t[2 * j], t[2 * j + 1]);
                    continue;
                }
                for (int b = 0; b < rows; b++)
                {
                    float* tr = t + b * inW, yr = yb + b * outW;
                    int ox = PairMax(tr, yr, pairs);
                    for (; ox < pairs; ox++) yr[ox] = MathF.Max(tr[2 * ox], tr[2 * ox + 1]);
                    for (; ox < outW; ox++) yr[ox] = 2 * ox < inW ? tr[2 * ox] : float.NegativeInfinity;
                }
            }
        }
    }

    /// <summary>Longest padded row <see cref="MaxStrided"/> takes (its stack rows).</summary>
    const int StridedRow = 2048;

    /// <summary>A stride phase of <see cref="MaxStrided"/>'s padded row: the outputs plus the furthest tap's offset within a phase.</summary>
    static long StridedPhase(int outW, int kW, int sw, int dw) => outW + (long)(kW - 1) * dw / sw + 1;

    /// <summary>
    /// Max pooling at column stride sw &gt; 1, any window, pads and dilation. For each output row the window's input
    /// rows are reduced into a stack row (vector maxes), written at column offset pl of a row of -inf (the pads, and
    /// the columns a ceil-mode window reaches past the input), and split into sw phases: phase p holds padded columns
    /// i * sw + p. Tap kx of output ox reads padded column ox * sw + kx * dw, which is element ox + (kx * dw) / sw of
    /// phase (kx * dw) % sw: every tap is a contiguous run, maxed into the output row in vectors.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void MaxStrided<S, TV>(float* x, float* y, int planes, int inH, int inW, int outH, int outW, int kH, int kW,
        int sh, int sw, int pt, int pl, int dh, int dw) where S : struct, ISimd<TV> where TV : struct
    {
        int l = S.Lanes;
        int len = (int)StridedPhase(outW, kW, sw, dw), width = len * sw;
        float* r = stackalloc float[StridedRow];
        float* ph = stackalloc float[StridedRow];
        int copy = Math.Max(0, Math.Min(inW, width - pl)); // input columns that land inside the padded row
        for (int c = 0; c < planes; c++)
        {
            float* xc = x + (nint)c * inH * inW;
            for (int oy = 0; oy < outH; oy++)
            {
                float* yr = y + ((nint)c * outH + oy) * outW;
                int iy0 = oy * sh - pt;
                int kyLo = Conv.FirstAtLeast(0, iy0, dh), kyHi = Math.Min(kH, Conv.EndAtMost(inH - 1, iy0, dh));
                new Span<float>(r, width).Fill(float.NegativeInfinity);
                if (kyLo < kyHi)
                {
                    float* row = r + pl;
                    float* r0 = xc + (iy0 + kyLo * dh) * inW;
                    if (kyHi - kyLo == 1) new ReadOnlySpan<float>(r0, copy).CopyTo(new Span<float>(row, copy));
                    else
                    {
                        MaxRows<S, TV>(r0, r0 + dh * inW, row, copy);
                        for (int ky = kyLo + 2; ky < kyHi; ky++) MaxRows<S, TV>(row, xc + (iy0 + ky * dh) * inW, row, copy);
                    }
                }
                if (sw == 2) Deinterleave(r, ph, ph + len, len);
                else
                    for (int p = 0; p < sw; p++)
                    {
                        float* d = ph + p * len;
                        for (int i = 0; i < len; i++) d[i] = r[i * sw + p];
                    }
                new Span<float>(yr, outW).Fill(float.NegativeInfinity);
                for (int kx = 0; kx < kW; kx++)
                {
                    float* src = ph + (kx * dw) % sw * len + (kx * dw) / sw;
                    if (l > 1 && outW >= l)
                    {
                        // whole vectors, the last one overlapping the one before (a max taken twice is the same max)
                        for (int ox = 0; ; ox += l)
                        {
                            if (ox > outW - l) ox = outW - l;
                            S.Store(yr + ox, S.Max(S.Load(yr + ox), S.Load(src + ox)));
                            if (ox == outW - l) break;
                        }
                    }
                    else for (int ox = 0; ox < outW; ox++) yr[ox] = MathF.Max(yr[ox], src[ox]);
                }
            }
        }
    }

    /// <summary>
    /// 3-wide windows at column stride 2 (the 3x3/2 pools of SqueezeNet, GoogLeNet and ResNet stems), without a stage:
    /// per output row, chunks of outputs (16 with AVX-512, else 4 with SSE or NEON) read the window's rows straight
    /// from x (two vectors at the window start, two more two columns on), max them in registers, and split even and odd
    /// columns by shuffles: tap 0 is the even columns, tap 1 the odd, tap 2 the even ones two on. Only the outputs whose
    /// loads would leave the row run value by value. SqueezeNet's three pools (64 x 47x47, 128 x 23x23, 256 x 11x11)
    /// took 110, 58 and 35 us staged (<see cref="MaxStrided"/>), 40-55, 33-51 and 20-28 this way. Returns false
    /// (nothing written) where no chunk of 4 fits a row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static bool Max3Stride2(float* x, float* y, int planes, int inH, int inW, int outH, int outW, int kH, int sh, int pt, int pl, int dh)
    {
        bool narrow = Sse.IsSupported && SimdLevel.Bits >= 128 || AdvSimd.Arm64.IsSupported;
        // a chunk may start at outputs lo .. last: its loads (columns 2 ox - pl .. 2 ox - pl + 2v + 1) inside the row;
        // rows too short for a chunk of 16 take chunks of 4
        int lo = (pl + 1) / 2, last = -1;
        bool wide = Avx512F.IsSupported && SimdLevel.Bits >= 512 && (last = LastChunk(16, inW, outW, pl)) >= lo;
        if (!wide && !(narrow && (last = LastChunk(4, inW, outW, pl)) >= lo)) return false;
        int v = wide ? 16 : 4;
        var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        var odd = Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        float** rows = stackalloc float*[kH];
        for (int c = 0; c < planes; c++)
        {
            float* xc = x + (nint)c * inH * inW;
            for (int oy = 0; oy < outH; oy++)
            {
                float* yr = y + ((nint)c * outH + oy) * outW;
                int iy0 = oy * sh - pt, n = 0;
                for (int ky = 0; ky < kH; ky++)
                {
                    int iy = iy0 + ky * dh;
                    if ((uint)iy < (uint)inH) rows[n++] = xc + (nint)iy * inW - pl;
                }
                for (int ox = 0; ox < lo; ox++) yr[ox] = Max3(rows, n, 2 * ox, pl, inW);
                for (int ox = last + v; ox < outW; ox++) yr[ox] = Max3(rows, n, 2 * ox, pl, inW);
                for (int ox = lo; ; ox += v)
                {
                    if (ox > last) ox = last;
                    int col = 2 * ox;
                    if (wide)
                    {
                        var a = Vector512.Create(float.NegativeInfinity); var b = a; var e = a; var f = a;
                        for (int i = 0; i < n; i++)
                        {
                            float* r = rows[i] + col;
                            a = Avx512F.Max(a, Vector512.Load(r)); b = Avx512F.Max(b, Vector512.Load(r + 16));
                            e = Avx512F.Max(e, Vector512.Load(r + 2)); f = Avx512F.Max(f, Vector512.Load(r + 18));
                        }
                        Avx512F.Max(Avx512F.Max(Avx512F.PermuteVar16x32x2(a, even, b), Avx512F.PermuteVar16x32x2(a, odd, b)),
                            Avx512F.PermuteVar16x32x2(e, even, f)).Store(yr + ox);
                    }
                    else
                    {
                        var a = Vector128.Create(float.NegativeInfinity); var b = a; var e = a; var f = a;
                        for (int i = 0; i < n; i++)
                        {
                            float* r = rows[i] + col;
                            a = Max128(a, Vector128.Load(r)); b = Max128(b, Vector128.Load(r + 4));
                            e = Max128(e, Vector128.Load(r + 2)); f = Max128(f, Vector128.Load(r + 6));
                        }
                        Max128(Max128(Even(a, b), Odd(a, b)), Even(e, f)).Store(yr + ox);
                    }
                    if (ox == last) break;
                }
            }
        }
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> Max128(Vector128<float> a, Vector128<float> b) => Sse.IsSupported ? Sse.Max(a, b) : AdvSimd.Max(a, b);

    /// <summary>The even lanes of a then b (a0 a2 b0 b2): an SSE shuffle or a NEON unzip.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> Even(Vector128<float> a, Vector128<float> b) => Sse.IsSupported ? Sse.Shuffle(a, b, 0b10_00_10_00) : AdvSimd.Arm64.UnzipEven(a, b);

    /// <summary>The odd lanes of a then b (a1 a3 b1 b3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> Odd(Vector128<float> a, Vector128<float> b) => Sse.IsSupported ? Sse.Shuffle(a, b, 0b11_01_11_01) : AdvSimd.Arm64.UnzipOdd(a, b);

    /// <summary>The last output a chunk of v may start at (its loads inside the row), or -1.</summary>
    static int LastChunk(int v, int inW, int outW, int pl)
    {
        int room = inW - 2 - 2 * v + pl;
        return room < 0 ? -1 : Math.Min(outW - v, room / 2);
    }

    /// <summary>
    /// The max over n rows (each already shifted by the left pad) of padded columns col .. col + 2 that lie in [0, inW),
    /// as the vector chunks take it (the hardware's max, a &gt; b ? a : b). Every row's last output or two come here:
    /// with MathF.Max (IEEE, .NET 9 on) and a test per tap they were 60% of SqueezeNet's 64 x 47x47 pool.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Max3(float** rows, int n, int col, int pl, int inW)
    {
        float m = float.NegativeInfinity;
        int c0 = col - pl;
        if (c0 >= 0 && c0 + 3 <= inW)
            for (int i = 0; i < n; i++)
            {
                float* r = rows[i] + col;
                m = MaxScalar(MaxScalar(m, r[0]), MaxScalar(r[1], r[2]));
            }
        else
            for (int i = 0; i < n; i++)
                for (int k = 0; k < 3; k++)
                    if ((uint)(c0 + k) < (uint)inW) m = MaxScalar(m, rows[i][col + k]);
        return m;
    }

    /// <summary>a &gt; b ? a : b without a branch where the CPU has vmaxss (random data mispredicts the branch).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float MaxScalar(float a, float b) => Sse.IsSupported ? Sse.MaxScalar(Vector128.CreateScalarUnsafe(a), Vector128.CreateScalarUnsafe(b)).ToScalar() : a > b ? a : b;

    /// <summary>even[i] = r[2i], odd[i] = r[2i + 1] for i &lt; n, four at a time (a shuffle of two vectors each).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Deinterleave(float* r, float* even, float* odd, int n)
    {
        int i = 0;
        if (SimdLevel.Bits > 0 && (Sse.IsSupported || AdvSimd.Arm64.IsSupported))
            for (; i + 4 <= n; i += 4)
            {
                Vector128<float> a = Vector128.Load(r + 2 * i), b = Vector128.Load(r + 2 * i + 4);
                Even(a, b).Store(even + i);
                Odd(a, b).Store(odd + i);
            }
        for (; i < n; i++) { even[i] = r[2 * i]; odd[i] = r[2 * i + 1]; }
    }

    /// <summary>d[i] = max(a[i], b[i]) for n floats; short rows in narrower vectors (a row of 8 is one 256-bit max, not 8 scalar ones).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void MaxRows<S, TV>(float* a, float* b, float* d, int n) where S : struct, ISimd<TV> where TV : struct
    {
        int l = S.Lanes, i = 0;
        for (; i + l <= n; i += l) S.Store(d + i, S.Max(S.Load(a + i), S.Load(b + i)));
        if (l > 8 && i + 8 <= n) { Vector256.Max(Vector256.Load(a + i), Vector256.Load(b + i)).Store(d + i); i += 8; }
        if (l > 4 && i + 4 <= n) { Vector128.Max(Vector128.Load(a + i), Vector128.Load(b + i)).Store(d + i); i += 4; }
        for (; i < n; i++) d[i] = MathF.Max(a[i], b[i]);
    }

    /// <summary>y[i] = max(r[2i], r[2i + 1]) for whole vectors of i below n (AVX-512 or AVX2 shuffles); returns how many were done.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int PairMax(float* r, float* y, int n)
    {
        int i = 0;
        if (Avx512F.IsSupported && SimdLevel.Bits >= 512)
        {
            var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            var odd = Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
            for (; i + 16 <= n; i += 16)
            {
                var a = Vector512.Load(r + 2 * i); var b = Vector512.Load(r + 2 * i + 16);
                Vector512.Max(Avx512F.PermuteVar16x32x2(a, even, b), Avx512F.PermuteVar16x32x2(a, odd, b)).Store(y + i);
            }
        }
        if (Avx2.IsSupported && SimdLevel.Bits >= 256)
            for (; i + 8 <= n; i += 8)
            {
                var a = Vector256.Load(r + 2 * i); var b = Vector256.Load(r + 2 * i + 8);
                // within 128-bit halves: [a0 a2 b0 b2 | a4 a6 b4 b6] and the odd ones; then the 64-bit pieces in order
                var m = Avx.Max(Avx.Shuffle(a, b, 0b10_00_10_00), Avx.Shuffle(a, b, 0b11_01_11_01));
                Avx2.Permute4x64(m.AsDouble(), 0b11_01_10_00).AsSingle().Store(y + i);
            }
        return i;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Run<S, TV>(bool max, float* x, float* y, int planes, int inH, int inW, int outH, int outW, int kH, int kW,
        int sh, int sw, int pt, int pl, int dh, int dw, bool includePad, int pb, int pr)
        where S : struct, ISimd<TV> where TV : struct
    {
        int l = S.Lanes;
        float init = max ? float.NegativeInfinity : 0f;
        // global pooling (one window exactly over each plane, the classifier heads' pool): one reduction of the
        // contiguous plane, instead of a tap loop that pays window bookkeeping for every single element
        if (outH == 1 && outW == 1 && kH == inH && kW == inW && pt == 0 && pl == 0 && dh == 1 && dw == 1)
        {
            int n = inH * inW;
            for (int c = 0; c < planes; c++) y[c] = Reduce<S, TV>(max, x + (nint)c * n, n);
            return;
        }
        // max over window pairs of columns, stride 2 (2x2/2 and 1x2/2, the common max pools): rows reduced into a
        // stack row first, then each pair of its columns in vectors; the per-tap loop below is scalar for stride 2
        if (max && kW == 2 && sw == 2 && dw == 1 && pl == 0 && inW <= PairRow)
        {
            MaxPairs<S, TV>(x, y, planes, inH, inW, outH, outW, kH, sh, pt, dh);
            return;
        }
        // 3-wide windows at stride 2 (3x3/2 with ceil mode in SqueezeNet, GoogLeNet, ResNet stems): the window's rows
        // straight into registers, even and odd columns split by shuffles
        if (max && kW == 3 && sw == 2 && dw == 1 && Max3Stride2(x, y, planes, inH, inW, outH, outW, kH, sh, pt, pl, dh)) return;
        // other strided max pools: per output row, the window's rows reduced into a padded stack row split into its
        // stride phases; each tap is then one contiguous run of vector maxes (the per-tap loop below is scalar for
        // strides above 1)
        if (max && sw > 1 && StridedPhase(outW, kW, sw, dw) * sw <= StridedRow)
        {
            MaxStrided<S, TV>(x, y, planes, inH, inW, outH, outW, kH, kW, sh, sw, pt, pl, dh, dw);
            return;
        }
        // each tap column's run of outputs, once per call: per plane, row and tap, its two divisions were most of the
        // time on small planes (GoogLeNet's 3x3/1 pools of 512 planes of 4x4: 156 us)
        const int MaxTapCols = 64;
        int* runs = stackalloc int[2 * Math.Min(kW, MaxTapCols)];
        for (int kx = 0; kx < Math.Min(kW, MaxTapCols); kx++)
        {
            int off = kx * dw - pl;
            runs[2 * kx] = Conv.FirstAtLeast(0, off, sw);
            runs[2 * kx + 1] = Math.Min(outW, Conv.EndAtMost(inW - 1, off, sw));
        }
        for (int c = 0; c < planes; c++)
        {
            float* xc = x + (nint)c * inH * inW;
            for (int oy = 0; oy < outH; oy++)
            {
                float* yr = y + ((nint)c * outH + oy) * outW;
                new Span<float>(yr, outW).Fill(init);
                int iy0 = oy * sh - pt;
                int kyLo = Conv.FirstAtLeast(0, iy0, dh), kyHi = Math.Min(kH, Conv.EndAtMost(inH - 1, iy0, dh));
                for (int ky = kyLo; ky < kyHi; ky++)
                {
                    float* xr = xc + (iy0 + ky * dh) * inW;
                    for (int kx = 0; kx < kW; kx++)
                    {
                        int off = kx * dw - pl; // ix = ox*sw + off
                        int lo, hi;
                        if (kx < MaxTapCols) { lo = runs[2 * kx]; hi = runs[2 * kx + 1]; }
                        else { lo = Conv.FirstAtLeast(0, off, sw); hi = Math.Min(outW, Conv.EndAtMost(inW - 1, off, sw)); }
                        int ox = lo;
                        if (sw == 1 && l > 1)
                        {
                            float* xs = xr + off;
                            if (max) for (; ox + l <= hi; ox += l) S.Store(yr + ox, S.Max(S.Load(yr + ox), S.Load(xs + ox)));
                            else for (; ox + l <= hi; ox += l) S.Store(yr + ox, S.Add(S.Load(yr + ox), S.Load(xs + ox)));
                        }
                        if (max) for (; ox < hi; ox++) yr[ox] = MathF.Max(yr[ox], xr[ox * sw + off]);
                        else for (; ox < hi; ox++) yr[ox] += xr[ox * sw + off];
                    }
                }
                if (!max)
                {
                    int cy = includePad ? Count(iy0, dh, kH, -pt, inH + pb) : kyHi > kyLo ? kyHi - kyLo : 0;
                    for (int ox = 0; ox < outW; ox++)
                    {
                        int ix0 = ox * sw - pl;
                        int cx = includePad ? Count(ix0, dw, kW, -pl, inW + pr) : Count(ix0, dw, kW, 0, inW);
                        int n = cy * cx;
                        yr[ox] = n > 0 ? yr[ox] / n : 0f;
                    }
                }
            }
        }
    }
}
