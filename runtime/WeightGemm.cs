using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

/// <summary>
/// Float activations times int8 weights (Quantize="Weights" Gemm layers): y[i, j] = act(scale[j] * sum_k a[i, k] *
/// w[k, j] + bias[j]). The weights are widened to float in registers as they stream in (vpmovsxbd + vcvtdq2ps), never
/// written out: a matrix-vector product reads each weight once, so its time is the bytes of its weights, a quarter of
/// the float layer's. The output columns are in the vector lanes (w is [k, n]): a tile of four vectors of columns
/// accumulates over all of k, with no horizontal sums.
/// </summary>
public static unsafe class WeightGemm
{
    /// <summary>a [m, k], w [k, n], scale [n], bias [n] or empty, y [m, n]. Allocation-free.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(ReadOnlySpan<float> a, ReadOnlySpan<sbyte> w, ReadOnlySpan<float> scale, ReadOnlySpan<float> bias, Span<float> y,
        int m, int n, int k, Activation activation = default)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(m), "WeightGemm dimensions must be non-negative");
        if (a.Length < (long)m * k || w.Length < (long)n * k || scale.Length < n || y.Length < (long)m * n || bias.Length != 0 && bias.Length < n)
            throw new ArgumentException("WeightGemm operand too small");
        fixed (float* pa = a, ps = scale, pb = bias, py = y)
        fixed (sbyte* pw = w)
        {
            int bits = SimdLevel.Bits;
            for (int i = 0; i < m; )
            {
                // rows in blocks (4 on AVX-512, 2 on AVX2): each widened weight vector feeds every row of the block;
                // each row's sums are the same chains in the same order as alone
                int rows = Math.Min(m - i, bits >= 512 && Avx512F.IsSupported ? 4 : 2);
                float* ar = pa + (nint)i * k, yr = py + (nint)i * n;
                int j = 0;
                if (bits >= 512 && Avx512F.IsSupported)
                    j = rows switch { 4 => Columns512<R4>(ar, k, pw, yr, n, k), 3 => Columns512<R3>(ar, k, pw, yr, n, k), 2 => Columns512<R2>(ar, k, pw, yr, n, k), _ => Columns512<R1>(ar, k, pw, yr, n, k) };
                // with AVX-512 too: the last 8-15 columns (a 10-class head) as one ymm rather than scalar sums
                if (bits >= 256 && Avx2.IsSupported && Fma.IsSupported)
                    for (int r = 0; r < rows; )
                    {
                        int two = Math.Min(2, rows - r);
                        int jr = two == 2 ? Columns256<R2>(ar + r * k, k, pw, yr + r * n, n, k, j) : Columns256<R1>(ar + r * k, k, pw, yr + r * n, n, k, j);
                        r += two;
                        if (r >= rows) j = jr;
                    }
                for (int r = 0; r < rows; r++)
                {
                    float* a1 = ar + (nint)r * k, y1 = yr + (nint)r * n;
                    // the last columns, row by row: one sum per column in k's order, the columns' chains interleaved
                    for (int c = j; c < n; c++) y1[c] = 0f;
                    if (j < n)
                        for (int p = 0; p < k; p++)
                        {
                            float x = a1[p];
                            sbyte* wr = pw + (nint)p * n;
                            for (int c = j; c < n; c++) y1[c] += x * wr[c];
                        }
                    for (int c = 0; c < n; c++) y1[c] = ps[c] * y1[c] + (bias.Length == 0 ? 0f : pb[c]);
                    activation.Apply(y1, n);
                }
                i += rows;
            }
        }
    }

    /// <summary>
    /// The raw sums of columns [0, returned) of R.N rows (a row every aStride floats of a, every n of y), four vectors of
    /// 16 at a time, then one (Columns256: of columns [j, returned), of 8).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int Columns512<R>(float* a, int aStride, sbyte* w, float* y, int n, int k) where R : struct, IRows
    {
        float* a1 = a + aStride, a2 = a1 + aStride, a3 = a2 + aStride;
        float* y1 = y + n, y2 = y1 + n, y3 = y2 + n;
        int j = 0;
        for (; j + 64 <= n; j += 64)
        {
            Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default, t0 = default, t1 = default, t2 = default, t3 = default;
            Vector512<float> u0 = default, u1 = default, u2 = default, u3 = default, v0 = default, v1 = default, v2 = default, v3 = default;
            sbyte* wp = w + j;
            for (int p = 0; p < k; p++, wp += n)
            {
                Vector512<float> w0 = Widen(wp), w1 = Widen(wp + 16), w2 = Widen(wp + 32), w3 = Widen(wp + 48);
                var x = Vector512.Create(a[p]);
                s0 = Avx512F.FusedMultiplyAdd(x, w0, s0); s1 = Avx512F.FusedMultiplyAdd(x, w1, s1);
                s2 = Avx512F.FusedMultiplyAdd(x, w2, s2); s3 = Avx512F.FusedMultiplyAdd(x, w3, s3);
                if (R.N > 1)
                {
                    x = Vector512.Create(a1[p]);
                    t0 = Avx512F.FusedMultiplyAdd(x, w0, t0); t1 = Avx512F.FusedMultiplyAdd(x, w1, t1);
                    t2 = Avx512F.FusedMultiplyAdd(x, w2, t2); t3 = Avx512F.FusedMultiplyAdd(x, w3, t3);
                }
                if (R.N > 2)
                {
                    x = Vector512.Create(a2[p]);
                    u0 = Avx512F.FusedMultiplyAdd(x, w0, u0); u1 = Avx512F.FusedMultiplyAdd(x, w1, u1);
                    u2 = Avx512F.FusedMultiplyAdd(x, w2, u2); u3 = Avx512F.FusedMultiplyAdd(x, w3, u3);
                }
                if (R.N > 3)
                {
                    x = Vector512.Create(a3[p]);
                    v0 = Avx512F.FusedMultiplyAdd(x, w0, v0); v1 = Avx512F.FusedMultiplyAdd(x, w1, v1);
                    v2 = Avx512F.FusedMultiplyAdd(x, w2, v2); v3 = Avx512F.FusedMultiplyAdd(x, w3, v3);
                }
            }
            s0.Store(y + j); s1.Store(y + j + 16); s2.Store(y + j + 32); s3.Store(y + j + 48);
            if (R.N > 1) { t0.Store(y1 + j); t1.Store(y1 + j + 16); t2.Store(y1 + j + 32); t3.Store(y1 + j + 48); }
            if (R.N > 2) { u0.Store(y2 + j); u1.Store(y2 + j + 16); u2.Store(y2 + j + 32); u3.Store(y2 + j + 48); }
            if (R.N > 3) { v0.Store(y3 + j); v1.Store(y3 + j + 16); v2.Store(y3 + j + 32); v3.Store(y3 + j + 48); }
        }
        for (; j + 16 <= n; j += 16)
        {
            // two chains per row over even and odd k hide the FMA latency
            Vector512<float> s0 = default, s1 = default, t0 = default, t1 = default, u0 = default, u1 = default, v0 = default, v1 = default;
            sbyte* wp = w + j;
            int p = 0;
            for (; p + 2 <= k; p += 2, wp += 2 * n)
            {
                Vector512<float> we = Widen(wp), wo = Widen(wp + n);
                s0 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[p]), we, s0); s1 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[p + 1]), wo, s1);
                if (R.N > 1) { t0 = Avx512F.FusedMultiplyAdd(Vector512.Create(a1[p]), we, t0); t1 = Avx512F.FusedMultiplyAdd(Vector512.Create(a1[p + 1]), wo, t1); }
                if (R.N > 2) { u0 = Avx512F.FusedMultiplyAdd(Vector512.Create(a2[p]), we, u0); u1 = Avx512F.FusedMultiplyAdd(Vector512.Create(a2[p + 1]), wo, u1); }
                if (R.N > 3) { v0 = Avx512F.FusedMultiplyAdd(Vector512.Create(a3[p]), we, v0); v1 = Avx512F.FusedMultiplyAdd(Vector512.Create(a3[p + 1]), wo, v1); }
            }
            if (p < k)
            {
                var we = Widen(wp);
                s0 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[p]), we, s0);
                if (R.N > 1) t0 = Avx512F.FusedMultiplyAdd(Vector512.Create(a1[p]), we, t0);
                if (R.N > 2) u0 = Avx512F.FusedMultiplyAdd(Vector512.Create(a2[p]), we, u0);
                if (R.N > 3) v0 = Avx512F.FusedMultiplyAdd(Vector512.Create(a3[p]), we, v0);
            }
            (s0 + s1).Store(y + j);
            if (R.N > 1) (t0 + t1).Store(y1 + j);
            if (R.N > 2) (u0 + u1).Store(y2 + j);
            if (R.N > 3) (v0 + v1).Store(y3 + j);
        }
        return j;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Widen(sbyte* p) => Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(p)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Widen256(sbyte* p) => Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(p));

    /// <summary><see cref="Columns512"/> at 256 bits, for one or two rows, from column j.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int Columns256<R>(float* a, int aStride, sbyte* w, float* y, int n, int k, int j) where R : struct, IRows
    {
        float* a1 = a + aStride, y1 = y + n;
        for (; j + 32 <= n; j += 32)
        {
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default, t0 = default, t1 = default, t2 = default, t3 = default;
            sbyte* wp = w + j;
            for (int p = 0; p < k; p++, wp += n)
            {
                Vector256<float> w0 = Widen256(wp), w1 = Widen256(wp + 8), w2 = Widen256(wp + 16), w3 = Widen256(wp + 24);
                var x = Vector256.Create(a[p]);
                s0 = Fma.MultiplyAdd(x, w0, s0); s1 = Fma.MultiplyAdd(x, w1, s1); s2 = Fma.MultiplyAdd(x, w2, s2); s3 = Fma.MultiplyAdd(x, w3, s3);
                if (R.N > 1)
                {
                    x = Vector256.Create(a1[p]);
                    t0 = Fma.MultiplyAdd(x, w0, t0); t1 = Fma.MultiplyAdd(x, w1, t1); t2 = Fma.MultiplyAdd(x, w2, t2); t3 = Fma.MultiplyAdd(x, w3, t3);
                }
            }
            s0.Store(y + j); s1.Store(y + j + 8); s2.Store(y + j + 16); s3.Store(y + j + 24);
            if (R.N > 1) { t0.Store(y1 + j); t1.Store(y1 + j + 8); t2.Store(y1 + j + 16); t3.Store(y1 + j + 24); }
        }
        for (; j + 8 <= n; j += 8)
        {
            Vector256<float> s0 = default, s1 = default, t0 = default, t1 = default;
            sbyte* wp = w + j;
            int p = 0;
            for (; p + 2 <= k; p += 2, wp += 2 * n)
            {
                Vector256<float> we = Widen256(wp), wo = Widen256(wp + n);
                s0 = Fma.MultiplyAdd(Vector256.Create(a[p]), we, s0); s1 = Fma.MultiplyAdd(Vector256.Create(a[p + 1]), wo, s1);
                if (R.N > 1) { t0 = Fma.MultiplyAdd(Vector256.Create(a1[p]), we, t0); t1 = Fma.MultiplyAdd(Vector256.Create(a1[p + 1]), wo, t1); }
            }
            if (p < k)
            {
                var we = Widen256(wp);
                s0 = Fma.MultiplyAdd(Vector256.Create(a[p]), we, s0);
                if (R.N > 1) t0 = Fma.MultiplyAdd(Vector256.Create(a1[p]), we, t0);
            }
            (s0 + s1).Store(y + j);
            if (R.N > 1) (t0 + t1).Store(y1 + j);
        }
        return j;
    }
}
