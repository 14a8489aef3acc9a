using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// Gather: output = data.shape[:axis] + indices.shape + data.shape[axis+1:]; negative indices count from the end.
/// Constant indices are resolved at build time (one index or an arithmetic run becomes a strided copy);
/// run-time indices are read, normalised and range-checked in the generated code.
/// </summary>
public sealed class Gather : Operator
{
    sealed class Plan { public int Axis, Outer, N, Inner; public long[] Indices; }

    public override void Infer(Node n)
    {
        Require(n, 2, 2);
        var x = n.In(0); var idx = n.In(1);
        TensorOps.RequireSupported(n, x);
        if (idx.Type != DType.Int64 && idx.Type != DType.Int32) throw Error($"Gather indices must be int32 or int64, '{idx.Name}' is {DTypes.OnnxName(idx.Type)}");
        int r = x.Shape.Length;
        if (r == 0) throw Error("Gather needs data of rank 1 or more");
        int axis = Shape.Axis(n.Int("axis", 0), r);
        var p = new Plan
        {
            Axis = axis, N = x.Shape[axis],
            Outer = TensorOps.Product(x.Shape, 0, axis), Inner = TensorOps.Product(x.Shape, axis + 1, r),
        };
        if (idx.IsConst)
        {
            p.Indices = idx.Const.ToLongs();
            for (int i = 0; i < p.Indices.Length; i++)
            {
                long k = p.Indices[i];
                if (k < -p.N || k >= p.N) throw Error($"Gather index {k} is out of range for dimension {axis} of size {p.N}");
                if (k < 0) p.Indices[i] = k + p.N;
            }
        }
        n.State = p;
        SetOut(n, 0, x.Type, x.Shape.Take(axis).Concat(idx.Shape).Concat(x.Shape.Skip(axis + 1)).ToArray());
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var p = (Plan)n.State;
        var x = inputs[0];
        var idx = p.Indices ?? inputs[1].ToLongs();
        var y = new TensorData(n.Out().Type, n.Out().Shape);
        for (int j = 0; j < idx.Length; j++)
        {
            long k = idx[j] < 0 ? idx[j] + p.N : idx[j];
            if (k < 0 || k >= p.N) throw Error($"Gather index {idx[j]} is out of range for dimension {p.Axis} of size {p.N}");
            for (int o = 0; o < p.Outer; o++)
                for (int i = 0; i < p.Inner; i++)
                    y.CopyElement((o * idx.Length + j) * p.Inner + i, x, (o * p.N + (int)k) * p.Inner + i);
        }
        return new[] { y };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var p = (Plan)n.State;
        var x = n.In(0); var indices = n.In(1); var y = n.Out();
        int count = indices.Length;
        if (y.Length == 0) return;
        if (p.Indices != null && IsRun(p.Indices, out long first, out long step))
        {
            // constant indices first, first+step, ...: a strided copy [outer, count, inner]
            TensorOps.EmitStrided(e, y, 0, new[] { count * p.Inner, p.Inner, 1 },
                x, (int)first * p.Inner, new[] { p.N * p.Inner, (int)step * p.Inner, 1 }, new[] { p.Outer, count, p.Inner });
            return;
        }
        var w = e.W;
        string o = null;
        if (p.Outer > 1) { o = e.Var("o"); w.Open($"for (int {o} = 0; {o} < {p.Outer}; {o}++)"); }
        string j = "0";
        if (count > 1) { j = e.Var("j"); w.Open($"for (int {j} = 0; {j} < {count}; {j}++)"); }
        var k = e.Var("k");
        w.Line($"long {k} = {e.At(indices, j)};");
        bool negatives = p.Indices == null || indices.Const.ToLongs().Any(v => v < 0);
        if (negatives) w.Line($"if ({k} < 0) {k} += {p.N};");
        if (p.Indices == null) w.Line($"if ({k} < 0 || {k} >= {p.N}) throw new IndexOutOfRangeException(\"Gather index out of range\");");
        string src = Idx.Sum(o == null ? "" : Idx.Mul(o, (long)p.N * p.Inner), Idx.Mul($"(int){k}", p.Inner));
        string dst = Idx.Sum(o == null ? "" : Idx.Mul(o, (long)count * p.Inner), count > 1 ? Idx.Mul(j, p.Inner) : "");
        if (p.Inner == 1) w.Line($"{e.At(y, dst)} = {e.At(x, src)};");
        else
        {
            string s = e.Var("s"), d = e.Var("d");
            w.Line($"int {s} = {src}, {d} = {dst};");
            TensorOps.EmitStrided(e, y, new[] { 1 }, x, new[] { 1 }, new[] { p.Inner }, d, s);
        }
        if (count > 1) w.Close();
        if (o != null) w.Close();
    }

    static bool IsRun(long[] v, out long first, out long step)
    {
        first = v.Length > 0 ? v[0] : 0;
        step = v.Length > 1 ? v[1] - v[0] : 1;
        for (int i = 2; i < v.Length; i++) if (v[i] - v[i - 1] != step) return false;
        return v.Length > 0;
    }
}
