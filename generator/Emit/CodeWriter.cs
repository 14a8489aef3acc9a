using System.Text;

namespace ModelGen.Compiler.Emit;

/// <summary>Indented source text builder. Always '\n' line ends (deterministic output on every OS).</summary>
public sealed class CodeWriter
{
    readonly StringBuilder _sb = new();
    int _indent;

    public CodeWriter Line(string text = "")
    {
        if (text.Length > 0) _sb.Append(' ', _indent * 4).Append(OneLine(text));
        _sb.Append('\n');
        return this;
    }

    /// <summary>
    /// A line never holds a line break: ONNX names and doc strings reach comments and string literals, and a break
    /// (\r, \n, U+0085, U+2028, U+2029: all end a C# line) would end the comment and let model text become code.
    /// </summary>
    static string OneLine(string text)
    {
        if (text.IndexOfAny(s_breaks) < 0) return text;
        var sb = new StringBuilder(text);
        for (int i = 0; i < sb.Length; i++) if (System.Array.IndexOf(s_breaks, sb[i]) >= 0) sb[i] = ' ';
        return sb.ToString();
    }

    static readonly char[] s_breaks = { '\r', '\n', '\u0085', '\u2028', '\u2029' };

    /// <summary>Writes "head {" and indents.</summary>
    public CodeWriter Open(string head)
    {
        Line(head);
        Line("{");
        _indent++;
        return this;
    }

    public CodeWriter Close(string tail = "}")
    {
        _indent--;
        Line(tail);
        return this;
    }

    /// <summary>Appends text rendered by another writer (already indented).</summary>
    public CodeWriter Raw(string text)
    {
        _sb.Append(text);
        return this;
    }

    public int Indent { get => _indent; set => _indent = value; }
    public int Length => _sb.Length;
    public override string ToString() => _sb.ToString();
}
