using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

public enum VariadicKind { Max, Min, Sum, Mean }

/// <summary>
/// Max, Min, Sum, Mean over 1..N inputs with multidirectional broadcasting (opset 8+; equal shapes before).
/// Max/Min also take integer types (opset 12+), exactly; Sum/Mean are float-only as in ONNX. Float Max/Min propagate NaN.
/// </summary>
public sealed class Variadic : Operator
{
    readonly VariadicKind _kind;
    public Variadic(VariadicKind kind) { _kind = kind; }

    // each output element reads only the same element of full-size operands (or a broadcast one)
    public override bool ElementwiseInPlace => true;

    public override void Infer(Node n)
    {
        Require(n, 1);
        var t = n.In(0).Type;
        foreach (var v in n.Inputs)
        {
            if (v == null) throw Error($"{n.OpType} inputs cannot be omitted");
            if (v.Type != t) throw Error($"{n.OpType} inputs have different element types ({DTypes.OnnxName(t)}, {DTypes.OnnxName(v.Type)})");
        }
        bool sum = _kind == VariadicKind.Sum || _kind == VariadicKind.Mean;
        if (t == DType.Bool || !DTypes.IsSupported(t) || sum && !DTypes.IsFloat(t))
            throw new CompileException(Diag.UnsupportedType, $"{n.OpType} on {DTypes.OnnxName(t)} is not supported{(sum ? " (ONNX defines it for float types only)" : "")}");
        SetOut(n, 0, t, Shape.Broadcast(n.Inputs.Select(v => v.Shape).ToArray()));
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var y = n.Out();
        var r = new TensorData(y.Type, y.Shape);
        int count = inputs.Length;
        Broadcast.ForEach(y.Shape, inputs.Select(x => x.Shape).ToArray(), (i, idx) =>
        {
            if (y.Type == DType.Float)
            {
                float acc = inputs[0].F[idx[0]];
                for (int k = 1; k < count; k++) acc = Combine(acc, inputs[k].F[idx[k]]);
                r.F[i] = _kind == VariadicKind.Mean ? acc / count : acc;
            }
            else if (y.Type == DType.Double)
            {
                double acc = inputs[0].D[idx[0]];
                for (int k = 1; k < count; k++) acc = Combine(acc, inputs[k].D[idx[k]]);
                r.D[i] = _kind == VariadicKind.Mean ? acc / count : acc;
            }
            else
            {
                long acc = inputs[0].L[idx[0]];
                for (int k = 1; k < count; k++)
                {
                    long v = inputs[k].L[idx[k]];
                    acc = _kind == VariadicKind.Max ? System.Math.Max(acc, v) : System.Math.Min(acc, v);
                }
                r.SetLong(i, acc);
            }
        });
        return new[] { r };
    }

    float Combine(float a, float b) => _kind switch
    {
        VariadicKind.Max => float.IsNaN(a) || a >= b ? a : b,
        VariadicKind.Min => float.IsNaN(a) || a <= b ? a : b,
        _ => a + b,
    };

    double Combine(double a, double b) => _kind switch
    {
        VariadicKind.Max => double.IsNaN(a) || a >= b ? a : b,
        VariadicKind.Min => double.IsNaN(a) || a <= b ? a : b,
        _ => a + b,
    };

    public override void Emit(Node n, EmitContext e)
    {
        var y = n.Out();
        var t = y.Type;
        var ins = n.Inputs.ToArray();
        if (_kind == VariadicKind.Sum || _kind == VariadicKind.Mean)
        {
            Broadcast.Emit(e, y, ins, a =>
            {
                var sum = string.Join(" + ", a);
                if (_kind == VariadicKind.Mean && a.Length > 1) sum = $"({sum}) / {EmitContext.Lit(t, a.Length)}";
                return sum;
            });
            return;
        }
        string fn = _kind == VariadicKind.Max ? "Max" : "Min";
        if (ins.Length == 2 && SimdElementwise.TryBinary(e, fn, ins[0], ins[1], y)) return;
        if (t == DType.Float || t == DType.Double && e.Net)
        {
            // one pass: Max(Max(a, b), c)
            Broadcast.Emit(e, y, ins, a => a.Skip(1).Aggregate(a[0], (acc, x) => e.Math(fn, t, acc, x)));
            return;
        }
        // integers (and Portable doubles, NaN propagating): pairwise passes y = y >= x ? y : x, each operand read twice
        string cmp = _kind == VariadicKind.Max ? ">=" : "<=";
        string Pick(string[] a) => t == DType.Double ? $"{a[0]} != {a[0]} || {a[0]} {cmp} {a[1]} ? {a[0]} : {a[1]}" : $"{a[0]} {cmp} {a[1]} ? {a[0]} : {a[1]}";
        if (ins.Length == 1) { Broadcast.Emit(e, y, ins, a => a[0]); return; }
        Broadcast.Emit(e, y, new[] { ins[0], ins[1] }, Pick);
        for (int k = 2; k < ins.Length; k++) Broadcast.Emit(e, y, new[] { y, ins[k] }, Pick);
    }

}
