using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Passes;

namespace ModelGen.Compiler.Operators;

public enum ReduceKind { Sum, Mean, Max, Min, Prod, L1, L2, LogSum, LogSumExp, SumSquare }

/// <summary>
/// The Reduce* family. Axes come from the 'axes' attribute, or from a constant second input (ReduceSum from opset 13,
/// the others from opset 18); no axes reduces everything unless noop_with_empty_axes makes the node an identity.
/// keepdims keeps reduced dimensions as 1. Each output element accumulates in a local over the reduced dimensions
/// (float/double in their own type, integers in long and wrapped back, bool Max/Min as any/all).
/// </summary>
public sealed class Reduce : Operator
{
    readonly ReduceKind _kind;
    public Reduce(ReduceKind kind) { _kind = kind; }

    sealed class Plan
    {
        public bool Noop;
        public bool[] Reduced;
        public int Count;
        /// <summary>Merged loops: kept dimensions (outer) and reduced dimensions (inner), sizes and input strides.</summary>
        public List<(int Size, int Stride)> Kept = new(), Red = new();
    }

    bool AxesFromInput(Node n) => _kind == ReduceKind.Sum ? n.Opset >= 13 : n.Opset >= 18;

    public override void Infer(Node n)
    {
        bool fromInput = AxesFromInput(n);
        Require(n, 1, fromInput ? 2 : 1);
        var x = n.In(0);
        var t = x.Type;
        bool floatOnly = _kind is ReduceKind.L2 or ReduceKind.LogSum or ReduceKind.LogSumExp;
        if (!DTypes.IsSupported(t) || floatOnly && !DTypes.IsFloat(t) || t == DType.Bool && _kind != ReduceKind.Max && _kind != ReduceKind.Min)
            throw new CompileException(Diag.UnsupportedType, $"{n.OpType} on {DTypes.OnnxName(t)} is not supported");
        var axes = fromInput ? TensorOps.ConstInts(n, 1, "axes") : n.Ints("axes");
        int rank = x.Shape.Length;
        var p = new Plan { Reduced = new bool[rank] };
        if (axes == null || axes.Length == 0)
        {
            if (n.Int("noop_with_empty_axes", 0) != 0) p.Noop = true;
            else for (int d = 0; d < rank; d++) p.Reduced[d] = true;
        }
        else foreach (var d in TensorOps.Axes(n, axes, rank)) p.Reduced[d] = true;
        n.State = p;
        if (p.Noop) { SetOut(n, 0, t, x.Shape); return; }

        bool keep = n.Int("keepdims", 1) != 0;
        var shape = new List<int>();
        var st = Shape.Strides(x.Shape);
        p.Count = 1;
        for (int d = 0; d < rank; d++)
        {
            if (p.Reduced[d]) { p.Count *= x.Shape[d]; if (keep) shape.Add(1); }
            else shape.Add(x.Shape[d]);
            if (x.Shape[d] == 1) continue;
            var list = p.Reduced[d] ? p.Red : p.Kept;
            // merge with the previous loop of the same kind when it is the neighbouring input dimension
            if (list.Count > 0 && list[list.Count - 1].Stride == st[d] * x.Shape[d])
                list[list.Count - 1] = (list[list.Count - 1].Size * x.Shape[d], st[d]);
            else list.Add((x.Shape[d], st[d]));
        }
        SetOut(n, 0, t, shape.ToArray());
    }

    // ---------- reference ----------

    static int[] Offsets(List<(int Size, int Stride)> loops)
    {
        var r = new List<int> { 0 };
        foreach (var (size, stride) in loops)
        {
            var next = new List<int>(r.Count * size);
            foreach (var b in r) for (int i = 0; i < size; i++) next.Add(b + i * stride);
            r = next;
        }
        return r.ToArray();
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var p = (Plan)n.State;
        var x = inputs[0]; var y = n.Out();
        if (p.Noop) return new[] { x.Reshape(y.Shape) };
        var r = new TensorData(y.Type, y.Shape);
        var kept = Offsets(p.Kept);
        var red = p.Count == 0 ? Array.Empty<int>() : Offsets(p.Red);
        for (int o = 0; o < kept.Length; o++)
        {
            int b = kept[o];
            switch (x.Type)
            {
                case DType.Float: r.F[o] = ReduceFloat(x.F, b, red); break;
                case DType.Double: r.D[o] = ReduceDouble(x.D, b, red); break;
                case DType.Bool:
                    bool acc = _kind == ReduceKind.Min;
                    foreach (var k in red) acc = _kind == ReduceKind.Max ? acc | x.L[b + k] != 0 : acc & x.L[b + k] != 0;
                    r.L[o] = acc ? 1 : 0;
                    break;
                default: r.SetLong(o, ReduceLong(x.Type, x.L, b, red)); break;
            }
        }
        return new[] { r };
    }

    float ReduceFloat(float[] x, int b, int[] red)
    {
        float acc = Init(float.NegativeInfinity, float.PositiveInfinity);
        if ((_kind == ReduceKind.Max || _kind == ReduceKind.Min) && red.Length > 0) acc = x[b + red[0]];
        float mx = float.NegativeInfinity;
        if (_kind == ReduceKind.LogSumExp)
        {
            foreach (var k in red) if (x[b + k] > mx) mx = x[b + k];
            if (float.IsInfinity(mx)) mx = 0;
        }
        foreach (var k in red)
        {
            float v = x[b + k];
            switch (_kind)
            {
                case ReduceKind.Max: if (v > acc) acc = v; break;
                case ReduceKind.Min: if (v < acc) acc = v; break;
                case ReduceKind.Prod: acc *= v; break;
                case ReduceKind.L1: acc += Math.Abs(v); break;
                case ReduceKind.L2: case ReduceKind.SumSquare: acc += v * v; break;
                case ReduceKind.LogSumExp: acc += (float)Math.Exp(v - mx); break;
                default: acc += v; break;
            }
        }
        return _kind switch
        {
            ReduceKind.Mean => acc / red.Length,
            ReduceKind.L2 => (float)Math.Sqrt(acc),
            ReduceKind.LogSum => (float)Math.Log(acc),
            ReduceKind.LogSumExp => (float)Math.Log(acc) + mx,
            _ => acc,
        };
    }

    double ReduceDouble(double[] x, int b, int[] red)
    {
        double acc = Init(double.NegativeInfinity, double.PositiveInfinity);
        if ((_kind == ReduceKind.Max || _kind == ReduceKind.Min) && red.Length > 0) acc = x[b + red[0]];
        double mx = double.NegativeInfinity;
        if (_kind == ReduceKind.LogSumExp)
        {
            foreach (var k in red) if (x[b + k] > mx) mx = x[b + k];
            if (double.IsInfinity(mx)) mx = 0;
        }
        foreach (var k in red)
        {
            double v = x[b + k];
            switch (_kind)
            {
                case ReduceKind.Max: if (v > acc) acc = v; break;
                case ReduceKind.Min: if (v < acc) acc = v; break;
                case ReduceKind.Prod: acc *= v; break;
                case ReduceKind.L1: acc += Math.Abs(v); break;
                case ReduceKind.L2: case ReduceKind.SumSquare: acc += v * v; break;
                case ReduceKind.LogSumExp: acc += Math.Exp(v - mx); break;
                default: acc += v; break;
            }
        }
        return _kind switch
        {
            ReduceKind.Mean => acc / red.Length,
            ReduceKind.L2 => Math.Sqrt(acc),
            ReduceKind.LogSum => Math.Log(acc),
            ReduceKind.LogSumExp => Math.Log(acc) + mx,
            _ => acc,
        };
    }

    long ReduceLong(DType t, long[] x, int b, int[] red)
    {
        long acc = _kind == ReduceKind.Max ? Lowest(t) : _kind == ReduceKind.Min ? Highest(t) : _kind == ReduceKind.Prod ? 1 : 0;
        foreach (var k in red)
        {
            long v = x[b + k];
            switch (_kind)
            {
                case ReduceKind.Max: if (v > acc) acc = v; break;
                case ReduceKind.Min: if (v < acc) acc = v; break;
                case ReduceKind.Prod: acc = unchecked(acc * v); break;
                case ReduceKind.L1: acc = unchecked(acc + (v < 0 ? -v : v)); break;
                case ReduceKind.SumSquare: acc = unchecked(acc + v * v); break;
                default: acc = unchecked(acc + v); break;
            }
        }
        if (_kind == ReduceKind.Mean && red.Length > 0) acc /= red.Length;
        return DTypes.Wrap(t, acc);
    }

    T Init<T>(T lowest, T highest) where T : struct, IConvertible
        => _kind == ReduceKind.Max ? lowest : _kind == ReduceKind.Min ? highest
            : (T)Convert.ChangeType(_kind == ReduceKind.Prod ? 1 : 0, typeof(T));

    static long Lowest(DType t) => t switch
    {
        DType.Int8 => sbyte.MinValue, DType.Int16 => short.MinValue, DType.Int32 => int.MinValue, DType.Int64 => long.MinValue,
        _ => 0,
    };

    static long Highest(DType t) => t switch
    {
        DType.Int8 => sbyte.MaxValue, DType.UInt8 => byte.MaxValue, DType.Int16 => short.MaxValue, DType.UInt16 => ushort.MaxValue,
        DType.Int32 => int.MaxValue, DType.UInt32 => uint.MaxValue, _ => long.MaxValue,
    };

    // ---------- emission ----------

    /// <summary>
    /// A float ReduceMean or ReduceMax over the two spatial axes of [N, C, H, W] (PyTorch's x.mean([2, 3]) head, either
    /// keepdims): a global pool, which <see cref="Passes.ChannelBlocking"/> lets read a chain's blocks. True for max.
    /// </summary>
    internal static bool? SpatialPool(Node n)
    {
        if (!(PassUtil.Is(n, "ReduceMean") || PassUtil.Is(n, "ReduceMax")) || n.State is not Plan { Noop: false } p || n.Outputs.Count != 1
            || n.In(0) is not { Type: DType.Float, Shape: { Length: 4 } } || p.Reduced.Length != 4 || p.Reduced[0] || p.Reduced[1] || !p.Reduced[2] || !p.Reduced[3])
            return null;
        return PassUtil.Is(n, "ReduceMax");
    }

    public override void Emit(Node n, EmitContext e)
    {
        var p = (Plan)n.State;
        var x = n.In(0); var y = n.Out();
        var w = e.W;
        if (n.Int("mg_blocked_in", 0) != 0)
        {
            // the spatial mean or max of a chain's last blocks (ModelGen.Runtime.ConvBlocked.GlobalPool), Net only
            if (!e.Net) throw Error($"{n.OpType} reads channel blocks only in the Net profile (ChannelBlocking runs for Net only)");
            w.Line($"ModelGen.Runtime.ConvBlocked.GlobalPool({e.Span(x)}, {e.Span(y)}, batch: {x.Shape[0]}, channels: {x.Shape[1]}, plane: {x.Shape[2] * x.Shape[3]}, max: {(SpatialPool(n) == true ? "true" : "false")});");
            return;
        }
        if (p.Noop)
        {
            TensorOps.EmitStrided(e, y, 0, new[] { 1 }, x, 0, new[] { 1 }, new[] { y.Length });
            return;
        }
        if (y.Length == 0) return;
        if (e.Net && SpatialPool(n) == false && x.Shape[2] * x.Shape[3] > 0)
        {
            // the same global mean on NCHW planes: the runtime's vector sums, not one dependent add per element (ReduceMax
            // keeps the loop: it starts from the first element, NaN handling included)
            w.Line($"ModelGen.Runtime.Pool.GlobalAverage({e.Span(x)}, {e.Span(y)}, planes: {x.Shape[0] * x.Shape[1]}, planeSize: {x.Shape[2] * x.Shape[3]});");
            return;
        }
        var t = x.Type;
        bool isFloat = DTypes.IsFloat(t);
        string ty = DTypes.CsName(t);
        // accumulator: the element type for floats, Max/Min and bool; long for integer sums and products
        bool wide = !isFloat && t != DType.Bool && _kind != ReduceKind.Max && _kind != ReduceKind.Min;
        string accTy = wide ? "long" : ty;

        // outer loops over kept dimensions; the output index is their row-major counter
        var outStr = new int[p.Kept.Count];
        for (int k = p.Kept.Count - 1, acc = 1; k >= 0; k--) { outStr[k] = acc; acc *= p.Kept[k].Size; }
        string xb = "0", yi = "0";
        for (int k = 0; k < p.Kept.Count; k++)
        {
            var i = e.Var("i");
            w.Open($"for (int {i} = 0; {i} < {p.Kept[k].Size}; {i}++)");
            xb = Idx.Sum(xb, Idx.Mul(i, p.Kept[k].Stride));
            yi = Idx.Sum(yi, Idx.Mul(i, outStr[k]));
        }
        if (p.Red.Count > 0 && xb.Contains(" "))
        {
            var b = e.Var("b");
            w.Line($"int {b} = {xb};");
            xb = b;
        }
        string accV = e.Var("acc");
        // Max/Min start from the first element (so a leading NaN stays, later ones are skipped, as in ONNX Runtime)
        string init = (_kind == ReduceKind.Max || _kind == ReduceKind.Min) && t != DType.Bool && p.Count > 0 ? e.At(x, xb) : _kind switch
        {
            ReduceKind.Max => t == DType.Bool ? "false" : isFloat ? EmitContext.Lit(t, double.NegativeInfinity) : EmitContext.Lit(t, Lowest(t)),
            ReduceKind.Min => t == DType.Bool ? "true" : isFloat ? EmitContext.Lit(t, double.PositiveInfinity) : EmitContext.Lit(t, Highest(t)),
            ReduceKind.Prod => wide ? "1L" : EmitContext.Lit(t, 1),
            _ => wide ? "0L" : EmitContext.Lit(t, 0),
        };
        string mx = null;
        if (_kind == ReduceKind.LogSumExp && p.Count > 0)
        {
            // first pass: the maximum, so exp never overflows
            mx = e.Var("max");
            w.Line($"{ty} {mx} = {EmitContext.Lit(t, double.NegativeInfinity)};");
            ReducedLoops(e, p, x, xb, v => new[] { $"if ({v} > {mx}) {mx} = {v};" });
            w.Line($"if ({mx} == {EmitContext.Lit(t, double.NegativeInfinity)} || {mx} == {EmitContext.Lit(t, double.PositiveInfinity)}) {mx} = {EmitContext.Lit(t, 0)};");
        }
        w.Line($"{accTy} {accV} = {init};");
        if (p.Count > 0) ReducedLoops(e, p, x, xb, v => Update(e, t, accV, v, mx));
        w.Line($"{e.At(y, yi)} = {Final(e, t, accV, p.Count, mx)};");
        for (int k = 0; k < p.Kept.Count; k++) w.Close();
    }

    /// <summary>
    /// Loops over the reduced dimensions; <paramref name="body"/> gets the element (an expression when it uses it once,
    /// so a sum is one line, else a local).
    /// </summary>
    static void ReducedLoops(EmitContext e, Plan p, Value x, string xb, Func<string, string[]> body)
    {
        var w = e.W;
        string idx = xb;
        var heads = new List<string>();
        foreach (var (size, stride) in p.Red)
        {
            var r = e.Var("r");
            heads.Add($"for (int {r} = 0; {r} < {size}; {r}++)");
            idx = Idx.Sum(idx, Idx.Mul(r, stride));
        }
        const string probe = "\u0001";
        var lines = body(probe);
        bool inline = lines.Length == 1 && lines[0].IndexOf(probe, StringComparison.Ordinal) == lines[0].LastIndexOf(probe, StringComparison.Ordinal);
        if (inline)
        {
            var stmt = lines[0].Replace(probe, e.At(x, idx));
            for (int k = 0; k < heads.Count - 1; k++) w.Open(heads[k]);
            w.Line(heads.Count > 0 ? $"{heads[heads.Count - 1]} {stmt}" : stmt);
            for (int k = 0; k < heads.Count - 1; k++) w.Close();
            return;
        }
        foreach (var h in heads) w.Open(h);
        var v = e.Var("v");
        w.Line($"{EmitContext.Ty(x)} {v} = {e.At(x, idx)};");
        foreach (var line in body(v)) w.Line(line);
        for (int k = 0; k < heads.Count; k++) w.Close();
    }

    string[] Update(EmitContext e, DType t, string acc, string v, string mx)
    {
        bool isFloat = DTypes.IsFloat(t);
        switch (_kind)
        {
            case ReduceKind.Max:
                return new[] { t == DType.Bool ? $"{acc} |= {v};" : $"if ({v} > {acc}) {acc} = {v};" };
            case ReduceKind.Min:
                return new[] { t == DType.Bool ? $"{acc} &= {v};" : $"if ({v} < {acc}) {acc} = {v};" };
            case ReduceKind.Prod: return new[] { $"{acc} *= {v};" };
            case ReduceKind.L1: return new[] { isFloat ? $"{acc} += {v} < {EmitContext.Lit(t, 0)} ? -{v} : {v};" : $"{acc} += {v} < 0 ? -(long){v} : {v};" };
            case ReduceKind.L2:
            case ReduceKind.SumSquare: return new[] { wide(t) ? $"{acc} += (long){v} * {v};" : $"{acc} += {v} * {v};" };
            case ReduceKind.LogSumExp: return new[] { $"{acc} += {MathOf(e, "Exp", t, $"{v} - {mx}")};" };
            default: return new[] { $"{acc} += {v};" };
        }
        static bool wide(DType t) => !DTypes.IsFloat(t);
    }

    string Final(EmitContext e, DType t, string acc, int count, string mx)
    {
        bool isFloat = DTypes.IsFloat(t);
        switch (_kind)
        {
            case ReduceKind.Mean:
                if (isFloat) return $"{acc} / {EmitContext.Lit(t, count)}";
                return Narrow(t, count == 0 ? acc : $"{acc} / {count}");
            case ReduceKind.L2: return MathOf(e, "Sqrt", t, acc);
            case ReduceKind.LogSum: return MathOf(e, "Log", t, acc);
            case ReduceKind.LogSumExp: return mx == null ? MathOf(e, "Log", t, acc) : $"{MathOf(e, "Log", t, acc)} + {mx}";
            case ReduceKind.Max: case ReduceKind.Min: return acc;
            default: return isFloat ? acc : Narrow(t, acc);
        }
    }

    static string Narrow(DType t, string expr) => t == DType.Int64 ? expr : $"({DTypes.CsName(t)})({expr})";

    /// <summary>Math on float or double; Portable doubles use the emitted double-precision helpers.</summary>
    internal static string MathOf(EmitContext e, string fn, DType t, string arg)
        => e.Portable && t == DType.Double ? $"{fn}D({arg})" : e.Math(fn, t, arg);
}
