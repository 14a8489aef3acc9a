using System.Collections.Generic;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Passes;

namespace ModelGen.Compiler.Quantization;

/// <summary>
/// Quantize="Weights": the constant weights of Conv, Gemm and MatMul become int8 per output channel (symmetric) with a
/// DequantizeLinear just before their layer; activations and biases stay float. The weights are stored at a quarter of
/// their size and dequantized into the arena at run time (the planner places that buffer like any tensor, live only
/// while its layer runs). The lowering then gives Gemm (WeightGemmFusion) and, in the Net profile, Conv
/// (WeightConvFusion) the int8 weights themselves. No calibration. Also inside If branches.
/// </summary>
internal sealed class WeightOnlyQuantization : IPass
{
    public string Name => "QuantizeWeights";

    public void Run(Graph g)
    {
        // weights inside If branches too (a branch's DequantizeLinear runs when the branch does)
        foreach (var n in g.Nodes) foreach (var sub in n.Subgraphs.Values) Run(sub);
        var nodes = new List<Node>();
        var done = new Dictionary<(Value, int), Value>();
        foreach (var n in g.Nodes)
        {
            if (WeightPatterns.TryGet(n, out int input, out int axis))
            {
                var w = n.Inputs[input];
                if (!done.TryGetValue((w, axis), out var dq)) done[(w, axis)] = dq = QdqBuilder.DequantizedWeight(nodes, w, axis, keep: true);
                n.Inputs[input] = dq;
            }
            nodes.Add(n);
        }
        g.Nodes = nodes;
    }
}
