using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// LSTM (gates i o f c in W, R, B; peepholes P = [Pi Po Pf]):
/// i = f(Xt Wi^T + Ht-1 Ri^T + Pi . Ct-1 + Wbi + Rbi), f = f(... + Pf . Ct-1 ...) or 1 - i with input_forget,
/// c~ = g(Xt Wc^T + Ht-1 Rc^T + Wbc + Rbc), Ct = f . Ct-1 + i . c~, o = f(... + Po . Ct ...), Ht = o . h(Ct).
/// clip bounds every gate's activation input. See <see cref="Recurrent"/> for the shared skeleton.
/// </summary>
public sealed class Lstm : Recurrent
{
    protected override int Gates => 4;
    protected override string[] DefaultActivations => new[] { "Sigmoid", "Tanh", "Tanh" };
    protected override int MaxInputs => 8;
    protected override int MaxOutputs => 3;
    protected override bool HasCell => true;
    protected override string ExtraScratchName => "c";
    protected override int ExtraScratch(Info f) => f.Hidden; // the cell state

    protected override string StepKernel(Info f, int d) => f.P == null && !f.InputForget && ActsAre(f, d, "Sigmoid", "Tanh", "Tanh") ? "LstmStep" : null;

    protected override void InferExtra(Node n, Info f)
    {
        f.InitC = n.In(6);
        f.P = n.In(7);
        if (f.InitC != null) Expect(n, f.InitC, "initial_c", f.Layout == 0 ? new[] { f.Dirs, f.Batch, f.Hidden } : new[] { f.Batch, f.Dirs, f.Hidden });
        if (f.P != null) Expect(n, f.P, "P", f.Dirs, 3 * f.Hidden);
        long inputForget = n.Int("input_forget", 0);
        if (inputForget != 0 && inputForget != 1) throw Error($"LSTM input_forget must be 0 or 1, got {inputForget}");
        f.InputForget = inputForget == 1;
    }

    protected override void EvalStep(Info f, int d, double[] xw, double[] hr, double[] h, double[] c, TensorData p, System.Func<double[], int, double> hrOf)
    {
        int H = f.Hidden;
        var a = f.Acts[d];
        double P(int k, int j) => p == null ? 0 : p.GetDouble(d * 3 * H + k * H + j);
        for (int j = 0; j < H; j++)
        {
            double cPrev = c[j];
            double i = Gate(f, a[0], xw[j] + hr[j] + P(0, j) * cPrev);
            double fg = f.InputForget ? 1 - i : Gate(f, a[0], xw[2 * H + j] + hr[2 * H + j] + P(2, j) * cPrev);
            double g = Gate(f, a[1], xw[3 * H + j] + hr[3 * H + j]);
            double cn = fg * cPrev + i * g;
            double o = Gate(f, a[0], xw[H + j] + hr[H + j] + P(1, j) * cn);
            c[j] = cn;
            h[j] = o * Activate(a[2], cn);
        }
    }

    protected override void EmitStep(Node n, EmitContext e, Info f, Step st)
    {
        var w = e.W;
        int H = f.Hidden;
        var ty = DTypes.CsName(f.X.Type);
        var acts = f.Acts[st.D];
        GateProducts(e, f, st, 0, 4 * H, st.H);
        string j = e.Var("j"), cPrev = e.Var("cPrev"), i = e.Var("i"), fg = e.Var("f"), g = e.Var("g"), c = e.Var("c"), o = e.Var("o");
        string Peep(int k, string state) => f.P == null ? "" : $" + {e.At(f.P, Idx.Sum((st.D * 3 * H + k * H).ToString(), j))} * {state}";
        w.Open($"for (int {j} = 0; {j} < {H}; {j}++)");
        w.Line($"{ty} {cPrev} = {ScratchAt(e, st, st.C, j)};");
        Gate(e, f, i, Pre(e, f, st, 0, j) + Peep(0, cPrev), acts[0]);
        if (f.InputForget) w.Line($"{ty} {fg} = {EmitContext.Lit(f.X.Type, 1)} - {i};");
        else Gate(e, f, fg, Pre(e, f, st, 2, j) + Peep(2, cPrev), acts[0]);
        Gate(e, f, g, Pre(e, f, st, 3, j), acts[1]);
        w.Line($"{ty} {c} = {fg} * {cPrev} + {i} * {g};");
        Gate(e, f, o, Pre(e, f, st, 1, j) + Peep(1, c), acts[0]);
        w.Line($"{ScratchAt(e, st, st.C, j)} = {c};");
        StoreH(e, f, st, j, $"{o} * {Apply(e, f.X.Type, acts[2], c)}");
        w.Close();
    }
}
