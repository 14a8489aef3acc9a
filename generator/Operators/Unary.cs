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
    readonly Func<Node, double, double> _eval;
    readonly Func<Node, EmitContext, DType, string, string> _emit;
    readonly bool _floatOnly;

    public Unary(Func<Node, double, double> eval, Func<Node, EmitContext, DType, string, string> emit, bool floatOnly = true)
    {
        _eval = eval; _emit = emit; _floatOnly = floatOnly;
    }

    public override void Infer(Node n)
    {
        Require(n, 1, 1);
        var x = n.In(0);
        if (_floatOnly) RequireFloat(n, x);
        else if (x.Type == DType.Bool) throw new CompileException(Diag.UnsupportedType, $"{n.OpType} on bool is not defined");
        SetOut(n, 0, x.Type, x.Shape);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var x = inputs[0];
        var r = x.Like(x.Shape);
        for (int i = 0; i < r.Length; i++)
        {
            if (x.Type == DType.Float) r.F[i] = (float)_eval(n, x.F[i]);
            else r.Set(i, _eval(n, x.GetDouble(i)));
        }
        return new[] { r };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var t = n.In(0).Type;
        Broadcast.Emit(e, n.Out(), new[] { n.In(0) }, a => _emit(n, e, t, a[0]));
    }

    // Reference functions, shared by the table rows.
    public static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));
    public static double HardSigmoid(double x, double alpha, double beta) => Math.Max(0, Math.Min(1, alpha * x + beta));
}
