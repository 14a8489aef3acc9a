using System;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Operators;

namespace ModelGen.Compiler.Quantization;

/// <summary>
/// The arithmetic of TensorFlow Lite's int8 scheme (as ONNX Runtime's quantizer writes it): activations per tensor,
/// asymmetric over [-128, 127] with a range that always holds 0 (so 0 is exact: padding, ReLU); weights per output
/// channel, symmetric over [-127, 127], zero point 0; bias int32 at scale input scale x weight scale.
/// </summary>
internal static class QuantParams
{
    public static (float Scale, int ZeroPoint) Activation(float lo, float hi)
    {
        double rmin = Math.Min(lo, 0f), rmax = Math.Max(hi, 0f);
        double scale = (rmax - rmin) / 255.0;
        if (!(scale > 0) || double.IsInfinity(scale)) return (1f, 0); // a tensor that is always 0
        float s = (float)scale;
        double zp = Math.Round(-128 - rmin / s, MidpointRounding.ToEven);
        return (s, (int)Math.Max(-128, Math.Min(127, zp)));
    }

    /// <summary>
    /// Symmetric int8 per slice of <paramref name="axis"/> (-1: one scale for the whole tensor): the quantized values
    /// and one scale per slice (max |w| / 127; 1 for an all-zero slice).
    /// </summary>
    public static (TensorData Q, float[] Scales) Weights(TensorData w, int axis)
    {
        int rank = w.Shape.Length;
        int channels = axis < 0 ? 1 : w.Shape[axis], inner = 1;
        if (axis >= 0) for (int d = axis + 1; d < rank; d++) inner *= w.Shape[d];
        int Channel(int i) => axis < 0 ? 0 : i / inner % channels;
        var scales = new float[channels];
        for (int i = 0; i < w.Length; i++) scales[Channel(i)] = Math.Max(scales[Channel(i)], Math.Abs(w.F[i]));
        for (int c = 0; c < channels; c++) scales[c] = scales[c] > 0 ? scales[c] / 127f : 1f;
        var q = new TensorData(DType.Int8, w.Shape);
        for (int i = 0; i < w.Length; i++)
            q.L[i] = Math.Max(-127, Math.Min(127, (long)Q.RoundEven(w.F[i] / scales[Channel(i)])));
        return (q, scales);
    }

    /// <summary>Bias as int32 at scale xScale x wScale[m] (zero point 0), saturated.</summary>
    public static (TensorData Q, float[] Scales) Bias(TensorData b, float xScale, float[] wScales)
    {
        var scales = new float[b.Length];
        var q = new TensorData(DType.Int32, b.Shape);
        for (int m = 0; m < b.Length; m++)
        {
            scales[m] = xScale * wScales[wScales.Length == 1 ? 0 : m];
            double v = Q.RoundEven(b.F[m] / scales[m]);
            q.L[m] = (long)Math.Max(int.MinValue, Math.Min(int.MaxValue, v));
        }
        return (q, scales);
    }

    public static TensorData Floats(float[] v, bool scalar) => new(DType.Float, scalar ? Array.Empty<int>() : new[] { v.Length }, f: v);

    public static TensorData Int8Scalar(long value)
    {
        var t = new TensorData(DType.Int8, Array.Empty<int>());
        t.L[0] = value;
        return t;
    }
}
