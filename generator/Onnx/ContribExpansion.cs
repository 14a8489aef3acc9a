using System;
using System.Collections.Generic;
using System.Linq;
using Google.Protobuf;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Onnx.Proto;

namespace ModelGen.Compiler.Onnx;

/// <summary>
/// ONNX Runtime's own operators that a model saved after ORT's graph optimisations holds (com.microsoft FusedConv,
/// FusedGemm, FusedMatMul, the Gelu family, SkipLayerNormalization, SimplifiedLayerNormalization, and the dynamic
/// quantization fusions), rewritten on import into the standard operators they stand for. ModelGen's own passes then
/// fuse them again for its kernels (Conv + activation, LayerNorm, MatMulInteger lowering), so one set of kernels serves
/// both the exported and the ORT-optimised model.
/// </summary>
internal static class ContribExpansion
{
    static readonly Dictionary<string, Action<Writer>> s_table = new(StringComparer.Ordinal)
    {
        ["com.microsoft:FusedConv"] = FusedConv,
        ["com.microsoft:FusedGemm"] = FusedGemm,
        ["com.microsoft:FusedMatMul"] = FusedMatMul,
        ["com.microsoft:Gelu"] = x => x.Emit("Gelu", new[] { x.In(0) }, x.Out(0)),
        ["com.microsoft:BiasGelu"] = x => x.Emit("Gelu", new[] { x.Add(x.In(0), x.In(1)) }, x.Out(0)),
        ["com.microsoft:FastGelu"] = x => x.Emit("Gelu", new[] { x.Has(1) ? x.Add(x.In(0), x.In(1)) : x.In(0) }, x.Out(0), Writer.Attr("approximate", "tanh")),
        // x * sigmoid(alpha * x)
        ["com.microsoft:QuickGelu"] = x => x.Emit("Mul", new[] { x.In(0), x.Node("Sigmoid", x.Node("Mul", x.In(0), x.Const(x.N.Float("alpha", 1.702f)))) }, x.Out(0)),
        ["com.microsoft:SkipLayerNormalization"] = x => SkipNorm(x, simplified: false),
        ["com.microsoft:SkipSimplifiedLayerNormalization"] = x => SkipNorm(x, simplified: true),
        // ORT registers SimplifiedLayerNormalization in the ONNX domain
        [":SimplifiedLayerNormalization"] = x => Rms(x, x.In(0), x.In(1), (int)x.N.Int("axis", -1), x.N.Float("epsilon", 1e-5f), x.Out(0), x.Out(1)),
        ["com.microsoft:DynamicQuantizeMatMul"] = DynamicQuantizeMatMul,
        ["com.microsoft:MatMulIntegerToFloat"] = MatMulIntegerToFloat,
        ["com.microsoft:DynamicQuantizeLSTM"] = DynamicQuantizeLstm,
        // the experimental operators of opsets 1-9 (removed at opset 10) in old models, e.g. the ONNX zoo's Tiny YOLOv2
        [":ImageScaler"] = x => x.Emit("Add", new[] { x.Node("Mul", x.In(0), x.Const(x.N.Float("scale", 1f))), x.ChannelConst(x.N.Floats("bias") ?? Array.Empty<float>()) }, x.Out(0)),
        [":Scale"] = x => x.Emit("Mul", new[] { x.In(0), x.Const(x.N.Float("scale", 1f)) }, x.Out(0)),
        [":Affine"] = x => x.Emit("Add", new[] { x.Node("Mul", x.In(0), x.Const(x.N.Float("alpha", 1f))), x.Const(x.N.Float("beta", 0f)) }, x.Out(0)),
        [":ScaledTanh"] = x => x.Emit("Mul", new[] { x.Node("Tanh", x.Node("Mul", x.In(0), x.Const(x.N.Float("beta", 1f)))), x.Const(x.N.Float("alpha", 1f)) }, x.Out(0)),
        [":ParametricSoftplus"] = x => x.Emit("Mul", new[] { x.Node("Softplus", x.Node("Mul", x.In(0), x.Const(x.N.Float("beta", 1f)))), x.Const(x.N.Float("alpha", 1f)) }, x.Out(0)),
        [":Crop"] = Crop,
    };

    /// <summary>The operators rewritten here, as "domain:op" ("" is the ONNX domain), for docs/operators.md.</summary>
    public static IEnumerable<string> Operators => s_table.Keys;

    /// <summary>
    /// The standard nodes for <paramref name="node"/> (attributes and inputs resolved), or null when it is not one of
    /// these; <paramref name="note"/> is a warning for the build when the rewrite changes how the layer computes.
    /// </summary>
    public static List<NodeProto> Expand(NodeProto np, Node node, int opset, Func<string> fresh, out string note)
    {
        note = null;
        if (!s_table.TryGetValue(node.Domain + ":" + node.OpType, out var expand)) return null;
        var x = new Writer(np, node, opset, fresh);
        expand(x);
        note = x.Note;
        return x.Nodes;
    }

    /// <summary>The activation ORT fused into a Conv/Gemm, from its name and parameters; "" is none.</summary>
    static void Activation(Writer x, string kind, string input, string output, float p0, float p1)
    {
        switch (kind)
        {
            case "": x.Emit("Identity", new[] { input }, output); break;
            case "Relu": case "Tanh": case "Sigmoid": x.Emit(kind, new[] { input }, output); break;
            case "LeakyRelu": x.Emit(kind, new[] { input }, output, Writer.Attr("alpha", p0)); break;
            case "HardSigmoid": x.Emit(kind, new[] { input }, output, Writer.Attr("alpha", p0), Writer.Attr("beta", p1)); break;
            case "Clip":
                if (x.Opset >= 11) x.Emit("Clip", new[] { input, x.Const(p0), x.Const(p1) }, output);
                else x.Emit("Clip", new[] { input }, output, Writer.Attr("min", p0), Writer.Attr("max", p1));
                break;
            default: throw new CompileException(Diag.UnsupportedAttribute, $"{x.Where}: fused activation '{kind}' is not supported (Relu, Tanh, Sigmoid, LeakyRelu, HardSigmoid, Clip are)");
        }
    }

    static void FusedConv(Writer x)
    {
        // inputs X, W, B, Z: Z (a residual) is added before the activation
        var conv = x.Node("Conv", x.Inputs(3), x.Copied("activation", "activation_params"));
        if (x.Has(3)) conv = x.Add(conv, x.In(3));
        var p = x.N.Floats("activation_params") ?? Array.Empty<float>();
        string kind = x.N.Str("activation", "");
        float p0 = p.Length > 0 ? p[0] : kind == "LeakyRelu" ? 0.01f : kind == "HardSigmoid" ? 0.2f : float.NegativeInfinity;
        float p1 = p.Length > 1 ? p[1] : kind == "HardSigmoid" ? 0.5f : float.PositiveInfinity;
        Activation(x, kind, conv, x.Out(0), p0, p1);
    }

    static void FusedGemm(Writer x)
    {
        var gemm = x.Node("Gemm", x.Inputs(3), x.Copied("activation", "activation_alpha", "activation_beta", "activation_gamma"));
        string kind = x.N.Str("activation", "");
        float a = x.N.Float("activation_alpha", kind == "LeakyRelu" ? 0.01f : kind == "HardSigmoid" ? 0.2f : float.NegativeInfinity);
        float b = x.N.Float("activation_beta", kind == "HardSigmoid" ? 0.5f : float.PositiveInfinity);
        Activation(x, kind, gemm, x.Out(0), a, b);
    }

    static void FusedMatMul(Writer x)
    {
        string a = Operand(x, 0, x.N.Int("transBatchA", 0) != 0, x.N.Int("transA", 0) != 0);
        string b = Operand(x, 1, x.N.Int("transBatchB", 0) != 0, x.N.Int("transB", 0) != 0);
        float alpha = x.N.Float("alpha", 1f);
        if (alpha == 1f) x.Emit("MatMul", new[] { a, b }, x.Out(0));
        else x.Emit("Mul", new[] { x.Node("MatMul", a, b), x.Const(alpha) }, x.Out(0));
    }

    /// <summary>
    /// A FusedMatMul operand as MatMul reads it: transBatch moves the first axis to just before the last
    /// ([d0, d1, ..., dr-2, dr-1] -> [d1, ..., dr-2, d0, dr-1], ORT's MatMulComputeHelper), then trans swaps the last two.
    /// </summary>
    static string Operand(Writer x, int i, bool transBatch, bool trans)
    {
        string name = x.In(i);
        int rank = x.N.In(i).Shape.Length;
        var perm = Enumerable.Range(0, rank).ToList();
        if (transBatch)
        {
            if (rank < 3) throw new CompileException(Diag.InvalidModel, $"{x.Where}: transBatch needs an operand of rank 3 or more, got rank {rank}");
            perm.RemoveAt(0);
            perm.Insert(rank - 2, 0);
        }
        if (trans && rank >= 2) { (perm[rank - 2], perm[rank - 1]) = (perm[rank - 1], perm[rank - 2]); }
        return perm.Select((p, k) => p == k).All(same => same) ? name : x.Transpose(name, perm.Select(p => (long)p).ToArray());
    }

    static void SkipNorm(Writer x, bool simplified)
    {
        // inputs: input, skip, gamma, [beta,] bias (SkipSimplified has no beta); outputs: y, mean, inv_std_var, input_skip_bias_sum
        int biasAt = simplified ? 3 : 4;
        string sum = x.Add(x.In(0), x.In(1));
        if (x.Has(biasAt)) sum = x.Add(sum, x.In(biasAt));
        if (x.HasOut(3)) x.Emit("Identity", new[] { sum }, x.Out(3));
        float eps = x.N.Float("epsilon", 1e-12f);
        if (simplified) { Rms(x, sum, x.In(2), -1, eps, x.Out(0), x.HasOut(2) ? x.Out(2) : ""); return; }
        var ins = x.Has(3) ? new[] { sum, x.In(2), x.In(3) } : new[] { sum, x.In(2) };
        // LayerNormalization's optional Mean and InvStdDev outputs, up to the last one asked for
        var outs = x.HasOut(2) ? new[] { x.Out(0), x.Out(1), x.Out(2) } : x.HasOut(1) ? new[] { x.Out(0), x.Out(1) } : new[] { x.Out(0) };
        x.EmitMany("LayerNormalization", ins, outs, Writer.Attr("axis", -1L), Writer.Attr("epsilon", eps));
    }

    /// <summary>
    /// RMS normalisation over [axis, rank): y = x / sqrt(mean(x^2) + eps) * scale, one RMSNormalization layer; when the
    /// 1 / sqrt(...) output is asked for too, the primitive operators that give it.
    /// </summary>
    static void Rms(Writer x, string input, string scale, int axis, float eps, string output, string invOut)
    {
        if (invOut.Length == 0)
        {
            x.Emit("RMSNormalization", new[] { input, scale }, output, Writer.Attr("axis", (long)axis), Writer.Attr("epsilon", eps));
            return;
        }
        int rank = x.RankOf(input);
        if (axis < 0) axis += rank;
        var axes = Enumerable.Range(axis, Math.Max(0, rank - axis)).Select(i => (long)i).ToArray();
        string sq = x.Node("Mul", input, input);
        string mean = x.Opset >= 18
            ? x.Node("ReduceMean", new[] { sq, x.ConstLongs(axes) }, Writer.Attr("keepdims", 1L))
            : x.Node("ReduceMean", new[] { sq }, Writer.Attr("axes", axes), Writer.Attr("keepdims", 1L));
        string inv = x.Node("Reciprocal", x.Node("Sqrt", x.Node("Add", mean, x.Const(eps))));
        x.Emit("Identity", new[] { inv }, invOut);
        x.Emit("Mul", new[] { x.Node("Mul", input, inv), scale }, output);
    }

    /// <summary>The graph ORT's quantize_dynamic writes before ORT fuses it: ModelGen's MatMulInteger lowering takes it from there.</summary>
    static void Scaled(Writer x, string ints, string aScale, string bScale, int biasAt)
    {
        string scale = x.Node("Mul", aScale, bScale);
        string f = x.Node("Cast", new[] { ints }, Writer.Attr("to", (long)DType.Float));
        if (x.Has(biasAt)) x.Emit("Add", new[] { x.Node("Mul", f, scale), x.In(biasAt) }, x.Out(0));
        else x.Emit("Mul", new[] { f, scale }, x.Out(0));
    }

    static void DynamicQuantizeMatMul(Writer x)
    {
        // A (float), B (int8/uint8), b_scale, b_zero_point, bias
        var q = x.NodeOutputs("DynamicQuantizeLinear", new[] { x.In(0) }, 3);
        var mm = x.Node("MatMulInteger", new[] { q[0], x.In(1), q[2], x.Has(3) ? x.In(3) : "" });
        Scaled(x, mm, q[1], x.In(2), 4);
    }

    static void MatMulIntegerToFloat(Writer x)
    {
        // A, B, a_scale, b_scale, a_zero_point, b_zero_point, bias
        var mm = x.Node("MatMulInteger", new[] { x.In(0), x.In(1), x.Has(4) ? x.In(4) : "", x.Has(5) ? x.In(5) : "" });
        Scaled(x, mm, x.In(2), x.In(3), 6);
    }

    /// <summary>
    /// quantize_dynamic's LSTM: int8/uint8 W [dirs, input, 4 hidden] and R [dirs, hidden, 4 hidden] (transposed from
    /// LSTM's layout) with per-tensor or per-gate-row scales and zero points. It becomes a float LSTM on the dequantized
    /// weights (ModelGen has no integer LSTM; ORT also quantizes the activations at run time, so the two differ by that
    /// rounding), and the build says so.
    /// </summary>
    static void DynamicQuantizeLstm(Writer x)
    {
        string w = x.Dequantized(1, 8, 9), r = x.Dequantized(2, 10, 11);
        var ins = new[] { x.In(0), w, r }.Concat(Enumerable.Range(3, 5).Select(i => x.Has(i) ? x.In(i) : "")).ToArray();
        int used = ins.Length;
        while (used > 3 && ins[used - 1].Length == 0) used--;
        x.EmitMany("LSTM", ins.Take(used).ToArray(), x.Outputs(), x.Copied());
        x.Note = $"{x.Where} runs as a float LSTM on its weights dequantized at build time: ModelGen has no integer LSTM, "
            + "and its results differ from ONNX Runtime's by the rounding ORT applies to the activations at run time";
    }

    /// <summary>
    /// Crop (experimental, NCHW): 'border' = [left, top, right, bottom]; with 'scale' = [height, width] the window of that
    /// size from (top, left), else what the borders leave.
    /// </summary>
    static void Crop(Writer x)
    {
        var shape = x.N.In(0)?.Shape;
        var border = x.N.Ints("border") ?? Array.Empty<long>();
        var scale = x.N.Ints("scale") ?? Array.Empty<long>();
        if (shape == null || shape.Length != 4 || border.Length != 4 || scale.Length != 0 && scale.Length != 2)
            throw new CompileException(Diag.InvalidModel, $"{x.Where}: Crop takes an NCHW input, 4 border values and 0 or 2 scale values");
        long top = border[1], left = border[0];
        long bottom = scale.Length == 2 ? top + scale[0] : shape[2] - border[3], right = scale.Length == 2 ? left + scale[1] : shape[3] - border[2];
        if (top < 0 || left < 0 || bottom > shape[2] || right > shape[3] || bottom <= top || right <= left)
            throw new CompileException(Diag.InvalidModel, $"{x.Where}: the crop window [{top}, {bottom}) x [{left}, {right}) does not fit the input {Shape.Format(shape)}");
        long[] starts = { top, left }, ends = { bottom, right }, axes = { 2, 3 };
        if (x.Opset >= 10) x.Emit("Slice", new[] { x.In(0), x.ConstLongs(starts), x.ConstLongs(ends), x.ConstLongs(axes) }, x.Out(0));
        else x.Emit("Slice", new[] { x.In(0) }, x.Out(0), Writer.Attr("starts", starts), Writer.Attr("ends", ends), Writer.Attr("axes", axes));
    }

    /// <summary>Writes the replacement nodes, with fresh names for the tensors between them.</summary>
    sealed class Writer
    {
        readonly NodeProto _np;
        readonly Func<string> _fresh;
        readonly Dictionary<string, int> _ranks = new(StringComparer.Ordinal);
        public readonly List<NodeProto> Nodes = new();
        public readonly Node N;
        public readonly int Opset;
        public string Where => $"node {N.Display}";

        public Writer(NodeProto np, Node node, int opset, Func<string> fresh)
        {
            _np = np; N = node; Opset = opset; _fresh = fresh;
            for (int i = 0; i < np.Input.Count && i < node.Inputs.Count; i++)
                if (node.Inputs[i] != null) _ranks[np.Input[i]] = node.Inputs[i].Shape.Length;
        }

        /// <summary>A warning for the build (see <see cref="Expand"/>).</summary>
        public string Note;

        public string[] Outputs() => _np.Output.ToArray();

        /// <summary>
        /// A constant [dirs, rows, cols] integer weight of DynamicQuantizeLSTM (input <paramref name="w"/>, scale and
        /// zero point per tensor or per column) as the float [dirs, cols, rows] weight LSTM takes.
        /// </summary>
        public string Dequantized(int w, int scale, int zero)
        {
            Value q = N.In(w), s = N.In(scale), z = Has(zero) ? N.In(zero) : null;
            if (q?.Const == null || s?.Const == null || z != null && z.Const == null)
                throw new CompileException(Diag.UnsupportedAttribute, $"{Where}: weights, scales and zero points computed at run time are not supported");
            if (q.Shape.Length != 3) throw new CompileException(Diag.InvalidModel, $"{Where}: input {w} must have rank 3 [directions, rows, 4 * hidden], got {Shape.Format(q.Shape)}");
            int dirs = q.Shape[0], rows = q.Shape[1], cols = q.Shape[2];
            bool PerColumn(Value v) => v.Length == dirs * cols && cols > 1;
            if (s.Length != 1 && s.Length != dirs && !PerColumn(s) || z != null && z.Length != s.Length)
                throw new CompileException(Diag.InvalidModel, $"{Where}: scale and zero point of input {w} must hold 1, {dirs} or {dirs * cols} values");
            var f = new float[q.Length];
            for (int d = 0; d < dirs; d++)
                for (int c = 0; c < cols; c++)
                {
                    int k = s.Length == 1 ? 0 : PerColumn(s) ? d * cols + c : d;
                    float sc = (float)s.Const.GetDouble(k);
                    long zp = z == null ? 0 : z.Const.L[k];
                    for (int rr = 0; rr < rows; rr++)
                        f[(d * cols + c) * rows + rr] = (q.Const.L[(d * rows + rr) * cols + c] - zp) * sc;
                }
            var t = new TensorProto { DataType = (int)DType.Float };
            t.Dims.AddRange(new long[] { dirs, cols, rows });
            t.FloatData.AddRange(f);
            return Constant(t);
        }

        public bool Has(int i) => i < _np.Input.Count && _np.Input[i].Length > 0;
        public string In(int i) => Has(i) ? _np.Input[i] : throw new CompileException(Diag.InvalidModel, $"{Where}: input {i} is required");
        public string[] Inputs(int count) => _np.Input.Take(count).ToArray();
        public bool HasOut(int i) => i < _np.Output.Count && _np.Output[i].Length > 0;
        public string Out(int i) => HasOut(i) ? _np.Output[i] : "";

        /// <summary>Rank of an input of the node or of an intermediate written here (elementwise: the larger operand's).</summary>
        public int RankOf(string name) => _ranks.TryGetValue(name, out var r) ? r : throw new CompileException(Diag.InternalError, $"{Where}: rank of '{name}' unknown");

        /// <summary>The node's attributes except those named (they belong to the fused activation).</summary>
        public AttributeProto[] Copied(params string[] except) => _np.Attribute.Where(a => !except.Contains(a.Name)).Select(a => a.Clone()).ToArray();

        public void Emit(string op, string[] inputs, string output, params AttributeProto[] attrs) => EmitMany(op, inputs, new[] { output }, attrs);

        public void EmitMany(string op, string[] inputs, string[] outputs, params AttributeProto[] attrs)
        {
            var n = new NodeProto { OpType = op, Domain = "", Name = $"{_np.Name}/{op}{Nodes.Count}" };
            n.Input.AddRange(inputs);
            n.Output.AddRange(outputs);
            n.Attribute.AddRange(attrs);
            Nodes.Add(n);
            int rank = inputs.Where(i => i.Length > 0 && _ranks.ContainsKey(i)).Select(i => _ranks[i]).DefaultIfEmpty(0).Max();
            foreach (var o in outputs) if (o.Length > 0) _ranks[o] = rank;
        }

        public string[] NodeOutputs(string op, string[] inputs, int count, params AttributeProto[] attrs)
        {
            var outs = Enumerable.Range(0, count).Select(_ => _fresh()).ToArray();
            EmitMany(op, inputs, outs, attrs);
            return outs;
        }

        public string Node(string op, string[] inputs, params AttributeProto[] attrs) => NodeOutputs(op, inputs, 1, attrs)[0];
        public string Node(string op, params string[] inputs) => Node(op, inputs, Array.Empty<AttributeProto>());
        public string Add(string a, string b) => Node("Add", a, b);

        public string Transpose(string input, long[] perm)
        {
            var t = Node("Transpose", new[] { input }, Attr("perm", perm));
            _ranks[t] = perm.Length;
            return t;
        }

        /// <summary>A Constant node holding <paramref name="t"/>: its output's name.</summary>
        public string Constant(TensorProto t) => Node("Constant", Array.Empty<string>(), new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = t });

        public string Const(float v)
        {
            var t = new TensorProto { DataType = (int)DType.Float };
            t.FloatData.Add(v);
            var name = Constant(t);
            _ranks[name] = 0;
            return name;
        }

        /// <summary>A per-channel constant [C, 1, 1] (NCHW) from the node's values.</summary>
        public string ChannelConst(float[] v)
        {
            var shape = N.In(0)?.Shape;
            if (shape == null || shape.Length < 2 || v.Length != shape[1])
                throw new CompileException(Diag.InvalidModel, $"{Where}: 'bias' must hold one value per channel of an N x C x ... input");
            var t = new TensorProto { DataType = (int)DType.Float };
            t.Dims.Add(v.Length);
            for (int i = 2; i < shape.Length; i++) t.Dims.Add(1);
            t.FloatData.AddRange(v);
            return Constant(t);
        }

        public string ConstLongs(long[] v)
        {
            var t = new TensorProto { DataType = (int)DType.Int64 };
            t.Dims.Add(v.Length);
            t.Int64Data.AddRange(v);
            return Constant(t);
        }

        public static AttributeProto Attr(string name, float v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = v };
        public static AttributeProto Attr(string name, long v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = v };
        public static AttributeProto Attr(string name, string v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(v) };
        public static AttributeProto Attr(string name, long[] v)
        {
            var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
            a.Ints.AddRange(v);
            return a;
        }
    }
}
