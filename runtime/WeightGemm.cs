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
            for (int i = 0; i < m; i++)
            {
                float* ar = pa + (nint)i * k, yr = py + (nint)i * n;
                int j = 0;
                if (bits >= 512 && Avx512F.IsSupported) j = Columns512(ar, pw, yr, n, k);
                // with AVX-512 too: the last 8-15 columns (a 10-class head) as one ymm rather than scalar sums
                if (bits >= 256 && Avx2.IsSupported && Fma.IsSupported) j = Columns256(ar, pw, yr, n, k, j);
                // the last columns, row by row: one sum per column in k's order, the columns' chains interleaved
                for (int c = j; c < n; c++) yr[c] = 0f;
                if (j < n)
                    for (int p = 0; p < k; p++)
                    {
                        float x = ar[p];
                        sbyte* wr = pw + (nint)p * n;
                        for (int c = j; c < n; c++) yr[c] += x * wr[c];
                    }
                for (j = 0; j < n; j++) yr[j] = ps[j] * yr[j] + (bias.Length == 0 ? 0f : pb[j]);
                activation.Apply(yr, n);
            }
        }
    }

    /// <summary>The raw sums of columns [0, returned) of one row, four vectors of 16 at a time, then one (Columns256: of columns [j, returned), of 8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int Columns512(float* a, sbyte* w, float* y, int n, int k)
    {
        int j = 0;
        for (; j + 64 <= n; j += 64)
        {
            Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
            sbyte* wp = w + j;
            for (int p = 0; p < k; p++, wp += n)
            {
                var x = Vector512.Create(a[p]);
                s0 = Avx512F.FusedMultiplyAdd(x, Widen(wp), s0);
                s1 = Avx512F.FusedMultiplyAdd(x, Widen(wp + 16), s1);
                s2 = Avx512F.FusedMultiplyAdd(x, Widen(wp + 32), s2);
                s3 = Avx512F.FusedMultiplyAdd(x, Widen(wp + 48), s3);
            }
            s0.Store(y + j); s1.Store(y + j + 16); s2.Store(y + j + 32); s3.Store(y + j + 48);
        }
        for (; j + 16 <= n; j += 16)
        {
            // two chains over even and odd k hide the FMA latency
            Vector512<float> s0 = default, s1 = default;
            sbyte* wp = w + j;
            int p = 0;
            for (; p + 2 <= k; p += 2, wp += 2 * n)
            {
                s0 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[p]), Widen(wp), s0);
                s1 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[p + 1]), Widen(wp + n), s1);
            }
            if (p < k) s0 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[p]), Widen(wp), s0);
            (s0 + s1).Store(y + j);
        }
        return j;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Widen(sbyte* p) => Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(p)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Widen256(sbyte* p) => Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(p));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int Columns256(float* a, sbyte* w, float* y, int n, int k, int j)
    {
        for (; j + 32 <= n; j += 32)
        {
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
            sbyte* wp = w + j;
            for (int p = 0; p < k; p++, wp += n)
            {
                var x = Vector256.Create(a[p]);
                s0 = Fma.MultiplyAdd(x, Widen256(wp), s0);
                s1 = Fma.MultiplyAdd(x, Widen256(wp + 8), s1);
                s2 = Fma.MultiplyAdd(x, Widen256(wp + 16), s2);
                s3 = Fma.MultiplyAdd(x, Widen256(wp + 24), s3);
            }
            s0.Store(y + j); s1.Store(y + j + 8); s2.Store(y + j + 16); s3.Store(y + j + 24);
        }
        for (; j + 8 <= n; j += 8)
        {
            Vector256<float> s0 = default, s1 = default;
            sbyte* wp = w + j;
            int p = 0;
            for (; p + 2 <= k; p += 2, wp += 2 * n)
            {
                s0 = Fma.MultiplyAdd(Vector256.Create(a[p]), Widen256(wp), s0);
                s1 = Fma.MultiplyAdd(Vector256.Create(a[p + 1]), Widen256(wp + n), s1);
            }
            if (p < k) s0 = Fma.MultiplyAdd(Vector256.Create(a[p]), Widen256(wp), s0);
            (s0 + s1).Store(y + j);
        }
        return j;
    }
}
