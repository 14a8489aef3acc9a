using System.Linq;
using ModelGen.Compiler.IR;
using static ModelGen.Compiler.Passes.PassUtil;

namespace ModelGen.Compiler.Passes;

/// <summary>
/// MatMul(x, W constant 2-D) followed by Add of a constant bias becomes one Gemm (the bias added as the product is
/// stored, not in a second pass). x of rank 2 takes a bias of shape [N], [1, N] or [M, N]; x of higher rank ([B, S, K],
/// a transformer's projections) takes a bias broadcast over its rows ([N], [1, ..., 1, N]) and becomes
/// Reshape(x, [rows, K]) -> Gemm -> Reshape to the Add's shape; the reshapes move no data.
/// </summary>
public sealed class MatMulAddToGemm : IPass
{
    public string Name => "MatMulAddToGemm";

    public void Run(Graph graph) => Fixpoint(graph, TryFuse);

    static bool TryFuse(Graph g, Uses uses, Node mm)
    {
        if (!Is(mm, "MatMul") || mm.Inputs.Count != 2) return false;
        var x = mm.In(0); var w = mm.In(1); var y = mm.Out();
        if (!DTypes.IsFloat(x.Type) || x.Shape.Length < 2 || !w.IsConst || w.Shape.Length != 2) return false;
        var add = uses.Only(y);
        if (!Is(add, "Add") || add.Inputs.Count != 2) return false;
        var c = Other(add, y);
        if (c == null || c == y || !c.IsConst || c.Type != x.Type) return false;
        int r = y.Shape.Length, m = Shape.Count(y.Shape.Take(r - 1).ToArray()), n = y.Shape[r - 1], k = x.Shape[x.Shape.Length - 1];
        var s = c.Shape;
        bool rowBias = s.Length >= 1 && s.Length <= r && s[s.Length - 1] == n && s.Take(s.Length - 1).All(d => d == 1);
        bool ok = rowBias || (r == 2 && s.Length == 2 && s[0] == m && s[1] == n);
        if (!ok || !Shape.Equal(add.Out().Shape, y.Shape)) return false;
        if (r == 2)
        {
            Replace(g, new[] { mm, add }, Make("Gemm", 13, mm.Name, new[] { x, w, c }, new[] { add.Out() }));
            return true;
        }
        var rows = new Value(mm.Name + "_rows") { Type = x.Type, Shape = new[] { m, k } };
        var product = new Value(mm.Name + "_gemm") { Type = x.Type, Shape = new[] { m, n } };
        var bias = s.Length == 1 ? c : Const(c.Name + "_row", new TensorData(c.Type, new[] { n }, f: c.Const.F, d: c.Const.D));
        var gemm = Make("Gemm", 13, mm.Name, new[] { rows, w, bias }, new[] { product });
        Replace(g, new[] { mm, add }, gemm);
        int at = g.Nodes.IndexOf(gemm);
        g.Nodes.Insert(at + 1, Make("Reshape", 14, mm.Name + "_out", new[] { product, ShapeConst(mm.Name + "_out_shape", y.Shape) }, new[] { add.Out() }));
        g.Nodes.Insert(at, Make("Reshape", 14, mm.Name + "_in", new[] { x, ShapeConst(mm.Name + "_in_shape", rows.Shape) }, new[] { rows }));
        return true;
    }
}
