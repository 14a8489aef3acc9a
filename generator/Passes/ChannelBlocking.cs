using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Operators;

namespace ModelGen.Compiler.Passes;

/// <summary>
/// Chains of float depthwise and 1x1 convolutions (MobileNet's and DS-CNN's bodies) keep the tensors between them
/// channel-blocked (NCHW16c): a tensor that one such convolution writes and only such convolutions read is blocked,
/// each convolution touching one runs ModelGen.Runtime.ConvBlocked (attribute mg_blocked = 1), and a
/// <see cref="ChannelBlocks"/> node reorders at each end of the chain. In NCHW every depthwise layer transposes its
/// input into vectors of channels and its output back, and the 1x1 kernel of small planes transposes its output: blocked,
/// they load and store whole vectors, and the chain pays one transposition at each end. Net profile only, last in the
/// lowering (the convolutions, their fusions and weights are final); channel counts multiples of 16; a 1x1 convolution
/// accumulating onto a residual (ConvAddFusion) joins where that residual is blocked; a depthwise one with a residual or
/// int8 weights keeps NCHW. A dense convolution with packed panels writes a chain's first blocks (DS-CNN's stem, no
/// reorder after it), and one whose input channels are a multiple of 16 reads them; windowed max pools and channel
/// concatenations pass blocks on (SqueezeNet's fire modules); a global pool (DS-CNN's and MobileNet's classifier heads) reads the
/// chain's last blocks itself instead of a reorder back to NCHW, and a squeeze-excite gate (a Mul by one value per
/// channel) scales them where they lie. The graph's values keep their NCHW meaning
/// (<see cref="ChannelBlocks"/> evaluates as a copy); only the generated code's buffers change order.
/// </summary>
public sealed class ChannelBlocking : IPass
{
    public string Name => "ChannelBlocking";

    /// <summary>ModelGen.Runtime.ConvBlocked's staged band of one 16-channel slice (its StageFloats) and MaxTaps.</summary>
    const int StageFloats = 8192, MaxTaps = 64;

    public void Run(Graph graph)
    {
        var uses = new Uses(graph);
        var kind = graph.Nodes.ToDictionary(n => n, Kind);
        // each node's role, once: the fixed points below ask Blocked (and so these) many times over
        var data = graph.Nodes.ToDictionary(n => n, ScaleData);
        var pools = new HashSet<Node>(graph.Nodes.Where(GlobalPool));
        var writers = new HashSet<Node>(graph.Nodes.Where(n => kind[n] != 0));
        var readers = new HashSet<Node>(writers.Where(n => kind[n] is 1 or 4 or 5 || kind[n] is 2 or 3 && ((Conv.Geo)n.State).C is > 0 and var c && c % 16 == 0));
        // a consumer of a blocked tensor reads it as its input (a chain's convolution), or as the residual a 1x1
        // convolution accumulates onto (MobileNetV2's projection, ConvAddFusion; only 1x1 writers have one): then
        // that one writes blocks too
        bool Reads(Node c, Value v)
        {
            if (kind[c] == 5) return readers.Contains(c); // a concatenation: any of its inputs
            int d = data[c];
            if (d >= 0) return c.In(d) == v && c.In(1 - d) != v;
            return c.In(0) == v ? (readers.Contains(c) || pools.Contains(c)) && c.Inputs.Skip(1).All(i => i != v) : writers.Contains(c) && c.In(3) == v;
        }
        // blocked where every consumer reads blocks, or where one needs them (a depthwise layer, a pool, a concatenation,
        // a gate, a residual: the 1x1 and dense layers read planes as well) and the others get a reorder back of their
        // own (GoogLeNet's inception outputs feed 1x1 layers of 24 channels besides the blocked branches)
        bool Needs(Node c, Value v) => kind[c] is 1 or 4 or 5 || pools.Contains(c) || data[c] >= 0 || kind[c] == 2 && c.In(3) == v;
        bool Blocked(Value v) => v != null && v.Producer != null && writers.Contains(v.Producer) && !uses.IsGraphOutput(v)
            && uses.Of(v).Count > 0 && (uses.Of(v).All(c => Reads(c, v)) || uses.Of(v).Any(c => Reads(c, v) && Needs(c, v)));
        // a squeeze-excite gate (a channel scale) writes blocks where its data is blocked, which may block a scale after it
        var scales = graph.Nodes.Where(n => data[n] >= 0).ToList();
        for (bool changed = true; changed;)
        {
            changed = false;
            foreach (var n in scales.Where(n => !writers.Contains(n) && Blocked(n.In(data[n]))).ToList()) { writers.Add(n); changed = true; }
        }
        // a convolution accumulating onto a residual writes where the residual is (its buffer, or a copy of it): it
        // runs blocked only where that residual is; dropping one may unblock others (and a scale's data), so to a fixed point
        // a dense layer reads blocks only where its output stays blocked, and a windowed max pool or a concatenation
        // runs blocked only where all its input and its output are: a dense layer saves only its scatter by blocks, which
        // a reorder right after it costs again (ResNet's pairs of 3x3 layers before an Add), and a pool or concatenation
        // ending a chain only moves the reorder
        for (bool changed = true; changed;)
        {
            changed = false;
            foreach (var n in writers.Where(n => kind[n] == 2 && n.In(3) != null && !Blocked(n.In(3))).ToList()) { writers.Remove(n); readers.Remove(n); changed = true; }
            foreach (var n in scales.Where(n => writers.Contains(n) && !Blocked(n.In(data[n]))).ToList()) { writers.Remove(n); changed = true; }
            foreach (var n in readers.Where(n => kind[n] == 3 && !Blocked(n.Out())).ToList()) { readers.Remove(n); changed = true; }
            foreach (var n in writers.Where(n => kind[n] is 4 or 5 && (!n.Inputs.All(Blocked) || !Blocked(n.Out()))).ToList()) { writers.Remove(n); readers.Remove(n); changed = true; }
        }
        // the decisions, before the graph changes: the blocked values, and those that some consumers read as planes
        var blk = new HashSet<Value>(graph.Nodes.SelectMany(n => n.Outputs).Where(Blocked));
        // where a reorder back is made anyway, a 1x1 or dense layer that writes planes reads them too
        var readBy = blk.ToDictionary(v => v, v =>
        {
            bool all = uses.Of(v).All(u => Reads(u, v));
            return uses.Of(v).Where(c => Reads(c, v) && (all || Needs(c, v) || !(kind[c] is 2 or 3) || blk.Contains(c.Out()))).ToList();
        });
        var nodes = new List<Node>();
        // the blocks go to an inner value, y becomes their reorder back for the consumers that read planes; those that
        // read blocks take the inner value
        void FromBlocks(Node n)
        {
            var y = n.Out();
            var inner = new Value(y.Name + "_blocks") { Type = y.Type, Shape = y.Shape, Producer = n };
            n.Outputs[0] = inner;
            nodes.Add(PassUtil.MakeIn(FusedElementwise.Domain, ChannelBlocks.OpType, 1, (n.Name ?? y.Name) + "_from_blocks",
                new[] { inner }, new[] { y }, new[] { PassUtil.Int("to", 0) }));
            if (!readBy.TryGetValue(y, out var readers)) return;
            blk.Add(inner);
            blk.Remove(y); // y is the planes now
            foreach (var c in readers)
                for (int i = 0; i < c.Inputs.Count; i++)
                    if (c.Inputs[i] == y) c.Inputs[i] = inner;
        }
        // blocked, and read as planes by some consumer too
        bool Shared(Value y) => readBy.TryGetValue(y, out var r) && r.Count < uses.Of(y).Count;
        foreach (var n in graph.Nodes)
        {
            if (pools.Contains(n) && blk.Contains(n.In(0)))
            {
                // the chain's last tensor pooled as it lies (ModelGen.Runtime.ConvBlocked.GlobalPool): no reorder back
                n.Attributes["mg_blocked_in"] = PassUtil.Int("mg_blocked_in", 1);
                nodes.Add(n);
                continue;
            }
            int sd = data[n];
            if (sd >= 0)
            {
                // the gate applied where the data lies (ModelGen.Runtime.ConvBlocked.ScaleChannels)
                if (writers.Contains(n))
                {
                    n.Attributes["mg_blocked"] = PassUtil.Int("mg_blocked", 1);
                    n.Attributes["mg_blocked_data"] = PassUtil.Int("mg_blocked_data", sd);
                }
                nodes.Add(n);
                if (writers.Contains(n) && (!blk.Contains(n.Out()) || Shared(n.Out()))) FromBlocks(n);
                continue;
            }
            bool bin = writers.Contains(n) && blk.Contains(n.In(0)), bout = writers.Contains(n) && blk.Contains(n.Out()), bres = writers.Contains(n) && kind[n] == 2 && n.In(3) != null;
            if (!bin && !bout && !bres) { nodes.Add(n); continue; }
            // depthwise: blocked on both sides; 1x1: its input may stay NCHW (the chain's first layer reads the planes)
            if (!bin && kind[n] == 1)
            {
                var x = n.In(0);
                var to = PassUtil.MakeIn(FusedElementwise.Domain, ChannelBlocks.OpType, 1, (n.Name ?? x.Name) + "_to_blocks",
                    new[] { x }, new[] { new Value(x.Name + "_blocks") }, new[] { PassUtil.Int("to", 1) });
                nodes.Add(to);
                n.Inputs[0] = to.Out();
                bin = true;
            }
            n.Attributes["mg_blocked"] = PassUtil.Int("mg_blocked", 1);
            n.Attributes["mg_blocked_in"] = PassUtil.Int("mg_blocked_in", bin ? 1 : 0);
            nodes.Add(n);
            if (!bout || Shared(n.Out())) FromBlocks(n);
        }
        graph.Nodes = nodes;
    }

    /// <summary>
    /// A channel scale: a float Mul of x [N, C, H, W] (C a multiple of 16) by a gate of one value per image and channel
    /// ([N, C, 1, 1], or [C, 1, 1] / [1, C, 1, 1] with one image), as squeeze-excite blocks end. Returns x's input index, or -1.
    /// </summary>
    static int ScaleData(Node n)
    {
        if (!PassUtil.Is(n, "Mul") || n.Inputs.Count != 2 || n.Outputs.Count != 1 || n.Out() is not { Type: DType.Float } y || y.Shape is not { Length: 4 } s
            || s[1] % 16 != 0 || n.In(0)?.Type != DType.Float || n.In(1)?.Type != DType.Float) return -1;
        for (int d = 0; d < 2; d++)
        {
            var g = n.In(1 - d).Shape;
            if (!n.In(d).Shape.SequenceEqual(s) || g == null) continue;
            var t = g.SkipWhile(v => v == 1).ToArray();
            bool perImage = g.Length == 4 && g[0] == s[0] && g[1] == s[1] && g[2] == 1 && g[3] == 1;
            if (perImage || s[0] == 1 && g.Length <= 4 && t.Length == 3 && t[0] == s[1] && t[1] == 1 && t[2] == 1) return d;
        }
        return -1;
    }

    /// <summary>
    /// A float global average or max pool of a 4-D tensor (GlobalAveragePool, GlobalMaxPool, an AveragePool/MaxPool
    /// whose one unpadded window covers the plane, without indices, or a ReduceMean/ReduceMax over H and W): it can read
    /// a chain's blocks directly.
    /// </summary>
    static bool GlobalPool(Node n)
    {
        if (n.Outputs.Count != 1 || n.In(0) is not { Type: DType.Float } x || x.Shape.Length != 4) return false;
        if (PassUtil.Is(n, "GlobalAveragePool") || PassUtil.Is(n, "GlobalMaxPool") || Reduce.SpatialPool(n) != null) return true;
        return (PassUtil.Is(n, "AveragePool") || PassUtil.Is(n, "MaxPool")) && n.State is Pool.Geo { Indices: false } geo && geo.W.Rank == 2
            && geo.W.Out.All(o => o == 1) && geo.W.Kernel.SequenceEqual(geo.W.In) && geo.W.PadBegin.All(p => p == 0) && geo.W.PadEnd.All(p => p == 0)
            && geo.W.Dilations.All(d => d == 1);
    }

    /// <summary>
    /// 1: a float 2-D depthwise convolution ConvBlocked runs (channels a multiple of 16, its band fits, no residual); 2: a
    /// 1x1 one (stride 1, unpadded, one group, output channels a multiple of 16, a residual allowed: it reads blocks
    /// only where the input channels are one too); 3: a dense spatial one with ConvWeightPanels' float panels (one group,
    /// no residual), which writes blocks from NCHW input (ConvBlocked.Dense: a chain's first layer, DS-CNN's stem) or,
    /// with input channels a multiple of 16, from blocks (SqueezeNet's and VGG-style 3x3 layers); 4: a windowed 2-D
    /// float max pool of such channels (ConvBlocked.MaxPool); 5: a float concatenation along the channels of 4-D
    /// tensors whose channel counts are all multiples of 16 (the same copy on blocks); 0: none of these.
    /// </summary>
    static int Kind(Node n)
    {
        if (PassUtil.Is(n, "MaxPool") && n.Outputs.Count == 1 && n.State is Pool.Geo { Indices: false } pg && pg.W.Rank == 2 && !GlobalPool(n)
            && n.In(0) is { Type: DType.Float, Shape: { Length: 4 } ps } && ps[1] > 0 && ps[1] % 16 == 0 && ps[2] * ps[3] > 0) return 4;
        if (PassUtil.Is(n, "Concat") && n.Outputs.Count == 1 && n.Out() is { Type: DType.Float, Shape: { Length: 4 } } && n.State is int axis && axis == 1
            && n.Inputs.All(i => i is { Type: DType.Float, Shape: { Length: 4 } cs } && cs[1] > 0 && cs[1] % 16 == 0 && cs[0] * cs[2] * cs[3] > 0)) return 5;
        if (!PassUtil.Is(n, "Conv") || n.State is not Conv.Geo geo || geo.W.Rank != 2 || n.Outputs.Count != 1) return 0;
        if (n.In(0).Type == DType.Float && n.In(4) is { IsConst: true, Type: DType.Float } && n.In(5) == null && n.In(3) == null
            && geo.Group == 1 && geo.M % 16 == 0 && (n.In(2) == null || n.In(2).IsConst)) return 3;
        if (n.In(0).Type != DType.Float || n.In(1) is not { IsConst: true, Type: DType.Float } || n.In(1).Const.F == null
            || n.In(2) != null && !n.In(2).IsConst || n.In(4) != null || n.In(5) != null || geo.M % 16 != 0) return 0;
        if (n.In(3) != null && !(geo.Group == 1 && geo.W.KernelSize == 1)) return 0;
        var g = geo.W;
        if (geo.Group == geo.C && geo.M == geo.C)
        {
            int wp = (g.Out[1] - 1) * g.Strides[1] + (g.Kernel[1] - 1) * g.Dilations[1] + 1, span = (g.Kernel[0] - 1) * g.Dilations[0] + 1;
            return g.KernelSize <= MaxTaps && (long)span * wp * 16 <= StageFloats ? 1 : 0;
        }
        return geo.Group == 1 && g.KernelSize == 1 && g.Strides.All(s => s == 1) && g.PadBegin.All(p => p == 0) && g.PadEnd.All(p => p == 0) ? 2 : 0;
    }
}
