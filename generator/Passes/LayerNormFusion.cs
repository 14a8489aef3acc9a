using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.IR;
using static ModelGen.Compiler.Passes.PassUtil;

namespace ModelGen.Compiler.Passes;

/// <summary>
/// The exported layer norm over the last axis — ReduceMean(x) -> Sub(x, mean) -> Pow(d, 2) (or Mul(d, d)) -> ReduceMean
/// -> Add(eps) -> Sqrt -> Div(d, std) [-> Mul(gamma)] [-> Add(beta)], gamma and beta constant per last-axis element —
/// becomes one LayerNormalization (axis -1, the constant epsilon).
/// </summary>
public sealed class LayerNormFusion : IPass
{
    public string Name => "LayerNormFusion";

    public void Run(Graph graph) => Fixpoint(graph, TryFuse);

    /// <summary>A ReduceMean over the last axis only, keeping dims.</summary>
    static bool MeanOverLast(Node n, Value input)
    {
        if (!Is(n, "ReduceMean") || n.In(0) != input || n.Int("keepdims", 1) == 0) return false;
        var axes = n.Has("axes") ? n.Ints("axes") : n.In(1) != null && n.In(1).IsConst ? n.In(1).Const.ToLongs() : null;
        int rank = input.Shape.Length;
        return axes != null && axes.Length == 1 && (axes[0] == rank - 1 || axes[0] == -1) && rank >= 1;
    }

    /// <summary>A constant that holds one value per last-axis element (or one value), as a [D] tensor; null when not.</summary>
    static TensorData PerLast(Value c, Value x)
    {
        if (c == null || !c.IsConst || c.Type != x.Type || c.Shape.Length > x.Shape.Length) return null;
        int d = x.Shape[x.Shape.Length - 1];
        int last = c.Shape.Length == 0 ? 1 : c.Shape[c.Shape.Length - 1];
        if (c.Length != last || last != 1 && last != d) return null;
        var r = c.Const.Like(new[] { d });
        for (int i = 0; i < d; i++) r.Set(i, c.Const.GetDouble(last == 1 ? 0 : i));
        return r;
    }

    static bool TryFuse(Graph g, Uses uses, Node rm1)
    {
        var x = rm1.In(0);
        if (x == null || !DTypes.IsFloat(x.Type) || x.Shape == null || x.Shape.Length == 0 || !MeanOverLast(rm1, x)) return false;
        var sub = uses.Only(rm1.Out());
        if (!Is(sub, "Sub") || sub.In(0) != x || sub.In(1) != rm1.Out()) return false;
        var d = sub.Out();
        var dUses = uses.Of(d);
        if (uses.IsGraphOutput(d) || dUses.Count != 2 && dUses.Count != 3) return false;
        var sq = dUses.FirstOrDefault(n => Is(n, "Pow") && n.In(0) == d && Near(Scalar(n.In(1)), 2, 0) || Is(n, "Mul") && n.In(0) == d && n.In(1) == d);
        var div = dUses.FirstOrDefault(n => Is(n, "Div") && n.In(0) == d);
        if (sq == null || div == null || dUses.Count != (Is(sq, "Mul") ? 3 : 2)) return false;
        var rm2 = uses.Only(sq.Out());
        if (!MeanOverLast(rm2, sq.Out())) return false;
        var add = uses.Only(rm2.Out());
        if (!Is(add, "Add")) return false;
        var eps = Scalar(Other(add, rm2.Out()));
        if (eps == null || eps < 0) return false;
        var sqrt = uses.Only(add.Out());
        if (!Is(sqrt, "Sqrt") || uses.Only(sqrt.Out()) != div || div.In(1) != sqrt.Out()) return false;
        var nodes = new List<Node> { rm1, sub, sq, rm2, add, sqrt, div };
        var y = div.Out();
        TensorData gamma = null, beta = null;
        var mul = uses.Only(y);
        if (Is(mul, "Mul") && (gamma = PerLast(Other(mul, y), x)) != null && Shape.Equal(mul.Out().Shape, x.Shape))
        {
            nodes.Add(mul); y = mul.Out();
        }
        var bAdd = uses.Only(y);
        if (Is(bAdd, "Add") && (beta = PerLast(Other(bAdd, y), x)) != null && Shape.Equal(bAdd.Out().Shape, x.Shape))
        {
            nodes.Add(bAdd); y = bAdd.Out();
        }
        int dim = x.Shape[x.Shape.Length - 1];
        if (gamma == null) { gamma = x.Type == DType.Float ? new TensorData(x.Type, new[] { dim }) : new TensorData(x.Type, new[] { dim }); for (int i = 0; i < dim; i++) gamma.Set(i, 1); }
        string name = (div.Name ?? y.Name) + "_layernorm";
        var inputs = new List<Value> { x, Const(name + "_scale", gamma) };
        if (beta != null) inputs.Add(Const(name + "_bias", beta));
        var ln = Make("LayerNormalization", 17, name, inputs, new[] { y }, Int("axis", -1), Float("epsilon", (float)eps.Value));
        Replace(g, nodes, ln);
        return true;
    }
}
