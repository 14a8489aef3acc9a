using Google.Protobuf;
using ModelGen.Compiler;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Onnx.Proto;
using Xunit;

namespace ModelGen.Tests;

/// <summary>LSTM, GRU and RNN against ONNX Runtime (both profiles), the ONNX backend node cases, and streaming state.</summary>
public class RecurrentOperatorTests
{
    const double Tol = 1e-4;

    /// <summary>One recurrent node: which optional parts it has, and its attributes.</summary>
    sealed record Case(string Op)
    {
        public int Seq { get; init; } = 3;
        public int Batch { get; init; } = 2;
        public int Input { get; init; } = 4;
        public int Hidden { get; init; } = 5;
        public string Direction { get; init; } = "forward";
        public bool Bias { get; init; } = true;
        public bool SeqLens { get; init; }
        public bool InitH { get; init; }
        public bool InitC { get; init; }
        public bool Peepholes { get; init; }
        public float? Clip { get; init; }
        public string[]? Activations { get; init; }
        public float[]? Alpha { get; init; }
        public float[]? Beta { get; init; }
        public int InputForget { get; init; }
        public int? LinearBeforeReset { get; init; }
        public int Layout { get; init; }
        public int Opset { get; init; } = 14;
        /// <summary>Which outputs exist ("" = omitted but later ones present).</summary>
        public string[] Outputs { get; init; } = Array.Empty<string>();
        /// <summary>W, R, B as graph inputs rather than initializers.</summary>
        public bool WeightsAsInputs { get; init; }
        public int[]? Lens { get; init; }
        public bool HiddenSizeAttr { get; init; } = true;

        public int Dirs => Direction == "bidirectional" ? 2 : 1;
        public int Gates => Op switch { "LSTM" => 4, "GRU" => 3, _ => 1 };
        public string[] Outs => Outputs.Length > 0 ? Outputs : Op == "LSTM" ? new[] { "Y", "Y_h", "Y_c" } : new[] { "Y", "Y_h" };
    }

    static int[] XShape(Case c, int layout) => layout == 0 ? new[] { c.Seq, c.Batch, c.Input } : new[] { c.Batch, c.Seq, c.Input };
    static int[] StateShape(Case c, int layout) => layout == 0 ? new[] { c.Dirs, c.Batch, c.Hidden } : new[] { c.Batch, c.Dirs, c.Hidden };

    /// <summary>
    /// The model: X (and sequence_lens, initial_h, initial_c) as graph inputs, weights as initializers (or inputs).
    /// With <paramref name="emulateLayout1"/> the node itself uses layout 0 and Transposes around it present the
    /// layout-1 interface (ONNX Runtime's CPU kernels reject layout 1).
    /// </summary>
    static byte[] Build(Case c, bool emulateLayout1 = false, DType type = DType.Float)
    {
        var b = new OnnxBuilder(c.Opset);
        int D = c.Dirs, H = c.Hidden, G = c.Gates;
        bool emu = emulateLayout1 && c.Layout == 1;
        int nodeLayout = emu ? 0 : c.Layout;
        var inputs = new List<string>();
        b.Input("X", type, XShape(c, c.Layout));
        string x = "X";
        if (emu) { b.Node("Transpose", new[] { "X" }, new[] { "X0" }, ("perm", new long[] { 1, 0, 2 })); x = "X0"; }
        void Weight(string name, int[] shape, int seed, float scale)
        {
            var data = Ort.Random(shape.Aggregate(1, (p, d) => p * d), seed, scale);
            if (c.WeightsAsInputs && name != "P") { b.Input(name, type, shape); return; }
            var t = new TensorProto { Name = name, DataType = (int)type };
            t.Dims.AddRange(shape.Select(d => (long)d));
            if (type == DType.Double) t.DoubleData.AddRange(data.Select(v => (double)v)); else t.FloatData.AddRange(data);
            b.Proto.Graph.Initializer.Add(t);
        }
        Weight("W", new[] { D, G * H, c.Input }, 11, 0.6f);
        Weight("R", new[] { D, G * H, H }, 12, 0.6f);
        if (c.Bias) Weight("B", new[] { D, 2 * G * H }, 13, 0.5f);
        inputs.AddRange(new[] { x, "W", "R", c.Bias ? "B" : "" });
        if (c.SeqLens) { b.Input("sequence_lens", DType.Int32, c.Batch); inputs.Add("sequence_lens"); } else inputs.Add("");
        string State(string name)
        {
            b.Input(name, type, StateShape(c, c.Layout));
            if (!emu) return name;
            b.Node("Transpose", new[] { name }, new[] { name + "0" }, ("perm", new long[] { 1, 0, 2 }));
            return name + "0";
        }
        inputs.Add(c.InitH ? State("initial_h") : "");
        if (c.Op == "LSTM")
        {
            inputs.Add(c.InitC ? State("initial_c") : "");
            if (c.Peepholes) Weight("P", new[] { D, 3 * H }, 14, 0.5f);
            inputs.Add(c.Peepholes ? "P" : "");
        }
        while (inputs[^1] == "") inputs.RemoveAt(inputs.Count - 1);
        var attrs = new List<(string, object)> { ("direction", c.Direction) };
        if (c.HiddenSizeAttr) attrs.Add(("hidden_size", (long)H));
        if (c.Clip is float clip) attrs.Add(("clip", clip));
        if (c.Alpha != null) attrs.Add(("activation_alpha", c.Alpha));
        if (c.Beta != null) attrs.Add(("activation_beta", c.Beta));
        if (c.Op == "LSTM" && c.InputForget != 0) attrs.Add(("input_forget", (long)c.InputForget));
        if (c.Op == "GRU" && c.LinearBeforeReset is int lbr) attrs.Add(("linear_before_reset", (long)lbr));
        if (nodeLayout != 0) attrs.Add(("layout", (long)nodeLayout));
        var outs = c.Outs.Select(o => o == "" ? "" : emu ? o + "0" : o).ToArray();
        b.Node(c.Op, inputs.ToArray(), outs, attrs.ToArray());
        if (c.Activations != null) b.Proto.Graph.Node[^1].Attribute.Add(Strings("activations", c.Activations));
        foreach (var o in c.Outs.Where(o => o != ""))
        {
            if (emu) b.Node("Transpose", new[] { o + "0" }, new[] { o }, ("perm", o == "Y" ? new long[] { 2, 0, 1, 3 } : new long[] { 1, 0, 2 }));
            b.Output(o, type);
        }
        return b.Build();
    }

    static AttributeProto Strings(string name, string[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Strings };
        a.Strings.AddRange(values.Select(ByteString.CopyFromUtf8));
        return a;
    }

    static Array[] Inputs(Case c, DType type = DType.Float)
    {
        var r = new List<Array>();
        Array F(float[] v) => type == DType.Double ? v.Select(x => (double)x).ToArray() : v;
        r.Add(F(Ort.Random(c.Seq * c.Batch * c.Input, 1, 1.5f)));
        if (c.WeightsAsInputs)
        {
            int D = c.Dirs, H = c.Hidden, G = c.Gates;
            r.Add(F(Ort.Random(D * G * H * c.Input, 11, 0.6f)));
            r.Add(F(Ort.Random(D * G * H * H, 12, 0.6f)));
            if (c.Bias) r.Add(F(Ort.Random(D * 2 * G * H, 13, 0.5f)));
        }
        if (c.SeqLens) r.Add(c.Lens ?? Enumerable.Range(0, c.Batch).Select(i => Math.Max(1, c.Seq - i)).ToArray());
        int st = c.Dirs * c.Batch * c.Hidden;
        if (c.InitH) r.Add(F(Ort.Random(st, 2, 0.8f)));
        if (c.Op == "LSTM" && c.InitC) r.Add(F(Ort.Random(st, 3, 0.8f)));
        return r.ToArray();
    }

    /// <summary>ModelGen (both profiles) against ONNX Runtime; layout 1 through the transposed layout-0 model.</summary>
    static void Check(Case c)
    {
        var inputs = Inputs(c);
        if (c.Layout == 0 && c.HiddenSizeAttr)
        {
            OpCheck.AgainstOrt(Build(c), Tol, inputs);
            return;
        }
        // ONNX Runtime needs hidden_size and rejects layout 1: it runs the equivalent model
        var expected = OpCheck.RunOrt(Build(c with { HiddenSizeAttr = true }, emulateLayout1: true), inputs);
        var model = Build(c);
        foreach (var target in new[] { TargetProfile.Net, TargetProfile.Portable })
        {
            var actual = OpCheck.RunModelGen(model, target, inputs, expected.Select(e => e.Length).ToArray(), expected.Select(e => e.GetType().GetElementType()!).ToArray());
            for (int k = 0; k < expected.Length; k++) OpCheck.AssertClose(expected[k], actual[k], Tol, $"{target} output {k}");
        }
    }

    // ---------- LSTM ----------

    [Fact] public void LstmForwardDefaults() => Check(new Case("LSTM") { Bias = false, Opset = 7 });
    [Fact] public void LstmForwardAllInputs() => Check(new Case("LSTM") { InitH = true, InitC = true, Peepholes = true });
    [Fact] public void LstmReverseWithStates() => Check(new Case("LSTM") { Direction = "reverse", InitH = true, InitC = true, Peepholes = true });
    [Fact] public void LstmBidirectional() => Check(new Case("LSTM") { Direction = "bidirectional", InitH = true, InitC = true, Peepholes = true, Batch = 3 });
    [Fact] public void LstmSequenceLensBidirectional() => Check(new Case("LSTM") { Direction = "bidirectional", SeqLens = true, InitH = true, InitC = true, Seq = 4, Batch = 3, Lens = new[] { 4, 2, 1 } });
    [Fact] public void LstmSequenceLensReverseWithZero() => Check(new Case("LSTM") { Direction = "reverse", SeqLens = true, InitH = true, Seq = 4, Batch = 3, Lens = new[] { 3, 0, 4 } });
    [Fact] public void LstmClipAndActivations() => Check(new Case("LSTM")
    {
        Clip = 0.7f, Direction = "bidirectional", InitH = true,
        Activations = new[] { "HardSigmoid", "LeakyRelu", "Softsign", "Sigmoid", "ScaledTanh", "Elu" },
        Alpha = new[] { 0.3f, 0.2f, 1.2f, 0.8f }, Beta = new[] { 0.4f, 0.9f },
    });
    [Fact] public void LstmMoreActivations() => Check(new Case("LSTM")
    {
        Activations = new[] { "Sigmoid", "Affine", "Softplus" }, Alpha = new[] { 0.7f }, Beta = new[] { -0.1f }, Peepholes = true,
    });
    [Fact] public void LstmReluThresholdedRelu() => Check(new Case("LSTM") { Activations = new[] { "Sigmoid", "Relu", "ThresholdedRelu" }, Alpha = new[] { 0.1f } });
    [Fact] public void LstmInputForget() => Check(new Case("LSTM") { InputForget = 1, Peepholes = true, InitC = true });
    [Fact] public void LstmLayout1() => Check(new Case("LSTM") { Layout = 1, Direction = "bidirectional", InitH = true, InitC = true, SeqLens = true, Lens = new[] { 2, 3 } });
    [Fact] public void LstmOnlyYhAndWeightInputs() => Check(new Case("LSTM") { Outputs = new[] { "", "Y_h" }, WeightsAsInputs = true, HiddenSizeAttr = false, Batch = 1, Seq = 5, Input = 3, Hidden = 7 });
    [Fact] public void LstmOnlyY() => Check(new Case("LSTM") { Outputs = new[] { "Y" }, Hidden = 20, Input = 17, Batch = 1 });
    // the runtime's step kernel (default activations, no peepholes): clip, SIMD-wide hidden sizes, a direction without it
    [Fact] public void LstmStepKernelClip() => Check(new Case("LSTM") { Clip = 0.4f, Direction = "bidirectional", InitH = true, InitC = true, Hidden = 21, Input = 9 });
    [Fact] public void LstmStepKernelWide() => Check(new Case("LSTM") { Outputs = new[] { "Y", "Y_h", "Y_c" }, Hidden = 32, Input = 40, Seq = 6, SeqLens = true, Batch = 2, Lens = new[] { 6, 3 } });
    [Fact] public void LstmStepKernelOneDirection() => Check(new Case("LSTM") { Direction = "bidirectional", Activations = new[] { "Sigmoid", "Tanh", "Tanh", "Sigmoid", "Relu", "Tanh" } });

    // ---------- GRU ----------

    [Fact] public void GruForwardDefaults() => Check(new Case("GRU") { Bias = false, Opset = 7 });
    [Fact] public void GruLinearBeforeReset() => Check(new Case("GRU") { LinearBeforeReset = 1, InitH = true });
    [Fact] public void GruLinearBeforeResetZero() => Check(new Case("GRU") { LinearBeforeReset = 0, InitH = true, Direction = "reverse" });
    [Fact] public void GruBidirectionalSequenceLens() => Check(new Case("GRU") { Direction = "bidirectional", SeqLens = true, InitH = true, Seq = 4, Batch = 3, Lens = new[] { 1, 4, 3 }, LinearBeforeReset = 1 });
    [Fact] public void GruSequenceLensWithZero() => Check(new Case("GRU") { SeqLens = true, Seq = 3, Batch = 3, Lens = new[] { 3, 0, 2 } });
    [Fact] public void GruClipAndActivations() => Check(new Case("GRU")
    {
        Clip = 0.5f, Direction = "bidirectional",
        Activations = new[] { "HardSigmoid", "Softsign", "Sigmoid", "LeakyRelu" }, Alpha = new[] { 0.25f, 0.3f }, Beta = new[] { 0.45f },
    });
    [Fact] public void GruLayout1() => Check(new Case("GRU") { Layout = 1, InitH = true, LinearBeforeReset = 1, Direction = "reverse" });
    [Fact] public void GruStepKernelClip() => Check(new Case("GRU") { Clip = 0.3f, LinearBeforeReset = 1, InitH = true, Direction = "bidirectional", Hidden = 19 });
    [Fact] public void GruStepKernelWide() => Check(new Case("GRU") { LinearBeforeReset = 1, Hidden = 64, Input = 48, Seq = 5, Batch = 2, Outputs = new[] { "Y", "Y_h" } });
    [Fact] public void GruStepKernelNoBias() => Check(new Case("GRU") { LinearBeforeReset = 1, Bias = false, Direction = "reverse", Hidden = 16 });
    [Fact] public void GruWeightInputsNoBias() => Check(new Case("GRU") { WeightsAsInputs = true, Bias = false, Outputs = new[] { "Y" }, Hidden = 3, Input = 6 });

    // ---------- RNN ----------

    [Fact] public void RnnForwardDefaults() => Check(new Case("RNN") { Bias = false, Opset = 7 });
    [Fact] public void RnnReverseInitialState() => Check(new Case("RNN") { Direction = "reverse", InitH = true });
    [Fact] public void RnnBidirectionalSequenceLens() => Check(new Case("RNN") { Direction = "bidirectional", InitH = true, SeqLens = true, Seq = 4, Batch = 3, Lens = new[] { 4, 1, 3 } });
    [Fact] public void RnnClipRelu() => Check(new Case("RNN") { Clip = 0.6f, Activations = new[] { "Relu" }, InitH = true });
    [Fact] public void RnnActivationsBidirectional() => Check(new Case("RNN") { Direction = "bidirectional", Activations = new[] { "LeakyRelu", "HardSigmoid" }, Alpha = new[] { 0.2f, 0.3f }, Beta = new[] { 0f, 0.4f } });
    [Fact] public void RnnLayout1() => Check(new Case("RNN") { Layout = 1, Direction = "bidirectional", InitH = true, Batch = 3 });

    [Fact]
    public void RnnMoreActivations()
    {
        foreach (var (act, alpha, beta) in new[] { ("Sigmoid", 0f, 0f), ("Affine", 0.5f, 0.2f), ("ThresholdedRelu", 0.1f, 0f), ("ScaledTanh", 1.3f, 0.7f), ("Elu", 0.9f, 0f), ("Softsign", 0f, 0f), ("Softplus", 0f, 0f) })
            Check(new Case("RNN") { Activations = new[] { act }, Alpha = new[] { alpha }, Beta = new[] { beta }, Batch = 1, Seq = 2 });
    }

    /// <summary>
    /// Two stacked LSTMs: each node's scratch memory is live during that node only, so the two share arena bytes
    /// (and neither overwrites the first layer's Y, which the second reads).
    /// </summary>
    [Fact]
    public void StackedLstmsShareScratch()
    {
        int S = 3, B = 2, I = 4, H = 5;
        var m = new OnnxBuilder(14).Input("X", DType.Float, S, B, I)
            .Initializer("W1", new[] { 1, 4 * H, I }, Ort.Random(4 * H * I, 21, 0.6f)).Initializer("R1", new[] { 1, 4 * H, H }, Ort.Random(4 * H * H, 22, 0.6f))
            .Initializer("W2", new[] { 1, 4 * H, H }, Ort.Random(4 * H * H, 23, 0.6f)).Initializer("R2", new[] { 1, 4 * H, H }, Ort.Random(4 * H * H, 24, 0.6f))
            .Initializer("axes", new[] { 1 }, new long[] { 1 })
            .Node("LSTM", new[] { "X", "W1", "R1" }, new[] { "Y1" }, ("hidden_size", (long)H))
            .Node("Squeeze", new[] { "Y1", "axes" }, new[] { "X2" })
            .Node("LSTM", new[] { "X2", "W2", "R2" }, new[] { "Y", "Y_h" }, ("hidden_size", (long)H))
            .Output("Y").Output("Y_h").Build();
        OpCheck.AgainstOrt(m, Tol, Ort.Random(S * B * I, 5, 1.5f));
        var path = Path.Combine(Path.GetTempPath(), "modelgen-tests", "stacked" + Guid.NewGuid().ToString("N") + ".onnx");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, m);
        try
        {
            var r = Harness.Generate(path, new ModelOptions { Target = TargetProfile.Net, ClassName = "M" });
            int scratch = S * B * 4 * H + 2 * H, y1 = S * B * H;
            Assert.True(r.ArenaBytes < (2 * scratch + y1) * 4, $"arena {r.ArenaBytes} bytes: the two scratch buffers should overlap");
            Assert.True(r.ArenaBytes >= (scratch + y1) * 4, $"arena {r.ArenaBytes} bytes is smaller than one scratch buffer and Y1");
        }
        finally { File.Delete(path); }
    }

    // ---------- double ----------

    /// <summary>ONNX Runtime has no double kernels for these: the double model is checked against the float one.</summary>
    [Theory]
    [InlineData("LSTM")]
    [InlineData("GRU")]
    [InlineData("RNN")]
    public void DoubleMatchesFloatOrt(string op)
    {
        var c = new Case(op) { Direction = "bidirectional", InitH = true, InitC = true, Peepholes = true, SeqLens = true, Seq = 4, Lens = new[] { 4, 2 }, LinearBeforeReset = 1 };
        var expected = OpCheck.RunOrt(Build(c), Inputs(c));
        foreach (var target in new[] { TargetProfile.Net, TargetProfile.Portable })
        {
            var actual = OpCheck.RunModelGen(Build(c, type: DType.Double), target, Inputs(c, DType.Double), expected.Select(e => e.Length).ToArray(), expected.Select(_ => typeof(double)).ToArray());
            for (int k = 0; k < expected.Length; k++) OpCheck.AssertClose(expected[k], actual[k], Tol, $"{target} output {k}");
        }
    }

    // ---------- errors ----------

    [Theory]
    [InlineData("LSTM", 14, "activations", "Swish", "Swish")]
    [InlineData("GRU", 14, "direction", "sideways", "direction")]
    [InlineData("RNN", 14, "clip", "-1", "clip")]
    [InlineData("LSTM", 14, "layout", "2", "layout")]
    [InlineData("GRU", 13, "layout", "0", "opset 14")]
    [InlineData("LSTM", 14, "hidden_size", "7", "W must have shape")]
    [InlineData("GRU", 14, "linear_before_reset", "2", "linear_before_reset")]
    public void BadAttributesAreCompileErrors(string op, int opset, string attr, string value, string message)
    {
        var c = new Case(op) { Opset = opset };
        var m = ModelProto.Parser.ParseFrom(Build(c));
        var node = m.Graph.Node.Single(n => n.OpType == op);
        var a = node.Attribute.FirstOrDefault(x => x.Name == attr);
        if (a != null) node.Attribute.Remove(a);
        node.Attribute.Add(attr switch
        {
            "activations" => Strings(attr, new[] { value, "Tanh", "Tanh" }),
            "clip" => OnnxBuilder.Attr(attr, float.Parse(value)),
            "layout" or "hidden_size" or "linear_before_reset" => OnnxBuilder.Attr(attr, long.Parse(value)),
            _ => OnnxBuilder.Attr(attr, value),
        });
        var path = Path.Combine(Path.GetTempPath(), "modelgen-tests", "bad" + Guid.NewGuid().ToString("N") + ".onnx");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, m.ToByteArray());
        try
        {
            var r = Harness.Generate(path, new ModelOptions { Target = TargetProfile.Net, ClassName = "M" });
            Assert.False(r.Success);
            Assert.Contains(r.Diagnostics, d => d.ToString()!.Contains(message, StringComparison.Ordinal));
        }
        finally { File.Delete(path); }
    }

    // ---------- streaming ----------

    /// <summary>
    /// State stays explicit: running seq_length 4 at once equals two calls of seq_length 2 that carry Y_h/Y_c into
    /// initial_h/initial_c (same compiled model called twice, no state inside it).
    /// </summary>
    [Theory]
    [InlineData("LSTM", TargetProfile.Net)]
    [InlineData("LSTM", TargetProfile.Portable)]
    [InlineData("GRU", TargetProfile.Net)]
    [InlineData("RNN", TargetProfile.Portable)]
    public void StreamingStateAcrossCalls(string op, TargetProfile target)
    {
        var full = new Case(op) { Seq = 4, InitH = true, InitC = true, Peepholes = op == "LSTM", LinearBeforeReset = 1 };
        var half = full with { Seq = 2 };
        bool lstm = op == "LSTM";
        int B = full.Batch, I = full.Input, H = full.Hidden;
        var inputs = Inputs(full);
        var x = (float[])inputs[0];
        var h0 = (float[])inputs[1];
        var c0 = lstm ? (float[])inputs[2] : null;

        // whole sequence, checked against ONNX Runtime too
        var expected = OpCheck.RunOrt(Build(full), inputs);
        var whole = Compile(Build(full), target);
        var y = new float[4 * B * H]; var yh = new float[B * H]; var yc = new float[B * H];
        whole.Run(lstm ? new Array[] { x, h0, c0!, y, yh, yc } : new Array[] { x, h0, y, yh });
        OpCheck.AssertClose(expected[0], y, Tol, "Y (one call)");
        OpCheck.AssertClose(expected[1], yh, Tol, "Y_h (one call)");

        // two calls of two steps on one compiled model, state carried by the caller
        var stream = Compile(Build(half), target);
        var h = h0; var c = c0;
        var ys = new List<float>();
        for (int call = 0; call < 2; call++)
        {
            var xs = x.Skip(call * 2 * B * I).Take(2 * B * I).ToArray();
            var y2 = new float[2 * B * H]; var hOut = new float[B * H]; var cOut = new float[B * H];
            stream.Run(lstm ? new Array[] { xs, h, c!, y2, hOut, cOut } : new Array[] { xs, h, y2, hOut });
            ys.AddRange(y2);
            h = hOut; c = cOut;
        }
        OpCheck.AssertClose(y, ys.ToArray(), 1e-6, "Y (streamed)");
        OpCheck.AssertClose(yh, h, 1e-6, "Y_h (streamed)");
        if (lstm) OpCheck.AssertClose(yc, c!, 1e-6, "Y_c (streamed)");
    }

    static CompiledModel Compile(byte[] model, TargetProfile target)
    {
        var path = Path.Combine(Path.GetTempPath(), "modelgen-tests", "rnn" + Guid.NewGuid().ToString("N") + ".onnx");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, model);
        try
        {
            var r = Harness.Generate(path, new ModelOptions { Target = target, ClassName = "M" });
            Assert.True(r.Success, string.Join("\n", r.Diagnostics));
            if (target == TargetProfile.Portable) Assert.Empty(Harness.CompileNano(r.Source!));
            return CompiledModel.FromSource(r.Source!, "M", "", target);
        }
        finally { File.Delete(path); }
    }

    // ---------- ONNX backend node tests ----------

    const string NodeData = "/usr/share/libonnx-testdata/data/node";

    public static IEnumerable<object[]> BackendCases()
    {
        if (!Directory.Exists(NodeData)) yield break;
        foreach (var d in Directory.GetDirectories(NodeData).Select(Path.GetFileName).OrderBy(x => x, StringComparer.Ordinal))
            if (d!.StartsWith("test_lstm_") || d.StartsWith("test_gru_") || d.StartsWith("test_rnn_") || d.StartsWith("test_simple_rnn_"))
                yield return new object[] { d };
    }

    [Fact]
    public void BackendCasesAreThere() => Assert.True(BackendCases().Count() >= 12, "expected the ONNX backend node tests for LSTM/GRU/RNN under " + NodeData);

    [Theory]
    [MemberData(nameof(BackendCases))]
    public void OnnxBackendNodeTest(string name)
    {
        var dir = Path.Combine(NodeData, name);
        var model = File.ReadAllBytes(Path.Combine(dir, "model.onnx"));
        var data = Path.Combine(dir, "test_data_set_0");
        Array Load(string file)
        {
            var t = TensorProto.Parser.ParseFrom(File.ReadAllBytes(file));
            var td = ModelGen.Compiler.Onnx.TensorReader.Read(t, file);
            return td.Type switch
            {
                DType.Float => td.F,
                DType.Double => td.D,
                DType.Int32 => td.L.Select(v => (int)v).ToArray(),
                DType.Int64 => td.L,
                _ => throw new InvalidOperationException("unexpected type " + td.Type),
            };
        }
        var inputs = Directory.GetFiles(data, "input_*.pb").OrderBy(f => int.Parse(Path.GetFileNameWithoutExtension(f).Substring(6))).Select(Load).ToArray();
        var expected = Directory.GetFiles(data, "output_*.pb").OrderBy(f => int.Parse(Path.GetFileNameWithoutExtension(f).Substring(7))).Select(Load).ToArray();
        foreach (var target in new[] { TargetProfile.Net, TargetProfile.Portable })
        {
            var actual = OpCheck.RunModelGen(model, target, inputs, expected.Select(e => e.Length).ToArray(), expected.Select(e => e.GetType().GetElementType()!).ToArray());
            for (int k = 0; k < expected.Length; k++) OpCheck.AssertClose(expected[k], actual[k], 1e-5, $"{name} {target} output {k}");
        }
    }

    /// <summary>The reference evaluation: with every input made a constant, the node folds at build time and the
    /// generated class only copies the constant result out; it must equal ONNX's expected outputs.</summary>
    [Theory]
    [MemberData(nameof(BackendCases))]
    public void OnnxBackendNodeTestFolded(string name)
    {
        var dir = Path.Combine(NodeData, name);
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(dir, "model.onnx")));
        var data = Path.Combine(dir, "test_data_set_0");
        var inputFiles = Directory.GetFiles(data, "input_*.pb").OrderBy(f => int.Parse(Path.GetFileNameWithoutExtension(f).Substring(6))).ToArray();
        var graphInputs = model.Graph.Input.Where(i => !model.Graph.Initializer.Any(t => t.Name == i.Name)).ToList();
        for (int i = 0; i < inputFiles.Length; i++)
        {
            var t = TensorProto.Parser.ParseFrom(File.ReadAllBytes(inputFiles[i]));
            t.Name = graphInputs[i].Name;
            model.Graph.Initializer.Add(t);
        }
        foreach (var gi in graphInputs) model.Graph.Input.Remove(gi);
        var bytes = Google.Protobuf.MessageExtensions.ToByteArray(model);
        Array Load(string file)
        {
            var td = ModelGen.Compiler.Onnx.TensorReader.Read(TensorProto.Parser.ParseFrom(File.ReadAllBytes(file)), file);
            return td.Type == DType.Double ? td.D : td.F;
        }
        var expected = Directory.GetFiles(data, "output_*.pb").OrderBy(f => int.Parse(Path.GetFileNameWithoutExtension(f).Substring(7))).Select(Load).ToArray();
        var actual = OpCheck.RunModelGen(bytes, TargetProfile.Net, Array.Empty<Array>(), expected.Select(e => e.Length).ToArray(), expected.Select(e => e.GetType().GetElementType()!).ToArray());
        for (int k = 0; k < expected.Length; k++) OpCheck.AssertClose(expected[k], actual[k], 1e-5, $"{name} folded output {k}");
        var path = Path.Combine(Path.GetTempPath(), $"rnnfold{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, bytes);
        try { Assert.Contains("//   total: 0 layers,", Harness.Generate(path).Source); }
        finally { File.Delete(path); }
    }

    public static TheoryData<string, string, bool, bool, int> FoldCases => new()
    {
        // op, direction, clip+activations, sequence_lens, linear_before_reset / input_forget
        { "LSTM", "bidirectional", true, true, 1 },
        { "LSTM", "reverse", false, false, 0 },
        { "GRU", "bidirectional", true, true, 1 },
        { "GRU", "forward", false, true, 0 },
        { "RNN", "bidirectional", true, true, 0 },
    };

    /// <summary>Reference evaluation (all inputs constant: folded) equals the emitted code (inputs at run time), which
    /// the tests above check against ONNX Runtime, on the options the backend cases do not cover.</summary>
    [Theory]
    [MemberData(nameof(FoldCases))]
    public void FoldedEqualsEmitted(string op, string direction, bool clipAndActs, bool seqLens, int flag)
    {
        var c = new Case(op)
        {
            Direction = direction, SeqLens = seqLens, InitH = true, InitC = op == "LSTM", Peepholes = op == "LSTM",
            Clip = clipAndActs ? 2.5f : null,
            Activations = !clipAndActs ? null : op switch
            {
                "LSTM" => Enumerable.Repeat(new[] { "HardSigmoid", "Softsign", "Tanh" }, direction == "bidirectional" ? 2 : 1).SelectMany(a => a).ToArray(),
                "GRU" => Enumerable.Repeat(new[] { "Sigmoid", "Elu" }, direction == "bidirectional" ? 2 : 1).SelectMany(a => a).ToArray(),
                _ => Enumerable.Repeat(new[] { "ScaledTanh" }, direction == "bidirectional" ? 2 : 1).SelectMany(a => a).ToArray(),
            },
            InputForget = op == "LSTM" ? flag : 0, LinearBeforeReset = op == "GRU" ? flag : null,
            Lens = seqLens ? new[] { 2, 0 } : null,
        };
        var model = ModelProto.Parser.ParseFrom(Build(c));
        var rng = new Random(7);
        var inputs = new List<Array>();
        foreach (var gi in model.Graph.Input.Where(i => !model.Graph.Initializer.Any(t => t.Name == i.Name)).ToList())
        {
            var dims = gi.Type.TensorType.Shape.Dim.Select(d => (int)d.DimValue).ToArray();
            int count = dims.Aggregate(1, (a, b) => a * b);
            var t = new TensorProto { Name = gi.Name, DataType = gi.Type.TensorType.ElemType };
            t.Dims.AddRange(dims.Select(d => (long)d));
            if (t.DataType == (int)DType.Float) { var v = Ort.Random(count, rng.Next(), 1f); t.FloatData.AddRange(v); inputs.Add(v); }
            else { var v = Enumerable.Range(0, count).Select(i => c.Lens != null && i < c.Lens.Length ? Math.Min(c.Lens[i], c.Seq) : c.Seq).ToArray(); t.Int32Data.AddRange(v); inputs.Add(v); }
            model.Graph.Initializer.Add(t);
        }
        var lengths = OpCheck.RunOrt(Build(c), inputs.ToArray()).Select(a => a.Length).ToArray();
        var emitted = OpCheck.RunModelGen(Build(c), TargetProfile.Net, inputs.ToArray(), lengths, lengths.Select(_ => typeof(float)).ToArray());
        foreach (var gi in model.Graph.Input.Where(i => model.Graph.Initializer.Any(t => t.Name == i.Name)).ToList()) model.Graph.Input.Remove(gi);
        var folded = OpCheck.RunModelGen(Google.Protobuf.MessageExtensions.ToByteArray(model), TargetProfile.Net, Array.Empty<Array>(), lengths, lengths.Select(_ => typeof(float)).ToArray());
        for (int k = 0; k < lengths.Length; k++) OpCheck.AssertClose(emitted[k], folded[k], 1e-5, $"{op} output {k}");
    }
}
