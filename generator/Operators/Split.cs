using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// Split along 'axis' into the node's outputs: sizes from the 'split' attribute (opset &lt; 13), the constant split
/// input (opset 13+), 'num_outputs' (opset 18: chunks of ceil(n / num_outputs), the last one smaller), or equal parts.
/// </summary>
public sealed class Split : Operator
{
    public override void Infer(Node n)
    {
        var x = n.In(0);
        long[] split;
        if (n.Opset >= 13 || n.Opset < 2)
        {
            Require(n, 1, 2);
            split = TensorOps.ConstInts(n, 1, "split");
        }
        else
        {
            Require(n, 1, 1);
            split = n.Ints("split");
        }
        TensorOps.RequireSupported(n, x);
        int rank = x.Shape.Length;
        if (rank == 0) throw Error("Split needs an input of rank 1 or more");
        int axis = Shape.Axis(n.Int("axis", 0), rank);
        int dim = x.Shape[axis], outs = n.Outputs.Count;
        if (outs == 0) throw Error("Split has no outputs");
        if (split != null && split.Length == 0) split = null;
        if (split != null)
        {
            if (n.Opset >= 18 && n.Has("num_outputs")) throw Error("Split takes either the split input or 'num_outputs', not both");
            if (split.Length != outs) throw Error($"Split has {split.Length} sizes for {outs} outputs");
            if (split.Any(s => s < 0) || split.Sum() != dim) throw Error($"Split sizes [{TensorOps.Join(split)}] do not add up to dimension {axis} of size {dim}");
        }
        else if (n.Opset >= 18 && n.Has("num_outputs"))
        {
            long num = n.Int("num_outputs", 0);
            if (num != outs) throw Error($"Split num_outputs is {num} but the node has {outs} outputs");
            long chunk = (dim + num - 1) / num;
            split = Enumerable.Range(0, outs).Select(i => i < outs - 1 ? chunk : dim - chunk * (outs - 1)).ToArray();
            if (split[outs - 1] < 0) throw Error($"Split cannot cut dimension {axis} of size {dim} into {num} chunks of {chunk}");
        }
        else
        {
            if (n.Opset >= 18) throw Error("Split-18 needs the split input or the 'num_outputs' attribute");
            if (dim % outs != 0) throw Error($"Split cannot cut dimension {axis} of size {dim} into {outs} equal parts");
            split = Enumerable.Repeat((long)(dim / outs), outs).ToArray();
        }
        for (int i = 0; i < outs; i++)
        {
            var shape = (int[])x.Shape.Clone();
            shape[axis] = (int)split[i];
            SetOut(n, i, x.Type, shape);
        }
        n.State = axis;
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        int axis = (int)n.State, at = 0;
        var x = inputs[0];
        var xs = Shape.Strides(x.Shape);
        var r = new TensorData[n.Outputs.Count];
        for (int i = 0; i < r.Length; i++)
        {
            var y = n.Out(i);
            r[i] = new TensorData(y.Type, y.Shape);
            TensorOps.EvalStrided(r[i], 0, Shape.Strides(y.Shape), x, at * xs[axis], xs, y.Shape);
            at += y.Shape[axis];
        }
        return r;
    }

    public override void Emit(Node n, EmitContext e)
    {
        int axis = (int)n.State, at = 0;
        var x = n.In(0);
        var xs = Shape.Strides(x.Shape);
        foreach (var y in n.Outputs)
        {
            TensorOps.EmitStrided(e, y, 0, Shape.Strides(y.Shape), x, at * xs[axis], xs, y.Shape);
            at += y.Shape[axis];
        }
    }
}
