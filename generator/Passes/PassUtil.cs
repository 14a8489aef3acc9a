using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Operators;
using Attribute = ModelGen.Compiler.IR.Attribute;

namespace ModelGen.Compiler.Passes;

/// <summary>Who reads each value in a graph (computed once per pass iteration). Uses inside If branches count for the If node.</summary>
internal sealed class Uses
{
    readonly Dictionary<Value, List<Node>> _consumers = new();
    readonly HashSet<Value> _outputs;

    public Uses(Graph g)
    {
        _outputs = new HashSet<Value>(g.Outputs);
        foreach (var n in g.Nodes)
        {
            foreach (var v in n.Inputs) Add(v, n);
            foreach (var sub in n.Subgraphs.Values) AddSub(sub, n);
        }
    }

    void AddSub(Graph sub, Node owner)
    {
        foreach (var n in sub.Nodes)
        {
            foreach (var v in n.Inputs) Add(v, owner);
            foreach (var s in n.Subgraphs.Values) AddSub(s, owner);
        }
        foreach (var o in sub.Outputs) Add(o, owner);
    }

    void Add(Value v, Node n)
    {
        if (v == null) return;
        if (!_consumers.TryGetValue(v, out var l)) _consumers[v] = l = new List<Node>();
        l.Add(n);
    }

    public IReadOnlyList<Node> Of(Value v) => _consumers.TryGetValue(v, out var l) ? l : (IReadOnlyList<Node>)Array.Empty<Node>();
    public bool IsGraphOutput(Value v) => _outputs.Contains(v);

    /// <summary>The single consumer of an intermediate value, or null when it has several, none, or is a graph output.</summary>
    public Node Only(Value v) => v != null && !_outputs.Contains(v) && _consumers.TryGetValue(v, out var l) && l.Count == 1 ? l[0] : null;
}

internal static class PassUtil
{
    public static bool Is(Node n, string opType) => n != null && n.OpType == opType && (n.Domain == "" || n.Domain == "ai.onnx") && n.Subgraphs.Count == 0;

    /// <summary>A new default-domain node over existing values; its outputs' Producer is set and the operator's Infer rebuilds State.</summary>
    public static Node Make(string opType, int opset, string name, IEnumerable<Value> inputs, IEnumerable<Value> outputs, params Attribute[] attrs)
        => MakeIn("", opType, opset, name, inputs, outputs, attrs);

    public static Node MakeIn(string domain, string opType, int opset, string name, IEnumerable<Value> inputs, IEnumerable<Value> outputs, Attribute[] attrs, object state = null)
    {
        var n = new Node { OpType = opType, Domain = domain, Opset = opset, Name = name };
        n.Inputs.AddRange(inputs);
        n.Outputs.AddRange(outputs);
        foreach (var a in attrs) n.Attributes[a.Name] = a;
        n.State = state;
        foreach (var o in n.Outputs) o.Producer = n;
        var op = OperatorRegistry.Find(domain, opType, opset) ?? throw new CompileException(Diag.InvalidModel, $"internal: no operator {domain}:{opType}");
        op.Infer(n);
        return n;
    }

    public static Attribute Int(string name, long v) => new() { Name = name, Type = AttrType.Int, I = v };
    public static Attribute Float(string name, float v) => new() { Name = name, Type = AttrType.Float, F = v };
    public static Attribute Ints(string name, long[] v) => new() { Name = name, Type = AttrType.Ints, Ints = v };

    public static Value Const(string name, TensorData t) => new(name) { Type = t.Type, Shape = t.Shape, Const = t };

    /// <summary>A constant int64 shape vector (a Reshape's second input).</summary>
    public static Value ShapeConst(string name, int[] shape) => Const(name, new TensorData(DType.Int64, new[] { shape.Length }, l: shape.Select(d => (long)d).ToArray()));

    /// <summary>Replaces the matched nodes by one new node, placed where the last matched node was (keeps topological order).</summary>
    public static void Replace(Graph g, IReadOnlyCollection<Node> removed, Node added)
    {
        int at = removed.Max(n => g.Nodes.IndexOf(n));
        g.Nodes[at] = added;
        var set = new HashSet<Node>(removed);
        set.Remove(g.Nodes[at]);
        g.Nodes = g.Nodes.Where(n => !set.Contains(n) || n == added).ToList();
    }

    /// <summary>Every read of <paramref name="old"/> (here and in branches) now reads <paramref name="now"/>.</summary>
    public static void ReplaceUses(Graph g, Value old, Value now)
    {
        foreach (var n in g.Nodes)
        {
            for (int i = 0; i < n.Inputs.Count; i++) if (n.Inputs[i] == old) n.Inputs[i] = now;
            foreach (var sub in n.Subgraphs.Values)
            {
                ReplaceUses(sub, old, now);
                for (int i = 0; i < sub.Outputs.Count; i++) if (sub.Outputs[i] == old) sub.Outputs[i] = now;
            }
        }
    }

    /// <summary>A constant with a single value (any shape), or null.</summary>
    public static double? Scalar(Value v)
    {
        if (v == null || !v.IsConst || v.Const.Length == 0) return null;
        double x = v.Const.GetDouble(0);
        for (int i = 1; i < v.Const.Length; i++) if (v.Const.GetDouble(i) != x) return null;
        return x;
    }

    public static bool Near(double? v, double want, double rel = 1e-5) => v.HasValue && Math.Abs(v.Value - want) <= rel * Math.Abs(want);

    /// <summary>The other input of a two-input node, given one.</summary>
    public static Value Other(Node n, Value one) => n.In(0) == one ? n.In(1) : n.In(1) == one ? n.In(0) : null;

    /// <summary>Runs rewrite attempts over the top-level nodes until none applies (each attempt sees fresh use counts).</summary>
    public static void Fixpoint(Graph g, Func<Graph, Uses, Node, bool> tryRewrite)
    {
        for (int guard = 0; guard < 100000; guard++)
        {
            var uses = new Uses(g);
            bool changed = false;
            foreach (var n in g.Nodes.ToArray())
            {
                if (!g.Nodes.Contains(n)) continue;
                if (tryRewrite(g, uses, n)) { changed = true; break; }
            }
            if (!changed) return;
        }
    }
}
