using ModelGen.Runtime;
using Xunit;
using Xunit.Abstractions;

namespace ModelGen.Tests;

/// <summary>
/// The runtime kernels (Gemm, MatMul, Conv2D, pools, activations) against naive double-precision references on many
/// random shapes, at every SIMD width this machine has (the widest, 256, 128 and scalar; im2col packing masked and
/// run-based), with a guard region after
/// each output to catch out-of-range writes, and a check that the kernels allocate nothing.
/// </summary>
[Collection("RuntimeKernels")] // SimdLevel.ForceBits is per thread; the collection keeps these heavy tests sequential
public class RuntimeKernelTests(ITestOutputHelper log)
{
    const float Guard = 12345.678f;
    // -1 = the widest this machine has; -2 = the widest with the dense direct path and the masked im2col packing
    // switched off (run-based im2col GEMM); -3 = the widest with only the dense direct path off (masked im2col GEMM)
    static readonly int[] Widths = { -1, -2, -3, 256, 128, 0 };

    static float[] Rand(Random r, int n, float scale = 1f)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(r.NextDouble() * 2 - 1) * scale;
        return a;
    }

    static float[] WithGuard(int n, int guard = 67)
    {
        var y = new float[n + guard];
        Array.Fill(y, float.NaN, 0, n); // every output must be written
        Array.Fill(y, Guard, n, guard);
        return y;
    }

    static void ForEachWidth(Action<int> body)
    {
        try
        {
            foreach (var w in Widths)
            {
                SimdLevel.ForceBits = w < -1 ? -1 : w;
                GemmCore.MaskedIm2Col = w != -2;
                ConvPlanes.Enabled = w > -2;
                body(w);
            }
        }
        finally { SimdLevel.ForceBits = -1; GemmCore.MaskedIm2Col = true; ConvPlanes.Enabled = true; }
    }

    /// <summary>|actual - expected| &lt;= tol * magnitude (the sum of |terms| that made the value) + 1e-6, and the guard intact.</summary>
    static void Compare(string what, float[] y, int n, double[] expected, double[] magnitude, double tol = 2e-6)
    {
        for (int i = 0; i < n; i++)
        {
            double err = Math.Abs(y[i] - expected[i]);
            if (!(err <= tol * magnitude[i] + 1e-6))
                Assert.Fail($"{what}: element {i}: got {y[i]}, expected {expected[i]} (magnitude {magnitude[i]})");
        }
        for (int i = n; i < y.Length; i++)
            if (y[i] != Guard) Assert.Fail($"{what}: wrote past the output at {i}");
    }

    // ---------------- Gemm / MatMul ----------------

    static (double[] Ref, double[] Mag) GemmRef(float[] a, float[] b, float[] c, int m, int n, int k, bool ta, bool tb, float alpha, float beta, BiasKind kind)
    {
        var r = new double[m * n]; var g = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0, mag = 0;
                for (int p = 0; p < k; p++)
                {
                    double t = (double)(ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
                    s += t; mag += Math.Abs(t);
                }
                double bias = kind switch
                {
                    BiasKind.None => 0, BiasKind.Scalar => c[0], BiasKind.Row => c[j], BiasKind.Column => c[i], _ => c[i * n + j],
                };
                r[i * n + j] = alpha * s + beta * bias;
                g[i * n + j] = Math.Abs(alpha) * mag + Math.Abs(beta * bias);
            }
        return (r, g);
    }

    public static IEnumerable<object[]> GemmShapes()
    {
        // (m, n, k): tails in every dimension, the dot path (transB, m < 16, k >= 32), panels wider than one KC block,
        // openWakeWord's classifier heads, and degenerate sizes
        int[][] shapes =
        {
            new[] { 1, 1, 1 }, new[] { 1, 7, 3 }, new[] { 2, 33, 5 }, new[] { 5, 17, 31 }, new[] { 6, 32, 16 }, new[] { 7, 31, 33 },
            new[] { 13, 47, 129 }, new[] { 12, 64, 300 }, new[] { 1, 128, 1536 }, new[] { 1, 128, 128 }, new[] { 1, 1, 128 },
            new[] { 3, 5, 40 }, new[] { 17, 100, 65 }, new[] { 64, 96, 257 }, new[] { 37, 129, 530 }, new[] { 4, 8, 0 }, new[] { 96, 40, 288 },
            // one row: whole vectors of columns swept down B (8, then 4 at a time), the last columns in panels
            new[] { 1, 200, 70 }, new[] { 1, 640, 33 },
        };
        foreach (var s in shapes) yield return new object[] { s[0], s[1], s[2] };
    }

    [Theory]
    [MemberData(nameof(GemmShapes))]
    public void GemmMatchesReference(int m, int n, int k)
    {
        var rng = new Random(m * 1000003 + n * 1009 + k);
        var a = Rand(rng, m * k); var b = Rand(rng, k * n);
        int cases = 0;
        ForEachWidth(width =>
        {
            foreach (var kind in Enum.GetValues<BiasKind>())
                foreach (var ta in new[] { false, true })
                    foreach (var tb in new[] { false, true })
                    {
                        int cl = kind switch { BiasKind.None => 0, BiasKind.Scalar => 1, BiasKind.Row => n, BiasKind.Column => m, _ => m * n };
                        var c = Rand(rng, cl);
                        // alpha/beta: the ONNX defaults, and others (zero alpha, negative, fractional)
                        float alpha = (cases % 4) switch { 0 => 1f, 1 => 0.5f, 2 => -1.25f, _ => 0f };
                        float beta = (cases % 3) switch { 0 => 1f, 1 => 2f, _ => -0.5f };
                        cases++;
                        var y = WithGuard(m * n);
                        Gemm.Run(a, b, c, y, m, n, k, ta, tb, alpha, beta, kind);
                        var (r, g) = GemmRef(a, b, c, m, n, k, ta, tb, alpha, beta, kind);
                        Compare($"Gemm m={m} n={n} k={k} tA={ta} tB={tb} {kind} alpha={alpha} beta={beta} width={width}", y, m * n, r, g);
                    }
            var ym = WithGuard(m * n);
            MatMul.Run(a, b, ym, m, n, k);
            var (rm, gm) = GemmRef(a, b, Array.Empty<float>(), m, n, k, false, false, 1f, 0f, BiasKind.None);
            Compare($"MatMul m={m} n={n} k={k} width={width}", ym, m * n, rm, gm);
        });
        log.WriteLine($"{cases} Gemm variants checked");
    }

    /// <summary>Recurrent.MatVec and MatVecTransposed (the recurrence product h R^T + Rb): row counts around the 4-row blocks and the vector widths, k around every vector width, with and without bias, and y as its own bias.</summary>
    [Fact]
    public void RecurrentMatVecMatchesReference()
    {
        var rng = new Random(11);
        ForEachWidth(width =>
        {
            foreach (int rows in new[] { 1, 3, 4, 7, 20, 71, 96, 192 })
                foreach (int k in new[] { 1, 3, 4, 7, 8, 15, 16, 24, 33, 64 })
                {
                    var x = Rand(rng, k); var w = Rand(rng, rows * k); var bias = Rand(rng, rows);
                    var r = new double[rows]; var g = new double[rows];
                    for (int i = 0; i < rows; i++)
                        for (int p = 0; p < k; p++) { r[i] += (double)x[p] * w[i * k + p]; g[i] += Math.Abs((double)x[p] * w[i * k + p]); }
                    var y = WithGuard(rows);
                    Recurrent.MatVec(x, w, default, y, rows, k);
                    Compare($"MatVec rows={rows} k={k} width={width}", y, rows, r, g);
                    var rb = r.Select((v, i) => v + bias[i]).ToArray(); var gb = g.Select((v, i) => v + Math.Abs(bias[i])).ToArray();
                    y = WithGuard(rows);
                    Recurrent.MatVec(x, w, bias, y, rows, k);
                    Compare($"MatVec+bias rows={rows} k={k} width={width}", y, rows, rb, gb);
                    Array.Copy(bias, y, rows);
                    Recurrent.MatVec(x, w, y.AsSpan(0, rows), y, rows, k);
                    Compare($"MatVec accumulate rows={rows} k={k} width={width}", y, rows, rb, gb);
                    // the same products on the weights transposed ([k, rows]): rows around 4 vectors, 1 vector and scalar
                    var wt = new float[rows * k];
                    for (int i = 0; i < rows; i++) for (int p = 0; p < k; p++) wt[p * rows + i] = w[i * k + p];
                    y = WithGuard(rows);
                    Recurrent.MatVecTransposed(x, wt, default, y, rows, k);
                    Compare($"MatVecTransposed rows={rows} k={k} width={width}", y, rows, r, g);
                    y = WithGuard(rows);
                    Recurrent.MatVecTransposed(x, wt, bias, y, rows, k);
                    Compare($"MatVecTransposed+bias rows={rows} k={k} width={width}", y, rows, rb, gb);
                    Array.Copy(bias, y, rows);
                    Recurrent.MatVecTransposed(x, wt, y.AsSpan(0, rows), y, rows, k);
                    Compare($"MatVecTransposed accumulate rows={rows} k={k} width={width}", y, rows, rb, gb);
                }
        });
    }

    /// <summary>Recurrent.GruStep and LstmStep against the formulas in double, every width, hidden sizes around the vector widths, with and without clip; saturated inputs included.</summary>
    [Fact]
    public void RecurrentStepsMatchReference()
    {
        static double S(double x) => 1 / (1 + Math.Exp(-x));
        var rng = new Random(5);
        ForEachWidth(width =>
        {
            foreach (int n in new[] { 1, 3, 4, 5, 8, 13, 16, 24, 31, 64 })
                foreach (float clip in new[] { float.PositiveInfinity, 0.8f })
                {
                    double Cl(double x) => Math.Max(-clip, Math.Min(clip, x));
                    var xw = Rand(rng, 4 * n, 3f); var hr = Rand(rng, 4 * n, 3f);
                    if (n > 4) { xw[0] = 120f; xw[1] = -120f; hr[2] = 40f; hr[n + 3] = -95f; }
                    var h0 = Rand(rng, n); var c0 = Rand(rng, n, 2f);
                    var want = new double[n]; var ones = Enumerable.Repeat(1.0, n).ToArray();
                    for (int j = 0; j < n; j++)
                    {
                        double z = S(Cl(xw[j] + hr[j])), r = S(Cl(xw[n + j] + hr[n + j]));
                        double c = Math.Tanh(Cl(xw[2 * n + j] + r * hr[2 * n + j]));
                        want[j] = (1 - z) * c + z * h0[j];
                    }
                    var h = WithGuard(n); Array.Copy(h0, h, n);
                    Recurrent.GruStep(xw.AsSpan(0, 3 * n), hr.AsSpan(0, 3 * n), h.AsSpan(0, n), clip);
                    Compare($"GruStep n={n} clip={clip} width={width}", h, n, want, ones, 4e-7);
                    var wantC = new double[n];
                    for (int j = 0; j < n; j++)
                    {
                        double i = S(Cl(xw[j] + hr[j])), o = S(Cl(xw[n + j] + hr[n + j])), f = S(Cl(xw[2 * n + j] + hr[2 * n + j]));
                        double g = Math.Tanh(Cl(xw[3 * n + j] + hr[3 * n + j]));
                        wantC[j] = f * c0[j] + i * g;
                        want[j] = o * Math.Tanh(wantC[j]);
                    }
                    h = WithGuard(n); Array.Copy(h0, h, n);
                    var cs = WithGuard(n); Array.Copy(c0, cs, n);
                    Recurrent.LstmStep(xw, hr, cs.AsSpan(0, n), h.AsSpan(0, n), clip);
                    Compare($"LstmStep c n={n} clip={clip} width={width}", cs, n, wantC, ones, 4e-7);
                    Compare($"LstmStep h n={n} clip={clip} width={width}", h, n, want, ones, 4e-7);
                }
        });
    }

    /// <summary>Transcendental.Softmax against double at every width: row lengths around the vector widths, large and -inf inputs, in place.</summary>
    [Fact]
    public void SoftmaxMatchesReference()
    {
        var rng = new Random(3);
        ForEachWidth(width =>
        {
            foreach (int d in new[] { 1, 3, 4, 7, 8, 16, 17, 33 })
            {
                int rows = d is 8 or 16 ? 9 : 3; // rows of one vector go four at a time: 4 + 4 + 1
                var x = Rand(rng, rows * d, 8f);
                if (d > 2) { x[1] = float.NegativeInfinity; x[d + 2] = 80f; }
                var want = new double[rows * d]; var ones = Enumerable.Repeat(1.0, rows * d).ToArray();
                for (int r = 0; r < rows; r++)
                {
                    double mx = x.Skip(r * d).Take(d).Max(), sum = 0;
                    for (int k = 0; k < d; k++) sum += Math.Exp(x[r * d + k] - mx);
                    for (int k = 0; k < d; k++) want[r * d + k] = Math.Exp(x[r * d + k] - mx) / sum;
                }
                var y = WithGuard(rows * d);
                Transcendental.Softmax(x, y, rows, d);
                Compare($"Softmax d={d} width={width}", y, rows * d, want, ones, 2e-7);
                var inPlace = WithGuard(rows * d); Array.Copy(x, inPlace, rows * d);
                Transcendental.Softmax(inPlace.AsSpan(0, rows * d), inPlace, rows, d);
                Compare($"Softmax in place d={d} width={width}", inPlace, rows * d, want, ones, 2e-7);
                // every row exactly what it is alone
                for (int r = 0; r < rows; r++)
                {
                    var one = new float[d];
                    Transcendental.Softmax(x.AsSpan(r * d, d), one, 1, d);
                    Assert.Equal(one, y.AsSpan(r * d, d).ToArray());
                }
                x[0] = float.NaN;
                if (rows == 9) x[5 * d + 2] = float.NaN;
                Transcendental.Softmax(x, y, rows, d);
                for (int k = 0; k < d; k++) Assert.True(float.IsNaN(y[k]), $"Softmax d={d} width={width}: NaN in the row, element {k} is {y[k]}");
                if (rows == 9) for (int k = 0; k < d; k++) Assert.True(float.IsNaN(y[5 * d + k]), $"Softmax d={d} width={width}: NaN in row 5, element {k} is {y[5 * d + k]}");
            }
        });
    }

    /// <summary>
    /// The logistic in registers (Sigmoid and SiLU epilogues, the recurrent cells' sigmoid and tanh) against double at
    /// every width, over [-100, 100] and the special values: within 3 ulp of the double result (or 1e-37 absolutely,
    /// where the clamped exp makes the far tail about 1e-38), NaN kept; every vector width the same bits.
    /// </summary>
    [Fact]
    public unsafe void LogisticMatchesReference()
    {
        var xs = new List<float> { 0f, -0f, 1e-30f, -1e-30f, 87f, -87f, 88.5f, -88.5f, 1000f, -1000f, float.MaxValue, -float.MaxValue };
        for (int i = -200000; i <= 200000; i++) xs.Add(i * 0.0005f);
        var x = xs.ToArray();
        static double Sig(double v) => 1 / (1 + Math.Exp(-v));
        static void Close(string what, float x, double want, float got, double scale = 1)
        {
            double tol = 3 * Math.Max(Math.Abs(want), 1.17549435e-38) * 1.1920929e-7 + 1e-37 * scale;
            Assert.True(Math.Abs(got - want) <= tol, $"{what}({x:R}) = {got:R}, expected {want:R}");
        }
        float[]? first = null, firstSilu = null;
        ForEachWidth(width =>
        {
            var sig = (float[])x.Clone(); var silu = (float[])x.Clone();
            fixed (float* ps = sig, pu = silu)
            {
                new Activation(ActivationKind.Sigmoid).Apply(ps, sig.Length);
                new Activation(ActivationKind.Silu).Apply(pu, silu.Length);
            }
            for (int i = 0; i < x.Length; i++)
            {
                Close($"Sigmoid width {width}", x[i], Sig(x[i]), sig[i]);
                if (Math.Abs(x[i]) < 1e30) Close($"SiLU width {width}", x[i], x[i] * Sig(x[i]), silu[i], Math.Max(1, Math.Abs(x[i])));
            }
            if (width == 0) return; // one float at a time: MathF.Exp's own rounding
            if (first == null) { first = sig; firstSilu = silu; }
            else { Assert.Equal(first, sig); Assert.Equal(firstSilu, silu); }
        });
        foreach (float v in x) Close("Sigmoid scalar", v, Sig(v), Transcendental.Sigmoid<V0, E0, float>(v));
        // tanh is 1 - 2 / (1 + e^2x): near 0 its error is absolute (about 1e-7), the cancellation of the subtraction
        for (int i = 0; i < x.Length; i++)
        {
            float t = Transcendental.Tanh<V0, E0, float>(x[i]);
            Assert.True(Math.Abs(t - Math.Tanh(x[i])) <= 2.4e-7, $"Tanh({x[i]:R}) = {t:R}, expected {Math.Tanh(x[i]):R}");
        }
        Assert.True(float.IsNaN(Transcendental.Sigmoid<V0, E0, float>(float.NaN)));
        var nan = new[] { float.NaN, 1f, float.NaN, 2f, 3f, 4f, 5f, 6f, 7f, 8f, 9f, 10f, 11f, 12f, 13f, float.NaN, 17f };
        fixed (float* p = nan) new Activation(ActivationKind.Sigmoid).Apply(p, nan.Length);
        Assert.True(float.IsNaN(nan[0]) && float.IsNaN(nan[2]) && float.IsNaN(nan[15]) && !float.IsNaN(nan[1]));
    }

    /// <summary>Transcendental.Erf against a double reference (series to 3, continued fraction beyond) within float rounding.</summary>
    [Fact]
    public void ErfMatchesReference()
    {
        static double Ref(double x)
        {
            double a = Math.Abs(x), r;
            if (a < 3)
            {
                double term = a, sum = a;
                for (int n = 1; n < 200; n++) { term *= -a * a / n; sum += term / (2 * n + 1); }
                r = sum * 2 / Math.Sqrt(Math.PI);
            }
            else
            {
                double f = 0;
                for (int n = 400; n >= 1; n--) f = n * 0.5 / (a + f);
                r = 1 - Math.Exp(-a * a) / (a + f) / Math.Sqrt(Math.PI);
            }
            return x < 0 ? -r : r;
        }
        for (int i = -8000; i <= 8000; i++)
        {
            float x = i * 0.001f;
            double want = Ref(x), got = Transcendental.Erf(x);
            Assert.True(Math.Abs(got - want) <= 6e-8 * Math.Abs(want) + 1e-30, $"Erf({x}) = {got}, expected {want}");
        }
        Assert.True(float.IsNaN(Transcendental.Erf(float.NaN)));
        Assert.Equal(1f, Transcendental.Erf(float.PositiveInfinity));
        Assert.Equal(-1f, Transcendental.Erf(float.NegativeInfinity));
    }

    [Fact]
    public void GemmRandomShapes()
    {
        var rng = new Random(7);
        for (int t = 0; t < 60; t++)
        {
            int m = rng.Next(1, 40), n = rng.Next(1, 80), k = rng.Next(1, 700);
            bool ta = rng.Next(2) == 1, tb = rng.Next(2) == 1;
            var kind = (BiasKind)rng.Next(5);
            var a = Rand(rng, m * k, 4f); var b = Rand(rng, k * n, 0.25f);
            int cl = kind switch { BiasKind.None => 0, BiasKind.Scalar => 1, BiasKind.Row => n, BiasKind.Column => m, _ => m * n };
            var c = Rand(rng, cl, 3f);
            float alpha = (float)rng.NextDouble() * 2 - 0.5f, beta = (float)rng.NextDouble() * 2 - 1;
            var y = WithGuard(m * n);
            Gemm.Run(a, b, c, y, m, n, k, ta, tb, alpha, beta, kind);
            var (r, g) = GemmRef(a, b, c, m, n, k, ta, tb, alpha, beta, kind);
            Compare($"Gemm m={m} n={n} k={k} tA={ta} tB={tb} {kind}", y, m * n, r, g);
        }
    }

    [Fact]
    public void GemmRejectsShortOperands()
    {
        var a = new float[6]; var b = new float[6]; var y = new float[4];
        Assert.Throws<ArgumentException>(() => Gemm.Run(a, b, default, y, 2, 2, 4, false, false, 1, 1, BiasKind.None));
        Assert.Throws<ArgumentException>(() => Gemm.Run(a, b, default, y, 2, 2, 3, false, false, 1, 1, BiasKind.Row));
        Assert.Throws<ArgumentException>(() => MatMul.Run(a, b, y, 3, 2, 2));
    }

    // ---------------- Conv2D ----------------

    sealed record ConvShape(int Batch, int InC, int InH, int InW, int OutC, int KH, int KW, int SH, int SW,
        int PT, int PL, int PB, int PR, int DH, int DW, int Groups, bool Bias)
    {
        public int OutH => (InH + PT + PB - DH * (KH - 1) - 1) / SH + 1;
        public int OutW => (InW + PL + PR - DW * (KW - 1) - 1) / SW + 1;
        public override string ToString() =>
            $"N{Batch} C{InC} {InH}x{InW} -> {OutC} k{KH}x{KW} s{SH},{SW} p{PT},{PL},{PB},{PR} d{DH},{DW} g{Groups}{(Bias ? " bias" : "")}";
    }

    static (double[] Ref, double[] Mag) ConvRef(ConvShape s, float[] x, float[] w, float[] bias)
    {
        int oh = s.OutH, ow = s.OutW, icg = s.InC / s.Groups, ocg = s.OutC / s.Groups;
        var r = new double[s.Batch * s.OutC * oh * ow]; var g = new double[r.Length];
        for (int nb = 0; nb < s.Batch; nb++)
            for (int oc = 0; oc < s.OutC; oc++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                    {
                        double acc = s.Bias ? bias[oc] : 0, mag = Math.Abs(acc);
                        int grp = oc / ocg;
                        for (int c = 0; c < icg; c++)
                            for (int ky = 0; ky < s.KH; ky++)
                                for (int kx = 0; kx < s.KW; kx++)
                                {
                                    int iy = oy * s.SH - s.PT + ky * s.DH, ix = ox * s.SW - s.PL + kx * s.DW;
                                    if (iy < 0 || iy >= s.InH || ix < 0 || ix >= s.InW) continue;
                                    double t = (double)x[((nb * s.InC + grp * icg + c) * s.InH + iy) * s.InW + ix] * w[((oc * icg + c) * s.KH + ky) * s.KW + kx];
                                    acc += t; mag += Math.Abs(t);
                                }
                        int o = ((nb * s.OutC + oc) * oh + oy) * ow + ox;
                        r[o] = acc; g[o] = mag;
                    }
        return (r, g);
    }

    void CheckConv(ConvShape s, int seed, bool allWidths = true)
    {
        var rng = new Random(seed);
        var x = Rand(rng, s.Batch * s.InC * s.InH * s.InW);
        var w = Rand(rng, s.OutC * (s.InC / s.Groups) * s.KH * s.KW, 0.5f);
        var bias = s.Bias ? Rand(rng, s.OutC) : Array.Empty<float>();
        var (r, g) = ConvRef(s, x, w, bias);
        void One(int width)
        {
            var y = WithGuard(r.Length);
            Conv.Conv2D(x, w, bias, y, s.Batch, s.InC, s.InH, s.InW, s.OutC, s.KH, s.KW, s.OutH, s.OutW,
                s.SH, s.SW, s.PT, s.PL, s.DH, s.DW, s.Groups);
            Compare($"Conv2D {s} width={width}", y, r.Length, r, g);
        }
        if (allWidths) ForEachWidth(One); else One(-1);
    }

    public static IEnumerable<object[]> ConvShapes()
    {
        ConvShape S(int b, int ic, int h, int w, int oc, int kh, int kw, int sh = 1, int sw = 1, int pt = 0, int pl = 0, int pb = 0, int pr = 0,
            int dh = 1, int dw = 1, int g = 1, bool bias = true) => new(b, ic, h, w, oc, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, g, bias);
        var list = new List<ConvShape>
        {
            // pointwise (GEMM over the planes as they lie), incl. tails and a batch
            S(1, 8, 5, 7, 13, 1, 1), S(2, 17, 9, 11, 6, 1, 1, bias: false), S(1, 64, 12, 12, 40, 1, 1),
            // 1x1 that is not pointwise-as-GEMM: stride and padding
            S(1, 5, 9, 9, 7, 1, 1, 2, 2), S(1, 5, 6, 6, 3, 1, 1, pt: 1, pl: 1, pb: 1, pr: 1),
            // general 3x3: pads, strides, dilations, asymmetric pads, batches
            S(1, 3, 16, 16, 8, 3, 3, pt: 1, pl: 1, pb: 1, pr: 1), S(2, 4, 13, 17, 5, 3, 3, 2, 2, 1, 1, 1, 1),
            S(1, 6, 15, 19, 9, 3, 3, dh: 2, dw: 3, pt: 2, pl: 3, pb: 2, pr: 3), S(1, 2, 10, 10, 3, 5, 5, 3, 2, 2, 0, 1, 2, bias: false),
            S(1, 7, 20, 9, 11, 2, 4, 1, 3, 0, 2, 1, 0, 2, 1),
            // grouped, channel-multiplier depthwise, true depthwise (strided, dilated, padded, wide rows)
            S(1, 8, 9, 10, 12, 3, 3, pt: 1, pl: 1, pb: 1, pr: 1, g: 4), S(1, 6, 11, 11, 6, 3, 3, g: 2, bias: false),
            S(1, 4, 9, 9, 8, 3, 3, pt: 1, pl: 1, pb: 1, pr: 1, g: 4), S(2, 5, 70, 83, 5, 3, 3, pt: 1, pl: 1, pb: 1, pr: 1, g: 5),
            S(1, 3, 33, 37, 3, 5, 5, 2, 2, 2, 2, 2, 2, g: 3), S(1, 4, 17, 40, 4, 3, 3, dh: 2, dw: 2, pt: 2, pl: 2, pb: 2, pr: 2, g: 4, bias: false),
            S(1, 3, 8, 8, 3, 1, 1, g: 3),
            // depthwise staged in several row bands (tall input, dilated rows), and rows too wide to stage (general path)
            S(1, 2, 300, 100, 2, 3, 3, pt: 1, pl: 1, pb: 1, pr: 1, g: 2), S(1, 2, 200, 61, 4, 3, 3, dh: 3, dw: 2, pt: 3, pl: 2, pb: 1, pr: 0, g: 2),
            S(1, 2, 5, 3000, 2, 3, 3, pt: 1, pl: 1, pb: 1, pr: 1, g: 2), S(1, 3, 40, 50, 3, 3, 3, sh: 2, pt: 1, pl: 1, pb: 1, pr: 1, g: 3),
            // kernels larger than the input (windows all padding at the edges), single row/column outputs
            S(1, 2, 3, 3, 4, 5, 5, pt: 2, pl: 2, pb: 2, pr: 2), S(1, 3, 1, 1, 2, 3, 3, pt: 1, pl: 1, pb: 1, pr: 1),
            S(1, 2, 3, 3, 2, 5, 5, pt: 2, pl: 2, pb: 2, pr: 2, g: 2),
            // openWakeWord embedding model (NCHW after its transpose): 3x3 stem, then 1x3 / 3x1 separable pairs
            S(1, 1, 76, 32, 24, 3, 3, pl: 1, pr: 1), S(1, 24, 74, 32, 24, 1, 3, pl: 1, pr: 1), S(1, 24, 74, 32, 24, 3, 1),
            S(1, 24, 36, 16, 48, 1, 3, pl: 1, pr: 1), S(1, 48, 34, 16, 48, 3, 1), S(1, 72, 30, 8, 72, 1, 3, pl: 1, pr: 1),
            S(1, 96, 12, 4, 96, 3, 1), S(1, 96, 3, 1, 96, 3, 1),
            // melspectrogram's 1-D STFT convolution (as 2-D with height 1): 257 filters of 512 taps, stride 160
            S(1, 1, 1, 1760, 257, 1, 512, 1, 160, bias: false),
            // direct kernels: MLPerf Tiny's short-row depthwise (channel-blocked, DepthwiseBlocked), stride-2 depthwise (de-interleaved
            // phases), stems with few input channels (four output channels per pass), grouped with 3 outputs per group,
            // stride 3 x 2 with dilations, a band split over many rows
            S(1, 64, 25, 5, 64, 3, 3, pt: 1, pl: 1, pb: 1, pr: 1, g: 64), S(1, 16, 48, 48, 16, 3, 3, 2, 2, 1, 1, 1, 1, g: 16),
            S(1, 128, 6, 6, 128, 3, 3, 2, 2, 1, 1, 1, 1, g: 128), S(1, 8, 12, 12, 8, 3, 3, pt: 1, pl: 1, pb: 1, pr: 1, g: 8, bias: false),
            S(1, 1, 49, 10, 64, 10, 4, 2, 2, 5, 1, 5, 1), S(1, 3, 96, 96, 8, 3, 3, 2, 2, 1, 1, 1, 1),
            S(1, 4, 9, 7, 6, 3, 3, 2, 2, 1, 1, 1, 1, g: 2), S(2, 2, 20, 17, 9, 3, 2, 3, 2, 1, 1, 0, 1, dh: 2, dw: 3, bias: false),
            S(1, 2, 400, 6, 2, 3, 3, pt: 1, pl: 1, pb: 1, pr: 1, g: 2), S(1, 3, 300, 90, 3, 3, 3, 2, 2, 1, 1, 1, 1, g: 3),
            // channel-blocked depthwise (8 or 16 channels per vector): dilated, asymmetric pads with strides 2 x 1, bands of a tall plane
            S(1, 8, 17, 13, 8, 3, 3, pt: 2, pl: 2, pb: 2, pr: 2, dh: 2, dw: 2, g: 8), S(1, 16, 10, 9, 16, 5, 3, 2, 1, 2, 1, 1, 0, g: 16),
            S(2, 8, 150, 40, 8, 3, 3, pt: 1, pl: 1, pb: 1, pr: 1, g: 8, bias: false),
            // 3x3 convs over 76x32 with 24..96 channels
            S(1, 24, 76, 32, 48, 3, 3, pt: 1, pl: 1, pb: 1, pr: 1), S(1, 96, 19, 8, 96, 3, 3, pt: 1, pl: 1, pb: 1, pr: 1),
            // dense direct (ConvPlanes): ResNet-8's layers (stride 1 and 2, 8x8 planes), output channels not a multiple
            // of the 8 (or 6) row tile, asymmetric pads, dilations, strides 2 x 1 and 1 x 2, odd planes, tiny planes,
            // a plane in several bands, groups, a batch, a tall kernel with stride 2 (DS-CNN's stem)
            S(1, 16, 32, 32, 16, 3, 3, pt: 1, pl: 1, pb: 1, pr: 1), S(1, 16, 32, 32, 32, 3, 3, 2, 2, 1, 1, 1, 1),
            S(1, 64, 8, 8, 64, 3, 3, pt: 1, pl: 1, pb: 1, pr: 1), S(1, 32, 16, 16, 64, 3, 3, 2, 2, 1, 1, 1, 1, bias: false),
            S(1, 9, 13, 19, 13, 3, 3, pt: 2, pl: 0, pb: 0, pr: 2), S(1, 6, 17, 23, 11, 3, 3, pt: 2, pl: 2, pb: 2, pr: 2, dh: 2, dw: 2),
            S(1, 7, 15, 21, 9, 3, 3, 2, 1, 1, 1, 0, 1), S(1, 7, 15, 21, 9, 3, 3, 1, 2, 0, 1, 1, 0), S(1, 10, 9, 11, 5, 5, 5, 2, 2, 2, 2, 2, 2),
            S(1, 8, 2, 3, 7, 3, 3, pt: 1, pl: 1, pb: 1, pr: 1), S(1, 12, 1, 1, 17, 3, 3, pt: 1, pl: 1, pb: 1, pr: 1),
            S(1, 20, 90, 40, 10, 3, 3, pt: 1, pl: 1, pb: 1, pr: 1), S(2, 12, 10, 10, 18, 3, 3, pt: 1, pl: 1, pb: 1, pr: 1, g: 2),
            S(2, 6, 9, 14, 25, 3, 2, 2, 2, 1, 0, 1, 1, bias: false), S(1, 2, 49, 10, 12, 10, 4, 2, 2, 5, 1, 5, 1),
        };
        return list.Select((s, i) => new object[] { s.ToString(), s, i });
    }

    [Theory]
    [MemberData(nameof(ConvShapes))]
    public void Conv2DMatchesReference(string name, object shape, int seed)
    {
        _ = name;
        CheckConv((ConvShape)shape, seed + 11);
    }

    /// <summary>
    /// accumulate (a residual Z in y): y = act(conv + bias + Z) for every non-depthwise shape, at every SIMD width,
    /// without and with an activation (applied after the sum); depthwise refuses it.
    /// </summary>
    [Fact]
    public void Conv2DAccumulatesOntoResidual()
    {
        var shapes = ConvShapes().Select(o => (ConvShape)o[1]).Where(s => !(s.InC == s.Groups && s.Groups > 1)).ToList();
        var act = new Activation(ActivationKind.LeakyRelu, 0.2f, 0f, -0.4f);
        ForEachWidth(width =>
        {
            int seed = 0;
            foreach (var s in shapes)
            {
                var rng = new Random(++seed);
                var x = Rand(rng, s.Batch * s.InC * s.InH * s.InW);
                var w = Rand(rng, s.OutC * (s.InC / s.Groups) * s.KH * s.KW, 0.5f);
                var bias = s.Bias ? Rand(rng, s.OutC) : Array.Empty<float>();
                var (r, g) = ConvRef(s, x, w, bias);
                var z = Rand(rng, r.Length);
                foreach (var a in new[] { default, act })
                {
                    var y = WithGuard(r.Length);
                    z.CopyTo(y, 0);
                    Conv.Conv2D(x, w, bias, y, s.Batch, s.InC, s.InH, s.InW, s.OutC, s.KH, s.KW, s.OutH, s.OutW,
                        s.SH, s.SW, s.PT, s.PL, s.DH, s.DW, s.Groups, a, accumulate: true);
                    var want = r.Select((v, i) => (double)a.Apply((float)(v + z[i]))).ToArray();
                    Compare($"Conv2D accumulate {s} {a.Kind} width={width}", y, r.Length, want, g.Select((v, i) => v + Math.Abs(z[i])).ToArray(), 4e-6);
                }
            }
        });
        var y1 = new float[16];
        Assert.Throws<ArgumentException>(() => Conv.Conv2D(new float[32], new float[18], default, y1, 1, 2, 4, 4, 2, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 2, accumulate: true));
    }

    /// <summary>
    /// The channel-blocked depthwise kernel (<see cref="DepthwiseBlocked"/>): MobileNet's and DS-CNN's shapes and their
    /// neighbours (channel counts not a multiple of 8, rows shorter and longer than 8, strides 1-3, asymmetric pads,
    /// dilations, non-3x3 kernels, planes in several bands, tiny planes), each with every fused activation kind, at
    /// every SIMD width, against the scalar reference; the 256-bit-and-up widths must take the kernel (where the machine
    /// has AVX2), and a second run allocates nothing.
    /// </summary>
    [Fact]
    public void DepthwiseBlockedMatchesReference()
    {
        ConvShape D(int c, int h, int w, int k, int s, int p, int sh = 0, int dil = 1, int kw = 0, int pr = -1, bool bias = true) =>
            new(1, c, h, w, c, k, kw == 0 ? k : kw, sh == 0 ? s : sh, s, p, p, p, pr < 0 ? p : pr, dil, dil, c, bias);
        var shapes = new[]
        {
            // MobileNetV1 0.25 (96x96 input) and DS-CNN
            D(8, 48, 48, 3, 1, 1), D(16, 48, 48, 3, 2, 1), D(32, 24, 24, 3, 1, 1), D(32, 24, 24, 3, 2, 1), D(64, 12, 12, 3, 1, 1),
            D(64, 12, 12, 3, 2, 1), D(128, 6, 6, 3, 1, 1), D(128, 6, 6, 3, 2, 1), D(256, 3, 3, 3, 1, 1), D(64, 25, 5, 3, 1, 1),
            // odd channel counts (the last block of eight overlaps), short and odd rows, stride 2 on odd planes, no bias
            D(13, 9, 11, 3, 1, 1, bias: false), D(21, 17, 9, 3, 2, 1), D(9, 7, 7, 3, 2, 1, pr: 0), D(12, 5, 3, 3, 1, 1),
            // other kernels and geometry: 5x5, dilation 2, stride 3, stride 2 x 1 and 1 x 2, 1x3 and 3x1, no padding
            D(24, 14, 13, 5, 1, 2), D(16, 15, 17, 3, 1, 2, dil: 2), D(10, 20, 19, 3, 3, 1), D(16, 18, 20, 3, 1, 1, sh: 2),
            D(16, 18, 20, 3, 2, 1, sh: 1), D(8, 10, 30, 1, 1, 0, kw: 3), D(8, 30, 10, 3, 1, 0, kw: 1), D(40, 8, 8, 3, 1, 0),
            // planes in several bands (the last band overlaps the one before)
            D(8, 150, 40, 3, 1, 1), D(16, 97, 61, 3, 2, 1),
        };
        var acts = new[]
        {
            default, new Activation(ActivationKind.Relu), new Activation(ActivationKind.Clip, 0f, 6f), new Activation(ActivationKind.LeakyRelu, 0.1f),
            new Activation(ActivationKind.HardSwish), new Activation(ActivationKind.Sigmoid),
        };
        int seed = 0;
        foreach (var s in shapes)
        {
            var rng = new Random(++seed);
            var x = Rand(rng, s.InC * s.InH * s.InW);
            var w = Rand(rng, s.OutC * s.KH * s.KW, 0.5f);
            var bias = s.Bias ? Rand(rng, s.OutC) : Array.Empty<float>();
            var (r, g) = ConvRef(s, x, w, bias);
            foreach (var a in acts)
            {
                var want = r.Select(v => (double)a.Apply((float)v)).ToArray();
                ForEachWidth(width =>
                {
                    var y = WithGuard(r.Length);
                    Conv.Conv2D(x, w, bias, y, 1, s.InC, s.InH, s.InW, s.OutC, s.KH, s.KW, s.OutH, s.OutW, s.SH, s.SW, s.PT, s.PL, s.DH, s.DW, s.Groups, a);
                    Compare($"depthwise {s} {a.Kind} width={width}", y, r.Length, want, g, 4e-6);
                });
            }
            if (System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported)
                unsafe
                {
                    var y = new float[r.Length];
                    fixed (float* px = x, pw = w, pb = bias, py = y)
                        Assert.True(DepthwiseBlocked.TryRun(px, pw, s.Bias ? pb : null, py, s.OutC, s.InH, s.InW, s.KH, s.KW, s.OutH, s.OutW,
                            s.SH, s.SW, s.PT, s.PL, s.DH, s.DW, default), $"DepthwiseBlocked declined {s}");
                    // the steady state allocates nothing; the first call of an epilogue's instantiation may (the JIT
                    // loading its generic types allocated 7,640 bytes on one CI machine), so one call warms it first
                    long before = 0;
                    for (int k = 0; k < 2; k++)
                    {
                        if (k == 1) before = GC.GetAllocatedBytesForCurrentThread();
                        fixed (float* px = x, pw = w, pb = bias, py = y)
                            DepthwiseBlocked.TryRun(px, pw, s.Bias ? pb : null, py, s.OutC, s.InH, s.InW, s.KH, s.KW, s.OutH, s.OutW,
                                s.SH, s.SW, s.PT, s.PL, s.DH, s.DW, acts[4]);
                    }
                    Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
                }
        }
    }

    [Fact]
    public void Conv2DRandomShapes()
    {
        var rng = new Random(3);
        for (int t = 0; t < 80; t++)
        {
            int groups = rng.Next(4) == 0 ? rng.Next(1, 5) : 1;
            bool depthwise = rng.Next(4) == 0;
            int icg = depthwise ? 1 : rng.Next(1, 7), ocg = depthwise ? rng.Next(1, 3) : rng.Next(1, 9);
            if (depthwise) groups = rng.Next(1, 7);
            int kh = rng.Next(1, 5), kw = rng.Next(1, 6), dh = rng.Next(1, 3), dw = rng.Next(1, 3);
            int ih = rng.Next(1, 24), iw = rng.Next(1, 45);
            int pt = rng.Next(0, kh), pb = rng.Next(0, kh), pl = rng.Next(0, kw), pr = rng.Next(0, kw);
            int sh = rng.Next(1, 4), sw = rng.Next(1, 4);
            if (ih + pt + pb < dh * (kh - 1) + 1 || iw + pl + pr < dw * (kw - 1) + 1) { t--; continue; }
            var s = new ConvShape(rng.Next(1, 3), icg * groups, ih, iw, ocg * groups, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, groups, rng.Next(2) == 0);
            CheckConv(s, t, allWidths: t % 4 == 0);
        }
    }

    /// <summary>
    /// The dense direct path itself (not a fallback) at each vector width and register tile (8 x 3 vectors with 32
    /// registers, 6 x 2 at 128 bits), plain, accumulating and with an activation, on shapes whose bands, tails and
    /// phases differ; and it declines stride 3 along W without writing.
    /// </summary>
    [Fact]
    public unsafe void ConvPlanesTakesDenseShapes()
    {
        var act = new Activation(ActivationKind.Clip, -0.5f, 0.7f);
        var shapes = new[]
        {
            new ConvShape(1, 16, 32, 32, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true), new ConvShape(1, 16, 32, 32, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, true),
            new ConvShape(1, 64, 8, 8, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, false), new ConvShape(1, 5, 11, 7, 3, 3, 3, 1, 1, 0, 2, 1, 0, 2, 1, 1, true),
            new ConvShape(1, 1, 49, 10, 13, 10, 4, 2, 2, 5, 1, 5, 1, 1, 1, 1, true), new ConvShape(1, 24, 60, 30, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true),
            new ConvShape(1, 6, 4, 4, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3, true),
        };
        int seed = 100;
        foreach (var s in shapes)
        {
            var rng = new Random(++seed);
            var x = Rand(rng, s.InC * s.InH * s.InW);
            var w = Rand(rng, s.OutC * (s.InC / s.Groups) * s.KH * s.KW, 0.5f);
            var bias = s.Bias ? Rand(rng, s.OutC) : Array.Empty<float>();
            var (r, g) = ConvRef(s, x, w, bias);
            var z = Rand(rng, r.Length);
            foreach (int width in new[] { -1, 256, 128 })
                foreach (var (a, accumulate) in new[] { (default(Activation), false), (act, true) })
                {
                    var y = WithGuard(r.Length);
                    if (accumulate) z.CopyTo(y, 0);
                    bool took;
                    try
                    {
                        SimdLevel.ForceBits = width;
                        fixed (float* px = x, pw = w, pb = bias, py = y)
                            took = ConvPlanes.TryRun(px, pw, s.Bias ? pb : null, py, s.Groups, s.InC / s.Groups, s.OutC / s.Groups, s.InH, s.InW,
                                s.KH, s.KW, s.OutH, s.OutW, s.SH, s.SW, s.PT, s.PL, s.DH, s.DW, a, accumulate);
                    }
                    finally { SimdLevel.ForceBits = -1; }
                    Assert.True(took, $"ConvPlanes declined {s} width={width}");
                    var want = r.Select((v, i) => (double)a.Apply((float)(v + (accumulate ? z[i] : 0)))).ToArray();
                    Compare($"ConvPlanes {s} {a.Kind} accumulate={accumulate} width={width}", y, r.Length, want,
                        g.Select((v, i) => v + (accumulate ? Math.Abs(z[i]) : 0)).ToArray(), 4e-6);
                }
        }
        var y3 = WithGuard(2 * 4 * 3);
        fixed (float* px = new float[2 * 8 * 9], pw = new float[4 * 2 * 9], py = y3)
            Assert.False(ConvPlanes.TryRun(px, pw, null, py, 1, 2, 4, 8, 9, 3, 3, 3, 3, 2, 3, 0, 0, 1, 1, default, false));
        Assert.True(y3.Take(24).All(float.IsNaN));
    }

    /// <summary>
    /// The channel-vectorised path with packed weights (ConvPanels) itself, not a fallback, at each vector width and
    /// register tile (3 x 8 ... with 32 registers, 2 x 6 / 1 x 8 with 16), plain, accumulating with an activation
    /// applied in the scatter (clip) and after it (tanh), and a leaky ReLU alone; on output channel counts that fill no whole vector or panel (3, 17, 33, 65),
    /// rows that end in a short tile, rows shorter than a tile (tiles wrapping across rows), stride 2 (both and along one axis), dilations, asymmetric pads, groups, tall planes
    /// in several bands, partial sums in several row groups and tap blocks, rows of whole vectors (pixels in the lanes;
    /// stems at stride 2 too); it declines stride 3 along W, and stride-1 stems with 16 registers, without writing; and
    /// through Conv2D (a batch) it allocates nothing.
    /// </summary>
    [Fact]
    public unsafe void ConvPanelsTakesDenseShapes()
    {
        var clip = new Activation(ActivationKind.Clip, -0.5f, 0.7f);
        var leaky = new Activation(ActivationKind.LeakyRelu, 0.2f);
        var tanh = new Activation(ActivationKind.Tanh);
        ConvShape S(int ic, int h, int w, int oc, int kh, int kw, int sh = 1, int sw = 1, int pt = 1, int pl = 1, int pb = 1, int pr = 1,
            int dh = 1, int dw = 1, int g = 1, bool bias = true) => new(1, ic, h, w, oc, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, g, bias);
        var shapes = new[]
        {
            // ResNet-8's layers
            S(16, 32, 32, 16, 3, 3), S(16, 32, 32, 32, 3, 3, 2, 2), S(32, 16, 16, 32, 3, 3), S(32, 16, 16, 64, 3, 3, 2, 2, bias: false),
            S(64, 8, 8, 64, 3, 3), S(3, 32, 32, 16, 3, 3),
            // odd channel counts and rows, strides along one axis, dilations, asymmetric pads, 5x5, groups, tall kernel
            S(5, 11, 7, 3, 3, 3, pt: 0, pl: 2, pb: 1, pr: 0, dh: 2), S(9, 13, 19, 17, 3, 3, pt: 2, pl: 0, pb: 0, pr: 2),
            S(7, 15, 21, 33, 3, 3, 2, 1, 1, 1, 0, 1), S(7, 15, 21, 65, 3, 3, 1, 2, 0, 1, 1, 0), S(10, 9, 11, 20, 5, 5, 2, 2, 2, 2, 2, 2),
            S(6, 17, 23, 11, 3, 3, pt: 2, pl: 2, pb: 2, pr: 2, dh: 2, dw: 2), S(12, 10, 10, 36, 3, 3, g: 2), S(2, 49, 10, 24, 10, 4, 2, 2, 5, 1, 5, 1),
            S(8, 2, 3, 7, 3, 3), S(12, 1, 1, 17, 3, 3),
            // stride 2 on odd sizes, with dilation, pads wider than the kernel's reach, a residual over 16 channels
            S(16, 31, 33, 32, 3, 3, 2, 2), S(9, 21, 19, 24, 3, 3, 2, 2, 2, 2, 2, 2, dh: 2, dw: 2), S(8, 9, 13, 16, 3, 3, 2, 2, 3, 3, 3, 3),
            S(8, 9, 13, 16, 3, 3, 1, 2, 0, 0, 0, 0), S(24, 7, 5, 48, 2, 2, 2, 2, 0, 0, 1, 1),
            // rows of whole vectors (pixels in the lanes): stride 2 along H only, dilated with odd channels, groups
            S(9, 20, 16, 24, 3, 3, 2, 1), S(6, 12, 32, 19, 3, 3, 1, 1, 2, 2, 2, 2, dh: 2, dw: 2), S(8, 6, 16, 32, 3, 3, g: 2),
            // stems at stride 2 on rows of whole vectors (AVX-512: pixels in the lanes, even inputs permuted out of two
            // vectors): MobileNet's, asymmetric pads, dilated with odd channels
            S(3, 96, 96, 8, 3, 3, 2, 2), S(2, 20, 64, 12, 3, 3, 2, 2, 0, 1, 1, 0), S(3, 21, 63, 9, 3, 3, 2, 2, 2, 2, 2, 2, dh: 2, dw: 2),
            // several bands (a tall plane), several row groups of partial sums (16 channels of 64 rows), many tap blocks
            S(20, 90, 40, 10, 3, 3), S(16, 64, 64, 48, 3, 3), S(128, 6, 6, 80, 3, 3),
            // rows shorter than a tile, tiles wrapping across them: openWakeWord's tail (1x3 padded along W, 3x1 valid),
            // a row of one pixel, stride 2 with rows of 3, several row groups of partial sums (100 channels of 2 pixels)
            S(96, 10, 2, 96, 1, 3, pt: 0, pb: 0), S(96, 10, 2, 96, 3, 1, pt: 0, pl: 0, pb: 0, pr: 0), S(72, 14, 4, 96, 1, 3, pt: 0, pb: 0),
            S(17, 9, 1, 40, 3, 3), S(11, 13, 6, 35, 3, 3, 2, 2), S(4, 80, 2, 100, 3, 3),
        };
        int seed = 200;
        foreach (var s in shapes)
        {
            var rng = new Random(++seed);
            var x = Rand(rng, s.InC * s.InH * s.InW);
            int taps = s.InC / s.Groups * s.KH * s.KW;
            var w = Rand(rng, s.OutC * taps, 0.5f);
            var panels = new float[ConvPanels.PackedLength(s.OutC, s.Groups, taps)];
            ConvPanels.Pack(w, panels, s.OutC, s.Groups, taps);
            var bias = s.Bias ? Rand(rng, s.OutC) : Array.Empty<float>();
            var (r, g) = ConvRef(s, x, w, bias);
            var z = Rand(rng, r.Length);
            foreach (int width in new[] { -1, 256, 128 })
                foreach (var (a, accumulate) in new[] { (default(Activation), false), (clip, true), (leaky, false), (tanh, true) })
                {
                    var y = WithGuard(r.Length);
                    if (accumulate) z.CopyTo(y, 0);
                    bool took;
                    try
                    {
                        SimdLevel.ForceBits = width;
                        fixed (float* px = x, pp = panels, pb = bias, py = y)
                            took = ConvPanels.TryRun(px, pp, s.Bias ? pb : null, py, s.Groups, s.InC / s.Groups, s.OutC / s.Groups, s.InH, s.InW,
                                s.KH, s.KW, s.OutH, s.OutW, s.SH, s.SW, s.PT, s.PL, s.DH, s.DW, a, accumulate);
                    }
                    finally { SimdLevel.ForceBits = -1; }
                    // stride-1 stems are left to ConvPlanes without the row tiles (16 registers: no AVX-512, or 128 bits)
                    bool stem = (width == 128 || !System.Runtime.Intrinsics.X86.Avx512F.IsSupported) && s.SW == 1 && s.InC / s.Groups < 8 && s.OutC / s.Groups < 32;
                    Assert.True(took != stem, $"ConvPanels {(took ? "took" : "declined")} {s} width={width}");
                    if (stem) { Assert.True(accumulate ? y.Take(r.Length).SequenceEqual(z) : y.Take(r.Length).All(float.IsNaN)); continue; }
                    var want = r.Select((v, i) => (double)a.Apply((float)(v + (accumulate ? z[i] : 0)))).ToArray();
                    Compare($"ConvPanels {s} {a.Kind} accumulate={accumulate} width={width}", y, r.Length, want,
                        g.Select((v, i) => v + (accumulate ? Math.Abs(z[i]) : 0)).ToArray(), 4e-6);
                }
            // the panels as the only copy of the weights (the generator drops W): Conv2D runs them at every width,
            // scalar (plain loops over the panels) and 16-register stems included
            var wantZ = r.Select((v, i) => (double)tanh.Apply((float)(v + z[i]))).ToArray();
            foreach (int width in new[] { -1, 256, 128, 0 })
            {
                var y = WithGuard(r.Length);
                z.CopyTo(y, 0);
                try
                {
                    SimdLevel.ForceBits = width;
                    Conv.Conv2D(x, default, bias, y, 1, s.InC, s.InH, s.InW, s.OutC, s.KH, s.KW, s.OutH, s.OutW, s.SH, s.SW, s.PT, s.PL, s.DH, s.DW, s.Groups,
                        tanh, accumulate: true, panels: panels);
                }
                finally { SimdLevel.ForceBits = -1; }
                Compare($"Conv2D panels only {s} width={width}", y, r.Length, wantZ, g.Select((v, i) => v + Math.Abs(z[i])).ToArray(), 4e-6);
            }
        }
        var y3 = WithGuard(2 * 4 * 3);
        fixed (float* px = new float[2 * 8 * 9], pp = new float[16 * 2 * 9], py = y3)
            Assert.False(ConvPanels.TryRun(px, pp, null, py, 1, 2, 4, 8, 9, 3, 3, 3, 3, 2, 3, 0, 0, 1, 1, default, false));
        Assert.True(y3.Take(24).All(float.IsNaN));
        // an output row whose sums outgrow the partial buffer: declined, Conv2D runs the unpacked weights instead
        var sl = new ConvShape(1, 2, 3, 1100, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, false);
        var xl = Rand(new Random(5), 2 * 3 * 1100); var wl = Rand(new Random(6), 16 * 18);
        var pl = new float[ConvPanels.PackedLength(16, 1, 18)];
        ConvPanels.Pack(wl, pl, 16, 1, 18);
        var yl = WithGuard(16 * 3 * 1100);
        fixed (float* px = xl, pp = pl, py = yl)
            Assert.False(ConvPanels.TryRun(px, pp, null, py, 1, 2, 16, 3, 1100, 3, 3, 3, 1100, 1, 1, 1, 1, 1, 1, default, false));
        Conv.Conv2D(xl, wl, default, yl, 1, 2, 3, 1100, 16, 3, 3, 3, 1100, 1, 1, 1, 1, 1, 1, 1, panels: pl);
        var (rl, gl) = ConvRef(sl, xl, wl, Array.Empty<float>());
        Compare($"Conv2D panels declined {sl}", yl, rl.Length, rl, gl);
        // declined with the panels as the only weights: the plain loops over them
        yl = WithGuard(16 * 3 * 1100);
        Conv.Conv2D(xl, default, default, yl, 1, 2, 3, 1100, 16, 3, 3, 3, 1100, 1, 1, 1, 1, 1, 1, 1, panels: pl);
        Compare($"Conv2D panels only, declined {sl}", yl, rl.Length, rl, gl);
        // W may be left out only where the panels can stand for it: dense spatial kernels
        Assert.Throws<ArgumentException>(() => Conv.Conv2D(new float[16 * 9], default, default, new float[16 * 9], 1, 16, 3, 3, 16, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 16, panels: new float[16 * 9]));
        Assert.Throws<ArgumentException>(() => Conv.Conv2D(new float[16 * 9], default, default, new float[16 * 9], 1, 16, 3, 3, 16, 1, 1, 3, 3, 1, 1, 0, 0, 1, 1, 1, panels: new float[16 * 16]));

        // through Conv2D: a batch of two, the panels passed on; then nothing allocated per call
        var sb = new ConvShape(2, 24, 12, 10, 40, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1, true);
        var rb = new Random(7);
        var xb = Rand(rb, sb.Batch * sb.InC * sb.InH * sb.InW);
        var wb = Rand(rb, sb.OutC * sb.InC * 9, 0.5f);
        var bb = Rand(rb, sb.OutC);
        var pbk = new float[ConvPanels.PackedLength(sb.OutC, 1, sb.InC * 9)];
        ConvPanels.Pack(wb, pbk, sb.OutC, 1, sb.InC * 9);
        var (rr, gg) = ConvRef(sb, xb, wb, bb);
        var yb = WithGuard(rr.Length);
        void Run() => Conv.Conv2D(xb, wb, bb, yb, sb.Batch, sb.InC, sb.InH, sb.InW, sb.OutC, 3, 3, sb.OutH, sb.OutW, 2, 1, 1, 1, 1, 1, 1, leaky, panels: pbk);
        Run();
        Compare($"Conv2D panels {sb}", yb, rr.Length, rr.Select(v => (double)leaky.Apply((float)v)).ToArray(), gg, 4e-6);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++) Run();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Throws<ArgumentException>(() => Conv.Conv2D(xb, wb, bb, yb, sb.Batch, sb.InC, sb.InH, sb.InW, sb.OutC, 3, 3, sb.OutH, sb.OutW, 2, 1, 1, 1, 1, 1, 1, panels: new float[16]));
    }

    /// <summary>Random dense convolutions with 5 to 40 input channels (the direct path's range), vs the reference.</summary>
    [Fact]
    public void Conv2DDenseRandomShapes()
    {
        var rng = new Random(7);
        for (int t = 0; t < 40; t++)
        {
            int groups = rng.Next(5) == 0 ? 2 : 1, icg = rng.Next(5, 41), ocg = rng.Next(1, 27);
            int kh = rng.Next(1, 6), kw = rng.Next(1, 6), dh = rng.Next(1, 3), dw = rng.Next(1, 3);
            if (kh * kw == 1) kw = 3;
            int ih = rng.Next(1, 40), iw = rng.Next(1, 40);
            int pt = rng.Next(0, kh), pb = rng.Next(0, kh), pl = rng.Next(0, kw), pr = rng.Next(0, kw);
            int sh = rng.Next(1, 3), sw = rng.Next(1, 3);
            if (ih + pt + pb < dh * (kh - 1) + 1 || iw + pl + pr < dw * (kw - 1) + 1) { t--; continue; }
            var s = new ConvShape(rng.Next(1, 3), icg * groups, ih, iw, ocg * groups, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, groups, rng.Next(2) == 0);
            CheckConv(s, 500 + t, allWidths: t % 3 == 0);
        }
    }

    /// <summary>Transposed convolution against a direct sum, random geometry (negative pads too) at every width.</summary>
    [Fact]
    public void ConvTranspose2DMatchesReference()
    {
        var rng = new Random(11);
        for (int t = 0; t < 60; t++)
        {
            int groups = rng.Next(3) == 0 ? rng.Next(1, 4) : 1, icg = rng.Next(1, 6), ocg = rng.Next(1, 5);
            int batch = rng.Next(1, 3), ih = rng.Next(1, 9), iw = rng.Next(1, 12), kh = rng.Next(1, 5), kw = rng.Next(1, 5);
            int sh = rng.Next(1, 4), sw = rng.Next(1, 4), dh = rng.Next(1, 3), dw = rng.Next(1, 3);
            int pt = rng.Next(-1, kh), pl = rng.Next(-1, kw);
            int oh = sh * (ih - 1) + dh * (kh - 1) + 1 - pt - rng.Next(0, 2), ow = sw * (iw - 1) + dw * (kw - 1) + 1 - pl + rng.Next(-1, 2);
            if (oh < 1 || ow < 1) { t--; continue; }
            int inC = icg * groups, outC = ocg * groups;
            var x = Rand(rng, batch * inC * ih * iw); var w = Rand(rng, inC * ocg * kh * kw);
            var bias = rng.Next(2) == 0 ? Array.Empty<float>() : Rand(rng, outC);
            var act = rng.Next(2) == 0 ? default : new Activation(ActivationKind.Relu);
            int n = batch * outC * oh * ow;
            var expected = new double[n]; var mag = new double[n];
            for (int b = 0; b < batch; b++)
                for (int oc = 0; oc < outC; oc++)
                    for (int oy = 0; oy < oh; oy++)
                        for (int ox = 0; ox < ow; ox++)
                        {
                            int g = oc / ocg, m = oc % ocg;
                            double acc = bias.Length == 0 ? 0 : bias[oc], a = Math.Abs(acc);
                            for (int c = g * icg; c < (g + 1) * icg; c++)
                                for (int ky = 0; ky < kh; ky++)
                                    for (int kx = 0; kx < kw; kx++)
                                    {
                                        int ty = oy + pt - ky * dh, tx = ox + pl - kx * dw;
                                        if (ty < 0 || tx < 0 || ty % sh != 0 || tx % sw != 0 || ty / sh >= ih || tx / sw >= iw) continue;
                                        double v = (double)x[((b * inC + c) * ih + ty / sh) * iw + tx / sw] * w[((c * ocg + m) * kh + ky) * kw + kx];
                                        acc += v; a += Math.Abs(v);
                                    }
                            int o = ((b * outC + oc) * oh + oy) * ow + ox;
                            expected[o] = act.Kind == ActivationKind.Relu ? Math.Max(acc, 0) : acc;
                            mag[o] = a;
                        }
            string geo = $"batch={batch} in={inC}x{ih}x{iw} out={outC}x{oh}x{ow} k={kh}x{kw} s={sh},{sw} p={pt},{pl} d={dh},{dw} groups={groups}";
            var scratch = new float[ConvTranspose.ScratchLength(ih, iw, outC, kh, kw, groups)];
            ForEachWidth(width =>
            {
                if (width != -1 && t % 4 != 0) return;
                var y = WithGuard(n);
                ConvTranspose.ConvTranspose2D(x, w, bias, y, scratch, batch, inC, ih, iw, outC, kh, kw, oh, ow, sh, sw, pt, pl, dh, dw, groups, act);
                Compare($"ConvTranspose2D {geo} width={width}", y, n, expected, mag);
            });
        }
    }

    /// <summary>
    /// Resize2D against the direct separable sum (random tap tables; gathers on either axis) and GlobalAverage, at every
    /// width; the last cases are two-tap rows (bilinear) of 8 to 100 columns, which AVX2 gathers eight at a time.
    /// </summary>
    [Fact]
    public void ResizeAndGlobalAverageMatchReference()
    {
        var rng = new Random(12);
        var bilinear = new[] { 8, 13, 64, 100, 9, 17 };
        for (int t = 0; t < 40 + bilinear.Length; t++)
        {
            int planes = rng.Next(1, 4), ih = rng.Next(1, 9), iw = rng.Next(1, 12), oh = rng.Next(1, 20), ow = t < 40 ? rng.Next(1, 40) : bilinear[t - 40];
            bool gh = rng.Next(3) == 0, gw = t < 40 && rng.Next(3) == 0;
            int th = gh ? 1 : rng.Next(1, 5), tw = gw ? 1 : t < 40 ? rng.Next(1, 5) : 2;
            var srcH = Enumerable.Range(0, oh * th).Select(_ => rng.Next(ih) * iw).ToArray();
            var srcW = Enumerable.Range(0, ow * tw).Select(_ => rng.Next(iw)).ToArray();
            var wH = gh ? Array.Empty<float>() : Rand(rng, oh * th);
            var wW = gw ? Array.Empty<float>() : Rand(rng, ow * tw);
            var x = Rand(rng, planes * ih * iw);
            int n = planes * oh * ow;
            var expected = new double[n]; var mag = new double[n];
            for (int c = 0; c < planes; c++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                        for (int a = 0; a < th; a++)
                            for (int b = 0; b < tw; b++)
                            {
                                double v = (gh ? 1 : wH[oy * th + a]) * (gw ? 1 : wW[ox * tw + b]) * x[c * ih * iw + srcH[oy * th + a] + srcW[ox * tw + b]];
                                expected[(c * oh + oy) * ow + ox] += v; mag[(c * oh + oy) * ow + ox] += Math.Abs(v);
                            }
            var scratch = new float[ModelGen.Runtime.Resize.ScratchLength(ih, ow, gh && gw)];
            ForEachWidth(width =>
            {
                var y = WithGuard(n);
                ModelGen.Runtime.Resize.Resize2D(x, y, scratch, planes, ih, iw, oh, ow, srcH, wH, th, srcW, wW, tw);
                Compare($"Resize2D planes={planes} in={ih}x{iw} out={oh}x{ow} taps={th}x{tw} width={width}", y, n, expected, mag);
                var g = WithGuard(planes);
                Pool.GlobalAverage(x, g, planes, ih * iw);
                var ge = Enumerable.Range(0, planes).Select(c => x.Skip(c * ih * iw).Take(ih * iw).Sum(v => (double)v) / (ih * iw)).ToArray();
                var gm = Enumerable.Range(0, planes).Select(c => x.Skip(c * ih * iw).Take(ih * iw).Sum(v => Math.Abs((double)v)) / (ih * iw)).ToArray();
                Compare($"GlobalAverage planes={planes} size={ih * iw} width={width}", g, planes, ge, gm);
            });
        }
    }

    [Fact]
    public void Conv2DRejectsBadArguments()
    {
        var x = new float[16]; var w = new float[9]; var y = new float[4];
        Assert.Throws<ArgumentException>(() => Conv.Conv2D(x, w, default, y, 1, 2, 4, 4, 1, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 1)); // w too small for 2 channels
        Assert.Throws<ArgumentException>(() => Conv.Conv2D(x, w, default, y, 1, 3, 2, 2, 2, 3, 3, 1, 1, 1, 1, 0, 0, 1, 1, 2)); // groups do not divide
        Assert.Throws<ArgumentOutOfRangeException>(() => Conv.Conv2D(x, w, default, y, 1, 1, 4, 4, 1, 3, 3, 2, 2, 0, 1, 0, 0, 1, 1, 1));
    }

    // ---------------- pools ----------------

    static (double[] Ref, double[] Mag) PoolRef(bool max, float[] x, int planes, int ih, int iw, int oh, int ow, int kh, int kw, int sh, int sw,
        int pt, int pl, int dh, int dw, bool includePad, int pb, int pr)
    {
        var r = new double[planes * oh * ow]; var g = new double[r.Length];
        for (int c = 0; c < planes; c++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    double acc = max ? double.NegativeInfinity : 0, mag = 0; int count = 0;
                    for (int ky = 0; ky < kh; ky++)
                        for (int kx = 0; kx < kw; kx++)
                        {
                            int iy = oy * sh - pt + ky * dh, ix = ox * sw - pl + kx * dw;
                            bool inPadded = iy >= -pt && iy < ih + pb && ix >= -pl && ix < iw + pr;
                            if (iy < 0 || iy >= ih || ix < 0 || ix >= iw) { if (includePad && inPadded) count++; continue; }
                            double v = x[(c * ih + iy) * iw + ix];
                            if (max) acc = Math.Max(acc, v); else { acc += v; mag += Math.Abs(v); }
                            count++;
                        }
                    int o = (c * oh + oy) * ow + ox;
                    r[o] = max ? acc : acc / count;
                    g[o] = max ? 0 : mag / count;
                }
        return (r, g);
    }

    [Fact]
    public void PoolsMatchReference()
    {
        var rng = new Random(5);
        // fixed cases first: openWakeWord's 2x2/2 and 1x2 pools, a ceil-mode output, then random geometry
        var cases = new List<int[]>
        {
            // planes, ih, iw, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, ceilExtraH, ceilExtraW
            new[] { 24, 72, 32, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0, 0 }, new[] { 48, 32, 16, 1, 2, 1, 2, 0, 0, 0, 0, 1, 1, 0, 0 },
            new[] { 3, 7, 7, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0 }, new[] { 2, 7, 8, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1 },
            new[] { 2, 9, 40, 3, 3, 1, 1, 1, 1, 1, 1, 2, 2, 0, 0 }, new[] { 5, 6, 50, 3, 5, 1, 1, 0, 2, 2, 2, 1, 1, 0, 0 },
            // global pools (one window over each whole plane: one reduction): DS-CNN's, ResNet-8's, MobileNet's, 1x1 planes
            new[] { 64, 25, 5, 25, 5, 25, 5, 0, 0, 0, 0, 1, 1, 0, 0 }, new[] { 64, 8, 8, 8, 8, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0 },
            new[] { 256, 3, 3, 3, 3, 3, 3, 0, 0, 0, 0, 1, 1, 0, 0 }, new[] { 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0 },
            new[] { 3, 7, 37, 7, 37, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0 },
            // column pairs at stride 2 (Pool.MaxPairs): long rows (16- and 8-wide shuffles, scalar rest), a ceil-mode
            // last column alone, three rows per window with top padding and row dilation
            new[] { 2, 4, 70, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0, 0 }, new[] { 2, 3, 51, 1, 2, 1, 2, 0, 0, 0, 0, 1, 1, 0, 1 },
            new[] { 3, 9, 19, 3, 2, 2, 2, 1, 0, 1, 0, 2, 1, 1, 1 },
            // other strided windows (Pool.MaxStrided): SqueezeNet's 3x3/2 in ceil mode, a ResNet stem's padded 3x3/2 on
            // long rows, stride 3 with column dilation
            new[] { 4, 47, 47, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1 }, new[] { 2, 8, 112, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0 },
            new[] { 2, 11, 61, 2, 3, 2, 3, 1, 2, 0, 1, 1, 2, 0, 1 },
            // 3-wide windows at column stride 2 from the rows in registers (Pool.Max3Stride2): SqueezeNet's later pools
            // (chunks of 4), a padded ceil-mode row with row dilation, rows too short for a chunk
            new[] { 3, 23, 23, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1 }, new[] { 2, 11, 11, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1 },
            new[] { 2, 9, 41, 3, 3, 2, 2, 1, 1, 1, 1, 2, 1, 0, 1 }, new[] { 2, 6, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1 },
        };
        for (int t = 0; t < 60; t++)
        {
            int kh = rng.Next(1, 4), kw = rng.Next(1, 5);
            cases.Add(new[] { rng.Next(1, 4), rng.Next(1, 15), rng.Next(1, 40), kh, kw, rng.Next(1, 3), rng.Next(1, 4),
                rng.Next(0, kh), rng.Next(0, kw), rng.Next(0, kh), rng.Next(0, kw), rng.Next(1, 3), rng.Next(1, 3), rng.Next(0, 2), rng.Next(0, 2) });
        }
        int checkedCount = 0;
        foreach (var cs in cases)
        {
            int planes = cs[0], ih = cs[1], iw = cs[2], kh = cs[3], kw = cs[4], sh = cs[5], sw = cs[6], pt = cs[7], pl = cs[8], pb = cs[9], pr = cs[10], dh = cs[11], dw = cs[12];
            int spanH = ih + pt + pb - dh * (kh - 1) - 1, spanW = iw + pl + pr - dw * (kw - 1) - 1;
            if (spanH < 0 || spanW < 0) continue;
            // ceil mode: one more output when the last window starts inside the input (or left pad)
            int oh = spanH / sh + 1, ow = spanW / sw + 1;
            if (cs[13] == 1 && spanH % sh != 0 && (oh * sh) < ih + pt) oh++;
            if (cs[14] == 1 && spanW % sw != 0 && (ow * sw) < iw + pl) ow++;
            var x = Rand(rng, planes * ih * iw, 3f);
            var (rm, _) = PoolRef(true, x, planes, ih, iw, oh, ow, kh, kw, sh, sw, pt, pl, dh, dw, false, pb, pr);
            if (rm.Any(double.IsNegativeInfinity)) continue; // an all-padding window: not a valid ONNX geometry
            string geo = $"planes={planes} in={ih}x{iw} out={oh}x{ow} k={kh}x{kw} s={sh},{sw} p={pt},{pl},{pb},{pr} d={dh},{dw}";
            ForEachWidth(width =>
            {
                var y = WithGuard(rm.Length);
                Pool.MaxPool2D(x, y, planes, ih, iw, oh, ow, kh, kw, sh, sw, pt, pl, dh, dw);
                Compare($"MaxPool2D {geo} width={width}", y, rm.Length, rm, new double[rm.Length], 0);
                foreach (var include in new[] { false, true })
                {
                    var (ra, ga) = PoolRef(false, x, planes, ih, iw, oh, ow, kh, kw, sh, sw, pt, pl, dh, dw, include, pb, pr);
                    var ya = WithGuard(ra.Length);
                    Pool.AveragePool2D(x, ya, planes, ih, iw, oh, ow, kh, kw, sh, sw, pt, pl, dh, dw, include, pb, pr);
                    Compare($"AveragePool2D {geo} countIncludePad={include} width={width}", ya, ra.Length, ra, ga);
                }
            });
            checkedCount++;
        }
        Assert.True(checkedCount > 40, $"only {checkedCount} pool geometries were valid");
    }

    // ---------------- activations ----------------

    [Fact]
    public void ActivationsMatchReference()
    {
        var rng = new Random(9);
        foreach (int n in new[] { 0, 1, 7, 8, 9, 31, 100, 1027 })
        {
            var x = Rand(rng, n, 20f);
            if (n > 3) { x[0] = 0f; x[1] = -0f; x[2] = 90f; x[3] = -90f; }
            var relu = (float[])x.Clone(); Activations.Relu(relu);
            var leaky = (float[])x.Clone(); Activations.LeakyRelu(leaky, 0.1f);
            var sig = (float[])x.Clone(); Activations.Sigmoid(sig);
            var th = (float[])x.Clone(); Activations.Tanh(th);
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(Math.Max(x[i], 0f), relu[i]);
                Assert.Equal(x[i] >= 0 ? x[i] : 0.1f * x[i], leaky[i]);
                Assert.True(Math.Abs(sig[i] - 1 / (1 + Math.Exp(-(double)x[i]))) <= 1e-6, $"Sigmoid({x[i]}) = {sig[i]}");
                Assert.True(Math.Abs(th[i] - Math.Tanh(x[i])) <= 1e-6, $"Tanh({x[i]}) = {th[i]}");
            }
        }
    }

    // ---------------- no allocations ----------------

    [Fact]
    public void KernelsDoNotAllocate()
    {
        var rng = new Random(1);
        var a = Rand(rng, 64 * 300); var b = Rand(rng, 300 * 70); var c = Rand(rng, 70); var y = new float[64 * 70];
        var x = Rand(rng, 24 * 74 * 32); var w = Rand(rng, 24 * 24 * 3 * 3); var bias = Rand(rng, 24); var yc = new float[24 * 74 * 32];
        void All()
        {
            Gemm.Run(a, b, c, y, 64, 70, 300, false, false, 1f, 1f, BiasKind.Row);
            Gemm.Run(a, b, c, y, 64, 70, 300, true, true, 0.5f, 2f, BiasKind.Row);
            Gemm.Run(a, b, c, y, 1, 70, 300, false, true, 1f, 1f, BiasKind.Row);
            MatMul.Run(a, b, y, 64, 70, 300);
            Conv.Conv2D(x, w, bias, yc, 1, 24, 74, 32, 24, 3, 3, 72, 32, 1, 1, 0, 1, 1, 1, 1);
            Conv.Conv2D(x, w.AsSpan(0, 24 * 9), bias, yc, 1, 24, 74, 32, 24, 3, 3, 74, 32, 1, 1, 1, 1, 1, 1, 24);
            Conv.Conv2D(x, w.AsSpan(0, 24 * 24), bias, yc, 1, 24, 74, 32, 24, 1, 1, 74, 32, 1, 1, 0, 0, 1, 1, 1);
            Conv.Conv2D(x, w.AsSpan(0, 24 * 9), bias, yc, 1, 24, 74, 32, 24, 3, 3, 37, 16, 2, 2, 1, 1, 1, 1, 24); // direct, stride 2
            Conv.Conv2D(x, w.AsSpan(0, 24 * 9), bias, yc, 1, 1, 74, 32, 24, 3, 3, 37, 16, 2, 2, 1, 1, 1, 1, 1);   // direct stem
            Conv.Conv2D(x, w, bias, yc, 1, 24, 74, 32, 24, 3, 3, 37, 16, 2, 2, 1, 1, 1, 1, 1, new Activation(ActivationKind.Sigmoid), accumulate: true); // dense direct, stride 2
            Pool.AveragePool2D(x, yc, 24, 74, 32, 1, 1, 74, 32, 1, 1, 0, 0, 1, 1, false, 0, 0);                 // global
            Pool.MaxPool2D(x, yc, 24, 74, 32, 37, 16, 2, 2, 2, 2, 0, 0, 1, 1);
            Pool.AveragePool2D(x, yc, 24, 74, 32, 37, 16, 3, 3, 2, 2, 1, 1, 1, 1, true, 1, 1);
            Activations.Relu(yc); Activations.LeakyRelu(yc, 0.2f); Activations.Sigmoid(yc); Activations.Tanh(yc);
        }
        All();
        long before = GC.GetAllocatedBytesForCurrentThread();
        All();
        long after = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(0, after - before);
    }

    /// <summary>Elementwise.BinaryRows (a scalar per row, Add and Mul) equals the scalar loop at every width, rows of 1 to 37, in place.</summary>
    [Fact]
    public void BinaryRowsMatchesScalar()
    {
        var rng = new Random(9);
        foreach (int cols in new[] { 1, 3, 9, 16, 36, 37 })
            foreach (var op in new[] { BinaryOp.Add, BinaryOp.Mul })
            {
                int rows = 5;
                var s = Rand(rng, rows); var x = Rand(rng, rows * cols);
                ForEachWidth(width =>
                {
                    var y = (float[])x.Clone();
                    Elementwise.BinaryRows(op, s, y, y, rows, cols);
                    for (int i = 0; i < y.Length; i++)
                        Assert.Equal(op == BinaryOp.Mul ? s[i / cols] * x[i] : s[i / cols] + x[i], y[i]);
                });
            }
        Assert.Throws<ArgumentOutOfRangeException>(() => Elementwise.BinaryRows(BinaryOp.Sub, new float[1], new float[1], new float[1], 1, 1));
        Assert.Throws<ArgumentException>(() => Elementwise.BinaryRows(BinaryOp.Mul, new float[1], new float[3], new float[4], 1, 4));
    }

    /// <summary>Elementwise.ScaleShift (BatchNormalization folded) within float rounding of x * a + b at every width, batches of 2, planes of 1 to 37.</summary>
    [Fact]
    public void ScaleShiftMatchesScalar()
    {
        var rng = new Random(10);
        foreach (int inner in new[] { 1, 7, 16, 37 })
        {
            int batch = 2, channels = 3;
            var a = Rand(rng, channels); var b = Rand(rng, channels); var x = Rand(rng, batch * channels * inner);
            ForEachWidth(width =>
            {
                var y = (float[])x.Clone();
                Elementwise.ScaleShift(a, b, y, y, batch, channels, inner);
                for (int i = 0; i < y.Length; i++)
                {
                    int c = i / inner % channels;
                    Assert.True(Math.Abs(y[i] - ((double)x[i] * a[c] + b[c])) <= 1e-6, $"width {width} inner {inner} at {i}");
                }
            });
        }
        Assert.Throws<ArgumentException>(() => Elementwise.ScaleShift(new float[2], new float[3], new float[6], new float[6], 1, 3, 2));
    }

    // ---------------- channel-blocked chains ----------------

    static float[] Blocks(float[] x, int batch, int c, int plane)
    {
        var y = new float[x.Length];
        ConvBlocked.ToBlocks(x, y, batch, c, plane);
        return y;
    }

    /// <summary>
    /// ConvBlocked's depthwise and 1x1 kernels on NCHW16c buffers equal Conv.Conv2D on NCHW ones (blocks reordered back):
    /// strides, dilation, padding, short and long rows, a 5x5 kernel, 1x1 from blocks and from NCHW planes of any channel
    /// count and onto a residual, planes of 1 to 125 positions, in-register and span-form activations and a clamp, at every SIMD width; the
    /// outputs are written whole and nothing past them. ToBlocks and FromBlocks are each other's inverse.
    /// </summary>
    [Fact]
    public void ConvBlockedMatchesNchwKernels()
    {
        var rng = new Random(11);
        var acts = new[] { default, new Activation(ActivationKind.Relu), new Activation(ActivationKind.Sigmoid), new Activation(ActivationKind.Clip, -0.2f, 0.3f), new Activation(ActivationKind.LeakyRelu, 0.1f, 0, -0.5f, 0.5f) };
        var dws = new (int C, int H, int W, int K, int S, int P, int D)[]
        {
            (64, 25, 5, 3, 1, 1, 1), (32, 24, 24, 3, 1, 1, 1), (16, 48, 48, 3, 2, 1, 1), (48, 6, 6, 3, 2, 1, 1),
            (16, 9, 13, 5, 1, 2, 1), (32, 11, 10, 3, 1, 2, 2), (16, 3, 3, 3, 1, 1, 1), (16, 1, 17, 3, 1, 1, 1), (32, 7, 7, 3, 3, 0, 1),
        };
        ForEachWidth(width =>
        {
            int k = 0;
            foreach (var d in dws)
            {
                var act = acts[k++ % acts.Length];
                int oh = (d.H + 2 * d.P - d.D * (d.K - 1) - 1) / d.S + 1, ow = (d.W + 2 * d.P - d.D * (d.K - 1) - 1) / d.S + 1;
                var x = Rand(rng, d.C * d.H * d.W); var w = Rand(rng, d.C * d.K * d.K, 0.5f); var b = Rand(rng, d.C);
                var want = new float[d.C * oh * ow];
                Conv.Conv2D(x, w, b, want, 1, d.C, d.H, d.W, d.C, d.K, d.K, oh, ow, d.S, d.S, d.P, d.P, d.D, d.D, d.C, act);
                var taps = new float[w.Length];
                for (int c = 0; c < d.C; c++) for (int t = 0; t < d.K * d.K; t++) taps[t * d.C + c] = w[c * d.K * d.K + t];
                var y = WithGuard(want.Length);
                ConvBlocked.Depthwise(Blocks(x, 1, d.C, d.H * d.W), taps, b, y, 1, d.C, d.H, d.W, d.K, d.K, oh, ow, d.S, d.S, d.P, d.P, d.D, d.D, act);
                Assert.True(y.Skip(want.Length).All(v => v == Guard), $"depthwise {d} width {width}: wrote past the output");
                var got = new float[want.Length];
                ConvBlocked.FromBlocks(y, got, 1, d.C, oh * ow);
                for (int i = 0; i < want.Length; i++)
                    Assert.True(Math.Abs(got[i] - want[i]) <= 1e-5 * Math.Max(1, Math.Abs(want[i])), $"depthwise {d} {act.Kind} width {width}: [{i}] {got[i]} vs {want[i]}");
            }
            foreach (var (inC, outC, plane, blocked, residual) in new[] { (16, 16, 1, true, false), (48, 64, 125, true, false), (64, 48, 9, true, true), (32, 32, 36, true, false),
                (8, 16, 2304 / 16, false, false), (3, 32, 50, false, true), (16, 48, 7, false, false), (32, 16, 13, true, true),
                // a last single vector of 16 channels (512-bit) over tiles of 16, 12 and 8 positions and their tails
                (128, 16, 37, true, false), (48, 48, 27, true, true), (32, 16, 41, false, false) })
            {
                var act = acts[k++ % acts.Length];
                var x = Rand(rng, inC * plane); var w = Rand(rng, outC * inC, 0.3f); var b = Rand(rng, outC);
                // a residual: y starts as z (both layouts) and the kernels add onto it, the activation after the sum
                var z = residual ? Rand(rng, outC * plane) : null;
                var want = residual ? (float[])z!.Clone() : new float[outC * plane];
                Conv.Conv2D(x, w, b, want, 1, inC, 1, plane, outC, 1, 1, 1, plane, 1, 1, 0, 0, 1, 1, 1, act, accumulate: residual);
                int mp = (outC + 31) / 32 * 32;
                var packed = new float[(inC + 1) * mp];
                for (int m = 0; m < outC; m++) { for (int c = 0; c < inC; c++) packed[((m / 32) * inC + c) * 32 + m % 32] = w[m * inC + c]; packed[inC * mp + m] = b[m]; }
                var y = WithGuard(want.Length);
                if (residual) Blocks(z!, 1, outC, plane).CopyTo(y, 0);
                ConvBlocked.Pointwise(blocked ? Blocks(x, 1, inC, plane) : x, packed, y, 1, inC, outC, plane, act, blocked, residual);
                Assert.True(y.Skip(want.Length).All(v => v == Guard), $"1x1 {inC}->{outC} x{plane} width {width}: wrote past the output");
                var got = new float[want.Length];
                ConvBlocked.FromBlocks(y, got, 1, outC, plane);
                for (int i = 0; i < want.Length; i++)
                    Assert.True(Math.Abs(got[i] - want[i]) <= 1e-5 * Math.Max(1, Math.Abs(want[i])), $"1x1 {inC}->{outC} x{plane} {(blocked ? "blocks" : "planes")} {act.Kind} width {width}: [{i}] {got[i]} vs {want[i]}");
            }
        });
        var z = Rand(rng, 2 * 32 * 13);
        var back = new float[z.Length];
        ConvBlocked.FromBlocks(Blocks(z, 2, 32, 13), back, 2, 32, 13);
        Assert.Equal(z, back);
        Assert.Throws<ArgumentOutOfRangeException>(() => ConvBlocked.ToBlocks(new float[24], new float[24], 1, 24, 1));
    }

    /// <summary>
    /// ConvBlocked.Dense (panels in, blocks out) equals Conv.Conv2D on NCHW reordered into blocks, at every SIMD width and
    /// in plain loops (width 0): DS-CNN's stem (1 -> 64, 10x4, stride 2, rows of 5), a 3x3 stem on rows of whole vectors
    /// (which the NCHW kernel runs with pixels in the lanes), stride 2 with odd sizes, dilation; in-register, clamped and
    /// span-form activations; nothing written past the output.
    /// </summary>
    [Fact]
    public void ConvBlockedDenseWritesBlocks()
    {
        var rng = new Random(13);
        var acts = new[] { new Activation(ActivationKind.Relu), default, new Activation(ActivationKind.Sigmoid), new Activation(ActivationKind.LeakyRelu, 0.1f, 0, -0.5f, 0.5f), new Activation(ActivationKind.HardSwish) };
        var shapes = new (int C, int H, int W, int M, int KH, int KW, int S, int PT, int PL, int D)[]
        {
            (1, 49, 10, 64, 10, 4, 2, 4, 1, 1), (3, 32, 32, 16, 3, 3, 1, 1, 1, 1), (3, 64, 64, 16, 3, 3, 2, 1, 1, 1), (5, 11, 9, 32, 3, 3, 2, 1, 0, 1),
            (8, 13, 12, 48, 3, 3, 1, 2, 2, 2), (24, 7, 5, 16, 3, 1, 1, 0, 0, 1),
        };
        int k = 0;
        foreach (var d in shapes) DenseAgainstPlanes(rng, 1, d.C, d.H, d.W, d.M, d.KH, d.KW, d.S, d.PT, d.PL, d.D, acts[k++ % acts.Length], xBlocked: false);
        Assert.Throws<ArgumentOutOfRangeException>(() => ConvBlocked.Dense(new float[9], new float[16 * 9], default, new float[24], 1, 1, 3, 3, 24, 3, 3, 1, 1, 1, 1, 0, 0, 1, 1));
    }

    /// <summary>
    /// ConvBlocked.Dense reading blocked input (a dense layer inside a channel-blocked chain) equals Conv.Conv2D on the
    /// planes, blocked, at every width and in the plain loops (stride 3, where the channel tiles decline): SqueezeNet's
    /// expand 3x3 (16 -> 64 on 23x23), short rows, stride 2, dilation, 5x5 and 1x3 kernels, two images; nothing
    /// written past the output; input channels not a multiple of 16 refused.
    /// </summary>
    [Fact]
    public void ConvBlockedDenseReadsBlocks()
    {
        var rng = new Random(15);
        var acts = new[] { new Activation(ActivationKind.Relu), default, new Activation(ActivationKind.Clip, 0f, 6f), new Activation(ActivationKind.Silu) };
        var shapes = new (int N, int C, int H, int W, int M, int KH, int KW, int S, int PT, int PL, int D)[]
        {
            (1, 16, 23, 23, 64, 3, 3, 1, 1, 1, 1), (2, 32, 11, 11, 48, 3, 3, 1, 1, 1, 1), (1, 32, 16, 17, 32, 3, 3, 2, 1, 1, 1), (1, 16, 9, 13, 16, 3, 3, 1, 2, 2, 2),
            (1, 48, 5, 5, 32, 5, 5, 1, 2, 2, 1), (1, 16, 6, 20, 16, 1, 3, 1, 0, 1, 1), (1, 16, 10, 10, 32, 3, 3, 3, 1, 1, 1),
        };
        int k = 0;
        foreach (var d in shapes) DenseAgainstPlanes(rng, d.N, d.C, d.H, d.W, d.M, d.KH, d.KW, d.S, d.PT, d.PL, d.D, acts[k++ % acts.Length], xBlocked: true);
        Assert.Throws<ArgumentOutOfRangeException>(() => ConvBlocked.Dense(new float[8 * 9], new float[16 * 72], default, new float[16], 1, 8, 3, 3, 16, 3, 3, 1, 1, 1, 1, 0, 0, 1, 1, xBlocked: true));
    }

    /// <summary>
    /// ConvBlocked.Dense (input as planes or, with <paramref name="xBlocked"/>, as blocks) against Conv.Conv2D on the
    /// planes, blocked, at every width and in the plain loops; nothing written past the output.
    /// </summary>
    static void DenseAgainstPlanes(Random rng, int n, int c, int h, int w, int m, int kh, int kw, int s, int pt, int pl, int dil, Activation act, bool xBlocked)
    {
        int oh = (h + 2 * pt - dil * (kh - 1) - 1) / s + 1, ow = (w + 2 * pl - dil * (kw - 1) - 1) / s + 1, taps = c * kh * kw;
        var x = Rand(rng, n * c * h * w); var wt = Rand(rng, m * taps, 0.5f); var b = Rand(rng, m);
        var plain = new float[n * m * oh * ow];
        Conv.Conv2D(x, wt, b, plain, n, c, h, w, m, kh, kw, oh, ow, s, s, pt, pl, dil, dil, 1, act);
        var want = Blocks(plain, n, m, oh * ow);
        var input = xBlocked ? Blocks(x, n, c, h * w) : x;
        var panels = new float[ConvPanels.PackedLength(m, 1, taps)];
        ConvPanels.Pack(wt, panels, m, 1, taps);
        var shape = (n, c, h, w, m, kh, kw, s, pt, pl, dil);
        foreach (int width in new[] { -1, 256, 128, 0 })
        {
            var y = WithGuard(want.Length);
            try
            {
                SimdLevel.ForceBits = width;
                ConvBlocked.Dense(input, panels, b, y, n, c, h, w, m, kh, kw, oh, ow, s, s, pt, pl, dil, dil, act, xBlocked);
            }
            finally { SimdLevel.ForceBits = -1; }
            Assert.True(y.Skip(want.Length).All(v => v == Guard), $"dense {shape} width {width}: wrote past the output");
            for (int i = 0; i < want.Length; i++)
                Assert.True(Math.Abs(y[i] - want[i]) <= 1e-5 * Math.Max(1, Math.Abs(want[i])), $"dense {shape} blocked input {xBlocked} {act.Kind} width {width}: [{i}] {y[i]} vs {want[i]}");
        }
    }

    /// <summary>
    /// ConvBlocked.MaxPool on blocks equals Pool.MaxPool2D on the planes, blocked, at every width: SqueezeNet's 3x3/2
    /// pools (47x47, 23x23, 11x11), ceil-mode windows past the input, pads, dilation, 2x2/2, 1x3 and a window larger
    /// than the stride, two images; nothing written past the output.
    /// </summary>
    [Fact]
    public void ConvBlockedMaxPoolMatchesPlanes()
    {
        var rng = new Random(16);
        var shapes = new (int N, int C, int H, int W, int KH, int KW, int S, int PT, int PL, int D, bool Ceil)[]
        {
            (1, 64, 47, 47, 3, 3, 2, 0, 0, 1, true), (1, 128, 23, 23, 3, 3, 2, 0, 0, 1, true), (2, 32, 11, 11, 3, 3, 2, 0, 0, 1, true), (1, 16, 10, 10, 3, 3, 2, 0, 0, 1, true),
            (1, 16, 9, 12, 3, 3, 1, 1, 1, 1, false), (1, 32, 8, 8, 2, 2, 2, 0, 0, 1, false), (1, 16, 12, 9, 3, 3, 2, 2, 2, 2, false), (1, 16, 7, 15, 1, 3, 1, 0, 1, 1, false),
            (1, 48, 13, 13, 5, 5, 3, 1, 1, 1, true),
        };
        foreach (var d in shapes)
        {
            int Out(int i, int k, int p) { int span = d.D * (k - 1) + 1, r = i + 2 * p - span; return (d.Ceil ? (r + d.S - 1) / d.S : r / d.S) + 1; }
            int oh = Out(d.H, d.KH, d.PT), ow = Out(d.W, d.KW, d.PL);
            var x = Rand(rng, d.N * d.C * d.H * d.W);
            var plain = new float[d.N * d.C * oh * ow];
            Pool.MaxPool2D(x, plain, d.N * d.C, d.H, d.W, oh, ow, d.KH, d.KW, d.S, d.S, d.PT, d.PL, d.D, d.D);
            var want = Blocks(plain, d.N, d.C, oh * ow);
            var xb = Blocks(x, d.N, d.C, d.H * d.W);
            ForEachWidth(width =>
            {
                var y = WithGuard(want.Length);
                ConvBlocked.MaxPool(xb, y, d.N, d.C, d.H, d.W, oh, ow, d.KH, d.KW, d.S, d.S, d.PT, d.PL, d.D, d.D);
                Assert.True(y.Skip(want.Length).All(v => v == Guard), $"max pool {d} width {width}: wrote past the output");
                for (int i = 0; i < want.Length; i++) Assert.True(y[i] == want[i], $"max pool {d} width {width}: [{i}] {y[i]} vs {want[i]}");
            });
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => ConvBlocked.MaxPool(new float[8 * 9], new float[8], 1, 8, 3, 3, 1, 1, 3, 3, 1, 1, 0, 0, 1, 1));
    }

    /// <summary>
    /// ConvBlocked.ScaleChannels (a squeeze-excite gate on blocks) equals x * gate per channel on the NCHW planes, at
    /// every SIMD width, out of place and in place, two images with their own gates; nothing written past y.
    /// </summary>
    [Fact]
    public void ConvBlockedScaleChannelsMatchesPlanes()
    {
        var rng = new Random(14);
        ForEachWidth(width =>
        {
            foreach (var (batch, c, plane) in new[] { (1, 64, 1024), (2, 32, 9), (1, 16, 1), (1, 48, 13) })
            {
                var x = Rand(rng, batch * c * plane); var gate = Rand(rng, batch * c);
                var want = Blocks(x.Select((v, i) => v * gate[i / plane]).ToArray(), batch, c, plane);
                var blocks = Blocks(x, batch, c, plane);
                var y = WithGuard(want.Length);
                ConvBlocked.ScaleChannels(blocks, gate, y, batch, c, plane);
                Assert.True(y.Skip(want.Length).All(v => v == Guard), $"scale {batch}x{c}x{plane} width {width}: wrote past the output");
                Assert.Equal(want, y.Take(want.Length).ToArray());
                ConvBlocked.ScaleChannels(blocks, gate, blocks, batch, c, plane);
                Assert.Equal(want, blocks);
            }
        });
    }

    /// <summary>
    /// ConvBlocked.GlobalPool on blocked buffers equals Pool.GlobalAverage / a plain max on the NCHW planes, at every SIMD
    /// width: planes of 1 to 125 positions (the four chains' remainders), two images, negative values for the max; it
    /// writes one value per channel and nothing past them.
    /// </summary>
    [Fact]
    public void ConvBlockedGlobalPoolMatchesPlanes()
    {
        var rng = new Random(12);
        ForEachWidth(width =>
        {
            foreach (var (batch, c, plane) in new[] { (1, 64, 125), (2, 32, 9), (1, 16, 1), (1, 48, 2), (2, 16, 4), (1, 256, 7) })
            {
                var x = Rand(rng, batch * c * plane);
                var blocks = Blocks(x, batch, c, plane);
                foreach (bool max in new[] { false, true })
                {
                    var want = new float[batch * c];
                    if (max) for (int i = 0; i < want.Length; i++) want[i] = x.Skip(i * plane).Take(plane).Max();
                    else Pool.GlobalAverage(x, want, batch * c, plane);
                    var y = WithGuard(want.Length);
                    ConvBlocked.GlobalPool(blocks, y, batch, c, plane, max);
                    Assert.True(y.Skip(want.Length).All(v => v == Guard), $"global pool {batch}x{c}x{plane} width {width}: wrote past the output");
                    for (int i = 0; i < want.Length; i++)
                        Assert.True(Math.Abs(y[i] - want[i]) <= 1e-6 * Math.Max(1, Math.Abs(want[i])), $"global {(max ? "max" : "average")} {batch}x{c}x{plane} width {width}: [{i}] {y[i]} vs {want[i]}");
                }
            }
        });
        Assert.Throws<ArgumentOutOfRangeException>(() => ConvBlocked.GlobalPool(new float[24], new float[24], 1, 24, 1, false));
    }

    // ---------------- fused activation epilogues ----------------

    public static IEnumerable<object[]> ActivationKinds() => new[]
    {
        new Activation(ActivationKind.Relu), new Activation(ActivationKind.Clip, -0.3f, 0.6f), new Activation(ActivationKind.LeakyRelu, 0.1f),
        new Activation(ActivationKind.Sigmoid), new Activation(ActivationKind.Tanh), new Activation(ActivationKind.HardSigmoid, 0.3f, 0.4f),
        new Activation(ActivationKind.HardSwish), new Activation(ActivationKind.Silu),
    }.Select(a => new object[] { a.Kind.ToString(), a.Alpha, a.Beta });

    /// <summary>
    /// Every kernel path with a fused activation equals the same kernel without one followed by the scalar activation:
    /// pointwise, im2col (incl. a KC split and a tail panel), depthwise staged, direct and general, the direct stem path, Gemm's dot-row path, bias
    /// kinds written first, and MatMul, at every SIMD width.
    /// </summary>
    [Theory]
    [MemberData(nameof(ActivationKinds))]
    public void FusedActivationMatchesSeparatePass(string kind, float alpha, float beta)
        => FusedMatchesSeparate(new Activation(Enum.Parse<ActivationKind>(kind), alpha, beta));

    /// <summary>The same with a clamp after the kind (ClampFusion): in registers, and after the span-form kinds.</summary>
    [Theory]
    [MemberData(nameof(ActivationKinds))]
    public void ClampedActivationMatchesSeparatePass(string kind, float alpha, float beta)
    {
        var act = new Activation(Enum.Parse<ActivationKind>(kind), alpha, beta, -0.05f, 0.45f);
        Assert.Equal(0.45f, act.Apply(100f));
        Assert.True(act.Apply(-100f) >= -0.05f);
        FusedMatchesSeparate(act);
        // one bound only, and a clamp with no kind (becomes a Clip)
        FusedMatchesSeparate(new Activation(Enum.Parse<ActivationKind>(kind), alpha, beta, lo: -0.4f));
        Assert.Equal(ActivationKind.Clip, new Activation(ActivationKind.None, hi: 0.5f).Kind);
    }

    void FusedMatchesSeparate(Activation act)
    {
        var kind = act.Kind.ToString();
        var rng = new Random(5);
        void Check(string what, float[] plain, float[] fused, int n)
        {
            for (int i = 0; i < n; i++)
            {
                float want = act.Apply(plain[i]);
                // NaN stays NaN through every kind and clamp, as in the scalar form (one-instruction max/min: the value second)
                if (float.IsNaN(want) ? !float.IsNaN(fused[i]) : !(Math.Abs(fused[i] - want) <= 1e-5 * Math.Max(1, Math.Abs(want))))
                    Assert.Fail($"{what} {kind}: element {i}: got {fused[i]}, expected {want} (pre-activation {plain[i]})");
            }
            for (int i = n; i < fused.Length; i++)
                if (fused[i] != Guard) Assert.Fail($"{what}: wrote past the output at {i}");
        }
        var convs = new[]
        {
            new ConvShape(1, 16, 9, 9, 24, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, true),       // pointwise
            new ConvShape(1, 300, 5, 7, 20, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, false),     // pointwise, K split in KC blocks
            new ConvShape(2, 8, 10, 11, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true),      // im2col, tail panel
            new ConvShape(1, 40, 9, 9, 7, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, true),        // strided im2col, K > KC
            new ConvShape(1, 6, 12, 21, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 6, true),       // depthwise, staged rows
            new ConvShape(1, 6, 12, 21, 12, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 6, false),     // depthwise x2, strided (direct)
            new ConvShape(1, 6, 12, 21, 12, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 6, false),     // depthwise x2, stride 3 (general)
            new ConvShape(1, 16, 13, 5, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 16, true),     // depthwise, short rows (direct, flat)
            new ConvShape(1, 3, 19, 22, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, true),       // stem, stride 2 (direct, 4 channels)
            new ConvShape(1, 16, 8, 8, 19, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true),       // dense direct, rows of 8, tail tile
            new ConvShape(1, 12, 15, 13, 9, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, false),     // dense direct, stride 2
        };
        ForEachWidth(width =>
        {
            foreach (var s in convs)
            {
                var x = Rand(rng, s.Batch * s.InC * s.InH * s.InW);
                x[x.Length / 3] = float.NaN;
                var w = Rand(rng, s.OutC * (s.InC / s.Groups) * s.KH * s.KW, 0.5f);
                var bias = s.Bias ? Rand(rng, s.OutC) : Array.Empty<float>();
                int n = s.Batch * s.OutC * s.OutH * s.OutW;
                var plain = WithGuard(n); var fused = WithGuard(n);
                Conv.Conv2D(x, w, bias, plain, s.Batch, s.InC, s.InH, s.InW, s.OutC, s.KH, s.KW, s.OutH, s.OutW, s.SH, s.SW, s.PT, s.PL, s.DH, s.DW, s.Groups);
                Conv.Conv2D(x, w, bias, fused, s.Batch, s.InC, s.InH, s.InW, s.OutC, s.KH, s.KW, s.OutH, s.OutW, s.SH, s.SW, s.PT, s.PL, s.DH, s.DW, s.Groups, act);
                Check($"Conv2D {s} width={width}", plain, fused, n);
            }
            foreach (var (m, nn, k, ta, tb, bk) in new[]
            {
                (3, 20, 300, false, true, BiasKind.Row), (7, 20, 300, false, false, BiasKind.Column), (5, 37, 40, true, false, BiasKind.Matrix),
                (9, 33, 17, false, true, BiasKind.None), (4, 5, 0, false, false, BiasKind.Scalar), (1, 150, 64, false, false, BiasKind.Row),
            })
            {
                var a = Rand(rng, m * k); var b = Rand(rng, k * nn); var c = Rand(rng, m * nn);
                if (k > 0) a[a.Length / 2] = float.NaN;
                var plain = WithGuard(m * nn); var fused = WithGuard(m * nn);
                Gemm.Run(a, b, c, plain, m, nn, k, ta, tb, 0.9f, 1.1f, bk);
                Gemm.Run(a, b, c, fused, m, nn, k, ta, tb, 0.9f, 1.1f, bk, act);
                Check($"Gemm {m}x{nn}x{k} {ta} {tb} {bk} width={width}", plain, fused, m * nn);
                if (ta || tb) continue;
                MatMul.Run(a, b, plain, m, nn, k);
                MatMul.Run(a, b, fused, m, nn, k, act);
                Check($"MatMul {m}x{nn}x{k} width={width}", plain, fused, m * nn);
            }
        });
    }
}
