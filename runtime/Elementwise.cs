using System;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Runtime;

/// <summary>Unary operations the Net profile runs through SIMD (TensorPrimitives).</summary>
public enum UnaryOp { Relu, Sigmoid, Tanh, Exp, Log, Sqrt, Abs, Neg, Gelu }

/// <summary>Binary operations the Net profile runs through SIMD (TensorPrimitives); Max/Min propagate NaN.</summary>
public enum BinaryOp { Add, Sub, Mul, Div, Max, Min }

/// <summary>
/// Element-wise kernels for generated code (float32). Operands either have the output's length or are a scalar;
/// an output may be the very same span as an input (in-place), never a partial overlap.
/// </summary>
public static class Elementwise
{
    public static void Unary(UnaryOp op, ReadOnlySpan<float> x, Span<float> y)
    {
        switch (op)
        {
            case UnaryOp.Relu: TensorPrimitives.Max(x, 0f, y); break;
            case UnaryOp.Sigmoid: if (!x.IsEmpty) TensorPrimitives.Sigmoid(x, y); break;
            case UnaryOp.Tanh: TensorPrimitives.Tanh(x, y); break;
            case UnaryOp.Gelu: Transcendental.Gelu(x, y); break;
            case UnaryOp.Exp: TensorPrimitives.Exp(x, y); break;
            case UnaryOp.Log: TensorPrimitives.Log(x, y); break;
            case UnaryOp.Sqrt: TensorPrimitives.Sqrt(x, y); break;
            case UnaryOp.Abs: TensorPrimitives.Abs(x, y); break;
            default: TensorPrimitives.Negate(x, y); break;
        }
    }

    /// <summary>y = x &lt; 0 ? alpha * x : x.</summary>
    public static void LeakyRelu(ReadOnlySpan<float> x, float alpha, Span<float> y)
    {
        if (y.Length < x.Length) throw new ArgumentException("LeakyRelu: output too small");
        int i = 0;
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float py = ref MemoryMarshal.GetReference(y);
        if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(alpha);
            for (; i + 8 <= x.Length; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref px, (nuint)i);
                Vector256.ConditionalSelect(Vector256.LessThan(v, Vector256<float>.Zero), v * va, v).StoreUnsafe(ref py, (nuint)i);
            }
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            var va = Vector128.Create(alpha);
            for (; i + 4 <= x.Length; i += 4)
            {
                var v = Vector128.LoadUnsafe(ref px, (nuint)i);
                Vector128.ConditionalSelect(Vector128.LessThan(v, Vector128<float>.Zero), v * va, v).StoreUnsafe(ref py, (nuint)i);
            }
        }
        for (; i < x.Length; i++) { float v = x[i]; y[i] = v < 0f ? v * alpha : v; }
    }

    /// <summary>y = a op b, all of one length.</summary>
    public static void Binary(BinaryOp op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y)
    {
        switch (op)
        {
            case BinaryOp.Add: TensorPrimitives.Add(a, b, y); break;
            case BinaryOp.Sub: TensorPrimitives.Subtract(a, b, y); break;
            case BinaryOp.Mul: TensorPrimitives.Multiply(a, b, y); break;
            case BinaryOp.Div: TensorPrimitives.Divide(a, b, y); break;
            case BinaryOp.Max: TensorPrimitives.Max(a, b, y); break;
            default: TensorPrimitives.Min(a, b, y); break;
        }
    }

    /// <summary>y = a op b with a scalar b.</summary>
    public static void Binary(BinaryOp op, ReadOnlySpan<float> a, float b, Span<float> y)
    {
        switch (op)
        {
            case BinaryOp.Add: TensorPrimitives.Add(a, b, y); break;
            case BinaryOp.Sub: TensorPrimitives.Subtract(a, b, y); break;
            case BinaryOp.Mul: TensorPrimitives.Multiply(a, b, y); break;
            case BinaryOp.Div: TensorPrimitives.Divide(a, b, y); break;
            case BinaryOp.Max: TensorPrimitives.Max(a, b, y); break;
            default: TensorPrimitives.Min(a, b, y); break;
        }
    }

    /// <summary>y = a op b with a scalar a.</summary>
    public static void Binary(BinaryOp op, float a, ReadOnlySpan<float> b, Span<float> y)
    {
        switch (op)
        {
            case BinaryOp.Add: TensorPrimitives.Add(b, a, y); break;
            case BinaryOp.Sub: TensorPrimitives.Subtract(a, b, y); break;
            case BinaryOp.Mul: TensorPrimitives.Multiply(b, a, y); break;
            case BinaryOp.Div: TensorPrimitives.Divide(a, b, y); break;
            case BinaryOp.Max: TensorPrimitives.Max(b, a, y); break;
            default: TensorPrimitives.Min(b, a, y); break;
        }
    }
}
