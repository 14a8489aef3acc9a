using System;

namespace ModelGen.Compiler.Quantization;

/// <summary>A fixed-range histogram of a tensor's values over all calibration samples (range from a first MinMax pass).</summary>
internal sealed class Histogram
{
    public const int DefaultBins = 2048;
    public readonly long[] Counts;
    public readonly double Lo, Hi;
    public readonly bool Absolute;
    public long Total;

    /// <summary>
    /// Over [lo, hi]; <paramref name="absolute"/>: counts |x| (lo = 0) and leaves out exact zeros, as the entropy method
    /// wants: zero is exact at any scale, so the spike of zeros after a ReLU says nothing about where to clip.
    /// </summary>
    public Histogram(double lo, double hi, bool absolute, int bins = DefaultBins)
    {
        Lo = lo; Hi = hi > lo ? hi : lo + 1e-30; Absolute = absolute; Counts = new long[bins];
    }

    public double BinWidth => (Hi - Lo) / Counts.Length;

    public void Add(float[] data)
    {
        double scale = Counts.Length / (Hi - Lo);
        int last = Counts.Length - 1;
        foreach (var f in data)
        {
            if (Absolute && f == 0) continue;
            double v = Absolute ? Math.Abs(f) : f;
            int b = (int)((v - Lo) * scale);
            Counts[b < 0 ? 0 : b > last ? last : b]++;
            Total++;
        }
    }

    /// <summary>The value below which a fraction <paramref name="q"/> of the observations lie (the bin edge that reaches it).</summary>
    public double Quantile(double q)
    {
        double want = q * Total;
        long seen = 0;
        for (int b = 0; b < Counts.Length; b++)
        {
            seen += Counts[b];
            if (seen >= want) return q < 0.5 ? Lo + b * BinWidth : Lo + (b + 1) * BinWidth;
        }
        return Hi;
    }
}
