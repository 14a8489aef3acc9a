using System;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// InstanceNormalization: per (batch, channel), Y = scale[c] * (X - mean) / sqrt(var + epsilon) + B[c]; that is
/// GroupNormalization with one channel per group, whose code it runs.
/// </summary>
public sealed class InstanceNormalization : Operator
{
    public override void Infer(Node n)
    {
        Require(n, 3, 3);
        var x = n.In(0);
        RequireFloat(n, x);
        if (x.Shape.Length < 3) throw Error($"InstanceNormalization input must have rank 3 or more [N, C, spatial...], got {Shape.Format(x.Shape)}");
        int c = x.Shape[1];
        for (int i = 1; i < 3; i++)
        {
            if (n.In(i).Type != x.Type) throw Error($"InstanceNormalization input {i} must have the input's element type");
            if (n.In(i).Shape.Length != 1 || n.In(i).Shape[0] != c) throw Error($"InstanceNormalization input {i} must have shape [{c}], got {Shape.Format(n.In(i).Shape)}");
        }
        n.State = GroupNormalization.Plan(x.Shape, c, n.Float("epsilon", 1e-5f), perGroup: false);
        SetOut(n, 0, x.Type, x.Shape);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs) => GroupNormalization.Compute(n, inputs);

    public override void Emit(Node n, EmitContext e) => GroupNormalization.Write(n, e);
}

/// <summary>
/// LayerNormalization (opset 17): normalises over the dimensions [axis, rank) with the statistics computed in the
/// stash type (float or double), then scales and shifts; the optional Mean and InvStdDev outputs are written too.
/// Scale and B hold one value per normalised element (or a single value).
/// </summary>
public sealed class LayerNormalization : Operator
{
    sealed class St { public int Outer, D; public float Eps; public DType Stash; }

    public override void Infer(Node n)
    {
        Require(n, 2, 3);
        var x = n.In(0);
        RequireFloat(n, x);
        int rank = x.Shape.Length;
        if (rank == 0) throw Error("LayerNormalization needs an input of rank 1 or more");
        int axis = Shape.Axis(n.Int("axis", -1), rank);
        long stash = n.Int("stash_type", 1);
        if (stash != (long)DType.Float && stash != (long)DType.Double)
            throw Unsupported($"LayerNormalization stash_type {stash} is not supported (1 = float, 11 = double)");
        var st = new St { Outer = 1, D = 1, Eps = n.Float("epsilon", 1e-5f), Stash = (DType)stash };
        for (int i = 0; i < rank; i++) { if (i < axis) st.Outer *= x.Shape[i]; else st.D *= x.Shape[i]; }
        for (int i = 1; i < 3; i++)
        {
            var p = n.In(i);
            if (p == null) continue;
            if (p.Type != x.Type) throw Error($"LayerNormalization input {i} must have the input's element type");
            if (p.Length != st.D && p.Length != 1)
                throw Unsupported($"LayerNormalization input {i} of shape {Shape.Format(p.Shape)} must hold one value per normalised element ({st.D}) or a single value");
        }
        if (n.Outputs.Count > 3) throw Error("LayerNormalization has at most 3 outputs");
        n.State = st;
        SetOut(n, 0, x.Type, x.Shape);
        var statShape = new int[rank];
        for (int i = 0; i < rank; i++) statShape[i] = i < axis ? x.Shape[i] : 1;
        for (int i = 1; i < n.Outputs.Count; i++) SetOut(n, i, st.Stash, statShape);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var st = (St)n.State;
        var x = inputs[0]; var s = inputs[1]; var bias = inputs.Length > 2 ? inputs[2] : null;
        var y = x.Like(x.Shape);
        var outs = new TensorData[n.Outputs.Count];
        outs[0] = y;
        for (int i = 1; i < outs.Length; i++) outs[i] = new TensorData(st.Stash, n.Out(i).Shape);
        for (int o = 0; o < st.Outer; o++)
        {
            int b = o * st.D;
            double mean = 0, v = 0;
            for (int j = 0; j < st.D; j++) mean += x.GetDouble(b + j);
            mean /= st.D;
            for (int j = 0; j < st.D; j++) { double d = x.GetDouble(b + j) - mean; v += d * d; }
            double inv = 1 / Math.Sqrt(v / st.D + st.Eps);
            for (int j = 0; j < st.D; j++)
                y.Set(b + j, (x.GetDouble(b + j) - mean) * inv * s.GetDouble(s.Length == 1 ? 0 : j) + (bias == null ? 0 : bias.GetDouble(bias.Length == 1 ? 0 : j)));
            if (outs.Length > 1) outs[1].Set(o, mean);
            if (outs.Length > 2) outs[2].Set(o, inv);
        }
        return outs;
    }

    public override void Emit(Node n, EmitContext e)
    {
        var st = (St)n.State;
        var x = n.In(0); var y = n.Out(); var s = n.In(1); var bias = n.In(2);
        var t = x.Type; var ty = DTypes.CsName(t);
        var ct = st.Stash; var cty = DTypes.CsName(ct);
        var w = e.W;
        if (st.Outer == 0 || st.D == 0) return;
        if (e.Net && t == DType.Float && ct == DType.Float && n.Outputs.Count == 1 && s.Length == st.D && (bias == null || bias.Length == st.D) && st.D >= 4)
        {
            // Net: rows in vectors (ModelGen.Runtime.LayerNorm)
            w.Line($"ModelGen.Runtime.LayerNorm.Run({e.Span(x)}, {e.Span(s)}, {(bias == null ? "default" : e.Span(bias))}, {e.Span(y)}, {st.Outer}, {st.D}, {EmitContext.Lit(DType.Float, st.Eps)});");
            return;
        }
        string o = "0";
        if (st.Outer > 1) { o = e.Var("o"); w.Open($"for (int {o} = 0; {o} < {st.Outer}; {o}++)"); }
        var rb = e.Var("r");
        w.Line($"int {rb} = {Idx.Sum(WindowEmit.Mul(o, st.D))};");
        string j = e.Var("j"), mean = e.Var("mean"), vr = e.Var("var"), d = e.Var("d"), inv = e.Var("inv");
        string cast = ct == t ? "" : $"({cty})";
        string xj = cast + e.At(x, Idx.Sum(rb, j));
        w.Line($"{cty} {mean} = {EmitContext.Lit(ct, 0)};");
        w.Line($"for (int {j} = 0; {j} < {st.D}; {j}++) {mean} += {xj};");
        w.Line($"{mean} /= {EmitContext.Lit(ct, st.D)};");
        w.Line($"{cty} {vr} = {EmitContext.Lit(ct, 0)};");
        w.Line($"for (int {j} = 0; {j} < {st.D}; {j}++) {{ {cty} {d} = {xj} - {mean}; {vr} += {d} * {d}; }}");
        w.Line($"{cty} {inv} = {EmitContext.Lit(ct, 1)} / {WindowEmit.Math(e, "Sqrt", ct, $"{vr} / {EmitContext.Lit(ct, st.D)} + {EmitContext.Lit(ct, st.Eps)}")};");
        string sj = e.At(s, s.Length == 1 ? "0" : j);
        string val = $"({xj} - {mean}) * {inv} * {sj}";
        if (bias != null) val += $" + {e.At(bias, bias.Length == 1 ? "0" : j)}";
        w.Line($"for (int {j} = 0; {j} < {st.D}; {j}++) {e.At(y, Idx.Sum(rb, j))} = {(ct == t ? val : $"({ty})({val})")};");
        if (n.Outputs.Count > 1) w.Line($"{e.At(n.Out(1), o)} = {mean};");
        if (n.Outputs.Count > 2) w.Line($"{e.At(n.Out(2), o)} = {inv};");
        if (st.Outer > 1) w.Close();
    }
}
