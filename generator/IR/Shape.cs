using System;
using System.Text;

namespace ModelGen.Compiler.IR;

/// <summary>Helpers over static shapes (int[] of dimensions, row-major).</summary>
public static class Shape
{
    /// <summary>Largest element count of one tensor the compiler accepts (guards against hostile shapes).</summary>
    public const long MaxElements = 1L << 28;

    public static long Size(int[] shape)
    {
        long n = 1;
        foreach (var d in shape)
        {
            n *= d;
            if (n > MaxElements) throw new CompileException(Diag.TensorTooLarge, $"tensor of shape {Format(shape)} exceeds {MaxElements} elements");
        }
        return n;
    }

    public static int Count(int[] shape) => (int)Size(shape);

    public static int[] Strides(int[] shape)
    {
        var s = new int[shape.Length];
        int acc = 1;
        for (int i = shape.Length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
        return s;
    }

    public static string Format(int[] shape)
    {
        if (shape == null) return "?";
        var sb = new StringBuilder("[");
        for (int i = 0; i < shape.Length; i++) { if (i > 0) sb.Append(','); sb.Append(shape[i]); }
        return sb.Append(']').ToString();
    }

    public static bool Equal(int[] a, int[] b)
    {
        if (a.Length != b.Length) return false;
        for (int i = 0; i < a.Length; i++) if (a[i] != b[i]) return false;
        return true;
    }

    /// <summary>Normalises a possibly negative axis against a rank; throws a diagnostic when out of range.</summary>
    public static int Axis(long axis, int rank, string what = "axis")
    {
        if (axis < -rank || axis >= rank) throw new CompileException(Diag.InvalidModel, $"{what} {axis} is out of range for rank {rank}");
        return (int)(axis < 0 ? axis + rank : axis);
    }

    /// <summary>Multidirectional (numpy) broadcasting of several shapes.</summary>
    public static int[] Broadcast(params int[][] shapes)
    {
        int rank = 0;
        foreach (var s in shapes) rank = Math.Max(rank, s.Length);
        var r = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int d = 1;
            foreach (var s in shapes)
            {
                int k = i - (rank - s.Length);
                if (k < 0) continue;
                int v = s[k];
                if (v == d || v == 1) continue;
                if (d == 1) { d = v; continue; }
                throw new CompileException(Diag.InvalidModel, "shapes " + string.Join(" and ", Array.ConvertAll(shapes, Format)) + " cannot be broadcast");
            }
            r[i] = d;
        }
        return r;
    }

    /// <summary>Strides of <paramref name="shape"/> viewed inside a broadcast shape of rank <paramref name="rank"/> (0 on broadcast dims).</summary>
    public static int[] BroadcastStrides(int[] shape, int[] outShape)
    {
        var st = Strides(shape);
        var r = new int[outShape.Length];
        int off = outShape.Length - shape.Length;
        for (int i = 0; i < shape.Length; i++) r[off + i] = shape[i] == 1 && outShape[off + i] != 1 ? 0 : st[i];
        return r;
    }
}
