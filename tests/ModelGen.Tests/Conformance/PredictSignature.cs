using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace ModelGen.Tests.Conformance;

/// <summary>One parameter of a generated Predict: C# element type, ONNX name and the shape the generator fixed.</summary>
internal sealed record PredictParam(string Name, bool IsInput, string OnnxName, Type Element, int[] Shape);

/// <summary>
/// Reads the parameters of the generated Predict(inputs..., outputs...) (the overload without scratch) from its
/// syntax tree: element types from the parameter types, ONNX names and shapes from the &lt;param&gt; docs.
/// </summary>
internal static class PredictSignature
{
    static readonly Regex ParamDoc = new(@"<param name=""(?<p>[^""]+)"">(?<kind>Input|Output) <c>(?<onnx>.*?)</c>: (?<type>\w+)\[(?<dims>[0-9,]*)\]", RegexOptions.Compiled);

    public static readonly IReadOnlyDictionary<string, Type> Elements = new Dictionary<string, Type>(StringComparer.Ordinal)
    {
        ["float"] = typeof(float), ["double"] = typeof(double), ["sbyte"] = typeof(sbyte), ["byte"] = typeof(byte),
        ["short"] = typeof(short), ["ushort"] = typeof(ushort), ["int"] = typeof(int), ["uint"] = typeof(uint),
        ["long"] = typeof(long), ["ulong"] = typeof(ulong), ["bool"] = typeof(bool),
    };

    public static List<PredictParam> Read(Microsoft.CodeAnalysis.SyntaxTree tree)
    {
        var predict = tree.GetRoot().DescendantNodes().OfType<MethodDeclarationSyntax>()
            .FirstOrDefault(m => m.Identifier.Text == "Predict" && !m.ParameterList.Parameters.Any(p => p.Identifier.Text == "scratch"))
            ?? throw new InvalidOperationException("the generated source has no Predict(inputs, outputs)");
        var docs = new Dictionary<string, Match>(StringComparer.Ordinal);
        foreach (Match m in ParamDoc.Matches(predict.GetLeadingTrivia().ToFullString())) docs[m.Groups["p"].Value] = m;
        var list = new List<PredictParam>();
        foreach (var p in predict.ParameterList.Parameters)
        {
            var t = p.Type!.ToString();
            var elem = t.Contains('<') ? t.Substring(t.IndexOf('<') + 1).TrimEnd('>') : t.TrimEnd(']', '[');
            if (!Elements.TryGetValue(elem, out var et)) throw new InvalidOperationException($"Predict parameter '{p.Identifier.Text}' has type {t}, which the runner does not know");
            if (!docs.TryGetValue(p.Identifier.Text, out var d)) throw new InvalidOperationException($"Predict parameter '{p.Identifier.Text}' has no <param> doc with its ONNX name and shape");
            var dims = d.Groups["dims"].Value;
            var shape = dims.Length == 0 ? Array.Empty<int>() : dims.Split(',').Select(int.Parse).ToArray();
            list.Add(new PredictParam(p.Identifier.Text, d.Groups["kind"].Value == "Input", WebUtility.HtmlDecode(d.Groups["onnx"].Value), et, shape));
        }
        return list;
    }

    /// <summary>C# for a class beside the model that calls Predict with arrays taken from an object[].</summary>
    public static string Adapter(string ns, string className, IReadOnlyList<PredictParam> ps)
    {
        var sb = new StringBuilder();
        sb.Append("namespace ").Append(ns).Append("\n{\n    public static class ConformanceAdapter\n    {\n");
        sb.Append("        public static void Run(object[] a) => global::").Append(ns).Append('.').Append(className).Append(".Predict(");
        for (int i = 0; i < ps.Count; i++)
            sb.Append(i > 0 ? ", " : "").Append('(').Append(CsKeyword(ps[i].Element)).Append("[])a[").Append(i).Append(']');
        sb.Append(");\n    }\n}\n");
        return sb.ToString();
    }

    static string CsKeyword(Type t) => Elements.First(kv => kv.Value == t).Key;

    public static string Format(int[] shape) => "[" + string.Join(",", shape) + "]";
}
