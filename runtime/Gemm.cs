using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Runtime;

/// <summary>How Gemm's C operand broadcasts over the [M, N] result.</summary>
public enum BiasKind { None, Scalar, Row, Column, Matrix }

/// <summary>General matrix multiply for generated code: Y = alpha * A' B' + beta * C, row-major.</summary>
public static class Gemm
{
    public static void Run(ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> c, Span<float> y,
        int m, int n, int k, bool transA, bool transB, float alpha, float beta, BiasKind biasKind)
    {
        if (y.Length < m * n || a.Length < m * k || b.Length < k * n) throw new ArgumentException("Gemm operand too small");
        // y = bias, then y += alpha * A'B'
        for (int i = 0; i < m; i++)
        {
            var row = y.Slice(i * n, n);
            switch (biasKind)
            {
                case BiasKind.None: row.Clear(); break;
                case BiasKind.Scalar: row.Fill(beta * c[0]); break;
                case BiasKind.Row: for (int j = 0; j < n; j++) row[j] = beta * c[j]; break;
                case BiasKind.Column: row.Fill(beta * c[i]); break;
                default: for (int j = 0; j < n; j++) row[j] = beta * c[i * n + j]; break;
            }
        }
        if (!transB) MatMul.Accumulate(a, b, y, m, n, k, transA, alpha);
        else
        {
            // B' = B^T: each output is a dot product of contiguous rows.
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    float s;
                    if (!transA) s = Dot(a.Slice(i * k, k), b.Slice(j * k, k));
                    else { s = 0; for (int p = 0; p < k; p++) s += a[p * m + i] * b[j * k + p]; }
                    y[i * n + j] += alpha * s;
                }
        }
    }

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
public static class MatMul
{
    /// <summary>C[M,N] = A[M,K] * B[K,N] (row-major).</summary>
    public static void Run(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k)
    {
        c.Slice(0, m * n).Clear();
        Accumulate(a, b, c, m, n, k, false, 1f);
    }

    /// <summary>C += alpha * A' * B with B row-major [K,N]: rows of C are built from axpy over rows of B (SIMD along N).</summary>
    internal static void Accumulate(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, bool transA, float alpha)
    {
        for (int i = 0; i < m; i++)
        {
            var crow = c.Slice(i * n, n);
            for (int p = 0; p < k; p++)
            {
                float av = alpha * (transA ? a[p * m + i] : a[i * k + p]);
                if (av == 0) continue;
                Axpy(av, b.Slice(p * n, n), crow);
            }
        }
    }

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
