using System;
using System.Collections.Generic;

namespace ModelGen.Compiler.IR;

/// <summary>A tensor in the graph: a graph input, a constant (initializer or folded), or a node output.</summary>
public sealed class Value
{
    public string Name { get; }
    public DType Type { get; set; }
    /// <summary>Static shape; null until inferred.</summary>
    public int[] Shape { get; set; }
    /// <summary>Constant contents when known at build time.</summary>
    public TensorData Const { get; set; }
    public Node Producer { get; set; }
    public bool IsGraphInput { get; set; }
    /// <summary>float16 in the model, held as float (set by the importer: what a CastLike to this value rounds to).</summary>
    public bool Half { get; set; }
    public Value(string name) { Name = name; }
    public bool IsConst => Const != null;
    public int Length => Shape.Length == 0 ? 1 : IR.Shape.Count(Shape);
    public override string ToString() => $"{Name}:{DTypes.OnnxName(Type)}{IR.Shape.Format(Shape)}";
}

public enum AttrType { Undefined = 0, Float = 1, Int = 2, String = 3, Tensor = 4, Graph = 5, Floats = 6, Ints = 7, Strings = 8, Tensors = 9, Graphs = 10 }

public sealed class Attribute
{
    public string Name { get; init; }
    public AttrType Type { get; init; }
    public float F { get; init; }
    public long I { get; init; }
    public string S { get; init; }
    public float[] Floats { get; init; }
    public long[] Ints { get; init; }
    public string[] Strings { get; init; }
    public TensorData T { get; init; }
    /// <summary>Unresolved subgraph (parsed lazily in the scope of its node).</summary>
    public object G { get; init; }
}

public sealed class Node
{
    public string OpType { get; init; }
    public string Domain { get; init; } = "";
    public string Name { get; init; }
    public int Opset { get; set; }
    /// <summary>Inputs; null entries are omitted optional inputs.</summary>
    public List<Value> Inputs { get; } = new();
    public List<Value> Outputs { get; } = new();
    public Dictionary<string, Attribute> Attributes { get; } = new(StringComparer.Ordinal);
    /// <summary>Resolved subgraphs by attribute name (If: then_branch/else_branch).</summary>
    public Dictionary<string, Graph> Subgraphs { get; } = new(StringComparer.Ordinal);
    /// <summary>Operator-specific data computed during inference, for the emitter (e.g. resolved pads).</summary>
    public object State { get; set; }

    public Value In(int i) => i < Inputs.Count ? Inputs[i] : null;
    public Value Out(int i = 0) => Outputs[i];
    public string Display => string.IsNullOrEmpty(Name) ? $"{OpType} -> {(Outputs.Count > 0 ? Outputs[0].Name : "?")}" : $"'{Name}' ({OpType})";

    public long Int(string name, long dflt) => Attributes.TryGetValue(name, out var a) ? a.I : dflt;
    public float Float(string name, float dflt) => Attributes.TryGetValue(name, out var a) ? a.F : dflt;
    public string Str(string name, string dflt) => Attributes.TryGetValue(name, out var a) ? a.S : dflt;
    public long[] Ints(string name) => Attributes.TryGetValue(name, out var a) ? a.Ints ?? Array.Empty<long>() : null;
    public float[] Floats(string name) => Attributes.TryGetValue(name, out var a) ? a.Floats ?? Array.Empty<float>() : null;
    public bool Has(string name) => Attributes.ContainsKey(name);
}

public sealed class Graph
{
    public string Name { get; set; }
    public List<Node> Nodes { get; set; } = new();
    public List<Value> Inputs { get; } = new();
    public List<Value> Outputs { get; } = new();
    public Graph Parent { get; }
    /// <summary>Non-fatal findings of the passes (warnings, information), reported with the compiled model.</summary>
    public List<Diagnostic> Notes { get; } = new();
    public Graph(Graph parent) { Parent = parent; }
}

/// <summary>A whole model: metadata and the main graph.</summary>
public sealed class Model
{
    public string Producer { get; set; } = "";
    public string ProducerVersion { get; set; } = "";
    public string DocString { get; set; } = "";
    public long IrVersion { get; set; }
    public int Opset { get; set; }
    public Dictionary<string, int> Opsets { get; } = new(StringComparer.Ordinal);
    public Graph Graph { get; set; }
}
