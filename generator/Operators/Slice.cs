using System;
using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// Slice: starts/ends/axes attributes (opset 1-9) or constant starts/ends/axes/steps inputs (opset 10+).
/// Negative starts/ends count from the end; out-of-range values (INT64_MAX ends included) are clamped as the spec
/// says, with different bounds for negative steps. The result is a strided copy from a constant base offset.
/// </summary>
public sealed class Slice : Operator
{
    sealed class Plan { public int Base; public int[] SrcStrides; }

    public override void Infer(Node n)
    {
        var x = n.In(0);
        long[] starts, ends, axes, steps;
        if (n.Opset < 10)
        {
            Require(n, 1, 1);
            starts = n.Ints("starts") ?? throw Error("Slice-1 needs the 'starts' attribute");
            ends = n.Ints("ends") ?? throw Error("Slice-1 needs the 'ends' attribute");
            axes = n.Ints("axes");
            steps = null;
        }
        else
        {
            Require(n, 3, 5);
            starts = TensorOps.ConstInts(n, 1, "starts");
            ends = TensorOps.ConstInts(n, 2, "ends");
            axes = TensorOps.ConstInts(n, 3, "axes");
            steps = TensorOps.ConstInts(n, 4, "steps");
        }
        TensorOps.RequireSupported(n, x);
        int rank = x.Shape.Length;
        if (ends.Length != starts.Length) throw Error($"Slice has {starts.Length} starts but {ends.Length} ends");
        axes ??= Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
        if (axes.Length != starts.Length) throw Error($"Slice has {starts.Length} starts but {axes.Length} axes");
        if (steps != null && steps.Length != starts.Length) throw Error($"Slice has {starts.Length} starts but {steps.Length} steps");
        var ax = TensorOps.Axes(n, axes, rank);

        var shape = (int[])x.Shape.Clone();
        var st = Shape.Strides(x.Shape);
        var p = new Plan { SrcStrides = (int[])st.Clone() };
        long baseOff = 0;
        for (int i = 0; i < ax.Length; i++)
        {
            int a = ax[i];
            long dim = x.Shape[a], step = steps == null ? 1 : steps[i];
            if (step == 0) throw Error($"Slice step for axis {axes[i]} is 0");
            long s = starts[i], en = ends[i];
            if (s < 0) s += dim;
            if (en < 0) en += dim;
            long count;
            if (step > 0)
            {
                s = Clamp(s, 0, dim); en = Clamp(en, 0, dim);
                count = en > s ? (en - s - 1) / step + 1 : 0;
            }
            else
            {
                s = Clamp(s, 0, dim - 1); en = Clamp(en, -1, dim - 1);
                count = s > en ? (s - en - 1) / -step + 1 : 0;
            }
            if (dim == 0) count = 0;
            shape[a] = (int)count;
            if (count > 0) baseOff += s * st[a];
            // a step beyond the dimension takes one element: its stride never matters
            p.SrcStrides[a] = count > 1 ? TensorOps.ToInt(step * st[a], "Slice stride") : st[a];
        }
        p.Base = (int)baseOff;
        n.State = p;
        SetOut(n, 0, x.Type, shape);
    }

    static long Clamp(long v, long lo, long hi) => v < lo ? lo : v > hi ? hi : v;

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var p = (Plan)n.State;
        var y = n.Out();
        var r = new TensorData(y.Type, y.Shape);
        if (r.Length > 0) TensorOps.EvalStrided(r, 0, Shape.Strides(y.Shape), inputs[0], p.Base, p.SrcStrides, y.Shape);
        return new[] { r };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var p = (Plan)n.State;
        var y = n.Out();
        TensorOps.EmitStrided(e, y, 0, Shape.Strides(y.Shape), n.In(0), p.Base, p.SrcStrides, y.Shape);
    }
}
