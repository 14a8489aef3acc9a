using Google.Protobuf;
using ModelGen.Compiler;
using ModelGen.Compiler.Onnx.Proto;
using Xunit;
using Xunit.Abstractions;
namespace ModelGen.Tests;
/// <summary>
/// Structural mutations of the exporter zoo's models (tests/models/zoo: RNNs, transformer, ConvTranspose, Resize,
/// torch's quantized export; QOperatorModels' QOperator CNN and dynamically quantized MLP; a chain of ORT's fused operators; a DynamicQuantizeLSTM; an RNN written as a Loop): attribute values set to 0, -1, huge; inputs emptied or rewired to another node's output;
/// op types swapped; input and initializer dimensions changed. Every mutant must compile (to C# that compiles, for a
/// sample) or fail with an MG#### error that is not an internal error, within a time bound: the contract of
/// HostileInputTests, on models with more kinds of operators than its byte-level mutations reach.
/// </summary>
public class ProtoMutationTests(ITestOutputHelper log)
{
    [Fact]
    public void ZooMutants()
    {
        var dir = Path.Combine(Harness.RepoRoot, "tests", "models", "zoo");
        var failures = new List<string>();
        int total = 0, ok = 0; var seen = new HashSet<string>();
        // the zoo, and the quantized models built in code (QOperator ops, dynamic quantization)
        var corpus = Directory.GetFiles(dir, "*.onnx").OrderBy(f => f).Select(f => (File: f, Bytes: File.ReadAllBytes(f)))
            .Append(("qoperator_cnn.onnx", QOperatorModels.Cnn(12))).Append(("dynamic_mlp.onnx", QOperatorModels.DynamicMlp(4, 24, 2))).Append(("dynamic_cnn.onnx", QOperatorModels.DynamicCnn(8)))
            .Append(("ort_fused.onnx", OrtFusedOperatorTests.Chain())).Append(("dq_lstm.onnx", DynamicQuantizeLstmTests.Model(true, "bidirectional", true, out _, out _)))
            .Append(("loop_rnn.onnx", LoopUnrollingTests.Rnn(13, false)));
        foreach (var (file, bytes) in corpus)
        {
            var orig = ModelProto.Parser.ParseFrom(bytes);
            // seeded by the file name, not its path: the same mutants in every checkout
            var rng = new Random(Path.GetFileName(file).Aggregate(7, (h, ch) => h * 31 + ch));
            for (int k = 0; k < 50; k++)
            {
                var m = orig.Clone();
                var g = m.Graph;
                string what = "";
                int edits = 1 + rng.Next(2);
                for (int ed = 0; ed < edits; ed++)
                {
                    var nodes = g.Node;
                    if (nodes.Count == 0) break;
                    var n = nodes[rng.Next(nodes.Count)];
                    int kind = rng.Next(6);
                    long[] vals = { -1, 0, 1, 2, 3, 7, 1 << 20, int.MaxValue, -1000, long.MaxValue };
                    switch (kind)
                    {
                        case 0 when n.Attribute.Count > 0:
                        {
                            var a = n.Attribute[rng.Next(n.Attribute.Count)];
                            if (a.Ints.Count > 0) { a.Ints[rng.Next(a.Ints.Count)] = vals[rng.Next(vals.Length)]; what += $" {n.OpType}.{a.Name}[i]"; }
                            else if (a.Type == AttributeProto.Types.AttributeType.Int) { a.I = vals[rng.Next(vals.Length)]; what += $" {n.OpType}.{a.Name}={a.I}"; }
                            else if (a.Type == AttributeProto.Types.AttributeType.Float) { a.F = new[] { float.NaN, -1f, 0f, 1e30f }[rng.Next(4)]; what += $" {n.OpType}.{a.Name}={a.F}"; }
                            break;
                        }
                        case 1 when n.Input.Count > 0: { int i = rng.Next(n.Input.Count); n.Input[i] = ""; what += $" {n.OpType}.in{i}=''"; break; }
                        case 2 when n.Input.Count > 0:
                        {
                            var other = nodes[rng.Next(nodes.Count)];
                            if (other.Output.Count == 0) break;
                            int i = rng.Next(n.Input.Count); n.Input[i] = other.Output[0]; what += $" {n.OpType}.in{i}<-{other.OpType}"; break;
                        }
                        case 3:
                        {
                            var inp = g.Input[0].Type.TensorType.Shape;
                            if (inp.Dim.Count == 0) break;
                            var d = inp.Dim[rng.Next(inp.Dim.Count)];
                            d.DimValue = new long[] { 0, 1, 2, 5, 100000, -3 }[rng.Next(6)]; what += $" indim={d.DimValue}"; break;
                        }
                        case 4: { var other = nodes[rng.Next(nodes.Count)]; what += $" {n.OpType}->{other.OpType}"; n.OpType = other.OpType; break; }
                        case 5 when g.Initializer.Count > 0:
                        {
                            var t = g.Initializer[rng.Next(g.Initializer.Count)];
                            if (t.Dims.Count > 0) { t.Dims[rng.Next(t.Dims.Count)] += rng.Next(3) - 1; what += $" init {t.Name} dims"; }
                            break;
                        }
                    }
                }
                total++;
                var (r, problem) = CompileWithin(m.ToByteArray(), Path.GetFileName(file), new ModelOptions { Target = k % 4 == 0 ? TargetProfile.Portable : TargetProfile.Net });
                if (r == null) { failures.Add($"{Path.GetFileName(file)} #{k}: {problem} {what}"); continue; }
                if (r.Success)
                {
                    ok++;
                    if (seen.Add(r.Source!) && seen.Count < 40)
                    {
                        try
                        {
                            if (k % 4 == 0) { var errs = Harness.CompileNano(r.Source!); if (errs.Count > 0) failures.Add($"{Path.GetFileName(file)} #{k}: NANO {errs[0]} ::{what}"); }
                            else Harness.CompileNet(new[] { r.Source! });
                        }
                        catch (Exception ex) { failures.Add($"{Path.GetFileName(file)} #{k}: CSC {ex.Message.Split('\n')[0]} ::{what}"); }
                    }
                    continue;
                }
                var err = r.Diagnostics.FirstOrDefault(d => d.Kind.Severity == DiagSeverity.Error);
                if (err == null || err.Kind.Id == "MG9999") failures.Add($"{Path.GetFileName(file)} #{k}: {(err == null ? "no error" : err.Message)} ::{what}");
            }
        }
        log.WriteLine($"{total} mutants, {ok} compiled, {seen.Count} distinct sources, {failures.Count} failures");
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
    }

    /// <summary>Compiles with a time bound: the result, or null and HANG / THROW.</summary>
    static (CompileResult? Result, string Problem) CompileWithin(byte[] bytes, string file, ModelOptions options)
    {
        var task = Task.Run(() => ModelCompiler.Compile(bytes, file, options));
        if (!task.Wait(TimeSpan.FromSeconds(20))) return (null, "HANG");
        try { return (task.Result, ""); }
        catch (Exception ex) { return (null, "THROW " + ex.GetType().Name); }
    }
}
