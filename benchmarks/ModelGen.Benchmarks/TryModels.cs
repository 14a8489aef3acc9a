using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ModelGen.Compiler;
using ModelGen.Tests;

namespace ModelGen.Benchmarks;

/// <summary>
/// `tryall folder [filter]`: every .onnx in a folder, as a new user would try models nobody wrote a test for
/// (scripts/models/export_torchvision.py writes 15 torchvision architectures at three opsets): compiled (Net profile)
/// and run in process on one random input against ONNX Runtime (single thread, ORT_ENABLE_ALL): the largest
/// difference relative to the output's largest magnitude, the build and Roslyn times, and both medians with the ratio.
/// Symbolic dimensions are 1; models with other than one float input are skipped; a model that fails prints why and
/// the sweep goes on. The two run alternately in short batches (<see cref="Quick.Alternate"/>): the ratio is the median
/// of the pairs' ratios, with its quartiles; then the planned arena. MODELGEN_DISABLED: DisabledPasses for the build. MODELGEN_PROFILE=1: each model's per-layer profile (Profile="true") after its line, then ONNX Runtime's per-node one.
/// </summary>
internal static class TryModels
{
    public static void Run(string dir, string filter)
    {
        Console.WriteLine($"{"model",-28} {"params",10} {"rel diff",9} {"build s",8} {"Roslyn s",9} {"ModelGen us",12} {"ORT us",10} {"ORT/ModelGen (quartiles)",25} {"arena",12}");
        int index = 0;
        foreach (var path in Directory.GetFiles(dir, "*.onnx").Where(p => filter == null || Path.GetFileName(p).Contains(filter))
                     .OrderBy(p => new FileInfo(p).Length).ThenBy(p => p, StringComparer.Ordinal))
        {
            var name = Path.GetFileNameWithoutExtension(path);
            try
            {
                var bytes = File.ReadAllBytes(path);
                using var session = new InferenceSession(bytes, OrtOneOp.Options());
                if (session.InputMetadata.Count != 1 || session.InputMetadata.Values.First().ElementType != typeof(float))
                {
                    Console.WriteLine($"{name,-28} skipped: not one float input");
                    continue;
                }
                var shape = session.InputMetadata.Values.First().Dimensions.Select(d => d < 0 ? 1 : d).ToArray();
                var rng = new Random(11);
                var x = new float[shape.Aggregate(1, (a, b) => a * b)];
                for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
                float[] expected;
                long[] outShape;
                using (var r = session.Run(new[] { NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.First(), new DenseTensor<float>(x, shape)) }))
                {
                    var t = r.First().AsTensor<float>();
                    expected = t.ToArray();
                    outShape = t.Dimensions.ToArray().Select(d => (long)d).ToArray();
                }
                long parameters = ModelGen.Compiler.Onnx.Proto.ModelProto.Parser.ParseFrom(bytes).Graph.Initializer.Sum(t => t.Dims.Aggregate(1L, (a, b) => a * b));
                var options = new ModelOptions { ClassName = "Try" + index++, Profile = Int8Models.Profile, DisabledPasses = Environment.GetEnvironmentVariable("MODELGEN_DISABLED") };
                var sw = Stopwatch.StartNew();
                var result = ModelCompiler.Compile(bytes, path, options);
                double build = sw.Elapsed.TotalSeconds;
                if (!result.Success) { Console.WriteLine($"{name,-28} {parameters,10} does not compile: {result.Diagnostics.First(d => d.Kind.Severity == DiagSeverity.Error).Message}"); continue; }
                sw.Restart();
                var m = Int8Models.Build(result, options);
                double roslyn = sw.Elapsed.TotalSeconds;
                var y = new float[expected.Length];
                m.Run(x, y);
                double scale = Math.Max(1e-30, expected.Max(v => Math.Abs((double)v))), diff = 0;
                for (int i = 0; i < y.Length; i++) diff = Math.Max(diff, Math.Abs((double)y[i] - expected[i]) / scale);
                var yo = new float[expected.Length];
                using var ort = new OrtOneOp(bytes, x, shape.Select(d => (long)d).ToArray(), yo, outShape);
                var ab = Quick.Alternate(() => m.Run(x, y), ort.Run);
                Console.WriteLine($"{name,-28} {parameters,10} {diff,9:E1} {build,8:F1} {roslyn,9:F1} {ab.A * 1e6,12:F0} {ab.B * 1e6,10:F0} {ab.Ratio,13:F2} ({ab.Low:F2}-{ab.High:F2}) {result.ArenaBytes / 1024,8} KiB");
                if (Int8Models.Profile) { m.Reset(); for (int i = 0; i < 200; i++) m.Run(x, y); Console.Write(m.Report() + "ONNX Runtime:\n" + Int8Models.OrtProfile(bytes, x, shape)); }
            }
            catch (Exception e)
            {
                Console.WriteLine($"{name,-28} failed: {e.GetType().Name}: {e.Message.Split('\n')[0]}");
            }
        }
    }
}
