using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Onnx;
using ModelGen.Compiler.Passes;
using ModelGen.Compiler.Quantization;

namespace ModelGen.Compiler;

/// <summary>Result of compiling one model: the C# source (null on error) and diagnostics.</summary>
public sealed class CompileResult
{
    public string Source { get; init; }
    public string ClassName { get; init; }
    public IReadOnlyList<Diagnostic> Diagnostics { get; init; } = Array.Empty<Diagnostic>();
    public int ArenaBytes { get; init; }
    public int ArenaLowerBoundBytes { get; init; }
    public long WeightBytes { get; init; }
    public bool Success => Source != null;
}

/// <summary>The compiler entry point: ONNX bytes + options -> C# source. Never throws.</summary>
public static class ModelCompiler
{
    /// <param name="calibration">Calibration data for Quantize=Int8 (the files the Calibration glob matched); ignored otherwise.</param>
    public static CompileResult Compile(byte[] bytes, string path, ModelOptions options, IReadOnlyList<CalibrationFile> calibration = null)
    {
        options ??= new ModelOptions();
        var file = System.IO.Path.GetFileName(path ?? "model.onnx");
        var className = string.IsNullOrWhiteSpace(options.ClassName) ? ModelOptions.DefaultClassName(path) : options.ClassName.Trim();
        try
        {
            if (!IsIdentifier(className)) throw new CompileException(Diag.InvalidOption, $"ClassName '{className}' is not a C# identifier");
            if (Names.IsReservedClassName(className)) throw new CompileException(Diag.InvalidOption, $"ClassName '{className}' is a C# keyword or a name the generated code uses; choose another");
            var ns = (options.Namespace ?? "").Trim();
            if (ns.Length > 0 && !Array.TrueForAll(ns.Split('.'), p => IsIdentifier(p) && !Names.IsKeyword(p))) throw new CompileException(Diag.InvalidOption, $"Namespace '{ns}' is not a C# namespace");
            var sw = Stopwatch.StartNew();
            if (options.QuantizeIO != QuantizeIO.Float && options.Quantize != QuantizeMode.Int8)
                throw new CompileException(Diag.InvalidOption, $"QuantizeIO=\"{options.QuantizeIO}\" needs Quantize=\"Int8\" (it makes Predict take and return the int8 tensors of a fully quantized model)");
            var model = Optimize(bytes, options, calibration, out var quantize, out int samples);
            var emitter = new ModelEmitter(model, options, path ?? "model.onnx") { IoQuantization = (quantize as QdqQuantization)?.IoParams };
            var source = emitter.Emit(className, ns);
            var quantized = quantize switch
            {
                QdqQuantization q => $", int8 (calibrated on {samples} samples by {options.CalibrationMethod} in {q.CalibrationMs} ms)",
                WeightOnlyQuantization => ", int8 weights",
                _ => "",
            };
            var info = new Diagnostic(Diag.Compiled, $"{file}: compiled to {(ns.Length > 0 ? ns + "." : "")}{className} ({options.Target}{quantized}) in {sw.ElapsedMilliseconds} ms: {model.Graph.Nodes.Count} layers, {emitter.TotalMacs} MACs, weights {emitter.WeightBytes} bytes, arena {emitter.Plan.ArenaBytes} bytes (lower bound {emitter.Plan.LowerBoundBytes})");
            return new CompileResult
            {
                Source = source, ClassName = className, Diagnostics = model.Graph.Notes.Select(d => new Diagnostic(d.Kind, $"{file}: {d.Message}")).Concat(new[] { info }).ToArray(),
                ArenaBytes = emitter.Plan.ArenaBytes, ArenaLowerBoundBytes = emitter.Plan.LowerBoundBytes, WeightBytes = emitter.WeightBytes,
            };
        }
        catch (CompileException ex)
        {
            return new CompileResult { ClassName = className, Diagnostics = new[] { new Diagnostic(ex.Kind, $"{file}: {ex.Message}") } };
        }
        catch (Exception ex)
        {
            // Never let a bug take down the build: report it as a diagnostic with enough to file an issue.
            return new CompileResult { ClassName = className, Diagnostics = new[] { new Diagnostic(Diag.InternalError, $"{file}: internal error {ex.GetType().Name}: {ex.Message}") } };
        }
    }

    /// <summary>
    /// Import, build-time quantization and the passes: the graph <see cref="Compile"/> emits. Tests reach Int8's QDQ
    /// graph through it (with the lowering passes disabled by name) to run it in ONNX Runtime. Throws CompileException.
    /// </summary>
    internal static Model Optimize(byte[] bytes, ModelOptions options, IReadOnlyList<CalibrationFile> calibration, out IPass quantize, out int samples)
    {
        var model = new OnnxImporter(options).Import(bytes ?? Array.Empty<byte>());
        quantize = Quantizer(model.Graph, options, calibration, out samples);
        PassManager.Run(model.Graph, options, quantize);
        return model;
    }

    /// <summary>The build-time quantization the options ask for (null: none); Int8 reads its calibration samples here.</summary>
    static IPass Quantizer(Graph g, ModelOptions options, IReadOnlyList<CalibrationFile> calibration, out int samples)
    {
        samples = 0;
        if (options.Quantize == QuantizeMode.Weights) return new WeightOnlyQuantization();
        if (options.Quantize != QuantizeMode.Int8) return null;
        var inputs = g.Inputs.FindAll(v => !v.IsConst);
        if (inputs.Count == 0) throw new CompileException(Diag.CalibrationError, "Quantize=\"Int8\" calibrates a model on its inputs; this one has none left (all bound by ConstantInputs). Use Quantize=\"Weights\"");
        var other = inputs.Find(v => v.Type != DType.Float);
        if (other != null)
            throw new CompileException(Diag.CalibrationError, $"Quantize=\"Int8\" calibrates float inputs; input '{other.Name}' is {DTypes.OnnxName(other.Type)}. Bind it at build time with ConstantInputs, or use Quantize=\"Weights\"");
        if (calibration == null || calibration.Count == 0)
            throw new CompileException(Diag.CalibrationMissing,
                (string.IsNullOrWhiteSpace(options.Calibration) ? "Quantize=\"Int8\" needs calibration data and none was given" : $"Quantize=\"Int8\": Calibration=\"{options.Calibration}\" matched no files")
                + $". Set Calibration=\"data/*.bin\" on the <OnnxModel> item: raw little-endian float32 files holding whole samples of {SampleReader.Describe(inputs)} back to back, or float32 .npy files; a few hundred representative samples. Or use Quantize=\"Weights\", which needs none");
        var data = SampleReader.Read(calibration, inputs);
        samples = data.Count;
        return new QdqQuantization(data, options.CalibrationMethod, options.QuantizeIO == QuantizeIO.Int8);
    }

    static bool IsIdentifier(string s)
    {
        // (metadata names are limited to 512 UTF-8 bytes: keep well below)
        if (string.IsNullOrEmpty(s) || s.Length > 200 || !(char.IsLetter(s[0]) || s[0] == '_')) return false;
        foreach (var c in s) if (!(char.IsLetterOrDigit(c) || c == '_')) return false;
        return true;
    }
}
