#nullable enable
using Google.Protobuf;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Onnx.Proto;
using ModelGen.Compiler.Operators;
using Attribute = ModelGen.Compiler.IR.Attribute;

namespace ModelGen.Tests;

/// <summary>
/// ModelGen's IR -> an ONNX model that ONNX Runtime loads: for running a graph the compiler made (Int8's QDQ graph,
/// before lowering) in ONNX Runtime. Standard-domain nodes only; the one ModelGen extension it undoes is an activation
/// fused into a Conv/Gemm/MatMul (written back as its standalone nodes). Any other ai.modelgen node or a subgraph is an
/// error: disable the pass that made it.
/// </summary>
internal static class OnnxWriter
{
    public static byte[] Write(Model model) => ToProto(model.Graph).ToByteArray();

    public static ModelProto ToProto(Graph g)
    {
        var names = new Dictionary<Value, string>();
        var taken = new HashSet<string>(StringComparer.Ordinal);
        string Name(Value v)
        {
            if (v == null) return "";
            if (names.TryGetValue(v, out var n)) return n;
            // IR names need not be unique (passes derive names); ONNX's must be
            n = v.Name;
            for (int k = 1; !taken.Add(n); k++) n = v.Name + "__" + k;
            return names[v] = n;
        }

        var gp = new GraphProto { Name = string.IsNullOrEmpty(g.Name) ? "modelgen" : g.Name };
        foreach (var v in g.Inputs) if (!v.IsConst) gp.Input.Add(OnnxBuilder.ValueInfo(Name(v), v.Type, v.Shape));
        int opset = 13;
        var initialized = new HashSet<Value>();
        void Initializer(Value v)
        {
            if (v != null && v.IsConst && initialized.Add(v)) gp.Initializer.Add(Tensor(Name(v), v.Const));
        }
        foreach (var n in g.Nodes)
        {
            if (n.Subgraphs.Count > 0) throw new NotSupportedException($"{n.Display}: subgraphs are not written");
            if (n.Domain != "" && n.Domain != "ai.onnx") throw new NotSupportedException($"{n.Display}: {n.Domain}.{n.OpType} is ModelGen's own; disable the pass that made it");
            var fused = FusedActivation.Of(n);
            Node[]? act = null;
            var node = new NodeProto { OpType = n.OpType, Name = n.Name ?? "" };
            if (fused != null)
            {
                // Conv/Gemm/MatMul writes a fresh tensor; the activation's nodes read it and write the node's output
                // (fresh values: making the nodes infers their outputs, which must not touch the graph's)
                var y = n.Out();
                var pre = new Value(y.Name + "_before_" + fused.Kind) { Type = y.Type, Shape = y.Shape };
                var post = new Value(y.Name) { Type = y.Type, Shape = y.Shape };
                names[post] = Name(y);
                act = fused.ToNodes(pre, post, (n.Name ?? y.Name) + "_" + fused.Kind);
                node.Output.Add(Name(pre));
            }
            else foreach (var o in n.Outputs) node.Output.Add(Name(o));
            foreach (var v in n.Inputs) { Initializer(v); node.Input.Add(Name(v)); }
            // trailing omitted optional inputs are left out, inner ones stay as ""
            while (node.Input.Count > 0 && node.Input[node.Input.Count - 1] == "") node.Input.RemoveAt(node.Input.Count - 1);
            foreach (var a in n.Attributes.Values)
            {
                if (a.Name.StartsWith("_mg_", StringComparison.Ordinal))
                {
                    // Quantize="Weights" keeps its DequantizeLinear nodes: a note to the lowering passes, nothing ONNX computes differently
                    if (a.Name == Compiler.Operators.DequantizeLinear.KeepAttr) continue;
                    if (fused != null && a.Name is FusedActivation.KindAttr or FusedActivation.AlphaAttr or FusedActivation.BetaAttr or FusedActivation.LoAttr or FusedActivation.HiAttr) continue;
                    throw new NotSupportedException($"{n.Display}: ModelGen attribute {a.Name} has no ONNX form");
                }
                node.Attribute.Add(Attr(a));
            }
            gp.Node.Add(node);
            opset = Math.Max(opset, n.Opset);
            foreach (var an in act ?? Array.Empty<Node>())
            {
                var p = new NodeProto { OpType = an.OpType, Name = an.Name ?? "" };
                foreach (var v in an.Inputs) { Initializer(v); p.Input.Add(Name(v)); }
                foreach (var o in an.Outputs) p.Output.Add(Name(o));
                foreach (var a in an.Attributes.Values) p.Attribute.Add(Attr(a));
                gp.Node.Add(p);
                opset = Math.Max(opset, an.Opset);
            }
        }
        foreach (var v in g.Outputs)
        {
            // an output that is a constant (folded at build time) comes from an initializer
            Initializer(v);
            gp.Output.Add(OnnxBuilder.ValueInfo(Name(v), v.Type, v.Shape));
        }
        var m = new ModelProto { IrVersion = 8, ProducerName = "ModelGen.Tests.OnnxWriter", Graph = gp };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return m;
    }

    public static TensorProto Tensor(string name, TensorData t)
    {
        var p = new TensorProto { Name = name, DataType = (int)t.Type };
        p.Dims.AddRange(t.Shape.Select(d => (long)d));
        switch (t.Type)
        {
            case DType.Float: p.FloatData.AddRange(t.F); break;
            case DType.Double: p.DoubleData.AddRange(t.D); break;
            case DType.Int64: p.Int64Data.AddRange(t.L); break;
            case DType.UInt32 or DType.UInt64: p.Uint64Data.AddRange(t.L.Select(v => (ulong)v)); break;
            default: p.Int32Data.AddRange(t.L.Select(v => (int)v)); break; // int8/uint8/int16/uint16/int32/bool
        }
        return p;
    }

    static AttributeProto Attr(Attribute a)
    {
        var p = new AttributeProto { Name = a.Name, Type = (AttributeProto.Types.AttributeType)(int)a.Type };
        switch (a.Type)
        {
            case AttrType.Float: p.F = a.F; break;
            case AttrType.Int: p.I = a.I; break;
            case AttrType.String: p.S = ByteString.CopyFromUtf8(a.S ?? ""); break;
            case AttrType.Floats: p.Floats.AddRange(a.Floats ?? Array.Empty<float>()); break;
            case AttrType.Ints: p.Ints.AddRange(a.Ints ?? Array.Empty<long>()); break;
            case AttrType.Strings: p.Strings.AddRange((a.Strings ?? Array.Empty<string>()).Select(ByteString.CopyFromUtf8)); break;
            case AttrType.Tensor: p.T = Tensor("", a.T); break;
            default: throw new NotSupportedException($"attribute {a.Name} of type {a.Type} is not written");
        }
        return p;
    }
}
