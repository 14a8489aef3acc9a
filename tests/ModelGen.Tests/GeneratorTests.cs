using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;
using ModelGen.Compiler;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Roslyn;
using Xunit;

namespace ModelGen.Tests;

/// <summary>An AdditionalText on a real file (the generator reads the bytes from Path, as in a build).</summary>
sealed class FileText(string path) : AdditionalText
{
    public override string Path { get; } = path;
    public override SourceText? GetText(CancellationToken cancellationToken = default) => null; // binary: never read as text
}

sealed class DictOptions(IReadOnlyDictionary<string, string> values) : AnalyzerConfigOptions
{
    public override bool TryGetValue(string key, [NotNullWhen(true)] out string? value) => values.TryGetValue(key, out value);
    public override IEnumerable<string> Keys => values.Keys;
}

/// <summary>What MSBuild's editorconfig gives the generator: build_property.* globals and build_metadata.AdditionalFiles.* per file.</summary>
sealed class Options(Dictionary<string, string> global, Dictionary<string, Dictionary<string, string>> perFile) : AnalyzerConfigOptionsProvider
{
    static readonly DictOptions s_empty = new(new Dictionary<string, string>());
    public override AnalyzerConfigOptions GlobalOptions { get; } = new DictOptions(global);
    public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => s_empty;
    public override AnalyzerConfigOptions GetOptions(AdditionalText textFile) => perFile.TryGetValue(textFile.Path, out var m) ? new DictOptions(m) : s_empty;

    /// <summary>Per-file ModelGen metadata (ClassName, Namespace, InputShape, Target, DisabledPasses) and global properties.</summary>
    public static Options For(string path, Dictionary<string, string>? meta = null, Dictionary<string, string>? props = null) => new(
        (props ?? new()).ToDictionary(kv => "build_property." + kv.Key, kv => kv.Value),
        new() { [path] = (meta ?? new()).ToDictionary(kv => "build_metadata.AdditionalFiles.ModelGen" + kv.Key, kv => kv.Value) });
}

/// <summary>The Roslyn layer, driven with CSharpGeneratorDriver as the compiler does (step tracking on).</summary>
public sealed class GeneratorTests : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), "modelgen-gen-" + Guid.NewGuid().ToString("N"));
    public GeneratorTests() => Directory.CreateDirectory(_dir);
    public void Dispose() { try { Directory.Delete(_dir, true); } catch (IOException) { } }

    static readonly CSharpParseOptions s_parse = new(LanguageVersion.Latest);

    string Write(string name, byte[] bytes)
    {
        var p = Path.Combine(_dir, name);
        File.WriteAllBytes(p, bytes);
        return p;
    }

    static CSharpCompilation NewCompilation(params string[] sources) => CSharpCompilation.Create("App",
        sources.Select(s => CSharpSyntaxTree.ParseText(s, s_parse)), Harness.NetReferences,
        new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true));

    static GeneratorDriver NewDriver(AnalyzerConfigOptionsProvider options, params AdditionalText[] files) =>
        CSharpGeneratorDriver.Create(new[] { new ModelGenGenerator().AsSourceGenerator() }, files, s_parse, options,
            new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    static IncrementalStepRunReason[] Reasons(GeneratorDriver d, string step) =>
        d.GetRunResult().Results.Single().TrackedSteps.TryGetValue(step, out var runs)
            ? runs.SelectMany(r => r.Outputs).Select(o => o.Reason).ToArray()
            : Array.Empty<IncrementalStepRunReason>();

    const string UseTiny = """
        namespace App;
        public static class UseIt
        {
            public static float[] Run(float[] x)
            {
                var y = new float[App.Models.Tiny.YLength];
                App.Models.Tiny.Predict(x, y);
                return y;
            }
        }
        """;

    [Fact]
    public void GeneratedSourceIsAddedAndCompiles()
    {
        var path = Write("tiny_mlp.onnx", TestModels.TinyMlp());
        var options = Options.For(path, new() { ["ClassName"] = "Tiny", ["Namespace"] = "App.Models" }, new() { ["RootNamespace"] = "App" });
        var driver = NewDriver(options, new FileText(path));
        driver = driver.RunGeneratorsAndUpdateCompilation(NewCompilation(UseTiny), out var output, out var genDiags);
        var run = driver.GetRunResult();
        var gen = run.Results.Single();
        Assert.Null(gen.Exception);
        var src = Assert.Single(gen.GeneratedSources);
        Assert.EndsWith(".g.cs", src.HintName);
        Assert.StartsWith("Tiny.", src.HintName);
        // the generator adds exactly what the compiler core produces
        var direct = ModelCompiler.Compile(File.ReadAllBytes(path), path, new ModelOptions { ClassName = "Tiny", Namespace = "App.Models" });
        Assert.Equal(direct.Source, src.SourceText.ToString());
        var errors = output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, string.Join("\n", errors));
        // the info diagnostic says what was compiled, on the model file
        var info = Assert.Single(genDiags);
        Assert.Equal("MG0010", info.Id);
        Assert.Equal(DiagnosticSeverity.Info, info.Severity);
        Assert.Equal(path, info.Location.GetLineSpan().Path);

        // and the compiled assembly computes the model
        using var ms = new MemoryStream();
        Assert.True(output.Emit(ms).Success);
        var asm = System.Reflection.Assembly.Load(ms.ToArray());
        var x = new[] { 0.3f, -1.2f, 2f, 0.7f };
        var y = (float[])asm.GetType("App.UseIt")!.GetMethod("Run")!.Invoke(null, new object[] { x })!;
        OpCheck.AssertClose(OpCheck.RunOrt(TestModels.TinyMlp(), new Array[] { x })[0], y, 1e-5, "generator output");
    }

    [Fact]
    public void DefaultsComeFromTheFileNameAndRootNamespace()
    {
        var path = Write("hey_tiny-v0.2.onnx", TestModels.TinyMlp());
        var driver = NewDriver(Options.For(path, props: new() { ["RootNamespace"] = "My.App" }), new FileText(path));
        driver = driver.RunGenerators(NewCompilation());
        var src = Assert.Single(driver.GetRunResult().Results.Single().GeneratedSources).SourceText.ToString();
        Assert.Contains("namespace My.App", src);
        Assert.Contains("public static partial class HeyTinyV02", src);
        Assert.Contains("Target profile: Net", src);
    }

    [Fact]
    public void NanoFrameworkProjectsGetThePortableProfile()
    {
        var path = Write("tiny.onnx", TestModels.TinyMlp());
        foreach (var props in new[]
        {
            new Dictionary<string, string> { ["TargetFrameworkIdentifier"] = ".NETnanoFramework" },
            new Dictionary<string, string> { ["ModelGenTarget"] = "Portable" },
        })
        {
            var driver = NewDriver(Options.For(path, props: props), new FileText(path)).RunGenerators(NewCompilation());
            var src = Assert.Single(driver.GetRunResult().Results.Single().GeneratedSources).SourceText.ToString();
            Assert.Contains("Target profile: Portable", src);
            Assert.Empty(Harness.CompileNano(src));
        }
        // per-file metadata wins over the project property
        var d2 = NewDriver(Options.For(path, new() { ["Target"] = "Net" }, new() { ["ModelGenTarget"] = "Portable" }), new FileText(path)).RunGenerators(NewCompilation());
        Assert.Contains("Target profile: Net", d2.GetRunResult().Results.Single().GeneratedSources.Single().SourceText.ToString());
    }

    [Fact]
    public void DiagnosticsAreReportedOnTheModelFile()
    {
        var bad = Write("bad_op.onnx", new OnnxBuilder().Input("x", DType.Float, 1, 4).Node("Frobnicate", new[] { "x" }, new[] { "y" }).Output("y").Build());
        var driver = NewDriver(Options.For(bad), new FileText(bad)).RunGeneratorsAndUpdateCompilation(NewCompilation(), out _, out var diags);
        Assert.Empty(driver.GetRunResult().Results.Single().GeneratedSources);
        var d = Assert.Single(diags);
        Assert.Equal("MG0002", d.Id);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        Assert.Equal(bad, d.Location.GetLineSpan().Path);
        Assert.Contains("bad_op.onnx", d.GetMessage());
        Assert.Contains("Frobnicate", d.GetMessage());
        Assert.Contains("Frobnicate_0", d.GetMessage()); // the node

        // an invalid option and an unreadable file are diagnostics too, never exceptions
        var ok = Write("ok.onnx", TestModels.TinyMlp());
        var missing = Path.Combine(_dir, "missing.onnx");
        var opts = new Options(new(), new()
        {
            [ok] = new() { ["build_metadata.AdditionalFiles.ModelGenTarget"] = "Arduino" },
            [missing] = new(),
        });
        var d2 = NewDriver(opts, new FileText(ok), new FileText(missing), new FileText(Write("notes.txt", new byte[] { 1, 2, 3 })));
        d2 = d2.RunGeneratorsAndUpdateCompilation(NewCompilation(), out _, out var diags2);
        Assert.Null(d2.GetRunResult().Results.Single().Exception);
        Assert.Equal(2, diags2.Length); // notes.txt is not a model: ignored
        var target = Assert.Single(diags2, x => x.Id == "MG0008");
        Assert.Equal(ok, target.Location.GetLineSpan().Path);
        Assert.Contains("Arduino", target.GetMessage());
        var file = Assert.Single(diags2, x => x.Id == "MG0009");
        Assert.Equal(missing, file.Location.GetLineSpan().Path);
        Assert.All(diags2, x => Assert.Equal(DiagnosticSeverity.Error, x.Severity));
    }

    [Fact]
    public void UnrelatedEditsDoNoModelWork()
    {
        var path = Write("tiny.onnx", TestModels.TinyMlp());
        var text = new FileText(path);
        var options = Options.For(path, new() { ["ClassName"] = "Tiny" });
        var comp = NewCompilation("class A {}");
        var driver = NewDriver(options, text).RunGenerators(comp);
        Assert.Equal(new[] { IncrementalStepRunReason.New }, Reasons(driver, ModelGenGenerator.CompileStep));
        var first = driver.GetRunResult().GeneratedTrees.Single().ToString();

        // an unrelated syntax tree: the model step is served from the cache (Cached: its function did not even run;
        // Unchanged would mean the model was compiled again to the same result)
        driver = driver.RunGenerators(comp.AddSyntaxTrees(CSharpSyntaxTree.ParseText("class B { void M() {} }", s_parse)));
        Assert.Equal(new[] { IncrementalStepRunReason.Cached }, Reasons(driver, ModelGenGenerator.CompileStep));
        Assert.Equal(new[] { IncrementalStepRunReason.Cached }, Reasons(driver, ModelGenGenerator.SpecStep));
        Assert.Equal(first, driver.GetRunResult().GeneratedTrees.Single().ToString());

        // the file touched but its bytes unchanged (a new AdditionalText, as after a save): the spec is re-made, the compile is not
        var same = new FileText(path);
        driver = driver.ReplaceAdditionalText(text, same).RunGenerators(comp);
        Assert.Equal(new[] { IncrementalStepRunReason.Unchanged }, Reasons(driver, ModelGenGenerator.SpecStep));
        Assert.Equal(new[] { IncrementalStepRunReason.Cached }, Reasons(driver, ModelGenGenerator.CompileStep));
    }

    [Fact]
    public void OptionOrContentChangesRecompile()
    {
        var path = Write("tiny.onnx", TestModels.TinyMlp());
        var text = new FileText(path);
        var comp = NewCompilation();
        var driver = NewDriver(Options.For(path, new() { ["ClassName"] = "Tiny" }), text).RunGenerators(comp);
        var first = driver.GetRunResult().GeneratedTrees.Single().ToString();

        // an option changes: re-run with the new option
        driver = driver.WithUpdatedAnalyzerConfigOptions(Options.For(path, new() { ["ClassName"] = "Renamed" })).RunGenerators(comp);
        Assert.Equal(new[] { IncrementalStepRunReason.Modified }, Reasons(driver, ModelGenGenerator.CompileStep));
        var renamed = driver.GetRunResult().GeneratedTrees.Single().ToString();
        Assert.Contains("class Renamed", renamed);
        Assert.DoesNotContain("class Tiny", renamed);

        // the model file's content changes (same path): re-run, and the new weights are in the source
        var changed = new OnnxBuilder()
            .Input("x", DType.Float, 1, 4)
            .Initializer("w", new[] { 4, 1 }, new[] { 1.5f, 2.5f, 3.5f, 4.5f })
            .Node("Gemm", new[] { "x", "w" }, new[] { "y" })
            .Output("y").Build();
        File.WriteAllBytes(path, changed);
        var text2 = new FileText(path);
        driver = driver.ReplaceAdditionalText(text, text2).RunGenerators(comp);
        Assert.Equal(new[] { IncrementalStepRunReason.Modified }, Reasons(driver, ModelGenGenerator.CompileStep));
        var after = driver.GetRunResult().GeneratedTrees.Single().ToString();
        Assert.NotEqual(renamed, after);
        Assert.Contains("3.5f", after);
        Assert.NotEqual(first, after);

        // the InputShape option changing is a re-run too (and a bad value is a diagnostic)
        driver = driver.WithUpdatedAnalyzerConfigOptions(Options.For(path, new() { ["ClassName"] = "Renamed", ["InputShape"] = "1,x" }))
            .RunGeneratorsAndUpdateCompilation(comp, out _, out var diags);
        Assert.Equal(new[] { IncrementalStepRunReason.Modified }, Reasons(driver, ModelGenGenerator.CompileStep));
        Assert.Equal("MG0008", Assert.Single(diags).Id);
    }
}
