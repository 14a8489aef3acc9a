using System;
using System.Linq;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Operators;

namespace ModelGen.Compiler.Passes;

/// <summary>
/// A float Conv with constant weights, a spatial kernel (not 1x1), one or two spatial dimensions, not depthwise and wide
/// enough (<see cref="Takes"/>) gets its weights a second time, packed into panels of 16 output channels,
/// tap-major, as a 5th input (ModelGen.Runtime.ConvPanels' layout): the Net kernel then vectorises over output channels,
/// a tap's weights for 16-48 channels being 1-3 vector loads, with no run-time transposition. Net profile only (the
/// pass manager skips it for Portable, whose loops read W). Runs last, with the lowering to ModelGen's kernels: BatchNorm
/// folding, the residual fusion and quantization replace the node (and its weights) before; an exported graph (the
/// lowering passes switched off) keeps the standard Conv. Int8 weights (Quantize="Weights", <see cref="WeightConvFusion"/>)
/// are packed as int8, dequantized into the panels' floats on each call (ModelGen.Runtime.WeightConv).
/// </summary>
public sealed class ConvWeightPanels : IPass
{
    /// <summary>Output channels per panel (ModelGen.Runtime.ConvPanels.Width).</summary>
    internal const int Width = 16;

    public string Name => "ConvWeightPanels";

    public void Run(Graph graph)
    {
        foreach (var n in graph.Nodes.Where(Takes).ToList())
        {
            var geo = (Conv.Geo)n.State;
            var w = n.In(1).Const;
            int taps = geo.ICg * geo.W.KernelSize;
            var packed = w.Type == DType.Int8
                ? new TensorData(DType.Int8, new[] { (int)ConvPanelsLength(geo.M, geo.Group, taps) }, l: Pack(w.L, geo.M, geo.Group, taps))
                : new TensorData(DType.Float, new[] { (int)ConvPanelsLength(geo.M, geo.Group, taps) }, f: Pack(w.F, geo.M, geo.Group, taps));
            while (n.Inputs.Count < 5) n.Inputs.Add(null);
            n.Inputs[4] = PassUtil.Const(n.In(1).Name + "_panels", packed);
        }
    }

    /// <summary>
    /// Dense, spatial, constant weights (float, or int8 with their scales); and wide enough: at least 16 output channels per group (a panel's
    /// width) and 8 input channels or 32 outputs (DS-CNN's 1 -> 64 stem faster here); or a stem (fewer than 8 input
    /// channels, 8 outputs or more) with stride 1 or 2 along W on rows of whole 16-float vectors, which the kernel runs
    /// with the pixels in the lanes and no transposition (ResNet-8's 3 -> 16 stem 14% faster, openWakeWord's 1 -> 24 8%,
    /// MobileNet's 3 -> 8 stride 2 14%). Other stems measured faster on the pixel-vectorised ConvPlanes.
    /// </summary>
    static bool Takes(Node n) =>
        PassUtil.Is(n, "Conv") && n.In(4) == null && n.State is Conv.Geo geo && geo.W.Rank <= 2 && geo.W.KernelSize > 1
        && !(geo.ICg == 1 && geo.Group > 1)
        && (geo.OCg >= Width && (geo.ICg >= 8 || geo.OCg >= 32)
            || geo.ICg < 8 && geo.OCg >= 8 && geo.W.Strides[geo.W.Rank - 1] <= 2 && geo.W.Out[geo.W.Rank - 1] % Width == 0)
        && n.In(0).Type == DType.Float && n.In(1).IsConst && (n.In(1).Const.F != null || n.In(5) != null) && Fits(geo);

    /// <summary>
    /// Within ModelGen.Runtime.ConvPanels' limits on every machine (its MaxTaps, MaxChannels, stride 1 or 2 along W,
    /// the partial sums of the widest tile, the staged band): the packed copy then stands for W, which is not emitted
    /// (half the weight bytes), and the kernel never declines for want of room. Keep in step with ConvPanels.TryRun.
    /// </summary>
    static bool Fits(Conv.Geo geo)
    {
        // ConvPanels' MaxTaps, MaxChannels, PartFloats, StageFloats; its widest tile is 3 vectors of 16 channels
        const long maxTaps = 4608, maxChannels = 4096, partFloats = 8192, stageFloats = 20480, widestTile = 48;
        var g = geo.W;
        int last = g.Rank - 1;
        long kH = g.Rank == 2 ? g.Kernel[0] : 1, sh = g.Rank == 2 ? g.Strides[0] : 1, dh = g.Rank == 2 ? g.Dilations[0] : 1, outH = g.Rank == 2 ? g.Out[0] : 1;
        long kW = g.Kernel[last], sw = g.Strides[last], dw = g.Dilations[last], outW = g.Out[last];
        if (geo.ICg * kH * kW > maxTaps || sw > 2 || geo.OCg > maxChannels || outW * Math.Min(widestTile, (geo.OCg + 15) / 16 * 16) > partFloats) return false;
        long wq = (outW - 1) * sw + (kW - 1) * dw + 1, spanH = (kH - 1) * dh + 1;
        long fit = (stageFloats - Width) / geo.ICg / wq - spanH;
        return fit >= 0 && Math.Min(outH, fit / sh + 1) >= Math.Min(outH, Math.Max(2, (spanH - 1) / sh));
    }

    /// <summary>
    /// w [outC, taps] per group into panels of 16 output channels: panels[((g*blocks + b)*taps + t)*16 + i] =
    /// w[g*ocg + b*16 + i, t], 0 past the group's channels.
    /// </summary>
    internal static T[] Pack<T>(T[] w, int outC, int groups, int taps)
    {
        int ocg = outC / groups, blocks = (ocg + Width - 1) / Width;
        var p = new T[ConvPanelsLength(outC, groups, taps)];
        for (int g = 0; g < groups; g++)
            for (int o = 0; o < ocg; o++)
            {
                int dst = (g * blocks + o / Width) * taps * Width + o % Width;
                for (int t = 0; t < taps; t++) p[dst + t * Width] = w[(g * ocg + o) * taps + t];
            }
        return p;
    }

    static long ConvPanelsLength(int outC, int groups, int taps) => (long)groups * ((outC / groups + Width - 1) / Width) * Width * taps;
}
