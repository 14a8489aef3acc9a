using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// Conv over N spatial dimensions: X [N, C, D1..Dn], W [M, C/group, k1..kn], optional B [M] -> Y [N, M, o1..on].
/// Attributes: group (grouped and depthwise), kernel_shape (optional, from W), strides, dilations, pads, auto_pad,
/// and a fused activation (<see cref="FusedActivation"/>) applied as each output is stored.
/// A 4th input Z of Y's shape (ModelGen's own, set by the ConvAddFusion pass) is a residual added before the
/// activation: Y = act(conv(X) + B + Z). Y may take over Z's buffer (<see cref="SharedInput"/>). A 5th input (the
/// ConvWeightPanels pass) holds W again, packed for the Net kernel (ModelGen.Runtime.ConvPanels' layout).
/// Quantize="Weights" in the Net profile (the WeightConvFusion pass): W is constant int8 and a 6th input S [M] holds
/// its scales (W's floats are W x S per output channel, as the DequantizeLinear it replaces computes them); the packed
/// 5th input is then int8 too. The kernel's float weights are dequantized into the node's scratch, in the layout the
/// kernel reads, on each call.
/// </summary>
public sealed class Conv : Operator
{
    internal sealed class Geo
    {
        public Window W;
        public int N, C, M, Group, ICg, OCg;
    }

    public override void Infer(Node n)
    {
        Require(n, 2, 6);
        var x = n.In(0); var w = n.In(1); var b = n.In(2); var z = n.In(3); var s = n.In(5);
        RequireFloat(n, x);
        bool int8 = s != null;
        if (int8 && (x.Type != DType.Float || w.Type != DType.Int8 || !w.IsConst || s.Type != DType.Float || !s.IsConst || s.Shape.Length != 1 || s.Length != w.Shape[0]))
            throw Error("Conv with weight scales takes float X, constant int8 W and constant float scales [M]");
        if (!int8 && w.Type != x.Type || b != null && b.Type != x.Type) throw Error("Conv inputs must share one element type");
        if (x.Shape.Length < 3) throw Error($"Conv input must have rank 3 or more [N, C, spatial...], got {Shape.Format(x.Shape)}");
        if (w.Shape.Length != x.Shape.Length) throw Error($"Conv weights {Shape.Format(w.Shape)} must have the rank of the input {Shape.Format(x.Shape)}");
        int r = x.Shape.Length - 2;
        long group = n.Int("group", 1);
        int c = x.Shape[1], m = w.Shape[0];
        if (group < 1 || group > c || c % group != 0) throw Error($"Conv group {group} does not divide the {c} input channels");
        if (m % group != 0) throw Error($"Conv group {group} does not divide the {m} output channels");
        if ((long)w.Shape[1] * group != c) throw Error($"Conv weights {Shape.Format(w.Shape)} expect {(long)w.Shape[1] * group} input channels (group {group}), the input {Shape.Format(x.Shape)} has {c}");
        if (b != null && (b.Shape.Length != 1 || b.Shape[0] != m)) throw Error($"Conv bias must have shape [{m}], got {Shape.Format(b.Shape)}");
        var kernel = Window.KernelShape(n, r, w.Shape.Skip(2).ToArray());
        var win = Window.Resolve(n, x.Shape.Skip(2).ToArray(), kernel, ceilMode: false, dilationsAllowed: true);
        n.State = new Geo { W = win, N = x.Shape[0], C = c, M = m, Group = (int)group, ICg = c / (int)group, OCg = m / (int)group };
        FusedActivation.Of(n);
        var shape = new[] { x.Shape[0], m }.Concat(win.Out).ToArray();
        if (z != null && (z.Type != x.Type || !Shape.Equal(z.Shape, shape)))
            throw Error($"Conv residual input must have the output's type and shape {Shape.Format(shape)}, got {Shape.Format(z.Shape)}");
        var p = n.In(4);
        if (p != null && (p.Type != w.Type || !p.IsConst || p.Length != (long)group * ((m / group + 15) / 16) * 16 * w.Length / m))
            throw Error($"Conv packed weights must be a constant of {(long)group * ((m / group + 15) / 16) * 16 * w.Length / m} values of the weights' type");
        SetOut(n, 0, x.Type, shape);
    }

    /// <summary>The residual Z: its buffer holds Y's starting values, so Y may overwrite it in place.</summary>
    public override int SharedInput(Node n) => n.In(3) != null ? 3 : -1;

    /// <summary>Multiply-adds above which constant folding is left to run time.</summary>
    internal const double MaxFoldMacs = 5e7;

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var geo = (Geo)n.State; var g = geo.W;
        // a very large constant convolution runs at run time instead of slowing the build down; int8 weights are
        // lowered after constant folding (nothing left to fold)
        if ((double)n.Out().Length * geo.ICg * g.KernelSize > MaxFoldMacs || n.In(5) != null) return null;
        var x = inputs[0]; var w = inputs[1]; var b = inputs.Length > 2 ? inputs[2] : null; var z = inputs.Length > 3 ? inputs[3] : null;
        var y = new TensorData(x.Type, n.Out().Shape);
        int inPlane = g.InPlane, outPlane = g.OutPlane, kSize = g.KernelSize, r = g.Rank;
        var taps = new int[kSize][];
        for (int t = 0; t < kSize; t++)
        {
            taps[t] = new int[r];
            for (int i = r - 1, rem = t; i >= 0; i--) { taps[t][i] = rem % g.Kernel[i]; rem /= g.Kernel[i]; }
        }
        // the taps inside the input at each output position, and where they read (the same for every channel):
        // computed once, so calibration, which evaluates every conv per sample, stays fast
        var tapCount = new int[outPlane]; var tapW = new int[outPlane * kSize]; var tapX = new int[outPlane * kSize];
        g.ForEachOutput((o, pos) =>
        {
            int c = 0;
            for (int t = 0; t < kSize; t++)
            {
                int xi = 0; bool valid = true;
                for (int i = 0; i < r && valid; i++)
                {
                    int q = g.First(i, pos[i]) + taps[t][i] * g.Dilations[i];
                    valid = q >= 0 && q < g.In[i];
                    xi = xi * g.In[i] + q;
                }
                if (valid) { tapW[o * kSize + c] = t; tapX[o * kSize + c] = xi; c++; }
            }
            tapCount[o] = c;
        });
        float[] xf = x.F, wf = w.F;
        for (int bn = 0; bn < geo.N; bn++)
            for (int m = 0; m < geo.M; m++)
            {
                int grp = m / geo.OCg;
                double bias = b == null ? 0 : b.GetDouble(m);
                for (int o = 0; o < outPlane; o++)
                {
                    int yi = (bn * geo.M + m) * outPlane + o;
                    double acc = bias + (z == null ? 0 : z.GetDouble(yi));
                    int t0 = o * kSize, tn = tapCount[o];
                    for (int ic = 0; ic < geo.ICg; ic++)
                    {
                        int xb = (bn * geo.C + grp * geo.ICg + ic) * inPlane, wb = (m * geo.ICg + ic) * kSize;
                        if (xf != null && wf != null)
                            for (int j = t0; j < t0 + tn; j++) acc += (double)xf[xb + tapX[j]] * wf[wb + tapW[j]];
                        else
                            for (int j = t0; j < t0 + tn; j++) acc += x.GetDouble(xb + tapX[j]) * w.GetDouble(wb + tapW[j]);
                    }
                    y.Set(yi, acc);
                }
            }
        FusedActivation.ApplyTo(n, y);
        return new[] { y };
    }


    public override void Emit(Node n, EmitContext e)
    {
        var geo = (Geo)n.State;
        if (UsesNetKernel(n, geo, e.Profile)) { EmitNetKernel(n, e, geo); return; }
        if (n.In(5) != null) throw new CompileException(Diag.InternalError, $"Conv {n.Display} has int8 weights but no Net kernel");
        EmitLoops(n, e, geo);
    }

    /// <summary>
    /// Net profile: 1-D and 2-D float convolutions run in ModelGen.Runtime's SIMD kernel (1-D as a 1-row 2-D); its
    /// depthwise kernel has no residual form. The only form that takes int8 weights (WeightConvFusion checks).
    /// </summary>
    internal static bool UsesNetKernel(Node n, Geo geo, TargetProfile profile) =>
        profile == TargetProfile.Net && n.In(0).Type == DType.Float && geo.W.Rank <= 2 && !(geo.ICg == 1 && geo.Group > 1 && n.In(3) != null);

    /// <summary>
    /// Int8 weights: the kernel's float weights, dequantized on each call (panels, channel lanes, or W's layout). A
    /// small plane's spatial convolution through PointwiseConv (<see cref="PatchChannels"/>): its input patches.
    /// </summary>
    public override (DType Type, int Elements) Scratch(Node n, TargetProfile profile)
    {
        var geo = (Geo)n.State;
        if (UsesNetKernel(n, geo, profile) && PatchChannels(n, geo)) return (DType.Float, (int)PatchFloats(geo));
        if (n.In(5) == null || !UsesNetKernel(n, geo, profile)) return (DType.Float, 0);
        long len = n.In(4) != null ? n.In(4).Length : PointwiseChannels(n, geo) ? (geo.C + 1L) * ChannelLanesColumns(geo.M) : n.In(1).Length;
        return (DType.Float, (int)len);
    }

    /// <summary>
    /// Positions per image below which a 1x1 convolution puts its output channels in the vector lanes
    /// (ModelGen.Runtime.PointwiseConv) rather than the positions (Conv2D's GEMM). Measured on Zen 4 (AVX-512,
    /// `experiment pointwise` in the benchmarks): 3x3 planes run 2x faster with channels in the lanes, 6x6 planes
    /// about the same either way, 12x12 and larger 1.4-2.2x slower (the transposed store costs more than the
    /// padding it saves).
    /// </summary>
    internal const int ChannelLanesBelow = 40;

    static bool PointwiseChannels(Node n, Geo geo)
    {
        var g = geo.W;
        return geo.Group == 1 && g.OutPlane < ChannelLanesBelow && n.In(1).IsConst && (n.In(2) == null || n.In(2).IsConst)
            && g.Kernel.All(k => k == 1) && g.Strides.All(s => s == 1) && g.PadBegin.All(p => p == 0) && g.PadEnd.All(p => p == 0);
    }

    /// <summary>The most floats of input patches a convolution through <see cref="PatchChannels"/> copies (1 MB).</summary>
    const long MaxPatchFloats = 1 << 18;

    static long PatchFloats(Geo geo) => (long)geo.N * geo.C * geo.W.KernelSize * geo.W.OutPlane;

    /// <summary>
    /// A dense spatial convolution onto a small plane (fewer than <see cref="ChannelLanesBelow"/> positions, 16 or more
    /// output channels) that ConvWeightPanels left in W's layout: its input patches copied into [C x kernel, plane]
    /// (im2col) make it a 1x1 convolution for PointwiseConv, output channels in the lanes. Conv2D would put the few
    /// positions in the lanes: melspectrogram's STFT (1 -> 257 channels, 512 taps, 8 positions) ran at a fifth of peak.
    /// </summary>
    static bool PatchChannels(Node n, Geo geo)
    {
        var g = geo.W;
        return geo.Group == 1 && geo.M >= 16 && g.OutPlane < ChannelLanesBelow && g.KernelSize > 1 && n.In(4) == null && n.In(5) == null
            && n.In(1).IsConst && n.In(1).Const.F != null && (n.In(2) == null || n.In(2).IsConst) && PatchFloats(geo) <= MaxPatchFloats;
    }

    /// <summary>
    /// ModelGen.Runtime.PointwiseConv's weights: w transposed into panels of 32 output channels (its ColumnMultiple),
    /// [outC / 32][inC][32], then the bias as one row of the padded columns (the tests and benchmarks build the layout
    /// here too).
    /// </summary>
    internal static float[] ChannelLanesLayout(float[] w, float[] b, int inC, int outC)
    {
        int mp = ChannelLanesColumns(outC);
        var t = ChannelLanes(w, inC, outC, inC + 1);
        if (b != null) Array.Copy(b, 0, t, inC * mp, outC);
        return t;
    }

    /// <summary>A row of the channel lanes: outC padded to PointwiseConv.ColumnMultiple (32).</summary>
    internal static int ChannelLanesColumns(int outC) => (outC + 31) / 32 * 32;

    static float[] Padded(float[] a, int length)
    {
        var r = new float[length];
        Array.Copy(a, r, a.Length);
        return r;
    }

    /// <summary>
    /// w [outC, inC] transposed into panels of 32 columns, t[((m / 32) * inC + k) * 32 + m % 32] (a panel's weights are
    /// contiguous: the kernel streams them once per panel, which large layers read from beyond L2), in the first inC
    /// rows' worth of <paramref name="rows"/> rows of the padded columns, zeros elsewhere.
    /// </summary>
    internal static T[] ChannelLanes<T>(T[] w, int inC, int outC, int rows)
    {
        int mp = ChannelLanesColumns(outC);
        var t = new T[rows * mp];
        for (int m = 0; m < outC; m++)
            for (int k = 0; k < inC; k++) t[((m / 32) * inC + k) * 32 + m % 32] = w[m * inC + k];
        return t;
    }

    static void EmitNetKernel(Node n, EmitContext e, Geo geo)
    {
        var g = geo.W;
        var z = n.In(3);
        // the kernel adds onto y: y starts as Z (already there when y took over Z's buffer)
        if (z != null && e.StorageOf(z) != e.StorageOf(n.Out())) e.W.Line($"{e.Span(z)}.CopyTo({e.Span(n.Out())});");
        var scales = n.In(5);
        if (n.Int("mg_blocked", 0) != 0) { EmitBlocked(n, e, geo); return; }
        if (PointwiseChannels(n, geo))
        {
            Value wt;
            if (scales == null)
            {
                var layout = ChannelLanesLayout(n.In(1).Const.F, n.In(2)?.Const.F, geo.C, geo.M);
                wt = e.Derived(n, n.In(1).Name + "_channels", new TensorData(DType.Float, new[] { layout.Length }, f: layout));
            }
            else
            {
                // int8 rows of channel lanes, dequantized with a scale per column, then the float bias row (or zeros)
                int mp = ChannelLanesColumns(geo.M);
                var q = ChannelLanes(n.In(1).Const.L, geo.C, geo.M, geo.C);
                var lanes = e.Derived(n, n.In(1).Name + "_channels", new TensorData(DType.Int8, new[] { q.Length }, l: q));
                var s = e.Derived(n, scales.Name + "_channels", new TensorData(DType.Float, new[] { mp }, f: Padded(scales.Const.F, mp)));
                wt = e.Scratch(n);
                e.W.Line($"ModelGen.Runtime.Int8.DequantizeLanes({e.Span(lanes)}, {e.Span(s)}, {e.Span(wt)}, {mp / 32}, {geo.C}, 32);");
                if (n.In(2) == null) e.W.Line($"{e.Span(wt)}.Slice({(long)geo.C * mp}).Clear();");
                else
                {
                    var b = e.Derived(n, n.In(2).Name + "_channels", new TensorData(DType.Float, new[] { mp }, f: Padded(n.In(2).Const.F, mp)));
                    e.W.Line($"{e.Span(b)}.CopyTo({e.Span(wt)}.Slice({(long)geo.C * mp}));");
                }
            }
            e.W.Line($"ModelGen.Runtime.PointwiseConv.Run({e.Span(n.In(0))}, {e.Span(wt)}, {e.Span(n.Out())}, batch: {geo.N}, inC: {geo.C}, outC: {geo.M}, plane: {g.OutPlane}" +
                $"{FusedActivation.NetArg(n)}{(z != null ? ", accumulate: true" : "")});");
            return;
        }
        // (H, W) view: a 1-D convolution is one row
        int D(int[] a, int i, int one) => g.Rank == 2 ? a[i] : i == 0 ? one : a[0];
        if (PatchChannels(n, geo))
        {
            int k = geo.C * g.KernelSize;
            var layout = ChannelLanesLayout(n.In(1).Const.F, n.In(2)?.Const.F, k, geo.M);
            var wt = e.Derived(n, n.In(1).Name + "_channels", new TensorData(DType.Float, new[] { layout.Length }, f: layout));
            var col = e.Scratch(n);
            e.W.Line($"ModelGen.Runtime.PointwiseConv.Patches({e.Span(n.In(0))}, {e.Span(col)}, batch: {geo.N}, inC: {geo.C}, inH: {D(g.In, 0, 1)}, inW: {D(g.In, 1, 1)}, " +
                $"kH: {D(g.Kernel, 0, 1)}, kW: {D(g.Kernel, 1, 1)}, outH: {D(g.Out, 0, 1)}, outW: {D(g.Out, 1, 1)}, strideH: {D(g.Strides, 0, 1)}, strideW: {D(g.Strides, 1, 1)}, " +
                $"padTop: {D(g.PadBegin, 0, 0)}, padLeft: {D(g.PadBegin, 1, 0)}, dilH: {D(g.Dilations, 0, 1)}, dilW: {D(g.Dilations, 1, 1)});");
            e.W.Line($"ModelGen.Runtime.PointwiseConv.Run({e.Span(col)}, {e.Span(wt)}, {e.Span(n.Out())}, batch: {geo.N}, inC: {k}, outC: {geo.M}, plane: {g.OutPlane}" +
                $"{FusedActivation.NetArg(n)}{(z != null ? ", accumulate: true" : "")});");
            return;
        }
        var bias = n.In(2) != null ? e.Span(n.In(2)) : "default";
        var panels = n.In(4) != null ? $", panels: {e.Span(n.In(4))}" : "";
        // packed float panels stand for W (ConvWeightPanels only packs where the kernel takes them): W is not emitted
        string call = "ModelGen.Runtime.Conv.Conv2D", weights = $"{(n.In(4) != null ? "default" : e.Span(n.In(1)))}, {bias}";
        if (scales != null && n.In(4) != null)
        {
            // int8 panels: a scale per lane of each panel (0 past a group's channels, as the panels' weights)
            int blocks = (geo.OCg + Passes.ConvWeightPanels.Width - 1) / Passes.ConvWeightPanels.Width;
            var s = new float[geo.Group * blocks * Passes.ConvWeightPanels.Width];
            for (int gi = 0; gi < geo.Group; gi++) Array.Copy(scales.Const.F, gi * geo.OCg, s, gi * blocks * Passes.ConvWeightPanels.Width, geo.OCg);
            var sp = e.Derived(n, scales.Name + "_panels", new TensorData(DType.Float, new[] { s.Length }, f: s));
            call = "ModelGen.Runtime.WeightConv.Conv2D";
            weights = $"{e.Span(n.In(4))}, {e.Span(sp)}, {bias}, {e.Span(e.Scratch(n))}";
            panels = "";
        }
        else if (scales != null)
        {
            // int8 W [M, taps]: a scale per output channel's run of taps
            var wt = e.Scratch(n);
            e.W.Line($"ModelGen.Runtime.Int8.DequantizeAxis({e.Span(n.In(1))}, {e.Span(scales)}, default, {e.Span(wt)}, 1, {geo.M}, {n.In(1).Length / geo.M});");
            weights = $"{e.Span(wt)}, {bias}";
        }
        e.W.Line($"{call}({e.Span(n.In(0))}, {weights}, {e.Span(n.Out())}, " +
            $"batch: {geo.N}, inC: {geo.C}, inH: {D(g.In, 0, 1)}, inW: {D(g.In, 1, 1)}, outC: {geo.M}, kH: {D(g.Kernel, 0, 1)}, kW: {D(g.Kernel, 1, 1)}, " +
            $"outH: {D(g.Out, 0, 1)}, outW: {D(g.Out, 1, 1)}, strideH: {D(g.Strides, 0, 1)}, strideW: {D(g.Strides, 1, 1)}, " +
            $"padTop: {D(g.PadBegin, 0, 0)}, padLeft: {D(g.PadBegin, 1, 0)}, dilH: {D(g.Dilations, 0, 1)}, dilW: {D(g.Dilations, 1, 1)}, groups: {geo.Group}{FusedActivation.NetArg(n)}{(z != null ? ", accumulate: true" : "")}{panels});");
    }

    /// <summary>
    /// A convolution of a channel-blocked chain (Passes.ChannelBlocking): depthwise, or 1x1 with PointwiseConv's weight
    /// layout, on NCHW16c buffers.
    /// </summary>
    static void EmitBlocked(Node n, EmitContext e, Geo geo)
    {
        var g = geo.W;
        if (n.In(4) != null)
        {
            // a dense spatial convolution (ConvWeightPanels' panels) writing blocks, from NCHW input (a chain's first) or blocks
            e.W.Line($"ModelGen.Runtime.ConvBlocked.Dense({e.Span(n.In(0))}, {e.Span(n.In(4))}, {(n.In(2) != null ? e.Span(n.In(2)) : "default")}, {e.Span(n.Out())}, " +
                $"batch: {geo.N}, inC: {geo.C}, inH: {g.In[0]}, inW: {g.In[1]}, outC: {geo.M}, kH: {g.Kernel[0]}, kW: {g.Kernel[1]}, outH: {g.Out[0]}, outW: {g.Out[1]}, " +
                $"strideH: {g.Strides[0]}, strideW: {g.Strides[1]}, padTop: {g.PadBegin[0]}, padLeft: {g.PadBegin[1]}, dilH: {g.Dilations[0]}, dilW: {g.Dilations[1]}{FusedActivation.NetArg(n)}" +
                $"{(n.Int("mg_blocked_in", 0) != 0 ? ", xBlocked: true" : "")});");
            return;
        }
        if (geo.Group > 1)
        {
            // tap-major: a tap's weights for a vector of channels are one load
            int taps = g.KernelSize;
            var src = n.In(1).Const.F;
            var tw = new float[src.Length];
            for (int c = 0; c < geo.C; c++)
                for (int k = 0; k < taps; k++) tw[k * geo.C + c] = src[c * taps + k];
            var wtaps = e.Derived(n, n.In(1).Name + "_taps", new TensorData(DType.Float, new[] { tw.Length }, f: tw));
            e.W.Line($"ModelGen.Runtime.ConvBlocked.Depthwise({e.Span(n.In(0))}, {e.Span(wtaps)}, {(n.In(2) != null ? e.Span(n.In(2)) : "default")}, {e.Span(n.Out())}, " +
                $"batch: {geo.N}, channels: {geo.C}, inH: {g.In[0]}, inW: {g.In[1]}, kH: {g.Kernel[0]}, kW: {g.Kernel[1]}, outH: {g.Out[0]}, outW: {g.Out[1]}, " +
                $"strideH: {g.Strides[0]}, strideW: {g.Strides[1]}, padTop: {g.PadBegin[0]}, padLeft: {g.PadBegin[1]}, dilH: {g.Dilations[0]}, dilW: {g.Dilations[1]}{FusedActivation.NetArg(n)});");
            return;
        }
        var layout = ChannelLanesLayout(n.In(1).Const.F, n.In(2)?.Const.F, geo.C, geo.M);
        var wt = e.Derived(n, n.In(1).Name + "_channels", new TensorData(DType.Float, new[] { layout.Length }, f: layout));
        e.W.Line($"ModelGen.Runtime.ConvBlocked.Pointwise({e.Span(n.In(0))}, {e.Span(wt)}, {e.Span(n.Out())}, batch: {geo.N}, inC: {geo.C}, outC: {geo.M}, plane: {g.OutPlane}" +
            $"{FusedActivation.NetArg(n)}{(n.Int("mg_blocked_in", 1) == 0 ? ", xBlocked: false" : "")}{(n.In(3) != null ? ", accumulate: true" : "")});");
    }

    /// <summary>
    /// Scalar loops for both profiles, per output channel, over the window with trailing full dimensions collapsed.
    /// Row form (stride 1 along the last dimension, rows at least as long as the kernel): each output row starts as the
    /// bias and is accumulated per (input channel, outer tap) over contiguous column ranges computed at build time;
    /// up to four taps of the last dimension are summed in one pass over the columns they all reach.
    /// Dot form (strided or short rows): each output element is a local accumulator over the input channels and the
    /// taps, whose valid range is computed once per output position; the longer reduction goes innermost and long
    /// constant ones are unrolled into four partial sums.
    /// A fused activation is applied to the accumulator as it is stored (dot form), or to each output row once its
    /// accumulation is complete, while the row is still in cache (row form). A residual Z joins the bias as the starting
    /// value (element i of Z is read before element i of y is written, so y may be Z's buffer).
    /// </summary>
    static void EmitLoops(Node n, EmitContext e, Geo geo)
    {
        var g = geo.W.Collapsed();
        var x = n.In(0); var wt = n.In(1); var b = n.In(2); var z = n.In(3); var y = n.Out();
        var t = x.Type; var ty = DTypes.CsName(t);
        var w = e.W;
        var act = FusedActivation.Of(n);
        int r = g.Rank, inPlane = g.InPlane, outPlane = g.OutPlane, kSize = g.KernelSize;
        if (outPlane == 0 || geo.N == 0 || geo.M == 0) return;
        int opened = WindowEmit.OpenChannelLoops(e, geo.N, geo.M, geo.Group, geo.OCg, out var bn, out var grp, out var m);
        string bias = EmitContext.Lit(t, 0);
        if (b != null) { bias = e.Var("bias"); w.Line($"{ty} {bias} = {e.At(b, m)};"); }
        var xT = new List<string> { WindowEmit.Mul(bn, (long)geo.C * inPlane), WindowEmit.Mul(grp, (long)geo.ICg * inPlane) };
        var wT = new List<string> { WindowEmit.Mul(m, (long)geo.ICg * kSize) };
        var yT = new List<string> { WindowEmit.Mul(bn, (long)geo.M * outPlane), WindowEmit.Mul(m, outPlane) };
        WindowEmit.Hoist(e, xT, "xc");
        WindowEmit.Hoist(e, yT, "yc");
        // an output's starting value: the bias, plus the residual at the same index
        string Start(string yi) => z == null ? bias : b == null ? e.At(z, yi) : $"{bias} + {e.At(z, yi)}";
        var dims = new WinDim[r];
        var outStr = Shape.Strides(g.Out);
        int last = r - 1;
        // row form: stride 1 along a row at least as long as the kernel, unless the row is short and many input channels
        // make a long dot product (unrolled into four partial sums) the better inner loop
        bool rowForm = g.Strides[last] == 1 && g.Out[last] >= g.Kernel[last] && g.Out[last] >= (g.Kernel[last] <= 4 ? 4 : 8)
            && !(geo.ICg >= 16 && g.Out[last] < 8);
        if (!rowForm)
        {
            // the longer of the two reductions goes innermost: the taps of the last dimension, or the input channels
            bool channelsInner = geo.ICg > g.Kernel[last] && geo.ICg >= 4;
            opened += WindowEmit.OpenOutputs(e, g, r, dims, xT, yT, outStr);
            var acc = e.Var("acc");
            w.Line($"{ty} {acc} = {Start(WindowEmit.Sum(yT))};");
            int inner = 0;
            if (channelsInner)
            {
                inner += WindowEmit.OpenTaps(e, g, r, dims, xT, wT);
                WindowEmit.Hoist(e, xT, "xt"); WindowEmit.Hoist(e, wT, "wt");
                WindowEmit.Dot(e, acc, t, x, WindowEmit.Sum(xT), inPlane, wt, WindowEmit.Sum(wT), kSize, "0", WindowEmit.I(geo.ICg), geo.ICg);
            }
            else
            {
                inner += WindowEmit.OpenInputChannels(e, geo.ICg, inPlane, kSize, xT, wT);
                inner += WindowEmit.OpenTaps(e, g, last, dims, xT, wT);
                WindowEmit.Hoist(e, xT, "xt"); WindowEmit.Hoist(e, wT, "wt");
                var d = dims[last];
                bool full = d.Lo == "0" && d.Hi == WindowEmit.I(g.Kernel[last]);
                WindowEmit.Dot(e, acc, t, x, WindowEmit.Sum(xT), g.Dilations[last], wt, WindowEmit.Sum(wT), 1, d.Lo, d.Hi, full ? g.Kernel[last] : -1);
            }
            WindowEmit.Close(e, inner);
            w.Line($"{e.At(y, WindowEmit.Sum(yT))} = {(act == null ? acc : act.Expr(e, t, acc))};");
        }
        else
        {
            opened += WindowEmit.OpenOutputs(e, g, last, dims, xT, yT, outStr);
            int ow = g.Out[last], iw = g.In[last], kw = g.Kernel[last], dil = g.Dilations[last], pad = g.PadBegin[last];
            var yr = WindowEmit.Sum(yT);
            if (!WindowEmit.IsSimple(yr)) { yr = e.Var("yr"); w.Line($"int {yr} = {WindowEmit.Sum(yT)};"); }
            var col = e.Var("ow");
            w.Line($"for (int {col} = 0; {col} < {ow}; {col}++) {e.At(y, Idx.Sum(yr, col))} = {Start(Idx.Sum(yr, col))};");
            int inner = WindowEmit.OpenInputChannels(e, geo.ICg, inPlane, kSize, xT, wT);
            inner += WindowEmit.OpenTaps(e, g, last, dims, xT, wT);
            xT.Add(WindowEmit.I(-pad));
            var xr = e.Var("xr"); var wr = e.Var("wr");
            w.Line($"int {xr} = {WindowEmit.Sum(xT)};");
            w.Line($"int {wr} = {WindowEmit.Sum(wT)};");
            if (kw <= 4)
            {
                // taps of the last dimension unrolled: one loop over the columns every tap reaches, summing all taps
                // (one load and store of y per column), then each tap alone over the border columns only it reaches
                var los = new int[kw]; var his = new int[kw]; var wvs = new string[kw];
                int lMax = 0, hMin = ow;
                for (int k = 0; k < kw; k++)
                {
                    los[k] = System.Math.Max(0, pad - k * dil); his[k] = System.Math.Min(ow, iw + pad - k * dil);
                    if (los[k] >= his[k]) continue;
                    lMax = System.Math.Max(lMax, los[k]); hMin = System.Math.Min(hMin, his[k]);
                    wvs[k] = e.Var("w");
                    w.Line($"{ty} {wvs[k]} = {e.At(wt, Idx.Sum(wr, WindowEmit.I(k)))};");
                }
                string Tap(int k, string c) => $"{wvs[k]} * {e.At(x, Idx.Sum(xr, c, WindowEmit.I(k * dil)))}";
                void Run(int from, int to, System.Func<string, string> body)
                {
                    if (from >= to) return;
                    if (to - from == 1) w.Line($"{e.At(y, Idx.Sum(yr, WindowEmit.I(from)))} += {body(WindowEmit.I(from))};");
                    else w.Line($"for (int {col} = {from}; {col} < {to}; {col}++) {e.At(y, Idx.Sum(yr, col))} += {body(col)};");
                }
                var taps = Enumerable.Range(0, kw).Where(k => wvs[k] != null).ToList();
                if (lMax < hMin)
                {
                    Run(lMax, hMin, c => string.Join(" + ", taps.Select(k => Tap(k, c))));
                    foreach (var k in taps) { Run(los[k], lMax, c => Tap(k, c)); Run(hMin, his[k], c => Tap(k, c)); }
                }
                else foreach (var k in taps) Run(los[k], his[k], c => Tap(k, c));
            }
            else
            {
                var k = e.Var("kw");
                w.Open($"for (int {k} = 0; {k} < {kw}; {k}++)");
                string lo = "0", hi = WindowEmit.I(ow);
                var kd = Idx.Mul(k, dil);
                if (pad > 0)
                {
                    lo = e.Var("lo");
                    w.Line($"int {lo} = {kd} < {pad} ? {pad} - {(dil == 1 ? kd : "(" + kd + ")")} : 0;");
                }
                if (iw + pad - (kw - 1) * dil < ow)
                {
                    hi = e.Var("hi");
                    w.Line($"int {hi} = {kd} > {iw + pad - ow} ? {iw + pad} - {(dil == 1 ? kd : "(" + kd + ")")} : {ow};");
                }
                var wv = e.Var("w");
                w.Line($"{ty} {wv} = {e.At(wt, Idx.Sum(wr, k))};");
                w.Line($"for (int {col} = {lo}; {col} < {hi}; {col}++) {e.At(y, Idx.Sum(yr, col))} += {wv} * {e.At(x, Idx.Sum(xr, col, kd))};");
                w.Close();
            }
            WindowEmit.Close(e, inner);
            if (act != null)
            {
                var v = e.Var("v");
                w.Line($"for (int {col} = 0; {col} < {ow}; {col}++) {{ {ty} {v} = {e.At(y, Idx.Sum(yr, col))}; {e.At(y, Idx.Sum(yr, col))} = {act.Expr(e, t, v)}; }}");
            }
        }
        WindowEmit.Close(e, opened);
    }
}

/// <summary>
/// Resolved sliding-window geometry over the spatial dimensions (Conv and the pooling operators): kernel, strides,
/// dilations, begin/end pads (auto_pad resolved) and output sizes (ceil_mode applied).
/// </summary>
public sealed class Window
{
    public int Rank { get; private set; }
    public int[] In { get; private set; }
    public int[] Kernel { get; private set; }
    public int[] Strides { get; private set; }
    public int[] Dilations { get; private set; }
    public int[] PadBegin { get; private set; }
    public int[] PadEnd { get; private set; }
    public int[] Out { get; private set; }
    public string AutoPad { get; private set; }

    public int InPlane => Shape.Count(In);
    public int OutPlane => Shape.Count(Out);
    public int KernelSize => Shape.Count(Kernel);

    /// <summary>Input position of the first tap of output position <paramref name="o"/> along dim <paramref name="i"/>.</summary>
    public int First(int i, int o) => o * Strides[i] - PadBegin[i];

    /// <summary>True when some window starts before the input along dim i (taps must be clipped at the start).</summary>
    public bool NeedLo(int i) => PadBegin[i] > 0;

    /// <summary>True when some window ends past the input along dim i (taps must be clipped at the end).</summary>
    public bool NeedHi(int i) => First(i, Out[i] - 1) + (Kernel[i] - 1) * Dilations[i] >= In[i];

    /// <summary>True when some window ends past the end padding (only with ceil_mode).</summary>
    public bool NeedPadHi(int i) => First(i, Out[i] - 1) + (Kernel[i] - 1) * Dilations[i] >= In[i] + PadEnd[i];

    public bool NeedsClipping
    {
        get { for (int i = 0; i < Rank; i++) if (NeedLo(i) || NeedHi(i)) return true; return false; }
    }

    /// <summary>The valid taps [lo, hi) of output position o along dim i.</summary>
    public void Range(int i, int o, out int lo, out int hi)
    {
        int p = First(i, o), d = Dilations[i];
        lo = p < 0 ? (-p + d - 1) / d : 0;
        hi = p + (Kernel[i] - 1) * d >= In[i] ? (In[i] - p + d - 1) / d : Kernel[i];
        if (hi < lo) hi = lo;
    }

    /// <summary>Taps of output position o along dim i that lie inside the padded input (count_include_pad divisor).</summary>
    public int PaddedCount(int i, int o)
    {
        int p = First(i, o), d = Dilations[i];
        int hi = p + (Kernel[i] - 1) * d >= In[i] + PadEnd[i] ? (In[i] + PadEnd[i] - p + d - 1) / d : Kernel[i];
        int lo = p < -PadBegin[i] ? (-PadBegin[i] - p + d - 1) / d : 0;
        return Math.Max(0, hi - lo);
    }

    static CompileException Error(string m) => new(Diag.InvalidModel, m);

    static int[] IntsAttr(Node n, string name, int rank, int dflt, int min)
    {
        var v = n.Ints(name);
        var r = new int[rank];
        if (v == null || v.Length == 0) { for (int i = 0; i < rank; i++) r[i] = dflt; return r; }
        if (v.Length != rank) throw Error($"{n.OpType} attribute '{name}' has {v.Length} values, the input has {rank} spatial dimensions");
        for (int i = 0; i < rank; i++)
        {
            if (v[i] < min || v[i] > 1 << 24) throw Error($"{n.OpType} attribute '{name}' has the invalid value {v[i]}");
            r[i] = (int)v[i];
        }
        return r;
    }

    /// <summary>Reads kernel_shape (required unless <paramref name="fromWeights"/> gives it) and checks it against the weights.</summary>
    public static int[] KernelShape(Node n, int rank, int[] fromWeights)
    {
        var ks = n.Ints("kernel_shape");
        if (ks == null || ks.Length == 0)
        {
            if (fromWeights == null) throw Error($"{n.OpType} needs the attribute 'kernel_shape'");
            return fromWeights;
        }
        var k = IntsAttr(n, "kernel_shape", rank, 1, 1);
        if (fromWeights != null && !Shape.Equal(k, fromWeights))
            throw Error($"{n.OpType} kernel_shape {Shape.Format(k)} differs from the weights' spatial shape {Shape.Format(fromWeights)}");
        return k;
    }

    /// <summary>Resolves strides, dilations, pads/auto_pad and output sizes for one node.</summary>
    public static Window Resolve(Node n, int[] inSpatial, int[] kernel, bool ceilMode, bool dilationsAllowed)
    {
        int r = inSpatial.Length;
        var g = new Window { Rank = r, In = inSpatial, Kernel = kernel };
        g.Strides = IntsAttr(n, "strides", r, 1, 1);
        g.Dilations = IntsAttr(n, "dilations", r, 1, 1);
        if (!dilationsAllowed)
            foreach (var d in g.Dilations)
                if (d != 1) throw new CompileException(Diag.UnsupportedAttribute, $"{n.OpType} opset {n.Opset} has no 'dilations' attribute (dilations need a newer opset)");
        g.PadBegin = new int[r]; g.PadEnd = new int[r]; g.Out = new int[r];
        var autoPad = n.Str("auto_pad", "NOTSET");
        if (string.IsNullOrEmpty(autoPad)) autoPad = "NOTSET";
        g.AutoPad = autoPad;
        switch (autoPad)
        {
            case "NOTSET":
            {
                var pads = n.Ints("pads");
                if (pads != null && pads.Length > 0)
                {
                    if (pads.Length != 2 * r) throw Error($"{n.OpType} attribute 'pads' has {pads.Length} values, expected {2 * r} (begin and end per spatial dimension)");
                    for (int i = 0; i < 2 * r; i++)
                        if (pads[i] < 0 || pads[i] > 1 << 24) throw Error($"{n.OpType} attribute 'pads' has the invalid value {pads[i]}");
                    for (int i = 0; i < r; i++) { g.PadBegin[i] = (int)pads[i]; g.PadEnd[i] = (int)pads[r + i]; }
                }
                for (int i = 0; i < r; i++)
                {
                    long num = (long)g.In[i] + g.PadBegin[i] + g.PadEnd[i] - ((long)(g.Kernel[i] - 1) * g.Dilations[i] + 1);
                    if (num < 0) throw Error($"{n.OpType} window of {g.Kernel[i]} taps (dilation {g.Dilations[i]}) is larger than the padded input ({g.In[i]} + {g.PadBegin[i] + g.PadEnd[i]}) along spatial dimension {i}");
                    long o = ceilMode ? (num + g.Strides[i] - 1) / g.Strides[i] + 1 : num / g.Strides[i] + 1;
                    // ceil_mode: a window that would start in the end padding is dropped
                    if (ceilMode && (o - 1) * g.Strides[i] >= (long)g.In[i] + g.PadBegin[i]) o--;
                    g.Out[i] = (int)o;
                }
                break;
            }
            case "VALID":
                for (int i = 0; i < r; i++)
                {
                    long num = (long)g.In[i] - ((long)(g.Kernel[i] - 1) * g.Dilations[i] + 1);
                    if (num < 0) throw Error($"{n.OpType} window of {g.Kernel[i]} taps (dilation {g.Dilations[i]}) is larger than the input ({g.In[i]}) along spatial dimension {i} (auto_pad VALID)");
                    long o = ceilMode ? (num + g.Strides[i] - 1) / g.Strides[i] + 1 : num / g.Strides[i] + 1;
                    if (ceilMode && (o - 1) * g.Strides[i] >= g.In[i]) o--;
                    g.Out[i] = (int)o;
                }
                break;
            case "SAME_UPPER":
            case "SAME_LOWER":
                for (int i = 0; i < r; i++)
                {
                    int o = (g.In[i] + g.Strides[i] - 1) / g.Strides[i];
                    int need = Math.Max(0, (o - 1) * g.Strides[i] + (g.Kernel[i] - 1) * g.Dilations[i] + 1 - g.In[i]);
                    // SAME_UPPER puts the odd pad at the end, SAME_LOWER at the beginning
                    g.PadBegin[i] = autoPad == "SAME_UPPER" ? need / 2 : (need + 1) / 2;
                    g.PadEnd[i] = need - g.PadBegin[i];
                    g.Out[i] = o;
                }
                break;
            default:
                throw Error($"{n.OpType} has the unknown auto_pad value '{autoPad}' (NOTSET, SAME_UPPER, SAME_LOWER or VALID)");
        }
        return g;
    }

    /// <summary>
    /// The same windows with trailing dimensions that every window covers exactly (kernel 1, stride 1, no pads) merged
    /// into the dimension before them when that one has stride 1: the merged output runs are contiguous in the input too,
    /// so emitted inner loops get longer. In-plane offsets, the kernel layout and the output layout are unchanged.
    /// </summary>
    public Window Collapsed()
    {
        var g = this;
        while (g.Rank >= 2)
        {
            int l = g.Rank - 1, p = l - 1;
            if (!(g.Kernel[l] == 1 && g.Strides[l] == 1 && g.PadBegin[l] == 0 && g.PadEnd[l] == 0 && g.In[l] == g.Out[l] && g.Strides[p] == 1)) break;
            int wd = g.In[l];
            int[] Drop(int[] a, int v) { var r = new int[l]; Array.Copy(a, r, l); r[p] = v; return r; }
            g = new Window
            {
                Rank = l, AutoPad = g.AutoPad,
                In = Drop(g.In, g.In[p] * wd), Out = Drop(g.Out, g.Out[p] * wd), Kernel = Drop(g.Kernel, g.Kernel[p]),
                Strides = Drop(g.Strides, 1), Dilations = Drop(g.Dilations, g.Dilations[p] * wd),
                PadBegin = Drop(g.PadBegin, g.PadBegin[p] * wd), PadEnd = Drop(g.PadEnd, g.PadEnd[p] * wd),
            };
        }
        return g;
    }

    /// <summary>Build-time iteration: for each output position (row-major), the first input position per dim.</summary>
    public void ForEachOutput(Action<int, int[]> body)
    {
        var pos = new int[Rank];
        var first = new int[Rank];
        for (int o = 0; o < OutPlane; o++)
        {
            int rem = o;
            for (int i = Rank - 1; i >= 0; i--) { pos[i] = rem % Out[i]; rem /= Out[i]; first[i] = First(i, pos[i]); }
            body(o, pos);
        }
    }

    /// <summary>
    /// Build-time integer convolution at one output position (the reference of QLinearConv, ConvInteger and QConvInt8):
    /// acc + sum over <paramref name="channels"/> input channels and every tap inside the input of (x - zX) * (w - zW),
    /// wrapping as int32. Channel c's plane starts at xBase + c * InPlane, its weights at wBase + c * KernelSize.
    /// </summary>
    public int IntegerSum(TensorData x, int xBase, TensorData w, int wBase, int channels, int[] pos, long zX, long zW, int acc)
    {
        int kSize = KernelSize;
        for (int ic = 0; ic < channels; ic++)
        {
            int xb = xBase + ic * InPlane, wb = wBase + ic * kSize;
            for (int t = 0; t < kSize; t++)
            {
                int xi = 0; bool valid = true;
                for (int i = Rank - 1, rem = t, mulIn = 1; i >= 0 && valid; i--)
                {
                    int k = rem % Kernel[i]; rem /= Kernel[i];
                    int q = First(i, pos[i]) + k * Dilations[i];
                    valid = q >= 0 && q < In[i];
                    xi += q * mulIn; mulIn *= In[i];
                }
                if (valid) acc = unchecked(acc + (int)(x.L[xb + xi] - zX) * (int)(w.L[wb + t] - zW));
            }
        }
        return acc;
    }
}

/// <summary>Names of one spatial dimension while window loops are being written.</summary>
internal sealed class WinDim
{
    /// <summary>Output position (loop variable, or "0").</summary>
    public string O;
    /// <summary>First tap's input position: a local when declared, else a parenthesised expression.</summary>
    public string P;
    /// <summary>Valid tap range [Lo, Hi) (locals or constants).</summary>
    public string Lo, Hi;
    /// <summary>Kernel tap (loop variable, or "0").</summary>
    public string K;
}

/// <summary>Writes the loops of a sliding window: output positions with hoisted valid tap ranges, then the taps.</summary>
internal static class WindowEmit
{
    /// <summary>
    /// Opens the loops over batch and output channels of a convolution (by group when grouped); returns how many
    /// loops it opened, and the batch, group and output-channel index expressions ("0" where a loop is not needed).
    /// </summary>
    public static int OpenChannelLoops(EmitContext e, int batch, int outChannels, int groups, int perGroup, out string bn, out string grp, out string m)
    {
        var w = e.W;
        int opened = 0;
        bn = "0";
        if (batch > 1) { bn = e.Var("b"); w.Open($"for (int {bn} = 0; {bn} < {batch}; {bn}++)"); opened++; }
        if (groups == 1) { grp = "0"; m = e.Var("m"); w.Open($"for (int {m} = 0; {m} < {outChannels}; {m}++)"); return opened + 1; }
        grp = e.Var("g");
        w.Open($"for (int {grp} = 0; {grp} < {groups}; {grp}++)");
        if (perGroup == 1) { m = grp; return opened + 1; }
        var oc = e.Var("oc");
        w.Open($"for (int {oc} = 0; {oc} < {perGroup}; {oc}++)");
        m = e.Var("m");
        w.Line($"int {m} = {Idx.Sum(Idx.Mul(grp, perGroup), oc)};");
        return opened + 2;
    }

    /// <summary>A literal int.</summary>
    public static string I(long v) => v.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// Opens the loop over a group's input channels (none for one channel) and adds the channel's offsets to the input
    /// and weight terms; returns how many loops it opened.
    /// </summary>
    public static int OpenInputChannels(EmitContext e, int icg, int inPlane, int kSize, List<string> xTerms, List<string> wTerms)
    {
        if (icg <= 1) return 0;
        Hoist(e, xTerms, "xo");
        var ic = e.Var("ic");
        e.W.Open($"for (int {ic} = 0; {ic} < {icg}; {ic}++)");
        xTerms.Add(Idx.Mul(ic, inPlane)); wTerms.Add(Idx.Mul(ic, kSize));
        return 1;
    }

    /// <summary>
    /// The integer convolutions' scalar body inside their channel loops: for each output position,
    /// acc = bias + sum over the group's input channels and the valid taps of (x - zx) * (w - zw), then
    /// <paramref name="store"/>(output element, acc) writes it. Shared by QLinearConv/ConvInteger and QConvInt8.
    /// </summary>
    public static void IntegerDot(EmitContext e, Window g, int channels, int outChannels, int icg, string bn, string grp, string m,
        Value x, Value wt, Value y, string bias, string zx, string zw, System.Action<string, string> store)
    {
        int inPlane = g.InPlane, outPlane = g.OutPlane, kSize = g.KernelSize;
        var xT = new List<string> { Mul(bn, (long)channels * inPlane), Mul(grp, (long)icg * inPlane) };
        var wT = new List<string> { Mul(m, (long)icg * kSize) };
        var yT = new List<string> { Mul(bn, (long)outChannels * outPlane), Mul(m, outPlane) };
        Hoist(e, xT, "xc");
        Hoist(e, wT, "wc");
        Hoist(e, yT, "yc");
        var dims = new WinDim[g.Rank];
        int opened = OpenOutputs(e, g, g.Rank, dims, xT, yT, Shape.Strides(g.Out));
        var acc = e.Var("acc");
        e.W.Line($"int {acc} = {bias};");
        int inner = OpenInputChannels(e, icg, inPlane, kSize, xT, wT);
        inner += OpenTaps(e, g, g.Rank, dims, xT, wT);
        e.W.Line($"{acc} += {Q.Minus(e.At(x, Sum(xT)), zx)} * {Q.Minus(e.At(wt, Sum(wT)), zw)};");
        Close(e, inner);
        store(e.At(y, Sum(yT)), acc);
        Close(e, opened);
    }

    /// <summary>
    /// Opens loops over the output positions of dims [0, count). Per dim, declares the first tap's input position and,
    /// when windows can cross the input border, the valid tap range [lo, hi) (computed once per output position).
    /// <paramref name="xTerms"/> and <paramref name="yTerms"/> receive the per-dim offsets (input: first tap; output).
    /// Returns the number of blocks opened.
    /// </summary>
    public static int OpenOutputs(EmitContext e, Window g, int count, WinDim[] dims, List<string> xTerms, List<string> yTerms, int[] yStrides, bool declareP = false)
    {
        var w = e.W;
        var inStr = Shape.Strides(g.In);
        int opened = 0;
        for (int i = 0; i < count; i++)
        {
            var d = dims[i] = new WinDim();
            if (g.Out[i] == 1) d.O = "0";
            else
            {
                d.O = e.Var("o");
                w.Open($"for (int {d.O} = 0; {d.O} < {g.Out[i]}; {d.O}++)");
                opened++;
            }
            bool lo = g.NeedLo(i), hi = g.NeedHi(i);
            string pExpr = Idx.Sum(Idx.Mul(d.O, g.Strides[i]), I(-g.PadBegin[i]));
            if (lo || hi || declareP)
            {
                d.P = e.Var("p");
                w.Line($"int {d.P} = {pExpr};");
            }
            else d.P = "(" + pExpr + ")";
            int dil = g.Dilations[i], k = g.Kernel[i];
            d.Lo = "0"; d.Hi = I(k);
            if (lo)
            {
                d.Lo = e.Var("lo");
                w.Line(dil == 1 ? $"int {d.Lo} = {d.P} < 0 ? -{d.P} : 0;" : $"int {d.Lo} = {d.P} < 0 ? ({I(dil - 1)} - {d.P}) / {I(dil)} : 0;");
            }
            if (hi)
            {
                d.Hi = e.Var("hi");
                int last = g.In[i] - 1 - (k - 1) * dil;
                w.Line(dil == 1 ? $"int {d.Hi} = {d.P} > {I(last)} ? {I(g.In[i])} - {d.P} : {I(k)};"
                    : $"int {d.Hi} = {d.P} > {I(last)} ? ({I(g.In[i] + dil - 1)} - {d.P}) / {I(dil)} : {I(k)};");
            }
            xTerms.Add(Mul(d.O, (long)g.Strides[i] * inStr[i]));
            xTerms.Add(I(-(long)g.PadBegin[i] * inStr[i]));
            yTerms.Add(Mul(d.O, yStrides[i]));
        }
        return opened;
    }

    /// <summary>
    /// Opens loops over the kernel taps of dims [0, count), clipped to the ranges of <paramref name="dims"/>.
    /// Adds each tap's offset to <paramref name="xTerms"/> (input) and <paramref name="wTerms"/> (weights, may be null);
    /// intermediate row offsets are hoisted into locals. Returns the number of blocks opened.
    /// </summary>
    public static int OpenTaps(EmitContext e, Window g, int count, WinDim[] dims, List<string> xTerms, List<string> wTerms, string ty = "int")
    {
        var w = e.W;
        var inStr = Shape.Strides(g.In);
        var kStr = Shape.Strides(g.Kernel);
        int opened = 0;
        for (int i = 0; i < count; i++)
        {
            var d = dims[i];
            bool loop = !(d.Lo == "0" && d.Hi == "1");
            if (!loop) d.K = "0";
            else
            {
                // hoist the offsets accumulated so far out of this loop
                Hoist(e, xTerms, "xk");
                if (wTerms != null) Hoist(e, wTerms, "wk");
                d.K = e.Var("k");
                w.Open($"for (int {d.K} = {d.Lo}; {d.K} < {d.Hi}; {d.K}++)");
                opened++;
            }
            xTerms.Add(Mul(d.K, (long)g.Dilations[i] * inStr[i]));
            wTerms?.Add(Mul(d.K, kStr[i]));
        }
        return opened;
    }

    /// <summary>Replaces an offset that is more than a bare local by a local holding it (hoisted out of the loop that follows).</summary>
    public static void Hoist(EmitContext e, List<string> terms, string hint)
    {
        var sum = Idx.Sum(terms.ToArray());
        if (IsSimple(sum)) return;
        var name = e.Var(hint);
        e.W.Line($"int {name} = {sum};");
        terms.Clear();
        terms.Add(name);
    }

    /// <summary>True for a constant or a bare identifier.</summary>
    public static bool IsSimple(string expr)
    {
        if (long.TryParse(expr, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out _)) return true;
        foreach (var ch in expr) if (!(char.IsLetterOrDigit(ch) || ch == '_')) return false;
        return true;
    }

    public static string Sum(List<string> terms) => Idx.Sum(terms.ToArray());

    /// <summary>Idx.Mul that drops a constant-zero variable.</summary>
    public static string Mul(string var, long factor) => var == "0" ? "" : Idx.Mul(var, factor);

    /// <summary>
    /// acc += sum over v in [lo, hi) of x[xb + v * xs] * w[wb + v * ws]. A constant trip count of 16 or more is unrolled
    /// by four into four partial sums (shorter dependency chains, a quarter of the loop overhead).
    /// </summary>
    public static void Dot(EmitContext e, string acc, DType t, Value x, string xb, long xs, Value wv, string wb, long ws, string lo, string hi, int trip)
    {
        var w = e.W;
        string X(string v, long u) => e.At(x, Idx.Sum(xb, Mul(v, xs), I(u * xs)));
        string Wt(string v, long u) => e.At(wv, Idx.Sum(wb, Mul(v, ws), I(u * ws)));
        if (lo == "0" && hi == "1") { w.Line($"{acc} += {X("0", 0)} * {Wt("0", 0)};"); return; }
        if (trip >= 16)
        {
            var ty = DTypes.CsName(t);
            var s = new string[4];
            for (int u = 0; u < 4; u++) s[u] = e.Var("s");
            var zero = EmitContext.Lit(t, 0);
            w.Line($"{ty} {s[0]} = {zero}, {s[1]} = {zero}, {s[2]} = {zero}, {s[3]} = {zero};");
            var k = e.Var("k");
            int t4 = trip / 4 * 4;
            w.Open($"for (int {k} = 0; {k} < {t4}; {k} += 4)");
            for (int u = 0; u < 4; u++) w.Line($"{s[u]} += {X(k, u)} * {Wt(k, u)};");
            w.Close();
            for (int u = t4; u < trip; u++) w.Line($"{s[u % 4]} += {X("0", u)} * {Wt("0", u)};");
            w.Line($"{acc} += {s[0]} + {s[1]} + ({s[2]} + {s[3]});");
            return;
        }
        var v = e.Var("k");
        w.Line($"for (int {v} = {lo}; {v} < {hi}; {v}++) {acc} += {X(v, 0)} * {Wt(v, 0)};");
    }

    public static void Close(EmitContext e, int count) { for (int i = 0; i < count; i++) e.W.Close(); }

    /// <summary>Math on float or double for both profiles (Portable double uses the emitted double helpers).</summary>
    public static string Math(EmitContext e, string fn, DType t, params string[] args) => e.Math(fn, t, args);
}
