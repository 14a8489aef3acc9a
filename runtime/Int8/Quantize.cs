using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

public static unsafe partial class Int8
{
    /// <summary>
    /// Per-tensor QuantizeLinear to int8, exactly as the emitted scalar loop: y = saturate(roundHalfEven(x / scale) +
    /// zero) computed in float (division, not a multiply by the reciprocal); +-infinity saturate, NaN gives 0.
    /// </summary>
    public static void Quantize(ReadOnlySpan<float> x, float scale, int zero, Span<sbyte> y)
    {
        if (y.Length < x.Length) throw new ArgumentException("Quantize: output too small", nameof(y));
        fixed (float* px = x) fixed (sbyte* py = y) Quantize(px, scale, zero, (byte*)py, x.Length, -128f, 127f);
    }

    /// <summary>Per-tensor QuantizeLinear to uint8 (see the int8 overload).</summary>
    public static void Quantize(ReadOnlySpan<float> x, float scale, int zero, Span<byte> y)
    {
        if (y.Length < x.Length) throw new ArgumentException("Quantize: output too small", nameof(y));
        fixed (float* px = x) fixed (byte* py = y) Quantize(px, scale, zero, py, x.Length, 0f, 255f);
    }

    /// <summary>Per-tensor DequantizeLinear from int8, exactly as the emitted scalar loop: y = (float)(x - zero) * scale.</summary>
    public static void Dequantize(ReadOnlySpan<sbyte> x, float scale, int zero, Span<float> y)
    {
        if (y.Length < x.Length) throw new ArgumentException("Dequantize: output too small", nameof(y));
        fixed (sbyte* px = x) fixed (float* py = y) Dequantize((byte*)px, true, scale, zero, py, x.Length, SimdLevel.Bits);
    }

    /// <summary>Per-tensor DequantizeLinear from uint8.</summary>
    public static void Dequantize(ReadOnlySpan<byte> x, float scale, int zero, Span<float> y)
    {
        if (y.Length < x.Length) throw new ArgumentException("Dequantize: output too small", nameof(y));
        fixed (byte* px = x) fixed (float* py = y) Dequantize(px, false, scale, zero, py, x.Length, SimdLevel.Bits);
    }

    /// <summary>
    /// DynamicQuantizeLinear as the emitted loops compute it: the range [min(0, min x), max(0, max x)] (NaN ignored),
    /// scale = range / 255 (1 for an empty range), zero point = saturate(roundHalfEven(0 - min / scale)), then
    /// <see cref="Quantize(ReadOnlySpan{float}, float, int, Span{byte})"/>. Writes y, and returns the scale and zero point.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void DynamicQuantize(ReadOnlySpan<float> x, Span<byte> y, out float scale, out byte zeroPoint)
    {
        if (y.Length < x.Length) throw new ArgumentException("DynamicQuantize: output too small", nameof(y));
        float mn = 0f, mx = 0f;
        int i = 0;
        fixed (float* px = x)
        {
            if (Vector128.IsHardwareAccelerated && x.Length >= 16)
            {
                // lane-wise "if (v < min) min = v" (a NaN compares false and is skipped, as in the loop), then across lanes
                Vector128<float> vmn = Vector128<float>.Zero, vmx = Vector128<float>.Zero;
                for (; i + 4 <= x.Length; i += 4)
                {
                    var v = Vector128.Load(px + i);
                    vmn = Vector128.ConditionalSelect(Vector128.LessThan(v, vmn), v, vmn);
                    vmx = Vector128.ConditionalSelect(Vector128.GreaterThan(v, vmx), v, vmx);
                }
                for (int l = 0; l < 4; l++) { if (vmn[l] < mn) mn = vmn[l]; if (vmx[l] > mx) mx = vmx[l]; }
            }
            for (; i < x.Length; i++) { float v = px[i]; if (v < mn) mn = v; if (v > mx) mx = v; }
        }
        scale = mx == mn ? 1f : (mx - mn) / 255f;
        float z0 = 0f - mn / scale;
        zeroPoint = (byte)(int)MathF.Round(z0 < 0f ? 0f : z0 > 255f ? 255f : z0);
        Quantize(x, scale, zeroPoint, y);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Quantize(float* x, float scale, int zero, byte* y, int n, float lo, float hi)
    {
        int i = 0, bits = SimdLevel.Bits;
        float z = zero;
        if (bits >= 256 && Avx2.IsSupported)
        {
            // clamped in float to the bounds less the zero point (integers, so clamping and rounding commute), then
            // vcvtps2dq (round half to even) and saturating packs: the division is the only costly instruction (the
            // saturating Vector256.ConvertToInt32 and Narrow chain took 2.3x as long)
            Vector256<float> s = Vector256.Create(scale), l = Vector256.Create(lo - z), h = Vector256.Create(hi - z);
            Vector256<int> zi = Vector256.Create(zero), order = Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7);
            bool unsigned = lo == 0f;
            if (bits >= 512 && Avx512F.IsSupported)
            {
                // the divisions 16 at a time (where a 512-bit divide is one instruction, Zen 5's, it halves their cost)
                // and each vector's int32 narrowed to bytes by one vpmovsdb / vpmovusdb (in range after the clamp)
                Vector512<float> s16 = Vector512.Create(scale), l16 = Vector512.Create(lo - z), h16 = Vector512.Create(hi - z);
                Vector512<int> z16 = Vector512.Create(zero);
                for (; i + 16 <= n; i += 16)
                {
                    var d = Avx512F.Divide(Vector512.Load(x + i), s16);
                    var q = (Avx512F.ConvertToVector512Int32(Avx512F.Min(Avx512F.Max(d, l16), h16)) + z16) & Vector512.Equals(d, d).AsInt32();
                    if (unsigned) Avx512F.ConvertToVector128ByteWithSaturation(q.AsUInt32()).Store(y + i);
                    else Avx512F.ConvertToVector128SByteWithSaturation(q).AsByte().Store(y + i);
                }
            }
            for (; i + 32 <= n; i += 32)
            {
                var ab = Avx2.PackSignedSaturate(Q(Avx.Divide(Vector256.Load(x + i), s), l, h, zi), Q(Avx.Divide(Vector256.Load(x + i + 8), s), l, h, zi));
                var cd = Avx2.PackSignedSaturate(Q(Avx.Divide(Vector256.Load(x + i + 16), s), l, h, zi), Q(Avx.Divide(Vector256.Load(x + i + 24), s), l, h, zi));
                var bytes = unsigned ? Avx2.PackUnsignedSaturate(ab, cd).AsInt32() : Avx2.PackSignedSaturate(ab, cd).AsInt32();
                Avx2.PermuteVar8x32(bytes, order).AsByte().Store(y + i); // the packs interleave the 128-bit halves
            }
        }
        if (bits >= 128 && (Sse41.IsSupported || AdvSimd.IsSupported))
        {
            Vector128<float> s = Vector128.Create(scale), zv = Vector128.Create(z), l = Vector128.Create(lo), h = Vector128.Create(hi);
            for (; i + 16 <= n; i += 16)
            {
                var a = Vector128.Narrow(Q(Vector128.Load(x + i), s, zv, l, h), Q(Vector128.Load(x + i + 4), s, zv, l, h));
                var b = Vector128.Narrow(Q(Vector128.Load(x + i + 8), s, zv, l, h), Q(Vector128.Load(x + i + 12), s, zv, l, h));
                Vector128.Narrow(a, b).AsByte().Store(y + i);
            }
        }
        for (; i < n; i++)
        {
            float q = MathF.Round(x[i] / scale) + z;
            y[i] = float.IsNaN(q) ? (byte)0 : (byte)(int)(q < lo ? lo : q > hi ? hi : q);
        }
    }

    /// <summary>
    /// One vector of <see cref="Quantize(float*, float, int, byte*, int, float, float)"/>'s quotients x / scale as int32
    /// (NaN lanes 0): lo and hi less the zero point.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> Q(Vector256<float> d, Vector256<float> lo, Vector256<float> hi, Vector256<int> zero)
    {
        var c = Avx.Min(Avx.Max(d, lo), hi); // NaN lanes are masked to 0 below, so the min/max's NaN rules do not matter
        return (Avx.ConvertToVector256Int32(c) + zero) & Vector256.Equals(d, d).AsInt32();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<int> Q(Vector128<float> x, Vector128<float> scale, Vector128<float> zero, Vector128<float> lo, Vector128<float> hi)
    {
        var d = x / scale;
        var q = (Sse41.IsSupported ? Sse41.RoundToNearestInteger(d) : AdvSimd.RoundToNearest(d)) + zero;
        // NaN lanes are masked to 0 below, so the min/max's NaN rules do not matter
        var c = Vector128.Min(Vector128.Max(q, lo), hi);
        return Vector128.ConvertToInt32(c & Vector128.Equals(q, q));
    }

    /// <summary>
    /// Per-axis DequantizeLinear from int8 (Quantize="Weights" convolution weights: one scale per output channel), as
    /// the emitted loop: x [outer, channels, inner], y[(o * channels + c) * inner + i] = (float)(x - zero[c]) * scale[c];
    /// zero empty = 0. Each channel's run of inner values is one SIMD pass.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void DequantizeAxis(ReadOnlySpan<sbyte> x, ReadOnlySpan<float> scale, ReadOnlySpan<sbyte> zero, Span<float> y, int outer, int channels, int inner)
    {
        if (outer < 0 || channels < 0 || inner < 0) throw new ArgumentOutOfRangeException(nameof(outer), "DequantizeAxis: negative size");
        long n = (long)outer * channels * inner;
        if (x.Length < n || y.Length < n || scale.Length < channels || !zero.IsEmpty && zero.Length < channels)
            throw new ArgumentException("DequantizeAxis: sizes do not agree");
        int bits = SimdLevel.Bits;
        fixed (sbyte* px = x) fixed (float* py = y)
            for (int o = 0; o < outer; o++)
                for (int c = 0; c < channels; c++)
                {
                    long at = ((long)o * channels + c) * inner;
                    int z = zero.IsEmpty ? 0 : zero[c];
                    float s = scale[c];
                    // short runs (a depthwise channel's 9 weights): whole vectors from the run's start, spilling into the next
                    // run's places, which that run then overwrites (channels go in order; none past the data), instead
                    // of a call with a vector and a scalar tail per channel (3x slower on MobileNet's 256 x 3x3)
                    if (inner <= 16 && bits >= 512 && Avx512F.IsSupported && at + 16 <= n)
                        (Vector512.ConvertToSingle(Avx512F.ConvertToVector512Int32(Vector128.Load(px + at)) - Vector512.Create(z)) * Vector512.Create(s)).Store(py + at);
                    else if (inner <= 16 && bits >= 256 && Avx2.IsSupported && at + 16 <= n)
                    {
                        (Vector256.ConvertToSingle(Avx2.ConvertToVector256Int32(px + at) - Vector256.Create(z)) * Vector256.Create(s)).Store(py + at);
                        if (inner > 8) (Vector256.ConvertToSingle(Avx2.ConvertToVector256Int32(px + at + 8) - Vector256.Create(z)) * Vector256.Create(s)).Store(py + at + 8);
                    }
                    else Dequantize((byte*)px + at, true, s, z, py + at, inner, bits);
                }
    }

    /// <summary>
    /// Dequantizes int8 weights packed for a kernel that reads them in blocks of <paramref name="lanes"/> output
    /// channels per row (Quantize="Weights": ConvPanels' panels of 16, PointwiseConv's channel lanes), one scale per lane:
    /// x [blocks, rows, lanes], y[(b * rows + r) * lanes + l] = (float)x[...] * scale[b * lanes + l], the same floats as
    /// DequantizeLinear with zero point 0. One pass in memory order, a vector of 8 or 16 lanes at a time.
    /// </summary>
    public static void DequantizeLanes(ReadOnlySpan<sbyte> x, ReadOnlySpan<float> scale, Span<float> y, int blocks, int rows, int lanes)
    {
        if (blocks < 0 || rows < 0 || lanes < 0) throw new ArgumentOutOfRangeException(nameof(blocks), "DequantizeLanes: negative size");
        long n = (long)blocks * rows * lanes;
        if (x.Length < n || y.Length < n || scale.Length < (long)blocks * lanes) throw new ArgumentException("DequantizeLanes: sizes do not agree");
        fixed (sbyte* px = x) fixed (float* ps = scale, py = y) DequantizeLanes(px, ps, py, blocks, rows, lanes);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void DequantizeLanes(sbyte* x, float* scale, float* y, int blocks, int rows, int lanes)
    {
        int bits = SimdLevel.Bits;
        for (int b = 0; b < blocks; b++, scale += lanes)
            for (int r = 0; r < rows; r++, x += lanes, y += lanes)
            {
                // the row's scales are reloaded from L1 rather than held: a row may be wider than the registers
                int l = 0;
                if (bits >= 512 && Avx512F.IsSupported)
                    for (; l + 16 <= lanes; l += 16)
                        (Vector512.ConvertToSingle(Avx512F.ConvertToVector512Int32(Vector128.Load(x + l))) * Vector512.Load(scale + l)).Store(y + l);
                if (bits >= 256 && Avx2.IsSupported)
                    for (; l + 8 <= lanes; l += 8)
                        (Vector256.ConvertToSingle(Avx2.ConvertToVector256Int32(x + l)) * Vector256.Load(scale + l)).Store(y + l);
                if (bits >= 128 && Vector128.IsHardwareAccelerated)
                    for (; l + 8 <= lanes; l += 8)
                    {
                        var (lo, hi) = Vector128.Widen(Vector128.WidenLower(Vector128.CreateScalarUnsafe(*(long*)(x + l)).AsSByte()));
                        (Vector128.ConvertToSingle(lo) * Vector128.Load(scale + l)).Store(y + l);
                        (Vector128.ConvertToSingle(hi) * Vector128.Load(scale + l + 4)).Store(y + l + 4);
                    }
                for (; l < lanes; l++) y[l] = (float)x[l] * scale[l];
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dequantize(byte* x, bool signed, float scale, int zero, float* y, int n, int bits)
    {
        int i = 0;
        if (bits >= 256 && Avx2.IsSupported)
        {
            Vector256<int> z = Vector256.Create(zero); Vector256<float> s = Vector256.Create(scale);
            for (; i + 8 <= n; i += 8)
            {
                var v = signed ? Avx2.ConvertToVector256Int32((sbyte*)x + i) : Avx2.ConvertToVector256Int32(x + i);
                (Vector256.ConvertToSingle(v - z) * s).Store(y + i);
            }
        }
        if (bits >= 128 && Vector128.IsHardwareAccelerated)
        {
            Vector128<int> z = Vector128.Create(zero); Vector128<float> s = Vector128.Create(scale);
            for (; i + 8 <= n; i += 8)
            {
                var b = Vector128.CreateScalarUnsafe(*(ulong*)(x + i)).AsByte();
                Vector128<int> lo, hi;
                if (signed) { var w = Vector128.WidenLower(b.AsSByte()); (lo, hi) = Vector128.Widen(w); }
                else { var w = Vector128.WidenLower(b).AsInt16(); (lo, hi) = Vector128.Widen(w); }
                (Vector128.ConvertToSingle(lo - z) * s).Store(y + i);
                (Vector128.ConvertToSingle(hi - z) * s).Store(y + i + 4);
            }
        }
        if (signed) for (; i < n; i++) y[i] = (float)((sbyte)x[i] - zero) * scale;
        else for (; i < n; i++) y[i] = (float)(x[i] - zero) * scale;
    }
}
