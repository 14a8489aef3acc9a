using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Operators;
using static ModelGen.Compiler.Passes.PassUtil;

namespace ModelGen.Compiler.Passes;

/// <summary>
/// Int8 activations as 256-entry tables (<see cref="Int8Lookup"/>), as TensorFlow Lite does for its int8 sigmoid, tanh
/// and hard-swish: a quantized tensor has only 256 codes, so any function of one quantized tensor is a table of its
/// results. Three patterns, each replaced by one lookup whose table is the matched nodes' own reference evaluation on
/// the 256 codes (the result for every code is what the nodes compute, not an approximation of it):
/// <list type="bullet">
/// <item>DequantizeLinear, then elementwise float nodes (an allow-list) reading only it and scalar constants, then QuantizeLinear
///   (hard-swish, GELU, tanh, or an exporter's x * Clip(x + 3, 0, 6) / 6 left in float between Q and DQ);</item>
/// <item>QLinearMul / QLinearAdd of a tensor and a lookup of the same tensor (SiLU: x * sigmoid(x));</item>
/// <item>a lookup of a lookup.</item>
/// </list>
/// A shape-only node (Reshape, Flatten, Squeeze, Unsqueeze) between the float nodes and the QuantizeLinear, or between
/// the DequantizeLinear and the float nodes, moves to the integer side first (per-tensor quantization commutes with it):
/// the MatMul lowering's reshapes around a transformer's GELU would otherwise keep it in float.
/// Int8 and uint8, per-tensor parameters, the input's type in and out.
/// </summary>
public sealed class LookupTables : IPass
{
    public string Name => "LookupTables";

    /// <summary>Float nodes a table may take in (a bound on the work of one match).</summary>
    const int MaxNodes = 16;

    /// <summary>
    /// Operators that act on each element alone (with scalar constants): only these may be evaluated on the 256 codes
    /// as a vector. Softmax, a pool or a transpose keeps its shape too, but mixes elements.
    /// </summary>
    static readonly HashSet<string> s_elementwise = new()
    {
        "Abs", "Neg", "Exp", "Log", "Sqrt", "Reciprocal", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Relu",
        "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Gelu", "Erf", "Softplus", "Softsign", "Mish", "ThresholdedRelu",
        "Shrink", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Floor",
        "Ceil", "Round", "Sign", "Clip", "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Identity",
    };

    static bool Elementwise(Node n)
        => Std(n) && s_elementwise.Contains(n.OpType) || n.Domain == FusedElementwise.Domain && n.OpType == FusedElementwise.OpType;

    public void Run(Graph graph) => Fixpoint(graph, Try);

    static bool Std(Node n) => n.Domain is "" or "ai.onnx";

    static bool Try(Graph g, Uses uses, Node n)
    {
        try
        {
            if (Std(n) && n.OpType == "QuantizeLinear") return ViewBeforeQuantize(g, uses, n) || FloatBetween(g, uses, n);
            if (IsView(n)) return ViewAfterDequantize(g, uses, n);
            if (n.Domain == "com.microsoft" && n.OpType is "QLinearMul" or "QLinearAdd") return Binary(g, uses, n);
            if (IsLookup(n)) return Chained(g, uses, n);
        }
        catch (CompileException) { }
        catch (ArgumentException) { }
        catch (InvalidOperationException) { }
        catch (IndexOutOfRangeException) { }
        return false;
    }

    /// <summary>A node that is a table of its input 0 (its last input): ours, QLinearSigmoid, QLinearLeakyRelu.</summary>
    static bool IsLookup(Node n)
        => n.Domain == FusedElementwise.Domain && n.OpType == Int8Lookup.OpType
        || n.Domain == "com.microsoft" && n.OpType is "QLinearSigmoid" or "QLinearLeakyRelu";

    /// <summary>The table input of a lookup node.</summary>
    static TensorData TableOf(Node n) => n.Inputs[n.Inputs.Count - 1].Const;

    /// <summary>The 256 codes of an 8-bit type, in table order (int8: -128 first).</summary>
    static TensorData Codes(DType t)
    {
        var c = new TensorData(t, new[] { 256 });
        for (int i = 0; i < 256; i++) c.L[i] = (t == DType.Int8 ? -128 : 0) + i;
        return c;
    }

    /// <summary>
    /// A node's clone over 256-element inputs (constants each), evaluated by its operator's reference: the one output,
    /// 256 values of type t, or null.
    /// </summary>
    static TensorData Evaluate(Node n, List<Value> ins, DType t)
    {
        var clone = MakeIn(n.Domain, n.OpType, n.Opset, n.Name, ins, new[] { new Value(n.Out().Name) }, n.Attributes.Values.ToArray(), n.State);
        var r = OperatorRegistry.Find(n.Domain, n.OpType, n.Opset).Evaluate(clone, clone.Inputs.Select(i => i?.Const).ToArray());
        return r != null && r.Length == 1 && r[0].Type == t && r[0].Length == 256 ? r[0] : null;
    }

    static void Swap(Graph g, IReadOnlyCollection<Node> removed, Value x, TensorData table, Value y, string name)
    {
        var t = Const(name + "_table", table);
        Replace(g, removed, MakeIn(FusedElementwise.Domain, Int8Lookup.OpType, 1, name, new[] { x, t }, new[] { y }, new IR.Attribute[0]));
    }

    static bool FloatBetween(Graph g, Uses uses, Node q)
    {
        if (!QdqPassThrough.Params(q, out float sy, out long zy, out var t)) return false;
        // the float nodes back from Q to one DequantizeLinear
        var set = new HashSet<Node>();
        Node dq = null;
        var stack = new Stack<Value>();
        stack.Push(q.In(0));
        while (stack.Count > 0)
        {
            var v = stack.Pop();
            var p = v.Producer;
            if (p == null || !g.Nodes.Contains(p)) return false;
            if (Std(p) && p.OpType == "DequantizeLinear")
            {
                if (dq != null && dq != p) return false;
                dq = p;
                continue;
            }
            if (set.Contains(p)) continue;
            if (set.Count == MaxNodes || p.Outputs.Count != 1 || p.Subgraphs.Count != 0 || p.Out().Type != DType.Float) return false;
            if (!Elementwise(p)) return false;
            set.Add(p);
            bool fed = false;
            foreach (var i in p.Inputs)
            {
                if (i == null) continue;
                if (i.IsConst) { if (i.Length != 1) return false; continue; }
                fed = true;
                stack.Push(i);
            }
            if (!fed) return false;
        }
        if (dq == null || set.Count == 0 || !QdqPassThrough.Params(dq, out float sx, out long zx, out var tx) || tx != t) return false;
        var shape = dq.Out().Shape;
        foreach (var p in set)
        {
            if (!Shape.Equal(p.Out().Shape, shape)) return false;
            // intermediate results stay inside the match
            if (p.Out() != q.In(0) && (uses.IsGraphOutput(p.Out()) || uses.Of(p.Out()).Any(u => !set.Contains(u)))) return false;
        }
        if (uses.Of(q.In(0)).Count != 1 || uses.IsGraphOutput(q.In(0))) return false;

        // the dequantized codes through the nodes, in graph order, by their reference evaluation
        var codes = Codes(t);
        var x = new TensorData(DType.Float, new[] { 256 });
        for (int i = 0; i < 256; i++) x.F[i] = (float)(int)(codes.L[i] - zx) * sx;
        var values = new Dictionary<Value, TensorData> { [dq.Out()] = x };
        foreach (var p in g.Nodes.Where(set.Contains))
        {
            var ins = p.Inputs.Select(i => i == null ? null : i.IsConst ? i : new Value(i.Name) { Type = DType.Float, Shape = new[] { 256 }, Const = values[i] }).ToList();
            var r = Evaluate(p, ins, DType.Float);
            if (r == null) return false;
            values[p.Out()] = r;
        }
        var f = values[q.In(0)];
        var table = new TensorData(t, new[] { 256 });
        for (int i = 0; i < 256; i++) table.L[i] = Q.Quantize(f.F[i], sy, zy, t);
        var removed = new List<Node>(set) { q };
        // the DequantizeLinear too where only the match read it (a lookup of this lookup then sees one reader)
        if (!uses.IsGraphOutput(dq.Out()) && uses.Of(dq.Out()).All(set.Contains)) removed.Add(dq);
        Swap(g, removed, dq.In(0), table, q.Out(), q.Name ?? "lookup");
        return true;
    }

    /// <summary>The tensor a side of a binary node is a function of: itself, or a lookup's input (the lookup read only here).</summary>
    static Value Source(Uses uses, Node n, Value side, out Node lookup)
    {
        lookup = side.Producer is { } p && IsLookup(p) && uses.Only(side) == n ? p : null;
        return lookup == null ? side : lookup.In(0);
    }

    static bool Binary(Graph g, Uses uses, Node n)
    {
        var a = n.In(0); var b = n.In(3);
        var sa = Source(uses, n, a, out var la); var sb = Source(uses, n, b, out var lb);
        if (sa != sb || la == null && lb == null || !Shape.Equal(a.Shape, n.Out().Shape) || !Shape.Equal(b.Shape, n.Out().Shape)) return false;
        var t = sa.Type;
        if (n.Out().Type != t) return false;
        for (int i = 1; i < n.Inputs.Count; i++) if (i != 3 && n.In(i) != null && !n.In(i).IsConst) return false;
        var codes = Codes(t);
        Value Side(Value v, Node l) => new(v.Name) { Type = t, Shape = new[] { 256 }, Const = l == null ? codes : TableOf(l) };
        var ins = n.Inputs.ToList();
        ins[0] = Side(a, la); ins[3] = Side(b, lb);
        var r = Evaluate(n, ins, t);
        if (r == null) return false;
        var removed = new List<Node> { n };
        if (la != null) removed.Add(la);
        if (lb != null) removed.Add(lb);
        Swap(g, removed, sa, r, n.Out(), n.Name ?? "lookup");
        return true;
    }

    static bool Chained(Graph g, Uses uses, Node n)
    {
        var inner = n.In(0).Producer;
        if (inner == null || !IsLookup(inner) || uses.Only(n.In(0)) != n || inner.In(0).Type != n.Out().Type) return false;
        var t = n.Out().Type;
        var first = TableOf(inner); var second = TableOf(n);
        int off = t == DType.Int8 ? 128 : 0;
        var table = new TensorData(t, new[] { 256 });
        for (int i = 0; i < 256; i++) table.L[i] = second.L[first.L[i] + off];
        Swap(g, new[] { inner, n }, inner.In(0), table, n.Out(), n.Name ?? "lookup");
        return true;
    }

    /// <summary>Nodes that only relabel their input 0's shape (the other inputs constant).</summary>
    static bool IsView(Node n)
        => Std(n) && n.OpType is "Reshape" or "Flatten" or "Squeeze" or "Unsqueeze" && n.Outputs.Count == 1 && n.Subgraphs.Count == 0
        && n.Inputs.Skip(1).All(i => i == null || i.IsConst);

    /// <summary>The node with its input 0 replaced, writing <paramref name="output"/>.</summary>
    static Node With(Node n, Value input, Value output)
    {
        var ins = n.Inputs.ToList();
        ins[0] = input;
        return MakeIn(n.Domain, n.OpType, n.Opset, n.Name, ins, new[] { output }, n.Attributes.Values.ToArray());
    }

    /// <summary>
    /// QuantizeLinear(view(e)), e a float elementwise node's result read only by the view: view(QuantizeLinear(e)), so
    /// that <see cref="FloatBetween"/> sees the float nodes end at the quantization.
    /// </summary>
    static bool ViewBeforeQuantize(Graph g, Uses uses, Node q)
    {
        var view = q.In(0).Producer;
        if (view == null || !IsView(view) || !g.Nodes.Contains(view) || uses.Only(q.In(0)) != q || uses.IsGraphOutput(q.In(0))) return false;
        var e = view.In(0);
        if (e.Producer == null || !Elementwise(e.Producer) || !QdqPassThrough.Params(q, out _, out _, out _)) return false;
        var quantized = new Value(q.Out().Name + "_unshaped");
        var nq = With(q, e, quantized);
        var nv = With(view, quantized, q.Out());
        g.Nodes[g.Nodes.IndexOf(view)] = nq;
        g.Nodes[g.Nodes.IndexOf(q)] = nv;
        return true;
    }

    /// <summary>
    /// view(DequantizeLinear(x)) read only by float elementwise nodes, the DequantizeLinear read only by the view:
    /// DequantizeLinear(view(x)), so that <see cref="FloatBetween"/> sees the float nodes start at the dequantization.
    /// </summary>
    static bool ViewAfterDequantize(Graph g, Uses uses, Node view)
    {
        var dq = view.In(0).Producer;
        if (dq == null || !Std(dq) || dq.OpType != "DequantizeLinear" || !g.Nodes.Contains(dq) || uses.Only(view.In(0)) != view
            || uses.IsGraphOutput(view.In(0)) || uses.IsGraphOutput(view.Out()) || !QdqPassThrough.Params(dq, out _, out _, out _)) return false;
        var readers = uses.Of(view.Out());
        if (readers.Count == 0 || !readers.All(Elementwise)) return false;
        var moved = new Value(view.Out().Name + "_quantized");
        var nv = With(view, dq.In(0), moved);
        var nd = With(dq, moved, view.Out());
        g.Nodes[g.Nodes.IndexOf(dq)] = nv;
        g.Nodes[g.Nodes.IndexOf(view)] = nd;
        return true;
    }
}
