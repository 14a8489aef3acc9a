using System;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Operators;

namespace ModelGen.Compiler.Quant;

/// <summary>
/// What QConvInt8 and QGemmInt8 share: their requantization parameters (attributes x_zero_point, y_zero_point, qmin,
/// qmax, to; per-channel int32 inputs bias, multiplier, shift), the Net kernels' weight layout, and the emitted scalar
/// requantization. The arithmetic itself is <see cref="FixedPoint"/>.
/// </summary>
internal sealed class Int8Params
{
    public int XZero, YZero, QMin, QMax;
    public DType OutType;

    public static Int8Params Read(Node n, Value x, int channels)
    {
        if (!Q.Is8(x.Type)) throw Q.TypeError(n, x, "int8, uint8");
        var p = new Int8Params
        {
            XZero = (int)n.Int("x_zero_point", 0), YZero = (int)n.Int("y_zero_point", 0),
            QMin = (int)n.Int("qmin", 0), QMax = (int)n.Int("qmax", 0), OutType = (DType)n.Int("to", (long)DType.Int8),
        };
        if (!Q.Is8(p.OutType)) throw new CompileException(Diag.UnsupportedType, $"{n.OpType} output type {p.OutType} is not int8 or uint8");
        var (xl, xh) = Q.Range(x.Type); var (yl, yh) = Q.Range(p.OutType);
        if (p.XZero < xl || p.XZero > xh || p.YZero < yl || p.YZero > yh || p.QMin < yl || p.QMax > yh || p.QMin > p.QMax)
            throw new CompileException(Diag.InvalidModel, $"{n.OpType}: zero points or clamp bounds outside the types' ranges");
        for (int i = 2; i <= 4; i++)
        {
            var v = n.In(i);
            if (v == null || v.Type != DType.Int32 || v.Length != channels)
                throw new CompileException(Diag.InvalidModel, $"{n.OpType} input {i} (bias, multiplier, shift) must be int32 [{channels}]");
        }
        return p;
    }

    /// <summary>Reference requantization of one accumulator of channel m (build-time evaluation).</summary>
    public long Requantize(int acc, TensorData mult, TensorData shift, int m)
        => FixedPoint.Requantize(acc, (int)mult.L[m], (int)shift.L[m], YZero, QMin, QMax);

    /// <summary>Emits "target = clamp(MgQMul(acc, mult, shift) + y_zp)" (both profiles).</summary>
    public void EmitStore(EmitContext e, string target, string acc, string mult, string shift)
    {
        e.UsedMath.Add("QMul");
        var q = e.Var("q");
        e.W.Line($"int {q} = MgQMul({acc}, {mult}, {shift}){(YZero == 0 ? "" : YZero > 0 ? " + " + YZero : " - " + (-YZero))};");
        e.W.Line($"{target} = ({DTypes.CsName(OutType)})({q} < {QMin} ? {QMin} : {q} > {QMax} ? {QMax} : {q});");
    }

    /// <summary>
    /// QGemm's weight layout: rows of <paramref name="k"/> int8 weights, each row padded to an even length
    /// (ModelGen.Runtime multiplies pairs), as a constant the node appends to its inputs. The kernel reads it as it is.
    /// </summary>
    public static Value PackWeights(string name, TensorData w, int rows, int k)
    {
        int kp = (k + 1) & ~1;
        var t = new TensorData(DType.Int8, new[] { rows, kp });
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < k; i++) t.L[r * kp + i] = w.L[r * k + i];
        return Q.Constant(name, t);
    }

    /// <summary>
    /// int16 scratch of the matrix kernels: the rows of x - x_zero_point, all m of them aligned for
    /// ModelGen.Runtime.QMatMulLanes (its Scratch), one for ModelGen.Runtime.QGemm's row kernel (k rounded up to even).
    /// </summary>
    public static int RowsScratch(bool lanes, int m, int k) => lanes ? m * ((k + 1) & ~1) + 32 : (k + 1) & ~1;

    /// <summary>ModelGen.Runtime.QMatMulLanes' weight layout (QPointwise's: pairs of K per column, columns padded to 32).</summary>
    public static Value PackLanes(string name, TensorData w, int rows, int k)
        => Q.Constant(name, new TensorData(DType.Int8, new[] { (k + 1) / 2 * ((rows + 31) / 32 * 32) * 2 }, l: QConvInt8.PackLanes(w.L, rows, k)));

    /// <summary>Net: a byte span over an int8/uint8 tensor (the runtime kernels take raw bytes and a signedness flag).</summary>
    public static string Bytes(EmitContext e, Value v) => v.Type == DType.UInt8 ? e.Span(v) : $"System.Runtime.InteropServices.MemoryMarshal.AsBytes({e.Span(v)})";

    public string Common(Value x) => $"xSigned: {(x.Type == DType.Int8 ? "true" : "false")}, xZero: {XZero}, yZero: {YZero}, qmin: {QMin}, qmax: {QMax}";
}
