using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ModelGen.Runtime;

/// <summary>GroupNormalization and InstanceNormalization (one channel per group) for generated code, float, NCHW...</summary>
public static class GroupNorm
{
    /// <summary>
    /// Per (batch, group of channels / groups channels): y = (x - mean) / sqrt(var + epsilon) * scale[p] + bias[p], p the
    /// group (perGroup, opset 18) or the channel. Each group is one contiguous run of channels / groups * plane values:
    /// a vector pass for the mean, one for the variance about it, one writing y = x * a + c per channel. y may be x.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(ReadOnlySpan<float> x, ReadOnlySpan<float> scale, ReadOnlySpan<float> bias, Span<float> y,
        int batch, int channels, int groups, int plane, float epsilon, bool perGroup)
    {
        if (batch < 0 || groups <= 0 || channels % groups != 0 || plane <= 0) throw new ArgumentOutOfRangeException(nameof(groups), "GroupNorm: invalid geometry");
        int cg = channels / groups, size = cg * plane;
        long n = (long)batch * channels * plane;
        int p = perGroup ? groups : channels;
        if (x.Length < n || y.Length < n || scale.Length < p || bias.Length < p) throw new ArgumentException("GroupNorm: sizes do not agree");
        int w = Vector<float>.Count;
        for (int b = 0; b < batch; b++)
            for (int g = 0; g < groups; g++)
            {
                int at = (b * groups + g) * size;
                var xs = x.Slice(at, size);
                var xv = MemoryMarshal.Cast<float, Vector<float>>(xs);
                var acc = Vector<float>.Zero;
                for (int i = 0; i < xv.Length; i++) acc += xv[i];
                float sum = Vector.Sum(acc);
                for (int i = xv.Length * w; i < size; i++) sum += xs[i];
                float mean = sum / size;
                var m = new Vector<float>(mean);
                acc = Vector<float>.Zero;
                for (int i = 0; i < xv.Length; i++) { var d = xv[i] - m; acc += d * d; }
                float sq = Vector.Sum(acc);
                for (int i = xv.Length * w; i < size; i++) { float d = xs[i] - mean; sq += d * d; }
                float inv = 1f / MathF.Sqrt(sq / size + epsilon);
                for (int k = 0; k < cg; k++)
                {
                    int q = perGroup ? g : g * cg + k;
                    float a = scale[q] * inv, c = bias[q] - mean * a;
                    var xr = x.Slice(at + k * plane, plane);
                    var yr = y.Slice(at + k * plane, plane);
                    var xrv = MemoryMarshal.Cast<float, Vector<float>>(xr);
                    var yrv = MemoryMarshal.Cast<float, Vector<float>>(yr);
                    var av = new Vector<float>(a); var cv = new Vector<float>(c);
                    for (int i = 0; i < xrv.Length; i++) yrv[i] = xrv[i] * av + cv;
                    for (int i = xrv.Length * w; i < plane; i++) yr[i] = xr[i] * a + c;
                }
            }
    }
}
