using System.Reflection;
using System.Runtime.Loader;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using ModelGen.Compiler;

namespace ModelGen.Tests;

/// <summary>Compiles ONNX models with ModelGen, then compiles the generated C# in memory and runs it.</summary>
public static class Harness
{
    public static string RepoRoot => typeof(Harness).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().First(a => a.Key == "RepoRoot").Value!;
    public static string NanoMscorlib => typeof(Harness).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().First(a => a.Key == "NanoMscorlib").Value!;

    static readonly Lazy<MetadataReference[]> s_netRefs = new(() =>
    {
        var tpa = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        var refs = tpa.Where(p => Path.GetFileName(p).StartsWith("System.") || Path.GetFileName(p) is "mscorlib.dll" or "netstandard.dll")
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToList();
        refs.Add(MetadataReference.CreateFromFile(typeof(ModelGen.Runtime.Gemm).Assembly.Location));
        return refs.ToArray();
    });

    /// <summary>The references generated Net-profile code compiles against: the running framework and ModelGen.Runtime.</summary>
    public static IReadOnlyList<MetadataReference> NetReferences => s_netRefs.Value;

    public static CompileResult Generate(string modelPath, ModelOptions? options = null)
        => ModelCompiler.Compile(File.ReadAllBytes(modelPath), modelPath, options ?? new ModelOptions());

    /// <summary>Generates and compiles (Net profile) a model; returns a runner taking float inputs/outputs by position.</summary>
    public static CompiledModel Build(string modelPath, ModelOptions? options = null)
    {
        options ??= new ModelOptions();
        var r = Generate(modelPath, options);
        if (!r.Success) throw new InvalidOperationException(string.Join("\n", r.Diagnostics));
        return CompiledModel.FromSource(r.Source!, r.ClassName!, options.Namespace, options.Target);
    }

    /// <summary>Compiles C# sources against the running .NET (Net profile); throws with the errors.</summary>
    public static Assembly CompileNet(IEnumerable<string> sources, string name = "Gen")
    {
        var trees = sources.Select(s => CSharpSyntaxTree.ParseText(s, new CSharpParseOptions(LanguageVersion.Latest))).ToArray();
        var comp = CSharpCompilation.Create(name + Guid.NewGuid().ToString("N"), trees, s_netRefs.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, optimizationLevel: OptimizationLevel.Release, allowUnsafe: true, concurrentBuild: true));
        using var ms = new MemoryStream();
        var emit = comp.Emit(ms);
        var errors = emit.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        if (!emit.Success) throw new InvalidOperationException("generated code does not compile:\n" + string.Join("\n", errors.Take(20)));
        ms.Position = 0;
        return new AssemblyLoadContext(name, isCollectible: true).LoadFromStream(ms);
    }

    /// <summary>Compiles Portable-profile source against nanoFramework's mscorlib alone; returns the errors.</summary>
    public static IReadOnlyList<Microsoft.CodeAnalysis.Diagnostic> CompileNano(string source)
    {
        var tree = CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.CSharp7_3));
        var comp = CSharpCompilation.Create("Nano", new[] { tree }, new[] { MetadataReference.CreateFromFile(NanoMscorlib) },
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        using var ms = new MemoryStream();
        var emit = comp.Emit(ms);
        return emit.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
    }
}

/// <summary>A generated model loaded in memory, callable with arrays.</summary>
public sealed class CompiledModel
{
    readonly MethodInfo _run;
    readonly Type _adapter;
    public Type ModelType { get; }
    public string Source { get; }
    CompiledModel(Type modelType, Type adapter, string source) { ModelType = modelType; _adapter = adapter; _run = adapter.GetMethod("Run")!; Source = source; }

    public static CompiledModel FromSource(string source, string className, string? ns, TargetProfile target)
    {
        // Reflection cannot pass spans: a small adapter calls Predict with arrays.
        var full = string.IsNullOrEmpty(ns) ? className : ns + "." + className;
        var tree = CSharpSyntaxTree.ParseText(source);
        var predict = tree.GetRoot().DescendantNodes().OfType<Microsoft.CodeAnalysis.CSharp.Syntax.MethodDeclarationSyntax>()
            .First(m => m.Identifier.Text == "Predict" && !m.ParameterList.Parameters.Any(p => p.Identifier.Text == "scratch"));
        var ps = predict.ParameterList.Parameters;
        var sb = new StringBuilder("public static class __Adapter { public static void Run(object[] a) { global::" + full + ".Predict(");
        for (int i = 0; i < ps.Count; i++)
        {
            var t = ps[i].Type!.ToString();
            var elem = t.Contains('<') ? t.Substring(t.IndexOf('<') + 1).TrimEnd('>') : t.TrimEnd(']', '[');
            sb.Append(i > 0 ? ", " : "").Append($"({elem}[])a[{i}]");
        }
        sb.Append("); }");
        // Allocation probes: typed locals, then Predict called in a loop inside generated code, so that neither
        // reflection nor boxing is measured; returns the bytes this thread allocated during the loop.
        var casts = string.Concat(Enumerable.Range(0, ps.Count).Select(i => $"var p{i} = ({ElementType(ps[i].Type!.ToString())}[])a[{i}]; "));
        var call = string.Join(", ", Enumerable.Range(0, ps.Count).Select(i => "p" + i));
        sb.Append($" public static long Allocated(object[] a, int n) {{ {casts}long before = global::System.GC.GetAllocatedBytesForCurrentThread(); for (int k = 0; k < n; k++) global::{full}.Predict({call}); return global::System.GC.GetAllocatedBytesForCurrentThread() - before; }}");
        if (target == TargetProfile.Net)
            sb.Append($" public static long AllocatedWithScratch(object[] a, byte[] scratch, int n) {{ {casts}long before = global::System.GC.GetAllocatedBytesForCurrentThread(); for (int k = 0; k < n; k++) global::{full}.Predict({call}, scratch); return global::System.GC.GetAllocatedBytesForCurrentThread() - before; }}");
        sb.Append(" }");
        var asm = Harness.CompileNet(new[] { source, sb.ToString() });
        return new CompiledModel(asm.GetType(full)!, asm.GetType("__Adapter")!, source);
    }

    static string ElementType(string t) => t.Contains('<') ? t.Substring(t.IndexOf('<') + 1).TrimEnd('>') : t.TrimEnd(']', '[');

    /// <summary>Calls Predict <paramref name="calls"/> times on this thread (inputs then outputs); returns the bytes allocated meanwhile.</summary>
    public long AllocatedBytes(int calls, params Array[] args) => (long)_adapter.GetMethod("Allocated")!.Invoke(null, new object[] { args, calls })!;

    /// <summary>Net profile: the same with the caller-provided scratch overload.</summary>
    public long AllocatedBytesWithScratch(int calls, byte[] scratch, params Array[] args) => (long)_adapter.GetMethod("AllocatedWithScratch")!.Invoke(null, new object[] { args, scratch, calls })!;

    /// <summary>Runs Predict: inputs then outputs, arrays of the element types.</summary>
    public void Run(params Array[] args) => _run.Invoke(null, new object[] { args });

    public int Const(string name) => Convert.ToInt32(ModelType.GetField(name)!.GetValue(null));
}
