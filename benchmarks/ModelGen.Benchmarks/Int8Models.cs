using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using ModelGen.Compiler;
using ModelGen.Compiler.Passes;
using ModelGen.Compiler.Quantization;
using ModelGen.Tests;

namespace ModelGen.Benchmarks;

/// <summary>
/// `int8models [filter]`: the convolutional benchmark models built twice by the compiler, float and Quantize="Int8",
/// against ONNX Runtime on the float model and on the very QDQ graph the Int8 build lowers (written out as ONNX before
/// the lowering passes): our Int8 speed-up over our float path, and over ORT's int8 execution of the same quantized
/// model. The MLPerf models have random weights and no data: they calibrate on 32 random normal samples (the speed
/// does not depend on it); the digits CNN calibrates on its own committed calibration set. Both builds are compiled in
/// process (Roslyn, release) as the tests do, and called through a delegate. MODELGEN_DOT_OFF=1 keeps the int8 kernels
/// off the dot-product paths; MODELGEN_QDW_OFF=1 runs int8 depthwise
/// layers a channel at a time (QDepthwise.Off) for before/after runs.
/// </summary>
internal static class Int8Models
{
    static readonly (string Name, string Dir, int[] Shape)[] Models =
    {
        ("hey_jarvis_v0.1", "../../.cache/models", new[] { 1, 16, 96 }),
        ("digits_cnn", "digits", new[] { 1, 1, 8, 8 }),
        ("ds_cnn", "mlperf", new[] { 1, 1, 49, 10 }),
        ("mobilenet_v1_025", "mlperf", new[] { 1, 3, 96, 96 }),
        ("resnet8", "mlperf", new[] { 1, 3, 32, 32 }),
        ("fc_autoencoder", "mlperf", new[] { 1, 640 }),
        ("tiny_transformer_op17", "zoo", new[] { 1, 16, 32 }),
    };

    public static void Run(string filter)
    {
        // MODELGEN_QDW_OFF=1: int8 depthwise a channel at a time (the A/B of the channels-in-lanes kernel)
        ModelGen.Runtime.QDepthwise.Off = Environment.GetEnvironmentVariable("MODELGEN_QDW_OFF") == "1";
        // MODELGEN_DOT_OFF=1: the pair kernels where the CPU has a dot product (the A/B of sdot and vpdpbusd; this thread)
        if (Environment.GetEnvironmentVariable("MODELGEN_DOT_OFF") == "1") ModelGen.Runtime.QDot.Force = 1;
        var root = typeof(Int8Models).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().First(a => a.Key == "RepoRoot").Value;
        Console.WriteLine($"{"model",-18} {"float us",9} {"Weights us",11} {"Int8 us",9} {"float/Int8",11} {"ORT float",10} {"ORT QDQ",9} {"ORT QDQ/Int8",13} {"weights f32",12} {"weights i8",11} {"SQNR dB",8}");
        // "dir:<folder>[:<filter>]": every .onnx file in it (e.g. .cache/tv's torchvision exports), the input shape from ORT
        var models = Models;
        if (filter != null && filter.StartsWith("dir:"))
        {
            var parts = filter.Split(':');
            models = Directory.GetFiles(parts[1], "*.onnx").Order().Select(f => (Path.GetFileNameWithoutExtension(f), Path.GetFullPath(Path.GetDirectoryName(f)), InputShape(f))).ToArray();
            filter = parts.Length > 2 ? parts[2] : null;
        }
        foreach (var (name, dir, shape) in models)
        {
            if (filter != null && !name.Contains(filter)) continue;
            var path = Path.Combine(root, "tests", "models", dir, name + ".onnx");
            var bytes = File.ReadAllBytes(path);
            int n = shape.Aggregate(1, (a, b) => a * b);
            var calibPath = Path.Combine(root, "tests", "models", dir, "calib.bin");
            var calib = new[] { new CalibrationFile("calib.bin", File.Exists(calibPath) ? File.ReadAllBytes(calibPath) : RandomSamples(n, 32)) };
            var f = Build(bytes, path, new ModelOptions { ClassName = "FloatModel", Profile = Profile }, null);
            var q = Build(bytes, path, new ModelOptions { ClassName = "Int8Model", Quantize = QuantizeMode.Int8, Profile = Profile }, calib);
            var w8 = Build(bytes, path, new ModelOptions { ClassName = "WeightsModel", Quantize = QuantizeMode.Weights, Profile = Profile }, null);
            // GeluFusion's Gelu is an opset-20 node: written with it, the graph's opset-13 ReduceMean (axes attribute) is
            // invalid; FusedElementwise has no ONNX form
            var unlowered = string.Join(",", PassManager.Lowering.Select(p => p.Name).Where(p => p != "DeadNodeElimination").Distinct().Append("GeluFusion").Append("ElementwiseChainFusion"));
            byte[] qdq = null;
            try { qdq = OnnxWriter.Write(ModelCompiler.Optimize(bytes, new ModelOptions { Quantize = QuantizeMode.Int8, DisabledPasses = unlowered }, calib, out _, out _)); }
            catch (Exception e) when (e is InvalidOperationException or NotSupportedException or ArgumentException)
            {
                Console.WriteLine($"{name}: no QDQ model for ONNX Runtime ({e.Message})"); // e.g. the writer has no If subgraphs
            }

            // the first calibration sample: an input in the range the model was calibrated for
            var x = new float[n];
            Buffer.BlockCopy(calib[0].Bytes, 0, x, 0, 4 * n);
            var ortShape = shape.Select(d => (long)d).ToArray();
            float[] yf, yq, yo, yoq, yw;
            long[] outShape;
            using (var s = new Microsoft.ML.OnnxRuntime.InferenceSession(bytes))
            using (var r = s.Run(new[] { Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor(s.InputMetadata.Keys.First(), new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(x, shape)) }))
            {
                var y = r.First().AsTensor<float>();
                int outLen = (int)y.Length;
                outShape = y.Dimensions.ToArray().Select(d => (long)d).ToArray();
                yf = new float[outLen]; yq = new float[outLen]; yo = new float[outLen]; yoq = new float[outLen]; yw = new float[outLen];
            }
            using var ortF = new OrtOneOp(bytes, x, ortShape, yo, outShape);
            OrtOneOp ortQ = null;
            try { if (qdq != null) ortQ = new OrtOneOp(qdq, x, ortShape, yoq, outShape); }
            catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException e) { Console.WriteLine($"{name}: ONNX Runtime rejects the written QDQ model ({e.Message.Split('\n')[0]})"); qdq = null; }
            using var ortQDispose = ortQ;
            void Floats() => f.Run(x, yf);
            void Ints() => q.Run(x, yq);
            void Weights() => w8.Run(x, yw);
            for (int i = 0; i < 300; i++) { Floats(); Ints(); Weights(); } // tiered JIT: the profile counts optimized code only
            f.Reset(); q.Reset(); w8.Reset();
            double sig = 0, noise = 0;
            for (int i = 0; i < yf.Length; i++) { sig += (double)yf[i] * yf[i]; noise += ((double)yf[i] - yq[i]) * (yf[i] - yq[i]); }
            var tf = new List<double>(); var tq = new List<double>(); var to = new List<double>(); var toq = new List<double>(); var tw = new List<double>();
            // five rounds, each variant once per round; the ratios are the medians of each round's own ratios (a shared
            // machine's load moves between rounds more than within one)
            for (int round = 0; round < 5; round++)
            {
                tf.Add(Quick.Median(Floats).Median); tq.Add(Quick.Median(Ints).Median); tw.Add(Quick.Median(Weights).Median);
                to.Add(Quick.Median(ortF.Run).Median); toq.Add(ortQ == null ? double.NaN : Quick.Median(ortQ.Run).Median);
            }
            double F = Med(tf), Q = Med(tq), O = Med(to), OQ = Med(toq), W = Med(tw);
            double fq = Med(tf.Zip(tq, (a, b) => a / b).ToList()), oq = Med(toq.Zip(tq, (a, b) => a / b).ToList());
            if (Profile) Console.Write("float build:\n" + f.Report() + "Weights build:\n" + w8.Report() + "Int8 build:\n" + q.Report()
                + (qdq == null ? "" : "ONNX Runtime on the QDQ model:\n" + OrtProfile(qdq, x, shape)));
            Console.WriteLine($"{name,-18} {F * 1e6,9:F1} {W * 1e6,11:F1} {Q * 1e6,9:F1} {fq,11:F2} {O * 1e6,10:F1} {OQ * 1e6,9:F1} {oq,13:F2} {f.WeightBytes,12} {q.WeightBytes,11} {10 * Math.Log10(sig / Math.Max(noise, 1e-30)),8:F1}");
        }
    }

    /// <summary>
    /// `int8models qoperator`: models quantized as ONNX Runtime's quantizer writes them (QOperatorModels: a CNN in the
    /// QOperator format, QLinearConv, QGemm, ...; MLPs quantized dynamically, MatMulInteger) built with their layers
    /// lowered to the integer kernels and without (DisabledPasses=QLinearLowering: the operators' reference loops),
    /// against ONNX Runtime on the same model.
    /// </summary>
    public static void QOperator()
    {
        Console.WriteLine($"{"model",-22} {"lowered us",11} {"loops us",9} {"ORT us",8} {"loops/lowered",14} {"ORT/lowered",12}");
        foreach (int side in new[] { 32, 64, 96 })
            Compare($"QOperator CNN 3x{side}x{side}", QOperatorModels.Cnn(side, quantizedOutput: false), new[] { 1, 3, side, side }, 10);
        // uint8 weights with zero points away from 128: each weight split into two int8 halves (twice the multiply-adds)
        Compare("CNN u8 weights 3x64x64", QOperatorModels.Cnn(64, quantizedOutput: false, uint8Weights: true), new[] { 1, 3, 64, 64 }, 10);
        foreach (var (rows, width) in new[] { (1, 256), (16, 128), (16, 256) })
            Compare($"dynamic MLP {rows}x{width}x3", QOperatorModels.DynamicMlp(rows, width, 3), new[] { rows, width }, rows * width);
        // quantize_dynamic's convolutions (ConvInteger): float convolutions of the integer values against the loops
        foreach (bool u8 in new[] { false, true })
            Compare($"dynamic CNN 3x64x64{(u8 ? " u8" : "")}", QOperatorModels.DynamicCnn(64, u8, pooledOnly: true), new[] { 1, 3, 64, 64 }, 16, "ConvIntegerLowering", new long[] { 1, 16, 1, 1 });
    }

    static void Compare(string name, byte[] bytes, int[] shape, int outputs, string loopsPass = "QLinearLowering", long[] outShape = null)
    {
        var low = Build(bytes, "qop.onnx", new ModelOptions { ClassName = "Lowered", Profile = Profile }, null);
        var loops = Build(bytes, "qop.onnx", new ModelOptions { ClassName = "Loops", DisabledPasses = loopsPass }, null);
        var x = new float[shape.Aggregate(1, (a, b) => a * b)];
        var rng = new Random(3);
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 4 - 2);
        float[] y1 = new float[outputs], y2 = new float[outputs], yo = new float[outputs];
        using var ort = new OrtOneOp(bytes, x, shape.Select(d => (long)d).ToArray(), yo, outShape ?? (outputs == 10 ? new long[] { 1, 10 } : shape.Select(d => (long)d).ToArray()));
        void L() => low.Run(x, y1);
        void R() => loops.Run(x, y2);
        for (int i = 0; i < 50; i++) { L(); R(); ort.Run(); }
        var tl = new List<double>(); var tr = new List<double>(); var to = new List<double>();
        for (int round = 0; round < 3; round++) { tl.Add(Quick.Median(L).Median); tr.Add(Quick.Median(R).Median); to.Add(Quick.Median(ort.Run).Median); }
        double a = Med(tl), b = Med(tr), o = Med(to);
        if (Profile) Console.Write(low.Report());
        Console.WriteLine($"{name,-22} {a * 1e6,11:F1} {b * 1e6,9:F1} {o * 1e6,8:F1} {b / a,14:F1} {o / a,12:F2}");
    }

    /// <summary>ONNX Runtime's own per-node kernel times (us per call, over 2000 calls) for a model with one float input.</summary>
    internal static string OrtProfile(byte[] model, float[] x, int[] shape)
    {
        const int calls = 2000;
        var options = OrtOneOp.Options();
        options.EnableProfiling = true;
        options.ProfileOutputPathPrefix = Path.Combine(Path.GetTempPath(), "ort_int8");
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(model, options);
        var input = new[] { Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.First(), new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(x, shape)) };
        for (int i = 0; i < calls; i++) session.Run(input).Dispose();
        var file = session.EndProfiling();
        var times = new List<(string Name, string Op, double Us)>();
        using (var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(file)))
            foreach (var e in doc.RootElement.EnumerateArray())
            {
                var n = e.GetProperty("name").GetString();
                if (e.GetProperty("cat").GetString() != "Node" || !n.EndsWith("_kernel_time")) continue;
                n = n[..^"_kernel_time".Length];
                int i = times.FindIndex(t => t.Name == n);
                double us = e.GetProperty("dur").GetInt64() / (double)calls;
                if (i < 0) times.Add((n, e.GetProperty("args").GetProperty("op_name").GetString(), us));
                else times[i] = (n, times[i].Op, times[i].Us + us);
            }
        File.Delete(file);
        return string.Concat(times.Select(t => $"{t.Us,12:F1}  {t.Op} {t.Name}\n")) + $"{times.Sum(t => t.Us),12:F1}  total\n";
    }

    static int[] InputShape(string path)
    {
        using var s = new Microsoft.ML.OnnxRuntime.InferenceSession(path);
        return s.InputMetadata.Values.First().Dimensions.Select(d => Math.Max(d, 1)).ToArray();
    }

    static double Med(List<double> t) { var a = t.ToArray(); Array.Sort(a); return a[a.Length / 2]; }

    internal static byte[] RandomSamples(int n, int count)
    {
        var r = new Random(7);
        var b = new byte[n * count * 4];
        for (int i = 0; i < n * count; i++)
        {
            // Box-Muller: standard normal inputs
            double u = 1 - r.NextDouble(), v = r.NextDouble();
            BitConverter.TryWriteBytes(b.AsSpan(4 * i), (float)(Math.Sqrt(-2 * Math.Log(u)) * Math.Cos(2 * Math.PI * v)));
        }
        return b;
    }

    /// <summary>MODELGEN_PROFILE=1: the three builds with Profile="true", and their per-layer reports after the timing.</summary>
    internal static readonly bool Profile = Environment.GetEnvironmentVariable("MODELGEN_PROFILE") == "1";

    internal sealed record Built(Action<float[], float[]> Run, long WeightBytes, Func<string> Report, Action Reset);

    internal static Built Build(byte[] bytes, string path, ModelOptions options, IReadOnlyList<CalibrationFile> calib)
    {
        var result = ModelCompiler.Compile(bytes, path, options, calib);
        if (!result.Success) throw new InvalidOperationException(string.Join("\n", result.Diagnostics.Select(d => d.Message)));
        return Build(result, options);
    }

    /// <summary>A compiled model's source built by Roslyn (release) and loaded; options.ClassName names the class and its adapter.</summary>
    internal static Built Build(CompileResult result, ModelOptions options)
    {
        if (Profile) File.WriteAllText(Path.Combine(Path.GetTempPath(), options.ClassName + ".g.cs"), result.Source);
        var adapter = $"public static class Adapter_{options.ClassName} {{ public static void Run(float[] x, float[] y) => global::{options.ClassName}.Predict(x, y); }}";
        var tpa = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")).Split(Path.PathSeparator);
        var refs = tpa.Where(p => Path.GetFileName(p).StartsWith("System.") || Path.GetFileName(p) is "mscorlib.dll" or "netstandard.dll")
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).Append(MetadataReference.CreateFromFile(typeof(Runtime.Gemm).Assembly.Location));
        var comp = CSharpCompilation.Create(options.ClassName, new[] { result.Source, adapter }.Select(s => CSharpSyntaxTree.ParseText(s, new CSharpParseOptions(LanguageVersion.Latest))),
            refs, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, optimizationLevel: OptimizationLevel.Release, allowUnsafe: true));
        using var ms = new MemoryStream();
        var emit = comp.Emit(ms);
        if (!emit.Success) throw new InvalidOperationException(string.Join("\n", emit.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Take(10)));
        ms.Position = 0;
        var asm = new AssemblyLoadContext(options.ClassName).LoadFromStream(ms);
        var run = asm.GetType("Adapter_" + options.ClassName).GetMethod("Run");
        var report = asm.GetType(options.ClassName).GetMethod("ProfileReport");
        var reset = asm.GetType(options.ClassName).GetMethod("ResetProfile");
        return new Built(run.CreateDelegate<Action<float[], float[]>>(), result.WeightBytes, () => report == null ? "" : (string)report.Invoke(null, null),
            () => reset?.Invoke(null, null));
    }
}
