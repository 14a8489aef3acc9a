using System;
using System.Collections.Generic;
using System.Linq;
using System.Security.Cryptography;

namespace ModelGen.Compiler.Roslyn;

/// <summary>The pipeline key of one model: path, content hash and options. Equatable; never holds bytes or symbols.</summary>
public sealed class ModelSpec : IEquatable<ModelSpec>
{
    public string Path { get; init; }
    public string ContentHash { get; init; }
    public ModelOptions Options { get; init; }
    /// <summary>Set when the file could not be read or an option is invalid.</summary>
    public string Error { get; init; }
    /// <summary>Calibration data files of this model (path and content hash), in path order.</summary>
    public IReadOnlyList<CalibrationRef> Calibration { get; init; } = Array.Empty<CalibrationRef>();

    public ModelSpec WithCalibration(IEnumerable<CalibrationRef> files) =>
        new() { Path = Path, ContentHash = ContentHash, Options = Options, Error = Error, Calibration = files.ToArray() };

    public bool Equals(ModelSpec o) => o != null && o.Path == Path && o.ContentHash == ContentHash && Equals(o.Options, Options) && o.Error == Error
        && o.Calibration.SequenceEqual(Calibration);
    public override bool Equals(object obj) => Equals(obj as ModelSpec);
    public override int GetHashCode() => (Path ?? "").GetHashCode() ^ (ContentHash ?? "").GetHashCode();

    public static string Hash(byte[] bytes)
    {
        using var sha = SHA256.Create();
        var h = sha.ComputeHash(bytes);
        return BitConverter.ToString(h, 0, 16).Replace("-", "");
    }
}

/// <summary>One calibration data file of a model: its path, the model it calibrates (ModelGenCalibrationFor) and its content hash.</summary>
public sealed class CalibrationRef : IEquatable<CalibrationRef>
{
    public string Path { get; init; }
    public string Model { get; init; }
    public string ContentHash { get; init; }
    public bool Equals(CalibrationRef o) => o != null && o.Path == Path && o.Model == Model && o.ContentHash == ContentHash;
    public override bool Equals(object obj) => Equals(obj as CalibrationRef);
    public override int GetHashCode() => (Path ?? "").GetHashCode() ^ (ContentHash ?? "").GetHashCode();
}
