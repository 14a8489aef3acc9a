using System.Diagnostics;
using Microsoft.CodeAnalysis;
using ModelGen.Compiler;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Quantization;
using Xunit;
using Xunit.Abstractions;

namespace ModelGen.Tests;

/// <summary>
/// Build-time quantization (Quantize=Weights|Int8) on a real trained model with real data: the digits CNN made by
/// scripts/models/make_digits.py (PyTorch, exported with torch.onnx.export), evaluated on its held-out digits.
/// </summary>
public sealed class QuantizationTests(ITestOutputHelper log)
{
    static string Dir => Path.Combine(Harness.RepoRoot, "tests", "models", "digits");
    static string ModelPath => Path.Combine(Dir, "digits_cnn.onnx");
    const int Pixels = 64, Classes = 10;

    static float[] Floats(string file)
    {
        var b = File.ReadAllBytes(Path.Combine(Dir, file));
        var f = new float[b.Length / 4];
        Buffer.BlockCopy(b, 0, f, 0, b.Length);
        return f;
    }

    static int[] Labels()
    {
        var b = File.ReadAllBytes(Path.Combine(Dir, "test_y.bin"));
        var y = new int[b.Length / 4];
        Buffer.BlockCopy(b, 0, y, 0, b.Length);
        return y;
    }

    static CalibrationFile[] Calib => new[] { new CalibrationFile("calib.bin", File.ReadAllBytes(Path.Combine(Dir, "calib.bin"))) };

    static CompileResult Compile(ModelOptions o, IReadOnlyList<CalibrationFile>? calib = null) =>
        ModelCompiler.Compile(File.ReadAllBytes(ModelPath), ModelPath, o, calib);

    sealed record Run(string Mode, CompileResult Result, float[] Logits, double MicrosPerCall);

    /// <summary>Compiles, then runs every held-out digit through Predict; returns the logits [N, 10] and the mean latency.</summary>
    static Run Evaluate(string mode, ModelOptions o, IReadOnlyList<CalibrationFile>? calib = null)
    {
        var r = Compile(o, calib);
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        var m = CompiledModel.FromSource(r.Source!, r.ClassName!, o.Namespace, o.Target);
        var x = Floats("test_x.bin");
        int n = x.Length / Pixels;
        var logits = new float[n * Classes];
        var xi = new float[Pixels]; var yi = new float[Classes];
        for (int i = 0; i < n; i++)
        {
            Array.Copy(x, i * Pixels, xi, 0, Pixels);
            m.Run(xi, yi);
            Array.Copy(yi, 0, logits, i * Classes, Classes);
        }
        // latency: the best of 40 passes over the test set, per call, including the reflection call of the harness (the
        // first passes run the JIT's tier-0 code of a freshly compiled Predict: a best of 5 measured that, not the model)
        double best = double.MaxValue;
        for (int rep = 0; rep < 40; rep++)
        {
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < n; i++) { Array.Copy(x, i * Pixels, xi, 0, Pixels); m.Run(xi, yi); }
            best = Math.Min(best, sw.Elapsed.TotalMilliseconds * 1000 / n);
        }
        return new Run(mode, r, logits, best);
    }

    static int ArgMax(float[] v, int at) { int k = 0; for (int j = 1; j < Classes; j++) if (v[at + j] > v[at + k]) k = j; return k; }

    static double Accuracy(float[] logits, int[] y) => Enumerable.Range(0, y.Length).Count(i => ArgMax(logits, i * Classes) == y[i]) / (double)y.Length;

    static double Agreement(float[] a, float[] b) { int n = a.Length / Classes; return Enumerable.Range(0, n).Count(i => ArgMax(a, i * Classes) == ArgMax(b, i * Classes)) / (double)n; }

    /// <summary>Signal-to-quantization-noise ratio of <paramref name="q"/> against the float reference, in dB.</summary>
    static double Sqnr(float[] reference, float[] q)
    {
        double s = 0, e = 0;
        for (int i = 0; i < reference.Length; i++) { s += (double)reference[i] * reference[i]; e += (double)(reference[i] - q[i]) * (reference[i] - q[i]); }
        return 10 * Math.Log10(s / Math.Max(e, 1e-30));
    }

    /// <summary>
    /// ResNet-8 (MLPerf Tiny): the float passes fuse each residual Add into the Conv before it; Int8 splits them again so
    /// that every Conv runs on integers (no MG0013) and the residual sum is an int8 add, and the result stays close to float.
    /// </summary>
    [Fact]
    public void ResidualBlocksQuantizeToIntegerConvsAndAdds()
    {
        var path = Models.MlperfPath("resnet8.onnx");
        var bytes = File.ReadAllBytes(path);
        float[] Sample(int seed) => Ort.Random(3 * 32 * 32, seed);
        var samples = Enumerable.Range(0, 8).SelectMany(Sample).ToArray();
        var raw = new byte[samples.Length * 4];
        Buffer.BlockCopy(samples, 0, raw, 0, raw.Length);
        var q = ModelCompiler.Compile(bytes, path, new ModelOptions { ClassName = "R8I8", Quantize = QuantizeMode.Int8 }, new[] { new CalibrationFile("calib.bin", raw) });
        Assert.True(q.Success, string.Join("\n", q.Diagnostics));
        Assert.DoesNotContain(q.Diagnostics, d => d.Kind.Id == "MG0013");
        var fl = Harness.Generate(path, new ModelOptions { ClassName = "R8F" });
        int Rows(CompileResult r, string op) => r.Source!.Split('\n').Count(l => l.StartsWith("//") && l.Contains(" " + op));
        Assert.Equal(Rows(fl, "Conv"), Rows(q, "QConvInt8"));
        Assert.True(Rows(q, "QLinearAdd") >= 3, "the three residual sums run as int8 adds");

        var fm = CompiledModel.FromSource(fl.Source!, fl.ClassName!, null, TargetProfile.Net);
        var qm = CompiledModel.FromSource(q.Source!, q.ClassName!, null, TargetProfile.Net);
        var a = new List<float>(); var b = new List<float>();
        for (int seed = 100; seed < 104; seed++)
        {
            float[] fo = new float[10], qo = new float[10];
            fm.Run(Sample(seed), fo); qm.Run(Sample(seed), qo);
            a.AddRange(fo); b.AddRange(qo);
        }
        double sqnr = Sqnr(a.ToArray(), b.ToArray());
        log.WriteLine($"resnet8 Int8 vs float: SQNR {sqnr:F1} dB");
        Assert.True(sqnr >= 20, $"SQNR {sqnr:F1} dB");
    }

    [Fact]
    public void DigitsCnnFloatWeightsInt8MeetTheAccuracyGoals()
    {
        var y = Labels();
        var fl = Evaluate("float", new ModelOptions { ClassName = "DigitsFloat" });
        var runs = new[]
        {
            fl,
            Evaluate("Weights", new ModelOptions { ClassName = "DigitsW8", Quantize = QuantizeMode.Weights }),
            Evaluate("Int8 MinMax", new ModelOptions { ClassName = "DigitsI8", Quantize = QuantizeMode.Int8 }, Calib),
            Evaluate("Int8 Percentile", new ModelOptions { ClassName = "DigitsI8P", Quantize = QuantizeMode.Int8, CalibrationMethod = CalibrationMethod.Percentile }, Calib),
            Evaluate("Int8 Entropy", new ModelOptions { ClassName = "DigitsI8E", Quantize = QuantizeMode.Int8, CalibrationMethod = CalibrationMethod.Entropy }, Calib),
        };
        log.WriteLine($"digits_cnn, {y.Length} held-out digits");
        log.WriteLine("| mode | accuracy | top-1 agreement with float | SQNR dB | weight bytes | latency us |");
        foreach (var r in runs)
            log.WriteLine($"| {r.Mode} | {Accuracy(r.Logits, y):P1} | {Agreement(fl.Logits, r.Logits):P1} | {(r == fl ? "-" : Sqnr(fl.Logits, r.Logits).ToString("F1"))} | {r.Result.WeightBytes} | {r.MicrosPerCall:F1} |");
        foreach (var r in runs) log.WriteLine(string.Join("; ", r.Result.Diagnostics));

        Assert.True(Accuracy(fl.Logits, y) > 0.95, "the float model itself is trained");
        foreach (var r in runs.Skip(1))
        {
            Assert.True(Agreement(fl.Logits, r.Logits) >= 0.99, $"{r.Mode}: top-1 agreement {Agreement(fl.Logits, r.Logits):P2} < 99%");
            Assert.True(Sqnr(fl.Logits, r.Logits) >= 30, $"{r.Mode}: SQNR {Sqnr(fl.Logits, r.Logits):F1} dB < 30 dB");
            // 3784 weights: 4x smaller as int8; the per-channel scales, the 34 biases (float, or int32 under Int8) and
            // the activations' scales are the rest of the bytes, several percent on a model this small, plus, under
            // Int8, the requantization multiplier and shift per channel and the kernels' zero padding of rows to even
            // lengths and channels to blocks of 4 (openWakeWord's models reach 3.9x with Weights, 3.84x with Int8)
            Assert.True(fl.Result.WeightBytes >= 3.5 * r.Result.WeightBytes, $"{r.Mode}: weights {r.Result.WeightBytes} bytes vs float {fl.Result.WeightBytes}");
        }
    }

    [Theory]
    [InlineData("embedding_model.onnx", "1,76,32,1")]
    [InlineData("hey_jarvis_v0.1.onnx", "")]
    public void OpenWakeWordWeightsAreFourTimesSmallerAndCloseToFloat(string file, string inputShape)
    {
        var path = Models.Path_(file);
        var fl = Harness.Build(path, new ModelOptions { InputShape = inputShape, ClassName = "F" });
        var w8o = new ModelOptions { InputShape = inputShape, ClassName = "W", Quantize = QuantizeMode.Weights };
        var w8 = Harness.Build(path, w8o);
        long fb = Harness.Generate(path, new ModelOptions { InputShape = inputShape }).WeightBytes, qb = Harness.Generate(path, w8o).WeightBytes;
        int inLen = fl.ModelType.GetFields().Where(f => f.Name.EndsWith("Length")).Select(f => Convert.ToInt32(f.GetValue(null))).First();
        int outLen = fl.ModelType.GetFields().Where(f => f.Name.EndsWith("Length")).Select(f => Convert.ToInt32(f.GetValue(null))).Last();
        var x = Ort.Random(inLen, 7);
        float[] a = new float[outLen], b = new float[outLen];
        fl.Run(x, a); w8.Run(x, b);
        log.WriteLine($"{file}: weights {fb} -> {qb} bytes ({(double)fb / qb:F2}x), SQNR {Sqnr(a, b):F1} dB");
        // int8 weights plus float per-channel scales and float biases: 3.94x (hey_jarvis), 3.89x (embedding, many channels)
        Assert.True(fb >= 3.85 * qb, $"weights {fb} -> {qb}");
        Assert.True(Sqnr(a, b) >= 25, $"SQNR {Sqnr(a, b):F1} dB");
    }

    [Fact]
    public void Int8IoTakesAndReturnsSbyteWithPublicScaleAndZeroPoint()
    {
        var o = new ModelOptions { ClassName = "DigitsIo", Quantize = QuantizeMode.Int8, QuantizeIO = QuantizeIO.Int8 };
        var r = Compile(o, Calib);
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        Assert.Contains("ReadOnlySpan<sbyte> image", r.Source);
        Assert.Contains("Span<sbyte> logits", r.Source);
        var m = CompiledModel.FromSource(r.Source!, r.ClassName!, null, TargetProfile.Net);
        float Get(string name) => Convert.ToSingle(m.ModelType.GetField(name)!.GetValue(null));
        float inS = Get("ImageScale"), outS = Get("LogitsScale");
        int inZ = (int)Get("ImageZeroPoint"), outZ = (int)Get("LogitsZeroPoint");
        Assert.Equal(-128, inZ); // the input range is [0, 1]

        // same answers as the float-in/float-out Int8 build, through the documented scale and zero point
        var fo = Evaluate("Int8", new ModelOptions { ClassName = "DigitsI8", Quantize = QuantizeMode.Int8 }, Calib);
        var x = Floats("test_x.bin");
        int n = x.Length / Pixels, agree = 0;
        var xq = new sbyte[Pixels]; var yq = new sbyte[Classes]; var y = new float[Classes];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < Pixels; j++) xq[j] = (sbyte)Math.Clamp(Math.Round(x[i * Pixels + j] / inS, MidpointRounding.ToEven) + inZ, -128, 127);
            m.Run(xq, yq);
            for (int j = 0; j < Classes; j++) y[j] = (yq[j] - outZ) * outS;
            for (int j = 0; j < Classes; j++) Assert.True(Math.Abs(y[j] - fo.Logits[i * Classes + j]) <= outS * 1.01f, $"digit {i} logit {j}: {y[j]} vs {fo.Logits[i * Classes + j]}");
            if (ArgMax(y, 0) == ArgMax(fo.Logits, i * Classes)) agree++;
        }
        Assert.True(agree >= n - 2, $"{agree} of {n}");
    }

    [Fact]
    public void PortableProfileCompilesForNanoFramework()
    {
        foreach (var mode in new[] { QuantizeMode.Weights, QuantizeMode.Int8 })
        {
            var r = Compile(new ModelOptions { ClassName = "Digits", Target = TargetProfile.Portable, Quantize = mode }, Calib);
            Assert.True(r.Success, string.Join("\n", r.Diagnostics));
            Assert.Empty(Harness.CompileNano(r.Source!));
        }
    }

    [Fact]
    public void NpyCalibrationGivesTheSameModelAsRawFloats()
    {
        var raw = File.ReadAllBytes(Path.Combine(Dir, "calib.bin"));
        var o = new ModelOptions { ClassName = "D", Quantize = QuantizeMode.Int8 };
        var a = Compile(o, new[] { new CalibrationFile("calib.bin", raw) });
        var b = Compile(o, new[] { new CalibrationFile("calib.npy", Npy("<f4", raw.Length / 4 / Pixels, raw)) });
        Assert.True(b.Success, string.Join("\n", b.Diagnostics));
        Assert.Equal(a.Source, b.Source);
        var c = Compile(o, new[] { new CalibrationFile("calib.npy", Npy("<f8", 1, new byte[Pixels * 8])) });
        var d = Assert.Single(c.Diagnostics);
        Assert.Equal("MG0015", d.Kind.Id);
        Assert.Contains("calib.npy", d.Message);
        Assert.Contains("<f4", d.Message);
    }

    static byte[] Npy(string descr, int n, byte[] data)
    {
        var header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({n}, 1, 8, 8), }}";
        header = header.PadRight((header.Length + 10 + 64) / 64 * 64 - 10 - 1) + "\n";
        var h = System.Text.Encoding.ASCII.GetBytes(header);
        var b = new List<byte> { 0x93 };
        b.AddRange(System.Text.Encoding.ASCII.GetBytes("NUMPY"));
        b.AddRange(new byte[] { 1, 0, (byte)h.Length, (byte)(h.Length >> 8) });
        b.AddRange(h);
        b.AddRange(data);
        return b.ToArray();
    }

    [Fact]
    public void Int8WithoutCalibrationIsAClearError()
    {
        var r = Compile(new ModelOptions { Quantize = QuantizeMode.Int8 });
        var d = Assert.Single(r.Diagnostics);
        Assert.Equal("MG0014", d.Kind.Id);
        Assert.Equal(DiagSeverity.Error, d.Kind.Severity);
        Assert.Contains("digits_cnn.onnx", d.Message);
        Assert.Contains("Calibration=\"data/*.bin\"", d.Message);
        Assert.Contains("'image' [1,1,8,8] (64 floats each)", d.Message);

        var g = Compile(new ModelOptions { Quantize = QuantizeMode.Int8, Calibration = "data/*.bin" }, Array.Empty<CalibrationFile>());
        Assert.Contains("Calibration=\"data/*.bin\" matched no files", Assert.Single(g.Diagnostics).Message);
        Assert.False(g.Success);
    }

    [Fact]
    public void CalibrationFileOfPartialSamplesNamesTheFile()
    {
        var r = Compile(new ModelOptions { Quantize = QuantizeMode.Int8 }, new[] { new CalibrationFile("/data/bad_sample.bin", new byte[64 * 4 + 8]) });
        var d = Assert.Single(r.Diagnostics);
        Assert.Equal("MG0015", d.Kind.Id);
        Assert.Contains("'bad_sample.bin'", d.Message);
        Assert.Contains("264 bytes", d.Message);
    }

    [Fact]
    public void UnsupportedModelsForInt8AreDiagnosed()
    {
        var dir = Path.Combine(Path.GetTempPath(), "modelgen-q-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            // two inputs: a sample holds both, in input order; a file of half a sample says so
            var two = Path.Combine(dir, "two.onnx");
            File.WriteAllBytes(two, new OnnxBuilder().Input("a", DType.Float, 1, 4).Input("b", DType.Float, 4)
                .Node("Add", new[] { "a", "b" }, new[] { "y" }).Output("y").Build());
            var r = ModelCompiler.Compile(File.ReadAllBytes(two), two, new ModelOptions { Quantize = QuantizeMode.Int8 }, new[] { new CalibrationFile("c.bin", new byte[16]) });
            var d = Assert.Single(r.Diagnostics);
            Assert.Equal("MG0015", d.Kind.Id);
            Assert.Contains("samples of inputs 'a' [1,4] then 'b' [4] (8 floats each), 32 bytes each", d.Message);
            Assert.True(ModelCompiler.Compile(File.ReadAllBytes(two), two, new ModelOptions { Quantize = QuantizeMode.Int8 }, new[] { new CalibrationFile("c.bin", new byte[64]) }).Success);
            var io = ModelCompiler.Compile(File.ReadAllBytes(two), two, new ModelOptions { Quantize = QuantizeMode.Int8, QuantizeIO = QuantizeIO.Int8 }, new[] { new CalibrationFile("c.bin", new byte[64]) });
            Assert.True(io.Success, string.Join("\n", io.Diagnostics));
            Assert.Contains("ReadOnlySpan<sbyte> a, ReadOnlySpan<sbyte> b", io.Source);

            // an integer input is not calibrated: bind it with ConstantInputs
            var ids = Path.Combine(dir, "ids.onnx");
            File.WriteAllBytes(ids, new OnnxBuilder().Input("a", DType.Float, 1, 4).Input("n", DType.Int64, 1)
                .Node("Cast", new[] { "n" }, new[] { "nf" }, ("to", 1L)).Node("Mul", new[] { "a", "nf" }, new[] { "y" }).Output("y").Build());
            d = Assert.Single(ModelCompiler.Compile(File.ReadAllBytes(ids), ids, new ModelOptions { Quantize = QuantizeMode.Int8 }, new[] { new CalibrationFile("c.bin", new byte[16]) }).Diagnostics);
            Assert.Equal("MG0015", d.Kind.Id);
            Assert.Contains("input 'n' is int64. Bind it at build time with ConstantInputs", d.Message);
            var bound = ModelCompiler.Compile(File.ReadAllBytes(ids), ids, new ModelOptions { Quantize = QuantizeMode.Int8, ConstantInputs = "n=3" }, new[] { new CalibrationFile("c.bin", new byte[16]) });
            Assert.True(bound.Success, string.Join("\n", bound.Diagnostics));

            // an operator calibration cannot run at build time: names the node and the way out
            var lstm = Path.Combine(dir, "loop.onnx");
            File.WriteAllBytes(lstm, new OnnxBuilder().Input("x", DType.Float, 1, 4)
                .Node("NonZero", new[] { "x" }, new[] { "nz" }).Node("Cast", new[] { "nz" }, new[] { "y" }, ("to", 1L)).Output("y").Build());
            r = ModelCompiler.Compile(File.ReadAllBytes(lstm), lstm, new ModelOptions { Quantize = QuantizeMode.Int8 }, new[] { new CalibrationFile("c.bin", new byte[16]) });
            Assert.False(r.Success);

            // QuantizeIO=Int8 without Int8, an invalid option
            r = ModelCompiler.Compile(File.ReadAllBytes(two), two, new ModelOptions { QuantizeIO = QuantizeIO.Int8 });
            Assert.Equal("MG0008", Assert.Single(r.Diagnostics).Kind.Id);
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>
    /// Attention's products of two activations have no integer kernel (those take int8 weights compiled in): Int8
    /// leaves them float, with no QuantizeLinear on their operands or result, while the products with constant
    /// weights around them become integer kernels; the output stays within the quantization's error of float.
    /// </summary>
    [Fact]
    public void ProductsOfTwoActivationsStayFloat()
    {
        var rng = new Random(5);
        float[] W(int n) { var a = new float[n]; for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() - 0.5); return a; }
        var model = new OnnxBuilder().Input("x", DType.Float, 8, 16)
            .Initializer("wq", new[] { 16, 16 }, W(256)).Initializer("wk", new[] { 16, 16 }, W(256)).Initializer("wo", new[] { 16, 4 }, W(64))
            .Node("MatMul", new[] { "x", "wq" }, new[] { "q" }).Node("MatMul", new[] { "x", "wk" }, new[] { "k" })
            .Node("Transpose", new[] { "k" }, new[] { "kt" }, ("perm", new long[] { 1, 0 }))
            .Node("MatMul", new[] { "q", "kt" }, new[] { "scores" }).Node("Softmax", new[] { "scores" }, new[] { "p" }, ("axis", -1L))
            .Node("MatMul", new[] { "p", "q" }, new[] { "ctx" }).Node("MatMul", new[] { "ctx", "wo" }, new[] { "y" }).Output("y").Build();
        var samples = new byte[16 * 128 * 4];
        for (int i = 0; i < samples.Length / 4; i++) BitConverter.TryWriteBytes(samples.AsSpan(4 * i), (float)(rng.NextDouble() * 2 - 1));
        var calib = new[] { new CalibrationFile("c.bin", samples) };
        var r = ModelCompiler.Compile(model, "attn.onnx", new ModelOptions { ClassName = "A", Quantize = QuantizeMode.Int8 }, calib);
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        var layers = r.Source!.Split('\n').Where(l => l.StartsWith("//") && l.Contains(" [")).ToList();
        foreach (var l in layers) log.WriteLine(l);
        Assert.Equal(3, layers.Count(l => l.Contains("QGemmInt8")));
        Assert.Equal(2, layers.Count(l => l.Contains(" MatMul ")));
        Assert.DoesNotContain(layers, l => l.EndsWith(" scores_QuantizeLinear") || l.EndsWith(" p_QuantizeLinear"));

        // against float, on a held-out input
        var x = new float[128];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        var f = ModelCompiler.Compile(model, "attn.onnx", new ModelOptions { ClassName = "F" });
        float[] yf = new float[32], yq = new float[32];
        CompiledModel.FromSource(f.Source!, "F", null, TargetProfile.Net).Run(x, yf);
        CompiledModel.FromSource(r.Source!, "A", null, TargetProfile.Net).Run(x, yq);
        double sig = 0, noise = 0;
        for (int i = 0; i < yf.Length; i++) { sig += yf[i] * yf[i]; noise += (yf[i] - yq[i]) * (yf[i] - yq[i]); }
        Assert.True(10 * Math.Log10(sig / noise) > 25, $"SQNR {10 * Math.Log10(sig / noise):F1} dB");
    }

    [Fact]
    public void QdqGraphHasOrtsLayout()
    {
        // the quantizer's own output, before the lowering passes turn it into integer kernels
        var r = Compile(new ModelOptions { ClassName = "D", Quantize = QuantizeMode.Int8, DisabledPasses = "QdqConvGemmLowering,QdqPassThrough,DequantizeFolding" }, Calib);
        var table = r.Source!.Split('\n').Where(l => l.StartsWith("//") && (l.Contains("QuantizeLinear") || l.Contains("DequantizeLinear"))).ToList();
        foreach (var l in table) log.WriteLine(l);
        // weights of the two Convs and the Gemm, their int32 biases, and Q/DQ on image, conv1, conv2 (ReLU absorbed),
        // the pool output that keeps conv2's scale, Flatten's, and the logits
        Assert.Equal(6, table.Count(l => l.Contains("DequantizeLinear") && (l.Contains("weight") || l.Contains("bias"))));

        // lowered: both Convs and the Gemm run as integer kernels, no weight is dequantized at run time
        var lowered = Compile(new ModelOptions { ClassName = "D", Quantize = QuantizeMode.Int8 }, Calib).Source!.Split('\n').Where(l => l.StartsWith("//")).ToList();
        Assert.Equal(2, lowered.Count(l => l.Contains("QConvInt8")));
        Assert.Equal(1, lowered.Count(l => l.Contains("QGemmInt8")));
        Assert.DoesNotContain(lowered, l => l.Contains("DequantizeLinear") && (l.Contains("weight") || l.Contains("bias")));
    }

    /// <summary>
    /// A model included as "../models/m.onnx" keeps that spelling in its AdditionalFiles path, while the calibration
    /// file's ModelGenCalibrationFor is MSBuild's normalised full path: both must name the same model.
    /// </summary>
    [Theory]
    [InlineData("/p/app/../models/m.onnx", "/p/models/m.onnx")]
    [InlineData("/p/./models/x/../m.onnx", "/p/models/m.onnx")]
    [InlineData(@"C:\p\app\..\m.onnx", "C:/p/m.onnx")]
    [InlineData("../m.onnx", "../m.onnx")]
    public void CalibrationPathsMatchTheirModelWhateverTheSpelling(string path, string normalised)
        => Assert.Equal(normalised, ModelGen.Compiler.Roslyn.ModelGenGenerator.Normalize(path));

    [Fact]
    public void GeneratorTakesCalibrationFromAdditionalFilesAndRebuildsWhenTheDataChanges()
    {
        var dir = Path.Combine(Path.GetTempPath(), "modelgen-qgen-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var model = Path.Combine(dir, "tiny.onnx");
            File.WriteAllBytes(model, TestModels.TinyMlp());
            var calib = Path.Combine(dir, "calib.bin");
            byte[] Samples(int seed) { var f = Ort.Random(4 * 50, seed); var b = new byte[f.Length * 4]; Buffer.BlockCopy(f, 0, b, 0, b.Length); return b; }
            File.WriteAllBytes(calib, Samples(1));
            Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptionsProvider Opts(string quantize) => new Options(new(), new()
            {
                [model] = new() { ["build_metadata.AdditionalFiles.ModelGenClassName"] = "Tiny", ["build_metadata.AdditionalFiles.ModelGenNamespace"] = "App.Models",
                    ["build_metadata.AdditionalFiles.ModelGenQuantize"] = quantize, ["build_metadata.AdditionalFiles.ModelGenCalibration"] = "*.bin" },
                [calib] = new() { ["build_metadata.AdditionalFiles.ModelGenCalibrationFor"] = model },
            });
            var parse = new Microsoft.CodeAnalysis.CSharp.CSharpParseOptions(Microsoft.CodeAnalysis.CSharp.LanguageVersion.Latest);
            var comp = Microsoft.CodeAnalysis.CSharp.CSharpCompilation.Create("App", new[] { Microsoft.CodeAnalysis.CSharp.CSharpSyntaxTree.ParseText("class A {}", parse) }, Harness.NetReferences);
            var modelText = new FileText(model); var calibText = new FileText(calib);
            Microsoft.CodeAnalysis.GeneratorDriver driver = Microsoft.CodeAnalysis.CSharp.CSharpGeneratorDriver.Create(
                new[] { new ModelGen.Compiler.Roslyn.ModelGenGenerator().AsSourceGenerator() }, new Microsoft.CodeAnalysis.AdditionalText[] { modelText, calibText }, parse, Opts("Int8"),
                new Microsoft.CodeAnalysis.GeneratorDriverOptions(Microsoft.CodeAnalysis.IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));
            Microsoft.CodeAnalysis.IncrementalStepRunReason[] Reasons() => driver.GetRunResult().Results.Single().TrackedSteps[ModelGen.Compiler.Roslyn.ModelGenGenerator.CompileStep].SelectMany(r => r.Outputs).Select(o => o.Reason).ToArray();
            string Source() => driver.GetRunResult().GeneratedTrees.Single().ToString();

            driver = driver.RunGenerators(comp);
            var diags = driver.GetRunResult().Diagnostics;
            Assert.Contains(diags, d => d.Id == "MG0010" && d.GetMessage().Contains("calibrated on 50 samples"));
            var first = Source();
            Assert.Contains("QuantizeLinear", first);

            // an unrelated edit: no model work
            driver = driver.RunGenerators(comp.AddSyntaxTrees(Microsoft.CodeAnalysis.CSharp.CSharpSyntaxTree.ParseText("class B {}", parse)));
            Assert.Equal(new[] { Microsoft.CodeAnalysis.IncrementalStepRunReason.Cached }, Reasons());

            // the calibration data changes: the model recompiles with new scales
            File.WriteAllBytes(calib, Samples(2));
            var calib2 = new FileText(calib);
            driver = driver.ReplaceAdditionalText(calibText, calib2).RunGenerators(comp);
            Assert.Equal(new[] { Microsoft.CodeAnalysis.IncrementalStepRunReason.Modified }, Reasons());
            Assert.NotEqual(first, Source());

            // no data: MG0014 naming the glob; an invalid Quantize value: MG0008
            driver = driver.RemoveAdditionalTexts(ImmutableArrayOf(calib2)).RunGenerators(comp);
            Assert.Contains(driver.GetRunResult().Diagnostics, d => d.Id == "MG0014" && d.GetMessage().Contains("Calibration=\"*.bin\" matched no files"));
            driver = driver.WithUpdatedAnalyzerConfigOptions(Opts("Int4")).RunGenerators(comp);
            Assert.Contains(driver.GetRunResult().Diagnostics, d => d.Id == "MG0008" && d.GetMessage().Contains("Quantize 'Int4' is not one of None, Weights, Int8"));
        }
        finally { Directory.Delete(dir, true); }
    }

    static System.Collections.Immutable.ImmutableArray<Microsoft.CodeAnalysis.AdditionalText> ImmutableArrayOf(Microsoft.CodeAnalysis.AdditionalText t) =>
        System.Collections.Immutable.ImmutableArray.Create(t);
}
