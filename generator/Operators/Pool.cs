using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

public enum PoolKind { Max, Average, Lp }

/// <summary>
/// MaxPool (optional Indices output, storage_order), AveragePool (count_include_pad) and LpPool (p) over N spatial
/// dimensions, with kernel_shape, strides, pads, auto_pad, ceil_mode and dilations (where the opset defines them).
/// </summary>
public sealed class Pool : Operator
{
    readonly PoolKind _kind;
    public Pool(PoolKind kind) { _kind = kind; }

    internal sealed class Geo
    {
        public Window W;
        public int N, C;
        public bool CountIncludePad, Indices;
        public int StorageOrder;
        public double P;
    }

    /// <summary>The opset from which the operator has the 'dilations' attribute.</summary>
    int DilationsSince => _kind switch { PoolKind.Max => 10, PoolKind.Average => 19, _ => 18 };

    public override void Infer(Node n)
    {
        Require(n, 1, 1);
        var x = n.In(0);
        bool bytes = x.Type == DType.Int8 || x.Type == DType.UInt8;
        if (!(bytes && _kind == PoolKind.Max)) RequireFloat(n, x);
        if (x.Shape.Length < 3) throw Error($"{n.OpType} input must have rank 3 or more [N, C, spatial...], got {Shape.Format(x.Shape)}");
        int r = x.Shape.Length - 2;
        var kernel = Window.KernelShape(n, r, null);
        bool ceil = n.Int("ceil_mode", 0) != 0;
        var win = Window.Resolve(n, x.Shape.Skip(2).ToArray(), kernel, ceil, n.Opset >= DilationsSince);
        var geo = new Geo { W = win, N = x.Shape[0], C = x.Shape[1], CountIncludePad = n.Int("count_include_pad", 0) != 0 };
        if (_kind == PoolKind.Lp) geo.P = LpP(n);
        var outShape = new[] { x.Shape[0], x.Shape[1] }.Concat(win.Out).ToArray();
        SetOut(n, 0, x.Type, outShape);
        if (n.Outputs.Count > (_kind == PoolKind.Max ? 2 : 1)) throw Error($"{n.OpType} has at most {(_kind == PoolKind.Max ? 2 : 1)} outputs, got {n.Outputs.Count}");
        if (_kind == PoolKind.Max)
        {
            long so = n.Int("storage_order", 0);
            if (so != 0 && so != 1) throw Error($"MaxPool storage_order must be 0 (row major) or 1 (column major), got {so}");
            geo.StorageOrder = (int)so;
            if (n.Outputs.Count > 1)
            {
                SetOut(n, 1, DType.Int64, outShape);
                geo.Indices = !n.Out(1).Name.StartsWith("__unused", StringComparison.Ordinal);
            }
        }
        n.State = geo;
    }

    /// <summary>LpPool/GlobalLpPool's exponent p (an int since opset 2; a float in opset 1).</summary>
    internal static double LpP(Node n)
    {
        double p = n.Attributes.TryGetValue("p", out var a) ? (a.Type == AttrType.Float ? a.F : a.I) : 2;
        if (!(p > 0) || double.IsInfinity(p)) throw Error($"{n.OpType} p must be positive, got {p}");
        return p;
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var geo = (Geo)n.State; var g = geo.W;
        var x = inputs[0];
        var y = new TensorData(x.Type, n.Out().Shape);
        var ind = n.Outputs.Count > 1 ? new TensorData(DType.Int64, n.Out(1).Shape) : null;
        int r = g.Rank, inPlane = g.InPlane, outPlane = g.OutPlane, kSize = g.KernelSize;
        var inStr = Shape.Strides(g.In);
        var colStr = new int[r];
        for (int i = 0, acc = 1; i < r; i++) { colStr[i] = acc; acc *= g.In[i]; }
        double init = _kind == PoolKind.Max ? MinOf(x.Type) : 0;
        var q = new int[r];
        for (int nc = 0; nc < geo.N * geo.C; nc++)
        {
            g.ForEachOutput((o, pos) =>
            {
                double acc = init; long best = 0; int count = 0, padded = 1;
                for (int i = 0; i < r; i++) padded *= g.PaddedCount(i, pos[i]);
                for (int t = 0; t < kSize; t++)
                {
                    bool valid = true;
                    for (int i = r - 1, rem = t; i >= 0; i--)
                    {
                        q[i] = g.First(i, pos[i]) + rem % g.Kernel[i] * g.Dilations[i];
                        rem /= g.Kernel[i];
                        valid &= q[i] >= 0 && q[i] < g.In[i];
                    }
                    if (!valid) continue;
                    int xi = 0, ci = 0;
                    for (int i = 0; i < r; i++) { xi += q[i] * inStr[i]; ci += q[i] * colStr[i]; }
                    double v = x.GetDouble(nc * inPlane + xi);
                    count++;
                    switch (_kind)
                    {
                        case PoolKind.Max:
                            if (v > acc) { acc = v; best = (long)nc * inPlane + (geo.StorageOrder == 0 ? xi : ci); }
                            break;
                        case PoolKind.Average: acc += v; break;
                        default: acc += Math.Pow(Math.Abs(v), geo.P); break;
                    }
                }
                double res = _kind switch
                {
                    PoolKind.Max => acc,
                    PoolKind.Average => acc / (geo.CountIncludePad ? padded : count),
                    _ => Math.Pow(acc, 1 / geo.P),
                };
                y.Set(nc * outPlane + o, res);
                ind?.SetLong(nc * outPlane + o, best);
            });
        }
        return ind == null ? new[] { y } : new[] { y, ind };
    }

    internal static double MinOf(DType t) => t switch
    {
        DType.Int8 => sbyte.MinValue,
        DType.UInt8 => 0,
        _ => double.NegativeInfinity,
    };


    public override void Emit(Node n, EmitContext e)
    {
        var geo = (Geo)n.State;
        if (EmitBlocked(n, e, _kind == PoolKind.Max)) return;
        // Net profile: 1-D/2-D float max and average pooling, and int8/uint8 max pooling (quantized models), run in
        // ModelGen.Runtime's SIMD kernels
        var t = n.In(0).Type;
        bool kernel = t == DType.Float ? _kind != PoolKind.Lp : t is DType.Int8 or DType.UInt8 && _kind == PoolKind.Max;
        if (e.Net && kernel && geo.W.Rank <= 2 && !geo.Indices) { EmitNetKernel(n, e, geo); return; }
        EmitLoops(n, e, geo);
    }

    void EmitNetKernel(Node n, EmitContext e, Geo geo)
    {
        var g = geo.W;
        int D(int[] a, int i, int one) => g.Rank == 2 ? a[i] : i == 0 ? one : a[0];
        var common = $"{e.Span(n.In(0))}, {e.Span(n.Out())}, batchTimesChannels: {geo.N * geo.C}, inH: {D(g.In, 0, 1)}, inW: {D(g.In, 1, 1)}, " +
            $"outH: {D(g.Out, 0, 1)}, outW: {D(g.Out, 1, 1)}, kH: {D(g.Kernel, 0, 1)}, kW: {D(g.Kernel, 1, 1)}, strideH: {D(g.Strides, 0, 1)}, strideW: {D(g.Strides, 1, 1)}, " +
            $"padTop: {D(g.PadBegin, 0, 0)}, padLeft: {D(g.PadBegin, 1, 0)}, dilH: {D(g.Dilations, 0, 1)}, dilW: {D(g.Dilations, 1, 1)}";
        if (_kind == PoolKind.Max) e.W.Line($"ModelGen.Runtime.{(n.In(0).Type == DType.Float ? "Pool" : "Int8")}.MaxPool2D({common});");
        else e.W.Line($"ModelGen.Runtime.Pool.AveragePool2D({common}, countIncludePad: {(geo.CountIncludePad ? "true" : "false")}, padBottom: {D(g.PadEnd, 0, 0)}, padRight: {D(g.PadEnd, 1, 0)});");
    }

    /// <summary>
    /// A global pool of a channel-blocked tensor (mg_blocked_in, set by <see cref="Passes.ChannelBlocking"/> on a
    /// chain's last tensor): ModelGen.Runtime.ConvBlocked.GlobalPool reads the blocks; a windowed max pool inside a
    /// chain (mg_blocked too): ConvBlocked.MaxPool, blocks to blocks. False where the input is NCHW.
    /// </summary>
    internal static bool EmitBlocked(Node n, EmitContext e, bool max)
    {
        if (n.Int("mg_blocked_in", 0) == 0) return false;
        var x = n.In(0);
        if (!e.Net) throw Error($"{n.OpType} reads channel blocks only in the Net profile (ChannelBlocking runs for Net only)");
        if (n.Int("mg_blocked", 0) != 0)
        {
            // a windowed max pool inside a chain: blocks in, blocks out
            var g = ((Geo)n.State).W;
            e.W.Line($"ModelGen.Runtime.ConvBlocked.MaxPool({e.Span(x)}, {e.Span(n.Out())}, batch: {x.Shape[0]}, channels: {x.Shape[1]}, inH: {g.In[0]}, inW: {g.In[1]}, " +
                $"outH: {g.Out[0]}, outW: {g.Out[1]}, kH: {g.Kernel[0]}, kW: {g.Kernel[1]}, strideH: {g.Strides[0]}, strideW: {g.Strides[1]}, " +
                $"padTop: {g.PadBegin[0]}, padLeft: {g.PadBegin[1]}, dilH: {g.Dilations[0]}, dilW: {g.Dilations[1]});");
            return true;
        }
        e.W.Line($"ModelGen.Runtime.ConvBlocked.GlobalPool({e.Span(x)}, {e.Span(n.Out())}, batch: {x.Shape[0]}, channels: {x.Shape[1]}, plane: {x.Shape[2] * x.Shape[3]}, max: {(max ? "true" : "false")});");
        return true;
    }

    /// <summary>Per (batch, channel) plane and output position: the valid tap range is hoisted, the taps reduced in a local.</summary>
    void EmitLoops(Node n, EmitContext e, Geo geo)
    {
        var g = geo.W;
        var x = n.In(0); var y = n.Out();
        var t = x.Type; var ty = DTypes.CsName(t);
        var w = e.W;
        int r = g.Rank, inPlane = g.InPlane, outPlane = g.OutPlane;
        int planes = geo.N * geo.C;
        if (planes == 0 || outPlane == 0) return;
        int opened = 0;
        string nc = "0";
        if (planes > 1) { nc = e.Var("c"); w.Open($"for (int {nc} = 0; {nc} < {planes}; {nc}++)"); opened++; }
        var xT = new List<string> { WindowEmit.Mul(nc, inPlane) };
        var yT = new List<string> { WindowEmit.Mul(nc, outPlane) };
        var dims = new WinDim[r];
        bool colMajor = geo.Indices && geo.StorageOrder == 1;
        bool padCount = _kind == PoolKind.Average && geo.CountIncludePad;
        opened += WindowEmit.OpenOutputs(e, g, r, dims, xT, yT, Shape.Strides(g.Out), declareP: colMajor);
        var acc = e.Var("acc");
        w.Line($"{ty} {acc} = {EmitContext.Lit(t, _kind == PoolKind.Max ? MinOf(t) : 0)};");
        string best = null;
        if (geo.Indices) { best = e.Var("best"); w.Line($"int {best} = 0;"); }
        int inner = WindowEmit.OpenTaps(e, g, r, dims, xT, null);
        var xi = WindowEmit.Sum(xT);
        var v = e.Var("v");
        switch (_kind)
        {
            case PoolKind.Max:
                if (!geo.Indices) w.Line($"{{ {ty} {v} = {e.At(x, xi)}; if ({v} > {acc}) {acc} = {v}; }}");
                else
                {
                    string idx = xi;
                    if (colMajor)
                    {
                        var terms = new List<string> { WindowEmit.Mul(nc, inPlane) };
                        for (int i = 0, cs = 1; i < r; cs *= g.In[i], i++)
                        {
                            terms.Add(Idx.Mul(dims[i].P, cs));
                            terms.Add(WindowEmit.Mul(dims[i].K, (long)g.Dilations[i] * cs));
                        }
                        idx = Idx.Sum(terms.ToArray());
                    }
                    var xv = e.Var("x");
                    w.Line($"int {xv} = {xi};");
                    w.Line($"{{ {ty} {v} = {e.At(x, xv)}; if ({v} > {acc}) {{ {acc} = {v}; {best} = {(colMajor ? idx : xv)}; }} }}");
                }
                break;
            case PoolKind.Average:
                w.Line($"{acc} += {e.At(x, xi)};");
                break;
            default:
                w.Line($"{{ {ty} {v} = {e.At(x, xi)}; {acc} += {LpTerm(e, t, geo.P, v)}; }}");
                break;
        }
        WindowEmit.Close(e, inner);
        string res = acc;
        if (_kind == PoolKind.Average)
        {
            // divisor: the taps inside the input (count_include_pad=0) or inside the padded input (count_include_pad=1)
            long constant = 1;
            var factors = new List<string>();
            for (int i = 0; i < r; i++)
            {
                var d = dims[i];
                if (padCount)
                {
                    if (!g.NeedPadHi(i)) { constant *= g.Kernel[i]; continue; }
                    int dil = g.Dilations[i], k = g.Kernel[i], end = g.In[i] + g.PadEnd[i];
                    var ph = e.Var("n");
                    w.Line(dil == 1 ? $"int {ph} = {d.P} > {end - 1 - (k - 1) * dil} ? {end} - {d.P} : {k};"
                        : $"int {ph} = {d.P} > {end - 1 - (k - 1) * dil} ? ({end + dil - 1} - {d.P}) / {dil} : {k};");
                    factors.Add(ph);
                }
                else if (d.Lo == "0" && d.Hi == WindowEmit.I(g.Kernel[i])) constant *= g.Kernel[i];
                else factors.Add(d.Lo == "0" ? d.Hi : $"({d.Hi} - {d.Lo})");
            }
            if (factors.Count == 0) res = $"{acc} / {EmitContext.Lit(t, constant)}";
            else
            {
                if (constant != 1) factors.Add(WindowEmit.I(constant));
                res = $"{acc} / ({ty})({string.Join(" * ", factors)})";
            }
        }
        else if (_kind == PoolKind.Lp) res = LpRoot(e, t, geo.P, acc);
        w.Line($"{e.At(y, WindowEmit.Sum(yT))} = {res};");
        if (geo.Indices) w.Line($"{e.At(n.Out(1), WindowEmit.Sum(yT))} = {best};");
        WindowEmit.Close(e, opened);
    }

    internal static string LpTerm(EmitContext e, DType t, double p, string v)
    {
        if (p == 1) return $"({v} < {EmitContext.Lit(t, 0)} ? -{v} : {v})";
        if (p == 2) return $"{v} * {v}";
        return WindowEmit.Math(e, "Pow", t, $"({v} < {EmitContext.Lit(t, 0)} ? -{v} : {v})", EmitContext.Lit(t, p));
    }

    internal static string LpRoot(EmitContext e, DType t, double p, string acc)
    {
        if (p == 1) return acc;
        if (p == 2) return WindowEmit.Math(e, "Sqrt", t, acc);
        return WindowEmit.Math(e, "Pow", t, acc, EmitContext.Lit(t, 1 / p));
    }
}

/// <summary>GlobalAveragePool, GlobalMaxPool, GlobalLpPool: one value per (batch, channel) over all spatial positions.</summary>
public sealed class GlobalPool : Operator
{
    readonly PoolKind _kind;
    public GlobalPool(PoolKind kind) { _kind = kind; }

    public override void Infer(Node n)
    {
        Require(n, 1, 1);
        var x = n.In(0);
        RequireFloat(n, x);
        if (x.Shape.Length < 3) throw Error($"{n.OpType} input must have rank 3 or more [N, C, spatial...], got {Shape.Format(x.Shape)}");
        var outShape = x.Shape.Select((d, i) => i < 2 ? d : 1).ToArray();
        if (_kind == PoolKind.Lp) n.State = Pool.LpP(n);
        SetOut(n, 0, x.Type, outShape);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var x = inputs[0];
        var y = new TensorData(x.Type, n.Out().Shape);
        int planes = y.Length, plane = planes == 0 ? 0 : x.Length / planes;
        double p = _kind == PoolKind.Lp ? (double)n.State : 1;
        for (int c = 0; c < planes; c++)
        {
            double acc = _kind == PoolKind.Max ? double.NegativeInfinity : 0;
            for (int i = 0; i < plane; i++)
            {
                double v = x.GetDouble(c * plane + i);
                acc = _kind switch { PoolKind.Max => v > acc ? v : acc, PoolKind.Average => acc + v, _ => acc + Math.Pow(Math.Abs(v), p) };
            }
            y.Set(c, _kind switch { PoolKind.Max => acc, PoolKind.Average => acc / plane, _ => Math.Pow(acc, 1 / p) });
        }
        return new[] { y };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var x = n.In(0); var y = n.Out();
        var t = x.Type; var ty = DTypes.CsName(t);
        var w = e.W;
        int planes = y.Length, plane = planes == 0 ? 0 : x.Length / planes;
        if (planes == 0 || Pool.EmitBlocked(n, e, _kind == PoolKind.Max)) return;
        if (e.Net && _kind == PoolKind.Average && t == DType.Float && plane >= 16)
        {
            // Net profile: a SIMD sum per plane
            w.Line($"ModelGen.Runtime.Pool.GlobalAverage({e.Span(x)}, {e.Span(y)}, {planes}, {plane});");
            return;
        }
        string c = "0";
        if (planes > 1) { c = e.Var("c"); w.Open($"for (int {c} = 0; {c} < {planes}; {c}++)"); }
        var acc = e.Var("acc");
        w.Line($"{ty} {acc} = {EmitContext.Lit(t, _kind == PoolKind.Max ? double.NegativeInfinity : 0)};");
        string xb = WindowEmit.Mul(c, plane);
        var i = e.Var("i");
        var xv = e.At(x, Idx.Sum(xb, i));
        var v = e.Var("v");
        double p = _kind == PoolKind.Lp ? (double)n.State : 1;
        switch (_kind)
        {
            case PoolKind.Max: w.Line($"for (int {i} = 0; {i} < {plane}; {i}++) {{ {ty} {v} = {xv}; if ({v} > {acc}) {acc} = {v}; }}"); break;
            case PoolKind.Average: w.Line($"for (int {i} = 0; {i} < {plane}; {i}++) {acc} += {xv};"); break;
            default: w.Line($"for (int {i} = 0; {i} < {plane}; {i}++) {{ {ty} {v} = {xv}; {acc} += {Pool.LpTerm(e, t, p, v)}; }}"); break;
        }
        string res = _kind switch
        {
            PoolKind.Max => acc,
            PoolKind.Average => $"{acc} / {EmitContext.Lit(t, plane)}",
            _ => Pool.LpRoot(e, t, p, acc),
        };
        w.Line($"{e.At(y, c)} = {res};");
        if (planes > 1) w.Close();
    }
}
