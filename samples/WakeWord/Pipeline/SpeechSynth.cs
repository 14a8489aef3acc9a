#nullable enable
using System;
using System.Diagnostics;
using System.IO;

namespace WakeWord;

/// <summary>Test speech from espeak-ng (installed by scripts/setup.sh), resampled to 16 kHz mono in C#.</summary>
public static class SpeechSynth
{
    /// <summary>
    /// Speaks <paramref name="text"/> with <c>espeak-ng -w</c> (22050 Hz) and returns it at <paramref name="sampleRate"/>.
    /// <paramref name="voice"/> and <paramref name="wordsPerMinute"/> are passed as -v and -s when given.
    /// </summary>
    public static Audio Speak(string text, int sampleRate = WakeWordDetector.SampleRate, string? voice = null, int wordsPerMinute = 0)
    {
        if (string.IsNullOrWhiteSpace(text)) throw new ArgumentException("nothing to say", nameof(text));
        var tmp = Path.Combine(Path.GetTempPath(), $"wakeword-espeak-{Environment.ProcessId}-{Guid.NewGuid():N}.wav");
        try
        {
            var psi = new ProcessStartInfo("espeak-ng") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            psi.ArgumentList.Add("-w"); psi.ArgumentList.Add(tmp);
            if (!string.IsNullOrEmpty(voice)) { psi.ArgumentList.Add("-v"); psi.ArgumentList.Add(voice); }
            if (wordsPerMinute > 0) { psi.ArgumentList.Add("-s"); psi.ArgumentList.Add(wordsPerMinute.ToString(System.Globalization.CultureInfo.InvariantCulture)); }
            psi.ArgumentList.Add("--"); psi.ArgumentList.Add(text);
            Process? p;
            try { p = Process.Start(psi); }
            catch (System.ComponentModel.Win32Exception e)
            {
                throw new InvalidOperationException("espeak-ng is not installed (run scripts/setup.sh, or apt-get install espeak-ng): " + e.Message, e);
            }
            using (p)
            {
                if (p == null) throw new InvalidOperationException("could not start espeak-ng");
                var err = p.StandardError.ReadToEndAsync();
                p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                if (p.ExitCode != 0 || !File.Exists(tmp))
                    throw new InvalidOperationException($"espeak-ng failed (exit {p.ExitCode}): {err.Result.Trim()}");
            }
            return Resampler.To(WavFile.Read(tmp), sampleRate);
        }
        finally
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
