#if MODEL_BENCHMARKS
using System.Diagnostics;

namespace ModelGen.Benchmarks;

/// <summary>
/// `models`: generated Predict vs ONNX Runtime on openWakeWord's models without BenchmarkDotNet (runs as a NativeAOT
/// binary too): per model and side, the median of 21 timed batches of >= 20 ms, both sides interleaved in one run.
/// </summary>
internal static class QuickModels
{
    public static void Run()
    {
        Console.WriteLine($"{"model",-18} {"ModelGen us",12} {"ORT us",10} {"ORT/ModelGen",13} {"alloc/call MG",14} {"alloc/call ORT",15}");
        foreach (var name in new[] { "melspectrogram", "embedding_model", "hey_jarvis_v0.1", "alexa_v0.1", "hey_mycroft_v0.1" })
        {
            var b = new ModelBenchmarks { Model = name };
            b.Setup();
            var (mg, mgAlloc) = Median(b.ModelGen);
            var (ort, ortAlloc) = Median(b.Ort);
            Console.WriteLine($"{name,-18} {mg * 1e6,12:F1} {ort * 1e6,10:F1} {ort / mg,13:F2} {mgAlloc,14:F0} {ortAlloc,15:F0}");
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
            sw.Restart();
            for (int i = 0; i < batch; i++) f();
            t[r] = sw.Elapsed.TotalSeconds / batch;
        }
        double alloc = (GC.GetAllocatedBytesForCurrentThread() - a0) / (double)(batch * t.Length);
        Array.Sort(t);
        return (t[t.Length / 2], alloc);
    }
}
#endif
