using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

/// <summary>
/// <see cref="QConv.Conv2D"/> on dot products (<see cref="IQDot"/>: sdot where the CPU has FEAT_DotProd, vpdpbusd where
/// it has AVX-VNNI), bit-exact with the pair kernels and ModelGen.Compiler.Quant.FixedPoint. The activations stay
/// bytes: a "quad plane" (the pair plane's geometry, <see cref="QConv.Planes"/>) holds four input channels per int32
/// element (one input channel: four kernel rows, dH apart), moved to the dot product's signedness by x ^ 0x80 where
/// it differs (the zero point with them, <see cref="QDot.Zero"/>), padding at the zero point, so that
/// sum (x - zx) * w = sum x * w - zx * sum w: the second term is a constant per output channel, taken from the bias
/// once per call. Blocks of <see cref="QConv.BlockRows"/> output channels outermost, each block's compiled-in weights
/// (pairs x 4 rows) reordered once into 4 rows x 4 channels per step (<see cref="Reorder{TD}"/>); tiles of the block x
/// 1-4 vectors of positions (4 per 128-bit vector, 8 per 256), per (tap, quad) step one dot product per accumulator
/// with the row's quad broadcast or selected (16 or 32 multiply-adds; the pair kernels' vpmaddwd + vpaddd do 8 or 16
/// per two instructions); the int32 sums of a chunk of positions on the stack, then requantized row by row. Same
/// scratch as the pair path: the quad plane is at most the pair plane's size.
/// </summary>
internal static unsafe class QDotConv
{
    /// <summary>(tap, channel quad) steps up to which a block's weights, reordered for the kernel, fit the stack (32 KB); more take the pair path.</summary>
    internal const int MaxSteps = 2048;

    /// <summary>
    /// The convolution of <see cref="QConv.Conv2D"/> (validated there; at most <see cref="MaxSteps"/> taps x channel
    /// quads, one group where a group has one input channel) with the dot product of <paramref name="path"/> (QDot.Path).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Run(int path, byte* x, sbyte* w, int* bias, int* mult, int* shift, byte* y, short* scratch, QConv.Planes g,
        int batch, int inC, int inH, int inW, int outC, int kH, int kW, int outH, int outW, int padTop, int padLeft, int groups,
        bool signed, int xZero, int yZero, int qmin, int qmax)
    {
        int icg = inC / groups, ocg = outC / groups, pairs = (icg + 1) / 2, quads = (icg + 3) / 4;
        // one input channel per group (a stem, one group): each element a quad of kernel rows (dH apart) of the plane,
        // the compiled-in weights' pairs of kernel rows zipped two by two
        bool rowQuads = icg == 1;
        int rowPairs = (kH + 1) / 2, kq = rowQuads ? (kH + 3) / 4 : kH, taps = kq * kW;
        if (rowQuads) g = new QConv.Planes(outH, outW, 4 * kq, kW, g.SH, g.SW, g.DH, g.DW, rows: 4);
        int blocks = (ocg + QConv.BlockRows - 1) / QConv.BlockRows, plane = outH * outW;
        int* quadPlane = (int*)QConv.Aligned(scratch);
        // each (tap, quad) step's offset into the quad plane, in the order of the reordered weights
        int* steps = stackalloc int[taps * quads];
        for (int i = 0, o = 0; i < kq; i++)
            for (int j = 0; j < kW; j++)
                for (int q = 0; q < quads; q++) steps[o++] = g.Offset(rowQuads ? 4 * i : i, j) + q * g.Size;
        // the zero point as the quads hold it (sdot: uint8 moved to int8; vpdpbusd: int8 moved to uint8)
        bool unsigned = QDot.Unsigned(path);
        int zq = QDot.Zero(unsigned, signed, xZero), flip = QDot.Flip(unsigned, signed);
        var t = new Tile
        {
            X = quadPlane, Steps = steps, Taps = taps, Pairs = pairs, Quads = quads, QuadStride = g.Size, Zq = zq, RowPairs = rowQuads ? rowPairs : 0, KW = kW,
            BlockW = (rowQuads ? rowPairs * kW : kH * kW * pairs) * QConv.BlockRows * 2,
            Tmp = QConv.Aligned(quadPlane + (long)quads * g.Size + g.Slack + taps), // where the pair path has it
            OutStride = g.OutStride, ZY = yZero, Lo = qmin, Hi = qmax, Direct = g.Wq == outW,
            // the accumulators end at the pair kernels' values, so their shorter requantization applies as there
            Bounded = Bounded.Applies(bias, shift, outC, (long)icg * kH * kW),
        };
        t.Saturated = t.Bounded && qmin == -128 && qmax == 127 && Bounded.FoldsZero(shift, outC, yZero);
        // no padded columns (Wq = outW): the rows go straight to y, plane apart (no copy through Tmp)
        if (t.Direct) t.OutStride = plane;
        long chan = (long)inH * inW, groupW = (long)blocks * t.BlockW;
        for (int gr = 0; gr < groups; gr++)
        {
            t.W = w + gr * groupW;
            t.Bias = bias + gr * ocg; t.Mult = mult + gr * ocg; t.Shift = shift + gr * ocg; t.Rows = ocg;
            for (int nb = 0; nb < batch; nb++)
            {
                byte* xg = x + ((long)nb * inC + (long)gr * icg) * chan;
                if (rowQuads) BuildQuads(quadPlane, g, xg, xg, xg, xg, g.DH, inH, inW, padTop, padLeft, flip, zq); // rows dH apart of one plane
                else
                    for (int q = 0; q < quads; q++)
                    {
                        byte* c0 = xg + 4 * q * chan;
                        byte* c1 = 4 * q + 1 < icg ? c0 + chan : null, c2 = 4 * q + 2 < icg ? c0 + 2 * chan : null, c3 = 4 * q + 3 < icg ? c0 + 3 * chan : null;
                        // (a 1x1 layer's plane: one QuadRow run there)
                        BuildQuads(quadPlane + (long)q * g.Size, g, c0, c1, c2, c3, 0, inH, inW, padTop, padLeft, flip, zq);
                    }
                new Span<int>(quadPlane + (long)quads * g.Size, g.Slack).Clear();
                // tiles of 1-3 vectors of 4 positions (sdot) or of 1-4 of 8 (vpdpbusd, see Columns), the emulations as
                // the instructions they stand for
                int positions = outH * g.Wq;
                byte* yg = y + ((long)nb * outC + gr * ocg) * plane;
                // this group's channels end at End: groups run outermost, so the next image's channels are already there
                if (t.Direct) { t.Tmp = yg; t.End = yg + (long)ocg * plane; }
                switch (path)
                {
                    case QDot.Sdot or QDot.SdotEmulated:
                        bool arm = path == QDot.Sdot;
                        if (positions <= 4) { if (arm) Gemm<DotArm, Vector128<int>, Q128, R1>(t, positions); else Gemm<DotEmulated, Vector128<int>, Q128, R1>(t, positions); }
                        else if (positions <= 8) { if (arm) Gemm<DotArm, Vector128<int>, Q128, R2>(t, positions); else Gemm<DotEmulated, Vector128<int>, Q128, R2>(t, positions); }
                        else if (arm) Gemm<DotArm, Vector128<int>, Q128, R3>(t, positions); else Gemm<DotEmulated, Vector128<int>, Q128, R3>(t, positions);
                        break;
                    case QDot.Vnni:
                        switch (Columns(positions))
                        {
                            case 1: Gemm<DotVnni, Vector256<int>, Q256, R1>(t, positions); break;
                            case 2: Gemm<DotVnni, Vector256<int>, Q256, R2>(t, positions); break;
                            case 3: Gemm<DotVnni, Vector256<int>, Q256, R3>(t, positions); break;
                            default: Gemm<DotVnni, Vector256<int>, Q256, R4>(t, positions); break;
                        }
                        break;
                    default:
                        switch (Columns(positions))
                        {
                            case 1: Gemm<DotEmulatedU, Vector256<int>, Q256, R1>(t, positions); break;
                            case 2: Gemm<DotEmulatedU, Vector256<int>, Q256, R2>(t, positions); break;
                            case 3: Gemm<DotEmulatedU, Vector256<int>, Q256, R3>(t, positions); break;
                            default: Gemm<DotEmulatedU, Vector256<int>, Q256, R4>(t, positions); break;
                        }
                        break;
                }
                if (!t.Direct) QConv.Compact(yg, t.Tmp, ocg, outH, outW, g.Wq, g.OutStride);
            }
        }
    }

    /// <summary>Test and experiment hook, on the calling thread only: tiles of 1-4 vectors forced (0: <see cref="Columns"/> chooses).</summary>
    internal static int ForceColumns { get => t_columns; set => t_columns = value; }

    [ThreadStatic] static int t_columns;

    /// <summary>
    /// Vectors of 8 positions per 256-bit tile: the fewest positions computed, each weighed by its tile's cost (fewer
    /// weight broadcasts and loop steps per multiply-add in wider tiles; experiment qconv with QCONV_COLUMNS=1, Sapphire
    /// Rapids: 16, 24, 32 positions per tile at 1, 0.9, 0.86 of the time per position on 1088 positions). 4 vectors only
    /// with AVX-512's 32 registers: their 16 accumulators take all 16 that the VEX form of vpdpbusd can write.
    /// </summary>
    static int Columns(int positions)
    {
        if (ForceColumns > 0) return ForceColumns;
        if (positions <= 8) return 1;
        long two = Cost(positions, 2), three = Cost(positions, 3), four = SimdLevel.Bits >= 512 ? Cost(positions, 4) : long.MaxValue;
        return four < Math.Min(two, three) ? 4 : three < two ? 3 : 2;

        static long Cost(int positions, int n) => (positions + 8L * n - 1) / (8 * n) * (8 * n) * (n == 2 ? 100 : n == 3 ? 90 : 86);
    }

    /// <summary>
    /// One block's weights (<see cref="QConv.BlockRows"/> rows interleaved by channel pairs or kernel row pairs, as
    /// compiled) to the kernel's order, 16 bytes per step: row r's quad at bytes 4r..4r + 3, so that the kernel
    /// broadcasts it straight from memory (vpbroadcastd: a load, no shuffle next to the dot products) or selects it by
    /// element (sdot). A quad's second pair past the last: 0. rb[r] = bias[r] - zq * (row r's weights summed): dot
    /// products with ones. Rows past <paramref name="live"/>: 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Reorder<TD>(in Tile t, sbyte* w, int* dst, int* bias, int live, int* rb) where TD : IQDot
    {
        var order = Vector128.Create((sbyte)0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15);
        var ones = Vector128.Create((sbyte)1);
        Vector128<int> sum = default;
        // the two pairs of a quad: channel pairs 2q, 2q + 1 of a tap (8 bytes apart), or kernel row pairs 2i, 2i + 1 of
        // a column (a row of pairs apart); the second past the last: 0
        bool rows = t.RowPairs > 0;
        int outer = rows ? (t.RowPairs + 1) / 2 : t.Taps, inner = rows ? t.KW : t.Quads, pairs = rows ? t.RowPairs : t.Pairs;
        long strideA = rows ? 16L * t.KW : t.Pairs * QConv.BlockRows * 2L, strideB = rows ? 8 : 16, half = rows ? 8L * t.KW : 8;
        for (int a = 0; a < outer; a++)
            for (int b = 0; b < inner; b++, dst += 4)
            {
                sbyte* p = w + a * strideA + b * strideB;
                long lo = *(long*)p, hi = 2 * (rows ? a : b) + 1 < pairs ? *(long*)(p + half) : 0;
                var v = Rows(Vector128.Create(lo, hi).AsSByte(), order);
                v.AsInt32().Store(dst);
                sum = TD.Dot(sum, ones, v);
            }
        for (int r = 0; r < QConv.BlockRows; r++) rb[r] = r < live ? bias[r] - t.Zq * sum[r] : 0;
    }

    struct Tile
    {
        public int* X, Steps, Bias, Mult, Shift; public sbyte* W; public byte* Tmp;
        public int Taps, Pairs, Quads, QuadStride, Rows, OutStride, Zq, ZY, Lo, Hi, RowPairs, KW, BlockW;
        public bool Bounded, Saturated;
        /// <summary>
        /// Tmp is y itself (OutStride = the plane, End the end of the group's channels). The chunks then go last to
        /// first: only a row's last chunk stores whole vectors past its positions, into the next rows' first ones, which
        /// are written after it; past End, the stack.
        /// </summary>
        public bool Direct; public byte* End;
    }

    /// <summary>
    /// Positions per chunk of int32 accumulators (a multiple of every tile width, 4-32 positions): each block's tiles
    /// write their 4 rows of accumulators for a chunk to the stack (6 KB), then <see cref="Requantize{TV, TS}"/> turns
    /// each row into bytes in one loop. Requantizing inside the tile instead (its constants per row and tile, the
    /// accumulators kept in registers across it) cost DS-CNN's 1x1 layer as much as its multiply-adds.
    /// </summary>
    const int Chunk = 384;

    /// <summary>
    /// Blocks of output channels outermost, each block's weights reordered once (<see cref="Reorder{TD}"/>) for every
    /// column tile of C.N vectors of positions, chunk by chunk of positions.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Gemm<TD, TV, TS, C>(in Tile t, int positions) where TD : IQDot, IQDotBy<TV> where TV : struct where TS : IQSimd<TV>, IQBounded<TV> where C : IRows
    {
        int width = C.N * TS.Lanes, blocks = (t.Rows + QConv.BlockRows - 1) / QConv.BlockRows;
        int* quads = stackalloc int[t.Taps * t.Quads * QConv.BlockRows];
        int* rb = stackalloc int[QConv.BlockRows];
        int* acc = stackalloc int[QConv.BlockRows * Chunk];
        byte* last = stackalloc byte[Chunk + 64];
        for (int b = 0; b < blocks; b++)
        {
            int r0 = b * QConv.BlockRows, live = Math.Min(QConv.BlockRows, t.Rows - r0);
            Reorder<TD>(t, t.W + (long)b * t.BlockW, quads, t.Bias + r0, live, rb);
            // last chunk first (see Tile.Direct); every other chunk is whole vectors of the tile and of the requantization
            for (int q0 = (positions - 1) / Chunk * Chunk; q0 >= 0; q0 -= Chunk)
            {
                int n = Math.Min(Chunk, positions - q0);
                for (int q = 0; q < n; q += width) Kernel<TD, TV, TS, C>(t, t.X + q0 + q, quads, rb, acc + q);
                for (int r = 0; r < live; r++)
                {
                    byte* yr = t.Tmp + (long)(r0 + r) * t.OutStride + q0;
                    bool past = t.Direct && yr + n + 64 > t.End;
                    Requantize<TV, TS>(t, acc + r * Chunk, n, r0 + r, past ? last : yr);
                    if (past) Unsafe.CopyBlockUnaligned(yr, last, (uint)n);
                }
            }
        }
    }

    /// <summary>
    /// BlockRows output channels x C.N vectors (TV) of positions over all taps x channel quads (w: the block's weights
    /// as <see cref="Reorder{TD}"/> wrote them), accumulators in registers from the corrected bias rb, stored as int32
    /// rows <see cref="Chunk"/> apart at acc.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Kernel<TD, TV, TS, C>(in Tile t, int* x0, int* w, int* rb, int* acc) where TD : IQDotBy<TV> where TV : struct where TS : IQSimd<TV>, IQBounded<TV> where C : IRows
    {
        int quads = t.Quads;
        TV a0 = TS.Splat(rb[0]), b0 = a0, c0 = a0, d0 = a0;
        TV a1 = TS.Splat(rb[1]), b1 = a1, c1 = a1, d1 = a1;
        TV a2 = TS.Splat(rb[2]), b2 = a2, c2 = a2, d2 = a2;
        TV a3 = TS.Splat(rb[3]), b3 = a3, c3 = a3, d3 = a3;
        // one loop over (tap, quad) steps, x's offset per step from the table Run builds once per call
        int* steps = t.Steps;
        for (int s = 0, n = t.Taps * quads; s < n; s++, w += QConv.BlockRows)
            Step<TD, TV, TS, C>(w, x0 + steps[s], ref a0, ref b0, ref c0, ref d0, ref a1, ref b1, ref c1, ref d1, ref a2, ref b2, ref c2, ref d2, ref a3, ref b3, ref c3, ref d3);
        Put<TV, TS, C>(acc, a0, b0, c0, d0);
        Put<TV, TS, C>(acc + Chunk, a1, b1, c1, d1);
        Put<TV, TS, C>(acc + 2 * Chunk, a2, b2, c2, d2);
        Put<TV, TS, C>(acc + 3 * Chunk, a3, b3, c3, d3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Put<TV, TS, C>(int* p, TV a, TV b, TV c, TV d) where TV : struct where TS : IQSimd<TV>, IQBounded<TV> where C : IRows
    {
        Unsafe.WriteUnaligned(p, a);
        if (C.N > 1) Unsafe.WriteUnaligned(p + TS.Lanes, b);
        if (C.N > 2) Unsafe.WriteUnaligned(p + 2 * TS.Lanes, c);
        if (C.N > 3) Unsafe.WriteUnaligned(p + 3 * TS.Lanes, d);
    }

    /// <summary>
    /// n accumulators of output channel r at acc to bytes at y, whole vectors (the last past n: acc holds whole tiles,
    /// y's rows <see cref="QConv.Planes.OutStride"/> apart have room). The bounded forms at 512 bits where the CPU has
    /// them (half the instructions of two 256-bit vectors), else at the tile's width.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Requantize<TV, TS>(in Tile t, int* acc, int n, int r, byte* y) where TV : struct where TS : IQSimd<TV>, IQBounded<TV>
    {
        if (t.Bounded && SimdLevel.Bits >= 512 && Avx512BW.IsSupported) RequantizeIn<Vector512<int>, Q512>(t, acc, n, r, y);
        else RequantizeIn<TV, TS>(t, acc, n, r, y);
    }

    /// <summary><see cref="Requantize{TV, TS}"/> in vectors of TS.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void RequantizeIn<TV, TS>(in Tile t, int* acc, int n, int r, byte* y) where TV : struct where TS : IQSimd<TV>, IQBounded<TV>
    {
        int e = -t.Shift[r], mult = t.Mult[r];
        if (t.Bounded)
        {
            TV m = TS.Splat(mult);
            if (t.Saturated)
            {
                long kz = Bounded.K(e, t.ZY);
                for (int i = 0; i < n; i += TS.Lanes) TS.StoreSaturated(TS.Load(acc + i), m, kz, e, y + i);
                return;
            }
            long k = Bounded.K(e);
            TV z = TS.Splat(t.ZY), lo = TS.Splat(t.Lo), hi = TS.Splat(t.Hi);
            for (int i = 0; i < n; i += TS.Lanes) TS.StoreBounded(TS.Load(acc + i), m, k, e, z, lo, hi, y + i);
            return;
        }
        var p = TS.Prepare(mult, t.Shift[r], t.ZY, t.Lo, t.Hi);
        for (int i = 0; i < n; i += TS.Lanes) TS.Store(TS.Load(acc + i), p, y + i);
    }

    /// <summary>One (tap, channel quad): the 4 rows' quads at w x C.N vectors of positions at x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Step<TD, TV, TS, C>(int* w, int* x, ref TV a0, ref TV b0, ref TV c0, ref TV d0, ref TV a1, ref TV b1, ref TV c1, ref TV d1,
        ref TV a2, ref TV b2, ref TV c2, ref TV d2, ref TV a3, ref TV b3, ref TV c3, ref TV d3)
        where TD : IQDotBy<TV> where TV : struct where TS : IQSimd<TV>, IQBounded<TV> where C : IRows
    {
        int n = C.N;
        var v0 = TS.Load(x);
        var v1 = n > 1 ? TS.Load(x + TS.Lanes) : v0;
        var v2 = n > 2 ? TS.Load(x + 2 * TS.Lanes) : v0;
        var v3 = n > 3 ? TS.Load(x + 3 * TS.Lanes) : v0;
        a0 = TD.DotBy(a0, v0, w, 0); if (n > 1) b0 = TD.DotBy(b0, v1, w, 0); if (n > 2) c0 = TD.DotBy(c0, v2, w, 0); if (n > 3) d0 = TD.DotBy(d0, v3, w, 0);
        a1 = TD.DotBy(a1, v0, w, 1); if (n > 1) b1 = TD.DotBy(b1, v1, w, 1); if (n > 2) c1 = TD.DotBy(c1, v2, w, 1); if (n > 3) d1 = TD.DotBy(d1, v3, w, 1);
        a2 = TD.DotBy(a2, v0, w, 2); if (n > 1) b2 = TD.DotBy(b2, v1, w, 2); if (n > 2) c2 = TD.DotBy(c2, v2, w, 2); if (n > 3) d2 = TD.DotBy(d2, v3, w, 2);
        a3 = TD.DotBy(a3, v0, w, 3); if (n > 1) b3 = TD.DotBy(b3, v1, w, 3); if (n > 2) c3 = TD.DotBy(c3, v2, w, 3); if (n > 3) d3 = TD.DotBy(d3, v3, w, 3);
    }

    /// <summary>Two channel pairs x 4 rows (the compiled layout: row-major pairs) to 4 rows x 4 channels, the quads sdot selects.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<sbyte> Rows(Vector128<sbyte> v, Vector128<sbyte> order)
        => AdvSimd.Arm64.IsSupported ? AdvSimd.Arm64.VectorTableLookup(v, order) : Vector128.Shuffle(v, order);

    /// <summary>
    /// Fills one quad plane: element (phase, rq, u) = the four channels' bytes (^ flip) at that padded input position,
    /// zq in every byte outside the input and for a null channel (past the group's channels: whatever its packed weights,
    /// (x - zq) * w is then 0 there as the bias correction assumes). Strided: each input row once through
    /// <see cref="QuadRow"/> into a row of quads on the stack, then every stride-th one to its column phase.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void BuildQuads(int* dst, in QConv.Planes g, byte* c0, byte* c1, byte* c2, byte* c3, int rowStep, int inH, int inW, int padTop, int padLeft, int flip, int zq)
    {
        const int MaxRow = 4096; // ints on the stack for a strided row (wider rows: one position at a time)
        int pad = (byte)zq * 0x01010101;
        int* row = stackalloc int[g.SW > 1 && inW <= MaxRow ? inW : 0];
        int bits = SimdLevel.Bits; // once per plane, not per row
        // each column phase's outputs inside the input, lo .. hi, and the input column of lo: the same for every row
        int* span = stackalloc int[3 * g.SW];
        for (int cp = 0; cp < g.SW; cp++)
        {
            int col0 = cp - padLeft, lo = col0 >= 0 ? 0 : Math.Min(g.Wq, (-col0 + g.SW - 1) / g.SW);
            span[3 * cp] = lo; span[3 * cp + 1] = Math.Clamp((inW - col0 + g.SW - 1) / g.SW, lo, g.Wq); span[3 * cp + 2] = lo * g.SW + col0;
        }
        // stride 1: the rows whose four input rows are all inside, run0 .. run1, in one loop; without padded columns
        // (Wq = inW: a 3x1 kernel) they follow each other in x as in the plane, one QuadRow run. The general loop's work
        // per row took three times QuadRow's on rows of 8 (perf, a 72-channel 30x8 1x3 layer)
        int run0 = 0, run1 = 0;
        if (g.SH == 1 && g.SW == 1)
        {
            run0 = Math.Min(padTop, g.Rq); run1 = Math.Clamp(inH + padTop - 3 * rowStep, run0, g.Rq);
            long at = (long)(run0 - padTop) * inW;
            byte* a = c0 == null ? null : c0 + at, b = c1 == null ? null : c1 + at + rowStep * inW;
            byte* c = c2 == null ? null : c2 + at + 2 * rowStep * inW, d = c3 == null ? null : c3 + at + 3 * rowStep * inW;
            if (run1 > run0 && padLeft == 0 && g.Wq == inW) QuadRow(dst + (long)run0 * g.Wq, a, b, c, d, (run1 - run0) * inW, flip, zq);
            else
            {
                int lo = span[0], hi = span[1], first = span[2];
                for (int rq = run0; rq < run1; rq++)
                {
                    int* o = dst + (long)rq * g.Wq;
                    QuadRow(o + lo, a == null ? null : a + first, b == null ? null : b + first, c == null ? null : c + first, d == null ? null : d + first, hi - lo, flip, zq);
                    for (int u = 0; u < lo; u++) o[u] = pad;
                    for (int u = hi; u < g.Wq; u++) o[u] = pad;
                    if (a != null) a += inW;
                    if (b != null) b += inW;
                    if (c != null) c += inW;
                    if (d != null) d += inW;
                }
            }
        }
        for (int rp = 0; rp < g.SH; rp++)
            for (int rq = 0; rq < g.Rq; rq++)
            {
                if (rq == run0 && run1 > run0) { rq = run1 - 1; continue; }
                int ra = rq * g.SH + rp - padTop;
                byte* r0 = Row(c0, ra, inH, inW), r1 = Row(c1, ra + rowStep, inH, inW), r2 = Row(c2, ra + 2 * rowStep, inH, inW), r3 = Row(c3, ra + 3 * rowStep, inH, inW);
                bool inside = r0 != null || r1 != null || r2 != null || r3 != null;
                bool staged = inside && g.SW > 1 && inW <= MaxRow;
                if (staged) QuadRow(row, r0, r1, r2, r3, inW, flip, zq);
                for (int cp = 0; cp < g.SW; cp++)
                {
                    int* d = dst + (rp * g.SW + cp) * g.Phase + (long)rq * g.Wq;
                    if (!inside) { new Span<int>(d, g.Wq).Fill(pad); continue; }
                    int lo = span[3 * cp], hi = span[3 * cp + 1], first = span[3 * cp + 2];
                    if (g.SW == 1) QuadRow(d + lo, r0 == null ? null : r0 + first, r1 == null ? null : r1 + first, r2 == null ? null : r2 + first, r3 == null ? null : r3 + first, hi - lo, flip, zq);
                    else if (staged) Every(d + lo, row + first, g.SW, hi - lo, bits);
                    else
                        for (int u = lo, col = first; u < hi; u++, col += g.SW)
                            d[u] = Quad(r0 == null ? zq : r0[col] ^ flip, r1 == null ? zq : r1[col] ^ flip, r2 == null ? zq : r2[col] ^ flip, r3 == null ? zq : r3[col] ^ flip);
                    for (int u = 0; u < lo; u++) d[u] = pad;
                    for (int u = hi; u < g.Wq; u++) d[u] = pad;
                }
            }
    }

    /// <summary>
    /// d[u] = s[u * step] for n ints: at step 2 the even ints of 32 (AVX-512) or 16 (AVX2) at a time by permutes, where
    /// the loads stay within the n * 2 - 1 ints read (a scalar copy per element was a fifth of a stride-2 layer's time).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Every(int* d, int* s, int step, int n, int bits)
    {
        int u = 0;
        if (step == 2)
        {
            if (Avx512F.IsSupported && bits >= 512)
            {
                var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
                for (; u + 16 < n; u += 16) Avx512F.PermuteVar16x32x2(Vector512.Load(s + 2 * u), even, Vector512.Load(s + 2 * u + 16)).Store(d + u);
            }
            if (Avx2.IsSupported && bits >= 256)
                for (; u + 8 < n; u += 8)
                {
                    // a0 a2 b0 b2 | a4 a6 b4 b6, then the 64-bit pieces in order
                    var e = Avx.Shuffle(Vector256.Load(s + 2 * u).AsSingle(), Vector256.Load(s + 2 * u + 8).AsSingle(), 0x88);
                    Avx2.Permute4x64(e.AsDouble(), 0xD8).AsInt32().Store(d + u);
                }
        }
        for (; u < n; u++) d[u] = s[u * step];
    }

    /// <summary>Row r of a channel plane, null for no channel or a row outside the input.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static byte* Row(byte* c, int r, int inH, int inW) => c == null || (uint)r >= (uint)inH ? null : c + (long)r * inW;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int Quad(int a, int b, int c, int d) => (byte)a | (byte)b << 8 | (byte)c << 16 | d << 24;

    /// <summary>
    /// dst[i] = the bytes (a[i], b[i], c[i], d[i]) ^ flip for n positions (null: zq): 16 (or 8) at a time by two rounds
    /// of zips, the last 16 (8) overlapping the ones before (nothing read or written outside the n positions).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void QuadRow(int* dst, byte* a, byte* b, byte* c, byte* d, int n, int flip, int zq)
    {
        if (n >= 32 && Avx512Vbmi.IsSupported && SimdLevel.Bits >= 512)
        {
            // 32 positions per step: two channels' rows in each 512-bit register, one two-table byte permute per 16
            // quads (the zips took six shuffles and four stores per 16)
            Vector256<byte> f = Vector256.Create((byte)flip), z = Vector256.Create((byte)zq);
            // byte 4p + k = channel k's byte at position p (16 + p): a, b at 0 and 32 of the first table, c, d at 64 and 96
            var lo = Vector512.Create((byte)0, 32, 64, 96, 1, 33, 65, 97, 2, 34, 66, 98, 3, 35, 67, 99, 4, 36, 68, 100, 5, 37, 69, 101, 6, 38, 70, 102, 7, 39, 71, 103,
                8, 40, 72, 104, 9, 41, 73, 105, 10, 42, 74, 106, 11, 43, 75, 107, 12, 44, 76, 108, 13, 45, 77, 109, 14, 46, 78, 110, 15, 47, 79, 111);
            var hi = Vector512.Create((byte)16, 48, 80, 112, 17, 49, 81, 113, 18, 50, 82, 114, 19, 51, 83, 115, 20, 52, 84, 116, 21, 53, 85, 117, 22, 54, 86, 118, 23, 55, 87, 119,
                24, 56, 88, 120, 25, 57, 89, 121, 26, 58, 90, 122, 27, 59, 91, 123, 28, 60, 92, 124, 29, 61, 93, 125, 30, 62, 94, 126, 31, 63, 95, 127);
            for (int i = 0; ; i += 32)
            {
                if (i > n - 32) i = n - 32;
                var ab = Vector512.Create(a == null ? z : Vector256.Load(a + i) ^ f, b == null ? z : Vector256.Load(b + i) ^ f);
                var cd = Vector512.Create(c == null ? z : Vector256.Load(c + i) ^ f, d == null ? z : Vector256.Load(d + i) ^ f);
                Avx512Vbmi.PermuteVar64x8x2(ab, lo, cd).Store((byte*)(dst + i));
                Avx512Vbmi.PermuteVar64x8x2(ab, hi, cd).Store((byte*)(dst + i + 16));
                if (i == n - 32) return;
            }
        }
        if (n >= 16 && (Sse2.IsSupported || AdvSimd.Arm64.IsSupported))
        {
            Vector128<byte> f = Vector128.Create((byte)flip), z = Vector128.Create((byte)zq);
            for (int i = 0; ; i += 16)
            {
                if (i > n - 16) i = n - 16;
                var va = a == null ? z : Vector128.Load(a + i) ^ f;
                var vb = b == null ? z : Vector128.Load(b + i) ^ f;
                var vc = c == null ? z : Vector128.Load(c + i) ^ f;
                var vd = d == null ? z : Vector128.Load(d + i) ^ f;
                var abL = ZipLow(va, vb).AsInt16(); var abH = ZipHigh(va, vb).AsInt16();
                var cdL = ZipLow(vc, vd).AsInt16(); var cdH = ZipHigh(vc, vd).AsInt16();
                ZipLow(abL, cdL).Store((short*)(dst + i)); ZipHigh(abL, cdL).Store((short*)(dst + i + 4));
                ZipLow(abH, cdH).Store((short*)(dst + i + 8)); ZipHigh(abH, cdH).Store((short*)(dst + i + 12));
                if (i == n - 16) return;
            }
        }
        if (n >= 8 && (Sse2.IsSupported || AdvSimd.Arm64.IsSupported))
        {
            // rows of 8 to 15 (a stem's short input rows): the low halves of the same zips, the last 8 overlapping
            Vector128<byte> f = Vector128.Create((byte)flip), z = Vector128.Create((byte)zq);
            for (int i = 0; ; i += 8)
            {
                if (i > n - 8) i = n - 8;
                var va = a == null ? z : Vector128.CreateScalarUnsafe(*(ulong*)(a + i)).AsByte() ^ f;
                var vb = b == null ? z : Vector128.CreateScalarUnsafe(*(ulong*)(b + i)).AsByte() ^ f;
                var vc = c == null ? z : Vector128.CreateScalarUnsafe(*(ulong*)(c + i)).AsByte() ^ f;
                var vd = d == null ? z : Vector128.CreateScalarUnsafe(*(ulong*)(d + i)).AsByte() ^ f;
                var ab = ZipLow(va, vb).AsInt16(); var cd = ZipLow(vc, vd).AsInt16();
                ZipLow(ab, cd).Store((short*)(dst + i)); ZipHigh(ab, cd).Store((short*)(dst + i + 4));
                if (i == n - 8) return;
            }
        }
        for (int i = 0; i < n; i++) dst[i] = Quad(a == null ? zq : a[i] ^ flip, b == null ? zq : b[i] ^ flip, c == null ? zq : c[i] ^ flip, d == null ? zq : d[i] ^ flip);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<byte> ZipLow(Vector128<byte> a, Vector128<byte> b) => Sse2.IsSupported ? Sse2.UnpackLow(a, b) : AdvSimd.Arm64.ZipLow(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<byte> ZipHigh(Vector128<byte> a, Vector128<byte> b) => Sse2.IsSupported ? Sse2.UnpackHigh(a, b) : AdvSimd.Arm64.ZipHigh(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<short> ZipLow(Vector128<short> a, Vector128<short> b) => Sse2.IsSupported ? Sse2.UnpackLow(a, b) : AdvSimd.Arm64.ZipLow(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<short> ZipHigh(Vector128<short> a, Vector128<short> b) => Sse2.IsSupported ? Sse2.UnpackHigh(a, b) : AdvSimd.Arm64.ZipHigh(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<int> ZipLow(Vector128<int> a, Vector128<int> b) => Sse2.IsSupported ? Sse2.UnpackLow(a, b) : AdvSimd.Arm64.ZipLow(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<int> ZipHigh(Vector128<int> a, Vector128<int> b) => Sse2.IsSupported ? Sse2.UnpackHigh(a, b) : AdvSimd.Arm64.ZipHigh(a, b);
}
