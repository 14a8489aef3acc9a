using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

public static unsafe partial class Int8
{
    /// <summary>
    /// QLinearAdd of two int8 tensors of one shape (a residual connection), exactly as the emitted scalar loop:
    /// y = saturate(roundHalfEven((float)(a - za) * ra + (float)(b - zb) * rb) + zc), ra = sa / sy, rb = sb / sy; a
    /// multiply and an add, never fused (the loop does not fuse them either).
    /// </summary>
    public static void Add(ReadOnlySpan<sbyte> a, int za, float ra, ReadOnlySpan<sbyte> b, int zb, float rb, int zc, Span<sbyte> y)
    {
        if (a.Length < y.Length || b.Length < y.Length) throw new ArgumentException("Add: inputs too small", nameof(y));
        fixed (sbyte* pa = a, pb = b, py = y) Add((byte*)pa, za, ra, (byte*)pb, zb, rb, zc, (byte*)py, y.Length, true);
    }

    /// <summary>QLinearAdd of two uint8 tensors of one shape (see the int8 overload).</summary>
    public static void Add(ReadOnlySpan<byte> a, int za, float ra, ReadOnlySpan<byte> b, int zb, float rb, int zc, Span<byte> y)
    {
        if (a.Length < y.Length || b.Length < y.Length) throw new ArgumentException("Add: inputs too small", nameof(y));
        fixed (byte* pa = a, pb = b, py = y) Add(pa, za, ra, pb, zb, rb, zc, py, y.Length, false);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Add(byte* a, int za, float ra, byte* b, int zb, float rb, int zc, byte* y, int n, bool signed)
    {
        int i = 0;
        float lo = signed ? -128f : 0f, hi = signed ? 127f : 255f, z = zc;
        if (SimdLevel.Bits >= 512 && Avx512BW.IsSupported) i = Add512(a, za, ra, b, zb, rb, zc, y, n, lo, hi, signed);
        if (SimdLevel.Bits >= 256 && Avx2.IsSupported)
        {
            var p = new AddParams(za, ra, zb, rb, zc, lo, hi);
            var order = Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7);
            for (; i + 32 <= n; i += 32)
            {
                // saturating packs of values already clamped (they keep them), then the packs' 128-bit interleave undone
                var l = Avx2.PackSignedSaturate(AddLanes(a + i, b + i, signed, p), AddLanes(a + i + 8, b + i + 8, signed, p));
                var h = Avx2.PackSignedSaturate(AddLanes(a + i + 16, b + i + 16, signed, p), AddLanes(a + i + 24, b + i + 24, signed, p));
                var bytes = signed ? Avx2.PackSignedSaturate(l, h).AsInt32() : Avx2.PackUnsignedSaturate(l, h).AsInt32();
                Avx2.PermuteVar8x32(bytes, order).AsByte().Store(y + i);
            }
            for (; i + 8 <= n; i += 8)
            {
                var r = Vector256.Narrow(AddLanes(a + i, b + i, signed, p), default);
                *(ulong*)(y + i) = Vector256.Narrow(r, r).AsUInt64().ToScalar();
            }
        }
        else if (Lanes4)
        {
            // four lanes (ARM64's AdvSimd; x64 below 256 bits): the same float steps
            Vector128<int> za4 = Vector128.Create(za), zb4 = Vector128.Create(zb), zc4 = Vector128.Create(zc);
            Vector128<float> ra4 = Vector128.Create(ra), rb4 = Vector128.Create(rb), lo4 = Vector128.Create(lo - zc), hi4 = Vector128.Create(hi - zc);
            for (; i + 16 <= n; i += 16)
            {
                var (a0, a1, a2, a3) = Widen16x4(a + i, signed);
                var (b0, b1, b2, b3) = Widen16x4(b + i, signed);
                Store16(y + i, Sum4(a0 - za4, b0 - zb4, ra4, rb4, lo4, hi4), Sum4(a1 - za4, b1 - zb4, ra4, rb4, lo4, hi4),
                    Sum4(a2 - za4, b2 - zb4, ra4, rb4, lo4, hi4), Sum4(a3 - za4, b3 - zb4, ra4, rb4, lo4, hi4), zc4, signed);
            }
            for (; i + 4 <= n; i += 4) Store4(y + i, Sum4(Widen4(a + i, signed) - za4, Widen4(b + i, signed) - zb4, ra4, rb4, lo4, hi4), zc4, signed);
        }
        for (; i < n; i++)
        {
            int da = (signed ? (sbyte)a[i] : a[i]) - za, db = (signed ? (sbyte)b[i] : b[i]) - zb;
            float q = MathF.Round((float)da * ra + (float)db * rb) + z;
            y[i] = (byte)(int)(q < lo ? lo : q > hi ? hi : q);
        }
    }

    /// <summary>
    /// <see cref="Add(byte*, int, float, byte*, int, float, int, byte*, int, bool)"/> 16 lanes at a time, the same float
    /// steps (ResNet-8's 16x32x32 residual add: 2.6 us at 256 bits); returns the outputs done.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int Add512(byte* a, int za, float ra, byte* b, int zb, float rb, int zc, byte* y, int n, float lo, float hi, bool signed)
    {
        Vector512<int> vza = Vector512.Create(za), vzb = Vector512.Create(zb), vzc = Vector512.Create(zc);
        Vector512<float> vra = Vector512.Create(ra), vrb = Vector512.Create(rb), vlo = Vector512.Create(lo - zc), vhi = Vector512.Create(hi - zc);
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            var va = Vector512.ConvertToSingle(Widen16(a + i, signed) - vza) * vra;
            var vb = Vector512.ConvertToSingle(Widen16(b + i, signed) - vzb) * vrb;
            Narrow16(Avx512F.ConvertToVector512Int32(Vector512.Min(Vector512.Max(va + vb, vlo), vhi)) + vzc, y + i, signed);
        }
        return i;
    }

    /// <summary>16 bytes at p as int32 lanes, read as int8 or uint8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<int> Widen16(byte* p, bool signed)
        => signed ? Avx512F.ConvertToVector512Int32(Vector128.Load((sbyte*)p)) : Avx512F.ConvertToVector512Int32(Vector128.Load(p));

    /// <summary>16 int32 lanes, already within the output's bounds, stored as 16 bytes at y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Narrow16(Vector512<int> v, byte* y, bool signed)
    {
        if (signed) Avx512F.ConvertToVector128SByteWithSaturation(v).Store((sbyte*)y);
        else Avx512F.ConvertToVector128ByteWithSaturation(v.AsUInt32()).Store(y);
    }

    readonly struct AddParams
    {
        public readonly Vector256<int> ZA, ZB, ZC;
        public readonly Vector256<float> RA, RB, Lo, Hi;

        /// <summary>lo and hi: the output bounds.</summary>
        public AddParams(int za, float ra, int zb, float rb, int zc, float lo, float hi)
        {
            ZA = Vector256.Create(za); ZB = Vector256.Create(zb); ZC = Vector256.Create(zc);
            RA = Vector256.Create(ra); RB = Vector256.Create(rb); Lo = Vector256.Create(lo - zc); Hi = Vector256.Create(hi - zc);
        }
    }

    /// <summary>da ra + db rb (a multiply and an add, not fused), clamped to [lo, hi] (the bounds less the zero point).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> Sum4(Vector128<int> da, Vector128<int> db, Vector128<float> ra, Vector128<float> rb, Vector128<float> lo, Vector128<float> hi)
        => Vector128.Min(Vector128.Max(Vector128.ConvertToSingle(da) * ra + Vector128.ConvertToSingle(db) * rb, lo), hi);

    /// <summary>
    /// Eight outputs as int32, clamped: the sum clamped in float to the bounds less the zero point (integers, so clamping
    /// and rounding commute), then vcvtps2dq (round half to even) and the zero point; one conversion instruction where
    /// round-then-Vector256.ConvertToInt32 (saturating since .NET 9) took five.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> AddLanes(byte* a, byte* b, bool signed, in AddParams p)
    {
        var va = signed ? Avx2.ConvertToVector256Int32((sbyte*)a) : Avx2.ConvertToVector256Int32(a);
        var vb = signed ? Avx2.ConvertToVector256Int32((sbyte*)b) : Avx2.ConvertToVector256Int32(b);
        var v = Avx.Add(Avx.Multiply(Vector256.ConvertToSingle(va - p.ZA), p.RA), Avx.Multiply(Vector256.ConvertToSingle(vb - p.ZB), p.RB));
        return Avx.ConvertToVector256Int32(Avx.Min(Avx.Max(v, p.Lo), p.Hi)) + p.ZC;
    }
}
