using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>Trilu: keeps the upper (j - i >= k) or lower (j - i <= k) triangle of the last two dims; k from a constant input.</summary>
public sealed class Trilu : Operator
{
    public override void Infer(Node n)
    {
        Require(n, 1, 2);
        var x = n.In(0);
        if (x.Shape.Length < 2) throw Error("Trilu needs a rank >= 2 input");
        if (n.In(1) != null && !n.In(1).IsConst) throw new CompileException(Diag.DynamicShape, "Trilu's k must be known at build time");
        SetOut(n, 0, x.Type, x.Shape);
    }

    static long K(Node n) => n.In(1)?.Const.GetLong(0) ?? 0;
    static bool Keep(bool upper, long k, int i, int j) => upper ? j - i >= k : j - i <= k;

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var x = inputs[0];
        var r = x.Like(x.Shape);
        int rows = x.Shape[x.Shape.Length - 2], cols = x.Shape[x.Shape.Length - 1];
        bool upper = n.Int("upper", 1) != 0;
        long k = K(n);
        for (int o = 0; o < r.Length; o++)
        {
            int j = o % cols, i = o / cols % rows;
            if (Keep(upper, k, i, j)) r.CopyElement(o, x, o);
        }
        return new[] { r };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var x = n.In(0); var y = n.Out();
        int rows = x.Shape[x.Shape.Length - 2], cols = x.Shape[x.Shape.Length - 1], batch = x.Length / (rows * cols);
        bool upper = n.Int("upper", 1) != 0;
        long k = K(n);
        string b = e.Var("b"), i = e.Var("i"), j = e.Var("j"), o = e.Var("o");
        var w = e.W;
        w.Open($"for (int {b} = 0; {b} < {batch}; {b}++)");
        w.Open($"for (int {i} = 0; {i} < {rows}; {i}++)");
        w.Open($"for (int {j} = 0; {j} < {cols}; {j}++)");
        w.Line($"int {o} = {Idx.Sum(Idx.Mul(b, rows * cols), Idx.Mul(i, cols), j)};");
        w.Line($"{e.At(y, o)} = {j} - {i} {(upper ? ">=" : "<=")} {k} ? {e.At(x, o)} : {EmitContext.Lit(x.Type, 0)};");
        w.Close(); w.Close(); w.Close();
    }
}

/// <summary>EyeLike: ones on the k-th diagonal of a 2-D shape; depends only on the input's shape, so always folded.</summary>
public sealed class EyeLike : Operator
{
    public override bool ShapeOnly => true;

    public override void Infer(Node n)
    {
        Require(n, 1, 1);
        var x = n.In(0);
        if (x.Shape.Length != 2) throw Error("EyeLike takes a 2-D input");
        var t = n.Has("dtype") ? (DType)n.Int("dtype", 1) : x.Type;
        if (!DTypes.IsSupported(t)) throw new CompileException(Diag.UnsupportedType, $"EyeLike dtype {t}");
        SetOut(n, 0, t, x.Shape);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var y = n.Out();
        var r = new TensorData(y.Type, y.Shape);
        long k = n.Int("k", 0);
        for (int i = 0; i < y.Shape[0]; i++)
        {
            long j = i + k;
            if (j >= 0 && j < y.Shape[1]) r.Set(i * y.Shape[1] + (int)j, 1);
        }
        return new[] { r };
    }

    public override void Emit(Node n, EmitContext e) => throw new CompileException(Diag.InternalError, "EyeLike is always folded");
}
