using System.Diagnostics;

namespace ModelGen.Benchmarks;

/// <summary>
/// `quick [substring]`: a fast side-by-side without BenchmarkDotNet (for tuning): median (and best) of 15 timed batches per case,
/// each batch at least ~20 ms, after a warm-up. Not a replacement for the BenchmarkDotNet numbers.
/// </summary>
internal static class Quick
{
    public static void Run(string filter)
    {
        Console.WriteLine($"{"case",-30} {"ModelGen us",12} {"GMAC/s",8} {"ORT us",12} {"GMAC/s",8} {"ratio",6} | best of 15: {"ModelGen",8} {"ORT",8} {"ratio",6}");
        foreach (var name in ConvBenchmarks.Cases)
        {
            if (filter != null && !name.Contains(filter) && !"conv".Contains(filter)) continue;
            var b = new ConvBenchmarks { Case = name };
            b.Setup();
            Report(name, ConvBenchmarks.Macs(name), b.ModelGen, b.Ort);
            b.Cleanup();
        }
        foreach (var name in GemmBenchmarks.Cases)
        {
            if (filter != null && !name.Contains(filter) && !"gemm".Contains(filter)) continue;
            var b = new GemmBenchmarks { Case = name };
            b.Setup();
            Report(name, GemmBenchmarks.Macs(name), b.ModelGen, b.Ort);
            b.Cleanup();
        }
    }

    static void Report(string name, long macs, Action mine, Action ort)
    {
        var (a, amin) = Median(mine);
        var (o, omin) = Median(ort);
        Console.WriteLine($"{name,-30} {a * 1e6,12:F1} {macs / a / 1e9,8:F2} {o * 1e6,12:F1} {macs / o / 1e9,8:F2} {o / a,6:F2} | {"",12}{macs / amin / 1e9,8:F2} {macs / omin / 1e9,8:F2} {omin / amin,6:F2}");
    }

    /// <summary>Median and minimum seconds per call.</summary>
    static (double Median, double Min) Median(Action f)
    {
        var sw = Stopwatch.StartNew();
        int n = 0;
        while (sw.Elapsed.TotalMilliseconds < 300 || n < 3) { f(); n++; } // warm-up (tier-up) and calibration
        int batch = Math.Max(1, (int)(n * 20 / sw.Elapsed.TotalMilliseconds));
        var t = new double[15];
        for (int r = 0; r < t.Length; r++)
        {
            sw.Restart();
            for (int i = 0; i < batch; i++) f();
            t[r] = sw.Elapsed.TotalSeconds / batch;
        }
        Array.Sort(t);
        return (t[t.Length / 2], t[0]);
    }
}
