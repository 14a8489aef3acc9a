using System;
using System.Runtime.CompilerServices;
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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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

    /// <summary>
    /// y = act(x) for the activations a kernel applies in registers (<see cref="ActivationKind.Clip"/>, HardSwish,
    /// HardSigmoid, Relu, LeakyRelu; others through their span form): a standalone activation layer. y may be x.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Activate(ReadOnlySpan<float> x, Activation act, Span<float> y)
    {
        if (y.Length < x.Length) throw new ArgumentException("Activate: output too small");
        if (x.IsEmpty) return;
        fixed (float* px = x, py = y)
        {
            if (px != py) Buffer.MemoryCopy(px, py, (long)y.Length * 4, (long)x.Length * 4);
            act.Apply(py, x.Length);
        }
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

    /// <summary>
    /// y[r, j] = s[r] op x[r, j] for op Add or Mul: one scalar per row (squeeze-excite's channel gates, a per-channel
    /// bias) against rows of cols. One call for the whole tensor: a TensorPrimitives call per row cost more than its
    /// 36 or 9 products (MobileNetV3's gates: 25 us for 336 x 6x6).
    /// </summary>
    public static unsafe void BinaryRows(BinaryOp op, ReadOnlySpan<float> s, ReadOnlySpan<float> x, Span<float> y, int rows, int cols)
    {
        if (op is not (BinaryOp.Add or BinaryOp.Mul)) throw new ArgumentOutOfRangeException(nameof(op), "BinaryRows: Add or Mul");
        if (rows < 0 || cols < 0 || s.Length < rows || x.Length < (long)rows * cols || y.Length < (long)rows * cols)
            throw new ArgumentException("BinaryRows: sizes do not agree");
        fixed (float* ps = s, px = x, py = y)
        {
            switch (SimdLevel.Bits)
            {
                case 512: Rows<V512, Vector512<float>>(op == BinaryOp.Mul, ps, px, py, rows, cols); break;
                case 256: Rows<V256, Vector256<float>>(op == BinaryOp.Mul, ps, px, py, rows, cols); break;
                case 128: Rows<V128, Vector128<float>>(op == BinaryOp.Mul, ps, px, py, rows, cols); break;
                default: Rows<V0, float>(op == BinaryOp.Mul, ps, px, py, rows, cols); break;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void Rows<S, TV>(bool mul, float* s, float* x, float* y, int rows, int cols) where S : struct, ISimd<TV> where TV : struct
    {
        int l = S.Lanes;
        for (int r = 0; r < rows; r++, x += cols, y += cols)
        {
            float v = s[r];
            TV t = S.Splat(v);
            int j = 0;
            if (mul) for (; j + l <= cols; j += l) S.Store(y + j, S.Mul(t, S.Load(x + j)));
            else for (; j + l <= cols; j += l) S.Store(y + j, S.Add(t, S.Load(x + j)));
            for (; j < cols; j++) y[j] = mul ? v * x[j] : v + x[j];
        }
    }

    /// <summary>
    /// y[n, c, i] = x[n, c, i] * scale[c] + shift[c] for n &lt; batch, c &lt; channels, i &lt; inner: an inference
    /// BatchNormalization with its statistics folded at build time. In place allowed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void ScaleShift(ReadOnlySpan<float> scale, ReadOnlySpan<float> shift, ReadOnlySpan<float> x, Span<float> y, int batch, int channels, int inner)
    {
        long n = (long)batch * channels * inner;
        if (batch < 0 || channels < 0 || inner < 0 || scale.Length < channels || shift.Length < channels || x.Length < n || y.Length < n)
            throw new ArgumentException("ScaleShift: sizes do not agree");
        fixed (float* ps = scale, pb = shift, px = x, py = y)
            for (int b = 0; b < batch; b++)
            {
                float* xb = px + (long)b * channels * inner, yb = py + (long)b * channels * inner;
                switch (SimdLevel.Bits)
                {
                    case 512: ScaleShift<V512, Vector512<float>>(ps, pb, xb, yb, channels, inner); break;
                    case 256: ScaleShift<V256, Vector256<float>>(ps, pb, xb, yb, channels, inner); break;
                    case 128: ScaleShift<V128, Vector128<float>>(ps, pb, xb, yb, channels, inner); break;
                    default: ScaleShift<V0, float>(ps, pb, xb, yb, channels, inner); break;
                }
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void ScaleShift<S, TV>(float* scale, float* shift, float* x, float* y, int channels, int inner) where S : struct, ISimd<TV> where TV : struct
    {
        int l = S.Lanes;
        for (int c = 0; c < channels; c++, x += inner, y += inner)
        {
            float a = scale[c], b = shift[c];
            TV va = S.Splat(a), vb = S.Splat(b);
            int j = 0;
            for (; j + l <= inner; j += l) S.Store(y + j, S.Fma(S.Load(x + j), va, vb));
            for (; j < inner; j++) y[j] = x[j] * a + b;
        }
    }
}
