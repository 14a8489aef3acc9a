using System.Text;

namespace ModelGen.Compiler.Emit;

/// <summary>Indented source text builder. Always '\n' line ends (deterministic output on every OS).</summary>
public sealed class CodeWriter
{
    readonly StringBuilder _sb = new();
    int _indent;

    public CodeWriter Line(string text = "")
    {
        if (text.Length > 0) _sb.Append(' ', _indent * 4).Append(text);
        _sb.Append('\n');
        return this;
    }

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
