using System;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// Range(start, limit, delta): max(ceil((limit - start) / delta), 0) elements start, start + delta, ...
/// All three must be known at build time (they decide the length). Values accumulate like ONNX Runtime
/// (v += delta in the element type); integer types are exact.
/// </summary>
public sealed class RangeOp : Operator
{
    public override void Infer(Node n)
    {
        Require(n, 3, 3);
        var t = n.In(0).Type;
        for (int i = 0; i < 3; i++)
        {
            var v = n.In(i);
            if (v.Type != t) throw Error("Range inputs must share one element type");
            if (v.Length != 1) throw Error($"Range input '{v.Name}' must be a scalar, it has shape {Shape.Format(v.Shape)}");
            if (!v.IsConst) throw new CompileException(Diag.DynamicShape, $"Range's {(i == 0 ? "start" : i == 1 ? "limit" : "delta")} '{v.Name}' is computed at run time; ModelGen needs start, limit and delta at build time to know the output length");
        }
        if (t == DType.Bool || !DTypes.IsSupported(t)) throw new CompileException(Diag.UnsupportedType, $"Range on {DTypes.OnnxName(t)} is not supported");
        long count = Count(t, n.In(0).Const, n.In(1).Const, n.In(2).Const);
        SetOut(n, 0, t, new[] { TensorOps.ToInt(count, "Range length") });
    }

    static long Count(DType t, TensorData start, TensorData limit, TensorData delta)
    {
        if (DTypes.IsFloat(t))
        {
            double s = start.GetDouble(0), l = limit.GetDouble(0), d = delta.GetDouble(0);
            if (d == 0) throw Error("Range delta is 0");
            double diff = t == DType.Float ? (float)((float)l - (float)s) : l - s;
            double c = Math.Ceiling(diff / d);
            if (double.IsNaN(c)) throw Error("Range bounds are not finite");
            return c <= 0 ? 0 : c > Shape.MaxElements ? Shape.MaxElements + 1 : (long)c;
        }
        long si = start.L[0], li = limit.L[0], di = delta.L[0];
        if (di == 0) throw Error("Range delta is 0");
        // ceil((l - s) / d) without overflow for the values exporters write
        decimal q = ((decimal)li - si) / di;
        decimal cnt = Math.Ceiling(q);
        return cnt <= 0 ? 0 : cnt > Shape.MaxElements ? Shape.MaxElements + 1 : (long)cnt;
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var y = n.Out();
        var r = new TensorData(y.Type, y.Shape);
        var s = inputs[0]; var d = inputs[2];
        if (y.Type == DType.Float) { float v = s.F[0]; for (int i = 0; i < r.Length; i++) { r.F[i] = v; v += d.F[0]; } }
        else if (y.Type == DType.Double) { double v = s.D[0]; for (int i = 0; i < r.Length; i++) { r.D[i] = v; v += d.D[0]; } }
        else { long v = s.L[0]; for (int i = 0; i < r.Length; i++) { r.SetLong(i, v); v += d.L[0]; } }
        return new[] { r };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var y = n.Out();
        string v = e.Var("v"), i = e.Var("i");
        e.W.Line($"{EmitContext.Ty(y)} {v} = {e.At(n.In(0), "0")};");
        e.W.Line($"for (int {i} = 0; {i} < {y.Length}; {i}++) {{ {e.At(y, i)} = {v}; {v} += {e.At(n.In(2), "0")}; }}");
    }
}
