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
        RegisterIndexing(t);
        RegisterSequence(t);
        RegisterResize(t);
        RegisterQuant(t);
        RegisterFused(t);
        RegisterMisc(t);
        return t;
    }

    static partial void RegisterCore(Dictionary<string, Operator> t);
    static partial void RegisterNn(Dictionary<string, Operator> t);
    static partial void RegisterTensor(Dictionary<string, Operator> t);
    static partial void RegisterReduce(Dictionary<string, Operator> t);
    static partial void RegisterIndexing(Dictionary<string, Operator> t);
    static partial void RegisterSequence(Dictionary<string, Operator> t);
    static partial void RegisterResize(Dictionary<string, Operator> t);
    static partial void RegisterQuant(Dictionary<string, Operator> t);
    static partial void RegisterFused(Dictionary<string, Operator> t);
    static partial void RegisterMisc(Dictionary<string, Operator> t);

    static string Cast(DType t, string expr) => t is DType.Int8 or DType.UInt8 or DType.Int16 or DType.UInt16 ? $"({DTypes.CsName(t)})({expr})" : expr;

    static void RegisterElementwise(Dictionary<string, Operator> t)
    {
        string L(DType ty, double v) => EmitContext.Lit(ty, v);
        t[":Relu"] = new Unary((n, x) => x < 0 ? 0 : x, (n, e, ty, x) => $"{x} < {L(ty, 0)} ? {L(ty, 0)} : {x}", Unary.Kind.Numeric);
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
        t[":Neg"] = new Unary((n, x) => -x, (n, e, ty, x) => Cast(ty, "-" + x), Unary.Kind.Numeric);
        t[":Abs"] = new Unary((n, x) => Math.Abs(x), (n, e, ty, x) => Cast(ty, $"{x} < {L(ty, 0)} ? -{x} : {x}"), Unary.Kind.Numeric);
        t[":Reciprocal"] = new Unary((n, x) => 1 / x, (n, e, ty, x) => $"{L(ty, 1)} / {x}");
        t[":Floor"] = new Unary((n, x) => Math.Floor(x), (n, e, ty, x) => e.Math("Floor", ty, x));
        t[":Ceil"] = new Unary((n, x) => Math.Ceiling(x), (n, e, ty, x) => e.Math("Ceiling", ty, x));

        // issue-3 activations and math
        t[":Elu"] = new Unary((n, x) => x < 0 ? n.Float("alpha", 1f) * (Math.Exp(x) - 1) : x,
            (n, e, ty, x) => $"{x} < {L(ty, 0)} ? {L(ty, n.Float("alpha", 1f))} * ({e.Math("Exp", ty, x)} - {L(ty, 1)}) : {x}");
        t[":Selu"] = new Unary((n, x) => n.Float("gamma", 1.05070102f) * (x <= 0 ? n.Float("alpha", 1.67326319f) * (Math.Exp(x) - 1) : x),
            (n, e, ty, x) => $"{L(ty, n.Float("gamma", 1.05070102f))} * ({x} <= {L(ty, 0)} ? {L(ty, n.Float("alpha", 1.67326319f))} * ({e.Math("Exp", ty, x)} - {L(ty, 1)}) : {x})");
        t[":Celu"] = new Unary((n, x) => Math.Max(0, x) + Math.Min(0, n.Float("alpha", 1f) * (Math.Exp(x / n.Float("alpha", 1f)) - 1)),
            (n, e, ty, x) => $"{x} > {L(ty, 0)} ? {x} : {L(ty, n.Float("alpha", 1f))} * ({e.Math("Exp", ty, $"{x} / {L(ty, n.Float("alpha", 1f))}")} - {L(ty, 1)})");
        t[":Softplus"] = new Unary((n, x) => x > 20 ? x : Math.Log(1 + Math.Exp(x)),
            (n, e, ty, x) => $"{x} > {L(ty, 20)} ? {x} : {e.Math("Log", ty, $"{L(ty, 1)} + {e.Math("Exp", ty, x)}")}");
        t[":Softsign"] = new Unary((n, x) => x / (1 + Math.Abs(x)), (n, e, ty, x) => $"{x} / ({L(ty, 1)} + ({x} < {L(ty, 0)} ? -{x} : {x}))");
        t[":ThresholdedRelu"] = new Unary((n, x) => x > n.Float("alpha", 1f) ? x : 0,
            (n, e, ty, x) => $"{x} > {L(ty, n.Float("alpha", 1f))} ? {x} : {L(ty, 0)}");
        t[":Shrink"] = new Unary((n, x) => x < -n.Float("lambd", 0.5f) ? x + n.Float("bias", 0f) : x > n.Float("lambd", 0.5f) ? x - n.Float("bias", 0f) : 0,
            (n, e, ty, x) => Cast(ty, $"{x} < {L(ty, -n.Float("lambd", 0.5f))} ? {x} + {L(ty, n.Float("bias", 0f))} : {x} > {L(ty, n.Float("lambd", 0.5f))} ? {x} - {L(ty, n.Float("bias", 0f))} : {L(ty, 0)}"), Unary.Kind.Numeric);
        t[":Mish"] = new Unary((n, x) => x * Math.Tanh(x > 20 ? x : Math.Log(1 + Math.Exp(x))),
            (n, e, ty, x) => $"{x} * {e.Math("Tanh", ty, $"{x} > {L(ty, 20)} ? {x} : {e.Math("Log", ty, $"{L(ty, 1)} + {e.Math("Exp", ty, x)}")}")}");
        t[":Erf"] = new Unary((n, x) => Unary.Erf(x), (n, e, ty, x) => e.Math("Erf", ty, x));
        t[":Gelu"] = new Unary((n, x) => n.Str("approximate", "none") == "tanh" ? 0.5 * x * (1 + Math.Tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))) : 0.5 * x * (1 + Unary.Erf(x / Math.Sqrt(2))),
            (n, e, ty, x) => n.Str("approximate", "none") == "tanh"
                ? $"{L(ty, 0.5)} * {x} * ({L(ty, 1)} + {e.Math("Tanh", ty, $"{L(ty, 0.7978845608028654)} * ({x} + {L(ty, 0.044715)} * {x} * {x} * {x})")})"
                : $"{L(ty, 0.5)} * {x} * ({L(ty, 1)} + {e.Math("Erf", ty, $"{x} * {L(ty, 0.7071067811865476)}")})");
        t[":Sign"] = new Unary((n, x) => Math.Sign(x), (n, e, ty, x) => Cast(ty, $"{x} > {L(ty, 0)} ? {L(ty, 1)} : {x} < {L(ty, 0)} ? {L(ty, -1)} : {L(ty, 0)}"), Unary.Kind.Numeric);
        t[":Round"] = new Unary((n, x) => Unary.RoundHalfEven(x), (n, e, ty, x) => e.Math("Round", ty, x));
        foreach (var (name, f) in new (string, Func<double, double>)[]
        {
            ("Sin", Math.Sin), ("Cos", Math.Cos), ("Tan", Math.Tan), ("Asin", Math.Asin), ("Acos", Math.Acos), ("Atan", Math.Atan),
            ("Sinh", Math.Sinh), ("Cosh", Math.Cosh),
            ("Asinh", x => Math.Log(x + Math.Sqrt(x * x + 1))), ("Acosh", x => Math.Log(x + Math.Sqrt(x * x - 1))), ("Atanh", x => 0.5 * Math.Log((1 + x) / (1 - x))),
        })
        {
            var fn = name;
            t[":" + fn] = new Unary((n, x) => f(x), (n, e, ty, x) => e.Math(fn, ty, x));
        }
        t[":IsNaN"] = new Unary((n, x) => double.IsNaN(x) ? 1 : 0, (n, e, ty, x) => $"{x} != {x}", Unary.Kind.Predicate);
        t[":IsInf"] = new Unary((n, x) => double.IsPositiveInfinity(x) && n.Int("detect_positive", 1) != 0 || double.IsNegativeInfinity(x) && n.Int("detect_negative", 1) != 0 ? 1 : 0,
            (n, e, ty, x) => (n.Int("detect_positive", 1) != 0, n.Int("detect_negative", 1) != 0) switch
            {
                (true, true) => $"{x} == {L(ty, double.PositiveInfinity)} || {x} == {L(ty, double.NegativeInfinity)}",
                (true, false) => $"{x} == {L(ty, double.PositiveInfinity)}",
                (false, true) => $"{x} == {L(ty, double.NegativeInfinity)}",
                _ => "false",
            }, Unary.Kind.Predicate);
        t[":Not"] = new Unary((n, x) => x != 0 ? 0 : 1, (n, e, ty, x) => "!" + x, Unary.Kind.Logical);
        // opset 18's bitwise operators, on integer types only (Evaluate works on the 64-bit patterns)
        t[":BitwiseNot"] = new Unary(null, (n, e, ty, x) => Cast(ty, "~" + x), Unary.Kind.Bits);

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
        t[":PRelu"] = new Binary(BinaryKind.Arithmetic, (a, b) => a < 0 ? a * b : a, (a, b) => a < 0 ? a * b : a, (e, ty, a, b) => Cast(ty, $"{a} < {L(ty, 0)} ? {a} * {b} : {a}"));
        t[":Mod"] = new Binary(BinaryKind.Arithmetic,
            (n, a, b) => n.Int("fmod", 0) != 0 ? a % b : FloorMod(a, b),
            (n, a, b) => b == 0 ? 0 : n.Int("fmod", 0) != 0 ? a % b : (long)FloorMod(a, b),
            (n, e, ty, a, b) => DTypes.IsFloat(ty) && n.Int("fmod", 0) == 0 ? throw Unsupported("Mod on floats requires fmod=1")
                : n.Int("fmod", 0) != 0 ? Cast(ty, $"{a} % {b}") : Cast(ty, $"(({a} % {b}) + {b}) % {b}"));
        t[":BitShift"] = new Binary(BinaryKind.Arithmetic, null,
            (n, a, b) => n.Str("direction", "") == "LEFT" ? (b >= 64 ? 0 : (long)((ulong)a << (int)b)) : (b >= 64 ? 0 : (long)((ulong)a >> (int)b)),
            (n, e, ty, a, b) => Cast(ty, n.Str("direction", "") == "LEFT" ? $"{a} << (int){b}" : $"{a} >> (int){b}"));
        t[":And"] = new Binary(BinaryKind.Logical, null, (a, b) => a & b, (e, ty, a, b) => $"{a} & {b}");
        t[":Or"] = new Binary(BinaryKind.Logical, null, (a, b) => a | b, (e, ty, a, b) => $"{a} | {b}");
        t[":Xor"] = new Binary(BinaryKind.Logical, null, (a, b) => a ^ b, (e, ty, a, b) => $"{a} ^ {b}");
        t[":BitwiseAnd"] = new Binary(BinaryKind.Arithmetic, null, (a, b) => a & b, (e, ty, a, b) => Cast(ty, $"{a} & {b}"));
        t[":BitwiseOr"] = new Binary(BinaryKind.Arithmetic, null, (a, b) => a | b, (e, ty, a, b) => Cast(ty, $"{a} | {b}"));
        t[":BitwiseXor"] = new Binary(BinaryKind.Arithmetic, null, (a, b) => a ^ b, (e, ty, a, b) => Cast(ty, $"{a} ^ {b}"));
    }

    static Exception Unsupported(string m) => new CompileException(Diag.UnsupportedAttribute, m);

    static double FloorMod(double a, double b) { var r = a % b; return r != 0 && (r < 0) != (b < 0) ? r + b : r; }

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
