using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// GatherElements and ScatterElements: element-wise indexing along one axis (negative indices wrap).
/// Scatter copies data to the output, then writes (or reduces: add, mul, max, min) each update.
/// </summary>
public sealed class ElementsIndexing : Operator
{
    readonly bool _scatter;
    public ElementsIndexing(bool scatter) { _scatter = scatter; }

    public override void Infer(Node n)
    {
        Require(n, _scatter ? 3 : 2, _scatter ? 3 : 2);
        var data = n.In(0); var idx = n.In(1);
        if (idx.Type != DType.Int64 && idx.Type != DType.Int32) throw Error($"{n.OpType} indices must be int32 or int64");
        if (idx.Shape.Length != data.Shape.Length) throw Error($"{n.OpType} indices must have the rank of data");
        Shape.Axis(n.Int("axis", 0), data.Shape.Length);
        if (_scatter)
        {
            if (!Shape.Equal(n.In(2).Shape, idx.Shape)) throw Error("ScatterElements updates must have the shape of indices");
            Reduction(n);
        }
        SetOut(n, 0, data.Type, _scatter ? data.Shape : idx.Shape);
    }

    internal static string Reduction(Node n)
    {
        var r = n.Opset >= 16 ? n.Str("reduction", "none") : "none";
        if (r is not ("none" or "add" or "mul" or "max" or "min")) throw Unsupported($"{n.OpType} reduction '{r}'");
        return r;
    }

    internal static double Reduce(string r, double old, double v) => r switch
    {
        "add" => old + v, "mul" => old * v, "max" => System.Math.Max(old, v), "min" => System.Math.Min(old, v), _ => v,
    };

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var data = inputs[0]; var idx = inputs[1];
        int axis = Shape.Axis(n.Int("axis", 0), data.Shape.Length);
        var ds = Shape.Strides(data.Shape);
        var iShape = idx.Shape;
        var r = data.Like(_scatter ? data.Shape : iShape);
        if (_scatter) for (int i = 0; i < r.Length; i++) r.CopyElement(i, data, i);
        var red = _scatter ? Reduction(n) : "none";
        for (int o = 0; o < idx.Length; o++)
        {
            int rem = o, off = 0;
            for (int d = iShape.Length - 1; d >= 0; d--)
            {
                int c = rem % iShape[d]; rem /= iShape[d];
                if (d == axis)
                {
                    long k = idx.L[o];
                    if (k < 0) k += data.Shape[axis];
                    if (k < 0 || k >= data.Shape[axis]) throw Error($"{n.OpType} index {idx.L[o]} out of range");
                    c = (int)k;
                }
                off += c * ds[d];
            }
            if (!_scatter) r.CopyElement(o, data, off);
            else if (red == "none") r.CopyElement(off, inputs[2], o);
            else r.Set(off, Reduce(red, r.GetDouble(off), inputs[2].GetDouble(o)));
        }
        return new[] { r };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var data = n.In(0); var idx = n.In(1); var y = n.Out();
        int axis = Shape.Axis(n.Int("axis", 0), data.Shape.Length);
        var w = e.W;
        if (_scatter)
        {
            var c = e.Var("i");
            w.Line($"for (int {c} = 0; {c} < {data.Length}; {c}++) {e.At(y, c)} = {e.At(data, c)};");
        }
        var vars = Loops.Open(e, idx.Shape);
        var k = e.Var("k");
        w.Line($"int {k} = (int){e.At(idx, Loops.Flat(vars, Shape.Strides(idx.Shape)))};");
        w.Line($"if ({k} < 0) {k} += {data.Shape[axis]};");
        var dvars = vars.ToArray();
        dvars[axis] = k;
        var src = Loops.Flat(dvars, Shape.Strides(data.Shape));
        var at = Loops.Flat(vars, Shape.Strides(idx.Shape));
        if (!_scatter) w.Line($"{e.At(y, at)} = {e.At(data, src)};");
        else ScatterWrite(e, Reduction(n), y, src, e.At(n.In(2), at));
        Loops.Close(e, idx.Shape);
    }

    internal static void ScatterWrite(EmitContext e, string reduction, Value y, string index, string update)
    {
        var dst = e.At(y, index);
        var t = y.Type;
        var cast = t is DType.Int8 or DType.UInt8 or DType.Int16 or DType.UInt16 ? $"({DTypes.CsName(t)})" : "";
        e.W.Line(reduction switch
        {
            "add" => $"{dst} = {cast}({dst} + {update});",
            "mul" => $"{dst} = {cast}({dst} * {update});",
            "max" => $"if ({update} > {dst}) {dst} = {update};",
            "min" => $"if ({update} < {dst}) {dst} = {update};",
            _ => $"{dst} = {update};",
        });
    }
}

/// <summary>GatherND and ScatterND (batch_dims for GatherND; reductions for ScatterND).</summary>
public sealed class NdIndexing : Operator
{
    readonly bool _scatter;
    public NdIndexing(bool scatter) { _scatter = scatter; }

    sealed class Plan { public int Batch, K, Tuples, Slice; }

    public override void Infer(Node n)
    {
        Require(n, _scatter ? 3 : 2, _scatter ? 3 : 2);
        var data = n.In(0); var idx = n.In(1);
        if (idx.Type != DType.Int64) throw Error($"{n.OpType} indices must be int64");
        int b = _scatter ? 0 : (int)n.Int("batch_dims", 0);
        int q = idx.Shape.Length, r = data.Shape.Length;
        if (q < 1) throw Error($"{n.OpType} indices need rank >= 1");
        int k = idx.Shape[q - 1];
        if (b < 0 || b >= q || b >= r || k > r - b) throw Error($"{n.OpType}: indices {Shape.Format(idx.Shape)} do not fit data {Shape.Format(data.Shape)} with batch_dims {b}");
        for (int i = 0; i < b; i++) if (idx.Shape[i] != data.Shape[i]) throw Error($"{n.OpType}: batch dimension {i} differs");
        var slice = data.Shape.Skip(b + k).ToArray();
        var outShape = idx.Shape.Take(q - 1).Concat(slice).ToArray();
        n.State = new Plan { Batch = b, K = k, Tuples = Shape.Count(idx.Shape.Take(q - 1).ToArray()), Slice = Shape.Count(slice) };
        if (_scatter)
        {
            if (!Shape.Equal(n.In(2).Shape, outShape)) throw Error($"ScatterND updates must have shape {Shape.Format(outShape)}");
            ElementsIndexing.Reduction(n);
            SetOut(n, 0, data.Type, data.Shape);
        }
        else SetOut(n, 0, data.Type, outShape);
    }

    /// <summary>Flat data offset of tuple t (including its batch prefix).</summary>
    static int Offset(Plan p, int[] dataShape, TensorData idx, int t)
    {
        var ds = Shape.Strides(dataShape);
        int tuplesPerBatch = p.Tuples, batchIndex = 0;
        if (p.Batch > 0)
        {
            int batches = 1;
            for (int i = 0; i < p.Batch; i++) batches *= dataShape[i];
            tuplesPerBatch = p.Tuples / batches;
            batchIndex = t / tuplesPerBatch;
        }
        int off = batchIndex * (p.Batch > 0 ? ds[p.Batch - 1] : 0);
        for (int j = 0; j < p.K; j++)
        {
            long v = idx.L[t * p.K + j];
            int dim = dataShape[p.Batch + j];
            if (v < 0) v += dim;
            if (v < 0 || v >= dim) throw new CompileException(Diag.InvalidModel, $"index {idx.L[t * p.K + j]} out of range for dimension of size {dim}");
            off += (int)v * ds[p.Batch + j];
        }
        return off;
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var p = (Plan)n.State;
        var data = inputs[0]; var idx = inputs[1];
        var r = data.Like(n.Out().Shape);
        if (_scatter) for (int i = 0; i < r.Length; i++) r.CopyElement(i, data, i);
        var red = _scatter ? ElementsIndexing.Reduction(n) : "none";
        for (int t = 0; t < p.Tuples; t++)
        {
            int off = Offset(p, data.Shape, idx, t);
            for (int s = 0; s < p.Slice; s++)
            {
                if (!_scatter) r.CopyElement(t * p.Slice + s, data, off + s);
                else if (red == "none") r.CopyElement(off + s, inputs[2], t * p.Slice + s);
                else r.Set(off + s, ElementsIndexing.Reduce(red, r.GetDouble(off + s), inputs[2].GetDouble(t * p.Slice + s)));
            }
        }
        return new[] { r };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var p = (Plan)n.State;
        var data = n.In(0); var idx = n.In(1); var y = n.Out();
        var ds = Shape.Strides(data.Shape);
        var w = e.W;
        if (_scatter)
        {
            var c = e.Var("i");
            w.Line($"for (int {c} = 0; {c} < {data.Length}; {c}++) {e.At(y, c)} = {e.At(data, c)};");
        }
        string t = e.Var("t"), off = e.Var("off"), v = e.Var("v"), s = e.Var("s");
        int batches = 1;
        for (int i = 0; i < p.Batch; i++) batches *= data.Shape[i];
        int perBatch = p.Tuples / batches;
        w.Open($"for (int {t} = 0; {t} < {p.Tuples}; {t}++)");
        w.Line($"int {off} = {(p.Batch > 0 ? $"{t} / {perBatch} * {ds[p.Batch - 1]}" : "0")};");
        w.Line($"long {v};");
        for (int j = 0; j < p.K; j++)
        {
            int dim = data.Shape[p.Batch + j];
            w.Line($"{v} = {e.At(idx, Idx.Sum(Idx.Mul(t, p.K), j.ToString()))}; if ({v} < 0) {v} += {dim}; {off} += (int){v} * {ds[p.Batch + j]};");
        }
        var at = Idx.Sum(Idx.Mul(t, p.Slice), s);
        w.Open($"for (int {s} = 0; {s} < {p.Slice}; {s}++)");
        if (!_scatter) w.Line($"{e.At(y, at)} = {e.At(data, $"{off} + {s}")};");
        else ElementsIndexing.ScatterWrite(e, ElementsIndexing.Reduction(n), y, $"{off} + {s}", e.At(n.In(2), at));
        w.Close();
        w.Close();
    }
}
