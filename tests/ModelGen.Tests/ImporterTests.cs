using Google.Protobuf;
using ModelGen.Compiler;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Onnx.Proto;
using Xunit;

namespace ModelGen.Tests;

/// <summary>Importer features: runtime and folded If, ONNX local functions, ConstantInputs, symbolic dims.</summary>
public class ImporterTests
{
    static GraphProto Branch(string name, string op, string input, float k, string output)
    {
        var g = new GraphProto { Name = name };
        g.Initializer.Add(OnnxBuilder.Tensor(name + "_k", new int[0], new[] { k }));
        g.Node.Add(new NodeProto { OpType = op, Input = { input, name + "_k" }, Output = { output } });
        g.Output.Add(new ValueInfoProto { Name = output, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1 } } });
        return g;
    }

    static byte[] SampleRateModel() => new OnnxBuilder(13)
        .Input("x", DType.Float, 1, 8).Input("sr", DType.Int64)
        .Initializer("sr16k", new int[0], new long[] { 16000 })
        .Node("Equal", new[] { "sr", "sr16k" }, new[] { "is16k" })
        .Node("If", new[] { "is16k" }, new[] { "y" },
            ("then_branch", Branch("then", "Mul", "x", 2f, "t_out")),
            ("else_branch", Branch("else", "Add", "x", 3f, "e_out")))
        .Output("y").Build();

    [Fact]
    public void RuntimeIfRunsTheBranchTheConditionPicks()
    {
        var m = SampleRateModel();
        OpCheck.AgainstOrt(m, 1e-6, Ort.Random(8, 1), new long[] { 16000 });
        OpCheck.AgainstOrt(m, 1e-6, Ort.Random(8, 2), new long[] { 8000 });
    }

    [Theory]
    [InlineData(16000L)]
    [InlineData(8000L)]
    public void ConstantInputsBindAnInputAndFoldTheIf(long sr)
    {
        var m = SampleRateModel();
        var x = Ort.Random(8, 3);
        var expected = OpCheck.RunOrt(m, new Array[] { x, new long[] { sr } });
        foreach (var target in new[] { TargetProfile.Net, TargetProfile.Portable })
        {
            var actual = OpCheck.RunModelGen(m, target, new Array[] { x }, new[] { 8 }, new[] { typeof(float) }, new ModelOptions { ConstantInputs = $"sr={sr}" });
            OpCheck.AssertClose(expected[0], actual[0], 1e-6, target.ToString());
        }
        var path = Path.Combine(Path.GetTempPath(), $"sr{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, m);
        var src = Harness.Generate(path, new ModelOptions { ConstantInputs = $"sr={sr}" }).Source!;
        File.Delete(path);
        Assert.DoesNotContain("] If", src);          // folded: no run-time If layer
        Assert.DoesNotContain("ReadOnlySpan<long> sr", src); // no longer a parameter
    }

    [Fact]
    public void ConstantInputsNamingAnUnknownInputIsADiagnostic()
    {
        var path = Path.Combine(Path.GetTempPath(), $"sr{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, SampleRateModel());
        var r = Harness.Generate(path, new ModelOptions { ConstantInputs = "rate=16000" });
        File.Delete(path);
        Assert.False(r.Success);
        Assert.Contains(r.Diagnostics, d => d.Kind.Id == "MG0008" && d.Message.Contains("'rate'") && d.Message.Contains("sr"));
    }

    [Fact]
    public void LocalFunctionsAreInlined()
    {
        // y = Scaled(x, alpha=0.5) where Scaled(a) = Relu(a) * alpha + a, defined as a model-local function
        var b = new OnnxBuilder(18).Input("x", DType.Float, 2, 6);
        var f = new FunctionProto { Name = "Scaled", Domain = "custom", Input = { "a" }, Output = { "out" }, Attribute = { "alpha" } };
        f.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 18 });
        f.Node.Add(new NodeProto { OpType = "Relu", Input = { "a" }, Output = { "r" } });
        f.Node.Add(new NodeProto
        {
            OpType = "Constant", Output = { "k" },
            Attribute = { new AttributeProto { Name = "value_float", RefAttrName = "alpha", Type = AttributeProto.Types.AttributeType.Float } },
        });
        f.Node.Add(new NodeProto { OpType = "Mul", Input = { "r", "k" }, Output = { "m" } });
        f.Node.Add(new NodeProto { OpType = "Add", Input = { "m", "a" }, Output = { "out" } });
        b.Proto.Functions.Add(f);
        b.Proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "custom", Version = 1 });
        b.Node("Scaled", new[] { "x" }, new[] { "y" }, ("alpha", 0.5f));
        b.Proto.Graph.Node[0].Domain = "custom";
        b.Output("y");
        OpCheck.AgainstOrt(b.Build(), 1e-6, Ort.Random(12, 4));
    }

    [Fact]
    public void SymbolicBatchIsOneUnlessInputShapeSaysOtherwise()
    {
        var m = new OnnxBuilder(13).SymbolicInput("audio", DType.Float, "batch", 100)
            .Node("Relu", new[] { "audio" }, new[] { "y" }).Output("y").Build();
        var path = Path.Combine(Path.GetTempPath(), $"sym{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, m);
        var r = Harness.Generate(path);
        var two = Harness.Generate(path, new ModelOptions { InputShape = "2,100" });
        File.Delete(path);
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        var d = Assert.Single(r.Diagnostics, x => x.Kind == Diag.BatchOfOne);
        Assert.Contains("'audio' ('batch')", d.Message);
        Assert.Contains("public const int AudioLength = 100;", r.Source);
        Assert.True(two.Success);
        Assert.DoesNotContain(two.Diagnostics, x => x.Kind == Diag.BatchOfOne);
        Assert.Contains("public const int AudioLength = 200;", two.Source);
    }

    [Fact]
    public void SymbolicDimensionOtherThanTheBatchNeedsInputShape()
    {
        // a rank-1 input's only dimension is not a batch; nor is the second of a rank-2 one
        foreach (var (m, hint) in new[]
        {
            (new OnnxBuilder(13).SymbolicInput("audio", DType.Float, "samples").Node("Relu", new[] { "audio" }, new[] { "y" }).Output("y").Build(), "InputShape=\"1\""),
            (new OnnxBuilder(13).SymbolicInput("audio", DType.Float, "batch", "samples").Node("Relu", new[] { "audio" }, new[] { "y" }).Output("y").Build(), "InputShape=\"1,1\""),
        })
        {
            var r = ModelCompiler.Compile(m, "sym.onnx", new ModelOptions { ClassName = "M" });
            Assert.False(r.Success);
            var d = Assert.Single(r.Diagnostics, x => x.Kind.Id == "MG0003");
            Assert.Contains("'audio'", d.Message);
            Assert.Contains(hint, d.Message);
        }
    }
}
