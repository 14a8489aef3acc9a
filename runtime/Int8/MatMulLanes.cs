using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

/// <summary>
/// The integer product of a dynamically quantized MatMul with two rows or more: y [m, n] = (x - xZero) [m, k] * w^T
/// with the output columns in the vector lanes, as <see cref="QPointwise"/> does for 1x1 convolutions. The rows are
/// widened once (less the zero point) and each int16 pair of a row is broadcast; each step of the reduction loads two
/// vectors of weight pairs (int8, sign-extended in the load) for a tile of 6 rows (QPointwise's tile), so a weight is widened once per 6
/// rows (the row kernel, <see cref="QGemm.RunInt32"/>, widens it for every row) and no sum crosses lanes. The int32
/// sums are written as they are, or scaled to float (multiply, then add the bias: the Cast, Mul and Add this stands
/// for). Exact.
/// </summary>
public static unsafe class QMatMulLanes
{
    /// <summary>The weight layout's columns are padded to a multiple of this (two 512-bit vectors of int32 lanes).</summary>
    public const int ColumnMultiple = 32;

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
            Run(new Args { W = pw, Y = py, M = m, N = n, K = k }, px, ps, xSigned, xZero);
    }

    /// <summary><see cref="RunInt32"/> scaled: y = (float)sum * scale[j] (+ bias[j]); scale holds 1 or n values, bias 0 or n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunFloat(ReadOnlySpan<byte> x, ReadOnlySpan<sbyte> w, ReadOnlySpan<float> scale, ReadOnlySpan<float> bias, Span<float> y, Span<short> scratch,
        int m, int n, int k, bool xSigned, int xZero)
    {
        Check(x.Length, w.Length, y.Length, scratch.Length, m, n, k);
        if (scale.Length != 1 && scale.Length < n || !bias.IsEmpty && bias.Length < n) throw new ArgumentException("QMatMulLanes.RunFloat: scale or bias too short");
        fixed (byte* px = x) fixed (sbyte* pw = w) fixed (float* py = y, psc = scale, pb = bias) fixed (short* ps = scratch)
            Run(new Args { W = pw, Y = py, M = m, N = n, K = k, Float = true, Scale = psc, ScaleStep = scale.Length == 1 ? 0 : 1, Bias = bias.IsEmpty ? null : pb }, px, ps, xSigned, xZero);
    }

    static void Check(int x, int w, int y, int scratch, int m, int n, int k)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(m), "QMatMulLanes: negative size");
        long np = (n + ColumnMultiple - 1) / ColumnMultiple * ColumnMultiple;
        if (x < (long)m * k || w < (k + 1) / 2 * np * 2 || y < (long)m * n || scratch < Scratch(m, k)) throw new ArgumentException("QMatMulLanes: sizes do not agree");
    }

    struct Args
    {
        public sbyte* W; public void* Y; public short* X; public float* Scale, Bias;
        public int M, N, K, ScaleStep; public bool Float;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Run(Args a, byte* px, short* ps, bool xSigned, int xZero)
    {
        if (a.M == 0 || a.N == 0) return;
        int kp = (a.K + 1) & ~1;
        a.X = (short*)QConv.Aligned(ps);
        for (int i = 0; i < a.M; i++)
        {
            QGemm.Widen(a.X + (long)i * kp, px + (long)i * a.K, a.K, xSigned, xZero);
            if (a.K < kp) a.X[(long)i * kp + a.K] = 0;
        }
        switch (SimdLevel.Bits)
        {
            case 512 when Avx512BW.IsSupported: Panels<Vector512<int>, Q512>(a, kp); break;
            case 512 or 256 when Avx2.IsSupported: Panels<Vector256<int>, Q256>(a, kp); break;
            case 0: Panels<int, Q1>(a, kp); break;
            default: Panels<Vector128<int>, Q128>(a, kp); break;
        }
    }

    /// <summary>Panels of two vectors of columns outermost (their weights stay in L1 while the rows pass), tiles of 6 rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Panels<TV, TS>(in Args a, int kp) where TV : struct where TS : IQSimd<TV>
    {
        int l = TS.Lanes, width = 2 * l, np = (a.N + ColumnMultiple - 1) / ColumnMultiple * ColumnMultiple, pairs = kp / 2;
        int* sums = stackalloc int[Rows * 2 * 16], zero = stackalloc int[32];
        new Span<int>(zero, 32).Clear();
        for (int j0 = 0; j0 < a.N; j0 += width)
        {
            sbyte* w = a.W + 2L * j0;
            for (int r0 = 0; r0 < a.M; r0 += Rows)
            {
                int rows = Math.Min(Rows, a.M - r0);
                int* x = (int*)(a.X + (long)r0 * kp);
                switch (rows)
                {
                    case 6: QPointwise.Tile<TV, TS, R6>(x, kp / 2, 1, w, 2 * np, pairs, zero, sums); break;
                    case 5: QPointwise.Tile<TV, TS, R5>(x, kp / 2, 1, w, 2 * np, pairs, zero, sums); break;
                    case 4: QPointwise.Tile<TV, TS, R4>(x, kp / 2, 1, w, 2 * np, pairs, zero, sums); break;
                    case 3: QPointwise.Tile<TV, TS, R3>(x, kp / 2, 1, w, 2 * np, pairs, zero, sums); break;
                    case 2: QPointwise.Tile<TV, TS, R2>(x, kp / 2, 1, w, 2 * np, pairs, zero, sums); break;
                    default: QPointwise.Tile<TV, TS, R1>(x, kp / 2, 1, w, 2 * np, pairs, zero, sums); break;
                }
                int cols = Math.Min(width, a.N - j0);
                for (int r = 0; r < rows; r++)
                {
                    int* s = sums + r * width;
                    long at = (long)(r0 + r) * a.N + j0;
                    if (!a.Float) { Unsafe.CopyBlockUnaligned((int*)a.Y + at, s, (uint)cols * 4); continue; }
                    float* yr = (float*)a.Y + at;
                    // multiply, then add: the nodes this stands for round after each
                    for (int j = 0; j < cols; j++)
                    {
                        float v = (float)s[j] * a.Scale[(j0 + j) * a.ScaleStep];
                        yr[j] = a.Bias == null ? v : v + a.Bias[j0 + j];
                    }
                }
            }
        }
    }
}
