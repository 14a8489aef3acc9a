using System;
using System.Numerics.Tensors;

namespace ModelGen.Runtime;

/// <summary>Separable resizing of NCHW planes (float32) from per-axis tap tables computed at build time.</summary>
public static class Resize
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

        for (int c = 0; c < planes; c++)
        {
            var xp = x.Slice(c * inH * inW, inH * inW);
            var yp = y.Slice(c * outH * outW, outH * outW);
            if (gatherH && gatherW)
            {
                for (int oy = 0; oy < outH; oy++)
                {
                    var yr = yp.Slice(oy * outW, outW);
                    // nearest upsampling repeats rows: copy the row just written
                    if (oy > 0 && srcH[oy] == srcH[oy - 1]) { yp.Slice((oy - 1) * outW, outW).CopyTo(yr); continue; }
                    var xr = xp.Slice(srcH[oy], inW);
                    for (int ox = 0; ox < outW; ox++) yr[ox] = xr[srcW[ox]];
                }
                continue;
            }
            // horizontal: every input row to outW columns
            for (int r = 0; r < inH; r++)
            {
                var xr = xp.Slice(r * inW, inW);
                var tr = scratch.Slice(r * outW, outW);
                if (gatherW) { for (int ox = 0; ox < outW; ox++) tr[ox] = xr[srcW[ox]]; continue; }
                for (int ox = 0; ox < outW; ox++)
                {
                    int at = ox * tapsW;
                    float acc = wW[at] * xr[srcW[at]];
                    for (int t = 1; t < tapsW; t++) acc += wW[at + t] * xr[srcW[at + t]];
                    tr[ox] = acc;
                }
            }
            // vertical: weighted sums of whole rows
            for (int oy = 0; oy < outH; oy++)
            {
                var yr = yp.Slice(oy * outW, outW);
                int at = oy * tapsH;
                var t0 = scratch.Slice(srcH[at] / inW * outW, outW);
                if (gatherH) { t0.CopyTo(yr); continue; }
                TensorPrimitives.Multiply(t0, wH[at], yr);
                for (int t = 1; t < tapsH; t++)
                    TensorPrimitives.MultiplyAdd(scratch.Slice(srcH[at + t] / inW * outW, outW), wH[at + t], yr, yr);
            }
        }
    }
}
