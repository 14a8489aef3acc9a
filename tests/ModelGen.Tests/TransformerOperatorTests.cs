using ModelGen.Compiler;
using ModelGen.Compiler.IR;
using Xunit;

namespace ModelGen.Tests;

/// <summary>The opset-23 transformer operators (RMSNormalization, RotaryEmbedding, Attention) against ONNX Runtime.</summary>
public class TransformerOperatorTests
{
    const double Tol = 1e-4;

    static int Count(int[] s) => s.Aggregate(1, (a, b) => a * b);

    static CompileResult Compile(byte[] model) => ModelCompiler.Compile(model, "t.onnx", new ModelOptions { ClassName = "M" });

    static void AssertUnsupported(byte[] model, string fragment)
    {
        var r = Compile(model);
        Assert.False(r.Success);
        var d = Assert.Single(r.Diagnostics);
        Assert.Equal("MG0011", d.Kind.Id);
        Assert.Contains(fragment, d.Message);
    }

    // ---------------- RMSNormalization ----------------

    static void CheckRms(int[] x, int[] scale, bool constScale, params (string, object)[] attrs)
    {
        var b = new OnnxBuilder(23).Input("x", DType.Float, x);
        var inputs = new List<Array> { Ort.Random(Count(x), 1, 3f) };
        if (constScale) b.Initializer("s", scale, Ort.Random(Count(scale), 2));
        else { b.Input("s", DType.Float, scale); inputs.Add(Ort.Random(Count(scale), 2)); }
        var m = b.Node("RMSNormalization", new[] { "x", "s" }, new[] { "y" }, attrs).Output("y").Build();
        OpCheck.AgainstOrt(m, Tol, inputs.ToArray());
    }

    [Fact]
    public void RmsNormLastAxis() => CheckRms(new[] { 2, 3, 16 }, new[] { 16 }, true);

    [Fact]
    public void RmsNormShortRows() => CheckRms(new[] { 3, 3 }, new[] { 3 }, false, ("epsilon", 1e-2f));

    [Fact]
    public void RmsNormAxisOneRuntimeScale() => CheckRms(new[] { 2, 3, 4, 5 }, new[] { 3, 4, 5 }, false, ("axis", 1L), ("epsilon", 1e-3f));

    [Fact]
    public void RmsNormPartlyBroadcastScale() => CheckRms(new[] { 2, 4, 6 }, new[] { 1, 6 }, true, ("axis", -2L));

    [Fact]
    public void RmsNormSingleScale() => CheckRms(new[] { 2, 4, 6 }, new[] { 1 }, false, ("axis", -2L));

    // ---------------- RotaryEmbedding ----------------

    static void CheckRope(int[] x, int half, bool ids, params (string, object)[] attrs)
    {
        int rows = 12;
        var b = new OnnxBuilder(23).Input("x", DType.Float, x);
        int batch = x[0], seq = x.Length == 4 ? x[2] : x[1];
        var inputs = new List<Array> { Ort.Random(Count(x), 3, 2f) };
        var angles = Ort.Random(ids ? rows * half : batch * seq * half, 4, 3f);
        var cos = angles.Select(a => MathF.Cos(a)).ToArray();
        var sin = angles.Select(a => MathF.Sin(a)).ToArray();
        var names = new List<string> { "x", "cos", "sin" };
        if (ids)
        {
            b.Initializer("cos", new[] { rows, half }, cos).Initializer("sin", new[] { rows, half }, sin).Input("pos", DType.Int64, batch, seq);
            names.Add("pos");
            inputs.Add(Enumerable.Range(0, batch * seq).Select(i => (long)((i * 7 + 3) % rows)).ToArray());
        }
        else
        {
            b.Input("cos", DType.Float, batch, seq, half).Input("sin", DType.Float, batch, seq, half);
            inputs.Add(cos); inputs.Add(sin);
        }
        var m = b.Node("RotaryEmbedding", names.ToArray(), new[] { "y" }, attrs).Output("y").Build();
        OpCheck.AgainstOrt(m, Tol, inputs.ToArray());
    }

    [Fact]
    public void RopeHalves4dPositionIds() => CheckRope(new[] { 2, 3, 4, 8 }, 4, true);

    [Fact]
    public void RopeInterleavedPartial4d() => CheckRope(new[] { 2, 3, 4, 8 }, 2, true, ("interleaved", 1L), ("rotary_embedding_dim", 4L));

    [Fact]
    public void RopeHalves3dNumHeads() => CheckRope(new[] { 2, 5, 3 * 6 }, 3, true, ("num_heads", 3L));

    [Fact]
    public void RopeInterleavedPartial3d() => CheckRope(new[] { 1, 5, 2 * 8 }, 3, true, ("num_heads", 2L), ("interleaved", 1L), ("rotary_embedding_dim", 6L));

    [Fact]
    public void RopeWithoutPositionIds() => CheckRope(new[] { 2, 2, 3, 8 }, 4, false);

    [Fact]
    public void RopeWithoutPositionIds3dPartial() => CheckRope(new[] { 2, 3, 2 * 8 }, 2, false, ("num_heads", 2L), ("rotary_embedding_dim", 4L));

    [Fact]
    public void RopeThenRmsNormOnIntermediates()
    {
        // both may write over their dying input (ElementwiseInPlace)
        var angles = Ort.Random(6 * 4, 4, 3f);
        var m = new OnnxBuilder(23).Input("x", DType.Float, 1, 2, 3, 8).Input("pos", DType.Int64, 1, 3)
            .Initializer("cos", new[] { 6, 4 }, angles.Select(a => MathF.Cos(a)).ToArray()).Initializer("sin", new[] { 6, 4 }, angles.Select(a => MathF.Sin(a)).ToArray())
            .Initializer("s", new[] { 8 }, Ort.Random(8, 5))
            .Node("Neg", new[] { "x" }, new[] { "a" })
            .Node("RotaryEmbedding", new[] { "a", "cos", "sin", "pos" }, new[] { "b" })
            .Node("RMSNormalization", new[] { "b", "s" }, new[] { "c" })
            .Node("Neg", new[] { "c" }, new[] { "y" }).Output("y").Build();
        OpCheck.AgainstOrt(m, Tol, Ort.Random(48, 6), new long[] { 5, 0, 2 });
    }

    // ---------------- Attention ----------------

    /// <summary>Q, K, V (and optional mask, past key and value) as run-time inputs; outputs named y, present_key, present_value, qk.</summary>
    static void CheckAttention(int[] q, int[] k, int[] v, int outputs, (int[] Shape, bool Bool)? mask = null, int[]? pastK = null, int[]? pastV = null, params (string, object)[] attrs)
    {
        var b = new OnnxBuilder(23).Input("q", DType.Float, q).Input("k", DType.Float, k).Input("v", DType.Float, v);
        var inputs = new List<Array> { Ort.Random(Count(q), 5, 2f), Ort.Random(Count(k), 6, 2f), Ort.Random(Count(v), 7) };
        var names = new List<string> { "q", "k", "v" };
        if (mask is { } mk)
        {
            b.Input("mask", mk.Bool ? DType.Bool : DType.Float, mk.Shape);
            names.Add("mask");
            var r = Ort.Random(Count(mk.Shape), 8);
            inputs.Add(mk.Bool ? r.Select(x => x > -0.4f).ToArray() : r.Select(x => x * 2).ToArray());
        }
        if (pastK != null)
        {
            if (mask == null) names.Add("");
            b.Input("pk", DType.Float, pastK).Input("pv", DType.Float, pastV!);
            names.Add("pk"); names.Add("pv");
            inputs.Add(Ort.Random(Count(pastK), 9, 2f)); inputs.Add(Ort.Random(Count(pastV!), 10));
        }
        var outNames = new[] { "y", "present_key", "present_value", "qk" }.Take(outputs).ToArray();
        b.Node("Attention", names.ToArray(), outNames, attrs);
        foreach (var o in outNames) b.Output(o);
        OpCheck.AgainstOrt(b.Build(), Tol, inputs.ToArray());
    }

    [Fact]
    public void Attention4d() => CheckAttention(new[] { 2, 3, 4, 8 }, new[] { 2, 3, 6, 8 }, new[] { 2, 3, 6, 8 }, 1);

    [Fact]
    public void Attention4dGroupedQueryOtherValueSize() => CheckAttention(new[] { 2, 6, 4, 8 }, new[] { 2, 2, 5, 8 }, new[] { 2, 2, 5, 3 }, 1, attrs: ("scale", 0.2f));

    [Fact]
    public void Attention3dHeads() => CheckAttention(new[] { 2, 4, 3 * 8 }, new[] { 2, 6, 8 }, new[] { 2, 6, 5 }, 1, attrs: new (string, object)[] { ("q_num_heads", 3L), ("kv_num_heads", 1L) });

    [Fact]
    public void Attention3dCausal() => CheckAttention(new[] { 1, 5, 2 * 4 }, new[] { 1, 5, 2 * 4 }, new[] { 1, 5, 2 * 4 }, 1, attrs: new (string, object)[] { ("q_num_heads", 2L), ("kv_num_heads", 2L), ("is_causal", 1L) });

    [Fact]
    public void AttentionCausalCrossLengths() => CheckAttention(new[] { 1, 2, 3, 4 }, new[] { 1, 2, 5, 4 }, new[] { 1, 2, 5, 4 }, 1, attrs: ("is_causal", 1L));

    [Fact]
    public void AttentionCausalMoreQueriesThanKeys() => CheckAttention(new[] { 1, 2, 5, 4 }, new[] { 1, 2, 3, 4 }, new[] { 1, 2, 3, 4 }, 1, attrs: ("is_causal", 1L));

    [Fact]
    public void AttentionCausalOneQueryWithPast() => CheckAttention(new[] { 1, 2, 1, 8 }, new[] { 1, 2, 1, 8 }, new[] { 1, 2, 1, 8 }, 3, null, new[] { 1, 2, 4, 8 }, new[] { 1, 2, 4, 8 }, ("is_causal", 1L));

    [Fact]
    public void AttentionWideHeadsOddSizes() => CheckAttention(new[] { 1, 9, 3 * 20 }, new[] { 1, 9, 3 * 20 }, new[] { 1, 9, 3 * 19 }, 1, attrs: new (string, object)[] { ("q_num_heads", 3L), ("kv_num_heads", 3L), ("is_causal", 1L) });

    [Fact]
    public void AttentionBoolMaskBroadcast() => CheckAttention(new[] { 2, 2, 4, 8 }, new[] { 2, 2, 6, 8 }, new[] { 2, 2, 6, 8 }, 1, (new[] { 4, 6 }, true));

    [Fact]
    public void AttentionFloatMask4d() => CheckAttention(new[] { 2, 2, 4, 8 }, new[] { 2, 2, 6, 8 }, new[] { 2, 2, 6, 8 }, 1, (new[] { 2, 1, 4, 6 }, false));

    [Fact]
    public void AttentionFloatMask3dInputs() => CheckAttention(new[] { 2, 4, 2 * 4 }, new[] { 2, 6, 2 * 4 }, new[] { 2, 6, 2 * 4 }, 1, (new[] { 2, 2, 4, 6 }, false), attrs: new (string, object)[] { ("q_num_heads", 2L), ("kv_num_heads", 2L) });

    [Fact]
    public void AttentionSoftcapWithMaskAndCausal() => CheckAttention(new[] { 1, 2, 4, 8 }, new[] { 1, 2, 4, 8 }, new[] { 1, 2, 4, 8 }, 1, (new[] { 1, 4, 4 }, false), attrs: new (string, object)[] { ("softcap", 1.5f), ("is_causal", 1L) });

    [Fact]
    public void AttentionPastAndPresent() => CheckAttention(new[] { 2, 4, 2, 8 }, new[] { 2, 2, 2, 8 }, new[] { 2, 2, 2, 6 }, 3, null, new[] { 2, 2, 5, 8 }, new[] { 2, 2, 5, 6 }, ("is_causal", 1L));

    [Fact]
    public void AttentionPastAndPresent3dBoolMask() => CheckAttention(new[] { 1, 1, 4 * 4 }, new[] { 1, 1, 2 * 4 }, new[] { 1, 1, 2 * 4 }, 3, (new[] { 1, 1, 1, 4 }, true), new[] { 1, 2, 3, 4 }, new[] { 1, 2, 3, 4 }, ("q_num_heads", 4L), ("kv_num_heads", 2L));

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void AttentionQkOutputModes(int mode) => CheckAttention(new[] { 1, 2, 3, 4 }, new[] { 1, 2, 5, 4 }, new[] { 1, 2, 5, 4 }, 4, (new[] { 3, 5 }, false), new[] { 1, 2, 0, 4 }, new[] { 1, 2, 0, 4 }, ("softcap", 2f), ("qk_matmul_output_mode", (long)mode));

    [Fact]
    public void AttentionRowWithEveryKeyMasked()
    {
        // a boolean mask row that hides everything: ORT averages V evenly (masked scores take the lowest float)
        var m = new OnnxBuilder(23).Input("q", DType.Float, 1, 1, 2, 4).Input("k", DType.Float, 1, 1, 3, 4).Input("v", DType.Float, 1, 1, 3, 4)
            .Input("mask", DType.Bool, 2, 3).Node("Attention", new[] { "q", "k", "v", "mask" }, new[] { "y" }).Output("y").Build();
        OpCheck.AgainstOrt(m, Tol, Ort.Random(8, 1), Ort.Random(12, 2), Ort.Random(12, 3), new[] { true, false, true, false, false, false });
    }

    [Fact]
    public void ConstantInputsFoldThroughEvaluate()
    {
        // every input constant: the importer folds each operator with its reference Evaluate
        var angles = Ort.Random(6 * 4, 4, 3f);
        var m = new OnnxBuilder(23).Input("x", DType.Float, 1, 2, 3, 8)
            .Initializer("q", new[] { 1, 2, 3, 8 }, Ort.Random(48, 1, 2f)).Initializer("k", new[] { 1, 1, 4, 8 }, Ort.Random(32, 2, 2f)).Initializer("v", new[] { 1, 1, 4, 8 }, Ort.Random(32, 3))
            .Initializer("pk", new[] { 1, 1, 2, 8 }, Ort.Random(16, 7)).Initializer("pv", new[] { 1, 1, 2, 8 }, Ort.Random(16, 8))
            .Initializer("mask", new[] { 3, 6 }, Ort.Random(18, 9))
            .Initializer("cos", new[] { 6, 4 }, angles.Select(a => MathF.Cos(a)).ToArray()).Initializer("sin", new[] { 6, 4 }, angles.Select(a => MathF.Sin(a)).ToArray())
            .Initializer("pos", new[] { 1, 3 }, new long[] { 4, 1, 5 }).Initializer("s", new[] { 8 }, Ort.Random(8, 5))
            .Node("Attention", new[] { "q", "k", "v", "mask", "pk", "pv" }, new[] { "a", "pkk", "pvv" }, ("is_causal", 1L), ("softcap", 3f))
            .Node("RotaryEmbedding", new[] { "a", "cos", "sin", "pos" }, new[] { "b" }, ("interleaved", 1L))
            .Node("RMSNormalization", new[] { "b", "s" }, new[] { "c" })
            .Node("Add", new[] { "c", "x" }, new[] { "y" }).Output("y").Build();
        OpCheck.AgainstOrt(m, Tol, Ort.Random(48, 6));
    }

    static void Near(double expected, float actual) => Assert.True(Math.Abs(expected - actual) <= 1e-4 * (1 + Math.Abs(expected)), $"expected {expected}, got {actual}");

    [Fact]
    public void AttentionRowKernelsMatchScalarSums()
    {
        // odd geometries around the vector widths: rows stride floats apart, counts around the 4-key step
        foreach (int d in new[] { 1, 3, 4, 7, 8, 15, 16, 17, 33 })
            foreach (int count in new[] { 0, 1, 3, 4, 5, 9, 17 })
            {
                int stride = d + 2, ld = count + 3;
                var q = Ort.Random(d, 1); var keys = Ort.Random(Math.Max(1, count) * stride, 2); var p = Ort.Random(Math.Max(1, count), 3);
                var scores = new float[Math.Max(1, ld)]; var fromColumns = new float[Math.Max(1, ld)];
                var kt = new float[d * ld];
                ModelGen.Runtime.AttentionRows.Scores(q, keys, count, stride, d, 0.5f, scores);
                ModelGen.Runtime.AttentionRows.Columns(keys, count, stride, d, kt, ld);
                ModelGen.Runtime.AttentionRows.ScoresOfColumns(q, kt, ld, count, d, 0.5f, fromColumns);
                var y = Ort.Random(d, 4); var y0 = (float[])y.Clone();
                ModelGen.Runtime.AttentionRows.Weighted(p, keys, count, stride, d, true, y);
                for (int j = 0; j < count; j++)
                {
                    double e = 0;
                    for (int t = 0; t < d; t++) e += q[t] * keys[j * stride + t];
                    Near(e * 0.5, scores[j]);
                    Near(e * 0.5, fromColumns[j]);
                }
                for (int t = 0; t < d; t++)
                {
                    double e = y0[t];
                    for (int j = 0; j < count; j++) e += p[j] * keys[j * stride + t];
                    Near(e, y[t]);
                }
            }
    }

    // ---------------- unsupported corners ----------------

    [Fact]
    public void UnsupportedCornersGiveDiagnostics()
    {
        AssertUnsupported(new OnnxBuilder(23).Input("x", DType.Float, 2, 4).Initializer("s", new[] { 4 }, new float[4])
            .Node("RMSNormalization", new[] { "x", "s" }, new[] { "y" }, ("stash_type", 10L)).Output("y").Build(), "stash_type 10");
        AssertUnsupported(new OnnxBuilder(23).Input("x", DType.Float, 2, 4, 6).Input("s", DType.Float, 4, 1)
            .Node("RMSNormalization", new[] { "x", "s" }, new[] { "y" }, ("axis", 1L)).Output("y").Build(), "must be a constant");
        AssertUnsupported(new OnnxBuilder(23).Input("q", DType.Float, 1, 1, 2, 4).Input("k", DType.Float, 1, 1, 3, 4).Input("v", DType.Float, 1, 1, 3, 4)
            .Input("mask", DType.Float, 2, 2).Node("Attention", new[] { "q", "k", "v", "mask" }, new[] { "y" }).Output("y").Build(), "shorter");
        AssertUnsupported(new OnnxBuilder(23).Input("q", DType.Float, 1, 1, 2, 4).Input("k", DType.Float, 1, 1, 3, 4).Input("v", DType.Float, 1, 1, 3, 4)
            .Node("Attention", new[] { "q", "k", "v" }, new[] { "y", "", "", "qk" }, ("qk_matmul_output_mode", 4L)).Output("y").Output("qk").Build(), "qk_matmul_output_mode 4");
        AssertUnsupported(new OnnxBuilder(24).Input("q", DType.Float, 1, 1, 2, 4).Input("k", DType.Float, 1, 1, 3, 4).Input("v", DType.Float, 1, 1, 3, 4).Input("n", DType.Int64, 1)
            .Node("Attention", new[] { "q", "k", "v", "", "", "", "n" }, new[] { "y" }).Output("y").Build(), "nonpad_kv_seqlen");
    }
}
