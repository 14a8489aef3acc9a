using ModelGen.Compiler.IR;
using ModelGen.Compiler.Onnx.Proto;

namespace ModelGen.Tests;

/// <summary>
/// Models in ONNX Runtime's QOperator format (QLinearConv, com.microsoft QGemm and QLinear* ops) built in code, and
/// the builders' helpers: for QuantOperatorTests, and linked into the benchmarks (`int8models qoperator`).
/// </summary>
public static class QOperatorModels
{
    internal static long[] L8(int n, int seed, int lo, int hi) { var r = new Random(seed); return Enumerable.Range(0, n).Select(_ => (long)r.Next(lo, hi + 1)).ToArray(); }

    internal static float[] Scales(int n, int seed, float lo, float hi) { var r = new Random(seed); return Enumerable.Range(0, n).Select(_ => lo + (float)r.NextDouble() * (hi - lo)).ToArray(); }

    internal static TensorProto IntTensor(string name, DType type, int[] shape, long[] data)
    {
        var t = new TensorProto { Name = name, DataType = (int)type };
        t.Dims.AddRange(shape.Select(d => (long)d));
        t.Int32Data.AddRange(data.Select(v => (int)v));
        return t;
    }

    internal static OnnxBuilder Init(OnnxBuilder b, TensorProto t) { b.Proto.Graph.Initializer.Add(t); return b; }

    internal static OnnxBuilder Ms(OnnxBuilder b, string op, string[] inputs, string[] outputs, params (string, object)[] attrs)
    {
        b.Node(op, inputs, outputs, attrs);
        b.Proto.Graph.Node[b.Proto.Graph.Node.Count - 1].Domain = "com.microsoft";
        if (!b.Proto.OpsetImport.Any(o => o.Domain == "com.microsoft")) b.Proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });
        return b;
    }

    internal static OnnxBuilder QParams(OnnxBuilder b, string name, DType t, float scale, long zp)
    {
        b.Initializer(name + "_s", Array.Empty<int>(), new[] { scale });
        return Init(b, IntTensor(name + "_z", t, Array.Empty<int>(), new long[] { zp }));
    }

    /// <summary>
    /// A small CNN in the QOperator format as ONNX Runtime's quantizer (and the ONNX model zoo's int8 models) write
    /// it: QuantizeLinear, QLinearConv (stem, stride 2; depthwise; 1x1), uint8 MaxPool, QLinearGlobalAveragePool,
    /// Flatten, QGemm, DequantizeLinear. Input [1, 3, side, side]; outputs yq and y, or y alone. Weights int8 (zero point
    /// 0), or uint8 with zero points per channel (<paramref name="uint8Weights"/>).
    /// </summary>
    public static byte[] Cnn(int side, bool quantizedOutput = true, bool uint8Weights = false)
    {
        var b = new OnnxBuilder(13).Input("x", DType.Float, 1, 3, side, side);
        int n = 0;
        void Layer(string op, string x, string y, string w, int[] wShape, float wScale, float yScale, long yZero, (string, object)[] attrs, bool bias = true)
        {
            int m = wShape[0], len = wShape.Aggregate(1, (p, q) => p * q);
            // uint8Weights: ORT's asymmetric uint8 weights, a zero point per channel away from 128
            Init(b, IntTensor(w, uint8Weights ? DType.UInt8 : DType.Int8, wShape, uint8Weights ? L8(len, 70 + n, 0, 255) : L8(len, 70 + n, -127, 127)));
            b.Initializer(w + "_s", new[] { m }, Scales(m, 80 + n, 0.7f * wScale, 1.3f * wScale));
            Init(b, IntTensor(w + "_z", uint8Weights ? DType.UInt8 : DType.Int8, new[] { m }, uint8Weights ? L8(m, 60 + n, 40, 90) : new long[m]));
            QParams(b, y, DType.UInt8, yScale, yZero);
            if (bias) Init(b, IntTensor(w + "_b", DType.Int32, new[] { m }, L8(m, 90 + n, -2000, 2000)));
            var ins = new[] { x, x + "_s", x + "_z", w, w + "_s", w + "_z", y + "_s", y + "_z" };
            if (bias) ins = ins.Append(w + "_b").ToArray();
            if (op == "QGemm") { ins = new[] { x, x + "_s", x + "_z", w, w + "_s", w + "_z", w + "_b", y + "_s", y + "_z" }; Ms(b, op, ins, new[] { y }, attrs); }
            else b.Node(op, ins, new[] { y }, attrs);
            n++;
        }
        QParams(b, "xq", DType.UInt8, 0.02f, 128);
        b.Node("QuantizeLinear", new[] { "x", "xq_s", "xq_z" }, new[] { "xq" });
        Layer("QLinearConv", "xq", "c1", "w1", new[] { 8, 3, 3, 3 }, 0.004f, 0.04f, 0, new (string, object)[] { ("pads", new long[] { 1, 1, 1, 1 }), ("strides", new long[] { 2, 2 }) });
        Layer("QLinearConv", "c1", "c2", "w2", new[] { 8, 1, 3, 3 }, 0.003f, 0.05f, 0, new (string, object)[] { ("pads", new long[] { 1, 1, 1, 1 }), ("group", 8L) });
        Layer("QLinearConv", "c2", "c3", "w3", new[] { 16, 8, 1, 1 }, 0.004f, 0.06f, 20, Array.Empty<(string, object)>(), bias: false);
        b.Node("MaxPool", new[] { "c3" }, new[] { "p" }, ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 }));
        QParams(b, "g", DType.UInt8, 0.03f, 10);
        Ms(b, "QLinearGlobalAveragePool", new[] { "p", "c3_s", "c3_z", "g_s", "g_z" }, new[] { "g" }, ("channels_last", 0L));
        b.Node("Flatten", new[] { "g" }, new[] { "f" });
        b.Initializer("f_s", Array.Empty<int>(), new[] { 0.03f });
        Init(b, IntTensor("f_z", DType.UInt8, Array.Empty<int>(), new long[] { 10 }));
        Layer("QGemm", "f", "yq", "w5", new[] { 10, 16 }, 0.01f, 0.05f, 128, new (string, object)[] { ("transB", 1L) });
        b.Node("DequantizeLinear", new[] { "yq", "yq_s", "yq_z" }, new[] { "y" });
        if (quantizedOutput) b.Output("yq", DType.UInt8);
        return b.Output("y").Build();
    }

    /// <summary>
    /// A CNN quantized dynamically as ONNX Runtime's quantize_dynamic writes its convolutions: per layer
    /// DynamicQuantizeLinear, ConvInteger (stem 3x3 stride 2; depthwise 3x3; 1x1), Cast, the scales' product, bias
    /// [M, 1, 1], Relu; then GlobalAveragePool. Weights int8 with zero point 0, or uint8 with a zero point of 40-90
    /// (<paramref name="uint8Weights"/>: w - z leaves int8), per tensor as ONNX Runtime's ConvInteger requires.
    /// Input [1, 3, side, side]; outputs the last layer's and the pooled [1, 16, 1, 1], or the pooled alone.
    /// </summary>
    public static byte[] DynamicCnn(int side, bool uint8Weights = false, bool pooledOnly = false)
    {
        var b = new OnnxBuilder(13).Input("x", DType.Float, 1, 3, side, side);
        string x = "x";
        void Layer(string p, int[] wShape, int seed, params (string, object)[] attrs)
        {
            int m = wShape[0], len = wShape.Aggregate(1, (q, d) => q * d);
            Init(b, IntTensor(p + "_w", uint8Weights ? DType.UInt8 : DType.Int8, wShape, uint8Weights ? L8(len, seed, 0, 255) : L8(len, seed, -127, 127)));
            Init(b, IntTensor(p + "_wz", uint8Weights ? DType.UInt8 : DType.Int8, Array.Empty<int>(), uint8Weights ? L8(1, seed + 1, 40, 90) : new long[] { 0 }));
            b.Initializer(p + "_ws", Array.Empty<int>(), new[] { 0.6f / (len / m) / 64f });
            b.Initializer(p + "_bias", new[] { m, 1, 1 }, Scales(m, seed + 2, -0.2f, 0.2f));
            b.Node("DynamicQuantizeLinear", new[] { x }, new[] { p + "_xq", p + "_xs", p + "_xz" })
                .Node("ConvInteger", new[] { p + "_xq", p + "_w", p + "_xz", p + "_wz" }, new[] { p + "_acc" }, attrs)
                .Node("Cast", new[] { p + "_acc" }, new[] { p + "_accf" }, ("to", 1L))
                .Node("Mul", new[] { p + "_xs", p + "_ws" }, new[] { p + "_s" })
                .Node("Mul", new[] { p + "_accf", p + "_s" }, new[] { p + "_c" })
                .Node("Add", new[] { p + "_c", p + "_bias" }, new[] { p + "_pre" })
                .Node("Relu", new[] { p + "_pre" }, new[] { p + "_y" });
            x = p + "_y";
        }
        Layer("stem", new[] { 8, 3, 3, 3 }, 200, ("pads", new long[] { 1, 1, 1, 1 }), ("strides", new long[] { 2, 2 }));
        Layer("dw", new[] { 8, 1, 3, 3 }, 210, ("pads", new long[] { 1, 1, 1, 1 }), ("group", 8L));
        Layer("pw", new[] { 16, 8, 1, 1 }, 220);
        b.Node("GlobalAveragePool", new[] { x }, new[] { "g" });
        return (pooledOnly ? b : b.Output(x)).Output("g").Build();
    }

    /// <summary>
    /// An MLP quantized dynamically as ONNX Runtime's quantize_dynamic writes it: per layer DynamicQuantizeLinear,
    /// MatMulInteger on constant int8 weights (per column), Cast, the scales' product, bias, Relu. Input [rows, width].
    /// </summary>
    public static byte[] DynamicMlp(int rows, int width, int layers)
    {
        var b = new OnnxBuilder(13).Input("x", DType.Float, rows, width);
        string x = "x";
        for (int i = 0; i < layers; i++)
        {
            string p = "l" + i;
            Init(b, IntTensor(p + "_bq", DType.Int8, new[] { width, width }, L8(width * width, 100 + i, -127, 127)));
            b.Initializer(p + "_bs", new[] { width }, Scales(width, 110 + i, 0.5f / width, 2f / width));
            Init(b, IntTensor(p + "_bz", DType.Int8, new[] { width }, new long[width]));
            b.Initializer(p + "_bias", new[] { width }, Scales(width, 120 + i, -0.1f, 0.1f));
            b.Node("DynamicQuantizeLinear", new[] { x }, new[] { p + "_xq", p + "_xs", p + "_xz" })
                .Node("MatMulInteger", new[] { p + "_xq", p + "_bq", p + "_xz", p + "_bz" }, new[] { p + "_acc" })
                .Node("Cast", new[] { p + "_acc" }, new[] { p + "_accf" }, ("to", 1L))
                .Node("Mul", new[] { p + "_xs", p + "_bs" }, new[] { p + "_s" })
                .Node("Mul", new[] { p + "_accf", p + "_s" }, new[] { p + "_mm" })
                .Node("Add", new[] { p + "_mm", p + "_bias" }, new[] { p + "_pre" })
                .Node("Relu", new[] { p + "_pre" }, new[] { p + "_y" });
            x = p + "_y";
        }
        return b.Output(x).Build();
    }
}
