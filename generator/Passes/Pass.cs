using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Passes;

/// <summary>A named graph-to-graph transformation. Each can be switched off by name (ModelOptions.DisabledPasses).</summary>
public interface IPass
{
    string Name { get; }
    void Run(Graph graph);
}

/// <summary>The ordered list of passes; the one place where passes are registered.</summary>
public static class PassManager
{
    public static IReadOnlyList<IPass> All { get; } = new IPass[]
    {
        new DeadNodeElimination(),
        new IdentityElimination(),
        new MatMulAddToGemm(),
        new ConvBatchNormFolding(),
        // after BatchNorm folding (Conv, BatchNorm, Add), before ActivationFusion (the Relu after the Add follows the sum)
        new ConvAddFusion(),
        new HardSwishFusion(),
        // after BatchNorm folding (the activation follows the folded node), before the chains (it would join them)
        new ActivationFusion(),
        // after ActivationFusion: the clamp follows the fused activation
        new ClampFusion(),
        // after ActivationFusion: a Pad after a fused Relu is known non-negative for MaxPool
        new PadFolding(),
        new LayerNormFusion(),
        new GeluFusion(),
        new TransposeCancellation(),
        new DeadNodeElimination(),
        new ElementwiseChainFusion(),
        new DeadNodeElimination(),
    };

    /// <summary>
    /// Passes that lower quantized patterns (QDQ around float ops) to integer kernels, then lay out constant weights for
    /// the Net kernels. They run after <see cref="All"/> and after build-time quantization (which writes such patterns),
    /// on models that arrive quantized as well.
    /// </summary>
    public static IReadOnlyList<IPass> Lowering { get; } = new IPass[]
    {
        new QLinearLowering(),
        new ConvIntegerLowering(),
        new QdqConvGemmLowering(),
        new QdqPassThrough(),
        // the DequantizeLinear nodes the lowering left unread go first: a lookup's output then has its one real reader
        new DeadNodeElimination(),
        new LookupTables(),
        new DeadNodeElimination(),
        new DequantizeFolding(),
        // after the folding: the DequantizeLinear nodes left are the weights the user asked to keep int8
        new WeightGemmFusion(),
        new WeightConvFusion(),
        // after WeightGemmFusion: the float Gemm nodes left keep float weights
        new GemmWeightLayout(),
        // last: the Conv nodes and their (dequantized, folded, or int8) weights are final
        new ConvWeightPanels(),
        new ChannelBlocking(),
        new Int8ChannelsLast(),
    };

    /// <summary>Runs the float passes, then <paramref name="quantize"/> (null: none), then the lowering passes.</summary>
    public static void Run(Graph graph, ModelOptions options, IPass quantize = null)
    {
        var off = new HashSet<string>((options.DisabledPasses ?? "").Split(new[] { ',', ';', ' ' }, StringSplitOptions.RemoveEmptyEntries), StringComparer.OrdinalIgnoreCase);
        // the packed weight layouts are for the Net profile's kernels: Portable graphs stay as they are
        bool On(IPass p) => !off.Contains(p.Name) && !off.Contains("all") && !((p is ConvWeightPanels || p is ChannelBlocking || p is Int8ChannelsLast || p is WeightConvFusion || p is ConvIntegerLowering || p is GemmWeightLayout) && options.Target != TargetProfile.Net);
        foreach (var p in All.Where(On)) p.Run(graph);
        // quantization is an option the user asked for, not an optimisation: "all" does not switch it off
        if (quantize != null) quantize.Run(graph);
        foreach (var p in Lowering.Where(On)) RunNested(p, graph, graph);
    }

    /// <summary>
    /// A lowering pass on a graph and on its nodes' branches (quantization writes QDQ patterns into the branches of a
    /// run-time If too; unlowered, their weights would be dequantized on every call); the branches' notes join the model's.
    /// </summary>
    static void RunNested(IPass pass, Graph g, Graph top)
    {
        pass.Run(g);
        foreach (var n in g.Nodes.ToList())
            foreach (var sub in n.Subgraphs.Values)
            {
                RunNested(pass, sub, top);
                top.Notes.AddRange(sub.Notes);
                sub.Notes.Clear();
            }
    }
}
