using ModelGen.Compiler.IR;
using Xunit;

namespace ModelGen.Tests;

/// <summary>Elementwise unary/binary operators (Unary.cs, Binary.cs table rows) against ONNX Runtime, both profiles.</summary>
public class ElementwiseTests
{
    static float[] Range(int n, float lo, float hi, int seed)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => lo + (float)r.NextDouble() * (hi - lo)).ToArray();
    }

    [Theory]
    [InlineData("Relu", -3f, 3f, 13)]
    [InlineData("Sigmoid", -8f, 8f, 13)]
    [InlineData("Tanh", -5f, 5f, 13)]
    [InlineData("Exp", -5f, 5f, 13)]
    [InlineData("Log", 0.01f, 50f, 13)]
    [InlineData("Sqrt", 0f, 50f, 13)]
    [InlineData("Neg", -3f, 3f, 13)]
    [InlineData("Abs", -3f, 3f, 13)]
    [InlineData("Reciprocal", 0.5f, 3f, 13)]
    [InlineData("Floor", -30f, 30f, 13)]
    [InlineData("Ceil", -30f, 30f, 13)]
    [InlineData("Round", -30f, 30f, 13)]
    [InlineData("HardSwish", -5f, 5f, 14)]
    [InlineData("Elu", -4f, 4f, 13)]
    [InlineData("Selu", -4f, 4f, 13)]
    [InlineData("Celu", -4f, 4f, 13)]
    [InlineData("Softplus", -30f, 30f, 13)]
    [InlineData("Softsign", -4f, 4f, 13)]
    [InlineData("ThresholdedRelu", -3f, 3f, 13)]
    [InlineData("Shrink", -3f, 3f, 13)]
    [InlineData("Mish", -10f, 10f, 18)]
    [InlineData("Erf", -4f, 4f, 13)]
    [InlineData("Gelu", -5f, 5f, 20)]
    [InlineData("Sign", -3f, 3f, 13)]
    [InlineData("Sin", -10f, 10f, 13)]
    [InlineData("Cos", -10f, 10f, 13)]
    [InlineData("Tan", -1.4f, 1.4f, 13)]
    [InlineData("Asin", -0.99f, 0.99f, 13)]
    [InlineData("Acos", -0.99f, 0.99f, 13)]
    [InlineData("Atan", -10f, 10f, 13)]
    [InlineData("Sinh", -5f, 5f, 13)]
    [InlineData("Cosh", -5f, 5f, 13)]
    [InlineData("Asinh", -10f, 10f, 13)]
    [InlineData("Acosh", 1f, 10f, 13)]
    [InlineData("Atanh", -0.95f, 0.95f, 13)]
    public void Unary(string op, float lo, float hi, int opset)
    {
        var m = new OnnxBuilder(opset).Input("x", DType.Float, 3, 40).Node(op, new[] { "x" }, new[] { "y" }).Output("y").Build();
        OpCheck.AgainstOrt(m, 2e-5, Range(120, lo, hi, op.Length));
    }

    /// <summary>Clip with constant bounds (both, one side, none; opset 6's attributes) runs the SIMD activation kernel; a run-time bound keeps the loop.</summary>
    [Theory]
    [InlineData(13, true, true)]
    [InlineData(13, false, true)]
    [InlineData(13, true, false)]
    [InlineData(13, false, false)]
    [InlineData(6, true, true)]
    public void ClipWithConstantBounds(int opset, bool lo, bool hi)
    {
        var b = new OnnxBuilder(opset).Input("x", DType.Float, 3, 40);
        if (opset >= 11)
        {
            if (lo) b.Initializer("lo", Array.Empty<int>(), new[] { -1.5f });
            if (hi) b.Initializer("hi", Array.Empty<int>(), new[] { 0.75f });
            b.Node("Clip", new[] { "x", lo ? "lo" : "", hi ? "hi" : "" }, new[] { "y" });
        }
        else b.Node("Clip", new[] { "x" }, new[] { "y" }, ("min", -1.5f), ("max", 0.75f));
        var m = b.Output("y").Build();
        OpCheck.AgainstOrt(m, 0, Range(120, -3, 3, 5));
        var r = ModelGen.Compiler.ModelCompiler.Compile(m, "clip.onnx", new ModelGen.Compiler.ModelOptions { ClassName = "M" });
        Assert.Contains("ModelGen.Runtime.Elementwise.Activate(", r.Source);
    }

    [Fact]
    public void UnaryWithAttributes()
    {
        var m = new OnnxBuilder(20).Input("x", DType.Float, 64)
            .Node("LeakyRelu", new[] { "x" }, new[] { "a" }, ("alpha", 0.2f))
            .Node("HardSigmoid", new[] { "a" }, new[] { "b" }, ("alpha", 0.3f), ("beta", 0.4f))
            .Node("Elu", new[] { "x" }, new[] { "c" }, ("alpha", 0.7f))
            .Node("Gelu", new[] { "x" }, new[] { "d" }, ("approximate", "tanh"))
            .Node("Shrink", new[] { "x" }, new[] { "f" }, ("lambd", 1.2f), ("bias", 0.3f))
            .Node("Add", new[] { "b", "c" }, new[] { "s1" }).Node("Add", new[] { "d", "f" }, new[] { "s2" })
            .Output("s1").Output("s2").Build();
        OpCheck.AgainstOrt(m, 2e-5, Range(64, -4, 4, 7));
    }

    [Fact]
    public void PredicatesAndLogic()
    {
        var x = Range(32, -3, 3, 5);
        x[3] = float.NaN; x[7] = float.PositiveInfinity; x[9] = float.NegativeInfinity;
        var m = new OnnxBuilder(13).Input("x", DType.Float, 32).Input("y", DType.Float, 32)
            .Node("IsNaN", new[] { "x" }, new[] { "n" })
            .Node("IsInf", new[] { "x" }, new[] { "i" }, ("detect_negative", 0L))
            .Node("Greater", new[] { "x", "y" }, new[] { "g" })
            .Node("Or", new[] { "n", "i" }, new[] { "o" })
            .Node("Xor", new[] { "o", "g" }, new[] { "xr" })
            .Node("Not", new[] { "xr" }, new[] { "z" })
            .Output("z", DType.Bool).Build();
        OpCheck.AgainstOrt(m, 0, x, Range(32, -3, 3, 6));
    }

    [Fact]
    public void IntegerArithmeticModAndShift()
    {
        var m = new OnnxBuilder(13).Input("a", DType.Int64, 12).Input("b", DType.Int64, 12)
            .Node("Mod", new[] { "a", "b" }, new[] { "m" })
            .Node("Mod", new[] { "a", "b" }, new[] { "f" }, ("fmod", 1L))
            .Node("Mul", new[] { "m", "f" }, new[] { "p" })
            .Node("Div", new[] { "a", "b" }, new[] { "d" })
            .Node("Sub", new[] { "p", "d" }, new[] { "y" })
            .Output("y", DType.Int64).Build();
        var a = new long[] { 5, -5, 7, -7, 13, 0, 100, -100, 9, -9, 1, 2 };
        var b = new long[] { 3, 3, -2, -2, 5, 4, 7, 7, -4, 4, 1, -3 };
        OpCheck.AgainstOrt(m, 0, a, b);
    }

    [Fact]
    public void PReluBroadcastsSlope()
    {
        var m = new OnnxBuilder(13).Input("x", DType.Float, 2, 3, 4)
            .Initializer("s", new[] { 3, 1 }, new[] { 0.1f, 0.2f, 0.3f })
            .Node("PRelu", new[] { "x", "s" }, new[] { "y" }).Output("y").Build();
        OpCheck.AgainstOrt(m, 1e-6, Range(24, -2, 2, 1));
    }
}
