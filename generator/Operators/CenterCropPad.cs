using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// CenterCropPad (opset 18): each listed axis (attribute axes, default all) becomes the constant shape's size, cropped
/// or zero-padded around the centre. The odd element goes to the end: a crop starts at floor((in - out) / 2), a pad
/// puts floor((out - in) / 2) zeros before the data.
/// </summary>
public sealed class CenterCropPad : Operator
{
    /// <summary>Per dimension: first kept input element, kept count, zeros before.</summary>
    sealed class St { public int[] Crop, Kept, Before; }

    public override void Infer(Node n)
    {
        Require(n, 2, 2);
        var x = n.In(0);
        TensorOps.RequireSupported(n, x);
        int rank = x.Shape.Length;
        var shape = TensorOps.ConstInts(n, 1, "shape");
        var axesAttr = n.Ints("axes");
        var axes = axesAttr == null ? Enumerable.Range(0, rank).ToArray() : TensorOps.Axes(n, axesAttr, rank);
        if (shape.Length != axes.Length) throw Error($"CenterCropPad shape has {shape.Length} values for {axes.Length} axes");
        var st = new St { Crop = new int[rank], Kept = (int[])x.Shape.Clone(), Before = new int[rank] };
        var outShape = (int[])x.Shape.Clone();
        for (int i = 0; i < axes.Length; i++)
        {
            int a = axes[i], dim = x.Shape[a];
            if (shape[i] < 0) throw Error($"CenterCropPad shape {shape[i]} for axis {a} is negative");
            int size = TensorOps.ToInt(shape[i], "CenterCropPad size");
            outShape[a] = size;
            if (size < dim) { st.Crop[a] = (dim - size) / 2; st.Kept[a] = size; }
            else st.Before[a] = (size - dim) / 2;
        }
        n.State = st;
        SetOut(n, 0, x.Type, outShape);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var st = (St)n.State;
        var x = inputs[0]; var yv = n.Out();
        var y = new TensorData(yv.Type, yv.Shape);
        var (db, ys, sb, xs) = Offsets(st, x.Shape, yv.Shape);
        TensorOps.EvalStrided(y, db, ys, x, sb, xs, st.Kept);
        return new[] { y };
    }

    static (int DstBase, int[] DstStrides, int SrcBase, int[] SrcStrides) Offsets(St st, int[] xShape, int[] yShape)
    {
        var xs = Shape.Strides(xShape); var ys = Shape.Strides(yShape);
        int db = 0, sb = 0;
        for (int d = 0; d < xShape.Length; d++) { db += st.Before[d] * ys[d]; sb += st.Crop[d] * xs[d]; }
        return (db, ys, sb, xs);
    }

    public override void Emit(Node n, EmitContext e)
    {
        var st = (St)n.State;
        var x = n.In(0); var y = n.Out();
        if (y.Length == 0) return;
        // zeros only where some axis is padded; then the kept window in one strided copy
        if (!Shape.Equal(st.Kept, y.Shape)) TensorOps.EmitFill(e, y, EmitContext.Lit(y.Type, 0));
        var (db, ys, sb, xs) = Offsets(st, x.Shape, y.Shape);
        TensorOps.EmitStrided(e, y, db, ys, x, sb, xs, st.Kept);
    }
}
