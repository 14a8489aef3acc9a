using ModelGen.Compiler;
using Xunit;
using Xunit.Abstractions;

namespace ModelGen.Tests;

/// <summary>Profile="true": per-layer timing in the generated class, in both profiles, without changing results or allocating.</summary>
public class ProfileTests(ITestOutputHelper log)
{
    static string Tcn => Path.Combine(Harness.RepoRoot, "tests", "models", "zoo", "tcn_kws.onnx");

    [Theory]
    [InlineData(TargetProfile.Net)]
    [InlineData(TargetProfile.Portable)]
    public void TimesEveryLayer(TargetProfile target)
    {
        var plain = Harness.Generate(Tcn, new ModelOptions { Target = target });
        var r = Harness.Generate(Tcn, new ModelOptions { Target = target, Profile = true });
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        Assert.DoesNotContain("LayerTicks", plain.Source);
        if (target == TargetProfile.Portable)
        {
            var nano = Harness.CompileNano(r.Source!);
            Assert.True(nano.Count == 0, string.Join("\n", nano.Take(10)));
        }
        var model = CompiledModel.FromSource(r.Source!, r.ClassName!, null, target);
        var reference = CompiledModel.FromSource(plain.Source!, plain.ClassName!, null, target);
        var x = Ort.Random(40 * 98, 3);
        var y = new float[12]; var y0 = new float[12];
        var t = model.ModelType;
        model.Run(x, y); // the first call includes JIT compilation: measure after it
        t.GetMethod("ResetProfile")!.Invoke(null, null);
        for (int i = 0; i < 5; i++) model.Run(x, y);
        reference.Run(x, y0);
        Assert.Equal(y0, y);

        var ticks = (long[])t.GetField("LayerTicks")!.GetValue(null)!;
        var names = (string[])t.GetField("LayerNames")!.GetValue(null)!;
        Assert.Equal(5L, (long)t.GetField("ProfiledCalls")!.GetValue(null)!);
        Assert.Equal(9, ticks.Length); // the header's table: 7 convolutions, ReduceMean, Gemm
        Assert.Equal(ticks.Length, names.Length);
        Assert.StartsWith("[0] Conv+Relu [1,32,98]", names[0]);
        Assert.True(ticks.Sum() > 0 && ticks.All(v => v >= 0));
        var report = (string)t.GetMethod("ProfileReport")!.Invoke(null, null)!;
        log.WriteLine(report);
        Assert.Contains("[8] Gemm [1,12]", report);
        Assert.Contains("total over 5 calls", report);
        if (target == TargetProfile.Net) Assert.Equal(0, AllocationTests.SteadyState(() => model.AllocatedBytes(10, x, y)));
        t.GetMethod("ResetProfile")!.Invoke(null, null);
        Assert.Equal(0L, ticks.Sum());
        Assert.Equal(0L, (long)t.GetField("ProfiledCalls")!.GetValue(null)!);
    }
}
