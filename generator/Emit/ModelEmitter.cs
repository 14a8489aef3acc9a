using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Operators;
using ModelGen.Compiler.Planning;
using Buffer = ModelGen.Compiler.Planning.Buffer;

namespace ModelGen.Compiler.Emit;

/// <summary>
/// Emits one model as a static partial class: tensor storage (parameters, constants, arena), the memory plan,
/// then each node in schedule order. Pure: same graph and options give byte-identical text.
/// </summary>
public sealed class ModelEmitter
{
    readonly Model _model;
    readonly ModelOptions _opt;
    readonly string _path;
    readonly Names _names = new();
    readonly Dictionary<Value, Storage> _storage = new();
    readonly Dictionary<Value, string> _outputParam = new();
    /// <summary>Per-node scratch buffers (Operator.Scratch): arena tensors that no node consumes, live at their node's step.</summary>
    readonly Dictionary<Node, Value> _scratch = new();
    readonly List<Value> _consts = new();
    readonly CodeWriter _w = new();
    readonly CodeWriter _body = new();
    readonly HashSet<string> _disabled;
    EmitContext _e;
    MemoryPlan _plan;
    public MemoryPlan Plan => _plan;
    public long WeightBytes { get; private set; }
    /// <summary>Scale and zero point of int8 graph inputs/outputs (build-time quantization with int8 I/O), emitted as public constants.</summary>
    public IReadOnlyDictionary<Value, (float Scale, int ZeroPoint)> IoQuantization { get; init; }

    public ModelEmitter(Model model, ModelOptions options, string path)
    {
        _model = model; _opt = options; _path = path;
        _disabled = new HashSet<string>((options.DisabledPasses ?? "").Split(new[] { ',', ';', ' ' }, StringSplitOptions.RemoveEmptyEntries), StringComparer.OrdinalIgnoreCase);
        if (_disabled.Contains("all")) { _disabled.Add("InPlace"); _disabled.Add(ConcatSlices.Name); }
    }

    bool Net => _opt.Target == TargetProfile.Net;
    Graph G => _model.Graph;

    public string Emit(string className, string ns)
    {
        _names.Reserve(className);
        _names.Reserve("Predict");
        if (_opt.Profile) foreach (var m in LayerProfile.Members) _names.Reserve(m);
        AssignStorage();
        _plan = PlanMemory();
        // The body is rendered first: it decides which constants the code reads (shape-only inputs such as Reshape's
        // target or Reduce's axes are never emitted) and so the weight bytes the header reports.
        _body.Indent = (string.IsNullOrEmpty(ns) ? 0 : 1) + 2 + (Net ? 0 : 1);
        _e = new EmitContext(_body, _opt.Target, _storage, _names.Used, _scratch, UseConst);
        WriteBody();
        _consts.RemoveAll(v => !_e.UsedConsts.Contains(v));
        WeightBytes = _consts.Sum(v => (long)v.Length * DTypes.Size(v.Type));
        WriteFile(className, ns);
        return _w.ToString();
    }

    // ---------- storage ----------

    static Operator Op(Node n) => OperatorRegistry.Find(n.Domain, n.OpType, n.Opset);

    /// <summary>The op type, with a fused activation as "+Kind" (e.g. Conv+Relu).</summary>
    static string Label(Node n) => n.Has(FusedActivation.KindAttr) ? n.OpType + "+" + n.Str(FusedActivation.KindAttr, "") : n.OpType;

    void AssignStorage()
    {
        foreach (var v in G.Inputs) _storage[v] = new Storage { Kind = StorageKind.Input, Name = _names.Unique(v.Name) };
        foreach (var v in G.Outputs)
        {
            var p = _names.Unique(v.Name, G.Inputs.Any(i => Names.Sanitize(i.Name) == Names.Sanitize(v.Name)) ? "out_" : "");
            if (_outputParam.ContainsKey(v)) continue;
            _outputParam[v] = p;
            // a node in the main graph writes straight into the caller's span
            if (v.Producer != null && !v.IsGraphInput && !v.IsConst && G.Nodes.Contains(v.Producer))
                _storage[v] = new Storage { Kind = StorageKind.Output, Name = p };
        }
        AssignNodes(G);
        foreach (var v in G.Outputs) if (v.IsConst) UseConst(v);
        if (!_disabled.Contains(ConcatSlices.Name)) ConcatSlices.Apply(G, _storage);
        if (!_disabled.Contains("InPlace")) ApplyInPlace();
    }

    /// <summary>
    /// In-place reuse: an elementwise node writes its output over an arena input of the same type and size whose
    /// last use is this node; so does a node over its <see cref="Operator.SharedInput"/> (a residual it accumulates
    /// onto). Top-level nodes only (a branch's tensors share one step). Shrinks the arena.
    /// </summary>
    void ApplyInPlace()
    {
        var last = new Dictionary<Value, int>();
        int step = 0;
        void Use(Value v, int s) { if (v != null) last[v] = Math.Max(last.TryGetValue(v, out var l) ? l : s, s); }
        void Visit(Graph g, int s)
        {
            foreach (var n in g.Nodes)
            {
                foreach (var i in n.Inputs) Use(i, s);
                foreach (var sub in n.Subgraphs.Values) { Visit(sub, s); foreach (var o in sub.Outputs) Use(o, s); }
            }
        }
        foreach (var n in G.Nodes) { Visit(new Graph(null) { Nodes = { n } }, step); step++; }
        foreach (var v in G.Outputs) Use(v, int.MaxValue);
        var rootLast = new Dictionary<Value, int>();
        foreach (var kv in last)
        {
            var r = Root(kv.Key);
            rootLast[r] = Math.Max(rootLast.TryGetValue(r, out var l) ? l : kv.Value, kv.Value);
        }
        step = 0;
        foreach (var n in G.Nodes)
        {
            var o = n.Outputs.Count == 1 ? n.Out() : null;
            int shared = o == null ? -1 : Op(n).SharedInput(n);
            if (o != null && (Op(n).ElementwiseInPlace || shared >= 0) && _storage[o].Kind == StorageKind.Arena && _storage[o].SliceOf == null)
            {
                // elementwise: any input; otherwise only the shared input, and only when no other input reads its bytes
                var candidates = shared < 0 ? n.Inputs : new List<Value> { n.In(shared) };
                foreach (var x in candidates)
                {
                    if (x == null) continue;
                    var r = Root(x);
                    if (_storage[r].Kind != StorageKind.Arena || r.Type != o.Type || r.Length != o.Length || !Shape.Equal(x.Shape, o.Shape)) continue;
                    if (shared >= 0 && n.Inputs.Where((v, i) => i != shared && v != null).Any(v => Root(v) == r)) continue;
                    if (!rootLast.TryGetValue(r, out var l) || l != step) continue;
                    _storage[o] = new Storage { Kind = StorageKind.View, ViewOf = x, InPlace = true };
                    rootLast[r] = Math.Max(l, rootLast.TryGetValue(o, out var lo) ? lo : step);
                    break;
                }
            }
            step++;
        }
    }

    void AssignNodes(Graph g)
    {
        foreach (var n in g.Nodes)
        {
            foreach (var i in n.Inputs) if (i != null && i.IsConst) UseConst(i);
            foreach (var sub in n.Subgraphs.Values)
            {
                AssignNodes(sub);
                foreach (var o in sub.Outputs) if (o.IsConst) UseConst(o);
            }
            var op = Op(n);
            for (int k = 0; k < n.Outputs.Count; k++)
            {
                var v = n.Outputs[k];
                if (_storage.ContainsKey(v)) continue;
                if (k == 0 && op.IsView) _storage[v] = new Storage { Kind = StorageKind.View, ViewOf = n.In(0) };
                else _storage[v] = new Storage { Kind = StorageKind.Arena, Name = Net ? _names.Unique(v.Name) : null };
            }
            var (scratchType, scratchElements) = op.Scratch(n, _opt.Target);
            if (scratchElements > 0)
            {
                var sv = new Value((n.Outputs.Count > 0 ? n.Out().Name : n.OpType) + "_scratch") { Type = scratchType, Shape = new[] { scratchElements } };
                _scratch[n] = sv;
                _storage[sv] = new Storage { Kind = StorageKind.Arena, Name = Net ? _names.Unique(sv.Name) : null };
            }
        }
    }

    void UseConst(Value v)
    {
        if (_storage.ContainsKey(v)) return;
        _storage[v] = new Storage { Kind = StorageKind.Const, Name = _names.Unique(v.Name, Net ? "" : "c_") };
        _consts.Add(v);
    }

    /// <summary>The tensor whose buffer holds v: through views and concatenation slices.</summary>
    Value Root(Value v) => !_storage.TryGetValue(v, out var s) ? v : s.Kind == StorageKind.View ? Root(s.ViewOf) : s.SliceOf != null ? Root(s.SliceOf) : v;

    // ---------- liveness and plan ----------

    MemoryPlan PlanMemory()
    {
        var first = new Dictionary<Value, int>();
        var last = new Dictionary<Value, int>();
        void Use(Value v, int step)
        {
            if (v == null) return;
            var r = Root(v);
            last[r] = Math.Max(last.TryGetValue(r, out var l) ? l : step, step);
        }
        void Def(Value v, int step)
        {
            var r = Root(v);
            if (!first.ContainsKey(r)) first[r] = step;
            Use(v, step);
        }
        void Visit(Graph g, int step)
        {
            foreach (var n in g.Nodes)
            {
                foreach (var i in n.Inputs) Use(i, step);
                foreach (var sub in n.Subgraphs.Values) { Visit(sub, step); foreach (var o in sub.Outputs) Use(o, step); }
                foreach (var o in n.Outputs) Def(o, step);
                if (_scratch.TryGetValue(n, out var sv)) Def(sv, step); // live at this step only
            }
        }
        int s = 0;
        foreach (var n in G.Nodes) { Visit(new Graph(null) { Nodes = { n } }, s); s++; }
        foreach (var v in G.Outputs) Use(v, s); // copied out after the last node
        var buffers = new List<Buffer>();
        foreach (var kv in _storage)
        {
            if (kv.Value.Kind != StorageKind.Arena || kv.Value.SliceOf != null) continue;
            var v = kv.Key;
            buffers.Add(new Buffer
            {
                Value = v, Pool = v.Type, Elements = v.Length,
                FirstStep = first.TryGetValue(v, out var f) ? f : 0,
                LastStep = last.TryGetValue(v, out var l) ? l : s,
            });
        }
        buffers.Sort((a, b) => string.CompareOrdinal(a.Value.Name, b.Value.Name));
        var plan = MemoryPlan.Build(buffers, s + 1, shared: Net);
        foreach (var b in plan.Buffers) _storage[b.Value].Offset = b.Offset;
        ConcatSlices.Resolve(_storage);
        return plan;
    }

    // ---------- file ----------

    void WriteFile(string className, string ns)
    {
        var w = _w;
        w.Line("// <auto-generated/>");
        w.Line($"// Generated by ModelGen from {System.IO.Path.GetFileName(_path)}. Do not edit: edit the model or its <OnnxModel> options.");
        w.Line($"// Target profile: {_opt.Target}. Arena: {_plan.ArenaBytes} bytes (lower bound {_plan.LowerBoundBytes}, planner {_plan.Strategy ?? "none"}). Weights: {WeightBytes} bytes.");
        WriteLayerTable();
        if (Net) w.Line("#nullable disable");
        w.Line("#pragma warning disable CS0162, CS0168, CS0219, CS8321, IDE0059");
        w.Line();
        w.Line("using System;");
        if (Net) w.Line("using System.Runtime.InteropServices;");
        w.Line();
        bool hasNs = !string.IsNullOrEmpty(ns);
        if (hasNs) w.Open($"namespace {ns}");
        // inside e.g. App.ModelGen, "ModelGen.Runtime.Gemm" would bind to App.ModelGen: point the name back at the root
        if (hasNs && Array.IndexOf(ns.Split('.'), "ModelGen", 1) > 0) { w.Line("using ModelGen = global::ModelGen;"); w.Line(); }
        WriteDocs();
        w.Open($"public static partial class {className}");
        WriteShapeMembers();
        w.Line();
        WritePredict();
        w.Line();
        WriteConstants();
        PortableMath.Write(w, _e.UsedMath);
        w.Close();
        if (hasNs) w.Close();
    }

    void WriteLayerTable()
    {
        _w.Line("//");
        // Net: one byte arena (every type's pool a view of all of it); Portable: an array per element type
        _w.Line($"// Layers (schedule order; {(Net ? "byte offsets in the arena" : "element offsets in the array of the output's type")}; MACs of the matrix/convolution layers; weight bytes read by the layer):");
        _w.Line($"//   {"#",4}  {"op",-20} {"output",-22} {"placement",-16} {"MACs",12} {"weights",10}  name");
        int i = 0;
        foreach (var n in G.Nodes)
        {
            var outs = string.Join(" ", n.Outputs.Select(o => Shape.Format(o.Shape)));
            var where = n.Outputs.Select(o => _storage.TryGetValue(o, out var s) ? s : null).FirstOrDefault();
            var place = where == null ? "" : where.Kind == StorageKind.Arena ? $"arena[{(Net ? (long)where.Offset * DTypes.Size(n.Out().Type) : where.Offset)}]" : where.InPlace ? "in-place" : where.Kind.ToString().ToLowerInvariant();
            long macs = Macs(n);
            var read = n.Inputs.Concat(_e.DerivedConsts.TryGetValue(n, out var d) ? d : Enumerable.Empty<Value>());
            long weights = read.Where(v => v != null && _consts.Contains(v)).Distinct().Sum(v => (long)v.Length * DTypes.Size(v.Type));
            _w.Line($"//   {i++,4}  {Label(n),-20} {outs,-22} {place,-16} {(macs > 0 ? macs.ToString() : "-"),12} {(weights > 0 ? weights.ToString() : "-"),10}  {Clip(n.Name, 60)}");
        }
        _w.Line($"//   total: {G.Nodes.Count} layers, {TotalMacs} MACs, {WeightBytes} weight bytes, arena {_plan.ArenaBytes} bytes");
        _w.Line("//");
    }

    /// <summary>Multiply-accumulates of one run of the model's matrix and convolution layers.</summary>
    public long TotalMacs => G.Nodes.Sum(Macs);

    static long Macs(Node n)
    {
        Value In(int k) => n.In(k);
        switch (n.OpType)
        {
            case "GemmInt8Weights": // w [K, N]
                return In(1).Shape.Length == 2 ? (long)n.Out().Length * In(1).Shape[0] : 0;
            case "Conv": case "QLinearConv": case "ConvInteger": case "QConvInt8": case "QGemmInt8":
            {
                var w = In(n.OpType == "QLinearConv" ? 3 : 1);
                return w == null || w.Shape.Length == 0 || w.Shape[0] == 0 ? 0 : (long)n.Out().Length * (w.Length / w.Shape[0]);
            }
            case "ConvTranspose":
                return In(1) == null || In(1).Shape[0] == 0 ? 0 : (long)In(0).Length * (In(1).Length / In(1).Shape[0]);
            case "Gemm":
            {
                var a = In(0);
                bool transA = n.Int("transA", 0) != 0;
                return a.Shape.Length == 2 ? (long)n.Out().Length * (transA ? a.Shape[0] : a.Shape[1]) : 0;
            }
            case "MatMul": case "MatMulInteger": case "QLinearMatMul":
            {
                var a = In(0);
                return a.Shape.Length == 0 ? 0 : (long)n.Out().Length * a.Shape[a.Shape.Length - 1];
            }
            case "LSTM": case "GRU": case "RNN":
            {
                var w = In(1); var r = In(2); var x = In(0);
                if (w == null || r == null || x.Shape.Length < 2) return 0;
                long steps = (long)x.Shape[0] * x.Shape[1];
                return steps * (w.Length / Math.Max(1, w.Shape[0]) + r.Length / Math.Max(1, r.Shape[0])) * w.Shape[0];
            }
            case "Attention": // every query row against every key (past ones too): Q K^T, then the weights times V
            {
                var k = In(1);
                long total = k.Shape[k.Shape.Length == 4 ? 2 : 1] + (In(4) == null ? 0 : In(4).Shape[2]);
                return (In(0).Length + (long)n.Out().Length) * total;
            }
            default: return 0;
        }
    }

    static string Clip(string s, int max) => s == null ? "" : s.Length <= max ? s : "..." + s.Substring(s.Length - max + 3);

    static string Xml(string s) => (s ?? "").Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\r", "").Replace("\n", " ");

    void WriteDocs()
    {
        var w = _w;
        w.Line("/// <summary>");
        w.Line($"/// Compiled from <c>{Xml(System.IO.Path.GetFileName(_path))}</c> (producer {Xml(_model.Producer)} {Xml(_model.ProducerVersion)}, IR version {_model.IrVersion}, opset {_model.Opset}).");
        if (!string.IsNullOrWhiteSpace(_model.DocString)) w.Line($"/// {Xml(_model.DocString)}");
        w.Line("/// Inputs: " + string.Join(", ", G.Inputs.Select(v => $"<c>{Xml(v.Name)}</c> {DTypes.OnnxName(v.Type)}{Shape.Format(v.Shape)}")) + ".");
        w.Line("/// Outputs: " + string.Join(", ", G.Outputs.Select(v => $"<c>{Xml(v.Name)}</c> {DTypes.OnnxName(v.Type)}{Shape.Format(v.Shape)}")) + ".");
        w.Line("/// </summary>");
    }

    readonly Dictionary<Value, string> _shapeName = new();

    void WriteShapeMembers()
    {
        var w = _w;
        foreach (var (v, isIn) in G.Inputs.Select(v => (v, true)).Concat(G.Outputs.Select(v => (v, false))))
        {
            if (_shapeName.ContainsKey(v)) continue;
            var baseName = _names.Unique(Names.Pascal(v.Name), "");
            // "<Base>Length"/"<Base>Shape" must not be the class name (or another member): CS0542
            for (int k = 2; _names.Used.Contains(baseName + "Length") || _names.Used.Contains(baseName + "Shape"); k++)
                baseName = _names.Unique(Names.Pascal(v.Name) + k, "");
            _shapeName[v] = baseName;
            _names.Reserve(baseName + "Length"); _names.Reserve(baseName + "Shape");
            var dims = string.Join(", ", v.Shape);
            w.Line($"/// <summary>Element count of {(isIn ? "input" : "output")} <c>{Xml(v.Name)}</c> ({DTypes.OnnxName(v.Type)}{Shape.Format(v.Shape)}).</summary>");
            w.Line($"public const int {baseName}Length = {v.Length};");
            w.Line($"/// <summary>Shape of {(isIn ? "input" : "output")} <c>{Xml(v.Name)}</c>.</summary>");
            if (Net) w.Line($"public static ReadOnlySpan<int> {baseName}Shape => new int[] {{ {dims} }};");
            else w.Line($"public static readonly int[] {baseName}Shape = new int[] {{ {dims} }};");
            if (IoQuantization != null && IoQuantization.TryGetValue(v, out var q))
            {
                _names.Reserve(baseName + "Scale"); _names.Reserve(baseName + "ZeroPoint");
                w.Line($"/// <summary>Quantization of {(isIn ? "input" : "output")} <c>{Xml(v.Name)}</c>: real = (q - {baseName}ZeroPoint) * {baseName}Scale.</summary>");
                w.Line($"public const float {baseName}Scale = {EmitContext.F(q.Scale)};");
                w.Line($"/// <summary>Zero point of {(isIn ? "input" : "output")} <c>{Xml(v.Name)}</c> (int8).</summary>");
                w.Line($"public const int {baseName}ZeroPoint = {q.ZeroPoint};");
            }
        }
        w.Line("/// <summary>Bytes of scratch memory one Predict call uses (the planned arena).</summary>");
        w.Line($"public const int ArenaBytes = {_plan.ArenaBytes};");
        w.Line("/// <summary>Bytes of constant data (weights) compiled into this class.</summary>");
        w.Line($"public const long WeightBytes = {WeightBytes};");
        w.Line("/// <summary>Multiply-accumulates of one Predict call in its matrix and convolution layers (the header's per-layer table).</summary>");
        w.Line($"public const long Macs = {TotalMacs};");
        if (_opt.Profile)
            LayerProfile.WriteMembers(w, Net, G.Nodes.Select((n, i) => $"[{i}] {Label(n)} {Shape.Format(n.Out().Shape)} {Clip(n.Name, 60)}").ToList());
    }

    string Params(bool withScratch)
    {
        var ps = new List<string>();
        foreach (var v in G.Inputs)
            ps.Add(Net ? $"ReadOnlySpan<{DTypes.CsName(v.Type)}> {_storage[v].Name}" : $"{DTypes.CsName(v.Type)}[] {_storage[v].Name}");
        foreach (var v in G.Outputs.Distinct())
            ps.Add(Net ? $"Span<{DTypes.CsName(v.Type)}> {_outputParam[v]}" : $"{DTypes.CsName(v.Type)}[] {_outputParam[v]}");
        if (withScratch) ps.Add("Span<byte> scratch");
        return string.Join(", ", ps);
    }

    string Args() => string.Join(", ", G.Inputs.Select(v => _storage[v].Name).Concat(G.Outputs.Distinct().Select(v => _outputParam[v])));

    void WriteParamDocs(bool scratch)
    {
        foreach (var v in G.Inputs)
            _w.Line($"/// <param name=\"{_storage[v].Name}\">Input <c>{Xml(v.Name)}</c>: {DTypes.OnnxName(v.Type)}{Shape.Format(v.Shape)}, row-major, {_shapeName[v]}Length elements.</param>");
        foreach (var v in G.Outputs.Distinct())
            _w.Line($"/// <param name=\"{_outputParam[v]}\">Output <c>{Xml(v.Name)}</c>: {DTypes.OnnxName(v.Type)}{Shape.Format(v.Shape)}, row-major, {_shapeName[v]}Length elements.</param>");
        if (scratch) _w.Line("/// <param name=\"scratch\">Working memory of at least <see cref=\"ArenaBytes\"/> bytes, used by this call only.</param>");
    }

    void WriteChecks()
    {
        foreach (var v in G.Inputs)
            _w.Line($"if ({_storage[v].Name}.Length != {_shapeName[v]}Length) throw new ArgumentException(\"input '{Esc(v.Name)}' must have {v.Length} elements\", \"{_storage[v].Name}\");");
        foreach (var v in G.Outputs.Distinct())
            _w.Line($"if ({_outputParam[v]}.Length != {_shapeName[v]}Length) throw new ArgumentException(\"output '{Esc(v.Name)}' must have {v.Length} elements\", \"{_outputParam[v]}\");");
    }

    static string Esc(string s) => (s ?? "").Replace("\\", "\\\\").Replace("\"", "\\\"");

    void WritePredict()
    {
        var w = _w;
        if (Net)
        {
            w.Line("[ThreadStatic] static byte[] t_scratch;");
            w.Line();
            w.Line("/// <summary>Runs the model. Thread-safe; allocates nothing after the first call on each thread.</summary>");
            WriteParamDocs(false);
            w.Open($"public static void Predict({Params(false)})");
            w.Line("Predict(" + Args() + ", t_scratch ??= new byte[ArenaBytes]);");
            w.Close();
            w.Line();
            w.Line("/// <summary>Runs the model in caller-provided working memory (for fixed-memory targets). Allocates nothing.</summary>");
            WriteParamDocs(true);
            // optimised from the first call: no tier-0 phase (a wake-word app would stutter at start-up, and under load
            // the background re-JIT of a long method can lag for seconds); NativeAOT ignores it
            w.Line("[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]");
            w.Open($"public static void Predict({Params(true)})");
            WriteChecks();
            w.Line("if (scratch.Length < ArenaBytes) throw new ArgumentException(\"scratch must hold ArenaBytes bytes\", \"scratch\");");
            if (_consts.Any(v => v.Type == DType.Float && v.Length >= PackedFloatsFrom))
                w.Line("if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException(\"the weights are stored little-endian\");");
            foreach (var p in _plan.Pools)
                w.Line($"Span<{DTypes.CsName(p.Type)}> {EmitContext.PoolName(p.Type)} = MemoryMarshal.Cast<byte, {DTypes.CsName(p.Type)}>(scratch.Slice({p.ByteOffset}, {p.Elements * DTypes.Size(p.Type)}));");
            foreach (var v in _consts)
                w.Line($"ReadOnlySpan<{DTypes.CsName(v.Type)}> {_storage[v].Name} = {ConstProperty(v)};");
            w.Raw(_body.ToString());
            w.Close();
        }
        else
        {
            w.Line("static readonly object s_lock = new object();");
            foreach (var p in _plan.Pools) w.Line($"static {DTypes.CsName(p.Type)}[] {EmitContext.PoolName(p.Type)};");
            w.Line();
            w.Line("/// <summary>Runs the model. Thread-safe (calls are serialised); allocates its arena on the first call only.</summary>");
            WriteParamDocs(false);
            w.Open($"public static void Predict({Params(false)})");
            WriteChecks();
            w.Open("lock (s_lock)");
            foreach (var p in _plan.Pools)
                w.Line($"if ({EmitContext.PoolName(p.Type)} == null) {EmitContext.PoolName(p.Type)} = new {DTypes.CsName(p.Type)}[{Math.Max(1, p.Elements)}];");
            w.Raw(_body.ToString());
            w.Close();
            w.Close();
        }
    }

    string ConstProperty(Value v) => "Const_" + _storage[v].Name;

    void WriteBody()
    {
        int step = 0;
        string last = null, now = null;
        if (_opt.Profile)
        {
            last = _e.Var("t_layer"); now = _e.Var("t_now");
            _e.W.Line($"long {last} = {LayerProfile.Now(Net)}, {now};");
        }
        foreach (var n in G.Nodes)
        {
            EmitNode(n, step);
            if (_opt.Profile) LayerProfile.Lap(_e.W, Net, last, now, step);
            step++;
        }
        if (_opt.Profile) _e.W.Line("ProfiledCalls++;");
        foreach (var v in G.Outputs.Distinct())
        {
            if (_storage.TryGetValue(v, out var s) && s.Kind == StorageKind.Output) continue;
            _e.W.Line($"// graph output '{v.Name}'");
            EmitCopyTo(v, _outputParam[v]);
        }
    }

    void EmitCopyTo(Value src, string dstParam)
    {
        var i = _e.Var("i");
        _e.W.Line($"for (int {i} = 0; {i} < {src.Length}; {i}++) {dstParam}[{i}] = {_e.At(src, i)};");
    }

    internal void EmitNode(Node n, int step)
    {
        var w = _e.W;
        var ins = string.Join(", ", n.Inputs.Select(v => v == null ? "-" : $"{Clip(v.Name, 40)}{Shape.Format(v.Shape)}"));
        var outs = string.Join(", ", n.Outputs.Select(v => $"{Clip(v.Name, 40)}{Shape.Format(v.Shape)}"));
        w.Line();
        w.Line($"// {(step >= 0 ? "[" + step + "] " : "")}{Label(n)}{(string.IsNullOrEmpty(n.Name) ? "" : " '" + Clip(n.Name, 60) + "'")}: {ins} -> {outs}");
        var op = Op(n);
        foreach (var o in _scratch.TryGetValue(n, out var sv) ? n.Outputs.Append(sv) : n.Outputs)
        {
            var s = _storage[o];
            if (s.Kind == StorageKind.Arena && Net)
                w.Line($"Span<{DTypes.CsName(o.Type)}> {s.Name} = {EmitContext.PoolName(o.Type)}.Slice({s.Offset}, {o.Length});");
        }
        if (op.IsView)
        {
            // a view shares its input's data; it copies only when its output must live elsewhere (a graph output)
            if (_storage[n.Out()].Kind != StorageKind.View) EmitCopy(n.In(0), n.Out());
            if (n.Outputs.Count > 1) op.Emit(n, _e);
            return;
        }
        if (n.OpType == "If" && n.Domain == "") { EmitIf(n); return; }
        op.Emit(n, _e);
    }

    void EmitCopy(Value src, Value dst)
    {
        var i = _e.Var("i");
        _e.W.Line($"for (int {i} = 0; {i} < {dst.Length}; {i}++) {_e.At(dst, i)} = {_e.At(src, i)};");
    }

    /// <summary>If with a run-time condition: both branches compiled, chosen per call.</summary>
    void EmitIf(Node n)
    {
        var w = _e.W;
        w.Open($"if ({_e.At(n.In(0), "0")}{(n.In(0).Type == DType.Bool ? "" : " != 0")})");
        EmitBranch(n, n.Subgraphs["then_branch"]);
        w.Close();
        w.Open("else");
        EmitBranch(n, n.Subgraphs["else_branch"]);
        w.Close();
    }

    void EmitBranch(Node n, Graph g)
    {
        foreach (var inner in g.Nodes) EmitNode(inner, -1);
        for (int i = 0; i < n.Outputs.Count; i++) EmitCopy(g.Outputs[i], n.Outputs[i]);
    }

    // ---------- constants ----------

    void WriteConstants()
    {
        var w = _w;
        long packed = 0;
        foreach (var v in _consts)
        {
            var t = DTypes.CsName(v.Type);
            w.Line($"// {v.Name}: {DTypes.OnnxName(v.Type)}{Shape.Format(v.Shape)}");
            if (Net && v.Type == DType.Float && v.Length >= PackedFloatsFrom && packed + v.Length <= MaxPackedFloats)
            {
                packed += v.Length;
                // Large float tensors as a string of their little-endian bits: the compiler binds one literal instead of
                // one constant per element (several times faster to build); frozen string data, nothing allocated.
                w.Line($"static ReadOnlySpan<{t}> {ConstProperty(v)} => MemoryMarshal.Cast<char, float>(");
                WritePackedFloats(v.Const.F);
                w.Line(");");
            }
            else if (Net)
            {
                w.Line($"static ReadOnlySpan<{t}> {ConstProperty(v)} => new {t}[]");
                WriteValues(v.Const, 0, v.Length, ";");
            }
            else
            {
                int chunk = 65536 / DTypes.Size(v.Type);
                if (v.Length <= chunk)
                {
                    w.Line($"static readonly {t}[] {_storage[v].Name} = new {t}[]");
                    WriteValues(v.Const, 0, v.Length, ";");
                }
                else
                {
                    // nanoFramework reads an array initializer's length as 16 bits: emit <= 64 KB chunks and join them once.
                    w.Line($"static readonly {t}[] {_storage[v].Name} = Join{Names.Pascal(t)}({v.Length}, new {t}[][]");
                    w.Line("{");
                    w.Indent++;
                    for (int s = 0; s < v.Length; s += chunk)
                    {
                        w.Line($"new {t}[]");
                        WriteValues(v.Const, s, Math.Min(chunk, v.Length - s), ",");
                    }
                    w.Indent--;
                    w.Line("});");
                    _joins.Add(t);
                }
            }
        }
        foreach (var t in _joins.OrderBy(x => x, StringComparer.Ordinal))
        {
            w.Open($"static {t}[] Join{Names.Pascal(t)}(int length, {t}[][] parts)");
            w.Line($"var r = new {t}[length];");
            w.Line("int at = 0;");
            w.Line("for (int p = 0; p < parts.Length; p++) { Array.Copy(parts[p], 0, r, at, parts[p].Length); at += parts[p].Length; }");
            w.Line("return r;");
            w.Close();
        }
    }

    readonly SortedSet<string> _joins = new(StringComparer.Ordinal);

    /// <summary>Float tensors of at least this many elements are emitted packed in a string literal (Net profile).</summary>
    const int PackedFloatsFrom = 4096;

    /// <summary>
    /// The most floats packed in string literals per model: a string literal must start in the assembly's first 16 MB
    /// of string heap (4 bytes a float; past it C# reports CS8103). Larger models (5M+ parameters: a RegNet, a
    /// DenseNet) put the tensors that would not fit in array initializers (static data too, slower to compile),
    /// leaving 1 MB of the heap to other strings.
    /// </summary>
    internal const int MaxPackedFloats = 3_900_000;

    /// <summary>One literal on one line: a chain of '+' over thousands of literals would nest too deep for the compiler.</summary>
    void WritePackedFloats(float[] data)
    {
        var sb = new StringBuilder(data.Length * 12 + 2);
        sb.Append('"');
        foreach (var f in data)
        {
            uint bits = (uint)Bits.Of(f);
            sb.Append("\\u").Append((bits & 0xFFFF).ToString("X4", CultureInfo.InvariantCulture));
            sb.Append("\\u").Append((bits >> 16).ToString("X4", CultureInfo.InvariantCulture));
        }
        sb.Append('"');
        _w.Indent++;
        _w.Line(sb.ToString());
        _w.Indent--;
    }

    void WriteValues(TensorData d, int start, int count, string end)
    {
        var w = _w;
        w.Line("{");
        w.Indent++;
        var sb = new StringBuilder();
        int perLine = d.Type == DType.Float || d.Type == DType.Double ? 8 : 16;
        for (int i = 0; i < count; i++)
        {
            sb.Append(EmitContext.Lit(d.Type, d, start + i)).Append(',');
            if ((i + 1) % perLine == 0 || i == count - 1) { w.Line(sb.ToString()); sb.Clear(); }
            else sb.Append(' ');
        }
        w.Indent--;
        w.Line("}" + end);
    }
}
