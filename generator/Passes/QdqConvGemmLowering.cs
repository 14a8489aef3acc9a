using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Operators;
using ModelGen.Compiler.Quant;
using static ModelGen.Compiler.Passes.PassUtil;

namespace ModelGen.Compiler.Passes;

/// <summary>
/// QDQ Conv / Gemm / MatMul to integer kernels (ONNX Runtime's QDQ format, as its quantizer writes it):
/// DequantizeLinear(x int8/uint8, per tensor) -> op(weights DequantizeLinear(constant int8/uint8, per tensor or per
/// output channel), bias DequantizeLinear(constant int32) or a float constant) [-> MatMul's Add of a bias]
/// [-> Relu / Clip] -> QuantizeLinear(per tensor) becomes one QConvInt8 / QGemmInt8 reading and writing the integer
/// tensors. A Conv, Gemm or MatMul with quantized weights that does not match stays in float (correct, slower) and
/// is reported (MG0013).
/// </summary>
public sealed class QdqConvGemmLowering : IPass
{
    public string Name => "QdqConvGemmLowering";

    public void Run(Graph graph)
    {
        var reported = new HashSet<Node>();
        Fixpoint(graph, (g, uses, n) =>
        {
            if (!(Is(n, "Conv") || Is(n, "Gemm") || Is(n, "MatMul"))) return false;
            var why = TryLower(g, uses, n);
            if (why != null && QuantWeights(n) && reported.Add(n))
                graph.Notes.Add(new Diagnostic(Diag.QuantizedNotLowered, $"{n.Display} has quantized weights but runs in float: {why}"));
            return why == null;
        });
    }

    static bool IsDq(Node n) => n != null && n.OpType == "DequantizeLinear" && (n.Domain == "" || n.Domain == "ai.onnx" || n.Domain == "com.microsoft");
    static bool QuantWeights(Node n) => IsDq(n.In(1)?.Producer) && n.In(1).Producer.In(0).IsConst && !DequantizeLinear.Keep(n.In(1).Producer);

    /// <summary>A per-tensor quantization (DequantizeLinear or QuantizeLinear node): constant scale and zero point.</summary>
    static bool PerTensor(Node q, out float scale, out int zero) => PerTensor(q, 1, 2, out scale, out zero);

    /// <summary>A constant positive finite scale and a constant zero point (absent: 0), one value each, at inputs s and z of n.</summary>
    internal static bool PerTensor(Node n, int s, int z, out float scale, out int zero)
    {
        scale = 0; zero = 0;
        Value vs = n.In(s), vz = n.In(z);
        if (vs == null || !vs.IsConst || vs.Length != 1 || vz != null && (!vz.IsConst || vz.Length != 1)) return false;
        scale = vs.Const.F[0]; zero = vz == null ? 0 : (int)vz.Const.GetLong(0);
        return scale > 0 && !float.IsInfinity(scale);
    }

    /// <summary>Null when lowered, else why not.</summary>
    static string TryLower(Graph g, Uses uses, Node op)
    {
        var dx = op.In(0).Producer;
        if (!IsDq(dx) || !g.Nodes.Contains(dx) || !Q.Is8(dx.In(0).Type)) return "its input does not come from a DequantizeLinear of int8/uint8";
        if (!PerTensor(dx, out float sx, out int zx)) return "its input is not quantized per tensor with constant parameters";
        var dw = op.In(1).Producer;
        if (!IsDq(dw) || !dw.In(0).IsConst || !Q.Is8(dw.In(0).Type)) return "its weights are not a DequantizeLinear of constant int8/uint8";

        // follow the float output: [Add bias (MatMul)] [Relu / Clip] QuantizeLinear
        var removed = new List<Node> { op };
        var y = op.Out();
        Node add = null;
        if (Is(op, "MatMul") && Is(uses.Only(y), "Add")) { add = uses.Only(y); removed.Add(add); y = add.Out(); }
        var next = uses.Only(y);
        Node act = null;
        if (next != null && (Is(next, "Relu") || Is(next, "Clip"))) { act = next; removed.Add(act); y = act.Out(); next = uses.Only(y); }
        if (next == null || next.OpType != "QuantizeLinear" || !(next.Domain == "" || next.Domain == "com.microsoft")) return "its output is not quantized by a QuantizeLinear (alone)";
        var qy = next; removed.Add(qy);
        if (!PerTensor(qy, out float sy, out int zy) || !Q.Is8(qy.Out().Type)) return "its output is not quantized to int8/uint8 per tensor";
        var (lo, hi) = Q.Range(qy.Out().Type);
        int qmin = (int)lo, qmax = (int)hi;
        if (act != null && !QdqActivation.Narrow(act, sy, zy, qy.Out().Type, ref qmin, ref qmax)) return $"its activation {act.Display} is not a constant clamp";
        var fused = FusedActivation.Of(op);
        if (fused != null && !QdqActivation.Narrow(fused, sy, zy, qy.Out().Type, ref qmin, ref qmax)) return $"its fused activation {fused.Kind} is not a clamp";

        // weights as int8 rows [M][K] (one per output channel), with their scale per row
        var wq = dw.In(0).Const;
        bool conv = Is(op, "Conv");
        bool transB = Is(op, "Gemm") && op.Int("transB", 0) != 0;
        if (!conv && wq.Shape.Length != 2) return "its weights are not a matrix";
        if (Is(op, "Gemm") && (op.Float("alpha", 1f) != 1f || op.Int("transA", 0) != 0 || op.In(2) != null && op.Float("beta", 1f) != 1f))
            return "Gemm with alpha, beta or transA is not lowered";
        if (Is(op, "Gemm") && op.In(0).Shape.Length != 2) return "Gemm input is not a matrix";
        int chanAxis = conv || transB ? 0 : 1;
        var sw = dw.In(1); var zw = dw.In(2);
        if (!sw.IsConst || zw != null && !zw.IsConst) return "its weight parameters are not constant";
        if (sw.Length != 1 && (Shape.Axis(dw.Int("axis", 1), wq.Shape.Length) != chanAxis || sw.Length != wq.Shape[chanAxis] || dw.Int("block_size", 0) != 0))
            return "its weights are not quantized per tensor or per output channel";
        bool grouped = conv && op.Int("group", 1) != 1;
        var whyW = WeightRows(wq, sw.Const, zw?.Const, conv, chanAxis == 0, grouped, out var w, out var wScale, out bool doubled);
        if (whyW != null) return whyW;
        int mCount = wScale.Length;

        // bias in the accumulator's scale x_scale * w_scale[m]
        var bias = new TensorData(DType.Int32, new[] { mCount });
        var bv = conv || Is(op, "Gemm") ? op.In(2) : add == null ? null : Other(add, op.Out());
        if (bv != null && !Bias(bv, bias, sx, wScale)) return "its bias is neither a constant nor a DequantizeLinear of constant int32 with one value per output channel";

        var x = doubled ? Doubled(g, dx.In(0), conv ? 1 : -1, op, (op.Name ?? qy.Out().Name) + "_x2", grouped) : dx.In(0);
        var node = IntegerNode(op.Name ?? qy.Out().Name, conv ? op : null, x, zx, w, bias, wScale.Select(s => (double)sx * s / sy).ToArray(), zy, qmin, qmax, qy.Out());
        if (!Shape.Equal(node.Out().Shape, op.Out().Shape)) return "internal: the integer node's shape differs";
        Replace(g, removed, node);
        return null;
    }

    /// <summary>
    /// Integer weights (constant, int8 or uint8) as int8 rows, one per output channel ([M, C/group, k...] for a
    /// convolution, [M, K] otherwise; rowsFirst: the channels are wq's first axis, else its second, as in MatMul's B),
    /// their zero point (per tensor or per channel) taken out, with each row's scale. Null, or why not.
    /// Weights whose distance from their zero point leaves int8 (uint8 weights with a zero point away from 128, as ONNX
    /// Runtime's asymmetric uint8 quantization writes them) are split exactly into two int8 halves along K
    /// (w - z = a + b, a = clamp(w - z, -128, 127)): the rows are [M, 2K] (<paramref name="doubled"/>) and the caller
    /// feeds the input twice (<see cref="Doubled"/>), so sum x (w - z) = sum x a + sum x b on the int8 kernels. In a
    /// <paramref name="grouped"/> convolution each input channel's two halves sit side by side, matching the input
    /// channels doubled in place, so every group keeps its own channels.
    /// </summary>
    internal static string WeightRows(TensorData wq, TensorData sw, TensorData zw, bool conv, bool rowsFirst, bool grouped, out TensorData w, out float[] wScale, out bool doubled)
    {
        int mCount = wq.Shape[rowsFirst ? 0 : 1], kCount = wq.Length / Math.Max(1, mCount);
        w = null; doubled = false;
        wScale = new float[mCount];
        var diff = new long[mCount * kCount];
        bool fits = true;
        for (int m = 0; m < mCount; m++)
        {
            wScale[m] = sw.F[sw.Length == 1 ? 0 : m];
            long z = zw == null ? 0 : zw.GetLong(zw.Length == 1 ? 0 : m);
            if (!(wScale[m] > 0) || float.IsInfinity(wScale[m])) return "a weight scale is not positive and finite";
            for (int k = 0; k < kCount; k++)
            {
                long v = wq.L[rowsFirst ? m * kCount + k : k * mCount + m] - z;
                fits &= v >= -128 && v <= 127;
                diff[m * kCount + k] = v;
            }
        }
        doubled = !fits;
        // a grouped convolution's halves per input channel: blocks of the kernel's spatial size
        int interleave = conv && grouped ? kCount / Math.Max(1, wq.Shape[1]) : 0;
        var shape = conv ? (int[])wq.Shape.Clone() : new[] { mCount, kCount };
        if (doubled) shape[1] *= 2;
        w = new TensorData(DType.Int8, shape);
        int k2 = doubled ? 2 * kCount : kCount;
        for (int m = 0; m < mCount; m++)
            for (int k = 0; k < kCount; k++)
            {
                long v = diff[m * kCount + k], a = Math.Max(-128, Math.Min(127, v));
                if (!doubled) { w.L[m * kCount + k] = v; continue; }
                // first half and second half along K, or each channel's two halves side by side
                int ka = interleave > 0 ? (k / interleave * 2) * interleave + k % interleave : k;
                int kb = interleave > 0 ? ka + interleave : kCount + k;
                w.L[m * k2 + ka] = a;
                w.L[m * k2 + kb] = v - a;
            }
        return null;
    }

    /// <summary>
    /// x twice along <paramref name="axis"/> (Concat, placed before <paramref name="before"/>): the input of weights
    /// split by <see cref="WeightRows"/>.
    /// </summary>
    internal static Value Doubled(Graph g, Value x, int axis, Node before, string name, bool interleave)
    {
        axis = Shape.Axis(axis, x.Shape.Length);
        var shape = (int[])x.Shape.Clone();
        shape[axis] *= 2;
        var y = new Value(name) { Type = x.Type, Shape = shape };
        int at = g.Nodes.IndexOf(before);
        if (!interleave)
        {
            g.Nodes.Insert(at, Make("Concat", 13, name, new[] { x, x }, new[] { y }, Int("axis", axis)));
            return y;
        }
        // each channel twice in place: [N, C, 1, ...] concatenated on the new axis to [N, C, 2, ...], seen as [N, 2C, ...]
        var one = x.Shape.Take(axis + 1).Concat(new[] { 1 }).Concat(x.Shape.Skip(axis + 1)).ToArray();
        var two = (int[])one.Clone(); two[axis + 1] = 2;
        var u = new Value(name + "_u") { Type = x.Type, Shape = one };
        var c = new Value(name + "_c") { Type = x.Type, Shape = two };
        g.Nodes.Insert(at, Make("Reshape", 13, name + "_u", new[] { x, ShapeConst(name + "_u_shape", one) }, new[] { u }));
        g.Nodes.Insert(at + 1, Make("Concat", 13, name + "_c", new[] { u, u }, new[] { c }, Int("axis", axis + 1)));
        g.Nodes.Insert(at + 2, Make("Reshape", 13, name, new[] { c, ShapeConst(name + "_shape", shape) }, new[] { y }));
        return y;
    }

    /// <summary>
    /// The QConvInt8 (<paramref name="conv"/>: the convolution whose geometry it takes) or QGemmInt8 node writing y:
    /// y = clamp(requantize(bias + sum (x - zx) * w, multipliers[m]) + zy, qmin, qmax), each real multiplier
    /// (x_scale * w_scale[m] / y_scale) as TFLite's fixed point.
    /// </summary>
    internal static Node IntegerNode(string name, Node conv, Value x, int zx, TensorData w, TensorData bias, double[] multipliers, int zy, int qmin, int qmax, Value y)
    {
        int mCount = multipliers.Length;
        var mult = new TensorData(DType.Int32, new[] { mCount });
        var shift = new TensorData(DType.Int32, new[] { mCount });
        for (int m = 0; m < mCount; m++)
        {
            FixedPoint.QuantizeMultiplier(multipliers[m], out int mu, out int sh);
            mult.L[m] = mu; shift.L[m] = sh;
        }
        var attrs = new List<IR.Attribute> { Int("x_zero_point", zx), Int("y_zero_point", zy), Int("qmin", qmin), Int("qmax", qmax), Int("to", (long)y.Type) };
        if (conv != null) attrs.AddRange(conv.Attributes.Values.Where(a => a.Name is "group" or "kernel_shape" or "pads" or "strides" or "dilations" or "auto_pad"));
        var inputs = new[] { x, Const(name + "_wq", w), Const(name + "_bq", bias), Const(name + "_mult", mult), Const(name + "_shift", shift) };
        return MakeIn(FusedElementwise.Domain, conv != null ? QConvInt8.OpType : QGemmInt8.OpType, 1, name, inputs, new[] { y }, attrs.ToArray());
    }

    static bool Bias(Value bv, TensorData bias, float sx, float[] wScale)
    {
        int m = wScale.Length;
        if (bv.Shape.Length > 2 || bv.Length != m || bv.Shape.Length == 2 && bv.Shape[0] != 1) return false;
        var p = bv.Producer;
        if (bv.IsConst && DTypes.IsFloat(bv.Type))
        {
            for (int i = 0; i < m; i++) bias.L[i] = Round(bv.Const.GetDouble(i) / (sx * wScale[i]));
            return true;
        }
        if (!IsDq(p) || !p.In(0).IsConst || p.In(0).Type != DType.Int32 || !p.In(1).IsConst) return false;
        var bq = p.In(0).Const; var sb = p.In(1).Const;
        if (sb.Length != 1 && sb.Length != m) return false;
        for (int i = 0; i < m; i++)
        {
            float s = sb.F[sb.Length == 1 ? 0 : i], acc = sx * wScale[i];
            // the quantizer's bias scale is x_scale * w_scale: the integers carry over as they are
            bias.L[i] = s == acc ? bq.L[i] : Round(bq.L[i] * (double)s / acc);
        }
        return true;
    }

    static long Round(double v) => double.IsNaN(v) ? 0 : v >= int.MaxValue ? int.MaxValue : v <= int.MinValue ? int.MinValue : (long)Math.Round(v, MidpointRounding.ToEven);
}
