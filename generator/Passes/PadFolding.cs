using System;
using System.Linq;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Operators;
using static ModelGen.Compiler.Passes.PassUtil;
using Attribute = ModelGen.Compiler.IR.Attribute;

namespace ModelGen.Compiler.Passes;

/// <summary>
/// A constant-mode Pad with constant, non-negative pads on the spatial dimensions only, read by one Conv, AveragePool
/// or MaxPool alone, becomes part of that node's pads (auto_pad NOTSET), so the padded copy is never written. Folded
/// only where the result is the same: Conv with pad value 0; AveragePool with value 0 when the padded zeros count in
/// the divisor (count_include_pad=1 already, or set because the pool had no pads of its own); MaxPool with value -inf,
/// or value 0 over an input known to be non-negative. Pools keep every pad smaller than the kernel, no ceil_mode, so
/// every window still overlaps the input.
/// </summary>
public sealed class PadFolding : IPass
{
    public string Name => "PadFolding";

    public void Run(Graph graph) => Fixpoint(graph, TryFold);

    static bool TryFold(Graph g, Uses uses, Node pad)
    {
        if (!Is(pad, "Pad") || pad.Outputs.Count != 1 || pad.Str("mode", "constant") != "constant") return false;
        var x = pad.In(0); var y = pad.Out();
        var c = uses.Only(y);
        if (c == null || !g.Nodes.Contains(c) || c.In(0) != y || c.Inputs.Skip(1).Contains(y) || x.IsConst) return false;
        int rank = x.Shape.Length, r = rank - 2;
        if (r < 1) return false;
        long[] pads; double value;
        if (pad.Opset < 11) { pads = pad.Ints(pad.Opset < 2 ? "paddings" : "pads"); value = pad.Float("value", 0f); }
        else
        {
            var p = pad.In(1); var cv = pad.In(2);
            if (p == null || !p.IsConst || pad.In(3) != null || cv != null && !cv.IsConst) return false;
            pads = p.Const.ToLongs();
            value = cv == null ? 0 : cv.Const.GetDouble(0);
        }
        if (pads == null || pads.Length != 2 * rank || pads[0] != 0 || pads[1] != 0 || pads[rank] != 0 || pads[rank + 1] != 0) return false;
        if (pads.Any(v => v < 0)) return false;
        var add = new long[2 * r];
        for (int i = 0; i < r; i++) { add[i] = pads[2 + i]; add[r + i] = pads[rank + 2 + i]; }

        var autoPad = c.Str("auto_pad", "NOTSET");
        if (autoPad != "NOTSET" && autoPad != "" && autoPad != "VALID") return false;
        var own = autoPad == "VALID" ? null : c.Ints("pads");
        if (own != null && own.Length != 2 * r) return false;
        var sum = new long[2 * r];
        for (int i = 0; i < 2 * r; i++) sum[i] = add[i] + (own == null ? 0 : own[i]);
        bool hadPads = own != null && own.Any(v => v != 0);

        var attrs = c.Attributes.Values.Where(a => a.Name != "pads" && a.Name != "auto_pad").ToList();
        attrs.Add(Ints("pads", sum));
        if (Is(c, "Conv"))
        {
            if (value != 0) return false;
        }
        else if (Is(c, "AveragePool") || Is(c, "MaxPool"))
        {
            if (c.Int("ceil_mode", 0) != 0 || c.Outputs.Count != 1) return false;
            var kernel = c.Ints("kernel_shape");
            if (kernel == null || kernel.Length != r) return false;
            for (int i = 0; i < 2 * r; i++) if (sum[i] >= kernel[i % r]) return false;
            if (Is(c, "AveragePool"))
            {
                if (value != 0 || c.Opset < 7) return false;
                bool include = c.Int("count_include_pad", 0) != 0;
                if (!include && hadPads) return false;
                attrs.RemoveAll(a => a.Name == "count_include_pad");
                attrs.Add(Int("count_include_pad", 1));
            }
            else
            {
                var dil = c.Ints("dilations");
                if (dil != null && dil.Any(d => d != 1)) return false;
                if (!(double.IsNegativeInfinity(value) || value == 0 && NonNegative(x))) return false;
            }
        }
        else return false;
        var node = MakeIn(c.Domain, c.OpType, c.Opset, c.Name, new[] { x }.Concat(c.Inputs.Skip(1)), c.Outputs, attrs.ToArray());
        Replace(g, new[] { pad, c }, node);
        return true;
    }

    /// <summary>True when every element of v is known to be at least 0 (it comes out of a non-negative activation).</summary>
    static bool NonNegative(Value v)
    {
        var p = v.Producer;
        if (p == null) return false;
        if (Is(p, "Relu") || Is(p, "Sigmoid") || Is(p, "HardSigmoid")) return true;
        if (Is(p, "Clip"))
        {
            double? lo = p.Opset < 11 ? (p.Has("min") ? p.Float("min", 0) : null) : Scalar(p.In(1));
            return lo >= 0;
        }
        var act = FusedActivation.Of(p);
        return act != null && (act.Kind is "Relu" or "Sigmoid" or "HardSigmoid" || act.Kind == "Clip" && act.Alpha >= 0);
    }
}
