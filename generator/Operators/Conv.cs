using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// Conv over N spatial dimensions: X [N, C, D1..Dn], W [M, C/group, k1..kn], optional B [M] -> Y [N, M, o1..on].
/// Attributes: group (grouped and depthwise), kernel_shape (optional, from W), strides, dilations, pads, auto_pad.
/// </summary>
public sealed class Conv : Operator
{
    internal sealed class Geo
    {
        public Window W;
        public int N, C, M, Group, ICg, OCg;
    }

    public override void Infer(Node n)
    {
        Require(n, 2, 3);
        var x = n.In(0); var w = n.In(1); var b = n.In(2);
        RequireFloat(n, x);
        if (w.Type != x.Type || b != null && b.Type != x.Type) throw Error("Conv inputs must share one element type");
        if (x.Shape.Length < 3) throw Error($"Conv input must have rank 3 or more [N, C, spatial...], got {Shape.Format(x.Shape)}");
        if (w.Shape.Length != x.Shape.Length) throw Error($"Conv weights {Shape.Format(w.Shape)} must have the rank of the input {Shape.Format(x.Shape)}");
        int r = x.Shape.Length - 2;
        long group = n.Int("group", 1);
        int c = x.Shape[1], m = w.Shape[0];
        if (group < 1 || group > c || c % group != 0) throw Error($"Conv group {group} does not divide the {c} input channels");
        if (m % group != 0) throw Error($"Conv group {group} does not divide the {m} output channels");
        if ((long)w.Shape[1] * group != c) throw Error($"Conv weights {Shape.Format(w.Shape)} expect {(long)w.Shape[1] * group} input channels (group {group}), the input {Shape.Format(x.Shape)} has {c}");
        if (b != null && (b.Shape.Length != 1 || b.Shape[0] != m)) throw Error($"Conv bias must have shape [{m}], got {Shape.Format(b.Shape)}");
        var kernel = Window.KernelShape(n, r, w.Shape.Skip(2).ToArray());
        var win = Window.Resolve(n, x.Shape.Skip(2).ToArray(), kernel, ceilMode: false, dilationsAllowed: true);
        n.State = new Geo { W = win, N = x.Shape[0], C = c, M = m, Group = (int)group, ICg = c / (int)group, OCg = m / (int)group };
        SetOut(n, 0, x.Type, new[] { x.Shape[0], m }.Concat(win.Out).ToArray());
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var geo = (Geo)n.State; var g = geo.W;
        var x = inputs[0]; var w = inputs[1]; var b = inputs.Length > 2 ? inputs[2] : null;
        var y = new TensorData(x.Type, n.Out().Shape);
        int inPlane = g.InPlane, outPlane = g.OutPlane, kSize = g.KernelSize, r = g.Rank;
        var taps = new int[kSize][];
        for (int t = 0; t < kSize; t++)
        {
            taps[t] = new int[r];
            for (int i = r - 1, rem = t; i >= 0; i--) { taps[t][i] = rem % g.Kernel[i]; rem /= g.Kernel[i]; }
        }
        for (int bn = 0; bn < geo.N; bn++)
            for (int m = 0; m < geo.M; m++)
            {
                int grp = m / geo.OCg;
                double bias = b == null ? 0 : b.GetDouble(m);
                g.ForEachOutput((o, pos) =>
                {
                    double acc = bias;
                    for (int ic = 0; ic < geo.ICg; ic++)
                    {
                        int xb = (bn * geo.C + grp * geo.ICg + ic) * inPlane, wb = (m * geo.ICg + ic) * kSize;
                        for (int t = 0; t < kSize; t++)
                        {
                            int xi = 0; bool valid = true;
                            for (int i = 0; i < r && valid; i++)
                            {
                                int q = g.First(i, pos[i]) + taps[t][i] * g.Dilations[i];
                                valid = q >= 0 && q < g.In[i];
                                xi = xi * g.In[i] + q;
                            }
                            if (valid) acc += x.GetDouble(xb + xi) * w.GetDouble(wb + t);
                        }
                    }
                    y.Set((bn * geo.M + m) * outPlane + o, acc);
                });
            }
        return new[] { y };
    }

    /// <summary>Set when ModelGen.Runtime has a SIMD kernel for 2-D float convolution (Net profile).</summary>
    static bool NetKernelAvailable => false;

    public override void Emit(Node n, EmitContext e)
    {
        var geo = (Geo)n.State;
        // Net profile: 2-D float convolutions are to be routed to a SIMD kernel of ModelGen.Runtime here.
        if (e.Net && n.In(0).Type == DType.Float && geo.W.Rank == 2 && NetKernelAvailable) { EmitNetKernel(n, e); return; }
        EmitLoops(n, e, geo);
    }

    static void EmitNetKernel(Node n, EmitContext e)
        => throw new CompileException(Diag.InternalError, "the runtime Conv kernel is not available yet");

    /// <summary>
    /// Scalar loops for both profiles. Per output channel: when the last dimension has stride 1 and a wide output,
    /// each output row is initialised with the bias and accumulated tap by tap over a contiguous, pre-clipped column
    /// range ("row" form); otherwise each output element is a dot product over (input channel, taps) in a local
    /// accumulator with the valid tap range hoisted per output position ("dot" form).
    /// </summary>
    static void EmitLoops(Node n, EmitContext e, Geo geo)
    {
        var g = geo.W;
        var x = n.In(0); var wt = n.In(1); var b = n.In(2); var y = n.Out();
        var t = x.Type; var ty = DTypes.CsName(t);
        var w = e.W;
        int r = g.Rank, inPlane = g.InPlane, outPlane = g.OutPlane, kSize = g.KernelSize;
        if (outPlane == 0 || geo.N == 0 || geo.M == 0) return;
        int opened = 0;
        string bn = "0";
        if (geo.N > 1) { bn = e.Var("b"); w.Open($"for (int {bn} = 0; {bn} < {geo.N}; {bn}++)"); opened++; }
        string m, grp;
        if (geo.Group == 1) { grp = "0"; m = e.Var("m"); w.Open($"for (int {m} = 0; {m} < {geo.M}; {m}++)"); opened++; }
        else if (geo.OCg == 1) { grp = e.Var("g"); m = grp; w.Open($"for (int {grp} = 0; {grp} < {geo.Group}; {grp}++)"); opened++; }
        else
        {
            grp = e.Var("g"); w.Open($"for (int {grp} = 0; {grp} < {geo.Group}; {grp}++)");
            var oc = e.Var("oc"); w.Open($"for (int {oc} = 0; {oc} < {geo.OCg}; {oc}++)");
            opened += 2;
            m = e.Var("m");
            w.Line($"int {m} = {Idx.Sum(Idx.Mul(grp, geo.OCg), oc)};");
        }
        string bias = EmitContext.Lit(t, 0);
        if (b != null) { bias = e.Var("bias"); w.Line($"{ty} {bias} = {e.At(b, m)};"); }
        var xT = new List<string> { WindowEmit.Mul(bn, (long)geo.C * inPlane), WindowEmit.Mul(grp, (long)geo.ICg * inPlane) };
        var wT = new List<string> { WindowEmit.Mul(m, (long)geo.ICg * kSize) };
        var yT = new List<string> { WindowEmit.Mul(bn, (long)geo.M * outPlane), WindowEmit.Mul(m, outPlane) };
        WindowEmit.Hoist(e, xT, "xc");
        WindowEmit.Hoist(e, yT, "yc");
        var dims = new WinDim[r];
        var outStr = Shape.Strides(g.Out);
        int last = r - 1;
        bool rowForm = g.Strides[last] == 1 && g.Out[last] >= 8 && g.Out[last] >= g.Kernel[last];
        if (!rowForm)
        {
            opened += WindowEmit.OpenOutputs(e, g, r, dims, xT, yT, outStr);
            var acc = e.Var("acc");
            w.Line($"{ty} {acc} = {bias};");
            int inner = 0;
            if (geo.ICg > 1)
            {
                WindowEmit.Hoist(e, xT, "xo");
                var ic = e.Var("ic");
                w.Open($"for (int {ic} = 0; {ic} < {geo.ICg}; {ic}++)");
                inner++;
                xT.Add(Idx.Mul(ic, inPlane)); wT.Add(Idx.Mul(ic, kSize));
            }
            inner += WindowEmit.OpenTaps(e, g, r, dims, xT, wT);
            w.Line($"{acc} += {e.At(x, WindowEmit.Sum(xT))} * {e.At(wt, WindowEmit.Sum(wT))};");
            WindowEmit.Close(e, inner);
            w.Line($"{e.At(y, WindowEmit.Sum(yT))} = {acc};");
        }
        else
        {
            opened += WindowEmit.OpenOutputs(e, g, last, dims, xT, yT, outStr);
            int ow = g.Out[last], iw = g.In[last], kw = g.Kernel[last], dil = g.Dilations[last], pad = g.PadBegin[last];
            var yr = WindowEmit.Sum(yT);
            if (!WindowEmit.IsSimple(yr)) { yr = e.Var("yr"); w.Line($"int {yr} = {WindowEmit.Sum(yT)};"); }
            var col = e.Var("ow");
            w.Line($"for (int {col} = 0; {col} < {ow}; {col}++) {e.At(y, Idx.Sum(yr, col))} = {bias};");
            int inner = 0;
            if (geo.ICg > 1)
            {
                WindowEmit.Hoist(e, xT, "xo");
                var ic = e.Var("ic");
                w.Open($"for (int {ic} = 0; {ic} < {geo.ICg}; {ic}++)");
                inner++;
                xT.Add(Idx.Mul(ic, inPlane)); wT.Add(Idx.Mul(ic, kSize));
            }
            inner += WindowEmit.OpenTaps(e, g, last, dims, xT, wT);
            xT.Add(WindowEmit.I(-pad));
            var xr = e.Var("xr"); var wr = e.Var("wr");
            w.Line($"int {xr} = {WindowEmit.Sum(xT)};");
            w.Line($"int {wr} = {WindowEmit.Sum(wT)};");
            if (kw <= 4)
            {
                // taps of the last dimension unrolled, each over its constant valid column range
                for (int k = 0; k < kw; k++)
                {
                    int lo = System.Math.Max(0, pad - k * dil), hi = System.Math.Min(ow, iw + pad - k * dil);
                    if (lo >= hi) continue;
                    var wv = e.Var("w");
                    w.Line($"{ty} {wv} = {e.At(wt, Idx.Sum(wr, WindowEmit.I(k)))};");
                    w.Line($"for (int {col} = {lo}; {col} < {hi}; {col}++) {e.At(y, Idx.Sum(yr, col))} += {wv} * {e.At(x, Idx.Sum(xr, col, WindowEmit.I(k * dil)))};");
                }
            }
            else
            {
                var k = e.Var("kw");
                w.Open($"for (int {k} = 0; {k} < {kw}; {k}++)");
                string lo = "0", hi = WindowEmit.I(ow);
                var kd = Idx.Mul(k, dil);
                if (pad > 0)
                {
                    lo = e.Var("lo");
                    w.Line($"int {lo} = {kd} < {pad} ? {pad} - {(dil == 1 ? kd : "(" + kd + ")")} : 0;");
                }
                if (iw + pad - (kw - 1) * dil < ow)
                {
                    hi = e.Var("hi");
                    w.Line($"int {hi} = {kd} > {iw + pad - ow} ? {iw + pad} - {(dil == 1 ? kd : "(" + kd + ")")} : {ow};");
                }
                var wv = e.Var("w");
                w.Line($"{ty} {wv} = {e.At(wt, Idx.Sum(wr, k))};");
                w.Line($"for (int {col} = {lo}; {col} < {hi}; {col}++) {e.At(y, Idx.Sum(yr, col))} += {wv} * {e.At(x, Idx.Sum(xr, col, kd))};");
                w.Close();
            }
            WindowEmit.Close(e, inner);
        }
        WindowEmit.Close(e, opened);
    }
}
