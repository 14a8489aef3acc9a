using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// MatMul with numpy semantics: a 1-D A is a row [1, K] and a 1-D B a column [K, 1] (the added dimension is removed
/// from the result); leading batch dimensions broadcast.
/// </summary>
public sealed class MatMul : Operator
{
    sealed class St
    {
        public int M, N, K;
        public int[] Batch, AStr, BStr, CStr;
    }

    public override void Infer(Node n)
    {
        Require(n, 2, 2);
        var a = n.In(0); var b = n.In(1);
        if (!(DTypes.IsFloat(a.Type) || a.Type is DType.Int32 or DType.Int64 or DType.UInt32 or DType.UInt64))
            throw new CompileException(Diag.UnsupportedType, $"MatMul on {DTypes.OnnxName(a.Type)} is not supported (float, double, int32, int64, uint32, uint64)");
        if (b.Type != a.Type) throw Error("MatMul inputs must share one element type");
        if (a.Shape.Length == 0 || b.Shape.Length == 0) throw Error("MatMul does not take scalars");
        var sa = a.Shape.Length == 1 ? new[] { 1, a.Shape[0] } : a.Shape;
        var sb = b.Shape.Length == 1 ? new[] { b.Shape[0], 1 } : b.Shape;
        var st = new St { M = sa[sa.Length - 2], K = sa[sa.Length - 1], N = sb[sb.Length - 1] };
        if (sb[sb.Length - 2] != st.K) throw Error($"MatMul inner dimensions differ: {Shape.Format(a.Shape)} x {Shape.Format(b.Shape)}");
        var ba = sa.Take(sa.Length - 2).ToArray();
        var bb = sb.Take(sb.Length - 2).ToArray();
        st.Batch = Shape.Broadcast(ba, bb);
        st.AStr = Shape.BroadcastStrides(ba, st.Batch).Select(s => s * st.M * st.K).ToArray();
        st.BStr = Shape.BroadcastStrides(bb, st.Batch).Select(s => s * st.K * st.N).ToArray();
        st.CStr = Shape.Strides(st.Batch).Select(s => s * st.M * st.N).ToArray();
        var outShape = new List<int>(st.Batch);
        if (a.Shape.Length > 1) outShape.Add(st.M);
        if (b.Shape.Length > 1) outShape.Add(st.N);
        n.State = st;
        SetOut(n, 0, a.Type, outShape.ToArray());
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var st = (St)n.State;
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
        if (K == 0) { var z = e.Var("i"); w.Line($"for (int {z} = 0; {z} < {c.Length}; {z}++) {e.At(c, z)} = {EmitContext.Lit(t, 0)};"); return; }
        // loops over the broadcast batch dimensions
        int opened = 0;
        var aT = new List<string>(); var bT = new List<string>(); var cT = new List<string>();
        for (int d = 0; d < st.Batch.Length; d++)
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
            w.Line($"ModelGen.Runtime.MatMul.Run({S(a, ao, M * K)}, {S(b, bo, K * N)}, {S(c, co, M * N)}, {M}, {N}, {K});");
        }
        else
        {
            string m = M > 1 ? e.Var("m") : "0", j = N > 1 ? e.Var("n") : "0", k = e.Var("k"), acc = e.Var("acc");
            if (M > 1) w.Open($"for (int {m} = 0; {m} < {M}; {m}++)");
            var ar = Idx.Sum(ao, WindowEmit.Mul(m, K));
            var cr = Idx.Sum(co, WindowEmit.Mul(m, N));
            if (M > 1 && ar.Contains("+")) { var v = e.Var("ar"); w.Line($"int {v} = {ar};"); ar = v; }
            if (M > 1 && cr.Contains("+")) { var v = e.Var("cr"); w.Line($"int {v} = {cr};"); cr = v; }
            if (N > 1) w.Open($"for (int {j} = 0; {j} < {N}; {j}++)");
            w.Line($"{ty} {acc} = {EmitContext.Lit(t, 0)};");
            w.Line($"for (int {k} = 0; {k} < {K}; {k}++) {acc} += {e.At(a, Idx.Sum(ar, k))} * {e.At(b, Idx.Sum(bo, Idx.Mul(k, N), WindowEmit.Mul(j, 1)))};");
            w.Line($"{e.At(c, Idx.Sum(cr, WindowEmit.Mul(j, 1)))} = {acc};");
            if (N > 1) w.Close();
            if (M > 1) w.Close();
        }
        WindowEmit.Close(e, opened);
    }
}
