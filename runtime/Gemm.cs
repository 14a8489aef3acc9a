using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Runtime;

/// <summary>How Gemm's C operand broadcasts over the [M, N] result.</summary>
public enum BiasKind { None, Scalar, Row, Column, Matrix }

/// <summary>General matrix multiply for generated code: Y = alpha * A' B' + beta * C, row-major.</summary>
public static unsafe class Gemm
{
    /// <summary>
    /// Y[m, n] = alpha * A' B' + beta * C with A' = transA ? A^T : A ([m, k]), B' = transB ? B^T : B ([k, n]).
    /// C broadcasts per <paramref name="biasKind"/>: Scalar c[0], Row c[j], Column c[i], Matrix c[i * n + j]; None ignores c.
    /// <paramref name="activation"/> is applied to each result as it is stored. Allocation-free; y must not overlap a, b or c.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> c, Span<float> y,
        int m, int n, int k, bool transA, bool transB, float alpha, float beta, BiasKind biasKind, Activation activation = default)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(m), "Gemm dimensions must be non-negative");
        if (y.Length < (long)m * n || a.Length < (long)m * k || b.Length < (long)k * n) throw new ArgumentException("Gemm operand too small");
        int need = biasKind switch { BiasKind.None => 0, BiasKind.Scalar => 1, BiasKind.Row => n, BiasKind.Column => m, _ => m * n };
        if (c.Length < need) throw new ArgumentException("Gemm bias operand too small", nameof(c));
        if (m == 0 || n == 0) return;

        fixed (float* pa = a, pb = b, pc = c, py = y)
        {
            // Bias: a per-row bias folds into the kernel's first store; the other kinds are written first.
            float* rowBias = null;
            bool accumulate = false;
            if (biasKind != BiasKind.None && beta != 0f)
            {
                if (biasKind == BiasKind.Column && beta == 1f) rowBias = pc;
                else
                {
                    accumulate = true;
                    for (int i = 0; i < m; i++)
                    {
                        var row = new Span<float>(py + (nint)i * n, n);
                        switch (biasKind)
                        {
                            case BiasKind.Scalar: row.Fill(beta * pc[0]); break;
                            case BiasKind.Row: Scale(new ReadOnlySpan<float>(pc, n), beta, row); break;
                            case BiasKind.Column: row.Fill(beta * pc[i]); break;
                            default: Scale(new ReadOnlySpan<float>(pc + (nint)i * n, n), beta, row); break;
                        }
                    }
                }
            }
            if (alpha == 0f || k == 0)
            {
                for (int i = 0; i < m; i++)
                {
                    if (!accumulate) new Span<float>(py + (nint)i * n, n).Fill(rowBias == null ? 0f : rowBias[i]);
                    activation.Apply(py + (nint)i * n, n);
                }
                return;
            }
            nint ars = transA ? 1 : k, acs = transA ? m : 1;
            if (transB && !transA && k >= 32 && m < DotMaxRows)
            {
                DotRows(pa, k, pb, k, py, n, m, n, k, alpha, accumulate, rowBias, activation);
                return;
            }
            var src = new BSource { Kind = transB ? BSource.Transposed : BSource.RowMajor, B = pb, Ldb = transB ? k : n };
            GemmCore.Run(pa, ars, acs, src, py, n, m, n, k, alpha, accumulate, rowBias, activation);
        }
    }

    /// <summary>B transposed and A not: below this many rows of A, dot products of contiguous rows beat packing B.</summary>
    internal static int DotMaxRows = 6;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Scale(ReadOnlySpan<float> x, float s, Span<float> y)
    {
        if (s == 1f) x.CopyTo(y);
        else for (int j = 0; j < y.Length; j++) y[j] = s * x[j];
    }

    /// <summary>Y[i, j] = act(init + alpha * dot(A row i, B row j)): A [m, k] and B [n, k] both row-major (B transposed GEMM).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void DotRows(float* a, nint lda, float* b, nint ldb, float* y, nint ldy, int m, int n, int k, float alpha, bool accumulate, float* rowBias, Activation act)
    {
        switch (SimdLevel.Bits)
        {
            case 512: DotRows<V512, Vector512<float>>(a, lda, b, ldb, y, ldy, m, n, k, alpha, accumulate, rowBias, act); break;
            case 256: DotRows<V256, Vector256<float>>(a, lda, b, ldb, y, ldy, m, n, k, alpha, accumulate, rowBias, act); break;
            case 128: DotRows<V128, Vector128<float>>(a, lda, b, ldb, y, ldy, m, n, k, alpha, accumulate, rowBias, act); break;
            default:
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++)
                    {
                        float s = 0;
                        for (int p = 0; p < k; p++) s += a[i * lda + p] * b[j * ldb + p];
                        float* d = y + i * ldy + j;
                        *d = act.Apply((accumulate ? *d : rowBias != null ? rowBias[i] : 0f) + alpha * s);
                    }
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void DotRows<S, TV>(float* a, nint lda, float* b, nint ldb, float* y, nint ldy, int m, int n, int k, float alpha, bool accumulate, float* rowBias, Activation act)
        where S : struct, ISimd<TV> where TV : struct
    {
        int i = 0;
        for (; i + 2 <= m; i += 2)
        {
            int j = 0;
            for (; j + 4 <= n; j += 4) Dot2x4<S, TV>(a + i * lda, lda, b + j * ldb, ldb, y + i * ldy + j, ldy, k, alpha, accumulate, rowBias == null ? null : rowBias + i, 2, act);
            for (; j < n; j++) Dot2x1<S, TV>(a + i * lda, lda, b + j * ldb, y + i * ldy + j, ldy, k, alpha, accumulate, rowBias == null ? null : rowBias + i, 2, act);
        }
        for (; i < m; i++)
        {
            int j = 0;
            for (; j + 4 <= n; j += 4) Dot2x4<S, TV>(a + i * lda, 0, b + j * ldb, ldb, y + i * ldy + j, ldy, k, alpha, accumulate, rowBias == null ? null : rowBias + i, 1, act);
            for (; j < n; j++) Dot2x1<S, TV>(a + i * lda, 0, b + j * ldb, y + i * ldy + j, ldy, k, alpha, accumulate, rowBias == null ? null : rowBias + i, 1, act);
        }
    }

    /// <summary>rows (1 or 2) rows of A against 4 rows of B: 8 vector accumulators, 6 loads per 8 FMAs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dot2x4<S, TV>(float* a0, nint lda, float* b0, nint ldb, float* y, nint ldy, int k, float alpha, bool accumulate, float* bias, int rows, in Activation act)
        where S : struct, ISimd<TV> where TV : struct
    {
        int l = S.Lanes;
        float* a1 = a0 + lda, b1 = b0 + ldb, b2 = b1 + ldb, b3 = b2 + ldb;
        TV s00 = S.Zero, s01 = S.Zero, s02 = S.Zero, s03 = S.Zero, s10 = S.Zero, s11 = S.Zero, s12 = S.Zero, s13 = S.Zero;
        int p = 0;
        for (; p + l <= k; p += l)
        {
            TV x0 = S.Load(a0 + p), x1 = S.Load(a1 + p);
            TV w = S.Load(b0 + p); s00 = S.Fma(x0, w, s00); s10 = S.Fma(x1, w, s10);
            w = S.Load(b1 + p); s01 = S.Fma(x0, w, s01); s11 = S.Fma(x1, w, s11);
            w = S.Load(b2 + p); s02 = S.Fma(x0, w, s02); s12 = S.Fma(x1, w, s12);
            w = S.Load(b3 + p); s03 = S.Fma(x0, w, s03); s13 = S.Fma(x1, w, s13);
        }
        float r00 = S.Sum(s00), r01 = S.Sum(s01), r02 = S.Sum(s02), r03 = S.Sum(s03);
        float r10 = S.Sum(s10), r11 = S.Sum(s11), r12 = S.Sum(s12), r13 = S.Sum(s13);
        for (; p < k; p++)
        {
            float x0 = a0[p], x1 = a1[p];
            r00 += x0 * b0[p]; r01 += x0 * b1[p]; r02 += x0 * b2[p]; r03 += x0 * b3[p];
            r10 += x1 * b0[p]; r11 += x1 * b1[p]; r12 += x1 * b2[p]; r13 += x1 * b3[p];
        }
        Put(y, r00, r01, r02, r03, alpha, accumulate, bias == null ? 0f : bias[0], act);
        if (rows > 1) Put(y + ldy, r10, r11, r12, r13, alpha, accumulate, bias == null ? 0f : bias[1], act);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Put(float* y, float r0, float r1, float r2, float r3, float alpha, bool accumulate, float bias, in Activation act)
    {
        if (accumulate) { y[0] += alpha * r0; y[1] += alpha * r1; y[2] += alpha * r2; y[3] += alpha * r3; }
        else { y[0] = bias + alpha * r0; y[1] = bias + alpha * r1; y[2] = bias + alpha * r2; y[3] = bias + alpha * r3; }
        if (act.Kind != ActivationKind.None) { y[0] = act.Apply(y[0]); y[1] = act.Apply(y[1]); y[2] = act.Apply(y[2]); y[3] = act.Apply(y[3]); }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dot2x1<S, TV>(float* a0, nint lda, float* b0, float* y, nint ldy, int k, float alpha, bool accumulate, float* bias, int rows, in Activation act)
        where S : struct, ISimd<TV> where TV : struct
    {
        int l = S.Lanes;
        float* a1 = a0 + lda;
        TV s0 = S.Zero, s1 = S.Zero;
        int p = 0;
        for (; p + l <= k; p += l)
        {
            TV w = S.Load(b0 + p);
            s0 = S.Fma(S.Load(a0 + p), w, s0); s1 = S.Fma(S.Load(a1 + p), w, s1);
        }
        float r0 = S.Sum(s0), r1 = S.Sum(s1);
        for (; p < k; p++) { r0 += a0[p] * b0[p]; r1 += a1[p] * b0[p]; }
        y[0] = act.Apply((accumulate ? y[0] : bias == null ? 0f : bias[0]) + alpha * r0);
        if (rows > 1) y[ldy] = act.Apply((accumulate ? y[ldy] : bias == null ? 0f : bias[1]) + alpha * r1);
    }

    /// <summary>Dot product of two equally long spans (SIMD).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> w)
    {
        int i = 0, len = x.Length;
        float s = 0;
        if (Vector256.IsHardwareAccelerated && len >= 16)
        {
            ref float px = ref MemoryMarshal.GetReference(x);
            ref float pw = ref MemoryMarshal.GetReference(w);
            var acc0 = Vector256<float>.Zero; var acc1 = Vector256<float>.Zero;
            for (; i <= len - 16; i += 16)
            {
                acc0 += Vector256.LoadUnsafe(ref px, (nuint)i) * Vector256.LoadUnsafe(ref pw, (nuint)i);
                acc1 += Vector256.LoadUnsafe(ref px, (nuint)(i + 8)) * Vector256.LoadUnsafe(ref pw, (nuint)(i + 8));
            }
            s = Vector256.Sum(acc0 + acc1);
        }
        for (; i < len; i++) s += x[i] * w[i];
        return s;
    }
}

/// <summary>Matrix multiply kernels.</summary>
public static unsafe class MatMul
{
    /// <summary>C[M,N] = activation(A[M,K] * B[K,N]) (row-major). Allocation-free; c must not overlap a or b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, Activation activation = default)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(m), "MatMul dimensions must be non-negative");
        if (c.Length < (long)m * n || a.Length < (long)m * k || b.Length < (long)k * n) throw new ArgumentException("MatMul operand too small");
        if (m == 0 || n == 0) return;
        fixed (float* pa = a, pb = b, pc = c)
        {
            var src = new BSource { Kind = BSource.RowMajor, B = pb, Ldb = n };
            GemmCore.Run(pa, k, 1, src, pc, n, m, n, k, 1f, false, null, activation);
        }
    }

    /// <summary>C += alpha * A' * B with B row-major [K,N] (A' = transA ? A^T : A).</summary>
    internal static void Accumulate(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, bool transA, float alpha)
    {
        if (m == 0 || n == 0) return;
        fixed (float* pa = a, pb = b, pc = c)
        {
            var src = new BSource { Kind = BSource.RowMajor, B = pb, Ldb = n };
            GemmCore.Run(pa, transA ? 1 : k, transA ? m : 1, src, pc, n, m, n, k, alpha, true, null);
        }
    }

    /// <summary>y += alpha * x (SIMD).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Axpy(float alpha, ReadOnlySpan<float> x, Span<float> y)
    {
        int i = 0, len = y.Length;
        if (Vector256.IsHardwareAccelerated && len >= 8)
        {
            ref float px = ref MemoryMarshal.GetReference(x);
            ref float py = ref MemoryMarshal.GetReference(y);
            var va = Vector256.Create(alpha);
            for (; i <= len - 8; i += 8)
            {
                var r = Vector256.LoadUnsafe(ref py, (nuint)i) + va * Vector256.LoadUnsafe(ref px, (nuint)i);
                r.StoreUnsafe(ref py, (nuint)i);
            }
        }
        for (; i < len; i++) y[i] += alpha * x[i];
    }
}
