using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// Cast to the 'to' element type (C# conversion semantics; bool is x != 0). CastLike takes the type of input 1.
/// float16 tensors are held as float32 (see <see cref="Half"/>): a Cast to float16, or a CastLike to a float16 value,
/// gives float32 values rounded to halves.
/// </summary>
public sealed class Cast : Operator
{
    public override void Infer(Node n)
    {
        Require(n, 1, 2);
        var to = n.OpType == "CastLike" ? n.In(1)?.Type ?? throw Error("CastLike needs a target input") : (DType)n.Int("to", 0);
        // CastLike's target is held as float when the model has it as float16 (Value.Half): it rounds as Cast to=10 does
        n.State = to == DType.Float16 || n.OpType == "CastLike" && n.In(1).Half && to == DType.Float;
        if (to == DType.Float16)
        {
            if (n.In(0).Type == DType.Bool) throw new CompileException(Diag.UnsupportedType, "Cast from bool to float16 is not supported");
            to = DType.Float;
        }
        if (!DTypes.IsSupported(to)) throw new CompileException(Diag.UnsupportedType, $"Cast to {to} is not supported");
        SetOut(n, 0, to, n.In(0).Shape);
    }

    static bool ToHalf(Node n) => n.State is true;

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var x = inputs[0];
        var r = new TensorData(n.Out().Type, x.Shape);
        for (int i = 0; i < r.Length; i++)
        {
            if (ToHalf(n)) r.F[i] = Half.Round(DTypes.IsFloat(x.Type) ? (float)x.GetDouble(i) : x.L[i]);
            else if (DTypes.IsFloat(x.Type)) r.Set(i, x.GetDouble(i));
            else r.SetLong(i, x.L[i]);
        }
        return new[] { r };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var from = n.In(0).Type;
        var to = n.Out().Type;
        if (ToHalf(n))
            Broadcast.Emit(e, n.Out(), new[] { n.In(0) }, a => e.Net ? $"(float)(System.Half){Convert(from, DType.Float, a[0])}" : e.Math("Half", DType.Float, Convert(from, DType.Float, a[0])));
        else Broadcast.Emit(e, n.Out(), new[] { n.In(0) }, a => Convert(from, to, a[0]));
    }

    public static string Convert(DType from, DType to, string x)
    {
        if (from == to) return x;
        if (to == DType.Bool) return $"{x} != {EmitContext.Lit(from, 0)}";
        if (from == DType.Bool) return $"{x} ? {EmitContext.Lit(to, 1)} : {EmitContext.Lit(to, 0)}";
        return $"({DTypes.CsName(to)}){x}";
    }
}
