using ModelGen.Compiler;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Onnx;
using ModelGen.Compiler.Passes;
using ModelGen.Compiler.Planning;
using ModelGen.Compiler.Quantization;
using Xunit;
using Xunit.Abstractions;
using Buffer = ModelGen.Compiler.Planning.Buffer;

namespace ModelGen.Tests;

/// <summary>
/// Working memory per real model (MLPerf Tiny's four, and openWakeWord's five when downloaded): the default build's
/// arena against its lower bound and against TensorFlow Lite Micro's greedy-by-size planner on the same tensors and
/// schedule, and against the as-exported graph (all passes off). The table is this test's output (docs/memory.md).
/// </summary>
public class MemoryReportTests(ITestOutputHelper log)
{
    /// <summary>TFLM's planner aligns every buffer to 16 bytes (kBufferAlignment).</summary>
    const int TflmAlign = 16;

    static IEnumerable<(string Name, string Path, string InputShape)> ModelFiles()
    {
        foreach (var (file, _) in Models.Mlperf) yield return (file, Models.MlperfPath(file), "");
        foreach (var (file, shape) in new[] { ("melspectrogram.onnx", "1,1760"), ("embedding_model.onnx", "1,76,32,1"), ("hey_jarvis_v0.1.onnx", ""), ("alexa_v0.1.onnx", ""), ("hey_mycroft_v0.1.onnx", "") })
        {
            var path = Path.Combine(Models.Dir, file);
            if (File.Exists(path)) yield return (file, path, shape);
        }
    }

    /// <summary>The plan ModelCompiler makes for these options (the same pipeline, stopped where the plan is known).</summary>
    static MemoryPlan Plan(string path, ModelOptions options)
    {
        var model = new OnnxImporter(options).Import(File.ReadAllBytes(path));
        PassManager.Run(model.Graph, options);
        var emitter = new ModelEmitter(model, options, path);
        emitter.Emit("M", "");
        return emitter.Plan;
    }

    /// <summary>
    /// TFLM's greedy-by-size arena in bytes for the plan's tensors and lifetimes (one arena for all element types),
    /// each tensor rounded up to <paramref name="align"/> bytes.
    /// </summary>
    static long Tflm(MemoryPlan plan, int align) => Tflm(plan.Buffers, align);

    static long Tflm(IEnumerable<Buffer> buffers, int align)
        => MemoryPlanTests.TflmGreedy(buffers.Select(b => new Buffer
        {
            Value = b.Value, Pool = DType.UInt8, FirstStep = b.FirstStep, LastStep = b.LastStep,
            Elements = MemoryPlan.Align(b.Elements * DTypes.Size(b.Pool), align),
        }).ToArray());

    [Fact]
    public void ArenaPerModel()
    {
        log.WriteLine($"| model | arena | lower bound | TFLM greedy, same schedule | arena vs TFLM | as exported: lower bound | as exported: TFLM greedy | arena vs as-exported lower bound | arena vs as-exported TFLM |");
        log.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var (name, path, shape) in ModelFiles())
        {
            var plan = Plan(path, new ModelOptions { InputShape = shape });
            var exported = Plan(path, new ModelOptions { InputShape = shape, DisabledPasses = "all" });
            long tflm = Tflm(plan, TflmAlign), tflmExported = Tflm(exported, TflmAlign);
            log.WriteLine($"| {name} | {plan.ArenaBytes} | {plan.LowerBoundBytes} | {tflm} | {Pct(plan.ArenaBytes, tflm)} | {exported.LowerBoundBytes} | {tflmExported} | {Pct(plan.ArenaBytes, exported.LowerBoundBytes)} | {Pct(plan.ArenaBytes, tflmExported)} |");
            // What must always hold: no plan beats the lower bound, and the planner (best of four orders, one of them
            // TFLM's) is never larger than TFLM's greedy on the same schedule at the same alignment. Our alignment is
            // 64 bytes (SIMD); at TFLM's 16 bytes TFLM's arena can be a few alignment gaps smaller (the table shows it).
            Assert.True(plan.ArenaBytes >= plan.LowerBoundBytes, $"{name}: arena {plan.ArenaBytes} below its lower bound {plan.LowerBoundBytes}");
            long tflmSameAlignment = Tflm(plan, MemoryPlan.AlignBytes);
            Assert.True(plan.ArenaBytes <= tflmSameAlignment, $"{name}: arena {plan.ArenaBytes} larger than TFLM's greedy {tflmSameAlignment} on the same schedule and alignment");
            Assert.True(exported.ArenaBytes >= exported.LowerBoundBytes);
        }
    }

    /// <summary>
    /// The Int8 builds (Quantize="Int8", calibrated on the samples committed with the models) of MLPerf Tiny's three
    /// convolutional models and the digits CNN. TFLM runs int8 kernels in the int8 tensors' own memory (CMSIS-NN asks
    /// for an im2col scratch of one output position's window); the Net kernels also take scratch per layer: the input
    /// as int16 pairs of padded, stride-phased planes and the output rows at the plane's padded width. The table shows
    /// what that costs (docs/memory.md): Net's arena, the part of it the kernels' scratch makes, and the Portable
    /// profile's arena (scalar kernels, no scratch) against TFLM's greedy planner on the int8 tensors alone.
    /// </summary>
    [Fact]
    public void Int8ArenaPerModel()
    {
        log.WriteLine("| model (Int8) | Net arena | Net lower bound | TFLM greedy, same tensors | Portable arena | TFLM greedy, int8 tensors only | Portable vs TFLM | float arena |");
        log.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        var models = new[] { ("ds_cnn.onnx", "ds_cnn_calib.bin"), ("mobilenet_v1_025.onnx", "mobilenet_v1_025_calib.bin"), ("resnet8.onnx", "resnet8_calib.bin") }
            .Select(f => (f.Item1, Models.MlperfPath(f.Item1), Models.MlperfPath(f.Item2)))
            .Append(("digits_cnn.onnx", Path.Combine(Harness.RepoRoot, "tests", "models", "digits", "digits_cnn.onnx"), Path.Combine(Harness.RepoRoot, "tests", "models", "digits", "calib.bin")));
        foreach (var (name, path, calibPath) in models)
        {
            var calib = new[] { new CalibrationFile(Path.GetFileName(calibPath), File.ReadAllBytes(calibPath)) };
            var net = Int8Plan(path, TargetProfile.Net, calib);
            var portable = Int8Plan(path, TargetProfile.Portable, calib);
            long tflm = Tflm(net, TflmAlign);
            // TFLM on the int8 tensors alone: the Portable plan's buffers (the same graph, no kernel scratch)
            long tflmTensors = Tflm(portable, TflmAlign);
            long floatArena = Plan(path, new ModelOptions()).ArenaBytes;
            log.WriteLine($"| {name} | {net.ArenaBytes} | {net.LowerBoundBytes} | {tflm} | {portable.ArenaBytes} | {tflmTensors} | {Pct(portable.ArenaBytes, tflmTensors)} | {floatArena} |");
            Assert.DoesNotContain(portable.Buffers, b => b.Value.Name.EndsWith("_scratch"));
            Assert.True(net.ArenaBytes >= net.LowerBoundBytes, $"{name}: arena {net.ArenaBytes} below its lower bound {net.LowerBoundBytes}");
            Assert.True(net.ArenaBytes <= Tflm(net, MemoryPlan.AlignBytes), $"{name}: arena {net.ArenaBytes} larger than TFLM's greedy on the same schedule and alignment");
            // Portable has an array per element type (nanoFramework cannot view one array as another type): each is
            // held to TFLM's greedy on its own tensors
            Assert.True(portable.ArenaBytes >= portable.LowerBoundBytes);
            foreach (var pool in portable.Pools)
            {
                long tflmPool = Tflm(portable.Buffers.Where(b => b.Pool == pool.Type), MemoryPlan.AlignBytes);
                Assert.True((long)pool.Elements * DTypes.Size(pool.Type) <= tflmPool, $"{name}: Portable {pool.Type} pool larger than TFLM's greedy on its tensors");
            }
        }
    }

    static MemoryPlan Int8Plan(string path, TargetProfile target, IReadOnlyList<CalibrationFile> calib)
    {
        var options = new ModelOptions { Target = target, Quantize = QuantizeMode.Int8 };
        var model = ModelCompiler.Optimize(File.ReadAllBytes(path), options, calib, out _, out _);
        var emitter = new ModelEmitter(model, options, path);
        emitter.Emit("M", "");
        return emitter.Plan;
    }

    static string Pct(long a, long b) => b == 0 ? "-" : $"{(a - b) * 100.0 / b:+0.0;-0.0;0}%";
}
