using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

public static unsafe partial class Int8
{
    /// <summary>
    /// Max pooling of int8 planes (NCHW, [batchTimesChannels, inH, inW] into [outH, outW]): quantized max pooling is the
    /// max of the bytes (the scale is monotonic), so an int8 model pools without leaving int8. Pads never win; the
    /// bottom/right pads are implied by outH/outW (ceil mode included). Allocation-free.
    /// </summary>
    public static void MaxPool2D(ReadOnlySpan<sbyte> x, Span<sbyte> y, int batchTimesChannels, int inH, int inW, int outH, int outW,
        int kH, int kW, int strideH, int strideW, int padTop, int padLeft, int dilH, int dilW)
    {
        Pool.Check(x.Length, y.Length, batchTimesChannels, inH, inW, outH, outW, kH, kW, strideH, strideW, padTop, padLeft, dilH, dilW);
        fixed (sbyte* px = x, py = y)
            MaxPool(px, py, sbyte.MinValue, batchTimesChannels, inH, inW, outH, outW, kH, kW, strideH, strideW, padTop, padLeft, dilH, dilW);
    }

    /// <summary>Max pooling of uint8 planes (see the int8 overload).</summary>
    public static void MaxPool2D(ReadOnlySpan<byte> x, Span<byte> y, int batchTimesChannels, int inH, int inW, int outH, int outW,
        int kH, int kW, int strideH, int strideW, int padTop, int padLeft, int dilH, int dilW)
    {
        Pool.Check(x.Length, y.Length, batchTimesChannels, inH, inW, outH, outW, kH, kW, strideH, strideW, padTop, padLeft, dilH, dilW);
        fixed (byte* px = x, py = y)
            MaxPool(px, py, byte.MinValue, batchTimesChannels, inH, inW, outH, outW, kH, kW, strideH, strideW, padTop, padLeft, dilH, dilW);
    }

    /// <summary>Bytes of a segment's padded row (and of its column maxima): a segment is as many outputs as fit.</summary>
    const int PoolRow = 2048;

    /// <summary>
    /// Per plane and output row: the window's rows reduced into a padded stack row (pads at T's minimum, so they never
    /// win), then the window's columns reduced at every column of that row, both with whole vectors; the outputs are
    /// every stride-th of those maxima (stride 2: the even bytes, a narrowing of 16-bit lanes). Rows longer than a stack
    /// row are done in segments of output columns.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void MaxPool<T>(T* x, T* y, T min, int planes, int inH, int inW, int outH, int outW, int kH, int kW,
        int sh, int sw, int pt, int pl, int dh, int dw) where T : unmanaged
    {
        if (inH * inW <= 64 && outH * outW <= 64 && planes > 1 && kH * kW <= MaxSmallTaps && Avx512Vbmi.IsSupported && SimdLevel.Bits >= 512)
        {
            MaxPoolSmall(x, y, min, planes, inH, inW, outH, outW, kH, kW, sh, sw, pt, pl, dh, dw);
            return;
        }
        int l = Vector128<T>.Count, reach = (kW - 1) * dw + 1;
        // outputs per segment: its padded row and the vectors read past its end fit the stack row
        int seg = Math.Min(outW, (PoolRow - 2 * l - reach) / sw + 1);
        if (seg < 1) { MaxPoolScalar(x, y, min, planes, inH, inW, outH, outW, kH, kW, sh, sw, pt, pl, dh, dw); return; }
        T* row = stackalloc T[PoolRow];
        T* best = stackalloc T[PoolRow];
        T* xEnd = x + (long)planes * inH * inW;
        var lowest = Vector128.Create(min);
        for (int p = 0; p < planes; p++)
        {
            T* xp = x + (long)p * inH * inW, yp = y + (long)p * outH * outW;
            for (int oy = 0; oy < outH; oy++)
            {
                int top = oy * sh - pt;
                int k0 = Conv.FirstAtLeast(0, top, dh), k1 = Math.Min(kH, Conv.EndAtMost(inH - 1, top, dh));
                T* yr = yp + (long)oy * outW;
                for (int ox0 = 0; ox0 < outW; ox0 += seg)
                {
                    int n = Math.Min(seg, outW - ox0), c0 = ox0 * sw - pl, len = (n - 1) * sw + reach;
                    // the padded row: columns c0 .. c0 + len, the window's valid rows reduced, whole vectors only (a
                    // vector may run into the next input row: the right padding is written after the rows)
                    int a = Math.Clamp(-c0, 0, len), b = Math.Clamp(inW - c0, a, len), j = a;
                    for (int q = 0; q < a; q += l) lowest.Store(row + q);
                    if (k0 >= k1) for (; j < b; j += l) lowest.Store(row + j);
                    else
                    {
                        T* first = xp + (long)(top + k0 * dh) * inW + c0, lastRow = first + (long)(k1 - 1 - k0) * dh * inW;
                        long step = (long)dh * inW;
                        for (; j < b && lastRow + j + l <= xEnd; j += l) Rows(first + j, step, k1 - k0).Store(row + j);
                        // near the tensor's end: the row's last vector ending at its last column, else one column at a time
                        if (j < b && b - a >= l) Rows(first + b - l, step, k1 - k0).Store(row + b - l);
                        else
                            for (; j < b; j++)
                            {
                                var v = Vector128.CreateScalarUnsafe(first[j]);
                                for (int k = 1; k < k1 - k0; k++) v = Vector128.Max(v, Vector128.CreateScalarUnsafe(first[k * step + j]));
                                row[j] = v.ToScalar();
                            }
                    }
                    for (int q = b; q < len + l; q += l) lowest.Store(row + q);
                    // the window's columns at each column that starts one (every stride-th is an output)
                    int cols = (n - 1) * sw + 1;
                    for (int c = 0; c < cols; c += l)
                    {
                        var v = Vector128.Load(row + c);
                        for (int k = 1; k < kW; k++) v = Vector128.Max(v, Vector128.Load(row + c + k * dw));
                        v.Store(best + c);
                    }
                    T* yo = yr + ox0;
                    if (sw == 1) new ReadOnlySpan<T>(best, n).CopyTo(new Span<T>(yo, n));
                    else if (sw == 2 && sizeof(T) == 1)
                    {
                        // the even bytes: the low halves of 16-bit lanes, whole vectors into the row, then n of them out
                        for (int i = 0; i < n; i += l)
                            Vector128.Narrow(Vector128.Load((ushort*)(best + 2 * i)), Vector128.Load((ushort*)(best + 2 * i + l))).As<byte, T>().Store(row + i);
                        new ReadOnlySpan<T>(row, n).CopyTo(new Span<T>(yo, n));
                    }
                    else for (int i = 0; i < n; i++) yo[i] = best[i * sw];
                }
            }
        }
    }

    /// <summary>The maximum of a vector at p and at the same place in the n - 1 rows step elements apart after it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<T> Rows<T>(T* p, long step, int n) where T : unmanaged
    {
        var v = Vector128.Load(p);
        for (int k = 1; k < n; k++) v = Vector128.Max(v, Vector128.Load(p + k * step));
        return v;
    }

    /// <summary>Taps of the small-plane path's window (its per-tap byte permutations live on the stack).</summary>
    const int MaxSmallTaps = 25;

    /// <summary>
    /// Planes of at most 64 bytes in and out (GoogLeNet's 4 x 4 and 2 x 2, 8 x 8 ones): per row of outputs the per-row
    /// set-up of the general path cost more than the maxima. Each plane is one 64-byte vector; each tap is one byte
    /// permutation (vpermb) of it into output order, its padded outputs masked to T's minimum; the plane's output is the
    /// taps' maximum. The last planes are read from and written to the stack (whole vectors would reach past the tensors).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void MaxPoolSmall<T>(T* x, T* y, T min, int planes, int inH, int inW, int outH, int outW, int kH, int kW,
        int sh, int sw, int pt, int pl, int dh, int dw) where T : unmanaged
    {
        int taps = kH * kW, inPlane = inH * inW, outPlane = outH * outW;
        byte* idx = stackalloc byte[MaxSmallTaps * 64];
        byte* keep = stackalloc byte[MaxSmallTaps * 64];
        new Span<byte>(keep, taps * 64).Clear();
        new Span<byte>(idx, taps * 64).Clear();
        for (int ky = 0, t = 0; ky < kH; ky++)
            for (int kx = 0; kx < kW; kx++, t++)
                for (int oy = 0; oy < outH; oy++)
                    for (int ox = 0; ox < outW; ox++)
                    {
                        int iy = oy * sh - pt + ky * dh, ix = ox * sw - pl + kx * dw, o = oy * outW + ox;
                        if ((uint)iy >= (uint)inH || (uint)ix >= (uint)inW) continue;
                        idx[t * 64 + o] = (byte)(iy * inW + ix);
                        keep[t * 64 + o] = 0xFF;
                    }
        var lowest = Vector512.Create(min);
        byte* last = stackalloc byte[128];
        for (int p = 0; p < planes; p++)
        {
            // the planes whose 64-byte load or store would reach past the tensors go through the stack
            bool endIn = (long)p * inPlane + 64 > (long)planes * inPlane, end = (long)p * outPlane + 64 > (long)planes * outPlane;
            byte* src = (byte*)(x + (long)p * inPlane);
            if (endIn) { Buffer.MemoryCopy(src, last, 64, inPlane * sizeof(T)); src = last; }
            var v = Vector512.Load(src);
            var acc = lowest;
            for (int t = 0; t < taps; t++)
            {
                var g = Avx512Vbmi.PermuteVar64x8(v, Vector512.Load(idx + t * 64)).As<byte, T>();
                acc = Vector512.Max(acc, Vector512.ConditionalSelect(Vector512.Load(keep + t * 64).As<byte, T>(), g, lowest));
            }
            if (end) { acc.Store((T*)(last + 64)); Buffer.MemoryCopy(last + 64, y + (long)p * outPlane, outPlane * sizeof(T), outPlane * sizeof(T)); }
            else acc.Store(y + (long)p * outPlane);
        }
    }

    /// <summary>Windows whose reach does not fit a stack row: each output's taps in turn.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void MaxPoolScalar<T>(T* x, T* y, T min, int planes, int inH, int inW, int outH, int outW, int kH, int kW,
        int sh, int sw, int pt, int pl, int dh, int dw) where T : unmanaged
    {
        for (int p = 0; p < planes; p++)
            for (int oy = 0; oy < outH; oy++)
                for (int ox = 0; ox < outW; ox++)
                {
                    var m = Vector128.CreateScalarUnsafe(min);
                    for (int ky = 0; ky < kH; ky++)
                    {
                        int iy = oy * sh - pt + ky * dh;
                        if ((uint)iy >= (uint)inH) continue;
                        for (int kx = 0; kx < kW; kx++)
                        {
                            int ix = ox * sw - pl + kx * dw;
                            if ((uint)ix < (uint)inW) m = Vector128.Max(m, Vector128.CreateScalarUnsafe(x[((long)p * inH + iy) * inW + ix]));
                        }
                    }
                    y[((long)p * outH + oy) * outW + ox] = m.ToScalar();
                }
    }
}
