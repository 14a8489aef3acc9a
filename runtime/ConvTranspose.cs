using System;
using System.Runtime.CompilerServices;
using System.Numerics.Tensors;

namespace ModelGen.Runtime;

/// <summary>Transposed convolution kernels for generated code (NCHW, float32).</summary>
public static unsafe class ConvTranspose
{
    /// <summary>Floats of scratch <see cref="ConvTranspose2D"/> needs: one group's columns, (outC / groups) * kH * kW * inH * inW.</summary>
    public static int ScratchLength(int inH, int inW, int outC, int kH, int kW, int groups)
        => outC / groups * kH * kW * inH * inW;

    /// <summary>
    /// 2-D transposed convolution, NCHW. x [batch, inC, inH, inW], w [inC, outC/groups, kH, kW], bias [outC] or empty,
    /// y [batch, outC, outH, outW]: y[o] = bias + sum of x[i] * w[k] over o = i * stride + k * dilation - pad. Pads may be
    /// negative (SAME with a stride wider than the kernel); the bottom/right are implied by outH/outW.
    /// Per group, a GEMM (W^T of [outC/groups * kH * kW, inC/groups] times the input planes) writes every kernel
    /// position's contribution into <paramref name="scratch"/> (<see cref="ScratchLength"/> floats), which is then
    /// added onto the output planes at their strided positions (col2im). <paramref name="activation"/> is applied last.
    /// Allocation-free; y must not overlap x, w, bias or scratch.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ConvTranspose2D(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y, Span<float> scratch,
        int batch, int inC, int inH, int inW, int outC, int kH, int kW, int outH, int outW,
        int strideH, int strideW, int padTop, int padLeft, int dilH, int dilW, int groups, Activation activation = default)
    {
        if (batch < 0 || inC <= 0 || inH <= 0 || inW <= 0 || outC <= 0 || kH <= 0 || kW <= 0 || outH < 0 || outW < 0
            || strideH <= 0 || strideW <= 0 || dilH <= 0 || dilW <= 0 || groups <= 0)
            throw new ArgumentOutOfRangeException(nameof(groups), "ConvTranspose2D: invalid geometry");
        if (inC % groups != 0 || outC % groups != 0) throw new ArgumentException("ConvTranspose2D: groups must divide inC and outC", nameof(groups));
        int icg = inC / groups, ocg = outC / groups, taps = kH * kW, inPlane = inH * inW, outPlane = outH * outW;
        long cols = (long)ocg * taps;
        if (x.Length < (long)batch * inC * inPlane) throw new ArgumentException("ConvTranspose2D: x too small", nameof(x));
        if (w.Length < (long)inC * cols) throw new ArgumentException("ConvTranspose2D: w too small", nameof(w));
        if (y.Length < (long)batch * outC * outPlane) throw new ArgumentException("ConvTranspose2D: y too small", nameof(y));
        if (bias.Length != 0 && bias.Length < outC) throw new ArgumentException("ConvTranspose2D: bias must be empty or hold outC values", nameof(bias));
        if (scratch.Length < cols * inPlane) throw new ArgumentException("ConvTranspose2D: scratch too small", nameof(scratch));
        if (batch == 0 || outPlane == 0) return;

        fixed (float* py = y, ps = scratch)
        {
            for (int nb = 0; nb < batch; nb++)
                for (int g = 0; g < groups; g++)
                {
                    // columns [ocg * taps, inPlane] = W_g^T [ocg * taps, icg] * X_g [icg, inPlane]
                    Gemm.Run(w.Slice(g * icg * (int)cols, icg * (int)cols), x.Slice((nb * inC + g * icg) * inPlane, icg * inPlane), default,
                        scratch, (int)cols, inPlane, icg, transA: true, transB: false, 1f, 0f, BiasKind.None);
                    for (int m = 0; m < ocg; m++)
                    {
                        int oc = g * ocg + m;
                        float* yp = py + (long)(nb * outC + oc) * outPlane;
                        new Span<float>(yp, outPlane).Fill(bias.Length == 0 ? 0f : bias[oc]);
                        for (int ky = 0; ky < kH; ky++)
                        {
                            int offY = ky * dilH - padTop; // oy = iy * strideH + offY
                            int iyLo = Conv.FirstAtLeast(0, offY, strideH), iyHi = Math.Min(inH, Conv.EndAtMost(outH - 1, offY, strideH));
                            for (int kx = 0; kx < kW; kx++)
                            {
                                int offX = kx * dilW - padLeft;
                                int ixLo = Conv.FirstAtLeast(0, offX, strideW), ixHi = Math.Min(inW, Conv.EndAtMost(outW - 1, offX, strideW));
                                if (ixLo >= ixHi) continue;
                                float* col = ps + (long)(m * taps + ky * kW + kx) * inPlane;
                                for (int iy = iyLo; iy < iyHi; iy++)
                                {
                                    float* src = col + iy * inW;
                                    float* dst = yp + (iy * strideH + offY) * outW + offX;
                                    if (strideW == 1)
                                    {
                                        var d = new Span<float>(dst + ixLo, ixHi - ixLo);
                                        TensorPrimitives.Add(d, new ReadOnlySpan<float>(src + ixLo, ixHi - ixLo), d);
                                    }
                                    else for (int ix = ixLo; ix < ixHi; ix++) dst[ix * strideW] += src[ix];
                                }
                            }
                        }
                        activation.Apply(yp, outPlane);
                    }
                }
        }
    }
}
