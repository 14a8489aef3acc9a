using System.Linq;
using ModelGen.Compiler.IR;
using static ModelGen.Compiler.Passes.PassUtil;

namespace ModelGen.Compiler.Passes;

/// <summary>
/// Removes nodes that return their input unchanged, so that the patterns around them match and no copy is made: a Pad
/// whose pads are all zero (constant pads; any mode). Exporters write one before pools (MLPerf Tiny's ResNet-8).
/// A graph output keeps its node (it needs its own buffer).
/// </summary>
public sealed class IdentityElimination : IPass
{
    public string Name => "IdentityElimination";

    public void Run(Graph graph) => Fixpoint(graph, TryRemove);

    static bool TryRemove(Graph g, Uses uses, Node n)
    {
        if (!Is(n, "Pad") || n.Outputs.Count != 1 || uses.IsGraphOutput(n.Out())) return false;
        var x = n.In(0); var y = n.Out();
        long[] pads;
        if (n.Opset < 11) pads = n.Ints(n.Opset < 2 ? "paddings" : "pads");
        else
        {
            var p = n.In(1);
            if (p == null || !p.IsConst || n.In(3) != null) return false;
            pads = p.Const.ToLongs();
        }
        if (pads == null || pads.Any(v => v != 0) || x.Type != y.Type || !Shape.Equal(x.Shape, y.Shape)) return false;
        ReplaceUses(g, y, x);
        g.Nodes.Remove(n);
        return true;
    }
}
