using System.Collections.Generic;
using System.Text;

namespace ModelGen.Compiler.Emit;

/// <summary>Turns ONNX names into unique, readable C# identifiers.</summary>
public sealed class Names
{
    static readonly HashSet<string> s_keywords = new()
    {
        "abstract", "as", "base", "bool", "break", "byte", "case", "catch", "char", "checked", "class", "const", "continue",
        "decimal", "default", "delegate", "do", "double", "else", "enum", "event", "explicit", "extern", "false", "finally",
        "fixed", "float", "for", "foreach", "goto", "if", "implicit", "in", "int", "interface", "internal", "is", "lock",
        "long", "namespace", "new", "null", "object", "operator", "out", "override", "params", "private", "protected",
        "public", "readonly", "ref", "return", "sbyte", "sealed", "short", "sizeof", "stackalloc", "static", "string",
        "struct", "switch", "this", "throw", "true", "try", "typeof", "uint", "ulong", "unchecked", "unsafe", "ushort",
        "using", "virtual", "void", "volatile", "while", "var", "value", "scratch", "System", "Math", "MathF", "MemoryMarshal",
    };

    public HashSet<string> Used { get; } = new();

    public Names() { foreach (var k in s_keywords) Used.Add(k); }

    /// <summary>A unique identifier made from <paramref name="raw"/>, optionally prefixed.</summary>
    public string Unique(string raw, string prefix = "")
    {
        var baseName = prefix + Sanitize(raw);
        if (baseName.Length == 0 || char.IsDigit(baseName[0])) baseName = "t" + baseName;
        var name = baseName;
        for (int i = 2; Used.Contains(name); i++) name = baseName + "_" + i;
        Used.Add(name);
        return name;
    }

    public void Reserve(string name) => Used.Add(name);

    public static string Sanitize(string raw)
    {
        var sb = new StringBuilder();
        foreach (var c in raw ?? "")
        {
            if (c < 128 && char.IsLetterOrDigit(c)) sb.Append(c);
            else if (sb.Length > 0 && sb[sb.Length - 1] != '_') sb.Append('_');
        }
        while (sb.Length > 0 && sb[sb.Length - 1] == '_') sb.Length--;
        if (sb.Length > 48) sb.Remove(0, sb.Length - 48);
        return sb.ToString().TrimStart('_');
    }

    /// <summary>"x.1" -> "X1", "input_1" -> "Input1".</summary>
    public static string Pascal(string raw)
    {
        var sb = new StringBuilder();
        bool up = true;
        foreach (var c in raw ?? "")
        {
            if (c < 128 && char.IsLetterOrDigit(c)) { sb.Append(up ? char.ToUpperInvariant(c) : c); up = false; }
            else up = true;
        }
        if (sb.Length == 0 || char.IsDigit(sb[0])) sb.Insert(0, "T");
        return sb.ToString();
    }
}
