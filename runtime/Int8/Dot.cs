using System;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

/// <summary>
/// int8 dot products of 4-byte groups ("quads") per 32-bit lane, exact in int32: ARM's sdot (FEAT_DotProd, int8 x
/// int8) and x64's vpdpbusd (AVX-VNNI, uint8 x int8). The int8 kernels' dot paths (<see cref="QDotConv"/>, QPointwise's
/// and QGemm's dot rows) are written against this interface once. x, the activations, is the operand whose bytes are
/// unsigned for vpdpbusd (<see cref="QDot.Unsigned"/>: the kernels then hold int8 inputs as x ^ 0x80 and uint8 inputs
/// as they are, the zero point moved with them, <see cref="QDot.Zero"/>); w, the weights, is int8.
/// <see cref="DotEmulated"/> and <see cref="DotEmulatedU"/> do each instruction's arithmetic in scalar code so that
/// tests on any machine run the same quad layouts, zero-point corrections and tails bit for bit.
/// </summary>
internal unsafe interface IQDot
{
    /// <summary>acc[l] += sum over e &lt; 4 of x.byte[4l + e] * w.byte[4l + e].</summary>
    static abstract Vector128<int> Dot(Vector128<int> acc, Vector128<sbyte> x, Vector128<sbyte> w);
}

/// <summary>The dot product with one quad of the weights broadcast, at the vector width TV the kernel runs.</summary>
internal unsafe interface IQDotBy<TV> where TV : struct
{
    /// <summary>acc[l] += sum over e &lt; 4 of x.byte[4l + e] * the bytes of w[quad] (w: 16 bytes; sdot by element, vpdpbusd on a broadcast load).</summary>
    static abstract TV DotBy(TV acc, TV x, int* w, [ConstantExpected(Max = 3)] byte quad);
}

/// <summary>The dot product at 256 bits (vpdpbusd and its emulation), for the kernels only vpdpbusd runs.</summary>
internal interface IQDot256
{
    /// <summary>acc[l] += sum over e &lt; 4 of x.byte[4l + e] * w.byte[4l + e], 8 lanes.</summary>
    static abstract Vector256<int> DotV(Vector256<int> acc, Vector256<int> x, Vector256<int> w);
}

internal unsafe struct DotArm : IQDot, IQDotBy<Vector128<int>>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> Dot(Vector128<int> acc, Vector128<sbyte> x, Vector128<sbyte> w) => Dp.DotProduct(acc, x, w);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> DotBy(Vector128<int> acc, Vector128<int> x, int* w, [ConstantExpected(Max = 3)] byte quad)
        => Dp.DotProductBySelectedQuadruplet(acc, x.AsSByte(), Vector128.Load((sbyte*)w), quad);
}

/// <summary>
/// AVX-VNNI's vpdpbusd (Intel from Alder Lake and Sapphire Rapids, AMD from Zen 5): 32 multiply-adds per ymm
/// instruction without the int16 saturation of vpmaddubsw. VEX-encoded, so 128 and 256 bits (.NET 10 exposes no
/// 512-bit form).
/// </summary>
internal unsafe struct DotVnni : IQDot, IQDotBy<Vector256<int>>, IQDot256
{
#if NET9_0_OR_GREATER // AvxVnni is a preview API in .NET 8: there QDot.Path never takes this
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> Dot(Vector128<int> acc, Vector128<sbyte> x, Vector128<sbyte> w) => AvxVnni.MultiplyWideningAndAdd(acc, x.AsByte(), w);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotBy(Vector256<int> acc, Vector256<int> x, int* w, [ConstantExpected(Max = 3)] byte quad)
        => DotV(acc, x, Vector256.Create(w[quad])); // vpbroadcastd from memory: a load, no shuffle
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotV(Vector256<int> acc, Vector256<int> x, Vector256<int> w) => AvxVnni.MultiplyWideningAndAdd(acc, x.AsByte(), w.AsSByte());
#else
    public static Vector128<int> Dot(Vector128<int> acc, Vector128<sbyte> x, Vector128<sbyte> w) => throw new PlatformNotSupportedException();
    public static Vector256<int> DotBy(Vector256<int> acc, Vector256<int> x, int* w, [ConstantExpected(Max = 3)] byte quad) => throw new PlatformNotSupportedException();
    public static Vector256<int> DotV(Vector256<int> acc, Vector256<int> x, Vector256<int> w) => throw new PlatformNotSupportedException();
#endif
}

/// <summary>sdot's arithmetic in scalar code (<see cref="QDot.Force"/> = 2).</summary>
internal unsafe struct DotEmulated : IQDot, IQDotBy<Vector128<int>>
{
    public static Vector128<int> Dot(Vector128<int> acc, Vector128<sbyte> x, Vector128<sbyte> w) => QDot.Emulate(acc, x, w, false);
    public static Vector128<int> DotBy(Vector128<int> acc, Vector128<int> x, int* w, [ConstantExpected(Max = 3)] byte quad)
        => QDot.Emulate(acc, x.AsSByte(), Vector128.Create(w[quad]).AsSByte(), false);
}

/// <summary>vpdpbusd's arithmetic in scalar code, at the widths <see cref="DotVnni"/> runs (<see cref="QDot.Force"/> = 4).</summary>
internal unsafe struct DotEmulatedU : IQDot, IQDotBy<Vector256<int>>, IQDot256
{
    public static Vector128<int> Dot(Vector128<int> acc, Vector128<sbyte> x, Vector128<sbyte> w) => QDot.Emulate(acc, x, w, true);
    public static Vector256<int> DotBy(Vector256<int> acc, Vector256<int> x, int* w, [ConstantExpected(Max = 3)] byte quad)
        => DotV(acc, x, Vector256.Create(w[quad]));
    public static Vector256<int> DotV(Vector256<int> acc, Vector256<int> x, Vector256<int> w)
        => Vector256.Create(QDot.Emulate(acc.GetLower(), x.GetLower().AsSByte(), w.GetLower().AsSByte(), true), QDot.Emulate(acc.GetUpper(), x.GetUpper().AsSByte(), w.GetUpper().AsSByte(), true));
}

/// <summary>Which int8 kernels take the dot-product paths.</summary>
internal static class QDot
{
    /// <summary>Path values: none (the pair kernels), sdot, its emulation, vpdpbusd, its emulation.</summary>
    internal const int None = 0, Sdot = 1, SdotEmulated = 2, Vnni = 3, VnniEmulated = 4;

    /// <summary>
    /// Automatic: sdot where the process has it (an arm64 NativeAOT publish only with an IlcInstructionSet naming
    /// dotprod, e.g. armv8.2-a), vpdpbusd where it has AVX-VNNI and 256-bit kernels are on (a linux-x64 NativeAOT
    /// publish only with an IlcInstructionSet naming avxvnni), else none; scalar kernels
    /// (<see cref="SimdLevel.ForceBits"/> = 0) stay the reference path.
    /// </summary>
    internal static int Path
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            int f = Force;
            if (f == SdotEmulated) return f;
            if (f == VnniEmulated) return Avx2.IsSupported ? f : None; // its 256-bit tiles requantize with AVX2
            if (f == 1 || SimdLevel.Bits == 0) return None;
            if (Dp.IsSupported) return Sdot;
#if NET9_0_OR_GREATER
            return AvxVnni.IsSupported && SimdLevel.Bits >= 256 ? Vnni : None;
#else
            return None;
#endif
        }
    }

    /// <summary>Whether <paramref name="path"/> reads the activations as uint8.</summary>
    internal static bool Unsigned(int path) => path >= Vnni;

    /// <summary>What x's bytes are xor-ed with for a path that reads them <paramref name="unsigned"/>.</summary>
    internal static int Flip(bool unsigned, bool xSigned) => unsigned == xSigned ? 0x80 : 0;

    /// <summary>The zero point as the flipped bytes hold it (the value of x - xZero is unchanged).</summary>
    internal static int Zero(bool unsigned, bool xSigned, int xZero) => unsigned ? (xSigned ? xZero + 128 : xZero) : (xSigned ? xZero : xZero - 128);

    /// <summary>
    /// Test hook, on the calling thread only: -1 automatic, 1 the dot paths off (the pair kernels), 2 the emulated sdot
    /// paths (on any machine), 4 the emulated vpdpbusd paths (on any x64 machine with AVX2; elsewhere none).
    /// </summary>
    internal static int Force { get => t_force - 1; set => t_force = value + 1; }

    [ThreadStatic] static int t_force; // forced value + 1; 0 (a new thread's value) = automatic

    /// <summary>
    /// One dot-product instruction's arithmetic: x's bytes int8, or uint8 where <paramref name="unsigned"/>. Not inlined:
    /// the pair kernels' instantiations carry DotEmulated as their unused dot type, and its inlined body would spend
    /// their inlining budget (scripts/check-inlining.sh).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static Vector128<int> Emulate(Vector128<int> acc, Vector128<sbyte> x, Vector128<sbyte> w, bool unsigned)
        => Vector128.Create(Lane(acc, x, w, 0, unsigned), Lane(acc, x, w, 1, unsigned), Lane(acc, x, w, 2, unsigned), Lane(acc, x, w, 3, unsigned));

    static int Lane(Vector128<int> acc, Vector128<sbyte> x, Vector128<sbyte> w, int l, bool unsigned)
        => acc[l] + Product(x, w, 4 * l, unsigned) + Product(x, w, 4 * l + 1, unsigned) + Product(x, w, 4 * l + 2, unsigned) + Product(x, w, 4 * l + 3, unsigned);

    static int Product(Vector128<sbyte> x, Vector128<sbyte> w, int e, bool unsigned) => (unsigned ? x.AsByte()[e] : x[e]) * w[e];
}
