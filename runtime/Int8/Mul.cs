using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

public static unsafe partial class Int8
{
    /// <summary>
    /// QLinearMul exactly as the emitted scalar loop: y = saturate(roundHalfEven((float)((a - za) * (b - zb)) * r) + zc),
    /// r = sa * sb / sy. b holds one value per run of <paramref name="inner"/> outputs (inner = 1: b has y's shape; a
    /// squeeze-excite scale [N, C, 1, 1] against [N, C, H, W]: inner = H * W). Allocation-free.
    /// </summary>
    public static void Mul(ReadOnlySpan<sbyte> a, int za, ReadOnlySpan<sbyte> b, int zb, float r, int zc, Span<sbyte> y, int inner)
    {
        if (inner <= 0 || a.Length < y.Length || (long)b.Length * inner < y.Length) throw new ArgumentException("Mul: sizes do not agree", nameof(y));
        fixed (sbyte* pa = a, pb = b, py = y) Mul((byte*)pa, za, (byte*)pb, zb, r, zc, (byte*)py, y.Length, inner, true);
    }

    /// <summary>QLinearMul of uint8 tensors (see the int8 overload).</summary>
    public static void Mul(ReadOnlySpan<byte> a, int za, ReadOnlySpan<byte> b, int zb, float r, int zc, Span<byte> y, int inner)
    {
        if (inner <= 0 || a.Length < y.Length || (long)b.Length * inner < y.Length) throw new ArgumentException("Mul: sizes do not agree", nameof(y));
        fixed (byte* pa = a, pb = b, py = y) Mul(pa, za, pb, zb, r, zc, py, y.Length, inner, false);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Mul(byte* a, int za, byte* b, int zb, float r, int zc, byte* y, int n, int inner, bool signed)
    {
        float lo = signed ? -128f : 0f, hi = signed ? 127f : 255f, z = zc;
        if (inner == 1)
        {
            int i = 0;
            if (SimdLevel.Bits >= 256 && Avx2.IsSupported)
            {
                var p = new MulParams(za, zb, r, zc, lo, hi);
                for (; i + 8 <= n; i += 8)
                {
                    var vb = (signed ? Avx2.ConvertToVector256Int32((sbyte*)b + i) : Avx2.ConvertToVector256Int32(b + i)) - p.ZB;
                    Store8(y + i, MulLanes(a + i, vb, signed, p), signed);
                }
            }
            for (; i < n; i++) y[i] = MulOne(a[i], b[i], za, zb, r, z, lo, hi, signed);
            return;
        }
        bool simd = SimdLevel.Bits >= 256 && Avx2.IsSupported && inner >= 8;
        var q = simd ? new MulParams(za, zb, r, zc, lo, hi) : default;
        for (int o = 0, k = 0; o < n; o += inner, k++)
        {
            int m = Math.Min(inner, n - o), i = 0, db = (signed ? (sbyte)b[k] : b[k]) - zb;
            byte* ao = a + o, yo = y + o;
            if (simd && m >= 8)
            {
                var vb = Vector256.Create(db);
                for (; i + 8 <= m; i += 8) Store8(yo + i, MulLanes(ao + i, vb, signed, q), signed);
                // the run's last outputs as the end of one more vector of the run (the overlap is written twice, the same)
                if (i < m) Store8(yo + m - 8, MulLanes(ao + m - 8, vb, signed, q), signed);
                continue;
            }
            for (; i < m; i++) yo[i] = MulOne(ao[i], b[k], za, zb, r, z, lo, hi, signed);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static byte MulOne(byte a, byte b, int za, int zb, float r, float z, float lo, float hi, bool signed)
    {
        int da = (signed ? (sbyte)a : a) - za, db = (signed ? (sbyte)b : b) - zb;
        float q = MathF.Round((float)(da * db) * r) + z;
        return (byte)(int)(q < lo ? lo : q > hi ? hi : q);
    }

    /// <summary>Eight int32 lanes, already within the output's bounds, as eight bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store8(byte* y, Vector256<int> v, bool signed)
    {
        var s = Sse2.PackSignedSaturate(v.GetLower(), v.GetUpper());
        *(long*)y = (signed ? Sse2.PackSignedSaturate(s, s).AsInt64() : Sse2.PackUnsignedSaturate(s, s).AsInt64()).ToScalar();
    }

    readonly struct MulParams
    {
        public readonly Vector256<int> ZA, ZB, ZC;
        public readonly Vector256<float> R, Lo, Hi;

        public MulParams(int za, int zb, float r, int zc, float lo, float hi)
        {
            ZA = Vector256.Create(za); ZB = Vector256.Create(zb); ZC = Vector256.Create(zc);
            R = Vector256.Create(r); Lo = Vector256.Create(lo - zc); Hi = Vector256.Create(hi - zc);
        }
    }

    /// <summary>
    /// Eight outputs as int32: (a - za) * db exactly in int32, one float multiply, clamped in float to the bounds less the
    /// zero point (integers, so clamping and rounding commute), vcvtps2dq (round half to even), plus the zero point.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> MulLanes(byte* a, Vector256<int> db, bool signed, in MulParams p)
    {
        var va = signed ? Avx2.ConvertToVector256Int32((sbyte*)a) : Avx2.ConvertToVector256Int32(a);
        var v = Avx.Multiply(Vector256.ConvertToSingle(Avx2.MultiplyLow(va - p.ZA, db)), p.R);
        return Avx.ConvertToVector256Int32(Avx.Min(Avx.Max(v, p.Lo), p.Hi)) + p.ZC;
    }
}
