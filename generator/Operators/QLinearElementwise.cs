using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Quant;

namespace ModelGen.Compiler.Operators;

// ONNX Runtime's QOperator contrib ops (domain com.microsoft), int8 and uint8, per-tensor parameters.
// Each follows the arithmetic of ONNX Runtime's CPU kernel (MLAS), written out in the operator's summary.

/// <summary>
/// QLinearAdd / QLinearMul (com.microsoft): A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale,
/// C_zero_point; numpy broadcasting. Add: v = (float)(a - za) * (sa / sc) + (float)(b - zb) * (sb / sc);
/// Mul: v = (float)((a - za) * (b - zb)) * (sa * sb / sc); c = saturate(roundHalfEven(v) + zc) (MLAS QLinearAdd/Mul).
/// Net: Add of one shape, ModelGen.Runtime.Int8.Add; Mul of one shape or with one operand's value per run of outputs (a
/// squeeze-excite gate), Int8.Mul (SIMD, the same arithmetic); otherwise loops.
/// </summary>
public sealed class QLinearBinary : Operator
{
    readonly bool _mul;
    public QLinearBinary(bool mul) { _mul = mul; }

    public override void Infer(Node n)
    {
        RequireSome(n, 7, 8, 0, 1, 3, 4, 6); // the zero points (2, 5, 7) are optional: 0
        var a = n.In(0); var b = n.In(3);
        if (!Q.Is8(a.Type)) throw Q.TypeError(n, a, "int8, uint8");
        if (b.Type != a.Type) throw Error($"{n.OpType} A and B must share one element type");
        foreach (var i in new[] { 1, 4, 6 }) { if (n.In(i) == null) throw Error($"{n.OpType} input {i} (a scale) is required"); Q.RequireFloatScale(n, n.In(i)); Q.RequireScalar(n, n.In(i), "scale"); }
        foreach (var i in new[] { 2, 5, 7 }) Q.RequireScalar(n, n.In(i), "zero point");
        SetOut(n, 0, a.Type, Shape.Broadcast(a.Shape, b.Shape));
    }

    float[] Ratios(float sa, float sb, float sc) => _mul ? new[] { sa * sb / sc } : new[] { sa / sc, sb / sc };

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        TensorData In(int i) => i < inputs.Length ? inputs[i] : null;
        var a = In(0); var b = In(3);
        var y = new TensorData(n.Out().Type, n.Out().Shape);
        var r = Ratios(Q.ScaleAt(In(1), 0), Q.ScaleAt(In(4), 0), Q.ScaleAt(In(6), 0));
        long za = Q.ZpAt(In(2), 0), zb = Q.ZpAt(In(5), 0), zc = Q.ZpAt(In(7), 0);
        Broadcast.ForEach(y.Shape, new[] { a.Shape, b.Shape }, (o, idx) =>
        {
            int da = (int)(a.L[idx[0]] - za), db = (int)(b.L[idx[1]] - zb);
            float v = _mul ? (float)(da * db) * r[0] : (float)da * r[0] + (float)db * r[1];
            y.L[o] = Q.Saturate(y.Type, Q.RoundEven(v) + zc);
        });
        return new[] { y };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var a = n.In(0); var b = n.In(3); var y = n.Out();
        if (y.Length == 0) return;
        Value sa = n.In(1), sb = n.In(4), sc = n.In(6);
        string[] r;
        if (sa.IsConst && sb.IsConst && sc.IsConst) r = Ratios(sa.Const.F[0], sb.Const.F[0], sc.Const.F[0]).Select(EmitContext.F).ToArray();
        else
        {
            string A = e.At(sa, "0"), B = e.At(sb, "0"), C = e.At(sc, "0");
            r = _mul ? new[] { e.Var("ratio") } : new[] { e.Var("ratioA"), e.Var("ratioB") };
            if (_mul) e.W.Line($"float {r[0]} = {A} * {B} / {C};");
            else { e.W.Line($"float {r[0]} = {A} / {C};"); e.W.Line($"float {r[1]} = {B} / {C};"); }
        }
        string za = Q.Zp(e, n.In(2), "0"), zb = Q.Zp(e, n.In(5), "0"), zc = Q.Zp(e, n.In(7), "0");
        if (!_mul && e.Net && Shape.Equal(a.Shape, y.Shape) && Shape.Equal(b.Shape, y.Shape))
        {
            // a residual connection: ModelGen.Runtime's SIMD loop, bit-exact with the loop below
            e.W.Line($"ModelGen.Runtime.Int8.Add({e.Span(a)}, {za}, {r[0]}, {e.Span(b)}, {zb}, {r[1]}, {zc}, {e.Span(y)});");
            return;
        }
        if (_mul && e.Net && PerRun(a, b, y, out int inner, out bool swap))
        {
            // ModelGen.Runtime's SIMD loop (bit-exact with the loop below); b one value per run of inner outputs
            var (p, pz, s, sz) = swap ? (b, zb, a, za) : (a, za, b, zb);
            // a gate on a channels-last tensor (Passes.Int8ChannelsLast): each position's channels against the gates
            if (n.Int("mg_nhwc_in", 0) != 0)
                e.W.Line($"ModelGen.Runtime.Int8.MulChannelsLast({e.Span(p)}, {pz}, {e.Span(s)}, {sz}, {r[0]}, {zc}, {e.Span(y)}, channels: {y.Shape[1]}, plane: {inner});");
            else e.W.Line($"ModelGen.Runtime.Int8.Mul({e.Span(p)}, {pz}, {e.Span(s)}, {sz}, {r[0]}, {zc}, {e.Span(y)}, inner: {inner});");
            return;
        }
        Q.Loops(e, y.Shape, new[] { a.Shape, b.Shape }, (o, idx) =>
        {
            var da = Q.Minus(e.At(a, idx[0]), za); var db = Q.Minus(e.At(b, idx[1]), zb);
            var v = _mul ? $"(float)({da} * {db}) * {r[0]}" : $"(float){da} * {r[0]} + (float){db} * {r[1]}";
            var rr = Q.Round(e, v);
            Q.Store(e, e.At(y, o), y.Type, zc == "0" ? rr : $"{rr} + {zc}");
        });
    }

    /// <summary>
    /// A QLinearMul of an [N, C, spatial...] tensor by one value per channel ([N, C, 1, ...]: a squeeze-excite gate);
    /// the full operand is input <paramref name="full"/> (0 or 3). Channels last, it runs
    /// ModelGen.Runtime.Int8.MulChannelsLast (<see cref="Passes.Int8ChannelsLast"/> sets mg_nhwc_in).
    /// </summary>
    internal static bool ChannelGate(Node n, out int full)
    {
        full = 0;
        if (n.Domain != "com.microsoft" || n.OpType != "QLinearMul" || n.In(0) == null || n.In(3) == null) return false;
        var y = n.Out();
        if (y.Shape == null || y.Shape.Length < 3 || !PerRun(n.In(0), n.In(3), y, out int inner, out bool swap)) return false;
        full = swap ? 3 : 0;
        return inner > 1 && inner == Shape.Count(y.Shape.Skip(2).ToArray());
    }

    /// <summary>
    /// One input has y's shape and the other one value per run of <paramref name="inner"/> consecutive outputs: the
    /// same shape (inner 1), a scalar, or a leading part of y's shape followed by ones ([N, C, 1, 1] against
    /// [N, C, H, W]). swap: a is the short one.
    /// </summary>
    static bool PerRun(Value a, Value b, Value y, out int inner, out bool swap)
    {
        inner = 1; swap = false;
        if (!Shape.Equal(a.Shape, y.Shape)) { if (!Shape.Equal(b.Shape, y.Shape)) return false; swap = true; (a, b) = (b, a); }
        int r = y.Shape.Length, k = b.Shape.Length;
        if (k > r) return false;
        var s = new int[r];
        for (int d = 0; d < r; d++) s[d] = d < r - k ? 1 : b.Shape[d - (r - k)];
        int lead = 0;
        while (lead < r && s[lead] == y.Shape[lead]) lead++;
        for (int d = lead; d < r; d++) { if (s[d] != 1) return false; inner *= y.Shape[d]; }
        return inner > 0;
    }
}

/// <summary>
/// QLinearSigmoid / QLinearLeakyRelu (com.microsoft): X, X_scale, X_zero_point, Y_scale, Y_zero_point (+ alpha).
/// As ONNX Runtime, a 256-entry lookup table built from the constant parameters: for each input code q,
/// y = QuantizeLinear(f((float)(q - zx) * sx), sy, zy). The table is a constant of the generated class; the kernel
/// is y[i] = table[x[i] (+ 128 for int8)] (Net: ModelGen.Runtime.Int8.Lookup). Parameters must be constants (as in every
/// exported model).
/// </summary>
public sealed class QLinearLookup : Operator
{
    readonly bool _leaky;
    public QLinearLookup(bool leaky) { _leaky = leaky; }

    public override void Infer(Node n)
    {
        RequireSome(n, 4, 5, 0, 1, 3); // the zero points (2, 4) are optional: 0
        var x = n.In(0);
        if (!Q.Is8(x.Type)) throw Q.TypeError(n, x, "int8, uint8");
        for (int i = 1; i < 5; i++)
        {
            var v = n.In(i);
            if (v == null) continue;
            if (!v.IsConst) throw Unsupported($"{n.OpType} needs constant scales and zero points ('{v.Name}' is computed at run time)");
            Q.RequireScalar(n, v, i % 2 == 1 ? "scale" : "zero point");
        }
        Q.RequireFloatScale(n, n.In(1)); Q.RequireFloatScale(n, n.In(3));
        SetOut(n, 0, x.Type, x.Shape);
        // the table becomes an input of the node, so it is written as a constant
        var table = Table(n);
        n.Inputs.Add(Q.Constant((n.Name ?? n.OpType) + "_table", table));
    }

    TensorData Table(Node n)
    {
        var t = n.In(0).Type;
        float sx = n.In(1).Const.F[0], sy = n.In(3).Const.F[0], alpha = n.Float("alpha", 0.01f);
        long zx = Q.ConstZp(n.In(2)), zy = Q.ConstZp(n.In(4));
        int lo = t == DType.Int8 ? -128 : 0;
        var table = new TensorData(t, new[] { 256 });
        for (int i = 0; i < 256; i++)
        {
            float v = (float)(int)(lo + i - zx) * sx;
            float f = _leaky ? (v >= 0 ? v : v * alpha) : (float)(1.0 / (1.0 + Math.Exp(-(double)v)));
            table.L[i] = Q.Quantize(f, sy, zy, t);
        }
        return table;
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var x = inputs[0]; var table = inputs[inputs.Length - 1];
        int off = x.Type == DType.Int8 ? 128 : 0;
        var y = new TensorData(x.Type, x.Shape);
        for (int i = 0; i < y.Length; i++) y.L[i] = table.L[x.L[i] + off];
        return new[] { y };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var x = n.In(0); var table = n.Inputs[n.Inputs.Count - 1]; var y = n.Out();
        if (y.Length == 0) return;
        Int8Lookup.EmitTable(e, x, table, y);
    }
}

/// <summary>
/// QLinearAveragePool (com.microsoft, NCHW): X, x_scale, x_zero_point, y_scale, y_zero_point; attributes
/// kernel_shape, strides, pads, auto_pad, ceil_mode, count_include_pad (channels_last = 1 is not supported).
/// As ONNX Runtime: the average of the dequantized values, then y = saturate(roundHalfEven(avg / sy + zy)); the
/// sum is taken exactly, in int32, and dequantized once, (float)sum(x - zx) * sx / count (a float sum of the terms
/// is a dependency chain of float additions: the global pools of small CNNs spent 20 us on it). Net, global pools:
/// ModelGen.Runtime.Int8.GlobalAverage (the same steps, SIMD).
/// </summary>
public sealed class QLinearAveragePool : Operator
{
    public override void Infer(Node n)
    {
        RequireSome(n, 4, 5, 0, 1, 3); // the zero points (2, 4) are optional: 0
        var x = n.In(0);
        if (!Q.Is8(x.Type)) throw Q.TypeError(n, x, "int8, uint8");
        if (n.Int("channels_last", 0) != 0) throw Unsupported("QLinearAveragePool with channels_last = 1 is not supported");
        for (int i = 1; i < 5; i++) Q.RequireScalar(n, n.In(i), i % 2 == 1 ? "scale" : "zero point");
        if (x.Shape.Length < 3) throw Error($"QLinearAveragePool input must have rank 3 or more, got {Shape.Format(x.Shape)}");
        int r = x.Shape.Length - 2;
        var g = Window.Resolve(n, x.Shape.Skip(2).ToArray(), Window.KernelShape(n, r, null), n.Int("ceil_mode", 0) != 0, dilationsAllowed: false);
        n.State = g;
        SetOut(n, 0, x.Type, new[] { x.Shape[0], x.Shape[1] }.Concat(g.Out).ToArray());
    }

    /// <summary>
    /// Whether the window is each whole plane (one output per plane, no pads): the global pools of classifier heads,
    /// which <see cref="Passes.Int8ChannelsLast"/> lets read a channels-last tensor.
    /// </summary>
    internal static bool IsGlobal(Node n) => n.State is Window g && Enumerable.Range(0, g.Rank).All(i => g.Out[i] == 1 && g.Kernel[i] == g.In[i] && g.PadBegin[i] == 0 && g.PadEnd[i] == 0);

    /// <summary>The runtime call's channelsLast argument where <see cref="Passes.Int8ChannelsLast"/> made the input channels last (mg_nhwc_in).</summary>
    internal static string ChannelsLast(Node n) => n.Int("mg_nhwc_in", 0) != 0 ? $", channelsLast: {n.In(0).Shape[1]}" : "";

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var g = (Window)n.State;
        TensorData In(int i) => i < inputs.Length ? inputs[i] : null;
        var x = In(0); var y = new TensorData(n.Out().Type, n.Out().Shape);
        float sx = Q.ScaleAt(In(1), 0), sy = Q.ScaleAt(In(3), 0);
        long zx = Q.ZpAt(In(2), 0), zy = Q.ZpAt(In(4), 0);
        bool incl = n.Int("count_include_pad", 0) != 0;
        int planes = x.Shape[0] * x.Shape[1], r = g.Rank;
        for (int p = 0; p < planes; p++)
            g.ForEachOutput((o, pos) =>
            {
                var lo = new int[r]; var hi = new int[r];
                int count = 1;
                for (int i = 0; i < r; i++) { g.Range(i, pos[i], out lo[i], out hi[i]); count *= incl ? g.PaddedCount(i, pos[i]) : hi[i] - lo[i]; }
                int sum = 0;
                var k = (int[])lo.Clone();
                bool any = true;
                for (int i = 0; i < r; i++) if (lo[i] >= hi[i]) any = false;
                while (any)
                {
                    int xi = 0;
                    for (int i = 0; i < r; i++) xi = xi * g.In[i] + g.First(i, pos[i]) + k[i];
                    sum += (int)(x.L[p * g.InPlane + xi] - zx);
                    int d = r - 1;
                    while (d >= 0 && ++k[d] >= hi[d]) { k[d] = lo[d]; d--; }
                    if (d < 0) break;
                }
                float avg = (float)sum * sx / count;
                y.L[p * g.OutPlane + o] = Q.Saturate(y.Type, Q.RoundEven(avg / sy + zy));
            });
        return new[] { y };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var g = (Window)n.State;
        var x = n.In(0); var y = n.Out();
        var w = e.W;
        int r = g.Rank, planes = x.Shape[0] * x.Shape[1];
        if (y.Length == 0) return;
        bool incl = n.Int("count_include_pad", 0) != 0;
        string sx = e.At(n.In(1), "0"), sy = e.At(n.In(3), "0");
        string zx = Q.Zp(e, n.In(2), "0"), zy = Q.Zp(e, n.In(4), "0");
        if (e.Net && IsGlobal(n))
        {
            // a global pool: ModelGen.Runtime's planes' sums and the loop's float steps, eight planes at a time
            w.Line($"ModelGen.Runtime.Int8.GlobalAverage({Int8Params.Bytes(e, x)}, xSigned: {(x.Type == DType.Int8 ? "true" : "false")}, planes: {planes}, size: {g.InPlane}, " +
                $"zx: {zx}, sx: {sx}, sy: {sy}, zy: {zy}, {Int8Params.Bytes(e, y)}, ySigned: {(y.Type == DType.Int8 ? "true" : "false")}{ChannelsLast(n)});");
            return;
        }
        int opened = 0;
        string p = "0";
        if (planes > 1) { p = e.Var("c"); w.Open($"for (int {p} = 0; {p} < {planes}; {p}++)"); opened++; }
        var xT = new List<string> { WindowEmit.Mul(p, g.InPlane) };
        var yT = new List<string> { WindowEmit.Mul(p, g.OutPlane) };
        WindowEmit.Hoist(e, xT, "xc"); WindowEmit.Hoist(e, yT, "yc");
        var dims = new WinDim[r];
        opened += WindowEmit.OpenOutputs(e, g, r, dims, xT, yT, Shape.Strides(g.Out), declareP: true);
        // tap count of this window
        var counts = new List<string>();
        for (int i = 0; i < r; i++)
        {
            var d = dims[i];
            if (!incl) counts.Add(d.Lo == "0" ? d.Hi : $"({d.Hi} - {d.Lo})");
            else if (g.NeedPadHi(i)) { int end = g.In[i] + g.PadEnd[i]; counts.Add($"({end} - {d.P} < {g.Kernel[i]} ? {end} - {d.P} : {g.Kernel[i]})"); }
            else counts.Add(WindowEmit.I(g.Kernel[i]));
        }
        var sum = e.Var("sum");
        w.Line($"int {sum} = 0;");
        int inner = WindowEmit.OpenTaps(e, g, r, dims, xT, null);
        w.Line($"{sum} += {Q.Minus(e.At(x, WindowEmit.Sum(xT)), zx)};");
        WindowEmit.Close(e, inner);
        var avg = counts.Count == 1 ? $"(float){sum} * {sx} / {counts[0]}" : $"(float){sum} * {sx} / ({string.Join(" * ", counts)})";
        var rr = Q.Round(e, zy == "0" ? $"({avg}) / {sy}" : $"({avg}) / {sy} + {zy}");
        Q.Store(e, e.At(y, WindowEmit.Sum(yT)), y.Type, rr);
        WindowEmit.Close(e, opened);
    }
}

/// <summary>
/// QLinearGlobalAveragePool (com.microsoft): X, x_scale, x_zero_point, y_scale, y_zero_point; channels_last 0 (NCHW)
/// or 1 (NHWC). As MLAS: int32 sum over the image minus zx * size, requantized with the float multiplier
/// sx / (sy * size): y = saturate(roundHalfEven((float)acc * multiplier) + zy). Net: ModelGen.Runtime.Int8.GlobalAverageScaled
/// (NCHW, or channels last where Int8ChannelsLast set mg_nhwc_in).
/// </summary>
public sealed class QLinearGlobalAveragePool : Operator
{
    public override void Infer(Node n)
    {
        RequireSome(n, 4, 5, 0, 1, 3); // the zero points (2, 4) are optional: 0
        var x = n.In(0);
        if (!Q.Is8(x.Type)) throw Q.TypeError(n, x, "int8, uint8");
        for (int i = 1; i < 5; i++) Q.RequireScalar(n, n.In(i), i % 2 == 1 ? "scale" : "zero point");
        if (x.Shape.Length < 3) throw Error($"QLinearGlobalAveragePool input must have rank 3 or more, got {Shape.Format(x.Shape)}");
        var o = (int[])x.Shape.Clone();
        bool last = n.Int("channels_last", 0) != 0;
        for (int i = last ? 1 : 2; i < (last ? o.Length - 1 : o.Length); i++) o[i] = 1;
        SetOut(n, 0, x.Type, o);
    }

    static (int N, int C, int Size) Dims(Node n)
    {
        var s = n.In(0).Shape;
        bool last = n.Int("channels_last", 0) != 0;
        int c = last ? s[s.Length - 1] : s[1];
        int size = 1;
        for (int i = last ? 1 : 2; i < (last ? s.Length - 1 : s.Length); i++) size *= s[i];
        return (s[0], c, size);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        TensorData In(int i) => i < inputs.Length ? inputs[i] : null;
        var (N, C, size) = Dims(n);
        bool last = n.Int("channels_last", 0) != 0;
        var x = In(0); var y = new TensorData(n.Out().Type, n.Out().Shape);
        float mul = Q.ScaleAt(In(1), 0) / (Q.ScaleAt(In(3), 0) * (float)size);
        long zx = Q.ZpAt(In(2), 0), zy = Q.ZpAt(In(4), 0);
        for (int b = 0; b < N; b++)
            for (int c = 0; c < C; c++)
            {
                long acc = -zx * size;
                for (int i = 0; i < size; i++) acc += x.L[last ? (b * size + i) * C + c : (b * C + c) * size + i];
                y.L[b * C + c] = Q.Requantize((int)acc, mul, zy, y.Type);
            }
        return new[] { y };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var (N, C, size) = Dims(n);
        bool last = n.Int("channels_last", 0) != 0;
        var x = n.In(0); var y = n.Out(); var w = e.W;
        if (y.Length == 0) return;
        Value sx = n.In(1), sy = n.In(3);
        string mul;
        if (sx.IsConst && sy.IsConst) mul = EmitContext.F(sx.Const.F[0] / (sy.Const.F[0] * (float)size));
        else { mul = e.Var("mul"); w.Line($"float {mul} = {e.At(sx, "0")} / ({e.At(sy, "0")} * {EmitContext.F(size)});"); }
        string zx = Q.Zp(e, n.In(2), "0"), zy = Q.Zp(e, n.In(4), "0");
        if (e.Net && !last && size > 0)
        {
            // NCHW (or channels last, mg_nhwc_in): ModelGen.Runtime's plane sums and the same float steps
            w.Line($"ModelGen.Runtime.Int8.GlobalAverageScaled({Int8Params.Bytes(e, x)}, xSigned: {(x.Type == DType.Int8 ? "true" : "false")}, planes: {N * C}, size: {size}, " +
                $"zx: {zx}, multiplier: {mul}, zy: {zy}, {Int8Params.Bytes(e, y)}, ySigned: {(y.Type == DType.Int8 ? "true" : "false")}{QLinearAveragePool.ChannelsLast(n)});");
            return;
        }
        string b = e.Var("b"), c = e.Var("c"), i = e.Var("i"), acc = e.Var("acc");
        w.Open($"for (int {b} = 0; {b} < {N}; {b}++)");
        w.Open($"for (int {c} = 0; {c} < {C}; {c}++)");
        w.Line($"int {acc} = {(zx == "0" ? "0" : $"-{Idx.Paren(zx)} * {size}")};");
        var xi = last ? Idx.Sum(Idx.Mul($"{b} * {size} + {i}", C), c) : Idx.Sum(Idx.Mul($"{b} * {C} + {c}", size), i);
        if (size > 0) w.Line($"for (int {i} = 0; {i} < {size}; {i}++) {acc} += {e.At(x, xi)};");
        var rr = Q.Round(e, $"{acc} * {mul}");
        Q.Store(e, e.At(y, Idx.Sum(Idx.Mul(b, C), c)), y.Type, zy == "0" ? rr : $"{rr} + {zy}");
        w.Close(); w.Close();
    }
}

/// <summary>
/// QLinearConcat (com.microsoft): Y_scale, Y_zero_point, then (X, X_scale, X_zero_point) per input; attribute axis.
/// An input with the output's parameters is copied; any other is requantized as ONNX Runtime's table does:
/// y = saturate(roundHalfEven((float)(x - zx) * sx / sy) + zy).
/// </summary>
public sealed class QLinearConcat : Operator
{
    public override void Infer(Node n)
    {
        Require(n, 5);
        if ((n.Inputs.Count - 2) % 3 != 0) throw Error("QLinearConcat takes Y_scale, Y_zero_point and triples (X, X_scale, X_zero_point)");
        Q.RequireScalar(n, n.In(0), "Y_scale"); Q.RequireScalar(n, n.In(1), "Y_zero_point");
        var t = n.In(1).Type;
        if (!Q.Is8(t)) throw Q.TypeError(n, n.In(1), "int8, uint8");
        var first = n.In(2);
        int rank = first.Shape.Length;
        if (rank == 0) throw Error("QLinearConcat does not take scalars");
        int axis = Shape.Axis(n.Int("axis", 0), rank);
        var o = (int[])first.Shape.Clone(); o[axis] = 0;
        for (int k = 2; k < n.Inputs.Count; k += 3)
        {
            var x = n.In(k);
            if (x == null || n.In(k + 1) == null) throw Error("QLinearConcat inputs and their scales are required");
            if (x.Type != t) throw Error($"QLinearConcat input '{x.Name}' type differs from the output's");
            Q.RequireScalar(n, n.In(k + 1), "X_scale"); Q.RequireScalar(n, n.In(k + 2), "X_zero_point");
            if (x.Shape.Length != rank) throw Error("QLinearConcat inputs must share one rank");
            for (int d = 0; d < rank; d++) if (d != axis && x.Shape[d] != first.Shape[d]) throw Error($"QLinearConcat input shapes {Shape.Format(first.Shape)} and {Shape.Format(x.Shape)} differ outside axis {axis}");
            o[axis] += x.Shape[axis];
        }
        n.State = axis;
        SetOut(n, 0, t, o);
    }

    static bool Same(Value a, Value b) => a == b || a != null && b != null && a.IsConst && b.IsConst && a.Const.ContentEquals(b.Const)
        || a == null && b != null && b.IsConst && b.Const.GetLong(0) == 0 || b == null && a != null && a.IsConst && a.Const.GetLong(0) == 0;

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        int axis = (int)n.State;
        var y = new TensorData(n.Out().Type, n.Out().Shape);
        int outer = 1; for (int d = 0; d < axis; d++) outer *= y.Shape[d];
        int yInner = y.Length / Math.Max(1, outer), off = 0;
        float sy = Q.ScaleAt(inputs[0], 0); long zy = Q.ZpAt(inputs[1], 0);
        for (int k = 2; k < inputs.Length; k += 3)
        {
            var x = inputs[k]; float sx = Q.ScaleAt(inputs[k + 1], 0); long zx = Q.ZpAt(k + 2 < inputs.Length ? inputs[k + 2] : null, 0);
            int inner = x.Length / Math.Max(1, outer);
            for (int o = 0; o < outer; o++)
                for (int i = 0; i < inner; i++)
                {
                    long v = x.L[o * inner + i];
                    y.L[o * yInner + off + i] = sx == sy && zx == zy ? v : Q.Quantize((float)(int)(v - zx) * sx, sy, zy, y.Type);
                }
            off += inner;
        }
        return new[] { y };
    }

    public override void Emit(Node n, EmitContext e)
    {
        int axis = (int)n.State;
        var y = n.Out(); var w = e.W;
        if (y.Length == 0) return;
        int outer = 1; for (int d = 0; d < axis; d++) outer *= y.Shape[d];
        int yInner = y.Length / outer, off = 0;
        string sy = e.At(n.In(0), "0"), zy = Q.Zp(e, n.In(1), "0");
        for (int k = 2; k < n.Inputs.Count; k += 3)
        {
            var x = n.In(k);
            int inner = x.Length / outer;
            if (inner == 0) continue;
            bool copy = Same(n.In(k + 1), n.In(0)) && Same(n.In(k + 2), n.In(1));
            string o = outer > 1 ? e.Var("o") : "0", i = e.Var("i");
            if (outer > 1) w.Open($"for (int {o} = 0; {o} < {outer}; {o}++)");
            w.Open($"for (int {i} = 0; {i} < {inner}; {i}++)");
            var target = e.At(y, Idx.Sum(WindowEmit.Mul(o, yInner), WindowEmit.I(off), i));
            var src = e.At(x, Idx.Sum(WindowEmit.Mul(o, inner), i));
            if (copy) w.Line($"{target} = {src};");
            else
            {
                var rr = Q.Round(e, $"(float){Q.Minus(src, Q.Zp(e, n.In(k + 2), "0"))} * {e.At(n.In(k + 1), "0")} / {sy}");
                Q.Store(e, target, y.Type, zy == "0" ? rr : $"{rr} + {zy}");
            }
            w.Close();
            if (outer > 1) w.Close();
            off += inner;
        }
    }
}
