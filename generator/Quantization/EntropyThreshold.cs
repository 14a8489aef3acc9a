using System;

namespace ModelGen.Compiler.Quantization;

/// <summary>
/// TensorRT's entropy calibration: over a 2048-bin histogram of |x|, choose the clipping threshold whose quantized
/// distribution (the kept bins merged into <c>levels</c> levels, outliers folded into the last kept bin) loses the
/// least information, i.e. minimises KL(P || Q).
/// </summary>
internal static class EntropyThreshold
{
    public static double Find(Histogram h, int levels)
    {
        var c = h.Counts;
        int n = c.Length;
        if (h.Total == 0 || n <= levels) return h.Hi;
        double bestKl = double.MaxValue;
        int best = n;
        var p = new double[n];
        var q = new double[n];
        for (int i = levels; i <= n; i++)
        {
            // P: the first i bins, with everything beyond folded into bin i-1 (clipped values saturate there)
            long outliers = 0;
            for (int j = i; j < n; j++) outliers += c[j];
            for (int j = 0; j < i; j++) p[j] = c[j];
            p[i - 1] += outliers;
            // Q: the first i bins merged into 'levels' groups, each group's mass spread evenly over its non-empty bins
            for (int k = 0; k < levels; k++)
            {
                int start = (int)((long)k * i / levels), end = (int)((long)(k + 1) * i / levels);
                double mass = 0; int nonEmpty = 0;
                for (int j = start; j < end; j++) { mass += c[j]; if (c[j] != 0) nonEmpty++; }
                for (int j = start; j < end; j++) q[j] = c[j] == 0 || nonEmpty == 0 ? 0 : mass / nonEmpty;
            }
            double kl = Kl(p, q, i);
            if (kl < bestKl) { bestKl = kl; best = i; }
        }
        return h.Lo + best * h.BinWidth;
    }

    static double Kl(double[] p, double[] q, int count)
    {
        double sp = 0, sq = 0;
        for (int j = 0; j < count; j++) { sp += p[j]; sq += q[j]; }
        if (sp == 0 || sq == 0) return double.MaxValue;
        double kl = 0;
        for (int j = 0; j < count; j++)
        {
            if (p[j] == 0) continue;
            double pj = p[j] / sp, qj = q[j] / sq;
            // a bin P has and Q lost (its group was empty but for outliers): a large but finite penalty, as TensorRT's smoothing
            kl += qj == 0 ? pj * 20 : pj * Math.Log(pj / qj);
        }
        return kl;
    }
}
