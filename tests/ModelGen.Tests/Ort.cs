using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace ModelGen.Tests;

/// <summary>ONNX Runtime as the test oracle (test-only dependency).</summary>
public static class Ort
{
    public static float[][] Run(string modelPath, params (float[] Data, int[] Shape)[] inputs)
    {
        using var opts = new SessionOptions { IntraOpNumThreads = 1 };
        using var s = new InferenceSession(modelPath, opts);
        var names = s.InputMetadata.Keys.ToList();
        var feeds = inputs.Select((x, i) => NamedOnnxValue.CreateFromTensor(names[i], new DenseTensor<float>(x.Data, x.Shape))).ToList();
        using var r = s.Run(feeds);
        return r.Select(v => v.AsTensor<float>().ToArray()).ToArray();
    }

    public static float[] Random(int n, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        var r = new float[n];
        for (int i = 0; i < n; i++) r[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return r;
    }

    /// <summary>Max |a-b| divided by the output scale (max |b|, at least 1).</summary>
    public static double RelMaxDiff(float[] actual, float[] expected)
    {
        double scale = Math.Max(1e-6, expected.Max(x => Math.Abs(x)));
        double d = 0;
        for (int i = 0; i < expected.Length; i++) d = Math.Max(d, Math.Abs(actual[i] - expected[i]));
        return d / Math.Max(1.0, scale);
    }
}
