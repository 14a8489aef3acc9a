using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>Concat along 'axis' (required from opset 4, default 1 before; negative from opset 11).</summary>
public sealed class Concat : Operator
{
    public override void Infer(Node n)
    {
        Require(n, 1);
        var first = n.In(0);
        TensorOps.RequireSupported(n, first);
        int rank = first.Shape.Length;
        if (rank == 0) throw Error("Concat cannot join scalars (rank 0)");
        if (n.Opset >= 4 && !n.Has("axis")) throw Error("Concat needs the 'axis' attribute");
        int axis = Shape.Axis(n.Int("axis", 1), rank);
        var shape = (int[])first.Shape.Clone();
        shape[axis] = 0;
        long total = 0;
        foreach (var x in n.Inputs)
        {
            if (x == null) throw Error("Concat inputs cannot be omitted");
            if (x.Type != first.Type) throw Error($"Concat inputs have different element types ({DTypes.OnnxName(first.Type)}, {DTypes.OnnxName(x.Type)})");
            if (x.Shape.Length != rank) throw Error($"Concat inputs have different ranks: {Shape.Format(first.Shape)} and {Shape.Format(x.Shape)}");
            for (int d = 0; d < rank; d++)
                if (d != axis && x.Shape[d] != first.Shape[d])
                    throw Error($"Concat along axis {axis}: input shapes {Shape.Format(first.Shape)} and {Shape.Format(x.Shape)} differ in dimension {d}");
            total += x.Shape[axis];
        }
        shape[axis] = TensorOps.ToInt(total, "Concat output dimension");
        n.State = axis;
        SetOut(n, 0, first.Type, shape);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var y = n.Out();
        var r = new TensorData(y.Type, y.Shape);
        int axis = (int)n.State, at = 0;
        var ys = Shape.Strides(y.Shape);
        foreach (var x in inputs)
        {
            TensorOps.EvalStrided(r, at * ys[axis], ys, x, 0, Shape.Strides(x.Shape), x.Shape);
            at += x.Shape[axis];
        }
        return new[] { r };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var y = n.Out();
        int axis = (int)n.State, at = 0;
        var ys = Shape.Strides(y.Shape);
        foreach (var x in n.Inputs)
        {
            // an input its producer wrote into the output already (ConcatSlices) needs no copy
            if (e.IsSlice(x, y, at * ys[axis])) e.W.Line($"// '{x.Name}' was written in place");
            else TensorOps.EmitStrided(e, y, at * ys[axis], ys, x, 0, Shape.Strides(x.Shape), x.Shape);
            at += x.Shape[axis];
        }
    }
}
