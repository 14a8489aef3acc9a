using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

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
        if (SimdLevel.Bits >= 128 && Vector128.IsHardwareAccelerated)
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)] static Vector128<short> Add((Vector128<short> Lo, Vector128<short> Hi) p) => p.Lo + p.Hi;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] static Vector128<ushort> Add((Vector128<ushort> Lo, Vector128<ushort> Hi) p) => p.Lo + p.Hi;
}
