using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// Tile: output dimension d is input dimension d times the constant repeats[d]. Emitted as one strided copy over
/// [r0, d0, r1, d1, ...] where the repeat dimensions read the input with stride 0.
/// </summary>
public sealed class Tile : Operator
{
    public override void Infer(Node n)
    {
        Require(n, 2, 2);
        var x = n.In(0);
        TensorOps.RequireSupported(n, x);
        var reps = TensorOps.ConstInts(n, 1, "repeats");
        int rank = x.Shape.Length;
        if (reps.Length != rank) throw Error($"Tile has {reps.Length} repeats for an input of rank {rank}");
        var shape = new int[rank];
        for (int d = 0; d < rank; d++)
        {
            if (reps[d] < 0) throw Error($"Tile repeat {reps[d]} is negative");
            shape[d] = TensorOps.ToInt(reps[d] * x.Shape[d], "Tile output dimension");
        }
        SetOut(n, 0, x.Type, shape);
    }

    /// <summary>The [repeat, dim] pairs of every dimension with their output and input strides.</summary>
    static (int[] Dims, int[] Dst, int[] Src) Layout(int[] inShape, int[] outShape)
    {
        int rank = inShape.Length;
        var ys = Shape.Strides(outShape); var xs = Shape.Strides(inShape);
        var dims = new int[2 * rank]; var dst = new int[2 * rank]; var src = new int[2 * rank];
        for (int d = 0; d < rank; d++)
        {
            dims[2 * d] = inShape[d] == 0 ? 0 : outShape[d] / inShape[d];
            dims[2 * d + 1] = inShape[d];
            dst[2 * d] = inShape[d] * ys[d]; dst[2 * d + 1] = ys[d];
            src[2 * d] = 0; src[2 * d + 1] = xs[d];
        }
        return (dims, dst, src);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var y = n.Out();
        var r = new TensorData(y.Type, y.Shape);
        var (dims, dst, src) = Layout(inputs[0].Shape, y.Shape);
        TensorOps.EvalStrided(r, 0, dst, inputs[0], 0, src, dims);
        return new[] { r };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var y = n.Out();
        var (dims, dst, src) = Layout(n.In(0).Shape, y.Shape);
        TensorOps.EmitStrided(e, y, 0, dst, n.In(0), 0, src, dims);
    }
}
