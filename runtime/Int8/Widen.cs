using System;
using System.Numerics;
using System.Runtime.InteropServices;

namespace ModelGen.Runtime;

/// <summary>Helpers of the int8 kernels for generated code.</summary>
public static class Int8
{
    /// <summary>
    /// dst[i] = src[i] as int16: the compiled-in int8 weights widened to the int16 pairs the kernels multiply, per layer
    /// into its scratch, so the binary carries a quarter of the float weights.
    /// </summary>
    public static void Widen(ReadOnlySpan<sbyte> src, Span<short> dst)
    {
        if (dst.Length < src.Length) throw new ArgumentException("Widen: destination too small", nameof(dst));
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var s = MemoryMarshal.Cast<sbyte, Vector<sbyte>>(src);
            var d = MemoryMarshal.Cast<short, Vector<short>>(dst);
            for (int v = 0; v < s.Length; v++) Vector.Widen(s[v], out d[2 * v], out d[2 * v + 1]);
            i = s.Length * Vector<sbyte>.Count;
        }
        for (; i < src.Length; i++) dst[i] = src[i];
    }
}
