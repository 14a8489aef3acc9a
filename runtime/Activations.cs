using System;
using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Runtime;

/// <summary>In-place element-wise activations for generated code (SIMD via TensorPrimitives where it has the op).</summary>
public static class Activations
{
    /// <summary>x = max(x, 0).</summary>
    public static void Relu(Span<float> x) => TensorPrimitives.Max(x, 0f, x);

    /// <summary>x = x &gt;= 0 ? x : alpha * x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LeakyRelu(Span<float> x, float alpha)
    {
        int i = 0;
        ref float p = ref MemoryMarshal.GetReference(x);
        if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(alpha);
            for (; i + 8 <= x.Length; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref p, (nuint)i);
                Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(v, Vector256<float>.Zero), v, v * va).StoreUnsafe(ref p, (nuint)i);
            }
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            var va = Vector128.Create(alpha);
            for (; i + 4 <= x.Length; i += 4)
            {
                var v = Vector128.LoadUnsafe(ref p, (nuint)i);
                Vector128.ConditionalSelect(Vector128.GreaterThanOrEqual(v, Vector128<float>.Zero), v, v * va).StoreUnsafe(ref p, (nuint)i);
            }
        }
        for (; i < x.Length; i++) { float v = x[i]; x[i] = v >= 0f ? v : alpha * v; }
    }

    /// <summary>x = 1 / (1 + exp(-x)).</summary>
    public static void Sigmoid(Span<float> x) { if (!x.IsEmpty) TensorPrimitives.Sigmoid(x, x); }

    /// <summary>x = tanh(x).</summary>
    public static void Tanh(Span<float> x) => TensorPrimitives.Tanh(x, x);
}
