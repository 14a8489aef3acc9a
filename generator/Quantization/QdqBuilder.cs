using System.Collections.Generic;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Passes;

namespace ModelGen.Compiler.Quantization;

/// <summary>Builds the QuantizeLinear / DequantizeLinear nodes and their constants, named as ONNX Runtime's quantizer names them.</summary>
internal static class QdqBuilder
{
    /// <summary>Opset of the inserted nodes: 13 is the first with per-axis parameters.</summary>
    public const int Opset = 13;

    /// <summary>
    /// Constant int8 weights + DequantizeLinear (per-axis; axis -1: per tensor): appends the node, returns its float
    /// output. Per axis the zero point input is omitted: symmetric weights have zero point 0, ONNX's default for an absent
    /// one (the int8 type comes from the data), which saves a byte per channel. A per-tensor constant (an operand of
    /// Add/Mul) has it, as ONNX Runtime's quantizer writes it: the QLinearAdd/QLinearMul it lowers to read it.
    /// </summary>
    public static Value DequantizedWeight(List<Node> into, Value w, int axis, bool keep = false)
    {
        var (q, scales) = QuantParams.Weights(w.Const, axis);
        var wq = PassUtil.Const(w.Name + "_quantized", q);
        var s = PassUtil.Const(w.Name + "_scale", QuantParams.Floats(scales, axis < 0));
        var y = new Value(w.Name + "_dequantized");
        var attrs = new List<Attribute>();
        if (axis >= 0) attrs.Add(PassUtil.Int("axis", axis));
        if (keep) attrs.Add(PassUtil.Int(Operators.DequantizeLinear.KeepAttr, 1));
        var ins = axis >= 0 ? new[] { wq, s } : new[] { wq, s, PassUtil.Const(w.Name + "_zero_point", QuantParams.Int8Scalar(0)) };
        into.Add(PassUtil.Make("DequantizeLinear", Opset, w.Name + "_DequantizeLinear", ins, new[] { y }, attrs.ToArray()));
        return y;
    }

    /// <summary>Constant int32 bias + DequantizeLinear at scale xScale x wScale[m] (per-axis; zero point 0, omitted).</summary>
    public static Value DequantizedBias(List<Node> into, Value b, float xScale, float[] wScales)
    {
        var (q, scales) = QuantParams.Bias(b.Const, xScale, wScales);
        var bq = PassUtil.Const(b.Name + "_quantized", q);
        var s = PassUtil.Const(b.Name + "_scale", QuantParams.Floats(scales, false));
        var y = new Value(b.Name + "_dequantized");
        into.Add(PassUtil.Make("DequantizeLinear", Opset, b.Name + "_DequantizeLinear", new[] { bq, s }, new[] { y }, PassUtil.Int("axis", 0)));
        return y;
    }

    /// <summary>Per-tensor int8 scale and zero point constants for an activation.</summary>
    public static (Value Scale, Value ZeroPoint) Params(string name, float scale, int zeroPoint) =>
        (PassUtil.Const(name + "_scale", QuantParams.Floats(new[] { scale }, true)), PassUtil.Const(name + "_zero_point", QuantParams.Int8Scalar(zeroPoint)));

    public static Node Quantize(Value x, Value y, (Value Scale, Value ZeroPoint) p) =>
        PassUtil.Make("QuantizeLinear", Opset, x.Name + "_QuantizeLinear", new[] { x, p.Scale, p.ZeroPoint }, new[] { y });

    public static Node Dequantize(Value x, Value y, (Value Scale, Value ZeroPoint) p) =>
        PassUtil.Make("DequantizeLinear", Opset, x.Name + "_DequantizeLinear", new[] { x, p.Scale, p.ZeroPoint }, new[] { y });
}
