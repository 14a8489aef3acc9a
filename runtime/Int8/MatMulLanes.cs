using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

/// <summary>
/// int8 matrix products with two rows or more: y [m, n] = (x - xZero) [m, k] * w^T with the output columns in the
/// vector lanes, as <see cref="QPointwise"/> does for 1x1 convolutions. The rows are
/// widened once (less the zero point) and each int16 pair of a row is broadcast; each step of the reduction loads two
/// vectors of weight pairs (int8, sign-extended in the load) for a tile of 6 rows (QPointwise's tile), so a weight is widened once per 6
/// rows (the row kernel, <see cref="QGemm"/>, widens it for every row and sums across lanes for every output). The
/// int32 sums are requantized per lane (QGemmInt8: bias, a multiplier and shift per column, bit-exact with
/// ModelGen.Compiler.Quant.FixedPoint), written as they are, or scaled to float (multiply, then add the bias: the Cast,
/// Mul and Add of dynamic quantization). Exact. Where the CPU has vpdpbusd, the rows stay bytes and each quad of a row
/// is broadcast instead (<see cref="Quads{TD}"/>).
/// </summary>
public static unsafe class QMatMulLanes
{
    /// <summary>The weight layout's columns are padded to a multiple of this: QPointwise's layout, two 512-bit vectors of int32 lanes.</summary>
    public const int ColumnMultiple = QPointwise.ColumnMultiple;

    const int Rows = 6;

    /// <summary>int16 elements of scratch: the widened rows, aligned.</summary>
    public static int Scratch(int m, int k) => checked(m * ((k + 1) & ~1) + 32);

    /// <summary>
    /// x: [m, k] bytes (int8 when <paramref name="xSigned"/>, else uint8); w: int8 pairs per column,
    /// w[(c2 * np + j) * 2 + e] = weight (j, 2 c2 + e), np = n rounded up to <see cref="ColumnMultiple"/>, 0 past k and n;
    /// y: [m, n] int32 sums. Allocation-free.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunInt32(ReadOnlySpan<byte> x, ReadOnlySpan<sbyte> w, Span<int> y, Span<short> scratch, int m, int n, int k, bool xSigned, int xZero)
    {
        Check(x.Length, w.Length, y.Length, scratch.Length, m, n, k);
        fixed (byte* px = x) fixed (sbyte* pw = w) fixed (int* py = y) fixed (short* ps = scratch)
            Run(new Args { W = pw, Y = py, M = m, N = n, K = k, Out = Output.Int32 }, px, ps, xSigned, xZero);
    }

    /// <summary>
    /// <see cref="QGemm.Run"/>'s operation on this layout: y [m, n] bytes = requantize(bias[j] + sum), clamped to
    /// [qmin, qmax]; n at most <see cref="QPointwise.MaxColumns"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(ReadOnlySpan<byte> x, ReadOnlySpan<sbyte> w, ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> shift,
        Span<byte> y, Span<short> scratch, int m, int n, int k, bool xSigned, int xZero, int yZero, int qmin, int qmax)
    {
        Check(x.Length, w.Length, y.Length, scratch.Length, m, n, k);
        int np = (n + ColumnMultiple - 1) / ColumnMultiple * ColumnMultiple;
        if (np > QPointwise.MaxColumns || bias.Length < n || multiplier.Length < n || shift.Length < n) throw new ArgumentException("QMatMulLanes.Run: sizes do not agree");
        QConv.CheckMultipliers(multiplier, n);
        int* mult = stackalloc int[np], e = stackalloc int[np], b = stackalloc int[np];
        long* kE = stackalloc long[np / 2], kO = stackalloc long[np / 2];
        fixed (byte* px = x, py = y) fixed (sbyte* pw = w) fixed (short* ps = scratch) fixed (int* pb = bias, pm = multiplier, psh = shift)
        {
            bool bounded = QPointwise.Columns(pb, pm, psh, n, k, np, mult, e, b, kE, kO);
            Run(new Args
            {
                W = pw, Y = py, M = m, N = n, K = k, Out = Output.Bytes, BiasI = b, Mult = mult, E = e, KE = kE, KO = kO, Pm = pm, Psh = psh,
                ZY = yZero, Lo = qmin, Hi = qmax, Bounded = bounded,
            }, px, ps, xSigned, xZero);
        }
    }

    /// <summary><see cref="RunInt32"/> scaled: y = (float)sum * scale[j] (+ bias[j]); scale holds 1 or n values, bias 0 or n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunFloat(ReadOnlySpan<byte> x, ReadOnlySpan<sbyte> w, ReadOnlySpan<float> scale, ReadOnlySpan<float> bias, Span<float> y, Span<short> scratch,
        int m, int n, int k, bool xSigned, int xZero)
    {
        Check(x.Length, w.Length, y.Length, scratch.Length, m, n, k);
        if (scale.Length != 1 && scale.Length < n || !bias.IsEmpty && bias.Length < n) throw new ArgumentException("QMatMulLanes.RunFloat: scale or bias too short");
        fixed (byte* px = x) fixed (sbyte* pw = w) fixed (float* py = y, psc = scale, pb = bias) fixed (short* ps = scratch)
            Run(new Args { W = pw, Y = py, M = m, N = n, K = k, Out = Output.Float, Scale = psc, ScaleStep = scale.Length == 1 ? 0 : 1, Bias = bias.IsEmpty ? null : pb }, px, ps, xSigned, xZero);
    }

    static void Check(int x, int w, int y, int scratch, int m, int n, int k)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(m), "QMatMulLanes: negative size");
        long np = (n + ColumnMultiple - 1) / ColumnMultiple * ColumnMultiple;
        if (x < (long)m * k || w < (k + 1) / 2 * np * 2 || y < (long)m * n || scratch < Scratch(m, k)) throw new ArgumentException("QMatMulLanes: sizes do not agree");
    }

    enum Output { Bytes, Int32, Float }

    struct Args
    {
        public sbyte* W; public void* Y; public short* X; public float* Scale, Bias;
        public int M, N, K, ScaleStep; public Output Out;
        // Bytes: the padded per-column constants (QPointwise.Columns) and the caller's multipliers and shifts
        public int* BiasI, Mult, E, Pm, Psh; public long* KE, KO; public int ZY, Lo, Hi; public bool Bounded;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Run(Args a, byte* px, short* ps, bool xSigned, int xZero)
    {
        if (a.M == 0 || a.N == 0) return;
        int kp = (a.K + 1) & ~1;
        // vpdpbusd against 256-bit pair kernels always (Sapphire Rapids held to 256 bits: 16 x 32 x 96 1.2x, 32 x 128 x 128
        // 1.7x); against 512-bit ones from reductions of 128 (32 x 128 x 128 1.17x, 100 x 128 x 128 1.4x; 16 x 32 x 96
        // 0.87x: there the quads and the reordering cost more than they save)
        int dot = QDot.Path;
        if (QDot.Unsigned(dot) && (a.K + 3) / 4 <= QPointwise.MaxQuads && (SimdLevel.Bits < 512 || a.K >= 128))
        {
            if (dot == QDot.Vnni) Quads<DotVnni>(a, px, ps, xSigned, xZero); else Quads<DotEmulatedU>(a, px, ps, xSigned, xZero);
            return;
        }
        a.X = (short*)QConv.Aligned(ps);
        for (int i = 0; i < a.M; i++) QGemm.WidenRow(a.X + (long)i * kp, px + (long)i * a.K, a.K, xSigned, xZero);
        switch (SimdLevel.Bits)
        {
            case 512 when Avx512BW.IsSupported: Panels<Vector512<int>, Q512>(a, kp); break;
            case 512 or 256 when Avx2.IsSupported: Panels<Vector256<int>, Q256>(a, kp); break;
            case 0: Panels<int, Q1>(a, kp); break;
            default: Panels<Vector128<int>, Q128>(a, kp); break;
        }
    }

    /// <summary>
    /// vpdpbusd (TD: <see cref="DotVnni"/> or its emulation): each row's bytes as quads, moved to uint8 (x ^ 0x80 where
    /// signed; the zero point with them, taken from the column offsets: <see cref="QPointwise.Correct{TD}"/>); panels of
    /// 16 columns whose weight pairs are reordered once into quads (QPointwise's vpdpbusd layout), tiles of 6 rows with
    /// each row's quad broadcast. The pair kernels widen every row to int16 and take two instructions per 16 or 32
    /// multiply-adds; here one per 32 (a transformer's 16 x 32 x 96 projection: see the README).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Quads<TD>(Args a, byte* px, short* ps, bool xSigned, int xZero) where TD : IQDot, IQDot256
    {
        const int width = 16;
        int kq = (a.K + 3) / 4, pairs = (a.K + 1) / 2, np = (a.N + ColumnMultiple - 1) / ColumnMultiple * ColumnMultiple;
        int zq = QDot.Zero(true, xSigned, xZero);
        bool flip = QDot.Flip(true, xSigned) != 0;
        // the rows as uint8 quads, 0 past k (the weights there are 0): m * 4kq bytes fit the scratch's m * kp int16s
        byte* xq = (byte*)QConv.Aligned(ps);
        for (int i = 0; i < a.M; i++)
        {
            byte* src = px + (long)i * a.K, dst = xq + (long)i * 4 * kq;
            if (flip) QGemm.Flip(dst, src, a.K); else Unsafe.CopyBlockUnaligned(dst, src, (uint)a.K);
            new Span<byte>(dst + a.K, 4 * kq - a.K).Clear();
        }
        // per-column offsets: the bias (bytes) or 0, less zq x the column's weights
        int* offs = stackalloc int[np];
        if (a.Out == Output.Bytes) new ReadOnlySpan<int>(a.BiasI, np).CopyTo(new Span<int>(offs, np));
        else new Span<int>(offs, np).Clear();
        QPointwise.Correct<TD>(a.W, offs, np, np, pairs, zq);
        int* w4 = stackalloc int[kq * width];
        int* sums = stackalloc int[Rows * width];
        byte* bytes = stackalloc byte[width];
        var zy = Vector256.Create(a.ZY); var lo = Vector256.Create(a.Lo); var hi = Vector256.Create(a.Hi);
        for (int j0 = 0; j0 < a.N; j0 += width)
        {
            QPointwise.PanelQuads(a.W, np, j0, kq, pairs, w4);
            int cols = Math.Min(width, a.N - j0);
            for (int r0 = 0; r0 < a.M; r0 += Rows)
            {
                int rows = Math.Min(Rows, a.M - r0);
                QPointwise.LaneTile<TD>(rows, (int*)(xq + (long)r0 * 4 * kq), kq, 1, w4, kq, offs + j0, sums);
                for (int r = 0; r < rows; r++) Emit<Vector256<int>, Q256>(a, sums + r * width, j0, cols, (long)(r0 + r) * a.N + j0, bytes, zy, lo, hi);
            }
        }
    }

    /// <summary>One row's sums of columns j0..j0 + cols (s: 2 vectors of TV, the offsets in) written as a.Out says at y + at.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Emit<TV, TS>(in Args a, int* s, int j0, int cols, long at, byte* bytes, TV zy, TV lo, TV hi) where TV : struct where TS : IQSimd<TV>, IQBounded<TV>
    {
        int l = TS.Lanes;
        if (a.Out == Output.Bytes)
        {
            byte* y = (byte*)a.Y + at;
            if (a.Bounded)
            {
                // a whole panel's row straight to y; a last, narrower one through the stack (a copy of variable length
                // is a Memmove call: 10% of a 16 x 96 x 32 product when every row took it)
                byte* d = cols == 2 * l ? y : bytes;
                TS.StoreLanes(TS.Load(s), a.Mult + j0, a.E + j0, a.KE + j0 / 2, a.KO + j0 / 2, zy, lo, hi, d);
                TS.StoreLanes(TS.Load(s + l), a.Mult + j0 + l, a.E + j0 + l, a.KE + (j0 + l) / 2, a.KO + (j0 + l) / 2, zy, lo, hi, d + l);
                if (d == bytes) for (int j = 0; j < cols; j++) y[j] = bytes[j];
            }
            else
                for (int j = 0; j < cols; j++) y[j] = (byte)Requantize.Clamped(s[j], a.Pm[j0 + j], a.Psh[j0 + j], a.ZY, a.Lo, a.Hi);
            return;
        }
        if (a.Out == Output.Int32) { Unsafe.CopyBlockUnaligned((int*)a.Y + at, s, (uint)cols * 4); return; }
        float* yr = (float*)a.Y + at;
        for (int j = 0; j < cols; j++) yr[j] = QGemm.Scaled(s[j], a.Scale, a.ScaleStep, a.Bias, j0 + j);
    }

    /// <summary>Panels of two vectors of columns outermost (their weights stay in L1 while the rows pass), tiles of 6 rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Panels<TV, TS>(in Args a, int kp) where TV : struct where TS : IQSimd<TV>, IQBounded<TV>
    {
        int l = TS.Lanes, width = 2 * l, np = (a.N + ColumnMultiple - 1) / ColumnMultiple * ColumnMultiple, pairs = kp / 2;
        int* sums = stackalloc int[Rows * 2 * 16], zero = stackalloc int[32];
        byte* bytes = stackalloc byte[32];
        new Span<int>(zero, 32).Clear();
        TV zy = TS.Splat(a.ZY), lo = TS.Splat(a.Lo), hi = TS.Splat(a.Hi);
        for (int j0 = 0; j0 < a.N; j0 += width)
        {
            sbyte* w = a.W + 2L * j0;
            int* bias = a.Out == Output.Bytes ? a.BiasI + j0 : zero;
            for (int r0 = 0; r0 < a.M; r0 += Rows)
            {
                int rows = Math.Min(Rows, a.M - r0);
                int* x = (int*)(a.X + (long)r0 * kp);
                QPointwise.Tile<TV, TS>(rows, x, kp / 2, 1, w, 2 * np, pairs, bias, sums);
                int cols = Math.Min(width, a.N - j0);
                for (int r = 0; r < rows; r++) Emit<TV, TS>(a, sums + r * width, j0, cols, (long)(r0 + r) * a.N + j0, bytes, zy, lo, hi);
            }
        }
    }
}
