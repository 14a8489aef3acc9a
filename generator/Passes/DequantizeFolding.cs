using System.Linq;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Operators;

namespace ModelGen.Compiler.Passes;

/// <summary>
/// Folds the DequantizeLinear nodes of constant integer tensors that the lowering passes left (QDQ weights of ops
/// that stay in float): the importer keeps them as nodes for the lowering to see; computed once here, they are float
/// constants again instead of being dequantized on every inference. Weights quantized at the user's request
/// (Quantize="Weights", <see cref="DequantizeLinear.KeepAttr"/>) stay int8.
/// </summary>
public sealed class DequantizeFolding : IPass
{
    public string Name => "DequantizeFolding";

    public void Run(Graph graph)
    {
        foreach (var n in graph.Nodes.ToArray())
        {
            if (n.OpType != "DequantizeLinear" || DequantizeLinear.Keep(n) || !n.Inputs.All(i => i == null || i.IsConst)) continue;
            var op = OperatorRegistry.Find(n.Domain, n.OpType, n.Opset);
            var r = op?.Evaluate(n, n.Inputs.Select(i => i?.Const).ToArray());
            if (r == null) continue;
            n.Out().Const = r[0];
            n.Out().Producer = null;
            graph.Nodes.Remove(n);
        }
    }
}
