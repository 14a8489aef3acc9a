using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>Transpose: output dimension i is input dimension perm[i]; perm defaults to the reversed dimensions.</summary>
public sealed class Transpose : Operator
{
    public override void Infer(Node n)
    {
        Require(n, 1, 1);
        var x = n.In(0);
        TensorOps.RequireSupported(n, x);
        var perm = Perm(n, x.Shape.Length);
        n.State = perm;
        SetOut(n, 0, x.Type, perm.Select(p => x.Shape[p]).ToArray());
    }

    static int[] Perm(Node n, int rank)
    {
        var a = n.Ints("perm");
        if (a == null) return Enumerable.Range(0, rank).Reverse().ToArray();
        if (a.Length != rank) throw Error($"Transpose perm [{TensorOps.Join(a)}] has {a.Length} entries, the input has rank {rank}");
        return TensorOps.Axes(n, a, rank, "perm entry");
    }

    /// <summary>Input strides seen from the output's dimensions.</summary>
    static int[] SourceStrides(Node n)
    {
        var perm = (int[])n.State;
        var st = Shape.Strides(n.In(0).Shape);
        return perm.Select(p => st[p]).ToArray();
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var y = n.Out();
        var r = new TensorData(y.Type, y.Shape);
        TensorOps.EvalStrided(r, 0, Shape.Strides(y.Shape), inputs[0], 0, SourceStrides(n), y.Shape);
        return new[] { r };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var y = n.Out();
        TensorOps.EmitStrided(e, y, 0, Shape.Strides(y.Shape), n.In(0), 0, SourceStrides(n), y.Shape);
    }
}
