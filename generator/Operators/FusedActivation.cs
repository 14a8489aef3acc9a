using System;
using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;
using Attribute = ModelGen.Compiler.IR.Attribute;
using static ModelGen.Compiler.Passes.PassUtil;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// The activation a Conv, Gemm or MatMul applies to each output as it stores it (set by the ActivationFusion pass).
/// In the IR it is three node attributes in ModelGen's reserved "_mg_" namespace: _mg_activation (the kind, named as
/// ModelGen.Runtime.ActivationKind), _mg_alpha and _mg_beta (Clip: min and max; LeakyRelu: alpha; HardSigmoid: alpha
/// and beta), and optionally _mg_lo/_mg_hi: a clamp applied after the kind (a constant Max/Min that followed it, folded
/// by ClampFusion). Evaluation, the scalar loops of both profiles and the Net kernels' epilogue all read it from here.
/// </summary>
public sealed class FusedActivation
{
    public const string KindAttr = "_mg_activation", AlphaAttr = "_mg_alpha", BetaAttr = "_mg_beta", LoAttr = "_mg_lo", HiAttr = "_mg_hi";

    static readonly string[] s_kinds = { "Relu", "Clip", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Silu" };

    public string Kind { get; }
    public float Alpha { get; }
    public float Beta { get; }
    /// <summary>The clamp after the kind (-inf and +inf: none).</summary>
    public float Lo { get; }
    public float Hi { get; }
    public bool Clamped => !(float.IsNegativeInfinity(Lo) && float.IsPositiveInfinity(Hi));

    public FusedActivation(string kind, float alpha = 0f, float beta = 0f, float lo = float.NegativeInfinity, float hi = float.PositiveInfinity)
    {
        if (!s_kinds.Contains(kind)) throw new CompileException(Diag.InvalidModel, $"unknown fused activation '{kind}' ({string.Join(", ", s_kinds)})");
        if (!(lo <= hi)) throw new CompileException(Diag.InvalidModel, $"fused activation clamp [{lo}, {hi}] is empty");
        Kind = kind; Alpha = alpha; Beta = beta; Lo = lo; Hi = hi;
    }

    /// <summary>
    /// The activation a standalone node computes on its input (Relu, Sigmoid, Tanh, HardSwish, LeakyRelu, HardSigmoid,
    /// Clip with constant bounds), or null: what ActivationFusion folds into a producer and what SimdElementwise runs
    /// through the kernels' in-register form.
    /// </summary>
    public static FusedActivation FromNode(Node a)
    {
        if (a == null || a.Outputs.Count != 1) return null;
        if (Is(a, "Relu")) return new FusedActivation("Relu");
        if (Is(a, "Sigmoid")) return new FusedActivation("Sigmoid");
        if (Is(a, "Tanh")) return new FusedActivation("Tanh");
        if (Is(a, "HardSwish")) return new FusedActivation("HardSwish");
        if (Is(a, "LeakyRelu")) return new FusedActivation("LeakyRelu", a.Float("alpha", 0.01f));
        if (Is(a, "HardSigmoid")) return new FusedActivation("HardSigmoid", a.Float("alpha", 0.2f), a.Float("beta", 0.5f));
        if (Is(a, "Clip"))
        {
            float lo, hi;
            if (a.Opset < 11) { lo = a.Float("min", float.NegativeInfinity); hi = a.Float("max", float.PositiveInfinity); }
            else
            {
                var l = Bound(a, 1, float.NegativeInfinity); var h = Bound(a, 2, float.PositiveInfinity);
                if (l == null || h == null) return null;
                lo = l.Value; hi = h.Value;
            }
            // Clip with min > max is min(max(x, lo), hi) = hi everywhere: the kernels' form agrees, but leave it alone
            return lo <= hi ? new FusedActivation("Clip", lo, hi) : null;
        }
        return null;
    }

    /// <summary>Clip bound input i: its constant value, the default when absent, null when computed at run time.</summary>
    static float? Bound(Node a, int i, float dflt)
    {
        var v = a.In(i);
        if (v == null) return dflt;
        return v.IsConst && v.Length == 1 ? (float)v.Const.GetDouble(0) : null;
    }

    /// <summary>The node's fused activation, or null when it has none.</summary>
    public static FusedActivation Of(Node n)
        => n.Has(KindAttr) ? new FusedActivation(n.Str(KindAttr, ""), n.Float(AlphaAttr, 0f), n.Float(BetaAttr, 0f),
            n.Float(LoAttr, float.NegativeInfinity), n.Float(HiAttr, float.PositiveInfinity)) : null;

    public Attribute[] Attributes()
    {
        var a = new[]
        {
            new Attribute { Name = KindAttr, Type = AttrType.String, S = Kind },
            new Attribute { Name = AlphaAttr, Type = AttrType.Float, F = Alpha },
            new Attribute { Name = BetaAttr, Type = AttrType.Float, F = Beta },
        };
        return Clamped ? a.Concat(new[]
        {
            new Attribute { Name = LoAttr, Type = AttrType.Float, F = Lo },
            new Attribute { Name = HiAttr, Type = AttrType.Float, F = Hi },
        }).ToArray() : a;
    }

    public double Apply(double x)
    {
        double y = ApplyKind(x);
        return y < Lo ? Lo : y > Hi ? Hi : y;
    }

    double ApplyKind(double x) => Kind switch
    {
        "Relu" => x < 0 ? 0 : x,
        "Clip" => x < Alpha ? Alpha : x > Beta ? Beta : x,
        "LeakyRelu" => x < 0 ? Alpha * x : x,
        "Sigmoid" => Unary.Sigmoid(x),
        "Tanh" => Math.Tanh(x),
        "HardSigmoid" => Unary.HardSigmoid(x, Alpha, Beta),
        "HardSwish" => x * Unary.HardSigmoid(x, 1.0 / 6, 0.5),
        _ => x * Unary.Sigmoid(x),
    };

    /// <summary>Applies the node's activation (if any) in place to an evaluated output.</summary>
    public static void ApplyTo(Node n, TensorData y)
    {
        var a = Of(n);
        if (a == null) return;
        for (int i = 0; i < y.Length; i++) y.Set(i, a.Apply(y.GetDouble(i)));
    }

    /// <summary>The activation of <paramref name="x"/> (a local or an element access: it may be read more than once).</summary>
    public string Expr(EmitContext e, DType t, string x)
    {
        var y = KindExpr(e, t, x);
        if (!Clamped) return y;
        // clamp bounds as literals; an infinite one is left out
        if (float.IsNegativeInfinity(Lo)) return e.Math("Min", t, EmitContext.Lit(t, Hi), y);
        if (float.IsPositiveInfinity(Hi)) return e.Math("Max", t, EmitContext.Lit(t, Lo), y);
        return e.Math("Min", t, EmitContext.Lit(t, Hi), e.Math("Max", t, EmitContext.Lit(t, Lo), y));
    }

    string KindExpr(EmitContext e, DType t, string x)
    {
        string L(double v) => EmitContext.Lit(t, v);
        string HardSigmoid(double alpha, double beta) => e.Math("Max", t, L(0), e.Math("Min", t, L(1), $"{x} * {L(alpha)} + {L(beta)}"));
        return Kind switch
        {
            "Relu" => $"({x} < {L(0)} ? {L(0)} : {x})",
            "Clip" => $"({x} < {L(Alpha)} ? {L(Alpha)} : {x} > {L(Beta)} ? {L(Beta)} : {x})",
            "LeakyRelu" => $"({x} < {L(0)} ? {x} * {L(Alpha)} : {x})",
            "Sigmoid" => $"({L(1)} / ({L(1)} + {e.Math("Exp", t, "-" + x)}))",
            "Tanh" => e.Math("Tanh", t, x),
            "HardSigmoid" => HardSigmoid(Alpha, Beta),
            "HardSwish" => $"({x} * {HardSigmoid(1.0 / 6, 0.5)})",
            _ => $"({x} / ({L(1)} + {e.Math("Exp", t, "-" + x)}))",
        };
    }

    /// <summary>The trailing argument of a ModelGen.Runtime kernel call ("" when the node has no activation).</summary>
    public static string NetArg(Node n)
    {
        var a = Of(n);
        return a == null ? "" : ", activation: " + a.NetValue();
    }

    /// <summary>This activation as a ModelGen.Runtime.Activation expression.</summary>
    public string NetValue()
    {
        var clamp = Clamped ? $", {EmitContext.F(Lo)}, {EmitContext.F(Hi)}" : "";
        return $"new ModelGen.Runtime.Activation(ModelGen.Runtime.ActivationKind.{Kind}, {EmitContext.F(Alpha)}, {EmitContext.F(Beta)}{clamp})";
    }

    /// <summary>The activation as standalone ONNX nodes reading <paramref name="x"/> and writing <paramref name="y"/> (undoes the fusion).</summary>
    public Node[] ToNodes(Value x, Value y, string name)
    {
        if (!Clamped) return Core(x, y, name);
        // the clamp after the activation: a Clip of its own
        var a = new Value(name + "_unclamped");
        var lo = Passes.PassUtil.Const(name + "_lo", new TensorData(DType.Float, Array.Empty<int>(), f: new[] { Lo }));
        var hi = Passes.PassUtil.Const(name + "_hi", new TensorData(DType.Float, Array.Empty<int>(), f: new[] { Hi }));
        return Core(x, a, name).Concat(new[] { Passes.PassUtil.Make("Clip", 13, name + "_clamp", new[] { a, lo, hi }, new[] { y }) }).ToArray();
    }

    Node[] Core(Value x, Value y, string name)
    {
        Node One(string op, int opset, params Attribute[] attrs) => Passes.PassUtil.Make(op, opset, name, new[] { x }, new[] { y }, attrs);
        switch (Kind)
        {
            case "Relu": return new[] { One("Relu", 14) };
            case "LeakyRelu": return new[] { One("LeakyRelu", 16, Passes.PassUtil.Float("alpha", Alpha)) };
            case "Sigmoid": return new[] { One("Sigmoid", 13) };
            case "Tanh": return new[] { One("Tanh", 13) };
            case "HardSigmoid": return new[] { One("HardSigmoid", 6, Passes.PassUtil.Float("alpha", Alpha), Passes.PassUtil.Float("beta", Beta)) };
            case "HardSwish": return new[] { One("HardSwish", 14) };
            case "Clip":
            {
                var lo = Passes.PassUtil.Const(name + "_min", new TensorData(DType.Float, Array.Empty<int>(), f: new[] { Alpha }));
                var hi = Passes.PassUtil.Const(name + "_max", new TensorData(DType.Float, Array.Empty<int>(), f: new[] { Beta }));
                return new[] { Passes.PassUtil.Make("Clip", 13, name, new[] { x, lo, hi }, new[] { y }) };
            }
            default:
            {
                // SiLU: x * Sigmoid(x)
                var s = new Value(name + "_sigmoid");
                var sig = Passes.PassUtil.Make("Sigmoid", 13, name + "_Sigmoid", new[] { x }, new[] { s });
                return new[] { sig, Passes.PassUtil.Make("Mul", 14, name, new[] { x, s }, new[] { y }) };
            }
        }
    }

    public override string ToString() => Clamped ? $"{Kind}({Alpha}, {Beta}) in [{Lo}, {Hi}]" : $"{Kind}({Alpha}, {Beta})";
}
