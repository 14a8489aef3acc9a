using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Runtime;

/// <summary>RMSNormalization over the last D elements of each row (float stash), for generated code.</summary>
public static unsafe class RmsNorm
{
    /// <summary>y[r, j] = x[r, j] / sqrt(mean_j(x[r, j]^2) + epsilon) * scale[j] for rows x d. y may be x. Allocation-free.</summary>
    public static void Run(ReadOnlySpan<float> x, ReadOnlySpan<float> scale, Span<float> y, int rows, int d, float epsilon)
    {
        if (rows < 0 || d <= 0) throw new ArgumentOutOfRangeException(nameof(d), "RmsNorm: invalid geometry");
        long n = (long)rows * d;
        if (x.Length < n || y.Length < n || scale.Length < d) throw new ArgumentException("RmsNorm: sizes do not agree");
        fixed (float* px = x, ps = scale, py = y)
        {
            switch (SimdLevel.Bits)
            {
                case 512 when d >= 16: Rows<V512, Vector512<float>>(px, ps, py, rows, d, epsilon); break;
                case 512 or 256 when d >= 8: Rows<V256, Vector256<float>>(px, ps, py, rows, d, epsilon); break;
                case 0: Rows<V0, float>(px, ps, py, rows, d, epsilon); break;
                default: if (d >= 4) Rows<V128, Vector128<float>>(px, ps, py, rows, d, epsilon); else Rows<V0, float>(px, ps, py, rows, d, epsilon); break;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Rows<S, TV>(float* x, float* scale, float* y, int rows, int d, float eps) where S : struct, ISimd<TV> where TV : struct
    {
        int l = S.Lanes, dv = d - d % l;
        for (int r = 0; r < rows; r++, x += d, y += d)
        {
            TV acc = S.Zero;
            for (int j = 0; j < dv; j += l) { TV t = S.Load(x + j); acc = S.Fma(t, t, acc); }
            float ss = S.Sum(acc);
            for (int j = dv; j < d; j++) ss += x[j] * x[j];
            float inv = 1f / MathF.Sqrt(ss / d + eps);
            TV vi = S.Splat(inv);
            for (int j = 0; j < dv; j += l) S.Store(y + j, S.Mul(S.Mul(S.Load(x + j), vi), S.Load(scale + j)));
            for (int j = dv; j < d; j++) y[j] = x[j] * inv * scale[j];
        }
    }
}
