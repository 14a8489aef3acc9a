using System;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// GroupNormalization (opsets 18 and 21): per (batch, group of C / num_groups channels), Y = scale * (X - mean) /
/// sqrt(var + epsilon) + bias. Opset 21 gives scale and bias one value per channel; opset 18 one per group (its
/// function body applies a group's value to all of the group's channels). A length of C is read per channel at either
/// opset, so a model whose opset-18 tensors already hold C values (as some exporters write) works too.
/// InstanceNormalization is the case of one channel per group and runs the same code.
/// </summary>
public sealed class GroupNormalization : Operator
{
    sealed class St { public int N, C, G, Plane; public float Eps; public bool PerGroup; }

    /// <summary>The plan for input shape <paramref name="x"/> in <paramref name="groups"/> groups (scale per group or per channel).</summary>
    internal static object Plan(int[] x, int groups, float eps, bool perGroup)
    {
        int plane = 1;
        for (int i = 2; i < x.Length; i++) plane *= x[i];
        return new St { N = x[0], C = x[1], G = groups, Plane = plane, Eps = eps, PerGroup = perGroup };
    }

    public override void Infer(Node n)
    {
        Require(n, 3, 3);
        var x = n.In(0);
        RequireFloat(n, x);
        if (x.Shape.Length < 2) throw Error($"GroupNormalization input must have rank 2 or more [N, C, spatial...], got {Shape.Format(x.Shape)}");
        int c = x.Shape[1];
        long g = n.Int("num_groups", 0);
        if (g <= 0) throw Error("GroupNormalization needs a positive 'num_groups'");
        if (c % g != 0) throw Error($"GroupNormalization: {c} channels do not divide into {g} groups");
        long stash = n.Int("stash_type", 1);
        if (stash != (long)DType.Float && stash != (long)DType.Double)
            throw Unsupported($"GroupNormalization stash_type {stash} is not supported (1 = float, 11 = double)");
        int len = n.In(1).Length;
        for (int i = 1; i < 3; i++)
        {
            var p = n.In(i);
            if (p.Type != x.Type) throw Error($"GroupNormalization input {i} must have the input's element type");
            if (p.Shape.Length != 1 || p.Length != len || (p.Length != c && p.Length != g))
                throw Error($"GroupNormalization input {i} must have shape [{c}] (one value per channel) or, before opset 21, [{g}] (per group); got {Shape.Format(p.Shape)}");
        }
        n.State = Plan(x.Shape, (int)g, n.Float("epsilon", 1e-5f), perGroup: len != c);
        SetOut(n, 0, x.Type, x.Shape);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs) => Compute(n, inputs);

    public override void Emit(Node n, EmitContext e) => Write(n, e);

    internal static TensorData[] Compute(Node n, TensorData[] inputs)
    {
        var st = (St)n.State;
        var x = inputs[0];
        var y = x.Like(x.Shape);
        int cg = st.C / st.G, size = cg * st.Plane;
        for (int bn = 0; bn < st.N; bn++)
            for (int g = 0; g < st.G; g++)
            {
                int b = (bn * st.C + g * cg) * st.Plane;
                double mean = 0, v = 0;
                for (int i = 0; i < size; i++) mean += x.GetDouble(b + i);
                mean /= size;
                for (int i = 0; i < size; i++) { double d = x.GetDouble(b + i) - mean; v += d * d; }
                double inv = 1 / Math.Sqrt(v / size + st.Eps);
                for (int k = 0; k < cg; k++)
                {
                    int p = st.PerGroup ? g : g * cg + k;
                    double a = inputs[1].GetDouble(p) * inv, s = inputs[2].GetDouble(p) - mean * a;
                    for (int i = 0; i < st.Plane; i++) { int at = b + k * st.Plane + i; y.Set(at, x.GetDouble(at) * a + s); }
                }
            }
        return new[] { y };
    }

    internal static void Write(Node n, EmitContext e)
    {
        var st = (St)n.State;
        var x = n.In(0); var y = n.Out();
        var t = x.Type; var ty = DTypes.CsName(t);
        var w = e.W;
        int cg = st.C / st.G, size = cg * st.Plane;
        if (st.N == 0 || st.C == 0 || st.Plane == 0) return;
        if (e.Net && t == DType.Float)
        {
            // Net: each group's mean, variance and affine step as vector passes (ModelGen.Runtime.GroupNorm)
            w.Line($"ModelGen.Runtime.GroupNorm.Run({e.Span(x)}, {e.Span(n.In(1))}, {e.Span(n.In(2))}, {e.Span(y)}, {st.N}, {st.C}, {st.G}, {st.Plane}, {EmitContext.Lit(DType.Float, st.Eps)}, perGroup: {(st.PerGroup ? "true" : "false")});");
            return;
        }
        int opened = 0;
        string bn = "0", g = "0";
        if (st.N > 1) { bn = e.Var("n"); w.Open($"for (int {bn} = 0; {bn} < {st.N}; {bn}++)"); opened++; }
        if (st.G > 1) { g = e.Var("g"); w.Open($"for (int {g} = 0; {g} < {st.G}; {g}++)"); opened++; }
        var rb = e.Var("r");
        w.Line($"int {rb} = {Idx.Sum(WindowEmit.Mul(bn, (long)st.C * st.Plane), WindowEmit.Mul(g, (long)size))};");
        string i = e.Var("i"), k = e.Var("k"), mean = e.Var("mean"), vr = e.Var("var"), d = e.Var("d"), inv = e.Var("inv"), a = e.Var("a"), b = e.Var("b"), p = e.Var("p");
        string xi = e.At(x, Idx.Sum(rb, i));
        w.Line($"{ty} {mean} = {EmitContext.Lit(t, 0)};");
        w.Line($"for (int {i} = 0; {i} < {size}; {i}++) {mean} += {xi};");
        w.Line($"{mean} /= {EmitContext.Lit(t, size)};");
        w.Line($"{ty} {vr} = {EmitContext.Lit(t, 0)};");
        w.Line($"for (int {i} = 0; {i} < {size}; {i}++) {{ {ty} {d} = {xi} - {mean}; {vr} += {d} * {d}; }}");
        w.Line($"{ty} {inv} = {EmitContext.Lit(t, 1)} / {WindowEmit.Math(e, "Sqrt", t, $"{vr} / {EmitContext.Lit(t, size)} + {EmitContext.Lit(t, st.Eps)}")};");
        // the affine stage, channel by channel: one multiply-add per element
        if (cg > 1) w.Open($"for (int {k} = 0; {k} < {cg}; {k}++)"); else k = "0";
        w.Line($"int {p} = {(st.PerGroup ? g : Idx.Sum(WindowEmit.Mul(g, cg), k))};");
        w.Line($"{ty} {a} = {e.At(n.In(1), p)} * {inv};");
        w.Line($"{ty} {b} = {e.At(n.In(2), p)} - {mean} * {a};");
        string at = Idx.Sum(rb, Idx.Mul(k, st.Plane), i);
        w.Line($"for (int {i} = 0; {i} < {st.Plane}; {i}++) {e.At(y, at)} = {e.At(x, at)} * {a} + {b};");
        if (cg > 1) w.Close();
        WindowEmit.Close(e, opened);
    }
}
