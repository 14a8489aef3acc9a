namespace ModelGen.Benchmarks;

internal static class Data
{
    public static float[] Random(Random rng, int n, float scale = 1f)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return a;
    }

    /// <summary>Throws when two results differ by more than 1e-4 of the larger's scale (a benchmark of a wrong answer is worthless).</summary>
    public static void AssertClose(float[] actual, float[] expected, string what)
    {
        if (actual.Length != expected.Length) throw new InvalidOperationException($"{what}: {actual.Length} vs {expected.Length} outputs");
        double scale = 1e-6, d = 0;
        foreach (var v in expected) scale = Math.Max(scale, Math.Abs(v));
        for (int i = 0; i < actual.Length; i++) d = Math.Max(d, Math.Abs(actual[i] - expected[i]));
        if (!(d <= 1e-4 * Math.Max(1, scale))) throw new InvalidOperationException($"{what}: ModelGen and ONNX Runtime differ by {d} (scale {scale})");
    }
}
