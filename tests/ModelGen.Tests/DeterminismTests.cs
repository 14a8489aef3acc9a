using System.Globalization;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using ModelGen.Compiler;
using Xunit;

namespace ModelGen.Tests;

/// <summary>
/// The same model and options always give byte-identical source: twice in one process, interleaved with other models,
/// and in fresh processes (new string-hash seeds, other cultures), so builds are reproducible and incremental
/// builds do not churn.
/// </summary>
public class DeterminismTests
{
    /// <summary>(file name, bytes, options) of the models compiled here: the synthetic ones and alexa, in both profiles.</summary>
    static IEnumerable<(string Name, byte[] Bytes, ModelOptions Options)> Cases()
    {
        foreach (var target in new[] { TargetProfile.Net, TargetProfile.Portable })
        {
            foreach (var (file, bytes) in TestModels.All()) yield return (file, bytes, new ModelOptions { Target = target });
            yield return ("alexa_v0.1.onnx", File.ReadAllBytes(Models.Alexa), new ModelOptions { Target = target, ClassName = "Alexa", Namespace = "Wake.Words" });
        }
    }

    static string Compile((string Name, byte[] Bytes, ModelOptions Options) c)
    {
        var r = ModelCompiler.Compile(c.Bytes, c.Name, c.Options);
        Assert.True(r.Success, $"{c.Name} ({c.Options.Target}): " + string.Join("\n", r.Diagnostics));
        return r.Source!;
    }

    [Fact]
    public void SameModelTwiceGivesIdenticalSource()
    {
        var cases = Cases().ToList();
        var first = cases.Select(Compile).ToList();
        // again, in reverse order, so any state left by compiling other models would show
        var second = Enumerable.Reverse(cases).Select(Compile).Reverse().ToList();
        for (int i = 0; i < cases.Count; i++)
            Assert.True(first[i] == second[i], $"{cases[i].Name} ({cases[i].Options.Target}) differs between two compilations:\n{Snapshot.Diff(first[i], second[i])}");
    }

    [Fact]
    public void CopiedBytesAndPathDirectoriesDoNotMatter()
    {
        // the generator sees absolute paths that differ per machine: only the file name may reach the source
        var bytes = TestModels.TinyMlp();
        var a = ModelCompiler.Compile(bytes, "/home/alice/src/tiny_mlp.onnx", new ModelOptions()).Source;
        var b = ModelCompiler.Compile((byte[])bytes.Clone(), Path.Combine("C:", "build", "agent", "tiny_mlp.onnx"), new ModelOptions()).Source;
        Assert.NotNull(a);
        Assert.Equal(a, b);
        Assert.DoesNotContain("alice", a);
    }

    [Fact]
    public void FreshProcessesInOtherCulturesGiveIdenticalSource()
    {
        var cases = Cases().ToList();
        var expected = cases.Select(Compile).ToList();
        var dir = Path.Combine(Path.GetTempPath(), "modelgen-det-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var inputs = new List<string>();
            for (int i = 0; i < cases.Count; i++)
            {
                var p = Path.Combine(dir, i + "_" + cases[i].Name);
                File.WriteAllBytes(p, cases[i].Bytes);
                var o = cases[i].Options;
                inputs.Add($"{p}|{cases[i].Name}|{o.Target}|{o.ClassName}|{o.Namespace}");
            }
            File.WriteAllLines(Path.Combine(dir, "jobs.txt"), inputs);
            // de-DE writes 1,5 for 1.5; tr-TR upper-cases i to İ: both break culture-sensitive code generation
            foreach (var culture in new[] { "de-DE", "tr-TR" })
            {
                var outDir = Path.Combine(dir, culture);
                Directory.CreateDirectory(outDir);
                var (code, output) = Proc.Run("dotnet", $"exec \"{CompilerTool.Path}\" \"{Path.Combine(dir, "jobs.txt")}\" \"{outDir}\" {culture}", dir, TimeSpan.FromMinutes(5),
                    new Dictionary<string, string> { ["DOTNET_SYSTEM_GLOBALIZATION_INVARIANT"] = "0" });
                Assert.True(code == 0, $"compiler process ({culture}) exited {code}:\n{output}");
                Assert.Contains("culture " + culture, output);
                for (int i = 0; i < cases.Count; i++)
                {
                    var got = File.ReadAllText(Path.Combine(outDir, i + ".cs"));
                    Assert.True(expected[i] == got, $"{cases[i].Name} ({cases[i].Options.Target}) differs in a fresh {culture} process:\n{Snapshot.Diff(expected[i], got)}");
                }
            }
        }
        finally { Directory.Delete(dir, true); }
    }
}

/// <summary>
/// A tiny console program, compiled here with Roslyn against ModelGen.Generator, that compiles models in a process of
/// its own: `dotnet exec tool.dll jobs.txt outDir culture` (each job line: path|name|target|class|namespace).
/// </summary>
internal static class CompilerTool
{
    static readonly Lazy<string> s_path = new(Build);
    public static string Path => s_path.Value;

    const string Source = """
        using System;
        using System.Globalization;
        using System.IO;
        using ModelGen.Compiler;

        public static class Program
        {
            public static int Main(string[] args)
            {
                var culture = new CultureInfo(args[2]);
                CultureInfo.DefaultThreadCurrentCulture = CultureInfo.CurrentCulture = culture;
                CultureInfo.DefaultThreadCurrentUICulture = CultureInfo.CurrentUICulture = culture;
                Console.WriteLine("culture " + CultureInfo.CurrentCulture.Name + " " + (1.5).ToString());
                var jobs = File.ReadAllLines(args[0]);
                int failed = 0;
                for (int i = 0; i < jobs.Length; i++)
                {
                    var f = jobs[i].Split('|');
                    var options = new ModelOptions { Target = (TargetProfile)Enum.Parse(typeof(TargetProfile), f[2]), ClassName = f[3], Namespace = f[4] };
                    var r = ModelCompiler.Compile(File.ReadAllBytes(f[0]), f[1], options);
                    if (!r.Success) { failed++; Console.WriteLine(f[1] + ": " + string.Join("; ", r.Diagnostics)); }
                    File.WriteAllText(Path.Combine(args[1], i + ".cs"), r.Source ?? "");
                }
                return failed;
            }
        }
        """;

    static string Build()
    {
        var dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "modelgen-tool-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var generator = typeof(ModelCompiler).Assembly.Location;
        var protobuf = typeof(Google.Protobuf.MessageParser).Assembly.Location;
        var comp = CSharpCompilation.Create("ModelGenTool",
            new[] { CSharpSyntaxTree.ParseText(Source, new CSharpParseOptions(LanguageVersion.Latest)) },
            Harness.NetReferences.Append(MetadataReference.CreateFromFile(generator)),
            new CSharpCompilationOptions(OutputKind.ConsoleApplication));
        var exe = System.IO.Path.Combine(dir, "ModelGenTool.dll");
        var emit = comp.Emit(exe);
        if (!emit.Success) throw new InvalidOperationException("tool does not compile:\n" + string.Join("\n", emit.Diagnostics));
        File.Copy(generator, System.IO.Path.Combine(dir, System.IO.Path.GetFileName(generator)));
        File.Copy(protobuf, System.IO.Path.Combine(dir, System.IO.Path.GetFileName(protobuf)));
        var v = Environment.Version;
        File.WriteAllText(System.IO.Path.Combine(dir, "ModelGenTool.runtimeconfig.json"),
            $$"""{ "runtimeOptions": { "tfm": "net{{v.Major}}.{{v.Minor}}", "framework": { "name": "Microsoft.NETCore.App", "version": "{{v.Major}}.{{v.Minor}}.{{v.Build}}" } } }""");
        return exe;
    }
}
