using System;
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

    public bool Equals(ModelSpec o) => o != null && o.Path == Path && o.ContentHash == ContentHash && Equals(o.Options, Options) && o.Error == Error;
    public override bool Equals(object obj) => Equals(obj as ModelSpec);
    public override int GetHashCode() => (Path ?? "").GetHashCode() ^ (ContentHash ?? "").GetHashCode();

    public static string Hash(byte[] bytes)
    {
        using var sha = SHA256.Create();
        var h = sha.ComputeHash(bytes);
        return BitConverter.ToString(h, 0, 16).Replace("-", "");
    }
}
