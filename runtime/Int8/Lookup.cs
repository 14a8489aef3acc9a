using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

public static unsafe partial class Int8
{
    /// <summary>
    /// y[i] = table[x[i] + 128]: an int8 activation (sigmoid, SiLU, hard-swish, ...) as a 256-entry table of its
    /// quantized results, built at build time. Allocation-free.
    /// </summary>
    public static void Lookup(ReadOnlySpan<sbyte> x, ReadOnlySpan<sbyte> table, Span<sbyte> y)
    {
        if (table.Length != 256 || x.Length < y.Length) throw new ArgumentException("Lookup: a 256-entry table and an input as long as the output");
        fixed (sbyte* px = x, pt = table, py = y) Lookup((byte*)px, (byte*)pt, (byte*)py, y.Length, 0x80);
    }

    /// <summary>y[i] = table[x[i]] for uint8 tensors (see the int8 overload).</summary>
    public static void Lookup(ReadOnlySpan<byte> x, ReadOnlySpan<byte> table, Span<byte> y)
    {
        if (table.Length != 256 || x.Length < y.Length) throw new ArgumentException("Lookup: a 256-entry table and an input as long as the output");
        fixed (byte* px = x, pt = table, py = y) Lookup(px, pt, py, y.Length, 0);
    }

    /// <summary>
    /// flip: 0x80 for int8 (the code's byte with its top bit flipped is the table index), 0 for uint8. With AVX512-VBMI,
    /// 64 lookups are two two-table byte permutes (128 entries each) and a select on the index's top bit; on ARM64, 16
    /// lookups are one four-register tbl (64 entries) and three tbx over the next 64 each, the index lowered by 64 each
    /// time (an index out of a tbx's range keeps what is there); with AVX2 only, 32 lookups are 16 vpshufb over the
    /// table's rows of 16, each blended in where the index's high nibble names its row; otherwise one load per byte.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Lookup(byte* x, byte* t, byte* y, int n, int flip)
    {
        int i = 0;
        if (Avx512Vbmi.IsSupported && SimdLevel.Bits >= 512)
        {
            Vector512<byte> t0 = Vector512.Load(t), t1 = Vector512.Load(t + 64), t2 = Vector512.Load(t + 128), t3 = Vector512.Load(t + 192);
            var f = Vector512.Create((byte)flip);
            for (; i + 64 <= n; i += 64)
            {
                var idx = Vector512.Load(x + i) ^ f;
                var lo = Avx512Vbmi.PermuteVar64x8x2(t0, idx, t1);
                var hi = Avx512Vbmi.PermuteVar64x8x2(t2, idx, t3);
                Vector512.ConditionalSelect(Vector512.LessThan(idx.AsSByte(), Vector512<sbyte>.Zero).AsByte(), hi, lo).Store(y + i);
            }
        }
        else if (Avx2.IsSupported && SimdLevel.Bits >= 256)
        {
            // 32 lookups: the index's low nibble picks a byte in each of the 16 rows of 16 entries (vpshufb, both
            // 128-bit halves holding the row), its high nibble the row (a compare and a blend per row)
            var f = Vector256.Create((byte)flip);
            var nibble = Vector256.Create((byte)0x0F);
            byte* rows = stackalloc byte[512];
            for (int j = 0; j < 16; j++) { var r = Vector128.Load(t + 16 * j); Vector256.Create(r, r).Store(rows + 32 * j); }
            for (; i + 32 <= n; i += 32)
            {
                var idx = Vector256.Load(x + i) ^ f;
                var low = idx & nibble;
                var row = Avx2.ShiftRightLogical(idx.AsUInt16(), 4).AsByte() & nibble;
                var v = Avx2.Shuffle(Vector256.Load(rows), low);
                for (int j = 1; j < 16; j++)
                    v = Avx2.BlendVariable(v, Avx2.Shuffle(Vector256.Load(rows + 32 * j), low), Vector256.Equals(row, Vector256.Create((byte)j)));
                v.Store(y + i);
            }
        }
        else if (AdvSimd.Arm64.IsSupported && SimdLevel.Bits >= 128)
        {
            var t0 = (Vector128.Load(t), Vector128.Load(t + 16), Vector128.Load(t + 32), Vector128.Load(t + 48));
            var t1 = (Vector128.Load(t + 64), Vector128.Load(t + 80), Vector128.Load(t + 96), Vector128.Load(t + 112));
            var t2 = (Vector128.Load(t + 128), Vector128.Load(t + 144), Vector128.Load(t + 160), Vector128.Load(t + 176));
            var t3 = (Vector128.Load(t + 192), Vector128.Load(t + 208), Vector128.Load(t + 224), Vector128.Load(t + 240));
            Vector128<byte> f = Vector128.Create((byte)flip), step = Vector128.Create((byte)64);
            for (; i + 16 <= n; i += 16)
            {
                var idx = Vector128.Load(x + i) ^ f;
                var v = AdvSimd.Arm64.VectorTableLookup(t0, idx);
                v = AdvSimd.Arm64.VectorTableLookupExtension(v, t1, idx -= step);
                v = AdvSimd.Arm64.VectorTableLookupExtension(v, t2, idx -= step);
                AdvSimd.Arm64.VectorTableLookupExtension(v, t3, idx - step).Store(y + i);
            }
        }
        for (; i < n; i++) y[i] = t[x[i] ^ flip];
    }
}
