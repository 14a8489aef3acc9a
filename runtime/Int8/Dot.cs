using System;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;

namespace ModelGen.Runtime;

/// <summary>
/// int8 dot products of 4-byte groups ("quads") per 32-bit lane, ARM's sdot (FEAT_DotProd: 16 int8 multiply-adds per
/// instruction, exact in int32). The int8 kernels' dot paths (<see cref="QDotConv"/>, QGemm's dot rows) are written
/// against this interface once: <see cref="DotArm"/> on the hardware, <see cref="DotEmulated"/> in scalar code so
/// that x64 tests run the same quad layouts, zero-point corrections and tails bit for bit.
/// </summary>
internal unsafe interface IQDot
{
    /// <summary>acc[l] += sum over e &lt; 4 of a.byte[4l + e] * b.byte[4l + e] (signed).</summary>
    static abstract Vector128<int> Dot(Vector128<int> acc, Vector128<sbyte> a, Vector128<sbyte> b);
    /// <summary>acc[l] += sum over e &lt; 4 of a.byte[4l + e] * b.byte[4 * quad + e] (sdot by element).</summary>
    static abstract Vector128<int> DotBy(Vector128<int> acc, Vector128<sbyte> a, Vector128<sbyte> b, [ConstantExpected(Max = 3)] byte quad);
}

internal struct DotArm : IQDot
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> Dot(Vector128<int> acc, Vector128<sbyte> a, Vector128<sbyte> b) => Dp.DotProduct(acc, a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> DotBy(Vector128<int> acc, Vector128<sbyte> a, Vector128<sbyte> b, [ConstantExpected(Max = 3)] byte quad)
        => Dp.DotProductBySelectedQuadruplet(acc, a, b, quad);
}

/// <summary>sdot's arithmetic in scalar code (tests on x64, <see cref="QDot.Force"/> = 2).</summary>
internal struct DotEmulated : IQDot
{
    public static Vector128<int> Dot(Vector128<int> acc, Vector128<sbyte> a, Vector128<sbyte> b)
    {
        var q = b.AsInt32();
        return Vector128.Create(acc[0] + Quad(a.AsInt32()[0], q[0]), acc[1] + Quad(a.AsInt32()[1], q[1]),
            acc[2] + Quad(a.AsInt32()[2], q[2]), acc[3] + Quad(a.AsInt32()[3], q[3]));
    }

    public static Vector128<int> DotBy(Vector128<int> acc, Vector128<sbyte> a, Vector128<sbyte> b, [ConstantExpected(Max = 3)] byte quad)
        => Dot(acc, a, Vector128.Create(b.AsInt32()[quad]).AsSByte());

    static int Quad(int a, int b) => unchecked((sbyte)a * (sbyte)b + (sbyte)(a >> 8) * (sbyte)(b >> 8) + (sbyte)(a >> 16) * (sbyte)(b >> 16) + (a >> 24) * (b >> 24));
}

/// <summary>Which int8 kernels take the dot-product paths.</summary>
internal static class QDot
{
    /// <summary>
    /// 0: none, 1: sdot (<see cref="DotArm"/>), 2: emulated. Automatic: sdot where the process has it (an arm64
    /// NativeAOT publish only with an IlcInstructionSet naming dotprod, e.g. armv8.2-a) and SIMD kernels are on
    /// (scalar, <see cref="SimdLevel.ForceBits"/> = 0, stays the reference path).
    /// </summary>
    internal static int Path
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            int f = Force;
            if (f == 2) return 2;
            return f != 1 && Dp.IsSupported && SimdLevel.Bits > 0 ? 1 : 0;
        }
    }

    /// <summary>
    /// Test hook, on the calling thread only: -1 automatic, 1 the dot paths off (the AdvSimd/SSE pair kernels), 2 the
    /// emulated dot paths on any machine.
    /// </summary>
    internal static int Force { get => t_force - 1; set => t_force = value + 1; }

    [ThreadStatic] static int t_force; // forced value + 1; 0 (a new thread's value) = automatic
}
