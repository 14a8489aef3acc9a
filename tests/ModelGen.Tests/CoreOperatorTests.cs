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
