using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

/// <summary>
/// int8 convolution for generated code (QConvInt8), NCHW: y = requantize(bias + sum (x - xZero) * w), bit-exact with
/// ModelGen.Compiler.Quant.FixedPoint. Every shape (pointwise, strided, padded, grouped, depthwise) runs as a GEMM
/// with the weights as rows: the input patches of up to <see cref="PanelColumns"/> output positions are packed as
/// int16 pairs along the reduction (im2col, padding 0 after the zero point is subtracted) into the caller's scratch,
/// then each tile of 4 output channels x 2 vectors of positions accumulates in registers and is requantized there.
/// </summary>
public static unsafe class QConv
{
    /// <summary>Output positions per packed panel: scratch holds kp * PanelColumns int16 (kp = (inC / groups * kH * kW) rounded up to even).</summary>
    public const int PanelColumns = 128;

    /// <summary>
    /// x [batch, inC, inH, inW] bytes (int8 when <paramref name="xSigned"/>, else uint8); w [outC, kp] int16 (rows of
    /// inC / groups * kH * kW weights, padded to even); bias, multiplier, shift [outC]; y [batch, outC, outH, outW]
    /// bytes clamped to [qmin, qmax]. Allocation-free.
    /// </summary>
    public static void Conv2D(ReadOnlySpan<byte> x, ReadOnlySpan<short> w, ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> shift,
        Span<byte> y, Span<short> scratch,
        int batch, int inC, int inH, int inW, int outC, int kH, int kW, int outH, int outW,
        int strideH, int strideW, int padTop, int padLeft, int dilH, int dilW, int groups,
        bool xSigned, int xZero, int yZero, int qmin, int qmax)
    {
        if (batch < 0 || inC <= 0 || inH <= 0 || inW <= 0 || outC <= 0 || kH <= 0 || kW <= 0 || outH < 0 || outW < 0
            || strideH <= 0 || strideW <= 0 || dilH <= 0 || dilW <= 0 || padTop < 0 || padLeft < 0 || groups <= 0
            || inC % groups != 0 || outC % groups != 0)
            throw new ArgumentOutOfRangeException(nameof(groups), "QConv.Conv2D: invalid geometry");
        int icg = inC / groups, ocg = outC / groups, k = icg * kH * kW, kp = (k + 1) & ~1, plane = outH * outW;
        if (x.Length < (long)batch * inC * inH * inW || w.Length < (long)outC * kp || y.Length < (long)batch * outC * plane
            || bias.Length < outC || multiplier.Length < outC || shift.Length < outC || scratch.Length < (long)kp * PanelColumns)
            throw new ArgumentException("QConv.Conv2D: sizes do not agree");
        CheckMultipliers(multiplier, outC);
        if (batch == 0 || plane == 0) return;
        var g = new Geo
        {
            InH = inH, InW = inW, KH = kH, KW = kW, OutW = outW, SH = strideH, SW = strideW, PT = padTop, PL = padLeft, DH = dilH, DW = dilW,
            K = k, Kp = kp, Plane = plane, Signed = xSigned, XZero = xZero,
        };
        fixed (byte* px = x, py = y) fixed (short* pw = w, ps = scratch) fixed (int* pb = bias, pm = multiplier, psh = shift)
        {
            var t = new Tile { Panel = ps, Bias = pb, Mult = pm, Shift = psh, Kp = kp, ZY = yZero, Lo = qmin, Hi = qmax, Ldy = plane };
            for (int nb = 0; nb < batch; nb++)
                for (int gr = 0; gr < groups; gr++)
                {
                    byte* xg = px + ((long)nb * inC + (long)gr * icg) * inH * inW;
                    for (int p0 = 0; p0 < plane; p0 += PanelColumns)
                    {
                        int pc = Math.Min(PanelColumns, plane - p0);
                        Pack(ps, xg, g, p0, pc);
                        t.W = pw + (long)gr * ocg * kp;
                        t.Row0 = gr * ocg;
                        t.Y = py + ((long)nb * outC + (long)gr * ocg) * plane + p0;
                        t.Rows = ocg; t.Cols = pc;
                        switch (SimdLevel.Bits)
                        {
                            case 512 when Avx512BW.IsSupported: Tiles<Vector512<int>, Q512>(t); break;
                            case 512 or 256 when Avx2.IsSupported: Tiles<Vector256<int>, Q256>(t); break;
                            case 0: TilesScalar(t); break;
                            default: Tiles<Vector128<int>, Q128>(t); break;
                        }
                    }
                }
        }
    }

    internal static void CheckMultipliers(ReadOnlySpan<int> multiplier, int n)
    {
        for (int i = 0; i < n; i++) if (multiplier[i] < 0) throw new ArgumentException("requantization multipliers must be non-negative", nameof(multiplier));
    }

    struct Geo { public int InH, InW, KH, KW, OutW, SH, SW, PT, PL, DH, DW, K, Kp, Plane, XZero; public bool Signed; }

    /// <summary>dst[i] = x[i] - zero for n bytes (int8 or uint8).</summary>
    internal static void Widen(short* dst, byte* src, int n, bool signed, int zero)
    {
        int i = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            var z = Vector128.Create((short)zero);
            for (; i + 16 <= n; i += 16)
            {
                var b = Vector128.Load(src + i);
                Vector128<short> lo, hi;
                if (signed) (lo, hi) = Vector128.Widen(b.AsSByte());
                else { var (l, h) = Vector128.Widen(b); lo = l.AsInt16(); hi = h.AsInt16(); }
                (lo - z).Store(dst + i); (hi - z).Store(dst + i + 8);
            }
        }
        if (signed) for (; i < n; i++) dst[i] = (short)((sbyte)src[i] - zero);
        else for (; i < n; i++) dst[i] = (short)(src[i] - zero);
    }

    /// <summary>
    /// Packs the patches of output positions [p0, p0 + pc) as int16 pairs: panel[(kp2 * PanelColumns + col) * 2 + (k &amp; 1)]
    /// = x(tap k, position p0 + col) - xZero, 0 for padding and for columns past pc (up to a whole tile).
    /// </summary>
    static void Pack(short* panel, byte* x, in Geo g, int p0, int pc)
    {
        short* a = stackalloc short[PanelColumns];
        short* b = stackalloc short[PanelColumns];
        int khw = g.KH * g.KW;
        for (int k = 0; k < g.Kp; k += 2)
        {
            Row(a, x, g, k, khw, p0, pc);
            if (k + 1 < g.K) Row(b, x, g, k + 1, khw, p0, pc); else new Span<short>(b, PanelColumns).Clear();
            Interleave(panel + (long)k * PanelColumns, a, b);
        }
    }

    /// <summary>One tap's values over the panel's columns.</summary>
    static void Row(short* dst, byte* x, in Geo g, int k, int khw, int p0, int pc)
    {
        int c = k / khw, i = k % khw / g.KW, j = k % g.KW;
        byte* xc = x + (long)c * g.InH * g.InW;
        int col = 0, oh = p0 / g.OutW, ow = p0 % g.OutW;
        while (col < pc)
        {
            int run = Math.Min(g.OutW - ow, pc - col);
            int ih = oh * g.SH - g.PT + i * g.DH;
            if ((uint)ih >= (uint)g.InH) new Span<short>(dst + col, run).Clear();
            else
            {
                byte* xr = xc + (long)ih * g.InW;
                int iw0 = ow * g.SW - g.PL + j * g.DW; // input column of the run's first position
                if (g.SW == 1)
                {
                    int lo = Math.Clamp(-iw0, 0, run), hi = Math.Clamp(g.InW - iw0, lo, run);
                    new Span<short>(dst + col, lo).Clear();
                    Widen(dst + col + lo, xr + iw0 + lo, hi - lo, g.Signed, g.XZero);
                    new Span<short>(dst + col + hi, run - hi).Clear();
                }
                else
                    for (int t = 0; t < run; t++)
                    {
                        int iw = iw0 + t * g.SW;
                        dst[col + t] = (uint)iw >= (uint)g.InW ? (short)0 : (short)((g.Signed ? (sbyte)xr[iw] : xr[iw]) - g.XZero);
                    }
            }
            col += run; ow = 0; oh++;
        }
        new Span<short>(dst + pc, PanelColumns - pc).Clear();
    }

    /// <summary>dst[2i] = a[i], dst[2i + 1] = b[i] over the panel's width.</summary>
    static void Interleave(short* dst, short* a, short* b)
    {
        int i = 0;
        if (Sse2.IsSupported)
            for (; i < PanelColumns; i += 8)
            {
                var va = Sse2.LoadVector128(a + i); var vb = Sse2.LoadVector128(b + i);
                Sse2.Store(dst + 2 * i, Sse2.UnpackLow(va, vb)); Sse2.Store(dst + 2 * i + 8, Sse2.UnpackHigh(va, vb));
            }
        else if (AdvSimd.Arm64.IsSupported)
            for (; i < PanelColumns; i += 8)
            {
                var va = AdvSimd.LoadVector128(a + i); var vb = AdvSimd.LoadVector128(b + i);
                AdvSimd.Store(dst + 2 * i, AdvSimd.Arm64.ZipLow(va, vb)); AdvSimd.Store(dst + 2 * i + 8, AdvSimd.Arm64.ZipHigh(va, vb));
            }
        for (; i < PanelColumns; i++) { dst[2 * i] = a[i]; dst[2 * i + 1] = b[i]; }
    }

    struct Tile
    {
        public short* Panel, W; public int* Bias, Mult, Shift; public byte* Y;
        public int Kp, ZY, Lo, Hi, Ldy, Row0, Rows, Cols;
    }

    static void TilesScalar(Tile t)
    {
        for (int r = 0; r < t.Rows; r++)
        {
            int m = t.Row0 + r;
            short* wr = t.W + (long)r * t.Kp;
            for (int col = 0; col < t.Cols; col++)
            {
                int acc = t.Bias[m];
                for (int k = 0; k < t.Kp; k += 2)
                {
                    short* p = t.Panel + ((long)k * PanelColumns + 2 * col);
                    acc += p[0] * wr[k] + p[1] * wr[k + 1];
                }
                t.Y[(long)r * t.Ldy + col] = (byte)Requantize.Clamped(acc, t.Mult[m], t.Shift[m], t.ZY, t.Lo, t.Hi);
            }
        }
    }

    static void Tiles<TV, TS>(Tile t) where TV : struct where TS : IQSimd<TV>
    {
        int width = 2 * TS.Lanes;
        for (int col = 0; col < t.Cols; col += width)
        {
            int r = 0;
            for (; r + 4 <= t.Rows; r += 4) Kernel<TV, TS, R4>(t, r, col);
            for (; r < t.Rows; r++) Kernel<TV, TS, R1>(t, r, col);
        }
    }

    /// <summary>R.N output channels x 2 vectors of positions, accumulated over the whole reduction in registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Kernel<TV, TS, R>(Tile t, int r0, int col) where TV : struct where TS : IQSimd<TV> where R : IRows
    {
        int lanes = TS.Lanes, n = R.N;
        int m0 = t.Row0 + r0;
        short* w0 = t.W + (long)r0 * t.Kp, w1 = w0 + t.Kp, w2 = w1 + t.Kp, w3 = w2 + t.Kp;
        TV a0 = TS.Splat(t.Bias[m0]), b0 = a0;
        TV a1 = n > 1 ? TS.Splat(t.Bias[m0 + 1]) : a0, b1 = a1;
        TV a2 = n > 2 ? TS.Splat(t.Bias[m0 + 2]) : a0, b2 = a2;
        TV a3 = n > 3 ? TS.Splat(t.Bias[m0 + 3]) : a0, b3 = a3;
        short* p = t.Panel + 2 * col;
        for (int k = 0; k < t.Kp; k += 2, p += 2 * PanelColumns)
        {
            TV x0 = TS.Load(p), x1 = TS.Load(p + 2 * lanes);
            TV v = TS.Splat(*(int*)(w0 + k)); a0 = TS.Madd(x0, v, a0); b0 = TS.Madd(x1, v, b0);
            if (n > 1) { v = TS.Splat(*(int*)(w1 + k)); a1 = TS.Madd(x0, v, a1); b1 = TS.Madd(x1, v, b1); }
            if (n > 2) { v = TS.Splat(*(int*)(w2 + k)); a2 = TS.Madd(x0, v, a2); b2 = TS.Madd(x1, v, b2); }
            if (n > 3) { v = TS.Splat(*(int*)(w3 + k)); a3 = TS.Madd(x0, v, a3); b3 = TS.Madd(x1, v, b3); }
        }
        int c0 = Math.Min(lanes, t.Cols - col), c1 = Math.Min(lanes, t.Cols - col - lanes);
        Out<TV, TS>(t, r0, col, a0, b0, c0, c1);
        if (n > 1) Out<TV, TS>(t, r0 + 1, col, a1, b1, c0, c1);
        if (n > 2) Out<TV, TS>(t, r0 + 2, col, a2, b2, c0, c1);
        if (n > 3) Out<TV, TS>(t, r0 + 3, col, a3, b3, c0, c1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Out<TV, TS>(Tile t, int r, int col, TV a, TV b, int c0, int c1) where TV : struct where TS : IQSimd<TV>
    {
        int m = t.Row0 + r;
        byte* y = t.Y + (long)r * t.Ldy + col;
        int mult = t.Mult[m], sh = t.Shift[m];
        TS.Store(a, mult, sh, t.ZY, t.Lo, t.Hi, y, c0);
        if (c1 > 0) TS.Store(b, mult, sh, t.ZY, t.Lo, t.Hi, y + TS.Lanes, c1);
    }
}
