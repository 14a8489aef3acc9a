using Google.Protobuf;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Onnx.Proto;

namespace ModelGen.Tests;

/// <summary>Builds small ONNX models in C# (with ModelGen's own schema classes) for operator and pass tests.</summary>
internal sealed class OnnxBuilder
{
    readonly ModelProto _m = new() { IrVersion = 8, ProducerName = "ModelGen.Tests" };
    GraphProto G => _m.Graph;

    public OnnxBuilder(int opset = 13)
    {
        _m.Graph = new GraphProto { Name = "test" };
        _m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
    }

    public OnnxBuilder Input(string name, DType type, params int[] shape)
    {
        G.Input.Add(ValueInfo(name, type, shape));
        return this;
    }

    /// <summary>An input whose dimensions are symbolic names (null entries) or values.</summary>
    public OnnxBuilder SymbolicInput(string name, DType type, params object[] dims)
    {
        var tt = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = new TensorShapeProto() };
        foreach (var d in dims)
            tt.Shape.Dim.Add(d is string s ? new TensorShapeProto.Types.Dimension { DimParam = s } : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d) });
        G.Input.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tt } });
        return this;
    }

    public OnnxBuilder Output(string name, DType type = DType.Float)
    {
        G.Output.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type } } });
        return this;
    }

    public OnnxBuilder Initializer(string name, int[] shape, float[] data) { G.Initializer.Add(Tensor(name, shape, data)); return this; }
    public OnnxBuilder Initializer(string name, int[] shape, long[] data) { G.Initializer.Add(Tensor(name, shape, data)); return this; }
    public OnnxBuilder Initializer(string name, int[] shape, bool[] data)
    {
        var t = new TensorProto { Name = name, DataType = (int)DType.Bool };
        t.Dims.AddRange(shape.Select(d => (long)d));
        t.Int32Data.AddRange(data.Select(b => b ? 1 : 0));
        G.Initializer.Add(t);
        return this;
    }

    /// <summary>Adds a node. Attribute values: long, float, string, long[], float[], TensorProto, GraphProto.</summary>
    public OnnxBuilder Node(string op, string[] inputs, string[] outputs, params (string Name, object Value)[] attrs)
    {
        var n = new NodeProto { OpType = op, Name = op + "_" + G.Node.Count };
        n.Input.AddRange(inputs);
        n.Output.AddRange(outputs);
        foreach (var (name, value) in attrs) n.Attribute.Add(Attr(name, value));
        G.Node.Add(n);
        return this;
    }

    public byte[] Build() => _m.ToByteArray();
    public ModelProto Proto => _m;

    public static ValueInfoProto ValueInfo(string name, DType type, int[] shape)
    {
        var tt = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = new TensorShapeProto() };
        foreach (var d in shape) tt.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tt } };
    }

    public static TensorProto Tensor(string name, int[] shape, float[] data)
    {
        var t = new TensorProto { Name = name, DataType = (int)DType.Float };
        t.Dims.AddRange(shape.Select(d => (long)d));
        t.FloatData.AddRange(data);
        return t;
    }

    public static TensorProto Tensor(string name, int[] shape, long[] data)
    {
        var t = new TensorProto { Name = name, DataType = (int)DType.Int64 };
        t.Dims.AddRange(shape.Select(d => (long)d));
        t.Int64Data.AddRange(data);
        return t;
    }

    public static AttributeProto Attr(string name, object value)
    {
        var a = new AttributeProto { Name = name };
        switch (value)
        {
            case int i: a.Type = AttributeProto.Types.AttributeType.Int; a.I = i; break;
            case long l: a.Type = AttributeProto.Types.AttributeType.Int; a.I = l; break;
            case float f: a.Type = AttributeProto.Types.AttributeType.Float; a.F = f; break;
            case double d: a.Type = AttributeProto.Types.AttributeType.Float; a.F = (float)d; break;
            case string s: a.Type = AttributeProto.Types.AttributeType.String; a.S = ByteString.CopyFromUtf8(s); break;
            case long[] ls: a.Type = AttributeProto.Types.AttributeType.Ints; a.Ints.AddRange(ls); break;
            case int[] iss: a.Type = AttributeProto.Types.AttributeType.Ints; a.Ints.AddRange(iss.Select(x => (long)x)); break;
            case float[] fs: a.Type = AttributeProto.Types.AttributeType.Floats; a.Floats.AddRange(fs); break;
            case TensorProto t: a.Type = AttributeProto.Types.AttributeType.Tensor; a.T = t; break;
            case GraphProto g: a.Type = AttributeProto.Types.AttributeType.Graph; a.G = g; break;
            default: throw new ArgumentException($"attribute {name}: unsupported value {value?.GetType()}");
        }
        return a;
    }
}
