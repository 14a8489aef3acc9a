using System.Linq;
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Emit;

public enum StorageKind { Input, Output, Const, Arena, View }

/// <summary>Where a tensor lives in the generated code.</summary>
public sealed class Storage
{
    public StorageKind Kind { get; init; }
    /// <summary>Parameter, constant property/field, or (Net) local span name.</summary>
    public string Name { get; init; }
    /// <summary>Arena: element offset inside the pool of its element type.</summary>
    public int Offset { get; set; }
    public Value ViewOf { get; init; }
    /// <summary>A view created by in-place reuse (the output overwrites its input).</summary>
    public bool InPlace { get; init; }
    /// <summary>Arena: a part of this concatenation output (ModelGen.Compiler.Planning.ConcatSlices), not planned itself.</summary>
    public Value SliceOf { get; init; }
    /// <summary>Elements from the start of <see cref="SliceOf"/>.</summary>
    public int SliceOffset { get; init; }
}

/// <summary>What an operator's emitter sees: the writer, the profile, and how to reach each tensor.</summary>
public sealed class EmitContext
{
    public CodeWriter W { get; }
    public TargetProfile Profile { get; }
    public bool Net => Profile == TargetProfile.Net;
    public bool Portable => Profile == TargetProfile.Portable;
    readonly Dictionary<Value, Storage> _storage;
    readonly HashSet<string> _names;
    readonly Dictionary<Node, Value> _scratch;
    readonly Action<Value> _addConst;
    int _tmp;

    internal EmitContext(CodeWriter w, TargetProfile profile, Dictionary<Value, Storage> storage, HashSet<string> names, Dictionary<Node, Value> scratch,
        Action<Value> addConst = null)
    {
        W = w; Profile = profile; _storage = storage; _names = names; _scratch = scratch; _addConst = addConst;
    }

    /// <summary>Constants an emitter derived from a node's weights (<see cref="Derived"/>), per node: the layer table counts them.</summary>
    public Dictionary<Node, List<Value>> DerivedConsts { get; } = new();

    /// <summary>
    /// A constant computed at build time for one node's kernel (its weights in the layout the kernel streams them, say),
    /// written into the class like the model's own. The weights it replaces are then not written unless something else
    /// reads them.
    /// </summary>
    public Value Derived(Node n, string name, TensorData data)
    {
        if (_addConst == null) throw new CompileException(Diag.InternalError, "derived constants need the model emitter");
        var v = new Value(name) { Type = data.Type, Shape = data.Shape, Const = data };
        _addConst(v);
        if (!DerivedConsts.TryGetValue(n, out var list)) DerivedConsts[n] = list = new List<Value>();
        list.Add(v);
        return v;
    }

    /// <summary>Constants the emitted code reads (only these are written into the class).</summary>
    public HashSet<Value> UsedConsts { get; } = new();

    /// <summary>
    /// The node's scratch memory (sized by <see cref="Operators.Operator.Scratch"/>): a 1-D arena tensor used like any
    /// other, with <see cref="At"/>, <see cref="Span"/> or <see cref="ArrayOf"/>. Live during this node only.
    /// </summary>
    public Value Scratch(Node n) => _scratch.TryGetValue(n, out var v) ? v
        : throw new CompileException(Diag.InternalError, $"node {n.Display} has no scratch memory (its Operator.Scratch is empty)");

    public Storage StorageOf(Value v)
    {
        var s = _storage.TryGetValue(v, out var r) ? r : throw new CompileException(Diag.InternalError, $"no storage for '{v.Name}'");
        if (s.Kind == StorageKind.View) return StorageOf(s.ViewOf);
        if (s.Kind == StorageKind.Const) UsedConsts.Add(v);
        return s;
    }

    /// <summary>True where <paramref name="part"/> already lies in <paramref name="whole"/> at <paramref name="offset"/> (a concatenation in place).</summary>
    public bool IsSlice(Value part, Value whole, int offset) =>
        _storage.TryGetValue(part, out var s) && s.SliceOf == whole && s.SliceOffset == offset;

    /// <summary>Arena pool array name in the Portable profile, by element type.</summary>
    public static string PoolName(DType t) => "arena_" + DTypes.CsName(t);

    /// <summary>Element expression of <paramref name="v"/> at flat index <paramref name="index"/> (readable; writable unless constant/input).</summary>
    public string At(Value v, string index)
    {
        if (v.IsConst && v.Length == 1 && _storage.TryGetValue(v, out var cs) && cs.Kind == StorageKind.Const) return Lit(v.Type, v.Const, 0);
        var s = StorageOf(v);
        if (s.Kind == StorageKind.Arena && Portable) return $"{PoolName(v.Type)}[{Idx.Sum(s.Offset.ToString(CultureInfo.InvariantCulture), index)}]";
        return $"{s.Name}[{index}]";
    }

    /// <summary>Net profile: a span expression for the whole tensor (for runtime kernels).</summary>
    public string Span(Value v)
    {
        if (!Net) throw new InvalidOperationException("spans exist only in the Net profile");
        return StorageOf(v).Name;
    }

    /// <summary>Portable profile: the array and the element offset of the tensor in it.</summary>
    public (string Array, int Offset) ArrayOf(Value v)
    {
        var s = StorageOf(v);
        return s.Kind == StorageKind.Arena && Portable ? (PoolName(v.Type), s.Offset) : (s.Name, 0);
    }

    /// <summary>A fresh local name for loops and temporaries.</summary>
    public string Var(string hint)
    {
        string name;
        do name = hint + (_tmp++).ToString(CultureInfo.InvariantCulture); while (_names.Contains(name));
        return name;
    }

    /// <summary>Math helpers the emitted code calls (written into the class at the end).</summary>
    public SortedSet<string> UsedMath { get; } = new(StringComparer.Ordinal);

    public static string Ty(Value v) => DTypes.CsName(v.Type);

    /// <summary>A call to a math function on float (or double): MathF/Math on Net, the emitted helpers on Portable.</summary>
    public string Math(string fn, DType type, params string[] args)
    {
        var joined = string.Join(", ", args);
        if (Portable && type == DType.Double)
        {
            // double on nanoFramework: the double-precision helpers directly
            switch (fn)
            {
                case "Sqrt": case "Exp": case "Log": UsedMath.Add(fn + "D"); return $"{fn}D({joined})";
                case "Pow": UsedMath.Add("ExpD"); UsedMath.Add("LogD"); return $"ExpD({args[1]} * LogD({args[0]}))";
                case "Max": return $"({args[0]} != {args[0]} ? {args[0]} : {args[0]} > {args[1]} ? {args[0]} : {args[1]})";
                case "Min": return $"({args[0]} != {args[0]} ? {args[0]} : {args[0]} < {args[1]} ? {args[0]} : {args[1]})";
                case "Abs": return $"({args[0]} < 0 ? -{args[0]} : {args[0]})";
                case "Sin": case "Atan": UsedMath.Add(fn + "D"); return $"{fn}D({joined})";
                case "Cos": UsedMath.Add("SinD"); return $"SinD({args[0]} + 1.5707963267948966)";
                case "Floor": case "Ceiling": case "Round": UsedMath.Add(fn + "Dbl"); return $"{fn}Dbl({joined})";
            }
            // the rest through the float helpers: float precision, but the model compiles
            if (PortableMath.Has(fn))
            {
                UsedMath.Add(fn);
                return $"(double)Mg{fn}({string.Join(", ", args.Select(a => $"(float)({a})"))})";
            }
        }
        // Net: the runtime's erf (a fixed-length series, not the helper's loop with two divisions per term)
        if (Net && fn == "Erf") return type == DType.Double ? $"(double)ModelGen.Runtime.Transcendental.Erf((float)({joined}))" : $"ModelGen.Runtime.Transcendental.Erf({joined})";
        if (Portable || PortableMath.NetNeedsHelper(fn))
        {
            if (!PortableMath.Has(fn)) throw new CompileException(Diag.UnsupportedType, $"{fn} is not available in the {Profile} profile");
            UsedMath.Add(fn);
            return type == DType.Double && Net ? $"Mg{fn}((float){joined})" : $"Mg{fn}({joined})";
        }
        return type == DType.Double ? $"Math.{fn}({joined})" : $"MathF.{fn}({joined})";
    }

    public static string F(float f)
    {
        if (float.IsNaN(f)) return "float.NaN";
        if (float.IsPositiveInfinity(f)) return "float.PositiveInfinity";
        if (float.IsNegativeInfinity(f)) return "float.NegativeInfinity";
        if (f == 0 && Bits.Of(f) != 0) return "-0f";
        return f.ToString("R", CultureInfo.InvariantCulture) + "f";
    }

    public static string D(double d)
    {
        if (double.IsNaN(d)) return "double.NaN";
        if (double.IsPositiveInfinity(d)) return "double.PositiveInfinity";
        if (double.IsNegativeInfinity(d)) return "double.NegativeInfinity";
        var s = d.ToString("R", CultureInfo.InvariantCulture);
        return s + "d";
    }

    /// <summary>A literal of the element type.</summary>
    public static string Lit(DType t, double v) => t switch
    {
        DType.Float => F((float)v),
        DType.Double => D(v),
        DType.Bool => v != 0 ? "true" : "false",
        _ => Int(t, (long)v),
    };

    public static string Lit(DType t, TensorData data, int i) => t switch
    {
        DType.Float => F(data.F[i]),
        DType.Double => D(data.D[i]),
        DType.Bool => data.L[i] != 0 ? "true" : "false",
        _ => Int(t, data.L[i]),
    };

    static string Int(DType t, long v)
    {
        var s = v.ToString(CultureInfo.InvariantCulture);
        return t switch
        {
            DType.Int64 => v == long.MinValue ? "long.MinValue" : s + "L",
            DType.UInt64 => ((ulong)v).ToString(CultureInfo.InvariantCulture) + "UL",
            DType.UInt32 => s + "U",
            DType.Int32 => v == int.MinValue ? "int.MinValue" : s,
            _ => $"({DTypes.CsName(t)}){s}",
        };
    }
}

/// <summary>Builds readable index expressions: drops zero terms and unit factors.</summary>
public static class Idx
{
    public static string Mul(string var, long factor) => factor == 0 ? "" : factor == 1 ? var : $"{Paren(var)} * {factor.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Wraps a compound expression in parentheses (a plain name or number stays as it is).</summary>
    public static string Paren(string expr)
    {
        foreach (var c in expr) if (!(char.IsLetterOrDigit(c) || c == '_')) return expr.StartsWith("(", StringComparison.Ordinal) && expr.EndsWith(")", StringComparison.Ordinal) && Balanced(expr) ? expr : "(" + expr + ")";
        return expr;
    }

    static bool Balanced(string s)
    {
        int depth = 0;
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '(') depth++;
            else if (s[i] == ')') { depth--; if (depth == 0 && i < s.Length - 1) return false; }
        }
        return depth == 0;
    }

    public static string Sum(params string[] terms)
    {
        var sb = new StringBuilder();
        long constant = 0;
        foreach (var t in terms)
        {
            if (string.IsNullOrEmpty(t)) continue;
            if (long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var c)) { constant += c; continue; }
            if (sb.Length > 0) sb.Append(" + ");
            sb.Append(t);
        }
        if (constant != 0 || sb.Length == 0)
        {
            if (sb.Length == 0) return constant.ToString(CultureInfo.InvariantCulture);
            sb.Append(constant < 0 ? " - " : " + ").Append(System.Math.Abs(constant).ToString(CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }
}
