using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Xml.Linq;
using ModelGen.Compiler.IR;
using Xunit;
using Xunit.Abstractions;

namespace ModelGen.Tests;

/// <summary>
/// Packs the repository once (`dotnet pack -c Release -o &lt;temp&gt;` at the root of a copy of the source tree, exactly as a
/// developer or CI would), then checks the package layout.
/// </summary>
public sealed class PackageFixture : IDisposable
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "modelgen-pack-" + Guid.NewGuid().ToString("N"));
    public string Feed => Path.Combine(Root, "feed");
    /// <summary>A NuGet package folder of its own: a stale ModelGen from the machine's cache can never be used.</summary>
    public string Packages => Path.Combine(Root, "packages");
    public string? Nupkg { get; }
    public string? Version { get; }
    public string PackLog { get; }

    static readonly HashSet<string> s_skip = new(StringComparer.OrdinalIgnoreCase)
        { "bin", "obj", ".git", ".cache", ".vs", "TestResults", "artifacts", "BenchmarkDotNet.Artifacts", "node_modules" };

    public PackageFixture()
    {
        var src = Path.Combine(Root, "src");
        CopyTree(Harness.RepoRoot, src);
        Directory.CreateDirectory(Feed);
        Directory.CreateDirectory(Packages);
        var (code, log) = Proc.Run("dotnet", $"pack -c Release -o \"{Feed}\" --disable-build-servers -nodeReuse:false", src, TimeSpan.FromMinutes(8));
        PackLog = $"dotnet pack exited {code}\n{log}";
        var pkgs = Directory.GetFiles(Feed, "*.nupkg");
        if (code == 0 && pkgs.Length == 1)
        {
            Nupkg = pkgs[0];
            using var zip = ZipFile.OpenRead(Nupkg);
            using var s = zip.GetEntry("ModelGen.nuspec")!.Open();
            var nuspec = XDocument.Load(s);
            Version = nuspec.Descendants().First(e => e.Name.LocalName == "version").Value;
        }
    }

    static void CopyTree(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from))
            if (!Path.GetFileName(f).EndsWith(".received.cs") && Path.GetFileName(f) != ".git") File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        foreach (var d in Directory.GetDirectories(from))
        {
            var name = Path.GetFileName(d);
            if (s_skip.Contains(name) || new DirectoryInfo(d).LinkTarget != null) continue;
            CopyTree(d, Path.Combine(to, name));
        }
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>Runs a child process with a time limit; returns its exit code and combined output.</summary>
internal static class Proc
{
    public static (int Code, string Output) Run(string file, string args, string cwd, TimeSpan timeout, IDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(file, args) { WorkingDirectory = cwd, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // The test host runs under `dotnet test`: do not let its MSBuild settings leak into a child build.
        foreach (var k in psi.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k == "MSBUILD_EXE_PATH").ToList())
            psi.Environment.Remove(k);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        psi.Environment["UseSharedCompilation"] = "false";
        if (env != null) foreach (var kv in env) psi.Environment[kv.Key] = kv.Value;
        var sb = new StringBuilder();
        using var p = new Process { StartInfo = psi };
        p.OutputDataReceived += (_, e) => { if (e.Data != null) lock (sb) sb.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (sb) sb.AppendLine(e.Data); };
        p.Start();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!p.WaitForExit((int)timeout.TotalMilliseconds))
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            lock (sb) return (-1, $"timed out after {timeout}\n{sb}");
        }
        p.WaitForExit();
        lock (sb) return (p.ExitCode, sb.ToString());
    }
}

/// <summary>
/// The NuGet package end to end: pack, then fresh console projects (net10.0) that reference it and a tiny model written
/// here with OnnxBuilder, build, run, and print the prediction, checked against ONNX Runtime. Slow (a pack and three
/// builds), but part of the suite: it is the only test of the package as users get it.
/// </summary>
[Trait("Category", "Slow")]
public class PackageConsumerTests(PackageFixture pack, ITestOutputHelper log) : IClassFixture<PackageFixture>
{
    static readonly float[] X = { 0.3f, -1.2f, 2f, 0.7f };

    void RequirePackage()
    {
        Assert.True(pack.Nupkg != null, "packing failed:\n" + Tail(pack.PackLog));
    }

    static string Tail(string s, int max = 12000) => s.Length <= max ? s : "...\n" + s.Substring(s.Length - max);

    [Fact]
    public void PackAtTheRootMakesOnePackageWithTheExpectedLayout()
    {
        RequirePackage();
        // only ModelGen is packed: the test (and any sample or benchmark) projects make no package
        Assert.Equal(new[] { $"ModelGen.{pack.Version}.nupkg" }, Directory.GetFiles(pack.Feed).Select(Path.GetFileName).ToArray());
        using var zip = ZipFile.OpenRead(pack.Nupkg!);
        var entries = zip.Entries.Select(e => e.FullName).ToHashSet();
        log.WriteLine(string.Join("\n", entries.Order()));
        foreach (var e in new[]
        {
            "lib/net8.0/ModelGen.Runtime.dll", "lib/net10.0/ModelGen.Runtime.dll",
            "analyzers/dotnet/cs/ModelGen.Generator.dll", "analyzers/dotnet/cs/Google.Protobuf.dll",
            "build/ModelGen.props", "build/ModelGen.targets", "buildTransitive/ModelGen.props", "buildTransitive/ModelGen.targets",
        })
            Assert.Contains(e, entries);
        // the generator is an analyzer, never a library reference; no dependency drags Roslyn or protobuf into apps
        Assert.DoesNotContain(entries, e => e.StartsWith("lib/") && e.Contains("Generator"));
        using var s = zip.GetEntry("ModelGen.nuspec")!.Open();
        var deps = XDocument.Load(s).Descendants().Where(e => e.Name.LocalName == "dependency").Select(e => (string?)e.Attribute("id")).ToList();
        // the runtime's only dependency is TensorPrimitives (System.Numerics.Tensors), once per target framework
        Assert.All(deps, d => Assert.Equal("System.Numerics.Tensors", d));
        // the analyzer is the Release build of the generator that was just compiled from this tree
        var generator = zip.GetEntry("analyzers/dotnet/cs/ModelGen.Generator.dll")!;
        using var gs = generator.Open();
        using var ms = new MemoryStream();
        gs.CopyTo(ms);
        var asm = System.Reflection.Metadata.MetadataReader.GetAssemblyName(WriteTemp(ms.ToArray()));
        Assert.Equal("ModelGen.Generator", asm.Name);
    }

    string WriteTemp(byte[] bytes)
    {
        var p = Path.Combine(pack.Root, Guid.NewGuid().ToString("N") + ".dll");
        File.WriteAllBytes(p, bytes);
        return p;
    }

    [Fact]
    public void OnnxModelItem()
    {
        RequirePackage();
        var model = TestModels.TinyMlp();
        var y = BuildAndRun("Consumer1", model, "tiny.onnx", """<OnnxModel Include="tiny.onnx" />""", "Consumer1.Tiny", "YLength");
        Check(model, new[] { 1, 4 }, y);
    }

    [Fact]
    public void PlainAdditionalFilesItem()
    {
        RequirePackage();
        var model = TestModels.TinyMlp();
        var y = BuildAndRun("Consumer2", model, "tiny.onnx", """<AdditionalFiles Include="tiny.onnx" />""", "Consumer2.Tiny", "YLength");
        Check(model, new[] { 1, 4 }, y);
    }

    [Fact]
    public void OnnxModelItemWithClassNameNamespaceAndInputShape()
    {
        RequirePackage();
        // the batch dimension is symbolic: without InputShape the build would fail with MG0003
        var bytes = new OnnxBuilder()
            .SymbolicInput("x", DType.Float, "batch", 4)
            .Initializer("w", new[] { 4, 2 }, new[] { 0.5f, -1f, 0.25f, 2f, -0.75f, 0.125f, 1f, -0.5f })
            .Initializer("c", new[] { 2 }, new[] { 0.1f, -0.3f })
            .Node("Gemm", new[] { "x", "w", "c" }, new[] { "g" })
            .Node("Tanh", new[] { "g" }, new[] { "score" })
            .Output("score").Build();
        var y = BuildAndRun("Consumer3", bytes, "scorer.onnx",
            """<OnnxModel Include="scorer.onnx" ClassName="KeywordScorer" Namespace="Acme.Models" InputShape="1,4" />""",
            "Acme.Models.KeywordScorer", "ScoreLength");
        Check(bytes, new[] { 1, 4 }, y);
    }

    [Fact]
    public void BrokenModelFailsTheBuildWithADiagnosticOnTheModelFile()
    {
        RequirePackage();
        var bytes = new OnnxBuilder().Input("x", DType.Float, 1, 4).Node("NoSuchOp", new[] { "x" }, new[] { "y" }).Output("y").Build();
        var (code, output) = Build("Consumer4", bytes, "broken.onnx", """<OnnxModel Include="broken.onnx" />""", "Consumer4.Broken", "YLength");
        Assert.NotEqual(0, code);
        // reported on the model file, with the ModelGen id and the node
        Assert.Matches(@"broken\.onnx.*error MG0002: broken\.onnx: operator NoSuchOp .*node 'NoSuchOp_0'", output);
    }

    [Fact]
    public void Int8QuantizationWithACalibrationGlob()
    {
        RequirePackage();
        // the Calibration glob is expanded by the targets into AdditionalFiles the generator reads
        var model = TestModels.TinyMlp();
        var dir = Path.Combine(pack.Root, "Consumer5", "calib");
        Directory.CreateDirectory(dir);
        var samples = Ort.Random(4 * 100, 3).Concat(X).ToArray();
        var bytes = new byte[samples.Length * 4];
        Buffer.BlockCopy(samples, 0, bytes, 0, bytes.Length);
        File.WriteAllBytes(Path.Combine(dir, "part1.bin"), bytes);
        var y = BuildAndRun("Consumer5", model, "tiny.onnx", """<OnnxModel Include="tiny.onnx" Quantize="Int8" Calibration="calib/*.bin" CalibrationMethod="Percentile" />""", "Consumer5.Tiny", "YLength");
        var path = Path.Combine(pack.Root, "tiny5.onnx");
        File.WriteAllBytes(path, model);
        var expected = Ort.Run(path, (X, new[] { 1, 4 }))[0];
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - y[i]) <= 0.02, $"output {i}: float {expected[i]}, int8 {y[i]}");

        // a glob that matches nothing: MG0014 on the model file
        var (code, output) = Build("Consumer6", model, "tiny.onnx", """<OnnxModel Include="tiny.onnx" Quantize="Int8" Calibration="nothing/*.bin" />""", "Consumer6.Tiny", "YLength");
        Assert.NotEqual(0, code);
        Assert.Matches(@"tiny\.onnx.*error MG0014: .*Calibration=""nothing/\*\.bin"" matched no files", output);
    }

    void Check(byte[] model, int[] shape, float[] actual)
    {
        var path = Path.Combine(pack.Root, Guid.NewGuid().ToString("N") + ".onnx");
        File.WriteAllBytes(path, model);
        var expected = Ort.Run(path, (X, shape))[0];
        log.WriteLine($"expected {string.Join(", ", expected)}; printed {string.Join(", ", actual)}");
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5 + 1e-5 * Math.Abs(expected[i]), $"output {i}: expected {expected[i]}, printed {actual[i]}");
    }

    /// <summary>Writes a console project using the package, builds and runs it; returns the printed prediction.</summary>
    float[] BuildAndRun(string name, byte[] model, string modelFile, string item, string fullClass, string outLength)
    {
        var (code, output) = Build(name, model, modelFile, item, fullClass, outLength);
        Assert.True(code == 0, $"build of {name} failed ({code}):\n{Tail(output)}");
        // the generator loaded and ran (no analyzer load failure, no generator crash)
        Assert.DoesNotContain("CS8032", output);
        Assert.DoesNotContain("CS8784", output);
        Assert.DoesNotContain("AD0001", output);
        Assert.Contains(Path.Combine(pack.Packages, "modelgen", pack.Version!.ToLowerInvariant()), Directory.GetDirectories(Path.Combine(pack.Packages, "modelgen")));
        var dll = Path.Combine(pack.Root, name, "bin", "Release", "net10.0", name + ".dll");
        var (runCode, runOut) = Proc.Run("dotnet", $"\"{dll}\"", Path.Combine(pack.Root, name), TimeSpan.FromMinutes(1));
        Assert.True(runCode == 0, $"{name} exited {runCode}:\n{runOut}");
        var line = runOut.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("PREDICTION ")) ?? throw new Xunit.Sdk.XunitException("no prediction printed:\n" + runOut);
        return line.Substring("PREDICTION ".Length).Split(';').Select(s => float.Parse(s, CultureInfo.InvariantCulture)).ToArray();
    }

    (int Code, string Output) Build(string name, byte[] model, string modelFile, string item, string fullClass, string outLength)
    {
        var dir = Path.Combine(pack.Root, name);
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, modelFile), model);
        File.WriteAllText(Path.Combine(dir, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{pack.Feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="local"><package pattern="ModelGen" /></packageSource>
                <packageSource key="nuget.org"><package pattern="*" /></packageSource>
              </packageSourceMapping>
            </configuration>
            """);
        // keep the consumer out of the repository's Directory.Build.props / Directory.Packages.props
        File.WriteAllText(Path.Combine(dir, "Directory.Build.props"), "<Project />");
        File.WriteAllText(Path.Combine(dir, "Directory.Packages.props"), "<Project />");
        File.WriteAllText(Path.Combine(dir, name + ".csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="ModelGen" Version="{pack.Version}" />
                {item}
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(dir, "Program.cs"), $$"""
            using System.Globalization;
            float[] x = { {{string.Join(", ", X.Select(v => v.ToString("R", CultureInfo.InvariantCulture) + "f"))}} };
            var y = new float[{{fullClass}}.{{outLength}}];
            {{fullClass}}.Predict(x, y);
            Console.WriteLine("PREDICTION " + string.Join(";", y.Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
            """);
        var env = new Dictionary<string, string> { ["NUGET_PACKAGES"] = pack.Packages };
        var (code, output) = Proc.Run("dotnet", "build -c Release --disable-build-servers -nodeReuse:false -p:UseSharedCompilation=false", dir, TimeSpan.FromMinutes(5), env);
        log.WriteLine(Tail(output, 4000));
        return (code, output);
    }
}
