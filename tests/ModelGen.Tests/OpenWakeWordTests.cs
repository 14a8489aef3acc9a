using ModelGen.Compiler;
using Xunit;
using Xunit.Abstractions;

namespace ModelGen.Tests;

/// <summary>Differential tests: generated Predict vs ONNX Runtime on openWakeWord's real models.</summary>
public class OpenWakeWordTests(ITestOutputHelper log)
{
    public static TheoryData<string, string, int[]> Cases => new()
    {
        { "melspectrogram.onnx", "1,1760", new[] { 1, 1760 } },
        { "embedding_model.onnx", "1,76,32,1", new[] { 1, 76, 32, 1 } },
        { "hey_jarvis_v0.1.onnx", "", new[] { 1, 16, 96 } },
        { "alexa_v0.1.onnx", "", new[] { 1, 16, 96 } },
        { "hey_mycroft_v0.1.onnx", "", new[] { 1, 16, 96 } },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesOnnxRuntime(string file, string inputShape, int[] shape)
    {
        var path = Models.Path_(file);
        var model = Harness.Build(path, new ModelOptions { InputShape = inputShape });
        int n = shape.Aggregate(1, (a, b) => a * b);
        for (int seed = 0; seed < 4; seed++)
        {
            // random, scaled, and realistic ranges (audio in int16 scale for the mel model)
            float scale = file.StartsWith("mel") ? (seed % 2 == 0 ? 1000f : 20000f) : seed < 2 ? 1f : 8f;
            var x = Ort.Random(n, seed, scale);
            var expected = Ort.Run(path, (x, shape))[0];
            var actual = new float[expected.Length];
            model.Run(x, actual);
            var diff = Ort.RelMaxDiff(actual, expected);
            log.WriteLine($"{file} seed {seed}: rel max diff {diff:E2}");
            Assert.True(diff <= 1e-4, $"{file} seed {seed}: rel max diff {diff}");
        }
    }
}
