using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Quant;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// ai.modelgen QConvInt8: the integer convolution a QDQ Conv lowers to (<see cref="Passes.QdqConvGemmLowering"/>).
/// Inputs x (int8/uint8 [N, C, spatial...]), w (constant int8 [M, C/group, k...], zero point folded out), bias,
/// multiplier, shift (int32 [M]); Conv's geometry attributes plus x_zero_point, y_zero_point, qmin, qmax, to (output
/// type). y = clamp(MultiplyByQuantizedMultiplier(bias + sum (x - x_zp) * w) + y_zp, qmin, qmax), as
/// <see cref="FixedPoint"/> defines; padded taps contribute 0. Net profile, 1-D and 2-D: ModelGen.Runtime.QConv
/// (SIMD, bit-exact; depthwise convolutions through its direct kernel; 1x1 on small planes through
/// ModelGen.Runtime.QPointwise, output channels in the lanes; other convolutions of small output planes through
/// ModelGen.Runtime.QConvRows, the same kernel over im2col rows) with the int8 weights packed here, at build
/// time, in the order its micro-kernels stream them; otherwise scalar loops.
/// </summary>
public sealed class QConvInt8 : Operator
{
    public const string OpType = "QConvInt8";

    sealed class Geo
    {
        public Window W;
        public int N, C, M, Group, ICg, OCg;
        public Int8Params P;
        public Value Packed;
        public bool Depthwise => Group == C && M == C;
        /// <summary>ModelGen.Runtime.QPointwise: output channels in the lanes (<see cref="UsesLanes"/>, or a 1x1 layer of a channels-last chain).</summary>
        public bool Lanes;
        /// <summary>ModelGen.Runtime.QConvRows: im2col rows, output channels in the lanes (<see cref="UsesRows"/>).</summary>
        public bool Rows;
        /// <summary>x / y channels last ([N, H, W, C] bytes: <see cref="Passes.Int8ChannelsLast"/>'s attributes mg_nhwc_in / mg_nhwc_out).</summary>
        public bool NhwcIn, NhwcOut;
        public bool Pointwise => W.Rank <= 2 && W.Kernel.All(k => k == 1) && W.Strides.All(v => v == 1) && W.PadBegin.All(v => v == 0) && W.PadEnd.All(v => v == 0)
            && Group == 1;
        /// <summary>The 2-D view of a 1-D window (height 1).</summary>
        public int D(int[] a, int i, int one) => W.Rank == 2 ? a[i] : i == 0 ? one : a[0];
        public int KH => D(W.Kernel, 0, 1);
        public int KW => D(W.Kernel, 1, 1);
    }

    /// <summary>Output channels per block of the Net kernel's packed weights (ModelGen.Runtime.QConv.BlockRows).</summary>
    const int BlockRows = 4;

    /// <summary>ModelGen.Runtime.QPointwise.ColumnMultiple.</summary>
    const int LaneMultiple = 32;

    /// <summary>
    /// 1x1, stride 1, unpadded, one group, on a plane of at most 49 positions with 16 or more output channels: the
    /// positions would fill a third to half of the position-lane kernel's vectors with padding (3x3: 9 of 16), the
    /// channels fill these.
    /// </summary>
    static bool UsesLanes(Geo geo) => geo.Pointwise && geo.C >= 2 && geo.M >= 16 && geo.W.OutPlane <= 49;

    /// <summary>
    /// Any other convolution of one group, 2 or more input and 16 or more output channels, NCHW on both sides, on an
    /// output plane of at most 16 positions, or of at most 64 with 64 or more output channels: QConvRows. QConv.Conv2D's
    /// lanes hold positions of a padded plane, and a 2 x 2 output of a 3 x 3 kernel fills a quarter of a 512-bit vector;
    /// QConvRows' lanes hold output channels, padded to 32. The layout is fixed at build time, so the rule holds with
    /// and without a dot product (`experiment qrows`, Zen 5, time of QConv over QConvRows with vpdpbusd / on the pair
    /// kernels, DOTNET_EnableAVXVNNI=0): GoogLeNet's 2 x 2 layers 4.1-5.8 / 4.6-6.1, its 4 x 4 ones 1.7 / 2.6-2.9, 8 -> 16
    /// on 4 x 4 1.4 / 1.0; 64 or more output channels on 5 x 5 to 8 x 8 1.3-2.0 / 1.06-1.5; but 32 -> 32 and 48 -> 48 on
    /// 6 x 6 1.3-1.5 / 0.85-0.89, 8 x 8 of 16 or 32 channels 0.65-1.0 / 0.38-0.86, 16 x 16 outputs 0.6-0.7. Not 1x1
    /// kernels: a strided one runs in QConv.Conv2D as a 1x1 layer on its subsampled input (ResNet-8's 32 -> 64 shortcut
    /// onto 8 x 8: 2.9 us there, 6.1 as rows).
    /// </summary>
    static bool UsesRows(Geo geo) => geo.W.Rank <= 2 && !geo.Depthwise && !geo.Pointwise && geo.KH * geo.KW > 1 && geo.Group == 1 && geo.C >= 2 && geo.M >= 16
        && (geo.W.OutPlane <= 16 || geo.W.OutPlane <= 64 && geo.M >= 64) && !geo.NhwcIn && !geo.NhwcOut;

    /// <summary>
    /// Whether the Net kernel of this QConvInt8 node reads and writes channels last as well (a depthwise layer or a 1x1
    /// one, up to 2-D): <see cref="Passes.Int8ChannelsLast"/> keeps the tensors between such layers in that order.
    /// </summary>
    internal static bool ChannelsLastCapable(Node n)
        => n.OpType == OpType && n.Domain == FusedElementwise.Domain && n.State is Geo geo && UsesKernel(geo, TargetProfile.Net)
            && (geo.Depthwise || geo.Pointwise && (geo.W.OutPlane <= MaxChainPlane || FillsLanes(geo.M)));

    /// <summary>
    /// Output channels that fill at least three quarters of the lanes they take (QPointwise's passes of 32): past
    /// <see cref="MaxChainPlane"/> a 1x1 layer joins a chain only then. MobileNetV2's 8 -> 48 on 48 x 48 takes 1.16x
    /// the NCHW kernel's time with vpdpbusd (1.13x without) and saves the next depthwise layer its transposes (19.3 -> 11.1
    /// us; 19.1 -> 10.5 without); its 16 -> 8 took 1.37x (2.8x without vpdpbusd), more than it saved.
    /// </summary>
    static bool FillsLanes(int m) => 4 * m >= 3 * ((m + 31) / 32 * 32);

    /// <summary>
    /// The largest plane a 1x1 layer of a channels-last chain has: it runs the channel-lanes kernel, which on a CPU
    /// without a dot product (Zen 4, Ice Lake: the int16 pair tiles) takes 1.0-1.15x the NCHW kernel's time up to
    /// 24 x 24 positions and 1.35-1.45x on MobileNet's 8 -> 16 on 48 x 48 (`experiment qconv` with
    /// DOTNET_EnableAVXVNNI=0; with vpdpbusd it is faster on every plane). Whole MobileNet without the limit, its two
    /// generated sources alternated (`absource`): 0.967-0.973x with vpdpbusd, 1.004-1.012x without (its depthwise
    /// layers gain about what that 1x1 layer loses). The weight layout is chosen at build time, and arm64's sdot path
    /// is unmeasured.
    /// </summary>
    const int MaxChainPlane = 576;

    public override void Infer(Node n)
    {
        Require(n, 5, 6);
        var x = n.In(0); var w = n.In(1);
        if (w.Type != DType.Int8 || !w.IsConst) throw Error("QConvInt8 weights must be constant int8");
        if (x.Shape.Length < 3 || w.Shape.Length != x.Shape.Length) throw Error($"QConvInt8 input {Shape.Format(x.Shape)} and weights {Shape.Format(w.Shape)} do not agree");
        int c = x.Shape[1], m = w.Shape[0];
        long group = n.Int("group", 1);
        if (group < 1 || c % group != 0 || m % group != 0 || (long)w.Shape[1] * group != c) throw Error($"QConvInt8 group {group} does not fit {c} input and {m} output channels");
        var p = Int8Params.Read(n, x, m);
        int r = x.Shape.Length - 2;
        var kernel = Window.KernelShape(n, r, w.Shape.Skip(2).ToArray());
        var win = Window.Resolve(n, x.Shape.Skip(2).ToArray(), kernel, ceilMode: false, dilationsAllowed: true);
        var geo = new Geo { W = win, N = x.Shape[0], C = c, M = m, Group = (int)group, ICg = c / (int)group, OCg = m / (int)group, P = p };
        geo.NhwcIn = n.Int("mg_nhwc_in", 0) != 0;
        geo.NhwcOut = n.Int("mg_nhwc_out", 0) != 0;
        if ((geo.NhwcIn || geo.NhwcOut) && !(geo.Depthwise || geo.Pointwise)) throw Error("QConvInt8 runs channels last only as a depthwise or 1x1 convolution");
        // a 1x1 layer of a channels-last chain: the channel-lanes kernel at any plane (each position's channels are side by side)
        geo.Lanes = UsesLanes(geo) || !geo.Depthwise && geo.Pointwise && (geo.NhwcIn || geo.NhwcOut);
        geo.Rows = UsesRows(geo); // never with Lanes: those are 1x1 layers
        if (n.Inputs.Count == 5)
        {
            var packed = geo.Depthwise ? PackDepthwise(w.Const.L, c, geo.KH, geo.KW) : geo.Lanes ? PackLanes(w.Const.L, m, c)
                : geo.Rows ? PackRows(w.Const.L, m, c, geo.KH, geo.KW) : PackGemm(w.Const.L, m, geo.ICg, geo.KH, geo.KW, geo.Group);
            n.Inputs.Add(Q.Constant((n.Name ?? "qconv") + "_packed", new TensorData(DType.Int8, new[] { packed.Length }, l: packed)));
        }
        geo.Packed = n.In(5);
        n.State = geo;
        SetOut(n, 0, p.OutType, new[] { x.Shape[0], m }.Concat(win.Out).ToArray());
    }

    /// <summary>
    /// ModelGen.Runtime.QConv.Conv2D's weights: per group, per block of BlockRows output channels (0 past the group),
    /// per tap, per input channel pair (0 past the group's channels), the block's rows as int16 pairs. One input
    /// channel per group: per pair of kernel rows (0 past kh) and column instead of per tap and channel pair.
    /// </summary>
    internal static long[] PackGemm(long[] w, int m, int icg, int kh, int kw, int groups)
    {
        int ocg = m / groups, blocks = (ocg + BlockRows - 1) / BlockRows, pairs = (icg + 1) / 2, taps = kh * kw;
        bool rowPairs = icg == 1;
        int steps = rowPairs ? (kh + 1) / 2 * kw : taps;
        var p = new long[groups * blocks * steps * pairs * BlockRows * 2];
        int o = 0;
        for (int g = 0; g < groups; g++)
            for (int b = 0; b < blocks; b++)
                for (int t = 0; t < steps; t++)
                    for (int c2 = 0; c2 < pairs; c2++)
                        for (int r = 0; r < BlockRows; r++)
                            for (int e = 0; e < 2; e++, o++)
                            {
                                int oc = b * BlockRows + r, ic = rowPairs ? 0 : 2 * c2 + e, row = 2 * (t / kw) + e;
                                if (oc >= ocg || ic >= icg || rowPairs && row >= kh) continue;
                                p[o] = w[((g * ocg + oc) * icg + ic) * taps + (rowPairs ? row * kw + t % kw : t)];
                            }
        return p;
    }

    /// <summary>ModelGen.Runtime.QPointwise's weights: per input channel pair, per output channel (padded to LaneMultiple, 0 past m), the pair (0 past c).</summary>
    internal static long[] PackLanes(long[] w, int m, int c)
    {
        int pairs = (c + 1) / 2, mp = (m + LaneMultiple - 1) / LaneMultiple * LaneMultiple;
        var p = new long[pairs * mp * 2];
        for (int c2 = 0; c2 < pairs; c2++)
            for (int o = 0; o < m; o++)
                for (int e = 0; e < 2 && 2 * c2 + e < c; e++)
                    p[(c2 * mp + o) * 2 + e] = w[o * c + 2 * c2 + e];
        return p;
    }

    /// <summary>
    /// ModelGen.Runtime.QConvRows' weights: <see cref="PackLanes"/> over the reduction in its rows' order, per kernel row,
    /// per column, the input channels ([m, kh, kw, c] from ONNX's [m, c, kh, kw]), 0 up to a multiple of 4 (QConvRows.RowBytes).
    /// </summary>
    internal static long[] PackRows(long[] w, int m, int c, int kh, int kw)
    {
        int taps = kh * kw, k = RowBytes(c, kh, kw);
        var r = new long[(long)m * k];
        for (int o = 0; o < m; o++)
            for (int ic = 0; ic < c; ic++)
                for (int t = 0; t < taps; t++) r[(long)o * k + t * c + ic] = w[((long)o * c + ic) * taps + t];
        return PackLanes(r, m, k);
    }

    /// <summary>ModelGen.Runtime.QConvRows.RowBytes: kh x kw x c rounded up to 4.</summary>
    static int RowBytes(int c, int kh, int kw) => (kh * kw * c + 3) & ~3;

    /// <summary>
    /// ModelGen.Runtime.QConv.Depthwise2D's weights: per pair of kernel rows (0 past kH), per column, per channel, the
    /// pair (a block of channels' pairs of one tap consecutive: the kernel with channels in the lanes loads them whole).
    /// </summary>
    internal static long[] PackDepthwise(long[] w, int c, int kh, int kw)
    {
        int rowPairs = (kh + 1) / 2;
        var p = new long[c * rowPairs * kw * 2];
        int o = 0;
        for (int rp = 0; rp < rowPairs; rp++)
            for (int j = 0; j < kw; j++)
                for (int ch = 0; ch < c; ch++)
                    for (int e = 0; e < 2; e++, o++)
                        if (2 * rp + e < kh) p[o] = w[(ch * kh + 2 * rp + e) * kw + j];
        return p;
    }

    static bool UsesKernel(Geo geo, TargetProfile profile) => profile == TargetProfile.Net && geo.W.Rank <= 2 && ScratchSize(geo) <= int.MaxValue;

    /// <summary>
    /// The Net kernel this node calls (the runtime method's name, null where it takes the scalar loops) and the int16
    /// elements of scratch that kernel asks for: the runtime's QConvRows.Scratch, QPointwise.Scratch,
    /// QConv.DepthwiseScratch or QConv.Conv2DScratch, mirrored here (QConvScratchTests holds the two to each other).
    /// </summary>
    internal static (string Kernel, long Scratch) NetKernel(Node n)
    {
        var geo = (Geo)n.State;
        if (!UsesKernel(geo, TargetProfile.Net)) return (null, 0);
        return (geo.Rows ? "QConvRows.Run" : geo.Lanes ? "QPointwise.Run" : geo.Depthwise ? "QConv.Depthwise2D" : "QConv.Conv2D", ScratchSize(geo));
    }

    /// <summary>int16 elements of the kernel's scratch (<see cref="NetKernel"/>).</summary>
    static long ScratchSize(Geo geo)
    {
        var g = geo.W;
        // ModelGen.Runtime.QPointwise.Scratch: the pair plane of one image
        if (geo.Lanes) return 2L * ((geo.C + 1) / 2 * (long)g.OutPlane) + 32;
        if (geo.Rows)
        {
            // ModelGen.Runtime.QConvRows.Scratch: QPointwise's pair plane, the rows as bytes in its upper half, the
            // input channels last below them
            long rows = (long)g.OutPlane * RowBytes(geo.C, geo.KH, geo.KW), below = System.Math.Max(rows, (long)geo.C * g.InPlane);
            return (below + rows + 1) / 2 + 32;
        }
        bool rowPairs = geo.Depthwise || geo.ICg == 1; // pairs of kernel rows, not of channels
        int kh = rowPairs ? (geo.KH + 1) & ~1 : geo.KH, sH = geo.D(g.Strides, 0, 1), sW = geo.D(g.Strides, 1, 1);
        int outH = geo.D(g.Out, 0, 1), outW = geo.D(g.Out, 1, 1), dH = geo.D(g.Dilations, 0, 1), dW = geo.D(g.Dilations, 1, 1);
        long wq = outW + (geo.KW - 1) * dW / sW, rq = outH + (rowPairs ? kh - 2 : kh - 1) * dH / sH;
        long size = (long)sH * sW * rq * wq, slack = wq + 64, outStride = outH * wq + 64;
        // + 64: room to align the pair plane and the output rows to 64 bytes
        // depthwise: + its padded plane, (rq + dH + 1) * wq + 16, and room to align it
        if (geo.Depthwise) return 2 * (size + slack + 2 * (kh / 2 * geo.KW)) + (outStride + 1) / 2 + 64 + (rq + dH + 1) * wq + 16 + 32;
        // the output rows at the padded width only where there are padded columns (else the kernels write y directly)
        long own = 2 * ((geo.ICg + 1) / 2 * size + slack + (rowPairs ? kh / 2 : kh) * geo.KW) + (wq == outW ? 0 : (geo.OCg * outStride + 1) / 2) + 64;
        if (geo.KH != 1 || geo.KW != 1 || sH == 1 && sW == 1 || rowPairs) return own;
        // a strided 1x1 layer: the same layer at stride 1 over its subsampled input (no padded columns), and those bytes
        long plane = (long)outH * outW, pointwise = 2 * ((geo.ICg + 1) / 2 * plane + outW + 64 + 1) + 64;
        return System.Math.Max(own, pointwise + (geo.C * plane + 1) / 2);
    }

    public override (DType Type, int Elements) Scratch(Node n, TargetProfile profile)
    {
        var geo = (Geo)n.State;
        return UsesKernel(geo, profile) && geo.W.OutPlane > 0 ? (DType.Int16, (int)ScratchSize(geo)) : (DType.Float, 0);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var geo = (Geo)n.State; var g = geo.W; var p = geo.P;
        var x = inputs[0]; var w = inputs[1]; var b = inputs[2];
        var y = new TensorData(p.OutType, n.Out().Shape);
        int inPlane = g.InPlane, outPlane = g.OutPlane, kSize = g.KernelSize;
        for (int bn = 0; bn < geo.N; bn++)
            for (int m = 0; m < geo.M; m++)
            {
                int grp = m / geo.OCg;
                g.ForEachOutput((o, pos) =>
                {
                    int acc = g.IntegerSum(x, (bn * geo.C + grp * geo.ICg) * inPlane, w, m * geo.ICg * kSize, geo.ICg, pos, p.XZero, 0, (int)b.L[m]);
                    y.L[(bn * geo.M + m) * outPlane + o] = p.Requantize(acc, inputs[3], inputs[4], m);
                });
            }
        return new[] { y };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var geo = (Geo)n.State;
        if (geo.W.OutPlane == 0 || geo.N == 0 || geo.M == 0) return;
        if (UsesKernel(geo, e.Profile)) EmitNetKernel(n, e, geo);
        else if (geo.NhwcIn || geo.NhwcOut) throw Error("QConvInt8 runs channels last only through the Net kernels (Int8ChannelsLast runs for Net only)");
        else EmitLoops(n, e, geo);
    }

    static void EmitNetKernel(Node n, EmitContext e, Geo geo)
    {
        var g = geo.W;
        var x = n.In(0);
        string kernel = "ModelGen.Runtime." + NetKernel(n).Kernel;
        if (geo.Rows)
        {
            e.W.Line($"{kernel}({Int8Params.Bytes(e, x)}, {e.Span(geo.Packed)}, {e.Span(n.In(2))}, {e.Span(n.In(3))}, {e.Span(n.In(4))}, " +
                $"{Int8Params.Bytes(e, n.Out())}, {e.Span(e.Scratch(n))}, " +
                $"batch: {geo.N}, inC: {geo.C}, inH: {geo.D(g.In, 0, 1)}, inW: {geo.D(g.In, 1, 1)}, outC: {geo.M}, kH: {geo.KH}, kW: {geo.KW}, " +
                $"outH: {geo.D(g.Out, 0, 1)}, outW: {geo.D(g.Out, 1, 1)}, strideH: {geo.D(g.Strides, 0, 1)}, strideW: {geo.D(g.Strides, 1, 1)}, " +
                $"padTop: {geo.D(g.PadBegin, 0, 0)}, padLeft: {geo.D(g.PadBegin, 1, 0)}, dilH: {geo.D(g.Dilations, 0, 1)}, dilW: {geo.D(g.Dilations, 1, 1)}, " +
                $"{geo.P.Common(x)});");
            return;
        }
        if (geo.Lanes)
        {
            e.W.Line($"{kernel}({Int8Params.Bytes(e, x)}, {e.Span(geo.Packed)}, {e.Span(n.In(2))}, {e.Span(n.In(3))}, {e.Span(n.In(4))}, " +
                $"{Int8Params.Bytes(e, n.Out())}, {e.Span(e.Scratch(n))}, batch: {geo.N}, inC: {geo.C}, outC: {geo.M}, plane: {g.OutPlane}, {geo.P.Common(x)}{Layout(geo)});");
            return;
        }
        string channels = geo.Depthwise ? $"channels: {geo.C}" : $"inC: {geo.C}";
        string outC = geo.Depthwise ? "" : $"outC: {geo.M}, ", groups = geo.Depthwise ? "" : $"groups: {geo.Group}, ";
        e.W.Line($"{kernel}({Int8Params.Bytes(e, x)}, {e.Span(geo.Packed)}, {e.Span(n.In(2))}, {e.Span(n.In(3))}, {e.Span(n.In(4))}, " +
            $"{Int8Params.Bytes(e, n.Out())}, {e.Span(e.Scratch(n))}, " +
            $"batch: {geo.N}, {channels}, inH: {geo.D(g.In, 0, 1)}, inW: {geo.D(g.In, 1, 1)}, {outC}kH: {geo.KH}, kW: {geo.KW}, " +
            $"outH: {geo.D(g.Out, 0, 1)}, outW: {geo.D(g.Out, 1, 1)}, strideH: {geo.D(g.Strides, 0, 1)}, strideW: {geo.D(g.Strides, 1, 1)}, " +
            $"padTop: {geo.D(g.PadBegin, 0, 0)}, padLeft: {geo.D(g.PadBegin, 1, 0)}, dilH: {geo.D(g.Dilations, 0, 1)}, dilW: {geo.D(g.Dilations, 1, 1)}, {groups}" +
            $"{geo.P.Common(x)}{Layout(geo)});");
    }

    /// <summary>The runtime calls' channels-last arguments, where a side is (nothing for NCHW on both).</summary>
    static string Layout(Geo geo) => geo.NhwcIn || geo.NhwcOut ? $", nhwcIn: {(geo.NhwcIn ? "true" : "false")}, nhwcOut: {(geo.NhwcOut ? "true" : "false")}" : "";

    /// <summary>Scalar loops (Portable profile; Net beyond 2-D): per output channel, per output position, over the valid taps.</summary>
    static void EmitLoops(Node n, EmitContext e, Geo geo)
    {
        var p = geo.P;
        int opened = WindowEmit.OpenChannelLoops(e, geo.N, geo.M, geo.Group, geo.OCg, out var bn, out var grp, out var m);
        string bias = e.Var("bias"), mul = e.Var("mul"), sh = e.Var("shift");
        e.W.Line($"int {bias} = {e.At(n.In(2), m)}, {mul} = {e.At(n.In(3), m)}, {sh} = {e.At(n.In(4), m)};");
        // the lowering subtracted the weights' zero point at build time
        WindowEmit.IntegerDot(e, geo.W, geo.C, geo.M, geo.ICg, bn, grp, m, n.In(0), n.In(1), n.Out(), bias, WindowEmit.I(p.XZero), "0",
            (target, acc) => p.EmitStore(e, target, acc, mul, sh));
        WindowEmit.Close(e, opened);
    }
}
