using System;
using System.Collections.Generic;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// AffineGrid (opset 20): the sampling grid of an affine transform, for GridSample. theta [N, 2, 3] with a constant
/// size [N, C, H, W] gives grid [N, H, W, 2]; theta [N, 3, 4] with size [N, C, D, H, W] gives [N, D, H, W, 3].
/// Each output point is theta[n] applied to its base point (x, y[, z], 1), whose coordinates run over [-1, 1]:
/// pixel centres at -1 and 1 with align_corners, else the pixel edges there (centre i of L at (2i + 1) / L - 1).
/// A dimension of one pixel sits at 0 without align_corners and, as in ONNX Runtime, at 1 with it.
/// </summary>
public sealed class AffineGrid : Operator
{
    sealed class St { public int N; public int[] Spatial; public bool Align; }

    public override void Infer(Node n)
    {
        Require(n, 2, 2);
        var theta = n.In(0);
        RequireFloat(n, theta);
        var size = TensorOps.ConstInts(n, 1, "size");
        if (size.Length != 4 && size.Length != 5) throw Error($"AffineGrid size must hold 4 values [N, C, H, W] or 5 [N, C, D, H, W], has {size.Length}");
        int nd = size.Length - 2;
        var st = new St { N = TensorOps.ToInt(size[0], "AffineGrid N"), Spatial = new int[nd], Align = n.Int("align_corners", 0) != 0 };
        if (theta.Shape.Length != 3 || theta.Shape[0] != st.N || theta.Shape[1] != nd || theta.Shape[2] != nd + 1)
            throw Error($"AffineGrid theta must be [{st.N}, {nd}, {nd + 1}] for size of {size.Length} values, has shape {Shape.Format(theta.Shape)}");
        var shape = new int[nd + 2];
        shape[0] = st.N; shape[nd + 1] = nd;
        for (int d = 0; d < nd; d++)
        {
            if (size[2 + d] < 0) throw Error($"AffineGrid size {size[2 + d]} is negative");
            shape[d + 1] = st.Spatial[d] = TensorOps.ToInt(size[2 + d], "AffineGrid size");
        }
        n.State = st;
        SetOut(n, 0, theta.Type, shape);
    }

    /// <summary>Base coordinate i of a dimension of len pixels is i * Scale + Shift.</summary>
    static (double Scale, double Shift) Axis(int len, bool align)
        => len == 1 ? (0, align ? 1 : 0) : align ? (2.0 / (len - 1), -1) : (2.0 / len, 1.0 / len - 1);

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var st = (St)n.State;
        var theta = inputs[0]; var yv = n.Out();
        var y = new TensorData(yv.Type, yv.Shape);
        int nd = st.Spatial.Length, points = y.Length / System.Math.Max(1, st.N * nd);
        var p = new double[nd + 1]; p[nd] = 1;
        for (int b = 0; b < st.N; b++)
            for (int q = 0; q < points; q++)
            {
                // q row-major over (D,) H, W; the base point lists x (width) first
                for (int d = nd - 1, r = q; d >= 0; d--)
                {
                    int len = st.Spatial[d], i = r % len; r /= len;
                    var (scale, shift) = Axis(len, st.Align);
                    p[nd - 1 - d] = i * scale + shift;
                }
                for (int row = 0; row < nd; row++)
                {
                    double v = 0;
                    for (int c = 0; c <= nd; c++) v += theta.GetDouble((b * nd + row) * (nd + 1) + c) * p[c];
                    y.Set((b * points + q) * nd + row, v);
                }
            }
        return new[] { y };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var st = (St)n.State;
        var theta = n.In(0); var y = n.Out();
        if (y.Length == 0) return;
        var t = y.Type; var cs = DTypes.CsName(t);
        string L(double v) => EmitContext.Lit(t, v);
        var w = e.W;
        int nd = st.Spatial.Length, points = y.Length / (st.N * nd);
        int opened = 0;
        string b = "0";
        if (st.N > 1) { b = e.Var("n"); w.Open($"for (int {b} = 0; {b} < {st.N}; {b}++)"); opened++; }
        // one loop per spatial dimension (outermost D or H), each declaring its base coordinate
        var coord = new string[nd];
        var index = new List<string> { WindowEmit.Mul(b, (long)points * nd) };
        long stride = (long)points * nd;
        for (int d = 0; d < nd; d++)
        {
            int len = st.Spatial[d];
            var i = e.Var("i");
            w.Open($"for (int {i} = 0; {i} < {len}; {i}++)"); opened++;
            var (scale, shift) = Axis(len, st.Align);
            coord[nd - 1 - d] = e.Var("p");
            w.Line($"{cs} {coord[nd - 1 - d]} = {i} * {L(scale)} {(shift < 0 ? "-" : "+")} {L(Math.Abs(shift))};");
            stride /= len;
            index.Add(Idx.Mul(i, stride));
        }
        var o = e.Var("o");
        w.Line($"int {o} = {WindowEmit.Sum(index)};");
        for (int row = 0; row < nd; row++)
        {
            var terms = new List<string>();
            string Th(int c) => e.At(theta, Idx.Sum(WindowEmit.Mul(b, (long)nd * (nd + 1)), TensorOps.I(row * (nd + 1) + c)));
            for (int c = 0; c < nd; c++) terms.Add($"{Th(c)} * {coord[c]}");
            terms.Add(Th(nd));
            w.Line($"{e.At(y, Idx.Sum(o, TensorOps.I(row)))} = {string.Join(" + ", terms)};");
        }
        WindowEmit.Close(e, opened);
    }
}
