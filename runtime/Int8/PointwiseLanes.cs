using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

/// <summary>
/// int8 1x1 convolutions (stride 1, no padding, one group) of small planes with the output channels in the vector
/// lanes, as the float <see cref="PointwiseConv"/> does: QConv.Conv2D puts the positions in the lanes, and a 3x3 or 6x6
/// plane leaves a third to half of every vector past the positions. A tile here is 6 positions x 2 vectors of output
/// channels; each step of the reduction loads two vectors of weight pairs (int8, sign-extended in the load) and
/// broadcasts one int16 pair of input channels per position from the pair plane (QConv's, unpadded). Requantization is
/// per lane (each lane its channel's multiplier and shift): the bounded form of <see cref="IQBounded{TV}"/> where it
/// applies, else the scalar reference. Where the CPU has sdot (<see cref="QDot"/>) the tiles are <see cref="DotTile"/>:
/// input channels in int8 quads, 16 multiply-adds per instruction; where it has vpdpbusd, <see cref="Lanes{TD}"/>: 16
/// channels per tile, 32 multiply-adds per instruction. Bit-exact with ModelGen.Compiler.Quant.FixedPoint.
/// </summary>
public static unsafe class QPointwise
{
    /// <summary>The output channels of the weight layout are padded to a multiple of this: two 512-bit vectors of lanes.</summary>
    public const int ColumnMultiple = 32;

    /// <summary>Output channels (padded) per pass of a call: their per-channel constants live on the stack (more: several passes over the input).</summary>
    public const int MaxColumns = 1024;

    /// <summary>Positions per tile.</summary>
    const int Rows = 6;

    /// <summary>Quads of input channels up to which a panel's reordered weights fit the stack (32 KB); more take the pair kernels.</summary>
    internal const int MaxQuads = 512;

    /// <summary>int16 elements of scratch <see cref="Run"/> needs: the pair plane, aligned.</summary>
    public static int Scratch(int inC, int plane) => checked(2 * ((inC + 1) / 2 * plane) + 32);

    /// <summary>
    /// x [batch, inC, plane] bytes (int8 when <paramref name="xSigned"/>, else uint8); w int8 as pairs of input channels
    /// per output channel: w[(c2 * mp + m) * 2 + e] = weight (m, 2 c2 + e), mp = outC rounded up to
    /// <see cref="ColumnMultiple"/>, 0 past inC and outC; bias, multiplier, shift [outC]; y [batch, outC, plane] bytes
    /// clamped to [qmin, qmax]. nhwcIn / nhwcOut: x [batch, plane, inC] / y [batch, plane, outC] instead (channels last,
    /// as an int8 chain of depthwise and 1x1 layers keeps its tensors: no transposition between them). Allocation-free.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(ReadOnlySpan<byte> x, ReadOnlySpan<sbyte> w, ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> shift,
        Span<byte> y, Span<short> scratch, int batch, int inC, int outC, int plane, bool xSigned, int xZero, int yZero, int qmin, int qmax,
        bool nhwcIn = false, bool nhwcOut = false)
    {
        if (batch < 0 || inC <= 0 || outC <= 0 || plane < 0) throw new ArgumentOutOfRangeException(nameof(plane), "QPointwise: invalid geometry");
        int pairs = (inC + 1) / 2, mp = (outC + ColumnMultiple - 1) / ColumnMultiple * ColumnMultiple;
        if (x.Length < (long)batch * inC * plane || w.Length < (long)pairs * mp * 2 || y.Length < (long)batch * outC * plane
            || bias.Length < outC || multiplier.Length < outC || shift.Length < outC || scratch.Length < Scratch(inC, plane))
            throw new ArgumentException("QPointwise.Run: sizes do not agree");
        QConv.CheckMultipliers(multiplier, outC);
        if (batch == 0 || plane == 0) return;
        // 16 past the columns: RequantizeRows loads 16 lanes of constants from a panel's start (8-column panels: 8 past mp)
        int most = Math.Min(mp, MaxColumns);
        int* mult = stackalloc int[most + 16], e = stackalloc int[most + 16], b = stackalloc int[most + 16];
        long* kE = stackalloc long[most / 2 + 8], kO = stackalloc long[most / 2 + 8];
        fixed (byte* px = x, py = y) fixed (sbyte* pw = w) fixed (short* ps = scratch) fixed (int* pb = bias, pm = multiplier, psh = shift)
        {
            int* pairPlane = (int*)QConv.Aligned(ps);
            // sdot: tiles of 8 channels; vpdpbusd: of 16, weights reordered per panel (at most MaxQuads quads of input
            // channels), where the plane repays the reordering: from 16 positions against 512-bit pair kernels, from 8
            // against 256-bit ones (Sapphire Rapids: 128->128 on 36 positions 1.6x, 256->256 on 9 0.97x at 512 bits and
            // 1.7x at 256, 256->512 on 4 0.6x)
            int dot = QDot.Path;
            if (QDot.Unsigned(dot) && ((inC + 3) / 4 > MaxQuads || plane < (SimdLevel.Bits >= 512 ? 16 : 8))) dot = QDot.None;
            // a pass per MaxColumns output channels (a 1280-channel head: two), each over the whole input
            for (int j0 = 0; j0 < outC; j0 += MaxColumns)
            {
                int cols = Math.Min(MaxColumns, outC - j0), mc = (cols + ColumnMultiple - 1) / ColumnMultiple * ColumnMultiple;
                bool bounded = Columns(pb + j0, pm + j0, psh + j0, cols, inC, mc, mult, e, b, kE, kO);
                var a = new Args
                {
                    X = pairPlane, W = pw + 2L * j0, Bias = b, Mult = mult, E = e, KE = kE, KO = kO, Pm = pm + j0, Psh = psh + j0,
                    Pairs = pairs, Mp = mp, OutC = cols, YStride = outC, Plane = plane, ZY = yZero, Lo = qmin, Hi = qmax, Bounded = bounded,
                    RowStride = 1, Step = plane, NhwcOut = nhwcOut,
                };
                if (dot != 0)
                {
                    // a quad plane (QDotConv's, unpadded) in the pair plane's place, the zero point taken from the bias
                    bool unsigned = QDot.Unsigned(dot);
                    int zq = QDot.Zero(unsigned, xSigned, xZero), flip = QDot.Flip(unsigned, xSigned), quads = (inC + 3) / 4;
                    a.Quads = quads;
                    // channels last: each position's quads side by side (the tiles step positions by the quads)
                    if (nhwcIn) { a.RowStride = quads; a.Step = 1; }
                    switch (dot)
                    {
                        case QDot.Sdot: Correct<DotArm>(a.W, b, mc, mp, pairs, zq); break;
                        case QDot.SdotEmulated: Correct<DotEmulated>(a.W, b, mc, mp, pairs, zq); break;
                        case QDot.Vnni: Correct<DotVnni>(a.W, b, mc, mp, pairs, zq); break;
                        default: Correct<DotEmulatedU>(a.W, b, mc, mp, pairs, zq); break;
                    }
                    for (int nb = 0; nb < batch; nb++)
                    {
                        byte* xb = px + (long)nb * inC * plane;
                        if (nhwcIn) a.X = QuadsLast(pairPlane, xb, inC, plane, quads, flip, zq);
                        else
                        for (int q = 0; q < quads; q++)
                        {
                            byte* c0 = xb + 4L * q * plane;
                            QDotConv.QuadRow(pairPlane + (long)q * plane, c0, 4 * q + 1 < inC ? c0 + plane : null, 4 * q + 2 < inC ? c0 + 2L * plane : null,
                                4 * q + 3 < inC ? c0 + 3L * plane : null, plane, flip, zq);
                        }
                        a.Y = py + (long)nb * outC * plane + (nhwcOut ? j0 : (long)j0 * plane);
                        switch (dot)
                        {
                            case QDot.Sdot: Panels<Vector128<int>, Q128, DotArm>(a, true); break;
                            case QDot.SdotEmulated: Panels<Vector128<int>, Q128, DotEmulated>(a, true); break;
                            case QDot.Vnni: Lanes<DotVnni>(a); break;
                            default: Lanes<DotEmulatedU>(a); break;
                        }
                    }
                    continue;
                }
                if (nhwcIn) { a.RowStride = pairs; a.Step = 1; }
                for (int nb = 0; nb < batch; nb++)
                {
                    byte* xb = px + (long)nb * inC * plane;
                    if (nhwcIn) PairsLast(pairPlane, xb, inC, plane, pairs, xSigned, xZero);
                    else
                    for (int c2 = 0; c2 < pairs; c2++)
                        QConv.PairPlane(pairPlane + (long)c2 * plane, xb + 2L * c2 * plane, 2 * c2 + 1 < inC ? xb + (2L * c2 + 1) * plane : null, plane, xSigned, xZero);
                    a.Y = py + (long)nb * outC * plane + (nhwcOut ? j0 : (long)j0 * plane);
                    switch (SimdLevel.Bits)
                    {
                        case 512 when Avx512BW.IsSupported: Panels<Vector512<int>, Q512, DotEmulated>(a, false); break;
                        case 512 or 256 when Avx2.IsSupported: Panels<Vector256<int>, Q256, DotEmulated>(a, false); break;
                        case 0: Panels<int, Q1, DotEmulated>(a, false); break;
                        default: Panels<Vector128<int>, Q128, DotEmulated>(a, false); break;
                    }
                }
            }
        }
    }

    /// <summary>
    /// The per-column constants of a lane-per-column requantization, for mp columns (outC real, the rest padding:
    /// multiplier 0, shift 1, their lanes computed and dropped): bias, multiplier, exponent e and the rounding constants
    /// of <see cref="IQBounded{TV}.StoreLanes"/> (even and odd columns apart). Returns whether the bounded form applies
    /// (k: the reduction length). mp: even.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool Columns(int* pb, int* pm, int* psh, int outC, int k, int mp, int* mult, int* e, int* b, long* kE, long* kO)
    {
        // per call, so kept to straight loops: the layers of a matrix-vector product are short (640 columns took 3 us
        // with one branchy loop, longer than the product)
        bool bounded = Bounded.Applies(pb, psh, outC, k);
        new ReadOnlySpan<int>(pm, outC).CopyTo(new Span<int>(mult, outC));
        new ReadOnlySpan<int>(pb, outC).CopyTo(new Span<int>(b, outC));
        new Span<int>(mult + outC, mp - outC).Clear();
        new Span<int>(b + outC, mp - outC).Clear();
        int i = 0;
        if (bounded)
        {
            if (Vector256.IsHardwareAccelerated) for (; i + 8 <= outC; i += 8) (-Vector256.Load(psh + i)).Store(e + i);
            for (; i < outC; i++) e[i] = -psh[i];
        }
        else new Span<int>(e, outC).Fill(1);
        new Span<int>(e + outC, mp - outC).Fill(1);
        // K(e) = 2^30 + 2^(30 + e) of the even and of the odd columns, four pairs of columns at a time where AVX2 shifts
        // 64-bit lanes by lane (640 columns: a third of a matrix-vector product's call in scalar code)
        int m = 0;
        if (Avx2.IsSupported)
        {
            var low = Vector256.Create(0xFFFFFFFFUL);
            var one = Vector256.Create(1UL);
            var k30 = Vector256.Create(1UL << 30);
            for (; m + 8 <= mp; m += 8)
            {
                var v = Vector256.Load((ulong*)(e + m));
                (k30 + Avx2.ShiftLeftLogicalVariable(one, (v & low) + Vector256.Create(30UL))).Store((ulong*)(kE + (m >> 1)));
                (k30 + Avx2.ShiftLeftLogicalVariable(one, (v >> 32) + Vector256.Create(30UL))).Store((ulong*)(kO + (m >> 1)));
            }
        }
        for (; m + 1 < mp; m += 2) { kE[m >> 1] = Bounded.K(e[m]); kO[m >> 1] = Bounded.K(e[m + 1]); }
        return bounded;
    }

    struct Args
    {
        public int* X, Bias, Mult, E, Pm, Psh; public long* KE, KO; public sbyte* W; public byte* Y;
        /// <summary>Mp: the weight layout's padded columns (a row of pairs is 2 Mp bytes); OutC: this pass's columns; YStride: a channels-last position's bytes (all the output channels).</summary>
        public int Pairs, Quads, Mp, OutC, YStride, Plane, ZY, Lo, Hi; public bool Bounded;
        /// <summary>The input plane's steps (ints) from one position to the next and from one pair or quad to the next: 1 and the plane, or channels last the pairs or quads and 1.</summary>
        public int RowStride, Step;
        /// <summary>y channels last: a position's outC bytes side by side.</summary>
        public bool NhwcOut;
    }

    /// <summary>
    /// Channels-last input as the dot-product tiles read it: each position's quads of input channels (bytes ^ flip;
    /// zq past inC, where the weights are 0) side by side, p * quads + q. Returns x itself where its bytes are that
    /// already (no flip, inC a multiple of 4), else dst, filled.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int* QuadsLast(int* dst, byte* x, int inC, int plane, int quads, int flip, int zq)
    {
        if (inC == 4 * quads)
        {
            if (flip == 0) return (int*)x;
            QGemm.Flip((byte*)dst, x, inC * plane); // flip: 0x80 where not 0
            return dst;
        }
        byte* d = (byte*)dst;
        for (int p = 0; p < plane; p++, x += inC, d += 4 * quads)
        {
            int c = 0;
            for (; c < inC; c++) d[c] = (byte)(x[c] ^ flip);
            for (; c < 4 * quads; c++) d[c] = (byte)zq;
        }
        return dst;
    }

    /// <summary>
    /// Channels-last input as the pair tiles read it: each position's int16 pairs of input channels less the zero point
    /// (0 past inC) side by side, dst[p * pairs + c2]: QGemm's row widening, one run over all the positions where inC is even.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PairsLast(int* dst, byte* x, int inC, int plane, int pairs, bool signed, int zero)
    {
        short* d = (short*)dst;
        if (inC % 2 == 0) { QGemm.WidenRow(d, x, inC * plane, signed, zero); return; }
        for (int p = 0; p < plane; p++) QGemm.WidenRow(d + 2L * p * pairs, x + (long)p * inC, inC, signed, zero);
    }

    /// <summary>
    /// Panels of 2 vectors of channels outermost (their weights stay in L1 while the positions pass), tiles of 6
    /// positions; <paramref name="dot"/>: <see cref="DotTile"/> (TV Vector128) on a quad plane. As in
    /// <see cref="Lanes{TD}"/>, a chunk of positions' sums is requantized after its tiles, 16 columns at a time
    /// (position by position, with a byte scatter per channel, the requantization took 5x the tiles on 2304 positions).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Panels<TV, TS, TD>(in Args a, bool dot) where TV : struct where TS : IQSimd<TV>, IQBounded<TV> where TD : IQDot
    {
        int lanes = TS.Lanes, width = 2 * lanes;
        // rows width apart; 16 past the last: RequantizeRows reads 16 lanes of a row narrower than that
        int* sums = stackalloc int[Chunk * 32 + 16];
        byte* bytes = stackalloc byte[Chunk * 16];
        for (int m0 = 0; m0 < a.OutC; m0 += width)
        {
            int cols = Math.Min(width, a.OutC - m0);
            sbyte* w = a.W + 2L * m0;
            for (int c0 = 0; c0 < a.Plane; c0 += Chunk)
            {
                int n = Math.Min(Chunk, a.Plane - c0);
                for (int p0 = 0; p0 < n; p0 += Rows)
                {
                    int rows = Math.Min(Rows, n - p0);
                    int* x = a.X + (long)(c0 + p0) * a.RowStride, t = sums + p0 * width;
                    if (dot)
                        switch (rows)
                        {
                            case 6: DotTile<TD, R6>(x, a.RowStride, a.Step, w, 2 * a.Mp, a.Quads, a.Pairs, a.Bias + m0, t); break;
                            case 5: DotTile<TD, R5>(x, a.RowStride, a.Step, w, 2 * a.Mp, a.Quads, a.Pairs, a.Bias + m0, t); break;
                            case 4: DotTile<TD, R4>(x, a.RowStride, a.Step, w, 2 * a.Mp, a.Quads, a.Pairs, a.Bias + m0, t); break;
                            case 3: DotTile<TD, R3>(x, a.RowStride, a.Step, w, 2 * a.Mp, a.Quads, a.Pairs, a.Bias + m0, t); break;
                            case 2: DotTile<TD, R2>(x, a.RowStride, a.Step, w, 2 * a.Mp, a.Quads, a.Pairs, a.Bias + m0, t); break;
                            default: DotTile<TD, R1>(x, a.RowStride, a.Step, w, 2 * a.Mp, a.Quads, a.Pairs, a.Bias + m0, t); break;
                        }
                    else Tile<TV, TS>(rows, x, a.RowStride, a.Step, w, 2 * a.Mp, a.Pairs, a.Bias + m0, t);
                }
                for (int h = 0; h < cols; h += 16) Store<TV, TS>(a, m0 + h, Math.Min(16, cols - h), sums + h, width, n, c0, bytes);
            }
        }
    }

    /// <summary>
    /// A chunk's sums (n rows, stride ints apart, from position c0) of columns m0.. (cols, at most 16) requantized and
    /// stored: channels last straight to each position's place; NCHW as rows of bytes, then transposed into the planes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store<TV, TS>(in Args a, int m0, int cols, int* sums, int stride, int n, int c0, byte* bytes)
        where TV : struct where TS : IQSimd<TV>, IQBounded<TV>
    {
        if (a.NhwcOut) RequantizeRows<TV, TS>(a, m0, cols, sums, stride, n, a.Y + (long)c0 * a.YStride + m0, a.YStride);
        else
        {
            RequantizeRows<TV, TS>(a, m0, cols, sums, stride, n, bytes, 16);
            Planes(bytes, n, a.Y + (long)m0 * a.Plane + c0, a.Plane, cols);
        }
    }

    /// <summary>One position's sums of columns m0.. (2 vectors of TV) requantized per lane into bytes (the first cols of them).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Requantized<TV, TS>(in Args a, int m0, int cols, int* s, byte* bytes, TV zero, TV lo, TV hi) where TV : struct where TS : IQSimd<TV>, IQBounded<TV>
    {
        int lanes = TS.Lanes;
        if (a.Bounded)
        {
            TS.StoreLanes(TS.Load(s), a.Mult + m0, a.E + m0, a.KE + m0 / 2, a.KO + m0 / 2, zero, lo, hi, bytes);
            TS.StoreLanes(TS.Load(s + lanes), a.Mult + m0 + lanes, a.E + m0 + lanes, a.KE + (m0 + lanes) / 2, a.KO + (m0 + lanes) / 2, zero, lo, hi, bytes + lanes);
        }
        else
            for (int j = 0; j < cols; j++) bytes[j] = (byte)Requantize.Clamped(s[j], a.Pm[m0 + j], a.Psh[m0 + j], a.ZY, a.Lo, a.Hi);
    }

    /// <summary>Positions whose int32 sums a vpdpbusd panel keeps on the stack before requantizing them (12 KB).</summary>
    const int Chunk = 192;

    /// <summary>
    /// vpdpbusd panels (TD: <see cref="DotVnni"/> or its emulation): 16 output channels (two 256-bit vectors) per panel,
    /// outermost, the panel's weights reordered once into quads of input channels per channel (64 bytes per quad: a
    /// vector load, no shuffle in the loop); tiles of 6 positions, each position's quad broadcast from the quad plane.
    /// 12 accumulators, 2 weight vectors and the broadcast: the 16 registers VEX has (a panel of 8 or fewer channels:
    /// <see cref="LaneTileHalf"/>'s 12 positions x one vector). The tiles of a chunk of positions
    /// write their sums side by side, then <see cref="RequantizeRows"/> turns them into bytes in one loop: requantized
    /// per tile, the constants did not stay in registers and the requantization took longer than the dot products.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Lanes<TD>(in Args a) where TD : IQDot256
    {
        const int width = 16;
        int* sums = stackalloc int[Chunk * width];
        int* w4 = stackalloc int[a.Quads * width];
        byte* bytes = stackalloc byte[Chunk * width];
        for (int m0 = 0; m0 < a.OutC; m0 += width)
        {
            int cols = Math.Min(width, a.OutC - m0);
            PanelQuads(a.W, a.Mp, m0, a.Quads, a.Pairs, w4);
            for (int c0 = 0; c0 < a.Plane; c0 += Chunk)
            {
                int n = Math.Min(Chunk, a.Plane - c0);
                int* x = a.X + (long)c0 * a.RowStride;
                int p0 = 0;
                // 8 or fewer channels (a MobileNet projection to 8): tiles of 12 positions x one vector, none of it wasted
                if (cols <= 8)
                    for (; p0 + 12 <= n; p0 += 12)
                        LaneTileHalf<TD>(x + (long)p0 * a.RowStride, a.RowStride, a.Step, w4, a.Quads, a.Bias + m0, sums + p0 * width);
                for (; p0 < n; p0 += Rows)
                    LaneTile<TD>(Math.Min(Rows, n - p0), x + (long)p0 * a.RowStride, a.RowStride, a.Step, w4, a.Quads, a.Bias + m0, sums + p0 * width);
                Store<Vector256<int>, Q256>(a, m0, cols, sums, width, n, c0, bytes);
            }
        }
    }

    /// <summary>
    /// n rows of sums (stride ints apart; columns m0.., cols of them, at most 16) requantized per lane into bytes: row r's
    /// cols bytes at y + r * ld. The bounded form 16 lanes at a time where the vectors allow (one 512-bit vector per row,
    /// or two of 256 bits; lanes past cols are computed and dropped), else TS's <see cref="Requantized"/> (the scalar
    /// reference outside the bounded form). No call inside the loops: one spilled the constants and reloaded them every row.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static void RequantizeRows<TV, TS>(in Args a, int m0, int cols, int* sums, int stride, int n, byte* y, nint ld)
        where TV : struct where TS : IQSimd<TV>, IQBounded<TV>
    {
        const int width = 16;
        byte* tmp = stackalloc byte[width + 16];
        int bits = SimdLevel.Bits;
        if (a.Bounded && bits >= 512 && Avx512F.IsSupported)
        {
            var m = Vector512.Load(a.Mult + m0);
            var mOdd = Vector512.ShiftRightLogical(m.AsInt64(), 32).AsInt32();
            var e = Vector512.Load((uint*)a.E + m0);
            var kE = Vector512.Load(a.KE + m0 / 2); var kO = Vector512.Load(a.KO + m0 / 2);
            var zero = Vector512.Create(a.ZY); var lo = Vector512.Create(a.Lo); var hi = Vector512.Create(a.Hi);
            for (int r = 0; r < n; r++, y += ld)
            {
                var v = Avx512F.ConvertToVector128Byte(Vector512.Min(Vector512.Max(Q512.LaneShifted(Vector512.Load(sums + r * stride), m, mOdd, e, kE, kO) + zero, lo), hi));
                if (cols == width) v.Store(y);
                else Part(v, y, cols);
            }
            return;
        }
        if (a.Bounded && bits >= 256 && Avx2.IsSupported)
        {
            var k = new LaneConstants(a, m0);
            var z = Vector256.Create(a.ZY); var l = Vector256.Create(a.Lo); var h = Vector256.Create(a.Hi);
            for (int r = 0; r < n; r++, y += ld)
            {
                var v = Bytes16(Vector256.Load(sums + r * stride), Vector256.Load(sums + r * stride + 8), k, z, l, h);
                if (cols == width) v.Store(y);
                else Part(v, y, cols);
            }
            return;
        }
        TV zv = TS.Splat(a.ZY), lv = TS.Splat(a.Lo), hv = TS.Splat(a.Hi);
        int g = 2 * TS.Lanes;
        for (int r = 0; r < n; r++, y += ld)
        {
            for (int j = 0; j < cols; j += g) Requantized<TV, TS>(a, m0 + j, Math.Min(g, cols - j), sums + r * stride + j, tmp + j, zv, lv, hv);
            for (int j = 0; j < cols; j++) y[j] = tmp[j];
        }
    }

    /// <summary>The first cols (below 16) bytes of v at y: 8, 4, 2 and 1 at a time (a byte loop through a stack copy took a third of an 8-channel layer).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Part(Vector128<byte> v, byte* y, int cols)
    {
        int j = 0;
        if ((cols & 8) != 0) { *(ulong*)y = v.AsUInt64().ToScalar(); v = Vector128.Shuffle(v, Vector128.Create((byte)8, 9, 10, 11, 12, 13, 14, 15, 0, 0, 0, 0, 0, 0, 0, 0)); j = 8; }
        if ((cols & 4) != 0) { *(uint*)(y + j) = v.AsUInt32().ToScalar(); v = Vector128.Shuffle(v, Vector128.Create((byte)4, 5, 6, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)); j += 4; }
        if ((cols & 2) != 0) { *(ushort*)(y + j) = v.AsUInt16().ToScalar(); v = Vector128.Shuffle(v, Vector128.Create((byte)2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)); j += 2; }
        if ((cols & 1) != 0) y[j] = v.ToScalar();
    }

    /// <summary>
    /// n rows of 16 bytes (a position's channels) transposed into the first cols channel planes at y (plane apart):
    /// eight rows at a time by unpacks (the scalar transposed store took as long as the dot products), the last eight
    /// shifted back to overlap the ones before; fewer than eight rows one byte at a time.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static void Planes(byte* rows, int n, byte* y, long plane, int cols)
    {
        if (n < 8 || !(Sse2.IsSupported || AdvSimd.Arm64.IsSupported))
        {
            for (int j = 0; j < cols; j++)
                for (int r = 0; r < n; r++) y[j * plane + r] = rows[r * 16 + j];
            return;
        }
        for (int r = 0; ; r += 8)
        {
            if (r > n - 8) r = n - 8;
            StoreTransposed(rows + r * 16, y + r, plane, cols);
            if (r == n - 8) return;
        }
    }

    /// <summary>The bounded requantization's per-lane constants of 16 columns (Q256.StoreLanes' operands) as vectors.</summary>
    readonly struct LaneConstants
    {
        public readonly Vector256<int> M0, M1, MOdd0, MOdd1, E0, E1;
        public readonly Vector256<long> KE0, KE1, KO0, KO1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public LaneConstants(in Args a, int m0)
        {
            M0 = Vector256.Load(a.Mult + m0); M1 = Vector256.Load(a.Mult + m0 + 8);
            MOdd0 = Vector256.ShiftRightLogical(M0.AsInt64(), 32).AsInt32(); MOdd1 = Vector256.ShiftRightLogical(M1.AsInt64(), 32).AsInt32();
            E0 = Vector256.Load(a.E + m0); E1 = Vector256.Load(a.E + m0 + 8);
            KE0 = Vector256.Load(a.KE + m0 / 2); KE1 = Vector256.Load(a.KE + m0 / 2 + 4);
            KO0 = Vector256.Load(a.KO + m0 / 2); KO1 = Vector256.Load(a.KO + m0 / 2 + 4);
        }
    }

    /// <summary>16 columns' accumulators (a0: 0-7, a1: 8-15) requantized as Q256.StoreLanes does, narrowed to 16 bytes in registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<byte> Bytes16(Vector256<int> a0, Vector256<int> a1, in LaneConstants k, Vector256<int> zero, Vector256<int> lo, Vector256<int> hi)
    {
        var r0 = Q256.LaneValues(a0, k.M0, k.MOdd0, k.E0, k.KE0, k.KO0, zero, lo, hi);
        var r1 = Q256.LaneValues(a1, k.M1, k.MOdd1, k.E1, k.KE1, k.KO1, zero, lo, hi);
        // clamped: every value fits a byte, so truncating keeps it (vpmovdb: two instructions and an unpack)
        if (Avx512F.VL.IsSupported)
            return Sse2.UnpackLow(Avx512F.VL.ConvertToVector128Byte(r0).AsUInt64(), Avx512F.VL.ConvertToVector128Byte(r1).AsUInt64()).AsByte();
        var s = Vector256.Narrow(r0, r1);
        return Vector256.Narrow(s, s).GetLower().AsByte();
    }

    /// <summary>
    /// Rows 0-7 of 16 bytes (channel j at byte j) to 8 bytes per channel (rows in order) at y + j * plane, j &lt; cols:
    /// three rounds of unpacks (bytes, words, dwords) turn the 8 x 16 block into 16 x 8.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void StoreTransposed(byte* t, byte* y, long plane, int cols)
    {
        Vector128<byte> r0 = Vector128.Load(t), r1 = Vector128.Load(t + 16), r2 = Vector128.Load(t + 32), r3 = Vector128.Load(t + 48);
        Vector128<byte> r4 = Vector128.Load(t + 64), r5 = Vector128.Load(t + 80), r6 = Vector128.Load(t + 96), r7 = Vector128.Load(t + 112);
        var a0 = QDotConv.ZipLow(r0, r1).AsInt16(); var a1 = QDotConv.ZipHigh(r0, r1).AsInt16();
        var a2 = QDotConv.ZipLow(r2, r3).AsInt16(); var a3 = QDotConv.ZipHigh(r2, r3).AsInt16();
        var a4 = QDotConv.ZipLow(r4, r5).AsInt16(); var a5 = QDotConv.ZipHigh(r4, r5).AsInt16();
        var a6 = QDotConv.ZipLow(r6, r7).AsInt16(); var a7 = QDotConv.ZipHigh(r6, r7).AsInt16();
        // rows 0-3 and 4-7 of channels 0-3, 4-7, 8-11, 12-15 (a dword each)
        var b0 = QDotConv.ZipLow(a0, a2).AsInt32(); var b1 = QDotConv.ZipHigh(a0, a2).AsInt32();
        var b2 = QDotConv.ZipLow(a1, a3).AsInt32(); var b3 = QDotConv.ZipHigh(a1, a3).AsInt32();
        var c0 = QDotConv.ZipLow(a4, a6).AsInt32(); var c1 = QDotConv.ZipHigh(a4, a6).AsInt32();
        var c2 = QDotConv.ZipLow(a5, a7).AsInt32(); var c3 = QDotConv.ZipHigh(a5, a7).AsInt32();
        Two(QDotConv.ZipLow(b0, c0), y, plane, 0, cols); Two(QDotConv.ZipHigh(b0, c0), y, plane, 2, cols);
        Two(QDotConv.ZipLow(b1, c1), y, plane, 4, cols); Two(QDotConv.ZipHigh(b1, c1), y, plane, 6, cols);
        Two(QDotConv.ZipLow(b2, c2), y, plane, 8, cols); Two(QDotConv.ZipHigh(b2, c2), y, plane, 10, cols);
        Two(QDotConv.ZipLow(b3, c3), y, plane, 12, cols); Two(QDotConv.ZipHigh(b3, c3), y, plane, 14, cols);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Two(Vector128<int> v, byte* y, long plane, int j, int cols)
    {
        if (j < cols) *(long*)(y + j * plane) = v.AsInt64().ToScalar();
        if (j + 1 < cols) *(long*)(y + (j + 1) * plane) = v.AsInt64().GetElement(1);
    }

    /// <summary>
    /// Columns m0..m0 + 15 of the pair layout (mp columns per row of pairs) reordered into quads for <see
    /// cref="LaneTile{TD, R}"/>: w4[q * 16 + j] = column m0 + j's quad q, its second pair 0 past the last.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void PanelQuads(sbyte* w, int mp, int m0, int quads, int pairs, int* w4)
    {
        for (int q = 0; q < quads; q++, w4 += 16)
        {
            sbyte* wq = w + 2L * (2L * q * mp + m0);
            bool whole = 2 * q + 1 < pairs;
            var (w0, w1) = Quads(wq, 2 * mp, whole);
            var (w2, w3) = Quads(wq + 16, 2 * mp, whole);
            w0.AsInt32().Store(w4); w1.AsInt32().Store(w4 + 4);
            w2.AsInt32().Store(w4 + 8); w3.AsInt32().Store(w4 + 12);
        }
    }

    /// <summary><see cref="LaneTile{TD, R}"/> for 1 to 6 rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void LaneTile<TD>(int rows, int* x, int rowStride, int quadStride, int* w, int quads, int* bias, int* sums) where TD : IQDot256
    {
        switch (rows)
        {
            case 6: LaneTile<TD, R6>(x, rowStride, quadStride, w, quads, bias, sums); break;
            case 5: LaneTile<TD, R5>(x, rowStride, quadStride, w, quads, bias, sums); break;
            case 4: LaneTile<TD, R4>(x, rowStride, quadStride, w, quads, bias, sums); break;
            case 3: LaneTile<TD, R3>(x, rowStride, quadStride, w, quads, bias, sums); break;
            case 2: LaneTile<TD, R2>(x, rowStride, quadStride, w, quads, bias, sums); break;
            default: LaneTile<TD, R1>(x, rowStride, quadStride, w, quads, bias, sums); break;
        }
    }

    /// <summary>
    /// R.N positions or rows (r's quad q at x[r * rowStride + q * quadStride], broadcast) x 16 channels or columns (w: 16
    /// ints per quad), from the bias, into sums (rows 16 apart). QPointwise's quad plane: rowStride 1, quadStride the
    /// plane; QMatMulLanes' rows of bytes: rowStride the row's quads, quadStride 1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void LaneTile<TD, R>(int* x, int rowStride, int quadStride, int* w, int quads, int* bias, int* sums) where TD : IQDot256 where R : struct, IRows
    {
        Vector256<int> b0 = Vector256.Load(bias), b1 = Vector256.Load(bias + 8);
        Vector256<int> c00 = b0, c01 = b1, c10 = b0, c11 = b1, c20 = b0, c21 = b1, c30 = b0, c31 = b1, c40 = b0, c41 = b1, c50 = b0, c51 = b1;
        // one pointer, the rows at constant offsets from it (QPointwise's 1: displacements; no row pointers to spill)
        nint s = rowStride;
        for (int q = 0; q < quads; q++, x += quadStride, w += 16)
        {
            // each quad broadcast straight from memory (vpbroadcastd: a load)
            var w0 = Vector256.Load(w); var w1 = Vector256.Load(w + 8);
            var t = Vector256.Create(x[0]); c00 = TD.DotV(c00, t, w0); c01 = TD.DotV(c01, t, w1);
            if (R.N > 1) { t = Vector256.Create(x[s]); c10 = TD.DotV(c10, t, w0); c11 = TD.DotV(c11, t, w1); }
            if (R.N > 2) { t = Vector256.Create(x[2 * s]); c20 = TD.DotV(c20, t, w0); c21 = TD.DotV(c21, t, w1); }
            if (R.N > 3) { t = Vector256.Create(x[3 * s]); c30 = TD.DotV(c30, t, w0); c31 = TD.DotV(c31, t, w1); }
            if (R.N > 4) { t = Vector256.Create(x[4 * s]); c40 = TD.DotV(c40, t, w0); c41 = TD.DotV(c41, t, w1); }
            if (R.N > 5) { t = Vector256.Create(x[5 * s]); c50 = TD.DotV(c50, t, w0); c51 = TD.DotV(c51, t, w1); }
        }
        c00.Store(sums); c01.Store(sums + 8);
        if (R.N > 1) { c10.Store(sums + 16); c11.Store(sums + 24); }
        if (R.N > 2) { c20.Store(sums + 32); c21.Store(sums + 40); }
        if (R.N > 3) { c30.Store(sums + 48); c31.Store(sums + 56); }
        if (R.N > 4) { c40.Store(sums + 64); c41.Store(sums + 72); }
        if (R.N > 5) { c50.Store(sums + 80); c51.Store(sums + 88); }
    }

    /// <summary>
    /// 12 positions x the first 8 channels of <see cref="LaneTile{TD, R}"/>'s layout (w: 16 ints per quad, the first 8
    /// read), into sums rows 16 apart (lanes 8-15 left as they were): 12 accumulators, a weight vector and the broadcast.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void LaneTileHalf<TD>(int* x, int rowStride, int quadStride, int* w, int quads, int* bias, int* sums) where TD : IQDot256
    {
        Vector256<int> b = Vector256.Load(bias);
        Vector256<int> c0 = b, c1 = b, c2 = b, c3 = b, c4 = b, c5 = b, c6 = b, c7 = b, c8 = b, c9 = b, c10 = b, c11 = b;
        nint s = rowStride;
        for (int q = 0; q < quads; q++, x += quadStride, w += 16)
        {
            var w0 = Vector256.Load(w);
            c0 = TD.DotV(c0, Vector256.Create(x[0]), w0); c1 = TD.DotV(c1, Vector256.Create(x[s]), w0);
            c2 = TD.DotV(c2, Vector256.Create(x[2 * s]), w0); c3 = TD.DotV(c3, Vector256.Create(x[3 * s]), w0);
            c4 = TD.DotV(c4, Vector256.Create(x[4 * s]), w0); c5 = TD.DotV(c5, Vector256.Create(x[5 * s]), w0);
            c6 = TD.DotV(c6, Vector256.Create(x[6 * s]), w0); c7 = TD.DotV(c7, Vector256.Create(x[7 * s]), w0);
            c8 = TD.DotV(c8, Vector256.Create(x[8 * s]), w0); c9 = TD.DotV(c9, Vector256.Create(x[9 * s]), w0);
            c10 = TD.DotV(c10, Vector256.Create(x[10 * s]), w0); c11 = TD.DotV(c11, Vector256.Create(x[11 * s]), w0);
        }
        c0.Store(sums); c1.Store(sums + 16); c2.Store(sums + 32); c3.Store(sums + 48); c4.Store(sums + 64); c5.Store(sums + 80);
        c6.Store(sums + 96); c7.Store(sums + 112); c8.Store(sums + 128); c9.Store(sums + 144); c10.Store(sums + 160); c11.Store(sums + 176);
    }

    /// <summary><see cref="Tile{TV, TS, R}"/> for 1 to 6 rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Tile<TV, TS>(int rows, int* x, int rowStride, int pairStride, sbyte* w, int wStride, int pairs, int* bias, int* sums)
        where TV : struct where TS : IQSimd<TV>
    {
        switch (rows)
        {
            case 6: Tile<TV, TS, R6>(x, rowStride, pairStride, w, wStride, pairs, bias, sums); break;
            case 5: Tile<TV, TS, R5>(x, rowStride, pairStride, w, wStride, pairs, bias, sums); break;
            case 4: Tile<TV, TS, R4>(x, rowStride, pairStride, w, wStride, pairs, bias, sums); break;
            case 3: Tile<TV, TS, R3>(x, rowStride, pairStride, w, wStride, pairs, bias, sums); break;
            case 2: Tile<TV, TS, R2>(x, rowStride, pairStride, w, wStride, pairs, bias, sums); break;
            default: Tile<TV, TS, R1>(x, rowStride, pairStride, w, wStride, pairs, bias, sums); break;
        }
    }

    /// <summary>
    /// R.N rows (row r's pair k at x[r * rowStride + k * pairStride], int16 pairs) x 2 vectors of columns
    /// (w + k * wStride, int8 pairs), from the bias, into sums (rows 2 vectors apart). Positions of a pair plane here
    /// (row stride 1, pair stride the plane); rows of a matrix in <see cref="QMatMulLanes"/> (pair stride 1).
    /// A call of its own: inlined six times into a caller's switch, the 128-bit form passed the JIT's budget and called
    /// its vector helpers (scripts/check-inlining.sh, once QConvRows reached it).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal static void Tile<TV, TS, R>(int* x, int rowStride, int pairStride, sbyte* w, int wStride, int pairs, int* bias, int* sums)
        where TV : struct where TS : IQSimd<TV> where R : struct, IRows
    {
        int l = TS.Lanes, width = 2 * l;
        int* x1 = x + rowStride, x2 = x1 + rowStride, x3 = x2 + rowStride, x4 = x3 + rowStride, x5 = x4 + rowStride;
        TV b0 = TS.Load(bias), b1 = TS.Load(bias + l);
        TV c00 = b0, c01 = b1, c10 = b0, c11 = b1, c20 = b0, c21 = b1, c30 = b0, c31 = b1, c40 = b0, c41 = b1, c50 = b0, c51 = b1;
        for (nint k = 0, end = (nint)pairs * pairStride; k < end; k += pairStride, w += wStride)
        {
            TV w0 = TS.LoadWidened(w), w1 = TS.LoadWidened(w + width);
            TV t = TS.Splat(x[k]); c00 = TS.Madd(t, w0, c00); c01 = TS.Madd(t, w1, c01);
            if (R.N > 1) { t = TS.Splat(x1[k]); c10 = TS.Madd(t, w0, c10); c11 = TS.Madd(t, w1, c11); }
            if (R.N > 2) { t = TS.Splat(x2[k]); c20 = TS.Madd(t, w0, c20); c21 = TS.Madd(t, w1, c21); }
            if (R.N > 3) { t = TS.Splat(x3[k]); c30 = TS.Madd(t, w0, c30); c31 = TS.Madd(t, w1, c31); }
            if (R.N > 4) { t = TS.Splat(x4[k]); c40 = TS.Madd(t, w0, c40); c41 = TS.Madd(t, w1, c41); }
            if (R.N > 5) { t = TS.Splat(x5[k]); c50 = TS.Madd(t, w0, c50); c51 = TS.Madd(t, w1, c51); }
        }
        Unsafe.Write(sums, c00); Unsafe.Write(sums + l, c01);
        if (R.N > 1) { Unsafe.Write(sums + width, c10); Unsafe.Write(sums + width + l, c11); }
        if (R.N > 2) { Unsafe.Write(sums + 2 * width, c20); Unsafe.Write(sums + 2 * width + l, c21); }
        if (R.N > 3) { Unsafe.Write(sums + 3 * width, c30); Unsafe.Write(sums + 3 * width + l, c31); }
        if (R.N > 4) { Unsafe.Write(sums + 4 * width, c40); Unsafe.Write(sums + 4 * width + l, c41); }
        if (R.N > 5) { Unsafe.Write(sums + 5 * width, c50); Unsafe.Write(sums + 5 * width + l, c51); }
    }

    /// <summary>
    /// Quad (2q, 2q + 1) of the pair rows at w (wStride bytes apart) for 8 output channels: two vectors of 4 channels x
    /// 4 input channels, the pairs zipped (pair 2q + 1 past the last: 0).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (Vector128<sbyte>, Vector128<sbyte>) Quads(sbyte* w, int wStride, bool whole)
    {
        var lo = Vector128.Load((short*)w);
        var hi = whole ? Vector128.Load((short*)(w + wStride)) : default;
        return (QDotConv.ZipLow(lo, hi).AsSByte(), QDotConv.ZipHigh(lo, hi).AsSByte());
    }

    /// <summary>
    /// b[m] -= zq * (output channel m's weights summed), for mp channels of a layout whose rows of pairs are 2 stride
    /// bytes apart. AVX2: 32 channels at a time, vpmaddubsw of each row of pairs
    /// with ones (a pair's sum in an int16 lane, exact), summed in int16 over at most 127 rows, then widened; elsewhere 8
    /// at a time, dot products with ones (on x64 they took a tenth of a 128 -> 128 layer on 36 positions, per call).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Correct<TD>(sbyte* w, int* b, int mp, int stride, int pairs, int zq) where TD : IQDot
    {
        if (zq == 0) return;
        if (Avx2.IsSupported)
        {
            var one = Vector256.Create((byte)1);
            for (int m0 = 0; m0 < mp; m0 += 32) // mp: a multiple of 32, a cache line of pairs per row
            {
                Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
                for (int c0 = 0; c0 < pairs; c0 += 127)
                {
                    Vector256<short> lo = default, hi = default; // |sum| <= 127 x 256
                    sbyte* p = w + 2L * ((long)c0 * stride + m0);
                    for (int c2 = c0, end = Math.Min(pairs, c0 + 127); c2 < end; c2++, p += 2L * stride)
                    {
                        lo += Avx2.MultiplyAddAdjacent(one, Vector256.Load(p));
                        hi += Avx2.MultiplyAddAdjacent(one, Vector256.Load(p + 32));
                    }
                    s0 += Avx2.ConvertToVector256Int32(lo.GetLower()); s1 += Avx2.ConvertToVector256Int32(lo.GetUpper());
                    s2 += Avx2.ConvertToVector256Int32(hi.GetLower()); s3 += Avx2.ConvertToVector256Int32(hi.GetUpper());
                }
                (Vector256.Load(b + m0) - s0 * zq).Store(b + m0); (Vector256.Load(b + m0 + 8) - s1 * zq).Store(b + m0 + 8);
                (Vector256.Load(b + m0 + 16) - s2 * zq).Store(b + m0 + 16); (Vector256.Load(b + m0 + 24) - s3 * zq).Store(b + m0 + 24);
            }
            return;
        }
        var ones = Vector128.Create((sbyte)1);
        for (int m0 = 0; m0 < mp; m0 += 8)
        {
            Vector128<int> s0 = default, s1 = default;
            for (int c2 = 0; c2 < pairs; c2 += 2)
            {
                var (w0, w1) = Quads(w + 2L * (c2 * stride + m0), 2 * stride, c2 + 1 < pairs);
                s0 = TD.Dot(s0, ones, w0); s1 = TD.Dot(s1, ones, w1);
            }
            (Vector128.Load(b + m0) - s0 * zq).Store(b + m0);
            (Vector128.Load(b + m0 + 4) - s1 * zq).Store(b + m0 + 4);
        }
    }

    /// <summary>
    /// <see cref="Tile{TV, TS, R}"/> on dot products: R.N positions (x[q * step + r * rowStride], int8 quads of input channels, broadcast) x 2
    /// vectors of 4 channels (w as <see cref="Quads"/> reads it), from the bias, into sums. The last quad of an odd
    /// number of pairs outside the loop (no branch in it: the accumulators stay in registers).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void DotTile<TD, R>(int* x, nint rowStride, int step, sbyte* w, int wStride, int quads, int pairs, int* bias, int* sums) where TD : IQDot where R : struct, IRows
    {
        Vector128<int> b0 = Vector128.Load(bias), b1 = Vector128.Load(bias + 4);
        Vector128<int> c00 = b0, c01 = b1, c10 = b0, c11 = b1, c20 = b0, c21 = b1, c30 = b0, c31 = b1, c40 = b0, c41 = b1, c50 = b0, c51 = b1;
        int full = pairs / 2;
        for (int q = 0; q < full; q++, x += step, w += 2 * wStride)
        {
            var (w0, w1) = Quads(w, wStride, true);
            DotStep<TD, R>(x, rowStride, w0, w1, ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
        }
        if (full < quads)
        {
            var (w0, w1) = Quads(w, wStride, false);
            DotStep<TD, R>(x, rowStride, w0, w1, ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
        }
        c00.Store(sums); c01.Store(sums + 4);
        if (R.N > 1) { c10.Store(sums + 8); c11.Store(sums + 12); }
        if (R.N > 2) { c20.Store(sums + 16); c21.Store(sums + 20); }
        if (R.N > 3) { c30.Store(sums + 24); c31.Store(sums + 28); }
        if (R.N > 4) { c40.Store(sums + 32); c41.Store(sums + 36); }
        if (R.N > 5) { c50.Store(sums + 40); c51.Store(sums + 44); }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void DotStep<TD, R>(int* x, nint s, Vector128<sbyte> w0, Vector128<sbyte> w1, ref Vector128<int> c00, ref Vector128<int> c01, ref Vector128<int> c10, ref Vector128<int> c11,
        ref Vector128<int> c20, ref Vector128<int> c21, ref Vector128<int> c30, ref Vector128<int> c31, ref Vector128<int> c40, ref Vector128<int> c41,
        ref Vector128<int> c50, ref Vector128<int> c51) where TD : IQDot where R : struct, IRows
    {
        var t = Vector128.Create(x[0]).AsSByte(); c00 = TD.Dot(c00, t, w0); c01 = TD.Dot(c01, t, w1);
        if (R.N > 1) { t = Vector128.Create(x[s]).AsSByte(); c10 = TD.Dot(c10, t, w0); c11 = TD.Dot(c11, t, w1); }
        if (R.N > 2) { t = Vector128.Create(x[2 * s]).AsSByte(); c20 = TD.Dot(c20, t, w0); c21 = TD.Dot(c21, t, w1); }
        if (R.N > 3) { t = Vector128.Create(x[3 * s]).AsSByte(); c30 = TD.Dot(c30, t, w0); c31 = TD.Dot(c31, t, w1); }
        if (R.N > 4) { t = Vector128.Create(x[4 * s]).AsSByte(); c40 = TD.Dot(c40, t, w0); c41 = TD.Dot(c41, t, w1); }
        if (R.N > 5) { t = Vector128.Create(x[5 * s]).AsSByte(); c50 = TD.Dot(c50, t, w0); c51 = TD.Dot(c51, t, w1); }
    }
}
