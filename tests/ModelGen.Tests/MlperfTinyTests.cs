using ModelGen.Compiler;
using Xunit;
using Xunit.Abstractions;

namespace ModelGen.Tests;

/// <summary>
/// The MLPerf Tiny v1.0 reference models (tests/models/mlperf, from scripts/models/make_mlperf_tiny.py): both
/// profiles against ONNX Runtime, the optimised build against the as-exported one, and no allocation per Predict.
/// </summary>
public class MlperfTinyTests(ITestOutputHelper log)
{
    public static TheoryData<string> Files => new(Models.Mlperf.Select(m => m.File));

    static int[] ShapeOf(string file) => Models.Mlperf.First(m => m.File == file).Shape;

    static CompiledModel Build(string file, TargetProfile target, string disabledPasses = "")
    {
        var path = Models.MlperfPath(file);
        var r = Harness.Generate(path, new ModelOptions { Target = target, ClassName = "M", DisabledPasses = disabledPasses });
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        if (target == TargetProfile.Portable)
        {
            var nano = Harness.CompileNano(r.Source!);
            Assert.True(nano.Count == 0, $"{file}: Portable output does not compile against nanoFramework mscorlib:\n" + string.Join("\n", nano.Take(10)));
        }
        return CompiledModel.FromSource(r.Source!, "M", "", target);
    }

    /// <summary>Deterministic inputs: unit scale, then a larger scale that drives more units into saturation/ReLU cut-off.</summary>
    static float[] Input(string file, int seed) => Ort.Random(ShapeOf(file).Aggregate(1, (a, b) => a * b), seed, seed < 2 ? 1f : 2f);

    static float[] Run(CompiledModel m, float[] x, int outputs)
    {
        var y = new float[outputs];
        m.Run(x, y);
        return y;
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void MatchesOnnxRuntimeInBothProfiles(string file)
    {
        var path = Models.MlperfPath(file);
        foreach (var target in new[] { TargetProfile.Net, TargetProfile.Portable })
        {
            var m = Build(file, target);
            for (int seed = 0; seed < 3; seed++)
            {
                var x = Input(file, seed);
                var expected = Ort.Run(path, (x, ShapeOf(file)))[0];
                var diff = Ort.RelMaxDiff(Run(m, x, expected.Length), expected);
                log.WriteLine($"{file} {target} seed {seed}: rel max diff {diff:E2}");
                Assert.True(diff <= 1e-4, $"{file} {target} seed {seed}: rel max diff {diff}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void OptimisedBuildAgreesWithAllPassesOff(string file)
    {
        foreach (var target in new[] { TargetProfile.Net, TargetProfile.Portable })
        {
            var optimised = Build(file, target);
            var exported = Build(file, target, "all");
            int n = optimised.Const("OutputLength");
            for (int seed = 0; seed < 3; seed++)
            {
                var x = Input(file, seed);
                var diff = Ort.RelMaxDiff(Run(optimised, x, n), Run(exported, x, n));
                log.WriteLine($"{file} {target} seed {seed}: optimised vs all passes off, rel max diff {diff:E2}");
                Assert.True(diff <= 1e-5, $"{file} {target} seed {seed}: rel max diff {diff}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void NetPredictAllocatesNothingPerCall(string file)
    {
        var m = Build(file, TargetProfile.Net);
        var args = new Array[] { Input(file, 0), new float[m.Const("OutputLength")] };
        m.AllocatedBytes(200, args); // warm-up: JIT and tier-up, type initialisation, this thread's arena
        Thread.Sleep(300);
        m.AllocatedBytes(200, args);
        var bytes = AllocationTests.SteadyState(() => m.AllocatedBytes(1000, args));
        var scratch = new byte[m.Const("ArenaBytes")];
        m.AllocatedBytesWithScratch(200, scratch, args);
        var withScratch = AllocationTests.SteadyState(() => m.AllocatedBytesWithScratch(1000, scratch, args));
        log.WriteLine($"{file}: {bytes} bytes over 1000 calls, {withScratch} with caller scratch");
        Assert.Equal(0, bytes);
        Assert.Equal(0, withScratch);
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void PortablePredictAllocatesNothingAfterTheFirstCall(string file)
    {
        var m = Build(file, TargetProfile.Portable);
        var args = new Array[] { Input(file, 0), new float[m.Const("OutputLength")] };
        m.AllocatedBytes(50, args);
        var bytes = AllocationTests.SteadyState(() => m.AllocatedBytes(200, args));
        log.WriteLine($"{file} (Portable): {bytes} bytes over 200 calls");
        Assert.Equal(0, bytes);
    }
}
