using System;
using System.Collections.Generic;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// The table of supported operators, keyed by (domain, op_type). Per-opset differences are handled inside each
/// operator (node.Opset). Families register their rows in their own partial file (Register* methods).
/// </summary>
public static partial class OperatorRegistry
{
    static readonly Dictionary<string, Operator> s_ops = Build();

    /// <summary>The implementation for a node, or null when unsupported.</summary>
    public static Operator Find(string domain, string opType, int opset)
    {
        var key = (domain == "ai.onnx" ? "" : domain) + ":" + opType;
        return s_ops.TryGetValue(key, out var op) ? op : null;
    }

    public static IEnumerable<string> Supported
    {
        get { foreach (var k in s_ops.Keys) yield return k.StartsWith(":", StringComparison.Ordinal) ? k.Substring(1) : k; }
    }

    static Dictionary<string, Operator> Build()
    {
        var t = new Dictionary<string, Operator>(StringComparer.Ordinal);
        RegisterElementwise(t);
        RegisterCore(t);
        RegisterNn(t);
        RegisterTensor(t);
        RegisterReduce(t);
        return t;
    }

    static partial void RegisterCore(Dictionary<string, Operator> t);
    static partial void RegisterNn(Dictionary<string, Operator> t);
    static partial void RegisterTensor(Dictionary<string, Operator> t);
    static partial void RegisterReduce(Dictionary<string, Operator> t);

    static string Cast(DType t, string expr) => t is DType.Int8 or DType.UInt8 or DType.Int16 or DType.UInt16 ? $"({DTypes.CsName(t)})({expr})" : expr;

    static void RegisterElementwise(Dictionary<string, Operator> t)
    {
        string L(DType ty, double v) => EmitContext.Lit(ty, v);
        t[":Relu"] = new Unary((n, x) => x < 0 ? 0 : x, (n, e, ty, x) => $"{x} < {L(ty, 0)} ? {L(ty, 0)} : {x}", floatOnly: false);
        t[":LeakyRelu"] = new Unary((n, x) => x < 0 ? x * n.Float("alpha", 0.01f) : x,
            (n, e, ty, x) => $"{x} < {L(ty, 0)} ? {x} * {L(ty, n.Float("alpha", 0.01f))} : {x}");
        t[":Sigmoid"] = new Unary((n, x) => Unary.Sigmoid(x), (n, e, ty, x) => $"{L(ty, 1)} / ({L(ty, 1)} + {e.Math("Exp", ty, "-" + x)})");
        t[":HardSigmoid"] = new Unary((n, x) => Unary.HardSigmoid(x, n.Float("alpha", 0.2f), n.Float("beta", 0.5f)),
            (n, e, ty, x) => $"{e.Math("Max", ty, L(ty, 0), e.Math("Min", ty, L(ty, 1), $"{x} * {L(ty, n.Float("alpha", 0.2f))} + {L(ty, n.Float("beta", 0.5f))}"))}");
        t[":HardSwish"] = new Unary((n, x) => x * Unary.HardSigmoid(x, 1.0 / 6, 0.5),
            (n, e, ty, x) => $"{x} * {e.Math("Max", ty, L(ty, 0), e.Math("Min", ty, L(ty, 1), $"{x} * {L(ty, 1.0 / 6)} + {L(ty, 0.5)}"))}");
        t[":Tanh"] = new Unary((n, x) => Math.Tanh(x), (n, e, ty, x) => e.Math("Tanh", ty, x));
        t[":Sqrt"] = new Unary((n, x) => Math.Sqrt(x), (n, e, ty, x) => e.Math("Sqrt", ty, x));
        t[":Exp"] = new Unary((n, x) => Math.Exp(x), (n, e, ty, x) => e.Math("Exp", ty, x));
        t[":Log"] = new Unary((n, x) => Math.Log(x), (n, e, ty, x) => e.Math("Log", ty, x));
        t[":Neg"] = new Unary((n, x) => -x, (n, e, ty, x) => Cast(ty, "-" + x), floatOnly: false);
        t[":Abs"] = new Unary((n, x) => Math.Abs(x), (n, e, ty, x) => Cast(ty, $"{x} < {L(ty, 0)} ? -{x} : {x}"), floatOnly: false);
        t[":Reciprocal"] = new Unary((n, x) => 1 / x, (n, e, ty, x) => $"{L(ty, 1)} / {x}");
        t[":Floor"] = new Unary((n, x) => Math.Floor(x), (n, e, ty, x) => e.Math("Floor", ty, x));
        t[":Ceil"] = new Unary((n, x) => Math.Ceiling(x), (n, e, ty, x) => e.Math("Ceiling", ty, x));

        t[":Add"] = new Binary(BinaryKind.Arithmetic, (a, b) => a + b, (a, b) => a + b, (e, ty, a, b) => Cast(ty, $"{a} + {b}"));
        t[":Sub"] = new Binary(BinaryKind.Arithmetic, (a, b) => a - b, (a, b) => a - b, (e, ty, a, b) => Cast(ty, $"{a} - {b}"));
        t[":Mul"] = new Binary(BinaryKind.Arithmetic, (a, b) => a * b, (a, b) => a * b, (e, ty, a, b) => Cast(ty, $"{a} * {b}"));
        t[":Div"] = new Binary(BinaryKind.Arithmetic, (a, b) => a / b, (a, b) => b == 0 ? 0 : a / b, (e, ty, a, b) => Cast(ty, $"{a} / {b}"));
        t[":Pow"] = new Binary(BinaryKind.Arithmetic, Math.Pow, (a, b) => (long)Math.Pow(a, b), EmitPow);
        t[":Equal"] = new Binary(BinaryKind.Compare, (a, b) => a == b ? 1 : 0, (a, b) => a == b ? 1 : 0, (e, ty, a, b) => $"{a} == {b}");
        t[":Greater"] = new Binary(BinaryKind.Compare, (a, b) => a > b ? 1 : 0, (a, b) => a > b ? 1 : 0, (e, ty, a, b) => $"{a} > {b}");
        t[":GreaterOrEqual"] = new Binary(BinaryKind.Compare, (a, b) => a >= b ? 1 : 0, (a, b) => a >= b ? 1 : 0, (e, ty, a, b) => $"{a} >= {b}");
        t[":Less"] = new Binary(BinaryKind.Compare, (a, b) => a < b ? 1 : 0, (a, b) => a < b ? 1 : 0, (e, ty, a, b) => $"{a} < {b}");
        t[":LessOrEqual"] = new Binary(BinaryKind.Compare, (a, b) => a <= b ? 1 : 0, (a, b) => a <= b ? 1 : 0, (e, ty, a, b) => $"{a} <= {b}");
        t[":And"] = new Binary(BinaryKind.Logical, null, (a, b) => a & b, (e, ty, a, b) => $"{a} & {b}");
        t[":Or"] = new Binary(BinaryKind.Logical, null, (a, b) => a | b, (e, ty, a, b) => $"{a} | {b}");
        t[":Xor"] = new Binary(BinaryKind.Logical, null, (a, b) => a ^ b, (e, ty, a, b) => $"{a} ^ {b}");
    }

    /// <summary>Pow with a constant exponent of 1, 2, 3 or 0.5 is written as multiplications or a square root.</summary>
    static string EmitPow(EmitContext e, DType ty, string a, string b)
    {
        if (DTypes.IsFloat(ty))
        {
            if (b == L1(ty, 2)) return $"{a} * {a}";
            if (b == L1(ty, 3)) return $"{a} * {a} * {a}";
            if (b == L1(ty, 1)) return a;
            if (b == L1(ty, 0.5)) return e.Math("Sqrt", ty, a);
            return e.Math("Pow", ty, a, b);
        }
        return Cast(ty, $"({DTypes.CsName(ty)})Math.Pow({a}, {b})");
        static string L1(DType t, double v) => EmitContext.Lit(t, v);
    }
}
