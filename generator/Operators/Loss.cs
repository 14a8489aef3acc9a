using System;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// NegativeLogLikelihoodLoss (opset 12+) and SoftmaxCrossEntropyLoss (opset 12+). Input [N, C] or [N, C, d1..dk],
/// target/labels [N] or [N, d1..dk] (int32 or int64), optional weight [C]. Per element:
/// loss = -input[n, t, d] * weight[t] (0 where t == ignore_index); SoftmaxCrossEntropyLoss first takes LogSoftmax over C
/// (written to its optional second output log_prob). reduction "none" keeps [N, d1..dk]; "sum" adds; "mean" divides the
/// sum by the sum of the weights of the non-ignored targets (their count without weight).
/// </summary>
public sealed class Loss : Operator
{
    readonly bool _softmax;
    public Loss(bool softmax) { _softmax = softmax; }

    sealed class St { public int N, C, D; public string Reduction; public long? Ignore; public bool LogProb; }

    public override void Infer(Node n)
    {
        Require(n, 2, 3);
        if (n.Outputs.Count > (_softmax ? 2 : 1)) throw Error($"{n.OpType} has at most {(_softmax ? 2 : 1)} outputs");
        var x = n.In(0); var t = n.In(1); var wt = n.In(2);
        RequireFloat(n, x);
        if (t.Type != DType.Int64 && t.Type != DType.Int32)
            throw new CompileException(Diag.UnsupportedType, $"{n.OpType} target '{t.Name}' must be int32 or int64, is {DTypes.OnnxName(t.Type)}");
        int r = x.Shape.Length;
        if (r < 2) throw Error($"{n.OpType} input '{x.Name}' must have rank 2 or more ([N, C, d1..dk]), has shape {Shape.Format(x.Shape)}");
        if (t.Shape.Length != r - 1 || t.Shape[0] != x.Shape[0])
            throw Error($"{n.OpType} target shape {Shape.Format(t.Shape)} does not match input shape {Shape.Format(x.Shape)} (expected [N, d1..dk])");
        for (int i = 1; i < t.Shape.Length; i++)
            if (t.Shape[i] != x.Shape[i + 1]) throw Error($"{n.OpType} target shape {Shape.Format(t.Shape)} does not match input shape {Shape.Format(x.Shape)} (expected [N, d1..dk])");
        if (wt != null)
        {
            if (wt.Type != x.Type) throw Error($"{n.OpType} weight '{wt.Name}' must have the input's element type");
            if (wt.Shape.Length != 1 || wt.Shape[0] != x.Shape[1]) throw Error($"{n.OpType} weight shape {Shape.Format(wt.Shape)} must be [C] = [{x.Shape[1]}]");
        }
        var red = n.Str("reduction", "mean");
        if (red != "none" && red != "sum" && red != "mean") throw Unsupported($"{n.OpType} reduction '{red}' is not none, sum or mean");
        var st = new St
        {
            N = x.Shape[0], C = x.Shape[1], D = TensorOps.Product(x.Shape, 2, r), Reduction = red,
            Ignore = n.Has("ignore_index") ? n.Int("ignore_index", 0) : null,
            LogProb = _softmax && n.Outputs.Count > 1 && !n.Out(1).Name.StartsWith("__unused", StringComparison.Ordinal),
        };
        n.State = st;
        SetOut(n, 0, x.Type, red == "none" ? t.Shape : Array.Empty<int>());
        if (_softmax && n.Outputs.Count > 1) SetOut(n, 1, x.Type, x.Shape);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var st = (St)n.State;
        var x = inputs[0]; var t = inputs[1]; var wt = inputs.Length > 2 ? inputs[2] : null;
        var lp = x;
        if (_softmax)
        {
            lp = x.Like(x.Shape);
            for (int b = 0; b < st.N; b++)
                for (int d = 0; d < st.D; d++)
                {
                    int at = b * st.C * st.D + d;
                    double mx = double.NegativeInfinity;
                    for (int c = 0; c < st.C; c++) mx = Math.Max(mx, x.GetDouble(at + c * st.D));
                    double s = 0;
                    for (int c = 0; c < st.C; c++) s += Math.Exp(x.GetDouble(at + c * st.D) - mx);
                    double ls = Math.Log(s);
                    for (int c = 0; c < st.C; c++) lp.Set(at + c * st.D, x.GetDouble(at + c * st.D) - mx - ls);
                }
        }
        var y = new TensorData(n.Out().Type, n.Out().Shape);
        double sum = 0, wsum = 0;
        for (int b = 0; b < st.N; b++)
            for (int d = 0; d < st.D; d++)
            {
                long k = t.GetLong(b * st.D + d);
                double l = 0;
                if (st.Ignore != k)
                {
                    if (k < 0 || k >= st.C) throw Error($"{n.OpType} target {k} is out of range [0, {st.C})");
                    double wv = wt == null ? 1 : wt.GetDouble((int)k);
                    l = -lp.GetDouble((b * st.C + (int)k) * st.D + d) * wv;
                    wsum += wv;
                }
                if (st.Reduction == "none") y.Set(b * st.D + d, l); else sum += l;
            }
        if (st.Reduction != "none") y.Set(0, st.Reduction == "mean" ? sum / wsum : sum);
        return _softmax && n.Outputs.Count > 1 ? new[] { y, lp } : new[] { y };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var st = (St)n.State;
        var x = n.In(0); var t = n.In(1); var wt = n.In(2); var y = n.Out();
        var ty = x.Type; var cs = DTypes.CsName(ty);
        string zero = EmitContext.Lit(ty, 0), one = EmitContext.Lit(ty, 1);
        var w = e.W;
        bool reduce = st.Reduction != "none";
        string sum = null, wsum = null;
        if (reduce)
        {
            sum = e.Var("sum"); w.Line($"{cs} {sum} = {zero};");
            if (st.Reduction == "mean") { wsum = e.Var("weightSum"); w.Line($"{cs} {wsum} = {zero};"); }
        }
        int opened = 0;
        string b = "0", d = "0";
        if (st.N > 1) { b = e.Var("n"); w.Open($"for (int {b} = 0; {b} < {st.N}; {b}++)"); opened++; }
        if (st.D > 1) { d = e.Var("d"); w.Open($"for (int {d} = 0; {d} < {st.D}; {d}++)"); opened++; }
        // base of input element [n, 0, d]; class c is at base + c * D
        string bx = Idx.Sum(Idx.Mul(b, (long)st.C * st.D), d);
        if (bx.Contains("+") || bx.Contains("*")) { var v = e.Var("x"); w.Line($"int {v} = {bx};"); bx = v; }
        string bt = Idx.Sum(Idx.Mul(b, st.D), d);
        string mx = null, ls = null;
        if (_softmax)
        {
            // log-softmax over the classes: max, log of the sum of exponentials
            var c = e.Var("c"); var v = e.Var("v"); mx = e.Var("max"); var s = e.Var("expSum"); ls = e.Var("logSum");
            string X(string cv) => e.At(x, Idx.Sum(bx, Idx.Mul(cv, st.D)));
            w.Line($"{cs} {mx} = {X("0")};");
            if (st.C > 1) w.Line($"for (int {c} = 1; {c} < {st.C}; {c}++) {{ {cs} {v} = {X(c)}; if ({v} > {mx}) {mx} = {v}; }}");
            w.Line($"{cs} {s} = {zero};");
            w.Line($"for (int {c} = 0; {c} < {st.C}; {c}++) {s} += {e.Math("Exp", ty, $"{X(c)} - {mx}")};");
            w.Line($"{cs} {ls} = {e.Math("Log", ty, s)};");
            if (st.LogProb) w.Line($"for (int {c} = 0; {c} < {st.C}; {c}++) {e.At(n.Out(1), Idx.Sum(bx, Idx.Mul(c, st.D)))} = {X(c)} - {mx} - {ls};");
        }
        var k = e.Var("t");
        w.Line($"int {k} = (int){e.At(t, bt)};");
        string cond = st.Ignore is long ig ? $"{k} != {ig}" : null;
        if (cond != null) w.Open($"if ({cond})");
        string wv = wt == null ? one : e.At(wt, k);
        string picked = e.At(x, Idx.Sum(bx, Idx.Mul(k, st.D)));
        string lv = _softmax ? $"({picked} - {mx} - {ls})" : picked;
        string loss = wt == null ? $"-{lv}" : $"-{lv} * {wv}";
        if (!reduce) w.Line($"{e.At(y, bt)} = {loss};");
        else
        {
            w.Line($"{sum} += {loss};");
            if (wsum != null) w.Line($"{wsum} += {wv};");
        }
        if (cond != null)
        {
            w.Close();
            if (!reduce) { w.Open("else"); w.Line($"{e.At(y, bt)} = {zero};"); w.Close(); }
        }
        WindowEmit.Close(e, opened);
        if (reduce) w.Line($"{e.At(y, "0")} = {(wsum != null ? $"{sum} / {wsum}" : sum)};");
    }
}
