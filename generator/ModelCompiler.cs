using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Onnx;
using ModelGen.Compiler.Passes;

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
    public static CompileResult Compile(byte[] bytes, string path, ModelOptions options)
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
            var model = new OnnxImporter(options).Import(bytes ?? Array.Empty<byte>());
            PassManager.Run(model.Graph, options);
            var emitter = new ModelEmitter(model, options, path ?? "model.onnx");
            var source = emitter.Emit(className, ns);
            var info = new Diagnostic(Diag.Compiled, $"{file}: compiled to {(ns.Length > 0 ? ns + "." : "")}{className} ({options.Target}) in {sw.ElapsedMilliseconds} ms: {model.Graph.Nodes.Count} layers, {emitter.TotalMacs} MACs, weights {emitter.WeightBytes} bytes, arena {emitter.Plan.ArenaBytes} bytes (lower bound {emitter.Plan.LowerBoundBytes})");
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

    static bool IsIdentifier(string s)
    {
        // (metadata names are limited to 512 UTF-8 bytes: keep well below)
        if (string.IsNullOrEmpty(s) || s.Length > 200 || !(char.IsLetter(s[0]) || s[0] == '_')) return false;
        foreach (var c in s) if (!(char.IsLetterOrDigit(c) || c == '_')) return false;
        return true;
    }
}
