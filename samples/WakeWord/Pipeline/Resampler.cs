#nullable enable
using System;

namespace WakeWord;

/// <summary>
/// Band-limited rational resampler (polyphase Kaiser-windowed sinc). For in -> out = M -> L (reduced), output sample n
/// sits at input time t = n*M/L; it is the sum of input samples weighted by a low-pass sinc centred at t, cut off at
/// <c>rolloff</c> times the lower of the two Nyquist frequencies, windowed to <c>zeroCrossings</c> lobes per side by a
/// Kaiser window (beta 9.0: about 90 dB stop-band). Each phase's taps are normalised to unit DC gain. Samples beyond
/// the ends count as zero.
/// </summary>
public sealed class Resampler
{
    readonly int _l, _m, _half;
    readonly double _fc, _hw, _beta, _i0Beta;
    readonly float[]? _table; // [phase][tap], 2*_half taps per phase

    public Resampler(int inRate, int outRate, int zeroCrossings = 64, double rolloff = 0.94, double beta = 9.0)
    {
        if (inRate <= 0 || outRate <= 0) throw new ArgumentOutOfRangeException(nameof(inRate), "sample rates must be positive");
        if (zeroCrossings < 2 || !(rolloff > 0 && rolloff <= 1)) throw new ArgumentOutOfRangeException(nameof(rolloff));
        int g = Gcd(inRate, outRate);
        _l = outRate / g;
        _m = inRate / g;
        InRate = inRate; OutRate = outRate;
        _fc = rolloff * Math.Min(1.0, (double)_l / _m);  // cut-off as a fraction of the input Nyquist
        _hw = zeroCrossings / _fc;                       // half-width of the kernel, in input samples
        _half = (int)Math.Ceiling(_hw);
        _beta = beta;
        _i0Beta = BesselI0(beta);
        if ((long)_l * 2 * _half <= 1 << 22)
        {
            _table = new float[_l * 2 * _half];
            for (int p = 0; p < _l; p++) Taps(p, _table.AsSpan(p * 2 * _half, 2 * _half));
        }
    }

    public int InRate { get; }
    public int OutRate { get; }

    /// <summary>Output length for <paramref name="inputLength"/> input samples: ceil(n * out / in).</summary>
    public long OutputLength(long inputLength) => (inputLength * _l + _m - 1) / _m;

    public float[] Process(ReadOnlySpan<float> input)
    {
        var output = new float[OutputLength(input.Length)];
        Span<float> scratch = _table == null ? new float[2 * _half] : Span<float>.Empty;
        for (long n = 0; n < output.Length; n++)
        {
            long pos = n * _m;
            long baseIdx = pos / _l;
            int phase = (int)(pos % _l);
            ReadOnlySpan<float> taps;
            if (_table != null) taps = new ReadOnlySpan<float>(_table, phase * 2 * _half, 2 * _half);
            else { Taps(phase, scratch); taps = scratch; }
            long k0 = baseIdx - _half + 1;   // taps[j] weighs input[k0 + j]
            int j0 = (int)Math.Max(0, -k0), j1 = (int)Math.Min(2 * _half, input.Length - k0);
            double acc = 0;
            for (int j = j0; j < j1; j++) acc += taps[j] * input[(int)(k0 + j)];
            output[n] = (float)acc;
        }
        return output;
    }

    /// <summary>Resamples <paramref name="audio"/> to <paramref name="outRate"/> (returns it unchanged when equal).</summary>
    public static Audio To(Audio audio, int outRate) =>
        audio.SampleRate == outRate ? audio : new Audio(new Resampler(audio.SampleRate, outRate).Process(audio.Samples), outRate);

    void Taps(int phase, Span<float> taps)
    {
        double frac = (double)phase / _l;
        double sum = 0;
        for (int j = 0; j < taps.Length; j++)
        {
            double u = frac + _half - 1 - j;  // distance from the output instant to input sample k0 + j
            double h = 0;
            if (Math.Abs(u) < _hw)
            {
                double x = _fc * u;
                double sinc = x == 0 ? 1 : Math.Sin(Math.PI * x) / (Math.PI * x);
                double r = u / _hw;
                h = _fc * sinc * BesselI0(_beta * Math.Sqrt(1 - r * r)) / _i0Beta;
            }
            taps[j] = (float)h;
            sum += h;
        }
        for (int j = 0; j < taps.Length; j++) taps[j] = (float)(taps[j] / sum);
    }

    static double BesselI0(double x)
    {
        double sum = 1, term = 1, q = x * x / 4;
        for (int k = 1; k < 64; k++)
        {
            term *= q / ((double)k * k);
            sum += term;
            if (term < sum * 1e-17) break;
        }
        return sum;
    }

    static int Gcd(int a, int b) { while (b != 0) (a, b) = (b, a % b); return a; }
}
