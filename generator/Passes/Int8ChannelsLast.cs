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
/// - an elementwise node, whose tensors are channels last all together or not at all: an Int8Lookup (a quantized
///   activation: its input and output), a QLinearAdd or QLinearMul of two tensors of one shape (a residual connection:
///   its three tensors), a QLinearMul by one value per channel (a squeeze-excite gate, [N, C, 1, 1]: its full operand
///   and output; the gate reads the same in either order, and mg_nhwc_in makes it run Int8.MulChannelsLast);
/// - a global int8 average pool (QLinearGlobalAveragePool, or QLinearAveragePool whose window is the plane) reading it
///   (mg_nhwc_in: it sums a vector of channels per position; its [N, C, 1, 1] output is the same in either order).
/// A chain's first layer reads NCHW and its last writes NCHW: no reorder node is needed. A 1x1 layer joins a chain on
/// planes up to QConvInt8.MaxChainPlane positions, or on larger ones where its output channels fill the lanes
/// (QConvInt8.FillsLanes), and then runs the channel-lanes kernel (its weights packed for it again). Net profile only,
/// after the lowering (the integer nodes are final). The graph's values keep their NCHW meaning; only the generated
/// code's buffers change order.
/// </summary>
public sealed class Int8ChannelsLast : IPass
{
    public string Name => "Int8ChannelsLast";

    public void Run(Graph graph)
    {
        var uses = new Uses(graph);
        // the elementwise nodes: their tensors that must share one order (the lookup's input and output, an add's or a
        // same-shape mul's three, a gate mul's full operand and output: its [N, C, 1, 1] gate is the same either way)
        var groups = graph.Nodes.Select(n => (Node: n, Tensors: Group(n))).Where(g => g.Tensors != null).ToList();
        var member = groups.ToDictionary(g => g.Node, g => g.Tensors);
        bool Writes(Node p) => QConvInt8.ChannelsLastCapable(p) || member.ContainsKey(p);
        bool Reads(Node c, Value v)
        {
            if (QConvInt8.ChannelsLastCapable(c) || IsGlobalPool(c)) return c.In(0) == v && c.Inputs.Skip(1).All(i => i != v);
            if (!member.TryGetValue(c, out var t)) return false;
            // v fills its group's places only (not also a gate, a scale or a table)
            var slots = c.Inputs.Select((i, k) => (i, k)).Where(p => p.i == v).Select(p => p.k).ToList();
            return slots.Count > 0 && slots.All(k => (k == 0 || k == 3) && t.Contains(v));
        }
        var last = new HashSet<Value>(graph.Nodes.Where(Writes).Select(n => n.Out())
            .Where(v => !uses.IsGraphOutput(v) && uses.Of(v).Count > 0 && uses.Of(v).All(c => Reads(c, v))));
        // a group's tensors share one order: where one of them cannot be channels last, none is
        for (bool changed = true; changed;)
        {
            changed = false;
            foreach (var (_, t) in groups)
                if (t.Any(last.Contains) && !t.All(last.Contains)) { foreach (var v in t) last.Remove(v); changed = true; }
        }
        var convs = graph.Nodes.Where(n => QConvInt8.ChannelsLastCapable(n) && (last.Contains(n.In(0)) || last.Contains(n.Out()))).ToList();
        foreach (var n in convs)
        {
            n.Attributes["mg_nhwc_in"] = PassUtil.Int("mg_nhwc_in", last.Contains(n.In(0)) ? 1 : 0);
            n.Attributes["mg_nhwc_out"] = PassUtil.Int("mg_nhwc_out", last.Contains(n.Out()) ? 1 : 0);
        }
        foreach (var n in graph.Nodes.Where(n => IsGlobalPool(n) && last.Contains(n.In(0)) || QLinearBinary.ChannelGate(n, out int full) && last.Contains(n.In(full))))
            n.Attributes["mg_nhwc_in"] = PassUtil.Int("mg_nhwc_in", 1);
        // inferred again: a 1x1 layer's weights packed for the channel-lanes kernel (the packed input dropped first)
        foreach (var n in convs)
        {
            if (n.Inputs.Count > 5) n.Inputs.RemoveRange(5, n.Inputs.Count - 5);
            OperatorRegistry.Find(n.Domain, n.OpType, n.Opset).Infer(n);
        }
    }

    /// <summary>The tensors of an elementwise node that must share one order, or null where the node is not one.</summary>
    static Value[] Group(Node n)
    {
        if (n.Domain == FusedElementwise.Domain && n.OpType == Int8Lookup.OpType && Shape.Equal(n.In(0).Shape, n.Out().Shape)) return new[] { n.In(0), n.Out() };
        if (IsSameShape(n, "QLinearAdd") || IsSameShape(n, "QLinearMul")) return new[] { n.In(0), n.In(3), n.Out() };
        if (QLinearBinary.ChannelGate(n, out int full) && !n.In(full).IsConst) return new[] { n.In(full), n.Out() };
        return null;
    }

    /// <summary>A QLinearAdd / QLinearMul whose two inputs and output have one shape (one elementwise loop over the bytes).</summary>
    static bool IsSameShape(Node n, string op) => n.Domain == "com.microsoft" && n.OpType == op && n.Inputs.Count > 3 && n.In(0) != null && n.In(3) != null
        && !n.In(0).IsConst && !n.In(3).IsConst && Shape.Equal(n.In(0).Shape, n.Out().Shape) && Shape.Equal(n.In(3).Shape, n.Out().Shape);

    /// <summary>An int8 average pool over each whole plane of an NCHW tensor (<see cref="QLinearAveragePool.IsGlobal"/>).</summary>
    static bool IsGlobalPool(Node n) => n.Domain == "com.microsoft" && (n.OpType == "QLinearGlobalAveragePool" && n.Int("channels_last", 0) == 0
        || n.OpType == "QLinearAveragePool" && QLinearAveragePool.IsGlobal(n));
}
