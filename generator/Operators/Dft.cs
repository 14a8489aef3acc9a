using System;
using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// DFT (opset 17; opset 20 takes the axis as an input): X [..., L along axis, ..., 1 or 2] (real, or complex as
/// (re, im) pairs) -> Y [..., N or N/2 + 1 along axis, ..., 2] with N = dft_length (the signal zero-padded or cut to
/// it) or L. Forward: Y[k] = sum_n X[n] e^(-2 pi i k n / N); inverse: the conjugate kernel divided by N; onesided keeps
/// the bins 0..N/2. A direct DFT, O(N x bins) per transform, accumulated in double over build-time tables of
/// cos/sin(2 pi m / N), so both profiles give the same answer and neither needs System.Math.
/// </summary>
public sealed class Dft : Operator
{
    sealed class Plan { public int Outer, L, Inner, N, K, Complex; public bool Inverse; public Value Cos, Sin; }

    public override void Infer(Node n)
    {
        Require(n, 1, 3);
        var x = n.In(0);
        RequireFloat(n, x);
        int r = x.Shape.Length;
        if (r < 2 || x.Shape[r - 1] is not (1 or 2)) throw Error($"DFT input must end in a dimension of 1 (real) or 2 (complex), got {Shape.Format(x.Shape)}");
        long axis = n.Opset >= 20 ? (n.In(2) == null ? -2 : CosineWindow.ConstInt(n, 2, "axis")) : n.Int("axis", 1);
        if (axis < 0) axis += r;
        if (axis < 0 || axis > r - 2) throw Error($"DFT axis {axis} is outside the signal dimensions of {Shape.Format(x.Shape)}");
        bool inverse = n.Int("inverse", 0) != 0, onesided = n.Int("onesided", 0) != 0;
        if (inverse && onesided) throw Error("DFT: inverse and onesided cannot both be set");
        int a = (int)axis, len = x.Shape[a];
        long nDft = n.In(1) == null ? len : CosineWindow.ConstInt(n, 1, "dft_length");
        if (nDft < 1 || nDft > 1 << 16) throw Unsupported($"DFT length {nDft} is outside 1..65536");
        int bins = onesided ? (int)nDft / 2 + 1 : (int)nDft;
        var p = n.State as Plan ?? new Plan();
        p.Outer = x.Shape.Take(a).Aggregate(1, (s, d) => s * d);
        p.Inner = x.Shape.Skip(a + 1).Take(r - 2 - a).Aggregate(1, (s, d) => s * d);
        p.L = len; p.N = (int)nDft; p.K = bins; p.Complex = x.Shape[r - 1]; p.Inverse = inverse;
        if (p.Cos == null || p.Cos.Length != p.N) Twiddles.Attach(n, p.N, 3, out p.Cos, out p.Sin);
        n.State = p;
        var shape = (int[])x.Shape.Clone();
        shape[a] = bins; shape[r - 1] = 2;
        SetOut(n, 0, x.Type, shape);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var p = (Plan)n.State;
        var x = inputs[0];
        var y = new TensorData(n.Out().Type, n.Out().Shape);
        int take = Math.Min(p.L, p.N);
        for (int o = 0; o < p.Outer; o++)
            for (int i = 0; i < p.Inner; i++)
                for (int k = 0; k < p.K; k++)
                {
                    double re = 0, im = 0;
                    for (int t = 0; t < take; t++)
                    {
                        int at = ((o * p.L + t) * p.Inner + i) * p.Complex;
                        double xr = x.GetDouble(at), xi = p.Complex == 2 ? x.GetDouble(at + 1) : 0;
                        double th = 2 * Math.PI * ((long)k * t % p.N) / p.N, c = Math.Cos(th), s = p.Inverse ? Math.Sin(th) : -Math.Sin(th);
                        re += xr * c - xi * s; im += xr * s + xi * c;
                    }
                    if (p.Inverse) { re /= p.N; im /= p.N; }
                    int yo = ((o * p.K + k) * p.Inner + i) * 2;
                    y.Set(yo, re); y.Set(yo + 1, im);
                }
        return new[] { y };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var p = (Plan)n.State;
        var x = n.In(0); var y = n.Out();
        var w = e.W;
        var o = e.Var("o"); var i = e.Var("i"); var k = e.Var("k");
        w.Open($"for (int {o} = 0; {o} < {p.Outer}; {o}++)");
        w.Open($"for (int {i} = 0; {i} < {p.Inner}; {i}++)");
        w.Open($"for (int {k} = 0; {k} < {p.K}; {k}++)");
        // element t of this transform's signal is at (o * L + t) * Inner + i, times Complex
        string xAt(string t, int part) => e.At(x, Idx.Sum(Idx.Mul(Idx.Sum(Idx.Mul(Idx.Sum(Idx.Mul(o, p.L), t), p.Inner), i), p.Complex), part.ToString()));
        Twiddles.EmitSum(e, p.Cos, p.Sin, k, Math.Min(p.L, p.N), p.N, p.Inverse, xAt, p.Complex == 2, out var re, out var im);
        string yAt(int part) => e.At(y, Idx.Sum(Idx.Mul(Idx.Sum(Idx.Mul(Idx.Sum(Idx.Mul(o, p.K), k), p.Inner), i), 2), part.ToString()));
        string scale = p.Inverse ? $" / {p.N}" : "";
        var cs = DTypes.CsName(y.Type);
        w.Line($"{yAt(0)} = ({cs})({re}{scale});");
        w.Line($"{yAt(1)} = ({cs})({im}{scale});");
        w.Close(); w.Close(); w.Close();
    }
}

/// <summary>
/// The build-time tables of the DFT kernels, cos and sin of 2 pi m / N for m in [0, N) (double), attached to the node
/// as constant inputs, and the emitted sum over one transform.
/// </summary>
internal static class Twiddles
{
    public static void Attach(Node n, int size, int firstTableInput, out Value cos, out Value sin)
    {
        while (n.Inputs.Count > firstTableInput) n.Inputs.RemoveAt(n.Inputs.Count - 1);
        while (n.Inputs.Count < firstTableInput) n.Inputs.Add(null);
        var c = new TensorData(DType.Double, new[] { size });
        var s = new TensorData(DType.Double, new[] { size });
        for (int m = 0; m < size; m++) { double th = 2 * Math.PI * m / size; c.Set(m, Math.Cos(th)); s.Set(m, Math.Sin(th)); }
        var name = n.Out().Name;
        cos = new Value(name + "_dft_cos") { Type = DType.Double, Shape = c.Shape, Const = c };
        sin = new Value(name + "_dft_sin") { Type = DType.Double, Shape = s.Shape, Const = s };
        n.Inputs.Add(cos); n.Inputs.Add(sin);
    }

    /// <summary>
    /// Emits re/im = sum over t &lt; count of x(t) e^(∓2 pi i k t / N) in double; the table index k t mod N advances by
    /// k per step. xAt(t, 0|1) gives the real and imaginary parts' expressions.
    /// </summary>
    public static void EmitSum(EmitContext e, Value cos, Value sin, string k, int count, int size, bool inverse,
        Func<string, int, string> xAt, bool complex, out string re, out string im)
    {
        var w = e.W;
        re = e.Var("re"); im = e.Var("im");
        var m = e.Var("m"); var t = e.Var("t");
        w.Line($"double {re} = 0, {im} = 0;");
        w.Line($"int {m} = 0;");
        w.Open($"for (int {t} = 0; {t} < {count}; {t}++)");
        var xr = e.Var("xr");
        w.Line($"double {xr} = {xAt(t, 0)};");
        string c = e.At(cos, m), s = e.At(sin, m);
        // forward: (xr + i xi)(cos - i sin); inverse: (xr + i xi)(cos + i sin)
        string sg = inverse ? "+" : "-", ng = inverse ? "-" : "+";
        if (complex)
        {
            var xi = e.Var("xi");
            w.Line($"double {xi} = {xAt(t, 1)};");
            w.Line($"{re} += {xr} * {c} {ng} {xi} * {s};");
            w.Line($"{im} += {xi} * {c} {sg} {xr} * {s};");
        }
        else
        {
            w.Line($"{re} += {xr} * {c};");
            w.Line($"{im} {(inverse ? "+=" : "-=")} {xr} * {s};");
        }
        w.Line($"{m} += {k};");
        w.Line($"if ({m} >= {size}) {m} -= {size};");
        w.Close();
    }
}
