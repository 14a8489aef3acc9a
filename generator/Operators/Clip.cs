using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>Clip: bounds from attributes (opset &lt; 11) or optional inputs 1 and 2 (constant or run-time scalars).</summary>
public sealed class Clip : Operator
{
    public override bool ElementwiseInPlace => true;

    public override void Infer(Node n)
    {
        Require(n, 1, 3);
        var x = n.In(0);
        if (x.Type == DType.Bool) throw new CompileException(Diag.UnsupportedType, "Clip on bool is not defined");
        for (int i = 1; i < n.Inputs.Count; i++)
            if (n.In(i) != null && (n.In(i).Length != 1 || n.In(i).Type != x.Type)) throw Error($"Clip bound {i} must be a scalar of the input type");
        SetOut(n, 0, x.Type, x.Shape);
    }

    static double Bound(Node n, TensorData[] inputs, int i, string attr, double dflt)
        => n.Opset < 11 ? n.Float(attr, (float)dflt) : inputs != null && i < inputs.Length && inputs[i] != null ? inputs[i].GetDouble(0) : dflt;

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var x = inputs[0];
        double lo = Bound(n, inputs, 1, "min", double.NegativeInfinity), hi = Bound(n, inputs, 2, "max", double.PositiveInfinity);
        var r = x.Like(x.Shape);
        for (int i = 0; i < r.Length; i++)
        {
            double v = x.GetDouble(i);
            r.Set(i, v < lo ? lo : v > hi ? hi : v);
        }
        return new[] { r };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var x = n.In(0);
        string lo, hi;
        if (n.Opset < 11)
        {
            lo = n.Has("min") ? EmitContext.Lit(x.Type, n.Float("min", 0)) : null;
            hi = n.Has("max") ? EmitContext.Lit(x.Type, n.Float("max", 0)) : null;
        }
        else
        {
            lo = n.In(1) != null ? e.At(n.In(1), "0") : null;
            hi = n.In(2) != null ? e.At(n.In(2), "0") : null;
        }
        // constant bounds on float (a missing one the infinity of its side): the SIMD kernel
        if (FusedActivation.FromNode(n) is { } act && SimdElementwise.Activate(e, x, n.Out(), act)) return;
        Broadcast.Emit(e, n.Out(), new[] { x }, a =>
        {
            var v = a[0];
            if (lo != null && hi != null) return $"{v} < {lo} ? {lo} : {v} > {hi} ? {hi} : {v}";
            if (lo != null) return $"{v} < {lo} ? {lo} : {v}";
            if (hi != null) return $"{v} > {hi} ? {hi} : {v}";
            return v;
        });
    }
}
