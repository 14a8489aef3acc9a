using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Text;

namespace WakeWord;

/// <summary>
/// Streams a 16 kHz WAV (or espeak-ng speech) through openWakeWord's "hey jarvis" pipeline, all in ModelGen-generated
/// C#, 80 ms at a time, and prints every frame's score, the detections and the timing.
/// </summary>
public static class Program
{
    const string DefaultText = "hey jarvis! what's the weather?";

    const string Usage = """
        usage: WakeWord [file.wav] [options]
          file.wav            16 kHz mono 16-bit PCM (other rates, channel counts and sample formats are converted)
          --speak "text"      synthesise the input with espeak-ng (default when no file is given: "hey jarvis! what's the weather?")
          --voice NAME        espeak-ng voice (-v), e.g. en-us
          --wpm N             espeak-ng speed in words per minute (-s)
          --save out.wav      write the 16 kHz input audio (after conversion, before padding) and continue
          --threshold T       detection threshold (default 0.5)
          --pad SECONDS       silence added before and after the clip, like openWakeWord's predict_clip (default 1)
          --quiet             print only detections and the summary, not every frame
        """;

    public static int Main(string[] args)
    {
        try { return Run(args); }
        catch (Exception e) when (e is IOException or InvalidDataException or InvalidOperationException or ArgumentException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine("error: " + e.Message);
            return 1;
        }
    }

    static int Run(string[] args)
    {
        string? wav = null, text = null, voice = null, save = null;
        int wpm = 0;
        float threshold = 0.5f;
        double pad = 1.0;
        bool quiet = false;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{a} needs a value\n{Usage}");
            switch (a)
            {
                case "-h": case "--help": Console.WriteLine(Usage); return 0;
                case "--speak": text = Next(); break;
                case "--voice": voice = Next(); break;
                case "--wpm": wpm = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--save": save = Next(); break;
                case "--threshold": threshold = float.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--pad": pad = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--quiet": quiet = true; break;
                default:
                    if (a.StartsWith('-') || wav != null) throw new ArgumentException($"unexpected argument '{a}'\n{Usage}");
                    wav = a;
                    break;
            }
        }
        if (wav != null && text != null) throw new ArgumentException("give a WAV file or --speak, not both");
        if (pad < 0 || pad > 60) throw new ArgumentException("--pad must be between 0 and 60 seconds");

        // 1. Input audio at 16 kHz.
        Audio source;
        string what;
        if (wav != null)
        {
            source = WavFile.Read(wav);
            what = $"{wav}";
        }
        else
        {
            text ??= DefaultText;
            source = SpeechSynth.Speak(text, WakeWordDetector.SampleRate, voice, wpm);
            what = $"espeak-ng \"{text}\"";
        }
        int originalRate = source.SampleRate;
        var audio16k = Resampler.To(source, WakeWordDetector.SampleRate);
        short[] pcm = audio16k.ToPcm16();
        if (save != null)
        {
            WavFile.Write(save, pcm, WakeWordDetector.SampleRate);
            Console.WriteLine($"saved {save}");
        }
        int padSamples = (int)Math.Round(pad * WakeWordDetector.SampleRate);
        var padded = new short[padSamples + pcm.Length + padSamples];
        pcm.CopyTo(padded, padSamples);

        Console.WriteLine("WakeWord: openWakeWord melspectrogram -> embedding_model -> hey_jarvis_v0.1, ModelGen-generated C#");
        Console.WriteLine($"input: {what}: {pcm.Length / (double)WakeWordDetector.SampleRate:F2} s at 16000 Hz"
            + (originalRate != WakeWordDetector.SampleRate ? $" (resampled from {originalRate} Hz)" : "")
            + (padSamples > 0 ? $", {pad:0.###} s of silence added before and after" : ""));

        // 2. Models and detector (the constructor runs openWakeWord's start-up features once).
        long t0 = Stopwatch.GetTimestamp();
        var models = new TimedModels(new GeneratedModels());
        var detector = new WakeWordDetector(models, threshold);
        double initMs = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        models.ResetTimes();

        // 3. Stream 80 ms chunks, as audio would arrive from a microphone.
        int chunks = padded.Length / WakeWordDetector.ChunkSamples;
        var times = new double[chunks];
        var detections = new List<(FrameResult Start, FrameResult Peak)>();
        var line = new StringBuilder(96);
        if (!quiet) Console.WriteLine("frame  end (s)  score");
        for (int c = 0; c < chunks; c++)
        {
            var chunk = padded.AsSpan(c * WakeWordDetector.ChunkSamples, WakeWordDetector.ChunkSamples);
            long s = Stopwatch.GetTimestamp();
            var r = detector.ProcessChunk(chunk);
            times[c] = Stopwatch.GetElapsedTime(s).TotalMilliseconds;

            if (r.Detected) detections.Add((r, r));
            else if (detector.IsActive && r.Score > detections[^1].Peak.Score) detections[^1] = (detections[^1].Start, r);

            if (!quiet || r.Detected)
            {
                line.Clear();
                line.Append(CultureInfo.InvariantCulture, $"frame {r.Frame,4} {r.EndSeconds,7:F2}  {r.Score:F6} ");
                int bar = (int)MathF.Round(r.Score * 40);
                line.Append('#', bar).Append(' ', 40 - bar);
                if (r.Detected) line.Append(" DETECTED \"hey jarvis\"");
                Console.WriteLine(line.ToString().TrimEnd());
            }
        }

        // 4. Summary.
        double audioSec = chunks * (double)WakeWordDetector.ChunkSamples / WakeWordDetector.SampleRate;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"detections: {detections.Count} in {chunks} frames ({audioSec:F2} s), threshold {threshold:0.###}"));
        foreach (var (start, peak) in detections)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"detection at {start.EndSeconds:F2} s (frame {start.Frame}), peak {peak.Score:F6} at {peak.EndSeconds:F2} s (frame {peak.Frame})"));

        if (chunks > 0)
        {
            double total = 0, max = 0;
            foreach (var t in times) { total += t; max = Math.Max(max, t); }
            var sorted = (double[])times.Clone();
            Array.Sort(sorted);
            double mean = total / chunks, median = sorted[chunks / 2];
            double rtf = total / 1000 / audioSec;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"timing: {mean:F3} ms per 80 ms chunk (mean; median {median:F3}, max {max:F3}), real-time factor {rtf:G3} ({(rtf < 1 ? $"{1 / rtf:F1}x faster than" : $"{rtf:F2}x slower than")} real time); start-up {initMs:F1} ms; {RuntimeInfo()}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"timing per chunk by model: melspectrogram {models.MelMs / chunks:F3} ms, embedding {models.EmbedMs / chunks:F3} ms, hey_jarvis {models.ScoreMs / chunks:F3} ms"));
        }
        return 0;
    }

    static string RuntimeInfo() =>
        (System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported ? "JIT" : "NativeAOT")
        + $", {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}, {System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture}";

    /// <summary>Adds up the time spent in each model (Stopwatch timestamps: no allocation).</summary>
    sealed class TimedModels(IWakeWordModels inner) : IWakeWordModels
    {
        long _mel, _embed, _score;

        public double MelMs => Stopwatch.GetElapsedTime(0, _mel).TotalMilliseconds;
        public double EmbedMs => Stopwatch.GetElapsedTime(0, _embed).TotalMilliseconds;
        public double ScoreMs => Stopwatch.GetElapsedTime(0, _score).TotalMilliseconds;

        public void ResetTimes() => _mel = _embed = _score = 0;

        public void Melspectrogram(ReadOnlySpan<float> audio, Span<float> mel)
        {
            long t = Stopwatch.GetTimestamp();
            inner.Melspectrogram(audio, mel);
            _mel += Stopwatch.GetTimestamp() - t;
        }

        public void Embed(ReadOnlySpan<float> mel, Span<float> embedding)
        {
            long t = Stopwatch.GetTimestamp();
            inner.Embed(mel, embedding);
            _embed += Stopwatch.GetTimestamp() - t;
        }

        public float Score(ReadOnlySpan<float> embeddings)
        {
            long t = Stopwatch.GetTimestamp();
            float s = inner.Score(embeddings);
            _score += Stopwatch.GetTimestamp() - t;
            return s;
        }
    }
}
