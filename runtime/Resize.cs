using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Runtime;

/// <summary>Separable resizing of NCHW planes (float32) from per-axis tap tables computed at build time.</summary>
public static unsafe class Resize
{
    /// <summary>Floats of scratch <see cref="Resize2D"/> needs: inH * outW, or none when both axes gather.</summary>
    public static int ScratchLength(int inH, int outW, bool gatherBoth) => gatherBoth ? 0 : inH * outW;

    /// <summary>
    /// Resizes planes of [inH, inW] to [outH, outW]. Output row oy reads tapsH input rows srcH[oy * tapsH + t] (element
    /// offsets: row * inW) weighted by wH[oy * tapsH + t]; column ox likewise from srcW / wW (column indices). An empty
    /// weight table means one tap of weight 1 (nearest: a gather). Interpolated axes are applied one after the other:
    /// every input row is resized horizontally into <paramref name="scratch"/> (<see cref="ScratchLength"/> floats), then
    /// each output row is a weighted sum of whole rows (SIMD). Allocation-free; y must not overlap x or scratch.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Resize2D(ReadOnlySpan<float> x, Span<float> y, Span<float> scratch, int planes, int inH, int inW, int outH, int outW,
        ReadOnlySpan<int> srcH, ReadOnlySpan<float> wH, int tapsH, ReadOnlySpan<int> srcW, ReadOnlySpan<float> wW, int tapsW)
    {
        if (planes < 0 || inH <= 0 || inW <= 0 || outH < 0 || outW < 0 || tapsH <= 0 || tapsW <= 0)
            throw new ArgumentOutOfRangeException(nameof(planes), "Resize2D: invalid geometry");
        bool gatherH = wH.IsEmpty, gatherW = wW.IsEmpty;
        if (gatherH && tapsH != 1 || gatherW && tapsW != 1) throw new ArgumentException("Resize2D: a gather has one tap", nameof(tapsH));
        if (srcH.Length < outH * tapsH || !gatherH && wH.Length < outH * tapsH) throw new ArgumentException("Resize2D: row table too small", nameof(srcH));
        if (srcW.Length < outW * tapsW || !gatherW && wW.Length < outW * tapsW) throw new ArgumentException("Resize2D: column table too small", nameof(srcW));
        if (x.Length < (long)planes * inH * inW) throw new ArgumentException("Resize2D: x too small", nameof(x));
        if (y.Length < (long)planes * outH * outW) throw new ArgumentException("Resize2D: y too small", nameof(y));
        if (scratch.Length < ScratchLength(inH, outW, gatherH && gatherW)) throw new ArgumentException("Resize2D: scratch too small", nameof(scratch));
        for (int i = 0; i < srcH.Length; i++) if ((uint)srcH[i] >= (uint)(inH * inW) || srcH[i] % inW != 0) throw new ArgumentException("Resize2D: row offset out of range", nameof(srcH));
        for (int i = 0; i < srcW.Length; i++) if ((uint)srcW[i] >= (uint)inW) throw new ArgumentException("Resize2D: column out of range", nameof(srcW));

        fixed (float* px = x, py = y, ps = scratch, pwh = wH, pww = wW)
        fixed (int* psh = srcH, psw = srcW)
        {
            var g = new Geometry { Planes = planes, InH = inH, InW = inW, OutH = outH, OutW = outW, TapsH = tapsH, TapsW = tapsW,
                SrcH = psh, SrcW = psw, WH = gatherH ? null : pwh, WW = gatherW ? null : pww };
            switch (SimdLevel.Bits)
            {
                case 512: Run<V512, Vector512<float>>(px, py, ps, g); break;
                case 256: Run<V256, Vector256<float>>(px, py, ps, g); break;
                case 128: Run<V128, Vector128<float>>(px, py, ps, g); break;
                default: Run<V0, float>(px, py, ps, g); break;
            }
        }
    }

    struct Geometry
    {
        public int Planes, InH, InW, OutH, OutW, TapsH, TapsW;
        public int* SrcH, SrcW;
        /// <summary>Null for a gather.</summary>
        public float* WH, WW;
    }

    /// <summary>Output columns up to which two-tap rows are gathered eight at a time (the taps' tables split on the stack).</summary>
    const int GatherColumns = 1024;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Run<S, TV>(float* x, float* y, float* tmp, Geometry g) where S : struct, ISimd<TV> where TV : struct
    {
        int inW = g.InW, outW = g.OutW, l = S.Lanes;
        // two-tap rows (bilinear): each tap's columns and weights apart, so that eight outputs are two gathers, two
        // multiplies and an add (the scalar loop's operations, in its order); a 4x32x32 -> 64x64 resize spent its 15 us
        // on the scalar loop's six loads an output
        bool gather = g.TapsW == 2 && g.WW != null && Avx2.IsSupported && outW >= 8 && outW <= GatherColumns && l >= 8;
        int* cs0 = stackalloc int[gather ? outW : 0], cs1 = stackalloc int[gather ? outW : 0];
        float* ws0 = stackalloc float[gather ? outW : 0], ws1 = stackalloc float[gather ? outW : 0];
        if (gather)
            for (int ox = 0; ox < outW; ox++) { cs0[ox] = g.SrcW[2 * ox]; cs1[ox] = g.SrcW[2 * ox + 1]; ws0[ox] = g.WW[2 * ox]; ws1[ox] = g.WW[2 * ox + 1]; }
        for (int c = 0; c < g.Planes; c++)
        {
            float* xp = x + (nint)c * g.InH * inW;
            float* yp = y + (nint)c * g.OutH * outW;
            if (g.WH == null && g.WW == null)
            {
                for (int oy = 0; oy < g.OutH; oy++)
                {
                    float* yr = yp + (nint)oy * outW;
                    // nearest upsampling repeats rows: copy the row just written
                    if (oy > 0 && g.SrcH[oy] == g.SrcH[oy - 1]) { Buffer.MemoryCopy(yr - outW, yr, outW * 4L, outW * 4L); continue; }
                    float* xr = xp + g.SrcH[oy];
                    for (int ox = 0; ox < outW; ox++) yr[ox] = xr[g.SrcW[ox]];
                }
                continue;
            }
            // horizontal: every input row to outW columns
            for (int r = 0; r < g.InH; r++)
            {
                float* xr = xp + (nint)r * inW;
                float* tr = tmp + (nint)r * outW;
                int* sw = g.SrcW;
                float* ww = g.WW;
                if (ww == null) for (int ox = 0; ox < outW; ox++) tr[ox] = xr[sw[ox]];
                else if (gather)
                {
                    int ox = 0;
                    for (; ox + 8 <= outW; ox += 8)
                    {
                        var a = Avx2.GatherVector256(xr, Vector256.Load(cs0 + ox), 4) * Vector256.Load(ws0 + ox);
                        (a + Avx2.GatherVector256(xr, Vector256.Load(cs1 + ox), 4) * Vector256.Load(ws1 + ox)).Store(tr + ox);
                    }
                    for (; ox < outW; ox++) tr[ox] = ws0[ox] * xr[cs0[ox]] + ws1[ox] * xr[cs1[ox]];
                }
                else if (g.TapsW == 2) for (int ox = 0; ox < outW; ox++) tr[ox] = ww[2 * ox] * xr[sw[2 * ox]] + ww[2 * ox + 1] * xr[sw[2 * ox + 1]];
                else
                    for (int ox = 0; ox < outW; ox++)
                    {
                        int at = ox * g.TapsW;
                        float acc = ww[at] * xr[sw[at]];
                        for (int t = 1; t < g.TapsW; t++) acc += ww[at + t] * xr[sw[at + t]];
                        tr[ox] = acc;
                    }
            }
            // vertical: weighted sums of whole rows
            for (int oy = 0; oy < g.OutH; oy++)
            {
                float* yr = yp + (nint)oy * outW;
                int at = oy * g.TapsH;
                float* t0 = tmp + (nint)(g.SrcH[at] / inW) * outW;
                if (g.WH == null) { Buffer.MemoryCopy(t0, yr, outW * 4L, outW * 4L); continue; }
                float w0 = g.WH[at];
                var v0 = S.Splat(w0);
                int ox = 0;
                for (; ox + l <= outW; ox += l)
                {
                    var acc = S.Mul(v0, S.Load(t0 + ox));
                    for (int t = 1; t < g.TapsH; t++) acc = S.Fma(S.Splat(g.WH[at + t]), S.Load(tmp + (nint)(g.SrcH[at + t] / inW) * outW + ox), acc);
                    S.Store(yr + ox, acc);
                }
                for (; ox < outW; ox++)
                {
                    float acc = w0 * t0[ox];
                    for (int t = 1; t < g.TapsH; t++) acc += g.WH[at + t] * tmp[(nint)(g.SrcH[at + t] / inW) * outW + ox];
                    yr[ox] = acc;
                }
            }
        }
    }
}
