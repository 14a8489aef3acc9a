#if MODEL_BENCHMARKS
using System.Diagnostics;

namespace ModelGen.Benchmarks;

/// <summary>
/// `models`: generated Predict vs ONNX Runtime on openWakeWord's and MLPerf Tiny's models without BenchmarkDotNet (runs
/// as a NativeAOT binary too): per model and side, the median of 21 timed batches of >= 20 ms, both sides interleaved
/// in one run; GMAC/s from the generated Macs constant, against the measured single-core fp32 peak.
/// </summary>
internal static class QuickModels
{
    /// <summary><paramref name="filter"/>: only models whose name contains it (null: all).</summary>
    public static void Run(string filter)
    {
        var (peak, width) = Peak.Measure();
        Console.WriteLine($"measured fp32 peak, one core: {peak:F1} GMAC/s ({width} FMA)");
        Console.WriteLine($"{"model",-18} {"MMACs",7} {"ModelGen us",12} {"GMAC/s",7} {"% peak",7} {"ORT us",10} {"GMAC/s",7} {"ORT/ModelGen",13} {"alloc/call MG",14} {"alloc/call ORT",15}");
        foreach (var name in ModelBenchmarks.All)
        {
            if (filter != null && !name.Contains(filter)) continue;
            var b = new ModelBenchmarks { Model = name };
            b.Setup();
            var (mg, mgAlloc) = Median(b.ModelGen);
            var (ort, ortAlloc) = Median(b.Ort);
            double macs = ModelBenchmarks.Macs(name);
            Console.WriteLine($"{name,-18} {macs / 1e6,7:F2} {mg * 1e6,12:F1} {macs / mg / 1e9,7:F2} {macs / mg / 1e9 / peak * 100,6:F1}% {ort * 1e6,10:F1} {macs / ort / 1e9,7:F2} {ort / mg,13:F2} {mgAlloc,14:F0} {ortAlloc,15:F0}");
            b.Cleanup();
        }
    }

    static (double Seconds, double BytesPerCall) Median(Action f)
    {
        var sw = Stopwatch.StartNew();
        int n = 0;
        while (sw.Elapsed.TotalMilliseconds < 500 || n < 5) { f(); n++; }
        int batch = Math.Max(1, (int)(n * 20 / sw.Elapsed.TotalMilliseconds));
        var t = new double[21];
        long a0 = GC.GetAllocatedBytesForCurrentThread();
        for (int r = 0; r < t.Length; r++)
        {
            double t0 = Quick.Now(sw); // wall time, or thread CPU time with MODELGEN_BENCH_CPU=1
            for (int i = 0; i < batch; i++) f();
            t[r] = (Quick.Now(sw) - t0) / batch;
        }
        double alloc = (GC.GetAllocatedBytesForCurrentThread() - a0) / (double)(batch * t.Length);
        Array.Sort(t);
        return (t[t.Length / 2], alloc);
    }
}
#endif
