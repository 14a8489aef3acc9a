using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.IR;
using static ModelGen.Compiler.Passes.PassUtil;

namespace ModelGen.Compiler.Passes;

/// <summary>
/// Folds an inference BatchNormalization into the Conv, Gemm or 2-D MatMul (constant weights) that feeds it:
/// with f = scale / sqrt(var + eps) per output channel, W' = W * f and B' = (B - mean) * f + beta. A ConvTranspose's W is
/// [C, M/group, k...]: output channel g * M/group + m scales W along axis 1 within input-channel group g.
/// </summary>
public sealed class ConvBatchNormFolding : IPass
{
    public string Name => "ConvBatchNormFolding";

    public void Run(Graph graph) => Fixpoint(graph, TryFold);

    static bool TryFold(Graph g, Uses uses, Node bn)
    {
        if (!Is(bn, "BatchNormalization") || bn.Inputs.Count != 5 || bn.Outputs.Count != 1) return false;
        if (bn.Opset >= 14 && bn.Int("training_mode", 0) != 0) return false;
        if (bn.Opset < 9 && bn.Int("spatial", 1) == 0) return false;
        var x = bn.In(0);
        var p = x.Producer;
        if (uses.Only(x) != bn || p == null || p.Outputs.Count != 1 || !g.Nodes.Contains(p)) return false;
        if (!DTypes.IsFloat(x.Type) || x.Shape.Length < 2) return false;
        int c = x.Shape[1];
        for (int i = 1; i < 5; i++) if (!bn.In(i).IsConst || bn.In(i).Length != c || bn.In(i).Type != x.Type) return false;
        double eps = bn.Float("epsilon", 1e-5f);
        var f = new double[c];
        var shift = new double[c]; // y = conv * f + shift, with shift = beta - mean * f
        for (int k = 0; k < c; k++)
        {
            f[k] = bn.In(1).Const.GetDouble(k) / Math.Sqrt(bn.In(4).Const.GetDouble(k) + eps);
            shift[k] = bn.In(2).Const.GetDouble(k) - bn.In(3).Const.GetDouble(k) * f[k];
        }
        var y = bn.Out();
        string name = (p.Name ?? y.Name) + "_bnfold";

        if (Is(p, "Conv"))
        {
            var w = p.In(1); var b = p.In(2);
            if (w == null || !w.IsConst || w.Shape.Length < 3 || w.Shape[0] != c || b != null && (!b.IsConst || b.Length != c)) return false;
            var nw = w.Const.Like(w.Shape);
            int per = w.Length / c;
            for (int i = 0; i < w.Length; i++) nw.Set(i, w.Const.GetDouble(i) * f[i / per]);
            var nb = w.Const.Like(new[] { c });
            for (int k = 0; k < c; k++) nb.Set(k, (b == null ? 0 : b.Const.GetDouble(k)) * f[k] + shift[k]);
            var node = MakeIn(p.Domain, "Conv", p.Opset, p.Name, new[] { p.In(0), Const(w.Name + "_bnfold", nw), Const(name + "_bias", nb) }, new[] { y },
                p.Attributes.Values.ToArray());
            Replace(g, new[] { p, bn }, node);
            return true;
        }
        if (Is(p, "ConvTranspose"))
        {
            var w = p.In(1); var b = p.In(2);
            if (w == null || !w.IsConst || w.Shape.Length < 3 || b != null && (!b.IsConst || b.Length != c)) return false;
            int mg = w.Shape[1], k = w.Length / (w.Shape[0] * mg), group = (int)p.Int("group", 1);
            if (group < 1 || mg * group != c || w.Shape[0] % group != 0) return false;
            int cg = w.Shape[0] / group;
            var nw = w.Const.Like(w.Shape);
            for (int i = 0; i < w.Length; i++)
            {
                int ic = i / (mg * k), m = i / k % mg;
                nw.Set(i, w.Const.GetDouble(i) * f[ic / cg * mg + m]);
            }
            var nb = w.Const.Like(new[] { c });
            for (int m = 0; m < c; m++) nb.Set(m, (b == null ? 0 : b.Const.GetDouble(m)) * f[m] + shift[m]);
            var node = MakeIn(p.Domain, "ConvTranspose", p.Opset, p.Name, new[] { p.In(0), Const(w.Name + "_bnfold", nw), Const(name + "_bias", nb) }, new[] { y },
                p.Attributes.Values.ToArray());
            Replace(g, new[] { p, bn }, node);
            return true;
        }
        if (x.Shape.Length != 2) return false;
        if (Is(p, "Gemm"))
        {
            var bw = p.In(1); var cc = p.In(2);
            if (!bw.IsConst || cc != null && !cc.IsConst) return false;
            bool transB = p.Int("transB", 0) != 0;
            int m = x.Shape[0];
            var nw = bw.Const.Like(bw.Shape);
            int cols = bw.Shape[1];
            for (int i = 0; i < bw.Length; i++) nw.Set(i, bw.Const.GetDouble(i) * f[transB ? i / cols : i % cols]);
            float beta = p.Float("beta", 1f);
            bool perRow = cc != null && cc.Shape.Length == 2 && cc.Shape[0] != 1;
            var cShape = perRow ? new[] { m, c } : new[] { c };
            var nc = bw.Const.Like(cShape);
            var cst = cc == null ? null : Shape.BroadcastStrides(cc.Shape, new[] { m, c });
            for (int r = 0; r < (perRow ? m : 1); r++)
                for (int k = 0; k < c; k++)
                {
                    double cv = cc == null ? 0 : beta * cc.Const.GetDouble(r * cst[0] + k * cst[1]);
                    nc.Set(r * (perRow ? c : 0) + k, cv * f[k] + shift[k]);
                }
            var attrs = p.Attributes.Values.Where(a => a.Name != "beta").ToList();
            var node = MakeIn(p.Domain, "Gemm", p.Opset, p.Name, new[] { p.In(0), Const(bw.Name + "_bnfold", nw), Const(name + "_bias", nc) }, new[] { y }, attrs.ToArray());
            Replace(g, new[] { p, bn }, node);
            return true;
        }
        if (Is(p, "MatMul"))
        {
            var a0 = p.In(0); var w = p.In(1);
            if (a0.Shape.Length != 2 || !w.IsConst || w.Shape.Length != 2 || w.Shape[1] != c) return false;
            var nw = w.Const.Like(w.Shape);
            for (int i = 0; i < w.Length; i++) nw.Set(i, w.Const.GetDouble(i) * f[i % c]);
            var nc = w.Const.Like(new[] { c });
            for (int k = 0; k < c; k++) nc.Set(k, shift[k]);
            var node = Make("Gemm", 13, p.Name, new[] { a0, Const(w.Name + "_bnfold", nw), Const(name + "_bias", nc) }, new[] { y });
            Replace(g, new[] { p, bn }, node);
            return true;
        }
        return false;
    }
}
