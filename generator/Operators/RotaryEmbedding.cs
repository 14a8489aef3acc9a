using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// RotaryEmbedding (opset 23): rotates the first rotary_embedding_dim elements of each head's vector in pairs, the
/// pairs being the two halves (default) or adjacent elements (interleaved), by the angle whose cos and sin are read
/// from the caches: at row position_ids[b, s] ([max_position, rd/2] caches) or, without position_ids, at (b, s)
/// ([batch, sequence, rd/2] caches). The rest of the vector is copied. Input [B, H, S, D], or [B, S, H * D] with num_heads.
/// </summary>
public sealed class RotaryEmbedding : Operator
{
    sealed class St
    {
        public int B, H, S, D, Half, Rows;
        public bool Interleaved, CheckIds;
        public long Sb, Sh, Ss; // element strides of batch, head and sequence in the input
    }

    /// <summary>Each element (each rotated pair) is read before its output is written.</summary>
    public override bool ElementwiseInPlace => true;

    public override void Infer(Node n)
    {
        RequireSome(n, 3, 4, 0, 1, 2);
        var x = n.In(0); var cos = n.In(1); var sin = n.In(2); var ids = n.Inputs.Count > 3 ? n.In(3) : null;
        RequireFloat(n, x);
        if (cos.Type != x.Type || sin.Type != x.Type) throw Error("RotaryEmbedding caches must have the input's element type");
        var st = new St { Interleaved = n.Int("interleaved", 0) != 0 };
        long heads = n.Int("num_heads", 0);
        if (x.Shape.Length == 4)
        {
            st.B = x.Shape[0]; st.H = x.Shape[1]; st.S = x.Shape[2]; st.D = x.Shape[3];
            if (heads != 0 && heads != st.H) throw Error($"RotaryEmbedding num_heads {heads} differs from the input's {st.H} heads");
            st.Sb = (long)st.H * st.S * st.D; st.Sh = (long)st.S * st.D; st.Ss = st.D;
        }
        else if (x.Shape.Length == 3)
        {
            if (heads <= 0) throw Error("RotaryEmbedding on a 3-D input [batch, sequence, hidden] needs num_heads");
            if (x.Shape[2] % heads != 0) throw Error($"RotaryEmbedding hidden size {x.Shape[2]} is not a multiple of num_heads {heads}");
            st.B = x.Shape[0]; st.S = x.Shape[1]; st.H = (int)heads; st.D = x.Shape[2] / st.H;
            st.Sb = (long)st.S * x.Shape[2]; st.Sh = st.D; st.Ss = x.Shape[2];
        }
        else throw Error($"RotaryEmbedding input must be 3-D or 4-D, got {Shape.Format(x.Shape)}");
        long rd = n.Int("rotary_embedding_dim", 0);
        if (rd == 0) rd = st.D;
        if (rd < 0 || rd > st.D || rd % 2 != 0) throw Error($"RotaryEmbedding rotary_embedding_dim {rd} must be even and at most the head size {st.D}");
        st.Half = (int)rd / 2;
        if (!Shape.Equal(cos.Shape, sin.Shape)) throw Error("RotaryEmbedding cos_cache and sin_cache must have the same shape");
        if (ids != null)
        {
            if (ids.Type != DType.Int64) throw Error("RotaryEmbedding position_ids must be int64");
            if (!Shape.Equal(ids.Shape, new[] { st.B, st.S })) throw Error($"RotaryEmbedding position_ids must have shape [{st.B}, {st.S}], got {Shape.Format(ids.Shape)}");
            if (cos.Shape.Length != 2 || cos.Shape[1] != st.Half) throw Error($"RotaryEmbedding caches with position_ids must have shape [max_position, {st.Half}], got {Shape.Format(cos.Shape)}");
            st.Rows = cos.Shape[0];
            st.CheckIds = !ids.IsConst;
            if (ids.IsConst)
                for (int i = 0; i < ids.Length; i++)
                    if (ids.Const.GetLong(i) < 0 || ids.Const.GetLong(i) >= st.Rows) throw Error($"RotaryEmbedding position id {ids.Const.GetLong(i)} is outside the caches' {st.Rows} rows");
        }
        else if (!Shape.Equal(cos.Shape, new[] { st.B, st.S, st.Half }))
            throw Error($"RotaryEmbedding caches without position_ids must have shape [{st.B}, {st.S}, {st.Half}], got {Shape.Format(cos.Shape)}");
        n.State = st;
        SetOut(n, 0, x.Type, x.Shape);
    }

    /// <summary>Offsets of the k-th rotated pair inside a head's vector.</summary>
    static (int First, int Second) Pair(St st, int k) => st.Interleaved ? (2 * k, 2 * k + 1) : (k, k + st.Half);

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var st = (St)n.State;
        var x = inputs[0]; var cos = inputs[1]; var sin = inputs[2]; var ids = inputs.Length > 3 ? inputs[3] : null;
        var y = x.Like(x.Shape);
        for (int b = 0; b < st.B; b++)
            for (int s = 0; s < st.S; s++)
            {
                long row = ids != null ? ids.GetLong(b * st.S + s) : b * st.S + s;
                if (row < 0 || row >= (ids != null ? st.Rows : st.B * st.S)) throw Error($"RotaryEmbedding position id {row} is outside the caches");
                int c = (int)row * st.Half;
                for (int h = 0; h < st.H; h++)
                {
                    int bs = (int)(b * st.Sb + h * st.Sh + s * st.Ss);
                    for (int k = 0; k < st.Half; k++)
                    {
                        var (i1, i2) = Pair(st, k);
                        double x1 = x.GetDouble(bs + i1), x2 = x.GetDouble(bs + i2), cv = cos.GetDouble(c + k), sv = sin.GetDouble(c + k);
                        y.Set(bs + i1, cv * x1 - sv * x2);
                        y.Set(bs + i2, sv * x1 + cv * x2);
                    }
                    for (int d = 2 * st.Half; d < st.D; d++) y.Set(bs + d, x.GetDouble(bs + d));
                }
            }
        return new[] { y };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var st = (St)n.State;
        var x = n.In(0); var y = n.Out(); var cos = n.In(1); var sin = n.In(2); var ids = n.Inputs.Count > 3 ? n.In(3) : null;
        var ty = DTypes.CsName(x.Type);
        var w = e.W;
        if (y.Length == 0) return;
        int opened = 0;
        string b = "0", s = "0", h = "0";
        if (st.B > 1) { b = e.Var("b"); w.Open($"for (int {b} = 0; {b} < {st.B}; {b}++)"); opened++; }
        if (st.S > 1) { s = e.Var("s"); w.Open($"for (int {s} = 0; {s} < {st.S}; {s}++)"); opened++; }
        string bs = Idx.Sum(WindowEmit.Mul(b, st.S), WindowEmit.Mul(s, 1));
        var c = e.Var("c");
        if (ids != null)
        {
            var p = e.Var("p");
            w.Line($"long {p} = {e.At(ids, bs)};");
            if (st.CheckIds) w.Line($"if ({p} < 0 || {p} >= {st.Rows}) throw new IndexOutOfRangeException(\"RotaryEmbedding position id out of range\");");
            w.Line($"int {c} = {Idx.Mul($"(int){p}", st.Half)};");
        }
        else w.Line($"int {c} = {Idx.Sum(WindowEmit.Mul(bs, st.Half))};");
        if (st.H > 1) { h = e.Var("h"); w.Open($"for (int {h} = 0; {h} < {st.H}; {h}++)"); opened++; }
        var r = e.Var("r");
        w.Line($"int {r} = {Idx.Sum(WindowEmit.Mul(b, st.Sb), WindowEmit.Mul(h, st.Sh), WindowEmit.Mul(s, st.Ss))};");
        string k = e.Var("k"), x1 = e.Var("x1"), x2 = e.Var("x2"), cv = e.Var("cos"), sv = e.Var("sin");
        string i1 = st.Interleaved ? Idx.Sum(r, Idx.Mul(k, 2)) : Idx.Sum(r, k);
        string i2 = st.Interleaved ? Idx.Sum(r, Idx.Mul(k, 2), "1") : Idx.Sum(r, k, st.Half.ToString());
        w.Open($"for (int {k} = 0; {k} < {st.Half}; {k}++)");
        w.Line($"{ty} {x1} = {e.At(x, i1)}, {x2} = {e.At(x, i2)}, {cv} = {e.At(cos, Idx.Sum(c, k))}, {sv} = {e.At(sin, Idx.Sum(c, k))};");
        w.Line($"{e.At(y, i1)} = {cv} * {x1} - {sv} * {x2};");
        w.Line($"{e.At(y, i2)} = {sv} * {x1} + {cv} * {x2};");
        w.Close();
        if (2 * st.Half < st.D)
        {
            var d = e.Var("d");
            w.Line($"for (int {d} = {2 * st.Half}; {d} < {st.D}; {d}++) {e.At(y, Idx.Sum(r, d))} = {e.At(x, Idx.Sum(r, d))};");
        }
        WindowEmit.Close(e, opened);
    }
}
