using System;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// ReverseSequence (opset 10): input [max_len, batch, ...] (time_axis 0, batch_axis 1, the defaults) or
/// [batch, max_len, ...] (time_axis 1, batch_axis 0); for each batch entry b the first sequence_lens[b] steps along the
/// time axis are reversed, the rest copied. sequence_lens (int64 [batch]) may be a run-time input; lengths are clamped
/// to [0, max_len] in the generated code.
/// </summary>
public sealed class ReverseSequence : Operator
{
    sealed class St { public bool TimeFirst; public int T, B, Inner; }

    public override void Infer(Node n)
    {
        Require(n, 2, 2);
        var x = n.In(0); var lens = n.In(1);
        TensorOps.RequireSupported(n, x);
        if (x.Shape.Length < 2) throw Error($"ReverseSequence input must have rank 2 or more, has shape {Shape.Format(x.Shape)}");
        long ta = n.Int("time_axis", 0), ba = n.Int("batch_axis", 1);
        if (!(ta == 0 && ba == 1 || ta == 1 && ba == 0)) throw Error($"ReverseSequence time_axis {ta} and batch_axis {ba} must be 0 and 1 in some order");
        var st = new St { TimeFirst = ta == 0, T = x.Shape[(int)ta], B = x.Shape[(int)ba], Inner = TensorOps.Product(x.Shape, 2, x.Shape.Length) };
        if (lens.Type != DType.Int64 && lens.Type != DType.Int32) throw Error("ReverseSequence sequence_lens must be int64");
        if (lens.Shape.Length != 1 || lens.Shape[0] != st.B) throw Error($"ReverseSequence sequence_lens must be [batch] = [{st.B}], has shape {Shape.Format(lens.Shape)}");
        n.State = st;
        SetOut(n, 0, x.Type, x.Shape);
    }

    int At(St st, int t, int b) => (st.TimeFirst ? t * st.B + b : b * st.T + t) * st.Inner;

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var st = (St)n.State;
        var x = inputs[0]; var lens = inputs[1];
        var y = x.Like(x.Shape);
        for (int b = 0; b < st.B; b++)
        {
            long len = Math.Min(Math.Max(lens.GetLong(b), 0), st.T);
            for (int t = 0; t < st.T; t++)
            {
                int s = t < len ? (int)len - 1 - t : t;
                for (int k = 0; k < st.Inner; k++) y.CopyElement(At(st, t, b) + k, x, At(st, s, b) + k);
            }
        }
        return new[] { y };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var st = (St)n.State;
        var x = n.In(0); var y = n.Out();
        if (y.Length == 0) return;
        var w = e.W;
        string b = e.Var("b"), t = e.Var("t"), len = e.Var("len"), s = e.Var("s");
        w.Open($"for (int {b} = 0; {b} < {st.B}; {b}++)");
        w.Line($"long {len} = {e.At(n.In(1), b)};");
        w.Line($"if ({len} < 0) {len} = 0; else if ({len} > {st.T}) {len} = {st.T};");
        w.Open($"for (int {t} = 0; {t} < {st.T}; {t}++)");
        w.Line($"int {s} = {t} < {len} ? (int){len} - 1 - {t} : {t};");
        string Off(string tv) => st.TimeFirst ? Idx.Mul(Idx.Sum(Idx.Mul(tv, st.B), b), st.Inner) : Idx.Mul(Idx.Sum(Idx.Mul(b, st.T), tv), st.Inner);
        if (st.Inner == 1) w.Line($"{e.At(y, Off(t))} = {e.At(x, Off(s))};");
        else
        {
            string k = e.Var("k"), dy = e.Var("dst"), sx = e.Var("src");
            w.Line($"int {dy} = {Off(t)}, {sx} = {Off(s)};");
            w.Line($"for (int {k} = 0; {k} < {st.Inner}; {k}++) {e.At(y, $"{dy} + {k}")} = {e.At(x, $"{sx} + {k}")};");
        }
        w.Close();
        w.Close();
    }
}
