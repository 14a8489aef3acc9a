using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

/// <summary>
/// Requantization of int32 accumulators, TensorFlow Lite's fixed-point MultiplyByQuantizedMultiplier. The reference
/// is ModelGen.Compiler.Quant.FixedPoint (generator): <see cref="Scalar"/> is the same function, and the vector
/// forms compute it lane by lane with 64-bit products; tests hold all of them to the reference bit for bit.
/// Precondition of the vector forms: multiplier in [0, 2^31) (what QuantizeMultiplier gives).
/// </summary>
public static class Requantize
{
    /// <summary>x * multiplier * 2^(shift - 31), rounded as TFLite does (SaturatingRoundingDoublingHighMul, RoundingDivideByPOT).</summary>
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

    // (a * b + nudge) / 2^31 truncated toward zero, on 64-bit lanes holding the full products
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<long> High(Vector512<long> ab)
    {
        var t = ab + (Vector512.Create(1L << 30) + (Vector512.ShiftRightArithmetic(ab, 63) & Vector512.Create(1L - (1L << 31))));
        return Vector512.ShiftRightArithmetic(t + (Vector512.ShiftRightArithmetic(t, 63) & Vector512.Create((1L << 31) - 1)), 31);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<long> High(Vector256<long> ab)
    {
        var t = ab + (Vector256.Create(1L << 30) + (Vector256.ShiftRightArithmetic(ab, 63) & Vector256.Create(1L - (1L << 31))));
        return Vector256.ShiftRightArithmetic(t + (Vector256.ShiftRightArithmetic(t, 63) & Vector256.Create((1L << 31) - 1)), 31);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<long> High(Vector128<long> ab)
    {
        var t = ab + (Vector128.Create(1L << 30) + (Vector128.ShiftRightArithmetic(ab, 63) & Vector128.Create(1L - (1L << 31))));
        return Vector128.ShiftRightArithmetic(t + (Vector128.ShiftRightArithmetic(t, 63) & Vector128.Create((1L << 31) - 1)), 31);
    }

    /// <summary>16 lanes of <see cref="Clamped(int, int, int, int, int, int)"/> (one channel: one multiplier).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> Clamped(Vector512<int> acc, int multiplier, int shift, int yZero, int qmin, int qmax)
    {
        int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
        var (a, b) = Vector512.Widen(Vector512.ShiftLeft(acc, left));
        var m = Vector512.Create((long)multiplier);
        var h = Vector512.Narrow(High(a * m), High(b * m));
        var mask = Vector512.Create((int)((1L << right) - 1));
        var threshold = Vector512.ShiftRightArithmetic(mask, 1) + (Vector512.ShiftRightArithmetic(h, 31) & Vector512<int>.One);
        var r = Vector512.ShiftRightArithmetic(h, right) - Vector512.GreaterThan(h & mask, threshold) + Vector512.Create(yZero);
        return Vector512.Min(Vector512.Max(r, Vector512.Create(qmin)), Vector512.Create(qmax));
    }

    /// <summary>8 lanes of <see cref="Clamped(int, int, int, int, int, int)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Clamped(Vector256<int> acc, int multiplier, int shift, int yZero, int qmin, int qmax)
    {
        int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
        var (a, b) = Vector256.Widen(Vector256.ShiftLeft(acc, left));
        var m = Vector256.Create((long)multiplier);
        var h = Vector256.Narrow(High(a * m), High(b * m));
        var mask = Vector256.Create((int)((1L << right) - 1));
        var threshold = Vector256.ShiftRightArithmetic(mask, 1) + (Vector256.ShiftRightArithmetic(h, 31) & Vector256<int>.One);
        var r = Vector256.ShiftRightArithmetic(h, right) - Vector256.GreaterThan(h & mask, threshold) + Vector256.Create(yZero);
        return Vector256.Min(Vector256.Max(r, Vector256.Create(qmin)), Vector256.Create(qmax));
    }

    /// <summary>4 lanes of <see cref="Clamped(int, int, int, int, int, int)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> Clamped(Vector128<int> acc, int multiplier, int shift, int yZero, int qmin, int qmax)
    {
        int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
        var (a, b) = Vector128.Widen(Vector128.ShiftLeft(acc, left));
        var m = Vector128.Create((long)multiplier);
        var h = Vector128.Narrow(High(a * m), High(b * m));
        var mask = Vector128.Create((int)((1L << right) - 1));
        var threshold = Vector128.ShiftRightArithmetic(mask, 1) + (Vector128.ShiftRightArithmetic(h, 31) & Vector128<int>.One);
        var r = Vector128.ShiftRightArithmetic(h, right) - Vector128.GreaterThan(h & mask, threshold) + Vector128.Create(yZero);
        return Vector128.Min(Vector128.Max(r, Vector128.Create(qmin)), Vector128.Create(qmax));
    }
}
