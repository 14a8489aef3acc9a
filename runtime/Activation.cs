using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Runtime;

/// <summary>The activation a kernel applies to each output as it stores it (a fused epilogue).</summary>
public enum ActivationKind
{
    /// <summary>y = x.</summary>
    None,
    /// <summary>max(x, 0).</summary>
    Relu,
    /// <summary>min(max(x, alpha), beta) (Relu6: alpha 0, beta 6).</summary>
    Clip,
    /// <summary>x &gt;= 0 ? x : alpha * x.</summary>
    LeakyRelu,
    /// <summary>1 / (1 + exp(-x)).</summary>
    Sigmoid,
    /// <summary>tanh(x).</summary>
    Tanh,
    /// <summary>max(0, min(1, alpha * x + beta)).</summary>
    HardSigmoid,
    /// <summary>x * max(0, min(1, x / 6 + 1/2)).</summary>
    HardSwish,
    /// <summary>x * sigmoid(x) (SiLU, Swish).</summary>
    Silu,
}

/// <summary>
/// An activation kind with its two parameters (see <see cref="ActivationKind"/> for their meaning per kind), and an
/// optional clamp to [Lo, Hi] applied after it (a Max/Min with a constant that followed the activation in the model).
/// </summary>
public readonly struct Activation
{
    public readonly ActivationKind Kind;
    public readonly float Alpha, Beta;
    /// <summary>Bounds applied after the kind when <see cref="Clamped"/> (otherwise unused).</summary>
    public readonly float Lo, Hi;
    /// <summary>True when the result is clamped to [Lo, Hi] after the kind.</summary>
    public readonly bool Clamped;

    public Activation(ActivationKind kind, float alpha = 0f, float beta = 0f, float lo = float.NegativeInfinity, float hi = float.PositiveInfinity)
    {
        Kind = kind; Alpha = alpha; Beta = beta; Lo = lo; Hi = hi;
        Clamped = !(float.IsNegativeInfinity(lo) && float.IsPositiveInfinity(hi));
        // a clamp alone is a Clip (the kernels skip kind None entirely)
        if (Clamped && kind == ActivationKind.None) { Kind = ActivationKind.Clip; Alpha = lo; Beta = hi; Clamped = false; }
    }

    /// <summary>Kinds computed on the accumulator vectors before they are stored (a few min/max/FMA each).</summary>
    internal bool InRegisters => Kind is ActivationKind.Relu or ActivationKind.Clip or ActivationKind.LeakyRelu
        or ActivationKind.HardSigmoid or ActivationKind.HardSwish;

    /// <summary>The activation of one value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Apply(float x)
    {
        float y = ApplyKind(x);
        return Clamped ? MathF.Min(MathF.Max(y, Lo), Hi) : y;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    float ApplyKind(float x) => Kind switch
    {
        ActivationKind.Relu => x < 0f ? 0f : x,
        ActivationKind.Clip => x < Alpha ? Alpha : x > Beta ? Beta : x,
        ActivationKind.LeakyRelu => x < 0f ? Alpha * x : x,
        ActivationKind.Sigmoid => 1f / (1f + MathF.Exp(-x)),
        ActivationKind.Tanh => MathF.Tanh(x),
        ActivationKind.HardSigmoid => MathF.Max(0f, MathF.Min(1f, Alpha * x + Beta)),
        ActivationKind.HardSwish => x * MathF.Max(0f, MathF.Min(1f, x * (1f / 6f) + 0.5f)),
        ActivationKind.Silu => x / (1f + MathF.Exp(-x)),
        _ => x,
    };

    /// <summary>The in-register kinds (and clamp) on one vector; other kinds pass through (their span form runs after the store).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal TV Apply<S, TV>(TV v) where S : struct, ISimd<TV> where TV : struct
    {
        v = ApplyKind<S, TV>(v);
        // the other kinds pass through here and clamp in their span form, after the kind
        return Clamped && InRegisters ? S.MinNative(S.Splat(Hi), S.MaxNative(S.Splat(Lo), v)) : v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    TV ApplyKind<S, TV>(TV v) where S : struct, ISimd<TV> where TV : struct
    {
        switch (Kind)
        {
            case ActivationKind.Relu: return ReluEpilogue.Apply<S, TV>(v, this);
            case ActivationKind.Clip: return ClipEpilogue.Apply<S, TV>(v, this);
            case ActivationKind.LeakyRelu: return LeakyReluEpilogue.Apply<S, TV>(v, this);
            case ActivationKind.HardSigmoid: return HardSigmoidEpilogue.Apply<S, TV>(v, this);
            case ActivationKind.HardSwish: return HardSwishEpilogue.Apply<S, TV>(v, this);
            default: return v;
        }
    }

    /// <summary>Applies the activation in place to n floats just written (still in cache).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal unsafe void Apply<S, TV>(float* p, int n) where S : struct, ISimd<TV> where TV : struct
    {
        if (Kind == ActivationKind.None || n <= 0) return;
        if (InRegisters)
        {
            switch (Epilogue.Of(this))
            {
                case EpilogueKind.Relu: Apply<S, TV, ReluEpilogue>(p, n); break;
                case EpilogueKind.Clip: Apply<S, TV, ClipEpilogue>(p, n); break;
                case EpilogueKind.LeakyRelu: Apply<S, TV, LeakyReluEpilogue>(p, n); break;
                case EpilogueKind.HardSwish: Apply<S, TV, HardSwishEpilogue>(p, n); break;
                case EpilogueKind.HardSigmoid: Apply<S, TV, HardSigmoidEpilogue>(p, n); break;
                default: Apply<S, TV, AnyEpilogue>(p, n); break;
            }
            return;
        }
        var y = new Span<float>(p, n);
        if (Kind is ActivationKind.Sigmoid or ActivationKind.Silu && S.Lanes > 1)
        {
            // in registers: the GEMM applies this to every 16-48-float tile row it stores, where two TensorPrimitives
            // calls per row cost more than the sums (EfficientNet-B0's 16 -> 96 SiLU 1x1 on 48x48: 613 us)
            if (typeof(TV) == typeof(Vector512<float>)) Logistic<V512, E512, Vector512<float>>(p, n);
            else if (typeof(TV) == typeof(Vector256<float>)) Logistic<V256, E256, Vector256<float>>(p, n);
            else Logistic<V128, E128, Vector128<float>>(p, n);
            if (Clamped) TensorPrimitives.Clamp(y, Lo, Hi, y);
            return;
        }
        switch (Kind)
        {
            case ActivationKind.Sigmoid: TensorPrimitives.Sigmoid(y, y); break;
            case ActivationKind.Tanh: TensorPrimitives.Tanh(y, y); break;
            default:
            {
                // SiLU: sigmoid of a chunk on the stack, times the chunk
                float* s = stackalloc float[64];
                for (int i = 0; i < n; i += 64)
                {
                    int c = Math.Min(64, n - i);
                    var t = new Span<float>(s, c);
                    var x = y.Slice(i, c);
                    TensorPrimitives.Sigmoid(x, t);
                    TensorPrimitives.Multiply(x, t, x);
                }
                break;
            }
        }
        if (Clamped) TensorPrimitives.Clamp(y, Lo, Hi, y);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    unsafe void Apply<S, TV, A>(float* p, int n) where S : struct, ISimd<TV> where TV : struct where A : struct, IEpilogue
    {
        int l = S.Lanes, i = 0;
        for (; i + l <= n; i += l) S.Store(p + i, A.Apply<S, TV>(S.Load(p + i), this));
        for (; i < n; i++) p[i] = Apply(p[i]);
    }

    /// <summary>
    /// p[i] = sigmoid(p[i]), or p[i] * sigmoid(p[i]) (SiLU), with Transcendental's exp in registers (float-accurate,
    /// as the recurrent layers use it); the last few floats through the scalar form.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    unsafe void Logistic<S, M, TV>(float* p, int n) where S : struct, ISimd<TV> where M : struct, IExpSimd<TV> where TV : struct
    {
        int l = S.Lanes, i = 0;
        bool silu = Kind == ActivationKind.Silu;
        for (; i + l <= n; i += l)
        {
            TV v = S.Load(p + i), g = Transcendental.Sigmoid<S, M, TV>(v);
            S.Store(p + i, silu ? S.Mul(v, g) : g);
        }
        for (; i < n; i++) p[i] = ApplyKind(p[i]);
    }

    /// <summary>Applies the activation in place with this machine's vector width.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal unsafe void Apply(float* p, int n)
    {
        switch (SimdLevel.Bits)
        {
            case 512: Apply<V512, System.Runtime.Intrinsics.Vector512<float>>(p, n); break;
            case 256: Apply<V256, System.Runtime.Intrinsics.Vector256<float>>(p, n); break;
            case 128: Apply<V128, System.Runtime.Intrinsics.Vector128<float>>(p, n); break;
            default: Apply<V0, float>(p, n); break;
        }
    }
}

/// <summary>
/// The activation as a type parameter of a kernel's hot loop, so that the common kinds compile to their instructions
/// alone: read through an <c>in</c> reference in a loop that also stores, the JIT reloads the struct and runs its switch
/// at every tile (the loads cannot be hoisted past the stores), which cost MobileNet's 32-channel 3x3 depthwise layer
/// 6 of its 15 us with Relu. <see cref="Epilogue.Of"/> picks the type once per call.
/// </summary>
internal interface IEpilogue
{
    /// <summary>The in-register part of the activation (see <see cref="Activation.Apply{S, TV}(TV)"/>).</summary>
    static abstract TV Apply<S, TV>(TV v, in Activation act) where S : struct, ISimd<TV> where TV : struct;
    /// <summary>True where the stored block still needs the activation's span form (kinds that call out).</summary>
    static abstract bool AfterStore(in Activation act);
}

/// <summary>No activation.</summary>
internal struct NoEpilogue : IEpilogue
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Apply<S, TV>(TV v, in Activation act) where S : struct, ISimd<TV> where TV : struct => v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool AfterStore(in Activation act) => false;
}

/// <summary>max(x, 0), unclamped.</summary>
internal struct ReluEpilogue : IEpilogue
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Apply<S, TV>(TV v, in Activation act) where S : struct, ISimd<TV> where TV : struct => S.MaxNative(S.Zero, v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool AfterStore(in Activation act) => false;
}

/// <summary>min(max(x, alpha), beta) (Relu6), unclamped.</summary>
internal struct ClipEpilogue : IEpilogue
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Apply<S, TV>(TV v, in Activation act) where S : struct, ISimd<TV> where TV : struct =>
        S.MinNative(S.Splat(act.Beta), S.MaxNative(S.Splat(act.Alpha), v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool AfterStore(in Activation act) => false;
}

/// <summary>max(x, 0) + alpha * min(x, 0) (no compare-and-select needed), unclamped.</summary>
internal struct LeakyReluEpilogue : IEpilogue
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Apply<S, TV>(TV v, in Activation act) where S : struct, ISimd<TV> where TV : struct =>
        S.Fma(S.Splat(act.Alpha), S.MinNative(S.Zero, v), S.MaxNative(S.Zero, v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool AfterStore(in Activation act) => false;
}

/// <summary>x * max(0, min(1, x / 6 + 1/2)), unclamped.</summary>
internal struct HardSwishEpilogue : IEpilogue
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Apply<S, TV>(TV v, in Activation act) where S : struct, ISimd<TV> where TV : struct =>
        S.Mul(v, S.MinNative(S.Splat(1f), S.MaxNative(S.Zero, S.Fma(v, S.Splat(1f / 6f), S.Splat(0.5f)))));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool AfterStore(in Activation act) => false;
}

/// <summary>max(0, min(1, alpha * x + beta)) (squeeze-excite gates), unclamped.</summary>
internal struct HardSigmoidEpilogue : IEpilogue
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Apply<S, TV>(TV v, in Activation act) where S : struct, ISimd<TV> where TV : struct =>
        S.MinNative(S.Splat(1f), S.MaxNative(S.Zero, S.Fma(v, S.Splat(act.Alpha), S.Splat(act.Beta))));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool AfterStore(in Activation act) => false;
}

/// <summary>Any other activation, read from the struct.</summary>
internal struct AnyEpilogue : IEpilogue
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Apply<S, TV>(TV v, in Activation act) where S : struct, ISimd<TV> where TV : struct => act.Apply<S, TV>(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool AfterStore(in Activation act) => act.Kind != ActivationKind.None && !act.InRegisters;
}

/// <summary>Which <see cref="IEpilogue"/> an activation takes.</summary>
internal enum EpilogueKind { None, Relu, Clip, LeakyRelu, HardSwish, HardSigmoid, Any }

internal static class Epilogue
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static EpilogueKind Of(in Activation act) =>
        act.Clamped ? EpilogueKind.Any
        : act.Kind == ActivationKind.None ? EpilogueKind.None
        : act.Kind == ActivationKind.Relu ? EpilogueKind.Relu
        : act.Kind == ActivationKind.Clip ? EpilogueKind.Clip
        : act.Kind == ActivationKind.LeakyRelu ? EpilogueKind.LeakyRelu
        : act.Kind == ActivationKind.HardSwish ? EpilogueKind.HardSwish
        : act.Kind == ActivationKind.HardSigmoid ? EpilogueKind.HardSigmoid : EpilogueKind.Any;
}
