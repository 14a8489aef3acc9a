using System;
using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// Det: the determinant of each square matrix in the last two axes ([*, M, M] -> [*]), by Gaussian elimination with
/// partial pivoting on a copy in scratch memory, in the element type (as ONNX Runtime computes it); a zero pivot gives 0.
/// </summary>
public sealed class Det : Operator
{
    public override void Infer(Node n)
    {
        Require(n, 1, 1);
        var x = n.In(0);
        RequireFloat(n, x);
        int r = x.Shape.Length;
        if (r < 2 || x.Shape[r - 1] != x.Shape[r - 2]) throw Error($"Det takes square matrices in its last two axes, got {Shape.Format(x.Shape)}");
        SetOut(n, 0, x.Type, x.Shape.Take(r - 2).ToArray());
    }

    static int Size(Node n) => n.In(0).Shape[n.In(0).Shape.Length - 1];

    public override (DType Type, int Elements) Scratch(Node n, TargetProfile profile) => (n.In(0).Type, n.Out().Length == 0 ? 0 : Size(n) * Size(n));

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var x = inputs[0];
        int m = Size(n), count = n.Out().Length;
        var y = new TensorData(x.Type, n.Out().Shape);
        var a = new double[m * m];
        for (int b = 0; b < count; b++)
        {
            for (int i = 0; i < m * m; i++) a[i] = x.GetDouble(b * m * m + i);
            double det = 1;
            for (int k = 0; k < m; k++)
            {
                int p = k;
                for (int i = k + 1; i < m; i++) if (Math.Abs(a[i * m + k]) > Math.Abs(a[p * m + k])) p = i;
                if (a[p * m + k] == 0) { det = 0; break; }
                if (p != k) { for (int j = 0; j < m; j++) (a[k * m + j], a[p * m + j]) = (a[p * m + j], a[k * m + j]); det = -det; }
                det *= a[k * m + k];
                for (int i = k + 1; i < m; i++)
                {
                    double f = a[i * m + k] / a[k * m + k];
                    for (int j = k + 1; j < m; j++) a[i * m + j] -= f * a[k * m + j];
                }
            }
            y.Set(b, det);
        }
        return new[] { y };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var x = n.In(0); var y = n.Out();
        int m = Size(n), count = y.Length;
        if (count == 0) return;
        var t = x.Type; var ty = DTypes.CsName(t);
        var a = e.Scratch(n);
        var w = e.W;
        string b = e.Var("b"), i = e.Var("i"), j = e.Var("j"), k = e.Var("k"), p = e.Var("p"), det = e.Var("det"), f = e.Var("f"), tmp = e.Var("tmp");
        string A(string row, string col) => e.At(a, Idx.Sum(Idx.Mul(row, m), col));
        string Abs(string v) => e.Math("Abs", t, v);
        w.Open($"for (int {b} = 0; {b} < {count}; {b}++)");
        w.Line($"for (int {i} = 0; {i} < {m * m}; {i}++) {e.At(a, i)} = {e.At(x, Idx.Sum(Idx.Mul(b, (long)m * m), i))};");
        w.Line($"{ty} {det} = {EmitContext.Lit(t, 1)};");
        w.Open($"for (int {k} = 0; {k} < {m}; {k}++)");
        w.Line($"int {p} = {k};");
        w.Line($"for (int {i} = {k} + 1; {i} < {m}; {i}++) if ({Abs(A(i, k))} > {Abs(A(p, k))}) {p} = {i};");
        // a zero pivot: the matrix is singular
        w.Line($"if ({A(p, k)} == {EmitContext.Lit(t, 0)}) {{ {det} = {EmitContext.Lit(t, 0)}; break; }}");
        w.Line($"if ({p} != {k}) {{ for (int {j} = 0; {j} < {m}; {j}++) {{ {ty} {tmp} = {A(k, j)}; {A(k, j)} = {A(p, j)}; {A(p, j)} = {tmp}; }} {det} = -{det}; }}");
        w.Line($"{det} *= {A(k, k)};");
        w.Open($"for (int {i} = {k} + 1; {i} < {m}; {i}++)");
        w.Line($"{ty} {f} = {A(i, k)} / {A(k, k)};");
        w.Line($"for (int {j} = {k} + 1; {j} < {m}; {j}++) {A(i, j)} -= {f} * {A(k, j)};");
        w.Close();
        w.Close();
        w.Line($"{e.At(y, b)} = {det};");
        w.Close();
    }
}
