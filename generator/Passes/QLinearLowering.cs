using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Operators;
using static ModelGen.Compiler.Passes.PassUtil;

namespace ModelGen.Compiler.Passes;

/// <summary>
/// QOperator-format layers (QLinearConv, QLinearMatMul, com.microsoft QGemm, as ONNX Runtime's quantizer and the
/// ONNX model zoo's int8 models write them) to the integer kernels a QDQ model lowers to (QConvInt8, QGemmInt8), and
/// the MatMulInteger of dynamic quantization (on a constant B; its int32 result stays exact) to MatMulIntegerInt8: constant
/// weights (int8, or uint8 whose zero point leaves them in int8's range) per tensor or per output channel, input and
/// output per tensor with constant parameters. The requantization becomes TFLite's fixed point (each multiplier a
/// 31-bit integer and a shift) where the operators' reference multiplies in float as ONNX Runtime does: results may
/// differ from it by one quantization step, as lowered QDQ models may. A layer that does not fit keeps its reference
/// loops (correct, scalar) and is reported (MG0013) with the reason.
/// </summary>
public sealed class QLinearLowering : IPass
{
    public string Name => "QLinearLowering";

    public void Run(Graph graph)
    {
        var reported = new HashSet<Node>();
        Fixpoint(graph, (g, uses, n) =>
        {
            bool std = n.Domain is "" or "ai.onnx";
            string why = n.OpType switch
            {
                "QLinearConv" when std => Conv(g, n),
                "QLinearMatMul" when std => MatMul(g, n),
                "MatMulInteger" when std => MatMulInteger(g, uses, n),
                "QGemm" when n.Domain == "com.microsoft" => Gemm(g, n),
                _ => "",
            };
            if (!string.IsNullOrEmpty(why) && reported.Add(n))
                graph.Notes.Add(new Diagnostic(Diag.QuantizedNotLowered, $"{n.Display} runs as scalar reference loops, not the integer SIMD kernels: {why}"));
            return why == null;
        });
    }

    /// <summary>Constant weights at w with constant scale (and zero point) at s (z): why not, or null.</summary>
    static string ConstWeights(Node n, int w, int s, int z)
    {
        if (!n.In(w).IsConst) return "its weights are not constant";
        if (!n.In(s).IsConst || n.In(z) != null && !n.In(z).IsConst) return "its weight scale or zero point is not constant";
        return null;
    }

    /// <summary>The output's full range (QLinear* ops have no fused clamp).</summary>
    static (int, int) Range(Value y) { var (lo, hi) = Q.Range(y.Type); return ((int)lo, (int)hi); }

    /// <summary>QLinearConv: x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, [B int32 [M]].</summary>
    static string Conv(Graph g, Node n)
    {
        if (!QdqConvGemmLowering.PerTensor(n, 1, 2, out float sx, out int zx)) return "its input's scale and zero point are not constant";
        if (!QdqConvGemmLowering.PerTensor(n, 6, 7, out float sy, out int zy)) return "its output's scale and zero point are not constant";
        if (ConstWeights(n, 3, 4, 5) is string whyC) return whyC;
        bool grouped = n.Int("group", 1) != 1;
        var why = QdqConvGemmLowering.WeightRows(n.In(3).Const, n.In(4).Const, n.In(5)?.Const, conv: true, rowsFirst: true, grouped, out var w, out var ws, out bool doubled);
        if (why != null) return why;
        var bias = new TensorData(DType.Int32, new[] { ws.Length });
        if (n.In(8) is Value b)
        {
            if (!b.IsConst) return "its bias is not constant";
            Array.Copy(b.Const.L, bias.L, ws.Length);
        }
        var (qmin, qmax) = Range(n.Out());
        string name = n.Name ?? n.Out().Name;
        var x = doubled ? QdqConvGemmLowering.Doubled(g, n.In(0), 1, n, name + "_x2", grouped) : n.In(0);
        var node = QdqConvGemmLowering.IntegerNode(name, n, x, zx, w, bias, ws.Select(s => (double)sx * s / sy).ToArray(), zy, qmin, qmax, n.Out());
        Replace(g, new[] { n }, node);
        return null;
    }

    /// <summary>QLinearMatMul with a constant matrix B [K, N]: a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp.</summary>
    static string MatMul(Graph g, Node n)
    {
        if (n.In(3).Shape.Length != 2) return "its B is not a matrix";
        if (n.In(0).Shape.Length < 1) return "its A is a scalar";
        if (!QdqConvGemmLowering.PerTensor(n, 1, 2, out float sa, out int za)) return "A's scale and zero point are not per tensor constants";
        if (!QdqConvGemmLowering.PerTensor(n, 6, 7, out float sy, out int zy)) return "its output's scale and zero point are not constant";
        if (ConstWeights(n, 3, 4, 5) is string whyC) return whyC;
        var why = QdqConvGemmLowering.WeightRows(n.In(3).Const, n.In(4).Const, n.In(5)?.Const, conv: false, rowsFirst: false, grouped: false, out var w, out var ws, out bool doubled);
        if (why != null) return why;
        var (qmin, qmax) = Range(n.Out());
        string name = n.Name ?? n.Out().Name;
        var a = doubled ? QdqConvGemmLowering.Doubled(g, n.In(0), -1, n, name + "_a2", interleave: false) : n.In(0);
        var node = QdqConvGemmLowering.IntegerNode(name, null, a, za, w, new TensorData(DType.Int32, new[] { ws.Length }),
            ws.Select(s => (double)sa * s / sy).ToArray(), zy, qmin, qmax, n.Out());
        Replace(g, new[] { n }, node);
        return null;
    }

    /// <summary>
    /// MatMulInteger (a, b, [a_zero_point], [b_zero_point]) with a constant matrix B [K, N], B's zero point constant per
    /// tensor or per column, A's one value (constant or, after DynamicQuantizeLinear, computed at run time). The Cast to
    /// float, the Mul by a scale (one value or one per column) and the Add of a constant bias per column that dynamic
    /// quantization writes after it become the node's float output.
    /// </summary>
    static string MatMulInteger(Graph g, Uses uses, Node n)
    {
        var b = n.In(1);
        if (b.Shape.Length != 2 || !b.IsConst) return "its B is not a constant matrix";
        if (n.In(0).Shape.Length < 1) return "its A is a scalar";
        if (n.In(2) is Value za && za.Length != 1) return "A's zero point is not one value";
        if (n.In(3) is Value zb && !zb.IsConst) return "B's zero point is not constant";
        var ones = new TensorData(DType.Float, new[] { 1 }, f: new[] { 1f });
        var why = QdqConvGemmLowering.WeightRows(b.Const, ones, n.In(3)?.Const, conv: false, rowsFirst: false, grouped: false, out var w, out _, out bool doubled);
        if (why != null) return why;
        int cols = w.Shape[0];
        string name = n.Name ?? n.Out().Name;
        var a = doubled ? QdqConvGemmLowering.Doubled(g, n.In(0), -1, n, name + "_a2", interleave: false) : n.In(0);
        var removed = new List<Node> { n };
        Value y = n.Out(), scale = null, bias = null;
        var cast = uses.Only(y);
        var mul = Is(cast, "Cast") && cast.Int("to", 0) == (long)DType.Float ? uses.Only(cast.Out()) : null;
        if (Is(mul, "Mul"))
        {
            var s = Other(mul, cast.Out());
            if (s != null && s != cast.Out() && PerColumn(s, cols, allowScalar: true) && Shape.Equal(mul.Out().Shape, y.Shape))
            {
                removed.Add(cast); removed.Add(mul);
                scale = s; y = mul.Out();
                var add = uses.Only(y);
                var c = Is(add, "Add") ? Other(add, y) : null;
                if (c != null && c != y && c.IsConst && PerColumn(c, cols, allowScalar: false) && Shape.Equal(add.Out().Shape, y.Shape))
                {
                    removed.Add(add);
                    bias = Const(name + "_bias", new TensorData(DType.Float, new[] { cols }, f: (float[])c.Const.F.Clone()));
                    y = add.Out();
                }
                if (s.Length != 1 && s.Shape.Length != 1)
                    scale = s.IsConst ? Const(name + "_scale", new TensorData(DType.Float, new[] { cols }, f: (float[])s.Const.F.Clone())) : Reshape(g, s, cols, name + "_scale");
            }
        }
        var node = MakeIn(FusedElementwise.Domain, MatMulIntegerInt8.OpType, 1, name, new[] { a, Const(name + "_wq", w), n.In(2), null, scale, bias }, new[] { y }, new IR.Attribute[0]);
        Replace(g, removed, node);
        return null;
    }

    /// <summary>A float operand that broadcasts one value per column ([N] or [1, ..., 1, N]), or one value.</summary>
    static bool PerColumn(Value v, int cols, bool allowScalar)
        => v.Type == DType.Float && (allowScalar && v.Length == 1 || v.Length == cols && v.Shape.Length >= 1 && v.Shape[v.Shape.Length - 1] == cols);

    /// <summary>v ([1, ..., 1, N]) seen as [N]: a Reshape node before the fused node (a view, no copy).</summary>
    static Value Reshape(Graph g, Value v, int cols, string name)
    {
        var r = new Value(name) { Type = v.Type, Shape = new[] { cols } };
        g.Nodes.Insert(g.Nodes.IndexOf(v.Producer) + 1, Make("Reshape", 13, name, new[] { v, ShapeConst(name + "_shape", new[] { cols }) }, new[] { r }));
        return r;
    }

    /// <summary>com.microsoft QGemm with quantized output, A not transposed, a constant B and C absent or one value per column.</summary>
    static string Gemm(Graph g, Node n)
    {
        if (n.In(7) == null) return "its output is float (no y_scale)";
        if (n.Int("transA", 0) != 0) return "transA is not lowered";
        if (!QdqConvGemmLowering.PerTensor(n, 1, 2, out float sa, out int za)) return "A's scale and zero point are not constant";
        if (!QdqConvGemmLowering.PerTensor(n, 7, 8, out float sy, out int zy)) return "its output's scale and zero point are not constant";
        if (ConstWeights(n, 3, 4, 5) is string whyC) return whyC;
        bool transB = n.Int("transB", 0) != 0;
        var why = QdqConvGemmLowering.WeightRows(n.In(3).Const, n.In(4).Const, n.In(5)?.Const, conv: false, rowsFirst: transB, grouped: false, out var w, out var ws, out bool doubled);
        if (why != null) return why;
        var bias = new TensorData(DType.Int32, new[] { ws.Length });
        if (n.In(6) is Value c)
        {
            if (!c.IsConst) return "its C is not constant";
            if (c.Length == 1) for (int i = 0; i < ws.Length; i++) bias.L[i] = c.Const.L[0];
            else if (c.Length == ws.Length && (c.Shape.Length == 1 || c.Shape[0] == 1)) Array.Copy(c.Const.L, bias.L, ws.Length);
            else return "its C is not one value per column";
        }
        double alpha = n.Float("alpha", 1f);
        if (!(alpha > 0)) return "alpha is not positive";
        var (qmin, qmax) = Range(n.Out());
        string name = n.Name ?? n.Out().Name;
        var a = doubled ? QdqConvGemmLowering.Doubled(g, n.In(0), -1, n, name + "_a2", interleave: false) : n.In(0);
        var node = QdqConvGemmLowering.IntegerNode(name, null, a, za, w, bias, ws.Select(s => alpha * sa * s / sy).ToArray(), zy, qmin, qmax, n.Out());
        Replace(g, new[] { n }, node);
        return null;
    }
}
