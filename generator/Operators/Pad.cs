using System;
using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// Pad: pads/value attributes (opset &lt; 11; 'paddings' in opset 1) or a constant pads input, an optional
/// constant_value input (may be a run-time scalar) and, from opset 18, an optional constant axes input.
/// Modes constant, reflect, edge and (opset 19) wrap. Negative pads crop; the other modes then pad the cropped tensor.
/// </summary>
public sealed class Pad : Operator
{
    enum Mode { Constant, Reflect, Edge, Wrap }

    sealed class Plan
    {
        public Mode Mode;
        /// <summary>Per dimension: first kept input element, kept count, positive begin pad.</summary>
        public int[] Crop, Kept, Before;
        public double Value;
    }

    public override void Infer(Node n)
    {
        var x = n.In(0);
        int rank = x?.Shape.Length ?? 0;
        long[] pads; long[] axes = null;
        if (n.Opset < 11)
        {
            Require(n, 1, 1);
            pads = n.Ints(n.Opset < 2 ? "paddings" : "pads") ?? throw Error("Pad needs the 'pads' attribute");
        }
        else
        {
            Require(n, 2, n.Opset >= 18 ? 4 : 3);
            pads = TensorOps.ConstInts(n, 1, "pads");
            var cv = n.In(2);
            if (cv != null && (cv.Length != 1 || cv.Type != x.Type)) throw Error($"Pad constant_value must be one element of the input type, '{cv.Name}' is {cv}");
            axes = TensorOps.ConstInts(n, 3, "axes");
        }
        TensorOps.RequireSupported(n, x);
        var modeName = n.Str("mode", "constant");
        var p = new Plan
        {
            Mode = modeName switch
            {
                "constant" => Mode.Constant, "reflect" => Mode.Reflect, "edge" => Mode.Edge,
                "wrap" when n.Opset >= 19 => Mode.Wrap,
                _ => throw Unsupported($"Pad mode '{modeName}' is not defined in opset {n.Opset}"),
            },
            Value = n.Opset < 11 ? n.Float("value", 0f) : 0,
            Crop = new int[rank], Kept = new int[rank], Before = new int[rank],
        };
        var ax = axes == null ? Enumerable.Range(0, rank).ToArray() : TensorOps.Axes(n, axes, rank);
        if (pads.Length != 2 * ax.Length) throw Error($"Pad has {pads.Length} pads for {ax.Length} axes (needs begin and end per axis)");
        var begin = new long[rank]; var end = new long[rank];
        for (int i = 0; i < ax.Length; i++) { begin[ax[i]] = pads[i]; end[ax[i]] = pads[i + ax.Length]; }
        var shape = new int[rank];
        for (int d = 0; d < rank; d++)
        {
            long dim = x.Shape[d], size = dim + begin[d] + end[d];
            if (size < 0) throw Error($"Pad crops dimension {d} of size {dim} below zero (pads {begin[d]}, {end[d]})");
            shape[d] = TensorOps.ToInt(size, "Pad output dimension");
            long crop0 = Math.Max(0, -begin[d]), kept = dim - crop0 - Math.Max(0, -end[d]);
            p.Crop[d] = (int)Math.Min(crop0, dim);
            p.Kept[d] = (int)Math.Max(0, kept);
            p.Before[d] = (int)Math.Max(0, begin[d]);
            if (p.Mode != Mode.Constant && size > 0 && p.Kept[d] == 0)
                throw Error($"Pad mode '{modeName}' cannot pad dimension {d}: nothing of the input is left to repeat");
        }
        n.State = p;
        SetOut(n, 0, x.Type, shape);
    }

    /// <summary>Input coordinate (inside the kept window) for window coordinate t, which may lie outside [0, m).</summary>
    static int Map(Mode mode, int t, int m)
    {
        if (t >= 0 && t < m) return t;
        switch (mode)
        {
            case Mode.Edge: return t < 0 ? 0 : m - 1;
            case Mode.Wrap: return ((t % m) + m) % m;
            default: // reflect: period 2(m-1)
                if (m == 1) return 0;
                int period = 2 * (m - 1);
                int u = ((t % period) + period) % period;
                return u < m ? u : period - u;
        }
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var p = (Plan)n.State;
        var x = inputs[0]; var y = n.Out();
        var r = new TensorData(y.Type, y.Shape);
        int rank = y.Shape.Length;
        var xs = Shape.Strides(x.Shape);
        TensorData fill = null;
        if (p.Mode == Mode.Constant)
        {
            fill = new TensorData(y.Type, new[] { 1 });
            if (n.Opset >= 11 && inputs.Length > 2 && inputs[2] != null) fill.CopyElement(0, inputs[2], 0);
            else fill.Set(0, p.Value);
        }
        var idx = new int[rank];
        for (int o = 0; o < r.Length; o++)
        {
            int src = 0;
            for (int d = 0; d < rank; d++)
            {
                int t = idx[d] - p.Before[d];
                if (t < 0 || t >= p.Kept[d])
                {
                    if (p.Mode == Mode.Constant) { src = -1; break; }
                    t = Map(p.Mode, t, p.Kept[d]);
                }
                src += (p.Crop[d] + t) * xs[d];
            }
            if (src < 0) r.CopyElement(o, fill, 0);
            else r.CopyElement(o, x, src);
            for (int d = rank - 1; d >= 0; d--) { if (++idx[d] < y.Shape[d]) break; idx[d] = 0; }
        }
        return new[] { r };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var p = (Plan)n.State;
        var x = n.In(0); var y = n.Out();
        if (y.Length == 0) return;
        int rank = y.Shape.Length;
        var xs = Shape.Strides(x.Shape); var ys = Shape.Strides(y.Shape);
        if (p.Mode == Mode.Constant)
        {
            bool border = !Shape.Equal(p.Kept, y.Shape);
            if (border)
            {
                string value;
                if (n.Opset >= 11 && n.In(2) != null)
                {
                    value = e.At(n.In(2), "0");
                    if (!n.In(2).IsConst) { var v = e.Var("pad"); e.W.Line($"{EmitContext.Ty(y)} {v} = {value};"); value = v; }
                }
                else value = EmitContext.Lit(y.Type, n.Opset >= 11 ? 0 : p.Value);
                TensorOps.EmitFill(e, y, value);
            }
            int db = 0, sb = 0;
            for (int d = 0; d < rank; d++) { db += p.Before[d] * ys[d]; sb += p.Crop[d] * xs[d]; }
            if (p.Kept.All(k => k > 0)) TensorOps.EmitStrided(e, y, db, ys, x, sb, xs, p.Kept);
            return;
        }
        // edge / reflect / wrap: a loop per dimension up to the last padded one; each maps its coordinate into the
        // kept window; the unpadded trailing dimensions are one contiguous run.
        int last = rank - 1;
        while (last >= 0 && p.Before[last] == 0 && p.Crop[last] == 0 && x.Shape[last] == y.Shape[last]) last--;
        int inner = TensorOps.Product(y.Shape, last + 1, rank);
        var w = e.W;
        string so = "0", yo = "0";
        for (int d = 0; d <= last; d++)
        {
            var i = e.Var("i");
            w.Open($"for (int {i} = 0; {i} < {y.Shape[d]}; {i}++)");
            string coord;
            bool padded = p.Before[d] != 0 || p.Kept[d] != y.Shape[d];
            if (padded)
            {
                var s = e.Var("c");
                w.Line($"int {s} = {Idx.Sum(i, TensorOps.I(-p.Before[d]))};");
                WriteMap(e, p.Mode, s, p.Kept[d], p.Before[d], y.Shape[d] - p.Before[d] - p.Kept[d]);
                coord = Idx.Sum(s, TensorOps.I(p.Crop[d]));
            }
            else coord = Idx.Sum(i, TensorOps.I(p.Crop[d]));
            string sx = Idx.Sum(so, MulExpr(coord, xs[d])), sy = Idx.Sum(yo, Idx.Mul(i, ys[d]));
            if (d < last || inner > 1)
            {
                string a = e.Var("s"), b = e.Var("o");
                w.Line($"int {a} = {sx}, {b} = {sy};");
                so = a; yo = b;
            }
            else { so = sx; yo = sy; }
        }
        if (inner > 1) TensorOps.EmitStrided(e, y, new[] { 1 }, x, new[] { 1 }, new[] { inner }, yo, so);
        else w.Line($"{e.At(y, yo)} = {e.At(x, so)};");
        for (int d = 0; d <= last; d++) w.Close();
    }

    static string MulExpr(string coord, int stride) => coord.Contains(" ") ? Idx.Mul($"({coord})", stride) : Idx.Mul(coord, stride);

    /// <summary>Writes statements mapping window coordinate <paramref name="c"/> (may be outside [0, m)) into [0, m).</summary>
    static void WriteMap(EmitContext e, Mode mode, string c, int m, int before, int after)
    {
        var w = e.W;
        switch (mode)
        {
            case Mode.Edge:
                w.Line($"if ({c} < 0) {c} = 0; else if ({c} >= {m}) {c} = {m - 1};");
                break;
            case Mode.Wrap:
                if (before <= m && after <= m) w.Line($"if ({c} < 0) {c} += {m}; else if ({c} >= {m}) {c} -= {m};");
                else w.Line($"{c} = (({c} % {m}) + {m}) % {m};");
                break;
            default:
                if (m == 1) { w.Line($"{c} = 0;"); break; }
                if (before <= m - 1 && after <= m - 1) w.Line($"if ({c} < 0) {c} = -{c}; else if ({c} >= {m}) {c} = {2 * m - 2} - {c};");
                else
                {
                    int period = 2 * (m - 1);
                    w.Line($"{c} = (({c} % {period}) + {period}) % {period};");
                    w.Line($"if ({c} >= {m}) {c} = {period} - {c};");
                }
                break;
        }
    }
}
