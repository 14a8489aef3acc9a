using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

/// <summary>
/// Dense convolutions with a spatial kernel, vectorised over output channels: the layout ONNX Runtime's NCHWc kernels
/// use, without converting the activations. The weights come packed at build time into panels of <see cref="Width"/>
/// output channels, tap-major ([panel][icg*kH*kW][16], zero past the group's channels: <see cref="Pack"/>), so a tap's
/// weights for up to 48 output channels are up to 3 vector loads. The input band is staged zero-padded (every tap a
/// constant offset), and a register tile of up to 3 channel vectors x up to 8 consecutive output pixels of one row
/// broadcasts one input value per pixel per tap (stride 2: every other value of the staged row). Unlike the
/// pixel-vectorised <see cref="ConvPlanes"/>, no lane computes a padding column or a rounded-up tail: on small planes
/// (ResNet-8's 8x8 and 16x16 layers, a fifth of its lanes wasted there) and stride 2 it keeps the FMAs busy. The
/// tiles' sums ([pixel][channel]) go into the NCHW output as 8 x 8 blocks transposed in registers (plus the residual),
/// then the activation runs over the band's rows. Where stride 1 along W leaves rows of whole vectors (ResNet-8's
/// 32x32 and 16x16 layers with AVX-512), nothing is wasted with the pixels in the lanes either: tiles of 8 channels
/// (weights broadcast from the same panels) x 3 vectors of pixels store straight into NCHW, no transposition (which
/// cost up to 7% of the 16-channel 32x32 layer); stems (few input channels, short tap loops) take them at stride 2
/// too. Other stems, where the transposition weighs more than the lanes it saves, the generator leaves unpacked
/// (ModelGen.Compiler.Passes.ConvWeightPanels). Rows narrower than a tile's 8 pixels (or ending in a short tile) take
/// tiles wrapping across rows, of sizes as even as their count allows. Where y is channel-blocked
/// (<see cref="ConvBlocked.Dense"/>), a tile stores its sums into the blocks themselves, a pixel's channels one vector,
/// with a ReLU or clip in registers; blocked input is staged as blocks, a row of a block one run of vectors.
/// </summary>
internal static unsafe class ConvPanels
{
    /// <summary>Output channels per packed panel (one AVX-512 vector; two AVX, four SSE).</summary>
    internal const int Width = 16;
    // ModelGen.Compiler.Passes.ConvWeightPanels.Fits mirrors these limits: where it packs, W is left out
    const int StageFloats = 20480;  // staged band of every input channel of the group (80 KiB), as ConvPlanes
    const int MaxTaps = 4608;       // offset table on the stack (18 KiB): 512 input channels of 3x3
    const int MaxChannels = 4096;   // a group's output channels (bias padded to whole vectors on the stack)
    const int PartFloats = 8192;    // partial sums of a group of rows for one channel tile (32 KiB)

    /// <summary>Lets stride-1 rows of whole vectors take the pixel-vectorised tiles (a switch for A/B measurements).</summary>
    internal static bool RowTiles = true;

    /// <summary>Lets tiles wrap across rows of a width that is not a multiple of 8 (a switch for A/B measurements).</summary>
    internal static bool WrapRows = true;

    /// <summary>Floats of <see cref="Pack"/>'s layout for these weights.</summary>
    internal static long PackedLength(int outC, int groups, int taps) => (long)groups * ((outC / groups + Width - 1) / Width) * Width * taps;

    /// <summary>
    /// Packs w [outC, icg, kH, kW] (taps = icg*kH*kW) per group into panels of 16 output channels, tap-major:
    /// panels[((g*blocks + b)*taps + t)*16 + i] = w[g*ocg + b*16 + i, t], 0 where b*16 + i is past the group.
    /// (The generator writes the same layout at build time: ModelGen.Compiler.Passes.ConvWeightPanels.Pack.)
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Pack(ReadOnlySpan<float> w, Span<float> panels, int outC, int groups, int taps)
    {
        int ocg = outC / groups, blocks = (ocg + Width - 1) / Width;
        panels.Slice(0, (int)PackedLength(outC, groups, taps)).Clear();
        for (int g = 0; g < groups; g++)
            for (int o = 0; o < ocg; o++)
            {
                int dst = ((g * blocks + o / Width) * taps) * Width + o % Width;
                for (int t = 0; t < taps; t++) panels[dst + t * Width] = w[(g * ocg + o) * taps + t];
            }
    }

    /// <summary>
    /// <see cref="TryRun{S, TV}"/> at this machine's vector width; false for scalar code. <paramref name="only"/>: the
    /// panels are the only copy of the weights, so the kernel runs wherever it can, not only where it is the fastest.
    /// </summary>
    internal static bool TryRun(float* x, float* panels, float* bias, float* y, int groups, int icg, int ocg, int inH, int inW,
        int kH, int kW, int outH, int outW, int sh, int sw, int pt, int pl, int dh, int dw, in Activation act, bool accumulate, bool only = false, bool blocked = false,
        bool xBlocked = false)
    {
        // 32 vector registers (AVX-512 encodings): tiles up to 24 accumulators; 16: up to 12
        bool wide = Avx512F.IsSupported;
        switch (SimdLevel.Bits)
        {
            case 512: return TryRun<V512, Vector512<float>>(x, panels, bias, y, groups, icg, ocg, inH, inW, kH, kW, outH, outW, sh, sw, pt, pl, dh, dw, act, accumulate, true, only, blocked, xBlocked);
            case 256: return TryRun<V256, Vector256<float>>(x, panels, bias, y, groups, icg, ocg, inH, inW, kH, kW, outH, outW, sh, sw, pt, pl, dh, dw, act, accumulate, wide, only, blocked, xBlocked);
            case 128: return TryRun<V128, Vector128<float>>(x, panels, bias, y, groups, icg, ocg, inH, inW, kH, kW, outH, outW, sh, sw, pt, pl, dh, dw, act, accumulate, false, only, blocked, xBlocked);
            default: return false;
        }
    }

    /// <summary>
    /// Plain loops over the panels, for where <see cref="TryRun"/> declines (no SIMD, or stack buffers too small) and
    /// the panels are the only copy of the weights: same arguments, y = act(conv + bias (+ y when accumulating)).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void RunScalar(float* x, float* panels, float* bias, float* y, int groups, int icg, int ocg, int inH, int inW,
        int kH, int kW, int outH, int outW, int sh, int sw, int pt, int pl, int dh, int dw, in Activation act, bool accumulate, bool blocked = false,
        bool xBlocked = false)
    {
        int taps = icg * kH * kW, blocks = (ocg + Width - 1) / Width, b16 = ConvBlocked.Block;
        for (int g = 0; g < groups; g++)
            for (int o = 0; o < ocg; o++)
            {
                float* wo = panels + ((nint)(g * blocks + o / Width) * taps) * Width + o % Width;
                float* yo = y + (nint)(g * ocg + o) * outH * outW;
                float b = bias == null ? 0f : bias[g * ocg + o];
                for (int oh = 0; oh < outH; oh++)
                    for (int ow = 0; ow < outW; ow++)
                    {
                        float s = accumulate ? yo[oh * outW + ow] + b : b;
                        for (int c = 0; c < icg; c++)
                        {
                            // x blocked (one group): channel c's element e at ((c / 16) * plane + e) * 16 + c % 16
                            float* xc = xBlocked ? x + (nint)(c / b16) * inH * inW * b16 + c % b16 : x + (nint)(g * icg + c) * inH * inW;
                            int step = xBlocked ? b16 : 1;
                            for (int i = 0; i < kH; i++)
                            {
                                int ih = oh * sh - pt + i * dh;
                                if ((uint)ih >= (uint)inH) continue;
                                for (int j = 0; j < kW; j++)
                                {
                                    int iw = ow * sw - pl + j * dw;
                                    if ((uint)iw < (uint)inW) s += xc[(nint)(ih * inW + iw) * step] * wo[((c * kH + i) * kW + j) * Width];
                                }
                            }
                        }
                        int p = oh * outW + ow;
                        if (blocked) y[((nint)(o / ConvBlocked.Block) * outH * outW + p) * ConvBlocked.Block + o % ConvBlocked.Block] = act.Apply(s);
                        else yo[p] = act.Apply(s);
                    }
            }
    }

    /// <summary>
    /// All groups: icg input planes per group at x, ocg output planes per group at y, packed weights, bias [groups*ocg]
    /// or null. Returns false (nothing written) where the stride along W is not 1 or 2, the taps do not fit the offset
    /// table, a band of a few output rows does not fit the stack buffer or an output row's sums the partial buffer, and
    /// for stride-1 stems with 16 vector registers. <paramref name="blocked"/>: y in ConvBlocked's layout (one group, no
    /// accumulation, ocg a multiple of 16; false otherwise).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static bool TryRun<S, TV>(float* x, float* panels, float* bias, float* y, int groups, int icg, int ocg, int inH, int inW,
        int kH, int kW, int outH, int outW, int sh, int sw, int pt, int pl, int dh, int dw, in Activation act, bool accumulate, bool wide, bool only, bool blocked,
        bool xBlocked)
        where S : struct, ISimd<TV> where TV : struct
    {
        if (blocked && (groups != 1 || accumulate || ocg % ConvBlocked.Block != 0)) return false;
        if (xBlocked && (groups != 1 || icg % ConvBlocked.Block != 0)) return false;
        int l = S.Lanes;
        int taps = icg * kH * kW, blocks = (ocg + Width - 1) / Width;
        // the tile: up to 3 channel vectors x 8 pixels (24 accumulators, 32 registers; measured on ResNet-8's layers as
        // fast as 4 x 6 and 1-2 x 8, and no row of 8 splits); 2 x 6 or 1 x 8 with 16 registers
        int maxV = wide ? 3 : 2, nv = (ocg + l - 1) / l;
        if (taps > MaxTaps || sw > 2 || ocg > MaxChannels || outW * Math.Min(maxV, nv) * l > PartFloats) return false;
        // stride-1 stems without the row tiles (16 registers): ConvPlanes measured 15-17% faster (ResNet-8's 3 -> 16,
        // openWakeWord's 1 -> 24 with AVX2)
        if (!wide && sw == 1 && icg < 8 && ocg < 32 && !only) return false;
        // the band's input rows as they are, zero-padded: a tile's pixels sw apart are broadcasts, which read a
        // strided row as cheaply as a contiguous one (no stride-phase planes, no de-interleaving copy)
        int wq = (outW - 1) * sw + (kW - 1) * dw + 1, spanH = (kH - 1) * dh + 1;
        int fit = ((StageFloats - Width) / icg) / wq - spanH;
        if (fit < 0) return false;
        int bo = Math.Min(outH, fit / sh + 1);
        // bands of fewer rows than the window spans would stage most rows more than once
        if (bo < Math.Min(outH, Math.Max(2, (spanH - 1) / sh))) return false;
        int chan = ((bo - 1) * sh + spanH) * wq;
        int* offs = stackalloc int[taps];
        ConvDirect.TapOffsets(offs, icg, kH, kW, 1, 1, dh, dw, wq, 0, chan);
        // blocked input stays blocked in the stage ([block][row][column][16]): a tap's offset counts 16 floats per column,
        // plus its block's place and its channel within the block
        int ps = 1;
        if (xBlocked)
        {
            ps = ConvBlocked.Block;
            for (int c = icg - 1, kk = kH * kW; c >= 0; c--)
                for (int t = 0; t < kk; t++) offs[c * kk + t] = offs[t] * ps + c / ps * chan * ps + c % ps;
        }
        float* stage = stackalloc float[StageFloats];
        float* bpad = stackalloc float[blocks * Width];
        float* part = stackalloc float[PartFloats];
        var geo = new ConvDirect.StageGeometry
        {
            InH = inH, InW = inW, Icg = icg, Rows = (bo - 1) * sh + spanH, Wq = wq, Chan = chan,
            Col = Math.Min(pl, wq), CopyLen = Math.Max(0, Math.Min(inW, wq - pl)),
        };
        int outPlane = outH * outW;
        // stride 1 along W on rows of whole vectors (32 registers): pixels in the lanes instead, the sums straight into
        // y with no transposition; stride 2 too with AVX-512 (a two-vector permute per input vector) for stems with few
        // input channels, whose short tap loops the transposition weighed on (MobileNet's 3 -> 8 stem 14% faster than
        // ConvPlanes; ResNet-8's 16 -> 32 layer 8% slower than the channel tiles)
        bool rowTiles = RowTiles && wide && outW % l == 0 && (sw == 1 || l == 16 && icg < 8) && !blocked;
        // rows that end in a short tile (openWakeWord's 96-channel layers on 14x4 and 10x2): tiles wrap across rows,
        // their pixels' places from a table. Row by row, a 2-pixel tile re-read its 48 channels' weights (from L2 on
        // these layers) for 6 FMAs a tap: 10x2 took 28.5 us against 14.6 wrapped
        bool wrap = WrapRows && outW % 8 != 0;
        int* pix = stackalloc int[8];
        bool direct = blocked && Epilogue.Of(act) is EpilogueKind.None or EpilogueKind.Relu or EpilogueKind.Clip;
        for (int g = 0; g < groups; g++)
        {
            new Span<float>(bpad, blocks * Width).Clear();
            if (bias != null) new ReadOnlySpan<float>(bias + g * ocg, ocg).CopyTo(new Span<float>(bpad, ocg));
            float* wg = panels + (nint)g * blocks * Width * taps;
            float* yg = y + (nint)g * ocg * outPlane;
            for (int oy0 = 0; oy0 < outH; oy0 += bo)
            {
                int rows = Math.Min(outH, oy0 + bo) - oy0;
                StageRows<S, TV>(x + (nint)g * icg * inH * inW, stage, oy0 * sh - pt, geo, xBlocked);
                if (rowTiles)
                {
                    Band<S, TV>(stage, sh * wq, sw, outW / l, rows * (outW / l), offs, taps, wg, bpad, yg + oy0 * outW, ocg, outPlane, accumulate, act);
                    if (act.Kind != ActivationKind.None && !act.InRegisters)
                        for (int o = 0; o < ocg; o++) act.Apply<S, TV>(yg + (nint)o * outPlane + oy0 * outW, rows * outW);
                    continue;
                }
                for (int v0 = 0; v0 < nv;)
                {
                    // the channel vectors left in tiles of as even a size as the fewest tiles allow (64 channels: 2 + 2,
                    // not 3 + 1, whose one-vector tile loads a weight vector and 8 inputs for 8 FMAs)
                    int left = nv - v0, vt = (left + (left + maxV - 1) / maxV - 1) / ((left + maxV - 1) / maxV);
                    int vl = vt * l, oc0 = v0 * l, m = Math.Min(vl, ocg - oc0);
                    int pmax = !wide && vt == 2 ? 6 : 8;
                    float* wa = Weights(wg, oc0, taps), wb = Weights(wg, oc0 + l, taps), wc = Weights(wg, oc0 + 2 * l, taps);
                    // the sums of a group of rows gather in part, then go to y as whole 8 x 8 blocks; blocked y takes
                    // them directly where the activation is a clamp
                    int rg = direct ? rows : Math.Max(1, PartFloats / (outW * vl));
                    var dest = direct ? Blocks(y, outPlane, oc0, l, act) : new Dest { O0 = part, O1 = part + l, O2 = part + 2 * l, Step = vl };
                    for (int r0 = 0; r0 < rows; r0 += rg)
                    {
                        int r1 = Math.Min(rows, r0 + rg), p0 = direct ? (oy0 + r0) * outW : 0;
                        // tiles of sizes as even as their count allows (25 pixels as 7 + 6 + 6 + 6, not 8 + 8 + 8 + 1: a
                        // one-pixel tile's few accumulators wait on the FMA latency and load a weight vector per FMA, and
                        // took 10% of a 64 -> 256 layer on 5x5 for 4% of its work); no division per tile
                        if (wrap && r1 - r0 > 1 || xBlocked)
                        {
                            // tiles in output order across the rows, each pixel at its staged place (row and column
                            // counted along, not divided out: two divisions a pixel cost a 3 -> 64 stem as much as its FMAs)
                            int place = r0 * sh * wq, col = 0, n = (r1 - r0) * outW, nt = (n + pmax - 1) / pmax, sq = n / nt, sr = n % nt;
                            for (int i0 = 0, k = 0; i0 < n; k++)
                            {
                                int pc = sq + (k < sr ? 1 : 0);
                                for (int j = 0; j < pc; j++)
                                {
                                    pix[j] = (place + col * sw) * ps;
                                    if (++col == outW) { col = 0; place += sh * wq; }
                                }
                                Tile<S, TV>(vt, pc, sw, stage, pix, offs, taps, wa, wb, wc, bpad + oc0, dest.At(p0 + i0));
                                i0 += pc;
                            }
                        }
                        else
                        {
                            int nt = (outW + pmax - 1) / pmax, sq = outW / nt, sr = outW % nt;
                            for (int r = r0; r < r1; r++)
                                for (int ox = 0, k = 0; ox < outW; k++)
                                {
                                    int pc = sq + (k < sr ? 1 : 0);
                                    Tile<S, TV>(vt, pc, sw, stage + (r * sh * wq + ox * sw), null, offs, taps, wa, wb, wc, bpad + oc0, dest.At(p0 + (r - r0) * outW + ox));
                                    ox += pc;
                                }
                        }
                        if (direct) continue;
                        if (blocked) StoreBlocks<S, TV>(part, y, outPlane, oc0, m, (oy0 + r0) * outW, (r1 - r0) * outW, vl, act);
                        else Scatter(part, yg + (nint)oc0 * outPlane + (oy0 + r0) * outW, outPlane, m, (r1 - r0) * outW, vl, accumulate, act);
                    }
                    // the activation belongs to the sum (residual included): clamps and ReLUs went with the scatter,
                    // the others run over the band's rows of each channel
                    if (act.Kind != ActivationKind.None && !act.InRegisters && !blocked)
                        for (int o = oc0; o < oc0 + m; o++) act.Apply<S, TV>(yg + (nint)o * outPlane + oy0 * outW, rows * outW);
                    v0 += vt;
                }
            }
        }
        if (blocked && act.Kind != ActivationKind.None && !act.InRegisters) act.Apply<S, TV>(y, ocg * outPlane);
        return true;
    }

    /// <summary>
    /// The sums of n pixels from pixel p0 ([pixel][channel], vl apart) of channels oc0 .. oc0 + m into a channel-blocked
    /// y (<see cref="ConvBlocked"/>: [channel / 16][pixel][16]), a vector at a time with the in-register activation: no
    /// transposition, the tile's rows are the blocks' rows.
    /// </summary>
    static void StoreBlocks<S, TV>(float* part, float* y, int outPlane, int oc0, int m, int p0, int n, int vl, in Activation act)
        where S : struct, ISimd<TV> where TV : struct
    {
        switch (Epilogue.Of(act))
        {
            case EpilogueKind.None: StoreBlocks<S, TV, NoEpilogue>(part, y, outPlane, oc0, m, p0, n, vl, act); break;
            case EpilogueKind.Relu: StoreBlocks<S, TV, ReluEpilogue>(part, y, outPlane, oc0, m, p0, n, vl, act); break;
            case EpilogueKind.Clip: StoreBlocks<S, TV, ClipEpilogue>(part, y, outPlane, oc0, m, p0, n, vl, act); break;
            case EpilogueKind.LeakyRelu: StoreBlocks<S, TV, LeakyReluEpilogue>(part, y, outPlane, oc0, m, p0, n, vl, act); break;
            default: StoreBlocks<S, TV, AnyEpilogue>(part, y, outPlane, oc0, m, p0, n, vl, act); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void StoreBlocks<S, TV, A>(float* part, float* y, int outPlane, int oc0, int m, int p0, int n, int vl, in Activation act)
        where S : struct, ISimd<TV> where TV : struct where A : struct, IEpilogue
    {
        int l = S.Lanes, b = ConvBlocked.Block;
        for (int c = 0; c < m; c += l)
        {
            int o = oc0 + c;
            float* d = y + ((nint)(o / b) * outPlane + p0) * b + o % b, s = part + c;
            for (int j = 0; j < n; j++) S.Store(d + j * b, A.Apply<S, TV>(S.Load(s + j * vl), act));
        }
    }

    /// <summary>
    /// The band's rows of every channel, each written once: the input row between its zero pad columns, rows outside
    /// the input zero (no clearing pass over the stage first). <paramref name="xBlocked"/>: x channel-blocked
    /// (<see cref="ConvBlocked"/>: [channel / 16][pixel][16], one group) and the stage too ([block][row][column][16]):
    /// a block's row is one run of 16-float columns, copied as whole vectors (a gather of each channel's row, 16 floats
    /// apart, took 10% of SqueezeNet's 16 -> 64 expand layer on 23x23).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void StageRows<S, TV>(float* xg, float* stage, int top, in ConvDirect.StageGeometry q, bool xBlocked)
        where S : struct, ISimd<TV> where TV : struct
    {
        int u = xBlocked ? ConvBlocked.Block : 1, plane = q.InH * q.InW * u, row = q.Wq * u, before = q.Col * u, after = (q.Col + q.CopyLen) * u;
        for (int c = 0; c < q.Icg / u; c++)
        {
            float* xc = xg + (nint)c * plane, d = stage + (nint)c * q.Chan * u;
            for (int i = 0; i < q.Rows; i++, d += row)
            {
                int iy = top + i;
                if ((uint)iy >= (uint)q.InH) { new Span<float>(d, row).Clear(); continue; }
                for (int t = 0; t < before; t++) d[t] = 0f;
                GemmCore.Copy<S, TV>(d + before, xc + (nint)iy * q.InW * u, q.CopyLen * u);
                for (int t = after; t < row; t++) d[t] = 0f;
            }
        }
    }

    /// <summary>
    /// Blocked y (<see cref="ConvBlocked"/>: [channel / 16][pixel][16]) as a tile's destination from pixel 0, channels
    /// oc0, oc0 + l and oc0 + 2l, with the clamp of a None, ReLU or Clip activation.
    /// </summary>
    static Dest Blocks(float* y, int outPlane, int oc0, int l, in Activation act)
    {
        const int b = ConvBlocked.Block;
        var d = new Dest { Step = b, Clamp = act.Kind != ActivationKind.None, Lo = act.Alpha, Hi = float.PositiveInfinity };
        if (act.Kind == ActivationKind.Relu) d.Lo = 0f;
        else if (act.Kind == ActivationKind.Clip) d.Hi = act.Beta;
        int c1 = oc0 + l, c2 = oc0 + 2 * l;
        d.O0 = y + (nint)(oc0 / b) * outPlane * b + oc0 % b;
        d.O1 = y + (nint)(c1 / b) * outPlane * b + c1 % b;
        d.O2 = y + (nint)(c2 / b) * outPlane * b + c2 % b;
        return d;
    }

    /// <summary>The packed weights of output channel oc (a multiple of the vector width) of a group, tap 0.</summary>
    static float* Weights(float* wg, int oc, int taps) => wg + (nint)(oc / Width) * taps * Width + oc % Width;

    /// <summary>
    /// The sums of n pixels ([pixel][channel], vl apart) into m output planes (plus the residual where accumulating,
    /// then the activation if it works in registers): 8 x 8 blocks
    /// transposed in registers, the channel and pixel tails one value at a time (scalar, the scatter cost as much as a
    /// sixth of an 8x8 layer).
    /// </summary>
    static void Scatter(float* part, float* y, int outPlane, int m, int n, int vl, bool accumulate, in Activation act)
    {
        switch (Epilogue.Of(act))
        {
            case EpilogueKind.None: Scatter<NoEpilogue>(part, y, outPlane, m, n, vl, accumulate, act); break;
            case EpilogueKind.Relu: Scatter<ReluEpilogue>(part, y, outPlane, m, n, vl, accumulate, act); break;
            case EpilogueKind.Clip: Scatter<ClipEpilogue>(part, y, outPlane, m, n, vl, accumulate, act); break;
            case EpilogueKind.LeakyRelu: Scatter<LeakyReluEpilogue>(part, y, outPlane, m, n, vl, accumulate, act); break;
            case EpilogueKind.HardSwish: Scatter<HardSwishEpilogue>(part, y, outPlane, m, n, vl, accumulate, act); break;
            case EpilogueKind.HardSigmoid: Scatter<HardSigmoidEpilogue>(part, y, outPlane, m, n, vl, accumulate, act); break;
            default: Scatter<AnyEpilogue>(part, y, outPlane, m, n, vl, accumulate, act); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Scatter<A>(float* part, float* y, int outPlane, int m, int n, int vl, bool accumulate, in Activation act) where A : struct, IEpilogue
    {
        int o = 0;
        if (Avx.IsSupported)
            for (; o + 8 <= m; o += 8)
            {
                float* d = y + (nint)o * outPlane;
                int j = 0;
                // a last partial block (DS-CNN's 125 pixels) shifted back over the one before: the same values stored again,
                // unless the stores add to y
                int end = !accumulate && n >= 8 && n % 8 != 0 ? n + 8 - n % 8 : n;
                for (; j + 8 <= end; j += 8)
                {
                    if (j > n - 8) j = n - 8;
                    GemmCore.Transpose8x8(part + j * vl + o, vl, out var c0, out var c1, out var c2, out var c3, out var c4, out var c5, out var c6, out var c7);
                    float* e = d + j;
                    if (accumulate)
                    {
                        c0 += Avx.LoadVector256(e); c1 += Avx.LoadVector256(e + outPlane); c2 += Avx.LoadVector256(e + 2 * outPlane); c3 += Avx.LoadVector256(e + 3 * outPlane);
                        c4 += Avx.LoadVector256(e + 4 * outPlane); c5 += Avx.LoadVector256(e + 5 * outPlane); c6 += Avx.LoadVector256(e + 6 * outPlane); c7 += Avx.LoadVector256(e + 7 * outPlane);
                    }
                    c0 = A.Apply<V256, Vector256<float>>(c0, act); c1 = A.Apply<V256, Vector256<float>>(c1, act); c2 = A.Apply<V256, Vector256<float>>(c2, act); c3 = A.Apply<V256, Vector256<float>>(c3, act);
                    c4 = A.Apply<V256, Vector256<float>>(c4, act); c5 = A.Apply<V256, Vector256<float>>(c5, act); c6 = A.Apply<V256, Vector256<float>>(c6, act); c7 = A.Apply<V256, Vector256<float>>(c7, act);
                    Avx.Store(e, c0); Avx.Store(e + outPlane, c1); Avx.Store(e + 2 * outPlane, c2); Avx.Store(e + 3 * outPlane, c3);
                    Avx.Store(e + 4 * outPlane, c4); Avx.Store(e + 5 * outPlane, c5); Avx.Store(e + 6 * outPlane, c6); Avx.Store(e + 7 * outPlane, c7);
                }
                if (j < n) Columns(part + o, d, outPlane, 8, j, n, vl, accumulate, act);
            }
        if (o < m) Columns(part + o, y + (nint)o * outPlane, outPlane, m - o, 0, n, vl, accumulate, act);
    }

    /// <summary>Pixels [j0, n) of m channels, one value at a time (<see cref="Scatter"/>'s tails).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Columns(float* part, float* y, int outPlane, int m, int j0, int n, int vl, bool accumulate, in Activation act)
    {
        bool fused = act.InRegisters;
        for (int o = 0; o < m; o++)
        {
            float* s = part + o;
            float* d = y + (nint)o * outPlane;
            for (int j = j0; j < n; j++)
            {
                float v = accumulate ? d[j] + s[j * vl] : s[j * vl];
                d[j] = fused ? act.Apply(v) : v;
            }
        }
    }

    /// <summary>
    /// A band's nvec output vectors (per of them to an output row, whose inputs start rq apart in the stage; stride 1
    /// along W) of every output channel, 8
    /// channels x 3 vectors at a time: per tap 3 vector loads of staged inputs and 8 weights broadcast from the
    /// panels feed 24 FMAs; the sums (plus the residual, then the in-register activation) go straight into y.
    /// </summary>
    static void Band<S, TV>(float* stage, int rq, int sw, int per, int nvec, int* offs, int taps, float* wg, float* bias, float* y,
        int ocg, int outPlane, bool accumulate, in Activation act)
        where S : struct, ISimd<TV> where TV : struct
    {
        switch (Epilogue.Of(act))
        {
            case EpilogueKind.None: Band<S, TV, NoEpilogue>(stage, rq, sw, per, nvec, offs, taps, wg, bias, y, ocg, outPlane, accumulate, act); break;
            case EpilogueKind.Relu: Band<S, TV, ReluEpilogue>(stage, rq, sw, per, nvec, offs, taps, wg, bias, y, ocg, outPlane, accumulate, act); break;
            case EpilogueKind.Clip: Band<S, TV, ClipEpilogue>(stage, rq, sw, per, nvec, offs, taps, wg, bias, y, ocg, outPlane, accumulate, act); break;
            case EpilogueKind.LeakyRelu: Band<S, TV, LeakyReluEpilogue>(stage, rq, sw, per, nvec, offs, taps, wg, bias, y, ocg, outPlane, accumulate, act); break;
            case EpilogueKind.HardSwish: Band<S, TV, HardSwishEpilogue>(stage, rq, sw, per, nvec, offs, taps, wg, bias, y, ocg, outPlane, accumulate, act); break;
            case EpilogueKind.HardSigmoid: Band<S, TV, HardSigmoidEpilogue>(stage, rq, sw, per, nvec, offs, taps, wg, bias, y, ocg, outPlane, accumulate, act); break;
            default: Band<S, TV, AnyEpilogue>(stage, rq, sw, per, nvec, offs, taps, wg, bias, y, ocg, outPlane, accumulate, act); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Band<S, TV, A>(float* stage, int rq, int sw, int per, int nvec, int* offs, int taps, float* wg, float* bias, float* y,
        int ocg, int outPlane, bool accumulate, in Activation act)
        where S : struct, ISimd<TV> where TV : struct where A : struct, IEpilogue
    {
        int l = S.Lanes;
        // the tile's sums pass through here: an epilogue after the tap loop (a call in it) would spill the accumulators
        float* sums = stackalloc float[8 * 3 * 16];
        for (int oc = 0; oc < ocg; oc += 8)
        {
            int mc = Math.Min(8, ocg - oc);
            float* w = Weights(wg, oc, taps), yo = y + (nint)oc * outPlane;
            for (int v = 0; v < nvec; v += 3)
            {
                int vt = Math.Min(3, nvec - v);
                float* s0 = stage + v / per * rq + v % per * l * sw;
                float* s1 = stage + (v + 1) / per * rq + (v + 1) % per * l * sw;
                float* s2 = stage + (v + 2) / per * rq + (v + 2) % per * l * sw;
                if (sw == 2)
                    switch (vt)
                    {
                        case 3: Band<S, TV, R2, R3>(mc, s0, s1, s2, offs, taps, w, bias + oc, sums); break;
                        case 2: Band<S, TV, R2, R2>(mc, s0, s1, s2, offs, taps, w, bias + oc, sums); break;
                        default: Band<S, TV, R2, R1>(mc, s0, s1, s2, offs, taps, w, bias + oc, sums); break;
                    }
                else
                    switch (vt)
                    {
                        case 3: Band<S, TV, R1, R3>(mc, s0, s1, s2, offs, taps, w, bias + oc, sums); break;
                        case 2: Band<S, TV, R1, R2>(mc, s0, s1, s2, offs, taps, w, bias + oc, sums); break;
                        default: Band<S, TV, R1, R1>(mc, s0, s1, s2, offs, taps, w, bias + oc, sums); break;
                    }
                // plus the residual, then the in-register activation, into y
                for (int c = 0; c < mc; c++)
                {
                    float* d = yo + (nint)c * outPlane + v * l, e = sums + c * 3 * l;
                    for (int i = 0; i < vt * l; i += l)
                    {
                        TV a = S.Load(e + i);
                        if (accumulate) a = S.Add(a, S.Load(d + i));
                        S.Store(d + i, A.Apply<S, TV>(a, act));
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Band<S, TV, X, V>(int mc, float* s0, float* s1, float* s2, int* offs, int taps, float* w, float* bias, float* sums)
        where S : struct, ISimd<TV> where TV : struct where X : struct, IRows where V : struct, IRows
    {
        switch (mc)
        {
            case 8: Band<S, TV, X, V, R8>(s0, s1, s2, offs, taps, w, bias, sums); break;
            case 7: Band<S, TV, X, V, R7>(s0, s1, s2, offs, taps, w, bias, sums); break;
            case 6: Band<S, TV, X, V, R6>(s0, s1, s2, offs, taps, w, bias, sums); break;
            case 5: Band<S, TV, X, V, R5>(s0, s1, s2, offs, taps, w, bias, sums); break;
            case 4: Band<S, TV, X, V, R4>(s0, s1, s2, offs, taps, w, bias, sums); break;
            case 3: Band<S, TV, X, V, R3>(s0, s1, s2, offs, taps, w, bias, sums); break;
            case 2: Band<S, TV, X, V, R2>(s0, s1, s2, offs, taps, w, bias, sums); break;
            default: Band<S, TV, X, V, R1>(s0, s1, s2, offs, taps, w, bias, sums); break;
        }
    }

    /// <summary>
    /// C.N output channels (weights 1 apart in the panel, 16 floats per tap) x V.N vectors of output pixels (inputs at
    /// s0..s2 + offs[t]) over all taps, from the bias; the sums into sums ([channel][3 vectors]).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static void Band<S, TV, X, V, C>(float* s0, float* s1, float* s2, int* offs, int taps, float* w, float* bias, float* sums)
        where S : struct, ISimd<TV> where TV : struct where X : struct, IRows where V : struct, IRows where C : struct, IRows
    {
        TV b0 = S.Splat(bias[0]), b1 = C.N > 1 ? S.Splat(bias[1]) : b0, b2 = C.N > 2 ? S.Splat(bias[2]) : b0, b3 = C.N > 3 ? S.Splat(bias[3]) : b0;
        TV b4 = C.N > 4 ? S.Splat(bias[4]) : b0, b5 = C.N > 5 ? S.Splat(bias[5]) : b0, b6 = C.N > 6 ? S.Splat(bias[6]) : b0, b7 = C.N > 7 ? S.Splat(bias[7]) : b0;
        TV a00 = b0, a01 = b0, a02 = b0, a10 = b1, a11 = b1, a12 = b1, a20 = b2, a21 = b2, a22 = b2, a30 = b3, a31 = b3, a32 = b3;
        TV a40 = b4, a41 = b4, a42 = b4, a50 = b5, a51 = b5, a52 = b5, a60 = b6, a61 = b6, a62 = b6, a70 = b7, a71 = b7, a72 = b7;
        for (int t = 0, k = 0; t < taps; t++, k += Width)
        {
            int o = offs[t];
            TV x0 = Load<S, TV, X>(s0 + o), x1 = V.N > 1 ? Load<S, TV, X>(s1 + o) : x0, x2 = V.N > 2 ? Load<S, TV, X>(s2 + o) : x0;
            float* wk = w + k;
            TV wv = S.Splat(wk[0]);
            a00 = S.Fma(wv, x0, a00); if (V.N > 1) a01 = S.Fma(wv, x1, a01); if (V.N > 2) a02 = S.Fma(wv, x2, a02);
            if (C.N > 1) { wv = S.Splat(wk[1]); a10 = S.Fma(wv, x0, a10); if (V.N > 1) a11 = S.Fma(wv, x1, a11); if (V.N > 2) a12 = S.Fma(wv, x2, a12); }
            if (C.N > 2) { wv = S.Splat(wk[2]); a20 = S.Fma(wv, x0, a20); if (V.N > 1) a21 = S.Fma(wv, x1, a21); if (V.N > 2) a22 = S.Fma(wv, x2, a22); }
            if (C.N > 3) { wv = S.Splat(wk[3]); a30 = S.Fma(wv, x0, a30); if (V.N > 1) a31 = S.Fma(wv, x1, a31); if (V.N > 2) a32 = S.Fma(wv, x2, a32); }
            if (C.N > 4) { wv = S.Splat(wk[4]); a40 = S.Fma(wv, x0, a40); if (V.N > 1) a41 = S.Fma(wv, x1, a41); if (V.N > 2) a42 = S.Fma(wv, x2, a42); }
            if (C.N > 5) { wv = S.Splat(wk[5]); a50 = S.Fma(wv, x0, a50); if (V.N > 1) a51 = S.Fma(wv, x1, a51); if (V.N > 2) a52 = S.Fma(wv, x2, a52); }
            if (C.N > 6) { wv = S.Splat(wk[6]); a60 = S.Fma(wv, x0, a60); if (V.N > 1) a61 = S.Fma(wv, x1, a61); if (V.N > 2) a62 = S.Fma(wv, x2, a62); }
            if (C.N > 7) { wv = S.Splat(wk[7]); a70 = S.Fma(wv, x0, a70); if (V.N > 1) a71 = S.Fma(wv, x1, a71); if (V.N > 2) a72 = S.Fma(wv, x2, a72); }
        }
        int l = S.Lanes, q = 3 * l;
        ConvPlanes.Put<S, TV, V>(sums, l, a00, a01, a02);
        if (C.N > 1) ConvPlanes.Put<S, TV, V>(sums + q, l, a10, a11, a12);
        if (C.N > 2) ConvPlanes.Put<S, TV, V>(sums + 2 * q, l, a20, a21, a22);
        if (C.N > 3) ConvPlanes.Put<S, TV, V>(sums + 3 * q, l, a30, a31, a32);
        if (C.N > 4) ConvPlanes.Put<S, TV, V>(sums + 4 * q, l, a40, a41, a42);
        if (C.N > 5) ConvPlanes.Put<S, TV, V>(sums + 5 * q, l, a50, a51, a52);
        if (C.N > 6) ConvPlanes.Put<S, TV, V>(sums + 6 * q, l, a60, a61, a62);
        if (C.N > 7) ConvPlanes.Put<S, TV, V>(sums + 7 * q, l, a70, a71, a72);
    }

    /// <summary>A vector of staged inputs X.N apart (stride 2: the even ones of two vectors, AVX-512 only; the stage
    /// keeps a vector's slack past the band for the last one).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static TV Load<S, TV, X>(float* p) where S : struct, ISimd<TV> where TV : struct where X : struct, IRows
    {
        if (X.N == 2 && typeof(TV) == typeof(Vector512<float>))
        {
            var v = Avx512F.PermuteVar16x32x2(Vector512.Load(p), Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), Vector512.Load(p + 16));
            return Unsafe.As<Vector512<float>, TV>(ref v);
        }
        return S.Load(p);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Tile<S, TV>(int vt, int pc, int sw, float* p, int* pix, int* offs, int taps, float* wa, float* wb, float* wc, float* bias, in Dest d)
        where S : struct, ISimd<TV> where TV : struct
    {
        if (pix != null) Tile<S, TV, Listed>(vt, pc, p, pix, offs, taps, wa, wb, wc, bias, d);
        else if (sw == 2) Tile<S, TV, R2>(vt, pc, p, null, offs, taps, wa, wb, wc, bias, d);
        else Tile<S, TV, R1>(vt, pc, p, null, offs, taps, wa, wb, wc, bias, d);
    }

    /// <summary>
    /// Where a tile's sums go: channel vector v's pixel j at O[v] + j * Step (the partial buffer, [pixel][channel]; or a
    /// channel-blocked y itself, Step 16), clamped to [Lo, Hi] first where Clamp (ReLU and Clip in registers: no second
    /// pass over the sums, which took 16% of a 3 -> 64 stem's time and 5% of a 16 -> 64 layer's).
    /// </summary>
    internal struct Dest
    {
        public float* O0, O1, O2;
        public int Step;
        public bool Clamp;
        public float Lo, Hi;

        /// <summary>The same destination i pixels on.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly Dest At(int i)
        {
            var d = this;
            nint o = (nint)i * Step;
            d.O0 += o; d.O1 += o; d.O2 += o;
            return d;
        }
    }

    /// <summary>A tile's pixels at the offsets of a table (a tile wrapping across output rows), not X.N apart.</summary>
    struct Listed : IRows { public static int N => 0; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Tile<S, TV, X>(int vt, int pc, float* p, int* pix, int* offs, int taps, float* wa, float* wb, float* wc, float* bias, in Dest d)
        where S : struct, ISimd<TV> where TV : struct where X : struct, IRows
    {
        switch (vt)
        {
            case 3: Tile<S, TV, X, R3>(pc, p, pix, offs, taps, wa, wb, wc, bias, d); break;
            case 2: Tile<S, TV, X, R2>(pc, p, pix, offs, taps, wa, wb, wc, bias, d); break;
            default: Tile<S, TV, X, R1>(pc, p, pix, offs, taps, wa, wb, wc, bias, d); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Tile<S, TV, X, V>(int pc, float* p, int* pix, int* offs, int taps, float* wa, float* wb, float* wc, float* bias, in Dest d)
        where S : struct, ISimd<TV> where TV : struct where X : struct, IRows where V : struct, IRows
    {
        switch (pc)
        {
            case 8: Tile<S, TV, X, V, R8>(p, pix, offs, taps, wa, wb, wc, bias, d); break;
            case 7: Tile<S, TV, X, V, R7>(p, pix, offs, taps, wa, wb, wc, bias, d); break;
            case 6: Tile<S, TV, X, V, R6>(p, pix, offs, taps, wa, wb, wc, bias, d); break;
            case 5: Tile<S, TV, X, V, R5>(p, pix, offs, taps, wa, wb, wc, bias, d); break;
            case 4: Tile<S, TV, X, V, R4>(p, pix, offs, taps, wa, wb, wc, bias, d); break;
            case 3: Tile<S, TV, X, V, R3>(p, pix, offs, taps, wa, wb, wc, bias, d); break;
            case 2: Tile<S, TV, X, V, R2>(p, pix, offs, taps, wa, wb, wc, bias, d); break;
            default: Tile<S, TV, X, V, R1>(p, pix, offs, taps, wa, wb, wc, bias, d); break;
        }
    }

    /// <summary>
    /// V.N channel vectors (weights at wa..wc, 16 floats per tap) x P.N output pixels (inputs at p + offs[t] + j * X.N,
    /// X.N the stride along W: consecutive pixels of a row; <see cref="Listed"/>: at p + offs[t] + pix[j]) over all
    /// taps, starting from the bias; the sums to <paramref name="d"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static void Tile<S, TV, X, V, P>(float* p, int* pix, int* offs, int taps, float* wa, float* wb, float* wc, float* bias, in Dest d)
        where S : struct, ISimd<TV> where TV : struct where X : struct, IRows where V : struct, IRows where P : struct, IRows
    {
        int l = S.Lanes;
        // constants (displacements) for a row's pixels; the table's offsets held in registers for a wrapped tile
        bool listed = X.N == 0;
        nint d0 = listed ? pix[0] : 0, d1 = listed && P.N > 1 ? pix[1] : X.N, d2 = listed && P.N > 2 ? pix[2] : 2 * X.N, d3 = listed && P.N > 3 ? pix[3] : 3 * X.N;
        nint d4 = listed && P.N > 4 ? pix[4] : 4 * X.N, d5 = listed && P.N > 5 ? pix[5] : 5 * X.N, d6 = listed && P.N > 6 ? pix[6] : 6 * X.N, d7 = listed && P.N > 7 ? pix[7] : 7 * X.N;
        TV b0 = S.Load(bias), b1 = V.N > 1 ? S.Load(bias + l) : b0, b2 = V.N > 2 ? S.Load(bias + 2 * l) : b0;
        TV a00 = b0, a01 = b0, a02 = b0, a03 = b0, a04 = b0, a05 = b0, a06 = b0, a07 = b0;
        TV a10 = b1, a11 = b1, a12 = b1, a13 = b1, a14 = b1, a15 = b1, a16 = b1, a17 = b1;
        TV a20 = b2, a21 = b2, a22 = b2, a23 = b2, a24 = b2, a25 = b2, a26 = b2, a27 = b2;
        for (int t = 0, k = 0; t < taps; t++, k += Width)
        {
            float* q = p + offs[t];
            TV w0 = S.Load(wa + k), w1 = V.N > 1 ? S.Load(wb + k) : w0, w2 = V.N > 2 ? S.Load(wc + k) : w0;
            { TV x = S.Splat(q[d0]); a00 = S.Fma(w0, x, a00); if (V.N > 1) a10 = S.Fma(w1, x, a10); if (V.N > 2) a20 = S.Fma(w2, x, a20); }
            if (P.N > 1) { TV x = S.Splat(q[d1]); a01 = S.Fma(w0, x, a01); if (V.N > 1) a11 = S.Fma(w1, x, a11); if (V.N > 2) a21 = S.Fma(w2, x, a21); }
            if (P.N > 2) { TV x = S.Splat(q[d2]); a02 = S.Fma(w0, x, a02); if (V.N > 1) a12 = S.Fma(w1, x, a12); if (V.N > 2) a22 = S.Fma(w2, x, a22); }
            if (P.N > 3) { TV x = S.Splat(q[d3]); a03 = S.Fma(w0, x, a03); if (V.N > 1) a13 = S.Fma(w1, x, a13); if (V.N > 2) a23 = S.Fma(w2, x, a23); }
            if (P.N > 4) { TV x = S.Splat(q[d4]); a04 = S.Fma(w0, x, a04); if (V.N > 1) a14 = S.Fma(w1, x, a14); if (V.N > 2) a24 = S.Fma(w2, x, a24); }
            if (P.N > 5) { TV x = S.Splat(q[d5]); a05 = S.Fma(w0, x, a05); if (V.N > 1) a15 = S.Fma(w1, x, a15); if (V.N > 2) a25 = S.Fma(w2, x, a25); }
            if (P.N > 6) { TV x = S.Splat(q[d6]); a06 = S.Fma(w0, x, a06); if (V.N > 1) a16 = S.Fma(w1, x, a16); if (V.N > 2) a26 = S.Fma(w2, x, a26); }
            if (P.N > 7) { TV x = S.Splat(q[d7]); a07 = S.Fma(w0, x, a07); if (V.N > 1) a17 = S.Fma(w1, x, a17); if (V.N > 2) a27 = S.Fma(w2, x, a27); }
        }
        if (d.Clamp)
        {
            TV lo = S.Splat(d.Lo), hi = S.Splat(d.Hi);
            a00 = S.MinNative(hi, S.MaxNative(lo, a00)); a01 = S.MinNative(hi, S.MaxNative(lo, a01)); a02 = S.MinNative(hi, S.MaxNative(lo, a02)); a03 = S.MinNative(hi, S.MaxNative(lo, a03));
            a04 = S.MinNative(hi, S.MaxNative(lo, a04)); a05 = S.MinNative(hi, S.MaxNative(lo, a05)); a06 = S.MinNative(hi, S.MaxNative(lo, a06)); a07 = S.MinNative(hi, S.MaxNative(lo, a07));
            a10 = S.MinNative(hi, S.MaxNative(lo, a10)); a11 = S.MinNative(hi, S.MaxNative(lo, a11)); a12 = S.MinNative(hi, S.MaxNative(lo, a12)); a13 = S.MinNative(hi, S.MaxNative(lo, a13));
            a14 = S.MinNative(hi, S.MaxNative(lo, a14)); a15 = S.MinNative(hi, S.MaxNative(lo, a15)); a16 = S.MinNative(hi, S.MaxNative(lo, a16)); a17 = S.MinNative(hi, S.MaxNative(lo, a17));
            a20 = S.MinNative(hi, S.MaxNative(lo, a20)); a21 = S.MinNative(hi, S.MaxNative(lo, a21)); a22 = S.MinNative(hi, S.MaxNative(lo, a22)); a23 = S.MinNative(hi, S.MaxNative(lo, a23));
            a24 = S.MinNative(hi, S.MaxNative(lo, a24)); a25 = S.MinNative(hi, S.MaxNative(lo, a25)); a26 = S.MinNative(hi, S.MaxNative(lo, a26)); a27 = S.MinNative(hi, S.MaxNative(lo, a27));
        }
        nint st = d.Step;
        { float* o = d.O0; S.Store(o, a00); if (P.N > 1) S.Store(o + 1 * st, a01); if (P.N > 2) S.Store(o + 2 * st, a02); if (P.N > 3) S.Store(o + 3 * st, a03); if (P.N > 4) S.Store(o + 4 * st, a04); if (P.N > 5) S.Store(o + 5 * st, a05); if (P.N > 6) S.Store(o + 6 * st, a06); if (P.N > 7) S.Store(o + 7 * st, a07); }
        if (V.N > 1) { float* o = d.O1; S.Store(o, a10); if (P.N > 1) S.Store(o + 1 * st, a11); if (P.N > 2) S.Store(o + 2 * st, a12); if (P.N > 3) S.Store(o + 3 * st, a13); if (P.N > 4) S.Store(o + 4 * st, a14); if (P.N > 5) S.Store(o + 5 * st, a15); if (P.N > 6) S.Store(o + 6 * st, a16); if (P.N > 7) S.Store(o + 7 * st, a17); }
        if (V.N > 2) { float* o = d.O2; S.Store(o, a20); if (P.N > 1) S.Store(o + 1 * st, a21); if (P.N > 2) S.Store(o + 2 * st, a22); if (P.N > 3) S.Store(o + 3 * st, a23); if (P.N > 4) S.Store(o + 4 * st, a24); if (P.N > 5) S.Store(o + 5 * st, a25); if (P.N > 6) S.Store(o + 6 * st, a26); if (P.N > 7) S.Store(o + 7 * st, a27); }
    }
}
