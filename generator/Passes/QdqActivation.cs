using ModelGen.Compiler.IR;
using ModelGen.Compiler.Operators;
using static ModelGen.Compiler.Passes.PassUtil;

namespace ModelGen.Compiler.Passes;

/// <summary>
/// The one place where an activation between a lowered float op and its QuantizeLinear becomes the integer clamp:
/// Q is monotone, so Q(max(v, a)) = max(Q(v), Q(a)) and Q(min(v, b)) = min(Q(v), Q(b)) exactly. Relu and Clip, as nodes or fused into
/// the op's attributes.
/// </summary>
internal static class QdqActivation
{
    /// <summary>Narrows [lo, hi] (quantized output bounds) by <paramref name="act"/>; false when it is not a clamp.</summary>
    public static bool Narrow(Node act, float yScale, long yZero, DType t, ref int lo, ref int hi)
    {
        float? min = null, max = null;
        if (Is(act, "Relu")) min = 0f;
        else if (Is(act, "Clip"))
        {
            if (act.Opset < 11) { min = act.Float("min", float.MinValue); max = act.Float("max", float.MaxValue); }
            else
            {
                if (act.In(1) != null) { var v = Scalar(act.In(1)); if (v == null) return false; min = (float)v.Value; }
                if (act.In(2) != null) { var v = Scalar(act.In(2)); if (v == null) return false; max = (float)v.Value; }
            }
        }
        else return false;
        Bound(min, max, yScale, yZero, t, ref lo, ref hi);
        return true;
    }

    /// <summary>The same for an activation fused into the op (ActivationFusion ran first): Relu and Clip are clamps.</summary>
    public static bool Narrow(FusedActivation act, float yScale, long yZero, DType t, ref int lo, ref int hi)
    {
        if (act.Kind == "Relu") Bound(0f, null, yScale, yZero, t, ref lo, ref hi);
        else if (act.Kind == "Clip") Bound(act.Alpha, act.Beta, yScale, yZero, t, ref lo, ref hi);
        else return false;
        if (act.Clamped) Bound(act.Lo, act.Hi, yScale, yZero, t, ref lo, ref hi);
        return true;
    }

    static void Bound(float? min, float? max, float yScale, long yZero, DType t, ref int lo, ref int hi)
    {
        if (min.HasValue) { long q = Q.Quantize(min.Value, yScale, yZero, t); if (q > lo) lo = (int)q; }
        if (max.HasValue) { long q = Q.Quantize(max.Value, yScale, yZero, t); if (q < hi) hi = (int)q; }
        if (lo > hi) lo = hi; // Clip with min > max gives max everywhere
    }
}
