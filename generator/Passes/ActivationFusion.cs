using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Operators;
using static ModelGen.Compiler.Passes.PassUtil;

namespace ModelGen.Compiler.Passes;

/// <summary>
/// A float Conv, ConvTranspose, Gemm or MatMul followed by Relu, Clip (constant bounds; Relu6), LeakyRelu, Sigmoid, Tanh,
/// HardSigmoid, HardSwish, or x * Sigmoid(x) (SiLU), whose result is read by that activation alone and is not a graph
/// output, becomes one node carrying the activation (<see cref="FusedActivation"/>): the kernels apply it as they store
/// each output, so the intermediate tensor and its second pass over memory disappear.
/// </summary>
public sealed class ActivationFusion : IPass
{
    public string Name => "ActivationFusion";

    public void Run(Graph graph) => Fixpoint(graph, TryFuse);

    static bool TryFuse(Graph g, Uses uses, Node p)
    {
        if (!(Is(p, "Conv") || Is(p, "ConvTranspose") || Is(p, "Gemm") || Is(p, "MatMul")) || p.Outputs.Count != 1 || p.Has(FusedActivation.KindAttr)) return false;
        var x = p.Out();
        if (!DTypes.IsFloat(x.Type) || uses.IsGraphOutput(x)) return false;
        var readers = uses.Of(x);
        FusedActivation act;
        Node last;
        var removed = new List<Node> { p };
        if (readers.Count == 1)
        {
            last = readers[0];
            act = last.In(0) == x ? FusedActivation.FromNode(last) : null;
            removed.Add(last);
        }
        else if (readers.Count == 2)
        {
            // SiLU: Mul(x, Sigmoid(x)) in either operand order
            var sig = readers.FirstOrDefault(r => Is(r, "Sigmoid"));
            last = readers.FirstOrDefault(r => r != sig && Is(r, "Mul"));
            if (sig == null || last == null || uses.Only(sig.Out()) != last || Other(last, x) != sig.Out()) return false;
            act = new FusedActivation("Silu");
            removed.Add(sig); removed.Add(last);
        }
        else return false;
        if (act == null || !g.Nodes.Contains(last) || last.Out().Type != x.Type || !Shape.Equal(last.Out().Shape, x.Shape)) return false;
        var node = MakeIn(p.Domain, p.OpType, p.Opset, p.Name, p.Inputs, new[] { last.Out() },
            p.Attributes.Values.Concat(act.Attributes()).ToArray());
        Replace(g, removed, node);
        return true;
    }
}
