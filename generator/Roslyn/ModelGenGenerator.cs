using System;
using System.Collections.Generic;
using System.Linq;
using System.Collections.Immutable;
using System.IO;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;

namespace ModelGen.Compiler.Roslyn;

/// <summary>
/// The thin Roslyn layer: .onnx AdditionalFiles + their metadata -> ModelSpec (keyed by content hash) -> compiled source
/// and diagnostics. All model work happens in <see cref="ModelCompiler"/>; nothing here throws.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class ModelGenGenerator : IIncrementalGenerator
{
    public const string SpecStep = "ModelGen.Spec";
    public const string CompileStep = "ModelGen.Compile";
    public const string CalibrationStep = "ModelGen.Calibration";

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var specs = context.AdditionalTextsProvider
            .Where(static f => f.Path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
            .Combine(context.AnalyzerConfigOptionsProvider)
            .Select(static (pair, ct) => CreateSpec(pair.Left, pair.Right))
            .WithTrackingName(SpecStep);

        // Calibration data: AdditionalFiles whose ModelGenCalibrationFor names a model (the targets expand the
        // Calibration glob into them); each one's content hash joins its model's key, so editing data rebuilds it.
        var calibration = context.AdditionalTextsProvider
            .Where(static f => !f.Path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
            .Combine(context.AnalyzerConfigOptionsProvider)
            .Select(static (pair, ct) => CreateCalibrationRef(pair.Left, pair.Right))
            .Where(static c => c != null)
            .Collect();

        var keyed = specs.Combine(calibration)
            .Select(static (pair, ct) => pair.Left.WithCalibration(pair.Right.Where(c => SamePath(c.Model, pair.Left.Path)).OrderBy(c => c.Path, StringComparer.Ordinal)))
            .WithTrackingName(CalibrationStep);

        var results = keyed
            .Select(static (spec, ct) => Run(spec))
            .WithTrackingName(CompileStep);

        context.RegisterSourceOutput(results, static (spc, r) =>
        {
            try
            {
                foreach (var d in r.Diagnostics) spc.ReportDiagnostic(ToRoslyn(d, r.Path));
                if (r.Source != null) spc.AddSource(r.HintName, SourceText.From(r.Source, Encoding.UTF8));
            }
            catch (Exception ex)
            {
                spc.ReportDiagnostic(ToRoslyn(new Diagnostic(Diag.InternalError, $"{Path.GetFileName(r.Path)}: {ex.GetType().Name}: {ex.Message}"), r.Path));
            }
        });
    }

    static string Meta(AnalyzerConfigOptions o, string name) =>
        o.TryGetValue("build_metadata.AdditionalFiles.ModelGen" + name, out var v) && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;

    static string Prop(AnalyzerConfigOptions o, string name) =>
        o.TryGetValue("build_property." + name, out var v) && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;

    internal static ModelSpec CreateSpec(AdditionalText file, AnalyzerConfigOptionsProvider provider)
    {
        var path = file.Path;
        try
        {
            var fo = provider.GetOptions(file);
            var go = provider.GlobalOptions;
            var targetText = Meta(fo, "Target") ?? Prop(go, "ModelGenTarget")
                ?? (Prop(go, "TargetFrameworkIdentifier") == ".NETnanoFramework" ? "Portable" : "Net");
            string error = null;
            if (!Enum.TryParse<TargetProfile>(targetText, true, out var target))
                error = $"{Path.GetFileName(path)}: Target '{targetText}' is not one of Net, Portable";
            var options = new ModelOptions
            {
                ClassName = Meta(fo, "ClassName") ?? "",
                Namespace = Meta(fo, "Namespace") ?? Prop(go, "RootNamespace") ?? "",
                InputShape = Meta(fo, "InputShape") ?? "",
                ConstantInputs = Meta(fo, "ConstantInputs") ?? "",
                Target = target,
                DisabledPasses = Meta(fo, "DisabledPasses") ?? "",
                Quantize = ModelOptions.ParseEnum("Quantize", Meta(fo, "Quantize"), QuantizeMode.None, out var e1) ?? QuantizeMode.None,
                Calibration = Meta(fo, "Calibration") ?? "",
                CalibrationMethod = ModelOptions.ParseEnum("CalibrationMethod", Meta(fo, "CalibrationMethod"), CalibrationMethod.MinMax, out var e2) ?? CalibrationMethod.MinMax,
                QuantizeIO = ModelOptions.ParseEnum("QuantizeIO", Meta(fo, "QuantizeIO"), QuantizeIO.Float, out var e3) ?? QuantizeIO.Float,
                Profile = ModelOptions.ParseBool("Profile", Meta(fo, "Profile"), out var e4),
            };
            var optionError = e1 ?? e2 ?? e3 ?? e4;
            if (error == null && optionError != null) error = $"{Path.GetFileName(path)}: {optionError}";
            return new ModelSpec { Path = path, ContentHash = ModelSpec.Hash(ReadFile(path)), Options = options, Error = error };
        }
        catch (Exception ex)
        {
            return new ModelSpec { Path = path, ContentHash = "", Options = new ModelOptions(), Error = $"{Path.GetFileName(path)}: cannot read the model file: {ex.Message}" };
        }
    }

    static CalibrationRef CreateCalibrationRef(AdditionalText file, AnalyzerConfigOptionsProvider provider)
    {
        var model = Meta(provider.GetOptions(file), "CalibrationFor");
        if (model == null) return null;
        string hash;
        try { hash = ModelSpec.Hash(ReadFile(file.Path)); }
        catch (Exception) { hash = ""; } // reported when the model compiles and cannot read it
        return new CalibrationRef { Path = file.Path, Model = model, ContentHash = hash };
    }

    static bool SamePath(string a, string b) => string.Equals(Normalize(a), Normalize(b), StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Forward slashes, "." and ".." segments resolved: the model's AdditionalFiles path keeps the project's spelling
    /// ("../models/m.onnx" under the project folder) while ModelGenCalibrationFor is MSBuild's normalised FullPath.
    /// </summary>
    internal static string Normalize(string path)
    {
        var parts = new List<string>();
        foreach (var seg in (path ?? "").Replace('\\', '/').Split('/'))
        {
            if (seg == ".") continue;
            if (seg == ".." && parts.Count > 0 && parts[parts.Count - 1] != ".." && parts[parts.Count - 1] != "") { parts.RemoveAt(parts.Count - 1); continue; }
            parts.Add(seg);
        }
        return string.Join("/", parts);
    }

#pragma warning disable RS1035 // Roslyn has no byte API for AdditionalFiles; this is the generator's only I/O.
    static byte[] ReadFile(string path) => File.ReadAllBytes(path);
#pragma warning restore RS1035

    internal sealed class Output : IEquatable<Output>
    {
        public string Path { get; init; }
        public string HintName { get; init; }
        public string Source { get; init; }
        public ImmutableArray<Diagnostic> Diagnostics { get; init; }
        public bool Equals(Output o) => o != null && o.Path == Path && o.HintName == HintName && o.Source == Source && System.Linq.Enumerable.SequenceEqual(o.Diagnostics, Diagnostics);
        public override bool Equals(object obj) => Equals(obj as Output);
        public override int GetHashCode() => (Path ?? "").GetHashCode();
    }

    internal static Output Run(ModelSpec spec)
    {
        var hint = Names(spec);
        if (spec.Error != null)
            return new Output { Path = spec.Path, HintName = hint, Diagnostics = ImmutableArray.Create(new Diagnostic(spec.Error.Contains("cannot read") ? Diag.FileError : Diag.InvalidOption, spec.Error)) };
        byte[] bytes;
        try { bytes = ReadFile(spec.Path); }
        catch (Exception ex)
        {
            return new Output { Path = spec.Path, HintName = hint, Diagnostics = ImmutableArray.Create(new Diagnostic(Diag.FileError, $"{Path.GetFileName(spec.Path)}: cannot read the model file: {ex.Message}")) };
        }
        var calibration = new System.Collections.Generic.List<Quantization.CalibrationFile>();
        foreach (var c in spec.Calibration)
        {
            try { calibration.Add(new Quantization.CalibrationFile(c.Path, ReadFile(c.Path))); }
            catch (Exception ex)
            {
                return new Output { Path = spec.Path, HintName = hint, Diagnostics = ImmutableArray.Create(new Diagnostic(Diag.FileError, $"{Path.GetFileName(spec.Path)}: cannot read calibration file '{c.Path}': {ex.Message}")) };
            }
        }
        var r = ModelCompiler.Compile(bytes, spec.Path, spec.Options, calibration);
        return new Output { Path = spec.Path, HintName = hint, Source = r.Source, Diagnostics = r.Diagnostics.ToImmutableArray() };
    }

    static string Names(ModelSpec spec)
    {
        var name = string.IsNullOrWhiteSpace(spec.Options.ClassName) ? ModelOptions.DefaultClassName(spec.Path) : spec.Options.ClassName;
        var pathHash = ModelSpec.Hash(Encoding.UTF8.GetBytes(spec.Path ?? "")).Substring(0, 8);
        var safe = new StringBuilder();
        foreach (var c in name) safe.Append(char.IsLetterOrDigit(c) || c == '_' ? c : '_');
        return $"{safe}.{pathHash}.g.cs";
    }

    static readonly ImmutableDictionary<string, DiagnosticDescriptor> s_descriptors = BuildDescriptors();

    static ImmutableDictionary<string, DiagnosticDescriptor> BuildDescriptors()
    {
        var b = ImmutableDictionary.CreateBuilder<string, DiagnosticDescriptor>();
        foreach (var d in Diag.All)
            b[d.Id] = new DiagnosticDescriptor(d.Id, d.Title, "{0}", "ModelGen",
                d.Severity == DiagSeverity.Error ? DiagnosticSeverity.Error : d.Severity == DiagSeverity.Warning ? DiagnosticSeverity.Warning : DiagnosticSeverity.Info,
                isEnabledByDefault: true);
        return b.ToImmutable();
    }

    static Microsoft.CodeAnalysis.Diagnostic ToRoslyn(Diagnostic d, string path) =>
        Microsoft.CodeAnalysis.Diagnostic.Create(s_descriptors[d.Kind.Id],
            Location.Create(path ?? "", default, new LinePositionSpan(default, default)), d.Message);
}
