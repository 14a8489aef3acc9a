using System;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// RMSNormalization (opset 23): Y = X / sqrt(mean(X^2) + epsilon) * scale, the mean over the dimensions [axis, rank)
/// computed in the stash type (float or double). Scale broadcasts to the normalised shape; a partly broadcast scale
/// (neither one value per normalised element nor a single value) must be constant and is expanded at build time.
/// </summary>
public sealed class RmsNormalization : Operator
{
    sealed class St { public int Outer, D; public float Eps; public DType Stash; public int[] ScaleMap; }

    /// <summary>Each element (each rotated pair) is read before its output is written.</summary>
    public override bool ElementwiseInPlace => true;

    public override void Infer(Node n)
    {
        Require(n, 2, 2);
        var x = n.In(0); var s = n.In(1);
        RequireFloat(n, x);
        int rank = x.Shape.Length;
        if (rank == 0) throw Error("RMSNormalization needs an input of rank 1 or more");
        int axis = Shape.Axis(n.Int("axis", -1), rank);
        long stash = n.Int("stash_type", 1);
        if (stash != (long)DType.Float && stash != (long)DType.Double)
            throw Unsupported($"RMSNormalization stash_type {stash} is not supported (1 = float, 11 = double)");
        if (s.Type != x.Type) throw Error("RMSNormalization scale must have the input's element type");
        var st = new St { Outer = 1, D = 1, Eps = n.Float("epsilon", 1e-5f), Stash = (DType)stash };
        for (int i = 0; i < rank; i++) { if (i < axis) st.Outer *= x.Shape[i]; else st.D *= x.Shape[i]; }
        st.ScaleMap = ScaleMap(x.Shape, axis, s.Shape);
        if (st.ScaleMap != null && !s.IsConst)
            throw Unsupported($"RMSNormalization scale of shape {Shape.Format(s.Shape)} broadcast over part of the normalised shape must be a constant");
        if (n.Outputs.Count > 1) throw Error("RMSNormalization has 1 output");
        n.State = st;
        SetOut(n, 0, x.Type, x.Shape);
    }

    /// <summary>Scale index per normalised element when the scale broadcasts over part of it; null when it holds all (or one).</summary>
    static int[] ScaleMap(int[] x, int axis, int[] s)
    {
        int nr = x.Length - axis;
        if (s.Length > nr) throw Error($"RMSNormalization scale of shape {Shape.Format(s)} has more dimensions than the normalised shape");
        int d = 1, len = 1;
        bool full = true;
        for (int i = 0; i < nr; i++)
        {
            int xd = x[axis + i], k = i - (nr - s.Length), sd = k < 0 ? 1 : s[k];
            if (sd != xd && sd != 1) throw Error($"RMSNormalization scale of shape {Shape.Format(s)} does not broadcast to the normalised shape");
            if (sd != xd) full = false;
            d *= xd; len *= sd;
        }
        if (full || len == 1) return null;
        var map = new int[d];
        for (int j = 0; j < d; j++)
        {
            int rest = j, idx = 0, stride = 1;
            for (int i = nr - 1; i >= 0; i--)
            {
                int xd = x[axis + i], k = i - (nr - s.Length), sd = k < 0 ? 1 : s[k];
                int c = rest % xd; rest /= xd;
                if (sd != 1) idx += c * stride;
                stride *= sd;
            }
            map[j] = idx;
        }
        return map;
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var st = (St)n.State;
        var x = inputs[0]; var s = inputs[1];
        var y = x.Like(x.Shape);
        for (int o = 0; o < st.Outer; o++)
        {
            int b = o * st.D;
            double ss = 0;
            for (int j = 0; j < st.D; j++) { double v = x.GetDouble(b + j); ss += v * v; }
            double inv = 1 / Math.Sqrt(ss / st.D + st.Eps);
            for (int j = 0; j < st.D; j++)
                y.Set(b + j, x.GetDouble(b + j) * inv * s.GetDouble(st.ScaleMap != null ? st.ScaleMap[j] : s.Length == 1 ? 0 : j));
        }
        return new[] { y };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var st = (St)n.State;
        var x = n.In(0); var y = n.Out(); var s = n.In(1);
        var t = x.Type; var ty = DTypes.CsName(t);
        var ct = st.Stash; var cty = DTypes.CsName(ct);
        var w = e.W;
        if (st.Outer == 0 || st.D == 0) return;
        if (st.ScaleMap != null)
        {
            // expanded once at build time: the kernels then read one scale per element
            var full = new TensorData(t, new[] { st.D });
            for (int m = 0; m < st.D; m++) full.Set(m, s.Const.GetDouble(st.ScaleMap[m]));
            s = e.Derived(n, s.Name + "_rms_scale", full);
        }
        if (e.Net && t == DType.Float && ct == DType.Float && s.Length == st.D && st.D >= 4)
        {
            // Net: rows in vectors (ModelGen.Runtime.RmsNorm)
            w.Line($"ModelGen.Runtime.RmsNorm.Run({e.Span(x)}, {e.Span(s)}, {e.Span(y)}, {st.Outer}, {st.D}, {EmitContext.Lit(DType.Float, st.Eps)});");
            return;
        }
        string o = "0";
        if (st.Outer > 1) { o = e.Var("o"); w.Open($"for (int {o} = 0; {o} < {st.Outer}; {o}++)"); }
        var rb = e.Var("r");
        w.Line($"int {rb} = {Idx.Sum(WindowEmit.Mul(o, st.D))};");
        string j = e.Var("j"), ss = e.Var("ss"), v = e.Var("v"), inv = e.Var("inv");
        string cast = ct == t ? "" : $"({cty})";
        string xj = cast + e.At(x, Idx.Sum(rb, j));
        w.Line($"{cty} {ss} = {EmitContext.Lit(ct, 0)};");
        w.Line($"for (int {j} = 0; {j} < {st.D}; {j}++) {{ {cty} {v} = {xj}; {ss} += {v} * {v}; }}");
        w.Line($"{cty} {inv} = {EmitContext.Lit(ct, 1)} / {WindowEmit.Math(e, "Sqrt", ct, $"{ss} / {EmitContext.Lit(ct, st.D)} + {EmitContext.Lit(ct, st.Eps)}")};");
        string val = $"{xj} * {inv} * {e.At(s, s.Length == 1 ? "0" : j)}";
        w.Line($"for (int {j} = 0; {j} < {st.D}; {j}++) {e.At(y, Idx.Sum(rb, j))} = {(ct == t ? val : $"({ty})({val})")};");
        if (st.Outer > 1) w.Close();
    }
}
