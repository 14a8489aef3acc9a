using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// Integer matrix products with numpy MatMul shapes (1-D operands promoted, batch dimensions broadcast):
/// <list type="bullet">
/// <item>MatMulInteger (opset 10): int32 Y = sum_k (A - a_zero_point) * (B - b_zero_point); A and B int8 or uint8;
///   a_zero_point per tensor or per row of A ([M]), b_zero_point per tensor or per column of B ([N]).</item>
/// <item>QLinearMatMul (opsets 10, 21): the same int32 accumulator, requantized as in <see cref="Q"/>:
///   y = saturate(roundHalfEven((float)acc * (a_scale * b_scale / y_scale)) + y_zero_point), the float multiplier
///   per (row, column) when a's parameters are per row or b's per column (ONNX Runtime's MlasRequantizeOutput).</item>
/// </list>
/// </summary>
public abstract class QMatMulBase : Operator
{
    internal sealed class St : MatMulDims
    {
        public bool RowA, ColB; // per-row A parameters / per-column B parameters
        /// <summary>Per-column float multipliers a_scale * b_scale[n] / y_scale, a constant input of the node when the scales are.</summary>
        public Value Multipliers;
    }

    /// <summary>Input indices: A, B, a_zero_point, b_zero_point, and for QLinearMatMul the scales and y's parameters.</summary>
    protected abstract bool Requant { get; }
    int IA => 0;
    int IB => Requant ? 3 : 1;
    int IZa => Requant ? 2 : 2;
    int IZb => Requant ? 5 : 3;

    public override void Infer(Node n)
    {
        if (Requant) Require(n, 8, 8); else Require(n, 2, 4);
        var a = n.In(IA); var b = n.In(IB);
        if (!Q.Is8(a.Type)) throw Q.TypeError(n, a, "int8, uint8");
        if (!Q.Is8(b.Type)) throw Q.TypeError(n, b, "int8, uint8");
        var st = new St();
        var outShape = st.Resolve(n.OpType, a.Shape, b.Shape);
        var za = n.In(IZa); var zb = n.In(IZb);
        if (za != null && za.Type != a.Type) throw Error($"{n.OpType} a_zero_point type differs from A's");
        if (zb != null && zb.Type != b.Type) throw Error($"{n.OpType} b_zero_point type differs from B's");
        st.RowA = Param(n, za, st.M, "a_zero_point", "rows of A") | (Requant && Param(n, n.In(1), st.M, "a_scale", "rows of A"));
        st.ColB = Param(n, zb, st.N, "b_zero_point", "columns of B") | (Requant && Param(n, n.In(4), st.N, "b_scale", "columns of B"));
        DType outT = DType.Int32;
        if (Requant)
        {
            foreach (var i in new[] { 1, 4, 6 }) Q.RequireFloatScale(n, n.In(i));
            Q.RequireScalar(n, n.In(6), "y_scale");
            Q.RequireScalar(n, n.In(7), "y_zero_point");
            outT = n.In(7).Type;
            if (!Q.Is8(outT)) throw Q.TypeError(n, n.In(7), "int8, uint8");
        }
        Value s1 = n.In(1), s4 = Requant ? n.In(4) : null, s6 = Requant ? n.In(6) : null;
        if (Requant && s1.Length == 1 && s4.Length > 1 && s1.IsConst && s4.IsConst && s6.IsConst)
        {
            var mt = new TensorData(DType.Float, new[] { st.N });
            for (int i = 0; i < st.N; i++) mt.F[i] = Q.Multiplier(s1.Const.F[0], s4.Const.F[i], s6.Const.F[0]);
            st.Multipliers = Q.Constant((n.Name ?? "qlinearmatmul") + "_multiplier", mt);
            n.Inputs.Add(st.Multipliers);
        }
        n.State = st;
        SetOut(n, 0, outT, outShape);
    }

    /// <summary>True when a parameter has one value per row/column; false for per-tensor; throws otherwise.</summary>
    static bool Param(Node n, Value v, int count, string what, string unit)
    {
        if (v == null || v.Length == 1) return false;
        if (v.Length == count && v.Shape.Count(d => d != 1) <= 1) return true;
        throw new CompileException(Diag.UnsupportedAttribute, $"{n.OpType} {what} of shape {Shape.Format(v.Shape)} is neither per tensor nor one value per {unit} ({count})");
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var st = (St)n.State;
        TensorData In(int i) => i < inputs.Length ? inputs[i] : null;
        var a = In(IA); var b = In(IB); var za = In(IZa); var zb = In(IZb);
        var y = new TensorData(n.Out().Type, n.Out().Shape);
        int batches = Shape.Count(st.Batch), r = st.Batch.Length;
        for (int bi = 0; bi < batches; bi++)
        {
            int ao = 0, bo = 0;
            for (int d = r - 1, rem = bi; d >= 0; d--) { int q = rem % st.Batch[d]; rem /= st.Batch[d]; ao += q * st.AStr[d]; bo += q * st.BStr[d]; }
            int co = bi * st.M * st.N;
            for (int m = 0; m < st.M; m++)
                for (int j = 0; j < st.N; j++)
                {
                    long zA = Q.ZpAt(za, m), zB = Q.ZpAt(zb, j);
                    int acc = 0;
                    for (int k = 0; k < st.K; k++) acc += (int)(a.L[ao + m * st.K + k] - zA) * (int)(b.L[bo + k * st.N + j] - zB);
                    if (!Requant) { y.L[co + m * st.N + j] = acc; continue; }
                    float mul = Q.Multiplier(Q.ScaleAt(In(1), m), Q.ScaleAt(In(4), j), Q.ScaleAt(In(6), 0));
                    y.L[co + m * st.N + j] = Q.Requantize(acc, mul, Q.ZpAt(In(7), 0), y.Type);
                }
        }
        return new[] { y };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var st = (St)n.State;
        var a = n.In(IA); var b = n.In(IB); var c = n.Out();
        var w = e.W;
        int M = st.M, N = st.N, K = st.K;
        if (c.Length == 0) return;
        int opened = 0;
        var aT = new List<string>(); var bT = new List<string>(); var cT = new List<string>();
        // requantization parameters that do not depend on the row or column
        string mulAll = null, zy = "0";
        if (Requant)
        {
            zy = Q.Zp(e, n.In(7), "0");
            if (!st.RowA && !st.ColB) mulAll = Multiplier(e, n, "0", "0", hoist: true);
        }
        for (int d = 0; d < st.Batch.Length; d++)
        {
            if (st.Batch[d] == 1) continue;
            var v = e.Var("bt");
            w.Open($"for (int {v} = 0; {v} < {st.Batch[d]}; {v}++)");
            opened++;
            aT.Add(Idx.Mul(v, st.AStr[d])); bT.Add(Idx.Mul(v, st.BStr[d])); cT.Add(Idx.Mul(v, st.CStr[d]));
        }
        if (opened > 0) { WindowEmit.Hoist(e, aT, "ao"); WindowEmit.Hoist(e, bT, "bo"); WindowEmit.Hoist(e, cT, "co"); }
        string ao = WindowEmit.Sum(aT), bo = WindowEmit.Sum(bT), co = WindowEmit.Sum(cT);
        string m = M > 1 ? e.Var("m") : "0", j = N > 1 ? e.Var("n") : "0", k = e.Var("k"), acc = e.Var("acc");
        if (M > 1) w.Open($"for (int {m} = 0; {m} < {M}; {m}++)");
        var ar = Idx.Sum(ao, WindowEmit.Mul(m, K));
        var cr = Idx.Sum(co, WindowEmit.Mul(m, N));
        if (M > 1 && ar.Contains("+")) { var v = e.Var("ar"); w.Line($"int {v} = {ar};"); ar = v; }
        if (M > 1 && cr.Contains("+")) { var v = e.Var("cr"); w.Line($"int {v} = {cr};"); cr = v; }
        var za = Local(e, Q.Zp(e, n.In(IZa), m), "za");
        if (N > 1) w.Open($"for (int {j} = 0; {j} < {N}; {j}++)");
        var zb = Local(e, Q.Zp(e, n.In(IZb), j), "zb");
        w.Line($"int {acc} = 0;");
        var av = Q.Minus(e.At(a, Idx.Sum(ar, k)), za);
        var bv = Q.Minus(e.At(b, Idx.Sum(bo, Idx.Mul(k, N), WindowEmit.Mul(j, 1))), zb);
        if (K > 0) w.Line($"for (int {k} = 0; {k} < {K}; {k}++) {acc} += {av} * {bv};");
        var target = e.At(c, Idx.Sum(cr, WindowEmit.Mul(j, 1)));
        if (!Requant) w.Line($"{target} = {acc};");
        else
        {
            var mul = mulAll ?? (st.Multipliers != null ? e.At(st.Multipliers, j) : Multiplier(e, n, m, j, hoist: true));
            var r = Q.Round(e, $"{acc} * {mul}");
            Q.Store(e, target, c.Type, zy == "0" ? r : $"{r} + {zy}");
        }
        if (N > 1) w.Close();
        if (M > 1) w.Close();
        WindowEmit.Close(e, opened);
    }

    /// <summary>An int expression as it is when a literal, else in a local (read once).</summary>
    internal static string Local(EmitContext e, string expr, string hint)
    {
        if (expr == "0" || long.TryParse(expr, out _)) return expr;
        var v = e.Var(hint);
        e.W.Line($"int {v} = {expr};");
        return v;
    }

    /// <summary>The float multiplier a_scale[row] * b_scale[col] / y_scale: a literal when constant, else a local computed in float.</summary>
    static string Multiplier(EmitContext e, Node n, string row, string col, bool hoist)
    {
        Value sa = n.In(1), sb = n.In(4), sy = n.In(6);
        if (sa.IsConst && sa.Length == 1 && sb.IsConst && sb.Length == 1 && sy.IsConst)
            return EmitContext.F(Q.Multiplier(sa.Const.F[0], sb.Const.F[0], sy.Const.F[0]));
        var v = e.Var("mul");
        e.W.Line($"float {v} = {e.At(sa, sa.Length == 1 ? "0" : row)} * {e.At(sb, sb.Length == 1 ? "0" : col)} / {e.At(sy, "0")};");
        return v;
    }
}

public sealed class QLinearMatMul : QMatMulBase { protected override bool Requant => true; }

public sealed class MatMulInteger : QMatMulBase { protected override bool Requant => false; }
