using System;

namespace ModelGen.Compiler.Quantization;

/// <summary>One calibration data file as the build found it: its name (for messages and the file format) and its bytes.</summary>
public sealed class CalibrationFile
{
    public string Name { get; }
    public byte[] Bytes { get; }
    public CalibrationFile(string name, byte[] bytes) { Name = name ?? ""; Bytes = bytes ?? Array.Empty<byte>(); }
}
