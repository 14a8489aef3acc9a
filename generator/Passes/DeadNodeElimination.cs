using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Passes;

/// <summary>Removes nodes none of whose outputs reach a graph output (including through If branches).</summary>
public sealed class DeadNodeElimination : IPass
{
    public string Name => "DeadNodeElimination";

    public void Run(Graph graph)
    {
        var live = new HashSet<Value>(graph.Outputs);
        Sweep(graph, live);
    }

    static void Sweep(Graph g, HashSet<Value> live)
    {
        var kept = new List<Node>();
        for (int i = g.Nodes.Count - 1; i >= 0; i--)
        {
            var n = g.Nodes[i];
            if (!n.Outputs.Any(live.Contains)) continue;
            kept.Add(n);
            foreach (var v in n.Inputs) if (v != null) live.Add(v);
            foreach (var sub in n.Subgraphs.Values)
            {
                foreach (var o in sub.Outputs) live.Add(o);
                Sweep(sub, live);
            }
        }
        kept.Reverse();
        g.Nodes = kept;
    }
}
