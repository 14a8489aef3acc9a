using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

public static partial class OperatorRegistry
{
    static partial void RegisterQuant(Dictionary<string, Operator> t)
    {
        t[":QuantizeLinear"] = new QuantizeLinear();
        t[":DequantizeLinear"] = new DequantizeLinear();
        t[":DynamicQuantizeLinear"] = new DynamicQuantizeLinear();
        t[":QLinearMatMul"] = new QLinearMatMul();
        t[":MatMulInteger"] = new MatMulInteger();
        t[":QLinearConv"] = new QLinearConv(integerOnly: false);
        t[":ConvInteger"] = new QLinearConv(integerOnly: true);
        // ONNX Runtime's QOperator contrib ops (domain com.microsoft)
        t["com.microsoft:QLinearAdd"] = new QLinearBinary(mul: false);
        t["com.microsoft:QLinearMul"] = new QLinearBinary(mul: true);
        t["com.microsoft:QLinearSigmoid"] = new QLinearLookup(leaky: false);
        t["com.microsoft:QLinearLeakyRelu"] = new QLinearLookup(leaky: true);
        t["com.microsoft:QLinearAveragePool"] = new QLinearAveragePool();
        t["com.microsoft:QLinearGlobalAveragePool"] = new QLinearGlobalAveragePool();
        t["com.microsoft:QLinearConcat"] = new QLinearConcat();
        t["com.microsoft:QGemm"] = new QLinearGemm();
        t["com.microsoft:QLinearSoftmax"] = new QLinearSoftmax();
        // ONNX Runtime also accepts the QDQ pair under its own domain
        t["com.microsoft:QuantizeLinear"] = new QuantizeLinear();
        t["com.microsoft:DequantizeLinear"] = new DequantizeLinear();
        // integer kernels that QDQ patterns lower to (Passes.QdqConvGemmLowering)
        t[FusedElementwise.Domain + ":" + QConvInt8.OpType] = new QConvInt8();
        t[FusedElementwise.Domain + ":" + QGemmInt8.OpType] = new QGemmInt8();
        t[FusedElementwise.Domain + ":" + MatMulIntegerInt8.OpType] = new MatMulIntegerInt8();
        t[FusedElementwise.Domain + ":" + GemmInt8Weights.OpType] = new GemmInt8Weights();
        t[FusedElementwise.Domain + ":" + Int8Lookup.OpType] = new Int8Lookup();
    }
}

/// <summary>
/// Shared arithmetic of the quantized operators. THE REFERENCE (what every quantized kernel computes, in both profiles
/// and in build-time folding; chosen to match ONNX Runtime's CPU kernels / MLAS):
/// <list type="bullet">
/// <item>quantize: q = saturate(roundHalfEven(x / scale) + zero_point), with x / scale computed in float;</item>
/// <item>dequantize: x = (float)(q - zero_point) * scale;</item>
/// <item>integer products: int32 accumulator of (a - a_zp) * (b - b_zp) (+ int32 bias);</item>
/// <item>requantize: y = saturate(roundHalfEven((float)acc * multiplier) + y_zp) with the float multiplier
///   computed in float as (a_scale * b_scale) / y_scale, as ONNX Runtime's MlasRequantizeOutput does (it clamps
///   before rounding, which gives the same integers because the bounds are integers).</item>
/// </list>
/// Rounding is round half to even: MathF.Round on Net, the emitted MgRound helper on Portable (EmitContext.Math).
/// </summary>
internal static class Q
{
    public static bool Is8(DType t) => t is DType.Int8 or DType.UInt8;
    public static bool IsQuant(DType t) => t is DType.Int8 or DType.UInt8 or DType.Int16 or DType.UInt16;

    public static (long Lo, long Hi) Range(DType t) => t switch
    {
        DType.Int8 => (-128, 127), DType.UInt8 => (0, 255),
        DType.Int16 => (-32768, 32767), DType.UInt16 => (0, 65535),
        DType.Int32 => (int.MinValue, int.MaxValue),
        _ => throw new CompileException(Diag.UnsupportedType, $"{DTypes.OnnxName(t)} is not a quantized integer type (int8, uint8, int16, uint16)"),
    };

    public static CompileException TypeError(Node n, Value v, string allowed)
        => new(Diag.UnsupportedType, $"{n.OpType} input '{v.Name}' has element type {DTypes.OnnxName(v.Type)}; supported: {allowed}");

    /// <summary>Round half to even, then saturate to the range of <paramref name="t"/> (build-time reference).</summary>
    public static long Saturate(DType t, double rounded)
    {
        var (lo, hi) = Range(t);
        if (double.IsNaN(rounded)) return 0;
        return rounded < lo ? lo : rounded > hi ? hi : (long)rounded;
    }

    public static double RoundEven(double v) => Math.Round(v, MidpointRounding.ToEven);

    /// <summary>Build-time quantize of one value: float division, half-even rounding, zero point, saturation.</summary>
    public static long Quantize(float x, float scale, long zp, DType t) => Saturate(t, RoundEven(x / scale) + zp);

    /// <summary>Build-time requantize of an int32 accumulator with a float multiplier.</summary>
    public static long Requantize(long acc, float multiplier, long zp, DType t) => Saturate(t, RoundEven((float)acc * multiplier) + zp);

    /// <summary>The float multiplier (a * b) / y, computed in float as ONNX Runtime does.</summary>
    public static float Multiplier(float a, float b, float y) { float ab = a * b; return ab / y; }

    /// <summary>
    /// Writes "target = saturate(valueExpr)" where valueExpr is a float expression already rounded and offset by the
    /// zero point: the value is clamped in float (no overflowing conversion), then cast.
    /// </summary>
    public static void Store(EmitContext e, string target, DType t, string floatExpr)
    {
        var (lo, hi) = Range(t);
        var v = e.Var("q");
        string L(long x) => EmitContext.F(x);
        e.W.Line($"float {v} = {floatExpr};");
        e.W.Line($"{target} = ({DTypes.CsName(t)})({v} < {L(lo)} ? {L(lo)} : {v} > {L(hi)} ? {L(hi)} : {v});");
    }

    /// <summary>Round half to even of a float expression (both profiles).</summary>
    public static string Round(EmitContext e, string x) => e.Math("Round", DType.Float, x);

    /// <summary>A float expression for a scale element ("(float)" where a double literal could appear is not needed: scales are float).</summary>
    public static string FloatOf(EmitContext e, Value v, string idx) => v.Type == DType.Float ? e.At(v, idx) : $"(float){e.At(v, idx)}";

    /// <summary>The zero point as an int expression ("0" when absent or a constant 0).</summary>
    public static string Zp(EmitContext e, Value zp, string idx)
    {
        if (zp == null) return "0";
        if (zp.IsConst && zp.Length == 1) return zp.Const.GetLong(0).ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (zp.IsConst && zp.Const.L.All(x => x == zp.Const.L[0])) return zp.Const.L[0].ToString(System.Globalization.CultureInfo.InvariantCulture);
        return "(int)" + e.At(zp, zp.Length == 1 ? "0" : idx);
    }

    /// <summary>"x - zp" as readable int arithmetic (no subtraction for a zero point 0).</summary>
    public static string Minus(string x, string zp) => zp == "0" ? x : zp.StartsWith("-", StringComparison.Ordinal) ? $"({x} + {zp.Substring(1)})" : $"({x} - {zp})";

    public static bool IsScalarLike(Value v) => v == null || v.Length == 1;

    /// <summary>Requires a per-tensor (one element) parameter.</summary>
    public static void RequireScalar(Node n, Value v, string what)
    {
        if (v != null && v.Length != 1) throw new CompileException(Diag.UnsupportedAttribute, $"{n.OpType} {what} '{v.Name}' must be a scalar (per-tensor), got shape {Shape.Format(v.Shape)}");
    }

    public static void RequireFloatScale(Node n, Value v)
    {
        if (v != null && v.Type != DType.Float) throw new CompileException(Diag.UnsupportedType, $"{n.OpType} scale '{v.Name}' must be float, got {DTypes.OnnxName(v.Type)}");
    }

    /// <summary>Long value of a constant scalar zero point (0 when absent).</summary>
    public static long ConstZp(Value zp) => zp == null ? 0 : zp.Const.GetLong(0);

    /// <summary>Value of element i of an optional zero-point tensor during evaluation (0 when absent; a scalar broadcasts).</summary>
    public static long ZpAt(TensorData zp, int i) => zp == null ? 0 : zp.GetLong(zp.Length == 1 ? 0 : i);
    public static float ScaleAt(TensorData s, int i) => (float)s.GetDouble(s.Length == 1 ? 0 : i);

    /// <summary>
    /// Broadcast loops for several statements per element: opens loops over <paramref name="outShape"/> (merging dims
    /// contiguous for every operand) and calls <paramref name="body"/> with the output index and each operand's index.
    /// </summary>
    public static void Loops(EmitContext e, int[] outShape, IReadOnlyList<int[]> inShapes, Action<string, string[]> body)
    {
        var dims = new List<int>();
        var strides = inShapes.Select(_ => new List<int>()).ToList();
        var outStrides = new List<int>();
        var inStrides = inShapes.Select(s => Shape.BroadcastStrides(s, outShape)).ToArray();
        var os = Shape.Strides(outShape);
        for (int d = 0; d < outShape.Length; d++)
        {
            if (outShape[d] == 1) continue;
            bool merge = dims.Count > 0 && outStrides[outStrides.Count - 1] == os[d] * outShape[d];
            for (int k = 0; k < inShapes.Count && merge; k++) merge = strides[k][strides[k].Count - 1] == inStrides[k][d] * outShape[d];
            if (merge)
            {
                dims[dims.Count - 1] *= outShape[d];
                outStrides[outStrides.Count - 1] = os[d];
                for (int k = 0; k < inShapes.Count; k++) strides[k][strides[k].Count - 1] = inStrides[k][d];
            }
            else
            {
                dims.Add(outShape[d]); outStrides.Add(os[d]);
                for (int k = 0; k < inShapes.Count; k++) strides[k].Add(inStrides[k][d]);
            }
        }
        var vars = dims.Select(_ => e.Var("i")).ToArray();
        for (int d = 0; d < dims.Count; d++) e.W.Open($"for (int {vars[d]} = 0; {vars[d]} < {dims[d]}; {vars[d]}++)");
        string Index(IList<int> st) => Idx.Sum(Enumerable.Range(0, dims.Count).Select(d => Idx.Mul(vars[d], st[d])).ToArray());
        body(Index(outStrides), strides.Select(Index).ToArray());
        for (int d = 0; d < dims.Count; d++) e.W.Close();
    }

    /// <summary>A new constant value (lookup tables) that an operator appends to its node's inputs, so it is emitted as a constant.</summary>
    public static Value Constant(string name, TensorData data) => new(name) { Type = data.Type, Shape = data.Shape, Const = data };
}
