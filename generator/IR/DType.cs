namespace ModelGen.Compiler.IR;

/// <summary>ONNX element types, numbered as in TensorProto.DataType.</summary>
public enum DType
{
    Undefined = 0, Float = 1, UInt8 = 2, Int8 = 3, UInt16 = 4, Int16 = 5, Int32 = 6, Int64 = 7,
    String = 8, Bool = 9, Float16 = 10, Double = 11, UInt32 = 12, UInt64 = 13,
}

public static class DTypes
{
    /// <summary>Element types the compiler can hold at run time.</summary>
    public static bool IsSupported(DType t) => t switch
    {
        DType.Float or DType.Double or DType.UInt8 or DType.Int8 or DType.Int16 or DType.UInt16 or DType.Int32
            or DType.Int64 or DType.UInt32 or DType.Bool => true,
        _ => false,
    };

    public static bool IsFloat(DType t) => t == DType.Float || t == DType.Double;
    public static bool IsInteger(DType t) => !IsFloat(t) && t != DType.Bool && IsSupported(t);

    public static int Size(DType t) => t switch
    {
        DType.Float or DType.Int32 or DType.UInt32 => 4,
        DType.Double or DType.Int64 or DType.UInt64 => 8,
        DType.Int16 or DType.UInt16 or DType.Float16 => 2,
        _ => 1,
    };

    /// <summary>The C# keyword for the element type.</summary>
    public static string CsName(DType t) => t switch
    {
        DType.Float => "float", DType.Double => "double", DType.UInt8 => "byte", DType.Int8 => "sbyte",
        DType.Int16 => "short", DType.UInt16 => "ushort", DType.Int32 => "int", DType.UInt32 => "uint",
        DType.Int64 => "long", DType.UInt64 => "ulong", DType.Bool => "bool",
        _ => "/*unsupported*/object",
    };

    public static string OnnxName(DType t) => t.ToString().ToLowerInvariant();

    /// <summary>Clamps/wraps a 64-bit integer to the range of an integer element type (C# cast semantics).</summary>
    public static long Wrap(DType t, long v) => t switch
    {
        DType.UInt8 => (byte)v, DType.Int8 => (sbyte)v, DType.Int16 => (short)v, DType.UInt16 => (ushort)v,
        DType.Int32 => (int)v, DType.UInt32 => (uint)v, DType.Bool => v != 0 ? 1 : 0,
        _ => v,
    };
}
