using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// ai.modelgen GemmInt8Weights: a float Gemm whose weights stay int8 (Quantize="Weights", fused by
/// <see cref="Passes.WeightGemmFusion"/>). Inputs a (float [M, K]), w (constant int8 [K, N], symmetric per column),
/// scale (float [N]: the weight scale, times Gemm's alpha), bias (float [N], optional: beta x C). y [M, N] =
/// act(scale[n] * sum_k a[m, k] * w[k, n] + bias[n]). The weights are read as int8 and widened in registers: a
/// matrix-vector product is bound by the bytes of its weights, so a quarter of them runs faster than float (and the
/// classifiers of small models then fit in the L2 cache). Net: ModelGen.Runtime.WeightGemm; Portable: loops.
/// </summary>
public sealed class GemmInt8Weights : Operator
{
    public const string OpType = "GemmInt8Weights";

    sealed class Dims { public int M, N, K; }

    public override void Infer(Node n)
    {
        Require(n, 3, 4);
        var a = n.In(0); var w = n.In(1); var s = n.In(2); var b = n.In(3);
        RequireFloat(n, a);
        if (w.Type != DType.Int8 || !w.IsConst || w.Shape.Length != 2) throw Error("GemmInt8Weights weights must be constant int8 [K, N]");
        if (a.Shape.Length != 2 || a.Shape[1] != w.Shape[0]) throw Error($"GemmInt8Weights input {Shape.Format(a.Shape)} is not [M, {w.Shape[0]}]");
        int nOut = w.Shape[1];
        if (s.Type != DType.Float || !s.IsConst || s.Length != nOut) throw Error($"GemmInt8Weights scale must be constant float [{nOut}]");
        if (b != null && (b.Type != DType.Float || !b.IsConst || b.Length != nOut)) throw Error($"GemmInt8Weights bias must be constant float [{nOut}]");
        n.State = new Dims { M = a.Shape[0], N = nOut, K = w.Shape[0] };
        FusedActivation.Of(n);
        SetOut(n, 0, DType.Float, new[] { a.Shape[0], nOut });
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var d = (Dims)n.State;
        var a = inputs[0]; var w = inputs[1]; var s = inputs[2]; var b = inputs.Length > 3 ? inputs[3] : null;
        var y = new TensorData(DType.Float, n.Out().Shape);
        for (int m = 0; m < d.M; m++)
            for (int j = 0; j < d.N; j++)
            {
                double acc = 0;
                for (int k = 0; k < d.K; k++) acc += a.GetDouble(m * d.K + k) * w.GetDouble(k * d.N + j);
                y.Set(m * d.N + j, s.GetDouble(j) * acc + (b == null ? 0 : b.GetDouble(j)));
            }
        FusedActivation.ApplyTo(n, y);
        return new[] { y };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var d = (Dims)n.State;
        var a = n.In(0); var w = n.In(1); var s = n.In(2); var b = n.In(3); var y = n.Out();
        if (e.Net)
        {
            e.W.Line($"ModelGen.Runtime.WeightGemm.Run({e.Span(a)}, {e.Span(w)}, {e.Span(s)}, {(b == null ? "default" : e.Span(b))}, {e.Span(y)}, {d.M}, {d.N}, {d.K}{FusedActivation.NetArg(n)});");
            return;
        }
        var wr = e.W;
        string m = e.Var("m"), j = e.Var("n"), k = e.Var("k"), acc = e.Var("acc");
        wr.Open($"for (int {m} = 0; {m} < {d.M}; {m}++)");
        wr.Open($"for (int {j} = 0; {j} < {d.N}; {j}++)");
        wr.Line($"float {acc} = 0f;");
        wr.Line($"for (int {k} = 0; {k} < {d.K}; {k}++) {acc} += {e.At(a, Idx.Sum(Idx.Mul(m, d.K), k))} * {e.At(w, Idx.Sum(Idx.Mul(k, d.N), j))};");
        var v = $"{e.At(s, j)} * {acc}" + (b == null ? "" : $" + {e.At(b, j)}");
        var act = FusedActivation.Of(n);
        if (act != null)
        {
            var r = e.Var("r");
            wr.Line($"float {r} = {v};");
            v = act.Expr(e, DType.Float, r);
        }
        wr.Line($"{e.At(y, Idx.Sum(Idx.Mul(m, d.N), j))} = {v};");
        wr.Close();
        wr.Close();
    }
}
