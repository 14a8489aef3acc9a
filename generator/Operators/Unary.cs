using System;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// Elementwise unary operators (Relu, Sigmoid, Exp, ...), one table row each in <see cref="OperatorRegistry"/>:
/// a reference function for folding and an expression for emission. Attributes come from the node.
/// </summary>
public sealed class Unary : Operator
{
    /// <summary>Float: float/double in and out. Numeric: any number type. Predicate: float in, bool out. Logical: bool.</summary>
    /// <summary>Float: float types only; Numeric: any number; Predicate: float in, bool out; Logical: bool; Bits: integers only.</summary>
    public enum Kind { Float, Numeric, Predicate, Logical, Bits }

    readonly Func<Node, double, double> _eval;
    readonly Func<Node, EmitContext, DType, string, string> _emit;
    readonly Kind _kind;

    public Unary(Func<Node, double, double> eval, Func<Node, EmitContext, DType, string, string> emit, Kind kind = Kind.Float)
    {
        _eval = eval; _emit = emit; _kind = kind;
    }

    public override bool ElementwiseInPlace => true;

    /// <summary>For fused elementwise chains: the row's kind and emitted expression for a node.</summary>
    internal Kind RowKind => _kind;
    internal string Expr(Node n, EmitContext e, DType t, string x) => _emit(n, e, t, x);

    public override void Infer(Node n)
    {
        Require(n, 1, 1);
        var x = n.In(0);
        if (_kind == Kind.Float || _kind == Kind.Predicate) RequireFloat(n, x);
        else if (_kind == Kind.Logical && x.Type != DType.Bool) throw Error($"{n.OpType} takes a bool input");
        else if (_kind == Kind.Numeric && x.Type == DType.Bool) throw new CompileException(Diag.UnsupportedType, $"{n.OpType} on bool is not defined");
        else if (_kind == Kind.Bits && (x.Type == DType.Bool || DTypes.IsFloat(x.Type))) throw new CompileException(Diag.UnsupportedType, $"{n.OpType} takes integers, not {DTypes.OnnxName(x.Type)}");
        SetOut(n, 0, _kind == Kind.Predicate ? DType.Bool : x.Type, x.Shape);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var x = inputs[0];
        var r = new TensorData(n.Out().Type, x.Shape);
        for (int i = 0; i < r.Length; i++)
        {
            // bit operations on the 64-bit pattern: a double would lose int64/uint64 values above 2^53
            if (_kind == Kind.Bits) r.SetLong(i, ~x.L[i]);
            else if (x.Type == DType.Float && r.Type == DType.Float) r.F[i] = (float)_eval(n, x.F[i]);
            else r.Set(i, _eval(n, x.GetDouble(i)));
        }
        return new[] { r };
    }

    public override void Emit(Node n, EmitContext e)
    {
        if (SimdElementwise.TryUnary(n, e)) return;
        var t = n.In(0).Type;
        Broadcast.Emit(e, n.Out(), new[] { n.In(0) }, a => _emit(n, e, t, a[0]));
    }

    // Reference functions, shared by the table rows.
    public static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));
    public static double Erf(double x)
    {
        // series for |x| < 2.5, continued fraction above (double precision)
        double a = Math.Abs(x), r;
        if (a < 2.5)
        {
            double term = a, sum = a;
            for (int n = 1; n < 60; n++) { term *= -a * a / n; sum += term / (2 * n + 1); }
            r = sum * 1.1283791670955126;
        }
        else if (a > 6) r = 1;
        else
        {
            double f = 0;
            for (int n = 60; n >= 1; n--) f = n * 0.5 / (a + f);
            r = 1 - Math.Exp(-a * a) / (a + f) * 0.56418958354775628;
        }
        return x < 0 ? -r : r;
    }

    public static double RoundHalfEven(double x) => Math.Round(x, MidpointRounding.ToEven);

    public static double HardSigmoid(double x, double alpha, double beta) => Math.Max(0, Math.Min(1, alpha * x + beta));
}
