using ModelGen.Compiler;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Passes;
using Xunit;
using Xunit.Abstractions;

namespace ModelGen.Tests;

/// <summary>Graph optimisation passes: the rewrite itself (op types before/after), and numerics (passes on vs off vs ONNX Runtime).</summary>
public class PassTests(ITestOutputHelper log)
{
    static Graph Import(byte[] bytes) => new ModelGen.Compiler.Onnx.OnnxImporter(new ModelOptions()).Import(bytes).Graph;

    static string Ops(Graph g) => string.Join(",", g.Nodes.Select(n => n.OpType));

    static IPass Pass(string name) => PassManager.All.First(p => p.Name == name);

    /// <summary>Runs one pass on the imported graph and checks the op sequence before and after.</summary>
    static Graph Rewrite(byte[] model, string pass, string before, string after)
    {
        var g = Import(model);
        Assert.Equal(before, Ops(g));
        Pass(pass).Run(g);
        Assert.Equal(after, Ops(g));
        return g;
    }

    /// <summary>Optimised vs DisabledPasses=all (both profiles) within tol, and optimised vs ONNX Runtime.</summary>
    static void Numerics(byte[] model, double tol, params Array[] inputs)
    {
        MatchesUnoptimised(model, tol, inputs);
        OpCheck.AgainstOrt(model, tol, inputs);
    }

    /// <summary>Optimised vs DisabledPasses=all (both profiles) within tol (ONNX Runtime gives the output lengths only).</summary>
    static void MatchesUnoptimised(byte[] model, double tol, params Array[] inputs)
    {
        var expected = OpCheck.RunOrt(model, inputs);
        foreach (var target in new[] { TargetProfile.Net, TargetProfile.Portable })
        {
            var lens = expected.Select(e => e.Length).ToArray();
            var types = expected.Select(e => e.GetType().GetElementType()!).ToArray();
            var off = OpCheck.RunModelGen(model, target, inputs, lens, types, new ModelOptions { DisabledPasses = "all" });
            var on = OpCheck.RunModelGen(model, target, inputs, lens, types, new ModelOptions());
            for (int k = 0; k < expected.Length; k++) OpCheck.AssertClose(off[k], on[k], tol, $"{target} optimised vs unoptimised output {k}");
        }
    }

    static float[] Positive(int n, int seed) => Ort.Random(n, seed).Select(v => 0.5f + Math.Abs(v)).ToArray();

    // ---------- ConvBatchNormFolding ----------

    static byte[] ConvBn(bool bias) => (bias ? new OnnxBuilder().Initializer("cb", new[] { 4 }, Ort.Random(4, 9)) : new OnnxBuilder())
        .Input("x", DType.Float, 1, 3, 6, 6)
        .Initializer("w", new[] { 4, 3, 3, 3 }, Ort.Random(108, 1))
        .Initializer("s", new[] { 4 }, Ort.Random(4, 2)).Initializer("b", new[] { 4 }, Ort.Random(4, 3))
        .Initializer("m", new[] { 4 }, Ort.Random(4, 4)).Initializer("v", new[] { 4 }, Positive(4, 5))
        .Node("Conv", bias ? new[] { "x", "w", "cb" } : new[] { "x", "w" }, new[] { "c" }, ("pads", new long[] { 1, 1, 1, 1 }))
        .Node("BatchNormalization", new[] { "c", "s", "b", "m", "v" }, new[] { "y" }, ("epsilon", 1e-3f))
        .Node("Relu", new[] { "y" }, new[] { "z" })
        .Output("z").Build();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ConvBatchNormFolds(bool bias)
    {
        var m = ConvBn(bias);
        Rewrite(m, "ConvBatchNormFolding", "Conv,BatchNormalization,Relu", "Conv,Relu");
        Numerics(m, 1e-5, Ort.Random(108, 7));
    }

    /// <summary>ConvTranspose's W is [C, M/group, kH, kW]: the fold scales axis 1 per group; the Relu then fuses into it.</summary>
    [Theory]
    [InlineData(1L, true)]
    [InlineData(2L, false)]
    public void ConvTransposeBatchNormFoldsAndReluFuses(long group, bool bias)
    {
        var b = new OnnxBuilder()
            .Input("x", DType.Float, 1, 4, 5, 5)
            .Initializer("w", new[] { 4, 3, 3, 3 }, Ort.Random(108, 1))
            .Initializer("s", new[] { 3 * (int)group }, Ort.Random(3 * (int)group, 2)).Initializer("b", new[] { 3 * (int)group }, Ort.Random(3 * (int)group, 3))
            .Initializer("m", new[] { 3 * (int)group }, Ort.Random(3 * (int)group, 4)).Initializer("v", new[] { 3 * (int)group }, Positive(3 * (int)group, 5));
        if (bias) b.Initializer("cb", new[] { 3 * (int)group }, Ort.Random(3 * (int)group, 9));
        var m = b.Node("ConvTranspose", bias ? new[] { "x", "w", "cb" } : new[] { "x", "w" }, new[] { "c" },
                ("strides", new long[] { 2, 2 }), ("pads", new long[] { 1, 1, 1, 1 }), ("output_padding", new long[] { 1, 1 }), ("group", group))
            .Node("BatchNormalization", new[] { "c", "s", "b", "m", "v" }, new[] { "y" }, ("epsilon", 1e-3f))
            .Node("Relu", new[] { "y" }, new[] { "z" })
            .Output("z").Build();
        var g = Rewrite(m, "ConvBatchNormFolding", "ConvTranspose,BatchNormalization,Relu", "ConvTranspose,Relu");
        Pass("ActivationFusion").Run(g);
        Assert.Equal("ConvTranspose", Ops(g));
        Numerics(m, 1e-5, Ort.Random(100, 7));
    }

    [Fact]
    public void ConvBatchNormNotFoldedWhenConvOutputIsShared()
    {
        var m = new OnnxBuilder()
            .Input("x", DType.Float, 1, 2, 4, 4)
            .Initializer("w", new[] { 2, 2, 1, 1 }, Ort.Random(4, 1))
            .Initializer("s", new[] { 2 }, Ort.Random(2, 2)).Initializer("b", new[] { 2 }, Ort.Random(2, 3))
            .Initializer("m", new[] { 2 }, Ort.Random(2, 4)).Initializer("v", new[] { 2 }, Positive(2, 5))
            .Node("Conv", new[] { "x", "w" }, new[] { "c" })
            .Node("BatchNormalization", new[] { "c", "s", "b", "m", "v" }, new[] { "y" })
            .Node("Add", new[] { "y", "c" }, new[] { "z" })
            .Output("z").Build();
        Rewrite(m, "ConvBatchNormFolding", "Conv,BatchNormalization,Add", "Conv,BatchNormalization,Add");
    }

    [Theory]
    [InlineData(0L, new[] { 5 })]
    [InlineData(1L, new[] { 3, 5 })]
    [InlineData(0L, null)]
    public void GemmBatchNormFolds(long transB, int[]? cShape)
    {
        var b = new OnnxBuilder()
            .Input("x", DType.Float, 3, 4)
            .Initializer("w", transB == 1 ? new[] { 5, 4 } : new[] { 4, 5 }, Ort.Random(20, 1))
            .Initializer("s", new[] { 5 }, Ort.Random(5, 2)).Initializer("b", new[] { 5 }, Ort.Random(5, 3))
            .Initializer("m", new[] { 5 }, Ort.Random(5, 4)).Initializer("v", new[] { 5 }, Positive(5, 5));
        if (cShape != null) b.Initializer("c", cShape, Ort.Random(cShape.Aggregate(1, (p, q) => p * q), 6));
        var m = b.Node("Gemm", cShape != null ? new[] { "x", "w", "c" } : new[] { "x", "w" }, new[] { "g" }, ("transB", transB), ("alpha", 0.7f), ("beta", 1.5f))
            .Node("BatchNormalization", new[] { "g", "s", "b", "m", "v" }, new[] { "y" })
            .Output("y").Build();
        Rewrite(m, "ConvBatchNormFolding", "Gemm,BatchNormalization", "Gemm");
        Numerics(m, 1e-5, Ort.Random(12, 7));
    }

    [Fact]
    public void MatMulBatchNormFoldsToGemm()
    {
        var m = new OnnxBuilder()
            .Input("x", DType.Float, 3, 4)
            .Initializer("w", new[] { 4, 5 }, Ort.Random(20, 1))
            .Initializer("s", new[] { 5 }, Ort.Random(5, 2)).Initializer("b", new[] { 5 }, Ort.Random(5, 3))
            .Initializer("m", new[] { 5 }, Ort.Random(5, 4)).Initializer("v", new[] { 5 }, Positive(5, 5))
            .Node("MatMul", new[] { "x", "w" }, new[] { "g" })
            .Node("BatchNormalization", new[] { "g", "s", "b", "m", "v" }, new[] { "y" })
            .Output("y").Build();
        Rewrite(m, "ConvBatchNormFolding", "MatMul,BatchNormalization", "Gemm");
        Numerics(m, 1e-5, Ort.Random(12, 7));
    }

    // ---------- ActivationFusion ----------

    public static TheoryData<string> ActivationKinds => new() { "Relu", "Relu6", "Clip", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Silu" };

    /// <summary>Writes activation <paramref name="kind"/> of x into y as exporters do (Relu6 and Clip with constant bound inputs, SiLU as x * Sigmoid(x)).</summary>
    static OnnxBuilder Activate(OnnxBuilder b, string kind, string x, string y) => kind switch
    {
        "Relu6" => b.Node("Clip", new[] { x, "zero", "six" }, new[] { y }),
        "Clip" => b.Node("Clip", new[] { x, "lo", "hi" }, new[] { y }),
        "LeakyRelu" => b.Node("LeakyRelu", new[] { x }, new[] { y }, ("alpha", 0.15f)),
        "HardSigmoid" => b.Node("HardSigmoid", new[] { x }, new[] { y }, ("alpha", 0.3f), ("beta", 0.45f)),
        "Silu" => b.Node("Sigmoid", new[] { x }, new[] { y + "_s" }).Node("Mul", new[] { x, y + "_s" }, new[] { y }),
        _ => b.Node(kind, new[] { x }, new[] { y }),
    };

    static OnnxBuilder Bounds(OnnxBuilder b) => b
        .Initializer("zero", Array.Empty<int>(), new[] { 0f }).Initializer("six", Array.Empty<int>(), new[] { 6f })
        .Initializer("lo", Array.Empty<int>(), new[] { -0.4f }).Initializer("hi", Array.Empty<int>(), new[] { 0.7f });

    /// <summary>
    /// Each kernel path with the activation after it: Conv 1x1, 3x3 (padded), depthwise (stride 1 and, with a channel
    /// multiplier, stride 2), strided 3x3; Gemm with B transposed over few rows (dot-row path) and a MatMul whose K
    /// spans several KC blocks and whose N ends in a tail panel.
    /// </summary>
    static byte[] ActivationModel(string kind)
    {
        var b = Bounds(new OnnxBuilder(14))
            .Input("x", DType.Float, 1, 16, 9, 9).Input("a", DType.Float, 3, 300)
            .Initializer("w1", new[] { 24, 16, 1, 1 }, Ort.Random(24 * 16, 1)).Initializer("b1", new[] { 24 }, Ort.Random(24, 2))
            .Initializer("w2", new[] { 20, 16, 3, 3 }, Ort.Random(20 * 16 * 9, 3, 0.5f)).Initializer("b2", new[] { 20 }, Ort.Random(20, 4))
            .Initializer("w3", new[] { 16, 1, 3, 3 }, Ort.Random(16 * 9, 5))
            .Initializer("w4", new[] { 32, 1, 3, 3 }, Ort.Random(32 * 9, 6)).Initializer("b4", new[] { 32 }, Ort.Random(32, 7))
            .Initializer("w5", new[] { 8, 16, 3, 3 }, Ort.Random(8 * 16 * 9, 8, 0.5f))
            .Initializer("gw", new[] { 20, 300 }, Ort.Random(20 * 300, 9, 0.2f)).Initializer("gc", new[] { 20 }, Ort.Random(20, 10))
            .Initializer("mw", new[] { 300, 20 }, Ort.Random(300 * 20, 11, 0.2f))
            .Node("Conv", new[] { "x", "w1", "b1" }, new[] { "c1" })
            .Node("Conv", new[] { "x", "w2", "b2" }, new[] { "c2" }, ("pads", new long[] { 1, 1, 1, 1 }))
            .Node("Conv", new[] { "x", "w3" }, new[] { "c3" }, ("pads", new long[] { 1, 1, 1, 1 }), ("group", 16L))
            .Node("Conv", new[] { "x", "w4", "b4" }, new[] { "c4" }, ("pads", new long[] { 1, 1, 1, 1 }), ("group", 16L), ("strides", new long[] { 2, 2 }))
            .Node("Conv", new[] { "x", "w5" }, new[] { "c5" }, ("strides", new long[] { 2, 2 }))
            .Node("Gemm", new[] { "a", "gw", "gc" }, new[] { "c6" }, ("transB", 1L))
            .Node("MatMul", new[] { "a", "mw" }, new[] { "c7" });
        for (int i = 1; i <= 7; i++) { Activate(b, kind, "c" + i, "y" + i); b.Output("y" + i); }
        return b.Build();
    }

    [Theory]
    [MemberData(nameof(ActivationKinds))]
    public void ActivationFusesIntoConvGemmMatMul(string kind)
    {
        var m = ActivationModel(kind);
        var act = kind is "Relu6" or "Clip" ? "Clip" : kind;
        var before = string.Join(",", "Conv,Conv,Conv,Conv,Conv,Gemm,MatMul".Split(',')
            .Concat(Enumerable.Repeat(kind == "Silu" ? "Sigmoid,Mul" : act, 7)));
        var g = Rewrite(m, "ActivationFusion", before, "Conv,Conv,Conv,Conv,Conv,Gemm,MatMul");
        Assert.All(g.Nodes, n => Assert.Equal(kind is "Relu6" or "Clip" ? "Clip" : kind, n.Str("_mg_activation", "")));
        Numerics(m, 1e-5, Ort.Random(16 * 81, 12, 2f), Ort.Random(900, 13));
    }

    [Fact]
    public void ActivationNotFusedWhenSharedOutputOrRuntimeBound()
    {
        var m = new OnnxBuilder()
            .Input("x", DType.Float, 1, 2, 4, 4).Input("hi", DType.Float)
            .Initializer("w", new[] { 2, 2, 1, 1 }, Ort.Random(4, 1))
            .Node("Conv", new[] { "x", "w" }, new[] { "c" }).Node("Relu", new[] { "c" }, new[] { "r" }).Node("Add", new[] { "r", "c" }, new[] { "y" })
            .Node("Conv", new[] { "x", "w" }, new[] { "d" }).Node("Relu", new[] { "d" }, new[] { "e" })
            .Node("Conv", new[] { "x", "w" }, new[] { "f" }).Node("Clip", new[] { "f", "", "hi" }, new[] { "z" })
            .Output("y").Output("d").Output("e").Output("z").Build();
        Rewrite(m, "ActivationFusion", "Conv,Relu,Add,Conv,Relu,Conv,Clip", "Conv,Relu,Add,Conv,Relu,Conv,Clip");
    }

    // ---------- ConvAddFusion ----------

    /// <summary>
    /// Residual blocks over each kernel path: 1x1 + graph input (copied into y), 3x3 whose residual is also its input
    /// (no in-place), strided 3x3 + projection shortcut conv (the later of the two takes the other in place); then a depthwise conv and a
    /// broadcast Add, which stay.
    /// </summary>
    static byte[] ResidualModel() => new OnnxBuilder(14)
        .Input("x", DType.Float, 1, 8, 9, 9)
        .Initializer("w1", new[] { 8, 8, 1, 1 }, Ort.Random(64, 1)).Initializer("b1", new[] { 8 }, Ort.Random(8, 2))
        .Initializer("w2", new[] { 8, 8, 3, 3 }, Ort.Random(576, 3, 0.3f))
        .Initializer("w3", new[] { 16, 8, 3, 3 }, Ort.Random(1152, 4, 0.3f)).Initializer("b3", new[] { 16 }, Ort.Random(16, 5))
        .Initializer("ws", new[] { 16, 8, 1, 1 }, Ort.Random(128, 6))
        .Initializer("w4", new[] { 16, 1, 3, 3 }, Ort.Random(144, 7)).Initializer("cb", new[] { 16, 1, 1 }, Ort.Random(16, 8))
        .Node("Conv", new[] { "x", "w1", "b1" }, new[] { "c1" }).Node("Add", new[] { "c1", "x" }, new[] { "a1" }).Node("Relu", new[] { "a1" }, new[] { "r1" })
        .Node("Conv", new[] { "r1", "w2" }, new[] { "c2" }, ("pads", new long[] { 1, 1, 1, 1 }))
        .Node("Add", new[] { "r1", "c2" }, new[] { "a2" }).Node("Relu", new[] { "a2" }, new[] { "r2" })
        .Node("Conv", new[] { "r2", "w3", "b3" }, new[] { "c3" }, ("pads", new long[] { 1, 1, 1, 1 }), ("strides", new long[] { 2, 2 }))
        .Node("Conv", new[] { "r2", "ws" }, new[] { "s3" }, ("strides", new long[] { 2, 2 }))
        .Node("Add", new[] { "s3", "c3" }, new[] { "a3" }).Node("Relu", new[] { "a3" }, new[] { "r3" })
        .Node("Conv", new[] { "r3", "w4" }, new[] { "c4" }, ("pads", new long[] { 1, 1, 1, 1 }), ("group", 16L))
        .Node("Add", new[] { "c4", "r3" }, new[] { "a4" })
        .Node("Conv", new[] { "a4", "w4" }, new[] { "c5" }, ("pads", new long[] { 1, 1, 1, 1 }), ("group", 16L))
        .Node("Add", new[] { "c5", "cb" }, new[] { "y" })
        .Output("y").Build();

    [Fact]
    public void ConvAddFusesResidualAndReluAfterIt()
    {
        var m = ResidualModel();
        var g = Rewrite(m, "ConvAddFusion", "Conv,Add,Relu,Conv,Add,Relu,Conv,Conv,Add,Relu,Conv,Add,Conv,Add",
            "Conv,Relu,Conv,Relu,Conv,Conv,Relu,Conv,Add,Conv,Add");
        Assert.Equal("x", g.Nodes[0].In(3).Name);
        Assert.Equal("r1", g.Nodes[2].In(3).Name);
        Assert.Equal("c3", g.Nodes[5].In(3).Name);
        Assert.Equal("a3", g.Nodes[5].Out().Name);
        Pass("ActivationFusion").Run(g);
        Assert.Equal("Conv,Conv,Conv,Conv,Conv,Add,Conv,Add", Ops(g));
        Numerics(m, 1e-5, Ort.Random(648, 9, 2f));
    }

    [Fact]
    public void ConvAddTakesTheShortcutBufferInPlace()
    {
        var m = ResidualModel();
        string Code(string off) => ModelCompiler.Compile(m, "residual.onnx", new ModelOptions { DisabledPasses = off }).Source!;
        // the fused conv of the projection block writes into the other conv's output; the others copy their residual first
        // (a graph input; the conv's own input)
        var net = Code("");
        Assert.Equal(3, CountOf(net, "accumulate: true"));
        Assert.Equal(2, CountOf(net, ".CopyTo("));
        Assert.Equal(3, CountOf(Code("InPlace"), ".CopyTo("));
    }

    [Fact]
    public void ConvAddLeavesABroadcastOperandAlone()
    {
        // a per-channel constant added after a (non-depthwise) Conv: no residual of the output's shape, nothing to fuse
        var m = new OnnxBuilder(14).Input("x", DType.Float, 1, 4, 6, 6)
            .Initializer("w", new[] { 4, 4, 3, 3 }, Ort.Random(144, 1, 0.3f)).Initializer("k", new[] { 1, 4, 1, 1 }, Ort.Random(4, 2))
            .Node("Conv", new[] { "x", "w" }, new[] { "c" }, ("pads", new long[] { 1, 1, 1, 1 })).Node("Add", new[] { "c", "k" }, new[] { "y" })
            .Output("y").Build();
        Rewrite(m, "ConvAddFusion", "Conv,Add", "Conv,Add");
        Numerics(m, 1e-5, Ort.Random(144, 3));
    }

    static int CountOf(string s, string what) { int c = 0; for (int i = s.IndexOf(what); i >= 0; i = s.IndexOf(what, i + 1)) c++; return c; }

    // ---------- InPlaceConcat ----------

    /// <summary>
    /// Inception-style branches concatenated, the result concatenated again with a layer of its own (nested), and a branch
    /// read again after the concatenation (an elementwise op that must not write over it in place): every producer writes
    /// into the concatenation, no copy is left, the arena shrinks, and both profiles agree with the unoptimised build
    /// and ONNX Runtime.
    /// </summary>
    [Fact]
    public void ConcatInputsAreWrittenInPlace()
    {
        var m = new OnnxBuilder(13).Input("x", DType.Float, 1, 8, 6, 6)
            .Initializer("w1", new[] { 16, 8, 1, 1 }, Ort.Random(128, 1, 0.3f)).Initializer("w2", new[] { 16, 8, 3, 3 }, Ort.Random(1152, 2, 0.2f))
            .Initializer("w3", new[] { 16, 40, 1, 1 }, Ort.Random(640, 3, 0.2f)).Initializer("w4", new[] { 4, 56, 3, 3 }, Ort.Random(2016, 4, 0.1f))
            .Node("Conv", new[] { "x", "w1" }, new[] { "a" }).Node("Conv", new[] { "x", "w2" }, new[] { "b" }, ("pads", new long[] { 1, 1, 1, 1 }))
            .Node("Relu", new[] { "x" }, new[] { "r" })
            .Node("Concat", new[] { "a", "b", "r" }, new[] { "c" }, ("axis", 1L))
            .Node("Conv", new[] { "c", "w3" }, new[] { "d" })
            .Node("Concat", new[] { "c", "d" }, new[] { "e" }, ("axis", 1L))
            .Node("Sigmoid", new[] { "a" }, new[] { "s" })
            .Node("Conv", new[] { "e", "w4" }, new[] { "y" })
            .Output("y").Output("s").Build();
        var on = ModelCompiler.Compile(m, "inception.onnx", new ModelOptions());
        var off = ModelCompiler.Compile(m, "inception.onnx", new ModelOptions { DisabledPasses = "InPlaceConcat" });
        Assert.Equal(5, CountOf(on.Source!, "was written in place"));
        Assert.Equal(0, CountOf(off.Source!, "was written in place"));
        Assert.True(on.ArenaBytes < off.ArenaBytes, $"arena {on.ArenaBytes} in place, {off.ArenaBytes} copied");
        Numerics(m, 1e-5, Ort.Random(288, 5, 2f));
    }

    /// <summary>
    /// Where an input does not lie whole in the output (a concatenation along H), appears twice, is a graph input, or
    /// would start off the arena's 64-byte alignment (150 floats in), it is copied as before; the others are still
    /// written in place.
    /// </summary>
    [Fact]
    public void ConcatCopiesWhatCannotBeASlice()
    {
        var m = new OnnxBuilder(13).Input("x", DType.Float, 1, 3, 5, 5)
            .Initializer("w", new[] { 3, 3, 1, 1 }, Ort.Random(9, 1, 0.5f))
            .Node("Conv", new[] { "x", "w" }, new[] { "a" }).Node("Conv", new[] { "a", "w" }, new[] { "b" }).Node("Conv", new[] { "b", "w" }, new[] { "c" })
            .Node("Concat", new[] { "a", "x" }, new[] { "h" }, ("axis", 2L))
            .Node("Concat", new[] { "b", "b" }, new[] { "twice" }, ("axis", 1L))
            // c at 0 (a slice), x a graph input, a at 150 floats (600 bytes)
            .Node("Concat", new[] { "c", "x", "a" }, new[] { "mixed" }, ("axis", 1L))
            // the concatenations' outputs in the arena (a graph output lives in the caller's span: never sliced)
            .Node("Relu", new[] { "h" }, new[] { "y1" }).Node("Relu", new[] { "twice" }, new[] { "y2" }).Node("Relu", new[] { "mixed" }, new[] { "y3" })
            .Output("y1").Output("y2").Output("y3").Build();
        var on = ModelCompiler.Compile(m, "odd.onnx", new ModelOptions()).Source!;
        Assert.Equal(1, CountOf(on, "was written in place"));
        Assert.Equal(1, CountOf(on, "'c' was written in place"));
        Numerics(m, 1e-6, Ort.Random(75, 2));
    }

    // ---------- ClampFusion ----------

    /// <summary>Max/Min with a constant after: LeakyRelu (openWakeWord), no activation, Relu, Sigmoid (span form), and two clamps.</summary>
    static byte[] ClampModel() => new OnnxBuilder(14)
        .Input("x", DType.Float, 1, 8, 9, 9).Input("a", DType.Float, 3, 40)
        .Initializer("w1", new[] { 8, 8, 3, 3 }, Ort.Random(576, 1, 0.3f)).Initializer("b1", new[] { 8 }, Ort.Random(8, 2))
        .Initializer("w2", new[] { 4, 8, 1, 1 }, Ort.Random(32, 3))
        .Initializer("gw", new[] { 20, 40 }, Ort.Random(800, 4, 0.3f)).Initializer("mw", new[] { 40, 12 }, Ort.Random(480, 5, 0.3f))
        .Initializer("lo", Array.Empty<int>(), new[] { -0.4f }).Initializer("c1", new[] { 1 }, new[] { 0.1f })
        .Initializer("hi", Array.Empty<int>(), new[] { 0.6f }).Initializer("six", Array.Empty<int>(), new[] { 6f })
        .Node("Conv", new[] { "x", "w1", "b1" }, new[] { "p1" }, ("pads", new long[] { 1, 1, 1, 1 }))
        .Node("LeakyRelu", new[] { "p1" }, new[] { "l1" }, ("alpha", 0.2f)).Node("Max", new[] { "l1", "lo" }, new[] { "y1" })
        .Node("Conv", new[] { "x", "w2" }, new[] { "p2" }).Node("Max", new[] { "c1", "p2" }, new[] { "y2" })
        .Node("Conv", new[] { "x", "w2" }, new[] { "p3" }).Node("Relu", new[] { "p3" }, new[] { "l3" }).Node("Min", new[] { "l3", "six" }, new[] { "y3" })
        .Node("Gemm", new[] { "a", "gw" }, new[] { "p4" }, ("transB", 1L)).Node("Sigmoid", new[] { "p4" }, new[] { "l4" }).Node("Min", new[] { "l4", "hi" }, new[] { "y4" })
        .Node("MatMul", new[] { "a", "mw" }, new[] { "p5" }).Node("HardSwish", new[] { "p5" }, new[] { "l5" })
        .Node("Max", new[] { "l5", "lo" }, new[] { "m5" }).Node("Min", new[] { "m5", "hi" }, new[] { "y5" })
        .Output("y1").Output("y2").Output("y3").Output("y4").Output("y5").Build();

    [Fact]
    public void ClampFusesIntoTheFusedActivation()
    {
        var m = ClampModel();
        var g = Import(m);
        Pass("ActivationFusion").Run(g);
        Assert.Equal("Conv,Max,Conv,Max,Conv,Min,Gemm,Min,MatMul,Max,Min", Ops(g));
        Pass("ClampFusion").Run(g);
        Assert.Equal("Conv,Conv,Conv,Gemm,MatMul", Ops(g));
        string Act(int i) => ModelGen.Compiler.Operators.FusedActivation.Of(g.Nodes[i])!.ToString();
        Assert.Equal("LeakyRelu(0.2, 0) in [-0.4, Infinity]", Act(0));
        Assert.Equal("Clip(0.1, Infinity)", Act(1));
        Assert.Equal("Clip(0, 6)", Act(2));
        Assert.Equal("Sigmoid(0, 0) in [-Infinity, 0.6]", Act(3));
        Assert.Equal("HardSwish(0, 0) in [-0.4, 0.6]", Act(4));
        Numerics(m, 1e-5, Ort.Random(648, 6, 2f), Ort.Random(120, 7, 2f));
    }

    [Fact]
    public void ClampNotFusedWhenSharedOrRuntimeBound()
    {
        var m = new OnnxBuilder(14).Input("x", DType.Float, 1, 2, 4, 4).Input("b", DType.Float)
            .Initializer("w", new[] { 2, 2, 1, 1 }, Ort.Random(4, 1)).Initializer("lo", Array.Empty<int>(), new[] { -0.4f })
            .Node("Conv", new[] { "x", "w" }, new[] { "c" }).Node("Max", new[] { "c", "b" }, new[] { "y" })
            .Node("Conv", new[] { "x", "w" }, new[] { "d" }).Node("Max", new[] { "d", "lo" }, new[] { "e" })
            .Output("y").Output("d").Output("e").Build();
        Rewrite(m, "ClampFusion", "Conv,Max,Conv,Max", "Conv,Max,Conv,Max");
    }

    // ---------- IdentityElimination ----------

    [Fact]
    public void ZeroPadIsRemoved()
    {
        var m = new OnnxBuilder(14).Input("x", DType.Float, 1, 3, 5, 5)
            .Initializer("zp", new[] { 8 }, new long[8]).Initializer("p1", new[] { 8 }, new long[] { 0, 0, 1, 0, 0, 0, 0, 0 })
            .Node("Pad", new[] { "x", "zp" }, new[] { "p" }).Node("Relu", new[] { "p" }, new[] { "r" })
            .Node("Pad", new[] { "r", "p1" }, new[] { "q" }).Node("Pad", new[] { "q", "zp" }, new[] { "t" }, ("mode", "reflect"))
            .Node("Relu", new[] { "t" }, new[] { "y" })
            .Node("Pad", new[] { "r", "zp" }, new[] { "z" })
            .Output("y").Output("z").Build();
        // the graph output z keeps its Pad
        Rewrite(m, "IdentityElimination", "Pad,Relu,Pad,Pad,Relu,Pad", "Relu,Pad,Relu,Pad");
        Numerics(m, 1e-6, Ort.Random(75, 1));
    }

    // ---------- HardSwishFusion ----------

    [Theory]
    [InlineData(0, "Add,Clip,Mul,Div", "HardSwish")]          // x * Clip(x + 3, 0, 6) / 6
    [InlineData(1, "Add,Clip,Mul,Mul", "HardSwish")]          // (Clip(3 + x, 0, 6) * x) * (1/6)
    [InlineData(2, "Add,Clip,Div,Mul", "HardSwish")]          // x * (Clip(x + 3, 0, 6) / 6)
    [InlineData(3, "HardSigmoid,Mul", "HardSwish")]           // HardSigmoid(x) * x, alpha 1/6
    [InlineData(4, "Add,Clip,Mul", "HardSigmoid")]            // (1/6) * Clip(x + 3, 0, 6)
    public void HardSwishPatternsFuse(int ordering, string before, string after)
    {
        var b = Bounds(new OnnxBuilder(14)).Input("x", DType.Float, 2, 3, 4, 5)
            .Initializer("three", Array.Empty<int>(), new[] { 3f }).Initializer("sixth", Array.Empty<int>(), new[] { 1f / 6 });
        switch (ordering)
        {
            case 0: b.Node("Add", new[] { "x", "three" }, new[] { "s" }).Node("Clip", new[] { "s", "zero", "six" }, new[] { "c" })
                .Node("Mul", new[] { "x", "c" }, new[] { "p" }).Node("Div", new[] { "p", "six" }, new[] { "y" }); break;
            case 1: b.Node("Add", new[] { "three", "x" }, new[] { "s" }).Node("Clip", new[] { "s", "zero", "six" }, new[] { "c" })
                .Node("Mul", new[] { "c", "x" }, new[] { "p" }).Node("Mul", new[] { "p", "sixth" }, new[] { "y" }); break;
            case 2: b.Node("Add", new[] { "x", "three" }, new[] { "s" }).Node("Clip", new[] { "s", "zero", "six" }, new[] { "c" })
                .Node("Div", new[] { "c", "six" }, new[] { "h" }).Node("Mul", new[] { "x", "h" }, new[] { "y" }); break;
            case 3: b.Node("HardSigmoid", new[] { "x" }, new[] { "h" }, ("alpha", 1f / 6), ("beta", 0.5f)).Node("Mul", new[] { "h", "x" }, new[] { "y" }); break;
            default: b.Node("Add", new[] { "x", "three" }, new[] { "s" }).Node("Clip", new[] { "s", "zero", "six" }, new[] { "c" })
                .Node("Mul", new[] { "sixth", "c" }, new[] { "y" }); break;
        }
        var m = b.Output("y").Build();
        var g = Rewrite(m, "HardSwishFusion", before, after);
        if (after == "HardSigmoid") Assert.Equal(1f / 6, g.Nodes[0].Float("alpha", 0));
        Numerics(m, 1e-5, Ort.Random(120, 3, 5f));
    }

    [Fact]
    public void HardSwishNotFusedWithOtherConstantsOrOperands()
    {
        var m = Bounds(new OnnxBuilder(14)).Input("x", DType.Float, 8).Input("z", DType.Float, 8)
            .Initializer("three", Array.Empty<int>(), new[] { 3f })
            .Node("Add", new[] { "x", "three" }, new[] { "s" }).Node("Clip", new[] { "s", "zero", "hi" }, new[] { "c" })
            .Node("Div", new[] { "c", "six" }, new[] { "y" })
            .Node("Add", new[] { "x", "three" }, new[] { "s2" }).Node("Clip", new[] { "s2", "zero", "six" }, new[] { "c2" })
            .Node("Mul", new[] { "z", "c2" }, new[] { "p2" }).Node("Div", new[] { "p2", "six" }, new[] { "y2" })
            .Output("y").Output("y2").Build();
        Rewrite(m, "HardSwishFusion", "Add,Clip,Div,Add,Clip,Mul,Div", "Add,Clip,Div,Add,Clip,Mul,Div");
    }

    // ---------- PadFolding ----------

    static OnnxBuilder PadInput(OnnxBuilder b, long[] pads, float value = 0f) => b
        .Input("x", DType.Float, 1, 3, 7, 8)
        .Initializer("pads", new[] { pads.Length }, pads).Initializer("pv", Array.Empty<int>(), new[] { value });

    [Fact]
    public void PadFoldsIntoConv()
    {
        var m = PadInput(new OnnxBuilder(14), new long[] { 0, 0, 1, 2, 0, 0, 2, 0 })
            .Initializer("w", new[] { 4, 3, 3, 3 }, Ort.Random(108, 1))
            .Node("Pad", new[] { "x", "pads", "pv" }, new[] { "p" })
            .Node("Conv", new[] { "p", "w" }, new[] { "y" }, ("pads", new long[] { 1, 0, 0, 1 }), ("strides", new long[] { 2, 1 }))
            .Output("y").Build();
        var g = Rewrite(m, "PadFolding", "Pad,Conv", "Conv");
        Assert.Equal(new long[] { 2, 2, 2, 1 }, g.Nodes[0].Ints("pads"));
        Numerics(m, 1e-5, Ort.Random(168, 2));
    }

    [Theory]
    [InlineData(0L, false, "AveragePool")]                // pool without pads: folded with count_include_pad=1
    [InlineData(1L, true, "AveragePool")]                 // pads counted already: folded
    [InlineData(0L, true, "Pad,AveragePool")]             // own pads not counted: the Pad's zeros must be, keep it
    public void PadFoldsIntoAveragePoolOnlyWhenPadsCount(long countIncludePad, bool ownPads, string after)
    {
        var b = PadInput(new OnnxBuilder(14), new long[] { 0, 0, 1, 1, 0, 0, 1, 1 }).Node("Pad", new[] { "x", "pads" }, new[] { "p" });
        var attrs = new List<(string, object)> { ("kernel_shape", new long[] { 3, 3 }), ("count_include_pad", countIncludePad) };
        if (ownPads) attrs.Add(("pads", new long[] { 0, 1, 1, 0 }));
        var m = b.Node("AveragePool", new[] { "p" }, new[] { "y" }, attrs.ToArray()).Output("y").Build();
        var g = Rewrite(m, "PadFolding", "Pad,AveragePool", after);
        if (after == "AveragePool") Assert.Equal(1, g.Nodes[0].Int("count_include_pad", 0));
        Numerics(m, 1e-5, Ort.Random(168, 3));
    }

    [Theory]
    [InlineData(true, 0f, "Relu,MaxPool")]                    // zeros below a Relu's output change no maximum
    [InlineData(false, float.NegativeInfinity, "MaxPool")]    // -inf padding is MaxPool's own
    [InlineData(false, 0f, "Pad,MaxPool")]                    // zeros may exceed negative inputs: keep it
    public void PadFoldsIntoMaxPoolOnlyWhenTheMaximumIsUnchanged(bool relu, float value, string after)
    {
        var b = PadInput(new OnnxBuilder(14), new long[] { 0, 0, 1, 0, 0, 0, 1, 1 }, value);
        if (relu) b.Node("Relu", new[] { "x" }, new[] { "r" });
        var m = b.Node("Pad", new[] { relu ? "r" : "x", "pads", "pv" }, new[] { "p" })
            .Node("MaxPool", new[] { "p" }, new[] { "y" }, ("kernel_shape", new long[] { 2, 3 }), ("strides", new long[] { 2, 2 }))
            .Output("y").Build();
        Rewrite(m, "PadFolding", (relu ? "Relu," : "") + "Pad,MaxPool", after);
        // ONNX Runtime's own PadFusion folds a zero Pad into MaxPool regardless of the input's sign, so over a
        // possibly negative input it is no oracle: there the unoptimised model (Pad written out) is
        if (after.StartsWith("Pad")) MatchesUnoptimised(m, 1e-5, Ort.Random(168, 4));
        else Numerics(m, 1e-5, Ort.Random(168, 4));
    }

    [Fact]
    public void PadNotFoldedOverChannelsOrInReflectMode()
    {
        var m = PadInput(new OnnxBuilder(14), new long[] { 0, 1, 1, 1, 0, 0, 1, 1 })
            .Initializer("w", new[] { 4, 4, 1, 1 }, Ort.Random(16, 1)).Initializer("w3", new[] { 4, 3, 1, 1 }, Ort.Random(12, 1))
            .Initializer("sp", new[] { 8 }, new long[] { 0, 0, 1, 1, 0, 0, 1, 1 })
            .Node("Pad", new[] { "x", "pads" }, new[] { "p" }).Node("Conv", new[] { "p", "w" }, new[] { "y" })
            .Node("Pad", new[] { "x", "sp" }, new[] { "q" }, ("mode", "reflect")).Node("Conv", new[] { "q", "w3" }, new[] { "z" })
            .Output("y").Output("z").Build();
        Rewrite(m, "PadFolding", "Pad,Conv,Pad,Conv", "Pad,Conv,Pad,Conv");
    }

    // ---------- all passes on a small network ----------

    /// <summary>
    /// Pad, Conv + BatchNormalization + Relu, depthwise Conv + exported HardSwish, pointwise Conv + Relu6, MaxPool,
    /// Gemm + SiLU: the full pass list leaves only fused layers, and the result equals the unoptimised model.
    /// </summary>
    [Fact]
    public void SmallNetworkFusesAndMatchesUnoptimised()
    {
        var m = Bounds(new OnnxBuilder(14))
            .Input("x", DType.Float, 1, 3, 12, 12)
            .Initializer("pads", new[] { 8 }, new long[] { 0, 0, 1, 1, 0, 0, 1, 1 })
            .Initializer("w1", new[] { 8, 3, 3, 3 }, Ort.Random(216, 1))
            .Initializer("s", new[] { 8 }, Ort.Random(8, 2)).Initializer("bb", new[] { 8 }, Ort.Random(8, 3))
            .Initializer("mu", new[] { 8 }, Ort.Random(8, 4)).Initializer("var", new[] { 8 }, Positive(8, 5))
            .Initializer("w2", new[] { 8, 1, 3, 3 }, Ort.Random(72, 6)).Initializer("b2", new[] { 8 }, Ort.Random(8, 7))
            .Initializer("three", Array.Empty<int>(), new[] { 3f })
            .Initializer("w3", new[] { 16, 8, 1, 1 }, Ort.Random(128, 8))
            .Initializer("shape", new[] { 2 }, new long[] { 1, 16 * 36 })
            .Initializer("gw", new[] { 16 * 36, 10 }, Ort.Random(16 * 36 * 10, 9, 0.1f)).Initializer("gb", new[] { 10 }, Ort.Random(10, 10))
            .Node("Pad", new[] { "x", "pads" }, new[] { "xp" })
            .Node("Conv", new[] { "xp", "w1" }, new[] { "c1" })
            .Node("BatchNormalization", new[] { "c1", "s", "bb", "mu", "var" }, new[] { "n1" })
            .Node("Relu", new[] { "n1" }, new[] { "r1" })
            .Node("Conv", new[] { "r1", "w2", "b2" }, new[] { "c2" }, ("pads", new long[] { 1, 1, 1, 1 }), ("group", 8L))
            .Node("Add", new[] { "c2", "three" }, new[] { "a2" }).Node("Clip", new[] { "a2", "zero", "six" }, new[] { "k2" })
            .Node("Mul", new[] { "c2", "k2" }, new[] { "m2" }).Node("Div", new[] { "m2", "six" }, new[] { "h2" })
            .Node("Conv", new[] { "h2", "w3" }, new[] { "c3" })
            .Node("Clip", new[] { "c3", "zero", "six" }, new[] { "r3" })
            .Node("MaxPool", new[] { "r3" }, new[] { "p3" }, ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 }))
            .Node("Reshape", new[] { "p3", "shape" }, new[] { "f" })
            .Node("MatMul", new[] { "f", "gw" }, new[] { "g" }).Node("Add", new[] { "g", "gb" }, new[] { "ga" })
            .Node("Sigmoid", new[] { "ga" }, new[] { "gs" }).Node("Mul", new[] { "ga", "gs" }, new[] { "y" })
            .Output("y").Build();
        var g = Import(m);
        PassManager.Run(g, new ModelOptions());
        Assert.Equal("Conv,Conv,Conv,MaxPool,Reshape,Gemm", Ops(g));
        Assert.Equal("Relu,HardSwish,Clip,Silu", string.Join(",", g.Nodes.Where(n => n.Has("_mg_activation")).Select(n => n.Str("_mg_activation", ""))));
        Numerics(m, 1e-5, Ort.Random(432, 11, 2f));
    }

    // ---------- MatMulAddToGemm ----------

    [Theory]
    [InlineData(new[] { 5 }, false)]
    [InlineData(new[] { 1, 5 }, true)]
    [InlineData(new[] { 3, 5 }, false)]
    public void MatMulAddBecomesGemm(int[] biasShape, bool biasFirst)
    {
        var m = new OnnxBuilder()
            .Input("x", DType.Float, 3, 4)
            .Initializer("w", new[] { 4, 5 }, Ort.Random(20, 1))
            .Initializer("c", biasShape, Ort.Random(biasShape.Aggregate(1, (p, q) => p * q), 2))
            .Node("MatMul", new[] { "x", "w" }, new[] { "g" })
            .Node("Add", biasFirst ? new[] { "c", "g" } : new[] { "g", "c" }, new[] { "y" })
            .Node("Tanh", new[] { "y" }, new[] { "z" })
            .Output("z").Build();
        Rewrite(m, "MatMulAddToGemm", "MatMul,Add,Tanh", "Gemm,Tanh");
        Numerics(m, 1e-5, Ort.Random(12, 7));
    }

    [Theory]
    [InlineData(new[] { 2, 3, 4 }, new[] { 5 })]
    [InlineData(new[] { 16, 1, 4 }, new[] { 1, 1, 5 })]
    [InlineData(new[] { 2, 2, 3, 4 }, new[] { 1, 5 })]
    public void BatchedMatMulAddBecomesGemmOverRows(int[] xShape, int[] biasShape)
    {
        var m = new OnnxBuilder()
            .Input("x", DType.Float, xShape)
            .Initializer("w", new[] { 4, 5 }, Ort.Random(20, 1))
            .Initializer("c", biasShape, Ort.Random(5, 2))
            .Node("MatMul", new[] { "x", "w" }, new[] { "g" })
            .Node("Add", new[] { "g", "c" }, new[] { "y" })
            .Node("Tanh", new[] { "y" }, new[] { "z" })
            .Output("z").Build();
        Rewrite(m, "MatMulAddToGemm", "MatMul,Add,Tanh", "Reshape,Gemm,Reshape,Tanh");
        Numerics(m, 1e-5, Ort.Random(xShape.Aggregate(1, (p, q) => p * q), 7));
    }

    [Fact]
    public void MatMulAddKeptForNonConstantOrMatrixBias()
    {
        var m = new OnnxBuilder()
            .Input("x", DType.Float, 2, 3, 4).Input("b", DType.Float, 5)
            .Initializer("w", new[] { 4, 5 }, Ort.Random(20, 1))
            .Node("MatMul", new[] { "x", "w" }, new[] { "g" })
            .Node("Add", new[] { "g", "b" }, new[] { "y" })
            .Output("y").Build();
        Rewrite(m, "MatMulAddToGemm", "MatMul,Add", "MatMul,Add");
        // a bias that varies along the rows of a batched product (not one row for all) stays an Add
        var rows = new OnnxBuilder()
            .Input("x", DType.Float, 2, 3, 4)
            .Initializer("w", new[] { 4, 5 }, Ort.Random(20, 1)).Initializer("c", new[] { 3, 5 }, Ort.Random(15, 2))
            .Node("MatMul", new[] { "x", "w" }, new[] { "g" })
            .Node("Add", new[] { "g", "c" }, new[] { "y" })
            .Output("y").Build();
        Rewrite(rows, "MatMulAddToGemm", "MatMul,Add", "MatMul,Add");
    }

    // ---------- ChannelBlocking ----------

    /// <summary>
    /// A MobileNet-style body: 1x1 (8 -> 16, from NCHW planes), depthwise, 1x1 (16 -> 32), depthwise stride 2, then a
    /// 1x1 whose output is the graph's and a residual branch. The tensors between the chain's convolutions are blocked:
    /// the first 1x1 writes blocks from planes (no reorder before it), one reorder back at the end, the convolution
    /// whose input a residual Add also reads keeps NCHW; both profiles and ONNX Runtime agree with the unoptimised model.
    /// </summary>
    [Fact]
    public void ChannelBlockingKeepsDepthwiseChainsBlocked()
    {
        var m = new OnnxBuilder()
            .Input("x", DType.Float, 1, 8, 10, 9)
            .Initializer("w1", new[] { 16, 8, 1, 1 }, Ort.Random(128, 1)).Initializer("b1", new[] { 16 }, Ort.Random(16, 2))
            .Initializer("w2", new[] { 16, 1, 3, 3 }, Ort.Random(144, 3))
            .Initializer("w3", new[] { 32, 16, 1, 1 }, Ort.Random(512, 4)).Initializer("b3", new[] { 32 }, Ort.Random(32, 5))
            .Initializer("w4", new[] { 32, 1, 3, 3 }, Ort.Random(288, 6)).Initializer("b4", new[] { 32 }, Ort.Random(32, 7))
            .Initializer("w5", new[] { 32, 32, 1, 1 }, Ort.Random(1024, 8))
            .Node("Conv", new[] { "x", "w1", "b1" }, new[] { "c1" }).Node("Relu", new[] { "c1" }, new[] { "r1" })
            .Node("Conv", new[] { "r1", "w2" }, new[] { "c2" }, ("group", 16L), ("pads", new long[] { 1, 1, 1, 1 }))
            .Initializer("lo", new int[0], new[] { 0f }).Initializer("hi", new int[0], new[] { 6f })
            .Node("Clip", new[] { "c2", "lo", "hi" }, new[] { "r2" })
            .Node("Conv", new[] { "r2", "w3", "b3" }, new[] { "c3" }).Node("Relu", new[] { "c3" }, new[] { "r3" })
            .Node("Conv", new[] { "r3", "w4", "b4" }, new[] { "c4" }, ("group", 32L), ("pads", new long[] { 1, 1, 1, 1 }), ("strides", new long[] { 2, 2 }))
            .Node("Sigmoid", new[] { "c4" }, new[] { "r4" })
            .Node("Conv", new[] { "r4", "w5" }, new[] { "c5" })
            .Node("Add", new[] { "c5", "r4" }, new[] { "y" })
            .Output("y").Build();
        var g = Import(m);
        PassManager.Run(g, new ModelOptions());
        var convs = g.Nodes.Where(n => n.OpType == "Conv").ToList();
        Assert.Equal(new[] { 1L, 1, 1, 1 }, convs.Take(4).Select(n => n.Int("mg_blocked", 0)));
        Assert.Equal(0, convs[0].Int("mg_blocked_in", 1));
        var reorders = g.Nodes.Where(n => n.OpType == "ChannelBlocks").ToList();
        // r4 is read by the Add: the chain ends at the stride-2 depthwise, whose output goes back to NCHW
        Assert.Equal(0, Assert.Single(reorders).Int("to", 1));
        Assert.Same(convs[3], reorders[0].In(0).Producer);
        var portable = Import(m);
        PassManager.Run(portable, new ModelOptions { Target = TargetProfile.Portable });
        Assert.DoesNotContain(portable.Nodes, n => n.OpType == "ChannelBlocks" || n.Int("mg_blocked", 0) != 0);
        Numerics(m, 1e-5, Ort.Random(720, 9));
    }

    /// <summary>
    /// DS-CNN's shape: a dense stem (1 -> 64, 10x4, stride 2, ConvWeightPanels' panels), depthwise, 1x1, global pool. The
    /// stem writes the chain's first blocks (ConvBlocked.Dense) and the pool reads the last: no reorder at either end.
    /// A stem whose output a non-chain node also reads still writes blocks for the depthwise layer; that node reads a reorder. Both profiles and ONNX Runtime agree with the
    /// unoptimised model.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ChannelBlockingStartsAtADenseStem(bool shared)
    {
        var b = new OnnxBuilder().Input("x", DType.Float, 1, 1, 49, 10)
            .Initializer("ws", new[] { 64, 1, 10, 4 }, Ort.Random(2560, 1)).Initializer("bs", new[] { 64 }, Ort.Random(64, 2))
            .Initializer("wd", new[] { 64, 1, 3, 3 }, Ort.Random(576, 3)).Initializer("bd", new[] { 64 }, Ort.Random(64, 4))
            .Initializer("wp", new[] { 64, 64, 1, 1 }, Ort.Random(4096, 5)).Initializer("bp", new[] { 64 }, Ort.Random(64, 6))
            .Node("Conv", new[] { "x", "ws", "bs" }, new[] { "s" }, ("strides", new long[] { 2, 2 }), ("pads", new long[] { 4, 1, 5, 1 })).Node("Relu", new[] { "s" }, new[] { "sr" })
            .Node("Conv", new[] { "sr", "wd", "bd" }, new[] { "d" }, ("group", 64L), ("pads", new long[] { 1, 1, 1, 1 })).Node("Relu", new[] { "d" }, new[] { "dr" })
            .Node("Conv", new[] { "dr", "wp", "bp" }, new[] { "p" }).Node("Relu", new[] { "p" }, new[] { "pr" })
            .Node("GlobalAveragePool", new[] { "pr" }, new[] { "y" });
        if (shared) b.Node("ReduceMax", new[] { "sr" }, new[] { "z" }, ("keepdims", 0L)).Output("z");
        var m = b.Output("y").Build();
        var g = Import(m);
        PassManager.Run(g, new ModelOptions());
        var convs = g.Nodes.Where(n => n.OpType == "Conv").ToList();
        Assert.NotNull(convs[0].In(4));
        // shared with a ReduceMax: the stem still writes blocks for the depthwise layer, the ReduceMax reads a reorder
        Assert.Equal(1, convs[0].Int("mg_blocked", 0));
        Assert.Equal(shared ? 1 : 0, g.Nodes.Count(n => n.OpType == "ChannelBlocks"));
        Numerics(m, 1e-5, Ort.Random(490, 9));
    }

    /// <summary>
    /// SqueezeNet's shape of network: a dense stem, a 3x3/2 ceil-mode max pool, two fire modules (squeeze 1x1, expand
    /// 1x1 and expand 3x3, concatenated along the channels) with a max pool between them, a 1x1 classifier and a global
    /// pool. Every tensor between the stem and the global pool stays blocked: the expand 3x3 layers read blocks
    /// (mg_blocked_in), the pools and the concatenations pass them on, and no reorder is left. A concatenation with a
    /// 24-channel input, and a pool whose input another reader shares, keep planes. Both profiles and ONNX Runtime
    /// agree with the unoptimised model.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ChannelBlockingRunsFireModules(bool odd)
    {
        int e3 = odd ? 24 : 32; // expand 3x3 channels: 24 is no multiple of 16, so that concatenation keeps planes
        var b = new OnnxBuilder().Input("x", DType.Float, 1, 3, 31, 31)
            .Initializer("w0", new[] { 32, 3, 3, 3 }, Ort.Random(864, 1)).Initializer("b0", new[] { 32 }, Ort.Random(32, 2));
        var prev = "p0";
        b.Node("Conv", new[] { "x", "w0", "b0" }, new[] { "c0" }, ("strides", new long[] { 2, 2 })).Node("Relu", new[] { "c0" }, new[] { "r0" })
            .Node("MaxPool", new[] { "r0" }, new[] { "p0" }, ("kernel_shape", new long[] { 3, 3 }), ("strides", new long[] { 2, 2 }), ("ceil_mode", 1L));
        int inC = 32;
        for (int f = 1; f <= 2; f++)
        {
            int sq = 16, e1 = 32, e3f = f == 2 ? e3 : 32;
            b.Initializer($"ws{f}", new[] { sq, inC, 1, 1 }, Ort.Random(sq * inC, 10 * f)).Initializer($"bs{f}", new[] { sq }, Ort.Random(sq, 10 * f + 1))
                .Initializer($"we{f}", new[] { e1, sq, 1, 1 }, Ort.Random(e1 * sq, 10 * f + 2)).Initializer($"be{f}", new[] { e1 }, Ort.Random(e1, 10 * f + 3))
                .Initializer($"wf{f}", new[] { e3f, sq, 3, 3 }, Ort.Random(e3f * sq * 9, 10 * f + 4)).Initializer($"bf{f}", new[] { e3f }, Ort.Random(e3f, 10 * f + 5))
                .Node("Conv", new[] { prev, $"ws{f}", $"bs{f}" }, new[] { $"s{f}" }).Node("Relu", new[] { $"s{f}" }, new[] { $"sr{f}" })
                .Node("Conv", new[] { $"sr{f}", $"we{f}", $"be{f}" }, new[] { $"e{f}" }).Node("Relu", new[] { $"e{f}" }, new[] { $"er{f}" })
                .Node("Conv", new[] { $"sr{f}", $"wf{f}", $"bf{f}" }, new[] { $"t{f}" }, ("pads", new long[] { 1, 1, 1, 1 })).Node("Relu", new[] { $"t{f}" }, new[] { $"tr{f}" })
                .Node("Concat", new[] { $"er{f}", $"tr{f}" }, new[] { $"cat{f}" }, ("axis", 1L));
            inC = e1 + e3f;
            prev = $"cat{f}";
            if (f == 1)
            {
                b.Node("MaxPool", new[] { prev }, new[] { "p1" }, ("kernel_shape", new long[] { 3, 3 }), ("strides", new long[] { 2, 2 }), ("ceil_mode", 1L));
                prev = "p1";
            }
        }
        b.Initializer("wc", new[] { 16, inC, 1, 1 }, Ort.Random(16 * inC, 40)).Initializer("bc", new[] { 16 }, Ort.Random(16, 41))
            .Node("Conv", new[] { prev, "wc", "bc" }, new[] { "c" }).Node("Relu", new[] { "c" }, new[] { "cr" })
            .Node("GlobalAveragePool", new[] { "cr" }, new[] { "y" });
        var m = b.Output("y").Build();
        var g = Import(m);
        PassManager.Run(g, new ModelOptions());
        var pools = g.Nodes.Where(n => n.OpType == "MaxPool").ToList();
        var cats = g.Nodes.Where(n => n.OpType == "Concat").ToList();
        var dense3x3 = g.Nodes.Where(n => n.OpType == "Conv" && n.In(4) != null && n.In(0).Shape[1] % 16 == 0).ToList();
        Assert.Equal(2, pools.Count);
        Assert.All(pools, p => Assert.Equal(1, p.Int("mg_blocked", 0)));
        Assert.Equal(1, cats[0].Int("mg_blocked", 0));
        Assert.Equal(odd ? 0 : 1, cats[1].Int("mg_blocked", 0));
        Assert.Equal(2, dense3x3.Count);
        Assert.Equal(1, dense3x3[0].Int("mg_blocked_in", 0));
        // the 24-channel expand writes planes, so the squeeze output it shares with the 1x1 is reordered back once
        Assert.Equal(odd ? 0 : 1, dense3x3[1].Int("mg_blocked_in", 0));
        Assert.Equal(odd ? 1 : 0, g.Nodes.Count(n => n.OpType == "ChannelBlocks"));
        Numerics(m, 1e-5, Ort.Random(3 * 31 * 31, 9));
    }

    /// <summary>
    /// A MobileNetV3 squeeze-excite block: expand 1x1, depthwise, global pool, two 1x1 gates (Relu, HardSigmoid), the
    /// gate multiplied into the depthwise output (either operand order), project 1x1. The Mul scales the blocks where
    /// they lie (mg_blocked) and the project reads them: the only reorder left is the one back to the graph's output
    /// (and the gate's, of one value per channel). Both profiles and ONNX Runtime agree with the unoptimised model.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ChannelBlockingScalesSqueezeExciteGates(bool gateFirst)
    {
        var m = new OnnxBuilder().Input("x", DType.Float, 1, 16, 9, 11)
            .Initializer("we", new[] { 32, 16, 1, 1 }, Ort.Random(512, 1)).Initializer("be", new[] { 32 }, Ort.Random(32, 2))
            .Initializer("wd", new[] { 32, 1, 3, 3 }, Ort.Random(288, 3)).Initializer("bd", new[] { 32 }, Ort.Random(32, 4))
            .Initializer("w1", new[] { 16, 32, 1, 1 }, Ort.Random(512, 5)).Initializer("b1", new[] { 16 }, Ort.Random(16, 6))
            .Initializer("w2", new[] { 32, 16, 1, 1 }, Ort.Random(512, 7)).Initializer("b2", new[] { 32 }, Ort.Random(32, 8))
            .Initializer("wp", new[] { 16, 32, 1, 1 }, Ort.Random(512, 9)).Initializer("bp", new[] { 16 }, Ort.Random(16, 10))
            .Node("Conv", new[] { "x", "we", "be" }, new[] { "e" }).Node("Relu", new[] { "e" }, new[] { "er" })
            .Node("Conv", new[] { "er", "wd", "bd" }, new[] { "d" }, ("group", 32L), ("pads", new long[] { 1, 1, 1, 1 })).Node("Relu", new[] { "d" }, new[] { "dr" })
            .Node("GlobalAveragePool", new[] { "dr" }, new[] { "p" })
            .Node("Conv", new[] { "p", "w1", "b1" }, new[] { "s1" }).Node("Relu", new[] { "s1" }, new[] { "s1r" })
            .Node("Conv", new[] { "s1r", "w2", "b2" }, new[] { "s2" }).Node("HardSigmoid", new[] { "s2" }, new[] { "gate" })
            .Node("Mul", gateFirst ? new[] { "gate", "dr" } : new[] { "dr", "gate" }, new[] { "sc" })
            .Node("Conv", new[] { "sc", "wp", "bp" }, new[] { "y" })
            .Output("y").Build();
        var g = Import(m);
        PassManager.Run(g, new ModelOptions());
        var mul = Assert.Single(g.Nodes, n => n.OpType == "Mul");
        Assert.Equal(1, mul.Int("mg_blocked", 0));
        Assert.Equal(gateFirst ? 1 : 0, mul.Int("mg_blocked_data", -1));
        Assert.All(g.Nodes.Where(n => n.OpType == "ChannelBlocks"), r => Assert.True(r.Out().Shape[2] == 1 || r.Out().Name == "y", r.Name));
        Numerics(m, 1e-5, Ort.Random(16 * 99, 11));
    }

    /// <summary>
    /// A classifier head on a chain: depthwise, 1x1, then a global pool (GlobalAveragePool, GlobalMaxPool, or an
    /// AveragePool whose window is the plane). The pool reads the chain's blocks itself (mg_blocked_in, no reorder
    /// back), and so does a ReduceMean or ReduceMax over H and W; a padded AveragePool and a mean over W alone keep the reorder, and a pool sharing its input with another reader reads the blocks while that reader gets a reorder of its own. Both profiles and
    /// ONNX Runtime agree with the unoptimised model.
    /// </summary>
    [Theory]
    [InlineData("GlobalAveragePool", true)]
    [InlineData("GlobalMaxPool", true)]
    [InlineData("AveragePool", true)]
    [InlineData("PaddedAveragePool", false)]
    [InlineData("SharedGlobalAveragePool", true)]
    [InlineData("ReduceMean", true)]
    [InlineData("ReduceMax", true)]
    [InlineData("ReduceMeanOverW", false)]
    public void ChannelBlockingPoolsBlocksAtTheHead(string pool, bool reads)
    {
        var b = new OnnxBuilder().Input("x", DType.Float, 1, 16, 7, 5)
            .Initializer("wd", new[] { 16, 1, 3, 3 }, Ort.Random(144, 1)).Initializer("bd", new[] { 16 }, Ort.Random(16, 2))
            .Initializer("wp", new[] { 32, 16, 1, 1 }, Ort.Random(512, 3)).Initializer("bp", new[] { 32 }, Ort.Random(32, 4))
            .Node("Conv", new[] { "x", "wd", "bd" }, new[] { "d" }, ("group", 16L), ("pads", new long[] { 1, 1, 1, 1 })).Node("Relu", new[] { "d" }, new[] { "dr" })
            .Node("Conv", new[] { "dr", "wp", "bp" }, new[] { "p" }).Node("Relu", new[] { "p" }, new[] { "pr" });
        if (pool == "AveragePool") b.Node("AveragePool", new[] { "pr" }, new[] { "y" }, ("kernel_shape", new long[] { 7, 5 }));
        else if (pool == "PaddedAveragePool") b.Node("AveragePool", new[] { "pr" }, new[] { "y" }, ("kernel_shape", new long[] { 7, 5 }), ("pads", new long[] { 1, 1, 1, 1 }));
        // PyTorch's x.mean([2, 3]) head (either keepdims); over W alone it is no global pool
        else if (pool == "ReduceMean") b.Node("ReduceMean", new[] { "pr" }, new[] { "y" }, ("axes", new long[] { 2, 3 }), ("keepdims", 0L));
        else if (pool == "ReduceMax") b.Node("ReduceMax", new[] { "pr" }, new[] { "y" }, ("axes", new long[] { -1, -2 }), ("keepdims", 1L));
        else if (pool == "ReduceMeanOverW") b.Node("ReduceMean", new[] { "pr" }, new[] { "y" }, ("axes", new long[] { 3 }), ("keepdims", 0L));
        else b.Node(pool.Replace("Shared", ""), new[] { "pr" }, new[] { "y" });
        if (pool.StartsWith("Shared")) b.Node("Sigmoid", new[] { "pr" }, new[] { "z" }).Output("z");
        var m = b.Output("y").Build();
        var g = Import(m);
        PassManager.Run(g, new ModelOptions());
        Assert.All(g.Nodes.Where(n => n.OpType == "Conv"), c => Assert.Equal(1, c.Int("mg_blocked", 0)));
        var head = Assert.Single(g.Nodes, n => n.OpType.EndsWith("Pool") || n.OpType.StartsWith("Reduce"));
        Assert.Equal(reads ? 1 : 0, head.Int("mg_blocked_in", 0));
        // a shared tensor: the pool reads the blocks, the Sigmoid a reorder of its own
        Assert.Equal(reads && !pool.StartsWith("Shared") ? 0 : 1, g.Nodes.Count(n => n.OpType == "ChannelBlocks" && n.Int("to", 1) == 0));
        Numerics(m, 1e-5, Ort.Random(16 * 35, 9));
    }

    /// <summary>
    /// MobileNetV2's inverted residual blocks: expand 1x1, depthwise, project 1x1 + the block's input (fused into the
    /// projection, which accumulates onto it). With the residual blocked too, every convolution stays blocked and the
    /// chain ends in one reorder at the graph's output; both profiles and ORT agree with the unoptimised model.
    /// </summary>
    [Fact]
    public void ChannelBlockingCarriesResidualBlocks()
    {
        var b = new OnnxBuilder().Input("x", DType.Float, 1, 8, 10, 9)
            .Initializer("w0", new[] { 16, 8, 1, 1 }, Ort.Random(128, 1)).Initializer("b0", new[] { 16 }, Ort.Random(16, 2))
            .Node("Conv", new[] { "x", "w0", "b0" }, new[] { "c0" }).Node("Relu", new[] { "c0" }, new[] { "a0" });
        for (int i = 1; i <= 2; i++)
        {
            b.Initializer($"we{i}", new[] { 32, 16, 1, 1 }, Ort.Random(512, 10 * i)).Initializer($"wd{i}", new[] { 32, 1, 3, 3 }, Ort.Random(288, 10 * i + 1))
                .Initializer($"wp{i}", new[] { 16, 32, 1, 1 }, Ort.Random(512, 10 * i + 2)).Initializer($"bp{i}", new[] { 16 }, Ort.Random(16, 10 * i + 3))
                .Node("Conv", new[] { $"a{i - 1}", $"we{i}" }, new[] { $"e{i}" }).Node("Relu", new[] { $"e{i}" }, new[] { $"er{i}" })
                .Node("Conv", new[] { $"er{i}", $"wd{i}" }, new[] { $"d{i}" }, ("group", 32L), ("pads", new long[] { 1, 1, 1, 1 })).Node("Relu", new[] { $"d{i}" }, new[] { $"dr{i}" })
                .Node("Conv", new[] { $"dr{i}", $"wp{i}", $"bp{i}" }, new[] { $"p{i}" })
                .Node("Add", new[] { $"p{i}", $"a{i - 1}" }, new[] { $"a{i}" });
        }
        var m = b.Output("a2").Build();
        var g = Import(m);
        PassManager.Run(g, new ModelOptions());
        var convs = g.Nodes.Where(n => n.OpType == "Conv").ToList();
        Assert.Equal(7, convs.Count);
        Assert.All(convs, c => Assert.Equal(1, c.Int("mg_blocked", 0)));
        Assert.Equal(2, convs.Count(c => c.In(3) != null));
        var reorder = Assert.Single(g.Nodes, n => n.OpType == "ChannelBlocks");
        Assert.Same(convs[^1], reorder.In(0).Producer);
        Numerics(m, 1e-5, Ort.Random(720, 9));
    }

    // ---------- GemmWeightLayout ----------

    /// <summary>
    /// A Gemm over a constant B stored transposed (PyTorch's Linear) gets B transposed at build time and transB = 0 for
    /// the Net kernel, with the fused activation kept; B read by a second node, the Portable profile and a Gemm with
    /// transA keep theirs. Outputs agree with the unoptimised graph and ONNX Runtime, one row and several.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void GemmWeightLayoutTransposesConstantWeights(int rows)
    {
        var m = new OnnxBuilder()
            .Input("x", DType.Float, rows, 40)
            .Initializer("w", new[] { 70, 40 }, Ort.Random(2800, 1))
            .Initializer("c", new[] { 70 }, Ort.Random(70, 2))
            .Node("Gemm", new[] { "x", "w", "c" }, new[] { "g" }, ("transB", 1L), ("alpha", 0.5f))
            .Node("Relu", new[] { "g" }, new[] { "y" })
            .Output("y").Build();
        var g = Import(m);
        PassManager.Run(g, new ModelOptions());
        var gemm = g.Nodes.Single(n => n.OpType == "Gemm");
        Assert.Equal(0, gemm.Int("transB", 1));
        Assert.Equal(new[] { 40, 70 }, gemm.In(1).Shape);
        var w = Ort.Random(2800, 1);
        Assert.Equal(w[5 * 40 + 7], gemm.In(1).Const.F[7 * 70 + 5]);
        Assert.Single(g.Nodes);
        var portable = Import(m);
        PassManager.Run(portable, new ModelOptions { Target = TargetProfile.Portable });
        Assert.Equal(1, portable.Nodes.Single(n => n.OpType == "Gemm").Int("transB", 0));
        Numerics(m, 1e-5, Ort.Random(rows * 40, 7));
    }

    [Fact]
    public void GemmWeightLayoutKeepsSharedOrTransposedAWeights()
    {
        var shared = new OnnxBuilder()
            .Input("x", DType.Float, 1, 40)
            .Initializer("w", new[] { 40, 40 }, Ort.Random(1600, 1))
            .Node("Gemm", new[] { "x", "w" }, new[] { "g" }, ("transB", 1L))
            .Node("Gemm", new[] { "g", "w" }, new[] { "y" }, ("transB", 1L))
            .Output("y").Build();
        var g = Import(shared);
        PassManager.Run(g, new ModelOptions());
        Assert.All(g.Nodes, n => Assert.Equal(1, n.Int("transB", 0)));
        Numerics(shared, 1e-5, Ort.Random(40, 7));
        var ta = new OnnxBuilder()
            .Input("x", DType.Float, 40, 1)
            .Initializer("w", new[] { 30, 40 }, Ort.Random(1200, 1))
            .Node("Gemm", new[] { "x", "w" }, new[] { "y" }, ("transA", 1L), ("transB", 1L))
            .Output("y").Build();
        var h = Import(ta);
        PassManager.Run(h, new ModelOptions());
        Assert.Equal(1, h.Nodes.Single().Int("transB", 0));
    }

    // ---------- ElementwiseChainFusion ----------

    [Fact]
    public void ElementwiseChainFuses()
    {
        var m = new OnnxBuilder()
            .Input("x", DType.Float, 2, 3, 4)
            .Initializer("two", new int[0], new[] { 2f }).Initializer("row", new[] { 4 }, Ort.Random(4, 1)).Initializer("one", new[] { 1 }, new[] { 1f })
            .Initializer("col", new[] { 3, 1 }, Ort.Random(3, 2))
            .Node("Mul", new[] { "x", "two" }, new[] { "a" })
            .Node("Add", new[] { "row", "a" }, new[] { "b" })
            .Node("Sigmoid", new[] { "b" }, new[] { "c" })
            .Node("Sub", new[] { "one", "c" }, new[] { "d" })
            .Node("Pow", new[] { "d", "two" }, new[] { "e" })
            .Node("Div", new[] { "e", "col" }, new[] { "f" })
            .Node("Relu", new[] { "f" }, new[] { "y" })
            .Output("y").Build();
        var g = Rewrite(m, "ElementwiseChainFusion", "Mul,Add,Sigmoid,Sub,Pow,Div,Relu", "FusedElementwise");
        Assert.Equal("ai.modelgen", g.Nodes[0].Domain);
        Numerics(m, 1e-6, Ort.Random(24, 7));
    }

    /// <summary>
    /// A chain of vector-exact steps (Mul, Add, Relu, Neg, Abs, Sub, Div) on runs of 37 (vectors and a scalar tail), with
    /// per-column, per-row and single constants: the Net profile's Vector&lt;float&gt; loop gives exactly the Portable
    /// profile's scalar loop and the unfused graph, NaN and -0 included, and agrees with ONNX Runtime.
    /// </summary>
    [Fact]
    public void ElementwiseChainVectorisesExactly()
    {
        var m = new OnnxBuilder()
            .Input("x", DType.Float, 3, 37)
            .Initializer("col", new[] { 37 }, Ort.Random(37, 1)).Initializer("rowc", new[] { 3, 1 }, Ort.Random(3, 2)).Initializer("half", new int[0], new[] { 0.5f })
            .Node("Mul", new[] { "x", "col" }, new[] { "a" })
            .Node("Add", new[] { "rowc", "a" }, new[] { "b" })
            .Node("Relu", new[] { "b" }, new[] { "c" })
            .Node("Neg", new[] { "c" }, new[] { "d" })
            .Node("Abs", new[] { "d" }, new[] { "e" })
            .Node("Sub", new[] { "half", "e" }, new[] { "f" })
            .Node("Div", new[] { "f", "col" }, new[] { "y" })
            .Output("y").Build();
        var x = Ort.Random(111, 9);
        x[5] = float.NaN; x[40] = -0f; x[77] = float.PositiveInfinity; x[110] = -0f;
        var r = ModelCompiler.Compile(m, "m.onnx", new ModelOptions { ClassName = "M" });
        Assert.Contains("System.Numerics.Vector<float>", r.Source);
        var outs = new[] { 111 }; var types = new[] { typeof(float) };
        var net = (float[])OpCheck.RunModelGen(m, TargetProfile.Net, new Array[] { x }, outs, types)[0];
        var portable = (float[])OpCheck.RunModelGen(m, TargetProfile.Portable, new Array[] { x }, outs, types)[0];
        var unfused = (float[])OpCheck.RunModelGen(m, TargetProfile.Net, new Array[] { x }, outs, types, new ModelOptions { DisabledPasses = "ElementwiseChainFusion" })[0];
        for (int i = 0; i < net.Length; i++)
        {
            Assert.Equal(BitConverter.SingleToInt32Bits(portable[i]), BitConverter.SingleToInt32Bits(net[i]));
            Assert.Equal(BitConverter.SingleToInt32Bits(unfused[i]), BitConverter.SingleToInt32Bits(net[i]));
        }
        x[5] = 1f; // ONNX Runtime's NaN handling in Relu is its own
        Numerics(m, 1e-6, x);
    }

    [Fact]
    public void ElementwiseChainStopsAtSharedValuesAndWideningOperands()
    {
        var m = new OnnxBuilder()
            .Input("x", DType.Float, 3, 4)
            .Initializer("wide", new[] { 2, 3, 4 }, Ort.Random(24, 1))
            .Node("Exp", new[] { "x" }, new[] { "a" })
            .Node("Tanh", new[] { "a" }, new[] { "b" })
            .Node("Neg", new[] { "b" }, new[] { "c" })   // b is also read by the Mul below: the chain stops at b
            .Node("Abs", new[] { "c" }, new[] { "d" })
            .Node("Mul", new[] { "d", "b" }, new[] { "e" })
            .Node("Add", new[] { "e", "wide" }, new[] { "f" }) // widens [3,4] to [2,3,4]: not fused
            .Node("Sqrt", new[] { "f" }, new[] { "y" })
            .Output("y").Build();
        Rewrite(m, "ElementwiseChainFusion", "Exp,Tanh,Neg,Abs,Mul,Add,Sqrt", "FusedElementwise,FusedElementwise,Mul,Add,Sqrt");
        Numerics(m, 1e-6, Ort.Random(12, 7));
    }

    [Fact]
    public void ElementwiseChainKeepsGraphOutputIntermediates()
    {
        var m = new OnnxBuilder()
            .Input("x", DType.Float, 5)
            .Node("Exp", new[] { "x" }, new[] { "a" })
            .Node("Neg", new[] { "a" }, new[] { "b" })
            .Node("Sigmoid", new[] { "b" }, new[] { "y" })
            .Output("a").Output("y").Build();
        Rewrite(m, "ElementwiseChainFusion", "Exp,Neg,Sigmoid", "Exp,FusedElementwise");
        Numerics(m, 1e-6, Ort.Random(5, 7));
    }

    // ---------- LayerNormFusion ----------

    static byte[] LayerNormModel(int opset, bool square, bool affine)
    {
        var b = new OnnxBuilder(opset)
            .Input("x", DType.Float, 2, 3, 8)
            .Initializer("two", new int[0], new[] { 2f }).Initializer("eps", new int[0], new[] { 1e-5f })
            .Initializer("gamma", new[] { 8 }, Ort.Random(8, 1)).Initializer("beta", new[] { 8 }, Ort.Random(8, 2));
        (string, object)[] axes = opset >= 18 ? new (string, object)[0] : new (string, object)[] { ("axes", new long[] { -1 }) };
        string[] Rm(string input) => opset >= 18 ? new[] { input, "axes" } : new[] { input };
        if (opset >= 18) b.Initializer("axes", new[] { 1 }, new long[] { 2 });
        b.Node("ReduceMean", Rm("x"), new[] { "mean" }, axes)
            .Node("Sub", new[] { "x", "mean" }, new[] { "d" })
            .Node(square ? "Mul" : "Pow", square ? new[] { "d", "d" } : new[] { "d", "two" }, new[] { "sq" })
            .Node("ReduceMean", Rm("sq"), new[] { "var" }, axes)
            .Node("Add", new[] { "var", "eps" }, new[] { "ve" })
            .Node("Sqrt", new[] { "ve" }, new[] { "std" })
            .Node("Div", new[] { "d", "std" }, new[] { affine ? "n" : "y" });
        if (affine) b.Node("Mul", new[] { "n", "gamma" }, new[] { "g" }).Node("Add", new[] { "g", "beta" }, new[] { "y" });
        return b.Output("y").Build();
    }

    [Theory]
    [InlineData(13, false, true)]
    [InlineData(18, true, true)]
    [InlineData(17, false, false)]
    public void LayerNormFuses(int opset, bool square, bool affine)
    {
        var m = LayerNormModel(opset, square, affine);
        Rewrite(m, "LayerNormFusion", "ReduceMean,Sub," + (square ? "Mul" : "Pow") + ",ReduceMean,Add,Sqrt,Div" + (affine ? ",Mul,Add" : ""), "LayerNormalization");
        Numerics(m, 1e-4, Ort.Random(48, 7));
    }

    [Fact]
    public void LayerNormNotFusedOverAnotherAxis()
    {
        var m = new OnnxBuilder()
            .Input("x", DType.Float, 2, 3, 8)
            .Initializer("two", new int[0], new[] { 2f }).Initializer("eps", new int[0], new[] { 1e-5f })
            .Node("ReduceMean", new[] { "x" }, new[] { "mean" }, ("axes", new long[] { 1 }))
            .Node("Sub", new[] { "x", "mean" }, new[] { "d" })
            .Node("Pow", new[] { "d", "two" }, new[] { "sq" })
            .Node("ReduceMean", new[] { "sq" }, new[] { "var" }, ("axes", new long[] { 1 }))
            .Node("Add", new[] { "var", "eps" }, new[] { "ve" })
            .Node("Sqrt", new[] { "ve" }, new[] { "std" })
            .Node("Div", new[] { "d", "std" }, new[] { "y" })
            .Output("y").Build();
        Rewrite(m, "LayerNormFusion", "ReduceMean,Sub,Pow,ReduceMean,Add,Sqrt,Div", "ReduceMean,Sub,Pow,ReduceMean,Add,Sqrt,Div");
    }

    // ---------- GeluFusion ----------

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void GeluFuses(int ordering)
    {
        var b = new OnnxBuilder()
            .Input("x", DType.Float, 3, 7)
            .Initializer("sqrt2", new int[0], new[] { 1.4142135f }).Initializer("rsqrt2", new int[0], new[] { 0.70710677f })
            .Initializer("one", new int[0], new[] { 1f }).Initializer("half", new int[0], new[] { 0.5f });
        string before;
        if (ordering == 0) // x * (1 + erf(x / sqrt2)) * 0.5 (PyTorch export)
        {
            b.Node("Div", new[] { "x", "sqrt2" }, new[] { "s" }).Node("Erf", new[] { "s" }, new[] { "e" })
                .Node("Add", new[] { "e", "one" }, new[] { "a" }).Node("Mul", new[] { "x", "a" }, new[] { "m" })
                .Node("Mul", new[] { "m", "half" }, new[] { "y" });
            before = "Div,Erf,Add,Mul,Mul";
        }
        else if (ordering == 1) // (x * 0.5) * (1 + erf(x * 1/sqrt2))
        {
            b.Node("Mul", new[] { "x", "half" }, new[] { "h" }).Node("Mul", new[] { "rsqrt2", "x" }, new[] { "s" })
                .Node("Erf", new[] { "s" }, new[] { "e" }).Node("Add", new[] { "one", "e" }, new[] { "a" })
                .Node("Mul", new[] { "h", "a" }, new[] { "y" });
            before = "Mul,Mul,Erf,Add,Mul";
        }
        else // x * ((1 + erf(x / sqrt2)) * 0.5)
        {
            b.Node("Div", new[] { "x", "sqrt2" }, new[] { "s" }).Node("Erf", new[] { "s" }, new[] { "e" })
                .Node("Add", new[] { "e", "one" }, new[] { "a" }).Node("Mul", new[] { "a", "half" }, new[] { "m" })
                .Node("Mul", new[] { "m", "x" }, new[] { "y" });
            before = "Div,Erf,Add,Mul,Mul";
        }
        var m = b.Output("y").Build();
        var g = Rewrite(m, "GeluFusion", before, "Gelu");
        Assert.Equal(20, g.Nodes[0].Opset);
        Numerics(m, 1e-5, Ort.Random(21, 7, 3f));
    }

    [Fact]
    public void GeluNotFusedWithWrongConstant()
    {
        var m = new OnnxBuilder()
            .Input("x", DType.Float, 3, 7)
            .Initializer("sqrt2", new int[0], new[] { 1.5f }).Initializer("one", new int[0], new[] { 1f }).Initializer("half", new int[0], new[] { 0.5f })
            .Node("Div", new[] { "x", "sqrt2" }, new[] { "s" }).Node("Erf", new[] { "s" }, new[] { "e" })
            .Node("Add", new[] { "e", "one" }, new[] { "a" }).Node("Mul", new[] { "x", "a" }, new[] { "m" })
            .Node("Mul", new[] { "m", "half" }, new[] { "y" })
            .Output("y").Build();
        Rewrite(m, "GeluFusion", "Div,Erf,Add,Mul,Mul", "Div,Erf,Add,Mul,Mul");
    }

    // ---------- TransposeCancellation ----------

    [Fact]
    public void InverseTransposesCancel()
    {
        var m = new OnnxBuilder()
            .Input("x", DType.Float, 2, 3, 4)
            .Node("Transpose", new[] { "x" }, new[] { "a" }, ("perm", new long[] { 1, 2, 0 }))
            .Node("Transpose", new[] { "a" }, new[] { "b" }, ("perm", new long[] { 2, 0, 1 }))
            .Node("Relu", new[] { "b" }, new[] { "y" })
            .Output("y").Build();
        var g = Rewrite(m, "TransposeCancellation", "Transpose,Transpose,Relu", "Transpose,Relu");
        Assert.Same(g.Inputs[0], g.Nodes[1].In(0));
        new DeadNodeElimination().Run(g);
        Assert.Equal("Relu", Ops(g));
        Numerics(m, 0, Ort.Random(24, 7));
    }

    [Fact]
    public void TransposeOfUnitDimensionsBecomesReshape()
    {
        var m = new OnnxBuilder()
            .Input("x", DType.Float, 1, 16, 1, 3)
            .Node("Transpose", new[] { "x" }, new[] { "a" }, ("perm", new long[] { 1, 2, 0, 3 }))
            .Node("Relu", new[] { "a" }, new[] { "b" })
            .Node("Transpose", new[] { "b" }, new[] { "y" }, ("perm", new long[] { 3, 1, 0, 2 }))
            .Output("y").Build();
        // the first keeps 16 before 3: a reshape; the second puts 3 before 16: data moves
        Rewrite(m, "TransposeCancellation", "Transpose,Relu,Transpose", "Reshape,Relu,Transpose");
        Numerics(m, 0, Ort.Random(48, 7));
    }

    /// <summary>Perm entries as the operator resolved them (ModelGen counts negative ones from the end; a fuzzed model had one).</summary>
    [Fact]
    public void TransposeRulesReadTheResolvedPermutation()
    {
        var m = new OnnxBuilder()
            .Input("x", DType.Float, 1, 16, 3)
            .Node("Transpose", new[] { "x" }, new[] { "a" }, ("perm", new long[] { 1, 0, -1 }))
            .Node("Transpose", new[] { "a" }, new[] { "b" }, ("perm", new long[] { -1, 0, 1 }))
            .Node("Relu", new[] { "b" }, new[] { "y" })
            .Output("y").Build();
        Rewrite(m, "TransposeCancellation", "Transpose,Transpose,Relu", "Reshape,Transpose,Relu");
    }

    [Fact]
    public void TransposesCompose()
    {
        var m = new OnnxBuilder()
            .Input("x", DType.Float, 2, 3, 4, 5)
            .Node("Transpose", new[] { "x" }, new[] { "a" }, ("perm", new long[] { 0, 2, 1, 3 }))
            .Node("Transpose", new[] { "a" }, new[] { "b" }, ("perm", new long[] { 3, 1, 0, 2 }))
            .Node("Transpose", new[] { "b" }, new[] { "y" })
            .Output("y").Build();
        var g = Import(m);
        Pass("TransposeCancellation").Run(g);
        new DeadNodeElimination().Run(g);
        Assert.Equal("Transpose", Ops(g));
        Numerics(m, 0, Ort.Random(120, 7));
    }

    [Fact]
    public void CancellingTransposeIntoGraphOutputKeepsTheOutput()
    {
        var m = new OnnxBuilder()
            .Input("x", DType.Float, 2, 3)
            .Node("Exp", new[] { "x" }, new[] { "e" })
            .Node("Transpose", new[] { "e" }, new[] { "a" })
            .Node("Transpose", new[] { "a" }, new[] { "y" })
            .Output("a").Output("y").Build();
        var g = Rewrite(m, "TransposeCancellation", "Exp,Transpose,Transpose", "Exp,Transpose,Transpose");
        Assert.Same(g.Outputs[1], g.Nodes[2].Out());
        Assert.Same(g.Nodes[0].Out(), g.Nodes[2].In(0));
        Numerics(m, 0, Ort.Random(6, 7));
    }

    // ---------- openWakeWord ----------

    public static TheoryData<string, string, int[]> WakeWord => new()
    {
        { "melspectrogram.onnx", "1,1760", new[] { 1, 1760 } },
        { "embedding_model.onnx", "1,76,32,1", new[] { 1, 76, 32, 1 } },
        { "hey_jarvis_v0.1.onnx", "", new[] { 1, 16, 96 } },
        { "alexa_v0.1.onnx", "", new[] { 1, 16, 96 } },
        { "hey_mycroft_v0.1.onnx", "", new[] { 1, 16, 96 } },
    };

    /// <summary>
    /// ConvWeightPanels: ResNet-8's seven 3x3 convolutions get their weights packed for the Net kernel (its stem too, 3
    /// inputs to 16 outputs on rows of 32: whole vectors; not the 1x1 shortcuts); not for the Portable profile;
    /// switched off by name, the Net model computes the same within float rounding.
    /// </summary>
    [Fact]
    public void ConvWeightPanelsPacksWideDenseConvsForNet()
    {
        var path = Models.MlperfPath("resnet8.onnx");
        var net = Harness.Generate(path, new ModelOptions());
        var off = Harness.Generate(path, new ModelOptions { DisabledPasses = "ConvWeightPanels" });
        var portable = Harness.Generate(path, new ModelOptions { Target = TargetProfile.Portable });
        Assert.Equal(7, System.Text.RegularExpressions.Regex.Matches(net.Source, ", panels: ").Count);
        Assert.DoesNotContain("panels", off.Source);
        Assert.DoesNotContain("panels", portable.Source);
        // the panels stand for W, which is not emitted; every wide layer has a whole number of 16-channel panels, so
        // the weights take as many bytes as without the pass (they took twice as many while W was kept beside them)
        Assert.Equal(7, System.Text.RegularExpressions.Regex.Matches(net.Source, @"Conv\.Conv2D\([^,]+, default, ").Count);
        Assert.Equal(off.WeightBytes, net.WeightBytes);
        var on = Harness.Build(path);
        var plain = Harness.Build(path, new ModelOptions { DisabledPasses = "ConvWeightPanels" });
        for (int seed = 0; seed < 2; seed++)
        {
            var x = Ort.Random(3 * 32 * 32, seed, 1f);
            var a = new float[10]; var b = new float[10];
            on.Run(x, a); plain.Run(x, b);
            Assert.True(Ort.RelMaxDiff(a, b) <= 1e-5, $"seed {seed}: with vs without panels {Ort.RelMaxDiff(a, b)}");
        }
    }

    [Theory]
    [MemberData(nameof(WakeWord))]
    public void OpenWakeWordOptimisedMatchesUnoptimised(string file, string inputShape, int[] shape)
    {
        var path = Models.Path_(file);
        var bytes = File.ReadAllBytes(path);
        var g = new ModelGen.Compiler.Onnx.OnnxImporter(new ModelOptions { InputShape = inputShape }).Import(bytes).Graph;
        var before = Ops(g);
        int n0 = g.Nodes.Count;
        PassManager.Run(g, new ModelOptions());
        string Hist(string ops) => string.Join(" ", ops.Split(',').GroupBy(o => o).OrderBy(k => k.Key).Select(k => $"{k.Key}x{k.Count()}"));
        log.WriteLine($"{file}: {n0} -> {g.Nodes.Count} layers");
        log.WriteLine($"  before: {Hist(before)}");
        log.WriteLine($"  after:  {Hist(Ops(g))}");
        if (file.StartsWith("hey_"))
        {
            Assert.Contains("LayerNormalization", Ops(g));
            Assert.DoesNotContain("ReduceMean", Ops(g));
        }
        var srcOn = Harness.Generate(path, new ModelOptions { InputShape = inputShape });
        var srcOff = Harness.Generate(path, new ModelOptions { InputShape = inputShape, DisabledPasses = "all" });
        log.WriteLine("  " + srcOff.Diagnostics.First() + "\n  " + srcOn.Diagnostics.First());
        if (n0 != g.Nodes.Count) Assert.NotEqual(srcOff.Source, srcOn.Source);
        var on = Harness.Build(path, new ModelOptions { InputShape = inputShape });
        var off = Harness.Build(path, new ModelOptions { InputShape = inputShape, DisabledPasses = "all" });
        int count = shape.Aggregate(1, (a, b) => a * b);
        for (int seed = 0; seed < 3; seed++)
        {
            var x = Ort.Random(count, seed, file.StartsWith("mel") ? 1000f : 1f + 4 * seed);
            var expected = Ort.Run(path, (x, shape))[0];
            var a = new float[expected.Length]; var b = new float[expected.Length];
            on.Run(x, a); off.Run(x, b);
            double dOff = Ort.RelMaxDiff(a, b), dOrt = Ort.RelMaxDiff(a, expected);
            log.WriteLine($"  seed {seed}: optimised vs unoptimised {dOff:E2}, vs ONNX Runtime {dOrt:E2} (output[0] {a[0]:G9} vs {b[0]:G9})");
            Assert.True(dOff <= 1e-5, $"{file} seed {seed}: optimised vs unoptimised rel diff {dOff}");
            Assert.True(dOrt <= 1e-4, $"{file} seed {seed}: optimised vs ONNX Runtime rel diff {dOrt}");
        }
    }
}
