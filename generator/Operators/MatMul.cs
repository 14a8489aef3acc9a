using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// MatMul with numpy semantics: a 1-D A is a row [1, K] and a 1-D B a column [K, 1] (the added dimension is removed
/// from the result); leading batch dimensions broadcast. A fused activation (<see cref="FusedActivation"/>, float types)
/// is applied to each output as it is stored.
/// </summary>
public sealed class MatMul : Operator
{
    sealed class St : MatMulDims { }

    public override void Infer(Node n)
    {
        Require(n, 2, 2);
        var a = n.In(0); var b = n.In(1);
        if (!(DTypes.IsFloat(a.Type) || a.Type is DType.Int32 or DType.Int64 or DType.UInt32 or DType.UInt64))
            throw new CompileException(Diag.UnsupportedType, $"MatMul on {DTypes.OnnxName(a.Type)} is not supported (float, double, int32, int64, uint32, uint64)");
        if (b.Type != a.Type) throw Error("MatMul inputs must share one element type");
        var st = new St();
        var outShape = st.Resolve(n.OpType, a.Shape, b.Shape);
        n.State = st;
        if (FusedActivation.Of(n) != null && !DTypes.IsFloat(a.Type)) throw Error("a fused activation needs a float MatMul");
        SetOut(n, 0, a.Type, outShape);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var st = (St)n.State;
        if ((double)Shape.Count(st.Batch) * st.M * st.N * st.K > Conv.MaxFoldMacs) return null;
        var a = inputs[0]; var b = inputs[1];
        var c = new TensorData(a.Type, n.Out().Shape);
        bool ints = !DTypes.IsFloat(a.Type);
        int batches = Shape.Count(st.Batch), r = st.Batch.Length;
        for (int bi = 0; bi < batches; bi++)
        {
            int ao = 0, bo = 0;
            for (int d = r - 1, rem = bi; d >= 0; d--) { int q = rem % st.Batch[d]; rem /= st.Batch[d]; ao += q * st.AStr[d]; bo += q * st.BStr[d]; }
            int co = bi * st.M * st.N;
            for (int m = 0; m < st.M; m++)
                for (int j = 0; j < st.N; j++)
                {
                    if (ints)
                    {
                        long acc = 0;
                        for (int k = 0; k < st.K; k++) acc += a.L[ao + m * st.K + k] * b.L[bo + k * st.N + j];
                        c.SetLong(co + m * st.N + j, acc);
                    }
                    else
                    {
                        double acc = 0;
                        for (int k = 0; k < st.K; k++) acc += a.GetDouble(ao + m * st.K + k) * b.GetDouble(bo + k * st.N + j);
                        c.Set(co + m * st.N + j, acc);
                    }
                }
        }
        FusedActivation.ApplyTo(n, c);
        return new[] { c };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var st = (St)n.State;
        var a = n.In(0); var b = n.In(1); var c = n.Out();
        var t = a.Type; var ty = DTypes.CsName(t);
        var w = e.W;
        int M = st.M, N = st.N, K = st.K;
        if (c.Length == 0) return;
        var act = FusedActivation.Of(n);
        if (K == 0)
        {
            var z = e.Var("i");
            var zero = EmitContext.Lit(t, 0);
            w.Line($"for (int {z} = 0; {z} < {c.Length}; {z}++) {e.At(c, z)} = {(act == null ? zero : act.Expr(e, t, zero))};");
            return;
        }
        // trailing batch dimensions over which B is broadcast and A is contiguous are rows of one product: [16, 1, 32]
        // x [32, 96] (a transformer's QKV projection) is one 16-row call, not 16 matrix-vector ones
        int keep = st.Batch.Length;
        for (int d = st.Batch.Length - 1, rows = 1; d >= 0; d--)
        {
            if (st.Batch[d] != 1 && (st.BStr[d] != 0 || st.AStr[d] != rows * M * K)) break;
            rows *= st.Batch[d]; keep = d;
        }
        for (int d = keep; d < st.Batch.Length; d++) M *= st.Batch[d];
        // loops over the other broadcast batch dimensions
        int opened = 0;
        var aT = new List<string>(); var bT = new List<string>(); var cT = new List<string>();
        for (int d = 0; d < keep; d++)
        {
            if (st.Batch[d] == 1) continue;
            var v = e.Var("bt");
            w.Open($"for (int {v} = 0; {v} < {st.Batch[d]}; {v}++)");
            opened++;
            aT.Add(Idx.Mul(v, st.AStr[d])); bT.Add(Idx.Mul(v, st.BStr[d])); cT.Add(Idx.Mul(v, st.CStr[d]));
        }
        if (opened > 0)
        {
            WindowEmit.Hoist(e, aT, "ao"); WindowEmit.Hoist(e, bT, "bo"); WindowEmit.Hoist(e, cT, "co");
        }
        string ao = WindowEmit.Sum(aT), bo = WindowEmit.Sum(bT), co = WindowEmit.Sum(cT);
        if (e.Net && t == DType.Float && N >= 8)
        {
            // Net profile: the SIMD kernel of ModelGen.Runtime, one call per batch
            string S(Value v, string off, int len) => opened == 0 && v.Length == len ? e.Span(v) : $"{e.Span(v)}.Slice({off}, {len})";
            w.Line($"ModelGen.Runtime.MatMul.Run({S(a, ao, M * K)}, {S(b, bo, K * N)}, {S(c, co, M * N)}, {M}, {N}, {K}{FusedActivation.NetArg(n)});");
        }
        else
        {
            string m = M > 1 ? e.Var("m") : "0", j = N > 1 ? e.Var("n") : "0", acc = e.Var("acc");
            if (M > 1) w.Open($"for (int {m} = 0; {m} < {M}; {m}++)");
            var ar = Idx.Sum(ao, WindowEmit.Mul(m, K));
            var cr = Idx.Sum(co, WindowEmit.Mul(m, N));
            if (M > 1 && ar.Contains("+")) { var v = e.Var("ar"); w.Line($"int {v} = {ar};"); ar = v; }
            if (M > 1 && cr.Contains("+")) { var v = e.Var("cr"); w.Line($"int {v} = {cr};"); cr = v; }
            if (N > 1) w.Open($"for (int {j} = 0; {j} < {N}; {j}++)");
            w.Line($"{ty} {acc} = {EmitContext.Lit(t, 0)};");
            WindowEmit.Dot(e, acc, t, a, ar, 1, b, Idx.Sum(bo, WindowEmit.Mul(j, 1)), N, "0", WindowEmit.I(K), K);
            w.Line($"{e.At(c, Idx.Sum(cr, WindowEmit.Mul(j, 1)))} = {(act == null ? acc : act.Expr(e, t, acc))};");
            if (N > 1) w.Close();
            if (M > 1) w.Close();
        }
        WindowEmit.Close(e, opened);
    }
}

/// <summary>
/// numpy matmul geometry shared by MatMul and the quantized matmuls: 1-D operands promoted, batch dims broadcast,
/// per-batch element offsets of A, B and C.
/// </summary>
internal class MatMulDims
{
    public int M, N, K;
    public int[] Batch, AStr, BStr, CStr;

    /// <summary>Fills the dims from the operand shapes; returns the output shape (promoted 1-D dims dropped).</summary>
    public int[] Resolve(string op, int[] a, int[] b)
    {
        if (a.Length == 0 || b.Length == 0) throw new CompileException(Diag.InvalidModel, $"{op} does not take scalars");
        var sa = a.Length == 1 ? new[] { 1, a[0] } : a;
        var sb = b.Length == 1 ? new[] { b[0], 1 } : b;
        M = sa[sa.Length - 2]; K = sa[sa.Length - 1]; N = sb[sb.Length - 1];
        if (sb[sb.Length - 2] != K) throw new CompileException(Diag.InvalidModel, $"{op} inner dimensions differ: {Shape.Format(a)} x {Shape.Format(b)}");
        var ba = sa.Take(sa.Length - 2).ToArray();
        var bb = sb.Take(sb.Length - 2).ToArray();
        Batch = Shape.Broadcast(ba, bb);
        AStr = Shape.BroadcastStrides(ba, Batch).Select(s => s * M * K).ToArray();
        BStr = Shape.BroadcastStrides(bb, Batch).Select(s => s * K * N).ToArray();
        CStr = Shape.Strides(Batch).Select(s => s * M * N).ToArray();
        var outShape = new List<int>(Batch);
        if (a.Length > 1) outShape.Add(M);
        if (b.Length > 1) outShape.Add(N);
        return outShape.ToArray();
    }
}
