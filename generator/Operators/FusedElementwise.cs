using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// ModelGen.FusedElementwise (domain ai.modelgen, internal: created only by the ElementwiseChainFusion pass): a chain of
/// elementwise unary operators and binary operators with one constant operand, computed in one loop. Input 0 is the
/// chain's tensor, inputs 1.. are the constant operands; the output has input 0's type and shape. The steps (the
/// original nodes) travel in node.State as a <see cref="FusedChain"/>; emission composes their expressions with one
/// local per intermediate, evaluation composes their reference functions, so results equal the unfused graph.
/// </summary>
public sealed class FusedElementwise : Operator
{
    public const string Domain = "ai.modelgen";
    public const string OpType = "FusedElementwise";

    public override bool ElementwiseInPlace => true;

    public override void Infer(Node n)
    {
        if (n.State is not FusedChain chain || chain.Steps.Count == 0)
            throw Error($"{Domain}.{OpType} is internal to ModelGen and cannot appear in a model");
        Require(n, 1);
        var x = n.In(0);
        foreach (var s in chain.Steps)
        {
            var o = s.Node.Out();
            if (o.Type != x.Type || !Shape.Equal(o.Shape, x.Shape)) throw Error($"fused step {s.Node.Display} changes the type or shape of the chain");
            if (s.Operand > 0 && (s.Operand >= n.Inputs.Count || !n.In(s.Operand).IsConst)) throw Error($"fused step {s.Node.Display} has no constant operand");
        }
        SetOut(n, 0, x.Type, x.Shape);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var chain = (FusedChain)n.State;
        var cur = inputs[0];
        foreach (var s in chain.Steps)
        {
            var op = OperatorRegistry.Find(s.Node.Domain, s.Node.OpType, s.Node.Opset);
            var ins = s.Operand == 0 ? new[] { cur } : s.ChainFirst ? new[] { cur, inputs[s.Operand] } : new[] { inputs[s.Operand], cur };
            cur = op.Evaluate(s.Node, ins)?[0];
            if (cur == null) return null;
        }
        return new[] { cur };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var chain = (FusedChain)n.State;
        var t = n.In(0).Type;
        // Broadcast.Emit calls the expression builder inside the loop body, before it writes the output element:
        // each intermediate becomes a local there, the last step's expression is stored.
        Broadcast.Emit(e, n.Out(), n.Inputs, a =>
        {
            string cur = a[0];
            for (int k = 0; k < chain.Steps.Count; k++)
            {
                var s = chain.Steps[k];
                var op = OperatorRegistry.Find(s.Node.Domain, s.Node.OpType, s.Node.Opset);
                string expr = op switch
                {
                    Unary u => u.Expr(s.Node, e, t, cur),
                    Binary b => s.ChainFirst ? b.Expr(s.Node, e, t, cur, a[s.Operand]) : b.Expr(s.Node, e, t, a[s.Operand], cur),
                    _ => throw Error($"fused step {s.Node.Display} is not elementwise"),
                };
                if (k == chain.Steps.Count - 1) return expr;
                var v = e.Var("t");
                e.W.Line($"{DTypes.CsName(t)} {v} = {expr};");
                cur = v;
            }
            return cur;
        });
    }
}

/// <summary>The steps of a fused elementwise chain, in order.</summary>
public sealed class FusedChain
{
    public sealed class Step
    {
        /// <summary>The original node (its Infer state is kept; its chain input is the previous step's output).</summary>
        public Node Node { get; init; }
        /// <summary>0 for a unary step; otherwise the fused node's input index of the constant operand.</summary>
        public int Operand { get; init; }
        /// <summary>For a binary step: true when the chain value is the left operand.</summary>
        public bool ChainFirst { get; init; }
    }

    public List<Step> Steps { get; } = new();
    public override string ToString() => string.Join(" -> ", Steps.Select(s => s.Node.OpType));
}

public static partial class OperatorRegistry
{
    static partial void RegisterFused(Dictionary<string, Operator> t) => t[FusedElementwise.Domain + ":" + FusedElementwise.OpType] = new FusedElementwise();
}
