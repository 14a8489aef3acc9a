using ModelGen.Compiler.Operators;
using Xunit;

namespace ModelGen.Tests;

/// <summary>docs/operators.md lists exactly the operators in the registry (MODELGEN_ACCEPT=1 rewrites it).</summary>
public class OperatorDocsTests
{
    [Fact]
    public void OperatorListIsCurrent()
    {
        var ops = OperatorRegistry.Supported.OrderBy(o => o.Contains(':') ? 1 : 0).ThenBy(o => o, StringComparer.Ordinal).ToList();
        var lines = new List<string>
        {
            "# Supported operators",
            "",
            "Generated from `OperatorRegistry` by `OperatorDocsTests` (run the tests with `MODELGEN_ACCEPT=1` to refresh).",
            "Every operator supports the attributes its ONNX specification defines, for opsets 7 to 23, unless an",
            "`MG0011` diagnostic says otherwise. Shapes must be static: inputs that decide a shape (Reshape's shape, Slice's",
            "starts, Resize's scales, ...) must be known at build time, or folded from the input shapes.",
            "Conformance per operator against ONNX's own backend tests: `docs/conformance.md`.",
            "",
            $"{ops.Count} operators:",
            "",
        };
        foreach (var group in ops.GroupBy(o => o.Contains(':') ? o.Substring(0, o.IndexOf(':')) : "ai.onnx (default domain)"))
        {
            lines.Add($"## {group.Key}");
            lines.Add("");
            lines.Add(string.Join(", ", group.Select(o => o.Contains(':') ? o.Substring(o.IndexOf(':') + 1) : o)));
            lines.Add("");
        }
        lines.Add("## Rewritten on import");
        lines.Add("");
        lines.Add("ONNX Runtime's own fused operators, found in models saved after its graph optimisations, and the experimental");
        lines.Add("operators of opsets 1-9 (ImageScaler, Crop, ...) become the standard operators they stand for");
        lines.Add("(generator/Onnx/ContribExpansion.cs), which ModelGen's passes fuse again:");
        lines.Add("");
        lines.Add(string.Join(", ", ModelGen.Compiler.Onnx.ContribExpansion.Operators.OrderBy(o => o, StringComparer.Ordinal).Select(o => o.StartsWith(':') ? o.Substring(1) + " (ai.onnx)" : o.Replace(':', '.'))));
        lines.Add("");
        var text = string.Join("\n", lines);
        var path = Path.Combine(Harness.RepoRoot, "docs", "operators.md");
        if (Environment.GetEnvironmentVariable("MODELGEN_ACCEPT") == "1") { File.WriteAllText(path, text); return; }
        Assert.True(File.Exists(path) && File.ReadAllText(path).Replace("\r", "") == text,
            "docs/operators.md is out of date with the operator registry: run the tests with MODELGEN_ACCEPT=1 and commit it");
    }
}
