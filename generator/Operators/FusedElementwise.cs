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
        if (e.Net && t == DType.Float && EmitVectors(n, e, chain)) return;
        // Broadcast.Emit calls the expression builder inside the loop body, before it writes the output element:
        // each intermediate becomes a local there, the last step's expression is stored.
        Broadcast.Emit(e, n.Out(), n.Inputs, a => ScalarChain(n, e, chain, a));
    }

    /// <summary>The chain on one element (a: each input's element expression): a local per intermediate, the last step's expression returned.</summary>
    static string ScalarChain(Node n, EmitContext e, FusedChain chain, string[] a)
    {
        var t = n.In(0).Type;
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
    }

    /// <summary>Steps whose arithmetic a vector does lane by lane exactly as the scalar expression does.</summary>
    static readonly HashSet<string> s_vector = new() { "Relu", "Neg", "Abs", "Add", "Sub", "Mul", "Div" };

    /// <summary>
    /// Net, float, every step in <see cref="s_vector"/>, an innermost run of at least 16 elements along which each
    /// operand is contiguous or one value: the run in System.Numerics.Vector&lt;float&gt; steps (the machine's width), the
    /// rest with the scalar expressions. Relu and Abs compare and select as their scalar forms do (NaN and -0 alike).
    /// </summary>
    static bool EmitVectors(Node n, EmitContext e, FusedChain chain)
    {
        if (!chain.Steps.All(st => st.Node.Domain is "" or "ai.onnx" && s_vector.Contains(st.Node.OpType))) return false;
        var (dims, strides) = Broadcast.Merge(n.Out(), n.Inputs);
        if (dims.Count == 0 || dims[dims.Count - 1] < 16 || strides.Any(st => st[st.Count - 1] is not (0 or 1))) return false;
        var w = e.W;
        int outer = dims.Count - 1, run = dims[outer];
        var vars = Enumerable.Range(0, outer).Select(_ => e.Var("i")).ToArray();
        for (int d = 0; d < outer; d++) w.Open($"for (int {vars[d]} = 0; {vars[d]} < {dims[d]}; {vars[d]}++)");
        var outStr = new int[dims.Count];
        for (int d = dims.Count - 1, acc = 1; d >= 0; d--) { outStr[d] = acc; acc *= dims[d]; }
        string Base(IList<int> st) => Idx.Sum(Enumerable.Range(0, outer).Select(d => Idx.Mul(vars[d], st[d])).ToArray());
        string Local(string expr, string hint)
        {
            if (!expr.Contains("+") && !expr.Contains("*")) return expr;
            var v = e.Var(hint);
            w.Line($"int {v} = {expr};");
            return v;
        }
        var bases = n.Inputs.Select((v, k) => Local(Base(strides[k]), "b")).ToArray();
        string ob = Local(Base(outStr), "o");
        // operands that are one value along the run: splatted once per run
        var splat = new string[n.Inputs.Count];
        for (int k = 1; k < n.Inputs.Count; k++)
            if (strides[k][strides[k].Count - 1] == 0)
            {
                splat[k] = e.Var("c");
                w.Line($"var {splat[k]} = new System.Numerics.Vector<float>({e.At(n.In(k), bases[k])});");
            }
        var j = e.Var("j");
        w.Line($"int {j} = 0;");
        w.Open($"for (; {j} <= {run} - System.Numerics.Vector<float>.Count; {j} += System.Numerics.Vector<float>.Count)");
        string Load(int k) => splat[k] ?? $"new System.Numerics.Vector<float>({e.Span(n.In(k))}.Slice({Idx.Sum(bases[k], j)}))";
        string cur = Load(0);
        foreach (var st in chain.Steps)
        {
            string x = cur, c = st.Operand > 0 ? Load(st.Operand) : null;
            string a = st.ChainFirst ? x : c, b = st.ChainFirst ? c : x;
            string expr = st.Node.OpType switch
            {
                "Relu" => $"System.Numerics.Vector.ConditionalSelect(System.Numerics.Vector.LessThan({x}, System.Numerics.Vector<float>.Zero), System.Numerics.Vector<float>.Zero, {x})",
                "Neg" => $"-{x}",
                "Abs" => $"System.Numerics.Vector.ConditionalSelect(System.Numerics.Vector.LessThan({x}, System.Numerics.Vector<float>.Zero), -{x}, {x})",
                "Add" => $"{a} + {b}",
                "Sub" => $"{a} - {b}",
                "Mul" => $"{a} * {b}",
                _ => $"{a} / {b}",
            };
            cur = e.Var("v");
            w.Line($"var {cur} = {expr};");
        }
        w.Line($"{cur}.CopyTo({e.Span(n.Out())}.Slice({Idx.Sum(ob, j)}));");
        w.Close();
        // the run's last elements: the scalar expressions
        w.Open($"for (; {j} < {run}; {j}++)");
        var args = n.Inputs.Select((v, k) => e.At(v, strides[k][strides[k].Count - 1] == 0 ? bases[k] : Idx.Sum(bases[k], j))).ToArray();
        w.Line($"{e.At(n.Out(), Idx.Sum(ob, j))} = {ScalarChain(n, e, chain, args)};");
        w.Close();
        for (int d = 0; d < outer; d++) w.Close();
        return true;
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
    static partial void RegisterFused(Dictionary<string, Operator> t)
    {
        t[FusedElementwise.Domain + ":" + FusedElementwise.OpType] = new FusedElementwise();
        t[FusedElementwise.Domain + ":" + ChannelBlocks.OpType] = new ChannelBlocks();
    }
}
