using System;
using System.Collections.Generic;
using System.Linq;
using Google.Protobuf;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Onnx.Proto;
using ModelGen.Compiler.Operators;
using Attribute = ModelGen.Compiler.IR.Attribute;

namespace ModelGen.Compiler.Onnx;

/// <summary>
/// Reads an ONNX model into the IR and resolves it in one topological walk: every node's types and static
/// shapes are inferred, nodes whose inputs are all constant are evaluated (this folds the shape arithmetic
/// exporters write), and an If whose condition is known is replaced by the branch it takes.
/// </summary>
public sealed partial class OnnxImporter
{
    /// <summary>Folding stops at outputs larger than this (the node runs at run time instead).</summary>
    const int MaxFoldElements = 1 << 22;

    readonly Dictionary<string, int[]> _inputShapes;
    readonly Model _model = new();
    readonly Dictionary<(string, string), FunctionProto> _functions = new();
    int _anon;
    /// <summary>Inputs whose symbolic leading (batch) dimension was fixed to 1, for the MG0018 note.</summary>
    readonly List<string> _batchOne = new();

    readonly Dictionary<string, double[]> _constantInputs;

    public OnnxImporter(ModelOptions options)
    {
        _inputShapes = options.ParseInputShapes();
        _constantInputs = options.ParseConstantInputs();
    }

    internal static ModelProto Parse(byte[] bytes)
    {
        try
        {
            var parser = new MessageParser<ModelProto>(() => new ModelProto());
            return parser.ParseFrom(bytes);
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException || ex is ArgumentException || ex is InvalidOperationException)
        {
            throw new CompileException(Diag.MalformedModel, "the file is not a valid ONNX model (protobuf: " + ex.Message + ")");
        }
    }

    public Model Import(byte[] bytes)
    {
        var mp = Parse(bytes);
        if (mp.Graph == null || mp.Graph.Node.Count == 0 && mp.Graph.Output.Count == 0)
            throw new CompileException(Diag.MalformedModel, "the file holds no ONNX graph (is it an ONNX model? is it truncated?)");
        _model.Producer = mp.ProducerName;
        _model.ProducerVersion = mp.ProducerVersion;
        _model.DocString = mp.DocString;
        _model.IrVersion = mp.IrVersion;
        foreach (var o in mp.OpsetImport)
        {
            var dom = o.Domain == "ai.onnx" ? "" : o.Domain;
            _model.Opsets[dom] = (int)Math.Min(o.Version, int.MaxValue);
        }
        if (!_model.Opsets.ContainsKey("")) _model.Opsets[""] = mp.IrVersion <= 3 ? 1 : 1;
        _model.Opset = _model.Opsets[""];
        foreach (var f in mp.Functions) _functions[(f.Domain == "ai.onnx" ? "" : f.Domain ?? "", f.Name)] = f;
        _model.Graph = BuildMain(mp.Graph);
        return _model;
    }

    Graph BuildMain(GraphProto gp)
    {
        var g = new Graph(null) { Name = gp.Name };
        var scope = new Scope(_model.Opsets, null, 0);
        var inits = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in gp.Initializer)
        {
            var v = new Value(t.Name) { Const = TensorReader.Read(t, "initializer"), Half = t.DataType == (int)DType.Float16 };
            v.Type = v.Const.Type; v.Shape = v.Const.Shape;
            scope.Define(v);
            inits.Add(t.Name);
        }
        if (gp.SparseInitializer.Count > 0)
            throw new CompileException(Diag.UnsupportedType, "sparse initializers are not supported; densify the model first");
        var named = _inputShapes.Keys.Where(k => k.Length > 0).ToList();
        foreach (var k in named)
            if (!gp.Input.Any(i => i.Name == k))
                throw new CompileException(Diag.InvalidOption, $"InputShape names input '{k}', but the model's inputs are: {string.Join(", ", gp.Input.Where(i => !inits.Contains(i.Name)).Select(i => i.Name))}");
        var realInputs = gp.Input.Where(i => !inits.Contains(i.Name)).ToList();
        if (_inputShapes.ContainsKey("") && realInputs.Count(i => !_constantInputs.ContainsKey(i.Name)) != 1)
            throw new CompileException(Diag.InvalidOption, $"InputShape gives one shape but the model has {realInputs.Count} inputs; name them: {string.Join(";", realInputs.Select(i => i.Name + "=..."))}");
        foreach (var k in _constantInputs.Keys)
            if (!realInputs.Any(i => i.Name == k))
                throw new CompileException(Diag.InvalidOption, $"ConstantInputs binds '{k}', but the model's inputs are: {string.Join(", ", realInputs.Select(i => i.Name))}");
        foreach (var vi in realInputs)
        {
            if (_constantInputs.TryGetValue(vi.Name, out var values))
            {
                scope.Define(BindConstant(vi, values));
                continue;
            }
            var v = new Value(vi.Name) { IsGraphInput = true, Half = vi.Type?.TensorType?.ElemType == (int)DType.Float16 };
            (v.Type, v.Shape) = InputType(vi);
            scope.Define(v);
            g.Inputs.Add(v);
        }
        if (_batchOne.Count > 0)
            g.Notes.Add(new Diagnostic(Diag.BatchOfOne, $"the batch dimension of {string.Join(", ", _batchOne)} is symbolic: compiled for one sample per call; set InputShape on the <OnnxModel> item for another size"));
        foreach (var np in gp.Node) AddNode(np, scope, g);
        var halves = realInputs.Concat(gp.Output).Where(vi => vi.Type?.TensorType?.ElemType == (int)DType.Float16).Select(vi => vi.Name).ToList();
        if (halves.Count > 0)
            g.Notes.Add(new Diagnostic(Diag.Float16AsFloat, $"the model's float16 inputs/outputs ({string.Join(", ", halves)}) are float in Predict; ModelGen computes in float32, rounding to float16 where the model casts to it"));
        foreach (var o in gp.Output)
        {
            var v = scope.Lookup(o.Name) ?? throw new CompileException(Diag.InvalidModel, $"graph output '{o.Name}' is not produced by any node");
            // the same tensor listed twice: the second is a copy, so each output span gets the values
            if (g.Outputs.Contains(v)) v = Alias(v, v.Name, v.Name + "/repeated_output", g);
            g.Outputs.Add(v);
        }
        return g;
    }

    /// <summary>ConstantInputs: the input becomes a build-time constant (so shape arithmetic and If on it fold away).</summary>
    Value BindConstant(ValueInfoProto vi, double[] values)
    {
        var tt = vi.Type?.TensorType ?? throw new CompileException(Diag.UnsupportedType, $"input '{vi.Name}' is not a tensor");
        var type = Held((DType)tt.ElemType);
        if (!DTypes.IsSupported(type)) throw new CompileException(Diag.UnsupportedType, $"input '{vi.Name}' has element type {(TensorProto.Types.DataType)tt.ElemType}, which ModelGen does not support");
        int[] shape;
        if (_inputShapes.TryGetValue(vi.Name, out var given)) shape = given;
        else if (tt.Shape == null) shape = values.Length == 1 ? new int[0] : new[] { values.Length };
        else
        {
            var dims = tt.Shape.Dim;
            shape = new int[dims.Count];
            int unknown = -1;
            for (int i = 0; i < shape.Length; i++)
            {
                if (dims[i].ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && dims[i].DimValue > 0) shape[i] = (int)Math.Min(dims[i].DimValue, int.MaxValue);
                else if (unknown < 0) { unknown = i; shape[i] = 1; }
                else throw new CompileException(Diag.UnresolvedDimension, $"ConstantInputs binds '{vi.Name}', whose shape has several symbolic dimensions; give it with InputShape=\"{vi.Name}=...\"");
            }
            if (unknown >= 0) shape[unknown] = Math.Max(1, values.Length / Math.Max(1, Shape.Count(shape)));
        }
        var data = new TensorData(type, shape);
        if (values.Length != data.Length && values.Length != 1)
            throw new CompileException(Diag.InvalidOption, $"ConstantInputs gives {values.Length} values for '{vi.Name}', whose shape {Shape.Format(shape)} holds {data.Length}");
        for (int i = 0; i < data.Length; i++) data.Set(i, values[values.Length == 1 ? 0 : i]);
        return new Value(vi.Name) { Type = type, Shape = shape, Const = data, Half = tt.ElemType == (int)DType.Float16 };
    }

    /// <summary>
    /// Whether a node's float outputs are float16 in the model: a Cast to it, a CastLike to a float16 value, a float16
    /// Constant, else as the first float input (the operators' T).
    /// </summary>
    static bool HalfOutput(Node node, NodeProto np) => node.OpType switch
    {
        "Cast" => np.Attribute.Any(a => a.Name == "to" && a.I == (long)DType.Float16),
        "CastLike" => node.In(1)?.Half == true,
        "Constant" => np.Attribute.Any(a => a.T?.DataType == (int)DType.Float16),
        _ => node.Inputs.FirstOrDefault(i => i != null && i.Type == DType.Float)?.Half == true,
    };

    /// <summary>float16 is held and computed as float32 (its constants are widened by TensorReader, Cast rounds to halves).</summary>
    static DType Held(DType t) => t == DType.Float16 ? DType.Float : t;

    (DType, int[]) InputType(ValueInfoProto vi)
    {
        var tt = vi.Type?.TensorType ?? throw new CompileException(Diag.UnsupportedType, $"input '{vi.Name}' is not a tensor (sequences, maps and optionals are not supported)");
        var type = Held((DType)tt.ElemType);
        if (!DTypes.IsSupported(type)) throw new CompileException(Diag.UnsupportedType, $"input '{vi.Name}' has element type {(TensorProto.Types.DataType)tt.ElemType}, which ModelGen does not support");
        int[] given = null;
        if (_inputShapes.TryGetValue(vi.Name, out var s) || _inputShapes.TryGetValue("", out s)) given = s;
        if (tt.Shape == null)
        {
            if (given != null) return (type, given);
            throw new CompileException(Diag.UnresolvedDimension, $"input '{vi.Name}' has no shape in the model; set it with InputShape=\"{vi.Name}=d0,d1,...\" on the <OnnxModel> item");
        }
        var dims = tt.Shape.Dim;
        if (given != null)
        {
            if (given.Length != dims.Count)
                throw new CompileException(Diag.InvalidOption, $"InputShape gives {given.Length} dimensions for input '{vi.Name}', which has rank {dims.Count}");
            for (int i = 0; i < dims.Count; i++)
                if (dims[i].ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && dims[i].DimValue > 0 && dims[i].DimValue != given[i])
                    throw new CompileException(Diag.InvalidOption, $"InputShape gives {given[i]} for dimension {i} of input '{vi.Name}', but the model fixes it to {dims[i].DimValue}");
            CheckSize(vi.Name, given);
            return (type, given);
        }
        var shape = new int[dims.Count];
        for (int i = 0; i < shape.Length; i++)
        {
            var d = dims[i];
            // a dim_value that is set (even to 0: an empty tensor) is static
            if (d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && d.DimValue >= 0 && d.DimValue <= int.MaxValue) { shape[i] = (int)d.DimValue; continue; }
            if (d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && d.DimValue > int.MaxValue)
                throw new CompileException(Diag.TensorTooLarge, $"dimension {i} of input '{vi.Name}' is {d.DimValue}, too large for a tensor");
            string sym = d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam ? $"'{d.DimParam}'" : "unknown";
            if (i == 0 && dims.Count >= 2)
            {
                // the leading dimension of a batched input (PyTorch's dynamic_axes={0: 'batch'}): one sample per call
                shape[0] = 1;
                _batchOne.Add($"'{vi.Name}' ({sym})");
                continue;
            }
            var example = string.Join(",", dims.Select(x => x.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && x.DimValue > 0 ? x.DimValue.ToString() : "1"));
            throw new CompileException(Diag.UnresolvedDimension, $"dimension {i} of input '{vi.Name}' is symbolic ({sym}); fix it at build time with InputShape=\"{example}\" (or \"{vi.Name}={example}\") on the <OnnxModel> item");
        }
        CheckSize(vi.Name, shape);
        return (type, shape);
    }

    static void CheckSize(string input, int[] shape)
    {
        try { Shape.Size(shape); }
        catch (CompileException ex) { throw new CompileException(ex.Kind, $"input '{input}': {ex.Message}"); }
    }

    void AddNode(NodeProto np, Scope scope, Graph g)
    {
        var domain = np.Domain == "ai.onnx" ? "" : np.Domain ?? "";
        var node = new Node { OpType = np.OpType, Domain = domain, Name = np.Name };
        string where = node.Display;
        if (!scope.Opsets.TryGetValue(domain, out var opset))
            throw new CompileException(Diag.UnsupportedOperator, $"node {where} uses domain '{domain}', which the model does not import");
        node.Opset = opset;
        bool isFunction = _functions.TryGetValue((domain, np.OpType), out var fn);
        if (!isFunction)
            foreach (var a in np.Attribute)
            {
                var attr = ReadAttribute(a, where, scope.Bindings);
                if (attr != null) node.Attributes[a.Name] = attr;
            }
        foreach (var name in np.Input)
        {
            if (string.IsNullOrEmpty(name)) { node.Inputs.Add(null); continue; }
            node.Inputs.Add(scope.Lookup(name) ?? throw new CompileException(Diag.InvalidModel, $"node {where} reads '{name}', which is not defined before it (graph not in topological order, or a missing initializer)"));
        }
        while (node.Inputs.Count > 0 && node.Inputs[node.Inputs.Count - 1] == null) node.Inputs.RemoveAt(node.Inputs.Count - 1);
        foreach (var name in np.Output)
        {
            var v = new Value(string.IsNullOrEmpty(name) ? $"__unused{_anon++}" : name) { Producer = node };
            node.Outputs.Add(v);
        }
        if (node.Outputs.Count == 0) throw new CompileException(Diag.InvalidModel, $"node {where} has no outputs (every ONNX operator has at least one)");

        if (isFunction)
        {
            InlineFunction(fn, np, node, scope, g, where);
            return;
        }

        if (np.OpType is "Loop" or "Scan" && domain == "")
        {
            if (np.OpType == "Loop") AddLoop(node, np, scope, g, where); else AddScan(node, np, scope, g, where);
            return;
        }
        var op = OperatorRegistry.Find(domain, np.OpType, opset);
        if (op == null && ContribExpansion.Expand(np, node, scope.Opsets[""], () => $"{(np.Name.Length > 0 ? np.Name : np.OpType)}/t{_anon++}", out var note) is { } expanded)
        {
            // an ONNX Runtime fusion: its standard nodes, which ModelGen's passes fuse for its own kernels
            foreach (var e in expanded) AddNode(e, scope, g);
            if (note != null) g.Notes.Add(new Diagnostic(Diag.QuantizedNotLowered, note));
            return;
        }
        if (op == null)
        {
            // ORT_ENABLE_ALL (ORT's default level) rewrites convolutions for the saving machine's vector width
            string hint = domain == "com.microsoft.nchwc"
                ? ": it is ONNX Runtime's machine-specific NCHWc layout, written when a model is saved at ORT_ENABLE_ALL; give ModelGen the original model, or save it at ORT_ENABLE_EXTENDED (whose fused operators ModelGen reads)"
                : "";
            throw new CompileException(Diag.UnsupportedOperator, $"operator {(domain.Length > 0 ? domain + "." : "")}{np.OpType} (opset {opset}) in node {where} is not supported by ModelGen{hint}");
        }

        if (np.OpType == "If" && domain == "")
        {
            AddIf(node, scope, g, where);
            return;
        }

        try { op.Infer(node); }
        catch (CompileException ex) { throw new CompileException(ex.Kind, $"node {where}: {ex.Message}"); }
        foreach (var v in node.Outputs) v.Half = v.Type == DType.Float && HalfOutput(node, np);
        foreach (var v in node.Outputs)
        {
            if (v.Shape == null) throw new CompileException(Diag.InternalError, $"node {where}: shape of '{v.Name}' was not inferred");
            if (!DTypes.IsSupported(v.Type)) throw new CompileException(Diag.UnsupportedType, $"node {where}: output '{v.Name}' has element type {v.Type}, which ModelGen does not support");
        }
        if ((op.ShapeOnly || node.Inputs.All(i => i == null || i.IsConst)) && node.Outputs.All(o => o.Length <= MaxFoldElements) && !IsQuantizedWeight(node))
        {
            var result = Evaluate(op, node, where);
            if (result != null)
            {
                for (int i = 0; i < node.Outputs.Count; i++) { node.Outputs[i].Const = result[i]; node.Outputs[i].Producer = null; }
                foreach (var v in node.Outputs) scope.Define(v);
                return;
            }
        }
        foreach (var v in node.Outputs) scope.Define(v);
        g.Nodes.Add(node);
    }

    /// <summary>
    /// DequantizeLinear of a constant integer tensor (QDQ weights and biases) stays a node: the lowering passes turn the
    /// pattern around it into integer kernels, and a late pass folds whatever they leave (Passes.DequantizeFolding).
    /// </summary>
    static bool IsQuantizedWeight(Node node)
        => node.OpType == "DequantizeLinear" && (node.Domain is "" or "ai.onnx" or "com.microsoft") && node.In(0) != null && node.In(0).Type != DType.Float;

    static TensorData[] Evaluate(Operator op, Node node, string where)
    {
        TensorData[] result;
        try { result = op.Evaluate(node, node.Inputs.Select(i => i?.Const).ToArray()); }
        catch (CompileException ex) { throw new CompileException(ex.Kind, $"node {where}: {ex.Message}"); }
        if (result == null) return null;
        for (int i = 0; i < result.Length; i++)
            if (result[i].Type != node.Outputs[i].Type || !Shape.Equal(result[i].Shape, node.Outputs[i].Shape))
                throw new CompileException(Diag.InternalError, $"node {where}: evaluation of output {i} gave {result[i].Type}{Shape.Format(result[i].Shape)}, inference said {node.Outputs[i].Type}{Shape.Format(node.Outputs[i].Shape)}");
        return result;
    }

    /// <summary>If: a known condition inlines the branch taken; otherwise both branches become subgraphs.</summary>
    void AddIf(Node node, Scope scope, Graph g, string where)
    {
        var cond = node.In(0) ?? throw new CompileException(Diag.InvalidModel, $"node {where}: If needs a condition input");
        if (cond.Length != 1) throw new CompileException(Diag.InvalidModel, $"node {where}: the If condition must have one element, it has shape {Shape.Format(cond.Shape)}");
        GraphProto Branch(string name) => node.Attributes.TryGetValue(name, out var a) && a.G is GraphProto gp ? gp
            : throw new CompileException(Diag.InvalidModel, $"node {where}: If needs the graph attribute '{name}'");
        var thenG = Branch("then_branch");
        var elseG = Branch("else_branch");
        if (thenG.Output.Count != node.Outputs.Count || elseG.Output.Count != node.Outputs.Count)
            throw new CompileException(Diag.InvalidModel, $"node {where}: If has {node.Outputs.Count} outputs but its branches have {thenG.Output.Count} and {elseG.Output.Count}");

        if (cond.IsConst)
        {
            var taken = cond.Const.GetDouble(0) != 0 ? thenG : elseG;
            var inner = new Scope(scope);
            var sub = new Graph(g);
            BuildSubgraphInto(taken, inner, sub);
            g.Nodes.AddRange(sub.Nodes);
            for (int i = 0; i < node.Outputs.Count; i++)
                scope.Define(Bind(node.Outputs[i], sub.Outputs[i], (node.Name ?? "") + "/branch_output" + i, g));
            return;
        }

        var thenSub = new Graph(g) { Name = "then_branch" };
        var elseSub = new Graph(g) { Name = "else_branch" };
        BuildSubgraphInto(thenG, new Scope(scope), thenSub);
        BuildSubgraphInto(elseG, new Scope(scope), elseSub);
        for (int i = 0; i < node.Outputs.Count; i++)
        {
            var a = thenSub.Outputs[i]; var b = elseSub.Outputs[i];
            if (a.Type != b.Type || !Shape.Equal(a.Shape, b.Shape))
                throw new CompileException(Diag.DynamicShape, $"node {where}: If branches give output {i} different types or shapes ({a} vs {b}); ModelGen needs one static shape (bind the condition at build time so the If folds)");
            node.Outputs[i].Type = a.Type; node.Outputs[i].Shape = a.Shape;
            scope.Define(node.Outputs[i]);
        }
        node.Subgraphs["then_branch"] = thenSub;
        node.Subgraphs["else_branch"] = elseSub;
        g.Nodes.Add(node);
    }

    void BuildSubgraphInto(GraphProto gp, Scope scope, Graph sub)
    {
        if (gp.Input.Count > 0) throw new CompileException(Diag.InvalidModel, $"subgraph '{gp.Name}' of an If must not declare inputs");
        foreach (var t in gp.Initializer)
        {
            var v = new Value(t.Name) { Const = TensorReader.Read(t, "initializer of subgraph " + gp.Name), Half = t.DataType == (int)DType.Float16 };
            v.Type = v.Const.Type; v.Shape = v.Const.Shape;
            scope.Define(v);
        }
        foreach (var np in gp.Node) AddNode(np, scope, sub);
        foreach (var o in gp.Output)
            sub.Outputs.Add(scope.Lookup(o.Name) ?? throw new CompileException(Diag.InvalidModel, $"subgraph output '{o.Name}' is not produced by any node"));
    }

    /// <summary>
    /// ONNX local functions (e.g. from PyTorch's dynamo exporter) are inlined: the body's nodes are resolved in an
    /// isolated scope where the function's inputs are the call's inputs and ref_attr_name attributes take the call's values.
    /// </summary>
    void InlineFunction(FunctionProto fn, NodeProto call, Node node, Scope outer, Graph g, string where)
    {
        if (outer.FunctionDepth >= 32) throw new CompileException(Diag.InvalidModel, $"node {where}: function '{fn.Name}' nests more than 32 deep (recursive functions?)");
        var opsets = new Dictionary<string, int>(_model.Opsets, StringComparer.Ordinal);
        foreach (var o in fn.OpsetImport) opsets[o.Domain == "ai.onnx" ? "" : o.Domain] = (int)Math.Min(o.Version, int.MaxValue);
        var bindings = new Dictionary<string, Attribute>(StringComparer.Ordinal);
        foreach (var d in fn.AttributeProto) bindings[d.Name] = ReadAttribute(d, $"default of function '{fn.Name}'", null);
        foreach (var a in call.Attribute)
        {
            var attr = ReadAttribute(a, where, outer.Bindings);
            if (attr != null) bindings[a.Name] = attr;
        }
        var inner = new Scope(opsets, bindings, outer.FunctionDepth + 1);
        for (int i = 0; i < fn.Input.Count; i++)
        {
            if (i >= node.Inputs.Count || node.Inputs[i] == null) continue; // omitted optional input: stays undefined
            inner.Define(Alias(node.Inputs[i], fn.Input[i], $"{call.Name}/{fn.Name}/in{i}", g));
        }
        foreach (var np in fn.Node) AddNode(np, inner, g);
        for (int i = 0; i < node.Outputs.Count && i < fn.Output.Count; i++)
        {
            var src = inner.Lookup(fn.Output[i]) ?? throw new CompileException(Diag.InvalidModel, $"function '{fn.Name}' does not produce its output '{fn.Output[i]}'");
            outer.Define(Bind(node.Outputs[i], src, $"{call.Name}/{fn.Name}/out{i}", g));
        }
    }

    /// <summary>
    /// <paramref name="dst"/> takes <paramref name="src"/>'s values: its constant, or an Identity from it that keeps
    /// producer and consumer links intact (a view, or removed by IdentityElimination). Returns dst.
    /// </summary>
    Value Bind(Value dst, Value src, string nodeName, Graph g)
    {
        dst.Type = src.Type; dst.Shape = src.Shape;
        if (src.IsConst) { dst.Const = src.Const; dst.Producer = null; return dst; }
        var id = new Node { OpType = "Identity", Name = nodeName, Opset = _model.Opset };
        id.Inputs.Add(src); id.Outputs.Add(dst); dst.Producer = id;
        g.Nodes.Add(id);
        return dst;
    }

    /// <summary><paramref name="src"/> under the name <paramref name="name"/> (see <see cref="Bind"/>).</summary>
    Value Alias(Value src, string name, string nodeName, Graph g) => Bind(new Value(name), src, nodeName, g);

    static Attribute ReadAttribute(AttributeProto a, string where, Dictionary<string, Attribute> bindings)
    {
        if (!string.IsNullOrEmpty(a.RefAttrName))
        {
            if (bindings == null)
                throw new CompileException(Diag.InvalidModel, $"node {where}: attribute '{a.Name}' refers to a function attribute outside a function");
            if (!bindings.TryGetValue(a.RefAttrName, out var bound)) return null; // not given by the call: the operator's default
            return new Attribute { Name = a.Name, Type = bound.Type, F = bound.F, I = bound.I, S = bound.S, Floats = bound.Floats, Ints = bound.Ints, Strings = bound.Strings, T = bound.T, G = bound.G };
        }
        var type = (AttrType)a.Type;
        if (type == AttrType.Undefined)
            type = a.G != null ? AttrType.Graph : a.T != null ? AttrType.Tensor : a.Ints.Count > 0 ? AttrType.Ints : a.Floats.Count > 0 ? AttrType.Floats
                : a.Strings.Count > 0 ? AttrType.Strings : !a.S.IsEmpty ? AttrType.String : a.F != 0 ? AttrType.Float : AttrType.Int;
        return new Attribute
        {
            Name = a.Name,
            Type = type,
            F = a.F,
            I = a.I,
            S = a.S.ToStringUtf8(),
            Floats = a.Floats.ToArray(),
            Ints = a.Ints.ToArray(),
            Strings = a.Strings.Select(s => s.ToStringUtf8()).ToArray(),
            T = a.T != null && type == AttrType.Tensor ? TensorReader.Read(a.T, $"attribute '{a.Name}' of node {where}") : null,
            G = a.G,
        };
    }

    /// <summary>Name resolution for a graph or function body, with the opsets and attribute bindings in force there.</summary>
    sealed class Scope
    {
        readonly Dictionary<string, Value> _values = new(StringComparer.Ordinal);
        readonly Scope _parent;
        public Dictionary<string, int> Opsets { get; }
        /// <summary>Inside a function body: the calling node's attributes, for ref_attr_name.</summary>
        public Dictionary<string, Attribute> Bindings { get; }
        public int FunctionDepth { get; }
        public Scope(Scope parent) { _parent = parent; Opsets = parent?.Opsets; Bindings = parent?.Bindings; FunctionDepth = parent?.FunctionDepth ?? 0; }
        /// <summary>An isolated scope for a function body (sees no outer tensors).</summary>
        public Scope(Dictionary<string, int> opsets, Dictionary<string, Attribute> bindings, int depth) { Opsets = opsets; Bindings = bindings; FunctionDepth = depth; }
        public void Define(Value v) => _values[v.Name] = v;
        public Value Lookup(string name) => _values.TryGetValue(name, out var v) ? v : _parent?.Lookup(name);
    }
}
