using System;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// MelWeightMatrix (opset 17): [floor(dft_length / 2) + 1, num_mel_bins] triangular filters, peak 1, on the mel scale
/// mel(f) = 2595 log10(1 + f / 700) between lower_edge_hertz and upper_edge_hertz. num_mel_bins + 2 points are spaced
/// by (mel(upper) - mel(lower)) / (num_mel_bins + 2) (as ONNX's reference and ONNX Runtime do), mapped to the bins
/// floor((dft_length + 1) hz / sample_rate). All inputs decide the output and must be constant: it folds.
/// </summary>
public sealed class MelWeightMatrix : Operator
{
    sealed class St { public int Bins, Mels; public int[] Points; }

    public override void Infer(Node n)
    {
        Require(n, 5, 5);
        long mels = CosineWindow.ConstInt(n, 0, "num_mel_bins");
        long dft = CosineWindow.ConstInt(n, 1, "dft_length");
        long rate = CosineWindow.ConstInt(n, 2, "sample_rate");
        double lo = ConstFloat(n, 3, "lower_edge_hertz"), hi = ConstFloat(n, 4, "upper_edge_hertz");
        if (mels <= 0 || dft <= 0 || rate <= 0 || mels > 1 << 20 || dft > 1 << 26)
            throw Error($"MelWeightMatrix needs positive num_mel_bins ({mels}), dft_length ({dft}) and sample_rate ({rate})");
        int bins = (int)(dft / 2 + 1);
        double melLo = 2595 * Math.Log10(1 + lo / 700), melHi = 2595 * Math.Log10(1 + hi / 700);
        double step = (melHi - melLo) / (mels + 2);
        var pts = new int[mels + 2];
        for (int i = 0; i < pts.Length; i++)
        {
            double hz = 700 * (Math.Pow(10, (melLo + step * i) / 2595) - 1);
            double k = Math.Floor((dft + 1) * hz / rate);
            if (!(k >= 0 && k < bins)) throw Error($"MelWeightMatrix: lower_edge_hertz {lo} / upper_edge_hertz {hi} give a filter outside the {bins} spectrogram bins");
            pts[i] = (int)k;
        }
        n.State = new St { Bins = bins, Mels = (int)mels, Points = pts };
        SetOut(n, 0, CosineWindow.OutputType(n), new[] { bins, (int)mels });
    }

    static double ConstFloat(Node n, int i, string what)
    {
        var v = n.In(i);
        if (!v.IsConst) throw new CompileException(Diag.DynamicShape, $"MelWeightMatrix input {what} ('{v.Name}') must be known at build time (an initializer, a constant, or bound with ConstantInputs)");
        if (v.Length != 1) throw Error($"MelWeightMatrix input {what} ('{v.Name}') must be a scalar");
        return v.Const.GetDouble(0);
    }

    /// <summary>Calls set(bin, mel, value) for every non-zero entry, in the reference's order (later writes win).</summary>
    static void ForEach(St st, Action<int, int, double> set)
    {
        var p = st.Points;
        for (int i = 0; i < st.Mels; i++)
        {
            int l = p[i], c = p[i + 1], h = p[i + 2];
            if (c == l) set(c, i, 1);
            else for (int j = l; j <= c; j++) set(j, i, (double)(j - l) / (c - l));
            for (int j = c; j < h; j++) set(j, i, (double)(h - j) / (h - c));
        }
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var st = (St)n.State;
        var r = new TensorData(n.Out().Type, n.Out().Shape);
        ForEach(st, (j, i, v) => r.Set(j * st.Mels + i, v));
        return new[] { r };
    }

    public override void Emit(Node n, EmitContext e)
    {
        // only reached when the matrix is too large to fold: zero it, then write each triangle with a loop
        var st = (St)n.State;
        var y = n.Out(); var t = y.Type; var cs = DTypes.CsName(t);
        var w = e.W;
        var k = e.Var("k");
        w.Line($"for (int {k} = 0; {k} < {st.Bins * st.Mels}; {k}++) {e.At(y, k)} = {EmitContext.Lit(t, 0)};");
        var p = st.Points;
        var j = e.Var("j");
        for (int i = 0; i < st.Mels; i++)
        {
            int l = p[i], c = p[i + 1], h = p[i + 2];
            string at = e.At(y, Idx.Sum(Idx.Mul(j, st.Mels), i.ToString()));
            if (c == l) w.Line($"{e.At(y, (c * st.Mels + i).ToString())} = {EmitContext.Lit(t, 1)};");
            else w.Line($"for (int {j} = {l}; {j} <= {c}; {j}++) {at} = ({cs})((double)({j} - {l}) / {c - l});");
            if (h > c) w.Line($"for (int {j} = {c}; {j} < {h}; {j}++) {at} = ({cs})((double)({h} - {j}) / {h - c});");
        }
    }
}
