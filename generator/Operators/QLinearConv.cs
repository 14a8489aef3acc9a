using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// Integer convolutions over N spatial dimensions, with every Conv attribute (group / depthwise, kernel_shape, pads,
/// auto_pad, strides, dilations; geometry resolved by <see cref="Window"/> exactly as the float Conv does):
/// <list type="bullet">
/// <item>ConvInteger (opset 10): int32 y = sum (x - x_zero_point) * (w - w_zero_point); x_zero_point per tensor,
///   w_zero_point per tensor or per output channel [M].</item>
/// <item>QLinearConv (opset 10): the same int32 accumulator plus the optional int32 bias B [M], requantized as in
///   <see cref="Q"/>: y = saturate(roundHalfEven((float)acc * (x_scale * w_scale[m] / y_scale)) + y_zero_point),
///   w_scale / w_zero_point per tensor or per output channel (ONNX Runtime's output_scales + MlasRequantizeOutput).</item>
/// </list>
/// Padding holds x_zero_point (ONNX Runtime pads with it), i.e. padded taps add 0: they are skipped.
/// </summary>
public sealed class QLinearConv : Operator
{
    readonly bool _int;
    public QLinearConv(bool integerOnly) { _int = integerOnly; }

    sealed class Geo
    {
        public Window W;
        public int N, C, M, Group, ICg, OCg;
        public bool PerChannel;
        /// <summary>Per-output-channel float multipliers x_scale * w_scale[m] / y_scale, a constant (input of the node) when the scales are.</summary>
        public Value Multipliers;
    }

    int IW => _int ? 1 : 3;
    int IZx => 2;
    int IZw => _int ? 3 : 5;

    public override void Infer(Node n)
    {
        if (_int) Require(n, 2, 4); else Require(n, 8, 9);
        var x = n.In(0); var w = n.In(IW);
        if (!Q.Is8(x.Type)) throw Q.TypeError(n, x, "int8, uint8");
        if (!Q.Is8(w.Type)) throw Q.TypeError(n, w, "int8, uint8");
        if (x.Shape.Length < 3) throw Error($"{n.OpType} input must have rank 3 or more [N, C, spatial...], got {Shape.Format(x.Shape)}");
        if (w.Shape.Length != x.Shape.Length) throw Error($"{n.OpType} weights {Shape.Format(w.Shape)} must have the rank of the input {Shape.Format(x.Shape)}");
        int r = x.Shape.Length - 2;
        long group = n.Int("group", 1);
        int c = x.Shape[1], m = w.Shape[0];
        if (group < 1 || group > c || c % group != 0) throw Error($"{n.OpType} group {group} does not divide the {c} input channels");
        if (m % group != 0) throw Error($"{n.OpType} group {group} does not divide the {m} output channels");
        if ((long)w.Shape[1] * group != c) throw Error($"{n.OpType} weights {Shape.Format(w.Shape)} expect {(long)w.Shape[1] * group} input channels (group {group}), the input has {c}");
        var zx = n.In(IZx); var zw = n.In(IZw);
        if (zx != null && zx.Type != x.Type) throw Error($"{n.OpType} x_zero_point type differs from x's");
        if (zw != null && zw.Type != w.Type) throw Error($"{n.OpType} w_zero_point type differs from w's");
        Q.RequireScalar(n, zx, "x_zero_point");
        bool perChannel = PerChannel(n, zw, m, "w_zero_point");
        DType outT = DType.Int32;
        if (!_int)
        {
            foreach (var i in new[] { 1, 4, 6 }) Q.RequireFloatScale(n, n.In(i));
            Q.RequireScalar(n, n.In(1), "x_scale");
            Q.RequireScalar(n, n.In(6), "y_scale");
            Q.RequireScalar(n, n.In(7), "y_zero_point");
            perChannel |= PerChannel(n, n.In(4), m, "w_scale");
            outT = n.In(7).Type;
            if (!Q.Is8(outT)) throw Q.TypeError(n, n.In(7), "int8, uint8");
            var b = n.In(8);
            if (b != null && (b.Type != DType.Int32 || b.Length != m || b.Shape.Length != 1))
                throw Error($"{n.OpType} bias must be int32 of shape [{m}], got {DTypes.OnnxName(b.Type)} {Shape.Format(b.Shape)}");
        }
        var kernel = Window.KernelShape(n, r, w.Shape.Skip(2).ToArray());
        var win = Window.Resolve(n, x.Shape.Skip(2).ToArray(), kernel, ceilMode: false, dilationsAllowed: true);
        var geo = new Geo { W = win, N = x.Shape[0], C = c, M = m, Group = (int)group, ICg = c / (int)group, OCg = m / (int)group, PerChannel = perChannel };
        Value sx = n.In(1), sw = n.In(4), sy = n.In(6);
        if (!_int && sw.Length > 1 && sx.IsConst && sw.IsConst && sy.IsConst)
        {
            // per-channel multipliers computed once here and written as a constant table
            var mt = new TensorData(DType.Float, new[] { m });
            for (int i = 0; i < m; i++) mt.F[i] = Q.Multiplier(sx.Const.F[0], sw.Const.F[i], sy.Const.F[0]);
            while (n.Inputs.Count < 9) n.Inputs.Add(null); // keep the optional bias slot
            geo.Multipliers = Q.Constant((n.Name ?? "qlinearconv") + "_multiplier", mt);
            n.Inputs.Add(geo.Multipliers);
        }
        n.State = geo;
        SetOut(n, 0, outT, new[] { x.Shape[0], m }.Concat(win.Out).ToArray());
    }

    static bool PerChannel(Node n, Value v, int m, string what)
    {
        if (v == null || v.Length == 1) return false;
        if (v.Shape.Length == 1 && v.Shape[0] == m) return true;
        throw new CompileException(Diag.UnsupportedAttribute, $"{n.OpType} {what} of shape {Shape.Format(v.Shape)} is neither per tensor nor per output channel [{m}]");
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var geo = (Geo)n.State; var g = geo.W;
        TensorData In(int i) => i < inputs.Length ? inputs[i] : null;
        var x = In(0); var w = In(IW); var zx = In(IZx); var zw = In(IZw); var b = _int ? null : In(8);
        var y = new TensorData(n.Out().Type, n.Out().Shape);
        int inPlane = g.InPlane, outPlane = g.OutPlane, kSize = g.KernelSize;
        long zX = Q.ZpAt(zx, 0);
        for (int bn = 0; bn < geo.N; bn++)
            for (int m = 0; m < geo.M; m++)
            {
                int grp = m / geo.OCg;
                long zW = Q.ZpAt(zw, m);
                float mul = _int ? 0f : Q.Multiplier(Q.ScaleAt(In(1), 0), Q.ScaleAt(In(4), m), Q.ScaleAt(In(6), 0));
                g.ForEachOutput((o, pos) =>
                {
                    int acc = g.IntegerSum(x, (bn * geo.C + grp * geo.ICg) * inPlane, w, m * geo.ICg * kSize, geo.ICg, pos, zX, zW, b == null ? 0 : (int)b.L[m]);
                    int yi = (bn * geo.M + m) * outPlane + o;
                    y.L[yi] = _int ? acc : Q.Requantize(acc, mul, Q.ZpAt(In(7), 0), y.Type);
                });
            }
        return new[] { y };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var geo = (Geo)n.State; var g = geo.W;
        var x = n.In(0); var wt = n.In(IW); var b = _int ? null : n.In(8); var y = n.Out();
        var w = e.W;
        if (g.OutPlane == 0 || geo.N == 0 || geo.M == 0) return;
        // per-tensor parameters
        string zx = Q.Zp(e, n.In(IZx), "0");
        if (zx != "0" && !long.TryParse(zx, out _)) { var v = e.Var("zx"); w.Line($"int {v} = {zx};"); zx = v; }
        string zy = _int ? "0" : Q.Zp(e, n.In(7), "0");
        if (zy != "0" && !long.TryParse(zy, out _)) { var v = e.Var("zy"); w.Line($"int {v} = {zy};"); zy = v; }
        int opened = WindowEmit.OpenChannelLoops(e, geo.N, geo.M, geo.Group, geo.OCg, out var bn, out var grp, out var m);
        // per-output-channel parameters, read once per channel
        string zw = Q.Zp(e, n.In(IZw), m);
        if (zw != "0" && !long.TryParse(zw, out _)) { var v = e.Var("zw"); w.Line($"int {v} = {zw};"); zw = v; }
        string bias = "0";
        if (b != null) { bias = e.Var("bias"); w.Line($"int {bias} = {e.At(b, m)};"); }
        string mul = null;
        if (!_int)
        {
            Value sx = n.In(1), sw = n.In(4), sy = n.In(6);
            if (geo.Multipliers != null) { mul = e.Var("mul"); w.Line($"float {mul} = {e.At(geo.Multipliers, m)};"); }
            else if (sx.IsConst && sw.IsConst && sw.Length == 1 && sy.IsConst) mul = EmitContext.F(Q.Multiplier(sx.Const.F[0], sw.Const.F[0], sy.Const.F[0]));
            else { mul = e.Var("mul"); w.Line($"float {mul} = {e.At(sx, "0")} * {e.At(sw, sw.Length == 1 ? "0" : m)} / {e.At(sy, "0")};"); }
        }
        WindowEmit.IntegerDot(e, g, geo.C, geo.M, geo.ICg, bn, grp, m, x, wt, y, bias, zx, zw, (target, acc) =>
        {
            if (_int) w.Line($"{target} = {acc};");
            else
            {
                var rr = Q.Round(e, $"{acc} * {mul}");
                Q.Store(e, target, y.Type, zy == "0" ? rr : $"{rr} + {zy}");
            }
        });
        WindowEmit.Close(e, opened);
    }
}
