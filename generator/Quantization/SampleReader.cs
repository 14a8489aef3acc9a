using System;
using System.Collections.Generic;
using System.Text;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Quantization;

/// <summary>
/// Calibration files -> whole input samples. A sample is one value of every (non-constant) input of the model, in the
/// order of Predict's parameters, each flat row-major, back to back (a model with one input: just that input). Raw files
/// hold little-endian float32 samples back to back; .npy files hold a little-endian float32 C-order array whose element
/// count is a multiple of the sample size.
/// </summary>
internal static class SampleReader
{
    /// <summary>What one sample holds, for messages: "input 'x' [1,64] (64 floats each)" or "inputs 'a' [1,4] then 'b' [1,2] (6 floats each)".</summary>
    public static string Describe(IReadOnlyList<Value> inputs)
    {
        int total = 0;
        foreach (var v in inputs) total += v.Length;
        var parts = new List<string>();
        foreach (var v in inputs) parts.Add($"'{v.Name}' {Shape.Format(v.Shape)}");
        return $"{(inputs.Count == 1 ? "input" : "inputs")} {string.Join(" then ", parts)} ({total} floats each)";
    }

    /// <summary>Whole samples, each split into one array per input.</summary>
    public static List<float[][]> Read(IReadOnlyList<CalibrationFile> files, IReadOnlyList<Value> inputs)
    {
        int sampleLength = 0;
        foreach (var v in inputs) sampleLength += v.Length;
        var split = new List<float[][]>();
        foreach (var s in Read(files, Describe(inputs), sampleLength))
        {
            var parts = new float[inputs.Count][];
            for (int i = 0, at = 0; i < parts.Length; at += parts[i].Length, i++)
            {
                parts[i] = new float[inputs[i].Length];
                Array.Copy(s, at, parts[i], 0, parts[i].Length);
            }
            split.Add(parts);
        }
        return split;
    }

    static List<float[]> Read(IReadOnlyList<CalibrationFile> files, string sample, int sampleLength)
    {
        var samples = new List<float[]>();
        foreach (var f in files)
        {
            var name = System.IO.Path.GetFileName(f.Name);
            bool npy = name.EndsWith(".npy", StringComparison.OrdinalIgnoreCase);
            int offset = npy ? NpyDataOffset(f.Bytes, name) : 0;
            int bytes = f.Bytes.Length - offset;
            long perSample = (long)sampleLength * 4;
            if (bytes == 0 || bytes % perSample != 0)
                throw new CompileException(Diag.CalibrationError, $"calibration file '{name}' holds {bytes} bytes of data, not a whole number of samples of {sample}, {perSample} bytes each");
            for (int at = offset; at < f.Bytes.Length; at += (int)perSample)
            {
                var s = new float[sampleLength];
                Buffer.BlockCopy(f.Bytes, at, s, 0, (int)perSample);
                if (!BitConverter.IsLittleEndian) ReverseEach(s);
                for (int i = 0; i < s.Length; i++)
                    if (float.IsNaN(s[i]) || float.IsInfinity(s[i]))
                        throw new CompileException(Diag.CalibrationError, $"calibration file '{name}': sample {(at - offset) / perSample} has a non-finite value at element {i}");
                samples.Add(s);
            }
        }
        return samples;
    }

    static void ReverseEach(float[] s)
    {
        for (int i = 0; i < s.Length; i++)
        {
            var b = BitConverter.GetBytes(s[i]);
            Array.Reverse(b);
            s[i] = BitConverter.ToSingle(b, 0);
        }
    }

    /// <summary>Parses a .npy header (format versions 1-3); returns where the data starts. float32 little-endian, C order only.</summary>
    static int NpyDataOffset(byte[] b, string name)
    {
        if (b.Length < 10 || b[0] != 0x93 || Encoding.ASCII.GetString(b, 1, 5) != "NUMPY")
            throw new CompileException(Diag.CalibrationError, $"calibration file '{name}' is not a .npy file (no \\x93NUMPY magic)");
        int major = b[6];
        int headerLen, start;
        if (major == 1) { headerLen = b[8] | b[9] << 8; start = 10; }
        else if (major is 2 or 3 && b.Length >= 12) { headerLen = b[8] | b[9] << 8 | b[10] << 16 | b[11] << 24; start = 12; }
        else throw new CompileException(Diag.CalibrationError, $"calibration file '{name}': .npy format version {major} is not supported");
        if (headerLen < 0 || start + headerLen > b.Length) throw new CompileException(Diag.CalibrationError, $"calibration file '{name}': truncated .npy header");
        var header = (major == 3 ? Encoding.UTF8 : Encoding.ASCII).GetString(b, start, headerLen);
        var descr = Field(header, "descr");
        if (descr != "'<f4'" && descr != "\"<f4\"")
            throw new CompileException(Diag.CalibrationError, $"calibration file '{name}' holds dtype {descr ?? "?"}; write float32 little-endian ('<f4'), e.g. x.astype('<f4') before np.save");
        if (Field(header, "fortran_order") != "False")
            throw new CompileException(Diag.CalibrationError, $"calibration file '{name}' is in Fortran order; save a C-order array (np.ascontiguousarray)");
        return start + headerLen;
    }

    /// <summary>The text of one value in the header's Python dict literal ({'descr': '<f4', 'fortran_order': False, ...}).</summary>
    static string Field(string header, string key)
    {
        int k = header.IndexOf("'" + key + "'", StringComparison.Ordinal);
        if (k < 0) return null;
        int colon = header.IndexOf(':', k);
        if (colon < 0) return null;
        int end = colon + 1;
        int depth = 0;
        for (; end < header.Length; end++)
        {
            char c = header[end];
            if (c == '(') depth++;
            else if (c == ')') depth--;
            else if ((c == ',' || c == '}') && depth == 0) break;
        }
        return header.Substring(colon + 1, end - colon - 1).Trim();
    }
}
