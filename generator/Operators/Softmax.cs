using System;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

public enum SoftmaxKind { Softmax, LogSoftmax, Hardmax }

/// <summary>
/// Softmax, LogSoftmax and Hardmax. Opset &lt; 13: the input is coerced to 2-D at axis (default 1) and the operator
/// runs over the flattened trailing dimensions; opset 13+: along one axis (default -1). The max is subtracted first.
/// </summary>
public sealed class Softmax : Operator
{
    readonly SoftmaxKind _kind;
    public Softmax(SoftmaxKind kind) { _kind = kind; }

    sealed class St { public int Outer, D, Inner; }

    public override void Infer(Node n)
    {
        Require(n, 1, 1);
        var x = n.In(0);
        RequireFloat(n, x);
        int rank = x.Shape.Length;
        bool legacy = n.Opset < 13;
        long axisAttr = n.Int("axis", legacy ? 1 : -1);
        var st = new St { Outer = 1, D = 1, Inner = 1 };
        if (rank > 0)
        {
            int axis = Shape.Axis(axisAttr, rank);
            for (int i = 0; i < rank; i++)
            {
                if (i < axis) st.Outer *= x.Shape[i];
                else if (i == axis || legacy) st.D *= x.Shape[i];
                else st.Inner *= x.Shape[i];
            }
        }
        n.State = st;
        SetOut(n, 0, x.Type, x.Shape);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var st = (St)n.State;
        var x = inputs[0];
        var y = x.Like(x.Shape);
        for (int o = 0; o < st.Outer; o++)
            for (int i = 0; i < st.Inner; i++)
            {
                int b = o * st.D * st.Inner + i;
                if (st.D == 0) continue;
                double mx = x.GetDouble(b); int arg = 0;
                for (int d = 1; d < st.D; d++) { double v = x.GetDouble(b + d * st.Inner); if (v > mx) { mx = v; arg = d; } }
                double sum = 0;
                for (int d = 0; d < st.D; d++) sum += Math.Exp(x.GetDouble(b + d * st.Inner) - mx);
                for (int d = 0; d < st.D; d++)
                {
                    double v = x.GetDouble(b + d * st.Inner);
                    y.Set(b + d * st.Inner, _kind switch
                    {
                        SoftmaxKind.Softmax => Math.Exp(v - mx) / sum,
                        SoftmaxKind.LogSoftmax => v - mx - Math.Log(sum),
                        _ => d == arg ? 1 : 0,
                    });
                }
            }
        return new[] { y };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var st = (St)n.State;
        var x = n.In(0); var y = n.Out();
        var t = x.Type; var ty = DTypes.CsName(t);
        var w = e.W;
        if (st.D == 0 || st.Outer == 0 || st.Inner == 0) return;
        if (_kind == SoftmaxKind.Softmax && st.Inner == 1 && e.Net && t == DType.Float)
        {
            // contiguous rows: the runtime's SIMD exp (one MathF.Exp per element otherwise)
            w.Line($"ModelGen.Runtime.Transcendental.Softmax({e.Span(x)}, {e.Span(y)}, {st.Outer}, {st.D});");
            return;
        }
        int opened = 0;
        string o = "0", i = "0";
        if (st.Outer > 1) { o = e.Var("o"); w.Open($"for (int {o} = 0; {o} < {st.Outer}; {o}++)"); opened++; }
        if (st.Inner > 1) { i = e.Var("i"); w.Open($"for (int {i} = 0; {i} < {st.Inner}; {i}++)"); opened++; }
        string b = Idx.Sum(WindowEmit.Mul(o, (long)st.D * st.Inner), WindowEmit.Mul(i, 1));
        if (b.Contains("+")) { var v = e.Var("r"); w.Line($"int {v} = {b};"); b = v; }
        var d = e.Var("d");
        string At(Value v) => e.At(v, Idx.Sum(b, Idx.Mul(d, st.Inner)));
        string mx = e.Var("max"), xv = e.Var("v");
        w.Line($"{ty} {mx} = {e.At(x, b)};");
        string one = EmitContext.Lit(t, 1), zero = EmitContext.Lit(t, 0);
        switch (_kind)
        {
            case SoftmaxKind.Softmax:
            {
                w.Line($"for (int {d} = 1; {d} < {st.D}; {d}++) {{ {ty} {xv} = {At(x)}; if ({xv} > {mx}) {mx} = {xv}; }}");
                var sum = e.Var("sum");
                w.Line($"{ty} {sum} = {zero};");
                w.Line($"for (int {d} = 0; {d} < {st.D}; {d}++) {{ {ty} {xv} = {WindowEmit.Math(e, "Exp", t, $"{At(x)} - {mx}")}; {At(y)} = {xv}; {sum} += {xv}; }}");
                var inv = e.Var("inv");
                w.Line($"{ty} {inv} = {one} / {sum};");
                w.Line($"for (int {d} = 0; {d} < {st.D}; {d}++) {At(y)} *= {inv};");
                break;
            }
            case SoftmaxKind.LogSoftmax:
            {
                w.Line($"for (int {d} = 1; {d} < {st.D}; {d}++) {{ {ty} {xv} = {At(x)}; if ({xv} > {mx}) {mx} = {xv}; }}");
                var sum = e.Var("sum");
                w.Line($"{ty} {sum} = {zero};");
                w.Line($"for (int {d} = 0; {d} < {st.D}; {d}++) {sum} += {WindowEmit.Math(e, "Exp", t, $"{At(x)} - {mx}")};");
                var ls = e.Var("logSum");
                w.Line($"{ty} {ls} = {WindowEmit.Math(e, "Log", t, sum)};");
                w.Line($"for (int {d} = 0; {d} < {st.D}; {d}++) {At(y)} = {At(x)} - {mx} - {ls};");
                break;
            }
            default:
            {
                var arg = e.Var("arg");
                w.Line($"int {arg} = 0;");
                w.Line($"for (int {d} = 1; {d} < {st.D}; {d}++) {{ {ty} {xv} = {At(x)}; if ({xv} > {mx}) {{ {mx} = {xv}; {arg} = {d}; }} }}");
                w.Line($"for (int {d} = 0; {d} < {st.D}; {d}++) {At(y)} = {d} == {arg} ? {one} : {zero};");
                break;
            }
        }
        WindowEmit.Close(e, opened);
    }
}
