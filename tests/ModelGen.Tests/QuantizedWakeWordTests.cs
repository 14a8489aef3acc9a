using System.Diagnostics;
using ModelGen.Compiler;
using ModelGen.Compiler.Quantization;
using WakeWord;
using Xunit;
using Xunit.Abstractions;

namespace ModelGen.Tests;

/// <summary>
/// openWakeWord quantized at build time, as a user would: the embedding model and hey_jarvis compiled with
/// Quantize="Weights" and Quantize="Int8" (calibrated on what the float pipeline feeds them while it listens to
/// other espeak-ng speech than the test audio), then the whole streaming pipeline run over the test audio and
/// compared with the float pipeline: same detections, scores close, embeddings' SQNR.
/// </summary>
public class QuantizedWakeWordTests(ITestOutputHelper log)
{
    /// <summary>The float pipeline, recording the inputs of the two models it would quantize.</summary>
    sealed class Recorder(IWakeWordModels inner) : IWakeWordModels
    {
        public readonly List<float[]> Mel = new(), Embeddings = new();
        public void Melspectrogram(ReadOnlySpan<float> audio, Span<float> mel) => inner.Melspectrogram(audio, mel);
        public void Embed(ReadOnlySpan<float> mel, Span<float> embedding) { Mel.Add(mel.ToArray()); inner.Embed(mel, embedding); }
        public float Score(ReadOnlySpan<float> embeddings) { Embeddings.Add(embeddings.ToArray()); return inner.Score(embeddings); }
    }

    /// <summary>Float melspectrogram (its If branches and STFT stay float), quantized embedding and classifier.</summary>
    sealed class Quantized(CompiledModel embed, CompiledModel score) : IWakeWordModels
    {
        readonly IWakeWordModels _float = new CompiledWakeWordModels();
        public readonly List<float[]> EmbedOut = new();
        public void Melspectrogram(ReadOnlySpan<float> audio, Span<float> mel) => _float.Melspectrogram(audio, mel);
        public void Embed(ReadOnlySpan<float> mel, Span<float> embedding)
        {
            var o = new float[embedding.Length];
            embed.Run(mel.ToArray(), o);
            EmbedOut.Add(o);
            o.CopyTo(embedding);
        }
        public float Score(ReadOnlySpan<float> embeddings)
        {
            var o = new float[1];
            score.Run(embeddings.ToArray(), o);
            return o[0];
        }
    }

    static CalibrationFile ToFile(string name, List<float[]> samples, int max)
    {
        // evenly spaced samples over the whole recording (speech, pauses and noise alike)
        int step = Math.Max(1, samples.Count / max);
        var picked = samples.Where((_, i) => i % step == 0).Take(max).ToArray();
        var bytes = new byte[picked.Sum(s => s.Length) * 4];
        int at = 0;
        foreach (var s in picked) { Buffer.BlockCopy(s, 0, bytes, at, s.Length * 4); at += s.Length * 4; }
        return new CalibrationFile(name, bytes);
    }

    static CompileResult Compile(string path, ModelOptions o, CalibrationFile? calib)
    {
        var r = ModelCompiler.Compile(File.ReadAllBytes(path), path, o, calib == null ? null : new[] { calib });
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        return r;
    }

    [Fact]
    public void QuantizedPipelineDetectsWhatTheFloatPipelineDetects()
    {
        // calibration: other phrases and a slower voice than the test audio, with the wake word among them
        var calibAudio = TestAudio.Concat(new short[8000],
            SpeechSynth.Speak("hey jarvis, please turn on the lights", wordsPerMinute: 140).ToPcm16(), new short[8000],
            SpeechSynth.Speak("good morning, what is on my calendar today?").ToPcm16(), new short[8000],
            TestAudio.Noise(16000, 2500, 9), SpeechSynth.Speak("hey jarvis!", wordsPerMinute: 190).ToPcm16(), new short[16000]);
        var rec = new Recorder(new CompiledWakeWordModels());
        TestAudio.Run(new WakeWordDetector(rec), calibAudio);
        var melCalib = ToFile("mel.bin", rec.Mel, 48);
        var embCalib = ToFile("embeddings.bin", rec.Embeddings, 96);

        var pcm = TestAudio.Load();
        var floatModels = new Quantized(Harness.Build(Models.Embedding, new ModelOptions { InputShape = "1,76,32,1" }), Harness.Build(Models.HeyJarvis));
        var expected = TestAudio.Run(new WakeWordDetector(floatModels), pcm);
        Assert.NotEmpty(TestAudio.Detections(expected));
        long floatWeights = Harness.Generate(Models.Embedding, new ModelOptions { InputShape = "1,76,32,1" }).WeightBytes + Harness.Generate(Models.HeyJarvis).WeightBytes;

        log.WriteLine("| mode | detections (float: " + string.Join(", ", TestAudio.Detections(expected)) + ") | max score diff | embedding SQNR dB | weight bytes (embedding + hey_jarvis) | calibration ms |");
        log.WriteLine("|---|---|---:|---:|---:|---:|");
        log.WriteLine($"| float | {string.Join(", ", TestAudio.Detections(expected))} | 0 | - | {floatWeights} | - |");
        var rows = new List<(QuantizeMode, int[], double, double, long)>();
        foreach (var (mode, method) in new[] { (QuantizeMode.Weights, CalibrationMethod.MinMax), (QuantizeMode.Int8, CalibrationMethod.MinMax) })
        {
            var sw = Stopwatch.StartNew();
            var e = Compile(Models.Embedding, new ModelOptions { InputShape = "1,76,32,1", Quantize = mode, CalibrationMethod = method }, mode == QuantizeMode.Int8 ? melCalib : null);
            var s = Compile(Models.HeyJarvis, new ModelOptions { Quantize = mode, CalibrationMethod = method }, mode == QuantizeMode.Int8 ? embCalib : null);
            long ms = sw.ElapsedMilliseconds;
            var q = new Quantized(CompiledModel.FromSource(e.Source!, e.ClassName!, null, TargetProfile.Net), CompiledModel.FromSource(s.Source!, s.ClassName!, null, TargetProfile.Net));
            var actual = TestAudio.Run(new WakeWordDetector(q), pcm);
            double maxDiff = expected.Zip(actual, (a, b) => Math.Abs(a.Score - b.Score)).Max();
            double sqnr = Sqnr(floatModels.EmbedOut.SelectMany(x => x), q.EmbedOut.SelectMany(x => x));
            log.WriteLine($"| {mode}{(mode == QuantizeMode.Int8 ? " " + method : "")} | {string.Join(", ", TestAudio.Detections(actual))} | {maxDiff:F3} | {sqnr:F1} | {e.WeightBytes + s.WeightBytes} | {(mode == QuantizeMode.Int8 ? ms.ToString() : "-")} |");
            rows.Add((mode, TestAudio.Detections(actual), maxDiff, sqnr, e.WeightBytes + s.WeightBytes));
        }
        foreach (var (mode, detections, maxDiff, sqnr, weights) in rows)
        {
            Assert.Equal(TestAudio.Detections(expected), detections);
            Assert.True(maxDiff < 0.25, $"{mode}: score differs from float by up to {maxDiff:F3}");
            Assert.True(sqnr >= 15, $"{mode}: embedding SQNR {sqnr:F1} dB");
            Assert.True(floatWeights >= 3.5 * weights, $"{mode}: weights {weights} vs float {floatWeights}");
        }
    }

    static double Sqnr(IEnumerable<float> reference, IEnumerable<float> test)
    {
        double sig = 0, noise = 0;
        foreach (var (r, t) in reference.Zip(test)) { sig += (double)r * r; noise += (double)(r - t) * (r - t); }
        return noise == 0 ? double.PositiveInfinity : 10 * Math.Log10(sig / noise);
    }
}
