using System.Diagnostics;

namespace ModelGen.Benchmarks;

/// <summary>
/// `quick [substring]` (or `quick fusion`: fused vs separate activation): a fast side-by-side without BenchmarkDotNet (for tuning): median (and best) of 15 timed batches per case,
/// each batch at least ~20 ms, after a warm-up. Not a replacement for the BenchmarkDotNet numbers.
/// </summary>
internal static class Quick
{
    public static void Run(string filter)
    {
        if (filter == "fusion") { Fusion(); return; }
        Console.WriteLine($"{"case",-30} {"ModelGen us",12} {"GMAC/s",8} {"ORT us",12} {"GMAC/s",8} {"ratio",6} | best of 15: {"ModelGen",8} {"ORT",8} {"ratio",6}");
        foreach (var name in ConvBenchmarks.Cases)
        {
            if (filter != null && !name.Contains(filter) && !"conv".Contains(filter)) continue;
            var b = new ConvBenchmarks { Case = name };
            b.Setup();
            Report(name, ConvBenchmarks.Macs(name), b.ModelGen, b.Ort);
            if (Ab)
            {
                // the same case with the direct path switched off (the GEMM or stem kernel it replaces), batches of the
                // two interleaved so that the machine's load hits both alike
                var t = new double[2][];
                // MODELGEN_BENCH_AB=panels: with vs without the packed weights (ConvPanels vs ConvPlanes)
                Action<bool> set = AbPanels ? on => ConvBenchmarks.Panels = on : on => Runtime.ConvPlanes.Enabled = on;
                for (int side = 0; side < 2; side++) { set(side == 0); Median(b.ModelGen); }
                for (int side = 0; side < 2; side++) t[side] = new double[15];
                var sw = Stopwatch.StartNew();
                for (int r = 0; r < 15; r++)
                    for (int side = 0; side < 2; side++)
                    {
                        set(side == 0);
                        double t0 = Now(sw);
                        for (int i = 0; i < 200; i++) b.ModelGen();
                        t[side][r] = (Now(sw) - t0) / 200;
                    }
                set(true);
                Array.Sort(t[0]); Array.Sort(t[1]);
                Console.WriteLine($"{"  A/B interleaved: " + (AbPanels ? "panels" : "direct"),-30} {t[0][7] * 1e6,12:F1} us, off {t[1][7] * 1e6,8:F1} us, off/direct {t[1][7] / t[0][7],5:F2}");
            }
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

    /// <summary>Conv2D then a separate LeakyRelu pass vs the activation fused into Conv2D's store, interleaved per case.</summary>
    static void Fusion()
    {
        Console.WriteLine($"{"case",-30} {"conv+pass us",12} {"fused us",10} {"ratio",6} | best of 15: {"conv+pass",10} {"fused",8} {"ratio",6}");
        foreach (var name in ConvBenchmarks.Cases)
        {
            var b = new ConvBenchmarks { Case = name };
            b.Setup();
            var (s, smin) = Median(b.ThenLeakyRelu);
            var (f, fmin) = Median(b.FusedLeakyRelu);
            Console.WriteLine($"{name,-30} {s * 1e6,12:F1} {f * 1e6,10:F1} {s / f,6:F2} | {"",12}{smin * 1e6,10:F1} {fmin * 1e6,8:F1} {smin / fmin,6:F2}");
            b.Cleanup();
        }
    }

    static void Report(string name, long macs, Action mine, Action ort)
    {
        var (a, amin) = Median(mine);
        var (o, omin) = Median(ort);
        Console.WriteLine($"{name,-30} {a * 1e6,12:F1} {macs / a / 1e9,8:F2} {o * 1e6,12:F1} {macs / o / 1e9,8:F2} {o / a,6:F2} | {"",12}{macs / amin / 1e9,8:F2} {macs / omin / 1e9,8:F2} {omin / amin,6:F2}");
    }

    /// <summary>
    /// MODELGEN_BENCH_CPU=1: time batches by this thread's CPU time (Linux CLOCK_THREAD_CPUTIME_ID) instead of wall time,
    /// so that on a loaded shared machine the time the thread waits for a core is not counted (caches are still shared).
    /// </summary>
    /// <summary>MODELGEN_BENCH_AB=1: each conv case also timed with <see cref="Runtime.ConvPlanes"/> switched off, interleaved.</summary>
    static readonly bool Ab = Environment.GetEnvironmentVariable("MODELGEN_BENCH_AB") is "1" or "panels";
    static readonly bool AbPanels = Environment.GetEnvironmentVariable("MODELGEN_BENCH_AB") == "panels";

    static readonly bool Cpu = Environment.GetEnvironmentVariable("MODELGEN_BENCH_CPU") == "1" && OperatingSystem.IsLinux();

    [System.Runtime.InteropServices.DllImport("libc")]
    static extern int clock_gettime(int clock, out TimeSpec ts);
    struct TimeSpec { public long Sec, Nsec; }

    internal static double Now(Stopwatch sw)
    {
        if (!Cpu) return sw.Elapsed.TotalSeconds;
        clock_gettime(3, out var ts); // CLOCK_THREAD_CPUTIME_ID
        return ts.Sec + ts.Nsec * 1e-9;
    }

    /// <summary>Median and minimum seconds per call.</summary>
    /// <summary>
    /// a and b alternated in short batches (about 2 ms each) for <paramref name="seconds"/>: each one's median time per
    /// call and the median and quartiles of the pairs' b/a ratios. On a shared machine the load moves by up to 2x between
    /// runs seconds apart; two batches next to each other see the same load.
    /// </summary>
    internal static (double A, double B, double Ratio, double Low, double High) Alternate(Action a, Action b, double seconds = 3)
    {
        double one = Median(a).Median;
        Median(b);
        int reps = Math.Max(1, (int)(2e-3 / Math.Max(1e-7, one)));
        var ta = new List<double>(); var tb = new List<double>(); var ratios = new List<double>();
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < seconds || ratios.Count < 15)
        {
            double t0 = Now(sw);
            for (int i = 0; i < reps; i++) a();
            double t1 = Now(sw);
            for (int i = 0; i < reps; i++) b();
            double t2 = Now(sw);
            ta.Add((t1 - t0) / reps); tb.Add((t2 - t1) / reps); ratios.Add((t2 - t1) / (t1 - t0));
        }
        ta.Sort(); tb.Sort(); ratios.Sort();
        int n = ratios.Count;
        return (ta[n / 2], tb[n / 2], ratios[n / 2], ratios[n / 4], ratios[3 * n / 4]);
    }

    internal static (double Median, double Min) Median(Action f)
    {
        var sw = Stopwatch.StartNew();
        int n = 0;
        while (sw.Elapsed.TotalMilliseconds < 300 || n < 3) { f(); n++; } // warm-up (tier-up) and calibration
        int batch = Math.Max(1, (int)(n * 20 / sw.Elapsed.TotalMilliseconds));
        var t = new double[15];
        for (int r = 0; r < t.Length; r++)
        {
            double t0 = Now(sw);
            for (int i = 0; i < batch; i++) f();
            t[r] = (Now(sw) - t0) / batch;
        }
        Array.Sort(t);
        return (t[t.Length / 2], t[0]);
    }
}
