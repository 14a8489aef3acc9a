using System;
using System.Collections.Generic;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Quantization;

/// <summary>
/// Observes every float tensor of a graph over the calibration samples and gives each a range [Lo, Hi] by the chosen
/// method. MinMax: the observed extremes. Percentile: the 99.99th percentile range (0.005% clipped at each end).
/// Entropy: TensorRT's KL-divergence threshold on |x| (symmetric, or [0, t] for tensors that are never negative).
/// Percentile and Entropy run the samples twice: once for the extremes that fix the histogram range, once to fill it.
/// </summary>
internal static class Calibrator
{
    public const double Percentile = 99.99;

    public static Dictionary<Value, (float Lo, float Hi)> Run(Graph g, IReadOnlyList<Value> inputs, IReadOnlyList<float[][]> samples, CalibrationMethod method)
    {
        var min = new Dictionary<Value, float>();
        var max = new Dictionary<Value, float>();
        foreach (var s in samples)
            ReferenceRun.Run(g, inputs, s, (v, t) =>
            {
                float lo = float.MaxValue, hi = float.MinValue;
                foreach (var f in t.F) { if (f < lo) lo = f; if (f > hi) hi = f; }
                if (t.F.Length == 0) return;
                min[v] = min.TryGetValue(v, out var m) ? Math.Min(m, lo) : lo;
                max[v] = max.TryGetValue(v, out var M) ? Math.Max(M, hi) : hi;
            });
        var ranges = new Dictionary<Value, (float, float)>();
        if (method == CalibrationMethod.MinMax)
        {
            foreach (var kv in min) ranges[kv.Key] = (kv.Value, max[kv.Key]);
            return ranges;
        }
        var hist = new Dictionary<Value, Histogram>();
        foreach (var kv in min)
        {
            float lo = kv.Value, hi = max[kv.Key];
            hist[kv.Key] = method == CalibrationMethod.Entropy
                ? new Histogram(0, Math.Max(Math.Abs(lo), Math.Abs(hi)), absolute: true)
                : new Histogram(lo, hi, absolute: false);
        }
        foreach (var s in samples) ReferenceRun.Run(g, inputs, s, (v, t) => { if (hist.TryGetValue(v, out var h)) h.Add(t.F); });
        foreach (var kv in hist)
        {
            var h = kv.Value;
            float lo = min[kv.Key], hi = max[kv.Key];
            if (method == CalibrationMethod.Percentile)
            {
                double tail = (100 - Percentile) / 200;
                ranges[kv.Key] = ((float)Math.Max(lo, h.Quantile(tail)), (float)Math.Min(hi, h.Quantile(1 - tail)));
            }
            else
            {
                bool nonNegative = lo >= 0;
                // int8 has 128 levels each side of zero for a signed tensor, 256 over [0, t] for a non-negative one
                float t = (float)EntropyThreshold.Find(h, nonNegative ? 256 : 128);
                ranges[kv.Key] = nonNegative ? (0f, Math.Min(hi, t)) : (Math.Max(lo, -t), Math.Min(hi, t));
            }
        }
        return ranges;
    }
}
