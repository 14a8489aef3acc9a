#nullable enable
using System;

namespace WakeWord;

/// <summary>One 80 ms frame's result.</summary>
public readonly struct FrameResult
{
    public FrameResult(int frame, float score, bool detected) { Frame = frame; Score = score; Detected = detected; }
    /// <summary>0-based chunk index; the frame covers samples [Frame*1280, (Frame+1)*1280).</summary>
    public int Frame { get; }
    /// <summary>The wake-word model's score in [0, 1] (0 during the 5-frame warm-up, as openWakeWord does).</summary>
    public float Score { get; }
    /// <summary>True on the frame where the score rises to the threshold or above (start of a detection).</summary>
    public bool Detected { get; }
    /// <summary>End time of the frame in seconds.</summary>
    public double EndSeconds => (Frame + 1) * (double)WakeWordDetector.ChunkSamples / WakeWordDetector.SampleRate;
}

/// <summary>
/// openWakeWord's streaming pipeline (utils.py AudioFeatures._streaming_features / model.py Model.predict) for
/// 1280-sample chunks, over fixed-shape models and preallocated rings: per chunk it allocates nothing.
/// <list type="number">
/// <item>Raw audio: the melspectrogram model sees the last 1280 + 160*3 samples (float, int16 scale) and yields 8 frames
/// (512-sample STFT windows every 160 samples). openWakeWord's raw buffer starts empty, so its first call sees only 1280
/// samples and yields 5 frames; at our fixed input shape we feed 480 zeros + the chunk and keep the last 5 frames, which
/// cover exactly the same samples. The model floors its dB output at 80 dB below the maximum of the whole call
/// (ReduceMax), so the two can differ only if the first chunk's loudest frame lies in its first 352 samples and the
/// chunk spans more than 80 dB; a stream that starts with silence or ordinary sound gives identical frames.</item>
/// <item>Mel frames are transformed as x/10 + 2 and appended to a 76-frame window that starts as all ones
/// (<c>np.ones((76, 32))</c>).</item>
/// <item>Each chunk, the embedding model embeds the last 76 mel frames into one 96-d feature.</item>
/// <item>The feature window starts as the embeddings of 4 s of noise in [-1000, 1000) (openWakeWord:
/// <c>_get_embeddings(np.random.randint(-1000, 1000, 16000*4))</c>); we draw that noise from a fixed-seed generator so
/// runs are reproducible.</item>
/// <item>The wake-word model scores the last 16 features; the first 5 scores are reported as 0 (openWakeWord's
/// "zero predictions for first 5 frames during model initialization").</item>
/// </list>
/// </summary>
public sealed class WakeWordDetector
{
    public const int SampleRate = 16000;
    public const int ChunkSamples = 1280;          // 80 ms
    public const int MelHop = 160;
    public const int MelContextSamples = 3 * MelHop; // 480
    public const int MelInputSamples = ChunkSamples + MelContextSamples; // 1760
    public const int MelBins = 32;
    public const int MelFramesPerChunk = 8;
    public const int FirstChunkMelFrames = ChunkSamples / MelHop - 3; // 5: what 1280 samples alone yield
    public const int EmbeddingWindowFrames = 76;
    public const int EmbeddingStepFrames = 8;
    public const int EmbeddingSize = 96;
    public const int ScoreWindow = 16;
    public const int WarmupFrames = 5;
    public const int InitNoiseSamples = 4 * SampleRate;
    public const ulong InitNoiseSeed = 0x6F70656E57616B65; // "openWake"

    readonly IWakeWordModels _models;
    readonly SlidingWindow _audio = new(MelInputSamples);
    readonly SlidingWindow _mel = new(EmbeddingWindowFrames * MelBins);
    readonly SlidingWindow _features = new(ScoreWindow * EmbeddingSize);
    readonly float[] _initialFeatures;
    readonly float[] _chunk = new float[ChunkSamples];
    readonly float[] _melOut = new float[MelFramesPerChunk * MelBins];
    readonly float[] _embedding = new float[EmbeddingSize];
    readonly short[] _pending = new short[ChunkSamples];
    int _pendingCount;
    bool _active;

    public WakeWordDetector(IWakeWordModels models, float threshold = 0.5f)
    {
        _models = models ?? throw new ArgumentNullException(nameof(models));
        if (!(threshold > 0f && threshold <= 1f)) throw new ArgumentOutOfRangeException(nameof(threshold));
        Threshold = threshold;
        _initialFeatures = ComputeInitialFeatures(models);
        Reset();
    }

    public float Threshold { get; }

    /// <summary>Chunks processed since construction or <see cref="Reset"/>.</summary>
    public int FramesProcessed { get; private set; }

    /// <summary>True while the score stays at or above the threshold.</summary>
    public bool IsActive => _active;

    /// <summary>Back to the initial state (as a freshly constructed openWakeWord Model).</summary>
    public void Reset()
    {
        _audio.Fill(0f);
        _mel.Fill(1f);
        _features.Fill(0f);
        _features.Push(_initialFeatures);
        _pendingCount = 0;
        FramesProcessed = 0;
        _active = false;
    }

    /// <summary>
    /// Appends 16 kHz mono int16 samples of any length; processes every completed 1280-sample chunk and writes its
    /// result to <paramref name="results"/> (which must hold (pending + samples.Length) / 1280 entries).
    /// Returns the number of results written; a trailing partial chunk waits for the next call.
    /// </summary>
    public int Write(ReadOnlySpan<short> samples, Span<FrameResult> results)
    {
        int needed = (_pendingCount + samples.Length) / ChunkSamples;
        if (results.Length < needed) throw new ArgumentException($"results must hold {needed} entries", nameof(results));
        int written = 0;
        while (samples.Length > 0)
        {
            if (_pendingCount == 0 && samples.Length >= ChunkSamples)
            {
                results[written++] = ProcessChunk(samples.Slice(0, ChunkSamples));
                samples = samples.Slice(ChunkSamples);
                continue;
            }
            int n = Math.Min(ChunkSamples - _pendingCount, samples.Length);
            samples.Slice(0, n).CopyTo(_pending.AsSpan(_pendingCount));
            _pendingCount += n;
            samples = samples.Slice(n);
            if (_pendingCount == ChunkSamples)
            {
                _pendingCount = 0;
                results[written++] = ProcessChunk(_pending);
            }
        }
        return written;
    }

    /// <summary>Runs the pipeline on exactly one 1280-sample (80 ms) chunk.</summary>
    public FrameResult ProcessChunk(ReadOnlySpan<short> chunk)
    {
        if (chunk.Length != ChunkSamples) throw new ArgumentException($"a chunk is {ChunkSamples} samples", nameof(chunk));
        for (int i = 0; i < ChunkSamples; i++) _chunk[i] = chunk[i];
        _audio.Push(_chunk);

        _models.Melspectrogram(_audio.Latest(MelInputSamples), _melOut);
        for (int i = 0; i < _melOut.Length; i++) _melOut[i] = _melOut[i] / 10f + 2f;
        int frames = FramesProcessed == 0 ? FirstChunkMelFrames : MelFramesPerChunk;
        _mel.Push(_melOut.AsSpan((MelFramesPerChunk - frames) * MelBins));

        _models.Embed(_mel.Latest(EmbeddingWindowFrames * MelBins), _embedding);
        _features.Push(_embedding);

        float score = _models.Score(_features.Latest(ScoreWindow * EmbeddingSize));
        if (FramesProcessed < WarmupFrames) score = 0f;
        int frame = FramesProcessed++;

        bool above = score >= Threshold;
        bool detected = above && !_active;
        _active = above;
        return new FrameResult(frame, score, detected);
    }

    /// <summary>The deterministic stand-in for openWakeWord's random start-up audio: uniform integers in [-1000, 1000).</summary>
    public static void FillInitNoise(Span<float> dst)
    {
        ulong s = InitNoiseSeed;
        for (int i = 0; i < dst.Length; i++)
        {
            // SplitMix64
            ulong z = (s += 0x9E3779B97F4A7C15UL);
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            dst[i] = (int)(z % 2000UL) - 1000;
        }
    }

    /// <summary>
    /// The last 16 of openWakeWord's start-up features: embeddings of 4 s of noise taken as a whole clip
    /// (76-frame windows every 8 mel frames over its 397 frames), computed with the fixed 1760-sample mel model
    /// block by block: frames are local to their 512 samples, and the 80 dB floor never engages on uniform noise.
    /// Runs once, in the constructor.
    /// </summary>
    static float[] ComputeInitialFeatures(IWakeWordModels models)
    {
        var noise = new float[InitNoiseSamples];
        FillInitNoise(noise);
        int totalFrames = InitNoiseSamples / MelHop - 3;                                   // 397
        int windows = (totalFrames - EmbeddingWindowFrames) / EmbeddingStepFrames + 1;      // 41
        int first = Math.Max(0, windows - ScoreWindow);
        int fromFrame = first * EmbeddingStepFrames;
        int toFrame = (windows - 1) * EmbeddingStepFrames + EmbeddingWindowFrames;
        var mel = new float[(toFrame - fromFrame) * MelBins];
        var block = new float[MelFramesPerChunk * MelBins];
        for (int f = fromFrame; f < toFrame; f += MelFramesPerChunk)
        {
            int b = Math.Min(f, totalFrames - MelFramesPerChunk);   // block of 8 frames starting at frame b
            models.Melspectrogram(noise.AsSpan(b * MelHop, MelInputSamples), block);
            int n = Math.Min(MelFramesPerChunk - (f - b), toFrame - f);
            block.AsSpan((f - b) * MelBins, n * MelBins).CopyTo(mel.AsSpan((f - fromFrame) * MelBins));
        }
        for (int i = 0; i < mel.Length; i++) mel[i] = mel[i] / 10f + 2f;

        var features = new float[(windows - first) * EmbeddingSize];
        for (int w = first; w < windows; w++)
        {
            int start = w * EmbeddingStepFrames - fromFrame;
            models.Embed(mel.AsSpan(start * MelBins, EmbeddingWindowFrames * MelBins), features.AsSpan((w - first) * EmbeddingSize, EmbeddingSize));
        }
        return features;
    }
}
