using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>Simple RNN: Ht = f(Xt Wi^T + Ht-1 Ri^T + Wbi + Rbi), clip bounding f's input. See <see cref="Recurrent"/>.</summary>
public sealed class Rnn : Recurrent
{
    protected override int Gates => 1;
    protected override string[] DefaultActivations => new[] { "Tanh" };
    protected override int MaxInputs => 6;
    protected override int MaxOutputs => 2;
    protected override int ExtraScratch(Info f) => 0;

    protected override void EvalStep(Info f, int d, double[] xw, double[] hr, double[] h, double[] c, TensorData p, System.Func<double[], int, double> hrOf)
    {
        for (int j = 0; j < f.Hidden; j++) h[j] = Gate(f, f.Acts[d][0], xw[j] + hr[j]);
    }

    protected override void EmitStep(Node n, EmitContext e, Info f, Step st)
    {
        GateProducts(e, f, st, 0, f.Hidden, st.H);
        string j = e.Var("j"), h = e.Var("h");
        e.W.Open($"for (int {j} = 0; {j} < {f.Hidden}; {j}++)");
        Gate(e, f, h, Pre(e, f, st, 0, j), f.Acts[st.D][0]);
        StoreH(e, f, st, j, h);
        e.W.Close();
    }
}
