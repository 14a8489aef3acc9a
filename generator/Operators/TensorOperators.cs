using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

public static partial class OperatorRegistry
{
    static partial void RegisterTensor(Dictionary<string, Operator> t)
    {
        t[":Transpose"] = new Transpose();
        t[":Concat"] = new Concat();
        t[":Gather"] = new Gather();
        t[":Slice"] = new Slice();
        t[":Pad"] = new Pad();
        t[":Split"] = new Split();
        t[":Expand"] = new Expand();
        t[":Tile"] = new Tile();
        t[":Where"] = new WhereOp();
        t[":ConstantOfShape"] = new ConstantOfShape();
        t[":Range"] = new RangeOp();
        t[":Max"] = new Variadic(VariadicKind.Max);
        t[":Min"] = new Variadic(VariadicKind.Min);
        t[":Sum"] = new Variadic(VariadicKind.Sum);
        t[":Mean"] = new Variadic(VariadicKind.Mean);
    }
}

/// <summary>Helpers shared by the tensor-manipulation operators: build-time inputs and affine (strided) copies.</summary>
internal static class TensorOps
{
    /// <summary>
    /// The values of an input that decides an output shape (Slice starts, Pad pads, Expand shape...); null when the
    /// optional input is omitted. Throws DynamicShape when it is only known at run time.
    /// </summary>
    public static long[] ConstInts(Node n, int input, string what)
    {
        var v = n.In(input);
        if (v == null) return null;
        if (!v.IsConst)
            throw new CompileException(Diag.DynamicShape, $"{n.OpType}'s {what} '{v.Name}' is computed at run time; ModelGen needs it at build time to know the output shape (fix the input shapes with InputShape so it folds)");
        if (DTypes.IsFloat(v.Type) || v.Type == DType.Bool)
            throw new CompileException(Diag.InvalidModel, $"{n.OpType}'s {what} '{v.Name}' must be an integer tensor, it is {DTypes.OnnxName(v.Type)}");
        return v.Const.ToLongs();
    }

    /// <summary>Converts a build-time dimension or count to int, rejecting values outside the int range.</summary>
    public static int ToInt(long v, string what)
    {
        if (v < int.MinValue || v > int.MaxValue) throw new CompileException(Diag.InvalidModel, $"{what} {v} is out of range");
        return (int)v;
    }

    public static int Product(int[] shape, int from, int to)
    {
        int p = 1;
        for (int i = from; i < to; i++) p *= shape[i];
        return p;
    }

    public static string I(long v) => v.ToString(CultureInfo.InvariantCulture);

    /// <summary>Copies at or above this many contiguous elements become one block copy (Span.CopyTo / Array.Copy).</summary>
    const int BlockMin = 8;

    /// <summary>
    /// Emits dst[dstBase + sum(i_d * dstStrides[d])] = src[srcBase + sum(i_d * srcStrides[d])] for every index vector
    /// i over <paramref name="dims"/>. Unit dimensions are dropped and neighbours contiguous on both sides are merged, so
    /// a copy whose inner run is contiguous on both sides becomes a loop of block copies.
    /// Strides may be zero (broadcast) or negative (reversed slices).
    /// </summary>
    public static void EmitStrided(EmitContext e, Value dst, int dstBase, int[] dstStrides, Value src, int srcBase, int[] srcStrides, int[] dims)
        => EmitStrided(e, dst, dstStrides, src, srcStrides, dims, I(dstBase), I(srcBase));

    /// <summary><see cref="EmitStrided(EmitContext, Value, int, int[], Value, int, int[], int[])"/> with base offsets given as expressions.</summary>
    public static void EmitStrided(EmitContext e, Value dst, int[] dstStrides, Value src, int[] srcStrides, int[] dims, string dstBase, string srcBase)
    {
        var n = new List<int>(); var ds = new List<int>(); var ss = new List<int>();
        for (int d = 0; d < dims.Length; d++)
        {
            if (dims[d] == 0) return;
            if (dims[d] == 1) continue;
            int k = n.Count - 1;
            if (k >= 0 && ds[k] == dstStrides[d] * dims[d] && ss[k] == srcStrides[d] * dims[d])
            {
                n[k] *= dims[d]; ds[k] = dstStrides[d]; ss[k] = srcStrides[d];
            }
            else { n.Add(dims[d]); ds.Add(dstStrides[d]); ss.Add(srcStrides[d]); }
        }
        int rank = n.Count;
        bool block = rank > 0 && ds[rank - 1] == 1 && ss[rank - 1] == 1 && n[rank - 1] >= BlockMin;
        int loops = block ? rank - 1 : rank;
        var w = e.W;
        string db = dstBase, sb = srcBase;
        for (int d = 0; d < loops; d++)
        {
            var v = e.Var("i");
            string di = Idx.Sum(db, Idx.Mul(v, ds[d])), si = Idx.Sum(sb, Idx.Mul(v, ss[d]));
            string head = $"for (int {v} = 0; {v} < {n[d]}; {v}++)";
            if (d == loops - 1 && !block)
            {
                // innermost element loop: one line
                w.Line($"{head} {e.At(dst, di)} = {e.At(src, si)};");
                for (int k = 0; k < d; k++) w.Close();
                return;
            }
            w.Open(head);
            if (d < loops - 1)
            {
                // hoist this level's compound offsets so inner loops add one term each
                var decl = new List<string>();
                if (di.Contains(" ")) { var dv = e.Var("o"); decl.Add($"{dv} = {di}"); di = dv; }
                if (si.Contains(" ")) { var sv = e.Var("s"); decl.Add($"{sv} = {si}"); si = sv; }
                if (decl.Count > 0) w.Line($"int {string.Join(", ", decl)};");
            }
            db = di; sb = si;
        }
        if (block) BlockCopy(e, src, sb, dst, db, n[rank - 1]);
        else w.Line($"{e.At(dst, db)} = {e.At(src, sb)};");
        for (int d = 0; d < loops; d++) w.Close();
    }

    /// <summary>Copies <paramref name="count"/> contiguous elements: Span.CopyTo on Net, Array.Copy on Portable.</summary>
    public static void BlockCopy(EmitContext e, Value src, string srcIndex, Value dst, string dstIndex, int count)
    {
        if (e.Net)
        {
            string s = src.Length == count && srcIndex == "0" ? e.Span(src) : $"{e.Span(src)}.Slice({srcIndex}, {count})";
            string d = dst.Length == count && dstIndex == "0" ? e.Span(dst) : $"{e.Span(dst)}.Slice({dstIndex}, {count})";
            e.W.Line($"{s}.CopyTo({d});");
        }
        else
        {
            var (sa, so) = e.ArrayOf(src);
            var (da, dof) = e.ArrayOf(dst);
            e.W.Line($"Array.Copy({sa}, {Idx.Sum(I(so), srcIndex)}, {da}, {Idx.Sum(I(dof), dstIndex)}, {count});");
        }
    }

    /// <summary>The build-time counterpart of <see cref="EmitStrided"/>.</summary>
    public static void EvalStrided(TensorData dst, int dstBase, int[] dstStrides, TensorData src, int srcBase, int[] srcStrides, int[] dims)
    {
        int rank = dims.Length;
        foreach (var d in dims) if (d == 0) return;
        var ctr = new int[rank];
        int di = dstBase, si = srcBase;
        while (true)
        {
            dst.CopyElement(di, src, si);
            int k = rank - 1;
            for (; k >= 0; k--)
            {
                ctr[k]++; di += dstStrides[k]; si += srcStrides[k];
                if (ctr[k] < dims[k]) break;
                di -= dstStrides[k] * dims[k]; si -= srcStrides[k] * dims[k]; ctr[k] = 0;
            }
            if (k < 0) return;
        }
    }

    /// <summary>Writes a fill loop: every element of <paramref name="v"/> set to <paramref name="value"/>.</summary>
    public static void EmitFill(EmitContext e, Value v, string value)
    {
        if (v.Length == 0) return;
        var i = e.Var("i");
        e.W.Line($"for (int {i} = 0; {i} < {v.Length}; {i}++) {e.At(v, i)} = {value};");
    }

    /// <summary>Rejects element types the data-movement operators cannot hold.</summary>
    public static void RequireSupported(Node n, Value v)
    {
        if (!DTypes.IsSupported(v.Type)) throw new CompileException(Diag.UnsupportedType, $"{n.OpType} on {DTypes.OnnxName(v.Type)} '{v.Name}' is not supported");
    }

    /// <summary>Normalised, duplicate-free axes.</summary>
    public static int[] Axes(Node n, long[] axes, int rank, string what = "axis")
    {
        var r = new int[axes.Length];
        for (int i = 0; i < axes.Length; i++)
        {
            r[i] = IR.Shape.Axis(axes[i], rank, what);
            if (Array.IndexOf(r, r[i], 0, i) >= 0) throw new CompileException(Diag.InvalidModel, $"{n.OpType} repeats {what} {axes[i]}");
        }
        return r;
    }

    public static string Join(IEnumerable<long> v) => string.Join(",", v.Select(I));
}
