using System;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// DeformConv (opsets 19 and 22), 2-D: a convolution whose every kernel tap samples X at its regular position moved
/// by a learned offset. X [N, C, H, W], W [M, C / group, kH, kW], offset [N, offset_group * kH * kW * 2, oH, oW] laid
/// out (offset group, kernel row, kernel column, (dy, dx)), optional B [M] and mask [N, offset_group * kH * kW, oH, oW]
/// (scales each sample). Input channel c uses offset group c / (C / offset_group). Samples are bilinear, each of the
/// four neighbours outside the image reading zero (so do the pads).
/// Emission: per batch item the deformed samples become columns (im2col, in scratch memory), then a grouped
/// weights-times-columns product.
/// </summary>
public sealed class DeformConv : Operator
{
    sealed class St
    {
        public int N, C, H, W, M, KH, KW, OH, OW, Group, OffsetGroup;
        public int SH, SW, DH, DW, PT, PL;
        public int K => KH * KW;
        public int P => OH * OW;
    }

    public override void Infer(Node n)
    {
        Require(n, 3, 5);
        var x = n.In(0); var wt = n.In(1); var off = n.In(2); var bias = n.In(3); var mask = n.In(4);
        RequireFloat(n, x);
        foreach (var v in new[] { wt, off, bias, mask })
            if (v != null && v.Type != x.Type) throw new CompileException(Diag.UnsupportedType, $"DeformConv input '{v.Name}' must have X's element type ({DTypes.OnnxName(x.Type)})");
        if (x.Shape.Length != 4)
            throw x.Shape.Length >= 3
                ? Unsupported($"DeformConv on {x.Shape.Length - 2}-D data is not supported (2-D [N, C, H, W] only)")
                : Error($"DeformConv input X must be [N, C, spatial...], has shape {Shape.Format(x.Shape)}");
        if (wt.Shape.Length != 4) throw Error($"DeformConv W must be 4-D [M, C / group, kH, kW], has shape {Shape.Format(wt.Shape)}");
        var st = new St
        {
            N = x.Shape[0], C = x.Shape[1], H = x.Shape[2], W = x.Shape[3], M = wt.Shape[0], KH = wt.Shape[2], KW = wt.Shape[3],
            Group = Attr(n, "group", 1), OffsetGroup = Attr(n, "offset_group", 1),
        };
        var ks = n.Ints("kernel_shape");
        if (ks != null && (ks.Length != 2 || ks[0] != st.KH || ks[1] != st.KW))
            throw Error($"DeformConv kernel_shape [{string.Join(", ", ks)}] does not match W's shape {Shape.Format(wt.Shape)}");
        var strides = Pair(n, "strides", 1, 2); var dil = Pair(n, "dilations", 1, 2); var pads = Pair(n, "pads", 0, 4);
        st.SH = strides[0]; st.SW = strides[1]; st.DH = dil[0]; st.DW = dil[1]; st.PT = pads[0]; st.PL = pads[1];
        if (st.SH < 1 || st.SW < 1 || st.DH < 1 || st.DW < 1 || pads[0] < 0 || pads[1] < 0 || pads[2] < 0 || pads[3] < 0)
            throw Error("DeformConv strides and dilations must be positive and pads not negative");
        if (st.Group < 1 || st.C % st.Group != 0 || st.M % st.Group != 0 || wt.Shape[1] * st.Group != st.C)
            throw Error($"DeformConv group {st.Group} must divide C = {st.C} and M = {st.M}, with W's dimension 1 = C / group (has {wt.Shape[1]})");
        if (st.OffsetGroup < 1 || st.C % st.OffsetGroup != 0) throw Error($"DeformConv offset_group {st.OffsetGroup} must divide C = {st.C}");
        long oh = ((long)st.H + pads[0] + pads[2] - ((long)st.DH * (st.KH - 1) + 1)) / st.SH + 1;
        long ow = ((long)st.W + pads[1] + pads[3] - ((long)st.DW * (st.KW - 1) + 1)) / st.SW + 1;
        if (oh < 1 || ow < 1) throw Error($"DeformConv kernel {st.KH}x{st.KW} (dilations {st.DH}, {st.DW}) does not fit the padded input {Shape.Format(x.Shape)}");
        st.OH = (int)oh; st.OW = (int)ow;
        Expect(off, "offset", st.N, st.OffsetGroup * st.K * 2, st.OH, st.OW);
        if (mask != null) Expect(mask, "mask", st.N, st.OffsetGroup * st.K, st.OH, st.OW);
        if (bias != null && (bias.Shape.Length != 1 || bias.Shape[0] != st.M)) throw Error($"DeformConv B must be [{st.M}], has shape {Shape.Format(bias.Shape)}");
        n.State = st;
        SetOut(n, 0, x.Type, new[] { st.N, st.M, st.OH, st.OW });
    }

    static int Attr(Node n, string name, long dflt) => TensorOps.ToInt(n.Int(name, dflt), "DeformConv " + name);

    static int[] Pair(Node n, string name, int dflt, int count)
    {
        var v = n.Ints(name);
        if (v != null && v.Length != count) throw new CompileException(Diag.InvalidModel, $"DeformConv {name} needs {count} values, has {v.Length}");
        var r = new int[count];
        for (int i = 0; i < count; i++) r[i] = v == null ? dflt : TensorOps.ToInt(v[i], "DeformConv " + name);
        return r;
    }

    static void Expect(Value v, string what, params int[] shape)
    {
        if (!Shape.Equal(v.Shape, shape)) throw new CompileException(Diag.InvalidModel, $"DeformConv {what} must have shape {Shape.Format(shape)}, has {Shape.Format(v.Shape)}");
    }

    public override (DType Type, int Elements) Scratch(Node n, TargetProfile profile)
    {
        var st = (St)n.State;
        return (n.In(0).Type, n.Out().Length == 0 ? 0 : st.C * st.K * st.P);
    }

    // ---------------- reference ----------------

    /// <summary>X[plane] sampled bilinearly at (h, w), neighbours outside the image reading zero.</summary>
    static double Sample(TensorData x, int plane, St st, double h, double w)
    {
        double fh = Math.Floor(h), fw = Math.Floor(w), lh = h - fh, lw = w - fw, sum = 0;
        for (int a = 0; a < 2; a++)
            for (int c = 0; c < 2; c++)
            {
                double r = fh + a, q = fw + c;
                if (r < 0 || r >= st.H || q < 0 || q >= st.W) continue;
                sum += (a == 0 ? 1 - lh : lh) * (c == 0 ? 1 - lw : lw) * x.GetDouble(plane + (int)r * st.W + (int)q);
            }
        return sum;
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var st = (St)n.State;
        var x = inputs[0]; var wt = inputs[1]; var off = inputs[2];
        var bias = inputs.Length > 3 ? inputs[3] : null; var mask = inputs.Length > 4 ? inputs[4] : null;
        var y = new TensorData(x.Type, n.Out().Shape);
        int cg = st.C / st.Group, mg = st.M / st.Group, cog = st.C / st.OffsetGroup;
        for (int b = 0; b < st.N; b++)
            for (int m = 0; m < st.M; m++)
                for (int p = 0; p < st.P; p++)
                {
                    int oh = p / st.OW, ow = p % st.OW;
                    double acc = bias == null ? 0 : bias.GetDouble(m);
                    for (int ci = 0; ci < cg; ci++)
                    {
                        int c = m / mg * cg + ci, g = c / cog;
                        for (int k = 0; k < st.K; k++)
                        {
                            int at = (b * st.OffsetGroup + g) * st.K + k;
                            double h = oh * st.SH - st.PT + k / st.KW * st.DH + off.GetDouble((at * 2) * st.P + p);
                            double w = ow * st.SW - st.PL + k % st.KW * st.DW + off.GetDouble((at * 2 + 1) * st.P + p);
                            double v = Sample(x, (b * st.C + c) * st.H * st.W, st, h, w);
                            if (mask != null) v *= mask.GetDouble(at * st.P + p);
                            acc += wt.GetDouble((m * cg + ci) * st.K + k) * v;
                        }
                    }
                    y.Set((b * st.M + m) * st.P + p, acc);
                }
        return new[] { y };
    }

    // ---------------- emission ----------------

    public override void Emit(Node n, EmitContext e)
    {
        var st = (St)n.State;
        var x = n.In(0); var wt = n.In(1); var off = n.In(2); var bias = n.In(3); var mask = n.In(4); var y = n.Out();
        if (y.Length == 0) return;
        var col = e.Scratch(n);
        var t = x.Type; var cs = DTypes.CsName(t);
        string L(double v) => EmitContext.Lit(t, v);
        var w = e.W;
        int cog = st.C / st.OffsetGroup, cg = st.C / st.Group, mg = st.M / st.Group, K = st.K, P = st.P;
        int opened = 0;
        string b = "0";
        if (st.N > 1) { b = e.Var("n"); w.Open($"for (int {b} = 0; {b} < {st.N}; {b}++)"); opened++; }

        // columns: col[(c * K + k) * P + p] = mask * bilinear sample of channel c at tap k of output position p
        string g = "0", k = e.Var("k"), p = e.Var("p");
        int inner = 0;
        if (st.OffsetGroup > 1) { g = e.Var("g"); w.Open($"for (int {g} = 0; {g} < {st.OffsetGroup}; {g}++)"); inner++; }
        w.Open($"for (int {k} = 0; {k} < {K}; {k}++)"); inner++;
        w.Open($"for (int {p} = 0; {p} < {P}; {p}++)"); inner++;
        string at = e.Var("at"), h = e.Var("h"), wv = e.Var("w");
        w.Line($"int {at} = {Idx.Sum(WindowEmit.Mul(b, (long)st.OffsetGroup * K), WindowEmit.Mul(g, K), k)};");
        string oy = e.Var("oy"), ox = e.Var("ox");
        w.Line($"int {oy} = {p} / {st.OW}, {ox} = {p} % {st.OW};");
        string dh = e.At(off, Idx.Sum(Idx.Mul(at, 2L * P), p)), dw = e.At(off, Idx.Sum(Idx.Mul(at, 2L * P), p, TensorOps.I(P)));
        w.Line($"{cs} {h} = ({Idx.Sum(Idx.Mul(oy, st.SH), Idx.Mul($"{k} / {st.KW}", st.DH), TensorOps.I(-st.PT))}) + {dh};");
        w.Line($"{cs} {wv} = ({Idx.Sum(Idx.Mul(ox, st.SW), Idx.Mul($"{k} % {st.KW}", st.DW), TensorOps.I(-st.PL))}) + {dw};");
        // floor by truncation and a step down (no Floor helper, double included); a coordinate beyond the int range
        // lands outside the image, whose neighbours are never read
        string h0 = e.Var("h0"), w0 = e.Var("w0"), lh = e.Var("lh"), lw = e.Var("lw");
        w.Line($"int {h0} = (int){h}, {w0} = (int){wv};");
        w.Line($"if ({h0} > {h}) {h0}--;");
        w.Line($"if ({w0} > {wv}) {w0}--;");
        w.Line($"{cs} {lh} = {h} - {h0}, {lw} = {wv} - {w0};");
        // neighbour validity; a neighbour outside the image contributes zero (its index is never formed)
        string y0 = e.Var("up"), y1 = e.Var("down"), x0 = e.Var("left"), x1 = e.Var("right");
        w.Line($"bool {y0} = (uint){h0} < {st.H}u, {y1} = (uint)({h0} + 1) < {st.H}u, {x0} = (uint){w0} < {st.W}u, {x1} = (uint)({w0} + 1) < {st.W}u;");
        string m = mask == null ? null : e.Var("m");
        if (mask != null) w.Line($"{cs} {m} = {e.At(mask, Idx.Sum(Idx.Mul(at, P), p))};");
        string w00 = e.Var("a"), w01 = e.Var("a"), w10 = e.Var("a"), w11 = e.Var("a");
        w.Line($"{cs} {w00} = ({L(1)} - {lh}) * ({L(1)} - {lw}), {w01} = ({L(1)} - {lh}) * {lw}, {w10} = {lh} * ({L(1)} - {lw}), {w11} = {lh} * {lw};");
        string ci = e.Var("c"), plane = e.Var("x"), a = e.Var("i");
        w.Open($"for (int {ci} = 0; {ci} < {cog}; {ci}++)");
        // channel c = g * cog + ci of batch item b
        string c = Idx.Sum(WindowEmit.Mul(g, cog), ci);
        w.Line($"int {plane} = {Idx.Sum(WindowEmit.Mul(b, (long)st.C * st.H * st.W), Idx.Mul(c, (long)st.H * st.W))};");
        w.Line($"int {a} = {plane} + {h0} * {st.W} + {w0};");
        string Tap(string valid, string weight, int d) => $"({valid} ? {weight} * {e.At(x, Idx.Sum(a, TensorOps.I(d)))} : {L(0)})";
        string v = $"{Tap($"{y0} && {x0}", w00, 0)} + {Tap($"{y0} && {x1}", w01, 1)} + {Tap($"{y1} && {x0}", w10, st.W)} + {Tap($"{y1} && {x1}", w11, st.W + 1)}";
        if (mask != null) v = $"({v}) * {m}";
        w.Line($"{e.At(col, Idx.Sum(Idx.Mul(Idx.Sum(Idx.Mul(c, K), k), P), p))} = {v};");
        w.Close();
        WindowEmit.Close(e, inner);

        // Y[b, o, p] = B[o] + sum over the group's (channel, tap) rows of W[o, row] * col[group row, p]
        string grp = "0", o = e.Var("o"), q = e.Var("q"), acc = e.Var("acc");
        int prod = 0;
        if (st.Group > 1) { grp = e.Var("g"); w.Open($"for (int {grp} = 0; {grp} < {st.Group}; {grp}++)"); prod++; }
        w.Open($"for (int {o} = 0; {o} < {mg}; {o}++)"); prod++;
        w.Open($"for (int {q} = 0; {q} < {P}; {q}++)"); prod++;
        string mo = Idx.Sum(WindowEmit.Mul(grp, mg), o);
        w.Line($"{cs} {acc} = {(bias == null ? L(0) : e.At(bias, mo))};");
        WindowEmit.Dot(e, acc, t, col, Idx.Sum(WindowEmit.Mul(grp, (long)cg * K * P), q), P, wt, Idx.Mul(mo, (long)cg * K), 1, "0", TensorOps.I(cg * K), cg * K);
        w.Line($"{e.At(y, Idx.Sum(WindowEmit.Mul(b, (long)st.M * P), Idx.Mul(mo, P), q))} = {acc};");
        WindowEmit.Close(e, prod);
        WindowEmit.Close(e, opened);
    }
}
