using Google.Protobuf;
using ModelGen.Compiler.Onnx.Proto;

namespace ModelGen.Tests.Conformance;

/// <summary>How one ONNX backend test case came out.</summary>
public enum Outcome { Pass, Fail, Unsupported, OutOfScope }

/// <summary>
/// One case of ONNX's backend test data: &lt;suite&gt;/&lt;name&gt;/model.onnx with test_data_set_*/input_*.pb and
/// output_*.pb. Inspect() reads the model and decides, from its op types and tensor types alone, whether the case
/// is in ModelGen's scope (no training, randomness, sequences/optionals/maps, strings or exotic element types).
/// </summary>
internal sealed class ConformanceCase
{
    public string Suite { get; }
    public string Name { get; }
    public string Dir { get; }
    public string Id => Suite + "/" + Name;

    public byte[] ModelBytes { get; private set; } = Array.Empty<byte>();
    public int Opset { get; private set; }
    /// <summary>Op types of the main graph, in node order (attribution uses them).</summary>
    public List<string> MainOps { get; } = new();
    /// <summary>Distinct op types anywhere in the model (subgraphs and local functions included), sorted.</summary>
    public SortedSet<string> AllOps { get; } = new(StringComparer.Ordinal);
    /// <summary>Graph inputs that are not initializers, in graph order: input_k.pb feeds RealInputs[k].</summary>
    public List<ValueInfoProto> RealInputs { get; } = new();
    public List<string> OutputNames { get; } = new();
    public List<string> DataSets { get; } = new();
    /// <summary>Null when in scope; otherwise why the case is out of ModelGen's scope.</summary>
    public string? OutOfScope { get; private set; }
    /// <summary>Set when the model itself cannot be read (reported as a failure).</summary>
    public string? ReadError { get; private set; }
    /// <summary>The operator the case is counted under in the report.</summary>
    public string Operator { get; set; } = "?";

    public ConformanceCase(string suite, string name, string dir) { Suite = suite; Name = name; Dir = dir; }

    public static List<ConformanceCase> Discover(string root, IEnumerable<string> suites)
    {
        var list = new List<ConformanceCase>();
        foreach (var suite in suites)
        {
            var sdir = Path.Combine(root, suite);
            if (!Directory.Exists(sdir)) continue;
            foreach (var d in Directory.GetDirectories(sdir).OrderBy(x => x, StringComparer.Ordinal))
                if (File.Exists(Path.Combine(d, "model.onnx"))) list.Add(new ConformanceCase(suite, Path.GetFileName(d), d));
        }
        return list;
    }

    public void Inspect()
    {
        ModelProto mp;
        try
        {
            ModelBytes = File.ReadAllBytes(Path.Combine(Dir, "model.onnx"));
            mp = ModelProto.Parser.ParseFrom(ModelBytes);
        }
        catch (Exception ex) { ReadError = "model.onnx cannot be read: " + ex.Message; return; }
        foreach (var ds in Directory.GetDirectories(Dir, "test_data_set_*").OrderBy(x => x, StringComparer.Ordinal)) DataSets.Add(ds);
        Opset = (int)(mp.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx")?.Version ?? 1);
        var g = mp.Graph ?? new GraphProto();
        MainOps.AddRange(g.Node.Select(n => n.OpType));
        var inits = new HashSet<string>(g.Initializer.Select(t => t.Name), StringComparer.Ordinal);
        RealInputs.AddRange(g.Input.Where(i => !inits.Contains(i.Name)));
        OutputNames.AddRange(g.Output.Select(o => o.Name));

        var scan = new ScopeScan();
        scan.Graph(g);
        foreach (var f in mp.Functions) foreach (var n in f.Node) scan.Node(n, null);
        AllOps.UnionWith(scan.Ops);
        OutOfScope = scan.Reason();
    }

    /// <summary>The element types the compiler cannot hold (ONNX TensorProto.DataType numbers).</summary>
    static string? ExoticType(int t) => t switch
    {
        8 => "string",
        10 => "float16",
        14 => "complex64",
        15 => "complex128",
        16 => "bfloat16",
        17 => "float8e4m3fn",
        18 => "float8e4m3fnuz",
        19 => "float8e5m2",
        20 => "float8e5m2fnuz",
        21 => "uint4",
        22 => "int4",
        _ => null,
    };

    /// <summary>Walks every graph, node, attribute and tensor type of a model and notes what puts it out of scope.</summary>
    sealed class ScopeScan
    {
        public readonly SortedSet<string> Ops = new(StringComparer.Ordinal);
        readonly SortedSet<string> _training = new(StringComparer.Ordinal);
        readonly SortedSet<string> _random = new(StringComparer.Ordinal);
        readonly SortedSet<string> _sequence = new(StringComparer.Ordinal);
        readonly SortedSet<string> _strings = new(StringComparer.Ordinal);
        readonly SortedSet<string> _types = new(StringComparer.Ordinal);

        static readonly HashSet<string> TrainingOps = new(StringComparer.Ordinal) { "Gradient", "Adagrad", "Adam", "Momentum" };
        static readonly HashSet<string> RandomOps = new(StringComparer.Ordinal)
            { "RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Bernoulli", "Multinomial" };
        static readonly HashSet<string> StringOps = new(StringComparer.Ordinal)
            { "StringNormalizer", "RegexFullMatch", "StringConcat", "StringSplit" };

        public string? Reason()
        {
            if (_training.Count > 0) return "training: " + string.Join(", ", _training);
            if (_random.Count > 0) return "randomness: " + string.Join(", ", _random);
            if (_sequence.Count > 0) return "sequences/optionals/maps: " + string.Join(", ", _sequence);
            if (_strings.Count > 0) return "strings: " + string.Join(", ", _strings);
            if (_types.Count > 0) return "element type " + string.Join(", ", _types);
            return null;
        }

        public void Graph(GraphProto g)
        {
            var consts = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
            foreach (var t in g.Initializer) { Tensor(t); consts[t.Name] = t; }
            foreach (var s in g.SparseInitializer) { if (s.Values != null) Tensor(s.Values); }
            foreach (var vi in g.Input.Concat(g.Output).Concat(g.ValueInfo)) Type(vi.Type, vi.Name);
            foreach (var n in g.Node)
            {
                if (n.OpType == "Constant" && n.Attribute.FirstOrDefault(a => a.Name == "value")?.T is { } ct && n.Output.Count == 1)
                    consts[n.Output[0]] = ct;
                Node(n, consts);
            }
        }

        public void Node(NodeProto n, Dictionary<string, TensorProto>? consts)
        {
            Ops.Add(n.OpType);
            if (n.Domain == "ai.onnx.preview.training" || TrainingOps.Contains(n.OpType))
                _training.Add(n.OpType + (n.Domain.Length > 0 ? $" ({n.Domain})" : ""));
            if (RandomOps.Contains(n.OpType)) _random.Add(n.OpType);
            if (StringOps.Contains(n.OpType)) _strings.Add(n.OpType);
            if (n.OpType.StartsWith("Sequence", StringComparison.Ordinal) || n.OpType.StartsWith("Optional", StringComparison.Ordinal)
                || n.OpType is "SplitToSequence" or "ConcatFromSequence")
                _sequence.Add(n.OpType);
            if (n.OpType == "BatchNormalization" && (Int(n, "training_mode") == 1 || n.Output.Count(o => o.Length > 0) > 1))
                _training.Add("BatchNormalization in training mode");
            if (n.OpType == "Dropout")
            {
                // training_mode (opset 12+) switches on random masking unless it is a constant false.
                if (n.Input.Count > 2 && n.Input[2].Length > 0
                    && !(consts != null && consts.TryGetValue(n.Input[2], out var tm) && IsConstFalse(tm)))
                    _random.Add("Dropout in training mode");
                if (Int(n, "is_test") == 0 && n.Attribute.Any(a => a.Name == "is_test"))
                    _random.Add("Dropout in training mode (is_test=0)");
            }
            foreach (var a in n.Attribute)
            {
                if (a.T != null) Tensor(a.T);
                foreach (var t in a.Tensors) Tensor(t);
                if (a.G != null) Graph(a.G);
                foreach (var sg in a.Graphs) Graph(sg);
                if (a.Name == "to" && n.OpType is "Cast" || a.Name == "dtype" || a.Name == "output_dtype")
                    Elem((int)a.I, $"{n.OpType}.{a.Name}");
            }
        }

        static long Int(NodeProto n, string name) => n.Attribute.FirstOrDefault(a => a.Name == name)?.I ?? 0;

        static bool IsConstFalse(TensorProto t)
            => t.DataType == 9 && (t.RawData.Length > 0 ? t.RawData.All(b => b == 0) : t.Int32Data.All(v => v == 0));

        void Tensor(TensorProto t) => Elem(t.DataType, $"tensor '{t.Name}'");

        void Elem(int t, string where)
        {
            var name = ExoticType(t);
            if (name == null) return;
            if (t == 8) _strings.Add("string tensors");
            else _types.Add(name);
        }

        void Type(TypeProto? tp, string name)
        {
            if (tp == null) return;
            switch (tp.ValueCase)
            {
                case TypeProto.ValueOneofCase.TensorType: Elem(tp.TensorType.ElemType, name); break;
                case TypeProto.ValueOneofCase.SequenceType: _sequence.Add("sequence values"); Type(tp.SequenceType.ElemType, name); break;
                case TypeProto.ValueOneofCase.OptionalType: _sequence.Add("optional values"); Type(tp.OptionalType.ElemType, name); break;
                case TypeProto.ValueOneofCase.MapType: _sequence.Add("map values"); break;
                case TypeProto.ValueOneofCase.SparseTensorType: _types.Add("sparse tensor"); break;
            }
        }
    }

    // ---------- operator attribution ----------

    /// <summary>Abbreviations ONNX's test names use for operator names.</summary>
    static readonly (string Prefix, string Op)[] Abbreviations =
    {
        ("batchnorm", "BatchNormalization"), ("instancenorm", "InstanceNormalization"), ("layernorm", "LayerNormalization"),
        ("nllloss", "NegativeLogLikelihoodLoss"), ("sce", "SoftmaxCrossEntropyLoss"), ("avgpool", "AveragePool"),
        ("basic_conv", "Conv"), ("conv_with", "Conv"), ("logsoftmax", "LogSoftmax"), ("lppool", "LpPool"),
        ("globalavgpool", "GlobalAveragePool"), ("embedding", "Gather"), ("linear", "Gemm"), ("selu", "Selu"),
        ("prelu", "PRelu"), ("elu", "Elu"), ("leakyrelu", "LeakyRelu"), ("pixelshuffle", "DepthToSpace"),
        ("reflectionpad", "Pad"), ("replicationpad", "Pad"), ("zeropad", "Pad"), ("constantpad", "Pad"), ("pad", "Pad"),
        ("softmin", "Softmax"), ("softplus", "Softplus"), ("softsign", "Softsign"), ("tanh", "Tanh"), ("sigmoid", "Sigmoid"),
        ("relu", "Relu"), ("maxpool", "MaxPool"), ("bn", "BatchNormalization"), ("convtranspose", "ConvTranspose"), ("conv", "Conv"),
    };

    /// <summary>
    /// Picks the operator a case is reported under: node tests are named test_&lt;op&gt;_*, matched against the op types
    /// of the model (longest op name that prefixes the name, underscores ignored); a single-op model is that op; an
    /// "_expanded" case (the function body of an op) counts as "&lt;op&gt; (expanded)" after its sibling.
    /// </summary>
    public static void Attribute(IReadOnlyList<ConformanceCase> cases)
    {
        var byId = cases.ToDictionary(c => c.Id, StringComparer.Ordinal);
        foreach (var c in cases.Where(c => !c.Name.EndsWith("_expanded", StringComparison.Ordinal))) c.Operator = c.Pick();
        foreach (var c in cases.Where(c => c.Name.EndsWith("_expanded", StringComparison.Ordinal)))
        {
            var sibling = c.Suite + "/" + c.Name.Substring(0, c.Name.Length - "_expanded".Length);
            c.Operator = (byId.TryGetValue(sibling, out var s) ? s.Operator : c.Pick()) + " (expanded)";
        }
    }

    string Pick()
    {
        var t = Name.StartsWith("test_", StringComparison.Ordinal) ? Name.Substring(5) : Name;
        if (t.StartsWith("operator_", StringComparison.Ordinal)) t = t.Substring(9);
        var lower = t.ToLowerInvariant();
        var squashed = lower.Replace("_", "");
        var ops = MainOps.Where(o => o is not ("Constant" or "Identity")).Distinct().ToList();
        if (ops.Count == 0) ops = MainOps.Distinct().ToList();
        if (ops.Count == 1) return ops[0];
        var named = ops.Where(o => squashed.StartsWith(o.ToLowerInvariant(), StringComparison.Ordinal)).OrderByDescending(o => o.Length).FirstOrDefault();
        if (named != null) return named;
        foreach (var (prefix, op) in Abbreviations)
            if ((lower.StartsWith(prefix, StringComparison.Ordinal) || squashed.StartsWith(prefix.Replace("_", ""), StringComparison.Ordinal)) && AllOps.Contains(op))
                return op;
        // Models named after something else (pytorch modules, small graphs): the first op that computes something.
        var trivial = new HashSet<string>(StringComparer.Ordinal) { "Constant", "Identity", "Shape", "Reshape", "Unsqueeze", "Squeeze", "Flatten", "Cast", "Gather", "Concat", "Transpose" };
        return ops.FirstOrDefault(o => !trivial.Contains(o)) ?? (ops.Count > 0 ? ops[0] : "(empty graph)");
    }
}
