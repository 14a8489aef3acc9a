using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ModelGen.Compiler;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Onnx.Proto;
using ModelGen.Compiler.Passes;
using ModelGen.Compiler.Quantization;
using Xunit;
using Xunit.Abstractions;

namespace ModelGen.Tests;

/// <summary>
/// ONNX Runtime as the oracle for ModelGen's own Int8 models: the graph Quantize="Int8" writes (QDQ, before the
/// lowering to integer kernels) is saved as ONNX (OnnxWriter) and run by ONNX Runtime, and the generated Predict of
/// the same model (lowered, both profiles) must agree with it on the output's int8 grid.
/// </summary>
public sealed class Int8OracleTests(ITestOutputHelper log)
{
    /// <summary>The lowering passes by name (DeadNodeElimination is shared with the float passes and harmless).</summary>
    static readonly string Unlowered = string.Join(",", PassManager.Lowering.Select(p => p.Name).Where(n => n != "DeadNodeElimination").Distinct());

    /// <summary>The QDQ graph the compiler quantizes <paramref name="model"/> to, as ONNX, and its output's quantization step.</summary>
    static (byte[] Onnx, float Step) QdqModel(byte[] model, IReadOnlyList<CalibrationFile> calib)
    {
        var m = ModelCompiler.Optimize(model, new ModelOptions { Quantize = QuantizeMode.Int8, DisabledPasses = Unlowered }, calib, out _, out _);
        Assert.DoesNotContain(m.Graph.Nodes, n => n.OpType is "QConvInt8" or "QGemmInt8");
        var dq = m.Graph.Outputs[0].Producer;
        Assert.True(dq?.OpType == "DequantizeLinear", $"the output comes from {dq?.OpType}, not a DequantizeLinear: it is not on an int8 grid");
        return (OnnxWriter.Write(m), dq!.In(1).Const.F[0]);
    }

    /// <summary>One sample: a float array per input, in the model's input order.</summary>
    static List<NamedOnnxValue> Feeds(InferenceSession s, float[][] x) =>
        s.InputMetadata.Select((kv, i) => NamedOnnxValue.CreateFromTensor(kv.Key, new DenseTensor<float>(x[i], kv.Value.Dimensions))).ToList();

    static float[] RunOrt(byte[] model, float[][] x, GraphOptimizationLevel level)
    {
        using var opts = new SessionOptions { IntraOpNumThreads = 1, GraphOptimizationLevel = level };
        using var s = new InferenceSession(model, opts);
        using var r = s.Run(Feeds(s, x));
        return r.First().AsTensor<float>().ToArray();
    }

    /// <summary>How far one run is from another, in quantization steps of the output: a histogram (0, 1, 2, more).</summary>
    sealed class Steps
    {
        public readonly long[] Count = new long[4];
        public int Max;
        public void Add(float[] a, float[] b, float step)
        {
            Assert.Equal(a.Length, b.Length);
            for (int i = 0; i < a.Length; i++)
            {
                int k = (int)Math.Round(Math.Abs(a[i] - b[i]) / step);
                Max = Math.Max(Max, k);
                Count[Math.Min(k, 3)]++;
            }
        }
        public long Total => Count.Sum();
        public override string ToString() => $"max {Max} step(s), exact {Count[0] / (double)Total:P2}, 1 step {Count[1] / (double)Total:P2}, 2 steps {Count[2] / (double)Total:P2}, more {Count[3] / (double)Total:P2} of {Total}";
    }

    /// <summary>
    /// Quantizes <paramref name="model"/> (Int8, calibrated on <paramref name="calib"/>), then runs every input through ONNX
    /// Runtime (the QDQ graph, with its graph optimisations: its QLinear kernels; and without: the float simulation the
    /// ONNX spec defines) and through the generated Predict (Net and Portable). Asserts that every integer operator, given
    /// ONNX Runtime's int8 inputs, is within one step of ONNX Runtime's output (the spec leaves the rounding of values
    /// within float error of a rounding boundary open: ONNX Runtime sums the float products of DequantizeLinear's outputs
    /// and rounds half to even, TensorFlow Lite's arithmetic sums exactly in int32 and requantizes by a 31-bit fixed-point
    /// multiplier), and that the outputs are within <paramref name="endToEnd"/> steps: 1 unless the caller says why not.
    /// </summary>
    void Check(string name, byte[] model, IReadOnlyList<CalibrationFile> calib, IReadOnlyList<float[][]> inputs, int endToEnd = 1)
    {
        var (qdq, step) = QdqModel(model, calib);
        var vsOrt = new Dictionary<string, Steps>();
        foreach (var target in new[] { TargetProfile.Net, TargetProfile.Portable })
        {
            var r = ModelCompiler.Compile(model, name + ".onnx", new ModelOptions { ClassName = "Q", Target = target, Quantize = QuantizeMode.Int8 }, calib);
            Assert.True(r.Success, string.Join("\n", r.Diagnostics));
            Assert.DoesNotContain(r.Diagnostics, d => d.Kind.Id == "MG0013");
            if (target == TargetProfile.Portable) Assert.Empty(Harness.CompileNano(r.Source!));
            var ours = CompiledModel.FromSource(r.Source!, "Q", "", target);
            foreach (var level in new[] { GraphOptimizationLevel.ORT_ENABLE_ALL, GraphOptimizationLevel.ORT_DISABLE_ALL })
            {
                var s = new Steps();
                foreach (var x in inputs)
                {
                    var want = RunOrt(qdq, x, level);
                    var got = new float[want.Length];
                    ours.Run(x.Append<Array>(got).ToArray());
                    s.Add(got, want, step);
                }
                vsOrt[$"{target} vs ORT {(level == GraphOptimizationLevel.ORT_ENABLE_ALL ? "optimised" : "unoptimised")}"] = s;
            }
        }
        // ONNX Runtime's own two executions of the QDQ graph: its int8 kernels against the float simulation
        var self = new Steps();
        foreach (var x in inputs) self.Add(RunOrt(qdq, x, GraphOptimizationLevel.ORT_ENABLE_ALL), RunOrt(qdq, x, GraphOptimizationLevel.ORT_DISABLE_ALL), step);
        vsOrt["ORT optimised vs ORT unoptimised"] = self;
        foreach (var (what, s) in vsOrt) log.WriteLine($"{name}: {what}: {s}");
        // layer by layer against the float simulation, the QDQ graph as the ONNX spec defines it
        var layers = Layers(model, calib, qdq, inputs.Take(4), GraphOptimizationLevel.ORT_DISABLE_ALL);
        log.WriteLine($"{name}, layer by layer against ONNX Runtime: local (our operator on ORT's int8 inputs) / drift (on our own inputs)");
        foreach (var (tensor, local, drift) in layers) log.WriteLine($"  {tensor}: local {local}; drift max {drift.Max}, exact {drift.Count[0] / (double)drift.Total:P1}");
        foreach (var (tensor, local, _) in layers) Assert.True(local.Max <= 1, $"{name}: {tensor} on ONNX Runtime's inputs: {local}");
        foreach (var (what, s) in vsOrt) Assert.True(s.Max <= endToEnd, $"{name}: {what}: {s}");
    }

    /// <summary>
    /// Layer by layer: every int8 tensor an operator of the lowered graph computes, evaluated by the operators' reference
    /// code (which the generated kernels match bit for bit) on ONNX Runtime's int8 inputs to that operator ("local": the
    /// operator's own rounding), and on our own inputs ("drift": what the layers before carried in), against the same
    /// QuantizeLinear output in ONNX Runtime's run of the QDQ graph, in steps of that tensor.
    /// </summary>
    static List<(string Tensor, Steps Local, Steps Drift)> Layers(byte[] model, IReadOnlyList<CalibrationFile> calib, byte[] qdq, IEnumerable<float[][]> inputs, GraphOptimizationLevel level)
    {
        var g = ModelCompiler.Optimize(model, new ModelOptions { Quantize = QuantizeMode.Int8 }, calib, out _, out _).Graph;
        var graphInputs = g.Inputs.FindAll(v => !v.IsConst);
        // ONNX Runtime with every QuantizeLinear output as a graph output
        var p = ModelProto.Parser.ParseFrom(qdq);
        foreach (var n in p.Graph.Node.Where(n => n.OpType == "QuantizeLinear"))
            p.Graph.Output.Add(new ValueInfoProto { Name = n.Output[0], Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DType.Int8 } } });
        using var session = new InferenceSession(p.ToByteArray(), new SessionOptions { IntraOpNumThreads = 1, GraphOptimizationLevel = level });
        var rows = new Dictionary<Value, (Steps Local, Steps Drift)>();
        foreach (var x in inputs)
        {
            using var r = session.Run(Feeds(session, x));
            var ort = r.Where(v => v.Value is DenseTensor<sbyte>).ToDictionary(v => v.Name, v => v.AsTensor<sbyte>().Select(b => (float)b).ToArray());
            var ours = graphInputs.Select((v, i) => (v, new TensorData(DType.Float, v.Shape, f: x[i]))).ToDictionary(e => e.v, e => e.Item2);
            TensorData[] Eval(Node n, Func<Value, TensorData> arg) =>
                ModelGen.Compiler.Operators.OperatorRegistry.Find(n.Domain, n.OpType, n.Opset)!.Evaluate(n, n.Inputs.Select(v => v == null ? null : v.IsConst ? v.Const : arg(v)).ToArray());
            TensorData FromOrt(Value v) => v.Type == DType.Int8 && ort.TryGetValue(v.Name, out var t) ? new TensorData(DType.Int8, v.Shape, l: t.Select(f => (long)f).ToArray()) : ours[v];
            float[] Floats(TensorData t) => t.L.Select(l => (float)l).ToArray();
            foreach (var n in g.Nodes)
            {
                var drift = Eval(n, v => ours[v]);
                for (int i = 0; i < drift.Length; i++) ours[n.Outputs[i]] = drift[i];
                if (n.Outputs.Count != 1 || n.Out().Type != DType.Int8 || !ort.TryGetValue(n.Out().Name, out var want)) continue;
                if (!rows.TryGetValue(n.Out(), out var row)) rows[n.Out()] = row = (new Steps(), new Steps());
                row.Local.Add(Floats(Eval(n, FromOrt)[0]), want, 1);
                row.Drift.Add(Floats(drift[0]), want, 1);
            }
        }
        return rows.Select(kv => ($"{kv.Key.Producer!.OpType} -> {kv.Key.Name}", kv.Value.Local, kv.Value.Drift)).ToList();
    }

    /// <summary>A calibration file: the samples back to back, each its inputs back to back in the model's order.</summary>
    static CalibrationFile Samples(IEnumerable<float[][]> samples)
    {
        var f = samples.SelectMany(s => s.SelectMany(x => x)).ToArray();
        var b = new byte[f.Length * 4];
        Buffer.BlockCopy(f, 0, b, 0, b.Length);
        return new CalibrationFile("calib.bin", b);
    }

    /// <summary>Random samples of a model whose inputs have these lengths.</summary>
    static List<float[][]> Random(int[] lengths, int first, int count, float scale = 1f) =>
        Enumerable.Range(first, count).Select(seed => lengths.Select((n, i) => Ort.Random(n, seed * 10 + i, scale)).ToArray()).ToList();

    /// <summary>
    /// Why an integer operator is sometimes one step from ONNX Runtime on the same int8 inputs: ONNX Runtime rounds
    /// acc x scale once, half to even; TensorFlow Lite's requantization (FixedPoint, which our kernels implement bit for
    /// bit) first rounds acc x multiplier to an integer that keeps only k fractional bits of the output, k its right
    /// shift (the doubling high multiply), then rounds that, ties away from zero. The two differ only where the exact value
    /// lies within the first rounding's reach, 2^-(k+1) steps, of a half-way point: about 2^-k of all values (0.05-0.4 %
    /// at the layers' shifts, the share the local column of Check's log shows). Checked here on the exact product.
    /// </summary>
    [Fact]
    public void TfliteRequantizationDiffersFromOneRoundingOnlyNearHalfway()
    {
        var r = new Random(1);
        int off = 0, n = 200_000;
        for (int i = 0; i < n; i++)
        {
            double real = Math.Pow(2, -4 - 10 * r.NextDouble()); // layer scales sx * sw / sy from 2^-4 to 2^-14
            ModelGen.Compiler.Quant.FixedPoint.QuantizeMultiplier(real, out int m, out int shift);
            int acc = r.Next(-1 << 20, 1 << 20);
            double exact = (double)acc * m * Math.Pow(2, shift - 31); // exact in double: |acc x m| < 2^51
            long once = (long)Math.Round(exact, MidpointRounding.ToEven);
            int twice = ModelGen.Compiler.Quant.FixedPoint.MultiplyByQuantizedMultiplier(acc, m, shift);
            if (twice == once) continue;
            off++;
            Assert.Equal(1, Math.Abs(twice - once));
            double fromHalf = Math.Abs(exact - Math.Floor(exact) - 0.5);
            Assert.True(fromHalf <= Math.Pow(2, shift - 1), $"acc {acc} x {real}: exact {exact}, {fromHalf} from half-way, TFLite {twice}, once {once}");
        }
        log.WriteLine($"{off} of {n} ({off / (double)n:P3}) one step apart, all within the first rounding's reach of half-way");
    }

    // ---------- real models ----------

    [Fact]
    public void DigitsCnnAgreesWithOrt()
    {
        var dir = Path.Combine(Harness.RepoRoot, "tests", "models", "digits");
        var x = File.ReadAllBytes(Path.Combine(dir, "test_x.bin"));
        var f = new float[x.Length / 4];
        Buffer.BlockCopy(x, 0, f, 0, x.Length);
        var inputs = Enumerable.Range(0, f.Length / 64).Select(i => new[] { f.AsSpan(i * 64, 64).ToArray() }).ToList();
        Check("digits_cnn", File.ReadAllBytes(Path.Combine(dir, "digits_cnn.onnx")),
            new[] { new CalibrationFile("calib.bin", File.ReadAllBytes(Path.Combine(dir, "calib.bin"))) }, inputs);
    }

    /// <summary>
    /// The MLPerf Tiny models, calibrated on 8 random inputs, compared on 8 others. The classifiers' final Softmax runs in
    /// float after the last quantized tensor in both, so it is cut off: the logits are what sit on the int8 grid.
    /// Every layer is within one step of ONNX Runtime on ONNX Runtime's inputs (asserted in Check), but a layer's one-step
    /// differences are its next layer's input differences, and they grow with depth: the end-to-end bounds of the two
    /// deepest models are that propagation, measured layer by layer in the test's log ("drift"). fc_autoencoder: 10 Gemm
    /// layers, the drift reaches 5 steps inside and 2 at the output. MobileNetV1 (28 convolutions): the drift reaches
    /// about 55 steps in the last convolutions and 27 at its 2 logits (on noise inputs), where ONNX Runtime's own two
    /// executions (its int8 kernels and the float simulation) end 7 steps apart; ds_cnn and ResNet-8 average it out in their pooling and stay within one step.
    /// </summary>
    [Theory]
    [InlineData("ds_cnn.onnx", 1)]
    [InlineData("mobilenet_v1_025.onnx", 40)]
    [InlineData("resnet8.onnx", 1)]
    [InlineData("fc_autoencoder.onnx", 2)]
    public void MlperfTinyAgreesWithOrt(string file, int endToEnd)
    {
        var m = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Models.MlperfPath(file)));
        var last = m.Graph.Node[m.Graph.Node.Count - 1];
        if (last.OpType == "Softmax")
        {
            m.Graph.Node.Remove(last);
            m.Graph.Output[0].Name = last.Input[0];
        }
        int length = Models.Mlperf.Single(e => e.File == file).Shape.Aggregate(1, (a, d) => a * d);
        Check(Path.GetFileNameWithoutExtension(file), m.ToByteArray(), new[] { Samples(Random(new[] { length }, 1, 8)) }, Random(new[] { length }, 100, 8), endToEnd);
    }

    // ---------- small graphs, one quantized operator each ----------

    const int C = 4, H = 8, W = 8;

    /// <summary>x [1, 4, 8, 8] -> Conv (4 -> <paramref name="m"/>, 3x3, padded, random weights) -> "c"; the caller adds the rest.</summary>
    static OnnxBuilder ConvInput(int m = C, int seed = 1, string output = "c", OnnxBuilder? b = null)
    {
        b ??= new OnnxBuilder().Input("x", DType.Float, 1, C, H, W);
        var r = new Random(seed);
        float[] F(int n, float s) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1) * s).ToArray();
        return b.Initializer(output + "_w", new[] { m, C, 3, 3 }, F(m * C * 9, 0.3f)).Initializer(output + "_b", new[] { m }, F(m, 0.2f))
            .Node("Conv", new[] { "x", output + "_w", output + "_b" }, new[] { output }, ("pads", new long[] { 1, 1, 1, 1 }));
    }

    /// <summary>Name, model, end-to-end bound in steps (1 unless the comment says why).</summary>
    public static IEnumerable<object[]> Graphs()
    {
        yield return new object[] { "Conv+Relu", ConvInput(8).Node("Relu", new[] { "c" }, new[] { "y" }).Output("y").Build(), 1 };
        yield return new object[] { "Conv+Clip6", ConvInput(8).Initializer("lo", Array.Empty<int>(), new[] { 0f }).Initializer("hi", Array.Empty<int>(), new[] { 0.8f })
            .Node("Clip", new[] { "c", "lo", "hi" }, new[] { "y" }).Output("y").Build(), 1 };
        var r = new Random(3);
        yield return new object[] { "Gemm", new OnnxBuilder().Input("x", DType.Float, 2, 37)
            .Initializer("w", new[] { 10, 37 }, Enumerable.Range(0, 370).Select(_ => (float)(r.NextDouble() - 0.5)).ToArray())
            .Initializer("b", new[] { 10 }, Enumerable.Range(0, 10).Select(_ => (float)(r.NextDouble() - 0.5)).ToArray())
            .Node("Gemm", new[] { "x", "w", "b" }, new[] { "y" }, ("transB", 1L)).Output("y").Build(), 1 };
        yield return new object[] { "residual Add", ConvInput().Node("Add", new[] { "c", "x" }, new[] { "y" }).Output("y").Build(), 1 };
        yield return new object[] { "Mul", ConvInput().Node("Mul", new[] { "c", "x" }, new[] { "y" }).Output("y").Build(), 1 };
        // a constant operand: int8 per tensor (symmetric) with its own DequantizeLinear
        yield return new object[] { "Mul by a constant", ConvInput().Initializer("k", new[] { 1, C, 1, 1 }, new[] { 0.5f, -1.5f, 2f, 0.25f }).Node("Mul", new[] { "c", "k" }, new[] { "y" }).Output("y").Build(), 1 };
        yield return new object[] { "Add a constant", ConvInput().Initializer("k", new[] { 1, C, 1, 1 }, new[] { 0.5f, -1.5f, 2f, 0.25f }).Node("Add", new[] { "c", "k" }, new[] { "y" }).Output("y").Build(), 1 };
        yield return new object[] { "AveragePool", ConvInput().Node("AveragePool", new[] { "c" }, new[] { "y" }, ("kernel_shape", new long[] { 3, 3 }), ("strides", new long[] { 2, 2 }), ("pads", new long[] { 1, 1, 1, 1 })).Output("y").Build(), 1 };
        yield return new object[] { "GlobalAveragePool", ConvInput().Node("GlobalAveragePool", new[] { "c" }, new[] { "y" }).Output("y").Build(), 1 };
        yield return new object[] { "Sigmoid", new OnnxBuilder().Input("x", DType.Float, 1, C, H, W).Node("Sigmoid", new[] { "x" }, new[] { "y" }).Output("y").Build(), 1 };
        // the Conv's one-step differences (0.1 % of its outputs) reach the Sigmoid's table through its steepest part: one
        // Conv step is up to 0.25 x Conv scale / Sigmoid scale Sigmoid steps, more than one here; the table itself is exact (Check's local column)
        yield return new object[] { "Conv+Sigmoid", ConvInput().Node("Sigmoid", new[] { "c" }, new[] { "y" }).Output("y").Build(), 2 };
        yield return new object[] { "Concat", ConvInput(output: "c1", b: ConvInput(seed: 2, output: "c2", m: 3)).Node("Concat", new[] { "c1", "c2" }, new[] { "y" }, ("axis", 1L)).Output("y").Build(), 1 };
        // two inputs (calibration samples hold both, in input order): a residual sum of a Conv on one and the other, and a product
        yield return new object[] { "two inputs: Conv(a) + b", ConvInput(b: new OnnxBuilder().Input("x", DType.Float, 1, C, H, W).Input("z", DType.Float, 1, C, H, W))
            .Node("Add", new[] { "c", "z" }, new[] { "y" }).Output("y").Build(), 1 };
        yield return new object[] { "two inputs: Gemm(a) x b", new OnnxBuilder().Input("a", DType.Float, 2, 16).Input("s", DType.Float, 2, 8)
            .Initializer("w", new[] { 16, 8 }, Ort.Random(128, 5, 0.4f)).Node("Gemm", new[] { "a", "w" }, new[] { "g" }).Node("Mul", new[] { "g", "s" }, new[] { "y" }).Output("y").Build(), 1 };
        // a 1x1 convolution on a 4x4 plane with 20 outputs: the kernel with the output channels in the lanes (QPointwise)
        yield return new object[] { "Conv 1x1, small plane", ConvInput(8).Node("Relu", new[] { "c" }, new[] { "r" })
            .Node("MaxPool", new[] { "r" }, new[] { "p" }, ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 }))
            .Initializer("w1", new[] { 20, 8, 1, 1 }, Ort.Random(160, 9, 0.5f)).Initializer("b1", new[] { 20 }, Ort.Random(20, 10, 0.2f))
            .Node("Conv", new[] { "p", "w1", "b1" }, new[] { "y" }).Output("y").Build(), 1 };
        yield return new object[] { "MaxPool", ConvInput().Node("Relu", new[] { "c" }, new[] { "r" }).Node("MaxPool", new[] { "r" }, new[] { "y" }, ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 })).Output("y").Build(), 1 };
    }

    [Theory]
    [MemberData(nameof(Graphs))]
    public void SmallGraphAgreesWithOrt(string name, byte[] model, int endToEnd)
    {
        var lengths = new ModelGen.Compiler.Onnx.OnnxImporter(new ModelOptions()).Import(model).Graph.Inputs.Where(v => !v.IsConst).Select(v => v.Length).ToArray();
        Check(name, model, new[] { Samples(Random(lengths, 1, 16, 2f)) }, Random(lengths, 100, 16, 2f), endToEnd);
    }
}
