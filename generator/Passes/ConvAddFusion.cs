using System.Linq;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Operators;
using static ModelGen.Compiler.Passes.PassUtil;

namespace ModelGen.Compiler.Passes;

/// <summary>
/// A float Conv without a fused activation whose output is read only by an Add, whose other operand Z has the same
/// type and shape (no broadcasting), becomes one Conv with Z as a 4th input: Y = conv(X) + B + Z (a residual block).
/// Runs before ActivationFusion so that a Relu after the Add fuses too, applied after the sum as the model has it.
/// The kernel accumulates onto Z's buffer when Z dies there (<see cref="Operator.SharedInput"/>): the Add's separate
/// pass and one block-sized tensor disappear. Depthwise convolutions are left alone (their kernel has no residual form).
/// </summary>
public sealed class ConvAddFusion : IPass
{
    public string Name => "ConvAddFusion";

    public void Run(Graph graph) => Fixpoint(graph, TryFuse);

    static bool TryFuse(Graph g, Uses uses, Node add)
    {
        if (!Is(add, "Add") || add.Inputs.Count != 2 || add.Outputs.Count != 1 || add.In(0) == add.In(1)) return false;
        var y = add.Out();
        // both operands may be convolutions (a projection shortcut): fuse the later one, its Z is already computed
        var convs = add.Inputs.Where(v => Fusable(g, uses, v, y) && Shape.Equal(Other(add, v).Shape, y.Shape)).OrderByDescending(v => g.Nodes.IndexOf(v.Producer)).ToList();
        if (convs.Count == 0) return false;
        var c = convs[0]; var p = c.Producer; var z = Other(add, c);
        var node = MakeIn(p.Domain, p.OpType, p.Opset, p.Name, new[] { p.In(0), p.In(1), p.In(2), z }, new[] { y }, p.Attributes.Values.ToArray());
        Replace(g, new[] { p, add }, node);
        return true;
    }

    /// <summary>True when <paramref name="c"/> comes out of a Conv that can take the Add producing <paramref name="y"/>.</summary>
    static bool Fusable(Graph g, Uses uses, Value c, Value y)
    {
        var p = c?.Producer;
        if (!Is(p, "Conv") || !g.Nodes.Contains(p) || p.Outputs.Count != 1 || p.Inputs.Count > 3 || p.Has(FusedActivation.KindAttr)) return false;
        if (!DTypes.IsFloat(c.Type) || uses.Only(c) == null || y.Type != c.Type || !Shape.Equal(y.Shape, c.Shape)) return false;
        var geo = (Conv.Geo)p.State;
        return !(geo.ICg == 1 && geo.Group > 1);
    }
}
