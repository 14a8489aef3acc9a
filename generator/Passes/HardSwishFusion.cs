using System.Collections.Generic;
using ModelGen.Compiler.IR;
using static ModelGen.Compiler.Passes.PassUtil;
using Attribute = ModelGen.Compiler.IR.Attribute;

namespace ModelGen.Compiler.Passes;

/// <summary>
/// The hard activations as exporters write them, spelled with Add, Clip (Relu6) and a division by 6 (or a product with
/// 1/6): Clip(x + 3, 0, 6) / 6 becomes HardSigmoid(x) with alpha 1/6 and beta 1/2; (x * Clip(x + 3, 0, 6)) / 6 and
/// x * HardSigmoid(x) (with those constants, so also x * (Clip(x + 3, 0, 6) / 6)) become HardSwish(x). Runs before
/// ActivationFusion so that the results fuse into the producing Conv, Gemm or MatMul.
/// </summary>
public sealed class HardSwishFusion : IPass
{
    public string Name => "HardSwishFusion";

    public void Run(Graph graph) => Fixpoint(graph, TryFuse);

    static bool TryFuse(Graph g, Uses uses, Node n)
    {
        var v = ScaledBySixth(n);
        if (v != null && v.Producer != null && uses.Only(v) == n && g.Nodes.Contains(v.Producer))
        {
            // Clip(x + 3, 0, 6) / 6 -> HardSigmoid(x)
            var x = ShiftedRelu6(g, uses, v, out var add);
            if (x != null)
                return Rewrite(g, n, x, new[] { add, v.Producer, n }, "HardSigmoid", 6, Float("alpha", 1f / 6), Float("beta", 0.5f));
            // (x * Clip(x + 3, 0, 6)) / 6 -> HardSwish(x)
            var mul = v.Producer;
            if (Is(mul, "Mul"))
                foreach (var c in new[] { mul.In(0), mul.In(1) })
                {
                    var other = Other(mul, c);
                    if (c == other || uses.Only(c) != mul) continue;
                    x = ShiftedRelu6(g, uses, c, out add);
                    if (x != null && x == other) return Rewrite(g, n, x, new[] { add, c.Producer, mul, n }, "HardSwish", 14);
                }
        }
        // x * HardSigmoid(x) with alpha 1/6, beta 1/2 -> HardSwish(x)
        if (Is(n, "Mul") && n.Inputs.Count == 2)
            foreach (var h in new[] { n.In(0), n.In(1) })
            {
                var hs = h?.Producer;
                if (!Is(hs, "HardSigmoid") || uses.Only(h) != n || !g.Nodes.Contains(hs) || Other(n, h) != hs.In(0) || h == hs.In(0)) continue;
                if (!Near(hs.Float("alpha", 0.2f), 1.0 / 6) || !Near(hs.Float("beta", 0.5f), 0.5)) continue;
                return Rewrite(g, n, hs.In(0), new[] { hs, n }, "HardSwish", 14);
            }
        return false;
    }

    static bool Rewrite(Graph g, Node last, Value x, IReadOnlyCollection<Node> removed, string op, int opset, params Attribute[] attrs)
    {
        var y = last.Out();
        if (x.IsConst || !DTypes.IsFloat(x.Type) || y.Type != x.Type || !Shape.Equal(y.Shape, x.Shape)) return false;
        Replace(g, removed, Make(op, opset, last.Name ?? y.Name, new[] { x }, new[] { y }, attrs));
        return true;
    }

    /// <summary>v for Div(v, 6), Mul(v, 1/6) or Mul(1/6, v); otherwise null.</summary>
    static Value ScaledBySixth(Node n)
    {
        if (n == null || n.Inputs.Count != 2 || n.Outputs.Count != 1) return null;
        if (Is(n, "Div")) return Near(Scalar(n.In(1)), 6) ? n.In(0) : null;
        if (!Is(n, "Mul")) return null;
        if (Near(Scalar(n.In(1)), 1.0 / 6)) return n.In(0);
        if (Near(Scalar(n.In(0)), 1.0 / 6)) return n.In(1);
        return null;
    }

    /// <summary>x when v = Clip(x + 3, 0, 6) (Add and Clip read by the next step alone), else null.</summary>
    static Value ShiftedRelu6(Graph g, Uses uses, Value v, out Node add)
    {
        add = null;
        var clip = v?.Producer;
        if (!Is(clip, "Clip") || !g.Nodes.Contains(clip) || clip.Outputs.Count != 1) return null;
        double? lo, hi;
        if (clip.Opset < 11) { lo = clip.Has("min") ? clip.Float("min", 0) : null; hi = clip.Has("max") ? clip.Float("max", 0) : null; }
        else { lo = Scalar(clip.In(1)); hi = Scalar(clip.In(2)); }
        if (lo != 0 || !Near(hi, 6)) return null;
        var s = clip.In(0);
        add = s?.Producer;
        if (!Is(add, "Add") || uses.Only(s) != clip || !g.Nodes.Contains(add) || add.Inputs.Count != 2) return null;
        if (Near(Scalar(add.In(1)), 3)) return add.In(0);
        if (Near(Scalar(add.In(0)), 3)) return add.In(1);
        return null;
    }
}
