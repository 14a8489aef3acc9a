using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ModelGen.Compiler;
using Xunit;

namespace ModelGen.Tests;

/// <summary>
/// Checks a small model end to end: ModelGen (Net and Portable profiles, compiled and run in memory) against
/// ONNX Runtime on the same inputs. Inputs are arrays of the element types (float[], long[], bool[], ...).
/// </summary>
public static class OpCheck
{
    public static void AgainstOrt(byte[] model, params Array[] inputs) => AgainstOrt(model, 1e-5, inputs);

    public static void AgainstOrt(byte[] model, double tolerance, params Array[] inputs)
    {
        var expected = RunOrt(model, inputs);
        foreach (var target in new[] { TargetProfile.Net, TargetProfile.Portable })
        {
            var actual = RunModelGen(model, target, inputs, expected.Select(e => e.Length).ToArray(), expected.Select(e => e.GetType().GetElementType()!).ToArray());
            for (int k = 0; k < expected.Length; k++) AssertClose(expected[k], actual[k], tolerance, $"{target} output {k}");
        }
    }

    public static Array[] RunModelGen(byte[] model, TargetProfile target, Array[] inputs, int[] outLengths, Type[] outTypes, ModelOptions? options = null)
    {
        var dir = Path.Combine(Path.GetTempPath(), "modelgen-tests");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "m" + Guid.NewGuid().ToString("N") + ".onnx");
        File.WriteAllBytes(path, model);
        try
        {
            var opts = new ModelOptions { Target = target, ClassName = "M", InputShape = options?.InputShape ?? "", ConstantInputs = options?.ConstantInputs ?? "", DisabledPasses = options?.DisabledPasses ?? "", Quantize = options?.Quantize ?? QuantizeMode.None };
            var r = Harness.Generate(path, opts);
            Assert.True(r.Success, string.Join("\n", r.Diagnostics));
            if (target == TargetProfile.Portable)
            {
                var nano = Harness.CompileNano(r.Source!);
                Assert.True(nano.Count == 0, "Portable output does not compile against nanoFramework mscorlib:\n" + string.Join("\n", nano.Take(10)));
            }
            var m = CompiledModel.FromSource(r.Source!, "M", "", target);
            var outs = outTypes.Select((t, i) => Array.CreateInstance(t, outLengths[i])).ToArray();
            m.Run(inputs.Concat(outs).ToArray());
            return outs;
        }
        finally { File.Delete(path); }
    }

    public static Array[] RunOrt(byte[] model, Array[] inputs)
    {
        using var opts = new SessionOptions { IntraOpNumThreads = 1 };
        using var s = new InferenceSession(model, opts);
        var feeds = new List<NamedOnnxValue>();
        int i = 0;
        foreach (var (name, meta) in s.InputMetadata)
        {
            var shape = meta.Dimensions;
            var x = inputs[i++];
            feeds.Add(x switch
            {
                float[] f => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(f, shape)),
                double[] d => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<double>(d, shape)),
                long[] l when x.GetType() == typeof(long[]) => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(l, shape)),
                int[] n when x.GetType() == typeof(int[]) => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<int>(n, shape)),
                bool[] b => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<bool>(b, shape)),
                // the CLR lets a ushort[] pass as short[] (and byte[] as sbyte[]): match the exact type
                byte[] ub when x.GetType() == typeof(byte[]) => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<byte>(ub, shape)),
                sbyte[] sb => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<sbyte>(sb, shape)),
                short[] sh when x.GetType() == typeof(short[]) => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<short>(sh, shape)),
                ushort[] us when x.GetType() == typeof(ushort[]) => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<ushort>(us, shape)),
                uint[] ui when x.GetType() == typeof(uint[]) => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<uint>(ui, shape)),
                _ => throw new ArgumentException("unsupported input type " + x.GetType()),
            });
        }
        using var r = s.Run(feeds);
        return r.Select(v => v.Value switch
        {
            DenseTensor<float> t => (Array)t.ToArray(),
            DenseTensor<double> t => t.ToArray(),
            DenseTensor<long> t => t.ToArray(),
            DenseTensor<int> t => t.ToArray(),
            DenseTensor<bool> t => t.ToArray(),
            DenseTensor<sbyte> t => t.ToArray(),
            DenseTensor<byte> t => t.ToArray(),
            DenseTensor<short> t => t.ToArray(),
            DenseTensor<ushort> t => t.ToArray(),
            DenseTensor<uint> t => t.ToArray(),
            var o => throw new ArgumentException("unsupported output " + o?.GetType()),
        }).ToArray();
    }

    public static void AssertClose(Array expected, Array actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        bool exact = expected.GetType().GetElementType() is var et && et != typeof(float) && et != typeof(double);
        for (int i = 0; i < expected.Length; i++)
        {
            // integers and bools compare as decimals, within tol (a double would blur 64-bit values above 2^53)
            if (exact)
            {
                decimal de = Convert.ToDecimal(expected.GetValue(i)), da = Convert.ToDecimal(actual.GetValue(i));
                Assert.True(Math.Abs(de - da) <= (decimal)tol, $"{what}[{i}]: expected {expected.GetValue(i)}, got {actual.GetValue(i)}");
                continue;
            }
            var e = Convert.ToDouble(expected.GetValue(i));
            var a = Convert.ToDouble(actual.GetValue(i));
            if (double.IsNaN(e) && double.IsNaN(a) || e == a) continue; // NaN == NaN; equal infinities
            Assert.True(Math.Abs(e - a) <= tol + tol * Math.Abs(e), $"{what}[{i}]: expected {e}, got {a}");
        }
    }
}
