using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Operators;

namespace ModelGen.Compiler.Passes;

/// <summary>
/// Chains of int8 depthwise and 1x1 convolutions (MobileNet's and DS-CNN's bodies, once quantized) keep the tensors
/// between them channels last ([N, H, W, C] bytes), as TensorFlow Lite's int8 kernels do. In NCHW every int8 depthwise
/// layer transposes its input bytes into vectors of channels and its output back, and the 1x1 kernel with the channels
/// in the lanes transposes its output: channels last, each position's channels are one copy in and one store out. A
/// tensor is channels last where a node that can write it so produces it, it is not a graph output, and every consumer
/// can read it so:
/// - a QConvInt8 that can run so (<see cref="QConvInt8.ChannelsLastCapable"/>) reading it as its input (mg_nhwc_in,
///   and mg_nhwc_out for what it writes);
/// - a QLinearAdd of two tensors of one shape (a residual connection: elementwise, so the order does not matter as
///   long as both inputs and the output share it; they are channels last all three or none);
/// - a global int8 average pool (QLinearGlobalAveragePool, or QLinearAveragePool whose window is the plane) reading it
///   (mg_nhwc_in: it sums a vector of channels per position; its [N, C, 1, 1] output is the same in either order).
/// A chain's first layer reads NCHW and its last writes NCHW: no reorder node is needed. A 1x1 layer joins a chain on
/// planes up to QConvInt8.MaxChainPlane positions and then runs the channel-lanes kernel (its weights packed for it
/// again). Net profile only, after the lowering (the integer nodes are final). The graph's values keep their NCHW
/// meaning; only the generated code's buffers change order.
/// </summary>
public sealed class Int8ChannelsLast : IPass
{
    public string Name => "Int8ChannelsLast";

    public void Run(Graph graph)
    {
        var uses = new Uses(graph);
        bool Writes(Node p) => QConvInt8.ChannelsLastCapable(p) || IsResidualAdd(p);
        bool Reads(Node c, Value v)
            => QConvInt8.ChannelsLastCapable(c) || IsGlobalPool(c) ? c.In(0) == v && c.Inputs.Skip(1).All(i => i != v)
            : IsResidualAdd(c) && (c.In(0) == v || c.In(3) == v) && c.Inputs.Where((i, k) => k != 0 && k != 3).All(i => i != v);
        var last = new HashSet<Value>(graph.Nodes.Where(Writes).Select(n => n.Out())
            .Where(v => !uses.IsGraphOutput(v) && uses.Of(v).Count > 0 && uses.Of(v).All(c => Reads(c, v))));
        // an add's three tensors share one order: where one of them cannot be channels last, none is
        var adds = graph.Nodes.Where(IsResidualAdd).ToList();
        for (bool changed = true; changed;)
        {
            changed = false;
            foreach (var a in adds)
            {
                var three = new[] { a.In(0), a.In(3), a.Out() };
                if (three.Any(last.Contains) && !three.All(last.Contains)) { foreach (var v in three) last.Remove(v); changed = true; }
            }
        }
        var convs = graph.Nodes.Where(n => QConvInt8.ChannelsLastCapable(n) && (last.Contains(n.In(0)) || last.Contains(n.Out()))).ToList();
        foreach (var n in convs)
        {
            n.Attributes["mg_nhwc_in"] = PassUtil.Int("mg_nhwc_in", last.Contains(n.In(0)) ? 1 : 0);
            n.Attributes["mg_nhwc_out"] = PassUtil.Int("mg_nhwc_out", last.Contains(n.Out()) ? 1 : 0);
        }
        foreach (var n in graph.Nodes.Where(n => IsGlobalPool(n) && last.Contains(n.In(0))))
            n.Attributes["mg_nhwc_in"] = PassUtil.Int("mg_nhwc_in", 1);
        // inferred again: a 1x1 layer's weights packed for the channel-lanes kernel (the packed input dropped first)
        foreach (var n in convs)
        {
            if (n.Inputs.Count > 5) n.Inputs.RemoveRange(5, n.Inputs.Count - 5);
            OperatorRegistry.Find(n.Domain, n.OpType, n.Opset).Infer(n);
        }
    }

    /// <summary>A QLinearAdd whose two inputs and output have one shape (it emits one elementwise loop over the bytes).</summary>
    static bool IsResidualAdd(Node n) => n.Domain == "com.microsoft" && n.OpType == "QLinearAdd" && n.Inputs.Count > 3 && n.In(0) != null && n.In(3) != null
        && !n.In(0).IsConst && !n.In(3).IsConst && Shape.Equal(n.In(0).Shape, n.Out().Shape) && Shape.Equal(n.In(3).Shape, n.Out().Shape);

    /// <summary>An int8 average pool over each whole plane of an NCHW tensor (<see cref="QLinearAveragePool.IsGlobal"/>).</summary>
    static bool IsGlobalPool(Node n) => n.Domain == "com.microsoft" && (n.OpType == "QLinearGlobalAveragePool" && n.Int("channels_last", 0) == 0
        || n.OpType == "QLinearAveragePool" && QLinearAveragePool.IsGlobal(n));
}
