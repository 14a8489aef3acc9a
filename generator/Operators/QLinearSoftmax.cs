using System;
using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// ONNX Runtime's com.microsoft QLinearSoftmax (its quantizer writes it for a Softmax in the QOperator format): X,
/// X_scale, [x_zero_point], y_scale, [y_zero_point]; attributes opset (the Softmax's: below 13 the input is coerced to
/// 2-D at axis, default 1; from 13 along axis, default -1) and axis. The arithmetic is ONNX Runtime's, which is not a
/// dequantize-softmax-quantize: a table of 256 floats e^((i - 255 + s) * x_scale), s = max(0, ln(FLT_MAX / D) - 5) /
/// x_scale, indexed by each value's distance below its row's maximum; the row's float sum in order; then
/// y = saturate(roundHalfEven(e * floor(1 / y_scale) / sum) + y_zp): an int8 result of 128 gives 127, as ONNX Runtime
/// 1.31 does on x64 (its portable C++ loop would wrap it to -128). Scales and zero points constant.
/// </summary>
public sealed class QLinearSoftmax : Operator
{
    sealed class Geo { public int Outer, D, Inner; public float YScale; public int YZero; }

    public override void Infer(Node n)
    {
        RequireSome(n, 4, 6, 0, 1, 3); // the zero points (2, 4) are optional: 0; input 5: the table, added here
        var x = n.In(0);
        if (!Q.Is8(x.Type)) throw Q.TypeError(n, x, "int8, uint8");
        foreach (var i in new[] { 1, 2, 3, 4 })
        {
            var v = n.In(i);
            if (v == null) continue;
            if (!v.IsConst) throw Unsupported($"QLinearSoftmax needs constant scales and zero points ('{v.Name}' is computed at run time)");
            Q.RequireScalar(n, v, i % 2 == 1 ? "scale" : "zero point");
        }
        Q.RequireFloatScale(n, n.In(1)); Q.RequireFloatScale(n, n.In(3));
        if (n.In(4) != null && n.In(4).Type != x.Type) throw Error("QLinearSoftmax y_zero_point type differs from X's");
        if (!n.Attributes.ContainsKey("opset")) throw Error("QLinearSoftmax needs its opset attribute");
        long opset = n.Int("opset", 13);
        int r = x.Shape.Length;
        if (r == 0) throw Error("QLinearSoftmax input must have rank 1 or more");
        long axis = n.Int("axis", opset < 13 ? 1 : -1);
        if (axis < -r || axis >= r) throw Error($"QLinearSoftmax axis {axis} is outside rank {r}");
        int a = (int)(axis < 0 ? axis + r : axis);
        var g = new Geo
        {
            Outer = Shape.Count(x.Shape.Take(a).ToArray()),
            D = opset < 13 ? Shape.Count(x.Shape.Skip(a).ToArray()) : x.Shape[a],
            Inner = opset < 13 ? 1 : Shape.Count(x.Shape.Skip(a + 1).ToArray()),
            YScale = (float)Math.Floor(1.0f / n.In(3).Const.F[0]),
            YZero = (int)Q.ConstZp(n.In(4)),
        };
        n.State = g;
        SetOut(n, 0, x.Type, x.Shape);
        while (n.Inputs.Count < 5) n.Inputs.Add(null);
        if (n.Inputs.Count == 5) n.Inputs.Add(Q.Constant((n.Name ?? "qlinearsoftmax") + "_exp", Table(n.In(1).Const.F[0], g.D, x.Type == DType.Int8)));
    }

    /// <summary>ONNX Runtime's table: entry i (int8: at byte i - 128) is e^((i - 255 + s) * x_scale) in double, stored as float.</summary>
    static TensorData Table(float xScale, int d, bool signed)
    {
        double shift = Math.Log(float.MaxValue / (double)Math.Max(1, d));
        shift = Math.Max(0.0, shift - 5) / xScale;
        var t = new TensorData(DType.Float, new[] { 256 });
        for (int i = 0; i < 256; i++) t.F[(byte)(signed ? i - 128 : i)] = (float)Math.Exp(((double)i - 255 + shift) * xScale);
        return t;
    }

    /// <summary>Table index of value v in a row whose maximum is max.</summary>
    static int Index(long v, long max, bool signed) => signed ? (byte)(127 - max + v) : (int)(255 - max + v);

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var g = (Geo)n.State;
        var x = inputs[0]; var t = inputs[5].F;
        bool signed = x.Type == DType.Int8;
        var y = new TensorData(x.Type, x.Shape);
        for (int o = 0; o < g.Outer; o++)
            for (int i = 0; i < g.Inner; i++)
            {
                int b = o * g.D * g.Inner + i;
                long max = x.L[b];
                for (int d = 1; d < g.D; d++) max = Math.Max(max, x.L[b + d * g.Inner]);
                float sum = 0f;
                for (int d = 0; d < g.D; d++) sum += t[Index(x.L[b + d * g.Inner], max, signed)];
                for (int d = 0; d < g.D; d++)
                {
                    float e = t[Index(x.L[b + d * g.Inner], max, signed)];
                    y.L[b + d * g.Inner] = Q.Saturate(x.Type, Q.RoundEven(e * g.YScale / sum) + g.YZero);
                }
            }
        return new[] { y };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var g = (Geo)n.State;
        if (g.Outer == 0 || g.D == 0 || g.Inner == 0) return;
        var x = n.In(0); var y = n.Out(); var table = n.In(5);
        bool signed = x.Type == DType.Int8;
        var w = e.W;
        string o = g.Outer > 1 ? e.Var("o") : "0", i = g.Inner > 1 ? e.Var("i") : "0", d = e.Var("d"), b = e.Var("b");
        if (g.Outer > 1) w.Open($"for (int {o} = 0; {o} < {g.Outer}; {o}++)");
        if (g.Inner > 1) w.Open($"for (int {i} = 0; {i} < {g.Inner}; {i}++)");
        w.Line($"int {b} = {Idx.Sum(Idx.Mul(o, g.D * g.Inner), i)};");
        string at = Idx.Sum(b, Idx.Mul(d, g.Inner));
        string max = e.Var("max"), sum = e.Var("sum");
        w.Line($"int {max} = {e.At(x, b)};");
        w.Line($"for (int {d} = 1; {d} < {g.D}; {d}++) if ({e.At(x, at)} > {max}) {max} = {e.At(x, at)};");
        // the row's exponentials: the table entry at the value's distance below the maximum (int8: as a byte)
        string index = signed ? $"unchecked((byte)(127 - {max} + {e.At(x, at)}))" : $"255 - {max} + {e.At(x, at)}";
        w.Line($"float {sum} = 0f;");
        w.Line($"for (int {d} = 0; {d} < {g.D}; {d}++) {sum} += {e.At(table, index)};");
        w.Open($"for (int {d} = 0; {d} < {g.D}; {d}++)");
        var q = e.Var("q");
        string yz = g.YZero == 0 ? "" : g.YZero > 0 ? $" + {g.YZero}" : $" - {-g.YZero}";
        var (lo, hi) = Q.Range(y.Type);
        w.Line($"int {q} = (int){Q.Round(e, $"{e.At(table, index)} * {EmitContext.F(g.YScale)} / {sum}")}{yz};");
        w.Line($"{e.At(y, at)} = ({DTypes.CsName(y.Type)})({q} < {lo} ? {lo} : {q} > {hi} ? {hi} : {q});");
        w.Close();
        if (g.Inner > 1) w.Close();
        if (g.Outer > 1) w.Close();
    }
}
