using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// ONNX Runtime's com.microsoft QGemm, which its quantizer writes for a Gemm in the QOperator format. Inputs A, a_scale,
/// a_zero_point, B, b_scale, b_zero_point, then optional C (int32 bias, broadcast to [M, N]), y_scale, y_zero_point;
/// attributes alpha, transA, transB. acc = C + sum_k (A - a_zp) * (B - b_zp[n]) in int32; with y_scale and y_zero_point
/// y = saturate(roundHalfEven((float)acc * (alpha * a_scale * b_scale[n] / y_scale)) + y_zp) (the multiplier in float,
/// in ONNX Runtime's order), without them y is float: (float)acc * (alpha * a_scale * b_scale[n]). A per tensor, B per
/// tensor or per column [N]. A constant B with quantized output is lowered to the integer GEMM kernel
/// (<see cref="Passes.QLinearLowering"/>); these loops are the rest.
/// </summary>
public sealed class QLinearGemm : Operator
{
    sealed class Dims
    {
        public int M, N, K;
        public bool TransA, TransB;
        /// <summary>C's broadcast: strides over m and n (0 where C has one value along the axis).</summary>
        public int CM, CN;
        public bool Quantized;
    }

    public override void Infer(Node n)
    {
        RequireSome(n, 6, 9, 0, 1, 3, 4);
        var a = n.In(0); var b = n.In(3);
        if (!Q.Is8(a.Type)) throw Q.TypeError(n, a, "int8, uint8");
        if (!Q.Is8(b.Type)) throw Q.TypeError(n, b, "int8, uint8");
        if (a.Shape.Length != 2 || b.Shape.Length != 2) throw Error($"QGemm takes matrices, got A {Shape.Format(a.Shape)} and B {Shape.Format(b.Shape)}");
        var d = new Dims { TransA = n.Int("transA", 0) != 0, TransB = n.Int("transB", 0) != 0 };
        d.M = d.TransA ? a.Shape[1] : a.Shape[0];
        d.K = d.TransA ? a.Shape[0] : a.Shape[1];
        int kb = d.TransB ? b.Shape[1] : b.Shape[0];
        d.N = d.TransB ? b.Shape[0] : b.Shape[1];
        if (kb != d.K) throw Error($"QGemm A {Shape.Format(a.Shape)} (transA {(d.TransA ? 1 : 0)}) and B {Shape.Format(b.Shape)} (transB {(d.TransB ? 1 : 0)}) do not agree on K");
        foreach (var i in new[] { 1, 4, 7 }) Q.RequireFloatScale(n, n.In(i));
        Q.RequireScalar(n, n.In(1), "a_scale");
        Q.RequireScalar(n, n.In(2), "a_zero_point");
        foreach (var (i, what) in new[] { (4, "b_scale"), (5, "b_zero_point") })
            if (n.In(i) is Value v && v.Length != 1 && !(v.Shape.Length == 1 && v.Shape[0] == d.N))
                throw Unsupported($"QGemm {what} of shape {Shape.Format(v.Shape)} is neither per tensor nor per column [{d.N}]");
        if (n.In(2) != null && n.In(2).Type != a.Type) throw Error("QGemm a_zero_point type differs from A's");
        if (n.In(5) != null && n.In(5).Type != b.Type) throw Error("QGemm b_zero_point type differs from B's");
        var c = n.In(6);
        if (c != null)
        {
            if (c.Type != DType.Int32) throw Q.TypeError(n, c, "int32 (C)");
            var s = c.Shape;
            (d.CM, d.CN) = c.Length == 1 ? (0, 0)
                : s.Length == 1 && s[0] == d.N || s.Length == 2 && s[0] == 1 && s[1] == d.N ? (0, 1)
                : s.Length == 2 && s[0] == d.M && s[1] == 1 ? (1, 0)
                : s.Length == 2 && s[0] == d.M && s[1] == d.N ? (d.N, 1)
                : throw Error($"QGemm C {Shape.Format(s)} does not broadcast to [{d.M}, {d.N}]");
        }
        var sy = n.In(7); var zy = n.In(8);
        if ((sy == null) != (zy == null)) throw Unsupported("QGemm needs both y_scale and y_zero_point (quantized output) or neither (float output)");
        d.Quantized = sy != null;
        DType outT = DType.Float;
        if (d.Quantized)
        {
            Q.RequireScalar(n, sy, "y_scale");
            Q.RequireScalar(n, zy, "y_zero_point");
            outT = zy.Type;
            if (!Q.Is8(outT)) throw Q.TypeError(n, zy, "int8, uint8");
        }
        n.State = d;
        SetOut(n, 0, outT, new[] { d.M, d.N });
    }

    /// <summary>The float multiplier of column j: alpha * a_scale * b_scale[j] (/ y_scale), in float as ONNX Runtime's QGemm computes it.</summary>
    static float Multiplier(float alpha, float sa, float sb, float? sy)
    {
        float s = alpha * sa * sb;
        return sy.HasValue ? s / sy.Value : s;
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var d = (Dims)n.State;
        TensorData In(int i) => i < inputs.Length ? inputs[i] : null;
        var a = In(0); var b = In(3); var c = In(6);
        float alpha = n.Float("alpha", 1f), sa = Q.ScaleAt(In(1), 0);
        var y = new TensorData(n.Out().Type, n.Out().Shape);
        long za = Q.ZpAt(In(2), 0), zy = Q.ZpAt(In(8), 0);
        for (int m = 0; m < d.M; m++)
            for (int j = 0; j < d.N; j++)
            {
                long zb = Q.ZpAt(In(5), j);
                int acc = c == null ? 0 : (int)c.L[m * d.CM + j * d.CN];
                for (int k = 0; k < d.K; k++)
                    acc = unchecked(acc + (int)(a.L[d.TransA ? k * d.M + m : m * d.K + k] - za) * (int)(b.L[d.TransB ? j * d.K + k : k * d.N + j] - zb));
                float mul = Multiplier(alpha, sa, Q.ScaleAt(In(4), j), d.Quantized ? Q.ScaleAt(In(7), 0) : null);
                if (d.Quantized) y.L[m * d.N + j] = Q.Requantize(acc, mul, zy, y.Type);
                else y.F[m * d.N + j] = (float)acc * mul;
            }
        return new[] { y };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var d = (Dims)n.State;
        if (d.M == 0 || d.N == 0) return;
        var w = e.W;
        Value a = n.In(0), b = n.In(3), c = n.In(6), sa = n.In(1), sb = n.In(4), sy = n.In(7), y = n.Out();
        float alpha = n.Float("alpha", 1f);
        string za = QMatMulBase.Local(e, Q.Zp(e, n.In(2), "0"), "za"), zy = d.Quantized ? QMatMulBase.Local(e, Q.Zp(e, n.In(8), "0"), "zy") : "0";
        string m = d.M > 1 ? e.Var("m") : "0", j = d.N > 1 ? e.Var("n") : "0", k = e.Var("k"), acc = e.Var("acc");
        if (d.M > 1) w.Open($"for (int {m} = 0; {m} < {d.M}; {m}++)");
        if (d.N > 1) w.Open($"for (int {j} = 0; {j} < {d.N}; {j}++)");
        string zb = QMatMulBase.Local(e, Q.Zp(e, n.In(5), j), "zb");
        w.Line($"int {acc} = {(c == null ? "0" : e.At(c, Idx.Sum(Idx.Mul(m, d.CM), Idx.Mul(j, d.CN))))};");
        string ai = d.TransA ? Idx.Sum(Idx.Mul(k, d.M), m) : Idx.Sum(Idx.Mul(m, d.K), k);
        string bi = d.TransB ? Idx.Sum(Idx.Mul(j, d.K), k) : Idx.Sum(Idx.Mul(k, d.N), j);
        if (d.K > 0) w.Line($"for (int {k} = 0; {k} < {d.K}; {k}++) {acc} += {Q.Minus(e.At(a, ai), za)} * {Q.Minus(e.At(b, bi), zb)};");
        string mul;
        if (sa.IsConst && sb.IsConst && sb.Length == 1 && (sy == null || sy.IsConst))
            mul = EmitContext.F(Multiplier(alpha, sa.Const.F[0], sb.Const.F[0], sy == null ? null : sy.Const.F[0]));
        else
        {
            mul = e.Var("mul");
            string s = $"{EmitContext.F(alpha)} * {e.At(sa, "0")} * {e.At(sb, sb.Length == 1 ? "0" : j)}";
            w.Line($"float {mul} = {(sy == null ? s : $"({s}) / {e.At(sy, "0")}")};");
        }
        var target = e.At(y, Idx.Sum(Idx.Mul(m, d.N), j));
        if (!d.Quantized) w.Line($"{target} = (float){acc} * {mul};");
        else
        {
            var r = Q.Round(e, $"{acc} * {mul}");
            Q.Store(e, target, y.Type, zy == "0" ? r : $"{r} + {zy}");
        }
        if (d.N > 1) w.Close();
        if (d.M > 1) w.Close();
    }
}
