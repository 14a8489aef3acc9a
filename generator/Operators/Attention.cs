using System;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// Attention (opset 23): softmax(softcap(Q K^T * scale) + mask) V per query head, K and V heads shared by groups of
/// query heads (grouped-query). Q, K, V are 4-D [B, heads, S, head_size] or 3-D [B, S, heads * head_size] (with
/// q_num_heads and kv_num_heads). past_key/past_value are prepended to K and V (present_key/present_value are the
/// results); is_causal hides keys after the query's position (offset by the past length); attn_mask is boolean
/// (false hides) or added, broadcast to [B, q_heads, Sq, total]. Output 3 is the scores at the stage
/// qk_matmul_output_mode names: 0 Q K^T * scale, 1 after softcap, 2 after the mask, 3 after the softmax.
/// A row whose every key is hidden gets probabilities 0 (Y 0) rather than the NaN of -inf - -inf, as ONNX Runtime does.
/// </summary>
public sealed class Attention : Operator
{
    sealed class St
    {
        public int B, Hq, Hkv, Sq, Skv, P, T, Dk, Dv;
        public long Qb, Qh, Qs, Kb, Kh, Ks, Vb, Vh, Vs, Yb, Yh, Ys; // element strides of batch, head and sequence
        public int[] MaskStrides; // over [B, Hq, Sq, T]; null without a mask
        public bool BoolMask, Causal;
        public double Scale, Softcap;
        public int QkMode = -1;
    }

    public override void Infer(Node n)
    {
        RequireSome(n, 3, 7, 0, 1, 2);
        var q = n.In(0); var k = n.In(1); var v = n.In(2); var mask = n.In(3); var pk = n.In(4); var pv = n.In(5);
        RequireFloat(n, q);
        if (k.Type != q.Type || v.Type != q.Type) throw Error("Attention Q, K and V must have the same element type");
        if (n.In(6) != null) throw Unsupported("Attention nonpad_kv_seqlen (opset 24) is not supported");
        int rank = q.Shape.Length;
        if (rank != 3 && rank != 4 || k.Shape.Length != rank || v.Shape.Length != rank)
            throw Error($"Attention Q, K and V must all be 3-D or all 4-D, got {Shape.Format(q.Shape)}, {Shape.Format(k.Shape)}, {Shape.Format(v.Shape)}");
        var st = new St { B = q.Shape[0], Causal = n.Int("is_causal", 0) != 0, Softcap = n.Float("softcap", 0f) };
        long qh = n.Int("q_num_heads", 0), kvh = n.Int("kv_num_heads", 0);
        if (rank == 4)
        {
            st.Hq = q.Shape[1]; st.Sq = q.Shape[2]; st.Dk = q.Shape[3];
            st.Hkv = k.Shape[1]; st.Skv = k.Shape[2]; st.Dv = v.Shape[3];
            if (qh != 0 && qh != st.Hq || kvh != 0 && kvh != st.Hkv) throw Error("Attention q_num_heads/kv_num_heads differ from the inputs' head dimensions");
            if (k.Shape[3] != st.Dk || v.Shape[1] != st.Hkv || v.Shape[2] != st.Skv) throw Error($"Attention K {Shape.Format(k.Shape)} and V {Shape.Format(v.Shape)} do not agree with Q {Shape.Format(q.Shape)}");
            (st.Qb, st.Qh, st.Qs) = ((long)st.Hq * st.Sq * st.Dk, (long)st.Sq * st.Dk, st.Dk);
            (st.Kb, st.Kh, st.Ks) = ((long)st.Hkv * st.Skv * st.Dk, (long)st.Skv * st.Dk, st.Dk);
            (st.Vb, st.Vh, st.Vs) = ((long)st.Hkv * st.Skv * st.Dv, (long)st.Skv * st.Dv, st.Dv);
            (st.Yb, st.Yh, st.Ys) = ((long)st.Hq * st.Sq * st.Dv, (long)st.Sq * st.Dv, st.Dv);
        }
        else
        {
            if (qh <= 0 || kvh <= 0) throw Error("Attention on 3-D inputs needs q_num_heads and kv_num_heads");
            if (q.Shape[2] % qh != 0 || k.Shape[2] % kvh != 0 || v.Shape[2] % kvh != 0)
                throw Error("Attention hidden sizes must be multiples of q_num_heads (Q) and kv_num_heads (K, V)");
            st.Hq = (int)qh; st.Hkv = (int)kvh; st.Sq = q.Shape[1]; st.Skv = k.Shape[1];
            st.Dk = q.Shape[2] / st.Hq; st.Dv = v.Shape[2] / st.Hkv;
            if (k.Shape[2] / st.Hkv != st.Dk || v.Shape[1] != st.Skv) throw Error($"Attention K {Shape.Format(k.Shape)} and V {Shape.Format(v.Shape)} do not agree with Q {Shape.Format(q.Shape)}");
            (st.Qb, st.Qh, st.Qs) = ((long)st.Sq * q.Shape[2], st.Dk, q.Shape[2]);
            (st.Kb, st.Kh, st.Ks) = ((long)st.Skv * k.Shape[2], st.Dk, k.Shape[2]);
            (st.Vb, st.Vh, st.Vs) = ((long)st.Skv * v.Shape[2], st.Dv, v.Shape[2]);
            (st.Yb, st.Yh, st.Ys) = ((long)st.Sq * st.Hq * st.Dv, st.Dv, (long)st.Hq * st.Dv);
        }
        if (k.Shape[0] != st.B || v.Shape[0] != st.B) throw Error("Attention Q, K and V must have the same batch size");
        if (st.Skv == 0 || st.Dk == 0 || st.Dv == 0) throw Error("Attention needs at least one key and non-empty heads");
        if (st.Hkv == 0 || st.Hq % st.Hkv != 0) throw Error($"Attention q heads ({st.Hq}) must be a multiple of kv heads ({st.Hkv})");
        if ((pk == null) != (pv == null)) throw Error("Attention past_key and past_value come together");
        if (pk != null)
        {
            if (pk.Type != q.Type || pv.Type != q.Type) throw Error("Attention past_key and past_value must have Q's element type");
            st.P = pk.Shape.Length == 4 ? pk.Shape[2] : -1;
            if (!Shape.Equal(pk.Shape, new[] { st.B, st.Hkv, st.P, st.Dk }) || !Shape.Equal(pv.Shape, new[] { st.B, st.Hkv, st.P, st.Dv }))
                throw Error($"Attention past_key {Shape.Format(pk.Shape)} / past_value {Shape.Format(pv.Shape)} must be [{st.B}, {st.Hkv}, past, {st.Dk} / {st.Dv}]");
        }
        st.T = st.P + st.Skv;
        st.Scale = n.Has("scale") ? n.Float("scale", 1f) : 1 / Math.Sqrt(st.Dk);
        if (st.Softcap < 0) throw Error("Attention softcap must not be negative");
        if (mask != null)
        {
            if (mask.Type != DType.Bool && mask.Type != q.Type) throw Error("Attention attn_mask must be bool or Q's element type");
            var full = new[] { st.B, st.Hq, st.Sq, st.T };
            int mr = mask.Shape.Length;
            if (mr < 1 || mr > 4) throw Error($"Attention attn_mask must have rank 1 to 4, got {Shape.Format(mask.Shape)}");
            if (mask.Shape[mr - 1] < st.T)
                throw Unsupported($"Attention attn_mask shorter ({mask.Shape[mr - 1]}) than the total sequence ({st.T}) is not supported");
            for (int i = 0; i < mr; i++)
                if (mask.Shape[i] != 1 && mask.Shape[i] != full[4 - mr + i])
                    throw Error($"Attention attn_mask {Shape.Format(mask.Shape)} does not broadcast to {Shape.Format(full)}");
            st.BoolMask = mask.Type == DType.Bool;
            st.MaskStrides = Shape.BroadcastStrides(mask.Shape, full);
        }
        if (n.Outputs.Count > 4) throw Error("Attention has at most 4 outputs");
        if (n.Outputs.Count > 3)
        {
            st.QkMode = (int)n.Int("qk_matmul_output_mode", 0);
            if (st.QkMode < 0 || st.QkMode > 3) throw Unsupported($"Attention qk_matmul_output_mode {st.QkMode} is not supported (0 to 3)");
        }
        n.State = st;
        SetOut(n, 0, q.Type, rank == 4 ? new[] { st.B, st.Hq, st.Sq, st.Dv } : new[] { st.B, st.Sq, st.Hq * st.Dv });
        if (n.Outputs.Count > 1) SetOut(n, 1, q.Type, new[] { st.B, st.Hkv, st.T, st.Dk });
        if (n.Outputs.Count > 2) SetOut(n, 2, q.Type, new[] { st.B, st.Hkv, st.T, st.Dv });
        if (n.Outputs.Count > 3) SetOut(n, 3, q.Type, new[] { st.B, st.Hq, st.Sq, st.T });
    }

    /// <summary>
    /// One row of scores (the total sequence) while a query is worked on; with the Net kernels and several queries,
    /// then the head's keys as columns [head_size, total] (each query's scores are then vectors of keys).
    /// </summary>
    public override (DType Type, int Elements) Scratch(Node n, TargetProfile profile)
    {
        var st = (St)n.State;
        return (n.In(0).Type, st.T + (KeyColumns(st, n.In(0).Type, profile) ? st.Dk * st.T : 0));
    }

    static bool KeyColumns(St st, DType t, TargetProfile profile) => profile == TargetProfile.Net && t == DType.Float && st.Sq > 1;

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var st = (St)n.State;
        TensorData q = inputs[0], k = inputs[1], v = inputs[2], mask = At(inputs, 3), pk = At(inputs, 4), pv = At(inputs, 5);
        var outs = new TensorData[n.Outputs.Count];
        for (int i = 0; i < outs.Length; i++) outs[i] = q.Like(n.Out(i).Shape);
        double Key(int b, int h, int j, int d) => j < st.P ? pk.GetDouble(((b * st.Hkv + h) * st.P + j) * st.Dk + d) : k.GetDouble((int)(b * st.Kb + h * st.Kh + (j - st.P) * st.Ks) + d);
        double Val(int b, int h, int j, int d) => j < st.P ? pv.GetDouble(((b * st.Hkv + h) * st.P + j) * st.Dv + d) : v.GetDouble((int)(b * st.Vb + h * st.Vh + (j - st.P) * st.Vs) + d);
        for (int b = 0; b < st.B; b++)
            for (int h = 0; h < st.Hkv; h++)
                for (int j = 0; j < st.T; j++)
                {
                    if (outs.Length > 1) for (int d = 0; d < st.Dk; d++) outs[1].Set(((b * st.Hkv + h) * st.T + j) * st.Dk + d, Key(b, h, j, d));
                    if (outs.Length > 2) for (int d = 0; d < st.Dv; d++) outs[2].Set(((b * st.Hkv + h) * st.T + j) * st.Dv + d, Val(b, h, j, d));
                }
        var sc = new double[st.T];
        for (int b = 0; b < st.B; b++)
            for (int h = 0; h < st.Hq; h++)
            {
                int kh = h / (st.Hq / st.Hkv);
                for (int i = 0; i < st.Sq; i++)
                {
                    int qo = (int)(b * st.Qb + h * st.Qh + i * st.Qs), qko = ((b * st.Hq + h) * st.Sq + i) * st.T;
                    for (int j = 0; j < st.T; j++)
                    {
                        double acc = 0;
                        for (int d = 0; d < st.Dk; d++) acc += q.GetDouble(qo + d) * Key(b, kh, j, d);
                        sc[j] = acc * st.Scale;
                        if (st.QkMode == 0) outs[3].Set(qko + j, sc[j]);
                        if (st.Softcap > 0) sc[j] = st.Softcap * Math.Tanh(sc[j] / st.Softcap);
                    }
                    if (st.QkMode == 1) for (int j = 0; j < st.T; j++) outs[3].Set(qko + j, sc[j]);
                    for (int j = 0; j < st.T; j++)
                    {
                        if (mask != null)
                        {
                            int mo = b * st.MaskStrides[0] + h * st.MaskStrides[1] + i * st.MaskStrides[2] + j * st.MaskStrides[3];
                            if (!st.BoolMask) sc[j] += mask.GetDouble(mo);
                            else if (mask.GetLong(mo) == 0) sc[j] = double.NegativeInfinity;
                        }
                        if (st.Causal && j > i + st.P) sc[j] = double.NegativeInfinity;
                    }
                    if (st.QkMode == 2) for (int j = 0; j < st.T; j++) outs[3].Set(qko + j, sc[j]);
                    double mx = double.NegativeInfinity, sum = 0;
                    for (int j = 0; j < st.T; j++) mx = Math.Max(mx, sc[j]);
                    for (int j = 0; j < st.T; j++) { sc[j] = double.IsNegativeInfinity(mx) ? 0 : Math.Exp(sc[j] - mx); sum += sc[j]; }
                    for (int j = 0; j < st.T; j++) if (sum > 0) sc[j] /= sum;
                    if (st.QkMode == 3) for (int j = 0; j < st.T; j++) outs[3].Set(qko + j, sc[j]);
                    int yo = (int)(b * st.Yb + h * st.Yh + i * st.Ys);
                    for (int d = 0; d < st.Dv; d++)
                    {
                        double acc = 0;
                        for (int j = 0; j < st.T; j++) acc += sc[j] * Val(b, kh, j, d);
                        outs[0].Set(yo + d, acc);
                    }
                }
            }
        return outs;
    }

    static TensorData At(TensorData[] inputs, int i) => i < inputs.Length ? inputs[i] : null;

    public override void Emit(Node n, EmitContext e)
    {
        var st = (St)n.State;
        Value q = n.In(0), k = n.In(1), v = n.In(2), mask = n.In(3), pk = n.In(4), pv = n.In(5), y = n.Out(), sc = e.Scratch(n);
        var t = q.Type; var ty = DTypes.CsName(t);
        string hidden = EmitContext.Lit(t, double.NegativeInfinity), zero = EmitContext.Lit(t, 0);
        var w = e.W;
        int opened = 0;
        string Loop(string hint, int count)
        {
            if (count == 1) return "0";
            var i = e.Var(hint);
            w.Open($"for (int {i} = 0; {i} < {count}; {i}++)");
            opened++;
            return i;
        }
        void CloseAll() { WindowEmit.Close(e, opened); opened = 0; }

        // present_key / present_value: the past rows, then the new ones, per batch and kv head
        for (int o = 1; o <= 2 && o < n.Outputs.Count; o++)
        {
            Value past = o == 1 ? pk : pv, cur = o == 1 ? k : v;
            int dh = o == 1 ? st.Dk : st.Dv;
            long cb = o == 1 ? st.Kb : st.Vb, ch = o == 1 ? st.Kh : st.Vh, cs = o == 1 ? st.Ks : st.Vs;
            string b = Loop("b", st.B), h = Loop("h", st.Hkv);
            string dst = Idx.Sum(WindowEmit.Mul(b, (long)st.Hkv * st.T * dh), WindowEmit.Mul(h, (long)st.T * dh));
            var d = e.Var("d");
            if (past != null && st.P > 0)
            {
                string src = Idx.Sum(WindowEmit.Mul(b, (long)st.Hkv * st.P * dh), WindowEmit.Mul(h, (long)st.P * dh));
                w.Line($"for (int {d} = 0; {d} < {st.P * dh}; {d}++) {e.At(n.Out(o), Idx.Sum(dst, d))} = {e.At(past, Idx.Sum(src, d))};");
            }
            string j = Loop("j", st.Skv);
            string s0 = Idx.Sum(WindowEmit.Mul(b, cb), WindowEmit.Mul(h, ch), WindowEmit.Mul(j, cs));
            string d0 = Idx.Sum(dst, WindowEmit.Mul(j, dh), (st.P * dh).ToString());
            w.Line($"for (int {d} = 0; {d} < {dh}; {d}++) {e.At(n.Out(o), Idx.Sum(d0, d))} = {e.At(cur, Idx.Sum(s0, d))};");
            CloseAll();
        }

        {
            string b = Loop("b", st.B), h = Loop("h", st.Hq);
            int group = st.Hq / st.Hkv;
            string kh = group == 1 ? h : h == "0" ? "0" : $"{h} / {group}";
            if (kh.Contains("/")) { var kv = e.Var("kh"); w.Line($"int {kv} = {kh};"); kh = kv; }
            bool kernels = e.Net && t == DType.Float, columns = KeyColumns(st, t, e.Profile);
            string pastK = Idx.Sum(WindowEmit.Mul(b, (long)st.Hkv * st.P * st.Dk), WindowEmit.Mul(kh, (long)st.P * st.Dk));
            string pastV = Idx.Sum(WindowEmit.Mul(b, (long)st.Hkv * st.P * st.Dv), WindowEmit.Mul(kh, (long)st.P * st.Dv));
            string newK = Idx.Sum(WindowEmit.Mul(b, st.Kb), WindowEmit.Mul(kh, st.Kh)), newV = Idx.Sum(WindowEmit.Mul(b, st.Vb), WindowEmit.Mul(kh, st.Vh));
            string Slice(Value x, string start) => start == "0" ? e.Span(x) : $"{e.Span(x)}.Slice({start})";
            string kt = columns ? $"{e.Span(sc)}.Slice({st.T})" : null;
            if (columns)
            {
                if (pk != null && st.P > 0) w.Line($"ModelGen.Runtime.AttentionRows.Columns({Slice(pk, pastK)}, {st.P}, {st.Dk}, {st.Dk}, {kt}, {st.T});");
                w.Line($"ModelGen.Runtime.AttentionRows.Columns({Slice(k, newK)}, {st.Skv}, {st.Ks}, {st.Dk}, {e.Span(sc)}.Slice({st.T + st.P}), {st.T});");
            }
            string i = Loop("i", st.Sq);
            string qo = e.Var("qo");
            w.Line($"int {qo} = {Idx.Sum(WindowEmit.Mul(b, st.Qb), WindowEmit.Mul(h, st.Qh), WindowEmit.Mul(i, st.Qs))};");
            // causal without a scores output: only the keys up to the query's position are worked on (cnt of them)
            bool restrict = st.Causal && st.QkMode < 0;
            string cnt = st.T.ToString();
            if (restrict)
            {
                int first = Math.Min(st.P + 1, st.T);
                if (i == "0") cnt = first.ToString();
                else
                {
                    cnt = e.Var("cnt");
                    w.Line(st.Sq <= st.Skv ? $"int {cnt} = {Idx.Sum(i, (st.P + 1).ToString())};" : $"int {cnt} = {i} + {st.P + 1} < {st.T} ? {i} + {st.P + 1} : {st.T};");
                }
            }
            string acc = e.Var("acc"), d = e.Var("d"), j = e.Var("j"), r = e.Var("r");
            string qk = st.QkMode < 0 ? null : Idx.Sum(WindowEmit.Mul(b, (long)st.Hq * st.Sq * st.T), WindowEmit.Mul(h, (long)st.Sq * st.T), WindowEmit.Mul(i, st.T));
            string Count(int from, string to) => int.TryParse(to, out var c) ? (c - from).ToString() : Idx.Sum(to, (-from).ToString());

            // scores: the past keys, then the new ones
            void Scores(Value keys, int from, string to, string rowBase, long rowStride)
            {
                if (kernels)
                {
                    w.Line($"ModelGen.Runtime.AttentionRows.Scores({e.Span(q)}.Slice({qo}, {st.Dk}), {Slice(keys, rowBase)}, {Count(from, to)}, {rowStride}, {st.Dk}, {EmitContext.Lit(t, st.Scale)}, {Slice(sc, from.ToString())});");
                    if (st.QkMode == 0) w.Line($"for (int {j} = {from}; {j} < {to}; {j}++) {e.At(n.Out(3), Idx.Sum(qk, j))} = {e.At(sc, j)};");
                    if (st.Softcap > 0)
                        w.Line($"for (int {j} = {from}; {j} < {to}; {j}++) {e.At(sc, j)} = {Softcap(e.At(sc, j))};");
                    return;
                }
                w.Open($"for (int {j} = {from}; {j} < {to}; {j}++)");
                w.Line($"int {r} = {Idx.Sum(rowBase, Idx.Mul(from == 0 ? j : $"({j} - {from})", rowStride))};");
                w.Line($"{ty} {acc} = {zero};");
                w.Line($"for (int {d} = 0; {d} < {st.Dk}; {d}++) {acc} += {e.At(q, Idx.Sum(qo, d))} * {e.At(keys, Idx.Sum(r, d))};");
                w.Line($"{acc} *= {EmitContext.Lit(t, st.Scale)};");
                if (st.QkMode == 0) w.Line($"{e.At(n.Out(3), Idx.Sum(qk, j))} = {acc};");
                w.Line($"{e.At(sc, j)} = {(st.Softcap > 0 ? Softcap(acc) : acc)};");
                w.Close();
            }
            string Softcap(string s) => $"{EmitContext.Lit(t, st.Softcap)} * {WindowEmit.Math(e, "Tanh", t, $"{s} / {EmitContext.Lit(t, st.Softcap)}")}";
            if (columns)
            {
                w.Line($"ModelGen.Runtime.AttentionRows.ScoresOfColumns({e.Span(q)}.Slice({qo}, {st.Dk}), {kt}, {st.T}, {cnt}, {st.Dk}, {EmitContext.Lit(t, st.Scale)}, {e.Span(sc)});");
                if (st.QkMode == 0) w.Line($"for (int {j} = 0; {j} < {cnt}; {j}++) {e.At(n.Out(3), Idx.Sum(qk, j))} = {e.At(sc, j)};");
                if (st.Softcap > 0) w.Line($"for (int {j} = 0; {j} < {cnt}; {j}++) {e.At(sc, j)} = {Softcap(e.At(sc, j))};");
            }
            else
            {
                if (pk != null && st.P > 0) Scores(pk, 0, st.P.ToString(), pastK, st.Dk);
                Scores(k, st.P, cnt, newK, st.Ks);
            }
            void CopyScores() => w.Line($"for (int {j} = 0; {j} < {st.T}; {j}++) {e.At(n.Out(3), Idx.Sum(qk, j))} = {e.At(sc, j)};");
            if (st.QkMode == 1) CopyScores();
            if (mask != null)
            {
                var ms = st.MaskStrides;
                string mo = Idx.Sum(WindowEmit.Mul(b, ms[0]), WindowEmit.Mul(h, ms[1]), WindowEmit.Mul(i, ms[2]), WindowEmit.Mul(j, ms[3]));
                w.Line(st.BoolMask
                    ? $"for (int {j} = 0; {j} < {cnt}; {j}++) if (!{e.At(mask, mo)}) {e.At(sc, j)} = {hidden};"
                    : $"for (int {j} = 0; {j} < {cnt}; {j}++) {e.At(sc, j)} += {e.At(mask, mo)};");
            }
            if (st.Causal && !restrict)
                w.Line($"for (int {j} = {Idx.Sum(i, (st.P + 1).ToString())}; {j} < {st.T}; {j}++) {e.At(sc, j)} = {hidden};");
            if (st.QkMode == 2) CopyScores();
            // softmax; with a mask a row may hide every key (max -inf): probabilities 0
            string mx = e.Var("max");
            bool guard = mask != null;
            if (guard || !kernels)
            {
                w.Line($"{ty} {mx} = {e.At(sc, "0")};");
                w.Line($"for (int {j} = 1; {j} < {cnt}; {j}++) if ({e.At(sc, j)} > {mx}) {mx} = {e.At(sc, j)};");
            }
            if (guard) w.Line($"if ({mx} == {hidden}) for (int {j} = 0; {j} < {cnt}; {j}++) {e.At(sc, j)} = {zero};");
            if (guard) w.Open("else");
            if (kernels)
                w.Line($"ModelGen.Runtime.Transcendental.Softmax({e.Span(sc)}, {e.Span(sc)}, 1, {cnt});");
            else
            {
                string sum = e.Var("sum"), x = e.Var("x");
                w.Line($"{ty} {sum} = {zero};");
                w.Line($"for (int {j} = 0; {j} < {cnt}; {j}++) {{ {ty} {x} = {WindowEmit.Math(e, "Exp", t, $"{e.At(sc, j)} - {mx}")}; {e.At(sc, j)} = {x}; {sum} += {x}; }}");
                w.Line($"{sum} = {EmitContext.Lit(t, 1)} / {sum};");
                w.Line($"for (int {j} = 0; {j} < {cnt}; {j}++) {e.At(sc, j)} *= {sum};");
            }
            if (guard) w.Close();
            if (st.QkMode == 3) CopyScores();
            // Y row = sum over keys of probability * value row
            string yo = e.Var("yo");
            w.Line($"int {yo} = {Idx.Sum(WindowEmit.Mul(b, st.Yb), WindowEmit.Mul(h, st.Yh), WindowEmit.Mul(i, st.Ys))};");
            if (kernels)
            {
                bool past = pv != null && st.P > 0;
                if (past) w.Line($"ModelGen.Runtime.AttentionRows.Weighted({e.Span(sc)}, {Slice(pv, pastV)}, {st.P}, {st.Dv}, {st.Dv}, false, {e.Span(y)}.Slice({yo}, {st.Dv}));");
                w.Line($"ModelGen.Runtime.AttentionRows.Weighted({Slice(sc, st.P.ToString())}, {Slice(v, newV)}, {Count(st.P, cnt)}, {st.Vs}, {st.Dv}, {(past ? "true" : "false")}, {e.Span(y)}.Slice({yo}, {st.Dv}));");
            }
            else
            {
                w.Line($"for (int {d} = 0; {d} < {st.Dv}; {d}++) {e.At(y, Idx.Sum(yo, d))} = {zero};");
                string p = e.Var("p");
                void Values(Value vals, int from, string to, string rowBase, long rowStride)
                {
                    w.Open($"for (int {j} = {from}; {j} < {to}; {j}++)");
                    w.Line($"int {r} = {Idx.Sum(rowBase, Idx.Mul(from == 0 ? j : $"({j} - {from})", rowStride))};");
                    w.Line($"{ty} {p} = {e.At(sc, j)};");
                    w.Line($"for (int {d} = 0; {d} < {st.Dv}; {d}++) {e.At(y, Idx.Sum(yo, d))} += {p} * {e.At(vals, Idx.Sum(r, d))};");
                    w.Close();
                }
                if (pv != null && st.P > 0) Values(pv, 0, st.P.ToString(), pastV, st.Dv);
                Values(v, st.P, cnt, newV, st.Vs);
            }
            CloseAll();
        }
    }
}
