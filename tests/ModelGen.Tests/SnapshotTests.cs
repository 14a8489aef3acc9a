using Google.Protobuf;
using ModelGen.Compiler;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Onnx.Proto;
using Xunit;
using Xunit.Sdk;

namespace ModelGen.Tests;

/// <summary>Small synthetic models shared by the snapshot, determinism, allocation, Portable and hostile-input tests.</summary>
internal static class TestModels
{
    /// <summary>x[1,4] -> Gemm(transB) -> Relu -> Gemm -> Sigmoid -> y[1,2].</summary>
    public static byte[] TinyMlp() => new OnnxBuilder()
        .Input("x", DType.Float, 1, 4)
        .Initializer("w1", new[] { 3, 4 }, new[] { 0.5f, -0.25f, 1f, 0.125f, -1f, 0.75f, 0.5f, -0.5f, 0.25f, 0.25f, -0.75f, 1.5f })
        .Initializer("b1", new[] { 3 }, new[] { 0.1f, -0.2f, 0.3f })
        .Initializer("w2", new[] { 3, 2 }, new[] { 1f, -1f, 0.5f, 2f, -1.5f, 0.25f })
        .Initializer("b2", new[] { 2 }, new[] { 0.05f, -0.05f })
        .Node("Gemm", new[] { "x", "w1", "b1" }, new[] { "h" }, ("transB", 1L))
        .Node("Relu", new[] { "h" }, new[] { "hr" })
        .Node("Gemm", new[] { "hr", "w2", "b2" }, new[] { "logits" })
        .Node("Sigmoid", new[] { "logits" }, new[] { "y" })
        .Output("y").Build();

    public static readonly int[] TinyMlpInput = { 1, 4 };

    /// <summary>Broadcast Add/Mul then a run-time If on a bool input: then Relu, else Sigmoid.</summary>
    public static byte[] BroadcastIf()
    {
        var thenG = Branch("then_g", new NodeProto { OpType = "Relu", Name = "then_relu", Input = { "t" }, Output = { "t_then" } }, "t_then");
        var elseG = Branch("else_g", new NodeProto { OpType = "Sigmoid", Name = "else_sigmoid", Input = { "t" }, Output = { "t_else" } }, "t_else");
        return new OnnxBuilder()
            .Input("a", DType.Float, 2, 3).Input("b", DType.Float, 3).Input("flag", DType.Bool, 1)
            .Initializer("k", new[] { 2, 1 }, new[] { 0.5f, -2f })
            .Node("Add", new[] { "a", "b" }, new[] { "s" })
            .Node("Mul", new[] { "s", "k" }, new[] { "t" })
            .Node("If", new[] { "flag" }, new[] { "y" }, ("then_branch", thenG), ("else_branch", elseG))
            .Output("y").Build();
    }

    /// <summary>A subgraph (If branch) of nodes with one float output.</summary>
    public static GraphProto Branch(string name, NodeProto node, string output)
    {
        var g = new GraphProto { Name = name };
        g.Node.Add(node);
        g.Output.Add(new ValueInfoProto { Name = output, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DType.Float } } });
        return g;
    }

    /// <summary>Compiles in memory (no file): the path only names the model in diagnostics and the header.</summary>
    public static CompileResult Compile(byte[] model, string fileName, TargetProfile target = TargetProfile.Net, string className = "", string ns = "", string inputShape = "")
        => ModelCompiler.Compile(model, fileName, new ModelOptions { Target = target, ClassName = className, Namespace = ns, InputShape = inputShape });

    /// <summary>The synthetic models by file name, for tests that run over all of them.</summary>
    public static IEnumerable<(string File, byte[] Bytes)> All()
    {
        yield return ("tiny_mlp.onnx", TinyMlp());
        yield return ("broadcast_if.onnx", BroadcastIf());
    }
}

/// <summary>
/// Snapshot tests of the generated C# for small models: review changes to the emitted code in diffs. Each model is also
/// run against ONNX Runtime, so an accepted snapshot is known to compute the right thing.
/// Accept intended changes with MODELGEN_ACCEPT=1 (see Snapshot).
/// </summary>
public class SnapshotTests
{
    [Fact]
    public void TinyMlpNet()
    {
        var m = TestModels.TinyMlp();
        var r = TestModels.Compile(m, "tiny_mlp.onnx", TargetProfile.Net, "TinyMlp", "Snapshots");
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        OpCheck.AgainstOrt(m, new float[] { 0.3f, -1.2f, 2f, 0.7f });
        Snapshot.Match(r.Source!, "tiny_mlp.net");
    }

    [Fact]
    public void TinyMlpPortable()
    {
        var m = TestModels.TinyMlp();
        var r = TestModels.Compile(m, "tiny_mlp.onnx", TargetProfile.Portable, "TinyMlp", "Snapshots");
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        Assert.Empty(Harness.CompileNano(r.Source!));
        OpCheck.AgainstOrt(m, new float[] { -0.4f, 0.9f, 1.1f, -2f });
        Snapshot.Match(r.Source!, "tiny_mlp.portable");
    }

    [Fact]
    public void BroadcastIfNet()
    {
        var m = TestModels.BroadcastIf();
        var r = TestModels.Compile(m, "broadcast_if.onnx", TargetProfile.Net, "BroadcastIf", "Snapshots");
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        Assert.Contains("if (", r.Source); // the If stays a run-time branch
        foreach (var flag in new[] { true, false })
            OpCheck.AgainstOrt(m, Ort.Random(6, 1, 2f), Ort.Random(3, 2), new[] { flag });
        Snapshot.Match(r.Source!, "broadcast_if.net");
    }

    // ---- the helper itself ----

    static string TempDir()
    {
        var d = Path.Combine(Path.GetTempPath(), "modelgen-snap-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        return d;
    }

    [Fact]
    public void HelperMismatchWritesReceivedAndFails()
    {
        var d = TempDir();
        try
        {
            File.WriteAllText(Path.Combine(d, "s.verified.cs"), "a\nb\nc\n");
            Snapshot.Match("a\r\nb\r\nc\r\n", "s", d, accept: false, ci: false); // line endings do not matter
            Assert.False(File.Exists(Path.Combine(d, "s.received.cs")));
            var ex = Assert.Throws<XunitException>(() => Snapshot.Match("a\nB\nc\n", "s", d, accept: false, ci: true));
            Assert.Contains("- b", ex.Message);
            Assert.Contains("+ B", ex.Message);
            Assert.Equal("a\nB\nc\n", File.ReadAllText(Path.Combine(d, "s.received.cs")));
            Assert.Equal("a\nb\nc\n", File.ReadAllText(Path.Combine(d, "s.verified.cs")));
            // accepting overwrites the verified file and removes the received one
            Snapshot.Match("a\nB\nc\n", "s", d, accept: true, ci: false);
            Assert.Equal("a\nB\nc\n", File.ReadAllText(Path.Combine(d, "s.verified.cs")));
            Assert.False(File.Exists(Path.Combine(d, "s.received.cs")));
        }
        finally { Directory.Delete(d, true); }
    }

    [Fact]
    public void HelperMissingVerifiedFileFailsUnderCiWithoutCreatingIt()
    {
        var d = TempDir();
        try
        {
            Assert.Throws<XunitException>(() => Snapshot.Match("x", "new", d, accept: true, ci: true));
            Assert.False(File.Exists(Path.Combine(d, "new.verified.cs")));
            // locally it is created, and the run still fails so that it gets reviewed
            Assert.Throws<XunitException>(() => Snapshot.Match("x", "new", d, accept: false, ci: false));
            Assert.Equal("x", File.ReadAllText(Path.Combine(d, "new.verified.cs")));
            Snapshot.Match("x", "new", d, accept: false, ci: false);
        }
        finally { Directory.Delete(d, true); }
    }

    [Fact]
    public void DiffShowsContextAroundTheChange()
    {
        var e = string.Join("\n", Enumerable.Range(0, 100).Select(i => "line " + i));
        var a = e.Replace("line 50", "changed 50");
        var diff = Snapshot.Diff(e, a);
        Assert.Contains("line 51", diff);
        Assert.Contains("- line 50", diff);
        Assert.Contains("+ changed 50", diff);
        Assert.DoesNotContain("line 10\n", diff);
    }
}
