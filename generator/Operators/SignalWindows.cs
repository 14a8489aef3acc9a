using System;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// HannWindow, HammingWindow and BlackmanWindow (opset 17): cosine-sum windows
/// w[i] = a0 - a1 cos(2 pi i / M) + a2 cos(4 pi i / M), M = size (periodic=1, the default) or size - 1 (periodic=0).
/// The size input decides the output shape, so it must be known at build time; the window then folds to a constant.
/// output_datatype (default float) may be any numeric type (values converted as by a C cast).
/// </summary>
public sealed class CosineWindow : Operator
{
    readonly double _a0, _a1, _a2;
    public CosineWindow(double a0, double a1, double a2) { _a0 = a0; _a1 = a1; _a2 = a2; }

    public static CosineWindow Hann() => new(0.5, 0.5, 0);
    public static CosineWindow Hamming() => new(25.0 / 46, 21.0 / 46, 0);
    public static CosineWindow Blackman() => new(0.42, 0.5, 0.08);

    /// <summary>A scalar (or one-element) integer input that must be constant at build time.</summary>
    internal static long ConstInt(Node n, int i, string what)
    {
        var v = n.In(i);
        if (v == null) throw new CompileException(Diag.InvalidModel, $"{n.OpType} input {what} is required");
        if (!v.IsConst) throw new CompileException(Diag.DynamicShape, $"{n.OpType} input {what} ('{v.Name}') decides the output shape and must be known at build time (an initializer, a constant, or bound with ConstantInputs)");
        if (v.Length != 1) throw new CompileException(Diag.InvalidModel, $"{n.OpType} input {what} ('{v.Name}') must be a scalar, has shape {Shape.Format(v.Shape)}");
        if (v.Type != DType.Int32 && v.Type != DType.Int64) throw new CompileException(Diag.InvalidModel, $"{n.OpType} input {what} ('{v.Name}') must be int32 or int64");
        return v.Const.GetLong(0);
    }

    internal static DType OutputType(Node n)
    {
        var t = (DType)n.Int("output_datatype", 1);
        if (!DTypes.IsSupported(t) || t == DType.Bool) throw new CompileException(Diag.UnsupportedType, $"{n.OpType} output_datatype {(int)t} ({t}) is not supported");
        return t;
    }

    int Denominator(Node n, int size) => n.Int("periodic", 1) != 0 ? size : size - 1;

    public override void Infer(Node n)
    {
        Require(n, 1, 1);
        long size = ConstInt(n, 0, "size");
        if (size < 0 || size > int.MaxValue) throw Error($"{n.OpType} size {size} is out of range");
        SetOut(n, 0, OutputType(n), new[] { (int)size });
    }

    double Value(int i, int m) => _a0 - _a1 * Math.Cos(2 * Math.PI * i / m) + (_a2 == 0 ? 0 : _a2 * Math.Cos(4 * Math.PI * i / m));

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var y = n.Out();
        var r = new TensorData(y.Type, y.Shape);
        int m = Denominator(n, y.Shape[0]);
        for (int i = 0; i < y.Shape[0]; i++) r.Set(i, Value(i, m));
        return new[] { r };
    }

    public override void Emit(Node n, EmitContext e)
    {
        // only reached when the window is too large to fold
        var y = n.Out();
        int size = y.Shape[0], m = Denominator(n, size);
        if (size == 0) return;
        var i = e.Var("i");
        var ang = e.Var("angle");
        var d = e.Net && y.Type == DType.Double ? DType.Double : DType.Float; // the Portable helpers are float
        string L(double v) => EmitContext.Lit(d, v);
        e.W.Open($"for (int {i} = 0; {i} < {size}; {i}++)");
        e.W.Line($"{DTypes.CsName(d)} {ang} = {L(2 * Math.PI / m)} * {i};");
        string v = $"{L(_a0)} - {L(_a1)} * {e.Math("Cos", d, ang)}" + (_a2 == 0 ? "" : $" + {L(_a2)} * {e.Math("Cos", d, $"{L(2)} * {ang}")}");
        e.W.Line($"{e.At(y, i)} = ({DTypes.CsName(y.Type)})({v});");
        e.W.Close();
    }
}
