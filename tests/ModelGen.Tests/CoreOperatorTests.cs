using ModelGen.Compiler.IR;
using Xunit;

namespace ModelGen.Tests;

public class CoreOperatorTests
{
    [Fact]
    public void BroadcastArithmeticAndUnary()
    {
        var m = new OnnxBuilder()
            .Input("a", DType.Float, 2, 3, 4).Input("b", DType.Float, 3, 1)
            .Node("Add", new[] { "a", "b" }, new[] { "s" })
            .Node("Sigmoid", new[] { "s" }, new[] { "y" })
            .Node("Mul", new[] { "y", "b" }, new[] { "z" })
            .Output("z").Build();
        OpCheck.AgainstOrt(m, Ort.Random(24, 1), Ort.Random(3, 2));
    }

    /// <summary>
    /// Broadcasts whose innermost merged dimension is contiguous or constant in every operand (per-channel scale as in
    /// squeeze-excite, a row on every row, an outer product) run row by row through the Net profile's SIMD kernel;
    /// one scalar per row against whole rows (Add, Mul) in one call for all rows (Elementwise.BinaryRows), rows of any length.
    /// </summary>
    [Theory]
    [InlineData("Mul", new[] { 1, 8, 5, 6 }, new[] { 1, 8, 1, 1 }, "BinaryRows")]
    [InlineData("Mul", new[] { 1, 40, 1, 1 }, new[] { 1, 40, 3, 3 }, "BinaryRows")]
    [InlineData("Add", new[] { 4, 1 }, new[] { 4, 37 }, "BinaryRows")]
    [InlineData("Add", new[] { 4, 20 }, new[] { 20 }, "Binary")]
    [InlineData("Sub", new[] { 2, 3, 17 }, new[] { 3, 1 }, "Binary")]
    [InlineData("Div", new[] { 3, 1 }, new[] { 1, 20 }, "Binary")]
    [InlineData("Max", new[] { 1, 4, 1, 1 }, new[] { 2, 4, 5, 4 }, "Binary")]
    [InlineData("Min", new[] { 2, 1, 16 }, new[] { 2, 3, 16 }, "Binary")]
    public void BroadcastRowsRunThroughSimd(string op, int[] aShape, int[] bShape, string kernel)
    {
        var m = new OnnxBuilder().Input("a", DType.Float, aShape).Input("b", DType.Float, bShape)
            .Node(op, new[] { "a", "b" }, new[] { "y" }).Output("y").Build();
        var r = ModelGen.Compiler.ModelCompiler.Compile(m, "m.onnx", new ModelGen.Compiler.ModelOptions());
        Assert.Contains($"ModelGen.Runtime.Elementwise.{kernel}(ModelGen.Runtime.BinaryOp." + op, r.Source);
        int na = aShape.Aggregate(1, (x, y) => x * y), nb = bShape.Aggregate(1, (x, y) => x * y);
        var b = Ort.Random(nb, 2);
        if (op == "Div") b = b.Select(v => v < 0 ? v - 0.5f : v + 0.5f).ToArray();
        OpCheck.AgainstOrt(m, Ort.Random(na, 1), b);
    }

    [Fact]
    public void GemmTransposedWithBias()
    {
        var m = new OnnxBuilder()
            .Input("a", DType.Float, 5, 7)
            .Initializer("w", new[] { 3, 7 }, Ort.Random(21, 3)).Initializer("c", new[] { 3 }, Ort.Random(3, 4))
            .Node("Gemm", new[] { "a", "w", "c" }, new[] { "y" }, ("transB", 1L), ("alpha", 0.5f), ("beta", 2f))
            .Output("y").Build();
        OpCheck.AgainstOrt(m, Ort.Random(35, 5));
    }
}
