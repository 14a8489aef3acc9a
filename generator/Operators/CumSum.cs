using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>CumSum along a constant axis; exclusive and reverse attributes.</summary>
public sealed class CumSum : Operator
{
    sealed class Plan { public int Outer, Dim, Inner; public bool Exclusive, Reverse; }

    public override void Infer(Node n)
    {
        Require(n, 2, 2);
        var x = n.In(0); var axis = n.In(1);
        if (!axis.IsConst) throw new CompileException(Diag.DynamicShape, "CumSum's axis must be known at build time");
        if (x.Type == DType.Bool) throw Error("CumSum on bool is not defined");
        int a = Shape.Axis(axis.Const.GetLong(0), x.Shape.Length);
        int outer = 1, inner = 1;
        for (int i = 0; i < a; i++) outer *= x.Shape[i];
        for (int i = a + 1; i < x.Shape.Length; i++) inner *= x.Shape[i];
        n.State = new Plan { Outer = outer, Dim = x.Shape[a], Inner = inner, Exclusive = n.Int("exclusive", 0) != 0, Reverse = n.Int("reverse", 0) != 0 };
        SetOut(n, 0, x.Type, x.Shape);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var p = (Plan)n.State;
        var x = inputs[0];
        var r = x.Like(x.Shape);
        for (int o = 0; o < p.Outer; o++)
            for (int i = 0; i < p.Inner; i++)
            {
                double acc = 0;
                for (int s = 0; s < p.Dim; s++)
                {
                    int d = p.Reverse ? p.Dim - 1 - s : s;
                    int at = (o * p.Dim + d) * p.Inner + i;
                    double v = x.GetDouble(at);
                    if (p.Exclusive) { r.Set(at, acc); acc += v; }
                    else { acc += v; r.Set(at, acc); }
                }
            }
        return new[] { r };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var p = (Plan)n.State;
        var x = n.In(0); var y = n.Out();
        var t = DTypes.CsName(x.Type);
        string o = e.Var("o"), i = e.Var("i"), s = e.Var("s"), at = e.Var("at"), acc = e.Var("acc");
        var w = e.W;
        w.Open($"for (int {o} = 0; {o} < {p.Outer}; {o}++)");
        w.Open($"for (int {i} = 0; {i} < {p.Inner}; {i}++)");
        w.Line($"{t} {acc} = {EmitContext.Lit(x.Type, 0)};");
        w.Open($"for (int {s} = 0; {s} < {p.Dim}; {s}++)");
        var d = p.Reverse ? $"({p.Dim - 1} - {s})" : s;
        w.Line($"int {at} = {Idx.Sum(Idx.Mul(o, (long)p.Dim * p.Inner), Idx.Mul(d, p.Inner), i)};");
        var add = x.Type is DType.Int8 or DType.UInt8 or DType.Int16 or DType.UInt16 ? $"{acc} = ({t})({acc} + {e.At(x, at)});" : $"{acc} += {e.At(x, at)};";
        if (p.Exclusive) { w.Line($"{e.At(y, at)} = {acc};"); w.Line(add); }
        else { w.Line(add); w.Line($"{e.At(y, at)} = {acc};"); }
        w.Close(); w.Close(); w.Close();
    }
}
