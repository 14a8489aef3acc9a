using Google.Protobuf;
using ModelGen.Compiler.Onnx.Proto;

namespace ModelGen.Benchmarks;

/// <summary>Builds single-operator ONNX models (float32) with ModelGen's own schema classes, for ONNX Runtime baselines.</summary>
internal static class OneOpModel
{
    const int Float = 1;

    public static byte[] Conv(int batch, int inC, int inH, int inW, int outC, int kH, int kW, int strideH, int strideW,
        int padH, int padW, int dil, int groups, float[] w, float[] bias)
    {
        var g = new GraphProto { Name = "conv" };
        g.Input.Add(Vi("x", batch, inC, inH, inW));
        g.Initializer.Add(Tensor("w", w, outC, inC / groups, kH, kW));
        var n = new NodeProto { OpType = "Conv", Name = "conv0" };
        n.Input.Add("x"); n.Input.Add("w");
        if (bias != null) { g.Initializer.Add(Tensor("b", bias, outC)); n.Input.Add("b"); }
        n.Output.Add("y");
        n.Attribute.Add(Ints("kernel_shape", kH, kW));
        n.Attribute.Add(Ints("strides", strideH, strideW));
        n.Attribute.Add(Ints("pads", padH, padW, padH, padW));
        n.Attribute.Add(Ints("dilations", dil, dil));
        n.Attribute.Add(new AttributeProto { Name = "group", Type = AttributeProto.Types.AttributeType.Int, I = groups });
        g.Node.Add(n);
        g.Output.Add(new ValueInfoProto { Name = "y", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = Float } } });
        return Model(g);
    }

    /// <summary>GroupNormalization (opset 21: scale and bias per channel) on an input [n, c, plane].</summary>
    public static byte[] GroupNormalization(int n, int c, int plane, int groups, float[] scale, float[] bias)
    {
        var g = new GraphProto { Name = "groupnorm" };
        g.Input.Add(Vi("x", n, c, plane));
        g.Initializer.Add(Tensor("s", scale, c));
        g.Initializer.Add(Tensor("b", bias, c));
        var node = new NodeProto { OpType = "GroupNormalization", Name = "gn0" };
        node.Input.Add("x"); node.Input.Add("s"); node.Input.Add("b");
        node.Output.Add("y");
        node.Attribute.Add(new AttributeProto { Name = "num_groups", Type = AttributeProto.Types.AttributeType.Int, I = groups });
        g.Node.Add(node);
        g.Output.Add(new ValueInfoProto { Name = "y", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = Float } } });
        var bytes = Model(g);
        var m = ModelProto.Parser.ParseFrom(bytes);
        m.OpsetImport[0].Version = 21;
        return m.ToByteArray();
    }

    /// <summary>Gemm with A as the input [m, k] and B a constant ([k, n], or [n, k] when transB).</summary>
    public static byte[] Gemm(int m, int n, int k, bool transB, float[] b, float[] bias)
    {
        var g = new GraphProto { Name = "gemm" };
        g.Input.Add(Vi("a", m, k));
        g.Initializer.Add(transB ? Tensor("b", b, n, k) : Tensor("b", b, k, n));
        var node = new NodeProto { OpType = "Gemm", Name = "gemm0" };
        node.Input.Add("a"); node.Input.Add("b");
        if (bias != null) { g.Initializer.Add(Tensor("c", bias, n)); node.Input.Add("c"); }
        node.Output.Add("y");
        if (transB) node.Attribute.Add(new AttributeProto { Name = "transB", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
        g.Node.Add(node);
        g.Output.Add(new ValueInfoProto { Name = "y", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = Float } } });
        return Model(g);
    }

    static byte[] Model(GraphProto g)
    {
        var m = new ModelProto { IrVersion = 8, ProducerName = "ModelGen.Benchmarks", Graph = g };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        return m.ToByteArray();
    }

    static ValueInfoProto Vi(string name, params int[] dims)
    {
        var t = new TypeProto.Types.Tensor { ElemType = Float, Shape = new TensorShapeProto() };
        foreach (var d in dims) t.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = t } };
    }

    static TensorProto Tensor(string name, float[] data, params int[] dims)
    {
        var t = new TensorProto { Name = name, DataType = Float };
        foreach (var d in dims) t.Dims.Add(d);
        t.FloatData.AddRange(data);
        return t;
    }

    static AttributeProto Ints(string name, params int[] v)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        foreach (var x in v) a.Ints.Add(x);
        return a;
    }

    /// <summary>Prints every Conv/Gemm/MatMul/pool node of a model with its weight shape and attributes (for picking benchmark shapes).</summary>
    public static void Dump(string path)
    {
        var m = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        var inits = m.Graph.Initializer.ToDictionary(t => t.Name, t => "[" + string.Join(",", t.Dims) + "]");
        Console.WriteLine($"{Path.GetFileName(path)}: inputs " + string.Join(" ", m.Graph.Input.Select(i => i.Name + "[" + string.Join(",", i.Type.TensorType.Shape?.Dim.Select(d => d.DimValue.ToString()) ?? Array.Empty<string>()) + "]")));
        foreach (var n in m.Graph.Node)
        {
            if (n.OpType is not ("Conv" or "Gemm" or "MatMul" or "MaxPool" or "AveragePool" or "ConvTranspose")) continue;
            var ws = string.Join(" ", n.Input.Skip(1).Select(i => inits.TryGetValue(i, out var s) ? s : "?"));
            var attrs = string.Join(" ", n.Attribute.Select(a => a.Name + "=" + (a.Ints.Count > 0 ? "[" + string.Join(",", a.Ints) + "]" : a.Type == AttributeProto.Types.AttributeType.String ? a.S.ToStringUtf8() : a.Type == AttributeProto.Types.AttributeType.Float ? a.F.ToString("R") : a.I.ToString())));
            Console.WriteLine($"  {n.OpType,-12} {ws,-30} {attrs}");
        }
    }
}
