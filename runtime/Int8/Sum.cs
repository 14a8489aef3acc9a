using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

public static unsafe partial class Int8
{
    /// <summary>The int32 sum of int8 values (a global average pool's plane): exact, as the emitted loop.</summary>
    public static int Sum(ReadOnlySpan<sbyte> x)
    {
        fixed (sbyte* p = x) return Sum((byte*)p, x.Length, true);
    }

    /// <summary>The int32 sum of uint8 values.</summary>
    public static int Sum(ReadOnlySpan<byte> x)
    {
        fixed (byte* p = x) return Sum(p, x.Length, false);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int Sum(byte* x, int n, bool signed)
    {
        int i = 0, s = 0;
        if (SimdLevel.Bits >= 256 && Avx2.IsSupported && n >= 32)
        {
            // vpsadbw against zero sums 8 unsigned bytes per 64-bit lane in one instruction; int8 is uint8 less 128 each
            var acc = Vector256<ulong>.Zero;
            var flip = Vector256.Create(signed ? (byte)0x80 : (byte)0);
            for (; i + 32 <= n; i += 32) acc += Avx2.SumAbsoluteDifferences(Vector256.Load(x + i) ^ flip, Vector256<byte>.Zero).AsUInt64();
            ulong t = Vector256.Sum(acc);
            if (i + 16 <= n) { t += Vector128.Sum(Sse2.SumAbsoluteDifferences(Vector128.Load(x + i) ^ flip.GetLower(), Vector128<byte>.Zero).AsUInt64()); i += 16; }
            // the last bytes as the end of one 16-byte load, the ones already counted masked off
            if (i < n) { t += Tail(x + n, n - i, signed); i = n; }
            s = (int)(long)t - (signed ? 128 * i : 0);
        }
        else if (SimdLevel.Bits >= 128 && Vector128.IsHardwareAccelerated)
        {
            // 16 bytes as two int16 halves added (|sum| <= 510), widened to int32 lanes
            var acc = Vector128<int>.Zero;
            for (; i + 16 <= n; i += 16)
            {
                var v = Vector128.Load(x + i);
                Vector128<short> h = signed ? Add(Vector128.Widen(v.AsSByte())) : Add(Vector128.Widen(v)).AsInt16();
                var (l, u) = Vector128.Widen(h);
                acc += l + u;
            }
            s = Vector128.Sum(acc);
        }
        if (signed) for (; i < n; i++) s += (sbyte)x[i];
        else for (; i < n; i++) s += x[i];
        return s;
    }

    /// <summary>
    /// The exact sum of plane p's size values (x: the tensor's start): a plane shorter than 16 as the end of a 16-byte
    /// load reaching back into the planes before it, where there are 16 bytes to read back into; otherwise <see cref="Sum(byte*, int, bool)"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int PlaneSum(byte* x, byte* p, int size, bool signed)
        => size < 16 && Sse2.IsSupported && p + size - 16 >= x ? (int)Tail(p + size, size, signed) - (signed ? 128 * size : 0) : Sum(p, size, signed);

    /// <summary>
    /// The sum of the last k (1 to 16) bytes before end, each as uint8 (int8 + 128 where signed), from one 16-byte load
    /// ending at end (the 16 - k bytes before them must be readable): vpsadbw over the kept bytes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static ulong Tail(byte* end, int k, bool signed)
    {
        var keep = Vector128.GreaterThanOrEqual(Vector128.Create((byte)0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), Vector128.Create((byte)(16 - k)));
        var v = (Vector128.Load(end - 16) ^ Vector128.Create(signed ? (byte)0x80 : (byte)0)) & keep;
        return Vector128.Sum(Sse2.SumAbsoluteDifferences(v, Vector128<byte>.Zero).AsUInt64());
    }

    /// <summary>
    /// QLinearAveragePool over whole planes (a global pool) of int8 or uint8 x [planes, size] into y [planes], as the
    /// emitted loop: the plane's exact int32 sum less zx * size, then q = roundHalfEven((float)sum * sx / size / sy + zy)
    /// saturated. The sums plane by plane (SIMD for planes of 16 or more), the float steps eight planes at a time (the same
    /// operations in the same order, so the same values): 256 planes of 3x3 took 3.3 us one call per plane.
    /// <paramref name="channelsLast"/>: x is [planes / channelsLast, size, channelsLast] instead (the end of an int8
    /// channels-last chain), the sums a vector of channels per position (<see cref="ChannelSums"/>). Allocation-free.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GlobalAverage(ReadOnlySpan<byte> x, bool xSigned, int planes, int size, int zx, float sx, float sy, int zy, Span<byte> y, bool ySigned, int channelsLast = 0)
    {
        CheckGlobal(x.Length, y.Length, planes, size, channelsLast);
        int* sums = stackalloc int[ChunkPlanes];
        float lo = ySigned ? -128f : 0f, hi = ySigned ? 127f : 255f, n = size, z = zy;
        fixed (byte* px = x, py = y)
            for (int c0 = 0; c0 < planes;)
            {
                int m = PlaneSums(px, c0, planes, size, xSigned, zx, channelsLast, sums), c = 0;
                if (Avx.IsSupported)
                {
                    Vector256<float> vsx = Vector256.Create(sx), vn = Vector256.Create(n), vsy = Vector256.Create(sy), vz = Vector256.Create(z);
                    for (; c + 8 <= m; c += 8)
                        StoreEight(py + c0 + c, Avx.RoundToNearestInteger(Vector256.ConvertToSingle(Vector256.Load(sums + c)) * vsx / vn / vsy + vz), lo, hi, ySigned);
                }
                for (; c < m; c++)
                {
                    float q = MathF.Round((float)sums[c] * sx / n / sy + z);
                    py[c0 + c] = (byte)(int)(q < lo ? lo : q > hi ? hi : q);
                }
                c0 += m;
            }
    }

    /// <summary>
    /// QLinearGlobalAveragePool (NCHW) of int8 or uint8 x [planes, size] into y [planes], as the emitted loop (MLAS's
    /// arithmetic): acc = the plane's exact int32 sum less zx * size, y = saturate(roundHalfEven((float)acc * multiplier) + zy),
    /// multiplier = sx / (sy * size); the float steps eight planes at a time (1280 planes of 3x3 took 4.4 us one by one).
    /// <paramref name="channelsLast"/>: as in <see cref="GlobalAverage"/>. Allocation-free.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GlobalAverageScaled(ReadOnlySpan<byte> x, bool xSigned, int planes, int size, int zx, float multiplier, int zy, Span<byte> y, bool ySigned, int channelsLast = 0)
    {
        CheckGlobal(x.Length, y.Length, planes, size, channelsLast);
        int* sums = stackalloc int[ChunkPlanes];
        float lo = ySigned ? -128f : 0f, hi = ySigned ? 127f : 255f, z = zy;
        fixed (byte* px = x, py = y)
            for (int c0 = 0; c0 < planes;)
            {
                int m = PlaneSums(px, c0, planes, size, xSigned, zx, channelsLast, sums), c = 0;
                if (Avx.IsSupported)
                {
                    Vector256<float> vm = Vector256.Create(multiplier), vz = Vector256.Create(z);
                    for (; c + 8 <= m; c += 8)
                        StoreEight(py + c0 + c, Avx.RoundToNearestInteger(Vector256.ConvertToSingle(Vector256.Load(sums + c)) * vm) + vz, lo, hi, ySigned);
                }
                for (; c < m; c++)
                {
                    float q = MathF.Round((float)sums[c] * multiplier) + z;
                    py[c0 + c] = (byte)(int)(q < lo ? lo : q > hi ? hi : q);
                }
                c0 += m;
            }
    }

    /// <summary>Planes per chunk of the global pools (their sums on the stack).</summary>
    const int ChunkPlanes = 64;

    static void CheckGlobal(int xLen, int yLen, int planes, int size, int channelsLast)
    {
        if (planes < 0 || size <= 0 || channelsLast < 0 || channelsLast > 0 && planes % channelsLast != 0)
            throw new ArgumentOutOfRangeException(nameof(size), "GlobalAverage: invalid geometry");
        if (xLen < (long)planes * size || yLen < planes) throw new ArgumentException("GlobalAverage: sizes do not agree");
    }

    /// <summary>
    /// The exact sums less zx * size of planes c0.. (at most <see cref="ChunkPlanes"/>, and channels last never past
    /// the image's last channel) into sums; returns how many.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int PlaneSums(byte* x, int c0, int planes, int size, bool signed, int zx, int channelsLast, int* sums)
    {
        int m = Math.Min(ChunkPlanes, planes - c0);
        if (channelsLast > 0)
        {
            int ch = c0 % channelsLast;
            m = Math.Min(m, channelsLast - ch);
            ChannelSums(x + (long)(c0 - ch) * size + ch, channelsLast, size, m, signed, sums);
            for (int i = 0; i < m; i++) sums[i] -= zx * size;
        }
        else
            for (int i = 0; i < m; i++) sums[i] = PlaneSum(x, x + (long)(c0 + i) * size, size, signed) - zx * size;
        return m;
    }

    /// <summary>
    /// sums[j] = the exact sum over the size positions p of x[p * stride + j], j &lt; m (at most 64): 16 channels per
    /// vector, widened to int16 and added there for runs of up to 255 positions (|sum| &lt;= 255 * 128 fits; uint8 as
    /// ushort, 255 * 255), then into int32.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void ChannelSums(byte* x, int stride, int size, int m, bool signed, int* sums)
    {
        int j = 0;
        if (Vector128.IsHardwareAccelerated && SimdLevel.Bits >= 128)
            for (; j + 16 <= m; j += 16)
            {
                Vector128<int> s0 = default, s1 = default, s2 = default, s3 = default;
                for (int p0 = 0; p0 < size; p0 += 255)
                {
                    Vector128<short> lo = default, hi = default;
                    byte* q = x + (long)p0 * stride + j;
                    for (int p = p0, end = Math.Min(size, p0 + 255); p < end; p++, q += stride)
                    {
                        var v = Vector128.Load(q);
                        if (signed) { lo += Vector128.WidenLower(v.AsSByte()); hi += Vector128.WidenUpper(v.AsSByte()); }
                        else { lo += Vector128.WidenLower(v).AsInt16(); hi += Vector128.WidenUpper(v).AsInt16(); }
                    }
                    if (signed) { s0 += Vector128.WidenLower(lo); s1 += Vector128.WidenUpper(lo); s2 += Vector128.WidenLower(hi); s3 += Vector128.WidenUpper(hi); }
                    else
                    {
                        s0 += Vector128.WidenLower(lo.AsUInt16()).AsInt32(); s1 += Vector128.WidenUpper(lo.AsUInt16()).AsInt32();
                        s2 += Vector128.WidenLower(hi.AsUInt16()).AsInt32(); s3 += Vector128.WidenUpper(hi.AsUInt16()).AsInt32();
                    }
                }
                s0.Store(sums + j); s1.Store(sums + j + 4); s2.Store(sums + j + 8); s3.Store(sums + j + 12);
            }
        for (; j < m; j++)
        {
            int t = 0;
            byte* q = x + j;
            if (signed) for (int p = 0; p < size; p++, q += stride) t += (sbyte)*q;
            else for (int p = 0; p < size; p++, q += stride) t += *q;
            sums[j] = t;
        }
    }

    /// <summary>Eight rounded values clamped to [lo, hi] and stored as bytes (NaN, from a zero scale, gives 0 as the loop's cast does).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void StoreEight(byte* d, Vector256<float> q, float lo, float hi, bool signed)
    {
        var r = Avx.ConvertToVector256Int32WithTruncation(Avx.Min(Avx.Max(q, Vector256.Create(lo)), Vector256.Create(hi))) & Vector256.Equals(q, q).AsInt32();
        var w = Sse2.PackSignedSaturate(r.GetLower(), r.GetUpper()); // in range: the packs keep the values
        *(ulong*)d = (signed ? Sse2.PackSignedSaturate(w, w).AsUInt64() : Sse2.PackUnsignedSaturate(w, w).AsUInt64()).ToScalar();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] static Vector128<short> Add((Vector128<short> Lo, Vector128<short> Hi) p) => p.Lo + p.Hi;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] static Vector128<ushort> Add((Vector128<ushort> Lo, Vector128<ushort> Hi) p) => p.Lo + p.Hi;
}
