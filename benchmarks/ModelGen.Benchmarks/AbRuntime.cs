using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using ModelGen.Compiler;
using ModelGen.Compiler.Quantization;

namespace ModelGen.Benchmarks;

/// <summary>
/// `abruntime old/ModelGen.Runtime.dll model.onnx[,model.onnx...] [Int8]`: one generated source (this generator) run on
/// two builds of the runtime in one process, each in a load context of its own: the A/B of a runtime change on whole
/// models. On a shared machine the load moves by up to 2x between processes; calls alternated within one process see the
/// same load. Both outputs must be bit-identical or it says so. Int8 calibrates on 32 random normal samples
/// (<see cref="Int8Models.RandomSamples"/>; the speed does not depend on it). Prints the median of the pairs' new/old ratios and
/// their quartiles; MODELGEN_PROFILE=1 adds each layer's new/old time.
/// </summary>
internal static class AbRuntime
{
    sealed class RuntimeContext(string runtime, string name) : AssemblyLoadContext(name)
    {
        protected override Assembly Load(AssemblyName n) => n.Name == "ModelGen.Runtime" ? LoadFromAssemblyPath(runtime) : null;
    }

    public static void Run(string oldRuntime, string models, string mode)
    {
        var newRuntime = typeof(Runtime.Gemm).Assembly.Location;
        foreach (var path in models.Split(','))
        {
            var bytes = File.ReadAllBytes(path);
            var model = ModelGen.Compiler.Onnx.Proto.ModelProto.Parser.ParseFrom(bytes);
            var inits = new HashSet<string>(model.Graph.Initializer.Select(t => t.Name));
            var input = model.Graph.Input.First(i => !inits.Contains(i.Name));
            var shape = input.Type.TensorType.Shape.Dim.Select(d => d.DimValue > 0 ? (int)d.DimValue : 1).ToArray();
            int n = shape.Aggregate(1, (a, b) => a * b);
            var options = new ModelOptions { ClassName = "AbModel", Quantize = mode == "Int8" ? QuantizeMode.Int8 : QuantizeMode.None, Profile = Int8Models.Profile };
            var calib = mode == "Int8" ? new[] { new CalibrationFile("calib.bin", Int8Models.RandomSamples(n, 32)) } : null;
            var result = ModelCompiler.Compile(bytes, path, options, calib);
            if (!result.Success) { Console.WriteLine($"{Path.GetFileName(path)}: does not compile"); continue; }
            var image = Emit(result.Source);
            var a = Load(image, oldRuntime, "old");
            var b = Load(image, newRuntime, "new");
            int m = model.Graph.Output[0].Type.TensorType.Shape.Dim.Aggregate(1, (p, d) => p * (d.DimValue > 0 ? (int)d.DimValue : 1));
            var (t, same) = Compare(a, b, n, m);
            Console.WriteLine($"{Path.GetFileNameWithoutExtension(path),-28} {mode ?? "float",-6} old {t.A * 1e6,8:F1} us  new {t.B * 1e6,8:F1} us  new/old {t.Ratio:F3} (quartiles {t.Low:F3}-{t.High:F3}){(same ? "" : "  OUTPUTS DIFFER")}");
        }
    }

    /// <summary>
    /// `absource a.g.cs b.g.cs`: two generated sources of one model (a generator change: each written by its build, as
    /// MODELGEN_PROFILE=1 leaves them in /tmp) on this runtime, alternated in short batches as <see cref="Run"/> does;
    /// the class is renamed AbModel in both. Their outputs must agree bit for bit or it says so.
    /// </summary>
    public static void Sources(string pathA, string pathB)
    {
        var runtime = typeof(Runtime.Gemm).Assembly.Location;
        string Rename(string src)
        {
            var m = System.Text.RegularExpressions.Regex.Match(src, @"public static partial class (\w+)");
            return src.Replace(m.Groups[1].Value + ".", "AbModel.").Replace("partial class " + m.Groups[1].Value, "partial class AbModel");
        }
        var sa = Rename(File.ReadAllText(pathA)); var sb = Rename(File.ReadAllText(pathB));
        int Const(string src, string name) => int.Parse(System.Text.RegularExpressions.Regex.Match(src, $@"public const int {name} = (\d+);").Groups[1].Value);
        var a = Load(Emit(sa), runtime, "a"); var b = Load(Emit(sb), runtime, "b");
        var inName = System.Text.RegularExpressions.Regex.Match(sa, @"public const int (\w+)Length = ").Groups[1].Value;
        int n = Const(sa, inName + "Length");
        var outName = System.Text.RegularExpressions.Regex.Matches(sa, @"public const int (\w+)Length = ").Cast<System.Text.RegularExpressions.Match>().Last().Groups[1].Value;
        int m = Const(sa, outName + "Length");
        var (t, same) = Compare(a, b, n, m);
        Console.WriteLine($"{Path.GetFileName(pathA)} -> {Path.GetFileName(pathB)}: a {t.A * 1e6,8:F1} us  b {t.B * 1e6,8:F1} us  b/a {t.Ratio:F3} (quartiles {t.Low:F3}-{t.High:F3}){(same ? "" : "  OUTPUTS DIFFER")}");
    }

    /// <summary>
    /// Both builds on one random input (n floats in, m out): warmed up, their outputs compared, then alternated in short
    /// batches (each one's profile reset first, so it counts the alternating calls only).
    /// </summary>
    static ((double A, double B, double Ratio, double Low, double High) Times, bool Same) Compare(Action<float[], float[]> a, Action<float[], float[]> b, int n, int m)
    {
        var rng = new Random(5);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        var ya = new float[m]; var yb = new float[m];
        for (int i = 0; i < 300; i++) { a(x, ya); b(x, yb); }
        bool same = ya.AsSpan().SequenceEqual(yb);
        foreach (var f in new[] { a, b }) f.Method.DeclaringType.Assembly.GetType("AbModel").GetMethod("ResetProfile")?.Invoke(null, null);
        var t = Quick.Alternate(() => a(x, ya), () => b(x, yb));
        if (Int8Models.Profile) Layers(a, b);
        return (t, same);
    }

    /// <summary>MODELGEN_PROFILE=1: each layer's time in both builds over the same alternating calls.</summary>
    static void Layers(Action<float[], float[]> a, Action<float[], float[]> b)
    {
        var ta = (long[])a.Method.DeclaringType.Assembly.GetType("AbModel").GetField("LayerTicks").GetValue(null);
        var tb = (long[])b.Method.DeclaringType.Assembly.GetType("AbModel").GetField("LayerTicks").GetValue(null);
        var names = (string[])a.Method.DeclaringType.Assembly.GetType("AbModel").GetField("LayerNames").GetValue(null);
        double ua = ta.Sum(), ub = tb.Sum();
        Console.WriteLine($"{"old %",7} {"new/old",8}  layer (share of the old total, the layer's new/old time)");
        for (int i = 0; i < names.Length; i++)
            if (ta[i] > 0) Console.WriteLine($"{100 * ta[i] / ua,7:F1} {(double)tb[i] / ta[i],8:F3}  {names[i]}");
        Console.WriteLine($"{100.0,7:F1} {ub / ua,8:F3}  total");
    }

    static byte[] Emit(string source)
    {
        var adapter = "public static class Adapter { public static void Run(float[] x, float[] y) => global::AbModel.Predict(x, y); }";
        var tpa = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")).Split(Path.PathSeparator);
        var refs = tpa.Where(p => Path.GetFileName(p).StartsWith("System.") || Path.GetFileName(p) is "mscorlib.dll" or "netstandard.dll")
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).Append(MetadataReference.CreateFromFile(typeof(Runtime.Gemm).Assembly.Location));
        var comp = CSharpCompilation.Create("AbModel", new[] { source, adapter }.Select(s => CSharpSyntaxTree.ParseText(s, new CSharpParseOptions(LanguageVersion.Latest))),
            refs, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, optimizationLevel: OptimizationLevel.Release, allowUnsafe: true));
        using var ms = new MemoryStream();
        var emit = comp.Emit(ms);
        if (!emit.Success) throw new InvalidOperationException(string.Join("\n", emit.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Take(10)));
        return ms.ToArray();
    }

    static Action<float[], float[]> Load(byte[] image, string runtime, string name)
    {
        var asm = new RuntimeContext(runtime, name).LoadFromStream(new MemoryStream(image));
        return asm.GetType("Adapter").GetMethod("Run").CreateDelegate<Action<float[], float[]>>();
    }
}
