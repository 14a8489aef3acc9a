using System;
using System.Runtime.CompilerServices;

namespace ModelGen.Runtime;

/// <summary>
/// Quantize="Weights" convolutions whose kernel reads packed panels (<see cref="ConvPanels"/>): the weights stay int8 in
/// the binary, packed at build time in the panels' layout, and are dequantized into the arena on each call in one
/// pass (<see cref="Int8.DequantizeLanes(ReadOnlySpan{sbyte}, ReadOnlySpan{float}, Span{float}, int, int, int)"/>, a scale per lane of each panel), so the convolution runs the float
/// model's kernel on the same floats DequantizeLinear would give.
/// </summary>
public static unsafe class WeightConv
{
    /// <summary>
    /// <see cref="Conv.Conv2D"/> with w given as int8 panels ([groups * blocks, icg*kH*kW, 16], zero past a group's
    /// channels: ConvPanels' layout) and scales [groups * blocks * 16] (a panel's 16 output channels', 0 past the group's).
    /// <paramref name="weights"/>: arena floats for the dequantized panels (ConvPanels.PackedLength). Where ConvPanels
    /// declines (scalar code, geometry, which it decides before writing anything) they are dequantized again, into w's
    /// [outC, icg*kH*kW] layout, for Conv2D's other kernels.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Conv2D(ReadOnlySpan<float> x, ReadOnlySpan<sbyte> panels, ReadOnlySpan<float> scales, ReadOnlySpan<float> bias,
        Span<float> weights, Span<float> y, int batch, int inC, int inH, int inW, int outC, int kH, int kW, int outH, int outW,
        int strideH, int strideW, int padTop, int padLeft, int dilH, int dilW, int groups, Activation activation = default, bool accumulate = false)
    {
        if (batch < 0 || inC <= 0 || inH <= 0 || inW <= 0 || outC <= 0 || kH <= 0 || kW <= 0 || outH < 0 || outW < 0
            || strideH <= 0 || strideW <= 0 || dilH <= 0 || dilW <= 0 || padTop < 0 || padLeft < 0 || groups <= 0
            || inC % groups != 0 || outC % groups != 0 || (long)inC / groups * kH * kW > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(groups), "WeightConv.Conv2D: invalid geometry");
        int icg = inC / groups, ocg = outC / groups, taps = icg * kH * kW;
        long packed = ConvPanels.PackedLength(outC, groups, taps);
        if (panels.Length < packed || scales.Length < packed / taps || weights.Length < packed)
            throw new ArgumentException("WeightConv.Conv2D: panels, scales or weights too small", nameof(panels));
        if (x.Length < (long)batch * inC * inH * inW) throw new ArgumentException("WeightConv.Conv2D: x too small", nameof(x));
        if (y.Length < (long)batch * outC * outH * outW) throw new ArgumentException("WeightConv.Conv2D: y too small", nameof(y));
        if (bias.Length != 0 && bias.Length < outC) throw new ArgumentException("WeightConv.Conv2D: bias must be empty or hold outC values", nameof(bias));
        if (batch == 0 || (long)outH * outW == 0) return;
        int blocks = (int)(packed / taps / ConvPanels.Width);
        Int8.DequantizeLanes(panels, scales, weights, blocks, taps, ConvPanels.Width);
        long inImage = (long)inC * inH * inW, outImage = (long)outC * outH * outW;
        int nb = 0;
        if (kH * kW > 1 && !(icg == 1 && groups > 1))
            fixed (float* px = x, pw = weights, pb = bias, py = y)
                for (; nb < batch; nb++)
                    if (!ConvPanels.TryRun(px + nb * inImage, pw, bias.Length == 0 ? null : pb, py + nb * outImage, groups, icg, ocg,
                            inH, inW, kH, kW, outH, outW, strideH, strideW, padTop, padLeft, dilH, dilW, activation, accumulate))
                        break;
        if (nb == batch) return;
        // w's layout: w[(g*ocg + o)*taps + t] = panels[((g*blocks + o/16)*taps + t)*16 + o%16] x its lane's scale
        int perGroup = blocks / groups;
        for (int g = 0; g < groups; g++)
            for (int o = 0; o < ocg; o++)
            {
                int panel = g * perGroup + o / ConvPanels.Width, lane = o % ConvPanels.Width;
                float s = scales[panel * ConvPanels.Width + lane];
                int src = panel * taps * ConvPanels.Width + lane, dst = (g * ocg + o) * taps;
                for (int t = 0; t < taps; t++) weights[dst + t] = (float)panels[src + t * ConvPanels.Width] * s;
            }
        // from the first image ConvPanels declined (it declines on the geometry and the vector width: the first)
        Conv.Conv2D(x.Slice((int)(nb * inImage)), weights.Slice(0, outC * taps), bias, y.Slice((int)(nb * outImage)), batch - nb, inC, inH, inW, outC, kH, kW, outH, outW,
            strideH, strideW, padTop, padLeft, dilH, dilW, groups, activation, accumulate);
    }
}
