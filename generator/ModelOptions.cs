using System;
using System.Collections.Generic;
using System.Text;

namespace ModelGen.Compiler;

public enum TargetProfile { Net, Portable }

/// <summary>Build-time quantization: none, int8 weights with float activations, or full int8 (TFLite's int8 scheme).</summary>
public enum QuantizeMode { None, Weights, Int8 }

/// <summary>How calibration turns observed activations into a quantization range.</summary>
public enum CalibrationMethod { MinMax, Percentile, Entropy }

/// <summary>Element type of the generated Predict's inputs and outputs under Quantize=Int8.</summary>
public enum QuantizeIO { Float, Int8 }

/// <summary>Options of one model, from the &lt;OnnxModel&gt; item's metadata. Equatable: part of the pipeline key.</summary>
public sealed class ModelOptions : IEquatable<ModelOptions>
{
    public string ClassName { get; init; } = "";
    public string Namespace { get; init; } = "";
    /// <summary>"1,3,48,192" for a single input, or "x=1,3,48,192;y=1,10" by input name.</summary>
    public string InputShape { get; init; } = "";
    public TargetProfile Target { get; init; } = TargetProfile.Net;
    /// <summary>Graph inputs bound to constants at build time: "sr=16000" or "sr=16000;mask=1,0,1" (values row-major).</summary>
    public string ConstantInputs { get; init; } = "";
    /// <summary>Comma-separated pass names to switch off.</summary>
    public string DisabledPasses { get; init; } = "";
    public QuantizeMode Quantize { get; init; } = QuantizeMode.None;
    /// <summary>The calibration glob as written on the item (for messages); the data itself reaches the compiler as samples.</summary>
    public string Calibration { get; init; } = "";
    /// <summary>
    /// MinMax by default (as ONNX Runtime's quantizer): no clipping, deterministic, and enough for models whose
    /// activations have no rare outliers; Percentile (99.99) or Entropy clip such outliers for a finer scale.
    /// </summary>
    public CalibrationMethod CalibrationMethod { get; init; } = CalibrationMethod.MinMax;
    public QuantizeIO QuantizeIO { get; init; } = QuantizeIO.Float;
    /// <summary>Times every layer of Predict into LayerTicks and adds ProfileReport() (see Emit/LayerProfile.cs).</summary>
    public bool Profile { get; init; }

    public bool Equals(ModelOptions o) => o != null && o.ClassName == ClassName && o.Namespace == Namespace
        && o.InputShape == InputShape && o.ConstantInputs == ConstantInputs && o.Target == Target && o.DisabledPasses == DisabledPasses
        && o.Quantize == Quantize && o.Calibration == Calibration && o.CalibrationMethod == CalibrationMethod && o.QuantizeIO == QuantizeIO && o.Profile == Profile;
    public override bool Equals(object obj) => Equals(obj as ModelOptions);
    public override int GetHashCode() => (ClassName + "|" + Namespace + "|" + InputShape + "|" + ConstantInputs + "|" + Target + "|" + DisabledPasses
        + "|" + Quantize + "|" + Calibration + "|" + CalibrationMethod + "|" + QuantizeIO + "|" + Profile).GetHashCode();

    /// <summary>
    /// Parses an enum-valued option as written on the item (case-insensitive; empty = default); null and an error
    /// message when the text is not one of the names.
    /// </summary>
    public static T? ParseEnum<T>(string option, string text, T dflt, out string error) where T : struct, Enum
    {
        error = null;
        if (string.IsNullOrWhiteSpace(text)) return dflt;
        var t = text.Trim();
        foreach (T v in Enum.GetValues(typeof(T)))
            if (string.Equals(v.ToString(), t, StringComparison.OrdinalIgnoreCase)) return v;
        error = $"{option} '{t}' is not one of {string.Join(", ", Enum.GetNames(typeof(T)))}";
        return null;
    }

    /// <summary>Parses a true/false option as written on the item (case-insensitive; empty = false).</summary>
    public static bool ParseBool(string option, string text, out string error)
    {
        error = null;
        if (string.IsNullOrWhiteSpace(text)) return false;
        var t = text.Trim();
        if (string.Equals(t, "true", StringComparison.OrdinalIgnoreCase)) return true;
        if (!string.Equals(t, "false", StringComparison.OrdinalIgnoreCase)) error = $"{option} '{t}' is not one of true, false";
        return false;
    }

    /// <summary>Parses InputShape: null key = the single-input form.</summary>
    public Dictionary<string, int[]> ParseInputShapes()
    {
        var r = new Dictionary<string, int[]>(StringComparer.Ordinal);
        if (string.IsNullOrWhiteSpace(InputShape)) return r;
        foreach (var part in InputShape.Split(';'))
        {
            var p = part.Trim();
            if (p.Length == 0) continue;
            string name = "";
            int eq = p.LastIndexOf('=');
            if (eq >= 0) { name = p.Substring(0, eq).Trim(); p = p.Substring(eq + 1); }
            var dims = p.Split(new[] { ',', 'x', ' ' }, StringSplitOptions.RemoveEmptyEntries);
            var shape = new int[dims.Length];
            for (int i = 0; i < dims.Length; i++)
                if (!int.TryParse(dims[i].Trim(), out shape[i]) || shape[i] < 0)
                    throw new CompileException(Diag.InvalidOption, $"InputShape '{InputShape}': '{dims[i]}' is not a dimension; write e.g. 1,3,48,192 or x=1,3,48,192;y=1,10");
            if (r.ContainsKey(name)) throw new CompileException(Diag.InvalidOption, $"InputShape '{InputShape}' gives input '{name}' twice");
            r[name] = shape;
        }
        return r;
    }

    /// <summary>Parses ConstantInputs into name -> values.</summary>
    public Dictionary<string, double[]> ParseConstantInputs()
    {
        var r = new Dictionary<string, double[]>(StringComparer.Ordinal);
        if (string.IsNullOrWhiteSpace(ConstantInputs)) return r;
        foreach (var part in ConstantInputs.Split(';'))
        {
            var p = part.Trim();
            if (p.Length == 0) continue;
            int eq = p.LastIndexOf('=');
            if (eq <= 0) throw new CompileException(Diag.InvalidOption, $"ConstantInputs '{ConstantInputs}': write name=value (e.g. sr=16000 or mask=1,0,1)");
            var name = p.Substring(0, eq).Trim();
            var items = p.Substring(eq + 1).Split(new[] { ',', ' ' }, StringSplitOptions.RemoveEmptyEntries);
            var values = new double[items.Length];
            for (int i = 0; i < items.Length; i++)
            {
                var t = items[i].Trim();
                if (t == "true" || t == "True") values[i] = 1;
                else if (t == "false" || t == "False") values[i] = 0;
                else if (!double.TryParse(t, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out values[i]))
                    throw new CompileException(Diag.InvalidOption, $"ConstantInputs '{ConstantInputs}': '{t}' is not a number");
            }
            if (values.Length == 0) throw new CompileException(Diag.InvalidOption, $"ConstantInputs gives no value for '{name}'");
            if (r.ContainsKey(name)) throw new CompileException(Diag.InvalidOption, $"ConstantInputs binds '{name}' twice");
            r[name] = values;
        }
        return r;
    }

    /// <summary>"hey_jarvis_v0.1.onnx" -> "HeyJarvisV01".</summary>
    public static string DefaultClassName(string path)
    {
        var file = System.IO.Path.GetFileNameWithoutExtension(path ?? "Model");
        var sb = new StringBuilder();
        bool up = true;
        foreach (var c in file)
        {
            if (char.IsLetterOrDigit(c)) { sb.Append(up ? char.ToUpperInvariant(c) : c); up = false; }
            else up = true;
        }
        if (sb.Length == 0 || char.IsDigit(sb[0])) sb.Insert(0, "Model");
        if (sb.Length > 120) sb.Length = 120;
        if (Emit.Names.IsReservedClassName(sb.ToString())) sb.Append("Model"); // predict.onnx -> PredictModel
        return sb.ToString();
    }
}
