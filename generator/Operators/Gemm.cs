using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// Gemm: Y = alpha * A' * B' + beta * C, with A' = transA ? A^T : A, B' likewise; C broadcasts to [M, N]. A fused
/// activation (<see cref="FusedActivation"/>) is applied to Y as it is stored.
/// </summary>
public sealed class Gemm : Operator
{
    sealed class Dims { public int M, N, K; public bool TransA, TransB; public float Alpha, Beta; }

    public override void Infer(Node n)
    {
        Require(n, 2, 3);
        var a = n.In(0); var b = n.In(1);
        RequireFloat(n, a);
        if (b.Type != a.Type || n.In(2) != null && n.In(2).Type != a.Type) throw Error("Gemm inputs must share one element type");
        if (a.Shape.Length != 2 || b.Shape.Length != 2) throw Error($"Gemm takes 2-D A and B, got {Shape.Format(a.Shape)} and {Shape.Format(b.Shape)}");
        var d = new Dims
        {
            TransA = n.Int("transA", 0) != 0, TransB = n.Int("transB", 0) != 0,
            Alpha = n.Float("alpha", 1f), Beta = n.Float("beta", 1f),
        };
        d.M = d.TransA ? a.Shape[1] : a.Shape[0];
        d.K = d.TransA ? a.Shape[0] : a.Shape[1];
        int kb = d.TransB ? b.Shape[1] : b.Shape[0];
        d.N = d.TransB ? b.Shape[0] : b.Shape[1];
        if (kb != d.K) throw Error($"Gemm inner dimensions differ: A' is [{d.M},{d.K}], B' is [{kb},{d.N}]");
        var outShape = new[] { d.M, d.N };
        if (n.In(2) != null && !Shape.Equal(Shape.Broadcast(n.In(2).Shape, outShape), outShape))
            throw Error($"Gemm C of shape {Shape.Format(n.In(2).Shape)} does not broadcast to [{d.M},{d.N}]");
        n.State = d;
        FusedActivation.Of(n);
        SetOut(n, 0, a.Type, outShape);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var d = (Dims)n.State;
        var a = inputs[0]; var b = inputs[1]; var c = inputs.Length > 2 ? inputs[2] : null;
        var y = new TensorData(a.Type, n.Out().Shape);
        var cst = c == null ? null : Shape.BroadcastStrides(c.Shape, y.Shape);
        for (int m = 0; m < d.M; m++)
            for (int j = 0; j < d.N; j++)
            {
                double acc = 0;
                for (int k = 0; k < d.K; k++)
                    acc += a.GetDouble(d.TransA ? k * d.M + m : m * d.K + k) * b.GetDouble(d.TransB ? j * d.K + k : k * d.N + j);
                double v = d.Alpha * acc;
                if (c != null) v += d.Beta * c.GetDouble(m * cst[0] + j * cst[1]);
                y.Set(m * d.N + j, v);
            }
        FusedActivation.ApplyTo(n, y);
        return new[] { y };
    }

    /// <summary>Net profile: the SIMD kernel from ModelGen.Runtime (C as a scalar, a row, a column or a full matrix).</summary>
    static bool TryEmitKernel(Node n, EmitContext e, Dims d)
    {
        var c = n.In(2);
        string bias = "default", kind = "None";
        if (c != null && d.Beta != 0)
        {
            bias = e.Span(c);
            int last = c.Shape.Length == 0 ? 1 : c.Shape[c.Shape.Length - 1];
            if (c.Length == 1) kind = "Scalar";
            else if (c.Length == d.N && last == d.N) kind = "Row";
            else if (c.Length == d.M && last == 1) kind = "Column";
            else if (c.Length == d.M * d.N) kind = "Matrix";
            else return false;
        }
        e.W.Line($"ModelGen.Runtime.Gemm.Run({e.Span(n.In(0))}, {e.Span(n.In(1))}, {bias}, {e.Span(n.Out())}, {d.M}, {d.N}, {d.K}, " +
            $"transA: {(d.TransA ? "true" : "false")}, transB: {(d.TransB ? "true" : "false")}, alpha: {EmitContext.F(d.Alpha)}, beta: {EmitContext.F(d.Beta)}, ModelGen.Runtime.BiasKind.{kind}{FusedActivation.NetArg(n)});");
        return true;
    }

    public override void Emit(Node n, EmitContext e)
    {
        var d = (Dims)n.State;
        var a = n.In(0); var b = n.In(1); var c = n.In(2); var y = n.Out();
        var t = a.Type;
        var w = e.W;
        if (e.Net && t == DType.Float && TryEmitKernel(n, e, d)) return;
        string m = e.Var("m"), j = e.Var("n"), k = e.Var("k"), acc = e.Var("acc");
        var ty = DTypes.CsName(t);
        w.Open($"for (int {m} = 0; {m} < {d.M}; {m}++)");
        w.Open($"for (int {j} = 0; {j} < {d.N}; {j}++)");
        w.Line($"{ty} {acc} = {EmitContext.Lit(t, 0)};");
        var ai = d.TransA ? Idx.Sum(Idx.Mul(k, d.M), m) : Idx.Sum(Idx.Mul(m, d.K), k);
        var bi = d.TransB ? Idx.Sum(Idx.Mul(j, d.K), k) : Idx.Sum(Idx.Mul(k, d.N), j);
        w.Line($"for (int {k} = 0; {k} < {d.K}; {k}++) {acc} += {e.At(a, ai)} * {e.At(b, bi)};");
        var v = d.Alpha == 1f ? acc : $"{EmitContext.Lit(t, d.Alpha)} * {acc}";
        if (c != null && d.Beta != 0)
        {
            var cs = Shape.BroadcastStrides(c.Shape, y.Shape);
            var cv = e.At(c, Idx.Sum(Idx.Mul(m, cs[0]), Idx.Mul(j, cs[1])));
            v += d.Beta == 1f ? $" + {cv}" : $" + {EmitContext.Lit(t, d.Beta)} * {cv}";
        }
        var act = FusedActivation.Of(n);
        if (act != null)
        {
            var r = e.Var("r");
            w.Line($"{ty} {r} = {v};");
            v = act.Expr(e, t, r);
        }
        w.Line($"{e.At(y, Idx.Sum(Idx.Mul(m, d.N), j))} = {v};");
        w.Close();
        w.Close();
    }
}
