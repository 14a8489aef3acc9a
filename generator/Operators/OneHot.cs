using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>OneHot(indices, depth, values=[off, on]): a new axis of size depth; negative indices count from the end.</summary>
public sealed class OneHot : Operator
{
    sealed class Plan { public int Outer, Depth, Inner; }

    public override void Infer(Node n)
    {
        Require(n, 3, 3);
        var idx = n.In(0); var depth = n.In(1); var values = n.In(2);
        if (!depth.IsConst) throw new CompileException(Diag.DynamicShape, "OneHot's depth must be known at build time");
        if (values.Length != 2) throw Error("OneHot values must hold [off, on]");
        if (idx.Type == DType.Bool) throw Error("OneHot indices must be numeric");
        long d = (long)depth.Const.GetDouble(0);
        if (d <= 0 || d > int.MaxValue) throw Error($"OneHot depth {d} is invalid");
        int r = idx.Shape.Length;
        long a = n.Int("axis", -1);
        if (a < -r - 1 || a > r) throw Error($"OneHot axis {a} out of range");
        int axis = (int)(a < 0 ? a + r + 1 : a);
        var shape = idx.Shape.Take(axis).Concat(new[] { (int)d }).Concat(idx.Shape.Skip(axis)).ToArray();
        n.State = new Plan { Outer = idx.Shape.Take(axis).Aggregate(1, (x, y) => x * y), Depth = (int)d, Inner = idx.Shape.Skip(axis).Aggregate(1, (x, y) => x * y) };
        SetOut(n, 0, values.Type, shape);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var p = (Plan)n.State;
        var idx = inputs[0]; var values = inputs[2];
        var r = new TensorData(n.Out().Type, n.Out().Shape);
        for (int o = 0; o < p.Outer; o++)
            for (int i = 0; i < p.Inner; i++)
            {
                long k = (long)idx.GetDouble(o * p.Inner + i);
                if (k < 0) k += p.Depth;
                for (int d = 0; d < p.Depth; d++) r.CopyElement((o * p.Depth + d) * p.Inner + i, values, d == k ? 1 : 0);
            }
        return new[] { r };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var p = (Plan)n.State;
        var idx = n.In(0); var values = n.In(2); var y = n.Out();
        string o = e.Var("o"), i = e.Var("i"), d = e.Var("d"), k = e.Var("k");
        var w = e.W;
        w.Open($"for (int {o} = 0; {o} < {p.Outer}; {o}++)");
        w.Open($"for (int {i} = 0; {i} < {p.Inner}; {i}++)");
        w.Line($"long {k} = (long){e.At(idx, Idx.Sum(Idx.Mul(o, p.Inner), i))};");
        w.Line($"if ({k} < 0) {k} += {p.Depth};");
        w.Line($"for (int {d} = 0; {d} < {p.Depth}; {d}++) {e.At(y, Idx.Sum(Idx.Mul(o, (long)p.Depth * p.Inner), Idx.Mul(d, p.Inner), i))} = {d} == {k} ? {e.At(values, "1")} : {e.At(values, "0")};");
        w.Close(); w.Close();
    }
}
