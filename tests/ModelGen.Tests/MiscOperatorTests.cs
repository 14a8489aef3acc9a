using ModelGen.Compiler;
using ModelGen.Compiler.IR;
using Xunit;

namespace ModelGen.Tests;

/// <summary>Losses, signal windows and transforms, GridSample and the other late operators against ONNX Runtime.</summary>
public class MiscOperatorTests
{
    const double Tol = 1e-4;

    static int Count(int[] s) => s.Aggregate(1, (a, b) => a * b);

    static long[] Targets(int n, int c, int seed, long ignore = long.MinValue)
    {
        var r = new Random(seed);
        var t = new long[n];
        for (int i = 0; i < n; i++) t[i] = ignore != long.MinValue && i % 3 == 1 ? ignore : r.Next(c);
        return t;
    }

    static CompileResult Compile(byte[] model) => ModelCompiler.Compile(model, "t.onnx", new ModelOptions { ClassName = "M" });

    static void AssertRejected(byte[] model, string fragment)
    {
        var r = Compile(model);
        Assert.False(r.Success);
        Assert.Contains(fragment, string.Join("\n", r.Diagnostics.Select(d => d.Message)));
    }

    // ---------------- NegativeLogLikelihoodLoss / SoftmaxCrossEntropyLoss ----------------

    static void CheckLoss(string op, int opset, int[] x, bool weight, bool int32, bool logProb, long? ignore, string? reduction)
    {
        int c = x[1];
        var tShape = new[] { x[0] }.Concat(x.Skip(2)).ToArray();
        var b = new OnnxBuilder(opset).Input("x", DType.Float, x).Input("t", int32 ? DType.Int32 : DType.Int64, tShape);
        var ins = new List<string> { "x", "t" };
        if (weight) { b.Initializer("w", new[] { c }, Ort.Random(c, 5).Select(v => v + 1.5f).ToArray()); ins.Add("w"); }
        var attrs = new List<(string, object)>();
        if (ignore is long ig) attrs.Add(("ignore_index", ig));
        if (reduction != null) attrs.Add(("reduction", reduction));
        var outs = logProb ? new[] { "y", "lp" } : new[] { "y" };
        b.Node(op, ins.ToArray(), outs, attrs.ToArray()).Output("y");
        if (logProb) b.Output("lp");
        var t = Targets(Count(tShape), c, 9, ignore ?? long.MinValue);
        Array tv = int32 ? t.Select(v => (int)v).ToArray() : t;
        OpCheck.AgainstOrt(b.Build(), Tol, Ort.Random(Count(x), 3, 2f), tv);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("none")]
    [InlineData("sum")]
    [InlineData("mean")]
    public void NllLossReductions(string? reduction) => CheckLoss("NegativeLogLikelihoodLoss", 13, new[] { 3, 5 }, false, false, false, null, reduction);

    [Theory]
    [InlineData("none")]
    [InlineData("sum")]
    [InlineData("mean")]
    public void NllLossWeightIgnoreIndexNd(string reduction)
        => CheckLoss("NegativeLogLikelihoodLoss", 13, new[] { 2, 4, 3, 2 }, true, false, false, 2, reduction);

    [Fact]
    public void NllLossInt32TargetNegativeIgnoreOpset12()
        => CheckLoss("NegativeLogLikelihoodLoss", 12, new[] { 3, 4, 5 }, true, true, false, -1, "mean");

    [Theory]
    [InlineData("none", false)]
    [InlineData("sum", true)]
    [InlineData("mean", true)]
    [InlineData("mean", false)]
    public void SoftmaxCrossEntropyLossLogProb(string reduction, bool weight)
        => CheckLoss("SoftmaxCrossEntropyLoss", 13, new[] { 2, 5, 3 }, weight, false, true, 0, reduction);

    [Fact]
    public void SoftmaxCrossEntropyLoss2dInt32NoIgnoreOpset12()
        => CheckLoss("SoftmaxCrossEntropyLoss", 12, new[] { 4, 6 }, false, true, false, null, null);

    [Fact]
    public void SoftmaxCrossEntropyLossNdWeightedMean()
        => CheckLoss("SoftmaxCrossEntropyLoss", 13, new[] { 2, 3, 2, 2, 3 }, true, false, false, -5, "mean");

    [Fact]
    public void LossRejectsBadTargetShape()
    {
        var m = new OnnxBuilder(13).Input("x", DType.Float, 2, 3, 4).Input("t", DType.Int64, 2, 5)
            .Node("NegativeLogLikelihoodLoss", new[] { "x", "t" }, new[] { "y" }).Output("y").Build();
        AssertRejected(m, "target shape");
    }

    [Fact]
    public void LossRejectsUnknownReduction()
    {
        var m = new OnnxBuilder(13).Input("x", DType.Float, 2, 3).Input("t", DType.Int64, 2)
            .Node("SoftmaxCrossEntropyLoss", new[] { "x", "t" }, new[] { "y" }, ("reduction", "max")).Output("y").Build();
        AssertRejected(m, "reduction");
    }
}
