using System.Collections.Generic;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// Net profile, float32: elementwise layers whose operands are whole tensors of the output's size (or scalars) call
/// ModelGen.Runtime.Elementwise (SIMD) instead of a scalar loop; everything else keeps the loops of Broadcast.Emit.
/// </summary>
static class SimdElementwise
{
    static readonly Dictionary<string, string> s_unary = new()
    {
        ["Relu"] = "Relu", ["Sigmoid"] = "Sigmoid", ["Tanh"] = "Tanh", ["Exp"] = "Exp", ["Log"] = "Log",
        ["Sqrt"] = "Sqrt", ["Abs"] = "Abs", ["Neg"] = "Neg",
    };

    static readonly Dictionary<string, string> s_binary = new()
    {
        ["Add"] = "Add", ["Sub"] = "Sub", ["Mul"] = "Mul", ["Div"] = "Div", ["Max"] = "Max", ["Min"] = "Min",
    };

    public static bool TryUnary(Node n, EmitContext e)
    {
        var x = n.In(0); var y = n.Out();
        if (!e.Net || x.Type != DType.Float || y.Type != DType.Float || y.Length < 16) return false;
        if (n.OpType == "LeakyRelu")
        {
            e.W.Line($"ModelGen.Runtime.Elementwise.LeakyRelu({e.Span(x)}, {EmitContext.F(n.Float("alpha", 0.01f))}, {e.Span(y)});");
            return true;
        }
        if (!s_unary.TryGetValue(n.OpType, out var op)) return false;
        e.W.Line($"ModelGen.Runtime.Elementwise.Unary(ModelGen.Runtime.UnaryOp.{op}, {e.Span(x)}, {e.Span(y)});");
        return true;
    }

    public static bool TryBinary(EmitContext e, string opType, Value a, Value b, Value y)
    {
        if (!e.Net || a.Type != DType.Float || b.Type != DType.Float || y.Type != DType.Float || y.Length < 16) return false;
        if (!s_binary.TryGetValue(opType, out var op)) return false;
        // an operand with the output's element count has the output's layout (broadcasting only adds leading 1s)
        string Operand(Value v) => v.Length == y.Length ? e.Span(v) : v.Length == 1 ? e.At(v, "0") : null;
        var sa = Operand(a); var sb = Operand(b);
        if (sa == null || sb == null || a.Length == 1 && b.Length == 1) return false;
        e.W.Line($"ModelGen.Runtime.Elementwise.Binary(ModelGen.Runtime.BinaryOp.{op}, {sa}, {sb}, {e.Span(y)});");
        return true;
    }
}
