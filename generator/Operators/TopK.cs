using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// TopK: the k largest (or smallest) along an axis, sorted, ties broken by the lower index (as ONNX specifies).
/// Emitted as an insertion into the k output slots per slice: O(n k), no scratch memory.
/// </summary>
public sealed class TopK : Operator
{
    sealed class Plan { public int Outer, Dim, Inner, K; public bool Largest; }

    public override void Infer(Node n)
    {
        var x = n.In(0);
        long k;
        if (n.Opset < 10) { Require(n, 1, 1); k = n.Int("k", -1); }
        else
        {
            Require(n, 2, 2);
            if (!n.In(1).IsConst) throw new CompileException(Diag.DynamicShape, "TopK's K must be known at build time");
            k = n.In(1).Const.GetLong(0);
        }
        if (x.Type == DType.Bool) throw Error("TopK on bool is not defined");
        int axis = Shape.Axis(n.Int("axis", -1), x.Shape.Length);
        if (k < 0 || k > x.Shape[axis]) throw Error($"TopK k={k} is out of range for dimension {x.Shape[axis]}");
        var shape = x.Shape.ToArray();
        shape[axis] = (int)k;
        n.State = new Plan
        {
            Outer = x.Shape.Take(axis).Aggregate(1, (a, b) => a * b), Dim = x.Shape[axis],
            Inner = x.Shape.Skip(axis + 1).Aggregate(1, (a, b) => a * b), K = (int)k,
            Largest = n.Opset < 11 || n.Int("largest", 1) != 0,
        };
        if (n.Outputs.Count != 2) throw Error("TopK has two outputs");
        SetOut(n, 0, x.Type, shape);
        SetOut(n, 1, DType.Int64, shape);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var p = (Plan)n.State;
        var x = inputs[0];
        var vals = x.Like(n.Out(0).Shape);
        var idx = new TensorData(DType.Int64, n.Out(1).Shape);
        for (int o = 0; o < p.Outer; o++)
            for (int i = 0; i < p.Inner; i++)
            {
                var order = Enumerable.Range(0, p.Dim).Select(j => (v: x.GetDouble((o * p.Dim + j) * p.Inner + i), j))
                    .OrderBy(t => p.Largest ? -t.v : t.v).ThenBy(t => t.j).Take(p.K).ToArray();
                for (int r = 0; r < p.K; r++)
                {
                    int at = (o * p.K + r) * p.Inner + i;
                    vals.CopyElement(at, x, (o * p.Dim + order[r].j) * p.Inner + i);
                    idx.L[at] = order[r].j;
                }
            }
        return new[] { vals, idx };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var p = (Plan)n.State;
        var x = n.In(0); var y = n.Out(0); var yi = n.Out(1);
        if (p.K == 0) return;
        string o = e.Var("o"), i = e.Var("i"), j = e.Var("j"), cnt = e.Var("cnt"), v = e.Var("v"), q = e.Var("p");
        string better = p.Largest ? ">" : "<";
        string Slot(Value t, string r) => e.At(t, Idx.Sum(Idx.Mul(o, (long)p.K * p.Inner), Idx.Mul(r, p.Inner), i));
        var w = e.W;
        w.Open($"for (int {o} = 0; {o} < {p.Outer}; {o}++)");
        w.Open($"for (int {i} = 0; {i} < {p.Inner}; {i}++)");
        w.Line($"int {cnt} = 0;");
        w.Open($"for (int {j} = 0; {j} < {p.Dim}; {j}++)");
        w.Line($"{DTypes.CsName(x.Type)} {v} = {e.At(x, Idx.Sum(Idx.Mul(o, (long)p.Dim * p.Inner), Idx.Mul(j, p.Inner), i))};");
        w.Line($"if ({cnt} == {p.K} && !({v} {better} {Slot(y, (p.K - 1).ToString())})) continue;");
        w.Line($"int {q} = {cnt} < {p.K} ? {cnt} : {p.K - 1};");
        w.Line($"while ({q} > 0 && {v} {better} {Slot(y, $"{q} - 1")}) {{ {Slot(y, q)} = {Slot(y, $"{q} - 1")}; {Slot(yi, q)} = {Slot(yi, $"{q} - 1")}; {q}--; }}");
        w.Line($"{Slot(y, q)} = {v};");
        w.Line($"{Slot(yi, q)} = {j};");
        w.Line($"if ({cnt} < {p.K}) {cnt}++;");
        w.Close(); w.Close(); w.Close();
    }
}
