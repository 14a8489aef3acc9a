using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>Where: condition ? X : Y elementwise, all three broadcast together.</summary>
public sealed class WhereOp : Operator
{
    public override void Infer(Node n)
    {
        Require(n, 3, 3);
        var c = n.In(0); var a = n.In(1); var b = n.In(2);
        if (c.Type != DType.Bool) throw Error($"Where's condition must be bool, '{c.Name}' is {DTypes.OnnxName(c.Type)}");
        if (a.Type != b.Type) throw Error($"Where's X and Y have different element types ({DTypes.OnnxName(a.Type)}, {DTypes.OnnxName(b.Type)})");
        TensorOps.RequireSupported(n, a);
        SetOut(n, 0, a.Type, Shape.Broadcast(c.Shape, a.Shape, b.Shape));
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var c = inputs[0]; var a = inputs[1]; var b = inputs[2];
        var y = n.Out();
        var r = new TensorData(y.Type, y.Shape);
        Broadcast.ForEach(y.Shape, new[] { c.Shape, a.Shape, b.Shape }, (i, idx) =>
        {
            if (c.L[idx[0]] != 0) r.CopyElement(i, a, idx[1]);
            else r.CopyElement(i, b, idx[2]);
        });
        return new[] { r };
    }

    public override void Emit(Node n, EmitContext e)
        => Broadcast.Emit(e, n.Out(), new[] { n.In(0), n.In(1), n.In(2) }, a => $"{a[0]} ? {a[1]} : {a[2]}");
}
