using ModelGen.Compiler;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;
using Xunit;
using Xunit.Abstractions;

namespace ModelGen.Tests;

/// <summary>
/// Models past the 16 MB string heap of one assembly (4.19M floats packed in string literals): a torchvision RegNet-X
/// 400MF (5.1M parameters) or GoogLeNet once failed to compile with CS8103. The floats past the emitter's budget go
/// to array initializers instead.
/// </summary>
public class LargeModelTests(ITestOutputHelper log)
{
    [Fact]
    public void FloatsPastTheStringHeapCompile()
    {
        const int k = 2048, n1 = 1890, n2 = 200, n3 = 64;
        var rng = new Random(3);
        float[] Weights(int count) { var w = new float[count]; for (int i = 0; i < w.Length; i++) w[i] = (float)(rng.NextDouble() - 0.5) * 0.05f; return w; }
        var m = new OnnxBuilder()
            .Input("x", DType.Float, 1, k)
            .Initializer("w1", new[] { k, n1 }, Weights(k * n1))
            .Initializer("w2", new[] { n1, n2 }, Weights(n1 * n2))
            .Initializer("w3", new[] { n2, n3 }, Weights(n2 * n3))
            .Node("MatMul", new[] { "x", "w1" }, new[] { "h" })
            .Node("MatMul", new[] { "h", "w2" }, new[] { "h2" })
            .Node("MatMul", new[] { "h2", "w3" }, new[] { "y" })
            .Output("y").Build();
        // every float packed, w3's literal would start past the heap's 16 MB; here w2 goes to an array and w3 is packed
        Assert.True(k * n1 + n1 * n2 > 16_777_215 / 4, "the model must overflow the string heap if every float were packed");
        Assert.True(k * n1 + n2 * n3 <= ModelEmitter.MaxPackedFloats && k * n1 + n1 * n2 > ModelEmitter.MaxPackedFloats);
        var r = ModelCompiler.Compile(m, "large.onnx", new ModelOptions());
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        Assert.Contains("MemoryMarshal.Cast<char, float>(", r.Source);
        log.WriteLine($"generated source: {r.Source!.Length / 1e6:F1} MB");
        // Net only: the Portable profile keeps every constant in arrays (nanoFramework has no such literals)
        var x = Ort.Random(k, 1);
        var expected = OpCheck.RunOrt(m, new Array[] { x });
        var actual = OpCheck.RunModelGen(m, TargetProfile.Net, new Array[] { x }, new[] { n3 }, new[] { typeof(float) });
        OpCheck.AssertClose(expected[0], actual[0], 1e-4, "Net output");
    }
}
