using ModelGen.Compiler;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Onnx.Proto;
using Xunit;

namespace ModelGen.Tests;

/// <summary>
/// Loop with a trip count and condition known at build time is unrolled (OnnxImporter.AddLoop): an RNN written as a
/// Loop (loop-carried state, scan output), a while-loop whose condition folds, a trip count bound with ConstantInputs;
/// against ONNX Runtime in both profiles. A trip count known only at run time is MG0012.
/// </summary>
public class LoopUnrollingTests
{
    static float[] R(int n, int seed) => Ort.Random(n, seed);

    /// <summary>h_t = tanh(x_t Wx + h_{t-1} Wh) over the 5 rows of x [5, 1, 3]; outputs the last h [1, 4] and all of them [5, 1, 4].</summary>
    internal static byte[] Rnn(int opset, bool tripCountInput)
    {
        var body = new OnnxBuilder(opset).Input("i", DType.Int64).Input("c", DType.Bool).Input("h", DType.Float, 1, 4)
            .Output("c_out", DType.Bool).Output("h_out").Output("h_scan");
        body.Node("Gather", new[] { "x", "i" }, new[] { "xt" }, ("axis", 0L))
            .Node("MatMul", new[] { "xt", "wx" }, new[] { "a" })
            .Node("MatMul", new[] { "h", "wh" }, new[] { "b" })
            .Node("Add", new[] { "a", "b" }, new[] { "s" })
            .Node("Tanh", new[] { "s" }, new[] { "h_out" })
            .Node("Identity", new[] { "h_out" }, new[] { "h_scan" })
            .Node("Identity", new[] { "c" }, new[] { "c_out" });
        var b = new OnnxBuilder(opset).Input("x", DType.Float, 5, 1, 3).Input("h0", DType.Float, 1, 4)
            .Initializer("wx", new[] { 3, 4 }, R(12, 2)).Initializer("wh", new[] { 4, 4 }, R(16, 3))
            .Initializer("yes", Array.Empty<int>(), new[] { true }).Output("h_last").Output("hs");
        if (tripCountInput) b.Input("m", DType.Int64);
        else b.Initializer("m", Array.Empty<int>(), new long[] { 5 });
        b.Node("Loop", new[] { "m", "yes", "h0" }, new[] { "h_last", "hs" }, ("body", body.Proto.Graph));
        return b.Build();
    }

    [Theory] [InlineData(11)] [InlineData(13)] [InlineData(17)]
    public void RnnWrittenAsALoop(int opset) => OpCheck.AgainstOrt(Rnn(opset, false), 1e-5, R(15, 1), R(4, 4));

    [Fact]
    public void TripCountFromAnInputBindsWithConstantInputs()
    {
        var model = Rnn(13, true);
        var r = ModelCompiler.Compile(model, "loop.onnx", new ModelOptions { ClassName = "M" });
        Assert.False(r.Success);
        var d = Assert.Single(r.Diagnostics);
        Assert.Equal("MG0012", d.Kind.Id);
        Assert.Contains("trip count", d.Message);
        Assert.Contains("('m')", d.Message);
        var x = R(15, 1); var h0 = R(4, 4);
        var expected = OpCheck.RunOrt(model, new Array[] { x, h0, new long[] { 5 } });
        var actual = OpCheck.RunModelGen(model, TargetProfile.Net, new Array[] { x, h0 }, new[] { 4, 20 }, new[] { typeof(float), typeof(float) }, new ModelOptions { ConstantInputs = "m=5" });
        for (int k = 0; k < 2; k++) OpCheck.AssertClose(expected[k], actual[k], 1e-5, $"output {k}");
    }

    /// <summary>while (n &lt; 3) { n += 1; y = y * 2 + 1 } with no trip count: the condition folds in every copy.</summary>
    [Fact]
    public void WhileLoopWithAConditionThatFolds()
    {
        var body = new OnnxBuilder(13).Input("i", DType.Int64).Input("c", DType.Bool).Input("n", DType.Int64).Input("y", DType.Float, 2, 3)
            .Output("c_out", DType.Bool).Output("n_out", DType.Int64).Output("y_out").Output("n_scan", DType.Int64);
        body.Initializer("one", Array.Empty<int>(), new long[] { 1 }).Initializer("three", Array.Empty<int>(), new long[] { 3 })
            .Initializer("two", Array.Empty<int>(), new[] { 2f }).Initializer("onef", Array.Empty<int>(), new[] { 1f });
        body.Node("Add", new[] { "n", "one" }, new[] { "n_out" })
            .Node("Less", new[] { "n_out", "three" }, new[] { "c_out" })
            .Node("Mul", new[] { "y", "two" }, new[] { "y2" })
            .Node("Add", new[] { "y2", "onef" }, new[] { "y_out" })
            .Node("Identity", new[] { "n_out" }, new[] { "n_scan" });
        var b = new OnnxBuilder(13).Input("y0", DType.Float, 2, 3)
            .Initializer("yes", Array.Empty<int>(), new[] { true }).Initializer("n0", Array.Empty<int>(), new long[] { 0 })
            .Output("n", DType.Int64).Output("y").Output("ns", DType.Int64);
        b.Node("Loop", new[] { "", "yes", "n0", "y0" }, new[] { "n", "y", "ns" }, ("body", body.Proto.Graph));
        OpCheck.AgainstOrt(b.Build(), 1e-6, R(6, 1));
    }

    [Fact]
    public void ConditionComputedAtRunTimeIsADiagnostic()
    {
        // stops when the sum of y passes 10: data-dependent, so not unrollable
        var body = new OnnxBuilder(13).Input("i", DType.Int64).Input("c", DType.Bool).Input("y", DType.Float, 3)
            .Output("c_out", DType.Bool).Output("y_out");
        body.Initializer("two", Array.Empty<int>(), new[] { 2f }).Initializer("ten", Array.Empty<int>(), new[] { 10f });
        body.Node("Mul", new[] { "y", "two" }, new[] { "y_out" })
            .Node("ReduceSum", new[] { "y_out" }, new[] { "s" }, ("keepdims", 0L))
            .Node("Less", new[] { "s", "ten" }, new[] { "c_out" });
        var b = new OnnxBuilder(13).Input("y0", DType.Float, 3).Initializer("yes", Array.Empty<int>(), new[] { true })
            .Initializer("m", Array.Empty<int>(), new long[] { 100 }).Output("y");
        b.Node("Loop", new[] { "m", "yes", "y0" }, new[] { "y" }, ("body", body.Proto.Graph));
        var r = ModelCompiler.Compile(b.Build(), "while.onnx", new ModelOptions { ClassName = "M" });
        Assert.False(r.Success);
        var d = Assert.Single(r.Diagnostics);
        Assert.Equal("MG0012", d.Kind.Id);
        Assert.Contains("condition is computed at run time", d.Message);
    }

    /// <summary>Scan: a running sum s += x_t * w_t over two scan inputs, with the axes and directions given.</summary>
    [Theory]
    [InlineData(0L, 0L, 0L, 0L)] [InlineData(1L, 0L, 0L, 0L)] [InlineData(0L, 1L, 0L, 0L)] [InlineData(0L, 0L, 1L, 1L)] [InlineData(-1L, 1L, -1L, 1L)]
    public void ScanWithAxesAndDirections(long inAxis, long inDir, long outAxis, long outDir)
    {
        var body = new OnnxBuilder(13).Input("s", DType.Float, 2).Input("xt", DType.Float, 2).Input("wt", DType.Float, 2)
            .Output("s_out").Output("y");
        body.Node("Mul", new[] { "xt", "wt" }, new[] { "p" }).Node("Add", new[] { "s", "p" }, new[] { "s_out" }).Node("Identity", new[] { "s_out" }, new[] { "y" });
        int[] xs = inAxis == 0 ? new[] { 4, 2 } : new[] { 2, 4 };
        var b = new OnnxBuilder(13).Input("s0", DType.Float, 2).Input("x", DType.Float, xs).Initializer("w", new[] { 4, 2 }, R(8, 3))
            .Output("s").Output("ys");
        b.Node("Scan", new[] { "s0", "x", "w" }, new[] { "s", "ys" }, ("body", body.Proto.Graph), ("num_scan_inputs", 2L),
            ("scan_input_axes", new[] { inAxis, 0L }), ("scan_input_directions", new[] { inDir, 0L }),
            ("scan_output_axes", new[] { outAxis }), ("scan_output_directions", new[] { outDir }));
        OpCheck.AgainstOrt(b.Build(), 1e-6, R(2, 1), R(8, 2));
    }

    /// <summary>Hostile trip counts end in a diagnostic, quickly: a body that folds away entirely, and one that does not.</summary>
    [Theory] [InlineData(true)] [InlineData(false)]
    public void HugeTripCountsStopWithADiagnostic(bool folds)
    {
        var body = new OnnxBuilder(13).Input("i", DType.Int64).Input("c", DType.Bool).Input("y", DType.Float, 3)
            .Output("c_out", DType.Bool).Output("y_out");
        body.Initializer("two", Array.Empty<int>(), new[] { 2f });
        body.Node("Mul", new[] { "y", "two" }, new[] { "y_out" }).Node("Identity", new[] { "c" }, new[] { "c_out" });
        var b = new OnnxBuilder(13).Initializer("yes", Array.Empty<int>(), new[] { true })
            .Initializer("m", Array.Empty<int>(), new long[] { 1L << 40 }).Output("y");
        if (folds) b.Initializer("y0", new[] { 3 }, new[] { 1f, 2f, 3f }); else b.Input("y0", DType.Float, 3);
        b.Node("Loop", new[] { "m", "yes", "y0" }, new[] { "y" }, ("body", body.Proto.Graph));
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var r = ModelCompiler.Compile(b.Build(), "huge.onnx", new ModelOptions { ClassName = "M" });
        Assert.False(r.Success);
        Assert.Contains("unrolled past", Assert.Single(r.Diagnostics).Message);
        Assert.True(sw.Elapsed.TotalSeconds < 30, $"took {sw.Elapsed.TotalSeconds:F1} s");
    }
}
