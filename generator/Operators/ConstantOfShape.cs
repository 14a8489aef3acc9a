using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>ConstantOfShape: a tensor of the constant shape input, filled with 'value' (one element; default float 0).</summary>
public sealed class ConstantOfShape : Operator
{
    public override void Infer(Node n)
    {
        Require(n, 1, 1);
        var dims = TensorOps.ConstInts(n, 0, "shape");
        if (n.In(0).Shape.Length != 1) throw Error("ConstantOfShape's input must be a 1-D tensor");
        var shape = dims.Select(d => d < 0 ? throw Error($"ConstantOfShape dimension {d} is negative") : TensorOps.ToInt(d, "ConstantOfShape dimension")).ToArray();
        var v = Value(n);
        if (!DTypes.IsSupported(v.Type)) throw new CompileException(Diag.UnsupportedType, $"ConstantOfShape of {DTypes.OnnxName(v.Type)} is not supported");
        SetOut(n, 0, v.Type, shape);
    }

    static TensorData Value(Node n)
    {
        if (!n.Attributes.TryGetValue("value", out var a)) return TensorData.Scalar(DType.Float, 0);
        if (a.T == null) throw Error("ConstantOfShape 'value' must be a tensor");
        if (a.T.Length != 1) throw Error($"ConstantOfShape 'value' must hold one element, it has {a.T.Length}");
        return a.T;
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var v = Value(n); var y = n.Out();
        var r = new TensorData(y.Type, y.Shape);
        for (int i = 0; i < r.Length; i++) r.CopyElement(i, v, 0);
        return new[] { r };
    }

    public override void Emit(Node n, EmitContext e)
        => TensorOps.EmitFill(e, n.Out(), EmitContext.Lit(n.Out().Type, Value(n), 0));
}
