using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Operators;
using static ModelGen.Compiler.Passes.PassUtil;

namespace ModelGen.Compiler.Passes;

/// <summary>
/// Net profile: ConvInteger (x, w, [x_zero_point], [w_zero_point]) on constant weights whose int32 result only feeds
/// Casts to float (ONNX Runtime's quantize_dynamic writes DynamicQuantizeLinear, ConvInteger, Cast, a Mul by
/// x_scale * w_scale and an Add of the bias) becomes a float Conv of x - x_zero_point and the constant
/// w - w_zero_point, which the Casts' readers take instead: the SIMD convolution kernels instead of ConvInteger's scalar
/// reference loops (12-16x slower). The weights stay int8 where w - w_zero_point fits (a DequantizeLinear with scale 1
/// that <see cref="WeightConvFusion"/> turns into the kernel's own layout), else float. Every product is a small
/// integer, exact in float, and so is every partial sum below 2^24 in magnitude: the result is ConvInteger's to the
/// last bit where the sums stay there (the usual case), within float's rounding of them beyond. The zero point of x
/// may be computed at run time (DynamicQuantizeLinear's). Portable keeps the integer loops.
/// </summary>
public sealed class ConvIntegerLowering : IPass
{
    public string Name => "ConvIntegerLowering";

    public void Run(Graph graph)
    {
        var uses = new Uses(graph);
        // x - x_zero_point once per input: quantize_dynamic gives the convolutions reading one tensor one DynamicQuantizeLinear
        var centred = new Dictionary<(Value, Value), Value>();
        foreach (var n in graph.Nodes.ToArray())
        {
            if (!Is(n, "ConvInteger") || n.Inputs.Count < 2) continue;
            Value x = n.In(0), w = n.In(1), zx = n.In(2), zw = n.In(3), y = n.Out();
            if (x == null || w == null || !w.IsConst || w.Shape.Length < 3 || zw != null && !zw.IsConst || zx != null && zx.Length != 1) continue;
            int m = w.Shape[0];
            if (m <= 0 || w.Length == 0 || zw != null && zw.Length != 1 && zw.Length != m) continue;
            var casts = uses.Of(y);
            if (uses.IsGraphOutput(y) || casts.Count == 0 || casts.Any(c => !Is(c, "Cast") || c.Int("to", 0) != (long)DType.Float)) continue;

            string name = n.Name ?? y.Name;
            var added = new List<Node>();
            if (!centred.TryGetValue((x, zx), out var xc)) centred[(x, zx)] = xc = Centred(x, zx, name, added);
            added.Add(Make("Conv", 11, name, new[] { xc, Weights(w, zw, m, name, added) }, new[] { Float(y, name) }, n.Attributes.Values.ToArray()));

            // the Casts' readers read the float result (a Cast that is a graph output stays, float to float)
            var yf = added[added.Count - 1].Out();
            var removed = new List<Node> { n };
            foreach (var c in casts)
            {
                if (uses.IsGraphOutput(c.Out())) { c.Inputs[0] = yf; continue; }
                ReplaceUses(graph, c.Out(), yf);
                removed.Add(c);
            }
            int at = graph.Nodes.IndexOf(n);
            graph.Nodes.RemoveAll(removed.Contains);
            graph.Nodes.InsertRange(at, added);
            uses = new Uses(graph);
        }
    }

    static Value Float(Value y, string name) => new(name + "_f") { Type = DType.Float, Shape = y.Shape };

    /// <summary>x - x_zero_point as float: a Cast, and a Sub unless the zero point is absent or a constant 0.</summary>
    static Value Centred(Value x, Value zx, string name, List<Node> added)
    {
        var xf = new Value(name + "_xf") { Type = DType.Float, Shape = x.Shape };
        added.Add(Make("Cast", 13, name + "_xf", new[] { x }, new[] { xf }, Int("to", (long)DType.Float)));
        if (zx == null || zx.IsConst && zx.Const.GetLong(0) == 0) return xf;
        Value zf;
        if (zx.IsConst) zf = Const(name + "_zxf", new TensorData(DType.Float, new int[0], f: new[] { (float)zx.Const.GetLong(0) }));
        else
        {
            zf = new Value(name + "_zxf") { Type = DType.Float, Shape = zx.Shape };
            added.Add(Make("Cast", 13, name + "_zxf", new[] { zx }, new[] { zf }, Int("to", (long)DType.Float)));
        }
        var xc = new Value(name + "_xc") { Type = DType.Float, Shape = x.Shape };
        added.Add(Make("Sub", 14, name + "_xc", new[] { xf, zf }, new[] { xc }));
        return xc;
    }

    /// <summary>w - w_zero_point: an int8 constant behind a DequantizeLinear of scale 1 where every value fits, else float.</summary>
    static Value Weights(Value w, Value zw, int m, string name, List<Node> added)
    {
        var t = w.Const;
        int per = (int)(t.Length / m);
        var v = new long[t.Length];
        bool fits = true;
        for (int i = 0; i < v.Length; i++)
        {
            long z = zw == null ? 0 : zw.Const.GetLong(zw.Length == 1 ? 0 : i / per);
            v[i] = t.GetLong(i) - z;
            fits &= v[i] >= -128 && v[i] <= 127;
        }
        if (!fits) return Const(name + "_wf", new TensorData(DType.Float, w.Shape, f: v.Select(e => (float)e).ToArray()));
        var q = Const(name + "_wq", new TensorData(DType.Int8, w.Shape, l: v));
        var ones = Const(name + "_ws", new TensorData(DType.Float, new[] { m }, f: Enumerable.Repeat(1f, m).ToArray()));
        var wf = new Value(name + "_w") { Type = DType.Float, Shape = w.Shape };
        added.Add(Make("DequantizeLinear", 13, name + "_w", new[] { q, ones }, new[] { wf }, Int("axis", 0), Int(DequantizeLinear.KeepAttr, 1)));
        return wf;
    }
}
