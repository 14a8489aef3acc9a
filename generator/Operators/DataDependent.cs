using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// Operators whose output shape depends on input values (NonZero, Unique): supported when those values are
/// known at build time (they fold); otherwise a clear diagnostic, since generated code has static shapes.
/// </summary>
public abstract class ValueShapedOperator : Operator
{
    public override void Infer(Node n)
    {
        foreach (var v in n.Inputs)
            if (v != null && !v.IsConst)
                throw new CompileException(Diag.DynamicShape, $"{n.OpType}'s output shape depends on the values of '{v.Name}', which are only known at run time; ModelGen needs static shapes (bind the input with ConstantInputs if it is fixed)");
        var r = Evaluate(n, n.Inputs.Select(v => v?.Const).ToArray());
        for (int i = 0; i < n.Outputs.Count && i < r.Length; i++) SetOut(n, i, r[i].Type, r[i].Shape);
    }

    public override void Emit(Node n, EmitContext e) => throw new CompileException(Diag.InternalError, $"{n.OpType} is always folded");
}

public sealed class NonZero : ValueShapedOperator
{
    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var x = inputs[0];
        var shape = x.Shape.Length == 0 ? new[] { 1 } : x.Shape;
        var hits = Enumerable.Range(0, x.Length).Where(i => x.GetDouble(i) != 0).ToArray();
        var r = new TensorData(DType.Int64, new[] { shape.Length, hits.Length });
        var st = Shape.Strides(shape);
        for (int h = 0; h < hits.Length; h++)
            for (int d = 0; d < shape.Length; d++) r.L[d * hits.Length + h] = hits[h] / st[d] % shape[d];
        return new[] { r };
    }
}

/// <summary>Unique (flattened or along an axis; sorted or in order of first occurrence): Y, indices, inverse_indices, counts.</summary>
public sealed class Unique : ValueShapedOperator
{
    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var x = inputs[0];
        bool sorted = n.Int("sorted", 1) != 0;
        int rank = x.Shape.Length;
        bool hasAxis = n.Has("axis");
        int axis = hasAxis ? Shape.Axis(n.Int("axis", 0), rank) : 0;
        int outer = 1, dim = x.Length, inner = 1;
        if (hasAxis)
        {
            dim = x.Shape[axis];
            for (int i = 0; i < axis; i++) outer *= x.Shape[i];
            for (int i = axis + 1; i < rank; i++) inner *= x.Shape[i];
        }
        double[] Slice(int j)
        {
            var s = new double[outer * inner];
            for (int o = 0; o < outer; o++) for (int i = 0; i < inner; i++) s[o * inner + i] = x.GetDouble((o * dim + j) * inner + i);
            return s;
        }
        var slices = Enumerable.Range(0, dim).Select(Slice).ToArray();
        var cmp = Comparer<double[]>.Create((a, b) =>
        {
            for (int i = 0; i < a.Length; i++) { int c = a[i].CompareTo(b[i]); if (c != 0) return c; }
            return 0;
        });
        var firsts = new List<int>();
        var inverse = new long[dim];
        for (int j = 0; j < dim; j++)
        {
            int found = firsts.FindIndex(f => cmp.Compare(slices[f], slices[j]) == 0);
            if (found < 0) { firsts.Add(j); found = firsts.Count - 1; }
            inverse[j] = found;
        }
        var order = Enumerable.Range(0, firsts.Count).ToList();
        if (sorted) order.Sort((a, b) => cmp.Compare(slices[firsts[a]], slices[firsts[b]]));
        var rank2 = new long[firsts.Count];
        for (int r = 0; r < order.Count; r++) rank2[order[r]] = r;
        int u = firsts.Count;
        var yShape = hasAxis ? x.Shape.Select((d, i) => i == axis ? u : d).ToArray() : new[] { u };
        var y = x.Like(yShape);
        for (int r = 0; r < u; r++)
            for (int o = 0; o < outer; o++)
                for (int i = 0; i < inner; i++) y.CopyElement((o * u + r) * inner + i, x, (o * dim + firsts[order[r]]) * inner + i);
        var indices = TensorData.FromLongs(order.Select(r => (long)firsts[r]).ToArray());
        var inv = TensorData.FromLongs(inverse.Select(k => rank2[k]).ToArray());
        var counts = TensorData.FromLongs(order.Select(r => (long)inverse.Count(k => k == r)).ToArray());
        return new[] { y, indices, inv, counts }.Take(Math.Max(1, n.Outputs.Count)).ToArray();
    }
}

/// <summary>Compress with a build-time condition: a gather of the selected slices along the axis (or of the flattened input).</summary>
public sealed class Compress : Operator
{
    sealed class Plan { public int Outer, Dim, Inner; public int[] Selected; }

    public override void Infer(Node n)
    {
        Require(n, 2, 2);
        var x = n.In(0); var c = n.In(1);
        if (!c.IsConst) throw new CompileException(Diag.DynamicShape, "Compress's condition must be known at build time (its output shape depends on it)");
        bool hasAxis = n.Has("axis");
        int axis = hasAxis ? Shape.Axis(n.Int("axis", 0), x.Shape.Length) : 0;
        int dim = hasAxis ? x.Shape[axis] : x.Length;
        var sel = Enumerable.Range(0, Math.Min(dim, c.Length)).Where(i => c.Const.GetDouble(i) != 0).ToArray();
        var p = new Plan { Selected = sel, Dim = dim, Outer = 1, Inner = 1 };
        if (hasAxis)
        {
            for (int i = 0; i < axis; i++) p.Outer *= x.Shape[i];
            for (int i = axis + 1; i < x.Shape.Length; i++) p.Inner *= x.Shape[i];
        }
        n.State = p;
        SetOut(n, 0, x.Type, hasAxis ? x.Shape.Select((d, i) => i == axis ? sel.Length : d).ToArray() : new[] { sel.Length });
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var p = (Plan)n.State;
        var r = inputs[0].Like(n.Out().Shape);
        int k = p.Selected.Length;
        for (int o = 0; o < p.Outer; o++)
            for (int s = 0; s < k; s++)
                for (int i = 0; i < p.Inner; i++) r.CopyElement((o * k + s) * p.Inner + i, inputs[0], (o * p.Dim + p.Selected[s]) * p.Inner + i);
        return new[] { r };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var p = (Plan)n.State;
        var x = n.In(0); var c = n.In(1); var y = n.Out();
        string o = e.Var("o"), j = e.Var("j"), i = e.Var("i"), s = e.Var("s");
        var w = e.W;
        w.Open($"for (int {o} = 0; {o} < {p.Outer}; {o}++)");
        w.Line($"int {s} = 0;");
        w.Open($"for (int {j} = 0; {j} < {Math.Min(p.Dim, c.Length)}; {j}++)");
        w.Line($"if (!({e.At(c, j)}{(c.Type == DType.Bool ? "" : " != 0")})) continue;");
        w.Line($"for (int {i} = 0; {i} < {p.Inner}; {i}++) {e.At(y, Idx.Sum(Idx.Mul(o, (long)p.Selected.Length * p.Inner), Idx.Mul(s, p.Inner), i))} = {e.At(x, Idx.Sum(Idx.Mul(o, (long)p.Dim * p.Inner), Idx.Mul(j, p.Inner), i))};");
        w.Line($"{s}++;");
        w.Close(); w.Close();
    }
}
