using System;
using System.Collections.Generic;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// GridSample (opsets 16 and 20), 4-D: X [N, C, H, W], grid [N, Ho, Wo, 2] holding normalised (x, y) in [-1, 1];
/// Y [N, C, Ho, Wo]. mode bilinear/nearest/bicubic (opset 20: linear/nearest/cubic; nearest rounds half to even,
/// cubic uses a = -0.75), padding_mode zeros/border/reflection, align_corners (-1 and 1 are the corner pixels'
/// centres, else their outer edges). As ONNX Runtime does, every tap of the interpolation reads 0 outside the image
/// (zeros), the nearest edge pixel (border) or the pixel reflected about [min, max] (reflection: the pixel-centre range
/// with align_corners, the edge range without).
/// Each axis gives 1, 2 or 4 taps (index and weight); the output is the weighted sum over the tap grid.
/// </summary>
public sealed class GridSample : Operator
{
    enum Mode { Nearest, Linear, Cubic }
    enum Pad { Zeros, Border, Reflection }

    sealed class St { public Mode Mode; public Pad Pad; public bool Align; public int N, C, H, W, Ho, Wo; }

    public override void Infer(Node n)
    {
        Require(n, 2, 2);
        var x = n.In(0); var g = n.In(1);
        RequireFloat(n, x);
        if (g.Type != x.Type) throw new CompileException(Diag.UnsupportedType, $"GridSample grid '{g.Name}' must have X's element type ({DTypes.OnnxName(x.Type)})");
        if (x.Shape.Length != 4)
            throw x.Shape.Length > 4 && n.Opset >= 20
                ? new CompileException(Diag.UnsupportedAttribute, $"GridSample on {x.Shape.Length}-D input is not supported (4-D [N, C, H, W] only)")
                : Error($"GridSample input X must be 4-D [N, C, H, W], has shape {Shape.Format(x.Shape)}");
        if (g.Shape.Length != 4 || g.Shape[0] != x.Shape[0] || g.Shape[3] != 2)
            throw Error($"GridSample grid must be [N, H_out, W_out, 2] with N = {x.Shape[0]}, has shape {Shape.Format(g.Shape)}");
        string ms = n.Str("mode", n.Opset >= 20 ? "linear" : "bilinear");
        Mode mode = ms switch
        {
            "nearest" => Mode.Nearest,
            "bilinear" or "linear" => Mode.Linear,
            "bicubic" or "cubic" => Mode.Cubic,
            _ => throw Unsupported($"GridSample mode '{ms}' is not supported (bilinear/linear, nearest, bicubic/cubic)"),
        };
        string ps = n.Str("padding_mode", "zeros");
        Pad pad = ps switch
        {
            "zeros" => Pad.Zeros, "border" => Pad.Border, "reflection" => Pad.Reflection,
            _ => throw Unsupported($"GridSample padding_mode '{ps}' is not supported (zeros, border, reflection)"),
        };
        var st = new St
        {
            Mode = mode, Pad = pad, Align = n.Int("align_corners", 0) != 0,
            N = x.Shape[0], C = x.Shape[1], H = x.Shape[2], W = x.Shape[3], Ho = g.Shape[1], Wo = g.Shape[2],
        };
        if ((st.H == 0 || st.W == 0) && (long)st.N * st.C * st.Ho * st.Wo > 0) throw Error("GridSample cannot sample an empty image");
        n.State = st;
        SetOut(n, 0, x.Type, new[] { st.N, st.C, st.Ho, st.Wo });
    }

    // ---------------- reference ----------------

    static double Denorm(double v, int len, bool align) => align ? (v + 1) / 2 * (len - 1) : ((v + 1) * len - 1) / 2;

    static (double Min, double Max) Bounds(int len, bool align) => align ? (0, len - 1) : (-0.5, len - 0.5);

    static double Reflect(double x, double min, double max)
    {
        double range = max - min;
        if (range <= 0) return min;
        if (x < min) { double d = min - x; int k = (int)(d / range); double r = d - k * range; return k % 2 == 0 ? min + r : max - r; }
        if (x > max) { double d = x - max; int k = (int)(d / range); double r = d - k * range; return k % 2 == 0 ? max - r : min + r; }
        return x;
    }

    static void Cubic(double t, double[] c)
    {
        const double a = -0.75;
        t = Math.Abs(t);
        c[0] = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a;
        c[1] = ((a + 2) * t - (a + 3)) * t * t + 1;
        c[2] = ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1;
        c[3] = ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a;
    }

    /// <summary>The taps of one axis at coordinate v (already clamped/reflected): indices inside [0, len) and weights.</summary>
    static void Taps(St st, double v, int len, int[] idx, double[] w)
    {
        int k = st.Mode switch { Mode.Nearest => 1, Mode.Linear => 2, _ => 4 };
        if (st.Mode == Mode.Nearest) { idx[0] = (int)v; w[0] = 1; }
        else if (st.Mode == Mode.Linear)
        {
            int f = (int)Math.Floor(v);
            idx[0] = f; idx[1] = f + 1; w[0] = f + 1 - v; w[1] = v - f;
        }
        else
        {
            int f = (int)Math.Floor(v);
            Cubic(v - f, w);
            for (int i = 0; i < 4; i++) idx[i] = f - 1 + i;
        }
        var (min, max) = Bounds(len, st.Align);
        for (int i = 0; i < k; i++)
        {
            int j = idx[i];
            switch (st.Pad)
            {
                case Pad.Zeros: if (j < 0 || j >= len) { idx[i] = 0; w[i] = 0; } break;
                case Pad.Border: idx[i] = Math.Min(Math.Max(j, 0), len - 1); break;
                default: idx[i] = Math.Min(Math.Max((int)Reflect(j, min, max), 0), len - 1); break;
            }
        }
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var st = (St)n.State;
        var x = inputs[0]; var g = inputs[1];
        var y = new TensorData(x.Type, n.Out().Shape);
        int k = st.Mode switch { Mode.Nearest => 1, Mode.Linear => 2, _ => 4 };
        var ix = new int[4]; var iy = new int[4]; var wx = new double[4]; var wy = new double[4];
        for (int b = 0; b < st.N; b++)
            for (int p = 0; p < st.Ho * st.Wo; p++)
            {
                int gi = (b * st.Ho * st.Wo + p) * 2;
                double gx = Denorm(g.GetDouble(gi), st.W, st.Align), gy = Denorm(g.GetDouble(gi + 1), st.H, st.Align);
                if (st.Mode == Mode.Nearest) { gx = Math.Round(gx, MidpointRounding.ToEven); gy = Math.Round(gy, MidpointRounding.ToEven); }
                Taps(st, gx, st.W, ix, wx); Taps(st, gy, st.H, iy, wy);
                for (int c = 0; c < st.C; c++)
                {
                    int plane = (b * st.C + c) * st.H * st.W;
                    double acc = 0;
                    for (int a = 0; a < k; a++)
                    {
                        double row = 0;
                        for (int j = 0; j < k; j++) row += wx[j] * x.GetDouble(plane + iy[a] * st.W + ix[j]);
                        acc += wy[a] * row;
                    }
                    y.Set((b * st.C + c) * st.Ho * st.Wo + p, acc);
                }
            }
        return new[] { y };
    }

    // ---------------- emission ----------------

    public override void Emit(Node n, EmitContext e)
    {
        var st = (St)n.State;
        var x = n.In(0); var g = n.In(1); var y = n.Out();
        if (y.Length == 0) return;
        var t = x.Type; var cs = DTypes.CsName(t);
        string L(double v) => EmitContext.Lit(t, v);
        var w = e.W;
        int k = st.Mode switch { Mode.Nearest => 1, Mode.Linear => 2, _ => 4 };
        int opened = 0;
        string b = "0", p = e.Var("p");
        if (st.N > 1) { b = e.Var("n"); w.Open($"for (int {b} = 0; {b} < {st.N}; {b}++)"); opened++; }
        w.Open($"for (int {p} = 0; {p} < {st.Ho * st.Wo}; {p}++)"); opened++;
        var gi = e.Var("g");
        w.Line($"int {gi} = {Idx.Sum(Idx.Mul(b, (long)st.Ho * st.Wo * 2), Idx.Mul(p, 2))};");
        string gx = e.Var("x"), gy = e.Var("y");
        string Den(string v, int len) => st.Align ? $"({v} + {L(1)}) * {L((len - 1) / 2.0)}" : $"(({v} + {L(1)}) * {L(len)} - {L(1)}) * {L(0.5)}";
        w.Line($"{cs} {gx} = {Den(e.At(g, gi), st.W)};");
        w.Line($"{cs} {gy} = {Den(e.At(g, gi + " + 1"), st.H)};");
        if (st.Mode == Mode.Nearest)
        {
            w.Line($"{gx} = {e.Math("Round", t, gx)};");
            w.Line($"{gy} = {e.Math("Round", t, gy)};");
        }
        var ix = EmitTaps(e, st, t, gx, st.W, "x");
        var iy = EmitTaps(e, st, t, gy, st.H, "y");
        // row offsets
        var ry = new string[k];
        for (int a = 0; a < k; a++) { ry[a] = e.Var("row"); w.Line($"int {ry[a]} = {iy[a].I} * {st.W};"); }
        string c = e.Var("c");
        if (st.C > 1) { w.Open($"for (int {c} = 0; {c} < {st.C}; {c}++)"); opened++; } else c = "0";
        var plane = e.Var("plane");
        w.Line($"int {plane} = {Idx.Sum(Idx.Mul(b, (long)st.C * st.H * st.W), Idx.Mul(c, (long)st.H * st.W))};");
        var terms = new List<string>();
        for (int a = 0; a < k; a++)
        {
            var row = new List<string>();
            for (int j = 0; j < k; j++) row.Add($"{ix[j].W} * {e.At(x, $"{plane} + {ry[a]} + {ix[j].I}")}");
            terms.Add(k == 1 ? $"{iy[a].W} * {row[0]}" : $"{iy[a].W} * ({string.Join(" + ", row)})");
        }
        w.Line($"{e.At(y, Idx.Sum(Idx.Mul(b, (long)st.C * st.Ho * st.Wo), Idx.Mul(c, (long)st.Ho * st.Wo), p))} = {string.Join(" + ", terms)};");
        WindowEmit.Close(e, opened);
    }

    /// <summary>Writes statements that reflect the float variable v into [min, max] (as ONNX Runtime does).</summary>
    static void EmitReflect(EmitContext e, DType t, string v, double min, double max)
    {
        string L(double d) => EmitContext.Lit(t, d);
        var w = e.W; var cs = DTypes.CsName(t);
        double range = max - min;
        if (range <= 0) { w.Line($"if ({v} < {L(min)} || {v} > {L(max)}) {v} = {L(min)};"); return; }
        string d = e.Var("d"), k = e.Var("k"), r = e.Var("r");
        w.Open($"if ({v} < {L(min)})");
        w.Line($"{cs} {d} = {L(min)} - {v}; int {k} = (int)({d} / {L(range)}); {cs} {r} = {d} - {k} * {L(range)};");
        w.Line($"{v} = {k} % 2 == 0 ? {L(min)} + {r} : {L(max)} - {r};");
        w.Close();
        w.Open($"else if ({v} > {L(max)})");
        w.Line($"{cs} {d} = {v} - {L(max)}; int {k} = (int)({d} / {L(range)}); {cs} {r} = {d} - {k} * {L(range)};");
        w.Line($"{v} = {k} % 2 == 0 ? {L(max)} - {r} : {L(min)} + {r};");
        w.Close();
    }

    /// <summary>Declares the taps of one axis (index and weight locals), mapped into the image by the padding mode.</summary>
    static (string I, string W)[] EmitTaps(EmitContext e, St st, DType t, string v, int len, string axis)
    {
        string L(double d) => EmitContext.Lit(t, d);
        var w = e.W; var cs = DTypes.CsName(t);
        int k = st.Mode switch { Mode.Nearest => 1, Mode.Linear => 2, _ => 4 };
        var taps = new (string I, string W)[k];
        for (int i = 0; i < k; i++) taps[i] = (e.Var("i" + axis), e.Var("w" + axis));
        if (st.Mode == Mode.Nearest)
        {
            w.Line($"int {taps[0].I} = (int){v}; {cs} {taps[0].W} = {L(1)};");
        }
        else
        {
            var f = e.Var("f" + axis);
            w.Line($"{cs} {f} = {e.Math("Floor", t, v)};");
            if (st.Mode == Mode.Linear)
            {
                w.Line($"int {taps[0].I} = (int){f}; int {taps[1].I} = {taps[0].I} + 1;");
                w.Line($"{cs} {taps[1].W} = {v} - {f}; {cs} {taps[0].W} = {L(1)} - {taps[1].W};");
            }
            else
            {
                // cubic convolution weights (a = -0.75) at distances 1 + s, s, 1 - s, 2 - s
                var s = e.Var("s" + axis);
                w.Line($"{cs} {s} = {v} - {f};");
                w.Line($"int {taps[0].I} = (int){f} - 1; int {taps[1].I} = {taps[0].I} + 1; int {taps[2].I} = {taps[0].I} + 2; int {taps[3].I} = {taps[0].I} + 3;");
                const double a = -0.75;
                string Far(string dd) => $"(({L(a)} * {dd} - {L(5 * a)}) * {dd} + {L(8 * a)}) * {dd} - {L(4 * a)}";
                string Near(string dd) => $"({L(a + 2)} * {dd} - {L(a + 3)}) * {dd} * {dd} + {L(1)}";
                w.Line($"{cs} {taps[0].W} = {Far($"({s} + {L(1)})")};");
                w.Line($"{cs} {taps[1].W} = {Near(s)};");
                w.Line($"{cs} {taps[2].W} = {Near($"({L(1)} - {s})")};");
                w.Line($"{cs} {taps[3].W} = {Far($"({L(2)} - {s})")};");
            }
        }
        var (min, max) = Bounds(len, st.Align);
        foreach (var (I, W) in taps)
        {
            switch (st.Pad)
            {
                case Pad.Zeros:
                    w.Line($"if ((uint){I} >= {len}u) {{ {I} = 0; {W} = {L(0)}; }}");
                    break;
                case Pad.Border:
                    w.Line($"{I} = {I} < 0 ? 0 : {I} > {len - 1} ? {len - 1} : {I};");
                    break;
                default:
                {
                    var fv = e.Var("r" + axis);
                    w.Line($"{cs} {fv} = {I};");
                    EmitReflect(e, t, fv, min, max);
                    w.Line($"{I} = (int){fv};");
                    w.Line($"{I} = {I} < 0 ? 0 : {I} > {len - 1} ? {len - 1} : {I};");
                    break;
                }
            }
        }
        return taps;
    }
}
