using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// ai.modelgen Int8Lookup (internal: made by <see cref="Passes.LookupTables"/>): X (int8 or uint8), table (a constant of
/// X's type, 256 entries); y[i] = table[x[i] (+ 128 for int8)]. The table holds an int8 activation's quantized results,
/// worked out at build time for every input code (sigmoid, SiLU, hard-swish, tanh, GELU, ...). Net:
/// ModelGen.Runtime.Int8.Lookup; Portable: a loop.
/// </summary>
public sealed class Int8Lookup : Operator
{
    public const string OpType = "Int8Lookup";

    public override bool ElementwiseInPlace => true;

    public override void Infer(Node n)
    {
        Require(n, 2, 2);
        var x = n.In(0); var t = n.In(1);
        if (!Q.Is8(x.Type)) throw Q.TypeError(n, x, "int8, uint8");
        if (!t.IsConst || t.Type != x.Type || t.Length != 256) throw Error($"{FusedElementwise.Domain}.{OpType} needs a constant 256-entry table of its input's type");
        SetOut(n, 0, x.Type, x.Shape);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var x = inputs[0]; var table = inputs[1];
        int off = x.Type == DType.Int8 ? 128 : 0;
        var y = new TensorData(x.Type, x.Shape);
        for (int i = 0; i < y.Length; i++) y.L[i] = table.L[x.L[i] + off];
        return new[] { y };
    }

    public override void Emit(Node n, EmitContext e)
    {
        if (n.Out().Length == 0) return;
        EmitTable(e, n.In(0), n.In(1), n.Out());
    }

    /// <summary>y[i] = table[x[i] (+ 128)]: the runtime's lookup (Net), else a loop.</summary>
    internal static void EmitTable(EmitContext e, Value x, Value table, Value y)
    {
        if (e.Net)
        {
            e.W.Line($"ModelGen.Runtime.Int8.Lookup({e.Span(x)}, {e.Span(table)}, {e.Span(y)});");
            return;
        }
        var i = e.Var("i");
        var idx = x.Type == DType.Int8 ? $"{e.At(x, i)} + 128" : e.At(x, i);
        e.W.Line($"for (int {i} = 0; {i} < {y.Length}; {i}++) {e.At(y, i)} = {e.At(table, idx)};");
    }
}
