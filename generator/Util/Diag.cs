using System;

namespace ModelGen.Compiler;

public enum DiagSeverity { Info, Warning, Error }

/// <summary>A diagnostic kind. All ids live here; the Roslyn layer maps them to descriptors.</summary>
public sealed class Diag
{
    public string Id { get; }
    public string Title { get; }
    public DiagSeverity Severity { get; }
    Diag(string id, string title, DiagSeverity severity) { Id = id; Title = title; Severity = severity; }

    public static readonly Diag MalformedModel = new("MG0001", "Malformed ONNX model", DiagSeverity.Error);
    public static readonly Diag UnsupportedOperator = new("MG0002", "Unsupported ONNX operator", DiagSeverity.Error);
    public static readonly Diag UnresolvedDimension = new("MG0003", "Unresolved symbolic dimension", DiagSeverity.Error);
    public static readonly Diag UnsupportedType = new("MG0004", "Unsupported element type", DiagSeverity.Error);
    public static readonly Diag ExternalData = new("MG0005", "External tensor data", DiagSeverity.Error);
    public static readonly Diag InvalidModel = new("MG0006", "Invalid ONNX graph", DiagSeverity.Error);
    public static readonly Diag TensorTooLarge = new("MG0007", "Tensor too large", DiagSeverity.Error);
    public static readonly Diag InvalidOption = new("MG0008", "Invalid ModelGen option", DiagSeverity.Error);
    public static readonly Diag FileError = new("MG0009", "Model file could not be read", DiagSeverity.Error);
    public static readonly Diag Compiled = new("MG0010", "Model compiled", DiagSeverity.Info);
    public static readonly Diag UnsupportedAttribute = new("MG0011", "Unsupported attribute value", DiagSeverity.Error);
    public static readonly Diag DynamicShape = new("MG0012", "Shape not known at build time", DiagSeverity.Error);
    public static readonly Diag QuantizedNotLowered = new("MG0013", "Quantized layer not lowered to the integer kernels", DiagSeverity.Warning);
    public static readonly Diag CalibrationMissing = new("MG0014", "Int8 quantization needs calibration data", DiagSeverity.Error);
    public static readonly Diag CalibrationError = new("MG0015", "Calibration data or quantization failed", DiagSeverity.Error);
    public static readonly Diag Float16AsFloat = new("MG0017", "float16 model computed in float32", DiagSeverity.Info);
    public static readonly Diag BatchOfOne = new("MG0018", "Symbolic batch dimension compiled as 1", DiagSeverity.Info);
    public static readonly Diag InternalError = new("MG9999", "Internal ModelGen error", DiagSeverity.Error);

    public static readonly Diag[] All =
    {
        MalformedModel, UnsupportedOperator, UnresolvedDimension, UnsupportedType, ExternalData, InvalidModel,
        TensorTooLarge, InvalidOption, FileError, Compiled, UnsupportedAttribute, DynamicShape, QuantizedNotLowered, CalibrationMissing, CalibrationError,
        InternalError,
    };
}

/// <summary>One reported problem: kind, message, and where (file, node).</summary>
public sealed class Diagnostic : IEquatable<Diagnostic>
{
    public Diag Kind { get; }
    public string Message { get; }
    public Diagnostic(Diag kind, string message) { Kind = kind; Message = message; }
    public bool Equals(Diagnostic other) => other != null && other.Kind.Id == Kind.Id && other.Message == Message;
    public override bool Equals(object obj) => Equals(obj as Diagnostic);
    public override int GetHashCode() => Kind.Id.GetHashCode() ^ Message.GetHashCode();
    public override string ToString() => $"{Kind.Id}: {Message}";
}

/// <summary>Thrown inside the compiler core for a problem with the model; always caught and turned into a diagnostic.</summary>
public sealed class CompileException : Exception
{
    public Diag Kind { get; }
    public CompileException(Diag kind, string message) : base(message) { Kind = kind; }
}
