using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ModelGen.Compiler;
using WakeWord;
using Xunit;
using Xunit.Abstractions;

namespace ModelGen.Tests;

/// <summary>
/// samples/WakeWord: its streaming pipeline (linked into this project from samples/WakeWord/Pipeline) run over
/// ModelGen-generated models and over ONNX Runtime on the same audio, plus the pieces it is built from.
/// </summary>
public class WakeWordPipelineTests(ITestOutputHelper log)
{
    // ---------------------------------------------------------------- the end-to-end check

    [Fact]
    public void GeneratedPipelineMatchesOnnxRuntime()
    {
        var pcm = TestAudio.Load();
        using var ort = new OrtWakeWordModels();
        var generated = new CompiledWakeWordModels();
        var expected = TestAudio.Run(new WakeWordDetector(ort), pcm);
        var actual = TestAudio.Run(new WakeWordDetector(generated), pcm);

        Assert.Equal(expected.Length, actual.Length);
        double maxDiff = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = Math.Abs(expected[i].Score - actual[i].Score);
            maxDiff = Math.Max(maxDiff, d);
            Assert.True(d <= 1e-3, $"frame {i}: generated {actual[i].Score} vs ONNX Runtime {expected[i].Score}");
        }
        log.WriteLine($"{expected.Length} frames, max |score diff| {maxDiff:E2}");
        Assert.Equal(TestAudio.Detections(expected), TestAudio.Detections(actual));
        Assert.NotEmpty(TestAudio.Detections(expected)); // the comparison covers a detection, not only silence
    }

    // ---------------------------------------------------------------- the framing, against openWakeWord's own logic

    /// <summary>
    /// The ring-buffer detector over fixed-shape models vs a line-by-line transcription of openWakeWord's
    /// AudioFeatures._streaming_features + Model.predict with growing buffers and variable-length mel calls
    /// (ONNX Runtime for both): same scores frame by frame.
    /// </summary>
    [Theory]
    [InlineData("speech")]          // silence, speech, silence, speech, silence, noise, silence
    [InlineData("noise-first")]     // a first chunk with content (the one chunk whose mel call differs in length)
    public void DetectorFramingMatchesOpenWakeWordReference(string input)
    {
        var pcm = input == "speech" ? TestAudio.Load() : TestAudio.Concat(TestAudio.Noise(8000, 4000, 3), TestAudio.Load());
        using var ort = new OrtWakeWordModels();
        var ours = TestAudio.Run(new WakeWordDetector(ort), pcm);
        var reference = new OpenWakeWordReference(ort);
        int n = pcm.Length / WakeWordDetector.ChunkSamples;
        Assert.Equal(n, ours.Length);
        double maxDiff = 0;
        for (int i = 0; i < n; i++)
        {
            float r = reference.Predict(pcm.AsSpan(i * WakeWordDetector.ChunkSamples, WakeWordDetector.ChunkSamples));
            double d = Math.Abs(r - ours[i].Score);
            maxDiff = Math.Max(maxDiff, d);
            Assert.True(d <= 1e-4, $"frame {i}: detector {ours[i].Score} vs reference {r}");
        }
        log.WriteLine($"{n} frames, max |score diff| {maxDiff:E2}");
    }

    [Fact]
    public void HeyJarvisIsDetectedOnlyInSpeech()
    {
        using var ort = new OrtWakeWordModels();
        var detector = new WakeWordDetector(ort);
        var speech = TestAudio.Pad(SpeechSynth.Speak("hey jarvis").ToPcm16(), 1.0);
        var onSpeech = TestAudio.Detections(TestAudio.Run(detector, speech));
        detector.Reset();
        var onQuiet = TestAudio.Detections(TestAudio.Run(detector, TestAudio.Concat(new short[3 * 16000], TestAudio.Noise(3 * 16000, 2000, 7))));
        log.WriteLine($"speech: {string.Join(", ", onSpeech)}; silence+noise: {string.Join(", ", onQuiet)}");
        Assert.Single(onSpeech);
        Assert.Empty(onQuiet);
    }

    [Fact]
    public void WriteInAnySizesEqualsWholeChunks()
    {
        var models = new FakeModels();
        var pcm = TestAudio.Noise(20 * WakeWordDetector.ChunkSamples + 300, 5000, 3);
        var whole = TestAudio.Run(new WakeWordDetector(models), pcm);
        var detector = new WakeWordDetector(models);
        var parts = new List<FrameResult>();
        var rng = new Random(5);
        var buf = new FrameResult[8];
        for (int at = 0; at < pcm.Length;)
        {
            int len = Math.Min(pcm.Length - at, rng.Next(0, 3000));
            int n = detector.Write(pcm.AsSpan(at, len), buf);
            parts.AddRange(buf.Take(n));
            at += len;
        }
        Assert.Equal(whole.Select(r => (r.Frame, r.Score, r.Detected)), parts.Select(r => (r.Frame, r.Score, r.Detected)));
    }

    [Fact]
    public void ProcessChunkAllocatesNothing()
    {
        var detector = new WakeWordDetector(new FakeModels());
        var chunk = TestAudio.Noise(WakeWordDetector.ChunkSamples, 3000, 1);
        for (int i = 0; i < 20; i++) detector.ProcessChunk(chunk);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++) detector.ProcessChunk(chunk);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void SlidingWindowKeepsTheLatestElementsInOrder()
    {
        var rng = new Random(11);
        var w = new SlidingWindow(37, 1f);
        var naive = Enumerable.Repeat(1f, 37).ToList();
        for (int step = 0; step < 500; step++)
        {
            var data = Enumerable.Range(0, rng.Next(0, 90)).Select(_ => (float)rng.Next(1000)).ToArray();
            w.Push(data);
            naive.AddRange(data);
            naive.RemoveRange(0, naive.Count - 37);
            int k = rng.Next(0, 38);
            Assert.Equal(naive.Skip(37 - k), w.Latest(k).ToArray());
        }
    }

    // ---------------------------------------------------------------- audio input

    [Theory]
    [InlineData(22050, 16000, 1000.0)]
    [InlineData(22050, 16000, 6500.0)]
    [InlineData(44100, 16000, 3000.0)]
    [InlineData(48000, 16000, 7000.0)]
    [InlineData(8000, 16000, 3000.0)]
    [InlineData(11025, 16000, 4000.0)]
    public void ResamplerReproducesInBandTones(int inRate, int outRate, double hz)
    {
        var x = Tone(inRate, hz, 2.0, 10000);
        var y = new Resampler(inRate, outRate).Process(x);
        Assert.Equal((x.LongLength * outRate + inRate - 1) / inRate, y.LongLength);
        var expected = Tone(outRate, hz, 2.1, 10000); // the same tone sampled at the output rate
        double err = 0;
        for (int i = outRate / 10; i < y.Length - outRate / 10; i++) err = Math.Max(err, Math.Abs(y[i] - expected[i]));
        log.WriteLine($"{inRate}->{outRate} {hz} Hz: max error {err:F3} of 10000");
        Assert.True(err < 10000 * 1e-4, $"max error {err}"); // within -80 dB of the tone
    }

    [Theory]
    [InlineData(22050, 16000, 8500.0)]
    [InlineData(22050, 16000, 10000.0)]
    [InlineData(44100, 16000, 12000.0)]
    public void ResamplerRemovesWhatWouldAlias(int inRate, int outRate, double hz)
    {
        var y = new Resampler(inRate, outRate).Process(Tone(inRate, hz, 2.0, 10000));
        double rms = Math.Sqrt(y.Skip(outRate / 10).Take(y.Length - outRate / 5).Average(v => (double)v * v));
        log.WriteLine($"{inRate}->{outRate} {hz} Hz: output rms {rms:F4} (input {10000 / Math.Sqrt(2):F0})");
        Assert.True(rms < 10000 / Math.Sqrt(2) * 1e-3, $"alias rms {rms}"); // below -60 dB
    }

    [Fact]
    public void WavWriteThenReadRoundTrips()
    {
        var pcm = TestAudio.Noise(1001, 30000, 9);
        pcm[0] = short.MinValue; pcm[1] = short.MaxValue;
        var path = Path.Combine(Path.GetTempPath(), $"wakeword-test-{Guid.NewGuid():N}.wav");
        try
        {
            WavFile.Write(path, pcm, 16000);
            var a = WavFile.Read(path);
            Assert.Equal(16000, a.SampleRate);
            Assert.Equal(pcm, a.ToPcm16());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void WavReaderHandlesFormatsChannelsAndChunks()
    {
        // 24-bit stereo PCM in WAVE_FORMAT_EXTENSIBLE, an odd-sized LIST chunk first, a 0xFFFFFFFF data size
        var frames = new (int L, int R)[] { (0x123456, -0x123456), (-0x800000, 0x7FFFFF), (256, 512) };
        var data = new List<byte>();
        foreach (var (l, r) in frames) { data.AddRange(Le(l, 3)); data.AddRange(Le(r, 3)); }
        var fmt = new List<byte>();
        fmt.AddRange(Le(0xFFFE, 2)); fmt.AddRange(Le(2, 2)); fmt.AddRange(Le(22050, 4)); fmt.AddRange(Le(22050 * 6, 4));
        fmt.AddRange(Le(6, 2)); fmt.AddRange(Le(24, 2)); fmt.AddRange(Le(22, 2)); fmt.AddRange(Le(24, 2)); fmt.AddRange(Le(3, 4));
        fmt.AddRange(Le(1, 2)); fmt.AddRange(new byte[14]); // SubFormat KSDATAFORMAT_SUBTYPE_PCM (first two bytes matter)
        var a = WavFile.Read(Riff(new[] { ("LIST", new byte[] { 1, 2, 3 }), ("fmt ", fmt.ToArray()), ("data", data.ToArray()) }, unknownDataSize: true), "test");
        Assert.Equal(22050, a.SampleRate);
        Assert.Equal(frames.Length, a.Samples.Length);
        for (int i = 0; i < frames.Length; i++)
            Assert.Equal((frames[i].L + frames[i].R) / 2.0 / 256, a.Samples[i], 3);

        // 32-bit float mono and 8-bit unsigned mono
        var f = new List<byte>();
        foreach (var v in new[] { 0.5f, -1f, 0.25f }) f.AddRange(BitConverter.GetBytes(v));
        var af = WavFile.Read(Riff(("fmt ", Fmt(3, 1, 16000, 32)), ("data", f.ToArray())), "float");
        Assert.Equal(new[] { 16384f, -32768f, 8192f }, af.Samples);
        var a8 = WavFile.Read(Riff(("fmt ", Fmt(1, 1, 8000, 8)), ("data", new byte[] { 128, 0, 255 })), "u8");
        Assert.Equal(new[] { 0f, -32768f, 32512f }, a8.Samples);

        Assert.Throws<InvalidDataException>(() => WavFile.Read(new byte[] { 1, 2, 3 }, "junk"));
        Assert.Throws<InvalidDataException>(() => WavFile.Read(Riff(("fmt ", Fmt(2, 1, 8000, 4)), ("data", new byte[4])), "adpcm"));
    }

    static byte[] Fmt(int format, int channels, int rate, int bits)
    {
        var f = new List<byte>();
        int align = channels * bits / 8;
        f.AddRange(Le(format, 2)); f.AddRange(Le(channels, 2)); f.AddRange(Le(rate, 4)); f.AddRange(Le(rate * align, 4));
        f.AddRange(Le(align, 2)); f.AddRange(Le(bits, 2));
        return f.ToArray();
    }

    static byte[] Riff(params (string Tag, byte[] Body)[] chunks) => Riff(chunks, false);

    static byte[] Riff((string Tag, byte[] Body)[] chunks, bool unknownDataSize)
    {
        var b = new List<byte>();
        b.AddRange("RIFF"u8.ToArray()); b.AddRange(new byte[4]); b.AddRange("WAVE"u8.ToArray());
        foreach (var (tag, body) in chunks)
        {
            b.AddRange(System.Text.Encoding.ASCII.GetBytes(tag));
            b.AddRange(unknownDataSize && tag == "data" ? new byte[] { 255, 255, 255, 255 } : Le(body.Length, 4));
            b.AddRange(body);
            if (body.Length % 2 == 1 && tag != "data") b.Add(0);
        }
        var r = b.ToArray();
        Le(r.Length - 8, 4).CopyTo(r, 4);
        return r;
    }

    static byte[] Le(int v, int n) => Enumerable.Range(0, n).Select(i => (byte)(v >> (8 * i))).ToArray();

    static float[] Tone(int rate, double hz, double seconds, double amp) =>
        Enumerable.Range(0, (int)(rate * seconds)).Select(i => (float)(amp * Math.Sin(2 * Math.PI * hz * i / rate))).ToArray();
}

/// <summary>The test WAV: espeak-ng speech with silence and noise around it, written to a file and read back.</summary>
static class TestAudio
{
    static readonly Lazy<short[]> s_pcm = new(() =>
    {
        // espeak-ng's "hey jarvis!" scores ~0.99; with a comma instead, the model peaks near 0.43: both sides of 0.5
        var detected = SpeechSynth.Speak("hey jarvis! what's the weather?").ToPcm16();
        var nearMiss = SpeechSynth.Speak("hey jarvis, what's the weather").ToPcm16();
        var pcm = Concat(new short[16000], detected, new short[12000], nearMiss, new short[12000], Noise(2 * 16000, 3000, 42), new short[16000]);
        var path = Path.Combine(Path.GetTempPath(), $"wakeword-pipeline-{Guid.NewGuid():N}.wav");
        try
        {
            WavFile.Write(path, pcm, 16000);
            return WavFile.Read(path).ToPcm16();
        }
        finally { File.Delete(path); }
    });

    public static short[] Load() => s_pcm.Value;

    public static FrameResult[] Run(WakeWordDetector d, short[] pcm)
    {
        var r = new FrameResult[pcm.Length / WakeWordDetector.ChunkSamples];
        for (int i = 0; i < r.Length; i++) r[i] = d.ProcessChunk(pcm.AsSpan(i * WakeWordDetector.ChunkSamples, WakeWordDetector.ChunkSamples));
        return r;
    }

    public static int[] Detections(FrameResult[] r) => r.Where(x => x.Detected).Select(x => x.Frame).ToArray();

    public static short[] Noise(int n, int amplitude, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (short)rng.Next(-amplitude, amplitude + 1)).ToArray();
    }

    public static short[] Pad(short[] x, double seconds) => Concat(new short[(int)(seconds * 16000)], x, new short[(int)(seconds * 16000)]);

    public static short[] Concat(params short[][] parts) => parts.SelectMany(p => p).ToArray();
}

/// <summary>The pipeline's models in ONNX Runtime (the oracle), at the shapes the detector uses.</summary>
sealed class OrtWakeWordModels : IWakeWordModels, IDisposable
{
    readonly InferenceSession _mel, _embed, _score;

    public OrtWakeWordModels()
    {
        using var o = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        _mel = new InferenceSession(Models.Mel, o);
        _embed = new InferenceSession(Models.Embedding, o);
        _score = new InferenceSession(Models.HeyJarvis, o);
    }

    static float[] Run(InferenceSession s, ReadOnlySpan<float> x, params int[] shape)
    {
        var name = s.InputMetadata.Keys.First();
        using var r = s.Run(new[] { NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(x.ToArray(), shape)) });
        return r.First().AsTensor<float>().ToArray();
    }

    /// <summary>Variable length, as openWakeWord calls it: (1, n) samples -> (n/160 - 3) x 32.</summary>
    public float[] MelAnyLength(ReadOnlySpan<float> audio) => Run(_mel, audio, 1, audio.Length);

    public void Melspectrogram(ReadOnlySpan<float> audio, Span<float> mel)
    {
        Assert.Equal(WakeWordDetector.MelInputSamples, audio.Length);
        var r = Run(_mel, audio, 1, audio.Length);
        Assert.Equal(mel.Length, r.Length);
        r.CopyTo(mel);
    }

    public void Embed(ReadOnlySpan<float> mel, Span<float> embedding)
    {
        var r = Run(_embed, mel, 1, 76, 32, 1);
        Assert.Equal(embedding.Length, r.Length);
        r.CopyTo(embedding);
    }

    public float Score(ReadOnlySpan<float> embeddings) => Run(_score, embeddings, 1, 16, 96).Single();

    public void Dispose() { _mel.Dispose(); _embed.Dispose(); _score.Dispose(); }
}

/// <summary>The pipeline's models as ModelGen generates them (Net profile, compiled in memory, the same shapes as the sample's OnnxModel items).</summary>
sealed class CompiledWakeWordModels : IWakeWordModels
{
    static readonly Lazy<(CompiledModel Mel, CompiledModel Embed, CompiledModel Score)> s_models = new(() => (
        Harness.Build(Models.Mel, new ModelOptions { InputShape = "1,1760" }),
        Harness.Build(Models.Embedding, new ModelOptions { InputShape = "1,76,32,1" }),
        Harness.Build(Models.HeyJarvis)));

    public void Melspectrogram(ReadOnlySpan<float> audio, Span<float> mel)
    {
        var o = new float[mel.Length];
        s_models.Value.Mel.Run(audio.ToArray(), o);
        o.CopyTo(mel);
    }

    public void Embed(ReadOnlySpan<float> mel, Span<float> embedding)
    {
        var o = new float[embedding.Length];
        s_models.Value.Embed.Run(mel.ToArray(), o);
        o.CopyTo(embedding);
    }

    public float Score(ReadOnlySpan<float> embeddings)
    {
        var o = new float[1];
        s_models.Value.Score.Run(embeddings.ToArray(), o);
        return o[0];
    }
}

/// <summary>Cheap deterministic stand-ins with the right shapes, for tests of the streaming logic alone.</summary>
sealed class FakeModels : IWakeWordModels
{
    public void Melspectrogram(ReadOnlySpan<float> audio, Span<float> mel)
    {
        for (int f = 0; f < 8; f++)
            for (int b = 0; b < 32; b++)
                mel[f * 32 + b] = audio[f * 160 + b * 7] * 1e-3f + b;
    }

    public void Embed(ReadOnlySpan<float> mel, Span<float> embedding)
    {
        for (int i = 0; i < 96; i++) embedding[i] = mel[i * 25] - mel[75 * 32 + i % 32];
    }

    public float Score(ReadOnlySpan<float> embeddings)
    {
        float s = 0;
        for (int i = 0; i < embeddings.Length; i += 7) s += embeddings[i];
        return 1f / (1f + MathF.Exp(-s * 1e-2f));
    }
}

/// <summary>
/// openWakeWord 0.6 (utils.py AudioFeatures, model.py Model.predict) transcribed with growing lists and
/// variable-length melspectrogram calls, for one wake-word model fed 1280-sample chunks.
/// </summary>
sealed class OpenWakeWordReference
{
    readonly OrtWakeWordModels _m;
    readonly List<float> _raw = new();                  // raw_data_buffer (deque, maxlen 160000)
    readonly List<float[]> _mel = new();                // melspectrogram_buffer, starts np.ones((76, 32))
    readonly List<float[]> _features = new();           // feature_buffer
    int _predictions;                                   // len(prediction_buffer)

    public OpenWakeWordReference(OrtWakeWordModels m)
    {
        _m = m;
        for (int i = 0; i < 76; i++) _mel.Add(Enumerable.Repeat(1f, 32).ToArray());
        // feature_buffer = _get_embeddings(noise): the melspectrogram of the whole clip, 76-frame windows every 8 frames
        var noise = new float[WakeWordDetector.InitNoiseSamples];
        WakeWordDetector.FillInitNoise(noise);
        var spec = Frames(_m.MelAnyLength(noise));
        for (int i = 0; i + 76 <= spec.Count; i += 8) _features.Add(Embed(spec.GetRange(i, 76)));
    }

    List<float[]> Frames(float[] raw) =>
        Enumerable.Range(0, raw.Length / 32).Select(f => raw.Skip(f * 32).Take(32).Select(v => v / 10f + 2f).ToArray()).ToList();

    float[] Embed(List<float[]> window)
    {
        var e = new float[96];
        _m.Embed(window.SelectMany(r => r).ToArray(), e);
        return e;
    }

    public float Predict(ReadOnlySpan<short> chunk)
    {
        foreach (var s in chunk) _raw.Add(s);
        if (_raw.Count > 160000) _raw.RemoveRange(0, _raw.Count - 160000);
        // _streaming_melspectrogram(1280): the last 1280 + 480 samples, or fewer at the start
        int n = Math.Min(_raw.Count, 1280 + 160 * 3);
        _mel.AddRange(Frames(_m.MelAnyLength(_raw.GetRange(_raw.Count - n, n).ToArray())));
        if (_mel.Count > 970) _mel.RemoveRange(0, _mel.Count - 970);
        // one embedding of the last 76 frames
        _features.Add(Embed(_mel.GetRange(_mel.Count - 76, 76)));
        if (_features.Count > 120) _features.RemoveRange(0, _features.Count - 120);
        // predict: the last 16 features; zero for the first 5 predictions
        float score = _m.Score(_features.Skip(_features.Count - 16).SelectMany(r => r).ToArray());
        if (_predictions < 5) score = 0f;
        _predictions++;
        return score;
    }
}
