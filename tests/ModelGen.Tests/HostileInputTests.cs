using System.Text.RegularExpressions;
using Google.Protobuf;
using ModelGen.Compiler;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Onnx.Proto;
using Xunit;
using Xunit.Abstractions;

namespace ModelGen.Tests;

/// <summary>
/// Broken, malicious and odd models and options. For every one, ModelCompiler.Compile returns (no exception, no hang:
/// each case has a time bound) either a success whose C# compiles, or Success == false with an MG#### error that names
/// the file (and the node or input where there is one). MG9999 (internal error) is a generator bug and fails here.
/// </summary>
public class HostileInputTests(ITestOutputHelper log)
{
    static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    /// <summary>Compiles with a time bound and checks the result's contract; returns it.</summary>
    static CompileResult Check(byte[] bytes, string file = "hostile.onnx", ModelOptions? options = null, bool compileSource = false)
    {
        // a thread of its own: a pool task can wait behind the parallel test classes' work (a 2-core machine timed out
        // queueing), and the bound is on the compilation
        CompileResult r = null!;
        Exception? thrown = null;
        var thread = new Thread(() =>
        {
            try { r = ModelCompiler.Compile(bytes, file, options ?? new ModelOptions()); }
            catch (Exception e) { thrown = e; }
        }) { IsBackground = true };
        thread.Start();
        Assert.True(thread.Join(Bound), $"{file}: compilation did not finish within {Bound.TotalSeconds} s");
        Assert.Null(thrown);
        if (r.Success)
        {
            Assert.DoesNotContain(r.Diagnostics, d => d.Kind.Severity == DiagSeverity.Error);
            if (compileSource)
            {
                if ((options?.Target ?? TargetProfile.Net) == TargetProfile.Net) Harness.CompileNet(new[] { r.Source! });
                else Assert.Empty(Harness.CompileNano(r.Source!));
            }
            return r;
        }
        var errors = r.Diagnostics.Where(d => d.Kind.Severity == DiagSeverity.Error).ToList();
        Assert.True(errors.Count > 0, $"{file}: failed without an error diagnostic");
        foreach (var e in errors)
        {
            Assert.Matches(@"^MG\d{4}$", e.Kind.Id);
            Assert.True(e.Kind.Id != Diag.InternalError.Id, $"{file}: internal error (a generator bug): {e}");
            Assert.StartsWith(Path.GetFileName(file) + ": ", e.Message);
        }
        return r;
    }

    static Diagnostic Fails(byte[] bytes, string id, string file = "hostile.onnx", ModelOptions? options = null)
    {
        var r = Check(bytes, file, options);
        Assert.False(r.Success, $"{file}: expected {id}, but it compiled");
        var d = r.Diagnostics.First(x => x.Kind.Severity == DiagSeverity.Error);
        Assert.True(d.Kind.Id == id, $"{file}: expected {id}, got {d}");
        return d;
    }

    static OnnxBuilder Tiny() => new OnnxBuilder().Input("x", DType.Float, 1, 4);

    // ---------- not a model ----------

    [Fact]
    public void EmptyFile() => Fails(Array.Empty<byte>(), "MG0001", "empty.onnx");

    [Fact]
    public void NotOnnxBytes()
    {
        var rng = new Random(7);
        var random = new byte[4096];
        rng.NextBytes(random);
        var inputs = new Dictionary<string, byte[]>
        {
            ["text.onnx"] = System.Text.Encoding.UTF8.GetBytes("this is not a model\n"),
            ["png.onnx"] = new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52 },
            ["zip.onnx"] = new byte[] { 0x50, 0x4B, 0x03, 0x04, 20, 0, 0, 0, 8, 0 },
            ["random.onnx"] = random,
            ["zeros.onnx"] = new byte[1000],
            ["ones.onnx"] = Enumerable.Repeat((byte)0xFF, 1000).ToArray(),
            ["json.onnx"] = System.Text.Encoding.UTF8.GetBytes("{\"graph\": {\"node\": []}}"),
        };
        foreach (var (file, bytes) in inputs)
        {
            var r = Check(bytes, file);
            Assert.False(r.Success, file + " compiled");
            log.WriteLine(string.Join("; ", r.Diagnostics));
        }
    }

    // ---------- truncation and corruption ----------

    [Fact]
    public void EveryPrefixOfASmallModel()
    {
        foreach (var (file, model) in TestModels.All())
        {
            int ok = 0;
            for (int n = 0; n < model.Length; n++)
                if (Check(model.AsSpan(0, n).ToArray(), file).Success) ok++;
            log.WriteLine($"{file}: {model.Length} prefixes, {ok} compiled");
        }
    }

    [Fact]
    public void RandomCutsOfAlexa()
    {
        var model = File.ReadAllBytes(Models.Alexa);
        var rng = new Random(11);
        var cuts = Enumerable.Range(0, 24).Select(_ => rng.Next(model.Length)).Concat(new[] { 1, 16, 100, model.Length - 1, model.Length - 7 });
        foreach (var n in cuts)
        {
            var r = Check(model.AsSpan(0, n).ToArray(), "alexa_v0.1.onnx");
            Assert.False(r.Success, $"alexa cut at {n} of {model.Length} bytes compiled");
        }
    }

    [Fact]
    public void RandomByteMutations()
    {
        int compiled = 0, checkedSources = 0;
        var seen = new HashSet<string>();
        foreach (var (file, model) in TestModels.All().Append(("big_constants.onnx", PortableProfileTests.BigConstants())))
        {
            var rng = new Random(1234 + file.Length);
            int count = file.StartsWith("big") ? 40 : 150;
            for (int k = 0; k < count; k++)
            {
                var m = (byte[])model.Clone();
                int edits = 1 + rng.Next(4);
                for (int e = 0; e < edits; e++)
                {
                    int at = rng.Next(m.Length);
                    m[at] = rng.Next(3) switch { 0 => (byte)rng.Next(256), 1 => (byte)(m[at] ^ (1 << rng.Next(8))), _ => (byte)(m[at] + 1) };
                }
                var target = k % 3 == 0 ? TargetProfile.Portable : TargetProfile.Net;
                var r = Check(m, file, new ModelOptions { Target = target });
                if (!r.Success) continue;
                compiled++;
                // a mutated model that compiles must still give valid C# (checked for a sample of distinct sources)
                if (checkedSources < 25 && seen.Add(r.Source!))
                {
                    checkedSources++;
                    if (target == TargetProfile.Net) Harness.CompileNet(new[] { r.Source! });
                    else Assert.Empty(Harness.CompileNano(r.Source!));
                }
            }
        }
        log.WriteLine($"{compiled} mutants compiled, {checkedSources} of their sources checked");
    }

    [Fact]
    public void RandomByteMutationsOfAlexa()
    {
        var model = File.ReadAllBytes(Models.Alexa);
        var rng = new Random(99);
        for (int k = 0; k < 12; k++)
        {
            var m = (byte[])model.Clone();
            // mostly in the first 4 KB (graph structure); weights are further on
            for (int e = 0; e < 3; e++) m[rng.Next(k % 2 == 0 ? 4096 : m.Length)] = (byte)rng.Next(256);
            Check(m, "alexa_v0.1.onnx");
        }
    }

    // ---------- sizes ----------

    [Fact]
    public void HugeDeclaredDimensions()
    {
        var d = Fails(new OnnxBuilder().Input("x", DType.Float, 1 << 30, 1 << 30).Node("Relu", new[] { "x" }, new[] { "y" }).Output("y").Build(), "MG0007");
        Assert.Contains("'x'", d.Message);

        // beyond int: not "symbolic", too large
        var m = Tiny().Node("Relu", new[] { "x" }, new[] { "y" }).Output("y");
        m.Proto.Graph.Input[0].Type.TensorType.Shape.Dim[1].DimValue = 1L << 40;
        d = Fails(m.Build(), "MG0007");
        Assert.Contains("'x'", d.Message);

        // an initializer declaring a huge shape with (almost) no data
        var big = new TensorProto { Name = "w", DataType = (int)DType.Float, RawData = ByteString.CopyFrom(new byte[16]) };
        big.Dims.AddRange(new long[] { 1 << 20, 1 << 20 });
        var b = Tiny().Node("Add", new[] { "x", "w" }, new[] { "y" }).Output("y");
        b.Proto.Graph.Initializer.Add(big);
        Fails(b.Build(), "MG0007");

        // a plausible size whose data is missing
        var half = new TensorProto { Name = "w", DataType = (int)DType.Float, RawData = ByteString.CopyFrom(new byte[16]) };
        half.Dims.AddRange(new long[] { 1000, 4 });
        b = Tiny().Node("Add", new[] { "x", "w" }, new[] { "y" }).Output("y");
        b.Proto.Graph.Initializer.Add(half);
        d = Fails(b.Build(), "MG0001");
        Assert.Contains("'w'", d.Message);

        var neg = new TensorProto { Name = "w", DataType = (int)DType.Float };
        neg.Dims.AddRange(new long[] { -3, 4 });
        b = Tiny().Node("Add", new[] { "x", "w" }, new[] { "y" }).Output("y");
        b.Proto.Graph.Initializer.Add(neg);
        Fails(b.Build(), "MG0001");

        // an InputShape that is too large
        Fails(new OnnxBuilder().SymbolicInput("x", DType.Float, "n", "m").Node("Relu", new[] { "x" }, new[] { "y" }).Output("y").Build(), "MG0007",
            options: new ModelOptions { InputShape = "100000,100000" });
    }

    [Fact]
    public void ArenaLargerThanTwoGigabytes()
    {
        // three live float tensors of 2^28 elements (1 GiB each) built from small constants: the arena cannot be addressed
        var b = Tiny()
            .Initializer("r", new[] { 16384, 1 }, new float[16384]).Initializer("c", new[] { 1, 16384 }, new float[16384])
            .Node("Add", new[] { "r", "c" }, new[] { "t1" })
            .Node("Mul", new[] { "t1", "t1" }, new[] { "t2" })
            .Node("Add", new[] { "t1", "t2" }, new[] { "t3" })
            .Node("Add", new[] { "t3", "t1" }, new[] { "y" })
            .Output("y");
        var r = Check(b.Build());
        if (r.Success) Assert.True(r.ArenaBytes > 0, $"arena overflowed to {r.ArenaBytes}");
        else Assert.Equal("MG0007", r.Diagnostics[0].Kind.Id);
    }

    [Fact]
    public void ZeroSizedTensors()
    {
        foreach (var target in new[] { TargetProfile.Net, TargetProfile.Portable })
        {
            var m = new OnnxBuilder().Input("x", DType.Float, 0, 4).Input("z", DType.Float, 0, 4)
                .Node("Add", new[] { "x", "z" }, new[] { "s" }).Node("Relu", new[] { "s" }, new[] { "y" }).Output("y").Build();
            Check(m, options: new ModelOptions { Target = target }, compileSource: true);
            var sym = new OnnxBuilder().SymbolicInput("x", DType.Float, "n", 4).Node("Sigmoid", new[] { "x" }, new[] { "y" }).Output("y").Build();
            Check(sym, options: new ModelOptions { Target = target, InputShape = "0,4" }, compileSource: true);
        }
    }

    // ---------- graph structure ----------

    static GraphProto IfBranch(string name, string input, string output, int depth, string cond)
    {
        var g = new GraphProto { Name = name };
        if (depth == 0)
            g.Node.Add(new NodeProto { OpType = "Relu", Name = name + "_relu", Input = { input }, Output = { output } });
        else
        {
            var n = new NodeProto { OpType = "If", Name = name + "_if", Input = { cond }, Output = { output } };
            n.Attribute.Add(OnnxBuilder.Attr("then_branch", IfBranch(name + "t", input, output + "t", depth - 1, cond)));
            n.Attribute.Add(OnnxBuilder.Attr("else_branch", IfBranch(name + "e", input, output + "e", 0, cond)));
            g.Node.Add(n);
        }
        g.Output.Add(new ValueInfoProto { Name = output, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DType.Float } } });
        return g;
    }

    static byte[] NestedIf(int depth)
    {
        var b = new OnnxBuilder().Input("x", DType.Float, 1, 4).Input("c", DType.Bool, 1);
        b.Node("If", new[] { "c" }, new[] { "y" }, ("then_branch", IfBranch("b", "x", "yt", depth - 1, "c")), ("else_branch", IfBranch("e", "x", "ye", 0, "c")));
        return b.Output("y").Build();
    }

    [Fact]
    public void DeeplyNestedIfSubgraphs()
    {
        // moderately nested run-time Ifs compile, to C# that compiles, and compute what ONNX Runtime computes
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var m = NestedIf(8);
        Check(m, "nested8.onnx", compileSource: true);
        log.WriteLine($"depth 8 compiled: {sw.ElapsedMilliseconds} ms");
        foreach (var c in new[] { true, false }) OpCheck.AgainstOrt(m, Ort.Random(4, 3), new[] { c });
        log.WriteLine($"depth 8 checked against ORT: {sw.ElapsedMilliseconds} ms");
        // absurd nesting: rejected (protobuf's recursion limit), without a stack overflow
        foreach (var depth in new[] { 40, 200 }) // (deeper ones take protobuf minutes to serialise, not us to reject)
        {
            var bytes = NestedIf(depth);
            log.WriteLine($"depth {depth} built: {sw.ElapsedMilliseconds} ms");
            var r = Check(bytes, $"nested{depth}.onnx");
            log.WriteLine($"depth {depth}: {(r.Success ? "compiled" : r.Diagnostics[0].ToString())}");
        }
    }

    [Fact]
    public void NodeReadingAnUndefinedTensor()
    {
        var d = Fails(Tiny().Node("Relu", new[] { "nowhere" }, new[] { "y" }).Output("y").Build(), "MG0006");
        Assert.Contains("'nowhere'", d.Message);
        Assert.Contains("Relu_0", d.Message);
        // a graph output nothing produces
        d = Fails(Tiny().Node("Relu", new[] { "x" }, new[] { "y" }).Output("ghost").Build(), "MG0006");
        Assert.Contains("'ghost'", d.Message);
    }

    [Fact]
    public void CyclicAndUnsortedGraphs()
    {
        var cyclic = Tiny()
            .Node("Add", new[] { "x", "b" }, new[] { "a" })
            .Node("Relu", new[] { "a" }, new[] { "b" })
            .Output("b").Build();
        var d = Fails(cyclic, "MG0006");
        Assert.Contains("Add_0", d.Message);
        var self = Tiny().Node("Add", new[] { "x", "y" }, new[] { "y" }).Output("y").Build();
        Fails(self, "MG0006");
        var unsorted = Tiny()
            .Node("Sigmoid", new[] { "h" }, new[] { "y" })
            .Node("Relu", new[] { "x" }, new[] { "h" })
            .Output("y").Build();
        d = Fails(unsorted, "MG0006");
        Assert.Contains("Sigmoid_0", d.Message);
        Assert.Contains("topological", d.Message);
    }

    [Fact]
    public void ReusedNamesAndPassThroughOutputs()
    {
        // a node output shadowing a graph input (not SSA), two nodes writing one name, an output that is an input
        Check(Tiny().Node("Relu", new[] { "x" }, new[] { "x" }).Output("x").Build(), compileSource: true);
        Check(Tiny().Node("Relu", new[] { "x" }, new[] { "y" }).Node("Sigmoid", new[] { "x" }, new[] { "y" }).Output("y").Build(), compileSource: true);
        foreach (var target in new[] { TargetProfile.Net, TargetProfile.Portable })
        {
            Check(Tiny().Output("x").Build(), options: new ModelOptions { Target = target }, compileSource: true);
            Check(Tiny().Node("Relu", new[] { "x" }, new[] { "y" }).Output("y").Output("y").Output("x").Build(), options: new ModelOptions { Target = target }, compileSource: true);
        }
        // a graph with nothing at all
        Check(new OnnxBuilder().Build(), "nothing.onnx");
    }

    [Fact]
    public void NamesThatCollideWithGeneratedCodeOrBreakComments()
    {
        // tensor names are free text in ONNX: keywords, generated identifiers, newlines, comment and string terminators
        var names = new[]
        {
            "class", "int", "Predict", "scratch", "t_scratch", "arena_float", "ArenaBytes", "WeightBytes", "Macs", "i0", "acc0",
            "Const_w", "s_lock", "MgExp", "JoinFloat", "XLength", "value", "y\nclass Evil {}", "a\r\nb", "p\u2028q", "r\u0085s",
            "*/ bad /*", "quote\"d", "back\\slash", "</summary>", "日本語", "", "_", "__", "1x",
        };
        foreach (var target in new[] { TargetProfile.Net, TargetProfile.Portable })
            for (int i = 0; i < names.Length; i++)
            {
                var n = names[i];
                var other = names[(i + 1) % names.Length];
                var m = new OnnxBuilder().Input(n.Length == 0 ? "in" : n, DType.Float, 1, 4)
                    .Initializer("w" + other, new[] { 4 }, new[] { 1f, 2f, 3f, 4f })
                    .Node("Add", new[] { n.Length == 0 ? "in" : n, "w" + other }, new[] { other + "_sum" })
                    .Node("Relu", new[] { other + "_sum" }, new[] { "XLength" == n ? "out" : n + "_out" })
                    .Output("XLength" == n ? "out" : n + "_out");
                m.Proto.Graph.Node[0].Name = n; // node names reach comments too
                m.Proto.DocString = "doc " + n;
                m.Proto.ProducerName = n;
                var r = Check(m.Build(), "names.onnx", new ModelOptions { Target = target }, compileSource: true);
                Assert.True(r.Success, $"name '{n}' ({target}): {string.Join("; ", r.Diagnostics)}");
                Assert.DoesNotContain("class Evil", r.Source!.Split('\n').Where(l => !l.TrimStart().StartsWith("//")));
            }
    }

    // ---------- types and data ----------

    [Fact]
    public void StringTensors()
    {
        var s = new OnnxBuilder().Input("text", DType.String, 1).Node("Identity", new[] { "text" }, new[] { "y" }).Output("y", DType.String).Build();
        var d = Fails(s, "MG0004");
        Assert.Contains("'text'", d.Message);

        var init = new TensorProto { Name = "vocab", DataType = (int)DType.String };
        init.Dims.Add(2);
        init.StringData.Add(ByteString.CopyFromUtf8("a"));
        init.StringData.Add(ByteString.CopyFromUtf8("b"));
        var b = Tiny().Node("Identity", new[] { "vocab" }, new[] { "y" }).Output("y", DType.String);
        b.Proto.Graph.Initializer.Add(init);
        d = Fails(b.Build(), "MG0004");
        Assert.Contains("'vocab'", d.Message);

        var c = Tiny().Node("Constant", Array.Empty<string>(), new[] { "y" }, ("value_string", "hello")).Output("y", DType.String).Build();
        Fails(c, "MG0004");
    }

    [Fact]
    public void OtherUnsupportedTypes()
    {
        foreach (var t in new[] { DType.Undefined, (DType)16 /* bfloat16 */, (DType)14 /* complex64 */, (DType)17, (DType)999, (DType)(-5) })
        {
            var m = new OnnxBuilder().Input("x", t, 1, 4).Node("Relu", new[] { "x" }, new[] { "y" }).Output("y").Build();
            Fails(m, "MG0004");
        }
        // a sequence input
        var seq = Tiny();
        seq.Proto.Graph.Input.Add(new ValueInfoProto { Name = "s", Type = new TypeProto { SequenceType = new TypeProto.Types.Sequence() } });
        Fails(seq.Node("Relu", new[] { "x" }, new[] { "y" }).Output("y").Build(), "MG0004");
    }

    [Fact]
    public void ExternalDataInitializers()
    {
        var t = new TensorProto { Name = "w", DataType = (int)DType.Float, DataLocation = TensorProto.Types.DataLocation.External };
        t.Dims.AddRange(new long[] { 4 });
        t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "../../etc/passwd" });
        t.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "0" });
        var b = Tiny().Node("Add", new[] { "x", "w" }, new[] { "y" }).Output("y");
        b.Proto.Graph.Initializer.Add(t);
        var d = Fails(b.Build(), "MG0005");
        Assert.Contains("'w'", d.Message);
    }

    [Fact]
    public void UnsupportedOperatorsAndDomains()
    {
        var d = Fails(Tiny().Node("Frobnicate", new[] { "x" }, new[] { "y" }).Output("y").Build(), "MG0002");
        Assert.Contains("Frobnicate", d.Message);
        Assert.Contains("'Frobnicate_0'", d.Message);

        var custom = Tiny().Node("FusedThing", new[] { "x" }, new[] { "y" }).Output("y");
        custom.Proto.Graph.Node[0].Domain = "com.example";
        d = Fails(custom.Build(), "MG0002");
        Assert.Contains("com.example", d.Message);
        custom.Proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.example", Version = 1 });
        d = Fails(custom.Build(), "MG0002");
        Assert.Contains("FusedThing", d.Message);

        // an unknown op inside an If branch is reported with its node
        var branch = TestModels.Branch("then_g", new NodeProto { OpType = "Teleport", Name = "deep_node", Input = { "x" }, Output = { "t" } }, "t");
        var iff = new OnnxBuilder().Input("x", DType.Float, 1, 4).Input("c", DType.Bool, 1)
            .Node("If", new[] { "c" }, new[] { "y" }, ("then_branch", branch), ("else_branch", branch)).Output("y").Build();
        d = Fails(iff, "MG0002");
        Assert.Contains("'deep_node'", d.Message);

        // attributes referring to function parameters, missing required attributes
        var refAttr = Tiny().Node("LeakyRelu", new[] { "x" }, new[] { "y" }).Output("y");
        refAttr.Proto.Graph.Node[0].Attribute.Add(new AttributeProto { Name = "alpha", RefAttrName = "a", Type = AttributeProto.Types.AttributeType.Float });
        d = Fails(refAttr.Build(), "MG0006");
        Assert.Contains("LeakyRelu_0", d.Message);
        Check(Tiny().Node("If", new[] { "x" }, new[] { "y" }).Output("y").Build());
        Check(Tiny().Node("Gemm", new[] { "x" }, new[] { "y" }).Output("y").Build());
        Check(Tiny().Node("Relu", new[] { "x", "x", "x" }, new[] { "y" }).Output("y").Build());
        Check(Tiny().Node("Relu", new[] { "x" }, Array.Empty<string>()).Output("x").Build());
    }

    [Fact]
    public void OpsetsOutOfRange()
    {
        foreach (var v in new[] { 0L, -1L, 1L, 999L, long.MaxValue })
        {
            var b = new OnnxBuilder((int)Math.Clamp(v, int.MinValue, int.MaxValue)).Input("x", DType.Float, 1, 4).Node("Relu", new[] { "x" }, new[] { "y" }).Output("y");
            b.Proto.OpsetImport[0].Version = v;
            Check(b.Build(), $"opset{v}.onnx");
        }
        var none = Tiny().Node("Relu", new[] { "x" }, new[] { "y" }).Output("y");
        none.Proto.OpsetImport.Clear();
        Check(none.Build(), "noopset.onnx");
    }

    // ---------- options ----------

    [Fact]
    public void UnresolvedSymbolicDimension()
    {
        // a symbolic dimension after the leading (batch) one
        var m = new OnnxBuilder().SymbolicInput("input_audio", DType.Float, 1, "frames", 96).Node("Relu", new[] { "input_audio" }, new[] { "y" }).Output("y").Build();
        var d = Fails(m, "MG0003", "wake.onnx");
        Assert.Contains("'input_audio'", d.Message);
        Assert.Contains("InputShape=\"1,1,96\"", d.Message);
        Assert.Contains("'frames'", d.Message);
        // the suggestion works
        Check(m, "wake.onnx", new ModelOptions { InputShape = "1,16,96" }, compileSource: true);
        // an input with no shape at all
        var noShape = new OnnxBuilder().Input("x", DType.Float, 1, 4).Node("Relu", new[] { "x" }, new[] { "y" }).Output("y");
        noShape.Proto.Graph.Input[0].Type.TensorType.Shape = null;
        d = Fails(noShape.Build(), "MG0003");
        Assert.Contains("'x'", d.Message);
        Assert.Contains("InputShape", d.Message);
    }

    [Fact]
    public void BadInputShapeOptions()
    {
        var one = new OnnxBuilder().SymbolicInput("x", DType.Float, "n", 4).Node("Relu", new[] { "x" }, new[] { "y" }).Output("y").Build();
        var two = new OnnxBuilder().SymbolicInput("a", DType.Float, "n", 4).SymbolicInput("b", DType.Float, "n", 4)
            .Node("Add", new[] { "a", "b" }, new[] { "y" }).Output("y").Build();
        var bad = new (byte[] Model, string Text)[]
        {
            (one, "abc"), (one, "1,-2"), (one, "1,4,5"), (one, "2,5"), (one, "x=1,4;x=1,4"), (one, "y=1,4"), (one, "99999999999,4"),
            (one, "1.5,4"), (one, "x="), (one, "=1,4;=1,4"), (one, ";;;x"), (one, "x=1,4=5"), (one, "0x10,4"), (one, "１,４"),
            (two, "1,4"), (two, "a=1,4"), (two, "a=1,4;b=2,4;c=1,1"), (one, "\0"), (one, new string('9', 10000)), (one, string.Join(",", Enumerable.Repeat("1", 5000))),
        };
        foreach (var (model, text) in bad)
        {
            var r = Check(model, "shape.onnx", new ModelOptions { InputShape = text }, compileSource: true);
            log.WriteLine($"InputShape '{(text.Length > 40 ? text[..40] + "..." : text)}': {(r.Success ? "compiled" : r.Diagnostics[0].ToString())}");
            if (!r.Success) Assert.Contains(r.Diagnostics[0].Kind.Id, new[] { "MG0003", "MG0007", "MG0008" });
        }
        // these are good and must compile
        foreach (var (model, text) in new[] { (one, "1,4"), (one, "x=2,4"), (one, " 1 , 4 ; "), (one, "1x4"), (two, "a=1,4;b=1,4") })
            Assert.True(Check(model, "shape.onnx", new ModelOptions { InputShape = text }, compileSource: true).Success, $"InputShape '{text}' rejected");
    }

    [Fact]
    public void BadClassNameAndNamespaceOptions()
    {
        var m = TestModels.TinyMlp();
        foreach (var cls in new[] { "class", "int", "1abc", "a-b", "a b", "Predict", "ArenaBytes", "WeightBytes", "Macs", "YLength", "System", "Math", "MathF", "Span", "Array", "MemoryMarshal", "ArgumentException", "ModelGen", "@x", "\n", new string('A', 5000) })
        {
            var r = Check(m, "tiny_mlp.onnx", new ModelOptions { ClassName = cls }, compileSource: true);
            log.WriteLine($"ClassName '{cls[..Math.Min(cls.Length, 20)]}': {(r.Success ? "compiled" : r.Diagnostics[0].ToString()[..Math.Min(r.Diagnostics[0].ToString().Length, 120)])}");
        }
        foreach (var ns in new[] { "a..b", ".a", "a.", "class", "My.int.X", "global::X", "System", "A.B.C", "1a", "ModelGen.Runtime", "App.ModelGen", "App.System", "\u2028" })
        {
            var r = Check(m, "tiny_mlp.onnx", new ModelOptions { Namespace = ns }, compileSource: true);
            log.WriteLine($"Namespace '{ns}': {(r.Success ? "compiled" : r.Diagnostics[0].ToString())}");
        }
        foreach (var passes in new[] { "all", "NoSuchPass", ",,,", "DeadNodeElimination" })
            Check(m, "tiny_mlp.onnx", new ModelOptions { DisabledPasses = passes }, compileSource: true);
        // a file name that is not a C# identifier gives a class name that is one
        foreach (var file in new[] { "123.onnx", "-.onnx", "class.onnx", "a b\nc.onnx", ".onnx" })
            Check(m, file, new ModelOptions(), compileSource: true);
    }

    [Fact]
    public void NullAndOddArguments()
    {
        Check(null!, "null.onnx");
        var r = ModelCompiler.Compile(TestModels.TinyMlp(), null!, new ModelOptions());
        Assert.True(r.Success, string.Join("; ", r.Diagnostics));
        r = ModelCompiler.Compile(TestModels.TinyMlp(), "x.onnx", new ModelOptions { ClassName = null!, Namespace = null!, InputShape = null!, DisabledPasses = null! });
        Assert.True(r.Success, string.Join("; ", r.Diagnostics));
        r = ModelCompiler.Compile(TestModels.TinyMlp(), "x.onnx", null!); // null options are the defaults
        Assert.True(r.Success, string.Join("; ", r.Diagnostics));
    }
}
