using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Onnx.Proto;

namespace ModelGen.Compiler.Onnx;

/// <summary>
/// Loop and Scan, unrolled at build time: ModelGen's code has no run-time control flow over tensors of changing count, so a Loop
/// whose trip count and condition are known at build time (constants, or folded from shapes; a while-loop whose
/// condition folds each iteration) becomes its body written out once per iteration, each copy folded and fused like
/// any other nodes. Loop-carried values flow from one copy to the next; scan outputs are stacked along a new first axis.
/// A trip count or condition known only at run time is MG0012 (bind it with ConstantInputs). Scan's sequence length is
/// its inputs' static shape.
/// </summary>
public sealed partial class OnnxImporter
{
    /// <summary>Unrolling stops here: beyond, the generated code would be larger than the loop is worth.</summary>
    const int MaxUnrolledNodes = 20000;

    /// <summary>And here: a body that folds to constants adds no nodes, but each copy still costs build time.</summary>
    const int MaxUnrolledIterations = 10000;

    void AddLoop(Node node, NodeProto np, Scope scope, Graph g, string where)
    {
        var body = node.Attributes.TryGetValue("body", out var a) && a.G is GraphProto gp ? gp
            : throw new CompileException(Diag.InvalidModel, $"node {where}: Loop needs the graph attribute 'body'");
        int carriedCount = Math.Max(0, np.Input.Count - 2);
        int scanCount = body.Output.Count - 1 - carriedCount;
        if (body.Input.Count != 2 + carriedCount || scanCount < 0 || node.Outputs.Count != carriedCount + scanCount)
            throw new CompileException(Diag.InvalidModel, $"node {where}: Loop with {carriedCount} loop-carried values needs a body of {2 + carriedCount} inputs and at least {1 + carriedCount} outputs, and {carriedCount} + scan outputs; got {body.Input.Count}, {body.Output.Count}, {node.Outputs.Count}");
        var m = node.Inputs.Count > 0 ? node.Inputs[0] : null;
        var cond = node.Inputs.Count > 1 ? node.Inputs[1] : null;
        if (m != null && !m.IsConst || cond != null && !cond.IsConst)
        {
            var from = m != null && !m.IsConst ? m : cond;
            var inputs = GraphInputsBehind(from).Select(v => $"'{v.Name}'").ToList();
            throw new CompileException(Diag.DynamicShape, $"node {where}: Loop's {(from == m ? "trip count" : "condition")} is known only at run time; ModelGen unrolls loops at build time: bind "
                + (inputs.Count > 0 ? $"the inputs it comes from ({string.Join(", ", inputs)})" : "the inputs it comes from") + " with ConstantInputs");
        }
        if (m == null && cond == null) throw new CompileException(Diag.InvalidModel, $"node {where}: a Loop with neither a trip count nor a condition never ends");
        long trips = m == null ? long.MaxValue : m.Const.ToLongs()[0];
        bool go = cond == null || cond.Const.GetDouble(0) != 0;

        var carried = new List<Value>();
        for (int k = 0; k < carriedCount; k++)
            carried.Add(node.Inputs.Count > 2 + k && node.Inputs[2 + k] != null ? node.Inputs[2 + k]
                : throw new CompileException(Diag.InvalidModel, $"node {where}: Loop's loop-carried input {k} is missing"));
        var scans = Enumerable.Range(0, scanCount).Select(_ => new List<Value>()).ToArray();
        int before = g.Nodes.Count;
        for (long i = 0; go && i < trips; i++)
        {
            if (g.Nodes.Count - before > MaxUnrolledNodes || i >= MaxUnrolledIterations)
                throw new CompileException(Diag.UnsupportedAttribute, $"node {where}: Loop unrolled past {(i >= MaxUnrolledIterations ? $"{MaxUnrolledIterations} iterations" : $"{MaxUnrolledNodes} nodes after {i} iterations")}; ModelGen unrolls loops at build time");
            var inner = new Scope(scope);
            var iteration = new TensorData(DType.Int64, new int[0]);
            iteration.L[0] = i;
            var yes = new TensorData(DType.Bool, new int[0]);
            yes.Set(0, 1);
            inner.Define(Constant(body.Input[0].Name, iteration));
            inner.Define(Constant(body.Input[1].Name, yes));
            for (int k = 0; k < carriedCount; k++) inner.Define(Alias(carried[k], body.Input[2 + k].Name, $"{node.Name}/iter{i}/in{k}", g));
            var outs = Body(body, inner, g, where);
            Value Out(int j) => outs[j];
            var c = Out(0);
            if (!c.IsConst)
                throw new CompileException(Diag.DynamicShape, $"node {where}: Loop's condition is computed at run time in iteration {i}; ModelGen unrolls loops at build time");
            go = c.Const.GetDouble(0) != 0;
            for (int k = 0; k < carriedCount; k++) carried[k] = Out(1 + k);
            for (int j = 0; j < scanCount; j++) scans[j].Add(Out(1 + carriedCount + j));
        }
        for (int k = 0; k < carriedCount; k++) scope.Define(Bind(node.Outputs[k], carried[k], $"{node.Name}/out{k}", g));
        for (int j = 0; j < scanCount; j++)
        {
            if (scans[j].Count == 0) throw new CompileException(Diag.DynamicShape, $"node {where}: Loop runs no iteration, so its scan output {j} has no shape");
            Stack(scans[j], 0, np.Output[carriedCount + j], $"{node.Name}/scan{j}", scope, g);
        }
    }

    /// <summary>
    /// Scan (opset 9 and later), unrolled the same way: the body once per element along each scan input's axis (in its
    /// direction), states flowing between copies, scan outputs stacked along their axes (in their directions).
    /// </summary>
    void AddScan(Node node, NodeProto np, Scope scope, Graph g, string where)
    {
        if (node.Opset < 9) throw new CompileException(Diag.UnsupportedAttribute, $"node {where}: Scan before opset 9 (with a batch axis and sequence_lens) is not supported");
        var body = node.Attributes.TryGetValue("body", out var a) && a.G is GraphProto gp ? gp
            : throw new CompileException(Diag.InvalidModel, $"node {where}: Scan needs the graph attribute 'body'");
        int m = (int)node.Int("num_scan_inputs", -1);
        int n = np.Input.Count - m, k = node.Outputs.Count - n;
        if (m < 1 || n < 0 || k < 0 || body.Input.Count != n + m || body.Output.Count != n + k)
            throw new CompileException(Diag.InvalidModel, $"node {where}: Scan with num_scan_inputs {m} and {np.Input.Count} inputs, {node.Outputs.Count} outputs does not match its body ({body.Input.Count} inputs, {body.Output.Count} outputs)");
        long[] Attr(string name, int count) => node.Ints(name) is { Length: > 0 } v ? (v.Length == count ? v : throw new CompileException(Diag.InvalidModel, $"node {where}: Scan's '{name}' needs {count} values")) : new long[count];
        long[] inAxes = Attr("scan_input_axes", m), inDirs = Attr("scan_input_directions", m), outAxes = Attr("scan_output_axes", k), outDirs = Attr("scan_output_directions", k);
        var inputs = Enumerable.Range(0, n + m).Select(i => i < node.Inputs.Count && node.Inputs[i] != null ? node.Inputs[i]
            : throw new CompileException(Diag.InvalidModel, $"node {where}: Scan input {i} is missing")).ToList();
        int length = -1;
        var axes = new int[m];
        for (int j = 0; j < m; j++)
        {
            var x = inputs[n + j];
            axes[j] = Shape.Axis(inAxes[j], x.Shape.Length);
            int len = x.Shape[axes[j]];
            if (length >= 0 && len != length) throw new CompileException(Diag.InvalidModel, $"node {where}: Scan inputs have different sequence lengths ({length}, {len})");
            length = len;
        }
        if (length == 0) throw new CompileException(Diag.DynamicShape, $"node {where}: Scan over an empty sequence gives its scan outputs no shape");
        var states = inputs.Take(n).ToList();
        var scans = Enumerable.Range(0, k).Select(_ => new List<Value>()).ToArray();
        // each scan input under a name every step's Gather can read
        var named = new Value[m];
        for (int j = 0; j < m; j++) scope.Define(named[j] = Alias(inputs[n + j], $"{node.Name}/input{j}", $"{node.Name}/input{j}", g));
        int before = g.Nodes.Count;
        for (int t = 0; t < length; t++)
        {
            if (g.Nodes.Count - before > MaxUnrolledNodes || t >= MaxUnrolledIterations)
                throw new CompileException(Diag.UnsupportedAttribute, $"node {where}: Scan unrolled past {(t >= MaxUnrolledIterations ? $"{MaxUnrolledIterations} steps" : $"{MaxUnrolledNodes} nodes after {t} steps")}; ModelGen unrolls scans at build time");
            var inner = new Scope(scope);
            for (int s = 0; s < n; s++) inner.Define(Alias(states[s], body.Input[s].Name, $"{node.Name}/step{t}/state{s}", g));
            for (int j = 0; j < m; j++)
            {
                // this step's element: Gather at one index along the scan axis (the axis goes away)
                var index = new TensorData(DType.Int64, new int[0]);
                index.L[0] = inDirs[j] != 0 ? length - 1 - t : t;
                var idx = Constant($"{node.Name}/step{t}/index{j}", index);
                scope.Define(idx);
                var gather = Proto("Gather", $"{node.Name}/step{t}/slice{j}", new[] { named[j].Name, idx.Name }, $"{node.Name}/step{t}/element{j}/value");
                gather.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = axes[j] });
                AddNode(gather, scope, g);
                inner.Define(Alias(scope.Lookup(gather.Output[0]), body.Input[n + j].Name, $"{node.Name}/step{t}/element{j}", g));
            }
            var outs = Body(body, inner, g, where);
            Value Out(int i) => outs[i];
            for (int s = 0; s < n; s++) states[s] = Out(s);
            for (int j = 0; j < k; j++) scans[j].Add(Out(n + j));
        }
        for (int s = 0; s < n; s++) scope.Define(Bind(node.Outputs[s], states[s], $"{node.Name}/out{s}", g));
        for (int j = 0; j < k; j++)
        {
            if (outDirs[j] != 0) scans[j].Reverse();
            int axis = Shape.Axis(outAxes[j], scans[j][0].Shape.Length + 1);
            Stack(scans[j], axis, np.Output[n + j], $"{node.Name}/scan{j}", scope, g);
        }
    }

    /// <summary>One copy of a Loop or Scan body in <paramref name="inner"/> (its inputs defined there): its outputs.</summary>
    Value[] Body(GraphProto body, Scope inner, Graph g, string where)
    {
        foreach (var init in body.Initializer)
        {
            var v = new Value(init.Name) { Const = TensorReader.Read(init, "initializer of body " + body.Name), Half = init.DataType == (int)DType.Float16 };
            v.Type = v.Const.Type; v.Shape = v.Const.Shape;
            inner.Define(v);
        }
        foreach (var bn in body.Node) AddNode(bn, inner, g);
        return body.Output.Select(o => inner.Lookup(o.Name) ?? throw new CompileException(Diag.InvalidModel, $"node {where}: body output '{o.Name}' is not produced by any node")).ToArray();
    }

    /// <summary>Values of one shape stacked along a new axis <paramref name="axis"/> into <paramref name="output"/>: each unsqueezed, then one Concat.</summary>
    void Stack(List<Value> values, int axis, string output, string baseName, Scope scope, Graph g)
    {
        var parts = new List<string>();
        for (int i = 0; i < values.Count; i++)
        {
            var alias = Alias(values[i], $"{baseName}/{i}", $"{baseName}/{i}", g);
            scope.Define(alias);
            var u = Proto("Unsqueeze", $"{baseName}/unsqueeze{i}", new[] { alias.Name }, $"{alias.Name}/unsqueezed");
            // axes: an input from opset 13, an attribute before
            if (scope.Opsets[""] >= 13)
            {
                var t = new TensorData(DType.Int64, new[] { 1 });
                t.L[0] = axis;
                var axes = Constant(u.Output[0] + "/axes", t);
                scope.Define(axes);
                u.Input.Add(axes.Name);
            }
            else
            {
                var axes = new AttributeProto { Name = "axes", Type = AttributeProto.Types.AttributeType.Ints };
                axes.Ints.Add(axis);
                u.Attribute.Add(axes);
            }
            AddNode(u, scope, g);
            parts.Add(u.Output[0]);
        }
        var concat = Proto("Concat", baseName, parts.ToArray(), output);
        concat.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = axis });
        AddNode(concat, scope, g);
    }

    /// <summary>The graph inputs a value is computed from, in the order first met.</summary>
    static List<Value> GraphInputsBehind(Value v)
    {
        var found = new List<Value>();
        var seen = new HashSet<Value>();
        var todo = new Stack<Value>();
        todo.Push(v);
        while (todo.Count > 0)
        {
            var x = todo.Pop();
            if (x == null || !seen.Add(x)) continue;
            if (x.IsGraphInput) found.Add(x);
            if (x.Producer != null) foreach (var i in x.Producer.Inputs) todo.Push(i);
        }
        return found;
    }

    static Value Constant(string name, TensorData t) => new(name) { Type = t.Type, Shape = t.Shape, Const = t };

    static NodeProto Proto(string op, string name, string[] inputs, string output)
    {
        var p = new NodeProto { OpType = op, Name = name, Domain = "" };
        p.Input.AddRange(inputs);
        p.Output.Add(output);
        return p;
    }
}
