using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ModelGen.Compiler;
using Xunit;
using Xunit.Abstractions;

namespace ModelGen.Tests;

/// <summary>
/// The other models in openWakeWord's package, which no test or pass was written for: the timer, weather and
/// hey_rhasspy classifiers, and Silero VAD (an LSTM voice-activity detector with a sample-rate If, dynamic batch and
/// sequence, state inputs). Each is compiled in both profiles and run against ONNX Runtime on random inputs.
/// </summary>
public class MoreRealModelsTests(ITestOutputHelper log)
{
    [Theory]
    [InlineData("timer_v0.1.onnx", 34)]
    [InlineData("weather_v0.1.onnx", 22)]
    [InlineData("hey_rhasspy_v0.1.onnx", 16)]
    public void ClassifierMatchesOrt(string file, int frames)
    {
        var x = Ort.Random(frames * 96, 7, 3f);
        var expected = Ort.Run(Models.Path_(file), (x, new[] { 1, frames, 96 }))[0];
        foreach (var target in new[] { TargetProfile.Net, TargetProfile.Portable })
        {
            var model = Harness.Build(Models.Path_(file), new ModelOptions { Target = target });
            var y = new float[expected.Length];
            model.Run(x, y);
            var d = Ort.RelMaxDiff(y, expected);
            log.WriteLine($"{file} {target}: max rel diff {d:E2}");
            Assert.True(d < 1e-5, $"{file} {target}: max rel diff {d}");
        }
    }

    /// <summary>
    /// Silero VAD at 16 kHz, one 512-sample chunk: sr bound at build time (the 8 kHz branch folds away), batch 1;
    /// outputs the speech probability and the LSTM's new state. Run twice, feeding the state back, as a stream does.
    /// </summary>
    [Fact]
    public void SileroVadMatchesOrt()
    {
        var path = Models.Path_("silero_vad.onnx");
        var x = Ort.Random(512, 11, 0.3f);
        var h = new float[2 * 64]; var c = new float[2 * 64];
        using var opts = new SessionOptions { IntraOpNumThreads = 1 };
        using var s = new InferenceSession(path, opts);
        foreach (var target in new[] { TargetProfile.Net, TargetProfile.Portable })
        {
            var model = Harness.Build(path, new ModelOptions { Target = target, ConstantInputs = "sr=16000", InputShape = "input=1,512;h=2,1,64;c=2,1,64" });
            float[] hOrt = h, cOrt = c, hOurs = h, cOurs = c;
            for (int step = 0; step < 2; step++)
            {
                var feeds = new List<NamedOnnxValue>
                {
                    NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(x, new[] { 1, 512 })),
                    NamedOnnxValue.CreateFromTensor("sr", new DenseTensor<long>(new long[] { 16000 }, Array.Empty<int>())),
                    NamedOnnxValue.CreateFromTensor("h", new DenseTensor<float>(hOrt, new[] { 2, 1, 64 })),
                    NamedOnnxValue.CreateFromTensor("c", new DenseTensor<float>(cOrt, new[] { 2, 1, 64 })),
                };
                float[][] expected;
                using (var r = s.Run(feeds)) expected = r.Select(v => v.AsTensor<float>().ToArray()).ToArray();
                var y = new float[1]; var hn = new float[128]; var cn = new float[128];
                model.Run(x, hOurs, cOurs, y, hn, cn);
                log.WriteLine($"{target} step {step}: p = {y[0]:F6} (ORT {expected[0][0]:F6}), state diff {Ort.RelMaxDiff(hn, expected[1]):E2} {Ort.RelMaxDiff(cn, expected[2]):E2}");
                Assert.True(Math.Abs(y[0] - expected[0][0]) < 1e-5, $"{target} step {step}: {y[0]} vs {expected[0][0]}");
                Assert.True(Ort.RelMaxDiff(hn, expected[1]) < 1e-5 && Ort.RelMaxDiff(cn, expected[2]) < 1e-5, $"{target} step {step}: state differs");
                hOrt = expected[1]; cOrt = expected[2]; hOurs = hn; cOurs = cn;
            }
        }
    }
}
