using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// ArgMax / ArgMin along 'axis' (int64 output; keepdims; select_last_index from opset 12 takes the last of equal
/// extremes instead of the first).
/// </summary>
public sealed class ArgMinMax : Operator
{
    readonly bool _max;
    public ArgMinMax(bool max) { _max = max; }

    sealed class Plan { public int Outer, K, Inner; public bool Last; }

    public override void Infer(Node n)
    {
        Require(n, 1, 1);
        var x = n.In(0);
        if (x.Type == DType.Bool || !DTypes.IsSupported(x.Type)) throw new CompileException(Diag.UnsupportedType, $"{n.OpType} on {DTypes.OnnxName(x.Type)} is not supported");
        int rank = x.Shape.Length;
        if (rank == 0) throw Error($"{n.OpType} needs an input of rank 1 or more");
        int axis = Shape.Axis(n.Int("axis", 0), rank);
        var p = new Plan
        {
            Outer = TensorOps.Product(x.Shape, 0, axis), K = x.Shape[axis], Inner = TensorOps.Product(x.Shape, axis + 1, rank),
            Last = n.Int("select_last_index", 0) != 0,
        };
        if (p.K == 0) throw Error($"{n.OpType} over an empty dimension {axis} has no answer");
        n.State = p;
        var shape = (int[])x.Shape.Clone();
        if (n.Int("keepdims", 1) != 0) shape[axis] = 1;
        else shape = System.Linq.Enumerable.ToArray(System.Linq.Enumerable.Where(x.Shape, (d, i) => i != axis));
        SetOut(n, 0, DType.Int64, shape);
    }

    bool Better(double v, double best, bool last) => _max ? (last ? v >= best : v > best) : (last ? v <= best : v < best);
    bool Better(long v, long best, bool last) => _max ? (last ? v >= best : v > best) : (last ? v <= best : v < best);

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var p = (Plan)n.State;
        var x = inputs[0];
        var r = new TensorData(DType.Int64, n.Out().Shape);
        bool f = DTypes.IsFloat(x.Type);
        for (int o = 0; o < p.Outer; o++)
            for (int i = 0; i < p.Inner; i++)
            {
                int b = o * p.K * p.Inner + i, bi = 0;
                for (int k = 1; k < p.K; k++)
                {
                    int at = b + k * p.Inner, cur = b + bi * p.Inner;
                    if (f ? Better(x.GetDouble(at), x.GetDouble(cur), p.Last) : Better(x.L[at], x.L[cur], p.Last)) bi = k;
                }
                r.L[o * p.Inner + i] = bi;
            }
        return new[] { r };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var p = (Plan)n.State;
        var x = n.In(0); var y = n.Out();
        var w = e.W;
        if (p.K == 1)
        {
            // one candidate: index 0 everywhere
            TensorOps.EmitFill(e, y, "0L");
            return;
        }
        string o = null, i = null;
        if (p.Outer > 1) { o = e.Var("o"); w.Open($"for (int {o} = 0; {o} < {p.Outer}; {o}++)"); }
        if (p.Inner > 1) { i = e.Var("i"); w.Open($"for (int {i} = 0; {i} < {p.Inner}; {i}++)"); }
        string b = Idx.Sum(o == null ? "" : Idx.Mul(o, (long)p.K * p.Inner), i ?? "");
        if (b.Contains(" ")) { var bv = e.Var("b"); w.Line($"int {bv} = {b};"); b = bv; }
        string best = e.Var("best"), at = e.Var("at"), k = e.Var("k"), v = e.Var("v");
        string cmp = _max ? (p.Last ? ">=" : ">") : (p.Last ? "<=" : "<");
        w.Line($"{EmitContext.Ty(x)} {best} = {e.At(x, b)};");
        w.Line($"long {at} = 0;");
        w.Open($"for (int {k} = 1; {k} < {p.K}; {k}++)");
        w.Line($"{EmitContext.Ty(x)} {v} = {e.At(x, Idx.Sum(b, Idx.Mul(k, p.Inner)))};");
        w.Line($"if ({v} {cmp} {best}) {{ {best} = {v}; {at} = {k}; }}");
        w.Close();
        w.Line($"{e.At(y, Idx.Sum(o == null ? "" : Idx.Mul(o, p.Inner), i ?? ""))} = {at};");
        if (i != null) w.Close();
        if (o != null) w.Close();
    }
}
