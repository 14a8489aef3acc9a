using ModelGen.Compiler;
using ModelGen.Compiler.IR;
using Xunit;
namespace ModelGen.Tests;
/// <summary>
/// Graphs whose outputs are not simply node outputs: an input or initializer passed straight through, one tensor listed
/// twice (the second output once stayed unwritten), an unused input, a folded constant output, scalars. Against ORT.
/// </summary>
public class OddGraphTests
{
    [Fact] public void OutputIsInput() { var b = new OnnxBuilder(13).Input("x", DType.Float, 3).Output("x"); OpCheck.AgainstOrt(b.Build(), 0, new float[] { 1, 2, 3 }); }
    [Fact] public void OutputIsInitializer() { var b = new OnnxBuilder(13).Input("x", DType.Float, 3).Initializer("c", new[] { 2 }, new float[] { 5, 6 }).Output("c").Output("y"); b.Node("Relu", new[] { "x" }, new[] { "y" }); OpCheck.AgainstOrt(b.Build(), 0, new float[] { 1, -2, 3 }); }
    [Fact] public void SameValueTwice() { var b = new OnnxBuilder(13).Input("x", DType.Float, 3).Output("y").Output("y"); b.Node("Relu", new[] { "x" }, new[] { "y" }); OpCheck.AgainstOrt(b.Build(), 0, new float[] { 1, -2, 3 }); }
    [Fact] public void UnusedInput() { var b = new OnnxBuilder(13).Input("x", DType.Float, 3).Input("u", DType.Float, 2).Output("y"); b.Node("Relu", new[] { "x" }, new[] { "y" }); OpCheck.AgainstOrt(b.Build(), 0, new float[] { 1, -2, 3 }, new float[] { 1, 2 }); }
    [Fact] public void ConstantOutputFromFolding() { var b = new OnnxBuilder(13).Input("x", DType.Float, 3).Initializer("c", new[] { 2 }, new float[] { 5, -6 }).Output("z").Output("y"); b.Node("Relu", new[] { "c" }, new[] { "z" }).Node("Neg", new[] { "x" }, new[] { "y" }); OpCheck.AgainstOrt(b.Build(), 0, new float[] { 1, -2, 3 }); }
    [Fact] public void ScalarInputOutput() { var b = new OnnxBuilder(13).Input("x", DType.Float).Output("y"); b.Node("Exp", new[] { "x" }, new[] { "y" }); OpCheck.AgainstOrt(b.Build(), 1e-6, new float[] { 0.5f }); }
    [Fact] public void InputAlsoOutputAndUsed() { var b = new OnnxBuilder(13).Input("x", DType.Float, 3).Output("x").Output("y"); b.Node("Relu", new[] { "x" }, new[] { "y" }); OpCheck.AgainstOrt(b.Build(), 0, new float[] { 1, -2, 3 }); }

    [Fact] public void InitializerTwice() { var b = new OnnxBuilder(13).Input("x", DType.Float, 3).Initializer("c", new[] { 2 }, new float[] { 5, 6 }).Output("c").Output("c").Output("y"); b.Node("Relu", new[] { "x" }, new[] { "y" }); OpCheck.AgainstOrt(b.Build(), 0, new float[] { 1, -2, 3 }); }
    [Fact] public void InputTwice() { var b = new OnnxBuilder(13).Input("x", DType.Float, 3).Output("x").Output("x"); OpCheck.AgainstOrt(b.Build(), 0, new float[] { 1, -2, 3 }); }

    /// <summary>Tensor names as other exporters write them (tf2onnx's "input:0", numbers, keywords, punctuation, non-ASCII).</summary>
    [Theory]
    [InlineData("input:0", "Identity:0")] [InlineData("0", "1")] [InlineData("class", "return")] [InlineData("x-y.z/w", "out put")] [InlineData("données", "résultat")]
    [InlineData("Predict", "ArenaBytes")]
    public void NamesFromOtherExporters(string input, string output)
    {
        var b = new OnnxBuilder(13).Input(input, DType.Float, 2, 3).Output(output);
        b.Node("Relu", new[] { input }, new[] { output });
        OpCheck.AgainstOrt(b.Build(), 0, new float[] { 1, -2, 3, -4, 5, -6 });
    }

    /// <summary>Rank 7 broadcasting and a zero-sized dimension.</summary>
    [Fact]
    public void HighRankAndEmpty()
    {
        var b = new OnnxBuilder(13).Input("x", DType.Float, 2, 1, 3, 1, 2, 1, 2).Input("y", DType.Float, 1, 2, 1, 2, 1, 3, 1).Output("z");
        b.Node("Add", new[] { "x", "y" }, new[] { "z" });
        OpCheck.AgainstOrt(b.Build(), 1e-6, Ort.Random(24, 1), Ort.Random(12, 2));
        var e = new OnnxBuilder(13).Input("x", DType.Float, 0, 3).Output("y");
        e.Node("Relu", new[] { "x" }, new[] { "y" });
        OpCheck.AgainstOrt(e.Build(), 0, new float[0]);
    }

    /// <summary>
    /// PyTorch's x.view(x.size(0), -1) under a dynamic batch axis: Shape, Gather, Unsqueeze, Concat, Reshape. With the
    /// batch compiled as 1 (MG0018) the shape arithmetic folds; against ORT at batch 1.
    /// </summary>
    [Fact]
    public void DynamicBatchFlattenFolds()
    {
        var b = new OnnxBuilder(13).SymbolicInput("x", DType.Float, "batch", 2, 3).Output("y")
            .Initializer("i0", Array.Empty<int>(), new long[] { 0 }).Initializer("ax", new[] { 1 }, new long[] { 0 }).Initializer("m1", new[] { 1 }, new long[] { -1 });
        b.Node("Shape", new[] { "x" }, new[] { "s" })
            .Node("Gather", new[] { "s", "i0" }, new[] { "n" }, ("axis", 0L))
            .Node("Unsqueeze", new[] { "n", "ax" }, new[] { "n1" })
            .Node("Concat", new[] { "n1", "m1" }, new[] { "shape" }, ("axis", 0L))
            .Node("Reshape", new[] { "x", "shape" }, new[] { "f" })
            .Node("Relu", new[] { "f" }, new[] { "y" });
        var r = ModelCompiler.Compile(b.Build(), "flat.onnx", new ModelOptions { ClassName = "M" });
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        Assert.Contains(r.Diagnostics, d => d.Kind == Diag.BatchOfOne);
        var x = new float[] { 1, -2, 3, -4, 5, -6 };
        using var s = new Microsoft.ML.OnnxRuntime.InferenceSession(b.Build());
        var expected = s.Run(new[] { Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor("x", new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(x, new[] { 1, 2, 3 })) }).First().AsEnumerable<float>().ToArray();
        var actual = OpCheck.RunModelGen(b.Build(), TargetProfile.Net, new Array[] { x }, new[] { 6 }, new[] { typeof(float) });
        OpCheck.AssertClose(expected, actual[0], 0, "y");
    }
}
