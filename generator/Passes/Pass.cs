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
        new MatMulAddToGemm(),
        new ConvBatchNormFolding(),
        new LayerNormFusion(),
        new GeluFusion(),
        new TransposeCancellation(),
        new DeadNodeElimination(),
        new ElementwiseChainFusion(),
        new DeadNodeElimination(),
    };

    public static void Run(Graph graph, ModelOptions options)
    {
        var off = new HashSet<string>((options.DisabledPasses ?? "").Split(new[] { ',', ';', ' ' }, StringSplitOptions.RemoveEmptyEntries), StringComparer.OrdinalIgnoreCase);
        foreach (var p in All.Where(p => !off.Contains(p.Name) && !off.Contains("all"))) p.Run(graph);
    }
}
