using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>MeanVarianceNormalization over 'axes' (default [0,2,3]): (x - E[x]) / (sqrt(E[x^2] - E[x]^2) + 1e-9), as ONNX's function body.</summary>
public sealed class MeanVarianceNormalization : Operator
{
    sealed class Plan { public bool[] Reduced; }

    public override void Infer(Node n)
    {
        Require(n, 1, 1);
        var x = n.In(0);
        RequireFloat(n, x);
        var axes = n.Ints("axes") ?? new long[] { 0, 2, 3 };
        var red = new bool[x.Shape.Length];
        foreach (var a in axes) red[Shape.Axis(a, x.Shape.Length)] = true;
        n.State = new Plan { Reduced = red };
        SetOut(n, 0, x.Type, x.Shape);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var p = (Plan)n.State;
        var x = inputs[0];
        var shape = x.Shape;
        var keptShape = shape.Select((d, i) => p.Reduced[i] ? 1 : d).ToArray();
        var sum = new double[Shape.Count(keptShape)]; var sq = new double[sum.Length];
        int count = x.Length / sum.Length;
        Broadcast.ForEach(shape, new[] { keptShape }, (o, idx) => { double v = x.GetDouble(o); sum[idx[0]] += v; sq[idx[0]] += v * v; });
        var r = x.Like(shape);
        Broadcast.ForEach(shape, new[] { keptShape }, (o, idx) =>
        {
            double m = sum[idx[0]] / count, var = sq[idx[0]] / count - m * m;
            r.Set(o, (x.GetDouble(o) - m) / (System.Math.Sqrt(var) + 1e-9));
        });
        return new[] { r };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var p = (Plan)n.State;
        var x = n.In(0); var y = n.Out();
        var shape = x.Shape;
        var st = Shape.Strides(shape);
        var kept = shape.Select((d, i) => p.Reduced[i] ? 1 : d).ToArray();
        var red = shape.Select((d, i) => p.Reduced[i] ? d : 1).ToArray();
        int count = Shape.Count(red);
        var t = DTypes.CsName(x.Type);
        var w = e.W;
        var kv = Loops.Open(e, kept, "k");
        string sum = e.Var("sum"), sq = e.Var("sq"), mean = e.Var("mean"), den = e.Var("den"), v = e.Var("v");
        w.Line($"{t} {sum} = 0, {sq} = 0;");
        var rv = Loops.Open(e, red, "r");
        var at = Idx.Sum(Loops.Flat(kv, st), Loops.Flat(rv, st));
        w.Line($"{t} {v} = {e.At(x, at)};");
        w.Line($"{sum} += {v}; {sq} += {v} * {v};");
        Loops.Close(e, red);
        w.Line($"{t} {mean} = {sum} / {count};");
        w.Line($"{t} {den} = {e.Math("Sqrt", x.Type, $"{sq} / {count} - {mean} * {mean}")} + {EmitContext.Lit(x.Type, 1e-9)};");
        rv = Loops.Open(e, red, "r");
        at = Idx.Sum(Loops.Flat(kv, st), Loops.Flat(rv, st));
        w.Line($"{e.At(y, at)} = ({e.At(x, at)} - {mean}) / {den};");
        Loops.Close(e, red);
        Loops.Close(e, kept);
    }
}

/// <summary>LRN across channels: y = x / (bias + alpha / size * sum of squares over the channel window)^beta.</summary>
public sealed class Lrn : Operator
{
    public override void Infer(Node n)
    {
        Require(n, 1, 1);
        var x = n.In(0);
        RequireFloat(n, x);
        if (x.Shape.Length < 3) throw Error("LRN takes an N x C x D1 ... input");
        if (n.Int("size", 0) <= 0) throw Error("LRN needs a positive 'size'");
        SetOut(n, 0, x.Type, x.Shape);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var x = inputs[0];
        int N = x.Shape[0], C = x.Shape[1], S = x.Length / (N * C);
        int size = (int)n.Int("size", 1);
        double alpha = n.Float("alpha", 1e-4f), beta = n.Float("beta", 0.75f), bias = n.Float("bias", 1f);
        int lo = (size - 1) / 2, hi = size - 1 - lo;
        var r = x.Like(x.Shape);
        for (int b = 0; b < N; b++)
            for (int c = 0; c < C; c++)
                for (int s = 0; s < S; s++)
                {
                    double sq = 0;
                    for (int k = System.Math.Max(0, c - lo); k <= System.Math.Min(C - 1, c + hi); k++) { double v = x.GetDouble((b * C + k) * S + s); sq += v * v; }
                    int at = (b * C + c) * S + s;
                    r.Set(at, x.GetDouble(at) / System.Math.Pow(bias + alpha / size * sq, beta));
                }
        return new[] { r };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var x = n.In(0); var y = n.Out();
        int N = x.Shape[0], C = x.Shape[1], S = x.Length / (N * C);
        int size = (int)n.Int("size", 1);
        float alpha = n.Float("alpha", 1e-4f), beta = n.Float("beta", 0.75f), bias = n.Float("bias", 1f);
        int lo = (size - 1) / 2, hi = size - 1 - lo;
        var t = DTypes.CsName(x.Type);
        string b = e.Var("b"), c = e.Var("c"), s = e.Var("s"), k = e.Var("k"), sq = e.Var("sq"), v = e.Var("v");
        var w = e.W;
        w.Open($"for (int {b} = 0; {b} < {N}; {b}++)");
        w.Open($"for (int {c} = 0; {c} < {C}; {c}++)");
        w.Open($"for (int {s} = 0; {s} < {S}; {s}++)");
        w.Line($"{t} {sq} = 0;");
        w.Line($"int {k}0 = {c} - {lo} < 0 ? 0 : {c} - {lo}, {k}1 = {c} + {hi} > {C - 1} ? {C - 1} : {c} + {hi};");
        w.Line($"for (int {k} = {k}0; {k} <= {k}1; {k}++) {{ {t} {v} = {e.At(x, Idx.Sum(Idx.Mul(b, (long)C * S), Idx.Mul(k, S), s))}; {sq} += {v} * {v}; }}");
        var at = Idx.Sum(Idx.Mul(b, (long)C * S), Idx.Mul(c, S), s);
        w.Line($"{e.At(y, at)} = {e.At(x, at)} / {e.Math("Pow", x.Type, $"{EmitContext.Lit(x.Type, bias)} + {EmitContext.Lit(x.Type, alpha / size)} * {sq}", EmitContext.Lit(x.Type, beta))};");
        w.Close(); w.Close(); w.Close();
    }
}
