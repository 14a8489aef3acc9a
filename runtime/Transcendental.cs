using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Runtime;

/// <summary>The operations exp needs beyond <see cref="ISimd{TV}"/>, per SIMD width.</summary>
internal interface IExpSimd<TV> where TV : struct
{
    static abstract TV Sub(TV a, TV b);
    static abstract TV Div(TV a, TV b);
    static abstract TV Floor(TV x);
    /// <summary>2^n for integral n in [-126, 127], built in the exponent bits.</summary>
    static abstract TV Pow2(TV n);
}

internal struct E512 : IExpSimd<Vector512<float>>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Sub(Vector512<float> a, Vector512<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Div(Vector512<float> a, Vector512<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Floor(Vector512<float> x) => Vector512.Floor(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Pow2(Vector512<float> n) => Vector512.ShiftLeft(Vector512.ConvertToInt32(n) + Vector512.Create(127), 23).AsSingle();
}

internal struct E256 : IExpSimd<Vector256<float>>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Sub(Vector256<float> a, Vector256<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Div(Vector256<float> a, Vector256<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Floor(Vector256<float> x) => Vector256.Floor(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Pow2(Vector256<float> n) => Vector256.ShiftLeft(Vector256.ConvertToInt32(n) + Vector256.Create(127), 23).AsSingle();
}

internal struct E128 : IExpSimd<Vector128<float>>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Sub(Vector128<float> a, Vector128<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Div(Vector128<float> a, Vector128<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Floor(Vector128<float> x) => Vector128.Floor(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Pow2(Vector128<float> n) => Vector128.ShiftLeft(Vector128.ConvertToInt32(n) + Vector128.Create(127), 23).AsSingle();
}

internal struct E0 : IExpSimd<float>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sub(float a, float b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Div(float a, float b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Floor(float x) => MathF.Floor(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Pow2(float n) => BitConverter.Int32BitsToSingle(((int)n + 127) << 23);
}

/// <summary>
/// exp, sigmoid and tanh in registers for the fused kernels (the same arithmetic at every width, the scalar tail
/// included, so results do not depend on the SIMD width). exp: x = n ln2 + r with |r| &lt;= ln2 / 2 (ln2 split in two
/// parts so r is exact), e^r by its Taylor series to r^7 (relative error below 1e-8 there), times 2^n from the exponent
/// bits; x is clamped to [-87.3, 88.3] so 2^n stays a normal float (e^x below 1e-38 comes out as about 1e-38).
/// </summary>
internal static class Transcendental
{
    const float Log2E = 1.44269504f, Ln2Hi = 0.693359375f, Ln2Lo = -2.12194440e-4f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TV Exp<S, M, TV>(TV x) where S : struct, ISimd<TV> where M : struct, IExpSimd<TV> where TV : struct
    {
        x = S.Min(S.Max(x, S.Splat(-87.3f)), S.Splat(88.3f));
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
        return S.Mul(p, M.Pow2(n));
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
