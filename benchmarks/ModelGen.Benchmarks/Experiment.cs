using System.Diagnostics;
using ModelGen.Runtime;

namespace ModelGen.Benchmarks;

/// <summary>`experiment`: conv vs the plain GEMM of the same M, N, K (how much the implicit-im2col packing costs).</summary>
internal static class Experiment
{
    public static void Run()
    {
        GemmBenchmarks.Shapes["2x256x512_tB"] = new[] { 2, 256, 512, 1 };
        GemmBenchmarks.Shapes["4x256x512_tB"] = new[] { 4, 256, 512, 1 };
        GemmBenchmarks.Shapes["8x256x512_tB"] = new[] { 8, 256, 512, 1 };
        foreach (var name in new[] { "2x256x512_tB", "4x256x512_tB", "8x256x512_tB", "16x256x512_tB", "oww_fc_1x128x1536_tB" })
        {
            var b = new GemmBenchmarks { Case = name };
            b.Setup();
            long macs = GemmBenchmarks.Macs(name);
            Gemm.DotMaxRows = 0; double tp = Time(b.ModelGen);
            Gemm.DotMaxRows = 1 << 20; double td = Time(b.ModelGen);
            Gemm.DotMaxRows = 6;
            double to = Time(b.Ort);
            Console.WriteLine($"{name,-24}: packed {macs / tp / 1e9:F1}  dot {macs / td / 1e9:F1}  ort {macs / to / 1e9:F1} GMAC/s");
            b.Cleanup();
        }
        foreach (var name in new[] { "3x3_64_56x56", "oww_3x1_48_34x16", "oww_1x3_72_30x8", "3x3_96_38x16" })
        {
            var b = new ConvBenchmarks { Case = name };
            b.Setup();
            var s = ConvBenchmarks.Shapes[name];
            long macs = ConvBenchmarks.Macs(name);
            int m = s[3], k = s[0] * s[4] * s[5];
            int n = (int)(macs / m / k);
            var rng = new Random(1);
            var A = Data.Random(rng, m * k); var B = Data.Random(rng, k * n); var C = new float[m * n];
            double tc = Time(b.ModelGen), tg = Time(() => MatMul.Run(A, B, C, m, n, k)), to = Time(b.Ort);
            Console.WriteLine($"{name,-24} M={m} N={n} K={k}: conv {macs / tc / 1e9:F1}  gemm {macs / tg / 1e9:F1}  ort {macs / to / 1e9:F1} GMAC/s");
            b.Cleanup();
        }
    }

    static double Time(Action f)
    {
        for (int i = 0; i < 20; i++) f();
        var t = new double[11];
        var sw = new Stopwatch();
        for (int r = 0; r < t.Length; r++) { sw.Restart(); for (int i = 0; i < 10; i++) f(); t[r] = sw.Elapsed.TotalSeconds / 10; }
        Array.Sort(t);
        return t[5];
    }
}
