using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>Cast to the 'to' element type (C# conversion semantics; bool is x != 0). CastLike takes the type of input 1.</summary>
public sealed class Cast : Operator
{
    public override void Infer(Node n)
    {
        Require(n, 1, 2);
        var to = n.OpType == "CastLike" ? n.In(1)?.Type ?? throw Error("CastLike needs a target input") : (DType)n.Int("to", 0);
        if (!DTypes.IsSupported(to)) throw new CompileException(Diag.UnsupportedType, $"Cast to {to} is not supported");
        SetOut(n, 0, to, n.In(0).Shape);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var x = inputs[0];
        var r = new TensorData(n.Out().Type, x.Shape);
        for (int i = 0; i < r.Length; i++)
        {
            if (DTypes.IsFloat(x.Type)) r.Set(i, x.GetDouble(i));
            else r.SetLong(i, x.L[i]);
        }
        return new[] { r };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var from = n.In(0).Type;
        var to = n.Out().Type;
        Broadcast.Emit(e, n.Out(), new[] { n.In(0) }, a => Convert(from, to, a[0]));
    }

    public static string Convert(DType from, DType to, string x)
    {
        if (from == to) return x;
        if (to == DType.Bool) return $"{x} != {EmitContext.Lit(from, 0)}";
        if (from == DType.Bool) return $"{x} ? {EmitContext.Lit(to, 1)} : {EmitContext.Lit(to, 0)}";
        return $"({DTypes.CsName(to)}){x}";
    }
}
