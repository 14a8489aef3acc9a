using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

/// <summary>
/// Requantization (Requantize.Clamped) in fewer vector operations where the caller knows |acc| &lt; 2^30 and shift &lt; 0
/// (right shift e = -shift &gt;= 1, no left shift): RoundingDivideByPOT(h, e) = (h + 2^(e-1) - [h &lt; 0]) &gt;&gt; e without
/// overflow, the 2^(e-1) folds into the 64-bit rounding constant of the high product, k = 2^30 + 2^(30 + e), and
/// [h &lt; 0] is [acc &lt; 0] wherever h != 0 (m &gt;= 0; where h = 0 either gives 0). About 15 operations per vector
/// instead of 21; the same values bit for bit (tests hold both to ModelGen.Compiler.Quant.FixedPoint).
/// </summary>
internal unsafe interface IQBounded<TV> where TV : struct
{
    /// <summary>Requantizes acc (multiplier mult in every lane, k and e as above) and stores the lanes as bytes.</summary>
    static abstract void StoreBounded(TV acc, TV mult, long k, int e, TV zero, TV lo, TV hi, byte* dst);

    /// <summary>
    /// The same for int8 outputs clamped to [-128, 127] with the zero point inside k (<see cref="Bounded.K(int, int)"/>):
    /// no add, and a saturating narrow for the clamp; three operations fewer.
    /// </summary>
    static abstract void StoreSaturated(TV acc, TV mult, long k, int e, byte* dst);

    /// <summary>
    /// <see cref="StoreBounded"/> with each lane its own channel: multipliers and shifts e per lane, the 64-bit constants
    /// of the even lanes in kE and of the odd in kO (one per pair of lanes, from the first).
    /// </summary>
    static abstract void StoreLanes(TV acc, int* mult, int* e, long* kE, long* kO, TV zero, TV lo, TV hi, byte* dst);
}

internal static class Bounded
{
    /// <summary>Whether a convolution's accumulators and shifts allow <see cref="IQBounded{TV}"/>: |bias| + reduction x 255 x 128 &lt; 2^30.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe bool Applies(int* bias, int* shift, int n, long reduction)
    {
        // |int.MinValue| is 2^31 as a uint, in the vector lanes as in the scalar tail
        uint maxBias = 0;
        int i = 0;
        if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            Vector256<uint> max = default;
            Vector256<int> right = Vector256<int>.AllBitsSet;
            for (; i + 8 <= n; i += 8)
            {
                right &= Vector256.LessThan(Vector256.Load(shift + i), Vector256<int>.Zero);
                max = Vector256.Max(max, Vector256.Abs(Vector256.Load(bias + i)).AsUInt32());
            }
            if (right != Vector256<int>.AllBitsSet) return false;
            for (int l = 0; l < 8; l++) maxBias = System.Math.Max(maxBias, max.GetElement(l));
        }
        for (; i < n; i++)
        {
            if (shift[i] >= 0) return false;
            maxBias = System.Math.Max(maxBias, (uint)System.Math.Abs((long)bias[i]));
        }
        return maxBias + reduction * 255 * 128 < 1L << 30;
    }

    /// <summary>
    /// One output channel's 1-3 vectors of accumulators (C.N) requantized into consecutive bytes at d: the
    /// <see cref="IQBounded{TV}.StoreSaturated"/> form where <paramref name="saturated"/>, else StoreBounded.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void StoreRow<TV, TS, C>(TV a, TV b, TV c, int mult, int shift, int zy, bool saturated, TV z, TV lo, TV hi, byte* d)
        where TV : struct where TS : IQSimd<TV>, IQBounded<TV> where C : IRows
    {
        int e = -shift;
        TV m = TS.Splat(mult);
        if (saturated)
        {
            long kz = K(e, zy);
            TS.StoreSaturated(a, m, kz, e, d);
            if (C.N > 1) TS.StoreSaturated(b, m, kz, e, d + TS.Lanes);
            if (C.N > 2) TS.StoreSaturated(c, m, kz, e, d + 2 * TS.Lanes);
            return;
        }
        long k = K(e);
        TS.StoreBounded(a, m, k, e, z, lo, hi, d);
        if (C.N > 1) TS.StoreBounded(b, m, k, e, z, lo, hi, d + TS.Lanes);
        if (C.N > 2) TS.StoreBounded(c, m, k, e, z, lo, hi, d + 2 * TS.Lanes);
    }

    /// <summary>The 64-bit rounding constant for right shift e (1 &lt;= e &lt;= 31).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static long K(int e) => (1L << 30) + (1L << (30 + e));

    /// <summary>
    /// With the zero point z added before the shift: (h + 2^(e-1) + z 2^e - [acc &lt; 0]) &gt;&gt; e is the rounded value plus
    /// z exactly (a multiple of 2^e commutes with the floor), the 2^(e-1) + z 2^e inside k.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static long K(int e, int z) => K(e) + ((long)z << (31 + e));

    /// <summary>
    /// Whether <see cref="K(int, int)"/> applies to every channel of a call <see cref="Applies"/> allowed: the int32 high
    /// product then holds |h| + 2^(e-1) + |z| 2^e &lt; 2^30 + 2^(e-1) + 128 2^e, kept below 2^31.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe bool FoldsZero(int* shift, int n, int zero)
    {
        for (int i = 0; i < n; i++)
        {
            int e = -shift[i];
            if ((1L << 30) + (1L << (e - 1)) + (System.Math.Abs((long)zero) << e) >= 1L << 31) return false;
        }
        return true;
    }
}

internal unsafe partial struct Q512 : IQBounded<Vector512<int>>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreBounded(Vector512<int> acc, Vector512<int> mult, long k, int e, Vector512<int> zero, Vector512<int> lo, Vector512<int> hi, byte* dst)
    {
        var kv = Vector512.Create(k);
        var even = Avx512F.Multiply(acc, mult) + kv;
        var odd = Avx512F.Multiply(Vector512.ShiftRightLogical(acc.AsInt64(), 32).AsInt32(), mult) + kv;
        var h = Vector512.ConditionalSelect(Vector512.Create(unchecked((long)0xFFFFFFFF00000000UL)).AsInt32(),
            Vector512.ShiftLeft(odd, 1).AsInt32(), Vector512.ShiftRightLogical(even, 31).AsInt32());
        var r = Vector512.ShiftRightArithmetic(h - Vector512.ShiftRightLogical(acc, 31), e) + zero;
        Avx512F.ConvertToVector128Byte(Vector512.Min(Vector512.Max(r, lo), hi)).Store(dst);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreSaturated(Vector512<int> acc, Vector512<int> mult, long k, int e, byte* dst)
    {
        var kv = Vector512.Create(k);
        var even = Avx512F.Multiply(acc, mult) + kv;
        var odd = Avx512F.Multiply(Vector512.ShiftRightLogical(acc.AsInt64(), 32).AsInt32(), mult) + kv;
        var h = Vector512.ConditionalSelect(Vector512.Create(unchecked((long)0xFFFFFFFF00000000UL)).AsInt32(),
            Vector512.ShiftLeft(odd, 1).AsInt32(), Vector512.ShiftRightLogical(even, 31).AsInt32());
        Avx512F.ConvertToVector128SByteWithSaturation(Vector512.ShiftRightArithmetic(h - Vector512.ShiftRightLogical(acc, 31), e)).AsByte().Store(dst);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreLanes(Vector512<int> acc, int* mult, int* e, long* kE, long* kO, Vector512<int> zero, Vector512<int> lo, Vector512<int> hi, byte* dst)
    {
        var m = Vector512.Load(mult);
        var r = LaneShifted(acc, m, Vector512.ShiftRightLogical(m.AsInt64(), 32).AsInt32(), Vector512.Load((uint*)e), Vector512.Load(kE), Vector512.Load(kO)) + zero;
        Avx512F.ConvertToVector128Byte(Vector512.Min(Vector512.Max(r, lo), hi)).Store(dst);
    }

    /// <summary>
    /// The bounded form with each lane its own channel, before the zero point and the clamp (where kE/kO fold the zero
    /// point in, the requantized value with it): multipliers m (mOdd: the odd lanes' in the even lanes), right shifts e,
    /// the 64-bit constants of the even and odd lanes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<int> LaneShifted(Vector512<int> acc, Vector512<int> m, Vector512<int> mOdd, Vector512<uint> e, Vector512<long> kE, Vector512<long> kO)
    {
        var even = Avx512F.Multiply(acc, m) + kE;
        var odd = Avx512F.Multiply(Vector512.ShiftRightLogical(acc.AsInt64(), 32).AsInt32(), mOdd) + kO;
        var h = Vector512.ConditionalSelect(Vector512.Create(unchecked((long)0xFFFFFFFF00000000UL)).AsInt32(),
            Vector512.ShiftLeft(odd, 1).AsInt32(), Vector512.ShiftRightLogical(even, 31).AsInt32());
        return Avx512F.ShiftRightArithmeticVariable(h - Vector512.ShiftRightLogical(acc, 31), e);
    }
}

internal unsafe partial struct Q256 : IQBounded<Vector256<int>>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreBounded(Vector256<int> acc, Vector256<int> mult, long k, int e, Vector256<int> zero, Vector256<int> lo, Vector256<int> hi, byte* dst)
    {
        var kv = Vector256.Create(k);
        var even = Avx2.Multiply(acc, mult) + kv;
        var odd = Avx2.Multiply(Vector256.ShiftRightLogical(acc.AsInt64(), 32).AsInt32(), mult) + kv;
        var h = Avx2.Blend(Vector256.ShiftRightLogical(even, 31).AsInt32(), Vector256.ShiftLeft(odd, 1).AsInt32(), 0xAA);
        var r = Vector256.Min(Vector256.Max(Vector256.ShiftRightArithmetic(h - Vector256.ShiftRightLogical(acc, 31), e) + zero, lo), hi);
        if (Avx512F.VL.IsSupported) { *(ulong*)dst = Avx512F.VL.ConvertToVector128Byte(r).AsUInt64().ToScalar(); return; }
        var s = Vector256.Narrow(r, r);
        *(ulong*)dst = Vector256.Narrow(s, s).AsUInt64().ToScalar();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreSaturated(Vector256<int> acc, Vector256<int> mult, long k, int e, byte* dst)
    {
        var kv = Vector256.Create(k);
        var even = Avx2.Multiply(acc, mult) + kv;
        var odd = Avx2.Multiply(Vector256.ShiftRightLogical(acc.AsInt64(), 32).AsInt32(), mult) + kv;
        var h = Avx2.Blend(Vector256.ShiftRightLogical(even, 31).AsInt32(), Vector256.ShiftLeft(odd, 1).AsInt32(), 0xAA);
        var r = Vector256.ShiftRightArithmetic(h - Vector256.ShiftRightLogical(acc, 31), e);
        if (Avx512F.VL.IsSupported) { *(ulong*)dst = Avx512F.VL.ConvertToVector128SByteWithSaturation(r).AsUInt64().ToScalar(); return; }
        // packs saturate (int32 -> int16 -> int8) within 128-bit halves: the low 4 bytes of each
        var p = Avx2.PackSignedSaturate(r, r);
        var b = Avx2.PackSignedSaturate(p, p).AsUInt32();
        *(uint*)dst = b.ToScalar(); *(uint*)(dst + 4) = b.GetElement(4);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreLanes(Vector256<int> acc, int* mult, int* e, long* kE, long* kO, Vector256<int> zero, Vector256<int> lo, Vector256<int> hi, byte* dst)
    {
        var m = Vector256.Load(mult);
        var r = LaneValues(acc, m, Vector256.ShiftRightLogical(m.AsInt64(), 32).AsInt32(), Vector256.Load(e), Vector256.Load(kE), Vector256.Load(kO), zero, lo, hi);
        if (Avx512F.VL.IsSupported) { *(ulong*)dst = Avx512F.VL.ConvertToVector128Byte(r).AsUInt64().ToScalar(); return; }
        var s = Vector256.Narrow(r, r);
        *(ulong*)dst = Vector256.Narrow(s, s).AsUInt64().ToScalar();
    }

    /// <summary>
    /// <see cref="StoreLanes"/>'s arithmetic with its constants in registers (mOdd: the odd lanes' multipliers shifted
    /// into the even lanes): 8 lanes requantized and clamped, as int32.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> LaneValues(Vector256<int> acc, Vector256<int> m, Vector256<int> mOdd, Vector256<int> e, Vector256<long> kE, Vector256<long> kO,
        Vector256<int> zero, Vector256<int> lo, Vector256<int> hi)
        => Vector256.Min(Vector256.Max(LaneShifted(acc, m, mOdd, e, kE, kO) + zero, lo), hi);

    /// <summary><see cref="Q512.LaneShifted"/> for eight lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> LaneShifted(Vector256<int> acc, Vector256<int> m, Vector256<int> mOdd, Vector256<int> e, Vector256<long> kE, Vector256<long> kO)
    {
        var even = Avx2.Multiply(acc, m) + kE;
        var odd = Avx2.Multiply(Vector256.ShiftRightLogical(acc.AsInt64(), 32).AsInt32(), mOdd) + kO;
        var h = Avx2.Blend(Vector256.ShiftRightLogical(even, 31).AsInt32(), Vector256.ShiftLeft(odd, 1).AsInt32(), 0xAA);
        return Avx2.ShiftRightArithmeticVariable(h - Vector256.ShiftRightLogical(acc, 31), e.AsUInt32());
    }
}

internal unsafe partial struct Q128 : IQBounded<Vector128<int>>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreBounded(Vector128<int> acc, Vector128<int> mult, long k, int e, Vector128<int> zero, Vector128<int> lo, Vector128<int> hi, byte* dst)
    {
        var kv = Vector128.Create(k);
        Vector128<int> h;
        if (Sse41.IsSupported)
        {
            var even = Sse41.Multiply(acc, mult) + kv;
            var odd = Sse41.Multiply(Vector128.ShiftRightLogical(acc.AsInt64(), 32).AsInt32(), mult) + kv;
            h = Sse41.Blend(Vector128.ShiftRightLogical(even, 31).AsInt32().AsInt16(), Vector128.ShiftLeft(odd, 1).AsInt32().AsInt16(), 0xCC).AsInt32();
        }
        else
        {
            var (l, u) = Vector128.Widen(acc);
            var (m, _) = Vector128.Widen(mult);
            h = Vector128.Narrow(Vector128.ShiftRightArithmetic(l * m + kv, 31), Vector128.ShiftRightArithmetic(u * m + kv, 31));
        }
        var r = Vector128.Min(Vector128.Max(Vector128.ShiftRightArithmetic(h - Vector128.ShiftRightLogical(acc, 31), e) + zero, lo), hi);
        var s = Vector128.Narrow(r, r);
        *(uint*)dst = Vector128.Narrow(s, s).AsUInt32().ToScalar();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreSaturated(Vector128<int> acc, Vector128<int> mult, long k, int e, byte* dst)
        => StoreBounded(acc, mult, k, e, Vector128<int>.Zero, Vector128.Create(-128), Vector128.Create(127), dst);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreLanes(Vector128<int> acc, int* mult, int* e, long* kE, long* kO, Vector128<int> zero, Vector128<int> lo, Vector128<int> hi, byte* dst)
    {
        if (!Avx2.IsSupported)
        {
            for (int l = 0; l < 4; l++) Q1.StoreLanes(acc.GetElement(l), mult + l, e + l, null, null, zero.GetElement(0), lo.GetElement(0), hi.GetElement(0), dst + l);
            return;
        }
        var m = Vector128.Load(mult);
        var even = Sse41.Multiply(acc, m) + Vector128.Load(kE);
        var odd = Sse41.Multiply(Vector128.ShiftRightLogical(acc.AsInt64(), 32).AsInt32(), Vector128.ShiftRightLogical(m.AsInt64(), 32).AsInt32()) + Vector128.Load(kO);
        var h = Sse41.Blend(Vector128.ShiftRightLogical(even, 31).AsInt32().AsInt16(), Vector128.ShiftLeft(odd, 1).AsInt32().AsInt16(), 0xCC).AsInt32();
        var r = Vector128.Min(Vector128.Max(Avx2.ShiftRightArithmeticVariable(h - Vector128.ShiftRightLogical(acc, 31), Vector128.Load((uint*)e)) + zero, lo), hi);
        var s = Vector128.Narrow(r, r);
        *(uint*)dst = Vector128.Narrow(s, s).AsUInt32().ToScalar();
    }
}

internal unsafe partial struct Q1 : IQBounded<int>
{
    public static void StoreBounded(int acc, int mult, long k, int e, int zero, int lo, int hi, byte* dst)
    {
        int h = (int)((acc * (long)mult + k) >> 31);
        int r = ((h - (acc < 0 ? 1 : 0)) >> e) + zero;
        *dst = (byte)(r < lo ? lo : r > hi ? hi : r);
    }

    public static void StoreSaturated(int acc, int mult, long k, int e, byte* dst) => StoreBounded(acc, mult, k, e, 0, -128, 127, dst);

    /// <summary>One lane: its constant from its shift (kE, kO unused).</summary>
    public static void StoreLanes(int acc, int* mult, int* e, long* kE, long* kO, int zero, int lo, int hi, byte* dst)
        => StoreBounded(acc, *mult, Bounded.K(*e), *e, zero, lo, hi, dst);
}
