using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

[module: SkipLocalsInit]

namespace ModelGen.Runtime;

/// <summary>Where the B operand of a GEMM comes from; the driver packs NR-column panels of it on the fly.</summary>
internal unsafe struct BSource
{
    internal const int RowMajor = 0;   // B'[p, j] = B[p * Ldb + j]
    internal const int Transposed = 1; // B'[p, j] = B[j * Ldb + p]
    internal const int Im2Col = 2;     // B'[(c, ky, kx), (oy, ox)] = X[c, oy*SH - PT + ky*DH, ox*SW - PL + kx*DW] or 0

    public int Kind;
    public float* B;
    public nint Ldb;
    // implicit im2col (Kind == Im2Col): B points at the first input channel of the group
    public int InH, InW, KH, KW, OutW, SH, SW, PT, PL, DH, DW;
}

/// <summary>
/// The register-tiled SGEMM engine: C[m, n] (+)= alpha * A[m, k] * B'[k, n] with A read through strides
/// (A[i, p] = a[i * ars + p * acs]: row-major or transposed) and B' packed per panel of NR = 2 vectors columns and KC
/// rows into a small stack buffer. The micro-kernel keeps up to 6 x NR accumulators in registers.
/// </summary>
internal static unsafe class GemmCore
{
    /// <summary>Floats in the packed B panel (16 KiB: stays in L1 while every row block of A streams past it).</summary>
    internal const int PanelFloats = 4096;
    internal const int MR = 6;

    /// <summary>Use the masked contiguous im2col packing where it applies (a switch for A/B measurements and tests).</summary>
    internal static bool MaskedIm2Col = true;

    /// <summary>
    /// C = act(alpha * A B' + (accumulate ? C : 0) + rowBias[i]). rowBias (may be null) adds bias[i] to row i; the
    /// activation is applied to each micro-tile as the last KC block stores it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Run(float* a, nint ars, nint acs, in BSource src, float* c, nint ldc,
        int m, int n, int k, float alpha, bool accumulate, float* rowBias, Activation act = default)
    {
        if (m <= 0 || n <= 0) return;
        if (k <= 0)
        {
            for (int i = 0; i < m; i++)
            {
                var row = new Span<float>(c + i * ldc, n);
                if (!accumulate) row.Fill(rowBias == null ? 0f : rowBias[i]);
                else if (rowBias != null) for (int j = 0; j < n; j++) row[j] += rowBias[i];
                act.Apply(c + i * ldc, n);
            }
            return;
        }
        switch (SimdLevel.Bits)
        {
            case 512: Run<V512, Vector512<float>>(a, ars, acs, src, c, ldc, m, n, k, alpha, accumulate, rowBias, act); break;
            case 256: Run<V256, Vector256<float>>(a, ars, acs, src, c, ldc, m, n, k, alpha, accumulate, rowBias, act); break;
            case 128: Run<V128, Vector128<float>>(a, ars, acs, src, c, ldc, m, n, k, alpha, accumulate, rowBias, act); break;
            default: RunScalar(a, ars, acs, src, c, ldc, m, n, k, alpha, accumulate, rowBias, act); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Run<S, TV>(float* a, nint ars, nint acs, in BSource src, float* c, nint ldc,
        int m, int n, int k, float alpha, bool accumulate, float* rowBias, Activation act)
        where S : struct, ISimd<TV> where TV : struct
    {
        float* panel = stackalloc float[PanelFloats];
        float* tile = stackalloc float[MR * 32];
        int l = S.Lanes;
        int jc = 0;
        // a matrix-vector product over row-major B: whole vectors of columns swept down B, the rest in panels
        if (m == 1 && src.Kind == BSource.RowMajor && n >= 4 * l)
        {
            jc = Row<S, TV>(a, acs, src.B, src.Ldb, c, n, k, alpha, accumulate, rowBias, act);
            if (jc == n) return;
        }
        // A ragged last panel (n not a multiple of the vectors) can instead be a whole panel ending at column n,
        // overlapping the one before: its columns there are computed again in the same order, to the same values,
        // which is harmless where C is only written once (one KC block, no accumulation). That keeps the partial
        // panel's stack tile and scalar copies out (a 125-column 1x1 convolution: 20% of its time).
        bool overlap = !accumulate && k <= PanelFloats / (2 * l) && n > 2 * l && l > 1;
        if (overlap && n % l != 0)
        {
            for (; jc + 2 * l <= n; jc += 2 * l)
                Panel<S, TV, R2>(a, ars, acs, src, c, ldc, m, 2 * l, jc, k, alpha, accumulate, rowBias, act, panel, tile);
            if (n - jc > l) Panel<S, TV, R2>(a, ars, acs, src, c, ldc, m, 2 * l, n - 2 * l, k, alpha, accumulate, rowBias, act, panel, tile);
            else Panel<S, TV, R1>(a, ars, acs, src, c, ldc, m, l, n - l, k, alpha, accumulate, rowBias, act, panel, tile);
            return;
        }
        // full panels of two vectors, then a narrow tail panel of one vector (of half width where that suffices)
        for (; jc + l < n; jc += 2 * l)
            Panel<S, TV, R2>(a, ars, acs, src, c, ldc, m, Math.Min(2 * l, n - jc), jc, k, alpha, accumulate, rowBias, act, panel, tile);
        if (jc < n)
        {
            int nr = n - jc;
            if (typeof(S) == typeof(V512) && nr <= 8)
                Panel<V256, Vector256<float>, R1>(a, ars, acs, src, c, ldc, m, nr, jc, k, alpha, accumulate, rowBias, act, panel, tile);
            else
                Panel<S, TV, R1>(a, ars, acs, src, c, ldc, m, nr, jc, k, alpha, accumulate, rowBias, act, panel, tile);
        }
    }

    /// <summary>
    /// One row of A (m = 1) against row-major B: 8 vectors of columns at a time (then 4), each swept down all k rows of
    /// B in one pass, the sums in order of p as the panels' micro-kernel takes them. The panels' single row keeps two
    /// accumulators and waits on the FMA latency: a 128 x 128 product read B at 32 bytes a cycle, here 2.6x faster.
    /// Returns the columns done; the rest (under 4 vectors) go to the panels.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int Row<S, TV>(float* a, nint acs, float* b, nint ldb, float* c, int n, int k, float alpha, bool accumulate, float* rowBias, in Activation act)
        where S : struct, ISimd<TV> where TV : struct
    {
        int l = S.Lanes, j = 0;
        for (; j + 8 * l <= n; j += 8 * l) Sweep<S, TV, R8>(a, acs, b + j, ldb, c + j, k, alpha, accumulate, rowBias);
        for (; j + 4 * l <= n; j += 4 * l) Sweep<S, TV, R4>(a, acs, b + j, ldb, c + j, k, alpha, accumulate, rowBias);
        act.Apply<S, TV>(c, j);
        return j;
    }

    const int PrefetchRows = 8;

    /// <summary>V.N vectors of C's one row: c = (accumulate ? c : 0) + bias + alpha * sum over p of a[p] * B[p, columns].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Sweep<S, TV, V>(float* a, nint acs, float* b, nint ldb, float* c, int k, float alpha, bool accumulate, float* rowBias)
        where S : struct, ISimd<TV> where TV : struct where V : struct, IRows
    {
        int l = S.Lanes;
        TV s0 = S.Zero, s1 = S.Zero, s2 = S.Zero, s3 = S.Zero, s4 = S.Zero, s5 = S.Zero, s6 = S.Zero, s7 = S.Zero;
        for (int p = 0; p < k; p++, a += acs, b += ldb)
        {
            // B's row 8 ahead into L1 (x64): B streams from L2 or beyond, and the L1 prefetchers fall behind
            // (1536 x 128: 83 against 71 GB/s)
            if (Sse.IsSupported) { byte* f = (byte*)(b + PrefetchRows * ldb); for (int q = 0; q < V.N * l * 4; q += 64) Sse.Prefetch0(f + q); }
            TV t = S.Splat(*a);
            s0 = S.Fma(t, S.Load(b), s0); s1 = S.Fma(t, S.Load(b + l), s1);
            s2 = S.Fma(t, S.Load(b + 2 * l), s2); s3 = S.Fma(t, S.Load(b + 3 * l), s3);
            if (V.N > 4)
            {
                s4 = S.Fma(t, S.Load(b + 4 * l), s4); s5 = S.Fma(t, S.Load(b + 5 * l), s5);
                s6 = S.Fma(t, S.Load(b + 6 * l), s6); s7 = S.Fma(t, S.Load(b + 7 * l), s7);
            }
        }
        TV va = S.Splat(alpha), bias = rowBias == null ? S.Zero : S.Splat(rowBias[0]);
        Put<S, TV>(c, s0, va, bias, accumulate); Put<S, TV>(c + l, s1, va, bias, accumulate);
        Put<S, TV>(c + 2 * l, s2, va, bias, accumulate); Put<S, TV>(c + 3 * l, s3, va, bias, accumulate);
        if (V.N > 4)
        {
            Put<S, TV>(c + 4 * l, s4, va, bias, accumulate); Put<S, TV>(c + 5 * l, s5, va, bias, accumulate);
            Put<S, TV>(c + 6 * l, s6, va, bias, accumulate); Put<S, TV>(c + 7 * l, s7, va, bias, accumulate);
        }
    }

    /// <summary>c = (accumulate ? c + bias : bias) + alpha * sum, as <see cref="StoreRow"/> computes it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Put<S, TV>(float* c, TV sum, TV va, TV bias, bool accumulate) where S : struct, ISimd<TV> where TV : struct
        => S.Store(c, S.Fma(sum, va, accumulate ? S.Add(S.Load(c), bias) : bias));

    /// <summary>Columns [jc, jc+nr) of C, nr &lt;= V.N vectors: for each KC block pack (or point at) B', then sweep the rows of A.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Panel<S, TV, V>(float* a, nint ars, nint acs, in BSource src, float* c, nint ldc, int m, int nr, int jc, int k,
        float alpha, bool accumulate, float* rowBias, Activation act, float* panel, float* tile)
        where S : struct, ISimd<TV> where TV : struct where V : struct, IRows
    {
        int nrFull = V.N * S.Lanes;
        int kcMax = PanelFloats / nrFull;
        // Row-major B read in place where the whole reduction is one KC block (a 1x1 convolution's input rows: its
        // panel stays in L1 across the row blocks of A, so packing is a copy for nothing: 3-7% on MobileNet's and
        // DS-CNN's 1x1 layers) or A has few rows (packing would cost as much as the product).
        bool direct = src.Kind == BSource.RowMajor && (m <= 2 * MR || k <= kcMax) && nr == nrFull;
        for (int pc = 0; pc < k; pc += kcMax)
        {
            int kc = Math.Min(kcMax, k - pc);
            bool first = pc == 0;
            float* bp; nint ldbp;
            if (direct) { bp = src.B + pc * src.Ldb + jc; ldbp = src.Ldb; }
            else { Pack<S, TV>(src, pc, kc, jc, nr, nrFull, panel); bp = panel; ldbp = nrFull; }
            bool acc = accumulate || !first;
            float* bias = first ? rowBias : null;
            // the activation belongs to the final sums: only the last KC block applies it
            var last = pc + kc >= k ? act : default;
            var epilogue = Epilogue.Of(last);
            for (int ic = 0; ic < m; ic += MR)
            {
                int mr = Math.Min(MR, m - ic);
                float* ai = a + ic * ars + pc * acs;
                float* bi = bias == null ? null : bias + ic;
                float* ci = c + ic * ldc + jc;
                if (nr == nrFull)
                {
                    switch (epilogue)
                    {
                        case EpilogueKind.None: Micro<S, TV, V, NoEpilogue>(mr, ai, ars, acs, bp, ldbp, kc, ci, ldc, alpha, acc, bi, last); break;
                        case EpilogueKind.Relu: Micro<S, TV, V, ReluEpilogue>(mr, ai, ars, acs, bp, ldbp, kc, ci, ldc, alpha, acc, bi, last); break;
                        case EpilogueKind.Clip: Micro<S, TV, V, ClipEpilogue>(mr, ai, ars, acs, bp, ldbp, kc, ci, ldc, alpha, acc, bi, last); break;
                        case EpilogueKind.LeakyRelu: Micro<S, TV, V, LeakyReluEpilogue>(mr, ai, ars, acs, bp, ldbp, kc, ci, ldc, alpha, acc, bi, last); break;
                        case EpilogueKind.HardSwish: Micro<S, TV, V, HardSwishEpilogue>(mr, ai, ars, acs, bp, ldbp, kc, ci, ldc, alpha, acc, bi, last); break;
                        case EpilogueKind.HardSigmoid: Micro<S, TV, V, HardSigmoidEpilogue>(mr, ai, ars, acs, bp, ldbp, kc, ci, ldc, alpha, acc, bi, last); break;
                        default: Micro<S, TV, V, AnyEpilogue>(mr, ai, ars, acs, bp, ldbp, kc, ci, ldc, alpha, acc, bi, last); break;
                    }
                    // transcendental kinds: over the tile just stored, still in L1
                    if (last.Kind != ActivationKind.None && !last.InRegisters)
                        for (int r = 0; r < mr; r++) last.Apply<S, TV>(ci + r * ldc, nr);
                }
                else
                {
                    Micro<S, TV, V, NoEpilogue>(mr, ai, ars, acs, bp, ldbp, kc, tile, nrFull, alpha, false, bi, default);
                    for (int r = 0; r < mr; r++)
                    {
                        float* cr = ci + r * ldc;
                        float* tr = tile + r * nrFull;
                        if (acc) for (int j = 0; j < nr; j++) cr[j] += tr[j];
                        else for (int j = 0; j < nr; j++) cr[j] = tr[j];
                        last.Apply<S, TV>(cr, nr);
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Micro<S, TV, V, A>(int mr, float* a, nint ars, nint acs, float* b, nint ldb, int kc, float* c, nint ldc, float alpha, bool acc, float* bias, in Activation act)
        where S : struct, ISimd<TV> where TV : struct where V : struct, IRows where A : struct, IEpilogue
    {
        switch (mr)
        {
            case 6: Micro<S, TV, R6, V, A>(a, ars, acs, b, ldb, kc, c, ldc, alpha, acc, bias, act); break;
            case 5: Micro<S, TV, R5, V, A>(a, ars, acs, b, ldb, kc, c, ldc, alpha, acc, bias, act); break;
            case 4: Micro<S, TV, R4, V, A>(a, ars, acs, b, ldb, kc, c, ldc, alpha, acc, bias, act); break;
            case 3: Micro<S, TV, R3, V, A>(a, ars, acs, b, ldb, kc, c, ldc, alpha, acc, bias, act); break;
            case 2: Micro<S, TV, R2, V, A>(a, ars, acs, b, ldb, kc, c, ldc, alpha, acc, bias, act); break;
            default: Micro<S, TV, R1, V, A>(a, ars, acs, b, ldb, kc, c, ldc, alpha, acc, bias, act); break;
        }
    }

    /// <summary>R.N rows x V.N vectors of C from kc rank-1 updates (broadcast A, FMA with V.N vectors of B').</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Micro<S, TV, R, V, A>(float* a, nint ars, nint acs, float* b, nint ldb, int kc, float* c, nint ldc, float alpha, bool acc, float* bias, in Activation act)
        where S : struct, ISimd<TV> where TV : struct where R : struct, IRows where V : struct, IRows where A : struct, IEpilogue
    {
        int l = S.Lanes;
        TV c00 = S.Zero, c01 = S.Zero, c10 = S.Zero, c11 = S.Zero, c20 = S.Zero, c21 = S.Zero;
        TV c30 = S.Zero, c31 = S.Zero, c40 = S.Zero, c41 = S.Zero, c50 = S.Zero, c51 = S.Zero;
        float* a0 = a, a1 = a0 + ars, a2 = a1 + ars, a3 = a2 + ars, a4 = a3 + ars, a5 = a4 + ars;
        nint off = 0;
        if (V.N > 1)
        {
            for (int p = 0; p < kc; p++)
            {
                TV b0 = S.Load(b), b1 = S.Load(b + l);
                TV t = S.Splat(a0[off]); c00 = S.Fma(t, b0, c00); c01 = S.Fma(t, b1, c01);
                if (R.N > 1) { t = S.Splat(a1[off]); c10 = S.Fma(t, b0, c10); c11 = S.Fma(t, b1, c11); }
                if (R.N > 2) { t = S.Splat(a2[off]); c20 = S.Fma(t, b0, c20); c21 = S.Fma(t, b1, c21); }
                if (R.N > 3) { t = S.Splat(a3[off]); c30 = S.Fma(t, b0, c30); c31 = S.Fma(t, b1, c31); }
                if (R.N > 4) { t = S.Splat(a4[off]); c40 = S.Fma(t, b0, c40); c41 = S.Fma(t, b1, c41); }
                if (R.N > 5) { t = S.Splat(a5[off]); c50 = S.Fma(t, b0, c50); c51 = S.Fma(t, b1, c51); }
                off += acs;
                b += ldb;
            }
        }
        else
        {
            // one vector per row: two independent chains per row (even/odd p) hide the FMA latency
            int p = 0;
            for (; p + 2 <= kc; p += 2)
            {
                TV b0 = S.Load(b), b1 = S.Load(b + ldb);
                nint o1 = off + acs;
                c00 = S.Fma(S.Splat(a0[off]), b0, c00); c01 = S.Fma(S.Splat(a0[o1]), b1, c01);
                if (R.N > 1) { c10 = S.Fma(S.Splat(a1[off]), b0, c10); c11 = S.Fma(S.Splat(a1[o1]), b1, c11); }
                if (R.N > 2) { c20 = S.Fma(S.Splat(a2[off]), b0, c20); c21 = S.Fma(S.Splat(a2[o1]), b1, c21); }
                if (R.N > 3) { c30 = S.Fma(S.Splat(a3[off]), b0, c30); c31 = S.Fma(S.Splat(a3[o1]), b1, c31); }
                if (R.N > 4) { c40 = S.Fma(S.Splat(a4[off]), b0, c40); c41 = S.Fma(S.Splat(a4[o1]), b1, c41); }
                if (R.N > 5) { c50 = S.Fma(S.Splat(a5[off]), b0, c50); c51 = S.Fma(S.Splat(a5[o1]), b1, c51); }
                off += 2 * acs;
                b += 2 * ldb;
            }
            if (p < kc)
            {
                TV b0 = S.Load(b);
                c00 = S.Fma(S.Splat(a0[off]), b0, c00);
                if (R.N > 1) c10 = S.Fma(S.Splat(a1[off]), b0, c10);
                if (R.N > 2) c20 = S.Fma(S.Splat(a2[off]), b0, c20);
                if (R.N > 3) c30 = S.Fma(S.Splat(a3[off]), b0, c30);
                if (R.N > 4) c40 = S.Fma(S.Splat(a4[off]), b0, c40);
                if (R.N > 5) c50 = S.Fma(S.Splat(a5[off]), b0, c50);
            }
            c00 = S.Add(c00, c01); c10 = S.Add(c10, c11); c20 = S.Add(c20, c21);
            c30 = S.Add(c30, c31); c40 = S.Add(c40, c41); c50 = S.Add(c50, c51);
        }
        TV va = S.Splat(alpha);
        // in-register activations (no call): each row straight from its accumulators. A 1x1 layer of 8 input channels
        // (MobileNet's 8 -> 16 at 48 x 48) has 8 steps per tile, and the round trip through memory cost as much as a third of them
        if (typeof(A) != typeof(AnyEpilogue))
        {
            StoreRow<S, TV, V, A>(c, l, c00, c01, va, acc, bias, 0, act);
            if (R.N > 1) StoreRow<S, TV, V, A>(c + ldc, l, c10, c11, va, acc, bias, 1, act);
            if (R.N > 2) StoreRow<S, TV, V, A>(c + 2 * ldc, l, c20, c21, va, acc, bias, 2, act);
            if (R.N > 3) StoreRow<S, TV, V, A>(c + 3 * ldc, l, c30, c31, va, acc, bias, 3, act);
            if (R.N > 4) StoreRow<S, TV, V, A>(c + 4 * ldc, l, c40, c41, va, acc, bias, 4, act);
            if (R.N > 5) StoreRow<S, TV, V, A>(c + 5 * ldc, l, c50, c51, va, acc, bias, 5, act);
            return;
        }
        // The sums go to memory before the epilogue: an activation may call out (exp), and the JIT spills values that
        // live across a call where they are defined, inside the k loop. Those 64-byte spills ran at one of two speeds
        // by the stack's alignment in the process (1.9x apart on Zen 4).
        float* sums = stackalloc float[2 * 6 * 16];
        int w = V.N * l;
        S.Store(sums, c00); if (V.N > 1) S.Store(sums + l, c01);
        if (R.N > 1) { S.Store(sums + w, c10); if (V.N > 1) S.Store(sums + w + l, c11); }
        if (R.N > 2) { S.Store(sums + 2 * w, c20); if (V.N > 1) S.Store(sums + 2 * w + l, c21); }
        if (R.N > 3) { S.Store(sums + 3 * w, c30); if (V.N > 1) S.Store(sums + 3 * w + l, c31); }
        if (R.N > 4) { S.Store(sums + 4 * w, c40); if (V.N > 1) S.Store(sums + 4 * w + l, c41); }
        if (R.N > 5) { S.Store(sums + 5 * w, c50); if (V.N > 1) S.Store(sums + 5 * w + l, c51); }
        for (int r = 0; r < R.N; r++)
            StoreRow<S, TV, V, A>(c + r * ldc, l, S.Load(sums + r * w), V.N > 1 ? S.Load(sums + r * w + l) : S.Zero, va, acc, bias, r, act);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void StoreRow<S, TV, V, A>(float* c, int l, TV v0, TV v1, TV va, bool acc, float* bias, int r, in Activation act)
        where S : struct, ISimd<TV> where TV : struct where V : struct, IRows where A : struct, IEpilogue
    {
        TV i0, i1;
        if (acc)
        {
            i0 = S.Load(c); i1 = V.N > 1 ? S.Load(c + l) : i0;
            // residual (accumulate) with a bias: the first KC block adds both
            if (bias != null) { var b = S.Splat(bias[r]); i0 = S.Add(i0, b); i1 = S.Add(i1, b); }
        }
        else i0 = i1 = bias == null ? S.Zero : S.Splat(bias[r]);
        TV y0 = S.Fma(v0, va, i0), y1 = S.Fma(v1, va, i1);
        y0 = A.Apply<S, TV>(y0, act); y1 = A.Apply<S, TV>(y1, act);
        S.Store(c, y0);
        if (V.N > 1) S.Store(c + l, y1);
    }

    // ---------------- packing ----------------

    /// <summary>Packs rows [pc, pc+kc) x columns [jc, jc+nr) of B' into dst (row stride NR = 2 vectors), zero-padding columns past nr.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Pack<S, TV>(in BSource src, int pc, int kc, int jc, int nr, int nrFull, float* dst)
        where S : struct, ISimd<TV> where TV : struct
    {
        int l = S.Lanes;
        switch (src.Kind)
        {
            case BSource.RowMajor:
            {
                float* s = src.B + pc * src.Ldb + jc;
                if (nr == nrFull)
                {
                    for (int p = 0; p < kc; p++, s += src.Ldb, dst += nrFull)
                        for (int j = 0; j < nrFull; j += l) S.Store(dst + j, S.Load(s + j));
                }
                else
                {
                    for (int p = 0; p < kc; p++, s += src.Ldb, dst += nrFull)
                    {
                        int j = 0;
                        for (; j < nr; j++) dst[j] = s[j];
                        for (; j < nrFull; j++) dst[j] = 0f;
                    }
                }
                break;
            }
            case BSource.Transposed:
            {
                int j = 0;
                if (Avx.IsSupported)
                {
                    // 8 x 8 blocks through registers (rows of B become columns of the panel)
                    for (; j + 8 <= nr; j += 8)
                    {
                        float* s = src.B + (jc + j) * src.Ldb + pc;
                        int p = 0;
                        for (; p + 8 <= kc; p += 8) Transpose8x8(s + p, src.Ldb, dst + p * nrFull + j, nrFull);
                        for (; p < kc; p++)
                            for (int jj = 0; jj < 8; jj++) dst[p * nrFull + j + jj] = s[jj * src.Ldb + p];
                    }
                }
                for (; j < nr; j++)
                {
                    float* s = src.B + (jc + j) * src.Ldb + pc;
                    float* d = dst + j;
                    int p = 0;
                    for (; p + 4 <= kc; p += 4, d += 4 * nrFull)
                    {
                        d[0] = s[p]; d[nrFull] = s[p + 1]; d[2 * nrFull] = s[p + 2]; d[3 * nrFull] = s[p + 3];
                    }
                    for (; p < kc; p++, d += nrFull) *d = s[p];
                }
                if (nr < nrFull)
                    for (int p = 0; p < kc; p++)
                        for (int jj = nr; jj < nrFull; jj++) dst[p * nrFull + jj] = 0f;
                break;
            }
            default:
                if (MaskedIm2Col && kc >= 32 && Avx.IsSupported && src.SW == 1 && src.SH == 1 && src.OutW == src.InW && src.KH <= 16 && src.KW <= 16 && (nrFull & 7) == 0)
                    PackIm2ColSame(src, pc, kc, jc, nr, nrFull, dst);
                else
                    PackIm2Col<S, TV>(src, pc, kc, jc, nr, nrFull, dst);
                break;
        }
    }

    /// <summary>
    /// Implicit im2col for stride-1 convolutions whose output rows are as wide as the input rows ("same" padding
    /// along W, the common case): there panel column t of tap (c, ky, kx) reads x[c] + (ky*DH - PT)*W + kx*DW - PL + jc + t,
    /// one contiguous stretch across output-row boundaries, and only the validity differs per column. So each panel row
    /// is a few 8-float loads, masked (AVX vmaskmovps: zero and fault-free in masked lanes) where the column's row or
    /// column index falls in the padding. Masks per kx and per ky are built once per panel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PackIm2ColSame(in BSource s, int pc, int kc, int jc, int nr, int nrFull, float* dst)
    {
        int inW = s.InW, inH = s.InH, plane = inH * inW;
        int* colM = stackalloc int[16 * 32];
        int* rowM = stackalloc int[16 * 32];
        for (int t = 0; t < nrFull; t++)
        {
            int j = jc + t, oy = j / s.OutW, ox = j - oy * s.OutW;
            for (int kx = 0; kx < s.KW; kx++)
            {
                int ix = ox + kx * s.DW - s.PL;
                colM[kx * nrFull + t] = t < nr && (uint)ix < (uint)inW ? -1 : 0;
            }
            for (int ky = 0; ky < s.KH; ky++)
            {
                int iy = oy + ky * s.DH - s.PT;
                rowM[ky * nrFull + t] = t < nr && (uint)iy < (uint)inH ? -1 : 0;
            }
        }
        int khw = s.KH * s.KW;
        int ci = pc / khw, rem = pc - ci * khw, ky0 = rem / s.KW, kx0 = rem - ky0 * s.KW;
        for (int p = 0; p < kc; p++, dst += nrFull)
        {
            float* src = s.B + (nint)ci * plane + (ky0 * s.DH - s.PT) * inW + kx0 * s.DW - s.PL + jc;
            float* cm = (float*)(colM + kx0 * nrFull);
            float* rm = (float*)(rowM + ky0 * nrFull);
            for (int t = 0; t < nrFull; t += 8)
            {
                Vector256<float> m = Avx.And(Avx.LoadVector256(cm + t), Avx.LoadVector256(rm + t));
                int bits = Avx.MoveMask(m);
                Vector256<float> v = bits == 0xFF ? Avx.LoadVector256(src + t) : bits == 0 ? Vector256<float>.Zero : Avx.MaskLoad(src + t, m);
                Avx.Store(dst + t, v);
            }
            if (++kx0 == s.KW) { kx0 = 0; if (++ky0 == s.KH) { ky0 = 0; ci++; } }
        }
    }

    /// <summary>Copies n floats with the widest vectors that fit (short runs are common in im2col panels and conv rows).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Copy<S, TV>(float* d, float* s, int n)
        where S : struct, ISimd<TV> where TV : struct
    {
        int l = S.Lanes, t = 0;
        for (; t + l <= n; t += l) S.Store(d + t, S.Load(s + t));
        if (l > 8 && t + 8 <= n) { Vector256.Store(Vector256.Load(s + t), d + t); t += 8; }
        if (l > 4 && t + 4 <= n && Vector128.IsHardwareAccelerated) { Vector128.Store(Vector128.Load(s + t), d + t); t += 4; }
        for (; t < n; t++) d[t] = s[t];
    }

    /// <summary>dst[i * ldd + r] = src[r * lds + i] for an 8 x 8 block (AVX shuffles).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8x8(float* src, nint lds, float* dst, nint ldd)
    {
        Transpose8x8(src, lds, out var c0, out var c1, out var c2, out var c3, out var c4, out var c5, out var c6, out var c7);
        Avx.Store(dst, c0); Avx.Store(dst + ldd, c1); Avx.Store(dst + 2 * ldd, c2); Avx.Store(dst + 3 * ldd, c3);
        Avx.Store(dst + 4 * ldd, c4); Avx.Store(dst + 5 * ldd, c5); Avx.Store(dst + 6 * ldd, c6); Avx.Store(dst + 7 * ldd, c7);
    }

    /// <summary>Column i of the 8 x 8 block at src (rows lds apart) as ci (AVX shuffles, in registers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8x8(float* src, nint lds, out Vector256<float> c0, out Vector256<float> c1, out Vector256<float> c2, out Vector256<float> c3,
        out Vector256<float> c4, out Vector256<float> c5, out Vector256<float> c6, out Vector256<float> c7)
    {
        Vector256<float> r0 = Avx.LoadVector256(src), r1 = Avx.LoadVector256(src + lds), r2 = Avx.LoadVector256(src + 2 * lds), r3 = Avx.LoadVector256(src + 3 * lds);
        Vector256<float> r4 = Avx.LoadVector256(src + 4 * lds), r5 = Avx.LoadVector256(src + 5 * lds), r6 = Avx.LoadVector256(src + 6 * lds), r7 = Avx.LoadVector256(src + 7 * lds);
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1), t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5), t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE), u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE), u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
        c0 = Avx.Permute2x128(u0, u4, 0x20); c1 = Avx.Permute2x128(u1, u5, 0x20); c2 = Avx.Permute2x128(u2, u6, 0x20); c3 = Avx.Permute2x128(u3, u7, 0x20);
        c4 = Avx.Permute2x128(u0, u4, 0x31); c5 = Avx.Permute2x128(u1, u5, 0x31); c6 = Avx.Permute2x128(u2, u6, 0x31); c7 = Avx.Permute2x128(u3, u7, 0x31);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PackIm2Col<S, TV>(in BSource s, int pc, int kc, int jc, int nr, int nrFull, float* dst)
        where S : struct, ISimd<TV> where TV : struct
    {
        int l = S.Lanes;
        // Split the panel's columns into runs along one output row: (oy, ox0, length, offset in the panel row).
        int* runOy = stackalloc int[32], runOx = stackalloc int[32], runLen = stackalloc int[32], runDst = stackalloc int[32];
        int runs = 0;
        {
            int j = jc, end = jc + nr, o = 0;
            while (j < end)
            {
                int oy = j / s.OutW, ox = j - oy * s.OutW;
                int len = Math.Min(s.OutW - ox, end - j);
                runOy[runs] = oy; runOx[runs] = ox; runLen[runs] = len; runDst[runs] = o;
                runs++; j += len; o += len;
            }
        }
        int khw = s.KH * s.KW;
        int ci = pc / khw, rem = pc - ci * khw, ky = rem / s.KW, kx = rem - ky * s.KW;
        int inW = s.InW, inH = s.InH, plane = inH * inW;
        // Stride 1 with output rows as wide as input rows: a tap that needs no clipping along W reads the whole panel
        // as one contiguous stretch of the input (when its rows are all inside).
        bool flat = s.SW == 1 && s.SH == 1 && s.OutW == inW;
        int iyFirst = runOy[0], iyLast = runOy[runs - 1];
        for (int p = 0; p < kc; p++, dst += nrFull)
        {
            float* xc = s.B + (nint)ci * plane;
            int dy = ky * s.DH - s.PT, dx = kx * s.DW - s.PL;
            if (flat && dx == 0 && (uint)(iyFirst + dy) < (uint)inH && (uint)(iyLast + dy) < (uint)inH)
            {
                Copy<S, TV>(dst, xc + (iyFirst + dy) * inW + runOx[0], nr);
            }
            else
            {
                for (int r = 0; r < runs; r++)
                {
                    float* d = dst + runDst[r];
                    int len = runLen[r];
                    int iy = runOy[r] * s.SH + dy;
                    if ((uint)iy >= (uint)inH) { new Span<float>(d, len).Clear(); continue; }
                    float* row = xc + iy * inW;
                    int ix0 = runOx[r] * s.SW + dx;
                    if (s.SW == 1)
                    {
                        int lo = Math.Clamp(-ix0, 0, len), hi = Math.Clamp(inW - ix0, lo, len);
                        for (int t = 0; t < lo; t++) d[t] = 0f;
                        Copy<S, TV>(d + lo, row + ix0 + lo, hi - lo);
                        for (int t = hi; t < len; t++) d[t] = 0f;
                    }
                    else
                    {
                        // strided: zeros, the unclipped middle without per-element checks, zeros
                        int sw = s.SW;
                        int lo = Math.Min(len, Conv.FirstAtLeast(0, ix0, sw)), hi = Math.Max(lo, Math.Min(len, Conv.EndAtMost(inW - 1, ix0, sw)));
                        int t = 0;
                        for (; t < lo; t++) d[t] = 0f;
                        float* sr = row + ix0;
                        if (sw == 2 && Avx2.IsSupported)
                        {
                            // even elements of 16 consecutive floats (all inside this row) -> 8 panel columns
                            for (; t + 8 <= hi && ix0 + 2 * t + 16 <= inW; t += 8)
                            {
                                Vector256<float> e = Avx.Shuffle(Avx.LoadVector256(sr + 2 * t), Avx.LoadVector256(sr + 2 * t + 8), 0x88);
                                Avx.Store(d + t, Avx2.Permute4x64(e.AsDouble(), 0xD8).AsSingle());
                            }
                        }
                        for (; t < hi; t++) d[t] = sr[t * sw];
                        for (; t < len; t++) d[t] = 0f;
                    }
                }
            }
            for (int j = nr; j < nrFull; j++) dst[j] = 0f;
            if (++kx == s.KW) { kx = 0; if (++ky == s.KH) { ky = 0; ci++; } }
        }
    }

    // ---------------- scalar fallback ----------------

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void RunScalar(float* a, nint ars, nint acs, in BSource src, float* c, nint ldc,
        int m, int n, int k, float alpha, bool accumulate, float* rowBias, Activation act)
    {
        const int nrFull = 8;
        int kcMax = PanelFloats / nrFull;
        float* panel = stackalloc float[PanelFloats];
        for (int jc = 0; jc < n; jc += nrFull)
        {
            int nr = Math.Min(nrFull, n - jc);
            for (int pc = 0; pc < k; pc += kcMax)
            {
                int kc = Math.Min(kcMax, k - pc);
                PackScalar(src, pc, kc, jc, nr, nrFull, panel);
                bool acc = accumulate || pc != 0;
                for (int i = 0; i < m; i++)
                {
                    float* ai = a + i * ars + pc * acs;
                    float* cr = c + i * ldc + jc;
                    for (int j = 0; j < nr; j++)
                    {
                        float s = 0;
                        float* bp = panel + j;
                        for (int p = 0; p < kc; p++, bp += nrFull) s += ai[p * acs] * *bp;
                        float init = (acc ? cr[j] : 0f) + (pc == 0 && rowBias != null ? rowBias[i] : 0f);
                        cr[j] = pc + kc >= k ? act.Apply(init + alpha * s) : init + alpha * s;
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PackScalar(in BSource s, int pc, int kc, int jc, int nr, int nrFull, float* dst)
    {
        for (int p = 0; p < kc; p++)
            for (int j = 0; j < nrFull; j++)
                dst[p * nrFull + j] = j < nr ? Element(s, pc + p, jc + j) : 0f;
    }

    /// <summary>B'[p, j] for any source (reference; used by the scalar path).</summary>
    internal static float Element(in BSource s, int p, int j)
    {
        switch (s.Kind)
        {
            case BSource.RowMajor: return s.B[p * s.Ldb + j];
            case BSource.Transposed: return s.B[j * s.Ldb + p];
            default:
            {
                int khw = s.KH * s.KW;
                int ci = p / khw, rem = p - ci * khw, ky = rem / s.KW, kx = rem - ky * s.KW;
                int oy = j / s.OutW, ox = j - oy * s.OutW;
                int iy = oy * s.SH - s.PT + ky * s.DH, ix = ox * s.SW - s.PL + kx * s.DW;
                if ((uint)iy >= (uint)s.InH || (uint)ix >= (uint)s.InW) return 0f;
                return s.B[((nint)ci * s.InH + iy) * s.InW + ix];
            }
        }
    }
}
