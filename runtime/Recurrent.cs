using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

/// <summary>
/// One time step of GRU and LSTM for generated code (float, default activations): the recurrence product h R^T, then
/// the gate math in one SIMD pass (sigmoid and tanh from <see cref="Transcendental"/>, no MathF call per unit).
/// </summary>
public static unsafe class Recurrent
{
    /// <summary>
    /// y[r] = bias[r] + dot(w row r, x), r &lt; rows, with w [rows, k] row-major and bias empty for none.
    /// A matrix-vector product of a few hundred rows: four rows share each load of x, no packing.
    /// </summary>
    public static void MatVec(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y, int rows, int k)
    {
        if (rows < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(rows), "MatVec dimensions must be non-negative");
        if (x.Length < k || w.Length < (long)rows * k || y.Length < rows || !bias.IsEmpty && bias.Length < rows) throw new ArgumentException("MatVec operand too small");
        fixed (float* px = x, pw = w, pb = bias, py = y)
        {
            int bits = SimdLevel.Bits;
            // the widest vector that fits k: the tail past whole vectors is scalar
            if (bits >= 512 && k % 16 == 0) MatVec<V512, Vector512<float>>(px, pw, pb, py, rows, k);
            else if (bits >= 256 && k >= 8) MatVec<V256, Vector256<float>>(px, pw, pb, py, rows, k);
            else if (bits >= 128 && k >= 4) MatVec<V128, Vector128<float>>(px, pw, pb, py, rows, k);
            else MatVec<V0, float>(px, pw, pb, py, rows, k);
        }
    }

    /// <summary>
    /// y[r] = bias[r] + sum_p x[p] * wt[p * rows + r]: the same product with the weights transposed at build time
    /// ([k, rows]), so the rows are the vector lanes, each x[p] is broadcast once and no horizontal sums remain (a
    /// recurrent layer's h R^T: 4 x 24 gate rows by 24, the hidden size, is 24 broadcasts x 6 vector FMAs). bias may be
    /// y itself (accumulating): each output reads its bias before it is written. Empty bias: none.
    /// </summary>
    public static void MatVecTransposed(ReadOnlySpan<float> x, ReadOnlySpan<float> wt, ReadOnlySpan<float> bias, Span<float> y, int rows, int k)
    {
        if (rows < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(rows), "MatVecTransposed dimensions must be non-negative");
        if (x.Length < k || wt.Length < (long)rows * k || y.Length < rows || !bias.IsEmpty && bias.Length < rows) throw new ArgumentException("MatVecTransposed operand too small");
        fixed (float* px = x, pw = wt, pb = bias, py = y)
        {
            int bits = SimdLevel.Bits, r = 0;
            if (bits >= 512) r = MatVecT<V512, Vector512<float>>(px, pw, pb, py, rows, k, r);
            if (bits >= 256) r = MatVecT<V256, Vector256<float>>(px, pw, pb, py, rows, k, r);
            if (bits >= 128) r = MatVecT<V128, Vector128<float>>(px, pw, pb, py, rows, k, r);
            MatVecT<V0, float>(px, pw, pb, py, rows, k, r);
        }
    }

    /// <summary>Rows from r0 in whole vectors (four at a time, then one); returns the first row not done.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int MatVecT<S, TV>(float* x, float* wt, float* bias, float* y, int rows, int k, int r0)
        where S : struct, ISimd<TV> where TV : struct
    {
        int l = S.Lanes, r = r0;
        nint ld = rows;
        for (; r + 4 * l <= rows; r += 4 * l)
        {
            TV a0 = bias != null ? S.Load(bias + r) : S.Zero, a1 = bias != null ? S.Load(bias + r + l) : S.Zero;
            TV a2 = bias != null ? S.Load(bias + r + 2 * l) : S.Zero, a3 = bias != null ? S.Load(bias + r + 3 * l) : S.Zero;
            float* w = wt + r;
            for (int p = 0; p < k; p++, w += ld)
            {
                TV xv = S.Splat(x[p]);
                a0 = S.Fma(xv, S.Load(w), a0); a1 = S.Fma(xv, S.Load(w + l), a1);
                a2 = S.Fma(xv, S.Load(w + 2 * l), a2); a3 = S.Fma(xv, S.Load(w + 3 * l), a3);
            }
            S.Store(y + r, a0); S.Store(y + r + l, a1); S.Store(y + r + 2 * l, a2); S.Store(y + r + 3 * l, a3);
        }
        for (; r + l <= rows; r += l)
        {
            TV a = bias != null ? S.Load(bias + r) : S.Zero;
            float* w = wt + r;
            for (int p = 0; p < k; p++, w += ld) a = S.Fma(S.Splat(x[p]), S.Load(w), a);
            S.Store(y + r, a);
        }
        return r;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void MatVec<S, TV>(float* x, float* w, float* bias, float* y, int rows, int k)
        where S : struct, ISimd<TV> where TV : struct
    {
        int l = S.Lanes, kv = k - k % l;
        int r = 0;
        for (; r + 4 <= rows; r += 4)
        {
            float* w0 = w + (nint)r * k, w1 = w0 + k, w2 = w1 + k, w3 = w2 + k;
            TV s0 = S.Zero, s1 = S.Zero, s2 = S.Zero, s3 = S.Zero;
            for (int p = 0; p < kv; p += l)
            {
                TV xv = S.Load(x + p);
                s0 = S.Fma(xv, S.Load(w0 + p), s0); s1 = S.Fma(xv, S.Load(w1 + p), s1);
                s2 = S.Fma(xv, S.Load(w2 + p), s2); s3 = S.Fma(xv, S.Load(w3 + p), s3);
            }
            if (kv == k && (typeof(TV) == typeof(Vector512<float>) || typeof(TV) == typeof(Vector256<float>)) && Avx.IsSupported)
            {
                // the four horizontal sums together: three hadds instead of a shuffle tree per row
                Vector128<float> v = Sum4(s0, s1, s2, s3);
                if (bias != null) v += Vector128.Load(bias + r);
                v.Store(y + r);
                continue;
            }
            float r0 = S.Sum(s0), r1 = S.Sum(s1), r2 = S.Sum(s2), r3 = S.Sum(s3);
            for (int p = kv; p < k; p++)
            {
                float xp = x[p];
                r0 += xp * w0[p]; r1 += xp * w1[p]; r2 += xp * w2[p]; r3 += xp * w3[p];
            }
            if (bias != null) { r0 += bias[r]; r1 += bias[r + 1]; r2 += bias[r + 2]; r3 += bias[r + 3]; }
            y[r] = r0; y[r + 1] = r1; y[r + 2] = r2; y[r + 3] = r3;
        }
        for (; r < rows; r++)
        {
            float* w0 = w + (nint)r * k;
            TV s0 = S.Zero;
            for (int p = 0; p < kv; p += l) s0 = S.Fma(S.Load(x + p), S.Load(w0 + p), s0);
            float r0 = S.Sum(s0);
            for (int p = kv; p < k; p++) r0 += x[p] * w0[p];
            y[r] = bias != null ? r0 + bias[r] : r0;
        }
    }

    /// <summary>[sum s0, sum s1, sum s2, sum s3] for 512- or 256-bit accumulators (x86 with AVX).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> Sum4<TV>(TV s0, TV s1, TV s2, TV s3) where TV : struct
    {
        Vector256<float> a0, a1, a2, a3;
        if (typeof(TV) == typeof(Vector512<float>))
        {
            Vector512<float> b0 = Unsafe.As<TV, Vector512<float>>(ref s0), b1 = Unsafe.As<TV, Vector512<float>>(ref s1);
            Vector512<float> b2 = Unsafe.As<TV, Vector512<float>>(ref s2), b3 = Unsafe.As<TV, Vector512<float>>(ref s3);
            a0 = b0.GetLower() + b0.GetUpper(); a1 = b1.GetLower() + b1.GetUpper();
            a2 = b2.GetLower() + b2.GetUpper(); a3 = b3.GetLower() + b3.GetUpper();
        }
        else
        {
            a0 = Unsafe.As<TV, Vector256<float>>(ref s0); a1 = Unsafe.As<TV, Vector256<float>>(ref s1);
            a2 = Unsafe.As<TV, Vector256<float>>(ref s2); a3 = Unsafe.As<TV, Vector256<float>>(ref s3);
        }
        // hadd(hadd(a0, a1), hadd(a2, a3)) holds, per 128-bit half, the partial sums of a0 a1 a2 a3 in order
        Vector256<float> h = Avx.HorizontalAdd(Avx.HorizontalAdd(a0, a1), Avx.HorizontalAdd(a2, a3));
        return h.GetLower() + h.GetUpper();
    }

    /// <summary>
    /// GRU step, linear_before_reset = 1, activations Sigmoid and Tanh (PyTorch's GRU): xw = X_t W^T + Wb and
    /// hr = h R^T + Rb, gates z r h of h.Length units each. z = s(xw_z + hr_z), r = s(xw_r + hr_r),
    /// n = tanh(xw_h + r . hr_h), h = n + z . (h - n) = (1 - z) . n + z . h, each pre-activation clamped to
    /// [-clip, clip] first (clip = +infinity: none). One pass, the gates in registers.
    /// </summary>
    public static void GruStep(ReadOnlySpan<float> xw, ReadOnlySpan<float> hr, Span<float> h, float clip)
    {
        int n = h.Length;
        if (xw.Length < 3 * n || hr.Length < 3 * n) throw new ArgumentException("GruStep operand too small");
        fixed (float* px = xw, pr = hr, ph = h)
        {
            int bits = SimdLevel.Bits, j = 0;
            // widest first, each width takes what is left
            if (bits >= 512) j = Gru<V512, E512, Vector512<float>>(px, pr, ph, n, j, clip);
            if (bits >= 256) j = Gru<V256, E256, Vector256<float>>(px, pr, ph, n, j, clip);
            if (bits >= 128) j = Gru<V128, E128, Vector128<float>>(px, pr, ph, n, j, clip);
            Gru<V0, E0, float>(px, pr, ph, n, j, clip);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int Gru<S, M, TV>(float* xw, float* hr, float* h, int n, int j, float clip)
        where S : struct, ISimd<TV> where M : struct, IExpSimd<TV> where TV : struct
    {
        TV lo = S.Splat(-clip), hi = S.Splat(clip);
        for (; j + S.Lanes <= n; j += S.Lanes)
        {
            TV z = Transcendental.Sigmoid<S, M, TV>(S.Min(S.Max(S.Add(S.Load(xw + j), S.Load(hr + j)), lo), hi));
            TV r = Transcendental.Sigmoid<S, M, TV>(S.Min(S.Max(S.Add(S.Load(xw + n + j), S.Load(hr + n + j)), lo), hi));
            TV c = Transcendental.Tanh<S, M, TV>(S.Min(S.Max(S.Fma(r, S.Load(hr + 2 * n + j), S.Load(xw + 2 * n + j)), lo), hi));
            S.Store(h + j, S.Fma(z, M.Sub(S.Load(h + j), c), c));
        }
        return j;
    }

    /// <summary>
    /// LSTM step without peepholes or input_forget, activations Sigmoid, Tanh, Tanh: xw = X_t W^T + Wb and
    /// hr = h R^T + Rb, gates i o f c of h.Length units each. i, o, f = s(xw + hr), g = tanh(xw_c + hr_c),
    /// c = f . c + i . g, h = o . tanh(c), each gate's pre-activation clamped to [-clip, clip] first
    /// (clip = +infinity: none). One pass, the gates in registers.
    /// </summary>
    public static void LstmStep(ReadOnlySpan<float> xw, ReadOnlySpan<float> hr, Span<float> c, Span<float> h, float clip)
    {
        int n = h.Length;
        if (xw.Length < 4 * n || hr.Length < 4 * n || c.Length < n) throw new ArgumentException("LstmStep operand too small");
        fixed (float* px = xw, pr = hr, pc = c, ph = h)
        {
            int bits = SimdLevel.Bits, j = 0;
            if (bits >= 512) j = Lstm<V512, E512, Vector512<float>>(px, pr, pc, ph, n, j, clip);
            if (bits >= 256) j = Lstm<V256, E256, Vector256<float>>(px, pr, pc, ph, n, j, clip);
            if (bits >= 128) j = Lstm<V128, E128, Vector128<float>>(px, pr, pc, ph, n, j, clip);
            Lstm<V0, E0, float>(px, pr, pc, ph, n, j, clip);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int Lstm<S, M, TV>(float* xw, float* hr, float* c, float* h, int n, int j, float clip)
        where S : struct, ISimd<TV> where M : struct, IExpSimd<TV> where TV : struct
    {
        TV lo = S.Splat(-clip), hi = S.Splat(clip);
        for (; j + S.Lanes <= n; j += S.Lanes)
        {
            TV i = Transcendental.Sigmoid<S, M, TV>(S.Min(S.Max(S.Add(S.Load(xw + j), S.Load(hr + j)), lo), hi));
            TV o = Transcendental.Sigmoid<S, M, TV>(S.Min(S.Max(S.Add(S.Load(xw + n + j), S.Load(hr + n + j)), lo), hi));
            TV f = Transcendental.Sigmoid<S, M, TV>(S.Min(S.Max(S.Add(S.Load(xw + 2 * n + j), S.Load(hr + 2 * n + j)), lo), hi));
            TV g = Transcendental.Tanh<S, M, TV>(S.Min(S.Max(S.Add(S.Load(xw + 3 * n + j), S.Load(hr + 3 * n + j)), lo), hi));
            TV cn = S.Fma(f, S.Load(c + j), S.Mul(i, g));
            S.Store(c + j, cn);
            S.Store(h + j, S.Mul(o, Transcendental.Tanh<S, M, TV>(cn)));
        }
        return j;
    }
}
