using System.Collections.Generic;
using System.Text;

namespace ModelGen.Compiler.Emit;

/// <summary>Turns ONNX names into unique, readable C# identifiers.</summary>
public sealed class Names
{
    /// <summary>C# keywords (not usable as identifiers without @).</summary>
    static readonly HashSet<string> s_csharpKeywords = new()
    {
        "abstract", "as", "base", "bool", "break", "byte", "case", "catch", "char", "checked", "class", "const", "continue",
        "decimal", "default", "delegate", "do", "double", "else", "enum", "event", "explicit", "extern", "false", "finally",
        "fixed", "float", "for", "foreach", "goto", "if", "implicit", "in", "int", "interface", "internal", "is", "lock",
        "long", "namespace", "new", "null", "object", "operator", "out", "override", "params", "private", "protected",
        "public", "readonly", "ref", "return", "sbyte", "sealed", "short", "sizeof", "stackalloc", "static", "string",
        "struct", "switch", "this", "throw", "true", "try", "typeof", "uint", "ulong", "unchecked", "unsafe", "ushort",
        "using", "virtual", "void", "volatile", "while",
    };

    /// <summary>Identifiers the generated code uses unqualified or declares itself: never given to a tensor.</summary>
    static readonly string[] s_generated =
    {
        "var", "value", "scratch", "System", "Math", "MathF", "MemoryMarshal", "t_scratch", "s_lock", "ModelGen", "Span",
        "ReadOnlySpan", "ArgumentException", "Array", "ThreadStatic", "Predict", "ArenaBytes", "WeightBytes", "Macs",
    };

    /// <summary>Prefixes of identifiers the emitter makes itself (Portable math helpers, chunk joiners, constant
    /// properties, arena pools): a model name starting with one gets "t_" in front, so it can never collide.</summary>
    static readonly string[] s_reservedPrefixes = { "Mg", "Join", "Const_", "arena_" };

    public HashSet<string> Used { get; } = new();

    /// <summary>True for a C# keyword.</summary>
    public static bool IsKeyword(string identifier) => s_csharpKeywords.Contains(identifier);

    /// <summary>True for a name the generated class cannot take: a keyword or an identifier its code relies on.</summary>
    public static bool IsReservedClassName(string identifier) => IsKeyword(identifier) || System.Array.IndexOf(s_generated, identifier) >= 0;

    public Names()
    {
        foreach (var k in s_csharpKeywords) Used.Add(k);
        foreach (var k in s_generated) Used.Add(k);
    }

    /// <summary>A unique identifier made from <paramref name="raw"/>, optionally prefixed.</summary>
    public string Unique(string raw, string prefix = "")
    {
        var baseName = prefix + Sanitize(raw);
        if (baseName.Length == 0 || char.IsDigit(baseName[0])) baseName = "t" + baseName;
        foreach (var p in s_reservedPrefixes)
            if (baseName.StartsWith(p, System.StringComparison.Ordinal)) { baseName = "t_" + baseName; break; }
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
