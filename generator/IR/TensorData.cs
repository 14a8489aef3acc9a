using System;

namespace ModelGen.Compiler.IR;

/// <summary>
/// Constant tensor contents at build time. Float tensors keep float[], double keeps double[],
/// every integer type and bool keeps long[] (values already wrapped to their element type).
/// </summary>
public sealed class TensorData
{
    public DType Type { get; }
    public int[] Shape { get; }
    public float[] F { get; }
    public double[] D { get; }
    public long[] L { get; }

    public int Length => Shape.Length == 0 ? 1 : IR.Shape.Count(Shape);

    public TensorData(DType type, int[] shape, float[] f = null, double[] d = null, long[] l = null)
    {
        Type = type; Shape = shape; F = f; D = d; L = l;
        int n = IR.Shape.Count(shape);
        if (type == DType.Float) { F ??= new float[n]; if (F.Length != n) throw Bad(n, F.Length); }
        else if (type == DType.Double) { D ??= new double[n]; if (D.Length != n) throw Bad(n, D.Length); }
        else { L ??= new long[n]; if (L.Length != n) throw Bad(n, L.Length); }
    }

    static CompileException Bad(int want, int got) => new(Diag.InvalidModel, $"tensor data has {got} elements, its shape needs {want}");

    public static TensorData Zeros(DType t, int[] shape) => new(t, shape);
    public static TensorData FromLongs(long[] v) => new(DType.Int64, new[] { v.Length }, l: v);
    public static TensorData Scalar(DType t, double v)
    {
        var r = new TensorData(t, Array.Empty<int>());
        r.Set(0, v);
        return r;
    }

    public double GetDouble(int i) => Type switch { DType.Float => F[i], DType.Double => D[i], DType.UInt64 => (ulong)L[i], _ => L[i] };
    public long GetLong(int i) => Type switch { DType.Float => (long)F[i], DType.Double => (long)D[i], _ => L[i] };

    public void Set(int i, double v)
    {
        switch (Type)
        {
            case DType.Float: F[i] = (float)v; break;
            case DType.Double: D[i] = v; break;
            case DType.Bool: L[i] = v != 0 ? 1 : 0; break;
            default: L[i] = DTypes.Wrap(Type, double.IsNaN(v) ? 0 : v >= 9.2e18 ? long.MaxValue : v <= -9.2e18 ? long.MinValue : (long)v); break;
        }
    }

    public void SetLong(int i, long v)
    {
        switch (Type)
        {
            case DType.Float: F[i] = v; break;
            case DType.Double: D[i] = v; break;
            default: L[i] = DTypes.Wrap(Type, v); break;
        }
    }

    /// <summary>The values as 64-bit integers (for shape-like inputs).</summary>
    public long[] ToLongs()
    {
        var r = new long[Length];
        for (int i = 0; i < r.Length; i++) r[i] = GetLong(i);
        return r;
    }

    public TensorData Reshape(int[] shape) => new(Type, shape, F, D, L);

    /// <summary>A new tensor of this type and the given shape.</summary>
    public TensorData Like(int[] shape, DType? type = null) => new(type ?? Type, shape);

    /// <summary>Copies element <paramref name="src"/> of <paramref name="from"/> (same type) to element <paramref name="dst"/>.</summary>
    public void CopyElement(int dst, TensorData from, int src)
    {
        if (F != null) F[dst] = from.F[src];
        else if (D != null) D[dst] = from.D[src];
        else L[dst] = from.L[src];
    }

    public bool ContentEquals(TensorData o)
    {
        if (o.Type != Type || !IR.Shape.Equal(o.Shape, Shape)) return false;
        for (int i = 0; i < Length; i++)
        {
            if (F != null ? Bits.Of(F[i]) != Bits.Of(o.F[i])
                : D != null ? BitConverter.DoubleToInt64Bits(D[i]) != BitConverter.DoubleToInt64Bits(o.D[i])
                : L[i] != o.L[i]) return false;
        }
        return true;
    }
}
