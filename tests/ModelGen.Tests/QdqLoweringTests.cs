using System.Runtime.InteropServices;
using ModelGen.Compiler;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Operators;
using ModelGen.Compiler.Onnx.Proto;
using ModelGen.Compiler.Passes;
using ModelGen.Compiler.Quant;
using ModelGen.Runtime;
using Xunit;
using Xunit.Abstractions;

namespace ModelGen.Tests;

/// <summary>
/// QDQ models lowered to integer kernels (QdqConvGemmLowering, QdqPassThrough): the rewrite itself, agreement with
/// ONNX Runtime running the same QDQ model (within one quantization step, both profiles), and the integer arithmetic:
/// ModelGen.Runtime's scalar and SIMD kernels bit-exact against the reference (FixedPoint) at every forced width.
/// </summary>
[Collection("RuntimeKernels")] // sequential with the kernel tests (SimdLevel.ForceBits is per thread)
public class QdqLoweringTests(ITestOutputHelper log)
{
    // ---------- QDQ model building ----------

    static TensorProto IntTensor(string name, DType type, int[] shape, IEnumerable<long> data)
    {
        var t = new TensorProto { Name = name, DataType = (int)type };
        t.Dims.AddRange(shape.Select(d => (long)d));
        t.Int32Data.AddRange(data.Select(v => (int)v));
        return t;
    }

    sealed class Qdq(OnnxBuilder b, bool u8)
    {
        public readonly OnnxBuilder B = b;
        public DType Act => u8 ? DType.UInt8 : DType.Int8;
        int _n;

        public Qdq Init(TensorProto t) { B.Proto.Graph.Initializer.Add(t); return this; }

        /// <summary>x -> QuantizeLinear -> DequantizeLinear with the given activation parameters; returns the DQ output.</summary>
        public string QD(string x, float scale, int zero)
        {
            string id = "a" + _n++;
            B.Initializer(id + "_s", Array.Empty<int>(), new[] { scale });
            Init(IntTensor(id + "_z", Act, Array.Empty<int>(), new long[] { zero }));
            B.Node("QuantizeLinear", new[] { x, id + "_s", id + "_z" }, new[] { id + "_q" });
            B.Node("DequantizeLinear", new[] { id + "_q", id + "_s", id + "_z" }, new[] { id + "_dq" });
            return id + "_dq";
        }

        /// <summary>Constant int8 weights (per output channel along <paramref name="axis"/> when scales has several) -> DequantizeLinear.</summary>
        public string Weights(int[] shape, int axis, float[] scales, int seed)
        {
            string id = "w" + _n++;
            var r = new Random(seed);
            int count = shape.Aggregate(1, (a, c) => a * c);
            var q = Enumerable.Range(0, count).Select(i => (long)(i % 17 == 0 ? -128 : r.Next(-127, 128))).ToArray(); // -128 included
            Init(IntTensor(id + "_q", DType.Int8, shape, q));
            B.Initializer(id + "_s", scales.Length == 1 ? Array.Empty<int>() : new[] { scales.Length }, scales);
            Init(IntTensor(id + "_z", DType.Int8, scales.Length == 1 ? Array.Empty<int>() : new[] { scales.Length }, new long[scales.Length]));
            B.Node("DequantizeLinear", new[] { id + "_q", id + "_s", id + "_z" }, new[] { id + "_dq" }, scales.Length == 1 ? Array.Empty<(string, object)>() : new (string, object)[] { ("axis", (long)axis) });
            return id + "_dq";
        }

        /// <summary>int32 bias with scale x_scale * w_scale (the quantizer's form) -> DequantizeLinear.</summary>
        public string Bias(int m, float xs, float[] ws, int seed)
        {
            string id = "b" + _n++;
            var r = new Random(seed);
            Init(IntTensor(id + "_q", DType.Int32, new[] { m }, Enumerable.Range(0, m).Select(_ => (long)r.Next(-3000, 3000))));
            var s = Enumerable.Range(0, m).Select(i => xs * ws[ws.Length == 1 ? 0 : i]).ToArray();
            B.Initializer(id + "_s", ws.Length == 1 ? Array.Empty<int>() : new[] { m }, ws.Length == 1 ? new[] { s[0] } : s);
            B.Node("DequantizeLinear", new[] { id + "_q", id + "_s" }, new[] { id + "_dq" }, ws.Length == 1 ? Array.Empty<(string, object)>() : new (string, object)[] { ("axis", 0L) });
            return id + "_dq";
        }

        public string Act6(string y, string act)
        {
            string id = "r" + _n++;
            if (act == "relu") B.Node("Relu", new[] { y }, new[] { id });
            else if (act == "relu6")
            {
                B.Initializer(id + "_lo", Array.Empty<int>(), new[] { 0f }).Initializer(id + "_hi", Array.Empty<int>(), new[] { 6f });
                B.Node("Clip", new[] { y, id + "_lo", id + "_hi" }, new[] { id });
            }
            else return y;
            return id;
        }
    }

    static float[] Scales(int n, int seed, float lo, float hi) { var r = new Random(seed); return Enumerable.Range(0, n).Select(_ => lo + (float)r.NextDouble() * (hi - lo)).ToArray(); }

    static float[] Input(int n, int seed, float range) { var r = new Random(seed); return Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1) * range).ToArray(); }

    /// <summary>x float [1, c, h, w] -> QDQ -> Conv (QDQ weights, bias) -> act -> QDQ -> float output.</summary>
    static byte[] ConvModel(int c, int m, int k, int stride, int pad, int group, bool perAxis, bool u8, string act, int h = 9, int w = 11)
    {
        var q = new Qdq(new OnnxBuilder().Input("x", DType.Float, 1, c, h, w), u8);
        float xs = 0.03f; int zx = u8 ? 131 : -7;
        var xd = q.QD("x", xs, zx);
        var ws = perAxis ? Scales(m, 3, 0.002f, 0.02f) : new[] { 0.01f };
        var wd = q.Weights(new[] { m, c / group, k, k }, 0, ws, 5);
        var bd = q.Bias(m, xs, ws, 7);
        q.B.Node("Conv", new[] { xd, wd, bd }, new[] { "conv" }, ("pads", new long[] { pad, pad, pad, pad }), ("strides", new long[] { stride, stride }), ("group", (long)group));
        var y = q.Act6("conv", act);
        var yd = q.QD(y, 0.05f, u8 ? 120 : 3);
        return q.B.Node("Identity", new[] { yd }, new[] { "y" }).Output("y").Build();
    }

    /// <summary>ONNX Runtime vs ModelGen (both profiles) on a QDQ model with float input and output: within one step.</summary>
    void AgreeWithOrt(byte[] model, float step, params Array[] inputs)
    {
        var expected = OpCheck.RunOrt(model, inputs);
        foreach (var target in new[] { TargetProfile.Net, TargetProfile.Portable })
        {
            var actual = OpCheck.RunModelGen(model, target, inputs, expected.Select(e => e.Length).ToArray(), expected.Select(e => e.GetType().GetElementType()!).ToArray());
            for (int o = 0; o < expected.Length; o++)
            {
                var e = (float[])expected[o]; var a = (float[])actual[o];
                int off = 0;
                for (int i = 0; i < e.Length; i++)
                {
                    if (e[i] != a[i]) off++;
                    Assert.True(Math.Abs(e[i] - a[i]) <= step * 1.001f, $"{target} output {o}[{i}]: ORT {e[i]}, ModelGen {a[i]} (more than one step {step})");
                }
                log.WriteLine($"{target} output {o}: {off} of {e.Length} one step from ONNX Runtime");
                Assert.True(off <= e.Length / 10 + 1, $"{target}: {off} of {e.Length} differ from ONNX Runtime");
            }
        }
    }

    static Graph Lowered(byte[] model)
    {
        var g = new ModelGen.Compiler.Onnx.OnnxImporter(new ModelOptions()).Import(model).Graph;
        PassManager.Run(g, new ModelOptions());
        return g;
    }

    static string Ops(Graph g) => string.Join(",", g.Nodes.Select(n => n.OpType));

    // ---------- rewrite ----------

    [Fact]
    public void ConvPatternBecomesOneIntegerNode()
    {
        var g = Lowered(ConvModel(4, 8, 3, 1, 1, 1, perAxis: true, u8: false, act: "relu"));
        Assert.Equal("QuantizeLinear,QConvInt8,DequantizeLinear,Identity", Ops(g));
        Assert.Empty(g.Notes);
        var node = g.Nodes[1];
        Assert.Equal(DType.Int8, node.Out().Type);
        Assert.Equal(3, node.Int("y_zero_point", 0)); // Relu: the clamp starts at the output zero point
        Assert.Equal(3, node.Int("qmin", 0));
        // the same model with the lowering switched off keeps the float Conv on folded weights
        var off = new ModelGen.Compiler.Onnx.OnnxImporter(new ModelOptions()).Import(ConvModel(4, 8, 3, 1, 1, 1, true, false, "relu")).Graph;
        PassManager.Run(off, new ModelOptions { DisabledPasses = "QdqConvGemmLowering" });
        Assert.Contains("Conv", Ops(off).Split(','));
        Assert.DoesNotContain("QConvInt8", Ops(off).Split(','));
    }

    /// <summary>
    /// QuantizeLinear/DequantizeLinear without zero points (optional: uint8, 0) around an Add and a Mul: lowered to
    /// QLinearAdd/QLinearMul whose zero-point inputs are absent, and within one step of ONNX Runtime.
    /// </summary>
    [Theory]
    [InlineData("Add")]
    [InlineData("Mul")]
    public void QdqWithoutZeroPointsLowers(string op)
    {
        var b = new OnnxBuilder(13).Input("a", DType.Float, 1, 3, 4).Input("b", DType.Float, 1, 3, 4);
        b.Initializer("s_a", Array.Empty<int>(), new[] { 0.01f }).Initializer("s_b", Array.Empty<int>(), new[] { 0.02f });
        b.Initializer("s_y", Array.Empty<int>(), new[] { op == "Add" ? 0.02f : 0.0004f });
        b.Node("QuantizeLinear", new[] { "a", "s_a" }, new[] { "qa" }).Node("DequantizeLinear", new[] { "qa", "s_a" }, new[] { "da" });
        b.Node("QuantizeLinear", new[] { "b", "s_b" }, new[] { "qb" }).Node("DequantizeLinear", new[] { "qb", "s_b" }, new[] { "db" });
        b.Node(op, new[] { "da", "db" }, new[] { "sum" });
        b.Node("QuantizeLinear", new[] { "sum", "s_y" }, new[] { "qy" }).Node("DequantizeLinear", new[] { "qy", "s_y" }, new[] { "y" });
        var model = b.Output("y").Build();
        Assert.Equal($"QuantizeLinear,QuantizeLinear,QLinear{op},DequantizeLinear", Ops(Lowered(model)));
        var rng = new Random(3);
        float[] In() => Enumerable.Range(0, 12).Select(_ => (float)rng.NextDouble() * 2.4f).ToArray();
        AgreeWithOrt(model, op == "Add" ? 0.02f : 0.0004f, In(), In());
    }

    // ---------- activations as tables (LookupTables) ----------

    /// <summary>x -> QDQ -> an activation written the ways exporters and quantizers leave it -> QDQ -> float y.</summary>
    static byte[] ActivationModel(string act, bool u8)
    {
        var q = new Qdq(new OnnxBuilder(14).Input("x", DType.Float, 1, 4, 6, 7), u8);
        var xd = q.QD("x", 0.04f, u8 ? 128 : 0);
        var b = q.B;
        string y;
        switch (act)
        {
            case "HardSwish" or "HardSigmoid" or "Tanh" or "Elu":
                b.Node(act, new[] { xd }, new[] { "act" });
                y = "act";
                break;
            case "exported":
                // x * Clip(x + 3, 0, 6) / 6 left in float between the QDQ pairs
                b.Initializer("three", Array.Empty<int>(), new[] { 3f }).Initializer("zero", Array.Empty<int>(), new[] { 0f })
                    .Initializer("six", Array.Empty<int>(), new[] { 6f });
                b.Node("Add", new[] { xd, "three" }, new[] { "p3" }).Node("Clip", new[] { "p3", "zero", "six" }, new[] { "c6" })
                    .Node("Mul", new[] { xd, "c6" }, new[] { "m" }).Node("Div", new[] { "m", "six" }, new[] { "act" });
                y = "act";
                break;
            case "reshaped":
                // a Reshape on either side of the float node (as the MatMul lowering leaves around a transformer's GELU)
                b.Initializer("flat", new[] { 3 }, new long[] { 1, 4, 42 }).Initializer("back", new[] { 4 }, new long[] { 1, 4, 6, 7 });
                b.Node("Reshape", new[] { xd, "flat" }, new[] { "r1" }).Node("Tanh", new[] { "r1" }, new[] { "t" })
                    .Node("Reshape", new[] { "t", "back" }, new[] { "act" });
                y = "act";
                break;
            case "silu":
                // as the quantizers write SiLU: the sigmoid quantized on its own, then the product
                b.Node("Sigmoid", new[] { xd }, new[] { "sig" });
                var sd = q.QD("sig", 1f / 256, u8 ? 0 : -128);
                b.Node("Mul", new[] { xd, sd }, new[] { "act" });
                y = "act";
                break;
            default: // "chained": a sigmoid's codes through a tanh
                b.Node("Sigmoid", new[] { xd }, new[] { "sig" });
                var cd = q.QD("sig", 1f / 256, u8 ? 0 : -128);
                b.Node("Tanh", new[] { cd }, new[] { "act" });
                y = "act";
                break;
        }
        var yd = q.QD(y, 0.03f, u8 ? 100 : -20);
        return b.Node("Identity", new[] { yd }, new[] { "y" }).Output("y").Build();
    }

    /// <summary>
    /// Each activation becomes one Int8Lookup between the input's QuantizeLinear and the output's DequantizeLinear, and
    /// agrees with ONNX Runtime (which runs the float nodes between the QDQ pairs) within one step, every input code
    /// included; with the pass off, the float nodes stay.
    /// </summary>
    [Theory]
    [InlineData("HardSwish", false)]
    [InlineData("HardSwish", true)]
    [InlineData("HardSigmoid", false)]
    [InlineData("Tanh", true)]
    [InlineData("Elu", false)]
    [InlineData("exported", false)]
    [InlineData("silu", false)]
    [InlineData("silu", true)]
    [InlineData("chained", false)]
    [InlineData("reshaped", false)]
    [InlineData("reshaped", true)]
    public void ActivationsBecomeTables(string act, bool u8)
    {
        var model = ActivationModel(act, u8);
        // the reshapes move to the int8 side, around the table
        Assert.Equal(act == "reshaped" ? "QuantizeLinear,Reshape,Int8Lookup,Reshape,DequantizeLinear,Identity" : "QuantizeLinear,Int8Lookup,DequantizeLinear,Identity",
            Ops(Lowered(model)));
        var off = new ModelGen.Compiler.Onnx.OnnxImporter(new ModelOptions()).Import(model).Graph;
        PassManager.Run(off, new ModelOptions { DisabledPasses = "LookupTables" });
        Assert.DoesNotContain("Int8Lookup", Ops(off).Split(','));
        // 168 inputs across [-6, 6]: with scale 0.04 every int8 code and more
        var x = Enumerable.Range(0, 168).Select(i => -6f + 12f * i / 167).ToArray();
        AgreeWithOrt(model, 0.03f, x);
    }

    /// <summary>
    /// A float node that keeps its input's shape but mixes its elements (Softmax over the last axis) is not a table: it
    /// stays float between the QDQ pairs, within one step of ONNX Runtime.
    /// </summary>
    [Fact]
    public void ShapeKeepingNonElementwiseNodesStayFloat()
    {
        var q = new Qdq(new OnnxBuilder(13).Input("x", DType.Float, 1, 4, 16), false);
        var xd = q.QD("x", 0.04f, 0);
        q.B.Node("Softmax", new[] { xd }, new[] { "sm" }, ("axis", -1L));
        var yd = q.QD("sm", 1f / 256, -128);
        var model = q.B.Node("Identity", new[] { yd }, new[] { "y" }).Output("y").Build();
        var ops = Ops(Lowered(model)).Split(',');
        Assert.Contains("Softmax", ops);
        Assert.DoesNotContain("Int8Lookup", ops);
        AgreeWithOrt(model, 1f / 256, Input(64, 9, 4f));
    }

    [Fact]
    public void QuantizedWeightsOnFloatActivationsAreReported()
    {
        var q = new Qdq(new OnnxBuilder().Input("x", DType.Float, 1, 2, 5, 5), false);
        var wd = q.Weights(new[] { 3, 2, 1, 1 }, 0, new[] { 0.01f }, 1);
        var model = q.B.Node("Conv", new[] { "x", wd }, new[] { "y" }).Output("y").Build();
        var g = Lowered(model);
        Assert.Equal("Conv", Ops(g)); // runs in float on folded weights
        Assert.Contains(g.Notes, d => d.Kind == Diag.QuantizedNotLowered && d.Message.Contains("DequantizeLinear"));
        var r = ModelCompiler.Compile(model, "m.onnx", new ModelOptions());
        Assert.True(r.Success);
        Assert.Contains(r.Diagnostics, d => d.Kind.Id == "MG0013");
        OpCheck.AgainstOrt(model, 1e-5, Input(50, 1, 1f));
    }

    // ---------- against ONNX Runtime ----------

    [Theory]
    [InlineData(8, 16, 1, 1, 0, 1, true, false, "none")]   // pointwise
    [InlineData(4, 8, 3, 1, 1, 1, true, false, "relu")]    // 3x3 padded
    [InlineData(4, 8, 3, 2, 1, 1, false, true, "relu6")]   // strided, per-tensor, uint8
    [InlineData(6, 6, 3, 1, 1, 6, true, false, "relu6")]   // depthwise
    [InlineData(6, 6, 3, 2, 0, 6, true, true, "none")]     // depthwise strided, uint8
    [InlineData(4, 6, 3, 1, 0, 2, true, true, "relu")]     // grouped
    [InlineData(3, 5, 5, 1, 2, 1, false, false, "none")]   // odd reduction (75)
    public void ConvAgreesWithOrt(int c, int m, int k, int stride, int pad, int group, bool perAxis, bool u8, string act)
    {
        var model = ConvModel(c, m, k, stride, pad, group, perAxis, u8, act);
        Assert.Contains("QConvInt8", Ops(Lowered(model)));
        AgreeWithOrt(model, 0.05f, Input(c * 9 * 11, 11, 3f));
    }

    /// <summary>
    /// Convolutions whose output planes are small (here 5 x 6 positions of 64 channels and 3 x 4 of 36) compile to QConvRows (im2col rows,
    /// output channels in the lanes) and agree with ONNX Runtime within one step, as do the Portable loops.
    /// </summary>
    [Theory]
    [InlineData(6, 64, 3, 2, 1, true, false, "relu")]
    [InlineData(12, 36, 5, 3, 2, false, true, "none")]
    public void SmallPlaneConvRunsAsRows(int c, int m, int k, int stride, int pad, bool perAxis, bool u8, string act)
    {
        var model = ConvModel(c, m, k, stride, pad, 1, perAxis, u8, act);
        var r = ModelCompiler.Compile(model, "m.onnx", new ModelOptions { ClassName = "M" });
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        Assert.Contains("ModelGen.Runtime.QConvRows.Run(", r.Source);
        AgreeWithOrt(model, 0.05f, Input(c * 9 * 11, 11, 3f));
    }

    [Theory]
    [InlineData(true, true, false)]
    [InlineData(false, false, true)]
    public void GemmAgreesWithOrt(bool transB, bool perAxis, bool u8)
    {
        int mRows = 3, k = 37, n = 10;
        var q = new Qdq(new OnnxBuilder().Input("x", DType.Float, mRows, k), u8);
        float xs = 0.02f;
        var xd = q.QD("x", xs, u8 ? 128 : 0);
        var ws = perAxis ? Scales(n, 2, 0.003f, 0.01f) : new[] { 0.005f };
        var wd = q.Weights(transB ? new[] { n, k } : new[] { k, n }, transB ? 0 : 1, ws, 4);
        var bd = q.Bias(n, xs, ws, 6);
        q.B.Node("Gemm", new[] { xd, wd, bd }, new[] { "g" }, ("transB", transB ? 1L : 0L));
        var y = q.Act6("g", "relu");
        var yd = q.QD(y, 0.04f, u8 ? 100 : -20);
        var model = q.B.Node("Identity", new[] { yd }, new[] { "y" }).Output("y").Build();
        Assert.Contains("QGemmInt8", Ops(Lowered(model)));
        AgreeWithOrt(model, 0.04f, Input(mRows * k, 3, 2f));
    }

    /// <summary>
    /// A QDQ Gemm inside each branch of a run-time If (as Quantize="Int8" writes into hey_jarvis's verifier branch) lowers
    /// to QGemmInt8 like one in the main graph, instead of dequantizing its weights on every call.
    /// </summary>
    [Fact]
    public void GemmInsideIfBranchesIsLowered()
    {
        int k = 16, n = 8;
        var q = new Qdq(new OnnxBuilder(), false);
        GraphProto Branch(int seed)
        {
            var ws = Scales(n, seed, 0.004f, 0.02f);
            var xd = q.QD("x", 0.02f, 3);
            q.B.Node("Gemm", new[] { xd, q.Weights(new[] { n, k }, 0, ws, seed), q.Bias(n, 0.02f, ws, seed + 1) }, new[] { "g" + seed }, ("transB", 1L));
            q.B.Node("Identity", new[] { q.QD("g" + seed, 0.05f, -2) }, new[] { "out" + seed }).Output("out" + seed);
            var g = q.B.Proto.Graph.Clone();
            g.Name = "branch" + seed; g.Initializer.Clear();
            q.B.Proto.Graph.Node.Clear(); q.B.Proto.Graph.Output.Clear();
            return g;
        }
        var b = new OnnxBuilder().Input("x", DType.Float, 1, k).Initializer("zero", Array.Empty<int>(), new[] { 0f })
            .Node("ReduceSum", new[] { "x" }, new[] { "s" }, ("keepdims", 0L))
            .Node("Greater", new[] { "s", "zero" }, new[] { "c" })
            .Node("If", new[] { "c" }, new[] { "y" }, ("then_branch", Branch(1)), ("else_branch", Branch(2)))
            .Output("y");
        b.Proto.Graph.Initializer.AddRange(q.B.Proto.Graph.Initializer); // the branches' constants, from the outer scope
        var model = b.Build();
        var r = ModelCompiler.Compile(model, "m.onnx", new ModelOptions());
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        Assert.DoesNotContain(r.Diagnostics, d => d.Kind.Id == "MG0013");
        Assert.Equal(2, r.Source!.Split("ModelGen.Runtime.QGemm.Run(").Length - 1);
        var x = Input(k, 8, 2f);
        AgreeWithOrt(model, 0.05f, x);
        AgreeWithOrt(model, 0.05f, x.Select(v => -v).ToArray());
    }

    [Fact]
    public void MatMulWithBiasAddAgreesWithOrt()
    {
        int k = 24, n = 12;
        var q = new Qdq(new OnnxBuilder().Input("x", DType.Float, 2, 3, k), false);
        var xd = q.QD("x", 0.02f, 5);
        var wd = q.Weights(new[] { k, n }, 1, Scales(n, 8, 0.004f, 0.02f), 9);
        q.B.Initializer("bias", new[] { n }, Input(n, 4, 0.5f));
        q.B.Node("MatMul", new[] { xd, wd }, new[] { "mm" }).Node("Add", new[] { "mm", "bias" }, new[] { "a" });
        var yd = q.QD("a", 0.03f, -4);
        var model = q.B.Node("Identity", new[] { yd }, new[] { "y" }).Output("y").Build();
        Assert.Contains("QGemmInt8", Ops(Lowered(model)));
        AgreeWithOrt(model, 0.03f, Input(6 * k, 5, 2f));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ResidualBlockRunsOnIntegers(bool u8)
    {
        // conv -> relu -> Q/DQ -> conv -> Q/DQ -> Add(residual) -> Q/DQ -> MaxPool -> Q/DQ -> Flatten -> Q/DQ -> Gemm
        int c = 8;
        var q = new Qdq(new OnnxBuilder().Input("x", DType.Float, 1, c, 8, 8), u8);
        float xs = 0.03f;
        var xd = q.QD("x", xs, u8 ? 128 : 0);
        var ws1 = Scales(c, 1, 0.004f, 0.01f);
        q.B.Node("Conv", new[] { xd, q.Weights(new[] { c, c, 3, 3 }, 0, ws1, 2), q.Bias(c, xs, ws1, 3) }, new[] { "c1" }, ("pads", new long[] { 1, 1, 1, 1 }));
        var h = q.QD(q.Act6("c1", "relu"), 0.03f, u8 ? 0 : -128);
        var ws2 = Scales(c, 4, 0.004f, 0.01f);
        q.B.Node("Conv", new[] { h, q.Weights(new[] { c, c, 1, 1 }, 0, ws2, 5), q.Bias(c, 0.03f, ws2, 6) }, new[] { "c2" });
        var c2 = q.QD("c2", 0.04f, u8 ? 128 : 0);
        q.B.Node("Add", new[] { c2, xd }, new[] { "sum" });
        var s = q.QD("sum", 0.05f, u8 ? 125 : -3);
        q.B.Node("MaxPool", new[] { s }, new[] { "mp" }, ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 }));
        var mp = q.QD("mp", 0.05f, u8 ? 125 : -3);
        q.B.Node("Flatten", new[] { mp }, new[] { "fl" });
        var fl = q.QD("fl", 0.05f, u8 ? 125 : -3);
        var ws3 = Scales(5, 7, 0.002f, 0.004f);
        q.B.Node("Gemm", new[] { fl, q.Weights(new[] { 5, c * 16 }, 0, ws3, 8), q.Bias(5, 0.05f, ws3, 9) }, new[] { "g" }, ("transB", 1L));
        var yd = q.QD("g", 0.1f, u8 ? 128 : 0);
        var model = q.B.Node("Identity", new[] { yd }, new[] { "y" }).Output("y").Build();
        var g = Lowered(model);
        Assert.Equal("QuantizeLinear,QConvInt8,QConvInt8,QLinearAdd,MaxPool,Flatten,QGemmInt8,DequantizeLinear,Identity", Ops(g));
        Assert.DoesNotContain(g.Nodes, n => n.OpType == "MaxPool" && n.Out().Type == DType.Float);
        AgreeWithOrt(model, 0.1f, Input(c * 64, 12, 3f));
    }

    /// <summary>
    /// A MobileNet-style int8 body: 1x1 (8 -> 16), depthwise, 1x1 (16 -> 24), depthwise stride 2, 1x1 (24 -> 20).
    /// Int8ChannelsLast keeps the tensors between them channels last: the first layer reads NCHW, the last writes it,
    /// no reorder node. A tensor also read by another node (a second, dequantized output) stays NCHW and splits the
    /// chain there. ONNX Runtime agrees within one step, both profiles (Portable has no channels-last nodes).
    /// </summary>
    [Theory]
    [InlineData(false, false, false)]
    [InlineData(true, false, false)]
    [InlineData(false, true, false)]
    [InlineData(false, false, true)]
    public void ChannelsLastChainMatchesNchwAndOrt(bool branch, bool u8, bool big)
    {
        // big: a 26 x 26 plane, past the 1x1 layers' limit (QConvInt8.MaxChainPlane): the 8 -> 16 layer stays NCHW (16
        // output channels fill half of QPointwise's 32 lanes); 16 -> 24 fills three quarters and joins the chain
        int h0 = big ? 26 : 10, w0 = big ? 26 : 9, p1 = big ? 169 : 25;
        var q = new Qdq(new OnnxBuilder().Input("x", DType.Float, 1, 8, h0, w0), u8);
        float xs = 0.03f;
        var h = q.QD("x", xs, u8 ? 130 : -5);
        int c = 8, seed = 1;
        string? kept = null;
        foreach (var (m, depthwise, stride) in new[] { (16, false, 1), (16, true, 1), (24, false, 1), (24, true, 2), (20, false, 1) })
        {
            string y = BodyConv(q, h, c, m, depthwise, stride, xs, ref seed);
            xs = 0.02f + 0.01f * (seed % 3);
            h = q.QD(q.Act6(y, "relu"), xs, u8 ? 5 : -120);
            if (branch && kept == null && depthwise) kept = h;
            c = m;
        }
        q.B.Node("Identity", new[] { h }, new[] { "y" }).Output("y");
        if (branch) q.B.Node("Identity", new[] { kept! }, new[] { "z" }).Output("z");
        var model = q.B.Build();
        var g = Lowered(model);
        var convs = g.Nodes.Where(n => n.OpType == "QConvInt8").ToList();
        Assert.Equal(5, convs.Count);
        Assert.DoesNotContain(g.Nodes, n => n.OpType == "ChannelBlocks");
        // the tensor after the first depthwise layer is also the second output's (branch): written and read as NCHW
        var wantIn = big ? new long[] { 0, 0, 1, 1, 1 } : branch ? new long[] { 0, 1, 0, 1, 1 } : new long[] { 0, 1, 1, 1, 1 };
        var wantOut = big ? new long[] { 0, 1, 1, 1, 0 } : branch ? new long[] { 1, 0, 1, 1, 0 } : new long[] { 1, 1, 1, 1, 0 };
        Assert.Equal(wantIn, convs.Select(n => n.Int("mg_nhwc_in", 0)));
        Assert.Equal(wantOut, convs.Select(n => n.Int("mg_nhwc_out", 0)));
        var portable = new ModelGen.Compiler.Onnx.OnnxImporter(new ModelOptions()).Import(model).Graph;
        PassManager.Run(portable, new ModelOptions { Target = TargetProfile.Portable });
        Assert.DoesNotContain(portable.Nodes, n => n.Int("mg_nhwc_in", 0) != 0 || n.Int("mg_nhwc_out", 0) != 0);
        // the same integers as the NCHW kernels, bit for bit; and close to ONNX Runtime (five layers of rounding: ORT's
        // own kernels round some intermediate values differently, with or without this pass, and the steps add up)
        var (on, ort) = SameWithoutChannelsLast(model, Input(8 * h0 * w0, 3, 3f), branch ? new[] { 20 * p1, 16 * h0 * w0 } : new[] { 20 * p1 });
        for (int o = 0; o < on.Length; o++)
        {
            var e = (float[])ort[o]; var a = (float[])on[o];
            for (int i = 0; i < e.Length; i++) Assert.True(Math.Abs(e[i] - a[i]) <= 0.5f, $"output {o}[{i}]: ORT {e[i]}, ModelGen {a[i]}");
            int near = e.Zip(a).Count(t => Math.Abs(t.First - t.Second) <= 0.1f);
            Assert.True(near >= e.Length * 9 / 10, $"output {o}: {near} of {e.Length} within 0.1 of ONNX Runtime");
        }
    }

    /// <summary>
    /// MobileNetV2's int8 tail: a 1x1 layer, an inverted residual block (1x1 8 -> 16, depthwise, 1x1 16 -> 8) whose
    /// output is added to the block's input, a global average pool. Int8ChannelsLast keeps the block's tensors and both
    /// of the add's inputs and its output channels last, and the pool reads them so (mg_nhwc_in). Where the block's input
    /// is also a graph output (branch) it stays NCHW, so the add's other input and its output do too. The same integers
    /// with the pass off, bit for bit; ONNX Runtime within one step at the pooled output.
    /// </summary>
    [Theory]
    [InlineData(false, false, false)]
    [InlineData(true, false, false)]
    [InlineData(false, true, false)]
    [InlineData(false, false, true)]
    public void ResidualAddAndGlobalPoolStayChannelsLast(bool branch, bool u8, bool qlinearGlobal)
    {
        var q = new Qdq(new OnnxBuilder().Input("x", DType.Float, 1, 8, 7, 6), u8);
        float xs = 0.03f;
        var h = q.QD("x", xs, u8 ? 130 : -5);
        int c = 8, seed = 1;
        string? blockIn = null;
        foreach (var (m, depthwise) in new[] { (8, false), (16, false), (16, true), (8, false) })
        {
            string y = BodyConv(q, h, c, m, depthwise, 1, xs, ref seed);
            xs = 0.02f + 0.01f * (seed % 3);
            h = blockIn == null || m != 8 ? q.QD(q.Act6(y, "relu6"), xs, u8 ? 5 : -120) : q.QD(y, xs, u8 ? 128 : 0);
            blockIn ??= h;
            c = m;
        }
        q.B.Node("Add", new[] { h, blockIn! }, new[] { "sum" });
        var sum = q.QD("sum", 0.05f, u8 ? 125 : -3);
        if (qlinearGlobal) q.B.Node("GlobalAveragePool", new[] { sum }, new[] { "gap" });
        else q.B.Node("AveragePool", new[] { sum }, new[] { "gap" }, ("kernel_shape", new long[] { 7, 6 }));
        var gap = q.QD("gap", 0.02f, u8 ? 128 : 0);
        q.B.Node("Identity", new[] { gap }, new[] { "y" }).Output("y");
        if (branch) q.B.Node("Identity", new[] { blockIn! }, new[] { "z" }).Output("z");
        var model = q.B.Build();
        var g = Lowered(model);
        var convs = g.Nodes.Where(n => n.OpType == "QConvInt8").ToList();
        Assert.Equal(4, convs.Count);
        Assert.Single(g.Nodes, n => n.OpType == "QLinearAdd");
        var pool = Assert.Single(g.Nodes, n => n.OpType == (qlinearGlobal ? "QLinearGlobalAveragePool" : "QLinearAveragePool"));
        Assert.Equal(new long[] { 0, branch ? 0 : 1, 1, 1 }, convs.Select(n => n.Int("mg_nhwc_in", 0)));
        Assert.Equal(new long[] { branch ? 0 : 1, 1, 1, branch ? 0 : 1 }, convs.Select(n => n.Int("mg_nhwc_out", 0)));
        Assert.Equal(branch ? 0 : 1, pool.Int("mg_nhwc_in", 0));
        var (on, ort) = SameWithoutChannelsLast(model, Input(8 * 42, 3, 3f), branch ? new[] { 8, 8 * 42 } : new[] { 8 });
        for (int o = 0; o < on.Length; o++)
        {
            var e = (float[])ort[o]; var a = (float[])on[o];
            float step = o == 0 ? 0.02f : 0.05f;
            for (int i = 0; i < e.Length; i++) Assert.True(Math.Abs(e[i] - a[i]) <= step * 1.01f, $"output {o}[{i}]: ORT {e[i]}, ModelGen {a[i]}");
        }
    }

    /// <summary>
    /// A MobileNetV3 block with squeeze-excite: a 1x1 expansion and HardSwish (an Int8Lookup), a depthwise layer, the
    /// global pool, two 1x1 layers and HardSigmoid (the gate, [1, C, 1, 1]), the gate's QLinearMul, a 1x1 projection.
    /// Int8ChannelsLast keeps the lookup's, the depthwise layer's and the mul's tensors channels last (the mul runs
    /// Int8.MulChannelsLast, the pool reads channels last). Where the depthwise output is also a graph output (branch)
    /// the mul's input and output, and so the projection's input, stay NCHW. Bit for bit with the pass off; ONNX Runtime
    /// within two steps.
    /// </summary>
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void SqueezeExciteStaysChannelsLast(bool branch, bool u8)
    {
        var q = new Qdq(new OnnxBuilder(14).Input("x", DType.Float, 1, 8, 6, 5), u8); // HardSwish: opset 14
        float xs = 0.03f;
        var h = q.QD("x", xs, u8 ? 130 : -5);
        int seed = 1;
        // a quantize-dequantize pair between each layer and its activation, as ONNX Runtime's quantizer writes them
        var e = q.QD(BodyConv(q, h, 8, 24, false, 1, xs, ref seed), 0.03f, u8 ? 100 : -28);
        q.B.Node("HardSwish", new[] { e }, new[] { "hs" });
        var ex = q.QD("hs", 0.025f, u8 ? 20 : -110);
        var d = BodyConv(q, ex, 24, 24, true, 1, 0.025f, ref seed);
        var dw = q.QD(q.Act6(d, "relu"), 0.02f, u8 ? 0 : -128);
        q.B.Node("GlobalAveragePool", new[] { dw }, new[] { "gap" });
        var gap = q.QD("gap", 0.01f, u8 ? 0 : -128);
        var f1 = q.QD(q.Act6(BodyConv(q, gap, 24, 8, false, 1, 0.01f, ref seed), "relu"), 0.01f, u8 ? 0 : -128);
        q.B.Node("HardSigmoid", new[] { q.QD(BodyConv(q, f1, 8, 24, false, 1, 0.01f, ref seed), 0.02f, u8 ? 128 : 0) }, new[] { "gate" }, ("alpha", 1f / 6), ("beta", 0.5f));
        var gate = q.QD("gate", 1f / 255, u8 ? 0 : -128);
        q.B.Node("Mul", new[] { dw, gate }, new[] { "scaled" });
        var scaled = q.QD("scaled", 0.02f, u8 ? 0 : -128);
        var y = q.QD(BodyConv(q, scaled, 24, 8, false, 1, 0.02f, ref seed), 0.05f, u8 ? 128 : 0);
        q.B.Node("Identity", new[] { y }, new[] { "y" }).Output("y");
        if (branch) q.B.Node("Identity", new[] { dw }, new[] { "z" }).Output("z");
        var model = q.B.Build();
        var g = Lowered(model);
        Assert.True(2 == g.Nodes.Count(n => n.OpType == "Int8Lookup"), Ops(g));
        var mul = Assert.Single(g.Nodes, n => n.OpType == "QLinearMul");
        var pool = Assert.Single(g.Nodes, n => n.OpType == "QLinearGlobalAveragePool");
        var convs = g.Nodes.Where(n => n.OpType == "QConvInt8").ToList();
        Assert.Equal(5, convs.Count); // expand, depthwise, two on the gate, project
        Assert.Equal(branch ? 0 : 1, mul.Int("mg_nhwc_in", 0));
        Assert.Equal(branch ? 0 : 1, pool.Int("mg_nhwc_in", 0));
        Assert.Equal(1, convs[0].Int("mg_nhwc_out", 0));                   // through the HardSwish lookup
        Assert.Equal(new long[] { 1, branch ? 0 : 1 }, new[] { convs[1].Int("mg_nhwc_in", 0), convs[1].Int("mg_nhwc_out", 0) });
        Assert.Equal(branch ? 0 : 1, convs[4].Int("mg_nhwc_in", 0));
        var (on, ort) = SameWithoutChannelsLast(model, Input(8 * 30, 3, 3f), branch ? new[] { 8 * 30, 24 * 30 } : new[] { 8 * 30 });
        for (int o = 0; o < on.Length; o++)
        {
            var ev = (float[])ort[o]; var a = (float[])on[o];
            // two steps: the HardSwish table rounds once where ONNX Runtime's float HardSwish does not, and the
            // depthwise layer after it can move that to a second step
            float step = o == 0 ? 0.05f : 0.02f;
            for (int i = 0; i < ev.Length; i++) Assert.True(Math.Abs(ev[i] - a[i]) <= 2 * step * 1.01f, $"output {o}[{i}]: ORT {ev[i]}, ModelGen {a[i]}");
        }
    }

    /// <summary>
    /// A MobileNet body's layer on h (c channels, quantized at xs): a 3x3 depthwise convolution (padding 1) or a 1x1 one
    /// to m channels, per-channel int8 weights and int32 bias from seeds seed.. (three taken); returns its float output.
    /// </summary>
    static string BodyConv(Qdq q, string h, int c, int m, bool depthwise, int stride, float xs, ref int seed)
    {
        var ws = Scales(m, seed++, 0.004f, 0.02f);
        var wd = q.Weights(depthwise ? new[] { m, 1, 3, 3 } : new[] { m, c, 1, 1 }, 0, ws, seed++);
        string y = "conv" + seed;
        q.B.Node("Conv", new[] { h, wd, q.Bias(m, xs, ws, seed++) }, new[] { y }, ("pads", depthwise ? new long[] { 1, 1, 1, 1 } : new long[] { 0, 0, 0, 0 }),
            ("strides", new long[] { stride, stride }), ("group", depthwise ? (long)m : 1L));
        return y;
    }

    /// <summary>
    /// The Net profile's float outputs (lengths given) with Int8ChannelsLast, asserted bit for bit equal to those
    /// without it (the NCHW kernels' integers), and ONNX Runtime's.
    /// </summary>
    static (Array[] On, Array[] Ort) SameWithoutChannelsLast(byte[] model, float[] x, int[] lens)
    {
        var types = Enumerable.Repeat(typeof(float), lens.Length).ToArray();
        var on = OpCheck.RunModelGen(model, TargetProfile.Net, new Array[] { x }, lens, types);
        var off = OpCheck.RunModelGen(model, TargetProfile.Net, new Array[] { x }, lens, types, new ModelOptions { DisabledPasses = "Int8ChannelsLast" });
        for (int o = 0; o < lens.Length; o++) Assert.Equal((float[])off[o], (float[])on[o]);
        return (on, OpCheck.RunOrt(model, new Array[] { x }));
    }

    // ---------- integer arithmetic: reference vs runtime ----------

    [Fact]
    public void QuantizeMultiplierCoversLargeAndTinyMultipliers()
    {
        foreach (var real in new[] { 0.5, 0.75, 1.0, 1.5, 3.9, 1e-3, 1e-9, 1e-12, 2e9, 0.0 })
        {
            FixedPoint.QuantizeMultiplier(real, out int m, out int s);
            if (real == 0 || real < Math.Pow(2, -32)) { Assert.Equal(0, m); continue; }
            Assert.InRange(m, 1 << 30, int.MaxValue);
            Assert.InRange(s, -31, 30);
            if (real < 1e9) Assert.Equal(real, m * Math.Pow(2, s - 31), real * 1e-9);
        }
        // one exact case: 0.75 = 0.75 * 2^0
        FixedPoint.QuantizeMultiplier(0.75, out int m3, out int s3);
        Assert.Equal((1 << 30) + (1 << 29), m3); Assert.Equal(0, s3);
    }

    /// <summary>The bounded requantization (|acc| &lt; 2^30, right shifts only) of the fused convolution kernels, every width, vs the reference.</summary>
    [Fact]
    public unsafe void BoundedRequantizationIsTheReference()
    {
        var r = new Random(5);
        var xs = new List<int> { 0, 1, -1, (1 << 30) - 1, -(1 << 30) + 1, 1 << 20, -(1 << 20), 12345, -12345 };
        for (int i = 0; i < 4000; i++) xs.Add(r.Next(-(1 << 30) + 1, 1 << 30) >> r.Next(0, 31));
        for (int e = 1; e < 16; e++) { xs.Add(3 << (e - 1)); xs.Add(-(3 << (e - 1))); xs.Add(1 << (e - 1)); xs.Add(-(1 << (e - 1))); } // ties
        var reals = new[] { 3e-10, 1e-6, 3.7e-4, 0.01, 0.2, 0.25, 0.4999 };
        var lanes = new int[16];
        byte* y = stackalloc byte[16];
        foreach (var real in reals)
            foreach (var exactMultiplier in new[] { false, true })
            {
                FixedPoint.QuantizeMultiplier(real, out int m, out int s);
                if (exactMultiplier) m = 1 << 30; // exact halves: the ties
                Assert.InRange(s, -31, -1);
                long k = Bounded.K(-s);
                for (int i = 0; i < xs.Count; i += 16)
                {
                    for (int l = 0; l < 16; l++) lanes[l] = xs[(i + l) % xs.Count];
                    var want = lanes.Select(x => (byte)FixedPoint.Requantize(x, m, s, 3, -128, 127)).ToArray();
                    void Check(int n) { for (int l = 0; l < n; l++) Assert.True(want[l] == y[l], $"real {real} acc {lanes[l]}: {(sbyte)y[l]}, reference {(sbyte)want[l]}"); }
                    if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
                    {
                        Q512.StoreBounded(System.Runtime.Intrinsics.Vector512.Create<int>(lanes), System.Runtime.Intrinsics.Vector512.Create(m), k, -s,
                            System.Runtime.Intrinsics.Vector512.Create(3), System.Runtime.Intrinsics.Vector512.Create(-128), System.Runtime.Intrinsics.Vector512.Create(127), y);
                        Check(16);
                    }
                    if (System.Runtime.Intrinsics.X86.Avx2.IsSupported)
                    {
                        Q256.StoreBounded(System.Runtime.Intrinsics.Vector256.Create<int>(lanes.AsSpan(0, 8)), System.Runtime.Intrinsics.Vector256.Create(m), k, -s,
                            System.Runtime.Intrinsics.Vector256.Create(3), System.Runtime.Intrinsics.Vector256.Create(-128), System.Runtime.Intrinsics.Vector256.Create(127), y);
                        Check(8);
                    }
                    Q128.StoreBounded(System.Runtime.Intrinsics.Vector128.Create<int>(lanes.AsSpan(0, 4)), System.Runtime.Intrinsics.Vector128.Create(m), k, -s,
                        System.Runtime.Intrinsics.Vector128.Create(3), System.Runtime.Intrinsics.Vector128.Create(-128), System.Runtime.Intrinsics.Vector128.Create(127), y);
                    Check(4);
                    Q1.StoreBounded(lanes[0], m, k, -s, 3, -128, 127, y);
                    Check(1);
                    // the zero point folded into k, saturating
                    int shiftCopy = s;
                    if (!Bounded.FoldsZero(&shiftCopy, 1, 3)) continue;
                    long kz = Bounded.K(-s, 3);
                    if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
                    {
                        Q512.StoreSaturated(System.Runtime.Intrinsics.Vector512.Create<int>(lanes), System.Runtime.Intrinsics.Vector512.Create(m), kz, -s, y);
                        Check(16);
                    }
                    if (System.Runtime.Intrinsics.X86.Avx2.IsSupported)
                    {
                        Q256.StoreSaturated(System.Runtime.Intrinsics.Vector256.Create<int>(lanes.AsSpan(0, 8)), System.Runtime.Intrinsics.Vector256.Create(m), kz, -s, y);
                        Check(8);
                    }
                    Q128.StoreSaturated(System.Runtime.Intrinsics.Vector128.Create<int>(lanes.AsSpan(0, 4)), System.Runtime.Intrinsics.Vector128.Create(m), kz, -s, y);
                    Check(4);
                    Q1.StoreSaturated(lanes[0], m, kz, -s, y);
                    Check(1);
                }
            }
    }

    [Fact]
    public void RuntimeRequantizationIsTheReference()
    {
        var r = new Random(1);
        var xs = new List<int> { 0, 1, -1, int.MaxValue, int.MinValue, 1 << 30, -(1 << 30), 12345, -12345 };
        for (int i = 0; i < 2000; i++) xs.Add(r.Next(int.MinValue, int.MaxValue) >> r.Next(0, 31));
        var reals = new[] { 1e-10, 1e-6, 3.7e-4, 0.01, 0.4999, 0.5, 0.99999, 1.0, 1.7, 13.3, 3e6 };
        Span<int> lanes = stackalloc int[16];
        foreach (var real in reals)
        {
            FixedPoint.QuantizeMultiplier(real, out int m, out int s);
            for (int i = 0; i < xs.Count; i += 16)
            {
                for (int l = 0; l < 16; l++) lanes[l] = xs[(i + l) % xs.Count];
                var v512 = Requantize.Clamped(System.Runtime.Intrinsics.Vector512.Create<int>(lanes), m, s, 3, -128, 127);
                var v256 = Requantize.Clamped(System.Runtime.Intrinsics.Vector256.Create<int>(lanes[..8]), m, s, 3, -128, 127);
                var v128 = Requantize.Clamped(System.Runtime.Intrinsics.Vector128.Create<int>(lanes[..4]), m, s, 3, -128, 127);
                for (int l = 0; l < 16; l++)
                {
                    int x = lanes[l];
                    int want = FixedPoint.MultiplyByQuantizedMultiplier(x, m, s);
                    Assert.Equal(want, Requantize.Scalar(x, m, s));
                    int clamped = FixedPoint.Requantize(x, m, s, 3, -128, 127);
                    Assert.Equal(clamped, v512[l]);
                    if (l < 8) Assert.Equal(clamped, v256[l]);
                    if (l < 4) Assert.Equal(clamped, v128[l]);
                }
            }
        }
        // TFLite's documented values: rounding half away from zero in both steps
        Assert.Equal(int.MaxValue, FixedPoint.SaturatingRoundingDoublingHighMul(int.MinValue, int.MinValue));
        Assert.Equal(-1, FixedPoint.RoundingDivideByPOT(-3, 2)); // -0.75 -> -1
        Assert.Equal(-1, FixedPoint.RoundingDivideByPOT(-2, 2)); // -0.5 -> -1 (away from zero)
        Assert.Equal(1, FixedPoint.RoundingDivideByPOT(2, 2));   // 0.5 -> 1
    }

    static readonly int[] Widths = { -1, 256, 128, 0 };

    static void ForEachWidth(Action<int> body)
    {
        try { foreach (var w in Widths) { SimdLevel.ForceBits = w; body(w); } }
        finally { SimdLevel.ForceBits = -1; }
    }

    /// <summary>Random convolutions (and the extremes: -128 weights, zero points at the ends) through QConv at every width vs the reference.</summary>
    [Theory]
    [InlineData(1, 16, 16, 5, 5, 1, 1, 1, 1, 0, 1, false)]  // pointwise
    [InlineData(2, 8, 12, 9, 13, 3, 3, 1, 1, 1, 1, true)]
    [InlineData(1, 6, 10, 11, 7, 3, 2, 2, 1, 0, 1, false)]
    [InlineData(1, 8, 8, 10, 10, 3, 3, 2, 2, 1, 8, true)]   // depthwise strided, through the GEMM
    [InlineData(1, 4, 6, 7, 9, 3, 3, 1, 1, 2, 2, false)]    // grouped, dilation via padding 2
    [InlineData(1, 3, 5, 20, 20, 5, 5, 1, 1, 2, 1, true)]   // odd channels, many tiles
    [InlineData(1, 5, 7, 13, 17, 3, 3, 3, 2, 3, 1, false)]  // stride 3, dilation 2: three phases each way
    [InlineData(1, 9, 9, 6, 40, 1, 3, 1, 1, 1, 3, true)]    // grouped 1x3, rows of 40 (a tile crosses rows)
    [InlineData(1, 64, 64, 6, 6, 3, 3, 1, 1, 1, 1, true)]   // 16 blocks of 288 steps, more than the stack holds: a block per tile
    [InlineData(1, 500, 6, 5, 5, 3, 3, 1, 1, 1, 1, true)]   // a block of 250 pairs x 9 taps: chunks of taps
    [InlineData(1, 4100, 5, 3, 4, 1, 1, 1, 1, 0, 1, false)] // 2050 pairs: chunks of pairs
    [InlineData(1, 1, 12, 21, 10, 10, 4, 2, 1, 2, 1, true)] // one input channel (a stem): pairs of kernel rows, stride 2
    [InlineData(2, 1, 5, 9, 9, 3, 3, 1, 2, 1, 1, false)]    // one input channel, an odd kernel (the last pair's half 0), dilation 2
    [InlineData(1, 2, 6, 8, 8, 5, 3, 1, 1, 2, 2, true)]     // one input channel per group
    [InlineData(1, 20, 24, 3, 3, 1, 1, 1, 1, 0, 1, true)]   // 9 positions: 128-bit tiles
    [InlineData(2, 12, 9, 4, 4, 1, 1, 1, 1, 0, 1, false)]   // 16 positions: 256-bit tiles
    [InlineData(1, 7, 9, 25, 5, 1, 1, 1, 1, 0, 1, true)]    // pointwise, ds_cnn's plane: whole-plane pairs, the last tile through the stack
    [InlineData(2, 16, 12, 6, 11, 1, 1, 1, 1, 0, 2, false)] // pointwise grouped, 66 positions
    [InlineData(1, 6, 5, 7, 3, 3, 1, 1, 1, 0, 1, true)]     // 3x1: no padded columns, rows straight to y
    [InlineData(1, 3, 8, 9, 70, 3, 3, 2, 1, 1, 1, true)]    // a stride 2 stem, rows of 35 pairs: 32 at a time, then 8
    [InlineData(1, 3, 5, 5, 140, 3, 3, 2, 1, 0, 1, false)]  // rows of 69 pairs
    [InlineData(2, 16, 32, 32, 32, 1, 1, 2, 1, 0, 1, true)] // 1x1 stride 2 (a ResNet shortcut): a 1x1 layer on the subsampled input, per image
    [InlineData(1, 12, 10, 9, 35, 1, 1, 2, 1, 0, 2, false)] // grouped, rows of 18 outputs: 16 subsampled in a vector, 2 one by one
    [InlineData(1, 8, 20, 7, 7, 1, 1, 3, 1, 0, 1, true)]    // stride 3
    [InlineData(1, 6, 8, 8, 8, 1, 1, 2, 1, 1, 1, false)]    // 1x1 stride 2 with padding: the strided planes
    public void QConvKernelIsBitExact(int batch, int c, int m, int h, int w, int kh, int kw, int stride, int dil, int pad, int groups, bool signed)
        => CheckConv(batch, c, m, h, w, kh, kw, stride, dil, pad, groups, signed, depthwise: false);

    /// <summary>The direct depthwise kernel (QConv.Depthwise2D): 3x3 (unrolled taps) and other windows, strides, dilations.</summary>
    [Theory]
    [InlineData(1, 16, 12, 40, 3, 3, 1, 1, 1, true)]
    [InlineData(2, 5, 9, 11, 3, 3, 2, 1, 1, false)]
    [InlineData(1, 7, 10, 10, 3, 3, 1, 2, 2, true)]
    [InlineData(1, 4, 13, 9, 5, 5, 2, 1, 2, false)]
    [InlineData(1, 3, 8, 21, 1, 1, 1, 1, 0, true)]
    [InlineData(1, 6, 9, 7, 2, 4, 3, 1, 1, false)]
    [InlineData(1, 9, 25, 5, 3, 3, 1, 1, 1, true)]    // ds_cnn's planes: rows shorter than a vector
    [InlineData(2, 3, 6, 3, 3, 3, 1, 1, 1, false)]    // rows of 3: scalar pairs
    [InlineData(1, 3, 7, 19, 3, 3, 1, 1, 4, true)]    // padding 4: gaps of 8 zeros between rows
    [InlineData(1, 4, 12, 40, 3, 3, 2, 1, 1, true)]   // stride 2: even columns in vectors
    [InlineData(1, 3, 9, 41, 3, 3, 2, 1, 0, false)]
    [InlineData(1, 5, 12, 12, 3, 3, 2, 1, 1, true)]   // stride 2, rows shorter than a vector
    [InlineData(2, 3, 7, 9, 3, 3, 2, 1, 1, false)]
    [InlineData(1, 64, 25, 5, 3, 3, 1, 1, 1, true)]   // ds_cnn's layer: 512-bit blocks of 16 channels
    [InlineData(1, 40, 12, 12, 3, 3, 2, 1, 1, false)] // 2.5 blocks: the last one overlaps, stride 2
    [InlineData(2, 20, 6, 6, 3, 3, 1, 1, 1, true)]    // positions in groups, the last one shifted back
    public void QDepthwiseKernelIsBitExact(int batch, int c, int h, int w, int kh, int kw, int stride, int dil, int pad, bool signed)
        => CheckConv(batch, c, c, h, w, kh, kw, stride, dil, pad, c, signed, depthwise: true);

    /// <summary>QPointwise (1x1 on small planes, output channels in the lanes): tiles of 6 down to 1 positions, channel counts off the vectors, odd inputs.</summary>
    [Theory]
    [InlineData(1, 128, 128, 6, 6, true)]
    [InlineData(2, 20, 40, 3, 3, false)]
    [InlineData(1, 7, 17, 5, 5, true)]
    [InlineData(1, 64, 100, 7, 7, false)]
    [InlineData(1, 3, 33, 1, 2, true)]
    [InlineData(1, 20, 1100, 3, 3, false)]  // more output channels than a pass takes (a 1280-channel head): two passes
    public void QPointwiseKernelIsBitExact(int batch, int c, int m, int h, int w, bool signed)
        => CheckConv(batch, c, m, h, w, 1, 1, 1, 1, 0, 1, signed, depthwise: false, lanes: true);

    /// <summary>
    /// QConvRows (small output planes: im2col rows through QPointwise): kernels, strides, dilations and padding, odd
    /// reductions, channel counts off the vectors, a 1x1 layer at stride 2, and a 4 x 4 plane of 576-long rows (the
    /// dot-product tiles where the CPU has them).
    /// </summary>
    [Theory]
    [InlineData(2, 5, 16, 4, 4, 3, 3, 1, 1, 1, true)]
    [InlineData(1, 12, 40, 2, 2, 3, 3, 1, 1, 1, false)]
    [InlineData(1, 16, 33, 9, 7, 3, 3, 2, 1, 1, true)]
    [InlineData(1, 8, 64, 6, 6, 5, 5, 1, 1, 2, false)]
    [InlineData(1, 7, 24, 8, 8, 3, 3, 1, 2, 2, true)]
    [InlineData(1, 64, 64, 4, 4, 3, 3, 1, 1, 1, true)]
    [InlineData(1, 3, 16, 16, 16, 3, 3, 2, 1, 1, false)]
    [InlineData(1, 16, 32, 8, 8, 1, 1, 2, 1, 0, true)]
    [InlineData(1, 6, 20, 1, 9, 1, 3, 1, 1, 1, false)]
    [InlineData(1, 1, 64, 49, 10, 10, 4, 2, 1, 2, true)]  // one input channel (DS-CNN's stem): runs of 4 bytes
    [InlineData(2, 1, 32, 12, 11, 5, 5, 1, 1, 2, false)]
    [InlineData(1, 3, 16, 9, 9, 3, 3, 2, 1, 1, true)]    // runs of 9 bytes, padding on both sides
    [InlineData(1, 2, 16, 5, 6, 3, 3, 1, 1, 4, false)]   // padding wider than the kernel: whole kernel rows of it
    public void QConvRowsKernelIsBitExact(int batch, int c, int m, int h, int w, int kh, int kw, int stride, int dil, int pad, bool signed)
        => CheckConv(batch, c, m, h, w, kh, kw, stride, dil, pad, 1, signed, depthwise: false, rows: true);

    /// <summary>The integer matrix product as FixedPoint defines it (x [mRows, k] bytes, wt [n, k], full int8/uint8 output range): what every int8 GEMM kernel must match.</summary>
    internal static byte[] ReferenceGemm(byte[] x, sbyte[] wt, int[] bias, int[] mult, int[] sh, int mRows, int n, int k, bool signed, int zx, int zy)
    {
        var want = new byte[mRows * n];
        for (int i = 0; i < mRows; i++)
            for (int j = 0; j < n; j++)
            {
                int acc = bias[j];
                for (int t = 0; t < k; t++) acc += ((signed ? (sbyte)x[i * k + t] : x[i * k + t]) - zx) * wt[j * k + t];
                want[i * n + j] = (byte)FixedPoint.Requantize(acc, mult[j], sh[j], zy, signed ? -128 : 0, signed ? 127 : 255);
            }
        return want;
    }

    /// <summary>The integer convolution as FixedPoint defines it, loop by loop (x NCHW bytes, wt [m, c / groups, kh, kw]): what every int8 conv kernel must match.</summary>
    internal static byte[] ReferenceConv(byte[] x, sbyte[] wt, int[] bias, int[] mult, int[] sh, int batch, int c, int h, int w, int m, int kh, int kw,
        int oh, int ow, int stride, int dil, int pad, int groups, bool signed, int zx, int zy, int lo, int hi)
    {
        int icg = c / groups;
        var want = new byte[batch * m * oh * ow];
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < m; o++)
            {
                int g = o / (m / groups);
                for (int y0 = 0; y0 < oh; y0++)
                    for (int x0 = 0; x0 < ow; x0++)
                    {
                        int acc = bias[o];
                        for (int ic = 0; ic < icg; ic++)
                            for (int i = 0; i < kh; i++)
                                for (int j = 0; j < kw; j++)
                                {
                                    int iy = y0 * stride - pad + i * dil, ix = x0 * stride - pad + j * dil;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                    byte xb = x[((b * c + g * icg + ic) * h + iy) * w + ix];
                                    acc += ((signed ? (sbyte)xb : xb) - zx) * wt[(o * icg + ic) * kh * kw + i * kw + j];
                                }
                        want[((b * m + o) * oh + y0) * ow + x0] = (byte)FixedPoint.Requantize(acc, mult[o], sh[o], zy, lo, hi);
                    }
            }
        return want;
    }

    /// <summary>[batch, channels, plane] bytes reordered to [batch, plane, channels].</summary>
    internal static byte[] ChannelsLast(byte[] v, int batch, int channels, int plane)
    {
        var t = new byte[v.Length];
        for (int b = 0; b < batch; b++)
            for (int ch = 0; ch < channels; ch++)
                for (int p = 0; p < plane; p++) t[(b * plane + p) * channels + ch] = v[(b * channels + ch) * plane + p];
        return t;
    }

    static void CheckConv(int batch, int c, int m, int h, int w, int kh, int kw, int stride, int dil, int pad, int groups, bool signed, bool depthwise, bool lanes = false,
        bool rows = false)
    {
        var r = new Random(c * 31 + m + kh);
        int icg = c / groups, k = icg * kh * kw;
        int oh = (h + 2 * pad - dil * (kh - 1) - 1) / stride + 1, ow = (w + 2 * pad - dil * (kw - 1) - 1) / stride + 1;
        // full: int8 outputs over [-128, 127] (the kernels' saturating store)
        foreach (var (extreme, full) in new[] { (false, false), (true, false), (false, true) })
        {
            var x = new byte[batch * c * h * w];
            r.NextBytes(x);
            if (extreme) Array.Fill(x, signed ? (byte)0x80 : (byte)255);
            var wt = new sbyte[m * k];
            for (int i = 0; i < wt.Length; i++) wt[i] = extreme ? (sbyte)-128 : (sbyte)r.Next(-128, 128);
            var wl = wt.Select(v => (long)v).ToArray();
            var packed = (depthwise ? QConvInt8.PackDepthwise(wl, c, kh, kw) : lanes ? QConvInt8.PackLanes(wl, m, c) : rows ? QConvInt8.PackRows(wl, m, c, kh, kw)
                : QConvInt8.PackGemm(wl, m, icg, kh, kw, groups)).Select(v => (sbyte)v).ToArray();
            var bias = Enumerable.Range(0, m).Select(_ => r.Next(-50000, 50000)).ToArray();
            var mult = new int[m]; var sh = new int[m];
            for (int j = 0; j < m; j++) FixedPoint.QuantizeMultiplier(extreme ? 3.0 : 1e-4 * (1 + r.NextDouble() * 50), out mult[j], out sh[j]);
            int zx = extreme ? (signed ? 127 : 0) : (signed ? r.Next(-128, 128) : r.Next(0, 256));
            int zy = full ? -3 : signed ? -100 : 200, lo = full ? -128 : signed ? -120 : 5, hi = full ? 127 : signed ? 127 : 250;
            var want = ReferenceConv(x, wt, bias, mult, sh, batch, c, h, w, m, kh, kw, oh, ow, stride, dil, pad, groups, signed, zx, zy, lo, hi);
            // the depthwise and channel-lanes kernels also read and write channels last (an int8 chain's layout), either side
            var layouts = depthwise || lanes ? new[] { (false, false), (true, false), (false, true), (true, true) } : new[] { (false, false) };
            // depthwise: also with the channel-lanes kernel off (the per-channel and channels-last fallbacks, as on ARM64)
            foreach (var off in depthwise ? new[] { false, true } : new[] { false })
            foreach (var (nhwcIn, nhwcOut) in layouts)
            {
                try
                {
                    QDepthwise.Off = off;
                    var xs = nhwcIn ? ChannelsLast(x, batch, c, h * w) : x;
                    var ws = nhwcOut ? ChannelsLast(want, batch, m, oh * ow) : want;
                    ForEachWidth(width =>
                    {
                        var y = new byte[ws.Length + 9];
                        Array.Fill(y, (byte)0xAB);
                        // exactly the size asked for, and garbage: what the kernel reads past its positions must not matter
                        var scratch = new short[depthwise ? QConv.DepthwiseScratch(kh, kw, oh, ow, stride, stride, dil, dil) : lanes ? QPointwise.Scratch(c, oh * ow)
                            : rows ? QConvRows.Scratch(c, h, w, kh, kw, oh, ow) : QConv.Conv2DScratch(c, m, kh, kw, oh, ow, stride, stride, dil, dil, groups)];
                        Array.Fill(scratch, (short)0x5A5A);
                        if (lanes)
                            QPointwise.Run(xs, packed, bias, mult, sh, y.AsSpan(0, ws.Length), scratch, batch, c, m, oh * ow, signed, zx, zy, lo, hi, nhwcIn, nhwcOut);
                        else if (rows)
                            QConvRows.Run(xs, packed, bias, mult, sh, y.AsSpan(0, ws.Length), scratch, batch, c, h, w, m, kh, kw, oh, ow, stride, stride, pad, pad, dil, dil, signed, zx, zy, lo, hi);
                        else if (depthwise)
                            QConv.Depthwise2D(xs, packed, bias, mult, sh, y.AsSpan(0, ws.Length), scratch, batch, c, h, w, kh, kw, oh, ow, stride, stride, pad, pad, dil, dil, signed, zx, zy, lo, hi,
                                nhwcIn, nhwcOut);
                        else
                            QConv.Conv2D(xs, packed, bias, mult, sh, y.AsSpan(0, ws.Length), scratch, batch, c, h, w, m, kh, kw, oh, ow, stride, stride, pad, pad, dil, dil, groups, signed, zx, zy, lo, hi);
                        for (int i = 0; i < ws.Length; i++)
                            Assert.True(ws[i] == y[i], $"width {width} extreme {extreme} full {full} nhwc {nhwcIn}/{nhwcOut} lanes off {off}: y[{i}] = {y[i]}, reference {ws[i]}");
                        Assert.All(y.Skip(ws.Length), v => Assert.Equal(0xAB, v));
                    });
                }
                finally { QDepthwise.Off = false; }
            }
        }
    }

    [Theory]
    [InlineData(1, 10, 37, true)]
    [InlineData(5, 7, 64, false)]
    [InlineData(3, 33, 129, true)]
    public void QGemmKernelIsBitExact(int mRows, int n, int k, bool signed)
    {
        var r = new Random(n * 7 + k);
        int kp = (k + 1) & ~1;
        foreach (var extreme in new[] { false, true })
        {
            var x = new byte[mRows * k]; r.NextBytes(x);
            if (extreme) Array.Fill(x, signed ? (byte)0x80 : (byte)255);
            var wt = new sbyte[n * k];
            for (int i = 0; i < wt.Length; i++) wt[i] = extreme ? (sbyte)-128 : (sbyte)r.Next(-128, 128);
            var packed = new sbyte[n * kp];
            for (int j = 0; j < n; j++) for (int i = 0; i < k; i++) packed[j * kp + i] = wt[j * k + i];
            var bias = Enumerable.Range(0, n).Select(_ => r.Next(-50000, 50000)).ToArray();
            var mult = new int[n]; var sh = new int[n];
            for (int j = 0; j < n; j++) FixedPoint.QuantizeMultiplier(extreme ? 2.5 : 2e-4 * (1 + r.NextDouble() * 20), out mult[j], out sh[j]);
            int zx = extreme ? (signed ? 127 : 0) : (signed ? -3 : 140), zy = signed ? 10 : 128;
            var want = ReferenceGemm(x, wt, bias, mult, sh, mRows, n, k, signed, zx, zy);
            var sums = ReferenceSums(x, wt, mRows, n, k, signed, zx);
            var colScale = Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 1e-3)).ToArray();
            var colBias = Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() - 0.5)).ToArray();
            ForEachWidth(width =>
            {
                var y = new byte[want.Length];
                QGemm.Run(x, packed, bias, mult, sh, y, new short[kp], mRows, n, k, signed, zx, zy, signed ? -128 : 0, signed ? 127 : 255);
                Assert.Equal(want, y);
                var y32 = new int[sums.Length];
                QGemm.RunInt32(x, packed, y32, new short[kp], mRows, n, k, signed, zx);
                Assert.Equal(sums, y32);
                // scaled to float (dynamic quantization's Cast, Mul, Add): per column and one scale, with and without bias
                var yf = new float[sums.Length];
                QGemm.RunFloat(x, packed, colScale, colBias, yf, new short[kp], mRows, n, k, signed, zx);
                Assert.Equal(sums.Select((v, i) => (float)v * colScale[i % n] + colBias[i % n]).ToArray(), yf);
                QGemm.RunFloat(x, packed, colScale.AsSpan(0, 1), default, yf, new short[kp], mRows, n, k, signed, zx);
                Assert.Equal(sums.Select(v => (float)v * colScale[0]).ToArray(), yf);
            });
        }
    }

    /// <summary>
    /// Int8.DynamicQuantize (the Net profile's DynamicQuantizeLinear) at every width against the operator's reference
    /// (the loops Portable emits): NaN skipped by the range, -0, all-positive and all-negative data, tails of every length.
    /// </summary>
    [Fact]
    public void DynamicQuantizeIsBitExactWithTheReference()
    {
        var r = new Random(11);
        foreach (int n in Enumerable.Range(0, 40).Append(257).Append(1000))
            foreach (var kind in new[] { "mixed", "positive", "negative", "nan" })
            {
                var x = Enumerable.Range(0, n).Select(i => kind switch
                {
                    "positive" => (float)r.NextDouble() * 5,
                    "negative" => -(float)r.NextDouble() * 3,
                    "nan" => i % 7 == 3 ? float.NaN : i % 11 == 5 ? -0f : (float)(r.NextDouble() * 8 - 2),
                    _ => (float)(r.NextDouble() * 8 - 5),
                }).ToArray();
                var node = new Node { OpType = "DynamicQuantizeLinear" };
                var xd = new TensorData(DType.Float, new[] { n }, f: x);
                var want = new DynamicQuantizeLinear().Evaluate(node, new[] { xd });
                ForEachWidth(width =>
                {
                    var y = new byte[n];
                    ModelGen.Runtime.Int8.DynamicQuantize(x, y, out float scale, out byte zp);
                    Assert.Equal(want[1].F[0], scale);
                    Assert.Equal(want[2].L[0], zp);
                    Assert.Equal(want[0].L.Select(v => (byte)v).ToArray(), y);
                });
            }
    }

    /// <summary>
    /// QMatMulLanes (MatMul on two rows or more) exact at every width: requantized bytes against FixedPoint (multipliers
    /// small enough for the bounded form and too large for it), the int32 sums, and the float scaling.
    /// </summary>
    [Theory]
    [InlineData(2, 5, 7, true)]
    [InlineData(7, 33, 64, false)]
    [InlineData(13, 40, 129, true)]
    [InlineData(6, 64, 256, false)]
    public void MatMulLanesIsExact(int m, int n, int k, bool signed)
    {
        var r = new Random(m * 31 + n);
        var x = new byte[m * k]; r.NextBytes(x);
        var wt = new sbyte[n * k];
        for (int i = 0; i < wt.Length; i++) wt[i] = (sbyte)r.Next(-128, 128);
        var packed = ModelGen.Compiler.Operators.QConvInt8.PackLanes(wt.Select(v => (long)v).ToArray(), n, k).Select(v => (sbyte)v).ToArray();
        int zx = signed ? -7 : 131;
        var sums = ReferenceSums(x, wt, m, n, k, signed, zx);
        var scale = Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 1e-3)).ToArray();
        var fbias = Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() - 0.5)).ToArray();
        var bias = Enumerable.Range(0, n).Select(_ => r.Next(-50000, 50000)).ToArray();
        int zy = signed ? 10 : 128;
        var wants = new[] { 2e-4, 2.5 }.Select(scaleOf =>
        {
            var mult = new int[n]; var sh = new int[n];
            for (int j = 0; j < n; j++) FixedPoint.QuantizeMultiplier(scaleOf * (1 + r.NextDouble() * 20), out mult[j], out sh[j]);
            return (mult, sh, want: ReferenceGemm(x, wt, bias, mult, sh, m, n, k, signed, zx, zy));
        }).ToArray();
        ForEachWidth(width =>
        {
            foreach (var (mult, sh, want) in wants)
            {
                var yb = new byte[m * n];
                QMatMulLanes.Run(x, packed, bias, mult, sh, yb, new short[QMatMulLanes.Scratch(m, k)], m, n, k, signed, zx, zy, signed ? -128 : 0, signed ? 127 : 255);
                Assert.Equal(want, yb);
            }
            var y = new int[m * n];
            QMatMulLanes.RunInt32(x, packed, y, new short[QMatMulLanes.Scratch(m, k)], m, n, k, signed, zx);
            Assert.Equal(sums, y);
            var yf = new float[m * n];
            QMatMulLanes.RunFloat(x, packed, scale, fbias, yf, new short[QMatMulLanes.Scratch(m, k)], m, n, k, signed, zx);
            Assert.Equal(sums.Select((v, i) => (float)v * scale[i % n] + fbias[i % n]).ToArray(), yf);
        });
    }

    /// <summary>MatMulInteger's int32 result: sum_k (x - zx) * w[j, k], w as rows [n, k].</summary>
    internal static int[] ReferenceSums(byte[] x, sbyte[] w, int m, int n, int k, bool signed, int zx)
    {
        var y = new int[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                for (int t = 0; t < k; t++) y[i * n + j] += ((signed ? (sbyte)x[i * k + t] : x[i * k + t]) - zx) * w[j * k + t];
        return y;
    }

    /// <summary>
    /// Int8.Quantize / Dequantize (the Net profile's per-tensor QuantizeLinear / DequantizeLinear) at every width against
    /// the loops the Portable profile emits: ties (x.5) to even, saturation, +-infinity, NaN (0), -0, tails of every length.
    /// Inputs a few ulps either side of half steps, on scales whose significand is all ones, powers of two, tiny, huge,
    /// negative and random ones; subnormal and huge inputs too.
    /// </summary>
    [Fact]
    public void QuantizeDequantizeAreBitExactWithTheEmittedLoops()
    {
        var r = new Random(7);
        var special = new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity, -0f, 0f, float.Epsilon, -float.Epsilon, float.MaxValue, float.MinValue, 1e10f, -1e10f, 1e-39f, -3e-42f, 1e-30f };
        var scales = new[] { (0.5f, 0), (0.5f, -3), (0.0392f, 17), (3f, 127), (1e-6f, -128), (BitConverter.Int32BitsToSingle(0x3F7FFFFF), 5), (BitConverter.Int32BitsToSingle(0x3C7FFFFF), -20),
            (1f / (1L << 60), 0), ((float)(1L << 60), 0), (1e-20f, 3), (0.0078125f, 0), (-0.5f, 0) }
            .Concat(Enumerable.Range(0, 6).Select(i => ((float)Math.Exp(r.NextDouble() * 12 - 9), r.Next(-128, 128))));
        foreach (var (scale, zero) in scales)
            foreach (int n in Enumerable.Range(0, 70).Append(1000).Append(1027))
            {
                var x = new float[n];
                for (int i = 0; i < n; i++)
                    x[i] = (i % 6) switch
                    {
                        0 => (r.Next(-600, 600) + 0.5f) * scale, // ties after the division (exact at scale 0.5)
                        1 => special[r.Next(special.Length)],
                        2 => r.Next(-300, 300) * scale,
                        // a few ulps from a half step
                        3 => BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits((r.Next(-200, 200) + 0.5f) * scale) + r.Next(-3, 4)),
                        _ => (float)(r.NextDouble() * 600 - 300) * scale,
                    };
                var s8 = new sbyte[n]; var u8 = new byte[n]; var d8 = new float[n]; var du8 = new float[n];
                for (int i = 0; i < n; i++)
                {
                    // what QuantizeLinear / DequantizeLinear emit as loops
                    float q = MathF.Round(x[i] / scale) + zero;
                    s8[i] = (sbyte)(q < -128f ? -128f : q > 127f ? 127f : q);
                    float qu = MathF.Round(x[i] / scale) + (zero + 128);
                    u8[i] = (byte)(qu < 0f ? 0f : qu > 255f ? 255f : qu);
                    d8[i] = (float)(s8[i] - zero) * scale;
                    du8[i] = (float)(u8[i] - (zero + 128)) * scale;
                }
                ForEachWidth(width =>
                {
                    var ys = new sbyte[n + 3]; var yu = new byte[n + 3]; var fs = new float[n + 3]; var fu = new float[n + 3];
                    Int8.Quantize(x, scale, zero, ys); Int8.Quantize(x, scale, zero + 128, yu);
                    Int8.Dequantize(s8, scale, zero, fs); Int8.Dequantize(u8, scale, zero + 128, fu);
                    for (int i = 0; i < n; i++) Assert.True(s8[i] == ys[i] && u8[i] == yu[i], $"scale {scale} zero {zero} width {width}: x[{i}] = {x[i]:R} -> {ys[i]}, {yu[i]}, the loop gives {s8[i]}, {u8[i]}");
                    Assert.Equal(d8, fs[..n]); Assert.Equal(du8, fu[..n]);
                    Assert.All(ys[n..], v => Assert.Equal(0, v)); Assert.All(fs[n..], v => Assert.Equal(0f, v));
                });
            }
    }

    /// <summary>
    /// Int8.Add (the Net profile's QLinearAdd of one shape) at every width against the loop the Portable profile emits:
    /// ties to even (ratios 0.5 and 0.25), saturation both ways, tails of every length, nothing written past y.
    /// </summary>
    [Fact]
    public void QLinearAddIsBitExactWithTheEmittedLoop()
    {
        var r = new Random(11);
        foreach (var (ra, rb, za, zb, zc) in new[] { (0.5f, 0.25f, 0, 0, 0), (2.0893815f, 0.7783496f, 20, -128, -128), (0.031f, 0.047f, -3, 5, 100), (3f, -2f, 127, -128, -7) })
            foreach (int n in Enumerable.Range(0, 70).Append(1000).Append(1027))
            {
                var a = new byte[n]; var b = new byte[n];
                r.NextBytes(a); r.NextBytes(b);
                var ws = new sbyte[n]; var wu = new byte[n];
                for (int i = 0; i < n; i++)
                {
                    // what QLinearAdd emits as a loop
                    float q = MathF.Round((float)((sbyte)a[i] - za) * ra + (float)((sbyte)b[i] - zb) * rb) + zc;
                    ws[i] = (sbyte)(q < -128f ? -128f : q > 127f ? 127f : q);
                    float qu = MathF.Round((float)(a[i] - (za + 128)) * ra + (float)(b[i] - (zb + 128)) * rb) + (zc + 128);
                    wu[i] = (byte)(qu < 0f ? 0f : qu > 255f ? 255f : qu);
                }
                var sa = a.Select(v => (sbyte)v).ToArray(); var sb = b.Select(v => (sbyte)v).ToArray();
                ForEachWidth(width =>
                {
                    var ys = new sbyte[n + 3]; var yu = new byte[n + 3];
                    Int8.Add(sa, za, ra, sb, zb, rb, zc, ys.AsSpan(0, n));
                    Int8.Add(a, za + 128, ra, b, zb + 128, rb, zc + 128, yu.AsSpan(0, n));
                    Assert.Equal(ws, ys[..n]); Assert.Equal(wu, yu[..n]);
                    Assert.All(ys[n..], v => Assert.Equal(0, v)); Assert.All(yu[n..], v => Assert.Equal(0, v));
                });
            }
    }

    /// <summary>
    /// Int8.GlobalAverage and Int8.GlobalAverageScaled (the Net profile's global QLinearAveragePool and
    /// QLinearGlobalAveragePool) bit-exact with the loops the Portable profile emits, at every width: plane counts
    /// around the 8-lane and 64-plane steps, planes of 1 to 300 values, NCHW and channels last (an int8 chain's end:
    /// batches of 1 to 128 channels, a chunk split at an image's last channel, runs of 255 positions summed in int16),
    /// int8 and uint8 both ways, zero points, ties, saturation, extremes, and a zero output scale (inf and NaN: the
    /// loops' casts).
    /// </summary>
    [Fact]
    public void GlobalAverageIsBitExactWithTheEmittedLoop()
    {
        var r = new Random(13);
        foreach (var (planes, size, last) in new[] { (256, 9, 0), (64, 125, 0), (1, 1, 0), (7, 16, 0), (9, 15, 0), (65, 4, 0), (130, 2, 0),
            (256, 9, 128), (130, 2, 65), (51, 300, 17), (80, 7, 80), (3, 5, 1) })
            foreach (bool extreme in last > 0 ? new[] { false, true } : new[] { false })
            foreach (var (xs, ys) in new[] { (true, true), (false, false), (true, false) })
                foreach (var (sx, sy, zx, zy) in new[] { (0.05f, 0.01f, 0, 0), (0.0312f, 0.0117f, -3, 17), (1f, 2f, 5, -128), (0.5f, 0f, 0, 3), (0.02f, 0.5f, 100, 200) })
                {
                    var x = new byte[planes * size];
                    if (extreme) Array.Fill(x, xs ? (byte)0x80 : (byte)0xFF); else r.NextBytes(x);
                    int lo = ys ? -128 : 0, hi = ys ? 127 : 255, zyc = Math.Clamp(zy, lo, hi);
                    float multiplier = sx / (sy * size);
                    var want = new byte[planes]; var wantScaled = new byte[planes];
                    byte Store(float q) => ys ? (byte)(sbyte)(q < lo ? lo : q > hi ? hi : q) : (byte)(q < lo ? lo : q > hi ? hi : q);
                    for (int c = 0; c < planes; c++)
                    {
                        // what QLinearAveragePool (a whole-plane window) and QLinearGlobalAveragePool emit as loops
                        int sum = 0;
                        for (int i = 0; i < size; i++)
                        {
                            int at = last > 0 ? (c / last * size + i) * last + c % last : c * size + i;
                            sum += xs ? (sbyte)x[at] : x[at];
                        }
                        sum -= zx * size;
                        want[c] = Store(MathF.Round((float)sum * sx / size / sy + zyc));
                        wantScaled[c] = Store(MathF.Round((float)sum * multiplier) + zyc);
                    }
                    string what = $"{planes}x{size} channels last {last} extreme {extreme} signed {xs}/{ys} sx {sx} sy {sy} zx {zx} zy {zyc}";
                    ForEachWidth(width =>
                    {
                        var y = new byte[planes + 5];
                        Int8.GlobalAverage(x, xs, planes, size, zx, sx, sy, zyc, y, ys, last);
                        for (int c = 0; c < planes; c++) Assert.True(want[c] == y[c], $"{what} width {width}: [{c}] {y[c]} vs {want[c]}");
                        Assert.All(y[planes..], v => Assert.Equal(0, v));
                        Array.Clear(y);
                        Int8.GlobalAverageScaled(x, xs, planes, size, zx, multiplier, zyc, y, ys, last);
                        for (int c = 0; c < planes; c++) Assert.True(wantScaled[c] == y[c], $"scaled {what} width {width}: [{c}] {y[c]} vs {wantScaled[c]}");
                        Assert.All(y[planes..], v => Assert.Equal(0, v));
                    });
                }
    }

    /// <summary>
    /// Int8.MulChannelsLast (a squeeze-excite gate on a channels-last tensor) bit-exact with Int8.Mul on the same tensor
    /// in NCHW, at every width: channel counts around the 8-lane vectors (tails), batches of two (each image its own
    /// gates), int8 and uint8, saturating ratios.
    /// </summary>
    [Fact]
    public void MulChannelsLastIsBitExactWithNchw()
    {
        var r = new Random(14);
        foreach (var (batch, channels, plane) in new[] { (1, 576, 9), (2, 24, 30), (1, 7, 5), (2, 9, 1), (1, 16, 49), (3, 1, 4) })
            foreach (bool signed in new[] { true, false })
                foreach (var (za, zb, ratio, zc) in new[] { (-5, 3, 0.013f, 7), (120, -128, 0.9f, -100), (0, 0, 1e-4f, 0) })
                {
                    int n = batch * channels * plane;
                    var a = new byte[n]; var gate = new byte[batch * channels];
                    r.NextBytes(a); r.NextBytes(gate);
                    int pa = signed ? za : za + 128, pb = signed ? zb : zb + 128, pc = signed ? zc : zc + 128;
                    var want = new byte[n]; var got = new byte[n];
                    if (signed) Int8.Mul(MemoryMarshal.Cast<byte, sbyte>(a), pa, MemoryMarshal.Cast<byte, sbyte>(gate), pb, ratio, pc, MemoryMarshal.Cast<byte, sbyte>(want.AsSpan()), plane);
                    else Int8.Mul(a, pa, gate, pb, ratio, pc, want, plane);
                    var aLast = ChannelsLast(a, batch, channels, plane);
                    ForEachWidth(width =>
                    {
                        Array.Clear(got);
                        if (signed) Int8.MulChannelsLast(MemoryMarshal.Cast<byte, sbyte>(aLast), pa, MemoryMarshal.Cast<byte, sbyte>(gate), pb, ratio, pc, MemoryMarshal.Cast<byte, sbyte>(got.AsSpan()), channels, plane);
                        else Int8.MulChannelsLast(aLast, pa, gate, pb, ratio, pc, got, channels, plane);
                        Assert.Equal(ChannelsLast(want, batch, channels, plane), got);
                    });
                }
    }

    /// <summary>Int8.Sum (the Net profile's global QLinearAveragePool) at every width: every length up to 70 and longer planes, extremes.</summary>
    [Fact]
    public void Int8SumIsExact()
    {
        var r = new Random(12);
        foreach (int n in Enumerable.Range(0, 70).Append(1000).Append(4099))
            foreach (bool extreme in new[] { false, true })
            {
                var x = new byte[n];
                if (extreme) Array.Fill(x, (byte)(n % 2 == 0 ? 0x80 : 0xFF)); else r.NextBytes(x);
                var s = x.Select(v => (sbyte)v).ToArray();
                int ws = s.Sum(v => (int)v), wu = x.Sum(v => (int)v);
                ForEachWidth(width => { Assert.Equal(ws, Int8.Sum(s)); Assert.Equal(wu, Int8.Sum(x)); });
            }
    }
}
