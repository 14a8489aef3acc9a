using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

/// <summary>
/// Requantization of int32 accumulators, TensorFlow Lite's fixed-point MultiplyByQuantizedMultiplier. The reference
/// is ModelGen.Compiler.Quant.FixedPoint (generator): <see cref="Scalar"/> is the same function, and the vector
/// forms compute it with 32 x 32 -> 64-bit multiplies of the even and odd lanes; tests hold all of them to the reference bit for bit.
/// Precondition of the vector forms: multiplier in [0, 2^31) (what QuantizeMultiplier gives).
/// </summary>
public static class Requantize
{
    /// <summary>
    /// x * multiplier * 2^(shift - 31), rounded as TFLite does (SaturatingRoundingDoublingHighMul, RoundingDivideByPOT).
    /// Optimized from its first call: kernels call it once per output where the vector forms do not apply, and as a
    /// loop-free method it would otherwise run its unoptimized first version for as long as the process keeps
    /// compiling (fc_autoencoder's Int8 build took 31.8 us in a benchmark process against 16.0 with tiering off).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int Scalar(int x, int multiplier, int shift)
    {
        int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
        int a = unchecked(x * (1 << left));
        int h;
        if (a == int.MinValue && multiplier == int.MinValue) h = int.MaxValue;
        else
        {
            long ab = (long)a * multiplier;
            long nudge = ab >= 0 ? 1 << 30 : 1 - (1 << 30);
            h = (int)((ab + nudge) / (1L << 31));
        }
        int mask = (int)((1L << right) - 1);
        int remainder = h & mask;
        int threshold = (mask >> 1) + (h < 0 ? 1 : 0);
        return (h >> right) + (remainder > threshold ? 1 : 0);
    }

    /// <summary>The clamped output value of one accumulator.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Clamped(int acc, int multiplier, int shift, int yZero, int qmin, int qmax)
    {
        int v = Scalar(acc, multiplier, shift) + yZero;
        return v < qmin ? qmin : v > qmax ? qmax : v;
    }

    /// <summary>
    /// SaturatingRoundingDoublingHighMul(a, m) for m in [0, 2^31): trunc((a * m + nudge) / 2^31) equals
    /// floor((a * m + 2^30) / 2^31) for every product (a tie of a negative product rounds up either way), so the 64-bit
    /// products of the even and the odd lanes (vpmuldq) plus 2^30 give it as their bits 31..62.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<int> HighMul(Vector512<int> a, Vector512<int> m)
    {
        if (Avx512F.IsSupported)
        {
            var round = Vector512.Create(1L << 30);
            var even = Avx512F.Multiply(a, m) + round;
            var odd = Avx512F.Multiply(Vector512.ShiftRightLogical(a.AsInt64(), 32).AsInt32(), m) + round;
            return Vector512.ConditionalSelect(Vector512.Create(unchecked((long)0xFFFFFFFF00000000UL)).AsInt32(),
                Vector512.ShiftLeft(odd, 1).AsInt32(), Vector512.ShiftRightLogical(even, 31).AsInt32());
        }
        var (lo, hi) = Vector512.Widen(a);
        var (ml, _) = Vector512.Widen(m);
        return Vector512.Narrow(Vector512.ShiftRightArithmetic(lo * ml + Vector512.Create(1L << 30), 31), Vector512.ShiftRightArithmetic(hi * ml + Vector512.Create(1L << 30), 31));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> HighMul(Vector256<int> a, Vector256<int> m)
    {
        if (Avx2.IsSupported)
        {
            var round = Vector256.Create(1L << 30);
            var even = Avx2.Multiply(a, m) + round;
            var odd = Avx2.Multiply(Vector256.ShiftRightLogical(a.AsInt64(), 32).AsInt32(), m) + round;
            return Avx2.Blend(Vector256.ShiftRightLogical(even, 31).AsInt32(), Vector256.ShiftLeft(odd, 1).AsInt32(), 0xAA);
        }
        var (lo, hi) = Vector256.Widen(a);
        var (ml, _) = Vector256.Widen(m);
        return Vector256.Narrow(Vector256.ShiftRightArithmetic(lo * ml + Vector256.Create(1L << 30), 31), Vector256.ShiftRightArithmetic(hi * ml + Vector256.Create(1L << 30), 31));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<int> HighMul(Vector128<int> a, Vector128<int> m)
    {
        if (Sse41.IsSupported)
        {
            var round = Vector128.Create(1L << 30);
            var even = Sse41.Multiply(a, m) + round;
            var odd = Sse41.Multiply(Vector128.ShiftRightLogical(a.AsInt64(), 32).AsInt32(), m) + round;
            return Vector128.ConditionalSelect(Vector128.Create(unchecked((long)0xFFFFFFFF00000000UL)).AsInt32(),
                Vector128.ShiftLeft(odd, 1).AsInt32(), Vector128.ShiftRightLogical(even, 31).AsInt32());
        }
        var (lo, hi) = Vector128.Widen(a);
        var (ml, _) = Vector128.Widen(m);
        return Vector128.Narrow(Vector128.ShiftRightArithmetic(lo * ml + Vector128.Create(1L << 30), 31), Vector128.ShiftRightArithmetic(hi * ml + Vector128.Create(1L << 30), 31));
    }

    /// <summary>One channel's requantization constants, splatted once per tile row.</summary>
    internal readonly struct Params<TV> where TV : struct
    {
        public readonly TV Mult, Mask, Half, Zero, Lo, Hi;
        public readonly int Multiplier, Shift, Left, Right;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Params(int multiplier, int shift, TV mult, TV mask, TV half, TV zero, TV lo, TV hi)
        {
            Multiplier = multiplier; Shift = shift; Left = shift > 0 ? shift : 0; Right = shift > 0 ? 0 : -shift;
            Mult = mult; Mask = mask; Half = half; Zero = zero; Lo = lo; Hi = hi;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] // a call left in a kernel's epilogue spills its accumulators in the loop
    static int Mask(int shift) => shift > 0 ? 0 : (int)((1L << -shift) - 1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Params<Vector512<int>> Prepare512(int multiplier, int shift, int yZero, int qmin, int qmax)
        => new(multiplier, shift, Vector512.Create(multiplier), Vector512.Create(Mask(shift)), Vector512.Create(Mask(shift) >> 1),
            Vector512.Create(yZero), Vector512.Create(qmin), Vector512.Create(qmax));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Params<Vector256<int>> Prepare256(int multiplier, int shift, int yZero, int qmin, int qmax)
        => new(multiplier, shift, Vector256.Create(multiplier), Vector256.Create(Mask(shift)), Vector256.Create(Mask(shift) >> 1),
            Vector256.Create(yZero), Vector256.Create(qmin), Vector256.Create(qmax));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Params<Vector128<int>> Prepare128(int multiplier, int shift, int yZero, int qmin, int qmax)
        => new(multiplier, shift, Vector128.Create(multiplier), Vector128.Create(Mask(shift)), Vector128.Create(Mask(shift) >> 1),
            Vector128.Create(yZero), Vector128.Create(qmin), Vector128.Create(qmax));

    /// <summary>RoundingDivideByPOT of the high product (threshold + 1 for negative values), then zero point and clamp.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<int> Apply(Vector512<int> acc, in Params<Vector512<int>> p)
    {
        var h = HighMul(Vector512.ShiftLeft(acc, p.Left), p.Mult);
        var threshold = p.Half - Vector512.ShiftRightArithmetic(h, 31);
        var r = Vector512.ShiftRightArithmetic(h, p.Right) - Vector512.GreaterThan(h & p.Mask, threshold) + p.Zero;
        return Vector512.Min(Vector512.Max(r, p.Lo), p.Hi);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> Apply(Vector256<int> acc, in Params<Vector256<int>> p)
    {
        var h = HighMul(Vector256.ShiftLeft(acc, p.Left), p.Mult);
        var threshold = p.Half - Vector256.ShiftRightArithmetic(h, 31);
        var r = Vector256.ShiftRightArithmetic(h, p.Right) - Vector256.GreaterThan(h & p.Mask, threshold) + p.Zero;
        return Vector256.Min(Vector256.Max(r, p.Lo), p.Hi);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<int> Apply(Vector128<int> acc, in Params<Vector128<int>> p)
    {
        var h = HighMul(Vector128.ShiftLeft(acc, p.Left), p.Mult);
        var threshold = p.Half - Vector128.ShiftRightArithmetic(h, 31);
        var r = Vector128.ShiftRightArithmetic(h, p.Right) - Vector128.GreaterThan(h & p.Mask, threshold) + p.Zero;
        return Vector128.Min(Vector128.Max(r, p.Lo), p.Hi);
    }

    /// <summary>16 lanes of <see cref="Clamped(int, int, int, int, int, int)"/> (one channel: one multiplier).</summary>
    public static Vector512<int> Clamped(Vector512<int> acc, int multiplier, int shift, int yZero, int qmin, int qmax)
        => Apply(acc, Prepare512(multiplier, shift, yZero, qmin, qmax));

    /// <summary>8 lanes of <see cref="Clamped(int, int, int, int, int, int)"/>.</summary>
    public static Vector256<int> Clamped(Vector256<int> acc, int multiplier, int shift, int yZero, int qmin, int qmax)
        => Apply(acc, Prepare256(multiplier, shift, yZero, qmin, qmax));

    /// <summary>4 lanes of <see cref="Clamped(int, int, int, int, int, int)"/>.</summary>
    public static Vector128<int> Clamped(Vector128<int> acc, int multiplier, int shift, int yZero, int qmin, int qmax)
        => Apply(acc, Prepare128(multiplier, shift, yZero, qmin, qmax));
}
