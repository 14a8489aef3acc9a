using System;

namespace ModelGen.Compiler.Quant;

/// <summary>
/// THE REFERENCE integer arithmetic of the lowered int8 kernels (QConvInt8, QGemmInt8), TensorFlow Lite's int8
/// specification: every kernel (the emitted scalar loops of both profiles, ModelGen.Runtime's SIMD kernels) computes
/// exactly what these functions compute, and the tests hold them to it bit for bit.
/// <list type="bullet">
/// <item>weights per-channel symmetric (zero point folded out at build time: w' = w - w_zp must fit int8),
///   activations per-tensor asymmetric int8 or uint8;</item>
/// <item>acc (int32, wrapping) = bias[m] + sum (x - x_zp) * w'[m];</item>
/// <item>y = clamp(MultiplyByQuantizedMultiplier(acc, multiplier[m], shift[m]) + y_zp, qmin, qmax), where
///   (multiplier, shift) = QuantizeMultiplier(x_scale * w_scale[m] / y_scale) and [qmin, qmax] is the output type's
///   range narrowed by a fused Relu / Clip (<see cref="Passes.QdqActivation"/>).</item>
/// </list>
/// Multiplying by a quantized multiplier differs from float requantization (ONNX Runtime) by at most one step.
/// </summary>
public static class FixedPoint
{
    /// <summary>
    /// real = multiplier * 2^(shift - 31), multiplier in [2^30, 2^31) (TFLite's QuantizeMultiplier: frexp, mantissa
    /// rounded half away from zero). Multipliers of 2^31 and more saturate at shift 30; below 2^-31 they become 0.
    /// </summary>
    public static void QuantizeMultiplier(double real, out int multiplier, out int shift)
    {
        multiplier = 0; shift = 0;
        if (!(real > 0)) return; // zero, negative (invalid scales) or NaN: the product is 0
        long bits = BitConverter.DoubleToInt64Bits(real);
        int exp = (int)((bits >> 52) & 0x7FF);
        if (exp == 0) return; // subnormal: far below 2^-31
        shift = exp - 1022; // real = q * 2^shift, q in [0.5, 1)
        double q = BitConverter.Int64BitsToDouble((bits & ~(0x7FFL << 52)) | (1022L << 52));
        long fixedQ = (long)Math.Round(q * (1L << 31), MidpointRounding.AwayFromZero);
        if (fixedQ == 1L << 31) { fixedQ /= 2; shift++; }
        if (shift < -31) { shift = 0; fixedQ = 0; }
        if (shift > 30) { shift = 30; fixedQ = int.MaxValue; }
        multiplier = (int)fixedQ;
    }

    /// <summary>(a * b * 2) / 2^32 rounded to nearest (ties away from zero), saturating the single overflow case.</summary>
    public static int SaturatingRoundingDoublingHighMul(int a, int b)
    {
        if (a == int.MinValue && b == int.MinValue) return int.MaxValue;
        long ab = (long)a * b;
        long nudge = ab >= 0 ? 1 << 30 : 1 - (1 << 30);
        return (int)((ab + nudge) / (1L << 31)); // division truncates toward zero, as in C
    }

    /// <summary>x / 2^exponent rounded to nearest, ties away from zero (exponent 0..31).</summary>
    public static int RoundingDivideByPOT(int x, int exponent)
    {
        int mask = (int)((1L << exponent) - 1);
        int remainder = x & mask;
        int threshold = (mask >> 1) + (x < 0 ? 1 : 0);
        return (x >> exponent) + (remainder > threshold ? 1 : 0);
    }

    /// <summary>x * multiplier * 2^(shift - 31), rounded; a left shift (shift > 0) wraps like int32 arithmetic.</summary>
    public static int MultiplyByQuantizedMultiplier(int x, int multiplier, int shift)
    {
        int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
        return RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(unchecked(x * (1 << left)), multiplier), right);
    }

    /// <summary>The requantized output value of one accumulator (before narrowing to the output type).</summary>
    public static int Requantize(int acc, int multiplier, int shift, int yZero, int qmin, int qmax)
    {
        int v = MultiplyByQuantizedMultiplier(acc, multiplier, shift) + yZero;
        return v < qmin ? qmin : v > qmax ? qmax : v;
    }

    /// <summary>
    /// The same function as emitted C# (C# 7.3, no System.Math: both profiles): MgQMul(x, multiplier, shift) is
    /// <see cref="MultiplyByQuantizedMultiplier"/>. Kept next to the reference it must equal.
    /// </summary>
    public const string Source = @"static int MgQMul(int x, int multiplier, int shift)
{
    // TFLite's MultiplyByQuantizedMultiplier: x * multiplier * 2^(shift - 31), rounded (see FixedPoint in ModelGen)
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
}";
}
