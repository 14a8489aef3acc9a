using System;
using System.Collections.Generic;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// Resolved sliding-window geometry over the spatial dimensions (Conv and the pooling operators): kernel, strides,
/// dilations, begin/end pads (auto_pad resolved) and output sizes (ceil_mode applied).
/// </summary>
public sealed class Window
{
    public int Rank { get; private set; }
    public int[] In { get; private set; }
    public int[] Kernel { get; private set; }
    public int[] Strides { get; private set; }
    public int[] Dilations { get; private set; }
    public int[] PadBegin { get; private set; }
    public int[] PadEnd { get; private set; }
    public int[] Out { get; private set; }
    public string AutoPad { get; private set; }

    public int InPlane => Shape.Count(In);
    public int OutPlane => Shape.Count(Out);
    public int KernelSize => Shape.Count(Kernel);

    /// <summary>Input position of the first tap of output position <paramref name="o"/> along dim <paramref name="i"/>.</summary>
    public int First(int i, int o) => o * Strides[i] - PadBegin[i];

    /// <summary>True when some window starts before the input along dim i (taps must be clipped at the start).</summary>
    public bool NeedLo(int i) => PadBegin[i] > 0;

    /// <summary>True when some window ends past the input along dim i (taps must be clipped at the end).</summary>
    public bool NeedHi(int i) => First(i, Out[i] - 1) + (Kernel[i] - 1) * Dilations[i] >= In[i];

    /// <summary>True when some window ends past the end padding (only with ceil_mode).</summary>
    public bool NeedPadHi(int i) => First(i, Out[i] - 1) + (Kernel[i] - 1) * Dilations[i] >= In[i] + PadEnd[i];

    public bool NeedsClipping
    {
        get { for (int i = 0; i < Rank; i++) if (NeedLo(i) || NeedHi(i)) return true; return false; }
    }

    /// <summary>The valid taps [lo, hi) of output position o along dim i.</summary>
    public void Range(int i, int o, out int lo, out int hi)
    {
        int p = First(i, o), d = Dilations[i];
        lo = p < 0 ? (-p + d - 1) / d : 0;
        hi = p + (Kernel[i] - 1) * d >= In[i] ? (In[i] - p + d - 1) / d : Kernel[i];
        if (hi < lo) hi = lo;
    }

    /// <summary>Taps of output position o along dim i that lie inside the padded input (count_include_pad divisor).</summary>
    public int PaddedCount(int i, int o)
    {
        int p = First(i, o), d = Dilations[i];
        int hi = p + (Kernel[i] - 1) * d >= In[i] + PadEnd[i] ? (In[i] + PadEnd[i] - p + d - 1) / d : Kernel[i];
        int lo = p < -PadBegin[i] ? (-PadBegin[i] - p + d - 1) / d : 0;
        return Math.Max(0, hi - lo);
    }

    static CompileException Error(string m) => new(Diag.InvalidModel, m);

    static int[] IntsAttr(Node n, string name, int rank, int dflt, int min)
    {
        var v = n.Ints(name);
        var r = new int[rank];
        if (v == null || v.Length == 0) { for (int i = 0; i < rank; i++) r[i] = dflt; return r; }
        if (v.Length != rank) throw Error($"{n.OpType} attribute '{name}' has {v.Length} values, the input has {rank} spatial dimensions");
        for (int i = 0; i < rank; i++)
        {
            if (v[i] < min || v[i] > 1 << 24) throw Error($"{n.OpType} attribute '{name}' has the invalid value {v[i]}");
            r[i] = (int)v[i];
        }
        return r;
    }

    /// <summary>Reads kernel_shape (required unless <paramref name="fromWeights"/> gives it) and checks it against the weights.</summary>
    public static int[] KernelShape(Node n, int rank, int[] fromWeights)
    {
        var ks = n.Ints("kernel_shape");
        if (ks == null || ks.Length == 0)
        {
            if (fromWeights == null) throw Error($"{n.OpType} needs the attribute 'kernel_shape'");
            return fromWeights;
        }
        var k = IntsAttr(n, "kernel_shape", rank, 1, 1);
        if (fromWeights != null && !Shape.Equal(k, fromWeights))
            throw Error($"{n.OpType} kernel_shape {Shape.Format(k)} differs from the weights' spatial shape {Shape.Format(fromWeights)}");
        return k;
    }

    /// <summary>Resolves strides, dilations, pads/auto_pad and output sizes for one node.</summary>
    public static Window Resolve(Node n, int[] inSpatial, int[] kernel, bool ceilMode, bool dilationsAllowed)
    {
        int r = inSpatial.Length;
        var g = new Window { Rank = r, In = inSpatial, Kernel = kernel };
        g.Strides = IntsAttr(n, "strides", r, 1, 1);
        g.Dilations = IntsAttr(n, "dilations", r, 1, 1);
        if (!dilationsAllowed)
            foreach (var d in g.Dilations)
                if (d != 1) throw new CompileException(Diag.UnsupportedAttribute, $"{n.OpType} opset {n.Opset} has no 'dilations' attribute (dilations need a newer opset)");
        g.PadBegin = new int[r]; g.PadEnd = new int[r]; g.Out = new int[r];
        var autoPad = n.Str("auto_pad", "NOTSET");
        if (string.IsNullOrEmpty(autoPad)) autoPad = "NOTSET";
        g.AutoPad = autoPad;
        switch (autoPad)
        {
            case "NOTSET":
            {
                var pads = n.Ints("pads");
                if (pads != null && pads.Length > 0)
                {
                    if (pads.Length != 2 * r) throw Error($"{n.OpType} attribute 'pads' has {pads.Length} values, expected {2 * r} (begin and end per spatial dimension)");
                    for (int i = 0; i < 2 * r; i++)
                        if (pads[i] < 0 || pads[i] > 1 << 24) throw Error($"{n.OpType} attribute 'pads' has the invalid value {pads[i]}");
                    for (int i = 0; i < r; i++) { g.PadBegin[i] = (int)pads[i]; g.PadEnd[i] = (int)pads[r + i]; }
                }
                for (int i = 0; i < r; i++)
                {
                    long num = (long)g.In[i] + g.PadBegin[i] + g.PadEnd[i] - ((long)(g.Kernel[i] - 1) * g.Dilations[i] + 1);
                    if (num < 0) throw Error($"{n.OpType} window of {g.Kernel[i]} taps (dilation {g.Dilations[i]}) is larger than the padded input ({g.In[i]} + {g.PadBegin[i] + g.PadEnd[i]}) along spatial dimension {i}");
                    long o = ceilMode ? (num + g.Strides[i] - 1) / g.Strides[i] + 1 : num / g.Strides[i] + 1;
                    // ceil_mode: a window that would start in the end padding is dropped
                    if (ceilMode && (o - 1) * g.Strides[i] >= (long)g.In[i] + g.PadBegin[i]) o--;
                    g.Out[i] = (int)o;
                }
                break;
            }
            case "VALID":
                for (int i = 0; i < r; i++)
                {
                    long num = (long)g.In[i] - ((long)(g.Kernel[i] - 1) * g.Dilations[i] + 1);
                    if (num < 0) throw Error($"{n.OpType} window of {g.Kernel[i]} taps (dilation {g.Dilations[i]}) is larger than the input ({g.In[i]}) along spatial dimension {i} (auto_pad VALID)");
                    long o = ceilMode ? (num + g.Strides[i] - 1) / g.Strides[i] + 1 : num / g.Strides[i] + 1;
                    if (ceilMode && (o - 1) * g.Strides[i] >= g.In[i]) o--;
                    g.Out[i] = (int)o;
                }
                break;
            case "SAME_UPPER":
            case "SAME_LOWER":
                for (int i = 0; i < r; i++)
                {
                    int o = (g.In[i] + g.Strides[i] - 1) / g.Strides[i];
                    int need = (o - 1) * g.Strides[i] + (g.Kernel[i] - 1) * g.Dilations[i] + 1 - g.In[i];
                    // as ONNX Runtime: SAME_UPPER puts the extra pad at the end, SAME_LOWER at the beginning
                    g.PadBegin[i] = autoPad == "SAME_UPPER" ? need / 2 : (need + 1) / 2;
                    g.PadEnd[i] = need - g.PadBegin[i];
                    g.Out[i] = o;
                }
                break;
            default:
                throw Error($"{n.OpType} has the unknown auto_pad value '{autoPad}' (NOTSET, SAME_UPPER, SAME_LOWER or VALID)");
        }
        return g;
    }

    /// <summary>Build-time iteration: for each output position (row-major), the first input position per dim.</summary>
    public void ForEachOutput(Action<int, int[]> body)
    {
        var pos = new int[Rank];
        var first = new int[Rank];
        for (int o = 0; o < OutPlane; o++)
        {
            int rem = o;
            for (int i = Rank - 1; i >= 0; i--) { pos[i] = rem % Out[i]; rem /= Out[i]; first[i] = First(i, pos[i]); }
            body(o, pos);
        }
    }
}

/// <summary>Names of one spatial dimension while window loops are being written.</summary>
internal sealed class WinDim
{
    /// <summary>Output position (loop variable, or "0").</summary>
    public string O;
    /// <summary>First tap's input position: a local when declared, else a parenthesised expression.</summary>
    public string P;
    /// <summary>Valid tap range [Lo, Hi) (locals or constants).</summary>
    public string Lo, Hi;
    /// <summary>Kernel tap (loop variable, or "0").</summary>
    public string K;
}

/// <summary>Writes the loops of a sliding window: output positions with hoisted valid tap ranges, then the taps.</summary>
internal static class WindowEmit
{
    /// <summary>A literal int.</summary>
    public static string I(long v) => v.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// Opens loops over the output positions of dims [0, count). Per dim, declares the first tap's input position and,
    /// when windows can cross the input border, the valid tap range [lo, hi) (computed once per output position).
    /// <paramref name="xTerms"/> and <paramref name="yTerms"/> receive the per-dim offsets (input: first tap; output).
    /// Returns the number of blocks opened.
    /// </summary>
    public static int OpenOutputs(EmitContext e, Window g, int count, WinDim[] dims, List<string> xTerms, List<string> yTerms, int[] yStrides, bool declareP = false)
    {
        var w = e.W;
        var inStr = Shape.Strides(g.In);
        int opened = 0;
        for (int i = 0; i < count; i++)
        {
            var d = dims[i] = new WinDim();
            if (g.Out[i] == 1) d.O = "0";
            else
            {
                d.O = e.Var("o");
                w.Open($"for (int {d.O} = 0; {d.O} < {g.Out[i]}; {d.O}++)");
                opened++;
            }
            bool lo = g.NeedLo(i), hi = g.NeedHi(i);
            string pExpr = Idx.Sum(Idx.Mul(d.O, g.Strides[i]), I(-g.PadBegin[i]));
            if (lo || hi || declareP)
            {
                d.P = e.Var("p");
                w.Line($"int {d.P} = {pExpr};");
            }
            else d.P = "(" + pExpr + ")";
            int dil = g.Dilations[i], k = g.Kernel[i];
            d.Lo = "0"; d.Hi = I(k);
            if (lo)
            {
                d.Lo = e.Var("lo");
                w.Line(dil == 1 ? $"int {d.Lo} = {d.P} < 0 ? -{d.P} : 0;" : $"int {d.Lo} = {d.P} < 0 ? ({I(dil - 1)} - {d.P}) / {I(dil)} : 0;");
            }
            if (hi)
            {
                d.Hi = e.Var("hi");
                int last = g.In[i] - 1 - (k - 1) * dil;
                w.Line(dil == 1 ? $"int {d.Hi} = {d.P} > {I(last)} ? {I(g.In[i])} - {d.P} : {I(k)};"
                    : $"int {d.Hi} = {d.P} > {I(last)} ? ({I(g.In[i] + dil - 1)} - {d.P}) / {I(dil)} : {I(k)};");
            }
            xTerms.Add(Mul(d.O, (long)g.Strides[i] * inStr[i]));
            xTerms.Add(I(-(long)g.PadBegin[i] * inStr[i]));
            yTerms.Add(Mul(d.O, yStrides[i]));
        }
        return opened;
    }

    /// <summary>
    /// Opens loops over the kernel taps of dims [0, count), clipped to the ranges of <paramref name="dims"/>.
    /// Adds each tap's offset to <paramref name="xTerms"/> (input) and <paramref name="wTerms"/> (weights, may be null);
    /// intermediate row offsets are hoisted into locals. Returns the number of blocks opened.
    /// </summary>
    public static int OpenTaps(EmitContext e, Window g, int count, WinDim[] dims, List<string> xTerms, List<string> wTerms, string ty = "int")
    {
        var w = e.W;
        var inStr = Shape.Strides(g.In);
        var kStr = Shape.Strides(g.Kernel);
        int opened = 0;
        for (int i = 0; i < count; i++)
        {
            var d = dims[i];
            bool loop = !(d.Lo == "0" && d.Hi == "1");
            if (!loop) d.K = "0";
            else
            {
                // hoist the offsets accumulated so far out of this loop
                Hoist(e, xTerms, "xk");
                if (wTerms != null) Hoist(e, wTerms, "wk");
                d.K = e.Var("k");
                w.Open($"for (int {d.K} = {d.Lo}; {d.K} < {d.Hi}; {d.K}++)");
                opened++;
            }
            xTerms.Add(Mul(d.K, (long)g.Dilations[i] * inStr[i]));
            wTerms?.Add(Mul(d.K, kStr[i]));
        }
        return opened;
    }

    /// <summary>Replaces an offset that is more than a bare local by a local holding it (hoisted out of the loop that follows).</summary>
    public static void Hoist(EmitContext e, List<string> terms, string hint)
    {
        var sum = Idx.Sum(terms.ToArray());
        if (IsSimple(sum)) return;
        var name = e.Var(hint);
        e.W.Line($"int {name} = {sum};");
        terms.Clear();
        terms.Add(name);
    }

    /// <summary>True for a constant or a bare identifier.</summary>
    public static bool IsSimple(string expr)
    {
        if (long.TryParse(expr, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out _)) return true;
        foreach (var ch in expr) if (!(char.IsLetterOrDigit(ch) || ch == '_')) return false;
        return true;
    }

    public static string Sum(List<string> terms) => Idx.Sum(terms.ToArray());

    /// <summary>Idx.Mul that drops a constant-zero variable.</summary>
    public static string Mul(string var, long factor) => var == "0" ? "" : Idx.Mul(var, factor);

    public static void Close(EmitContext e, int count) { for (int i = 0; i < count; i++) e.W.Close(); }

    /// <summary>Math on float or double for both profiles (Portable double uses the emitted double helpers).</summary>
    public static string Math(EmitContext e, string fn, DType t, params string[] args)
    {
        if (e.Portable && t == DType.Double)
        {
            switch (fn)
            {
                case "Sqrt": return $"SqrtD({args[0]})";
                case "Exp": return $"ExpD({args[0]})";
                case "Log": return $"LogD({args[0]})";
                case "Pow": return $"ExpD({args[1]} * LogD({args[0]}))";
                case "Max": return $"({args[0]} != {args[0]} ? {args[0]} : {args[0]} > {args[1]} ? {args[0]} : {args[1]})";
            }
        }
        return e.Math(fn, t, args);
    }
}
