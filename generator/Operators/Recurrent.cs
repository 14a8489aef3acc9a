using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// What LSTM, GRU and RNN share: attribute and shape validation (opsets 1-14+, layout from 14), activation functions
/// with their alpha/beta, and the emitted skeleton. Batch rows are independent, so the code runs, per direction, each
/// batch row through its own time steps: the state (h, and c for LSTM) lives in the node's scratch memory, every step
/// computes the gate pre-activations X_t W^T + H_{t-1} R^T into scratch, then one elementwise loop applies biases,
/// clip and activations and writes the new state and Y[t]. A row with sequence_lens[b] = len stops after len steps
/// (reverse: it runs t = len-1 .. 0), Y[t >= len] is zero, Y_h/Y_c hold the last valid step (zero when len = 0), as
/// ONNX Runtime does. Net profile (float): the input projection of all time steps is one
/// <c>ModelGen.Runtime.Gemm.Run</c> call and each recurrence product a <c>Recurrent.MatVec</c> call; with the default
/// activations of the variant PyTorch exports (see <see cref="StepKernel"/>) a step is MatVec (adding Rb) plus one
/// gate kernel, Wb riding on the input projection. Otherwise plain loops.
/// </summary>
public abstract class Recurrent : Operator
{
    /// <summary>Gate blocks in W and R (LSTM 4: i o f c, GRU 3: z r h, RNN 1).</summary>
    protected abstract int Gates { get; }
    /// <summary>Activation functions per direction and their defaults (LSTM f g h, GRU f g, RNN f).</summary>
    protected abstract string[] DefaultActivations { get; }
    /// <summary>Largest input count (LSTM 8, GRU and RNN 6) and output count (LSTM 3: Y Y_h Y_c, others 2).</summary>
    protected abstract int MaxInputs { get; }
    protected abstract int MaxOutputs { get; }
    /// <summary>Scratch elements an operator needs beyond the gates and h (LSTM: c; GRU: one hidden-size vector).</summary>
    protected abstract int ExtraScratch(Info f);
    /// <summary>Validates the operator's own attributes and inputs (input_forget, P, initial_c, linear_before_reset).</summary>
    protected virtual void InferExtra(Node n, Info f) { }
    /// <summary>Emits one time step of one batch row (state in scratch, pre-activations at <see cref="Step.Gates"/>).</summary>
    protected abstract void EmitStep(Node n, EmitContext e, Info f, Step st);

    /// <summary>An activation function with its resolved alpha and beta.</summary>
    public sealed class Act
    {
        public string Name { get; init; }
        public float Alpha { get; init; }
        public float Beta { get; init; }
    }

    /// <summary>Resolved attributes and dimensions (node.State).</summary>
    public sealed class Info
    {
        public int Seq, Batch, Input, Hidden, Dirs, Layout;
        public string Direction;
        public float? Clip;
        /// <summary>Per direction, in the operator's order (LSTM f g h, GRU f g, RNN f).</summary>
        public Act[][] Acts;
        public Value X, W, R, B, SeqLens, InitH, InitC, P, Y, Yh, Yc;
        public bool InputForget, LinearBeforeReset;
    }

    /// <summary>Where the current step's data is (expressions valid inside the time loop).</summary>
    public sealed class Step
    {
        public Node Node;
        public int D;
        public bool Kernel;
        public Value Scratch;
        /// <summary>Batch row, time index, and this step's gate pre-activations (offset in scratch).</summary>
        public string B, T, Gates;
        /// <summary>Offset of the X row (t, b) in X; offset of the Y row (t, d, b) in Y, null without Y.</summary>
        public string XRow, YRow;
        /// <summary>Scratch offsets: h state, c state (LSTM), a hidden-size temporary (GRU).</summary>
        public int H, C, Tmp;
    }

    // ---------- inference ----------

    /// <summary>ONNX activation names (lower case) -> whether they take alpha, beta, and the defaults.</summary>
    static readonly Dictionary<string, (string Name, bool A, bool B, float Alpha, float Beta)> s_acts = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Relu"] = ("Relu", false, false, 0f, 0f),
        ["Tanh"] = ("Tanh", false, false, 0f, 0f),
        ["Sigmoid"] = ("Sigmoid", false, false, 0f, 0f),
        ["Affine"] = ("Affine", true, true, 1f, 0f),
        ["LeakyRelu"] = ("LeakyRelu", true, false, 0.01f, 0f),
        ["ThresholdedRelu"] = ("ThresholdedRelu", true, false, 1f, 0f),
        ["ScaledTanh"] = ("ScaledTanh", true, true, 1f, 1f),
        ["HardSigmoid"] = ("HardSigmoid", true, true, 0.2f, 0.5f),
        ["Elu"] = ("Elu", true, false, 1f, 0f),
        ["Softsign"] = ("Softsign", false, false, 0f, 0f),
        ["Softplus"] = ("Softplus", false, false, 0f, 0f),
    };

    public override void Infer(Node n)
    {
        Require(n, 3, MaxInputs);
        if (n.Outputs.Count > MaxOutputs) throw Error($"{n.OpType} has at most {MaxOutputs} outputs, got {n.Outputs.Count}");
        var f = new Info { X = n.In(0), W = n.In(1), R = n.In(2), B = n.In(3), SeqLens = n.In(4), InitH = n.In(5) };
        var x = f.X;
        RequireFloat(n, x);
        foreach (var v in new[] { f.W, f.R, f.B, f.InitH, n.In(6), n.In(7) })
            if (v != null && v.Type != x.Type) throw Error($"{n.OpType} input '{v.Name}' is {DTypes.OnnxName(v.Type)}, X is {DTypes.OnnxName(x.Type)}: they must share one type");

        if (n.Has("layout") && n.Opset < 14) throw Error($"{n.OpType} has the 'layout' attribute from opset 14 on (the model imports opset {n.Opset})");
        long layout = n.Int("layout", 0);
        if (layout != 0 && layout != 1) throw Error($"{n.OpType} layout must be 0 or 1, got {layout}");
        f.Layout = (int)layout;
        f.Direction = n.Str("direction", "forward");
        if (f.Direction != "forward" && f.Direction != "reverse" && f.Direction != "bidirectional")
            throw Error($"{n.OpType} direction must be forward, reverse or bidirectional, got '{f.Direction}'");
        f.Dirs = f.Direction == "bidirectional" ? 2 : 1;

        if (x.Shape.Length != 3) throw Error($"{n.OpType} X must be 3-D, got {Shape.Format(x.Shape)}");
        f.Seq = f.Layout == 0 ? x.Shape[0] : x.Shape[1];
        f.Batch = f.Layout == 0 ? x.Shape[1] : x.Shape[0];
        f.Input = x.Shape[2];
        if (f.R.Shape.Length != 3) throw Error($"{n.OpType} R must be 3-D, got {Shape.Format(f.R.Shape)}");
        if (n.Has("hidden_size"))
        {
            long hs = n.Int("hidden_size", 0);
            if (hs <= 0 || hs > int.MaxValue) throw Error($"{n.OpType} hidden_size must be positive, got {hs}");
            f.Hidden = (int)hs;
        }
        else f.Hidden = f.R.Shape[2];
        int D = f.Dirs, H = f.Hidden, G = Gates;
        Expect(n, f.W, "W", D, G * H, f.Input);
        Expect(n, f.R, "R", D, G * H, H);
        if (f.B != null) Expect(n, f.B, "B", D, 2 * G * H);
        if (f.SeqLens != null)
        {
            if (f.SeqLens.Type != DType.Int32 && f.SeqLens.Type != DType.Int64)
                throw new CompileException(Diag.UnsupportedType, $"{n.OpType} sequence_lens must be int32, got {DTypes.OnnxName(f.SeqLens.Type)}");
            Expect(n, f.SeqLens, "sequence_lens", f.Batch);
        }
        var stateShape = f.Layout == 0 ? new[] { D, f.Batch, H } : new[] { f.Batch, D, H };
        if (f.InitH != null) Expect(n, f.InitH, "initial_h", stateShape);

        float clip = n.Float("clip", 0f);
        if (n.Has("clip"))
        {
            if (!(clip > 0)) throw Error($"{n.OpType} clip must be positive, got {clip.ToString(CultureInfo.InvariantCulture)}");
            f.Clip = clip;
        }
        f.Acts = ResolveActivations(n, D);
        InferExtra(n, f);

        var yShape = f.Layout == 0 ? new[] { f.Seq, D, f.Batch, H } : new[] { f.Batch, f.Seq, D, H };
        if (n.Outputs.Count > 0) { SetOut(n, 0, x.Type, yShape); f.Y = n.Out(0); }
        if (n.Outputs.Count > 1) { SetOut(n, 1, x.Type, stateShape); f.Yh = n.Out(1); }
        if (n.Outputs.Count > 2) { SetOut(n, 2, x.Type, stateShape); f.Yc = n.Out(2); }
        n.State = f;
    }

    // ---------- reference evaluation (constant folding) ----------

    /// <summary>One time step in double precision: xw = X_t W^T + Wb and hr = H_{t-1} R^T + Rb per gate; updates h (and c).</summary>
    protected abstract void EvalStep(Info f, int d, double[] xw, double[] hr, double[] h, double[] c, TensorData p, Func<double[], int, double> hrOf);

    protected static double Activate(Act a, double x) => a.Name switch
    {
        "Relu" => x < 0 ? 0 : x,
        "Tanh" => Math.Tanh(x),
        "Sigmoid" => 1 / (1 + Math.Exp(-x)),
        "Affine" => a.Alpha * x + a.Beta,
        "LeakyRelu" => x >= 0 ? x : a.Alpha * x,
        "ThresholdedRelu" => x > a.Alpha ? x : 0,
        "ScaledTanh" => a.Alpha * Math.Tanh(a.Beta * x),
        "HardSigmoid" => Math.Max(0, Math.Min(1, a.Alpha * x + a.Beta)),
        "Elu" => x >= 0 ? x : a.Alpha * (Math.Exp(x) - 1),
        "Softsign" => x / (1 + Math.Abs(x)),
        "Softplus" => Math.Log(1 + Math.Exp(x)),
        _ => throw new CompileException(Diag.InternalError, "unknown activation " + a.Name),
    };

    /// <summary>An activation applied to a clipped pre-activation.</summary>
    protected static double Gate(Info f, Act a, double x) => Activate(a, f.Clip is float c ? Math.Max(-c, Math.Min(c, x)) : x);

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var f = Bound(n);
        TensorData In(int i) => i < inputs.Length ? inputs[i] : null;
        TensorData x = In(0), w = In(1), r = In(2), bias = In(3), lens = In(4), h0 = In(5), c0 = HasCell ? In(6) : null, p = HasCell ? In(7) : null;
        int S = f.Seq, Bt = f.Batch, I = f.Input, H = f.Hidden, G = Gates, D = f.Dirs;
        var y = f.Y != null ? new TensorData(f.X.Type, f.Y.Shape) : null;
        var yh = f.Yh != null ? new TensorData(f.X.Type, f.Yh.Shape) : null;
        var yc = f.Yc != null ? new TensorData(f.X.Type, f.Yc.Shape) : null;
        int XAt(int t, int b, int k) => (f.Layout == 0 ? t * Bt + b : b * S + t) * I + k;
        int YAt(int t, int d, int b, int j) => (f.Layout == 0 ? (t * D + d) * Bt + b : (b * S + t) * D + d) * H + j;
        int StateAt(int d, int b, int j) => (f.Layout == 0 ? d * Bt + b : b * D + d) * H + j;
        var xw = new double[G * H]; var hr = new double[G * H];
        var h = new double[H]; var c = new double[H];
        for (int d = 0; d < D; d++)
        {
            bool reverse = f.Direction == "reverse" || f.Direction == "bidirectional" && d == 1;
            for (int b = 0; b < Bt; b++)
            {
                int len = lens == null ? S : (int)Math.Max(0, Math.Min(S, lens.GetLong(b)));
                for (int j = 0; j < H; j++)
                {
                    h[j] = h0 == null ? 0 : h0.GetDouble(StateAt(d, b, j));
                    c[j] = c0 == null ? 0 : c0.GetDouble(StateAt(d, b, j));
                }
                // H_{t-1} R^T + Rb for gate rows [from, from + count) with a given state vector
                double HrOf(double[] state, int row)
                {
                    double acc = bias == null ? 0 : bias.GetDouble(d * 2 * G * H + G * H + row);
                    for (int k = 0; k < H; k++) acc += state[k] * r.GetDouble((d * G * H + row) * H + k);
                    return acc;
                }
                for (int s = 0; s < len; s++)
                {
                    int t = reverse ? len - 1 - s : s;
                    for (int row = 0; row < G * H; row++)
                    {
                        double acc = bias == null ? 0 : bias.GetDouble(d * 2 * G * H + row);
                        for (int k = 0; k < I; k++) acc += x.GetDouble(XAt(t, b, k)) * w.GetDouble((d * G * H + row) * I + k);
                        xw[row] = acc;
                        hr[row] = HrOf(h, row);
                    }
                    EvalStep(f, d, xw, hr, h, c, p, HrOf);
                    if (y != null) for (int j = 0; j < H; j++) y.Set(YAt(t, d, b, j), h[j]);
                }
                for (int j = 0; j < H; j++)
                {
                    yh?.Set(StateAt(d, b, j), len == 0 ? 0 : h[j]);
                    yc?.Set(StateAt(d, b, j), len == 0 ? 0 : c[j]);
                }
            }
        }
        var outs = new System.Collections.Generic.List<TensorData>();
        for (int i = 0; i < n.Outputs.Count; i++) outs.Add(i == 0 ? y : i == 1 ? yh : yc);
        return outs.ToArray();
    }

    protected static void Expect(Node n, Value v, string what, params int[] shape)
    {
        if (!Shape.Equal(v.Shape, shape))
            throw Error($"{n.OpType} {what} must have shape {Shape.Format(shape)}, got {Shape.Format(v.Shape)}");
    }

    /// <summary>
    /// activations (per direction; default per operator), activation_alpha/beta consumed in order by the functions that
    /// take them (as ONNX Runtime), defaults as the corresponding ONNX operators when the list runs out.
    /// </summary>
    Act[][] ResolveActivations(Node n, int dirs)
    {
        var per = DefaultActivations.Length;
        string[] names = n.Attributes.TryGetValue("activations", out var a) && a.Strings != null && a.Strings.Length > 0 ? a.Strings : null;
        if (names == null) names = Enumerable.Range(0, dirs).SelectMany(_ => DefaultActivations).ToArray();
        // RNN's schema lists the default as [Tanh, Tanh]: a unidirectional node may carry both (ONNX Runtime takes the first)
        if (per == 1 && dirs == 1 && names.Length == 2) names = new[] { names[0] };
        if (names.Length != per * dirs)
            throw Error($"{n.OpType} needs {per * dirs} activations ({per} per direction), got {names.Length}: {string.Join(", ", names)}");
        var alphas = n.Floats("activation_alpha") ?? Array.Empty<float>();
        var betas = n.Floats("activation_beta") ?? Array.Empty<float>();
        int ai = 0, bi = 0;
        var r = new Act[dirs][];
        for (int d = 0; d < dirs; d++)
        {
            r[d] = new Act[per];
            for (int k = 0; k < per; k++)
            {
                var name = names[d * per + k];
                if (!s_acts.TryGetValue(name ?? "", out var def))
                    throw Unsupported($"{n.OpType} activation '{name}' is not one of Relu, Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, Softsign, Softplus");
                float alpha = def.Alpha, beta = def.Beta;
                if (def.A && ai < alphas.Length) alpha = alphas[ai++];
                if (def.B && bi < betas.Length) beta = betas[bi++];
                r[d][k] = new Act { Name = def.Name, Alpha = alpha, Beta = beta };
            }
        }
        return r;
    }

    // ---------- scratch ----------

    /// <summary>Net float: the input projection of all steps is precomputed by the runtime's Gemm kernel.</summary>
    protected static bool UseKernel(Info f, TargetProfile profile) => profile == TargetProfile.Net && f.X.Type == DType.Float;

    /// <summary>
    /// node.State with its values re-read from the node: passes rewire nodes after Infer (Int8 puts a
    /// DequantizeLinear before X), so the values cached at Infer time may no longer be the node's.
    /// </summary>
    static Info Bound(Node n)
    {
        var f = (Info)n.State;
        f.X = n.In(0); f.W = n.In(1); f.R = n.In(2); f.B = n.In(3); f.SeqLens = n.In(4); f.InitH = n.In(5); f.InitC = n.In(6); f.P = n.In(7);
        f.Y = n.Outputs.Count > 0 ? n.Out(0) : null; f.Yh = n.Outputs.Count > 1 ? n.Out(1) : null; f.Yc = n.Outputs.Count > 2 ? n.Out(2) : null;
        return f;
    }

    int GateElements(Info f, bool kernel) => (kernel ? f.Seq * f.Batch : 1) * Gates * f.Hidden;

    /// <summary>
    /// The runtime's whole-step kernel for direction d (ModelGen.Runtime.Recurrent.GruStep or LstmStep), or null:
    /// the default activations only, and the variant PyTorch exports.
    /// </summary>
    protected virtual string StepKernel(Info f, int d) => null;

    /// <summary>Net float and a step kernel for some direction: the step's h R^T + Rb goes to scratch after the rest.</summary>
    bool AnyStepKernel(Info f, TargetProfile profile) => UseKernel(f, profile) && Enumerable.Range(0, f.Dirs).Any(d => StepKernel(f, d) != null);

    protected static bool ActsAre(Info f, int d, params string[] names) => f.Acts[d].Select(a => a.Name).SequenceEqual(names);

    public override (DType Type, int Elements) Scratch(Node n, TargetProfile profile)
    {
        var f = Bound(n);
        return (f.X.Type, GateElements(f, UseKernel(f, profile)) + f.Hidden + ExtraScratch(f) + (AnyStepKernel(f, profile) ? Gates * f.Hidden : 0));
    }

    // ---------- emission ----------

    public override void Emit(Node n, EmitContext e)
    {
        var f = Bound(n);
        var w = e.W;
        var t = f.X.Type;
        bool kernel = UseKernel(f, e.Profile);
        var sc = e.Scratch(n);
        int S = f.Seq, B = f.Batch, I = f.Input, H = f.Hidden, D = f.Dirs, GH = Gates * H;
        int hOff = GateElements(f, kernel), extra = hOff + H;
        w.Line($"// {n.OpType}: seq {S}, batch {B}, input {I}, hidden {H}, {f.Direction}{(f.Layout == 1 ? ", layout 1 (batch first)" : "")}; scratch: {(kernel ? "X W^T of all steps" : "gates")} [{hOff}], h [{H}]{(ExtraScratch(f) > 0 ? $", {ExtraScratchName} [{ExtraScratch(f)}]" : "")}{(extra + ExtraScratch(f) < sc.Length ? $", h R^T [{GH}]" : "")}");
        for (int d = 0; d < D; d++)
        {
            bool reverse = f.Direction == "reverse" || d == 1;
            w.Line($"// direction {d}: {(reverse ? "reverse" : "forward")}");
            string stepKernel = kernel ? StepKernel(f, d) : null;
            // with a step kernel, Wb rides on the input projection
            bool wb = stepKernel != null && f.B != null;
            if (kernel)
                w.Line($"ModelGen.Runtime.Gemm.Run({e.Span(f.X)}, {Slice(e, f.W, d * GH * I, GH * I)}, {(wb ? Slice(e, f.B, d * 2 * GH, GH) : "default")}, {Slice(e, sc, 0, S * B * GH)}, {S * B}, {GH}, {I}, transA: false, transB: true, alpha: 1f, beta: {(wb ? "1f" : "0f")}, ModelGen.Runtime.BiasKind.{(wb ? "Row" : "None")});");
            var b = e.Var("b");
            w.Open($"for (int {b} = 0; {b} < {B}; {b}++)");
            string len = S.ToString(CultureInfo.InvariantCulture);
            if (f.SeqLens != null)
            {
                len = e.Var("len");
                w.Line($"int {len} = (int){e.At(f.SeqLens, b)};");
                w.Line($"if ({len} < 0 || {len} > {S}) throw new ArgumentException(\"{n.OpType} sequence_lens values must be between 0 and {S}\");");
            }
            // initial state
            var st = e.Var("st");
            w.Line($"int {st} = {StateRow(f, d, b)};");
            var j = e.Var("j");
            w.Open($"for (int {j} = 0; {j} < {H}; {j}++)");
            w.Line($"{e.At(sc, Idx.Sum(hOff.ToString(CultureInfo.InvariantCulture), j))} = {(f.InitH != null ? e.At(f.InitH, Idx.Sum(st, j)) : EmitContext.Lit(t, 0))};");
            if (HasCell) w.Line($"{e.At(sc, Idx.Sum(extra.ToString(CultureInfo.InvariantCulture), j))} = {(f.InitC != null ? e.At(f.InitC, Idx.Sum(st, j)) : EmitContext.Lit(t, 0))};");
            w.Close();
            // time steps
            var s = e.Var("s");
            var tv = e.Var("t");
            w.Open($"for (int {s} = 0; {s} < {len}; {s}++)");
            w.Line($"int {tv} = {(!reverse ? s : f.SeqLens != null ? $"{len} - 1 - {s}" : $"{S - 1} - {s}")};");
            var row = f.Layout == 0 ? Idx.Sum(Idx.Mul(tv, B), b) : Idx.Sum(Idx.Mul(b, S), tv);
            var step = new Step { Node = n, D = d, Kernel = kernel, Scratch = sc, B = b, T = tv, H = hOff, C = extra, Tmp = HasCell ? extra + H : extra };
            if (kernel)
            {
                step.Gates = e.Var("g");
                w.Line($"int {step.Gates} = {Idx.Mul(Idx.Paren(row), GH)};");
            }
            else
            {
                step.Gates = "0";
                step.XRow = e.Var("x");
                w.Line($"int {step.XRow} = {Idx.Mul(Idx.Paren(row), I)};");
            }
            if (f.Y != null)
            {
                step.YRow = e.Var("y");
                w.Line($"int {step.YRow} = {YRow(f, d, b, tv)};");
            }
            if (stepKernel != null) EmitStepKernel(e, f, step, stepKernel, extra + ExtraScratch(f));
            else EmitStep(n, e, f, step);
            w.Close();
            // padding and final state
            if (f.SeqLens != null && f.Y != null)
            {
                var tz = e.Var("t");
                w.Open($"for (int {tz} = {len}; {tz} < {S}; {tz}++)");
                var y0 = e.Var("y");
                w.Line($"int {y0} = {YRow(f, d, b, tz)};");
                w.Line($"for (int {j} = 0; {j} < {H}; {j}++) {e.At(f.Y, Idx.Sum(y0, j))} = {EmitContext.Lit(t, 0)};");
                w.Close();
            }
            if (f.Yh != null || f.Yc != null)
            {
                w.Open($"for (int {j} = 0; {j} < {H}; {j}++)");
                string Final(int off)
                {
                    var v = e.At(sc, Idx.Sum(off.ToString(CultureInfo.InvariantCulture), j));
                    return f.SeqLens != null ? $"{len} == 0 ? {EmitContext.Lit(t, 0)} : {v}" : v;
                }
                if (f.Yh != null) w.Line($"{e.At(f.Yh, Idx.Sum(st, j))} = {Final(hOff)};");
                if (f.Yc != null && HasCell) w.Line($"{e.At(f.Yc, Idx.Sum(st, j))} = {Final(extra)};");
                w.Close();
            }
            w.Close();
        }
    }

    /// <summary>One step as runtime calls: hr = h R^T + Rb into scratch at <paramref name="hrOff"/>, then the gate kernel, then Y[t].</summary>
    void EmitStepKernel(EmitContext e, Info f, Step st, string kernel, int hrOff)
    {
        int H = f.Hidden, GH = Gates * H;
        var hr = Slice(e, st.Scratch, hrOff, GH);
        var h = Slice(e, st.Scratch, st.H, H);
        var rb = f.B == null ? "default" : Slice(e, f.B, st.D * 2 * GH + GH, GH);
        e.W.Line(RowsTimesVector(e, st, h, f.R, st.D * GH * H, rb, hr, GH, H));
        var clip = f.Clip is float c ? EmitContext.Lit(DType.Float, c) : "float.PositiveInfinity";
        var cell = HasCell ? Slice(e, st.Scratch, st.C, H) + ", " : "";
        e.W.Line($"ModelGen.Runtime.Recurrent.{kernel}({Slice(e, st.Scratch, st.Gates, GH)}, {hr}, {cell}{h}, {clip});");
        if (st.YRow != null) e.W.Line($"{h}.CopyTo({Slice(e, f.Y, st.YRow, H)});");
    }

    /// <summary>What the extra scratch holds (for the emitted comment).</summary>
    protected virtual string ExtraScratchName => "temporary";

    /// <summary>LSTM keeps a cell state after h in scratch.</summary>
    protected virtual bool HasCell => false;

    /// <summary>Offset of the [hidden] row (d, b) in initial_h / Y_h (and initial_c / Y_c).</summary>
    static string StateRow(Info f, int d, string b) => f.Layout == 0
        ? Idx.Sum((d * f.Batch * f.Hidden).ToString(CultureInfo.InvariantCulture), Idx.Mul(b, f.Hidden))
        : Idx.Sum(Idx.Mul(b, f.Dirs * f.Hidden), (d * f.Hidden).ToString(CultureInfo.InvariantCulture));

    /// <summary>Offset of the [hidden] row (t, d, b) in Y.</summary>
    static string YRow(Info f, int d, string b, string t) => f.Layout == 0
        ? Idx.Sum(Idx.Mul(t, (long)f.Dirs * f.Batch * f.Hidden), (d * f.Batch * f.Hidden).ToString(CultureInfo.InvariantCulture), Idx.Mul(b, f.Hidden))
        : Idx.Sum(Idx.Mul(b, (long)f.Seq * f.Dirs * f.Hidden), Idx.Mul(t, f.Dirs * f.Hidden), (d * f.Hidden).ToString(CultureInfo.InvariantCulture));

    /// <summary>Net: a span expression for elements [offset, offset + length) of a tensor.</summary>
    /// <summary>
    /// y = bias + W[wOff..] x over rows x k (W row-major): with constant W, the transposed slice derived at build time and
    /// Recurrent.MatVecTransposed (rows in the vector lanes, no horizontal sums); else Recurrent.MatVec on W as it is.
    /// </summary>
    static string RowsTimesVector(EmitContext e, Step st, string x, Value w, int wOff, string bias, string y, int rows, int k)
    {
        if (!w.IsConst || w.Const.F == null)
            return $"ModelGen.Runtime.Recurrent.MatVec({x}, {Slice(e, w, wOff, rows * k)}, {bias}, {y}, {rows}, {k});";
        string name = $"{w.Name}_t{wOff}";
        var wt = e.DerivedConsts.TryGetValue(st.Node, out var list) ? list.Find(v => v.Name == name) : null;
        if (wt == null)
        {
            var src = w.Const.F; var t = new float[rows * k];
            for (int r = 0; r < rows; r++)
                for (int p = 0; p < k; p++) t[p * rows + r] = src[wOff + r * k + p];
            wt = e.Derived(st.Node, name, new TensorData(DType.Float, new[] { k, rows }, f: t));
        }
        return $"ModelGen.Runtime.Recurrent.MatVecTransposed({x}, {e.Span(wt)}, {bias}, {y}, {rows}, {k});";
    }

    protected static string Slice(EmitContext e, Value v, string offset, int length)
        => offset == "0" && length == v.Length ? e.Span(v) : $"{e.Span(v)}.Slice({offset}, {length})";

    protected static string Slice(EmitContext e, Value v, int offset, int length) => Slice(e, v, offset.ToString(CultureInfo.InvariantCulture), length);

    /// <summary>One product term: A[aOff .. aOff+K) times the rows of W starting at wOff (row-major, K columns).</summary>
    protected sealed class Term
    {
        public Value A; public string AOff; public Value W; public int WOff; public int K;
    }

    /// <summary>The input term X_t W^T for gate rows from <paramref name="row"/> (not used with the kernel: precomputed).</summary>
    protected Term InputTerm(Info f, Step st, int row) => new() { A = f.X, AOff = st.XRow, W = f.W, WOff = (st.D * Gates * f.Hidden + row) * f.Input, K = f.Input };

    /// <summary>The recurrent term a R^T for gate rows from <paramref name="row"/>, a = the hidden-size vector at scratch offset aOff.</summary>
    protected Term RecurrentTerm(Info f, Step st, int row, int aOff) => new() { A = st.Scratch, AOff = aOff.ToString(CultureInfo.InvariantCulture), W = f.R, WOff = (st.D * Gates * f.Hidden + row) * f.Hidden, K = f.Hidden };

    /// <summary>
    /// y[yOff + r] (+)= sum over terms of A[aOff + k] * W[wOff + r * K + k], r &lt; rows: the runtime's Gemm kernel in the
    /// Net profile (float), else a loop per output with one accumulator.
    /// </summary>
    protected static void MatVec(EmitContext e, Step st, IReadOnlyList<Term> terms, Value y, string yOff, int rows, bool accumulate)
    {
        var w = e.W;
        var t = y.Type;
        if (st.Kernel)
        {
            for (int i = 0; i < terms.Count; i++)
            {
                var tm = terms[i];
                bool acc = accumulate || i > 0;
                var ys = Slice(e, y, yOff, rows);
                // accumulating: y is its own bias (MatVec reads each bias element before it writes that output)
                w.Line(RowsTimesVector(e, st, Slice(e, tm.A, tm.AOff, tm.K), tm.W, tm.WOff, acc ? ys : "default", ys, rows, tm.K));
            }
            return;
        }
        string r = e.Var("r"), acc0 = e.Var("acc"), k = e.Var("k");
        w.Open($"for (int {r} = 0; {r} < {rows}; {r}++)");
        var yAt = e.At(y, Idx.Sum(yOff, r));
        w.Line($"{DTypes.CsName(t)} {acc0} = {(accumulate ? yAt : EmitContext.Lit(t, 0))};");
        foreach (var tm in terms)
        {
            var wr = e.Var("w");
            w.Line($"int {wr} = {Idx.Sum(tm.WOff.ToString(CultureInfo.InvariantCulture), Idx.Mul(r, tm.K))};");
            w.Line($"for (int {k} = 0; {k} < {tm.K}; {k}++) {acc0} += {e.At(tm.A, Idx.Sum(tm.AOff, k))} * {e.At(tm.W, Idx.Sum(wr, k))};");
        }
        w.Line($"{yAt} = {acc0};");
        w.Close();
    }

    /// <summary>The gate products of one step for gate rows [row, row + rows): X_t W^T (unless precomputed) plus a R^T.</summary>
    protected void GateProducts(EmitContext e, Info f, Step st, int row, int rows, int? recurrentFrom)
    {
        var terms = new List<Term>();
        if (!st.Kernel) terms.Add(InputTerm(f, st, row));
        if (recurrentFrom is int a) terms.Add(RecurrentTerm(f, st, row, a));
        if (terms.Count > 0) MatVec(e, st, terms, st.Scratch, Idx.Sum(st.Gates, row.ToString(CultureInfo.InvariantCulture)), rows, st.Kernel);
    }

    /// <summary>Pre-activation of gate <paramref name="gate"/>, unit j: the products plus Wb and/or Rb when B is given.</summary>
    protected string Pre(EmitContext e, Info f, Step st, int gate, string j, bool wb = true, bool rb = true)
        => GateAt(e, f, st, gate, j) + Bias(e, f, st, gate, j, wb, rb);

    /// <summary>The step's product for gate <paramref name="gate"/>, unit j (scratch).</summary>
    protected static string GateAt(EmitContext e, Info f, Step st, int gate, string j)
        => e.At(st.Scratch, Idx.Sum(st.Gates, (gate * f.Hidden).ToString(CultureInfo.InvariantCulture), j));

    /// <summary>" + Wb[gate][j] + Rb[gate][j]" (the parts asked for), or "" without B.</summary>
    protected string Bias(EmitContext e, Info f, Step st, int gate, string j, bool wb, bool rb)
    {
        if (f.B == null) return "";
        int GH = Gates * f.Hidden, baseOff = st.D * 2 * GH + gate * f.Hidden;
        var r = "";
        if (wb) r += " + " + e.At(f.B, Idx.Sum(baseOff.ToString(CultureInfo.InvariantCulture), j));
        if (rb) r += " + " + e.At(f.B, Idx.Sum((baseOff + GH).ToString(CultureInfo.InvariantCulture), j));
        return r;
    }

    /// <summary>Declares <c>T v = pre;</c>, clips it (clip attribute) and applies the activation in place.</summary>
    protected static void Gate(EmitContext e, Info f, string v, string pre, Act act)
    {
        var t = f.X.Type;
        e.W.Line($"{DTypes.CsName(t)} {v} = {pre};");
        if (f.Clip is float c) e.W.Line($"{v} = {v} < {EmitContext.Lit(t, -c)} ? {EmitContext.Lit(t, -c)} : {v} > {EmitContext.Lit(t, c)} ? {EmitContext.Lit(t, c)} : {v};");
        e.W.Line($"{v} = {Unparen(Apply(e, t, act, v))};");
    }

    /// <summary>The activation applied to a local variable <paramref name="x"/> (a plain name: it may appear twice).</summary>
    protected static string Apply(EmitContext e, DType t, Act a, string x)
    {
        string L(double v) => EmitContext.Lit(t, v);
        string M(string fn, params string[] args) => Fn(e, t, fn, args);
        // a call, or parenthesised: the result may be an operand (o * h(c))
        return a.Name switch
        {
            "Relu" => $"({x} < {L(0)} ? {L(0)} : {x})",
            "Tanh" => M("Tanh", x),
            "Sigmoid" => $"({L(1)} / ({L(1)} + {M("Exp", "-" + x)}))",
            "Affine" => $"({L(a.Alpha)} * {x} + {L(a.Beta)})",
            "LeakyRelu" => $"({x} >= {L(0)} ? {x} : {L(a.Alpha)} * {x})",
            "ThresholdedRelu" => $"({x} > {L(a.Alpha)} ? {x} : {L(0)})",
            "ScaledTanh" => $"({L(a.Alpha)} * {M("Tanh", $"{L(a.Beta)} * {x}")})",
            "HardSigmoid" => M("Max", L(0), M("Min", L(1), $"{L(a.Alpha)} * {x} + {L(a.Beta)}")),
            "Elu" => $"({x} >= {L(0)} ? {x} : {L(a.Alpha)} * ({M("Exp", x)} - {L(1)}))",
            "Softsign" => $"({x} / ({L(1)} + {M("Abs", x)}))",
            "Softplus" => M("Log", $"{L(1)} + {M("Exp", x)}"),
            _ => throw new CompileException(Diag.InternalError, "unknown activation " + a.Name),
        };
    }

    /// <summary>Drops parentheses that enclose the whole expression.</summary>
    static string Unparen(string s) => s.Length > 1 && s[0] == '(' && Balanced(s) ? s.Substring(1, s.Length - 2) : s;

    /// <summary>True when the outer parentheses of s enclose all of it.</summary>
    static bool Balanced(string s)
    {
        int depth = 0;
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '(') depth++;
            else if (s[i] == ')') { depth--; if (depth == 0 && i < s.Length - 1) return false; }
        }
        return depth == 0;
    }

    /// <summary>A math call; the Portable helpers are float, so double goes through them in float (nanoFramework has no Math).</summary>
    static string Fn(EmitContext e, DType t, string fn, string[] args)
    {
        if (e.Portable && t == DType.Double) return "(double)" + e.Math(fn, DType.Float, args.Select(a => $"(float)({a})").ToArray());
        return e.Math(fn, t, args);
    }

    /// <summary>Writes the new hidden value of unit j: the h state in scratch and Y[t, d, b, j].</summary>
    protected static void StoreH(EmitContext e, Info f, Step st, string j, string value)
    {
        var h = value;
        if (st.YRow != null && !IsName(value))
        {
            h = e.Var("h");
            e.W.Line($"{DTypes.CsName(f.X.Type)} {h} = {value};");
        }
        e.W.Line($"{e.At(st.Scratch, Idx.Sum(st.H.ToString(CultureInfo.InvariantCulture), j))} = {h};");
        if (st.YRow != null) e.W.Line($"{e.At(f.Y, Idx.Sum(st.YRow, j))} = {h};");
    }

    static bool IsName(string s) => s.All(ch => char.IsLetterOrDigit(ch) || ch == '_');

    protected static string ScratchAt(EmitContext e, Step st, int offset, string j) => e.At(st.Scratch, Idx.Sum(offset.ToString(CultureInfo.InvariantCulture), j));
}
