using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

/// <summary>The operations exp needs beyond <see cref="ISimd{TV}"/>, per SIMD width.</summary>
internal interface IExpSimd<TV> where TV : struct
{
    static abstract TV Sub(TV a, TV b);
    static abstract TV Div(TV a, TV b);
    static abstract TV Floor(TV x);
    /// <summary>
    /// p 2^n for integral n in [-126, 127]: vscalefps where the CPU has AVX-512 (one instruction for the conversion,
    /// add, shift and multiply; the same value, a product by a power of two rounding once either way), else p times
    /// 2^n built in the exponent bits.
    /// </summary>
    static abstract TV Scale(TV p, TV n);
    /// <summary>x where x is NaN, else r.</summary>
    static abstract TV KeepNaN(TV x, TV r);
    /// <summary>lo where a &lt; limit, else hi.</summary>
    static abstract TV Below(TV a, TV limit, TV lo, TV hi);
}

internal struct E512 : IExpSimd<Vector512<float>>
{
    // n is integral and in range: the plain conversion (since .NET 9 ConvertToInt32 saturates, 3-4 more instructions on x64)
#if NET9_0_OR_GREATER
    [MethodImpl(MethodImplOptions.AggressiveInlining)] internal static Vector512<int> ToInt32(Vector512<float> n) => Vector512.ConvertToInt32Native(n);
#else
    [MethodImpl(MethodImplOptions.AggressiveInlining)] internal static Vector512<int> ToInt32(Vector512<float> n) => Vector512.ConvertToInt32(n);
#endif
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Sub(Vector512<float> a, Vector512<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Div(Vector512<float> a, Vector512<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Floor(Vector512<float> x) => Vector512.Floor(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Scale(Vector512<float> p, Vector512<float> n)
        => Avx512F.IsSupported ? Avx512F.Scale(p, n) : p * Vector512.ShiftLeft(ToInt32(n) + Vector512.Create(127), 23).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> KeepNaN(Vector512<float> x, Vector512<float> r) => Vector512.ConditionalSelect(Vector512.Equals(x, x), r, x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Below(Vector512<float> a, Vector512<float> limit, Vector512<float> lo, Vector512<float> hi) => Vector512.ConditionalSelect(Vector512.LessThan(a, limit), lo, hi);
}

internal struct E256 : IExpSimd<Vector256<float>>
{
#if NET9_0_OR_GREATER
    [MethodImpl(MethodImplOptions.AggressiveInlining)] internal static Vector256<int> ToInt32(Vector256<float> n) => Vector256.ConvertToInt32Native(n);
#else
    [MethodImpl(MethodImplOptions.AggressiveInlining)] internal static Vector256<int> ToInt32(Vector256<float> n) => Vector256.ConvertToInt32(n);
#endif
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Sub(Vector256<float> a, Vector256<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Div(Vector256<float> a, Vector256<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Floor(Vector256<float> x) => Vector256.Floor(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Scale(Vector256<float> p, Vector256<float> n)
        => Avx512F.VL.IsSupported ? Avx512F.VL.Scale(p, n) : p * Vector256.ShiftLeft(ToInt32(n) + Vector256.Create(127), 23).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> KeepNaN(Vector256<float> x, Vector256<float> r) => Vector256.ConditionalSelect(Vector256.Equals(x, x), r, x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Below(Vector256<float> a, Vector256<float> limit, Vector256<float> lo, Vector256<float> hi) => Vector256.ConditionalSelect(Vector256.LessThan(a, limit), lo, hi);
}

internal struct E128 : IExpSimd<Vector128<float>>
{
#if NET9_0_OR_GREATER
    [MethodImpl(MethodImplOptions.AggressiveInlining)] internal static Vector128<int> ToInt32(Vector128<float> n) => Vector128.ConvertToInt32Native(n);
#else
    [MethodImpl(MethodImplOptions.AggressiveInlining)] internal static Vector128<int> ToInt32(Vector128<float> n) => Vector128.ConvertToInt32(n);
#endif
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Sub(Vector128<float> a, Vector128<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Div(Vector128<float> a, Vector128<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Floor(Vector128<float> x) => Vector128.Floor(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Scale(Vector128<float> p, Vector128<float> n)
        => Avx512F.VL.IsSupported ? Avx512F.VL.Scale(p, n) : p * Vector128.ShiftLeft(ToInt32(n) + Vector128.Create(127), 23).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> KeepNaN(Vector128<float> x, Vector128<float> r) => Vector128.ConditionalSelect(Vector128.Equals(x, x), r, x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Below(Vector128<float> a, Vector128<float> limit, Vector128<float> lo, Vector128<float> hi) => Vector128.ConditionalSelect(Vector128.LessThan(a, limit), lo, hi);
}

internal struct E0 : IExpSimd<float>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sub(float a, float b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Div(float a, float b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Floor(float x) => MathF.Floor(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Scale(float p, float n) => p * BitConverter.Int32BitsToSingle(((int)n + 127) << 23);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float KeepNaN(float x, float r) => float.IsNaN(x) ? x : r;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Below(float a, float limit, float lo, float hi) => a < limit ? lo : hi;
}

/// <summary>
/// Erf for generated code; exp, sigmoid and tanh in registers for the fused kernels (the same arithmetic at every width, the scalar tail
/// included, so results do not depend on the SIMD width). exp: x = n ln2 + r with |r| &lt;= ln2 / 2 (ln2 split in two
/// parts so r is exact), e^r by its Taylor series to r^7 (relative error below 1e-8 there), times 2^n from the exponent
/// bits; x is clamped to [-87.3, 88.3] so 2^n stays a normal float (e^x below 1e-38 comes out as about 1e-38, e^inf as
/// 2e38); NaN stays NaN.
/// </summary>
public static class Transcendental
{
    /// <summary>
    /// erf(x) for generated code (GELU, Erf), correct to float rounding: below |x| = 2.5 the Maclaurin series
    /// 2/sqrt(pi) sum (-1)^n x^(2n+1) / (n! (2n+1)) in double with a fixed number of terms (13 below 1, 30 below 2.5;
    /// truncation under 1e-9, cancellation under 1e-14), above it 1 - erfc by its continued fraction, 1 beyond 6.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Erf(float x)
    {
        double a = x < 0f ? -x : x, r;
        if (a < 2.5)
        {
            double a2 = a * a, s = 0;
            var c = s_erfSeries;
            for (int n = a < 1 ? 12 : c.Length - 1; n >= 0; n--) s = s * a2 + c[n];
            r = s * a;
        }
        else if (a > 6.0) r = 1.0;
        else
        {
            // 12 terms: within 4e-12 of erf over [2.5, 6] (a float holds 6e-8 there); 60 took a division each, and
            // GELU's inputs land here often
            double f = 0.0;
            for (int n = 12; n >= 1; n--) f = n * 0.5 / (a + f);
            r = 1.0 - Math.Exp(-a * a) / (a + f) * 0.56418958354775628;
        }
        return (float)(x < 0f ? -r : r);
    }

    /// <summary>
    /// Softmax over <paramref name="rows"/> rows of <paramref name="d"/> contiguous elements: y = e^(x - max) / sum.
    /// y may be x itself. NaN anywhere in a row makes the row NaN.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Softmax(ReadOnlySpan<float> x, Span<float> y, int rows, int d)
    {
        if (rows < 0 || d <= 0) throw new ArgumentOutOfRangeException(nameof(d), "Softmax needs rows >= 0 and d > 0");
        if (x.Length < (long)rows * d || y.Length < (long)rows * d) throw new ArgumentException("Softmax operand too small");
        int bits = SimdLevel.Bits;
        fixed (float* px = x, py = y)
            for (int r = 0; r < rows; r++)
            {
                float* xr = px + (nint)r * d, yr = py + (nint)r * d;
                // rows of exactly one vector (attention over 16 or 8 positions), four at a time: one row alone is a chain
                // of dependent steps (max, exp, sum, divide, scale); four interleave
                if (r + 4 <= rows && (bits >= 512 && d == 16 || bits >= 256 && d == 8))
                {
                    if (d == 16) SoftmaxRows4<V512, E512, Vector512<float>>(xr, yr);
                    else SoftmaxRows4<V256, E256, Vector256<float>>(xr, yr);
                    r += 3;
                    continue;
                }
                if (bits >= 512 && d >= 16) SoftmaxRow<V512, E512, Vector512<float>>(xr, yr, d);
                else if (bits >= 256 && d >= 8) SoftmaxRow<V256, E256, Vector256<float>>(xr, yr, d);
                else if (bits >= 128 && d >= 4) SoftmaxRow<V128, E128, Vector128<float>>(xr, yr, d);
                else SoftmaxRow<V0, E0, float>(xr, yr, d);
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void SoftmaxRow<S, M, TV>(float* x, float* y, int d) where S : struct, ISimd<TV> where M : struct, IExpSimd<TV> where TV : struct
    {
        int l = S.Lanes, dv = d - d % l, p;
        float mx = x[0];
        if (dv > 0)
        {
            TV vm = S.Load(x);
            for (p = l; p < dv; p += l) vm = S.Max(vm, S.Load(x + p));
            float* lanes = stackalloc float[l];
            S.Store(lanes, vm);
            for (int k = 0; k < l; k++) if (lanes[k] > mx) mx = lanes[k];
        }
        for (p = dv; p < d; p++) if (x[p] > mx) mx = x[p];
        TV vmax = S.Splat(mx), vs = S.Zero;
        for (p = 0; p < dv; p += l)
        {
            TV v = Exp<S, M, TV>(M.Sub(S.Load(x + p), vmax));
            S.Store(y + p, v);
            vs = S.Add(vs, v);
        }
        float sum = S.Sum(vs);
        for (p = dv; p < d; p++) { float v = Exp<V0, E0, float>(x[p] - mx); y[p] = v; sum += v; }
        float inv = 1f / sum;
        TV vi = S.Splat(inv);
        for (p = 0; p < dv; p += l) S.Store(y + p, S.Mul(S.Load(y + p), vi));
        for (p = dv; p < d; p++) y[p] *= inv;
    }

    /// <summary>
    /// Four rows of d = S.Lanes: each row's arithmetic exactly as <see cref="SoftmaxRow"/> does it (its maximum from
    /// x[0] over the lanes, its exponentials, their sum across lanes, the reciprocal, the products), the four rows' steps
    /// side by side.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void SoftmaxRows4<S, M, TV>(float* x, float* y) where S : struct, ISimd<TV> where M : struct, IExpSimd<TV> where TV : struct
    {
        int l = S.Lanes;
        float* lanes = stackalloc float[4 * l];
        TV a0 = S.Load(x), a1 = S.Load(x + l), a2 = S.Load(x + 2 * l), a3 = S.Load(x + 3 * l);
        S.Store(lanes, a0); S.Store(lanes + l, a1); S.Store(lanes + 2 * l, a2); S.Store(lanes + 3 * l, a3);
        float m0 = x[0], m1 = x[l], m2 = x[2 * l], m3 = x[3 * l];
        for (int k = 0; k < l; k++)
        {
            if (lanes[k] > m0) m0 = lanes[k];
            if (lanes[l + k] > m1) m1 = lanes[l + k];
            if (lanes[2 * l + k] > m2) m2 = lanes[2 * l + k];
            if (lanes[3 * l + k] > m3) m3 = lanes[3 * l + k];
        }
        TV e0 = Exp<S, M, TV>(M.Sub(a0, S.Splat(m0))), e1 = Exp<S, M, TV>(M.Sub(a1, S.Splat(m1)));
        TV e2 = Exp<S, M, TV>(M.Sub(a2, S.Splat(m2))), e3 = Exp<S, M, TV>(M.Sub(a3, S.Splat(m3)));
        // SoftmaxRow adds its one vector to a zero sum first: the same here (0 + v is v, and -0 + 0 alike)
        float s0 = S.Sum(S.Add(S.Zero, e0)), s1 = S.Sum(S.Add(S.Zero, e1)), s2 = S.Sum(S.Add(S.Zero, e2)), s3 = S.Sum(S.Add(S.Zero, e3));
        S.Store(y, S.Mul(e0, S.Splat(1f / s0))); S.Store(y + l, S.Mul(e1, S.Splat(1f / s1)));
        S.Store(y + 2 * l, S.Mul(e2, S.Splat(1f / s2))); S.Store(y + 3 * l, S.Mul(e3, S.Splat(1f / s3)));
    }

    /// <summary>2/sqrt(pi) (-1)^n / (n! (2n+1)), n &lt; 30: the series coefficients of erf(x) / x in x^2.</summary>
    static readonly double[] s_erfSeries = ErfSeries(30);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static double[] ErfSeries(int terms)
    {
        var c = new double[terms];
        double f = 1.1283791670955126; // 2/sqrt(pi) (-1)^n / n!
        for (int n = 0; n < terms; n++) { c[n] = f / (2 * n + 1); f *= -1.0 / (n + 1); }
        return c;
    }

    const float Log2E = 1.44269504f, Ln2Hi = 0.693359375f, Ln2Lo = -2.12194440e-4f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TV Exp<S, M, TV>(TV x0) where S : struct, ISimd<TV> where M : struct, IExpSimd<TV> where TV : struct
    {
        // the hardware's min and max (NaN becomes the bound, restored below): .NET 9's IEEE Min and Max take three
        // instructions each on x64, a third of the sigmoid's
        TV x = S.MinNative(S.MaxNative(x0, S.Splat(-87.3f)), S.Splat(88.3f));
        TV n = M.Floor(S.Fma(x, S.Splat(Log2E), S.Splat(0.5f)));
        TV r = S.Fma(n, S.Splat(-Ln2Hi), x);
        r = S.Fma(n, S.Splat(-Ln2Lo), r);
        TV p = S.Splat(1f / 5040);
        p = S.Fma(p, r, S.Splat(1f / 720));
        p = S.Fma(p, r, S.Splat(1f / 120));
        p = S.Fma(p, r, S.Splat(1f / 24));
        p = S.Fma(p, r, S.Splat(1f / 6));
        p = S.Fma(p, r, S.Splat(0.5f));
        p = S.Fma(p, r, S.Splat(1f));
        p = S.Fma(p, r, S.Splat(1f));
        return M.KeepNaN(x0, M.Scale(p, n));
    }

    /// <summary>
    /// erf in registers, float-accurate (within 2e-7 of erf; scripts/fit/fit_erf.py fits the polynomials): x P(x^2)
    /// below |x| = 1, 1 - e^Q(|x| - 2.5) up to 4, 1 beyond; the sign of x; NaN stays NaN.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TV Erf<S, M, TV>(TV x) where S : struct, ISimd<TV> where M : struct, IExpSimd<TV> where TV : struct
    {
        TV a = S.MaxNative(x, S.Mul(x, S.Splat(-1f))); // NaN: restored at the end, as the native min below turns it into 4
        TV t = S.Mul(a, a);
        TV p = S.Splat(7.933352028e-05f);
        p = S.Fma(p, t, S.Splat(-8.034809605e-04f));
        p = S.Fma(p, t, S.Splat(5.191214866e-03f));
        p = S.Fma(p, t, S.Splat(-2.685539800e-02f));
        p = S.Fma(p, t, S.Splat(1.128362570e-01f));
        p = S.Fma(p, t, S.Splat(-3.761262988e-01f));
        p = S.Fma(p, t, S.Splat(1.128379167e+00f));
        TV small = S.Mul(a, p);
        TV u = M.Sub(S.MinNative(a, S.Splat(4f)), S.Splat(2.5f));
        TV q = S.Splat(1.614049210e-06f);
        q = S.Fma(q, u, S.Splat(-1.330940605e-05f));
        q = S.Fma(q, u, S.Splat(7.739447435e-05f));
        q = S.Fma(q, u, S.Splat(-4.201445147e-04f));
        q = S.Fma(q, u, S.Splat(2.165160251e-03f));
        q = S.Fma(q, u, S.Splat(-1.085851706e-02f));
        q = S.Fma(q, u, S.Splat(-9.438936403e-01f));
        q = S.Fma(q, u, S.Splat(-5.352680681e+00f));
        q = S.Fma(q, u, S.Splat(-7.806815277e+00f));
        TV large = M.Sub(S.Splat(1f), Exp<S, M, TV>(q));
        TV r = M.Below(a, S.Splat(1f), small, M.Below(a, S.Splat(4f), large, S.Splat(1f)));
        return M.KeepNaN(x, M.Below(x, S.Zero, S.Mul(r, S.Splat(-1f)), r));
    }

    /// <summary>
    /// GELU, exact form, x/2 (1 + erf(x / sqrt 2)), over n floats (the Net kernel of ONNX Gelu and of GeluFusion's
    /// output): vectors of the machine's width, then the same arithmetic one float at a time. y may be x.
    /// </summary>
    public static unsafe void Gelu(ReadOnlySpan<float> x, Span<float> y)
    {
        if (y.Length < x.Length) throw new ArgumentException("Gelu: y too small", nameof(y));
        fixed (float* px = x, py = y)
        {
            int n = x.Length, i = 0, bits = SimdLevel.Bits;
            if (bits >= 512) i = GeluRun<V512, E512, Vector512<float>>(px, py, n);
            else if (bits >= 256) i = GeluRun<V256, E256, Vector256<float>>(px, py, n);
            else if (bits >= 128) i = GeluRun<V128, E128, Vector128<float>>(px, py, n);
            GeluRun<V0, E0, float>(px + i, py + i, n - i);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe int GeluRun<S, M, TV>(float* x, float* y, int n) where S : struct, ISimd<TV> where M : struct, IExpSimd<TV> where TV : struct
    {
        int l = S.Lanes, i = 0;
        TV half = S.Splat(0.5f), one = S.Splat(1f), k = S.Splat(0.70710678f);
        for (; i + l <= n; i += l)
        {
            TV v = S.Load(x + i);
            S.Store(y + i, S.Mul(S.Mul(half, v), S.Add(one, Erf<S, M, TV>(S.Mul(v, k)))));
        }
        return i;
    }

    /// <summary>1 / (1 + e^-x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TV Sigmoid<S, M, TV>(TV x) where S : struct, ISimd<TV> where M : struct, IExpSimd<TV> where TV : struct
    {
        TV one = S.Splat(1f);
        return M.Div(one, S.Add(one, Exp<S, M, TV>(S.Mul(x, S.Splat(-1f)))));
    }

    /// <summary>1 - 2 / (1 + e^2x): exact at the saturated ends, absolute error about 1e-7 near 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TV Tanh<S, M, TV>(TV x) where S : struct, ISimd<TV> where M : struct, IExpSimd<TV> where TV : struct
    {
        TV one = S.Splat(1f);
        return M.Sub(one, M.Div(S.Splat(2f), S.Add(one, Exp<S, M, TV>(S.Add(x, x)))));
    }
}
