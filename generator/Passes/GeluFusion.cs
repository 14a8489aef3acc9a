using System;
using System.Collections.Generic;
using ModelGen.Compiler.IR;
using static ModelGen.Compiler.Passes.PassUtil;

namespace ModelGen.Compiler.Passes;

/// <summary>
/// x * 0.5 * (1 + Erf(x / sqrt(2))) in its exported orderings — (x * (1 + erf)) * 0.5, x * ((1 + erf) * 0.5),
/// (x * 0.5) * (1 + erf), with x / sqrt(2) or x * (1 / sqrt(2)) — becomes one Gelu (opset 20, exact form).
/// </summary>
public sealed class GeluFusion : IPass
{
    public string Name => "GeluFusion";

    public void Run(Graph graph) => Fixpoint(graph, TryFuse);

    static bool IsConst(Value v, double want) => Near(Scalar(v), want, 1e-6);

    static bool TryFuse(Graph g, Uses uses, Node erf)
    {
        if (!Is(erf, "Erf")) return false;
        var pre = erf.In(0).Producer;
        if (pre == null || uses.Only(erf.In(0)) != erf || !g.Nodes.Contains(pre)) return false;
        Value x;
        if (Is(pre, "Div") && IsConst(pre.In(1), Math.Sqrt(2))) x = pre.In(0);
        else if (Is(pre, "Mul") && IsConst(pre.In(1), Math.Sqrt(0.5))) x = pre.In(0);
        else if (Is(pre, "Mul") && IsConst(pre.In(0), Math.Sqrt(0.5))) x = pre.In(1);
        else return false;
        if (x.IsConst || !DTypes.IsFloat(x.Type)) return false;
        var add = uses.Only(erf.Out());
        if (!Is(add, "Add") || !IsConst(Other(add, erf.Out()), 1)) return false;
        var m1 = uses.Only(add.Out());
        if (!Is(m1, "Mul")) return false;
        var other = Other(m1, add.Out());
        var nodes = new List<Node> { pre, erf, add, m1 };
        Node last;
        if (other == x || IsConst(other, 0.5))
        {
            var m2 = uses.Only(m1.Out());
            if (!Is(m2, "Mul") || !(other == x ? IsConst(Other(m2, m1.Out()), 0.5) : Other(m2, m1.Out()) == x)) return false;
            nodes.Add(m2); last = m2;
        }
        else
        {
            var h = other?.Producer;
            if (!Is(h, "Mul") || uses.Only(other) != m1 || !(h.In(0) == x && IsConst(h.In(1), 0.5) || h.In(1) == x && IsConst(h.In(0), 0.5))) return false;
            nodes.Add(h); last = m1;
        }
        var y = last.Out();
        if (!Shape.Equal(y.Shape, x.Shape) || y.Type != x.Type) return false;
        var gelu = Make("Gelu", 20, last.Name ?? y.Name, new[] { x }, new[] { y });
        Replace(g, nodes, gelu);
        return true;
    }
}
