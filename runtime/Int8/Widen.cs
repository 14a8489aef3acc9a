using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Runtime;

/// <summary>Helpers of the int8 kernels for generated code.</summary>
public static unsafe partial class Int8
{
    /// <summary>
    /// dst[i] = src[i] as int16 for n values: a block of the compiled-in int8 weights widened on the stack, where the
    /// convolution kernel multiplies int16 pairs by broadcast weights (a broadcast load is free, a sign extension
    /// per weight in the inner loop is not).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Widen(sbyte* src, short* dst, int n)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 32 <= n; i += 32)
            {
                var (lo, hi) = Vector256.Widen(Vector256.Load(src + i));
                lo.Store(dst + i); hi.Store(dst + i + 16);
            }
        if (Vector128.IsHardwareAccelerated)
            for (; i + 16 <= n; i += 16)
            {
                var (lo, hi) = Vector128.Widen(Vector128.Load(src + i));
                lo.Store(dst + i); hi.Store(dst + i + 8);
            }
        for (; i < n; i++) dst[i] = src[i];
    }
}
