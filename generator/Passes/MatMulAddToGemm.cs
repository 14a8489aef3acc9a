using System.Linq;
using ModelGen.Compiler.IR;
using static ModelGen.Compiler.Passes.PassUtil;

namespace ModelGen.Compiler.Passes;

/// <summary>2-D MatMul(x, W constant) followed by Add of a constant bias of shape [N], [1, N] or [M, N] becomes one Gemm.</summary>
public sealed class MatMulAddToGemm : IPass
{
    public string Name => "MatMulAddToGemm";

    public void Run(Graph graph) => Fixpoint(graph, TryFuse);

    static bool TryFuse(Graph g, Uses uses, Node mm)
    {
        if (!Is(mm, "MatMul") || mm.Inputs.Count != 2) return false;
        var x = mm.In(0); var w = mm.In(1); var y = mm.Out();
        if (!DTypes.IsFloat(x.Type) || x.Shape.Length != 2 || !w.IsConst || w.Shape.Length != 2) return false;
        var add = uses.Only(y);
        if (!Is(add, "Add") || add.Inputs.Count != 2) return false;
        var c = Other(add, y);
        if (c == null || c == y || !c.IsConst || c.Type != x.Type) return false;
        int m = y.Shape[0], n = y.Shape[1];
        var s = c.Shape;
        bool ok = s.Length == 0 ? false
            : s.Length == 1 ? s[0] == n
            : s.Length == 2 && (s[0] == 1 || s[0] == m) && s[1] == n;
        if (!ok || !Shape.Equal(add.Out().Shape, y.Shape)) return false;
        var node = Make("Gemm", 13, mm.Name, new[] { x, w, c }, new[] { add.Out() });
        Replace(g, new[] { mm, add }, node);
        return true;
    }
}
