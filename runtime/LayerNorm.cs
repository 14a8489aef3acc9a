using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Runtime;

/// <summary>LayerNormalization over the last D elements of each row (float stash), for generated code.</summary>
public static unsafe class LayerNorm
{
    /// <summary>
    /// y[r, j] = (x[r, j] - mean_r) / sqrt(var_r + epsilon) * scale[j] + bias[j] for rows x d, mean and (biased) variance
    /// of each row in two passes as the reference does; bias empty for none. y may be x. Allocation-free.
    /// </summary>
    public static void Run(ReadOnlySpan<float> x, ReadOnlySpan<float> scale, ReadOnlySpan<float> bias, Span<float> y, int rows, int d, float epsilon)
    {
        if (rows < 0 || d <= 0) throw new ArgumentOutOfRangeException(nameof(d), "LayerNorm: invalid geometry");
        long n = (long)rows * d;
        if (x.Length < n || y.Length < n || scale.Length < d || !bias.IsEmpty && bias.Length < d) throw new ArgumentException("LayerNorm: sizes do not agree");
        fixed (float* px = x, ps = scale, pb = bias, py = y)
        {
            float* b = bias.IsEmpty ? null : pb;
            switch (SimdLevel.Bits)
            {
                case 512 when d >= 16: Rows<V512, Vector512<float>>(px, ps, b, py, rows, d, epsilon); break;
                case 512 or 256 when d >= 8: Rows<V256, Vector256<float>>(px, ps, b, py, rows, d, epsilon); break;
                case 0: Rows<V0, float>(px, ps, b, py, rows, d, epsilon); break;
                default: if (d >= 4) Rows<V128, Vector128<float>>(px, ps, b, py, rows, d, epsilon); else Rows<V0, float>(px, ps, b, py, rows, d, epsilon); break;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Rows<S, TV>(float* x, float* scale, float* bias, float* y, int rows, int d, float eps) where S : struct, ISimd<TV> where TV : struct
    {
        int l = S.Lanes, dv = d - d % l;
        for (int r = 0; r < rows; r++, x += d, y += d)
        {
            TV acc = S.Zero;
            for (int j = 0; j < dv; j += l) acc = S.Add(acc, S.Load(x + j));
            float sum = S.Sum(acc);
            for (int j = dv; j < d; j++) sum += x[j];
            float mean = sum / d;
            TV negMean = S.Splat(-mean);
            acc = S.Zero;
            for (int j = 0; j < dv; j += l) { TV t = S.Add(S.Load(x + j), negMean); acc = S.Fma(t, t, acc); }
            float v = S.Sum(acc);
            for (int j = dv; j < d; j++) { float t = x[j] - mean; v += t * t; }
            float inv = 1f / MathF.Sqrt(v / d + eps);
            TV vi = S.Splat(inv);
            for (int j = 0; j < dv; j += l)
            {
                TV t = S.Mul(S.Add(S.Load(x + j), negMean), vi);
                S.Store(y + j, bias != null ? S.Fma(t, S.Load(scale + j), S.Load(bias + j)) : S.Mul(t, S.Load(scale + j)));
            }
            for (int j = dv; j < d; j++) y[j] = (x[j] - mean) * inv * scale[j] + (bias != null ? bias[j] : 0f);
        }
    }
}
