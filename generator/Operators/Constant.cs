using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>Constant: value (tensor) or, from opset 12, value_float(s)/value_int(s). Always folded.</summary>
public sealed class Constant : Operator
{
    public override void Infer(Node n)
    {
        var t = Value(n);
        SetOut(n, 0, t.Type, t.Shape);
    }

    static TensorData Value(Node n)
    {
        var a = n.Attributes;
        if (a.TryGetValue("value", out var v) && v.T != null) return v.T;
        if (a.TryGetValue("value_float", out v)) return TensorData.Scalar(DType.Float, v.F);
        if (a.TryGetValue("value_int", out v)) return TensorData.Scalar(DType.Int64, v.I);
        if (a.TryGetValue("value_floats", out v)) return new TensorData(DType.Float, new[] { v.Floats.Length }, f: v.Floats.ToArray());
        if (a.TryGetValue("value_ints", out v)) return new TensorData(DType.Int64, new[] { v.Ints.Length }, l: v.Ints.ToArray());
        if (a.ContainsKey("sparse_value")) throw new CompileException(Diag.UnsupportedType, "Constant with a sparse value is not supported");
        if (a.ContainsKey("value_string") || a.ContainsKey("value_strings")) throw new CompileException(Diag.UnsupportedType, "string constants are not supported");
        throw Error("Constant has no value attribute");
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs) => new[] { Value(n) };
    public override void Emit(Node n, EmitContext e) => throw new CompileException(Diag.InternalError, "Constant is always folded");
}

/// <summary>Shape (with opset-15 start/end): known at build time from the static input shape.</summary>
public sealed class ShapeOf : Operator
{
    public override bool ShapeOnly => true;

    public override void Infer(Node n)
    {
        Require(n, 1, 1);
        SetOut(n, 0, DType.Int64, new[] { Range(n).Length });
    }

    static long[] Range(Node n)
    {
        var s = n.In(0).Shape;
        int r = s.Length;
        long start = n.Int("start", 0), end = n.Int("end", r);
        start = start < 0 ? System.Math.Max(0, start + r) : System.Math.Min(start, r);
        end = end < 0 ? System.Math.Max(0, end + r) : System.Math.Min(end, r);
        return s.Skip((int)start).Take((int)System.Math.Max(0, end - start)).Select(d => (long)d).ToArray();
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs) => new[] { TensorData.FromLongs(Range(n)) };
    public override void Emit(Node n, EmitContext e) => throw new CompileException(Diag.InternalError, "Shape is always folded");
}

/// <summary>Size: element count, known at build time.</summary>
public sealed class SizeOf : Operator
{
    public override bool ShapeOnly => true;
    public override void Infer(Node n) { Require(n, 1, 1); SetOut(n, 0, DType.Int64, new int[0]); }
    public override TensorData[] Evaluate(Node n, TensorData[] inputs) => new[] { TensorData.Scalar(DType.Int64, n.In(0).Length) };
    public override void Emit(Node n, EmitContext e) => throw new CompileException(Diag.InternalError, "Size is always folded");
}
