using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Runtime;

/// <summary>
/// The two row products of attention, for generated code: one query against a run of key rows (the scores), and the
/// probability-weighted sum of a run of value rows. Rows sit stride floats apart (heads interleaved in 3-D layouts).
/// </summary>
public static unsafe class AttentionRows
{
    /// <summary>scores[j] = scale * (q[0..d) . keys[j * stride ..][0..d)) for j &lt; count. Allocation-free.</summary>
    public static void Scores(ReadOnlySpan<float> q, ReadOnlySpan<float> keys, int count, int stride, int d, float scale, Span<float> scores)
    {
        if (count < 0 || d <= 0 || stride < d) throw new ArgumentOutOfRangeException(nameof(count), "AttentionRows: invalid geometry");
        if (count == 0) return;
        if (q.Length < d || scores.Length < count || keys.Length < (long)(count - 1) * stride + d) throw new ArgumentException("AttentionRows: sizes do not agree");
        fixed (float* pq = q, pk = keys, ps = scores)
        {
            switch (SimdLevel.Bits)
            {
                case 512 when d >= 16: Dots<V512, Vector512<float>>(pq, pk, count, stride, d, scale, ps); break;
                case 512 or 256 when d >= 8: Dots<V256, Vector256<float>>(pq, pk, count, stride, d, scale, ps); break;
                case 0: Dots<V0, float>(pq, pk, count, stride, d, scale, ps); break;
                default: if (d >= 4) Dots<V128, Vector128<float>>(pq, pk, count, stride, d, scale, ps); else Dots<V0, float>(pq, pk, count, stride, d, scale, ps); break;
            }
        }
    }

    /// <summary>kt[t * ld + j] = keys[j * stride + t] for j &lt; count, t &lt; d: key rows as columns, for <see cref="ScoresOfColumns"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Columns(ReadOnlySpan<float> keys, int count, int stride, int d, Span<float> kt, int ld)
    {
        if (count < 0 || d <= 0 || stride < d || ld < count) throw new ArgumentOutOfRangeException(nameof(count), "AttentionRows: invalid geometry");
        if (count == 0) return;
        if (keys.Length < (long)(count - 1) * stride + d || kt.Length < (long)(d - 1) * ld + count) throw new ArgumentException("AttentionRows: sizes do not agree");
        for (int j = 0; j < count; j++)
        {
            var row = keys.Slice(j * stride, d);
            for (int t = 0; t < d; t++) kt[t * ld + j] = row[t];
        }
    }

    /// <summary>
    /// scores[j] = scale * sum over t &lt; d of q[t] * kt[t * ld + j], for j &lt; count at least: whole vectors of
    /// keys while they fit in ld (scores then holds ld values; the ones past count are scores of later keys, unused).
    /// A vector of keys per accumulator, so no sum across lanes. Allocation-free.
    /// </summary>
    public static void ScoresOfColumns(ReadOnlySpan<float> q, ReadOnlySpan<float> kt, int ld, int count, int d, float scale, Span<float> scores)
    {
        if (count < 0 || d <= 0 || ld < count) throw new ArgumentOutOfRangeException(nameof(count), "AttentionRows: invalid geometry");
        if (count == 0) return;
        if (q.Length < d || scores.Length < ld || kt.Length < (long)d * ld) throw new ArgumentException("AttentionRows: sizes do not agree");
        fixed (float* pq = q, pk = kt, ps = scores)
        {
            switch (SimdLevel.Bits)
            {
                case 512 when ld >= 16: ColumnDots<V512, Vector512<float>>(pq, pk, ld, count, d, scale, ps); break;
                case 512 or 256 when ld >= 8: ColumnDots<V256, Vector256<float>>(pq, pk, ld, count, d, scale, ps); break;
                case 0: ColumnDots<V0, float>(pq, pk, ld, count, d, scale, ps); break;
                default: if (ld >= 4) ColumnDots<V128, Vector128<float>>(pq, pk, ld, count, d, scale, ps); else ColumnDots<V0, float>(pq, pk, ld, count, d, scale, ps); break;
            }
        }
    }

    /// <summary>
    /// y[0..d) = (add ? y : 0) + sum over j &lt; count of p[j] * values[j * stride ..][0..d). Allocation-free.
    /// </summary>
    public static void Weighted(ReadOnlySpan<float> p, ReadOnlySpan<float> values, int count, int stride, int d, bool add, Span<float> y)
    {
        if (count < 0 || d <= 0 || stride < d) throw new ArgumentOutOfRangeException(nameof(count), "AttentionRows: invalid geometry");
        if (y.Length < d || p.Length < count || count > 0 && values.Length < (long)(count - 1) * stride + d) throw new ArgumentException("AttentionRows: sizes do not agree");
        fixed (float* pp = p, pv = values, py = y)
        {
            switch (SimdLevel.Bits)
            {
                case 512 when d >= 16: Sums<V512, Vector512<float>>(pp, pv, count, stride, d, add, py); break;
                case 512 or 256 when d >= 8: Sums<V256, Vector256<float>>(pp, pv, count, stride, d, add, py); break;
                case 0: Sums<V0, float>(pp, pv, count, stride, d, add, py); break;
                default: if (d >= 4) Sums<V128, Vector128<float>>(pp, pv, count, stride, d, add, py); else Sums<V0, float>(pp, pv, count, stride, d, add, py); break;
            }
        }
    }

    /// <summary>Four keys at a time share each load of q.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dots<S, TV>(float* q, float* k, int count, int stride, int d, float scale, float* scores) where S : struct, ISimd<TV> where TV : struct
    {
        int l = S.Lanes, dv = d - d % l, j = 0;
        for (; j + 4 <= count; j += 4)
        {
            float* k0 = k + (long)j * stride, k1 = k0 + stride, k2 = k1 + stride, k3 = k2 + stride;
            TV a0 = S.Zero, a1 = S.Zero, a2 = S.Zero, a3 = S.Zero;
            for (int t = 0; t < dv; t += l)
            {
                TV x = S.Load(q + t);
                a0 = S.Fma(x, S.Load(k0 + t), a0); a1 = S.Fma(x, S.Load(k1 + t), a1);
                a2 = S.Fma(x, S.Load(k2 + t), a2); a3 = S.Fma(x, S.Load(k3 + t), a3);
            }
            float s0 = S.Sum(a0), s1 = S.Sum(a1), s2 = S.Sum(a2), s3 = S.Sum(a3);
            for (int t = dv; t < d; t++) { s0 += q[t] * k0[t]; s1 += q[t] * k1[t]; s2 += q[t] * k2[t]; s3 += q[t] * k3[t]; }
            scores[j] = s0 * scale; scores[j + 1] = s1 * scale; scores[j + 2] = s2 * scale; scores[j + 3] = s3 * scale;
        }
        for (; j < count; j++)
        {
            float* kj = k + (long)j * stride;
            TV a = S.Zero;
            for (int t = 0; t < dv; t += l) a = S.Fma(S.Load(q + t), S.Load(kj + t), a);
            float s = S.Sum(a);
            for (int t = dv; t < d; t++) s += q[t] * kj[t];
            scores[j] = s * scale;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void ColumnDots<S, TV>(float* q, float* kt, int ld, int count, int d, float scale, float* scores) where S : struct, ISimd<TV> where TV : struct
    {
        int l = S.Lanes, j = 0;
        TV vs = S.Splat(scale);
        for (; j < count && j + 2 * l <= ld; j += 2 * l)
        {
            // even and odd t in separate accumulators: half the chain of dependent FMAs
            TV a0 = S.Zero, a1 = S.Zero, b0 = S.Zero, b1 = S.Zero;
            float* c = kt + j;
            int t = 0;
            for (; t + 1 < d; t += 2, c += 2 * ld)
            {
                TV x = S.Splat(q[t]), z = S.Splat(q[t + 1]);
                a0 = S.Fma(x, S.Load(c), a0); a1 = S.Fma(x, S.Load(c + l), a1);
                b0 = S.Fma(z, S.Load(c + ld), b0); b1 = S.Fma(z, S.Load(c + ld + l), b1);
            }
            if (t < d) { TV x = S.Splat(q[t]); a0 = S.Fma(x, S.Load(c), a0); a1 = S.Fma(x, S.Load(c + l), a1); }
            S.Store(scores + j, S.Mul(S.Add(a0, b0), vs)); S.Store(scores + j + l, S.Mul(S.Add(a1, b1), vs));
        }
        for (; j < count && j + l <= ld; j += l)
        {
            TV a = S.Zero;
            float* c = kt + j;
            for (int t = 0; t < d; t++, c += ld) a = S.Fma(S.Splat(q[t]), S.Load(c), a);
            S.Store(scores + j, S.Mul(a, vs));
        }
        for (; j < count; j++)
        {
            float s = 0f;
            for (int t = 0; t < d; t++) s += q[t] * kt[(long)t * ld + j];
            scores[j] = s * scale;
        }
    }

    /// <summary>One vector of y at a time stays in a register across all the value rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Sums<S, TV>(float* p, float* v, int count, int stride, int d, bool add, float* y) where S : struct, ISimd<TV> where TV : struct
    {
        int l = S.Lanes, dv = d - d % l;
        for (int t = 0; t < dv; t += l)
        {
            // even and odd rows in separate accumulators: half the chain of dependent FMAs
            TV acc = add ? S.Load(y + t) : S.Zero, odd = S.Zero;
            float* vt = v + t;
            int j = 0;
            for (; j + 1 < count; j += 2, vt += 2 * stride)
            {
                acc = S.Fma(S.Splat(p[j]), S.Load(vt), acc);
                odd = S.Fma(S.Splat(p[j + 1]), S.Load(vt + stride), odd);
            }
            if (j < count) acc = S.Fma(S.Splat(p[j]), S.Load(vt), acc);
            S.Store(y + t, S.Add(acc, odd));
        }
        for (int t = dv; t < d; t++)
        {
            float s = add ? y[t] : 0f;
            for (int j = 0; j < count; j++) s += p[j] * v[(long)j * stride + t];
            y[t] = s;
        }
    }
}
