using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// MaxUnpool: scatters X into a zero tensor at the flat indices I (as MaxPool returns them, over the whole tensor of
/// the unpooled shape (in - 1) * stride - pads + kernel). With output_shape (a constant input), that unpooled tensor
/// sits at the start of each axis of the larger output, as in the ONNX reference. Out-of-range indices are skipped.
/// </summary>
public sealed class MaxUnpool : Operator
{
    sealed class Plan { public int[] Inferred; }

    public override void Infer(Node n)
    {
        Require(n, 2, 3);
        var x = n.In(0); var idx = n.In(1);
        int rank = x.Shape.Length - 2;
        if (rank < 1) throw Error($"MaxUnpool needs X of rank 3 or more (N, C, spatial...), got {Shape.Format(x.Shape)}");
        if (idx.Type != DType.Int64) throw Error("MaxUnpool indices I must be int64");
        if (!Shape.Equal(idx.Shape, x.Shape)) throw Error($"MaxUnpool I {Shape.Format(idx.Shape)} must have the shape of X {Shape.Format(x.Shape)}");
        var ks = n.Ints("kernel_shape") ?? throw Error("MaxUnpool needs the 'kernel_shape' attribute");
        if (ks.Length != rank) throw Error($"MaxUnpool kernel_shape has {ks.Length} values, expected {rank}");
        var strides = n.Ints("strides") is { Length: > 0 } st ? st : Enumerable.Repeat(1L, rank).ToArray();
        var pads = n.Ints("pads") is { Length: > 0 } pd ? pd : new long[2 * rank];
        if (strides.Length != rank || pads.Length != 2 * rank) throw Error("MaxUnpool strides/pads do not match the spatial rank");
        if (ks.Concat(strides).Concat(pads).Any(v => v < 0 || v > int.MaxValue / 4) || strides.Any(v => v == 0))
            throw Error("MaxUnpool kernel_shape, strides and pads must be positive (pads non-negative)");
        var inferred = new int[rank + 2];
        inferred[0] = x.Shape[0]; inferred[1] = x.Shape[1];
        for (int i = 0; i < rank; i++)
        {
            long d = (long)(x.Shape[i + 2] - 1) * strides[i] - (pads[i] + pads[rank + i]) + ks[i];
            if (d < 1 || d >= Shape.MaxElements) throw Error($"MaxUnpool output size {d} along spatial axis {i} is invalid");
            inferred[i + 2] = (int)d;
        }
        var outShape = inferred;
        var os = n.In(2);
        if (os != null)
        {
            if (!os.IsConst) throw new CompileException(Diag.DynamicShape, $"MaxUnpool output_shape '{os.Name}' is computed at run time; ModelGen needs it constant at build time");
            var v = os.Const.ToLongs();
            if (v.Length == rank) v = new long[] { inferred[0], inferred[1] }.Concat(v).ToArray();
            if (v.Length != rank + 2) throw Error($"MaxUnpool output_shape has {v.Length} values, expected {rank + 2}");
            outShape = new int[rank + 2];
            for (int i = 0; i < v.Length; i++)
            {
                if (v[i] < inferred[i] || v[i] >= Shape.MaxElements || i < 2 && v[i] != inferred[i])
                    throw Error($"MaxUnpool output_shape [{string.Join(",", v)}] cannot hold the unpooled shape {Shape.Format(inferred)}");
                outShape[i] = (int)v[i];
            }
        }
        n.State = new Plan { Inferred = inferred };
        SetOut(n, 0, x.Type, outShape);
    }

    /// <summary>Flat index in the unpooled shape -> flat index in the output shape (equal when the shapes are).</summary>
    static long Map(long k, int[] inferred, int[] outShape)
    {
        if (Shape.Equal(inferred, outShape)) return k;
        long off = 0, stride = 1;
        for (int d = inferred.Length - 1; d >= 2; d--)
        {
            off += k % inferred[d] * stride;
            k /= inferred[d];
            stride *= outShape[d];
        }
        return off + k * stride;
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var p = (Plan)n.State;
        var x = inputs[0]; var idx = inputs[1];
        var y = x.Like(n.Out().Shape);
        long total = Shape.Size(p.Inferred);
        for (int i = 0; i < x.Length; i++)
        {
            long k = idx.L[i];
            if (k < 0 || k >= total) throw Error($"MaxUnpool index {k} is out of range for the unpooled shape {Shape.Format(p.Inferred)}");
            y.CopyElement((int)Map(k, p.Inferred, y.Shape), x, i);
        }
        return new[] { y };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var p = (Plan)n.State;
        var x = n.In(0); var idx = n.In(1); var y = n.Out();
        var w = e.W;
        var i = e.Var("i");
        w.Line($"for (int {i} = 0; {i} < {y.Length}; {i}++) {e.At(y, i)} = {EmitContext.Lit(y.Type, 0)};");
        var j = e.Var("i"); var k = e.Var("k");
        long total = Shape.Size(p.Inferred);
        w.Open($"for (int {j} = 0; {j} < {x.Length}; {j}++)");
        w.Line($"long {k} = {e.At(idx, j)};");
        w.Line($"if ({k} < 0 || {k} >= {total}) continue;");
        if (Shape.Equal(p.Inferred, y.Shape))
        {
            w.Line($"{e.At(y, $"(int){k}")} = {e.At(x, j)};");
        }
        else
        {
            // the unpooled tensor occupies the start of each spatial axis of the output
            string rem = e.Var("r"), off = e.Var("off");
            w.Line($"int {rem} = (int){k};");
            w.Line($"int {off} = 0;");
            long stride = 1;
            for (int d = p.Inferred.Length - 1; d >= 2; d--)
            {
                w.Line($"{off} += {Idx.Mul($"{rem} % {p.Inferred[d]}", stride)}; {rem} /= {p.Inferred[d]};");
                stride *= y.Shape[d];
            }
            w.Line($"{off} += {Idx.Mul(rem, stride)};");
            w.Line($"{e.At(y, off)} = {e.At(x, j)};");
        }
        w.Close();
    }
}
