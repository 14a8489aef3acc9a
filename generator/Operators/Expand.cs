using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>Expand: broadcasts the input to the constant 'shape' input (bidirectionally: a 1 there keeps the input's size).</summary>
public sealed class Expand : Operator
{
    public override void Infer(Node n)
    {
        Require(n, 2, 2);
        var x = n.In(0);
        TensorOps.RequireSupported(n, x);
        var target = TensorOps.ConstInts(n, 1, "shape");
        if (n.In(1).Shape.Length > 1) throw Error("Expand's shape must be a 1-D tensor");
        var dims = target.Select(d => d < 0 ? throw Error($"Expand shape [{TensorOps.Join(target)}] has a negative dimension") : TensorOps.ToInt(d, "Expand dimension")).ToArray();
        SetOut(n, 0, x.Type, Shape.Broadcast(x.Shape, dims));
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var y = n.Out();
        var r = new TensorData(y.Type, y.Shape);
        TensorOps.EvalStrided(r, 0, Shape.Strides(y.Shape), inputs[0], 0, Shape.BroadcastStrides(inputs[0].Shape, y.Shape), y.Shape);
        return new[] { r };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var y = n.Out();
        TensorOps.EmitStrided(e, y, 0, Shape.Strides(y.Shape), n.In(0), 0, Shape.BroadcastStrides(n.In(0).Shape, y.Shape), y.Shape);
    }
}
