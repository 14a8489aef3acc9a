using System.Collections.Generic;
using System.Linq;
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
        ["Sqrt"] = "Sqrt", ["Abs"] = "Abs", ["Neg"] = "Neg", ["Gelu"] = "Gelu",
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
        if (n.OpType is "HardSwish" or "HardSigmoid") return Activate(e, x, y, FusedActivation.FromNode(n));
        if (!s_unary.TryGetValue(n.OpType, out var op)) return false;
        if (n.OpType == "Gelu" && n.Str("approximate", "none") != "none") return false; // the tanh form keeps its loop
        e.W.Line($"ModelGen.Runtime.Elementwise.Unary(ModelGen.Runtime.UnaryOp.{op}, {e.Span(x)}, {e.Span(y)});");
        return true;
    }

    /// <summary>
    /// A standalone activation of the kinds the kernels apply in registers (a few min/max/FMA per vector): the scalar
    /// loop's MathF.Max/Min (NaN-propagating calls) took 1 ns per float, 10 us of a 9,600-float HardSwish.
    /// </summary>
    public static bool Activate(EmitContext e, Value x, Value y, FusedActivation a)
    {
        if (!e.Net || x.Type != DType.Float || y.Type != DType.Float || y.Length < 16) return false;
        e.W.Line($"ModelGen.Runtime.Elementwise.Activate({e.Span(x)}, {a.NetValue()}, {e.Span(y)});");
        return true;
    }

    public static bool TryBinary(EmitContext e, string opType, Value a, Value b, Value y)
    {
        if (!e.Net || a.Type != DType.Float || b.Type != DType.Float || y.Type != DType.Float || y.Length < 16) return false;
        if (!s_binary.TryGetValue(opType, out var op)) return false;
        // an operand with the output's element count has the output's layout (broadcasting only adds leading 1s)
        string Operand(Value v) => v.Length == y.Length ? e.Span(v) : v.Length == 1 ? e.At(v, "0") : null;
        var sa = Operand(a); var sb = Operand(b);
        if (a.Length == 1 && b.Length == 1) return false;
        if (sa == null || sb == null) return TryRows(e, op, a, b, y);
        e.W.Line($"ModelGen.Runtime.Elementwise.Binary(ModelGen.Runtime.BinaryOp.{op}, {sa}, {sb}, {e.Span(y)});");
        return true;
    }

    /// <summary>
    /// Broadcasting where, after merging dimensions, every operand is contiguous or constant along the innermost one
    /// (per-channel [N, C, H, W] * [1, C, 1, 1] as in squeeze-excite, a row added to every row): loops over the outer
    /// dimensions, one SIMD call per row of at least 16.
    /// </summary>
    static bool TryRows(EmitContext e, string op, Value a, Value b, Value y)
    {
        var (dims, strides) = Broadcast.Merge(y, new[] { a, b });
        int last = dims.Count - 1, inner = last < 0 ? 0 : dims[last];
        // one scalar per row against whole rows ([C] gates on [C, H*W]): one call for every row, however short
        if (dims.Count == 2 && op is "Add" or "Mul")
            for (int s = 0; s < 2; s++)
            {
                IList<int> st = strides[s], other = strides[1 - s];
                if (st[0] == 1 && st[1] == 0 && other[0] == inner && other[1] == 1)
                {
                    e.W.Line($"ModelGen.Runtime.Elementwise.BinaryRows(ModelGen.Runtime.BinaryOp.{op}, {e.Span(s == 0 ? a : b)}, {e.Span(s == 0 ? b : a)}, {e.Span(y)}, {dims[0]}, {inner});");
                    return true;
                }
            }
        if (last < 1 || inner < 16 || strides[0][last] > 1 || strides[1][last] > 1) return false;
        var w = e.W;
        var vars = new string[last];
        for (int d = 0; d < last; d++)
        {
            vars[d] = e.Var("r");
            w.Open($"for (int {vars[d]} = 0; {vars[d]} < {dims[d]}; {vars[d]}++)");
        }
        string Offset(IList<int> st) => Idx.Sum(Enumerable.Range(0, last).Select(d => Idx.Mul(vars[d], st[d])).ToArray());
        var outStr = new int[last];
        for (int d = last - 1, acc = inner; d >= 0; d--) { outStr[d] = acc; acc *= dims[d]; }
        string Row(Value v, IList<int> st) => st[last] == 0 ? e.At(v, Offset(st)) : $"{e.Span(v)}.Slice({Offset(st)}, {inner})";
        w.Line($"ModelGen.Runtime.Elementwise.Binary(ModelGen.Runtime.BinaryOp.{op}, {Row(a, strides[0])}, {Row(b, strides[1])}, {e.Span(y)}.Slice({Offset(outStr)}, {inner}));");
        for (int d = 0; d < last; d++) w.Close();
        return true;
    }
}
