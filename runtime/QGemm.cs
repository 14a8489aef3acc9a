using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

/// <summary>
/// One SIMD width for the int8 kernels. Operands are int16 (int8/uint8 widened, activation zero point subtracted),
/// taken in pairs along the reduction: Madd adds a0*b0 + a1*b1 per 32-bit lane (vpmaddwd; exact, no saturation:
/// |pair sum| &lt;= 2 * 255 * 128), accumulating in int32.
/// </summary>
internal unsafe interface IQSimd<TV> where TV : struct
{
    /// <summary>int32 lanes (= int16 pairs per vector).</summary>
    static abstract int Lanes { get; }
    static abstract TV Splat(int x);
    static abstract TV Load(short* p);
    static abstract TV Load(int* p);
    /// <summary>2 x Lanes int8 values sign-extended to Lanes int16 pairs (the weights, read as compiled in).</summary>
    static abstract TV LoadWidened(sbyte* p);
    static abstract TV Madd(TV pairs, TV w, TV acc);
    static abstract TV Add(TV a, TV b);
    static abstract int Sum(TV v);
    /// <summary>One channel's requantization constants (<see cref="Store"/>).</summary>
    static abstract Requantize.Params<TV> Prepare(int mult, int shift, int zy, int lo, int hi);
    /// <summary>Requantizes (Requantize.Clamped) and stores all lanes as bytes.</summary>
    static abstract void Store(TV acc, in Requantize.Params<TV> p, byte* dst);
}

internal unsafe partial struct Q512 : IQSimd<Vector512<int>>
{
    public static int Lanes => 16;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<int> Splat(int x) => Vector512.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<int> Load(short* p) => Vector512.Load((int*)p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<int> Load(int* p) => Vector512.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<int> LoadWidened(sbyte* p) => Avx512BW.ConvertToVector512Int16(Vector256.Load(p)).AsInt32();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> Madd(Vector512<int> a, Vector512<int> b, Vector512<int> acc) => acc + Avx512BW.MultiplyAddAdjacent(a.AsInt16(), b.AsInt16());
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<int> Add(Vector512<int> a, Vector512<int> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static int Sum(Vector512<int> v) => Vector512.Sum(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Requantize.Params<Vector512<int>> Prepare(int mult, int shift, int zy, int lo, int hi) => Requantize.Prepare512(mult, shift, zy, lo, hi);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<int> acc, in Requantize.Params<Vector512<int>> p, byte* dst)
        => Avx512F.ConvertToVector128Byte(Requantize.Apply(acc, p)).Store(dst); // vpmovdb: the clamped values fit a byte
}

internal unsafe partial struct Q256 : IQSimd<Vector256<int>>
{
    public static int Lanes => 8;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> Splat(int x) => Vector256.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> Load(short* p) => Vector256.Load((int*)p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> Load(int* p) => Vector256.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> LoadWidened(sbyte* p) => Avx2.ConvertToVector256Int16(p).AsInt32();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Madd(Vector256<int> a, Vector256<int> b, Vector256<int> acc) => acc + Avx2.MultiplyAddAdjacent(a.AsInt16(), b.AsInt16());
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> Add(Vector256<int> a, Vector256<int> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static int Sum(Vector256<int> v) => Vector256.Sum(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Requantize.Params<Vector256<int>> Prepare(int mult, int shift, int zy, int lo, int hi) => Requantize.Prepare256(mult, shift, zy, lo, hi);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<int> acc, in Requantize.Params<Vector256<int>> p, byte* dst)
    {
        var r = Requantize.Apply(acc, p);
        if (Avx512F.VL.IsSupported) { *(ulong*)dst = Avx512F.VL.ConvertToVector128Byte(r).AsUInt64().ToScalar(); return; }
        var s = Vector256.Narrow(r, r); // lanes 0..7 hold the values
        *(ulong*)dst = Vector256.Narrow(s, s).AsUInt64().ToScalar();
    }
}

internal unsafe partial struct Q128 : IQSimd<Vector128<int>>
{
    public static int Lanes => 4;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<int> Splat(int x) => Vector128.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<int> Load(short* p) => Vector128.Load((int*)p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<int> Load(int* p) => Vector128.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> LoadWidened(sbyte* p)
    {
        if (Sse41.IsSupported) return Sse41.ConvertToVector128Int16(p).AsInt32();
        if (AdvSimd.IsSupported) return AdvSimd.SignExtendWideningLower(Vector64.Load(p)).AsInt32();
        return Vector128.WidenLower(Vector128.CreateScalarUnsafe(*(long*)p).AsSByte()).AsInt32();
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> Madd(Vector128<int> a, Vector128<int> b, Vector128<int> acc)
    {
        if (Sse2.IsSupported) return acc + Sse2.MultiplyAddAdjacent(a.AsInt16(), b.AsInt16());
        if (AdvSimd.Arm64.IsSupported)
        {
            var lo = AdvSimd.MultiplyWideningLower(a.AsInt16().GetLower(), b.AsInt16().GetLower());
            var hi = AdvSimd.MultiplyWideningUpper(a.AsInt16(), b.AsInt16());
            return acc + AdvSimd.Arm64.AddPairwise(lo, hi);
        }
        var (al, ah) = Vector128.Widen(a.AsInt16()); var (bl, bh) = Vector128.Widen(b.AsInt16());
        var pl = al * bl; var ph = ah * bh;
        return acc + Vector128.Create(pl[0] + pl[1], pl[2] + pl[3], ph[0] + ph[1], ph[2] + ph[3]);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<int> Add(Vector128<int> a, Vector128<int> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static int Sum(Vector128<int> v) => Vector128.Sum(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Requantize.Params<Vector128<int>> Prepare(int mult, int shift, int zy, int lo, int hi) => Requantize.Prepare128(mult, shift, zy, lo, hi);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<int> acc, in Requantize.Params<Vector128<int>> p, byte* dst)
    {
        var r = Requantize.Apply(acc, p);
        var s = Vector128.Narrow(r, r);
        *(uint*)dst = Vector128.Narrow(s, s).AsUInt32().ToScalar();
    }
}

/// <summary>The scalar stand-in: one int32 lane holding one int16 pair.</summary>
internal unsafe partial struct Q1 : IQSimd<int>
{
    public static int Lanes => 1;
    public static int Splat(int x) => x;
    public static int Load(short* p) => *(int*)p;
    public static int Load(int* p) => *p;
    public static int LoadWidened(sbyte* p) => (p[0] & 0xFFFF) | p[1] << 16;
    public static int Madd(int a, int b, int acc) => unchecked(acc + (short)a * (short)b + (a >> 16) * (b >> 16));
    public static int Add(int a, int b) => unchecked(a + b);
    public static int Sum(int v) => v;
    public static Requantize.Params<int> Prepare(int mult, int shift, int zy, int lo, int hi) => new(mult, shift, mult, 0, 0, zy, lo, hi);
    public static void Store(int acc, in Requantize.Params<int> p, byte* dst) => *dst = (byte)Requantize.Clamped(acc, p.Multiplier, p.Shift, p.Zero, p.Lo, p.Hi);
}

/// <summary>
/// int8 matrix products for generated code (QGemmInt8): y [m, n] = requantize(bias + (x - xZero) [m, k] * w^T), w given
/// as int8 rows [n, kp] (kp = k rounded up to even, the pad 0), read as compiled in and sign-extended in registers (a
/// matrix-vector product reads each weight once: widening them first would double the bytes it streams). Where the
/// CPU has sdot (<see cref="QDot"/>: arm64 with FEAT_DotProd) the rows take <see cref="DotRow"/> instead: int8
/// activations as they are (uint8 ^ 0x80), 16 multiply-adds per instruction; where it has vpdpbusd, <see
/// cref="VnniRow"/>: uint8 activations (int8 ^ 0x80), 32 per instruction. Bit-exact with
/// ModelGen.Compiler.Quant.FixedPoint.
/// </summary>
public static unsafe class QGemm
{
    /// <summary>
    /// x: [m, k] bytes (int8 when <paramref name="xSigned"/>, else uint8); w: [n, kp] int8; bias, multiplier, shift:
    /// [n]; y: [m, n] bytes (clamped to [qmin, qmax]); scratch: at least kp int16. Allocation-free.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(ReadOnlySpan<byte> x, ReadOnlySpan<sbyte> w, ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> shift,
        Span<byte> y, Span<short> scratch, int m, int n, int k, bool xSigned, int xZero, int yZero, int qmin, int qmax)
    {
        int kp = (k + 1) & ~1;
        if (m < 0 || n < 0 || k < 0 || x.Length < (long)m * k || w.Length < (long)n * kp || y.Length < (long)m * n || scratch.Length < kp
            || bias.Length < n || multiplier.Length < n || shift.Length < n)
            throw new ArgumentException("QGemm.Run: sizes do not agree");
        QConv.CheckMultipliers(multiplier, n);
        fixed (byte* px = x, py = y) fixed (sbyte* pw = w) fixed (short* ps = scratch) fixed (int* pb = bias, pm = multiplier, psh = shift)
        {
            Rows(new Args { W = pw, Bias = pb, Mult = pm, Shift = psh, Kp = kp, N = n, ZY = yZero, Lo = qmin, Hi = qmax }, px, py, ps, m, k, xSigned, xZero);
        }
    }

    /// <summary>Columns up to which int8 outputs are requantized a vector of columns at a time (<see cref="LaneRows"/>): ~25 KB of stack.</summary>
    const int MaxLaneColumns = 1024;

    /// <summary>Run's rows, written as a.Out says.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Rows(Args a, byte* px, void* py, short* ps, int m, int k, bool xSigned, int xZero)
    {
        if (a.Out == Output.Bytes && a.N <= MaxLaneColumns && SimdLevel.Bits >= 256 && Avx2.IsSupported && LaneRows(a, px, (byte*)py, ps, m, k, xSigned, xZero)) return;
        int dot = QDot.Path, n = a.N;
        for (int i = 0; i < m; i++)
        {
            a.Y = (byte*)py + (long)i * n * (a.Out == Output.Bytes ? 1 : 4); // int32 and float outputs: 4 bytes each
            if (dot != 0)
            {
                // the activations as the dot product reads them (sdot: int8, vpdpbusd: uint8), moved by x ^ 0x80 in the
                // scratch where they differ (the zero point with them)
                bool unsigned = QDot.Unsigned(dot);
                byte* xr = px + (long)i * k;
                if (QDot.Flip(unsigned, xSigned) != 0) { Flip((byte*)ps, xr, k); xr = (byte*)ps; }
                int zq = QDot.Zero(unsigned, xSigned, xZero);
                switch (dot)
                {
                    case QDot.Sdot: DotRow<DotArm>(a, (sbyte*)xr, k, zq); break;
                    case QDot.SdotEmulated: DotRow<DotEmulated>(a, (sbyte*)xr, k, zq); break;
                    case QDot.Vnni: VnniRow<DotVnni>(a, xr, k, zq); break;
                    default: VnniRow<DotEmulatedU>(a, xr, k, zq); break;
                }
                continue;
            }
            WidenRow(ps, px + (long)i * k, k, xSigned, xZero);
            a.X = ps;
            switch (SimdLevel.Bits)
            {
                case 512 when Avx512BW.IsSupported: Row<Vector512<int>, Q512>(a); break;
                case 512 or 256 when Avx2.IsSupported: Row<Vector256<int>, Q256>(a); break;
                case 0: RowScalar(a); break;
                default: Row<Vector128<int>, Q128>(a); break;
            }
        }
    }

    /// <summary>
    /// int8 outputs where the bounded requantization applies (<see cref="Bounded.Applies"/>): each row's sums first (the
    /// int32 form of <see cref="Rows"/>), then bias and requantization with the columns in the lanes, each lane its
    /// multiplier and shift (QPointwise's constants and IQBounded.StoreLanes) instead of one column at a time in scalar
    /// code (a 640-column row with k = 2 took 4.7 us, nearly all of it that per-column work). False: not applicable, nothing written.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static bool LaneRows(Args a, byte* px, byte* py, short* ps, int m, int k, bool xSigned, int xZero)
    {
        int n = a.N, mp = (n + QPointwise.ColumnMultiple - 1) / QPointwise.ColumnMultiple * QPointwise.ColumnMultiple;
        int* mult = stackalloc int[mp], e = stackalloc int[mp], b = stackalloc int[mp], sums = stackalloc int[mp];
        long* kE = stackalloc long[mp / 2], kO = stackalloc long[mp / 2];
        byte* bytes = stackalloc byte[mp];
        if (!QPointwise.Columns(a.Bias, a.Mult, a.Shift, n, k, mp, mult, e, b, kE, kO)) return false;
        new Span<int>(sums + n, mp - n).Clear();
        var s = a;
        s.Out = Output.Int32;
        bool wide = SimdLevel.Bits == 512 && Avx512BW.IsSupported;
        for (int i = 0; i < m; i++)
        {
            Rows(s, px + (long)i * k, sums, ps, 1, k, xSigned, xZero);
            if (wide) Requantized<Vector512<int>, Q512>(sums, b, mult, e, kE, kO, mp, a, bytes);
            else Requantized<Vector256<int>, Q256>(sums, b, mult, e, kE, kO, mp, a, bytes);
            new ReadOnlySpan<byte>(bytes, n).CopyTo(new Span<byte>(py + (long)i * n, n));
        }
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Requantized<TV, TS>(int* sums, int* b, int* mult, int* e, long* kE, long* kO, int mp, in Args a, byte* bytes)
        where TV : struct where TS : IQSimd<TV>, IQBounded<TV>
    {
        TV zero = TS.Splat(a.ZY), lo = TS.Splat(a.Lo), hi = TS.Splat(a.Hi);
        for (int j = 0; j < mp; j += TS.Lanes)
            TS.StoreLanes(TS.Add(TS.Load(sums + j), TS.Load(b + j)), mult + j, e + j, kE + j / 2, kO + j / 2, zero, lo, hi, bytes + j);
    }

    /// <summary>
    /// The integer product alone (MatMulInteger): y [m, n] int32 = (x - xZero) [m, k] * w^T, x and w as
    /// <see cref="Run"/> takes them, no bias and no requantization. Allocation-free.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunInt32(ReadOnlySpan<byte> x, ReadOnlySpan<sbyte> w, Span<int> y, Span<short> scratch, int m, int n, int k, bool xSigned, int xZero)
    {
        int kp = (k + 1) & ~1;
        if (m < 0 || n < 0 || k < 0 || x.Length < (long)m * k || w.Length < (long)n * kp || y.Length < (long)m * n || scratch.Length < kp)
            throw new ArgumentException("QGemm.RunInt32: sizes do not agree");
        fixed (byte* px = x) fixed (int* py = y) fixed (sbyte* pw = w) fixed (short* ps = scratch)
            Rows(new Args { W = pw, Kp = kp, N = n, Out = Output.Int32 }, px, py, ps, m, k, xSigned, xZero);
    }

    /// <summary>
    /// The integer product scaled to float, as a dynamically quantized MatMul's Cast, Mul and Add compute it:
    /// y [m, n] = (float)acc * scale[j] (+ bias[j]), acc as <see cref="RunInt32"/>; scale holds 1 or n values, bias 0 or n.
    /// Allocation-free.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunFloat(ReadOnlySpan<byte> x, ReadOnlySpan<sbyte> w, ReadOnlySpan<float> scale, ReadOnlySpan<float> bias, Span<float> y, Span<short> scratch,
        int m, int n, int k, bool xSigned, int xZero)
    {
        int kp = (k + 1) & ~1;
        if (m < 0 || n < 0 || k < 0 || x.Length < (long)m * k || w.Length < (long)n * kp || y.Length < (long)m * n || scratch.Length < kp
            || scale.Length != 1 && scale.Length < n || !bias.IsEmpty && bias.Length < n)
            throw new ArgumentException("QGemm.RunFloat: sizes do not agree");
        fixed (byte* px = x) fixed (float* py = y, pscale = scale, pbias = bias) fixed (sbyte* pw = w) fixed (short* ps = scratch)
            Rows(new Args { W = pw, Kp = kp, N = n, Out = Output.Float, Scale = pscale, ScaleStep = scale.Length == 1 ? 0 : 1, BiasF = bias.IsEmpty ? null : pbias },
                px, py, ps, m, k, xSigned, xZero);
    }

    /// <summary>One row of x as the kernels' int16 pairs: <see cref="Widen"/>, and a 0 after an odd k (the last pair's pad).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void WidenRow(short* dst, byte* src, int k, bool signed, int zero)
    {
        Widen(dst, src, k, signed, zero);
        if ((k & 1) != 0) dst[k] = 0;
    }

    /// <summary>dst[i] = x[i] - zero for n bytes (int8 or uint8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Widen(short* dst, byte* src, int n, bool signed, int zero)
    {
        int i = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            var z = Vector128.Create((short)zero);
            for (; i + 16 <= n; i += 16)
            {
                var b = Vector128.Load(src + i);
                Vector128<short> lo, hi;
                if (signed) (lo, hi) = Vector128.Widen(b.AsSByte());
                else { var (l, h) = Vector128.Widen(b); lo = l.AsInt16(); hi = h.AsInt16(); }
                (lo - z).Store(dst + i); (hi - z).Store(dst + i + 8);
            }
        }
        if (signed) for (; i < n; i++) dst[i] = (short)((sbyte)src[i] - zero);
        else for (; i < n; i++) dst[i] = (short)(src[i] - zero);
    }

    /// <summary>dst[i] = src[i] ^ 0x80 for n bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Flip(byte* dst, byte* src, int n)
    {
        int i = 0;
        for (; i + 16 <= n; i += 16) (Vector128.Load(src + i) ^ Vector128.Create((byte)0x80)).Store(dst + i);
        for (; i < n; i++) dst[i] = (byte)(src[i] ^ 0x80);
    }

    /// <summary>
    /// One row on dot products (<see cref="IQDot"/>), four output channels sharing the loads of x: sum x * w over whole
    /// vectors of 16, less zq * sum w (one more dot product per weight vector, only for a zero point other than 0), then
    /// the tail of k below 16 as (x - zq) * w.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void DotRow<TS>(Args a, sbyte* x, int k, int zq) where TS : IQDot
    {
        int kv = k / 16 * 16, j = 0;
        var ones = Vector128.Create((sbyte)1);
        for (; j + 4 <= a.N; j += 4)
        {
            sbyte* w0 = a.W + (long)j * a.Kp, w1 = w0 + a.Kp, w2 = w1 + a.Kp, w3 = w2 + a.Kp;
            Vector128<int> s0 = default, s1 = default, s2 = default, s3 = default, z0 = default, z1 = default, z2 = default, z3 = default;
            for (int t = 0; t < kv; t += 16)
            {
                var xv = Vector128.Load(x + t);
                Vector128<sbyte> v0 = Vector128.Load(w0 + t), v1 = Vector128.Load(w1 + t), v2 = Vector128.Load(w2 + t), v3 = Vector128.Load(w3 + t);
                s0 = TS.Dot(s0, xv, v0); s1 = TS.Dot(s1, xv, v1); s2 = TS.Dot(s2, xv, v2); s3 = TS.Dot(s3, xv, v3);
                if (zq != 0) { z0 = TS.Dot(z0, ones, v0); z1 = TS.Dot(z1, ones, v1); z2 = TS.Dot(z2, ones, v2); z3 = TS.Dot(z3, ones, v3); }
            }
            int a0 = Vector128.Sum(s0) - zq * Vector128.Sum(z0), a1 = Vector128.Sum(s1) - zq * Vector128.Sum(z1);
            int a2 = Vector128.Sum(s2) - zq * Vector128.Sum(z2), a3 = Vector128.Sum(s3) - zq * Vector128.Sum(z3);
            for (int t = kv; t < k; t++) { int xv = x[t] - zq; a0 += xv * w0[t]; a1 += xv * w1[t]; a2 += xv * w2[t]; a3 += xv * w3[t]; }
            Put(a, j, a0); Put(a, j + 1, a1); Put(a, j + 2, a2); Put(a, j + 3, a3);
        }
        for (; j < a.N; j++)
        {
            sbyte* w0 = a.W + (long)j * a.Kp;
            Vector128<int> s0 = default, z0 = default;
            for (int t = 0; t < kv; t += 16)
            {
                var v0 = Vector128.Load(w0 + t);
                s0 = TS.Dot(s0, Vector128.Load(x + t), v0);
                if (zq != 0) z0 = TS.Dot(z0, ones, v0);
            }
            int a0 = Vector128.Sum(s0) - zq * Vector128.Sum(z0);
            for (int t = kv; t < k; t++) a0 += (x[t] - zq) * w0[t];
            Put(a, j, a0);
        }
    }

    /// <summary>
    /// <see cref="DotRow{TS}"/> on vpdpbusd (TD: <see cref="DotVnni"/> or its emulation): x uint8, 32 bytes of each weight
    /// row per step and instruction (the pair kernels widen each 32 bytes first and take two instructions). Eight rows
    /// per pass over x where the zero point is 0 (int8 after a ReLU: -128, here 0), else four with the zero point's dot
    /// products with ones in the same pass over the weights (a second pass read them twice from L2). The rows' sums are
    /// reduced together (<see cref="Sum4"/>, <see cref="Sum8"/>): one horizontal sum per row had cost as much as the
    /// dot products at k = 128.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void VnniRow<TD>(Args a, byte* x, int k, int zq) where TD : IQDot256
    {
        int kv = k / 32 * 32, j = 0;
        var ones = Vector256.Create((byte)1).AsInt32();
        int* put = stackalloc int[8];
        // the last k % 32 as one more step: the weights read by a mask of the int32s within the row (Kp bytes: no read
        // past the weights), x and the ones zero past k there (whatever the weights' bytes); the 2 bytes at most past
        // those int32s in scalar code. All of it scalar had taken most of an 8 -> 128 layer's time.
        int dwords = (a.Kp - kv) / 4, vrem = Math.Min(k - kv, 4 * dwords);
        byte* tail = stackalloc byte[64];
        new Span<byte>(tail, 64).Clear();
        new ReadOnlySpan<byte>(x + kv, vrem).CopyTo(new Span<byte>(tail, vrem));
        new Span<byte>(tail + 32, vrem).Fill(1);
        var xt = Vector256.Load((int*)tail);
        var ot = Vector256.Load((int*)(tail + 32));
        var mask = Vector256.LessThan(Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), Vector256.Create(dwords));
        int last = kv + vrem; // scalar from here to k
        if (zq == 0)
            for (; j + 8 <= a.N; j += 8)
            {
                sbyte* w0 = a.W + (long)j * a.Kp;
                long kp = a.Kp;
                Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
                for (int t = 0; t < kv; t += 32)
                {
                    var xv = Vector256.Load((int*)(x + t));
                    sbyte* wt = w0 + t;
                    s0 = TD.DotV(s0, xv, Vector256.Load((int*)wt)); s1 = TD.DotV(s1, xv, Vector256.Load((int*)(wt + kp)));
                    s2 = TD.DotV(s2, xv, Vector256.Load((int*)(wt + 2 * kp))); s3 = TD.DotV(s3, xv, Vector256.Load((int*)(wt + 3 * kp)));
                    s4 = TD.DotV(s4, xv, Vector256.Load((int*)(wt + 4 * kp))); s5 = TD.DotV(s5, xv, Vector256.Load((int*)(wt + 5 * kp)));
                    s6 = TD.DotV(s6, xv, Vector256.Load((int*)(wt + 6 * kp))); s7 = TD.DotV(s7, xv, Vector256.Load((int*)(wt + 7 * kp)));
                }
                if (vrem > 0)
                {
                    sbyte* wt = w0 + kv;
                    s0 = TD.DotV(s0, xt, Avx2.MaskLoad((int*)wt, mask)); s1 = TD.DotV(s1, xt, Avx2.MaskLoad((int*)(wt + kp), mask));
                    s2 = TD.DotV(s2, xt, Avx2.MaskLoad((int*)(wt + 2 * kp), mask)); s3 = TD.DotV(s3, xt, Avx2.MaskLoad((int*)(wt + 3 * kp), mask));
                    s4 = TD.DotV(s4, xt, Avx2.MaskLoad((int*)(wt + 4 * kp), mask)); s5 = TD.DotV(s5, xt, Avx2.MaskLoad((int*)(wt + 5 * kp), mask));
                    s6 = TD.DotV(s6, xt, Avx2.MaskLoad((int*)(wt + 6 * kp), mask)); s7 = TD.DotV(s7, xt, Avx2.MaskLoad((int*)(wt + 7 * kp), mask));
                }
                Sum8(s0, s1, s2, s3, s4, s5, s6, s7).Store(put);
                for (int r = 0; r < 8; r++)
                {
                    int acc = put[r];
                    for (int t = last; t < k; t++) acc += x[t] * w0[r * kp + t];
                    Put(a, j + r, acc);
                }
            }
        for (; j + 4 <= a.N; j += 4)
        {
            sbyte* w0 = a.W + (long)j * a.Kp, w1 = w0 + a.Kp, w2 = w1 + a.Kp, w3 = w2 + a.Kp;
            Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default, z0 = default, z1 = default, z2 = default, z3 = default;
            if (zq != 0)
                for (int t = 0; t < kv; t += 32)
                {
                    var xv = Vector256.Load((int*)(x + t));
                    Vector256<int> v0 = Vector256.Load((int*)(w0 + t)), v1 = Vector256.Load((int*)(w1 + t)), v2 = Vector256.Load((int*)(w2 + t)), v3 = Vector256.Load((int*)(w3 + t));
                    s0 = TD.DotV(s0, xv, v0); s1 = TD.DotV(s1, xv, v1); s2 = TD.DotV(s2, xv, v2); s3 = TD.DotV(s3, xv, v3);
                    z0 = TD.DotV(z0, ones, v0); z1 = TD.DotV(z1, ones, v1); z2 = TD.DotV(z2, ones, v2); z3 = TD.DotV(z3, ones, v3);
                }
            else
                for (int t = 0; t < kv; t += 32)
                {
                    var xv = Vector256.Load((int*)(x + t));
                    s0 = TD.DotV(s0, xv, Vector256.Load((int*)(w0 + t))); s1 = TD.DotV(s1, xv, Vector256.Load((int*)(w1 + t)));
                    s2 = TD.DotV(s2, xv, Vector256.Load((int*)(w2 + t))); s3 = TD.DotV(s3, xv, Vector256.Load((int*)(w3 + t)));
                }
            if (vrem > 0)
            {
                Vector256<int> v0 = Avx2.MaskLoad((int*)(w0 + kv), mask), v1 = Avx2.MaskLoad((int*)(w1 + kv), mask);
                Vector256<int> v2 = Avx2.MaskLoad((int*)(w2 + kv), mask), v3 = Avx2.MaskLoad((int*)(w3 + kv), mask);
                s0 = TD.DotV(s0, xt, v0); s1 = TD.DotV(s1, xt, v1); s2 = TD.DotV(s2, xt, v2); s3 = TD.DotV(s3, xt, v3);
                z0 = TD.DotV(z0, ot, v0); z1 = TD.DotV(z1, ot, v1); z2 = TD.DotV(z2, ot, v2); z3 = TD.DotV(z3, ot, v3);
            }
            (Sum4(s0, s1, s2, s3) - Vector128.Create(zq) * Sum4(z0, z1, z2, z3)).Store(put);
            int a0 = put[0], a1 = put[1], a2 = put[2], a3 = put[3];
            for (int t = last; t < k; t++) { int xv = x[t] - zq; a0 += xv * w0[t]; a1 += xv * w1[t]; a2 += xv * w2[t]; a3 += xv * w3[t]; }
            Put(a, j, a0); Put(a, j + 1, a1); Put(a, j + 2, a2); Put(a, j + 3, a3);
        }
        for (; j < a.N; j++)
        {
            sbyte* w0 = a.W + (long)j * a.Kp;
            Vector256<int> s0 = default, z0 = default;
            for (int t = 0; t < kv; t += 32)
            {
                var v0 = Vector256.Load((int*)(w0 + t));
                s0 = TD.DotV(s0, Vector256.Load((int*)(x + t)), v0);
                z0 = TD.DotV(z0, ones, v0);
            }
            if (vrem > 0)
            {
                var v0 = Avx2.MaskLoad((int*)(w0 + kv), mask);
                s0 = TD.DotV(s0, xt, v0);
                z0 = TD.DotV(z0, ot, v0);
            }
            int a0 = Vector256.Sum(s0) - zq * Vector256.Sum(z0);
            for (int t = last; t < k; t++) a0 += (x[t] - zq) * w0[t];
            Put(a, j, a0);
        }
    }

    /// <summary>The lane sums of four vectors (wrapping int32, as Vector256.Sum): horizontal adds, then the two halves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<int> Sum4(Vector256<int> s0, Vector256<int> s1, Vector256<int> s2, Vector256<int> s3)
    {
        var h = Avx2.HorizontalAdd(Avx2.HorizontalAdd(s0, s1), Avx2.HorizontalAdd(s2, s3));
        return h.GetLower() + h.GetUpper();
    }

    /// <summary>The lane sums of eight vectors, in order, as one vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> Sum8(Vector256<int> s0, Vector256<int> s1, Vector256<int> s2, Vector256<int> s3,
        Vector256<int> s4, Vector256<int> s5, Vector256<int> s6, Vector256<int> s7)
    {
        var lo = Avx2.HorizontalAdd(Avx2.HorizontalAdd(s0, s1), Avx2.HorizontalAdd(s2, s3));
        var hi = Avx2.HorizontalAdd(Avx2.HorizontalAdd(s4, s5), Avx2.HorizontalAdd(s6, s7));
        return Avx2.Permute2x128(lo, hi, 0x20) + Avx2.Permute2x128(lo, hi, 0x31);
    }

    enum Output { Bytes, Int32, Float }

    struct Args
    {
        public short* X; public sbyte* W; public int* Bias, Mult, Shift; public byte* Y; public int Kp, N, ZY, Lo, Hi;
        public Output Out; public float* Scale, BiasF; public int ScaleStep;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void RowScalar(Args a)
    {
        for (int j = 0; j < a.N; j++)
        {
            int acc = 0;
            sbyte* wr = a.W + (long)j * a.Kp;
            for (int t = 0; t < a.Kp; t++) acc += a.X[t] * wr[t];
            Put(a, j, acc);
        }
    }

    /// <summary>Four output channels at a time share the loads of x; the tail of kp below one vector is scalar.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Row<TV, TS>(Args a) where TV : struct where TS : IQSimd<TV>
    {
        int step = 2 * TS.Lanes, kv = a.Kp / step * step, j = 0;
        for (; j + 4 <= a.N; j += 4)
        {
            sbyte* w0 = a.W + (long)j * a.Kp, w1 = w0 + a.Kp, w2 = w1 + a.Kp, w3 = w2 + a.Kp;
            TV s0 = TS.Splat(0), s1 = s0, s2 = s0, s3 = s0;
            for (int t = 0; t < kv; t += step)
            {
                var xv = TS.Load(a.X + t);
                s0 = TS.Madd(xv, TS.LoadWidened(w0 + t), s0); s1 = TS.Madd(xv, TS.LoadWidened(w1 + t), s1);
                s2 = TS.Madd(xv, TS.LoadWidened(w2 + t), s2); s3 = TS.Madd(xv, TS.LoadWidened(w3 + t), s3);
            }
            int a0 = TS.Sum(s0), a1 = TS.Sum(s1), a2 = TS.Sum(s2), a3 = TS.Sum(s3);
            for (int t = kv; t < a.Kp; t++) { int xv = a.X[t]; a0 += xv * w0[t]; a1 += xv * w1[t]; a2 += xv * w2[t]; a3 += xv * w3[t]; }
            Put(a, j, a0); Put(a, j + 1, a1); Put(a, j + 2, a2); Put(a, j + 3, a3);
        }
        for (; j < a.N; j++)
        {
            sbyte* w0 = a.W + (long)j * a.Kp;
            TV s0 = TS.Splat(0);
            for (int t = 0; t < kv; t += step) s0 = TS.Madd(TS.Load(a.X + t), TS.LoadWidened(w0 + t), s0);
            int a0 = TS.Sum(s0);
            for (int t = kv; t < a.Kp; t++) a0 += a.X[t] * w0[t];
            Put(a, j, a0);
        }
    }

    /// <summary>Output j of the row: bias + sum requantized, the sum as it is, or the sum scaled to float (multiply, then add: no FMA).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Put(Args a, int j, int dot)
    {
        switch (a.Out)
        {
            case Output.Bytes: a.Y[j] = (byte)Requantize.Clamped(unchecked(a.Bias[j] + dot), a.Mult[j], a.Shift[j], a.ZY, a.Lo, a.Hi); break;
            case Output.Int32: ((int*)a.Y)[j] = dot; break;
            default: ((float*)a.Y)[j] = Scaled(dot, a.Scale, a.ScaleStep, a.BiasF, j); break;
        }
    }

    /// <summary>
    /// Column j's sum scaled to float as a dynamically quantized MatMul's Cast, Mul and Add compute it: (float)sum *
    /// scale[j * step] (step 0: one scale), then + bias[j] (bias null: none), each rounded (no FMA).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Scaled(int sum, float* scale, int step, float* bias, int j)
    {
        float v = (float)sum * scale[j * step];
        return bias == null ? v : v + bias[j];
    }
}
