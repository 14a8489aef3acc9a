using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.Loader;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using ModelGen.Compiler;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Onnx;
using ModelGen.Compiler.Onnx.Proto;

namespace ModelGen.Tests.Conformance;

/// <summary>The verdict on one case. Detail names the reason of every non-pass.</summary>
internal sealed class CaseResult
{
    public required ConformanceCase Case { get; init; }
    public required Outcome Outcome { get; init; }
    /// <summary>Fail: "wrong values", "wrong shape", "wrong type", "does not compile", "runtime exception", "timeout",
    /// "rejected" (an MG error on a valid model), "internal error" (MG9999), "runner error". Unsupported: the MG id.</summary>
    public string Kind { get; init; } = "";
    public string Detail { get; init; } = "";
    /// <summary>The compiler crashed (MG9999, or an exception out of ModelCompiler.Compile) or the runner failed.</summary>
    public bool Crash { get; init; }
    /// <summary>Graph inputs bound to the test data at build time (ConstantInputs), comma-separated; empty if none.</summary>
    public string Bound { get; init; } = "";
}

/// <summary>
/// Runs ONNX's backend test cases through ModelGen: generate (Net profile) per case, compile many cases per
/// in-memory Roslyn compilation (isolating the ones that do not compile), load each batch into a collectible
/// AssemblyLoadContext, run every case's Predict through a generated adapter and compare with output_*.pb using
/// ONNX's tolerance |expected - actual| &lt;= 1e-7 + 1e-3 * |expected| (NaN == NaN; integers and bool exact).
/// </summary>
internal sealed class ConformanceRunner
{
    public const string DefaultRoot = "/usr/share/libonnx-testdata/data";
    public static readonly string[] Suites = { "node", "pytorch-converted", "pytorch-operator", "simple" };
    public const double AbsTolerance = 1e-7, RelTolerance = 1e-3;

    public int BatchSize { get; init; } = 64;
    public int Parallelism { get; init; } = Environment.ProcessorCount;
    public TimeSpan CaseTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public Action<string>? Log { get; init; }
    /// <summary>On MG0012, bind the offending inputs (or all integer inputs) to the test data with ConstantInputs and retry.</summary>
    public bool BindShapeInputs { get; init; } = true;
    /// <summary>Test hook: rewrites a case's generated source before it is compiled.</summary>
    internal Func<ConformanceCase, string, string>? MutateSource { get; init; }

    /// <summary>Seconds per phase of the last run (inspect, generate, compile+run).</summary>
    public Dictionary<string, double> Timings { get; } = new();
    public int Compilations => _compilations;
    readonly List<WeakReference> _contexts = new();
    long _roslynTicks, _runTicks, _outputsCompared, _elementsCompared;

    /// <summary>How many of the batches' collectible load contexts are still alive after a full GC (0 = all unloaded).</summary>
    public (int Alive, int Created) LiveContexts()
    {
        for (int i = 0; i < 3; i++) { GC.Collect(); GC.WaitForPendingFinalizers(); }
        lock (_contexts) return (_contexts.Count(w => w.IsAlive), _contexts.Count);
    }
    int _compilations;

    static readonly Lazy<MetadataReference[]> s_refs = new(() =>
    {
        var tpa = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        var refs = tpa.Where(p => Path.GetFileName(p).StartsWith("System.") || Path.GetFileName(p) is "mscorlib.dll" or "netstandard.dll")
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToList();
        refs.Add(MetadataReference.CreateFromFile(typeof(ModelGen.Runtime.Gemm).Assembly.Location));
        return refs.ToArray();
    });

    static readonly CSharpParseOptions s_parse = new(LanguageVersion.Latest, DocumentationMode.None);

    sealed class Pending
    {
        public required ConformanceCase Case { get; init; }
        public required string Namespace { get; init; }
        public required SyntaxTree Model { get; init; }
        public required SyntaxTree Adapter { get; init; }
        public required List<PredictParam> Params { get; init; }
        public string Bound { get; init; } = "";
    }

    public List<CaseResult> Run(string root, Func<ConformanceCase, bool>? filter = null)
    {
        var sw = Stopwatch.StartNew();
        var cases = ConformanceCase.Discover(root, Suites);
        if (filter != null) cases = cases.Where(filter).ToList();
        var po = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Parallelism) };
        Parallel.ForEach(cases, po, c => c.Inspect());
        ConformanceCase.Attribute(cases);
        Timings["inspect"] = sw.Elapsed.TotalSeconds;
        Log?.Invoke($"{cases.Count} cases inspected in {sw.Elapsed.TotalSeconds:F1}s");

        var results = new ConcurrentBag<CaseResult>();
        var pending = new ConcurrentBag<Pending>();
        sw.Restart();
        Parallel.ForEach(cases, po, c =>
        {
            if (c.ReadError != null) results.Add(new CaseResult { Case = c, Outcome = Outcome.Fail, Kind = "runner error", Detail = c.ReadError, Crash = true });
            else if (c.OutOfScope != null) results.Add(new CaseResult { Case = c, Outcome = Outcome.OutOfScope, Detail = c.OutOfScope });
            else if (Generate(c, out var r) is { } p) pending.Add(p);
            else results.Add(r!);
        });
        Timings["generate"] = sw.Elapsed.TotalSeconds;
        Log?.Invoke($"{pending.Count} cases generated in {sw.Elapsed.TotalSeconds:F1}s");

        sw.Restart();
        var ordered = pending.OrderBy(p => p.Case.Id, StringComparer.Ordinal).ToList();
        var batches = new List<List<Pending>>();
        for (int i = 0; i < ordered.Count; i += BatchSize) batches.Add(ordered.GetRange(i, Math.Min(BatchSize, ordered.Count - i)));
        Parallel.ForEach(batches, po, b => CompileAndRun(b, results));
        Timings["compile+run"] = sw.Elapsed.TotalSeconds;
        Timings["roslyn (sum over threads)"] = TimeSpan.FromTicks(_roslynTicks).TotalSeconds;
        Timings["load+run+compare (sum over threads)"] = TimeSpan.FromTicks(_runTicks).TotalSeconds;
        Log?.Invoke($"{batches.Count} batches ({_compilations} Roslyn compilations) compiled and run in {sw.Elapsed.TotalSeconds:F1}s; {_outputsCompared} outputs ({_elementsCompared} elements) compared");
        return results.OrderBy(r => r.Case.Id, StringComparer.Ordinal).ToList();
    }

    // ---------- generation ----------

    static string Ident(string s)
    {
        var sb = new StringBuilder();
        foreach (var ch in s) sb.Append(char.IsAsciiLetterOrDigit(ch) ? ch : '_');
        return sb.ToString();
    }

    static bool IsStatic(ValueInfoProto vi)
        => vi.Type?.TensorType?.Shape is { } s && s.Dim.All(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && d.DimValue > 0);

    static TensorData? InputData(ConformanceCase c, int k)
    {
        var f = Path.Combine(c.DataSets[0], $"input_{k}.pb");
        if (!File.Exists(f)) return null;
        try { return TensorReader.Read(ReadTensor(f), f); }
        catch (CompileException) { return null; }
    }

    static TensorProto ReadTensor(string path) => TensorProto.Parser.ParseFrom(File.ReadAllBytes(path));

    Pending? Generate(ConformanceCase c, out CaseResult? failure)
    {
        failure = null;
        CaseResult Fail(string kind, string detail, bool crash = false) => new() { Case = c, Outcome = Outcome.Fail, Kind = kind, Detail = detail, Crash = crash };
        try
        {
            // Symbolic input dimensions: fix them with InputShape from the test data's actual shapes.
            var shapes = new Dictionary<string, string>(StringComparer.Ordinal);
            if (c.RealInputs.Any(i => !IsStatic(i)) && c.DataSets.Count > 0)
                for (int k = 0; k < c.RealInputs.Count; k++)
                {
                    var f = Path.Combine(c.DataSets[0], $"input_{k}.pb");
                    if (File.Exists(f)) shapes[c.RealInputs[k].Name] = string.Join(",", ReadTensor(f).Dims);
                }
            var id = Ident(c.Suite + "_" + c.Name);
            var bound = new List<string>();
            var constants = new List<string>();
            CompileResult r;
            ModelOptions opts;
            while (true)
            {
                opts = new ModelOptions
                {
                    ClassName = id, Namespace = "Conformance_" + id, Target = TargetProfile.Net,
                    InputShape = string.Join(";", shapes.Select(kv => kv.Key + "=" + kv.Value)),
                    ConstantInputs = string.Join(";", constants),
                };
                try { r = ModelCompiler.Compile(c.ModelBytes, Path.Combine(c.Dir, "model.onnx"), opts); }
                catch (Exception ex) { failure = Fail("internal error", $"ModelCompiler.Compile threw {ex.GetType().Name}: {FirstLine(ex.Message)}", true); return null; }
                // Shape-like inputs (Reshape's shape, Unsqueeze's axes, ...) are graph inputs in ONNX's node tests; ModelGen
                // needs them at build time, where a user binds them with ConstantInputs. Bind them from the test data.
                var dyn = r.Success || !BindShapeInputs || c.DataSets.Count == 0 ? null
                    : r.Diagnostics.FirstOrDefault(x => x.Kind.Severity == DiagSeverity.Error && x.Kind.Id == "MG0012");
                if (dyn == null || bound.Count >= c.RealInputs.Count) break;
                // Which inputs: those the diagnostic quotes; else, sparing the first input (the data operand of nearly every op),
                // small integer/bool ones, small others, any integer/bool; last, an integer/bool first input (NonZero, Unique).
                var data = c.RealInputs.Select((v, k) => (Name: v.Name, k, T: InputData(c, k))).Where(x => x.T != null && x.T.Length > 0 && !bound.Contains(x.Name)).ToList();
                var rounds = new Func<(string Name, int k, TensorData? T), bool>[]
                {
                    x => dyn.Message.Contains("'" + x.Name + "'", StringComparison.Ordinal),
                    x => x.k > 0 && !DTypes.IsFloat(x.T!.Type) && x.T.Length <= 64,
                    x => x.k > 0 && x.T!.Length <= 8,
                    x => x.k > 0 && !DTypes.IsFloat(x.T!.Type),
                    x => !DTypes.IsFloat(x.T!.Type),
                };
                var named = rounds.Select(f => data.Where(f).ToList()).FirstOrDefault(l => l.Count > 0) ?? new();
                int before = bound.Count;
                foreach (var (name, k, t) in named)
                {
                    bound.Add(name);
                    shapes[name] = string.Join(",", t!.Shape);
                    constants.Add(name + "=" + string.Join(",", Enumerable.Range(0, t.Length).Select(i => t.Type is DType.Float or DType.Double
                        ? t.GetDouble(i).ToString("R", CultureInfo.InvariantCulture) : t.GetLong(i).ToString(CultureInfo.InvariantCulture))));
                }
                if (bound.Count == before) break;
            }
            var boundNote = bound.Count == 0 ? "" : string.Join(", ", bound);
            if (!r.Success)
            {
                var d = r.Diagnostics.FirstOrDefault(x => x.Kind.Severity == DiagSeverity.Error);
                if (d == null) { failure = Fail("internal error", "compilation failed without an error diagnostic", true); return null; }
                var msg = d.Kind.Id + ": " + StripFile(d.Message);
                if (d.Kind.Id == "MG0012" && BindShapeInputs && c.DataSets.Count > 0)
                    foreach (var (v, k) in c.RealInputs.Select((v, k) => (v, k)))
                        if (!bound.Contains(v.Name) && d.Message.Contains("'" + v.Name + "'", StringComparison.Ordinal) && InputData(c, k) is { Length: 0 })
                            msg += $" [input '{v.Name}' is an empty tensor in the test data, which ConstantInputs cannot bind]";
                failure = d.Kind.Id switch
                {
                    "MG0002" or "MG0003" or "MG0004" or "MG0005" or "MG0007" or "MG0011" or "MG0012"
                        => new CaseResult { Case = c, Outcome = Outcome.Unsupported, Kind = d.Kind.Id, Detail = msg, Bound = boundNote },
                    "MG9999" => new CaseResult { Case = c, Outcome = Outcome.Fail, Kind = "internal error", Detail = msg + WhereItCrashed(c, opts), Crash = true, Bound = boundNote },
                    _ => new CaseResult { Case = c, Outcome = Outcome.Fail, Kind = "rejected", Detail = msg, Bound = boundNote },
                };
                return null;
            }
            if (MutateSource != null) r = new CompileResult { Source = MutateSource(c, r.Source!), ClassName = r.ClassName, Diagnostics = r.Diagnostics };
            var model = CSharpSyntaxTree.ParseText(r.Source!, s_parse, path: c.Id + "/model.cs", encoding: Encoding.UTF8);
            List<PredictParam> ps;
            try { ps = PredictSignature.Read(model); }
            catch (Exception ex) { failure = Fail("runner error", ex.Message, true); return null; }
            var ns = opts.Namespace;
            var adapter = CSharpSyntaxTree.ParseText(PredictSignature.Adapter(ns, r.ClassName!, ps), s_parse, path: c.Id + "/adapter.cs", encoding: Encoding.UTF8);
            return new Pending { Case = c, Namespace = ns, Model = model, Adapter = adapter, Params = ps, Bound = boundNote };
        }
        catch (Exception ex)
        {
            failure = Fail("runner error", $"{ex.GetType().Name}: {FirstLine(ex.Message)}", true);
            return null;
        }
    }

    /// <summary>Runs the compiler's stages again outside its catch-all to name the method that threw (MG9999 only).</summary>
    static string WhereItCrashed(ConformanceCase c, ModelOptions opts)
    {
        try
        {
            var model = new OnnxImporter(opts).Import(c.ModelBytes);
            ModelGen.Compiler.Passes.PassManager.Run(model.Graph, opts);
            new ModelGen.Compiler.Emit.ModelEmitter(model, opts, "model.onnx").Emit(opts.ClassName, opts.Namespace);
            return "";
        }
        catch (Exception ex)
        {
            var frame = new StackTrace(ex).GetFrames().Select(f => f.GetMethod()).FirstOrDefault(m => m?.DeclaringType?.Namespace?.StartsWith("ModelGen.Compiler", StringComparison.Ordinal) == true);
            return frame == null ? "" : $" (in {frame.DeclaringType!.Name}.{frame.Name})";
        }
    }

    static string StripFile(string msg) => msg.StartsWith("model.onnx: ", StringComparison.Ordinal) ? msg.Substring("model.onnx: ".Length) : msg;

    static string FirstLine(string s)
    {
        s ??= "";
        int nl = s.IndexOfAny(new[] { '\r', '\n' });
        return nl < 0 ? s : s.Substring(0, nl);
    }

    // ---------- compilation ----------

    void CompileAndRun(List<Pending> batch, ConcurrentBag<CaseResult> results)
    {
        var queue = new Queue<List<Pending>>();
        queue.Enqueue(batch);
        while (queue.Count > 0)
        {
            var set = queue.Dequeue();
            var owner = new Dictionary<SyntaxTree, Pending>();
            foreach (var p in set) { owner[p.Model] = p; owner[p.Adapter] = p; }
            Interlocked.Increment(ref _compilations);
            var comp = CSharpCompilation.Create("Conformance" + Guid.NewGuid().ToString("N"), set.SelectMany(p => new[] { p.Model, p.Adapter }), s_refs.Value,
                new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, optimizationLevel: OptimizationLevel.Release, allowUnsafe: true,
                    concurrentBuild: Parallelism <= 1));
            using var ms = new MemoryStream();
            var sw = Stopwatch.StartNew();
            var emit = comp.Emit(ms);
            Interlocked.Add(ref _roslynTicks, sw.Elapsed.Ticks);
            if (emit.Success)
            {
                sw.Restart();
                RunBatch(set, ms.ToArray(), results);
                Interlocked.Add(ref _runTicks, sw.Elapsed.Ticks);
                continue;
            }
            // A case's errors sit in its own trees: take those cases out and compile the others again.
            var errors = emit.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
            var bad = new Dictionary<Pending, Microsoft.CodeAnalysis.Diagnostic>();
            foreach (var e in errors)
                if (e.Location.SourceTree is { } t && owner.TryGetValue(t, out var p) && !bad.ContainsKey(p)) bad[p] = e;
            // Alone, a case's errors are its own; in company they might come from another case: confirm them alone.
            foreach (var (p, e) in bad)
                if (set.Count > 1) queue.Enqueue(new List<Pending> { p });
                else results.Add(new CaseResult { Case = p.Case, Outcome = Outcome.Fail, Kind = "does not compile", Detail = Describe(e), Bound = p.Bound });
            var rest = set.Where(p => !bad.ContainsKey(p)).ToList();
            if (bad.Count > 0) { if (rest.Count > 0) queue.Enqueue(rest); continue; }
            // Errors that belong to no case's tree: bisect until each failing case stands alone.
            if (set.Count == 1)
            {
                results.Add(new CaseResult { Case = set[0].Case, Outcome = Outcome.Fail, Kind = "does not compile", Bound = set[0].Bound, Detail = errors.Count > 0 ? Describe(errors[0]) : "emit failed without errors" });
                continue;
            }
            queue.Enqueue(set.GetRange(0, set.Count / 2));
            queue.Enqueue(set.GetRange(set.Count / 2, set.Count - set.Count / 2));
        }
    }

    static string Describe(Microsoft.CodeAnalysis.Diagnostic e)
    {
        var msg = $"{e.Id}: {e.GetMessage(CultureInfo.InvariantCulture)}";
        if (e.Location.SourceTree is { } t)
        {
            var line = e.Location.GetLineSpan().StartLinePosition.Line;
            var text = t.GetText().Lines[line].ToString().Trim();
            if (text.Length > 140) text = text.Substring(0, 137) + "...";
            msg += $" (line {line + 1}: `{text}`)";
        }
        return msg;
    }

    // ---------- running ----------

    void RunBatch(List<Pending> set, byte[] image, ConcurrentBag<CaseResult> results)
    {
        var alc = new AssemblyLoadContext("conformance", isCollectible: true);
        lock (_contexts) _contexts.Add(new WeakReference(alc));
        try
        {
            var asm = alc.LoadFromStream(new MemoryStream(image));
            foreach (var p in set)
            {
                CaseResult r;
                try { r = RunCase(p, asm); }
                catch (Exception ex) { r = new CaseResult { Case = p.Case, Outcome = Outcome.Fail, Kind = "runner error", Detail = $"{ex.GetType().Name}: {FirstLine(ex.Message)}", Crash = true, Bound = p.Bound }; }
                results.Add(r);
            }
        }
        finally { alc.Unload(); }
    }

    CaseResult RunCase(Pending p, Assembly asm)
    {
        var c = p.Case;
        CaseResult Fail(string kind, string detail) => new() { Case = c, Outcome = Outcome.Fail, Kind = kind, Detail = detail, Bound = p.Bound };
        var run = asm.GetType(p.Namespace + ".ConformanceAdapter")!.GetMethod("Run")!;
        if (c.DataSets.Count == 0) return Fail("runner error", "the case has no test_data_set_*");
        foreach (var ds in c.DataSets)
        {
            var set = c.DataSets.Count > 1 ? Path.GetFileName(ds) + ": " : "";
            var args = new object[p.Params.Count];
            for (int i = 0; i < p.Params.Count; i++)
            {
                var pp = p.Params[i];
                if (!pp.IsInput) { args[i] = Array.CreateInstance(pp.Element, pp.Shape.Aggregate(1, (a, b) => a * b)); continue; }
                int k = c.RealInputs.FindIndex(v => v.Name == pp.OnnxName);
                var f = Path.Combine(ds, $"input_{k}.pb");
                if (k < 0 || !File.Exists(f)) return Fail("runner error", $"{set}no test data for input '{pp.OnnxName}'");
                var t = TensorReader.Read(ReadTensor(f), f);
                if (!t.Shape.SequenceEqual(pp.Shape))
                    return Fail("wrong shape", $"{set}input '{pp.OnnxName}': Predict takes {PredictSignature.Format(pp.Shape)}, the test data is {PredictSignature.Format(t.Shape)}");
                args[i] = ToArray(t, pp.Element);
            }

            Exception? error = null;
            var thread = new Thread(() =>
            {
                try { run.Invoke(null, new object[] { args }); }
                catch (TargetInvocationException ex) { error = ex.InnerException ?? ex; }
                catch (Exception ex) { error = ex; }
            }, 16 << 20) { IsBackground = true, Name = "conformance " + c.Id };
            thread.Start();
            if (!thread.Join(CaseTimeout)) return Fail("timeout", $"{set}Predict did not return within {CaseTimeout.TotalSeconds:F0}s");
            if (error != null) return Fail("runtime exception", $"{set}{error.GetType().Name}: {FirstLine(error.Message)}");

            for (int j = 0; j < c.OutputNames.Count; j++)
            {
                var f = Path.Combine(ds, $"output_{j}.pb");
                if (!File.Exists(f)) continue;
                var name = c.OutputNames[j];
                int i = p.Params.FindIndex(x => !x.IsInput && x.OnnxName == name);
                if (i < 0) return Fail("runner error", $"{set}output '{name}' is not a parameter of Predict");
                var pp = p.Params[i];
                TensorData exp;
                try { exp = TensorReader.Read(ReadTensor(f), f); }
                catch (CompileException ex) { return Fail("runner error", $"{set}output_{j}.pb cannot be read: {ex.Message}"); }
                if (!exp.Shape.SequenceEqual(pp.Shape))
                    return Fail("wrong shape", $"{set}output '{name}': generated {PredictSignature.Format(pp.Shape)}, expected {PredictSignature.Format(exp.Shape)}");
                var expType = ElementOf(exp.Type);
                if (expType != pp.Element)
                    return Fail("wrong type", $"{set}output '{name}': generated {pp.Element.Name}, expected {expType?.Name ?? exp.Type.ToString()}");
                Interlocked.Increment(ref _outputsCompared);
                Interlocked.Add(ref _elementsCompared, exp.Length);
                var diff = Compare(exp, (Array)args[i]);
                if (diff != null) return Fail("wrong values", $"{set}output '{name}': {diff}");
            }
        }
        return new CaseResult { Case = c, Outcome = Outcome.Pass, Bound = p.Bound };
    }

    static Type? ElementOf(DType t) => t switch
    {
        DType.Float => typeof(float), DType.Double => typeof(double), DType.Int8 => typeof(sbyte), DType.UInt8 => typeof(byte),
        DType.Int16 => typeof(short), DType.UInt16 => typeof(ushort), DType.Int32 => typeof(int), DType.UInt32 => typeof(uint),
        DType.Int64 => typeof(long), DType.UInt64 => typeof(ulong), DType.Bool => typeof(bool), _ => null,
    };

    static Array ToArray(TensorData t, Type e)
    {
        int n = t.Length;
        var a = Array.CreateInstance(e, n);
        for (int i = 0; i < n; i++)
        {
            object v;
            if (e == typeof(float)) v = (float)t.GetDouble(i);
            else if (e == typeof(double)) v = t.GetDouble(i);
            else if (e == typeof(bool)) v = t.GetDouble(i) != 0;
            else
            {
                long l = t.GetLong(i);
                v = e == typeof(sbyte) ? (sbyte)l : e == typeof(byte) ? (byte)l : e == typeof(short) ? (short)l : e == typeof(ushort) ? (ushort)l
                    : e == typeof(int) ? (int)l : e == typeof(uint) ? (uint)l : e == typeof(long) ? l : (object)(ulong)l;
            }
            a.SetValue(v, i);
        }
        return a;
    }

    // Dispatch on the exact element type: the CLR lets a byte[] pass "is sbyte[]" (and ushort[]/short[], uint[]/int[],
    // ulong[]/long[]), so type patterns would read unsigned arrays as signed ones.
    static double Get(Array a, int i)
    {
        var t = a.GetType().GetElementType();
        if (t == typeof(float)) return ((float[])a)[i];
        if (t == typeof(double)) return ((double[])a)[i];
        if (t == typeof(ulong)) return ((ulong[])a)[i];
        return GetLong(a, i);
    }

    static long GetLong(Array a, int i)
    {
        var t = a.GetType().GetElementType();
        if (t == typeof(sbyte)) return ((sbyte[])a)[i];
        if (t == typeof(byte)) return ((byte[])a)[i];
        if (t == typeof(short)) return ((short[])a)[i];
        if (t == typeof(ushort)) return ((ushort[])a)[i];
        if (t == typeof(int)) return ((int[])a)[i];
        if (t == typeof(uint)) return ((uint[])a)[i];
        if (t == typeof(long)) return ((long[])a)[i];
        if (t == typeof(ulong)) return (long)((ulong[])a)[i];
        if (t == typeof(bool)) return ((bool[])a)[i] ? 1 : 0;
        if (t == typeof(float)) return (long)((float[])a)[i];
        if (t == typeof(double)) return (long)((double[])a)[i];
        throw new ArgumentException("element type " + t);
    }

    static string G(double v) => v.ToString("G7", CultureInfo.InvariantCulture);

    /// <summary>Null when equal within ONNX's tolerance; otherwise how many elements differ and the worst one.</summary>
    internal static string? Compare(TensorData exp, Array act)
    {
        int n = exp.Length, bad = 0, worst = -1;
        double worstErr = -1;
        bool isFloat = exp.Type is DType.Float or DType.Double;
        for (int i = 0; i < n; i++)
        {
            double err;
            if (isFloat)
            {
                double e = exp.GetDouble(i), a = Get(act, i);
                if (double.IsNaN(e) ? double.IsNaN(a) : e == a || Math.Abs(e - a) <= AbsTolerance + RelTolerance * Math.Abs(e)) continue;
                err = double.IsNaN(e) || double.IsNaN(a) ? double.PositiveInfinity : Math.Abs(e - a);
                if (double.IsNaN(err)) err = double.PositiveInfinity;
            }
            else
            {
                long e = exp.L[i], a = GetLong(act, i);
                if (e == a) continue;
                err = Math.Abs((double)e - a);
            }
            bad++;
            if (err > worstErr) { worstErr = err; worst = i; }
        }
        if (bad == 0) return null;
        var where = Coordinates(worst, exp.Shape);
        var expS = isFloat ? G(exp.GetDouble(worst)) : exp.L[worst].ToString(CultureInfo.InvariantCulture);
        var actS = isFloat ? G(Get(act, worst)) : GetLong(act, worst).ToString(CultureInfo.InvariantCulture);
        return $"{bad} of {n} elements differ, max error {G(worstErr)} at {where} (expected {expS}, got {actS})";
    }

    static string Coordinates(int flat, int[] shape)
    {
        var idx = new int[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--) { if (shape[d] > 0) { idx[d] = flat % shape[d]; flat /= shape[d]; } }
        return "[" + string.Join(",", idx) + "]";
    }
}
