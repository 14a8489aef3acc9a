using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// GRU (gates z r h in W, R, B): z = f(Xt Wz^T + Ht-1 Rz^T + Wbz + Rbz), r likewise,
/// h~ = g(Xt Wh^T + (r . Ht-1) Rh^T + Rbh + Wbh), or with linear_before_reset g(Xt Wh^T + r . (Ht-1 Rh^T + Rbh) + Wbh),
/// Ht = (1 - z) . h~ + z . Ht-1. clip bounds every gate's activation input. See <see cref="Recurrent"/>.
/// </summary>
public sealed class Gru : Recurrent
{
    protected override int Gates => 3;
    protected override string[] DefaultActivations => new[] { "Sigmoid", "Tanh" };
    protected override int MaxInputs => 6;
    protected override int MaxOutputs => 2;
    protected override int ExtraScratch(Info f) => f.Hidden; // r . Ht-1, or Ht-1 Rh^T
    protected override string ExtraScratchName => "r . h / h Rh^T";

    protected override string StepKernel(Info f, int d) => f.LinearBeforeReset && ActsAre(f, d, "Sigmoid", "Tanh") ? "GruStep" : null;

    protected override void InferExtra(Node n, Info f)
    {
        long lbr = n.Int("linear_before_reset", 0);
        if (lbr != 0 && lbr != 1) throw Error($"GRU linear_before_reset must be 0 or 1, got {lbr}");
        f.LinearBeforeReset = lbr == 1;
    }

    protected override void EvalStep(Info f, int d, double[] xw, double[] hr, double[] h, double[] c, TensorData p, System.Func<double[], int, double> hrOf)
    {
        int H = f.Hidden;
        var a = f.Acts[d];
        var z = new double[H]; var rh = new double[H]; var hh = new double[H];
        for (int j = 0; j < H; j++)
        {
            z[j] = Gate(f, a[0], xw[j] + hr[j]);
            double r = Gate(f, a[0], xw[H + j] + hr[H + j]);
            if (f.LinearBeforeReset) hh[j] = xw[2 * H + j] + r * hr[2 * H + j];
            rh[j] = r * h[j];
        }
        for (int j = 0; j < H; j++)
        {
            double pre = f.LinearBeforeReset ? hh[j] : xw[2 * H + j] + hrOf(rh, 2 * H + j);
            hh[j] = Gate(f, a[1], pre);
        }
        for (int j = 0; j < H; j++) h[j] = (1 - z[j]) * hh[j] + z[j] * h[j];
    }

    protected override void EmitStep(Node n, EmitContext e, Info f, Step st)
    {
        var w = e.W;
        int H = f.Hidden;
        var t = f.X.Type;
        var ty = DTypes.CsName(t);
        var acts = f.Acts[st.D];
        string one = EmitContext.Lit(t, 1);
        // z and r: X W^T + H R^T; h: X W^T only, its recurrent part comes after the reset gate
        GateProducts(e, f, st, 0, 2 * H, st.H);
        GateProducts(e, f, st, 2 * H, H, null);
        string j = e.Var("j"), z = e.Var("z"), r = e.Var("r"), hh = e.Var("hh"), hPrev = e.Var("hPrev");
        if (f.LinearBeforeReset)
        {
            w.Line("// linear_before_reset: Ht-1 Rh^T, reset afterwards");
            MatVec(e, st, new[] { RecurrentTerm(f, st, 2 * H, st.H) }, st.Scratch, st.Tmp.ToString(), H, accumulate: false);
            w.Open($"for (int {j} = 0; {j} < {H}; {j}++)");
            Gate(e, f, z, Pre(e, f, st, 0, j), acts[0]);
            Gate(e, f, r, Pre(e, f, st, 1, j), acts[0]);
            Gate(e, f, hh, $"{Pre(e, f, st, 2, j, rb: false)} + {r} * ({ScratchAt(e, st, st.Tmp, j)}{Bias(e, f, st, 2, j, false, true)})", acts[1]);
            w.Line($"{ty} {hPrev} = {ScratchAt(e, st, st.H, j)};");
            StoreH(e, f, st, j, $"({one} - {z}) * {hh} + {z} * {hPrev}");
            w.Close();
            return;
        }
        w.Open($"for (int {j} = 0; {j} < {H}; {j}++)");
        Gate(e, f, z, Pre(e, f, st, 0, j), acts[0]);
        w.Line($"{GateAt(e, f, st, 0, j)} = {z};");
        Gate(e, f, r, Pre(e, f, st, 1, j), acts[0]);
        w.Line($"{ScratchAt(e, st, st.Tmp, j)} = {r} * {ScratchAt(e, st, st.H, j)};");
        w.Close();
        w.Line("// (r . Ht-1) Rh^T");
        MatVec(e, st, new[] { RecurrentTerm(f, st, 2 * H, st.Tmp) }, st.Scratch, Idx.Sum(st.Gates, (2 * H).ToString()), H, accumulate: true);
        string j2 = e.Var("j"), z2 = e.Var("z");
        w.Open($"for (int {j2} = 0; {j2} < {H}; {j2}++)");
        Gate(e, f, hh, Pre(e, f, st, 2, j2), acts[1]);
        w.Line($"{ty} {z2} = {GateAt(e, f, st, 0, j2)};");
        w.Line($"{ty} {hPrev} = {ScratchAt(e, st, st.H, j2)};");
        StoreH(e, f, st, j2, $"({one} - {z2}) * {hh} + {z2} * {hPrev}");
        w.Close();
    }
}
