using System;
using System.Linq;
using Google.Protobuf;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Onnx.Proto;

namespace ModelGen.Compiler.Onnx;

/// <summary>TensorProto -> TensorData: raw little-endian bytes or the typed repeated fields.</summary>
static class TensorReader
{
    public static TensorData Read(TensorProto t, string where)
    {
        var type = (DType)t.DataType;
        if (t.DataLocation == TensorProto.Types.DataLocation.External || t.ExternalData.Count > 0)
            throw new CompileException(Diag.ExternalData, $"tensor '{t.Name}' ({where}) stores its data in an external file; ModelGen needs the weights inside the .onnx file (re-save the model with onnx.save(model, path, save_as_external_data=False))");
        if (type == DType.Float16) return ReadFloat16(t, where);
        if (!DTypes.IsSupported(type))
            throw new CompileException(Diag.UnsupportedType, $"tensor '{t.Name}' ({where}) has element type {(TensorProto.Types.DataType)t.DataType}, which ModelGen does not support");
        var shape = new int[t.Dims.Count];
        for (int i = 0; i < shape.Length; i++)
        {
            long d = t.Dims[i];
            if (d < 0 || d > int.MaxValue) throw new CompileException(Diag.MalformedModel, $"tensor '{t.Name}' ({where}) has invalid dimension {d}");
            shape[i] = (int)d;
        }
        var r = new TensorData(type, shape);
        int n = r.Length;
        if (t.RawData.Length > 0)
        {
            int size = DTypes.Size(type);
            if (t.RawData.Length != (long)n * size)
                throw new CompileException(Diag.MalformedModel, $"tensor '{t.Name}' ({where}) has {t.RawData.Length} bytes of raw data, its shape {Shape.Format(shape)} needs {(long)n * size}");
            var raw = t.RawData.Span;
            for (int i = 0; i < n; i++)
            {
                var b = raw.Slice(i * size, size);
                switch (type)
                {
                    case DType.Float: r.F[i] = Bits.Float(LE32(b)); break;
                    case DType.Double: r.D[i] = BitConverter.Int64BitsToDouble(LE64(b)); break;
                    case DType.UInt8: r.L[i] = b[0]; break;
                    case DType.Int8: r.L[i] = (sbyte)b[0]; break;
                    case DType.Bool: r.L[i] = b[0] != 0 ? 1 : 0; break;
                    case DType.Int16: r.L[i] = (short)(b[0] | b[1] << 8); break;
                    case DType.UInt16: r.L[i] = (ushort)(b[0] | b[1] << 8); break;
                    case DType.Int32: r.L[i] = LE32(b); break;
                    case DType.UInt32: r.L[i] = (uint)LE32(b); break;
                    default: r.L[i] = LE64(b); break;
                }
            }
            return r;
        }
        int have = type switch
        {
            DType.Float => t.FloatData.Count,
            DType.Double => t.DoubleData.Count,
            DType.Int64 => t.Int64Data.Count,
            DType.UInt32 or DType.UInt64 => t.Uint64Data.Count,
            _ => t.Int32Data.Count,
        };
        if (have != n)
            throw new CompileException(Diag.MalformedModel, $"tensor '{t.Name}' ({where}) has {have} values, its shape {Shape.Format(shape)} needs {n}");
        for (int i = 0; i < n; i++)
        {
            switch (type)
            {
                case DType.Float: r.F[i] = t.FloatData[i]; break;
                case DType.Double: r.D[i] = t.DoubleData[i]; break;
                case DType.Int64: r.L[i] = t.Int64Data[i]; break;
                case DType.UInt32: case DType.UInt64: r.L[i] = DTypes.Wrap(type, (long)t.Uint64Data[i]); break;
                default: r.L[i] = DTypes.Wrap(type, t.Int32Data[i]); break;
            }
        }
        return r;
    }

    static int LE32(ReadOnlySpan<byte> b) => b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24;
    static long LE64(ReadOnlySpan<byte> b) => (uint)LE32(b) | (long)LE32(b.Slice(4)) << 32;

    /// <summary>float16 constants are widened to float32 (the compiler computes in float32).</summary>
    static TensorData ReadFloat16(TensorProto t, string where)
    {
        var shape = Array.ConvertAll(t.Dims.ToArray(), d => d < 0 || d > int.MaxValue ? throw new CompileException(Diag.MalformedModel, $"tensor '{t.Name}' ({where}) has invalid dimension {d}") : (int)d);
        var r = new TensorData(DType.Float, shape);
        int n = r.Length;
        bool raw = t.RawData.Length > 0;
        if (raw ? t.RawData.Length != n * 2 : t.Int32Data.Count != n)
            throw new CompileException(Diag.MalformedModel, $"float16 tensor '{t.Name}' ({where}) has the wrong amount of data for shape {Shape.Format(shape)}");
        for (int i = 0; i < n; i++)
        {
            int h = raw ? t.RawData[2 * i] | t.RawData[2 * i + 1] << 8 : t.Int32Data[i];
            r.F[i] = HalfToFloat((ushort)h);
        }
        return r;
    }

    static float HalfToFloat(ushort h)
    {
        int sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
        float v = exp == 0 ? mant * (1f / (1 << 24)) : exp == 31 ? (mant == 0 ? float.PositiveInfinity : float.NaN) : (1f + mant / 1024f) * (float)Math.Pow(2, exp - 15);
        return sign != 0 ? -v : v;
    }
}
