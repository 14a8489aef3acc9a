#nullable enable
using System;
using System.Buffers.Binary;
using System.IO;

namespace WakeWord;

/// <summary>Mono audio in int16 scale (floats in [-32768, 32767]) at <see cref="SampleRate"/>.</summary>
public sealed class Audio
{
    public Audio(float[] samples, int sampleRate) { Samples = samples; SampleRate = sampleRate; }
    public float[] Samples { get; }
    public int SampleRate { get; }
    public double Seconds => Samples.Length / (double)SampleRate;

    /// <summary>Rounds to 16-bit PCM with saturation.</summary>
    public short[] ToPcm16()
    {
        var r = new short[Samples.Length];
        for (int i = 0; i < r.Length; i++)
        {
            float v = MathF.Round(Samples[i]);
            r[i] = v >= short.MaxValue ? short.MaxValue : v <= short.MinValue ? short.MinValue : (short)v;
        }
        return r;
    }
}

/// <summary>
/// RIFF/WAVE reading and writing. Reads PCM 8/16/24/32-bit, IEEE float 32/64-bit and WAVE_FORMAT_EXTENSIBLE of those,
/// any channel count (downmixed to mono by averaging); skips unknown chunks; tolerates streaming writers' placeholder
/// sizes (0 or 0xFFFFFFFF) by reading to the end of the file.
/// </summary>
public static class WavFile
{
    const ushort FormatPcm = 1, FormatFloat = 3, FormatExtensible = 0xFFFE;

    public static Audio Read(string path) => Read(File.ReadAllBytes(path), path);

    public static Audio Read(byte[] bytes, string name = "WAV data")
    {
        var d = bytes.AsSpan();
        if (d.Length < 12 || !Tag(d, 0, "RIFF") || !Tag(d, 8, "WAVE")) throw Bad(name, "not a RIFF/WAVE file");
        int pos = 12;
        ushort format = 0, channels = 0, bits = 0, blockAlign = 0;
        int rate = 0;
        bool haveFmt = false;
        while (pos + 8 <= d.Length)
        {
            uint size = BinaryPrimitives.ReadUInt32LittleEndian(d.Slice(pos + 4));
            int body = pos + 8;
            long avail = d.Length - body;
            if (Tag(d, pos, "fmt "))
            {
                if (size < 16 || size > avail) throw Bad(name, "truncated fmt chunk");
                var f = d.Slice(body);
                format = BinaryPrimitives.ReadUInt16LittleEndian(f);
                channels = BinaryPrimitives.ReadUInt16LittleEndian(f.Slice(2));
                rate = BinaryPrimitives.ReadInt32LittleEndian(f.Slice(4));
                blockAlign = BinaryPrimitives.ReadUInt16LittleEndian(f.Slice(12));
                bits = BinaryPrimitives.ReadUInt16LittleEndian(f.Slice(14));
                if (format == FormatExtensible)
                {
                    if (size < 40) throw Bad(name, "truncated WAVE_FORMAT_EXTENSIBLE fmt chunk");
                    format = BinaryPrimitives.ReadUInt16LittleEndian(f.Slice(24)); // first two bytes of the SubFormat GUID
                }
                haveFmt = true;
            }
            else if (Tag(d, pos, "data"))
            {
                if (!haveFmt) throw Bad(name, "data chunk before fmt chunk");
                long n = size == 0 || size == uint.MaxValue || size > avail ? avail : size;
                return Decode(d.Slice(body, (int)n), format, channels, rate, bits, blockAlign, name);
            }
            long next = (long)body + size + (size & 1);
            if (next > d.Length) break;
            pos = (int)next;
        }
        throw Bad(name, haveFmt ? "no data chunk" : "no fmt chunk");
    }

    static Audio Decode(ReadOnlySpan<byte> data, ushort format, int channels, int rate, int bits, int blockAlign, string name)
    {
        if (channels < 1) throw Bad(name, "zero channels");
        if (rate <= 0) throw Bad(name, $"sample rate {rate}");
        int bytesPer = bits / 8;
        bool ok = format == FormatPcm ? bits is 8 or 16 or 24 or 32 : format == FormatFloat && bits is 32 or 64;
        if (!ok) throw Bad(name, $"unsupported sample format {format} with {bits} bits (PCM 8/16/24/32 or float 32/64 are read)");
        if (blockAlign < channels * bytesPer) blockAlign = (ushort)(channels * bytesPer);
        int frames = data.Length / blockAlign;
        var mono = new float[frames];
        for (int i = 0; i < frames; i++)
        {
            var fr = data.Slice(i * blockAlign);
            double sum = 0;
            for (int c = 0; c < channels; c++)
            {
                var s = fr.Slice(c * bytesPer);
                sum += format == FormatFloat
                    ? (bits == 32 ? BinaryPrimitives.ReadSingleLittleEndian(s) : BinaryPrimitives.ReadDoubleLittleEndian(s)) * 32768.0
                    : bits switch
                    {
                        8 => (s[0] - 128) * 256.0,
                        16 => BinaryPrimitives.ReadInt16LittleEndian(s),
                        24 => ((s[0] << 8 | s[1] << 16 | s[2] << 24) >> 8) / 256.0,
                        _ => BinaryPrimitives.ReadInt32LittleEndian(s) / 65536.0,
                    };
            }
            mono[i] = (float)(sum / channels);
        }
        return new Audio(mono, rate);
    }

    /// <summary>Writes 16-bit PCM mono.</summary>
    public static void Write(string path, ReadOnlySpan<short> samples, int sampleRate)
    {
        var b = new byte[44 + samples.Length * 2];
        var s = b.AsSpan();
        Put(s, 0, "RIFF"); BinaryPrimitives.WriteInt32LittleEndian(s.Slice(4), b.Length - 8); Put(s, 8, "WAVE");
        Put(s, 12, "fmt "); BinaryPrimitives.WriteInt32LittleEndian(s.Slice(16), 16);
        BinaryPrimitives.WriteUInt16LittleEndian(s.Slice(20), FormatPcm);
        BinaryPrimitives.WriteUInt16LittleEndian(s.Slice(22), 1);
        BinaryPrimitives.WriteInt32LittleEndian(s.Slice(24), sampleRate);
        BinaryPrimitives.WriteInt32LittleEndian(s.Slice(28), sampleRate * 2);
        BinaryPrimitives.WriteUInt16LittleEndian(s.Slice(32), 2);
        BinaryPrimitives.WriteUInt16LittleEndian(s.Slice(34), 16);
        Put(s, 36, "data"); BinaryPrimitives.WriteInt32LittleEndian(s.Slice(40), samples.Length * 2);
        for (int i = 0; i < samples.Length; i++) BinaryPrimitives.WriteInt16LittleEndian(s.Slice(44 + 2 * i), samples[i]);
        File.WriteAllBytes(path, b);
    }

    static void Put(Span<byte> d, int at, string tag) { for (int i = 0; i < 4; i++) d[at + i] = (byte)tag[i]; }

    static bool Tag(ReadOnlySpan<byte> d, int at, string tag) =>
        d[at] == tag[0] && d[at + 1] == tag[1] && d[at + 2] == tag[2] && d[at + 3] == tag[3];

    static InvalidDataException Bad(string name, string why) => new($"{name}: {why}");
}
