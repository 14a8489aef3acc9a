using ModelGen.Compiler;
using ModelGen.Compiler.IR;
using ModelGen.Runtime;
using Xunit;

namespace ModelGen.Tests;

/// <summary>
/// Quantize="Weights" Gemm layers read their int8 weights themselves (WeightGemmFusion -> GemmInt8Weights ->
/// ModelGen.Runtime.WeightGemm): the kernel against a double reference at every vector width, and whole models built
/// with the fusion on against the same build with it off (the dequantize-then-float-Gemm path), in both profiles.
/// </summary>
[Collection("RuntimeKernels")] // SimdLevel.ForceBits is per thread; the collection keeps the kernel tests sequential
public class WeightGemmTests
{
    [Fact]
    public void KernelMatchesReferenceAtEveryWidth()
    {
        var rng = new Random(3);
        try
        {
            for (int t = 0; t < 50; t++)
            {
                int m = rng.Next(1, 10), n = t % 5 == 0 ? 64 * rng.Next(1, 3) : rng.Next(1, 150), k = rng.Next(1, 70);
                var a = Enumerable.Range(0, m * k).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
                var w = Enumerable.Range(0, k * n).Select(_ => (sbyte)rng.Next(-127, 128)).ToArray();
                var s = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 0.02)).ToArray();
                var b = t % 3 == 0 ? Array.Empty<float>() : Enumerable.Range(0, n).Select(_ => (float)rng.NextDouble()).ToArray();
                var act = t % 4 == 1 ? new Activation(ActivationKind.Relu) : t % 4 == 2 ? new Activation(ActivationKind.Sigmoid) : default;
                foreach (int width in new[] { -1, 256, 128, 0 })
                {
                    SimdLevel.ForceBits = width;
                    var y = new float[m * n + 3];
                    y[m * n] = 5f;
                    WeightGemm.Run(a, w, s, b, y, m, n, k, act);
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < n; j++)
                        {
                            double acc = 0, mag = 0;
                            for (int p = 0; p < k; p++) { double v = (double)a[i * k + p] * w[p * n + j]; acc += v; mag += Math.Abs(v); }
                            double want = act.Apply((float)(s[j] * acc + (b.Length == 0 ? 0 : b[j])));
                            Assert.True(Math.Abs(y[i * n + j] - want) <= 2e-6 * (s[j] * mag + 1) + 1e-6,
                                $"case {t} ({m}x{k} -> {n}, {act.Kind}) width {width}: y[{i},{j}] = {y[i * n + j]}, expected {want}");
                        }
                    Assert.Equal(5f, y[m * n]);
                    // rows run in blocks: each row is exactly what it is alone
                    for (int i = 0; i < m; i++)
                    {
                        var one = new float[n];
                        WeightGemm.Run(a.AsSpan(i * k, k), w, s, b, one, 1, n, k, act);
                        Assert.Equal(one, y.AsSpan(i * n, n).ToArray());
                    }
                }
            }
        }
        finally { SimdLevel.ForceBits = -1; }
        var x = new float[64]; var wq = new sbyte[64 * 80]; var sc = new float[80]; var yy = new float[80];
        WeightGemm.Run(x, wq, sc, default, yy, 1, 80, 64);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++) WeightGemm.Run(x, wq, sc, default, yy, 1, 80, 64);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Throws<ArgumentException>(() => WeightGemm.Run(x, wq.AsSpan(1), sc, default, yy, 1, 80, 64));
    }

    /// <summary>Linear layers as exporters write them: Gemm transB=1 with a bias, transB=0 with alpha, beta and a scalar C, a fused Relu; an MLP head.</summary>
    static byte[] Mlp() => new OnnxBuilder(13)
        .Input("x", DType.Float, 2, 40)
        .Initializer("w1", new[] { 72, 40 }, Ort.Random(72 * 40, 1, 0.3f)).Initializer("b1", new[] { 72 }, Ort.Random(72, 2))
        .Initializer("w2", new[] { 72, 19 }, Ort.Random(72 * 19, 3, 0.3f)).Initializer("c2", new[] { 1 }, Ort.Random(1, 4))
        .Node("Gemm", new[] { "x", "w1", "b1" }, new[] { "h" }, ("transB", 1L)).Node("Relu", new[] { "h" }, new[] { "r" })
        .Node("Gemm", new[] { "r", "w2", "c2" }, new[] { "y" }, ("alpha", 0.5f), ("beta", 2f))
        .Output("y").Build();

    [Theory]
    [InlineData(TargetProfile.Net)]
    [InlineData(TargetProfile.Portable)]
    public void FusedMatchesDequantizeThenGemm(TargetProfile target)
    {
        var model = Mlp();
        var path = Path.Combine(Path.GetTempPath(), "modelgen-tests", "wgemm" + Guid.NewGuid().ToString("N") + ".onnx");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, model);
        try
        {
            float[] Run(string disabled)
            {
                var r = Harness.Generate(path, new ModelOptions { Target = target, ClassName = "M", Quantize = QuantizeMode.Weights, DisabledPasses = disabled });
                Assert.True(r.Success, string.Join("\n", r.Diagnostics));
                // both Gemms fused: two layers in the header's table (and two kernel calls on Net)
                if (disabled == "") Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(r.Source!, @"//\s+\d+\s+GemmInt8Weights").Count);
                if (disabled == "" && target == TargetProfile.Net) Assert.Equal(2, r.Source!.Split("WeightGemm.Run(").Length - 1);
                if (target == TargetProfile.Portable) Assert.Empty(Harness.CompileNano(r.Source!));
                var y = new float[2 * 19];
                CompiledModel.FromSource(r.Source!, "M", "", target).Run(new Array[] { Ort.Random(80, 5, 2f), y });
                return y;
            }
            var fused = Run("");
            var separate = Run("WeightGemmFusion");
            OpCheck.AssertClose(separate, fused, 1e-5, $"{target}: fused vs dequantize + Gemm");
            // and the weights are a quarter: the fused build writes no float copy of them
            var src = Harness.Generate(path, new ModelOptions { Target = target, ClassName = "M", Quantize = QuantizeMode.Weights }).Source!;
            Assert.DoesNotMatch(@"//\s+\d+\s+DequantizeLinear", src);
        }
        finally { File.Delete(path); }
    }
}
