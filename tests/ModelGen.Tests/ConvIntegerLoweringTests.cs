using ModelGen.Compiler;
using ModelGen.Compiler.IR;
using Xunit;
using static ModelGen.Tests.QOperatorModels;

namespace ModelGen.Tests;

/// <summary>
/// ConvIntegerLowering: dynamically quantized convolutions (quantize_dynamic's DynamicQuantizeLinear, ConvInteger,
/// Cast, Mul, Add) run as float convolutions of exact integer values on the SIMD kernels in the Net profile. Against
/// ONNX Runtime and against ConvInteger's own integer loops (the pass switched off), both profiles; the generated Net
/// code has no ConvInteger left, and int8 weights stay int8.
/// </summary>
public class ConvIntegerLoweringTests
{
    static void Check(byte[] model, float[] input, bool weightsStayInt8)
    {
        var r = ModelCompiler.Compile(model, "dyn.onnx", new ModelOptions { ClassName = "M" });
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        AssertNoConvInteger(r.Source);
        var off = ModelCompiler.Compile(model, "dyn.onnx", new ModelOptions { ClassName = "M", DisabledPasses = "ConvIntegerLowering" });
        Assert.Matches(@"(?m)^//\s+\d+\s+ConvInteger\s", off.Source);
        if (weightsStayInt8) Assert.True(r.WeightBytes < off.WeightBytes + 1024, $"weights {r.WeightBytes} B lowered, {off.WeightBytes} B as ConvInteger");
        var expected = OpCheck.RunOrt(model, new Array[] { input });
        var lens = expected.Select(e => e.Length).ToArray(); var types = expected.Select(e => e.GetType().GetElementType()!).ToArray();
        var loops = OpCheck.RunModelGen(model, TargetProfile.Net, new Array[] { input }, lens, types, new ModelOptions { DisabledPasses = "ConvIntegerLowering" });
        foreach (var target in new[] { TargetProfile.Net, TargetProfile.Portable })
        {
            var y = OpCheck.RunModelGen(model, target, new Array[] { input }, lens, types);
            for (int k = 0; k < expected.Length; k++)
            {
                OpCheck.AssertClose(loops[k], y[k], 1e-5, $"{target} output {k}: vs the integer loops");
                OpCheck.AssertClose(expected[k], y[k], 1e-5, $"{target} output {k}: vs ORT");
            }
        }
    }

    /// <summary>No ConvInteger layer in the generated file's layer table ("//  index  op  shape ...").</summary>
    static void AssertNoConvInteger(string source)
    {
        var lines = source.Split('\n').Where(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^//\s+\d+\s+ConvInteger\s")).ToArray();
        Assert.True(lines.Length == 0, string.Join("\n", lines));
    }

    [Theory] [InlineData(false)] [InlineData(true)]
    public void DynamicCnnMatchesOrt(bool uint8Weights) => Check(DynamicCnn(12, uint8Weights), Ort.Random(3 * 144, 5), weightsStayInt8: !uint8Weights);

    [Fact]
    public void UnsignedWeightsThatLeaveInt8AreFloat()
    {
        // uint8 weights, zero point 128 - 100 = 28: w - z up to 227, past int8
        var b = new OnnxBuilder(13).Input("x", DType.Float, 1, 4, 9, 7);
        Init(b, IntTensor("w", DType.UInt8, new[] { 5, 4, 3, 3 }, L8(180, 31, 0, 255)));
        Init(b, IntTensor("wz", DType.UInt8, Array.Empty<int>(), new long[] { 28 }));
        b.Initializer("ws", Array.Empty<int>(), new[] { 0.002f });
        b.Node("DynamicQuantizeLinear", new[] { "x" }, new[] { "xq", "xs", "xz" })
            .Node("ConvInteger", new[] { "xq", "w", "xz", "wz" }, new[] { "acc" }, ("pads", new long[] { 0, 1, 2, 1 }), ("strides", new long[] { 1, 2 }), ("dilations", new long[] { 2, 1 }))
            .Node("Cast", new[] { "acc" }, new[] { "accf" }, ("to", 1L))
            .Node("Mul", new[] { "xs", "ws" }, new[] { "s" })
            .Node("Mul", new[] { "accf", "s" }, new[] { "y" });
        Check(b.Output("y").Build(), Ort.Random(252, 6), weightsStayInt8: false);
    }

    [Fact]
    public void ConstantZeroPointAndCastAsGraphOutput()
    {
        // uint8 input with a constant zero point, int8 weights with a zero point; the Cast is itself an output
        var b = new OnnxBuilder(13).Input("x", DType.UInt8, 1, 6, 5, 5);
        Init(b, IntTensor("w", DType.Int8, new[] { 6, 2, 3, 3 }, L8(108, 41, -100, 100)));
        Init(b, IntTensor("wz", DType.Int8, Array.Empty<int>(), new long[] { -7 }));
        Init(b, IntTensor("xz", DType.UInt8, Array.Empty<int>(), new long[] { 131 }));
        b.Node("ConvInteger", new[] { "x", "w", "xz", "wz" }, new[] { "acc" }, ("group", 3L), ("auto_pad", "SAME_UPPER"))
            .Node("Cast", new[] { "acc" }, new[] { "y" }, ("to", 1L))
            .Node("Relu", new[] { "y" }, new[] { "r" });
        var model = b.Output("y").Output("r").Build();
        var x = L8(150, 43, 0, 255).Select(v => (byte)v).ToArray();
        var r = ModelCompiler.Compile(model, "dyn.onnx", new ModelOptions { ClassName = "M" });
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        AssertNoConvInteger(r.Source);
        var expected = OpCheck.RunOrt(model, new Array[] { x });
        var lens = expected.Select(e => e.Length).ToArray(); var types = expected.Select(e => e.GetType().GetElementType()!).ToArray();
        foreach (var target in new[] { TargetProfile.Net, TargetProfile.Portable })
        {
            var y = OpCheck.RunModelGen(model, target, new Array[] { x }, lens, types);
            for (int k = 0; k < expected.Length; k++) OpCheck.AssertClose(expected[k], y[k], 0, $"{target} output {k}");
        }
    }

    [Fact]
    public void PerChannelWeightZeroPointsMatchTheLoops()
    {
        // the operator allows a zero point per output channel (ONNX Runtime's ConvInteger does not): against the loops
        var b = new OnnxBuilder(13).Input("x", DType.Int8, 2, 4, 6, 5);
        Init(b, IntTensor("w", DType.Int8, new[] { 3, 4, 2, 2 }, L8(48, 51, -100, 100)));
        Init(b, IntTensor("wz", DType.Int8, new[] { 3 }, new long[] { -20, 0, 27 }));
        Init(b, IntTensor("xz", DType.Int8, Array.Empty<int>(), new long[] { -3 }));
        b.Node("ConvInteger", new[] { "x", "w", "xz", "wz" }, new[] { "acc" }, ("strides", new long[] { 2, 1 }))
            .Node("Cast", new[] { "acc" }, new[] { "y" }, ("to", 1L));
        var model = b.Output("y").Build();
        var x = L8(240, 52, -128, 127).Select(v => (sbyte)v).ToArray();
        var r = ModelCompiler.Compile(model, "dyn.onnx", new ModelOptions { ClassName = "M" });
        AssertNoConvInteger(r.Source);
        int n = 2 * 3 * 3 * 4;
        var loops = OpCheck.RunModelGen(model, TargetProfile.Net, new Array[] { x }, new[] { n }, new[] { typeof(float) }, new ModelOptions { DisabledPasses = "ConvIntegerLowering" });
        var y = OpCheck.RunModelGen(model, TargetProfile.Net, new Array[] { x }, new[] { n }, new[] { typeof(float) });
        OpCheck.AssertClose(loops[0], y[0], 0, "lowered vs loops");
    }

    [Fact]
    public void TwoConvolutionsOfOneQuantizedInputShareItsCentring()
    {
        // one DynamicQuantizeLinear read by two branches (quantize_dynamic shares it): one Cast and one Sub for both
        var b = new OnnxBuilder(13).Input("x", DType.Float, 1, 4, 6, 6);
        b.Node("DynamicQuantizeLinear", new[] { "x" }, new[] { "xq", "xs", "xz" });
        foreach (var (p, k) in new[] { ("a", 1), ("b", 3) })
        {
            Init(b, IntTensor(p + "_w", DType.Int8, new[] { 5, 4, k, k }, L8(20 * k * k, 60 + k, -127, 127)));
            b.Initializer(p + "_ws", Array.Empty<int>(), new[] { 0.004f });
            b.Node("ConvInteger", new[] { "xq", p + "_w", "xz" }, new[] { p + "_acc" }, ("pads", new long[] { k / 2, k / 2, k / 2, k / 2 }))
                .Node("Cast", new[] { p + "_acc" }, new[] { p + "_accf" }, ("to", 1L))
                .Node("Mul", new[] { "xs", p + "_ws" }, new[] { p + "_s" })
                .Node("Mul", new[] { p + "_accf", p + "_s" }, new[] { p + "_y" });
        }
        b.Node("Add", new[] { "a_y", "b_y" }, new[] { "y" });
        var model = b.Output("y").Build();
        var r = ModelCompiler.Compile(model, "dyn.onnx", new ModelOptions { ClassName = "M" });
        AssertNoConvInteger(r.Source);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(r.Source, @"(?m)^//\s+\d+\s+Sub\s"));
        var x = Ort.Random(144, 7);
        var expected = OpCheck.RunOrt(model, new Array[] { x });
        var y = OpCheck.RunModelGen(model, TargetProfile.Net, new Array[] { x }, new[] { expected[0].Length }, new[] { typeof(float) });
        OpCheck.AssertClose(expected[0], y[0], 1e-5, "two branches vs ORT");
    }

    [Fact]
    public void ZeroOutputChannelsAreNoInternalError()
    {
        // a degenerate layer: the pass leaves it alone, whatever the rest of the compiler makes of it
        var b = new OnnxBuilder(13).Input("x", DType.UInt8, 1, 2, 4, 4);
        Init(b, IntTensor("w", DType.Int8, new[] { 0, 2, 3, 3 }, Array.Empty<long>()));
        b.Node("ConvInteger", new[] { "x", "w" }, new[] { "acc" }).Node("Cast", new[] { "acc" }, new[] { "y" }, ("to", 1L));
        var r = ModelCompiler.Compile(b.Output("y").Build(), "dyn.onnx", new ModelOptions { ClassName = "M" });
        Assert.DoesNotContain(r.Diagnostics, d => d.Kind == Diag.InternalError);
    }
}
