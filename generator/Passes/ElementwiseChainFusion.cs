using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Operators;
using Attribute = ModelGen.Compiler.IR.Attribute;
using static ModelGen.Compiler.Passes.PassUtil;

namespace ModelGen.Compiler.Passes;

/// <summary>
/// Collapses a chain of two or more elementwise steps — unary operators, and arithmetic binary operators whose other
/// operand is a constant that does not widen the shape — where each intermediate has a single consumer, into one
/// ai.modelgen FusedElementwise node (one loop, no intermediate tensors).
/// </summary>
public sealed class ElementwiseChainFusion : IPass
{
    public string Name => "ElementwiseChainFusion";

    static readonly HashSet<string> s_binary = new() { "Add", "Sub", "Mul", "Div", "Pow", "PRelu" };

    public void Run(Graph graph) => Fixpoint(graph, TryFuse);

    /// <summary>The step for <paramref name="n"/> when it is eligible with <paramref name="chain"/> as its chain input (operand index filled in later).</summary>
    static (bool Ok, Value Const, bool ChainFirst) Eligible(Node n, Value chain)
    {
        if (n == null || n.Domain != "" && n.Domain != "ai.onnx" || n.Subgraphs.Count > 0 || n.Outputs.Count != 1) return default;
        var o = n.Out();
        if (chain == null || chain.IsConst || o.Type != chain.Type || chain.Shape == null || !Shape.Equal(o.Shape, chain.Shape)) return default;
        var op = OperatorRegistry.Find(n.Domain, n.OpType, n.Opset);
        // GELU stays a layer of its own: alone it is one vectorised kernel (ModelGen.Runtime.Transcendental.Gelu), inside
        // a chain a scalar erf per element (most of a small transformer's time)
        if (op is Unary u && !(n.OpType == "Gelu" && n.Str("approximate", "none") == "none"))
            return (u.RowKind is Unary.Kind.Float or Unary.Kind.Numeric && n.Inputs.Count == 1 && n.In(0) == chain, null, true);
        if (op is Binary b && b.RowKind == BinaryKind.Arithmetic && s_binary.Contains(n.OpType) && n.Inputs.Count == 2)
        {
            bool first = n.In(0) == chain;
            var c = first ? n.In(1) : n.In(0);
            if (!first && n.In(1) != chain || c == null || !c.IsConst || c.Type != chain.Type) return default;
            if (!Shape.Equal(Shape.Broadcast(chain.Shape, c.Shape), chain.Shape)) return default;
            return (true, c, first);
        }
        return default;
    }

    static Value ChainInput(Node n) => n.Inputs.Count == 2 && n.In(0) != null && n.In(0).IsConst ? n.In(1) : n.In(0);

    static bool TryFuse(Graph g, Uses uses, Node start)
    {
        var x = start.Inputs.Count > 0 ? ChainInput(start) : null;
        var first = Eligible(start, x);
        if (!first.Ok) return false;
        var nodes = new List<Node> { start };
        var steps = new List<(Node, Value, bool)> { (start, first.Const, first.ChainFirst) };
        var cur = start;
        while (true)
        {
            var next = uses.Only(cur.Out());
            var s = Eligible(next, cur.Out());
            if (!s.Ok) break;
            nodes.Add(next); steps.Add((next, s.Const, s.ChainFirst)); cur = next;
        }
        if (nodes.Count < 2) return false;
        var inputs = new List<Value> { x };
        var chain = new FusedChain();
        foreach (var (n, c, chainFirst) in steps)
        {
            int operand = 0;
            if (c != null) { operand = inputs.IndexOf(c); if (operand < 1) { inputs.Add(c); operand = inputs.Count - 1; } }
            chain.Steps.Add(new FusedChain.Step { Node = n, Operand = operand, ChainFirst = chainFirst });
        }
        var fused = MakeIn(FusedElementwise.Domain, FusedElementwise.OpType, 1, cur.Name, inputs, new[] { cur.Out() }, new Attribute[0], chain);
        Replace(g, nodes, fused);
        return true;
    }
}
