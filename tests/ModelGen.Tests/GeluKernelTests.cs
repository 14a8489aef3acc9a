using ModelGen.Runtime;
using Xunit;

namespace ModelGen.Tests;

/// <summary>The vectorised GELU (Transcendental.Gelu, its erf fitted by scripts/fit/fit_erf.py) against double precision at every width.</summary>
[Collection("RuntimeKernels")] // SimdLevel.ForceBits is per thread; the collection keeps the kernel tests sequential
public class GeluKernelTests
{
    static double Erf(double x) => ModelGen.Compiler.Operators.Unary.Erf(x);

    [Fact]
    public void GeluMatchesDoubleAtEveryWidth()
    {
        var xs = new List<float> { 0f, -0f, 1e-30f, -1e-8f, 0.5f, 0.999999f, 1f, 1.0000001f, -1f, 2.5f, 3.99f, 4f, 4.01f, 5.657f, 6f, -6f, 10f, -10f, 100f, -100f, 3e38f,
            float.PositiveInfinity, float.NegativeInfinity, float.NaN };
        var rng = new Random(4);
        for (int i = 0; i < 4000; i++) xs.Add((float)((rng.NextDouble() * 2 - 1) * (i % 4 == 0 ? 12 : 4)));
        var x = xs.ToArray();
        try
        {
            foreach (int width in new[] { -1, 256, 128, 0 })
            {
                SimdLevel.ForceBits = width;
                var y = new float[x.Length + 1];
                y[x.Length] = 7f;
                Transcendental.Gelu(x, y.AsSpan(0, x.Length));
                for (int i = 0; i < x.Length; i++)
                {
                    double v = x[i], want = 0.5 * v * (1 + Erf(v / Math.Sqrt(2)));
                    if (float.IsNaN(x[i])) { Assert.True(float.IsNaN(y[i]), $"width {width}: GELU(NaN) = {y[i]}"); continue; }
                    // -inf: -inf x 0 is NaN, as in the formula (and ONNX Runtime)
                    if (double.IsInfinity(v)) { Assert.Equal((float)want, y[i]); continue; }
                    // erf within 2e-7 and the float product's rounding
                    Assert.True(Math.Abs(y[i] - want) <= 2.5e-7 * Math.Abs(v) + 1e-6 * Math.Abs(want) + 1e-38,
                        $"width {width}: GELU({x[i]}) = {y[i]}, expected {want}");
                }
                Assert.Equal(7f, y[x.Length]);
            }
        }
        finally { SimdLevel.ForceBits = -1; }
        var buf = new float[64];
        Transcendental.Gelu(buf, buf);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Transcendental.Gelu(buf, buf);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
