using System;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// Where the scale / zero point of QuantizeLinear and DequantizeLinear apply: one per tensor, one per slice of
/// 'axis' (opset 13+), or one per block of 'block_size' elements along 'axis' (opset 21+). The data is seen as
/// [Outer, C, Inner] around the axis; a blocked parameter has shape [Outer, ceil(C / B), Inner].
/// </summary>
internal sealed class QdqLayout
{
    public enum Kind { Tensor, Axis, Block }
    public Kind Mode;
    public int Outer = 1, C = 1, Inner = 1, B = 1, Cb = 1;

    public static QdqLayout Resolve(Node n, Value x, Value scale, Value zp)
    {
        var l = new QdqLayout();
        if (zp != null && !Shape.Equal(zp.Shape, scale.Shape) && !(zp.Length == 1 && scale.Length == 1))
            throw new CompileException(Diag.InvalidModel, $"{n.OpType} zero point shape {Shape.Format(zp.Shape)} differs from the scale shape {Shape.Format(scale.Shape)}");
        long block = n.Opset >= 21 ? n.Int("block_size", 0) : 0;
        if (block < 0) throw new CompileException(Diag.InvalidModel, $"{n.OpType} block_size {block} is negative");
        if (block == 0 && scale.Length == 1 && scale.Shape.Length <= 1) { l.Mode = Kind.Tensor; return l; }
        if (n.Opset < 13) throw new CompileException(Diag.InvalidModel, $"{n.OpType} opset {n.Opset} takes a scalar scale, got {Shape.Format(scale.Shape)}");
        int rank = x.Shape.Length;
        if (rank == 0) throw new CompileException(Diag.InvalidModel, $"{n.OpType} on a scalar takes a scalar scale, got {Shape.Format(scale.Shape)}");
        int axis = Shape.Axis(n.Int("axis", 1), rank);
        for (int d = 0; d < axis; d++) l.Outer *= x.Shape[d];
        l.C = x.Shape[axis];
        for (int d = axis + 1; d < rank; d++) l.Inner *= x.Shape[d];
        if (block == 0)
        {
            if (scale.Shape.Length != 1 || scale.Shape[0] != l.C)
                throw new CompileException(Diag.InvalidModel, $"{n.OpType} per-axis scale must have shape [{l.C}] (axis {axis} of {Shape.Format(x.Shape)}), got {Shape.Format(scale.Shape)}");
            l.Mode = Kind.Axis;
            return l;
        }
        if (block > 1 << 24) throw new CompileException(Diag.UnsupportedAttribute, $"{n.OpType} block_size {block} is too large");
        l.Mode = Kind.Block; l.B = (int)block; l.Cb = (l.C + l.B - 1) / l.B;
        var want = (int[])x.Shape.Clone(); want[axis] = l.Cb;
        if (!Shape.Equal(want, scale.Shape))
            throw new CompileException(Diag.InvalidModel, $"{n.OpType} blocked scale must have shape {Shape.Format(want)} (block_size {block} on axis {axis} of {Shape.Format(x.Shape)}), got {Shape.Format(scale.Shape)}");
        return l;
    }

    /// <summary>Index of the parameter of flat data element i.</summary>
    public int ParamIndex(int i)
    {
        if (Mode == Kind.Tensor) return 0;
        int inner = i % Inner, c = i / Inner % C, o = i / Inner / C;
        return Mode == Kind.Axis ? c : (o * Cb + c / B) * Inner + inner;
    }

    /// <summary>
    /// Emits loops over the data, calling <paramref name="body"/>(dataIndex, scaleExpr, zeroPointExpr). Per-axis
    /// parameters are read once per slice into locals.
    /// </summary>
    public void Emit(EmitContext e, int count, Value scale, Value zp, Action<string, string, string> body)
    {
        var w = e.W;
        if (count == 0) return;
        if (Mode == Kind.Tensor)
        {
            string s = e.At(scale, "0"), z = Q.Zp(e, zp, "0");
            if (!scale.IsConst) { var sv = e.Var("scale"); w.Line($"float {sv} = {s};"); s = sv; }
            if (zp != null && !zp.IsConst) { var zv = e.Var("zp"); w.Line($"int {zv} = {z};"); z = zv; }
            var i = e.Var("i");
            w.Open($"for (int {i} = 0; {i} < {count}; {i}++)");
            body(i, s, z);
            w.Close();
            return;
        }
        int opened = 0;
        string o = "0", c = e.Var("c"), ii = "0";
        if (Outer > 1) { o = e.Var("o"); w.Open($"for (int {o} = 0; {o} < {Outer}; {o}++)"); opened++; }
        w.Open($"for (int {c} = 0; {c} < {C}; {c}++)"); opened++;
        string sc, zc;
        if (Mode == Kind.Axis)
        {
            sc = e.Var("scale"); w.Line($"float {sc} = {e.At(scale, c)};");
            zc = Q.Zp(e, zp, c);
            if (zc != "0" && !IsNumber(zc)) { var zv = e.Var("zp"); w.Line($"int {zv} = {zc};"); zc = zv; }
        }
        else
        {
            // blocked: the parameter index follows the element ((o * Cb + c / B) * Inner + j)
            var pi = Idx.Sum(Idx.Mul(o, (long)Cb * Inner), Idx.Mul(B == 1 ? c : $"({c} / {B})", Inner));
            if (Inner > 1) { ii = e.Var("j"); pi = Idx.Sum(pi, ii); }
            sc = null; zc = pi;
        }
        if (Inner > 1) { if (ii == "0") ii = e.Var("j"); w.Open($"for (int {ii} = 0; {ii} < {Inner}; {ii}++)"); opened++; }
        var xi = Idx.Sum(Idx.Mul(o, (long)C * Inner), Idx.Mul(c, Inner), ii);
        if (sc == null)
        {
            var pi = zc;
            sc = e.At(scale, pi);
            zc = Q.Zp(e, zp, pi);
        }
        body(xi, sc, zc);
        for (int k = 0; k < opened; k++) w.Close();
    }

    static bool IsNumber(string s) => long.TryParse(s, out _);
}

/// <summary>
/// QuantizeLinear (opsets 10, 13, 19, 21): y = saturate(roundHalfEven(x / y_scale) + y_zero_point). Input float or
/// int32; output int8/uint8 (int16/uint16 from opset 21): the zero point's type, else 'output_dtype' (opset 21), else
/// uint8. Per-tensor, per-axis (13+) and blocked (21+) parameters. Constant inputs fold (quantized weights). Net,
/// float to int8/uint8 per tensor: ModelGen.Runtime.Int8.Quantize (SIMD); otherwise loops.
/// </summary>
public sealed class QuantizeLinear : Operator
{
    public override bool ElementwiseInPlace => false;

    public override void Infer(Node n)
    {
        Require(n, 2, 3);
        var x = n.In(0); var s = n.In(1); var zp = n.In(2);
        if (x.Type != DType.Float && x.Type != DType.Int32) throw Q.TypeError(n, x, "float, int32");
        Q.RequireFloatScale(n, s);
        DType outT = DType.UInt8;
        if (zp != null) outT = zp.Type;
        else if (n.Opset >= 21 && n.Int("output_dtype", 0) != 0) outT = (DType)n.Int("output_dtype", 0);
        if (!Q.IsQuant(outT)) throw new CompileException(Diag.UnsupportedType, $"QuantizeLinear to {DTypes.OnnxName(outT)} is not supported (int8, uint8, int16, uint16)");
        if (n.Opset >= 21 && n.Int("output_dtype", 0) != 0 && zp != null && (DType)n.Int("output_dtype", 0) != zp.Type)
            throw Error("QuantizeLinear output_dtype differs from the zero point's type");
        n.State = QdqLayout.Resolve(n, x, s, zp);
        SetOut(n, 0, outT, x.Shape);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var l = (QdqLayout)n.State;
        var x = inputs[0]; var s = inputs[1]; var zp = inputs.Length > 2 ? inputs[2] : null;
        var y = new TensorData(n.Out().Type, n.Out().Shape);
        for (int i = 0; i < y.Length; i++)
        {
            int p = l.ParamIndex(i);
            y.L[i] = Q.Quantize((float)x.GetDouble(i), Q.ScaleAt(s, p), Q.ZpAt(zp, p), y.Type);
        }
        return new[] { y };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var l = (QdqLayout)n.State;
        var x = n.In(0); var y = n.Out();
        if (e.Net && l.Mode == QdqLayout.Kind.Tensor && x.Type == DType.Float && Q.Is8(y.Type) && y.Length > 0)
        {
            // per tensor (a quantized model's input): ModelGen.Runtime's SIMD loop, bit-exact with the loop below
            e.W.Line($"ModelGen.Runtime.Int8.Quantize({e.Span(x)}, {e.At(n.In(1), "0")}, {Q.Zp(e, n.In(2), "0")}, {e.Span(y)});");
            return;
        }
        l.Emit(e, y.Length, n.In(1), n.In(2), (i, s, z) =>
        {
            var xv = x.Type == DType.Float ? e.At(x, i) : $"(float){e.At(x, i)}";
            var r = Q.Round(e, $"{xv} / {s}");
            Q.Store(e, e.At(y, i), y.Type, z == "0" ? r : $"{r} + {z}");
        });
    }
}

/// <summary>
/// DequantizeLinear (opsets 10, 13, 19, 21): y = (float)(x - x_zero_point) * x_scale, x int8/uint8/int16/uint16/int32
/// (int32: zero point 0). Constant inputs fold to float: DequantizeLinear of constant weights becomes a float
/// initializer, so a QDQ model's float operators read float weights (computed once at build time, not per inference).
/// Net, int8/uint8 per tensor: ModelGen.Runtime.Int8.Dequantize (SIMD); int8 per axis with runs of 8 or more:
/// Int8.DequantizeAxis; otherwise loops.
/// </summary>
public sealed class DequantizeLinear : Operator
{
    /// <summary>
    /// Marks a DequantizeLinear of constant weights that must run at run time (Quantize="Weights": the user asked for
    /// int8 weights in the binary), so no pass folds it back into float weights or reports it as a missed lowering.
    /// </summary>
    public const string KeepAttr = "_mg_keep";

    public static bool Keep(Node n) => n != null && n.OpType == "DequantizeLinear" && n.Int(KeepAttr, 0) != 0;

    public override void Infer(Node n)
    {
        Require(n, 2, 3);
        var x = n.In(0); var s = n.In(1); var zp = n.In(2);
        if (!Q.IsQuant(x.Type) && x.Type != DType.Int32) throw Q.TypeError(n, x, "int8, uint8, int16, uint16, int32");
        Q.RequireFloatScale(n, s);
        if (zp != null && zp.Type != x.Type) throw Error($"DequantizeLinear zero point type {DTypes.OnnxName(zp.Type)} differs from the input type {DTypes.OnnxName(x.Type)}");
        n.State = QdqLayout.Resolve(n, x, s, zp);
        SetOut(n, 0, DType.Float, x.Shape);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var l = (QdqLayout)n.State;
        var x = inputs[0]; var s = inputs[1]; var zp = inputs.Length > 2 ? inputs[2] : null;
        var y = new TensorData(DType.Float, n.Out().Shape);
        for (int i = 0; i < y.Length; i++)
        {
            int p = l.ParamIndex(i);
            y.F[i] = (float)(int)(x.L[i] - Q.ZpAt(zp, p)) * Q.ScaleAt(s, p);
        }
        return new[] { y };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var l = (QdqLayout)n.State;
        var x = n.In(0); var y = n.Out();
        if (e.Net && l.Mode == QdqLayout.Kind.Tensor && Q.Is8(x.Type) && y.Length > 0)
        {
            // per tensor (a quantized model's output): ModelGen.Runtime's SIMD loop, bit-exact with the loop below
            e.W.Line($"ModelGen.Runtime.Int8.Dequantize({e.Span(x)}, {e.At(n.In(1), "0")}, {Q.Zp(e, n.In(2), "0")}, {e.Span(y)});");
            return;
        }
        if (e.Net && l.Mode == QdqLayout.Kind.Axis && x.Type == DType.Int8 && l.Inner >= 8 && y.Length > 0)
        {
            // per channel over runs of 8+ (convolution weights under Quantize="Weights"): a SIMD pass per channel
            var zp = n.In(2);
            e.W.Line($"ModelGen.Runtime.Int8.DequantizeAxis({e.Span(x)}, {e.Span(n.In(1))}, {(zp == null ? "default" : e.Span(zp))}, {e.Span(y)}, {l.Outer}, {l.C}, {l.Inner});");
            return;
        }
        l.Emit(e, y.Length, n.In(1), n.In(2), (i, s, z) =>
            e.W.Line($"{e.At(y, i)} = (float){Q.Minus(e.At(x, i), z)} * {s};"));
    }
}

/// <summary>
/// DynamicQuantizeLinear (opset 11): uint8 quantization with parameters from the data, as ONNX Runtime computes them:
/// range = [min(0, min x), max(0, max x)], y_scale = (max - min) / 255 (1 when the range is empty),
/// y_zero_point = roundHalfEven(saturate(0 - min / y_scale)), y = saturate(roundHalfEven(x / y_scale) + y_zero_point).
/// Net profile: ModelGen.Runtime.Int8.DynamicQuantize (SIMD, the same arithmetic); Portable: loops.
/// </summary>
public sealed class DynamicQuantizeLinear : Operator
{
    public override void Infer(Node n)
    {
        Require(n, 1, 1);
        var x = n.In(0);
        if (x.Type != DType.Float) throw Q.TypeError(n, x, "float");
        if (n.Outputs.Count != 3) throw Error("DynamicQuantizeLinear has 3 outputs (y, y_scale, y_zero_point)");
        SetOut(n, 0, DType.UInt8, x.Shape);
        SetOut(n, 1, DType.Float, Array.Empty<int>());
        SetOut(n, 2, DType.UInt8, Array.Empty<int>());
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var x = inputs[0];
        float mn = 0f, mx = 0f;
        for (int i = 0; i < x.Length; i++) { if (x.F[i] < mn) mn = x.F[i]; if (x.F[i] > mx) mx = x.F[i]; }
        float scale = mx == mn ? 1f : (mx - mn) / 255f;
        float z0 = 0f - mn / scale;
        long zp = (long)Q.RoundEven(z0 < 0f ? 0f : z0 > 255f ? 255f : z0);
        var y = new TensorData(DType.UInt8, x.Shape);
        for (int i = 0; i < x.Length; i++) y.L[i] = Q.Quantize(x.F[i], scale, zp, DType.UInt8);
        return new[] { y, TensorData.Scalar(DType.Float, scale), TensorData.Scalar(DType.UInt8, zp) };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var x = n.In(0); var y = n.Out(0);
        var w = e.W;
        if (e.Net)
        {
            // the same arithmetic in one SIMD pass for the range and one for the quantization
            string sv = e.Var("scale"), zv = e.Var("zp");
            w.Line($"ModelGen.Runtime.Int8.DynamicQuantize({e.Span(x)}, {e.Span(y)}, out float {sv}, out byte {zv});");
            w.Line($"{e.At(n.Out(1), "0")} = {sv};");
            w.Line($"{e.At(n.Out(2), "0")} = {zv};");
            return;
        }
        string mn = e.Var("min"), mx = e.Var("max"), s = e.Var("scale"), z0 = e.Var("zf"), z = e.Var("zp"), i = e.Var("i");
        w.Line($"float {mn} = 0f, {mx} = 0f;");
        if (x.Length > 0)
        {
            w.Open($"for (int {i} = 0; {i} < {x.Length}; {i}++)");
            var v = e.Var("v");
            w.Line($"float {v} = {e.At(x, i)};");
            w.Line($"if ({v} < {mn}) {mn} = {v};");
            w.Line($"if ({v} > {mx}) {mx} = {v};");
            w.Close();
        }
        w.Line($"float {s} = {mx} == {mn} ? 1f : ({mx} - {mn}) / 255f;");
        w.Line($"float {z0} = 0f - {mn} / {s};");
        w.Line($"int {z} = (int){Q.Round(e, $"{z0} < 0f ? 0f : {z0} > 255f ? 255f : {z0}")};");
        w.Line($"{e.At(n.Out(1), "0")} = {s};");
        w.Line($"{e.At(n.Out(2), "0")} = (byte){z};");
        if (x.Length == 0) return;
        var j = e.Var("i");
        w.Open($"for (int {j} = 0; {j} < {x.Length}; {j}++)");
        Q.Store(e, e.At(y, j), DType.UInt8, $"{Q.Round(e, $"{e.At(x, j)} / {s}")} + {z}");
        w.Close();
    }
}
