using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Passes;

namespace ModelGen.Compiler.Quantization;

/// <summary>
/// Quantize="Int8": calibrates the float graph, then writes it in ONNX Runtime's QDQ format, TensorFlow Lite's int8
/// scheme. Activations that enter or leave a quantizable op get QuantizeLinear -> DequantizeLinear (int8, per tensor,
/// asymmetric, from the calibrated range); Conv/Gemm/MatMul constant weights become int8 per output channel + DequantizeLinear,
/// their bias int32 + DequantizeLinear. Relu / Clip(0, max) after a quantized op is absorbed into that op's output
/// quantization (its range starts at 0, so saturation at the zero point is the ReLU), as ONNX Runtime does. MaxPool,
/// Reshape, Flatten, Transpose, Squeeze, Unsqueeze and Concat keep their input's scale and zero point. Everything
/// else runs in float between a DequantizeLinear and the next QuantizeLinear. Branches of a run-time If too. Without the lowering passes this graph
/// runs as float simulation of the integer model; with them, the quantized patterns become integer kernels.
/// </summary>
internal sealed class QdqQuantization : IPass
{
    readonly IReadOnlyList<float[][]> _samples;
    readonly CalibrationMethod _method;
    readonly bool _int8IO;

    public QdqQuantization(IReadOnlyList<float[][]> samples, CalibrationMethod method, bool int8IO)
    {
        _samples = samples; _method = method; _int8IO = int8IO;
    }

    public string Name => "QuantizeInt8";
    public long CalibrationMs { get; private set; }
    /// <summary>Under QuantizeIO=Int8: the scale and zero point of each int8 graph input and output.</summary>
    public Dictionary<Value, (float Scale, int ZeroPoint)> IoParams { get; } = new();

    static readonly HashSet<string> s_compute = new() { "Conv", "Gemm", "MatMul", "Add", "Mul", "AveragePool", "GlobalAveragePool", "LeakyRelu", "Sigmoid" };
    static readonly HashSet<string> s_keepScale = new() { "MaxPool", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze" };

    Dictionary<Value, (float Lo, float Hi)> _ranges;

    bool Act(Value v) => v != null && !v.IsConst && v.Type == DType.Float && _ranges.ContainsKey(v);

    /// <summary>
    /// An op computed on int8 operands: every float operand an observed activation or a constant. Conv, Gemm and
    /// MatMul only with constant weights: the integer kernels they lower to take int8 weights compiled in, and a
    /// product of two activations (attention's scores and values) would run in float between Q/DQ pairs, slower and
    /// less accurate than float alone.
    /// </summary>
    bool IsCompute(Node n) => s_compute.Contains(n.OpType) && PassUtil.Is(n, n.OpType) && n.Outputs.Count == 1 && Act(n.Out())
        && Act(n.In(0)) && n.Inputs.All(v => v == null || v.Type != DType.Float || v.IsConst || Act(v))
        && (n.OpType is not ("Conv" or "Gemm" or "MatMul") || n.In(1) is { IsConst: true });

    public void Run(Graph g)
    {
        var inputs = g.Inputs.FindAll(v => !v.IsConst);
        SplitFusions(g);
        var sw = Stopwatch.StartNew();
        _ranges = Calibrator.Run(g, inputs, _samples, _method);
        CalibrationMs = sw.ElapsedMilliseconds;
        Quantize(g, top: true);
    }

    /// <summary>
    /// Quantizes one graph: the model's, or a branch of a run-time If (calibrated on the samples that took it; a
    /// branch no sample took has no ranges and stays float). Int8 inputs and outputs are the model's only.
    /// </summary>
    void Quantize(Graph g, bool top)
    {
        foreach (var n in g.Nodes) foreach (var sub in n.Subgraphs.Values) Quantize(sub, top: false);
        bool int8IO = _int8IO && top;
        AbsorbActivations(g);

        // which activations get Q/DQ, and which share one scale (union-find)
        var marked = new List<Value>();
        var parent = new Dictionary<Value, Value>();
        Value Find(Value v) { while (parent[v] != v) v = parent[v] = parent[parent[v]]; return v; }
        void Mark(Value v) { if (!parent.ContainsKey(v)) { parent[v] = v; marked.Add(v); } }
        void Union(Value a, Value b) { a = Find(a); b = Find(b); if (a != b) parent[b] = a; }
        foreach (var n in g.Nodes)
            if (IsCompute(n)) { foreach (var v in n.Inputs) if (Act(v)) Mark(v); Mark(n.Out()); }
        foreach (var n in g.Nodes)
        {
            if (n.Outputs.Count != 1 || !Act(n.Out())) continue;
            if (s_keepScale.Contains(n.OpType) && PassUtil.Is(n, n.OpType) && Act(n.In(0)) && parent.ContainsKey(n.In(0)))
            { Mark(n.Out()); Union(n.In(0), n.Out()); }
            else if (PassUtil.Is(n, "Concat") && n.Inputs.All(Act) && n.Inputs.Any(parent.ContainsKey))
            { Mark(n.Out()); foreach (var v in n.Inputs) { Mark(v); Union(v, n.Out()); } }
        }
        if (int8IO)
            foreach (var v in g.Inputs.Concat(g.Outputs)) if (Act(v)) Mark(v);

        // one range per group, the union of its members'
        var groupRange = new Dictionary<Value, (float Lo, float Hi)>();
        foreach (var v in marked)
        {
            var r = _ranges[v]; var root = Find(v);
            groupRange[root] = groupRange.TryGetValue(root, out var gr) ? (System.Math.Min(gr.Lo, r.Lo), System.Math.Max(gr.Hi, r.Hi)) : r;
        }
        var groupParams = new Dictionary<Value, (float Scale, int ZeroPoint, (Value, Value) Consts)>();
        (float Scale, int ZeroPoint, (Value Scale, Value ZeroPoint) Consts) P(Value v)
        {
            var root = Find(v);
            if (!groupParams.TryGetValue(root, out var p))
            {
                var (s, z) = QuantParams.Activation(groupRange[root].Lo, groupRange[root].Hi);
                groupParams[root] = p = (s, z, QdqBuilder.Params(root.Name, s, z));
            }
            return p;
        }

        var nodes = new List<Node>();
        var replace = new List<(Value From, Value To, Node Except)>();
        void QuantizeTensor(Value t)
        {
            var p = P(t);
            var tq = new Value(t.Name + "_QuantizeLinear_Output");
            var tdq = new Value(t.Name + "_DequantizeLinear_Output");
            if (int8IO && g.Inputs.Contains(t))
            {
                var ti = new Value(t.Name) { Type = DType.Int8, Shape = t.Shape, IsGraphInput = true };
                g.Inputs[g.Inputs.IndexOf(t)] = ti;
                t.IsGraphInput = false;
                IoParams[ti] = (p.Scale, p.ZeroPoint);
                nodes.Add(QdqBuilder.Dequantize(ti, tdq, p.Consts));
                replace.Add((t, tdq, null));
                return;
            }
            bool output = g.Outputs.Contains(t);
            if (output && int8IO) { tq = new Value(t.Name); IoParams[tq] = (p.Scale, p.ZeroPoint); }
            else if (output) tdq = new Value(t.Name); // the graph output keeps its name (the generated API)
            var q = QdqBuilder.Quantize(t, tq, p.Consts);
            nodes.Add(q);
            nodes.Add(QdqBuilder.Dequantize(tq, tdq, p.Consts));
            replace.Add((t, tdq, q));
            if (output) for (int i = 0; i < g.Outputs.Count; i++) if (g.Outputs[i] == t) g.Outputs[i] = int8IO ? tq : tdq;
        }

        var markedSet = new HashSet<Value>(marked);
        foreach (var v in g.Inputs.ToArray()) if (markedSet.Contains(v)) QuantizeTensor(v);
        var weights = new Dictionary<(Value, int), (Value Dq, float[] Scales)>();
        foreach (var n in g.Nodes)
        {
            if (IsCompute(n)) QuantizeConstants(n, nodes, weights, P(n.In(0)).Scale);
            nodes.Add(n);
            foreach (var o in n.Outputs) if (markedSet.Contains(o)) QuantizeTensor(o);
        }
        g.Nodes = nodes;
        foreach (var (from, to, except) in replace)
        {
            PassUtil.ReplaceUses(g, from, to);
            if (except != null) except.Inputs[0] = from;
        }
        new DeadNodeElimination().Run(g);
    }

    /// <summary>Weights (per channel) and bias (int32) of Conv/Gemm/MatMul; a constant operand of Add/Mul per tensor.</summary>
    static void QuantizeConstants(Node n, List<Node> nodes, Dictionary<(Value, int), (Value Dq, float[] Scales)> weights, float xScale)
    {
        if (WeightPatterns.TryGet(n, out int input, out int axis))
        {
            var w = n.Inputs[input];
            if (!weights.TryGetValue((w, axis), out var wq))
            {
                var dq = QdqBuilder.DequantizedWeight(nodes, w, axis);
                weights[(w, axis)] = wq = (dq, (float[])dq.Producer.In(1).Const.F.Clone());
            }
            n.Inputs[input] = wq.Dq;
            var b = WeightPatterns.Bias(n, wq.Scales.Length);
            if (b != null) n.Inputs[2] = QdqBuilder.DequantizedBias(nodes, b, xScale, wq.Scales);
            return;
        }
        if (n.OpType is "Add" or "Mul")
            for (int i = 0; i < n.Inputs.Count; i++)
            {
                var c = n.Inputs[i];
                if (c != null && c.IsConst && c.Type == DType.Float && c.Length > 0) n.Inputs[i] = QdqBuilder.DequantizedWeight(nodes, c, -1);
            }
    }

    /// <summary>
    /// Undoes the float fusions an integer kernel cannot run, before calibration, so each part gets its own range: a
    /// residual Add fused into a Conv (ConvAddFusion) becomes a Conv and an Add again (quantized as an int8 Add), and an
    /// activation fused into a Conv/Gemm/MatMul that is not a clamp (LeakyRelu, Sigmoid, ...) its own node (LeakyRelu
    /// and Sigmoid run as table lookups once lowered). Relu and Clip stay fused: they are the integer output clamp.
    /// </summary>
    static void SplitFusions(Graph g)
    {
        var nodes = new List<Node>();
        foreach (var n in g.Nodes)
        {
            foreach (var sub in n.Subgraphs.Values) SplitFusions(sub);
            nodes.Add(n);
            var a = Operators.FusedActivation.Of(n);
            var z = PassUtil.Is(n, "Conv") ? n.In(3) : null;
            bool splitAct = a != null && (z != null || !(a.Kind is "Relu" or "Clip"));
            if (z == null && !splitAct) continue;
            var y = n.Out();
            string name = n.Name ?? y.Name;
            var pre = new Value(y.Name + "_before_" + (z != null ? "residual" : a.Kind)) { Type = y.Type, Shape = y.Shape, Producer = n };
            n.Outputs[0] = pre;
            if (splitAct)
                foreach (var k in new[] { Operators.FusedActivation.KindAttr, Operators.FusedActivation.AlphaAttr, Operators.FusedActivation.BetaAttr, Operators.FusedActivation.LoAttr, Operators.FusedActivation.HiAttr })
                    n.Attributes.Remove(k);
            if (z != null)
            {
                n.Inputs.RemoveAt(3);
                var sum = splitAct ? new Value(y.Name + "_residual") : y;
                nodes.Add(PassUtil.Make("Add", 14, name + "_residual", new[] { pre, z }, new[] { sum }));
                pre = sum;
            }
            if (splitAct) nodes.AddRange(a.ToNodes(pre, y, name + "_" + a.Kind));
            Operators.OperatorRegistry.Find(n.Domain, n.OpType, n.Opset).Infer(n);
        }
        g.Nodes = nodes;
    }

    /// <summary>
    /// Relu, and Clip with a lower bound of 0, right after a quantized op whose output only they read: removed; the op
    /// writes their output directly, whose range (from 0) makes the output quantization clamp as they did.
    /// </summary>
    void AbsorbActivations(Graph g)
    {
        var uses = new Uses(g);
        var removed = new HashSet<Node>();
        foreach (var r in g.Nodes)
        {
            bool relu = PassUtil.Is(r, "Relu");
            bool clip0 = PassUtil.Is(r, "Clip") && (r.Opset < 11 ? r.Has("min") && r.Float("min", -1) == 0 : PassUtil.Scalar(r.In(1)) == 0);
            if (!relu && !clip0) continue;
            var x = r.In(0); var y = r.Out();
            var p = x.Producer;
            if (p == null || removed.Contains(p) || !IsCompute(p) || uses.Only(x) != r || !Act(y)) continue;
            p.Outputs[p.Outputs.IndexOf(x)] = y;
            y.Producer = p;
            removed.Add(r);
        }
        g.Nodes = g.Nodes.Where(n => !removed.Contains(n)).ToList();
    }
}
