using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// ConvTranspose over 1 or more spatial dimensions: X [N, C, D...], W [C, M/group, K...], optional B [M] -> Y [N, M, O...].
/// Y[n, m, o] = B[m] + sum over c in m's group and kernel positions k with o + pad_head = i * stride + k * dilation
/// (0 &lt;= i &lt; D) of X[n, c, i] * W[c, m, k]. Evaluate computes that sum per output (the reference); the emitted code
/// builds one output plane at a time from contiguous input rows (see <see cref="Emit"/>).
/// </summary>
public sealed class ConvTranspose : Operator
{
    internal sealed class Plan
    {
        public int N, C, M, Group, Cg, Mg, Rank;
        public int[] In, Out, Kernel, Strides, Dilations, PadHead;
    }

    public override void Infer(Node n)
    {
        Require(n, 2, 3);
        var x = n.In(0); var w = n.In(1); var b = n.In(2);
        RequireFloat(n, x);
        if (w.Type != x.Type || b != null && b.Type != x.Type) throw Error("ConvTranspose inputs must share one element type");
        int rank = x.Shape.Length - 2;
        if (rank < 1) throw Error($"ConvTranspose needs X of rank 3 or more (N, C, spatial...), got {Shape.Format(x.Shape)}");
        if (w.Shape.Length != x.Shape.Length) throw Error($"ConvTranspose W {Shape.Format(w.Shape)} must have the rank of X {Shape.Format(x.Shape)}");
        var p = new Plan { Rank = rank, N = x.Shape[0], C = x.Shape[1] };
        long group = n.Int("group", 1);
        if (group < 1 || p.C % group != 0) throw Error($"ConvTranspose group {group} must divide the {p.C} input channels");
        p.Group = (int)group;
        if (w.Shape[0] != p.C) throw Error($"ConvTranspose W {Shape.Format(w.Shape)} must have {p.C} rows (the input channels)");
        p.Cg = p.C / p.Group;
        p.Mg = w.Shape[1];
        p.M = p.Mg * p.Group;
        if (b != null && b.Length != p.M) throw Error($"ConvTranspose B has {b.Length} values, expected {p.M} (output channels)");
        p.In = x.Shape.Skip(2).ToArray();
        p.Kernel = w.Shape.Skip(2).ToArray();
        var ks = n.Ints("kernel_shape");
        if (ks != null && (ks.Length != rank || ks.Where((k, i) => k != p.Kernel[i]).Any()))
            throw Error($"ConvTranspose kernel_shape [{string.Join(",", ks)}] does not match W {Shape.Format(w.Shape)}");
        p.Strides = Ints(n, "strides", rank, 1);
        p.Dilations = Ints(n, "dilations", rank, 1);
        var outPad = Ints(n, "output_padding", rank, 0);
        if (p.Strides.Any(s => s < 1) || p.Dilations.Any(d => d < 1)) throw Error("ConvTranspose strides and dilations must be positive");
        if (outPad.Any(v => v < 0)) throw Error("ConvTranspose output_padding must not be negative");
        var autoPad = n.Str("auto_pad", "NOTSET");
        if (autoPad is not ("NOTSET" or "SAME_UPPER" or "SAME_LOWER" or "VALID")) throw Unsupported($"ConvTranspose auto_pad '{autoPad}'");

        p.Out = new int[rank];
        p.PadHead = new int[rank];
        var os = n.Ints("output_shape");
        if (os != null && os.Length == rank + 2) os = os.Skip(2).ToArray();
        if (os != null && os.Length != rank) throw Error($"ConvTranspose output_shape has {os.Length} values, expected {rank}");
        if (os != null || autoPad is "SAME_UPPER" or "SAME_LOWER")
        {
            // the output size is given (or in * stride for SAME_*); the pads follow from it: an odd total puts the extra
            // padding at the end for SAME_UPPER, at the start otherwise
            for (int i = 0; i < rank; i++)
            {
                long o = os != null ? os[i] : (long)p.In[i] * p.Strides[i];
                if (o < 1 || o >= Shape.MaxElements) throw Error($"ConvTranspose output size {o} is invalid");
                long full = (long)p.Strides[i] * (p.In[i] - 1) + outPad[i] + (long)(p.Kernel[i] - 1) * p.Dilations[i] + 1;
                long total = full - o;
                p.Out[i] = (int)o;
                if (autoPad is "SAME_UPPER" or "SAME_LOWER")
                {
                    // as the reference: floor division, so a negative total (stride wider than the kernel) shifts the taps
                    long half = total >= 0 ? total / 2 : -((-total + 1) / 2);
                    p.PadHead[i] = (int)(autoPad == "SAME_UPPER" ? half : total - half);
                }
                else
                {
                    // an explicit output_shape larger than the natural output adds zeros at the end
                    total = Math.Max(0, total);
                    p.PadHead[i] = (int)(total - total / 2);
                }
            }
        }
        else
        {
            var pads = autoPad == "VALID" ? new int[2 * rank] : Ints(n, "pads", 2 * rank, 0);
            for (int i = 0; i < rank; i++)
            {
                long o = (long)p.Strides[i] * (p.In[i] - 1) + outPad[i] + (long)(p.Kernel[i] - 1) * p.Dilations[i] + 1 - pads[i] - pads[rank + i];
                if (o < 1 || o >= Shape.MaxElements) throw Error($"ConvTranspose output size {o} along spatial axis {i} is invalid (check pads)");
                p.Out[i] = (int)o;
                p.PadHead[i] = pads[i];
            }
        }
        FusedActivation.Of(n);
        n.State = p;
        SetOut(n, 0, x.Type, new[] { p.N, p.M }.Concat(p.Out).ToArray());
    }

    /// <summary>The Net profile's runtime kernel (float, 1-D or 2-D) and the columns its GEMM writes.</summary>
    static bool UsesKernel(Node n, TargetProfile profile) => profile == TargetProfile.Net && n.In(0).Type == DType.Float && ((Plan)n.State).Rank <= 2;

    public override (DType Type, int Elements) Scratch(Node n, TargetProfile profile)
    {
        if (!UsesKernel(n, profile)) return base.Scratch(n, profile);
        var p = (Plan)n.State;
        return (DType.Float, p.Mg * p.Kernel.Aggregate(1, (a, v) => a * v) * p.In.Aggregate(1, (a, v) => a * v));
    }

    static int[] Ints(Node n, string name, int count, int dflt)
    {
        var v = n.Ints(name);
        if (v == null || v.Length == 0) return Enumerable.Repeat(dflt, count).ToArray();
        if (v.Length != count) throw Error($"{n.OpType} {name} has {v.Length} values, expected {count}");
        if (v.Any(a => a < int.MinValue / 4 || a > int.MaxValue / 4)) throw Error($"{n.OpType} {name} value out of range");
        return v.Select(a => (int)a).ToArray();
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var p = (Plan)n.State;
        var x = inputs[0]; var w = inputs[1]; var b = inputs.Length > 2 ? inputs[2] : null;
        var y = x.Like(n.Out().Shape);
        int inSz = p.In.Aggregate(1, (a, v) => a * v), outSz = p.Out.Aggregate(1, (a, v) => a * v), kSz = p.Kernel.Aggregate(1, (a, v) => a * v);
        var inSt = Shape.Strides(p.In); var kSt = Shape.Strides(p.Kernel);
        var o = new int[p.Rank]; var k = new int[p.Rank];
        for (int bn = 0; bn < p.N; bn++)
            for (int m = 0; m < p.M; m++)
            {
                int g = m / p.Mg, mm = m % p.Mg;
                for (int of = 0; of < outSz; of++)
                {
                    Unflatten(of, p.Out, o);
                    double acc = b != null ? b.GetDouble(m) : 0;
                    for (int kf = 0; kf < kSz; kf++)
                    {
                        Unflatten(kf, p.Kernel, k);
                        int xi = 0;
                        bool hit = true;
                        for (int j = 0; j < p.Rank && hit; j++)
                        {
                            int t = o[j] + p.PadHead[j] - k[j] * p.Dilations[j];
                            if (t < 0 || t % p.Strides[j] != 0 || t / p.Strides[j] >= p.In[j]) hit = false;
                            else xi += t / p.Strides[j] * inSt[j];
                        }
                        if (!hit) continue;
                        for (int c = 0; c < p.Cg; c++)
                        {
                            int ch = g * p.Cg + c;
                            acc += x.GetDouble((bn * p.C + ch) * inSz + xi) * w.GetDouble((ch * p.Mg + mm) * kSz + kf);
                        }
                    }
                    y.Set((bn * p.M + m) * outSz + of, acc);
                }
            }
        FusedActivation.ApplyTo(n, y);
        return new[] { y };
    }

    static void Unflatten(int flat, int[] shape, int[] idx)
    {
        for (int d = shape.Length - 1; d >= 0; d--) { idx[d] = flat % shape[d]; flat /= shape[d]; }
    }

    /// <summary>
    /// Per output channel: the plane starts as the bias, then every (input channel, kernel position) adds its
    /// weight times the input plane at the output positions it lands on. The inner loops walk an input row
    /// contiguously; the input rows/columns that land inside the output are computed once per kernel position.
    /// </summary>
    public override void Emit(Node n, EmitContext e)
    {
        if (UsesKernel(n, e.Profile)) { EmitKernel(n, e); return; }
        var p = (Plan)n.State;
        var x = n.In(0); var wt = n.In(1); var b = n.In(2); var y = n.Out();
        var w = e.W;
        var t = x.Type;
        int inSz = p.In.Aggregate(1, (a, v) => a * v), outSz = p.Out.Aggregate(1, (a, v) => a * v), kSz = p.Kernel.Aggregate(1, (a, v) => a * v);
        var inSt = Shape.Strides(p.In); var outSt = Shape.Strides(p.Out); var kSt = Shape.Strides(p.Kernel);
        var closes = 0;
        string Loop(string hint, int count)
        {
            if (count == 1) return "0";
            var v = e.Var(hint);
            w.Open($"for (int {v} = 0; {v} < {count}; {v}++)");
            closes++;
            return v;
        }
        static string Term(string v, long k) => v == "0" ? "" : Idx.Mul(v, k);

        var bn = Loop("n", p.N);
        var g = Loop("g", p.Group);
        var m = Loop("m", p.Mg);
        var yb = e.Var("yb");
        w.Line($"int {yb} = {Idx.Sum(Term(bn, (long)p.M * outSz), Term(g, (long)p.Mg * outSz), Term(m, outSz))};");
        var z = e.Var("z");
        var bias = b != null ? e.At(b, Idx.Sum(Term(g, p.Mg), m)) : EmitContext.Lit(t, 0);
        w.Line($"for (int {z} = 0; {z} < {outSz}; {z}++) {e.At(y, Idx.Sum(yb, z))} = {bias};");
        int planeLoops = closes;
        var c = Loop("c", p.Cg);
        var kv = new string[p.Rank];
        for (int j = 0; j < p.Rank; j++) kv[j] = Loop("k", p.Kernel[j]);
        var wv = e.Var("w");
        var wIdx = Idx.Sum(new[] { Term(g, (long)p.Cg * p.Mg * kSz), Term(c, (long)p.Mg * kSz), Term(m, kSz) }.Concat(kv.Select((v, j) => Term(v, kSt[j]))).ToArray());
        w.Line($"{DTypes.CsName(t)} {wv} = {e.At(wt, wIdx)};");
        // output offset of kernel position k: sum over axes of (k * dilation - pad_head) * output stride
        var yk = e.Var("yk");
        long padOff = 0;
        for (int j = 0; j < p.Rank; j++) padOff -= (long)p.PadHead[j] * outSt[j];
        w.Line($"int {yk} = {Idx.Sum(kv.Select((v, j) => Term(v, (long)p.Dilations[j] * outSt[j])).Append(padOff.ToString()).ToArray())};");
        // input positions i with 0 <= i * stride + k * dilation - pad_head < out, per axis
        var lo = new string[p.Rank]; var hi = new string[p.Rank];
        for (int j = 0; j < p.Rank; j++)
        {
            int s = p.Strides[j], inLen = p.In[j], outLen = p.Out[j], pad = p.PadHead[j], dil = p.Dilations[j];
            if (kv[j] == "0")
            {
                long a = pad, bb = outLen - 1L + pad;
                lo[j] = (a > 0 ? (a + s - 1) / s : 0).ToString();
                hi[j] = (bb < 0 ? -1 : Math.Min(inLen - 1, bb / s)).ToString();
                continue;
            }
            string Minus(long constant) => constant == 0 ? "-" + Idx.Mul(kv[j], dil) : $"{constant} - {Idx.Mul(kv[j], dil)}";
            string a2 = Minus(pad), b2 = Minus(outLen - 1L + pad);
            lo[j] = e.Var("lo"); hi[j] = e.Var("hi");
            if (s == 1)
            {
                w.Line($"int {lo[j]} = {a2} > 0 ? {a2} : 0;");
                w.Line($"int {hi[j]} = {b2} < {inLen - 1} ? {b2} : {inLen - 1};");
            }
            else
            {
                w.Line($"int {lo[j]} = {a2} > 0 ? ({a2} + {s - 1}) / {s} : 0;");
                w.Line($"int {hi[j]} = {b2} < 0 ? -1 : ({b2}) / {s};");
                w.Line($"if ({hi[j]} > {inLen - 1}) {hi[j]} = {inLen - 1};");
            }
        }
        var iv = new string[p.Rank];
        int inner = 0;
        for (int j = 0; j < p.Rank; j++)
        {
            iv[j] = e.Var("i");
            w.Open($"for (int {iv[j]} = {lo[j]}; {iv[j]} <= {hi[j]}; {iv[j]}++)");
            inner++;
        }
        var yIdx = Idx.Sum(new[] { yb, yk }.Concat(iv.Select((v, j) => Term(v, (long)p.Strides[j] * outSt[j]))).ToArray());
        var xIdx = Idx.Sum(new[] { Term(bn, (long)p.C * inSz), Term(g, (long)p.Cg * inSz), Term(c, inSz) }.Concat(iv.Select((v, j) => Term(v, inSt[j]))).ToArray());
        var dst = e.At(y, yIdx);
        w.Line($"{dst} += {e.At(x, xIdx)} * {wv};");
        for (int i = 0; i < inner; i++) w.Close();
        // a fused activation once the plane is complete (every kernel position adds onto it)
        var act = FusedActivation.Of(n);
        if (act != null)
        {
            for (; closes > planeLoops; closes--) w.Close();
            var av = e.Var("a");
            var t2 = DTypes.CsName(t);
            w.Line($"for (int {z} = 0; {z} < {outSz}; {z}++) {{ {t2} {av} = {e.At(y, Idx.Sum(yb, z))}; {e.At(y, Idx.Sum(yb, z))} = {act.Expr(e, t, av)}; }}");
        }
        for (int i = 0; i < closes; i++) w.Close();
    }

    /// <summary>Net profile: ModelGen.Runtime.ConvTranspose (a 1-D transposed convolution is a 2-D one of height 1).</summary>
    void EmitKernel(Node n, EmitContext e)
    {
        var p = (Plan)n.State;
        var b = n.In(2);
        int Ax(int[] v, int j, int dflt) => p.Rank == 2 ? v[j] : j == 0 ? dflt : v[0];
        e.W.Line($"ModelGen.Runtime.ConvTranspose.ConvTranspose2D({e.Span(n.In(0))}, {e.Span(n.In(1))}, {(b == null ? "default" : e.Span(b))}, {e.Span(n.Out())}, {e.Span(e.Scratch(n))}, " +
            $"batch: {p.N}, inC: {p.C}, inH: {Ax(p.In, 0, 1)}, inW: {Ax(p.In, 1, 1)}, outC: {p.M}, kH: {Ax(p.Kernel, 0, 1)}, kW: {Ax(p.Kernel, 1, 1)}, " +
            $"outH: {Ax(p.Out, 0, 1)}, outW: {Ax(p.Out, 1, 1)}, strideH: {Ax(p.Strides, 0, 1)}, strideW: {Ax(p.Strides, 1, 1)}, " +
            $"padTop: {Ax(p.PadHead, 0, 0)}, padLeft: {Ax(p.PadHead, 1, 0)}, dilH: {Ax(p.Dilations, 0, 1)}, dilW: {Ax(p.Dilations, 1, 1)}, groups: {p.Group}{FusedActivation.NetArg(n)});");
    }
}
