using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
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

    /// <summary>
    /// The squeeze-excite gate of <see cref="Mul(ReadOnlySpan{sbyte}, int, ReadOnlySpan{sbyte}, int, float, int, Span{sbyte}, int)"/>
    /// on a channels-last tensor (an int8 chain's layout): a and y [N, plane, channels], b [N, channels], so that
    /// y[(n * plane + p) * channels + c] takes b[n * channels + c]. Each position is one run of whole vectors against
    /// the image's gates, where NCHW has a run of plane outputs per gate (9 on MobileNetV3's last planes). Allocation-free.
    /// </summary>
    public static void MulChannelsLast(ReadOnlySpan<sbyte> a, int za, ReadOnlySpan<sbyte> b, int zb, float r, int zc, Span<sbyte> y, int channels, int plane)
    {
        CheckChannelsLast(a.Length, b.Length, y.Length, channels, plane);
        fixed (sbyte* pa = a, pb = b, py = y) MulChannelsLast((byte*)pa, za, (byte*)pb, zb, r, zc, (byte*)py, y.Length, channels, plane, true);
    }

    /// <summary>QLinearMul's channels-last gate of uint8 tensors (see the int8 overload).</summary>
    public static void MulChannelsLast(ReadOnlySpan<byte> a, int za, ReadOnlySpan<byte> b, int zb, float r, int zc, Span<byte> y, int channels, int plane)
    {
        CheckChannelsLast(a.Length, b.Length, y.Length, channels, plane);
        fixed (byte* pa = a, pb = b, py = y) MulChannelsLast(pa, za, pb, zb, r, zc, py, y.Length, channels, plane, false);
    }

    static void CheckChannelsLast(int a, int b, int y, int channels, int plane)
    {
        if (channels <= 0 || plane <= 0 || y % ((long)channels * plane) != 0 || a < y || b < y / plane)
            throw new ArgumentException("MulChannelsLast: sizes do not agree", nameof(y));
    }

    /// <summary>
    /// Channels up to which <see cref="MulChannelsLast(byte*, int, byte*, int, float, int, byte*, int, int, int, bool)"/>
    /// keeps an image's gates on the stack (16 KB); more: a call per position.
    /// </summary>
    const int MaxGateChannels = 4096;

    /// <summary>
    /// Each image's gates, less their zero point, as floats once, repeated past the last channel (g[k] = gate k mod
    /// channels): the image is then one flat run of vectors, the gates of the vector at i loaded at i mod channels,
    /// whatever the channel count (a call per position cost 14 ns each at 16 channels). (a - za) * (b - zb) is taken
    /// as a float product, exact (at most 255 * 255 in magnitude), then times r: MulLanes' int32 product converted.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void MulChannelsLast(byte* a, int za, byte* b, int zb, float r, int zc, byte* y, int n, int channels, int plane, bool signed)
    {
        long image = (long)channels * plane;
        if (!(SimdLevel.Bits >= 256 && Avx2.IsSupported) || channels > MaxGateChannels || image > int.MaxValue)
        {
            for (long i = 0; i < n; i += channels) Mul(a + i, za, b + i / image * channels, zb, r, zc, y + i, channels, 1, signed);
            return;
        }
        float lo = signed ? -128f : 0f, hi = signed ? 127f : 255f;
        var p = new MulParams(za, zb, r, zc, lo, hi);
        var fza = Vector256.Create((float)za);
        float* gf = stackalloc float[channels + 16];
        for (long i0 = 0; i0 < n; i0 += image)
        {
            byte* g = b + i0 / image * channels, ai = a + i0, yi = y + i0;
            int k = 0;
            for (; k < channels; k++) gf[k] = (signed ? (sbyte)g[k] : g[k]) - zb;
            for (; k < channels + 16; k++) gf[k] = gf[k - channels]; // periodic (no division per gate: 1.4 us of 576 channels)
            int m = (int)image, i = 0;
            if (SimdLevel.Bits >= 512 && Avx512BW.IsSupported && channels >= 16) i = Gated512(ai, yi, m, gf, channels, za, r, zc, lo, hi, signed);
            for (int off = i % channels; i + 8 <= m; i += 8)
            {
                var fa = Vector256.ConvertToSingle(signed ? Avx2.ConvertToVector256Int32((sbyte*)ai + i) : Avx2.ConvertToVector256Int32(ai + i)) - fza;
                var v = fa * Vector256.Load(gf + off) * p.R;
                Store8(yi + i, Avx.ConvertToVector256Int32(Avx.Min(Avx.Max(v, p.Lo), p.Hi)) + p.ZC, signed);
                for (off += 8; off >= channels; off -= channels) { }
            }
            for (; i < m; i++) yi[i] = MulOne(ai[i], g[i % channels], za, zb, r, zc, lo, hi, signed);
        }
    }

    /// <summary>
    /// <see cref="MulChannelsLast(byte*, int, byte*, int, float, int, byte*, int, int, int, bool)"/>'s flat run 16
    /// lanes at a time (16 channels or more: the gates of a vector never wrap twice); returns the outputs done (a
    /// multiple of 16).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int Gated512(byte* a, byte* y, int m, float* gf, int channels, int za, float r, int zc, float lo, float hi, bool signed)
    {
        Vector512<float> fza = Vector512.Create((float)za), vr = Vector512.Create(r), vlo = Vector512.Create(lo - zc), vhi = Vector512.Create(hi - zc);
        var vzc = Vector512.Create(zc);
        int i = 0, off = 0;
        for (; i + 16 <= m; i += 16)
        {
            var fa = Vector512.ConvertToSingle(Widen16(a + i, signed)) - fza;
            Narrow16(Avx512F.ConvertToVector512Int32(Vector512.Min(Vector512.Max(fa * Vector512.Load(gf + off) * vr, vlo), vhi)) + vzc, y + i, signed);
            off += 16; if (off >= channels) off -= channels;
        }
        return i;
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
            else if (Lanes4)
            {
                var p4 = new Mul4Params(za, zb, r, zc, lo, hi);
                for (; i + 16 <= n; i += 16)
                {
                    var (b0, b1, b2, b3) = Widen16x4(b + i, signed);
                    Mul16(a + i, y + i, b0 - p4.ZB, b1 - p4.ZB, b2 - p4.ZB, b3 - p4.ZB, signed, p4);
                }
                for (; i + 4 <= n; i += 4) Mul4(a + i, y + i, Widen4(b + i, signed) - p4.ZB, signed, p4);
            }
            for (; i < n; i++) y[i] = MulOne(a[i], b[i], za, zb, r, z, lo, hi, signed);
            return;
        }
        bool simd = SimdLevel.Bits >= 256 && Avx2.IsSupported && inner >= 8;
        // four lanes (ARM64's AdvSimd; x64 below 256 bits): runs of at least 4 outputs
        bool four = !(SimdLevel.Bits >= 256 && Avx2.IsSupported) && Lanes4 && inner >= 4;
        var q = simd ? new MulParams(za, zb, r, zc, lo, hi) : default;
        var q4 = four ? new Mul4Params(za, zb, r, zc, lo, hi) : default;
        for (int o = 0, k = 0; o < n; o += inner, k++)
        {
            int m = Math.Min(inner, n - o), i = 0, db = (signed ? (sbyte)b[k] : b[k]) - zb;
            byte* ao = a + o, yo = y + o;
            // each run's last outputs as the end of one more vector of the run (the overlap is written twice, the same)
            if (simd && m >= 8)
            {
                var vb = Vector256.Create(db);
                for (; i + 8 <= m; i += 8) Store8(yo + i, MulLanes(ao + i, vb, signed, q), signed);
                if (i < m) Store8(yo + m - 8, MulLanes(ao + m - 8, vb, signed, q), signed);
                continue;
            }
            if (four && m >= 4)
            {
                var vb = Vector128.Create(db);
                for (; i + 16 <= m; i += 16) Mul16(ao + i, yo + i, vb, vb, vb, vb, signed, q4);
                for (; i + 4 <= m; i += 4) Mul4(ao + i, yo + i, vb, signed, q4);
                if (i < m) Mul4(ao + m - 4, yo + m - 4, vb, signed, q4);
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

    /// <summary>
    /// The four-lane path's conditions: 128-bit vectors and a conversion that rounds to nearest even (AdvSimd's fcvtns,
    /// SSE2's cvtps2dq).
    /// </summary>
    static bool Lanes4 => SimdLevel.Bits >= 128 && Vector128.IsHardwareAccelerated && (AdvSimd.IsSupported || Sse2.IsSupported);

    /// <summary>Four bytes widened to int32 lanes (int8 or uint8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<int> Widen4(byte* p, bool signed)
    {
        var b = Vector128.CreateScalarUnsafe(*(int*)p).AsByte();
        return signed ? Vector128.WidenLower(Vector128.WidenLower(b.AsSByte())) : Vector128.WidenLower(Vector128.WidenLower(b)).AsInt32();
    }

    /// <summary>
    /// Four outputs as <see cref="MulLanes"/> computes eight: (a - za) * db exactly in int32, one float multiply,
    /// clamped to the bounds less the zero point, rounded half to even, plus the zero point; as four bytes at y.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Mul4(byte* a, byte* y, Vector128<int> db, bool signed, in Mul4Params p) => Store4(y, Scaled((Widen4(a, signed) - p.ZA) * db, p), p.ZC, signed);

    /// <summary>Sixteen bytes widened to four vectors of int32 lanes (int8 or uint8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (Vector128<int>, Vector128<int>, Vector128<int>, Vector128<int>) Widen16x4(byte* p, bool signed)
    {
        var v = Vector128.Load(p);
        if (signed)
        {
            var (l, h) = Vector128.Widen(v.AsSByte());
            var (a, b) = Vector128.Widen(l); var (c, d) = Vector128.Widen(h);
            return (a, b, c, d);
        }
        var (lu, hu) = Vector128.Widen(v);
        var (au, bu) = Vector128.Widen(lu); var (cu, du) = Vector128.Widen(hu);
        return (au.AsInt32(), bu.AsInt32(), cu.AsInt32(), du.AsInt32());
    }

    /// <summary>Sixteen outputs as <see cref="Mul4"/> computes four: d0..d3 the other side's values less its zero point.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Mul16(byte* a, byte* y, Vector128<int> d0, Vector128<int> d1, Vector128<int> d2, Vector128<int> d3, bool signed, in Mul4Params p)
    {
        var (a0, a1, a2, a3) = Widen16x4(a, signed);
        Store16(y, Scaled((a0 - p.ZA) * d0, p), Scaled((a1 - p.ZA) * d1, p), Scaled((a2 - p.ZA) * d2, p), Scaled((a3 - p.ZA) * d3, p), p.ZC, signed);
    }

    /// <summary>An exact int32 product times r, clamped to the bounds less the zero point.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> Scaled(Vector128<int> product, in Mul4Params p) => Vector128.Min(Vector128.Max(Vector128.ConvertToSingle(product) * p.R, p.Lo), p.Hi);

    /// <summary>
    /// Four clamped values rounded half to even, plus zc: one instruction (fcvtns, cvtps2dq), where Vector128's round
    /// and saturating conversion took several.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<int> Rounded(Vector128<float> v, Vector128<int> zc)
        => (AdvSimd.IsSupported ? AdvSimd.ConvertToInt32RoundToEven(v) : Sse2.ConvertToVector128Int32(v)) + zc;

    /// <summary><see cref="Store4"/> for sixteen values: one 16-byte store.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store16(byte* y, Vector128<float> v0, Vector128<float> v1, Vector128<float> v2, Vector128<float> v3, Vector128<int> zc, bool signed)
    {
        Vector128<short> s0 = Vector128.Narrow(Rounded(v0, zc), Rounded(v1, zc)), s1 = Vector128.Narrow(Rounded(v2, zc), Rounded(v3, zc));
        (signed ? Vector128.Narrow(s0, s1).AsByte() : Vector128.Narrow(s0.AsUInt16(), s1.AsUInt16())).Store(y);
    }

    /// <summary>Four values already clamped to the bounds less the zero point, rounded half to even, plus zc, as four bytes at y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store4(byte* y, Vector128<float> v, Vector128<int> zc, bool signed)
    {
        var q = Rounded(v, zc);
        var s = Vector128.Narrow(q, q);
        var bytes = signed ? Vector128.Narrow(s, s).AsByte() : Vector128.Narrow(s.AsUInt16(), s.AsUInt16());
        *(int*)y = bytes.AsInt32().ToScalar();
    }

    readonly struct Mul4Params
    {
        public readonly Vector128<int> ZA, ZB, ZC;
        public readonly Vector128<float> R, Lo, Hi;

        public Mul4Params(int za, int zb, float r, int zc, float lo, float hi)
        {
            ZA = Vector128.Create(za); ZB = Vector128.Create(zb); ZC = Vector128.Create(zc);
            R = Vector128.Create(r); Lo = Vector128.Create(lo - zc); Hi = Vector128.Create(hi - zc);
        }
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
