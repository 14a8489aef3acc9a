using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

/// <summary>
/// int8 depthwise convolution with a block of channels in the lanes (8 per 256-bit vector, 16 per 512-bit one; AVX2
/// at least), bit-exact with <see cref="QConv.Depthwise2D"/>'s other path and ModelGen.Compiler.Quant.FixedPoint. Per
/// band of output rows and block of channels: the input bytes are transposed (8 x 16 byte transposes) into a padded
/// plane with the channels in the lanes (padding: the zero point); one run of unpacks then pairs each row with the row
/// dilH below, widened to int16 less the zero point (the pairs vpmaddwd multiplies by a pair of kernel rows); every
/// output position is the taps' vpmaddwd of whole vectors, eight positions at a time, requantized per lane (vectors of
/// multipliers and variable shifts) and transposed as bytes into the output planes. The last block of channels, band
/// of rows and group of positions are shifted back to overlap the one before (same values computed twice), so channel
/// counts that are not a multiple of the lanes take the same code. Per-channel overhead no longer scales with the
/// plane: a 25 x 5 plane is 16 groups of 8 positions per block of 16 channels, not ~11 vectors per channel. Channels
/// last on either side (an int8 chain's layout) there are no transposes: the pair rows are made straight from the input
/// rows (no stage; the padded columns' pairs written once per call), and a position's block of channel bytes is one
/// store out.
/// </summary>
internal static unsafe class QDepthwise
{
    const int PairInts = 6144;     // the band's paired plane (int32 pairs, a block of channels per position): 24 KiB
    const int StageBytes = 8192;   // the band's plane of bytes, spare positions included: 8 KiB
    const int MaxPositions = 1024; // input positions of a band, and output positions of a band
    internal const int MaxTaps = 64; // pairs of kernel rows x columns

    /// <summary>
    /// The benchmarks' A/B switch (`experiment qdw`, int8models' MODELGEN_QDW_OFF) and the tests' way to the fallbacks:
    /// true leaves every call on the calling thread to the per-channel kernel (channels last: QDepthwiseLast).
    /// </summary>
    [ThreadStatic] internal static bool Off;

    /// <summary>
    /// <see cref="QConv.Depthwise2D"/>'s operation (w packed as <see cref="QConv.DepthwiseScratch"/> says). Returns
    /// false (nothing written) without AVX2, below 256-bit vectors, with fewer channels than the lanes, more than
    /// <see cref="MaxTaps"/> tap pairs, shifts outside QuantizeMultiplier's [-31, 30], or a band of one output row
    /// that does not fit the stack buffers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool TryRun(byte* x, sbyte* w, int* bias, int* mult, int* shift, byte* y,
        int batch, int channels, int inH, int inW, int kH, int kW, int outH, int outW,
        int sh, int sw, int pt, int pl, int dh, int dw, bool signed, int xZero, int yZero, int qmin, int qmax, bool nhwcIn = false, bool nhwcOut = false)
    {
        int bits = SimdLevel.Bits;
        if (Off || !Avx2.IsSupported || bits < 256 || channels < 8) return false;
        for (int c = 0; c < channels; c++) if (shift[c] < -31 || shift[c] > 30) return false;
        var a = new Args
        {
            X = x, W = w, Bias = bias, Mult = mult, Shift = shift, Y = y, Batch = batch, Channels = channels, InH = inH, InW = inW,
            KH = kH, KW = kW, OutH = outH, OutW = outW, SH = sh, SW = sw, PT = pt, PL = pl, DH = dh, DW = dw,
            Signed = signed, XZero = xZero, YZero = yZero, Lo = qmin, Hi = qmax, NhwcIn = nhwcIn, NhwcOut = nhwcOut,
        };
        // sixteen channels per vector from 32 channels: fewer instructions per output (64x25x5 5.7 vs 6.4 us, 128x6x6
        // 3.6 vs 4.2 on Zen 4); with 16, bands of rows twice as tall in the same stack at 8 (16x48x48 stride 2: 7.9 vs 9.3).
        // Channels last, from 16: no transposes, and one block instead of two (16x48x48 stride 2 0.8x the time of 8 lanes)
        int wide = nhwcIn || nhwcOut ? 16 : 32;
        return bits >= 512 && channels >= wide && Avx512BW.IsSupported && Run<Vector512<int>, D512>(a) || Run<Vector256<int>, D256>(a);
    }

    struct Args
    {
        public byte* X, Y; public sbyte* W; public int* Bias, Mult, Shift;
        public int Batch, Channels, InH, InW, KH, KW, OutH, OutW, SH, SW, PT, PL, DH, DW, XZero, YZero, Lo, Hi;
        public bool Signed;
        /// <summary>x / y channels last ([batch, H, W, channels]): a block's bytes of a position are one copy in, one store out.</summary>
        public bool NhwcIn, NhwcOut;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static bool Run<TV, S>(in Args a) where TV : struct where S : IDwSimd<TV>
    {
        int l = S.Lanes, rowPairs = (a.KH + 1) / 2, taps = rowPairs * a.KW;
        int wp = (a.OutW - 1) * a.SW + (a.KW - 1) * a.DW + 1;    // padded row: every column some output reads
        int span = 2 * (rowPairs - 1) * a.DH;                    // pair rows below an output row's first
        // pair rows (each with the row dH below) that fit; a position to spare in each buffer (an odd run of 8 channels
        // pairs one position too many) and the bytes' spare position
        int rowsFit = Math.Min(PairInts / l - 1, StageBytes / l - 3) / wp - a.DH;
        if (taps > MaxTaps || rowsFit < span + 1) return false;
        int bo = Math.Min(a.OutH, Math.Min(MaxPositions / a.OutW, (rowsFit - span - 1) / a.SH + 1));
        if (bo < 1) return false;
        bo = (a.OutH + (a.OutH + bo - 1) / bo - 1) / ((a.OutH + bo - 1) / bo); // bands of equal height, the last one full
        int pairRows = (bo - 1) * a.SH + span + 1, stageRows = pairRows + a.DH, n = bo * a.OutW;
        if ((long)stageRows * a.InW > MaxPositions) return false;

        int inPlane = a.InH * a.InW, outPlane = a.OutH * a.OutW, spare = stageRows * wp * l;
        int* inPos = stackalloc int[MaxPositions];
        int* outPos = stackalloc int[MaxPositions + 7];
        int* tapOff = stackalloc int[MaxTaps];
        int* wt = stackalloc int[MaxTaps * 16];
        // 64-byte aligned: every vector load of the pairs within one cache line
        byte* buf = stackalloc byte[PairInts * 4 + StageBytes + 64];
        int* pairs = (int*)(((nint)buf + 63) & ~(nint)63);
        byte* stage = (byte*)(pairs + PairInts);
        // input rows of at least 8 that fit their padded row: staged 16 (or 8) columns at a time into consecutive
        // places; otherwise one list of padded places for the band's rows (every band has as many), columns no output
        // reads going to the spare position
        bool byRows = a.InW >= 8 && a.PL + a.InW <= wp;
        if (!byRows && !a.NhwcIn) InputPlaces(inPos, stageRows, a.InW, a.PL, wp, l, spare);
        // the taps read pair rows oy * sh + 2 * p * dh: with sh = 2, the even ones only
        bool pairAll = a.SH != 2;
        // rows of at least 8 outputs, stride 1 or 2 along them: eight neighbours at a time, addressed from one pointer
        bool rows = a.OutW >= 8 && a.SW <= 2;
        Places(outPos, bo, a.OutW, a.SH * wp * l, a.SW * l);
        // a last group of fewer than eight reads the last position again in its spare lanes
        for (int q = n; q < n + 7; q++) outPos[q] = outPos[n - 1];
        for (int p = 0, t = 0; p < rowPairs; p++)
            for (int j = 0; j < a.KW; j++) tapOff[t++] = (2 * p * a.DH * wp + j * a.DW) * l;
        // |sum of taps| <= kH * kW * 255 * 128 < 2^23 (at most 128 taps): biases below 2^29 keep every accumulator below 2^30
        bool small = true;
        for (int c = 0; c < a.Channels; c++) small &= a.Bias[c] > -(1 << 29) && a.Bias[c] < 1 << 29;
        // padding is the zero point (0 once subtracted); the padding columns are never written: filled once per call
        byte pad = (byte)a.XZero;
        // channels-last input is paired straight from x, the padded columns' pairs (zero once the zero point is
        // subtracted) written once per call; a row outside the input reads l bytes of the zero point, step 0
        byte* padRow = stackalloc byte[16];
        new Span<byte>(padRow, 16).Fill(pad);
        if (a.NhwcIn) new Span<int>(pairs, pairRows * wp * l).Clear();
        else new Span<byte>(stage, spare + 2 * l).Fill(pad);
        int inside = Math.Min(a.InW, wp - a.PL); // input columns some output reads
        var zero = Vector256.Create((short)a.XZero);
        for (int nb = 0; nb < a.Batch; nb++)
        {
            byte* xb = a.X + (long)nb * a.Channels * inPlane, yb = a.Y + (long)nb * a.Channels * outPlane;
            for (int b0 = 0; b0 < a.OutH; b0 += bo)
            {
                int oy0 = Math.Min(b0, a.OutH - bo), top = oy0 * a.SH - a.PT;
                int iy0 = Math.Max(0, top), iy1 = Math.Max(iy0, Math.Min(a.InH, top + stageRows));
                // padded rows outside the input (an earlier band may have staged input there)
                if (!a.NhwcIn)
                {
                    new Span<byte>(stage, (iy0 - top) * wp * l).Fill(pad);
                    new Span<byte>(stage + (iy1 - top) * wp * l, (stageRows - (iy1 - top)) * wp * l).Fill(pad);
                }
                int pin = (iy1 - iy0) * a.InW;
                int* pos = inPos + (iy0 - top) * a.InW;
                for (int c0 = 0; c0 < a.Channels; c0 += l)
                {
                    if (c0 > a.Channels - l) c0 = a.Channels - l;
                    // channels last: the block's bytes of each position are already side by side; each pair row is
                    // made straight from its two input rows (the rows the taps read: with sh = 2, every other one)
                    if (a.NhwcIn)
                    {
                        if (inside > 0)
                            PairLast(pairs + a.PL * l, wp * l, xb + c0, a.InW * a.Channels, a.Channels, top, pairRows, pairAll ? 1 : a.SH, a.DH, a.InH,
                                padRow, inside, l, a.Signed, zero);
                    }
                    else
                    {
                        // the block's bytes, eight channels at a time (8 x 16 byte transposes), into the lanes of each position
                        for (int h = 0; h < l; h += 8)
                        {
                            byte* xc = xb + (long)(c0 + h) * inPlane + iy0 * a.InW;
                            if (byRows)
                            {
                                int k = a.InW >= 16 ? 16 : 8;
                                for (int iy = iy0; iy < iy1; iy++)
                                {
                                    byte* xr = xc + (iy - iy0) * a.InW, d = stage + ((iy - top) * wp + a.PL) * l + h;
                                    for (int ix = 0; ; ix += k)
                                    {
                                        if (ix > a.InW - k) ix = a.InW - k;
                                        Transpose(xr + ix, inPlane, k, d + ix * l, l, null);
                                        if (ix == a.InW - k) break;
                                    }
                                }
                            }
                            else if (pin >= 8)
                            {
                                int k = pin >= 16 ? 16 : 8;
                                for (int p = 0; ; p += k)
                                {
                                    if (p > pin - k) p = pin - k;
                                    Transpose(xc + p, inPlane, k, stage + h, 0, pos + p);
                                    if (p == pin - k) break;
                                }
                            }
                            else
                                for (int p = 0; p < pin; p++)
                                    for (int c = 0; c < 8; c++) stage[pos[p] + h + c] = xc[c * inPlane + p];
                        }
                        // each row paired with the row dilH below, lane by lane, widened less the zero point: one run over
                        // the band, or (stride 2 along H) only the rows the taps read, every other one
                        if (pairAll) Pair(pairs, stage, stage + a.DH * wp * l, pairRows * wp, l, a.Signed, zero);
                        else
                            for (int r = 0; r < pairRows; r += a.SH)
                                Pair(pairs + r * wp * l, stage + r * wp * l, stage + (r + a.DH) * wp * l, wp, l, a.Signed, zero);
                    }
                    var rq = S.Prepare(a.Mult + c0, a.Shift + c0, a.YZero, a.Lo, a.Hi, small);
                    TV vb = S.Load(a.Bias + c0);
                    // the block's weights widened once (the kernels' loops then step one pointer through them)
                    for (int t = 0; t < taps; t++) Unsafe.Write(wt + t * l, S.LoadWidened(a.W + ((long)t * a.Channels + c0) * 2));
                    // channels last: output position q's block at yc + q * channels (-channels: Store8's flag for it)
                    byte* yc = a.NhwcOut ? yb + (long)oy0 * a.OutW * a.Channels + c0 : yb + (long)c0 * outPlane + oy0 * a.OutW;
                    int ld = a.NhwcOut ? -a.Channels : outPlane;
                    if (rows && a.SW == 1) Rows<TV, S, Sw1>(pairs, wp, a.SH, bo, a.OutW, tapOff, wt, taps, vb, rq, yc, ld);
                    else if (rows) Rows<TV, S, Sw2>(pairs, wp, a.SH, bo, a.OutW, tapOff, wt, taps, vb, rq, yc, ld);
                    else Positions<TV, S>(pairs, outPos, n, tapOff, wt, taps, vb, rq, yc, ld);
                }
            }
        }
        return true;
    }

    /// <summary>
    /// n output positions of one block of channels: bias + sum over taps of w[t] . pairs[outPos[q] + tapOff[t]]
    /// (vpmaddwd; wt: the block's weights, a vector per tap), eight positions at a time,
    /// then requantized and stored (<see cref="Store8"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static void Positions<TV, S>(int* pairs, int* outPos, int n, int* tapOff, int* wt, int taps, TV vb, in Lanes<TV> rq, byte* y, int outPlane)
        where TV : struct where S : IDwSimd<TV>
    {
        ulong* part = stackalloc ulong[8];
        for (int q = 0; q < n; q += 8)
        {
            // a last group of fewer than eight: shifted back to end at n (the same work as a partial group, written whole)
            if (q > n - 8 && n >= 8) q = n - 8;
            int* s0 = pairs + outPos[q], s1 = pairs + outPos[q + 1], s2 = pairs + outPos[q + 2], s3 = pairs + outPos[q + 3];
            int* s4 = pairs + outPos[q + 4], s5 = pairs + outPos[q + 5], s6 = pairs + outPos[q + 6], s7 = pairs + outPos[q + 7];
            TV a0 = vb, a1 = vb, a2 = vb, a3 = vb, a4 = vb, a5 = vb, a6 = vb, a7 = vb;
            int* w = wt;
            for (int* to = tapOff, end = tapOff + taps; to < end; to++, w += S.Lanes)
            {
                nint o = *to;
                TV wv = S.Load(w);
                a0 = S.Madd(S.Load(s0 + o), wv, a0); a1 = S.Madd(S.Load(s1 + o), wv, a1);
                a2 = S.Madd(S.Load(s2 + o), wv, a2); a3 = S.Madd(S.Load(s3 + o), wv, a3);
                a4 = S.Madd(S.Load(s4 + o), wv, a4); a5 = S.Madd(S.Load(s5 + o), wv, a5);
                a6 = S.Madd(S.Load(s6 + o), wv, a6); a7 = S.Madd(S.Load(s7 + o), wv, a7);
            }
            Store8<TV, S>(a0, a1, a2, a3, a4, a5, a6, a7, rq, outPlane < 0 ? y - (nint)q * outPlane : y + q, outPlane, Math.Min(8, n - q), part);
        }
    }

    /// <summary>
    /// <see cref="Positions"/> for bo rows of outW (at least 8) outputs, stride TS.N along them: groups of eight
    /// neighbours in a row (the last one of a row shifted back to end at its end), each tap's eight inputs at constant
    /// offsets from one pointer.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static void Rows<TV, S, TS>(int* pairs, int wp, int sh, int bo, int outW, int* tapOff, int* wt, int taps, TV vb, in Lanes<TV> rq, byte* y, int outPlane)
        where TV : struct where S : IDwSimd<TV> where TS : struct, IStrideW
    {
        int s = TS.N * S.Lanes;
        for (int oy = 0; oy < bo; oy++)
            for (int ox = 0; ; ox += 8)
            {
                if (ox > outW - 8) ox = outW - 8;
                int* r = pairs + (oy * sh * wp + ox * TS.N) * S.Lanes;
                TV a0 = vb, a1 = vb, a2 = vb, a3 = vb, a4 = vb, a5 = vb, a6 = vb, a7 = vb;
                int* w = wt;
                for (int* to = tapOff, end = tapOff + taps; to < end; to++, w += S.Lanes)
                {
                    int* x = r + *to;
                    TV wv = S.Load(w);
                    a0 = S.Madd(S.Load(x), wv, a0); a1 = S.Madd(S.Load(x + s), wv, a1);
                    a2 = S.Madd(S.Load(x + 2 * s), wv, a2); a3 = S.Madd(S.Load(x + 3 * s), wv, a3);
                    a4 = S.Madd(S.Load(x + 4 * s), wv, a4); a5 = S.Madd(S.Load(x + 5 * s), wv, a5);
                    a6 = S.Madd(S.Load(x + 6 * s), wv, a6); a7 = S.Madd(S.Load(x + 7 * s), wv, a7);
                }
                nint at = oy * outW + ox;
                Store8<TV, S>(a0, a1, a2, a3, a4, a5, a6, a7, rq, outPlane < 0 ? y - at * outPlane : y + at, outPlane, 8, null);
                if (ox == outW - 8) break;
            }
    }

    /// <summary>
    /// Eight positions' accumulators (ai: position i, a lane per channel) requantized, narrowed to bytes and transposed
    /// eight channels at a time (8 x 8 bytes) into the planes at y, outPlane apart; the first cnt positions only.
    /// outPlane &lt; 0: channels last, position i's Lanes bytes stored whole at y - i * outPlane.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store8<TV, S>(TV a0, TV a1, TV a2, TV a3, TV a4, TV a5, TV a6, TV a7, in Lanes<TV> rq, byte* y, int outPlane, int cnt, ulong* part)
        where TV : struct where S : IDwSimd<TV>
    {
        Vector128<byte> b0 = S.Bytes(a0, rq), b1 = S.Bytes(a1, rq), b2 = S.Bytes(a2, rq), b3 = S.Bytes(a3, rq);
        Vector128<byte> b4 = S.Bytes(a4, rq), b5 = S.Bytes(a5, rq), b6 = S.Bytes(a6, rq), b7 = S.Bytes(a7, rq);
        if (outPlane < 0)
        {
            nint ld = -outPlane;
            Put(b0, y, S.Lanes); if (cnt > 1) Put(b1, y + ld, S.Lanes); if (cnt > 2) Put(b2, y + 2 * ld, S.Lanes); if (cnt > 3) Put(b3, y + 3 * ld, S.Lanes);
            if (cnt > 4) Put(b4, y + 4 * ld, S.Lanes); if (cnt > 5) Put(b5, y + 5 * ld, S.Lanes); if (cnt > 6) Put(b6, y + 6 * ld, S.Lanes); if (cnt > 7) Put(b7, y + 7 * ld, S.Lanes);
            return;
        }
        Transpose8(Sse2.UnpackLow(b0, b1), Sse2.UnpackLow(b2, b3), Sse2.UnpackLow(b4, b5), Sse2.UnpackLow(b6, b7), y, outPlane, cnt, part);
        if (S.Lanes == 16)
            Transpose8(Sse2.UnpackHigh(b0, b1), Sse2.UnpackHigh(b2, b3), Sse2.UnpackHigh(b4, b5), Sse2.UnpackHigh(b6, b7), y + 8 * (nint)outPlane, outPlane, cnt, part);
    }

    /// <summary>A position's Lanes channel bytes (the low ones of b) to y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Put(Vector128<byte> b, byte* y, int lanes)
    {
        if (lanes == 16) b.Store(y); else *(ulong*)y = b.AsUInt64().ToScalar();
    }

    /// <summary>
    /// Each staged input position's place in the padded rows (rows wp positions of l bytes; columns no output reads: the
    /// spare position). A call of its own: inside <see cref="Run{TV, S}"/> its locals lived on the stack.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static void InputPlaces(int* inPos, int rows, int inW, int pl, int wp, int l, int spare)
    {
        for (int r = 0, at = 0; r < rows; r++)
            for (int ix = 0; ix < inW; ix++, at++)
            {
                int px = ix + pl;
                inPos[at] = px < wp ? (r * wp + px) * l : spare;
            }
    }

    /// <summary>
    /// A band's pair rows r = 0, step, 2 step ... below rows (dst + r * rowLd: the row's first inside column) from a
    /// channels-last x (x: the block's first channel; rows xRow bytes apart, positions xPos): row top + r paired with
    /// row top + r + dh, n positions, lane by lane (l = 16 or 8 channels), widened less the zero point. A row outside
    /// the input reads the zero point's l bytes at pad for every position. One call per block with the sign outside
    /// the loops: called per row, small planes spent more in the calls than in the rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static void PairLast(int* dst, nint rowLd, byte* x, nint xRow, nint xPos, int top, int rows, int step, int dh, int inH, byte* pad,
        int n, int l, bool signed, Vector256<short> zero)
    {
        for (int r = 0; r < rows; r += step)
        {
            int iy = top + r, iyd = iy + dh;
            byte* lo = iy >= 0 && iy < inH ? x + iy * xRow : pad, hi = iyd >= 0 && iyd < inH ? x + iyd * xRow : pad;
            nint ls = lo == pad ? 0 : xPos, hs = hi == pad ? 0 : xPos;
            int* d = dst + r * rowLd, end = d + n * l;
            if (l == 16)
            {
                var z = Vector512.Create(zero.ToScalar());
                if (signed)
                    for (; d < end; d += 16, lo += ls, hi += hs)
                    {
                        Vector128<byte> a = Vector128.Load(lo), b = Vector128.Load(hi);
                        (Avx512BW.ConvertToVector512Int16(Vector256.Create(Sse2.UnpackLow(a, b), Sse2.UnpackHigh(a, b)).AsSByte()) - z).Store((short*)d);
                    }
                else
                    for (; d < end; d += 16, lo += ls, hi += hs)
                    {
                        Vector128<byte> a = Vector128.Load(lo), b = Vector128.Load(hi);
                        (Avx512BW.ConvertToVector512Int16(Vector256.Create(Sse2.UnpackLow(a, b), Sse2.UnpackHigh(a, b))) - z).Store((short*)d);
                    }
            }
            else if (signed)
                for (; d < end; d += 8, lo += ls, hi += hs)
                {
                    Vector128<byte> a = Vector128.CreateScalarUnsafe(*(ulong*)lo).AsByte(), b = Vector128.CreateScalarUnsafe(*(ulong*)hi).AsByte();
                    (Avx2.ConvertToVector256Int16(Sse2.UnpackLow(a, b).AsSByte()) - zero).Store((short*)d);
                }
            else
                for (; d < end; d += 8, lo += ls, hi += hs)
                {
                    Vector128<byte> a = Vector128.CreateScalarUnsafe(*(ulong*)lo).AsByte(), b = Vector128.CreateScalarUnsafe(*(ulong*)hi).AsByte();
                    (Avx2.ConvertToVector256Int16(Sse2.UnpackLow(a, b)) - zero).Store((short*)d);
                }
        }
    }

    /// <summary>
    /// The byte transpose's last two steps: pk holds positions 2k, 2k + 1 of channels 0..7 interleaved; channel c's
    /// eight positions go to y + c * outPlane (8 bytes; the first cnt when fewer, through part).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Transpose8(Vector128<byte> p0, Vector128<byte> p1, Vector128<byte> p2, Vector128<byte> p3, byte* y, nint outPlane, int cnt, ulong* part)
    {
        Vector128<short> c0 = Sse2.UnpackLow(p0.AsInt16(), p1.AsInt16()), c1 = Sse2.UnpackHigh(p0.AsInt16(), p1.AsInt16());
        Vector128<short> c2 = Sse2.UnpackLow(p2.AsInt16(), p3.AsInt16()), c3 = Sse2.UnpackHigh(p2.AsInt16(), p3.AsInt16());
        Vector128<ulong> d0 = Sse2.UnpackLow(c0.AsInt32(), c2.AsInt32()).AsUInt64(), d1 = Sse2.UnpackHigh(c0.AsInt32(), c2.AsInt32()).AsUInt64();
        Vector128<ulong> d2 = Sse2.UnpackLow(c1.AsInt32(), c3.AsInt32()).AsUInt64(), d3 = Sse2.UnpackHigh(c1.AsInt32(), c3.AsInt32()).AsUInt64();
        if (cnt == 8)
        {
            *(ulong*)y = d0.ToScalar(); *(ulong*)(y + outPlane) = d0.GetElement(1);
            *(ulong*)(y + 2 * outPlane) = d1.ToScalar(); *(ulong*)(y + 3 * outPlane) = d1.GetElement(1);
            *(ulong*)(y + 4 * outPlane) = d2.ToScalar(); *(ulong*)(y + 5 * outPlane) = d2.GetElement(1);
            *(ulong*)(y + 6 * outPlane) = d3.ToScalar(); *(ulong*)(y + 7 * outPlane) = d3.GetElement(1);
            return;
        }
        d0.Store(part); d1.Store(part + 2); d2.Store(part + 4); d3.Store(part + 6);
        for (int c = 0; c < 8; c++)
            for (int i = 0; i < cnt; i++) y[c * outPlane + i] = ((byte*)(part + c))[i];
    }

    /// <summary>
    /// Eight channels (lds apart) x k (16 or 8) input positions of bytes transposed (8 x 16 byte transpose, three
    /// rounds of unpacks): position i's eight channels go to dst + i * ld, or dst + pos[i] where pos is given.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Transpose(byte* src, nint lds, int k, byte* dst, nint ld, int* pos)
    {
        Vector128<byte> r0 = Row(src, k), r1 = Row(src + lds, k), r2 = Row(src + 2 * lds, k), r3 = Row(src + 3 * lds, k);
        Vector128<byte> r4 = Row(src + 4 * lds, k), r5 = Row(src + 5 * lds, k), r6 = Row(src + 6 * lds, k), r7 = Row(src + 7 * lds, k);
        // channel pairs, then quads, then all eight per position
        Vector128<short> a0 = Sse2.UnpackLow(r0, r1).AsInt16(), a1 = Sse2.UnpackHigh(r0, r1).AsInt16(), a2 = Sse2.UnpackLow(r2, r3).AsInt16(), a3 = Sse2.UnpackHigh(r2, r3).AsInt16();
        Vector128<short> a4 = Sse2.UnpackLow(r4, r5).AsInt16(), a5 = Sse2.UnpackHigh(r4, r5).AsInt16(), a6 = Sse2.UnpackLow(r6, r7).AsInt16(), a7 = Sse2.UnpackHigh(r6, r7).AsInt16();
        Vector128<int> b0 = Sse2.UnpackLow(a0, a2).AsInt32(), b1 = Sse2.UnpackHigh(a0, a2).AsInt32(), b4 = Sse2.UnpackLow(a4, a6).AsInt32(), b5 = Sse2.UnpackHigh(a4, a6).AsInt32();
        Store2(Sse2.UnpackLow(b0, b4).AsUInt64(), dst, ld, pos, 0);
        Store2(Sse2.UnpackHigh(b0, b4).AsUInt64(), dst, ld, pos, 2);
        Store2(Sse2.UnpackLow(b1, b5).AsUInt64(), dst, ld, pos, 4);
        Store2(Sse2.UnpackHigh(b1, b5).AsUInt64(), dst, ld, pos, 6);
        if (k == 8) return;
        Vector128<int> b2 = Sse2.UnpackLow(a1, a3).AsInt32(), b3 = Sse2.UnpackHigh(a1, a3).AsInt32(), b6 = Sse2.UnpackLow(a5, a7).AsInt32(), b7 = Sse2.UnpackHigh(a5, a7).AsInt32();
        Store2(Sse2.UnpackLow(b2, b6).AsUInt64(), dst, ld, pos, 8);
        Store2(Sse2.UnpackHigh(b2, b6).AsUInt64(), dst, ld, pos, 10);
        Store2(Sse2.UnpackLow(b3, b7).AsUInt64(), dst, ld, pos, 12);
        Store2(Sse2.UnpackHigh(b3, b7).AsUInt64(), dst, ld, pos, 14);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<byte> Row(byte* p, int k) => k == 16 ? Vector128.Load(p) : Vector128.CreateScalarUnsafe(*(ulong*)p).AsByte();

    /// <summary>Positions i and i + 1 (eight channel bytes each, in v) to their places.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store2(Vector128<ulong> v, byte* dst, nint ld, int* pos, int i)
    {
        if (pos == null && ld == 8) { v.Store((ulong*)(dst + i * 8)); return; } // eight lanes: neighbours are adjacent
        byte* d0 = pos == null ? dst + i * ld : dst + pos[i], d1 = pos == null ? d0 + ld : dst + pos[i + 1];
        *(ulong*)d0 = v.ToScalar(); *(ulong*)d1 = v.GetElement(1);
    }

    /// <summary>pos[oy * outW + ox] = oy * rowStep + ox * colStep: a band's output places (its own small loop: in Run's body the JIT kept its operands on the stack).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static void Places(int* pos, int rows, int outW, int rowStep, int colStep)
    {
        for (int oy = 0; oy < rows; oy++)
            for (int ox = 0, v = oy * rowStep; ox < outW; ox++, v += colStep) pos[oy * outW + ox] = v;
    }

    /// <summary>
    /// dst[k] = (lo[k] - zero, hi[k] - zero) as int16 pairs, lane by lane, for n positions of l (8 or 16) channel bytes;
    /// eight channels take two positions a step (an odd n pairs one more). A call of its own with the sign outside the
    /// loop: inlined into Run, the loop tested it and reloaded the zero point from the stack every step.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static void Pair(int* dst, byte* lo, byte* hi, int n, int l, bool signed, Vector256<short> zero)
    {
        int end = n * l;
        if (signed)
            for (int k = 0; k < end; k += 16)
            {
                Vector128<byte> a = Vector128.Load(lo + k), b = Vector128.Load(hi + k);
                (Avx2.ConvertToVector256Int16(Sse2.UnpackLow(a, b).AsSByte()) - zero).Store((short*)(dst + k));
                (Avx2.ConvertToVector256Int16(Sse2.UnpackHigh(a, b).AsSByte()) - zero).Store((short*)(dst + k + 8));
            }
        else
            for (int k = 0; k < end; k += 16)
            {
                Vector128<byte> a = Vector128.Load(lo + k), b = Vector128.Load(hi + k);
                (Avx2.ConvertToVector256Int16(Sse2.UnpackLow(a, b)) - zero).Store((short*)(dst + k));
                (Avx2.ConvertToVector256Int16(Sse2.UnpackHigh(a, b)) - zero).Store((short*)(dst + k + 8));
            }
    }
}

/// <summary>Per-lane requantization constants (one channel per lane): TFLite's fixed point with each lane's shift.</summary>
internal readonly struct Lanes<TV> where TV : struct
{
    public readonly TV Mult, MultOdd, Left, Right, Mask, Half, Nudge, Neg, Zero, Lo, Hi, KE, KO;
    /// <summary>
    /// No lane shifts left and every accumulator is below 2^30 in magnitude: the rounding division is then
    /// (h + 2^(right - 1) - (h &lt; 0)) >> right (right > 0; h itself for 0), which cannot overflow.
    /// </summary>
    public readonly bool Short;
    /// <summary>
    /// Short and every lane shifts right (right &gt;= 1): <see cref="IQBounded{TV}"/>'s form, the rounding inside the
    /// 64-bit constants of the even lanes (KE) and of the odd (KO), [h &lt; 0] taken as [acc &lt; 0].
    /// </summary>
    public readonly bool Bounded;
    /// <summary>Bounded, int8 output clamped to [-128, 127] and the zero point inside KE/KO (Bounded.FoldsZero): a saturating narrow is the clamp.</summary>
    public readonly bool Saturated;

    /// <summary>multOdd: the odd lanes' multipliers in the even lanes (the operand of the odd lanes' vpmuldq).</summary>
    public Lanes(TV mult, TV multOdd, TV left, TV right, TV mask, TV half, TV nudge, TV neg, TV zero, TV lo, TV hi, TV kE, TV kO,
        bool isShort, bool bounded, bool saturated)
    {
        Mult = mult; MultOdd = multOdd; Left = left; Right = right; Mask = mask; Half = half; Nudge = nudge; Neg = neg; Zero = zero; Lo = lo; Hi = hi;
        KE = kE; KO = kO; Short = isShort; Bounded = bounded; Saturated = saturated;
    }

    /// <summary>
    /// Whether a block of channels takes the bounded form (every accumulator below 2^30: small; every shift right), and
    /// whether its zero point folds into the constants with int8's full range as the clamp.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe (bool Bounded, bool Saturated) Forms(int* shift, int lanes, int yZero, int lo, int hi, bool small)
    {
        bool bounded = small;
        int deepest = 0;
        for (int l = 0; l < lanes; l++) { bounded &= shift[l] < 0; deepest = Math.Min(deepest, shift[l]); }
        // whether the zero point folds grows harder with the shift: the deepest lane decides for all
        return (bounded, bounded && lo == -128 && hi == 127 && global::ModelGen.Runtime.Bounded.FoldsZero(&deepest, 1, yZero));
    }

    /// <summary>
    /// The 64-bit rounding constants of <see cref="IQBounded{TV}"/> for lanes with right shifts e (as int64 lanes: the
    /// even int32 lanes' shifts, or the odd ones' moved down), the zero point inside where folded:
    /// 2^30 + 2^(30 + e) + z 2^(31 + e) (<see cref="Bounded.K(int, int)"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<long> K(Vector512<long> e, long zero)
        => Vector512.Create(1L << 30) + Avx512F.ShiftLeftLogicalVariable(Vector512.Create(1L << 30) + Vector512.Create(zero << 31), e.AsUInt64());

    /// <summary><see cref="K(Vector512{long}, long)"/> for four lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<long> K(Vector256<long> e, long zero)
        => Vector256.Create(1L << 30) + Avx2.ShiftLeftLogicalVariable(Vector256.Create(1L << 30) + Vector256.Create(zero << 31), e.AsUInt64());
}

/// <summary>One vector width of <see cref="QDepthwise"/>: a lane per channel, int32 lanes holding int16 pairs.</summary>
internal unsafe interface IDwSimd<TV> where TV : struct
{
    static abstract int Lanes { get; }
    static abstract TV Load(int* p);
    /// <summary>2 x Lanes int8 values sign-extended to Lanes int16 pairs (the weights as compiled in).</summary>
    static abstract TV LoadWidened(sbyte* p);
    /// <summary>acc + a0*b0 + a1*b1 per lane (vpmaddwd).</summary>
    static abstract TV Madd(TV pairs, TV w, TV acc);
    /// <summary>The lanes' constants from Lanes channels' multipliers and shifts; small: every accumulator below 2^30 in magnitude.</summary>
    static abstract Lanes<TV> Prepare(int* mult, int* shift, int yZero, int lo, int hi, bool small);
    /// <summary>Requantize.Clamped lane by lane, narrowed to the low Lanes bytes.</summary>
    static abstract Vector128<byte> Bytes(TV acc, in Lanes<TV> p);
}

internal unsafe struct D256 : IDwSimd<Vector256<int>>
{
    public static int Lanes => 8;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> Load(int* p) => Vector256.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> LoadWidened(sbyte* p) => Avx2.ConvertToVector256Int16(p).AsInt32();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Madd(Vector256<int> a, Vector256<int> b, Vector256<int> acc) => acc + Avx2.MultiplyAddAdjacent(a.AsInt16(), b.AsInt16());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes<Vector256<int>> Prepare(int* mult, int* shift, int yZero, int lo, int hi, bool small)
    {
        var s = Vector256.Load(shift);
        var left = Vector256.Max(s, Vector256<int>.Zero);
        var right = Vector256.Max(-s, Vector256<int>.Zero);
        var mask = Avx2.ShiftLeftLogicalVariable(Vector256<int>.One, right.AsUInt32()) - Vector256<int>.One;
        var m = Vector256.Load(mult);
        var (bounded, saturated) = Lanes<Vector256<int>>.Forms(shift, 8, yZero, lo, hi, small);
        long z = saturated ? yZero : 0;
        var kE = Lanes<Vector256<int>>.K(right.AsInt64() & Vector256.Create(0xFFFFFFFFL), z);
        var kO = Lanes<Vector256<int>>.K(Vector256.ShiftRightLogical(right.AsInt64(), 32), z);
        return new(m, Vector256.ShiftRightLogical(m.AsInt64(), 32).AsInt32(), left, right, mask, Vector256.ShiftRightArithmetic(mask, 1),
            Vector256.ShiftRightLogical(mask + Vector256<int>.One, 1), ~Vector256.Equals(right, Vector256<int>.Zero),
            Vector256.Create(yZero), Vector256.Create(lo), Vector256.Create(hi), kE.AsInt32(), kO.AsInt32(), small && left == Vector256<int>.Zero,
            bounded, saturated);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> Bytes(Vector256<int> acc, in Lanes<Vector256<int>> p)
    {
        Vector256<int> r;
        if (p.Bounded)
        {
            r = Q256.LaneShifted(acc, p.Mult, p.MultOdd, p.Right, p.KE.AsInt64(), p.KO.AsInt64());
            if (p.Saturated && Avx512F.VL.IsSupported) return Avx512F.VL.ConvertToVector128SByteWithSaturation(r).AsByte();
            if (p.Saturated) r = Vector256.Min(Vector256.Max(r, p.Lo), p.Hi);
            else r = Vector256.Min(Vector256.Max(r + p.Zero, p.Lo), p.Hi);
            if (Avx512F.VL.IsSupported) return Avx512F.VL.ConvertToVector128Byte(r);
            var n = Vector256.Narrow(r, r);
            return Vector256.Narrow(n, n).GetLower().AsByte();
        }
        if (p.Short)
        {
            var h = HighMul(acc, p.Mult, p.MultOdd);
            r = Avx2.ShiftRightArithmeticVariable(h + p.Nudge + (Vector256.ShiftRightArithmetic(h, 31) & p.Neg), p.Right.AsUInt32());
        }
        else
        {
            var h = HighMul(Avx2.ShiftLeftLogicalVariable(acc, p.Left.AsUInt32()), p.Mult, p.MultOdd);
            var threshold = p.Half - Vector256.ShiftRightArithmetic(h, 31);
            r = Avx2.ShiftRightArithmeticVariable(h, p.Right.AsUInt32()) - Vector256.GreaterThan(h & p.Mask, threshold);
        }
        r = Vector256.Min(Vector256.Max(r + p.Zero, p.Lo), p.Hi);
        if (Avx512F.VL.IsSupported) return Avx512F.VL.ConvertToVector128Byte(r); // vpmovdb: the clamped values fit a byte
        var s = Vector256.Narrow(r, r);
        return Vector256.Narrow(s, s).GetLower().AsByte();
    }

    /// <summary>
    /// Requantize's SaturatingRoundingDoublingHighMul (bits 31..62 of a * m + 2^30) with a multiplier per lane: the odd
    /// lanes' products take the odd lanes of m (mOdd: m shifted down to the even lanes).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> HighMul(Vector256<int> a, Vector256<int> m, Vector256<int> mOdd)
    {
        var round = Vector256.Create(1L << 30);
        var even = Avx2.Multiply(a, m) + round;
        var odd = Avx2.Multiply(Vector256.ShiftRightLogical(a.AsInt64(), 32).AsInt32(), mOdd) + round;
        return Avx2.Blend(Vector256.ShiftRightLogical(even, 31).AsInt32(), Vector256.ShiftLeft(odd, 1).AsInt32(), 0xAA);
    }
}

internal unsafe struct D512 : IDwSimd<Vector512<int>>
{
    public static int Lanes => 16;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<int> Load(int* p) => Vector512.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<int> LoadWidened(sbyte* p) => Avx512BW.ConvertToVector512Int16(Vector256.Load(p)).AsInt32();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> Madd(Vector512<int> a, Vector512<int> b, Vector512<int> acc) => acc + Avx512BW.MultiplyAddAdjacent(a.AsInt16(), b.AsInt16());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes<Vector512<int>> Prepare(int* mult, int* shift, int yZero, int lo, int hi, bool small)
    {
        var s = Vector512.Load(shift);
        var left = Vector512.Max(s, Vector512<int>.Zero);
        var right = Vector512.Max(-s, Vector512<int>.Zero);
        var mask = Avx512F.ShiftLeftLogicalVariable(Vector512<int>.One, right.AsUInt32()) - Vector512<int>.One;
        var m = Vector512.Load(mult);
        var (bounded, saturated) = Lanes<Vector512<int>>.Forms(shift, 16, yZero, lo, hi, small);
        long z = saturated ? yZero : 0;
        var kE = Lanes<Vector512<int>>.K(right.AsInt64() & Vector512.Create(0xFFFFFFFFL), z);
        var kO = Lanes<Vector512<int>>.K(Vector512.ShiftRightLogical(right.AsInt64(), 32), z);
        return new(m, Vector512.ShiftRightLogical(m.AsInt64(), 32).AsInt32(), left, right, mask, Vector512.ShiftRightArithmetic(mask, 1),
            Vector512.ShiftRightLogical(mask + Vector512<int>.One, 1), ~Vector512.Equals(right, Vector512<int>.Zero),
            Vector512.Create(yZero), Vector512.Create(lo), Vector512.Create(hi), kE.AsInt32(), kO.AsInt32(), small && left == Vector512<int>.Zero,
            bounded, saturated);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> Bytes(Vector512<int> acc, in Lanes<Vector512<int>> p)
    {
        Vector512<int> r;
        if (p.Bounded)
        {
            r = Q512.LaneShifted(acc, p.Mult, p.MultOdd, p.Right.AsUInt32(), p.KE.AsInt64(), p.KO.AsInt64());
            if (p.Saturated) return Avx512F.ConvertToVector128SByteWithSaturation(r).AsByte();
            return Avx512F.ConvertToVector128Byte(Vector512.Min(Vector512.Max(r + p.Zero, p.Lo), p.Hi));
        }
        if (p.Short)
        {
            var h = HighMul(acc, p.Mult, p.MultOdd);
            r = Avx512F.ShiftRightArithmeticVariable(h + p.Nudge + (Vector512.ShiftRightArithmetic(h, 31) & p.Neg), p.Right.AsUInt32());
        }
        else
        {
            var h = HighMul(Avx512F.ShiftLeftLogicalVariable(acc, p.Left.AsUInt32()), p.Mult, p.MultOdd);
            var threshold = p.Half - Vector512.ShiftRightArithmetic(h, 31);
            r = Avx512F.ShiftRightArithmeticVariable(h, p.Right.AsUInt32()) - Vector512.GreaterThan(h & p.Mask, threshold);
        }
        return Avx512F.ConvertToVector128Byte(Vector512.Min(Vector512.Max(r + p.Zero, p.Lo), p.Hi));
    }

    /// <summary><see cref="D256"/>'s HighMul, sixteen lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<int> HighMul(Vector512<int> a, Vector512<int> m, Vector512<int> mOdd)
    {
        var round = Vector512.Create(1L << 30);
        var even = Avx512F.Multiply(a, m) + round;
        var odd = Avx512F.Multiply(Vector512.ShiftRightLogical(a.AsInt64(), 32).AsInt32(), mOdd) + round;
        return Vector512.ConditionalSelect(Vector512.Create(unchecked((long)0xFFFFFFFF00000000UL)).AsInt32(),
            Vector512.ShiftLeft(odd, 1).AsInt32(), Vector512.ShiftRightLogical(even, 31).AsInt32());
    }
}
