using System.Linq;
using ModelGen.Compiler.IR;
using static ModelGen.Compiler.Passes.PassUtil;

namespace ModelGen.Compiler.Passes;

/// <summary>
/// Transpose(Transpose(x, p1), p2) reads x through the composed permutation q[i] = p1[p2[i]]: the second becomes one
/// Transpose of x (the first dies when nothing else reads it), or disappears when q is the identity (its readers read x;
/// a graph output keeps its own tensor, written by a copying Transpose). A Transpose that moves only dimensions of
/// length 1 becomes a Reshape (no data moves).
/// </summary>
public sealed class TransposeCancellation : IPass
{
    public string Name => "TransposeCancellation";

    public void Run(Graph graph) => Fixpoint(graph, TryFold);

    /// <summary>
    /// A Transpose that keeps the order of the dimensions longer than 1 ([1, 16, 32] -> [16, 1, 32], a transformer's
    /// batch/sequence swap at batch 1) moves no element: it becomes a Reshape, which emits no code.
    /// </summary>
    static bool MovesOnlyUnitDims(Graph g, Uses uses, Node t)
    {
        var x = t.In(0); var y = t.Out();
        int rank = x.Shape.Length;
        if (uses.IsGraphOutput(y)) return false;
        var p = Perm(t, rank);
        var kept = p.Where(d => x.Shape[d] != 1).ToArray();
        for (int i = 1; i < kept.Length; i++) if (kept[i] < kept[i - 1]) return false;
        g.Nodes[g.Nodes.IndexOf(t)] = Make("Reshape", 14, t.Name, new[] { x, ShapeConst(t.Name + "_shape", y.Shape) }, new[] { y });
        return true;
    }

    /// <summary>The permutation as the operator resolved it (negative entries counted from the end, a missing perm reversed).</summary>
    static long[] Perm(Node t, int rank) => t.State is int[] p && p.Length == rank ? p.Select(d => (long)d).ToArray() : Enumerable.Range(0, rank).Reverse().Select(i => (long)i).ToArray();

    static bool TryFold(Graph g, Uses uses, Node t2)
    {
        if (!Is(t2, "Transpose") || t2.Inputs.Count != 1) return false;
        if (MovesOnlyUnitDims(g, uses, t2)) return true;
        var y = t2.In(0);
        var t1 = y.Producer;
        if (!Is(t1, "Transpose") || !g.Nodes.Contains(t1) || t1.Outputs.Count != 1) return false;
        var x = t1.In(0);
        int rank = x.Shape.Length;
        var p1 = Perm(t1, rank); var p2 = Perm(t2, rank);
        var q = p2.Select(i => p1[i]).ToArray();
        bool identity = q.Select((v, i) => v == i).All(b => b);
        var z = t2.Out();
        if (identity && !uses.IsGraphOutput(z))
        {
            ReplaceUses(g, z, x);
            g.Nodes.Remove(t2);
            return true;
        }
        var node = Make("Transpose", t2.Opset, t2.Name, new[] { x }, new[] { z }, Ints("perm", q));
        int at = g.Nodes.IndexOf(t2);
        g.Nodes[at] = node;
        return true;
    }
}
