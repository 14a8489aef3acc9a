using ModelGen.Compiler.IR;
using ModelGen.Compiler.Operators;
using static ModelGen.Compiler.Passes.PassUtil;

namespace ModelGen.Compiler.Passes;

/// <summary>
/// Max or Min of a float Conv, Gemm or MatMul output (read by it alone) and a scalar constant c joins that node's fused
/// activation as a clamp after it (<see cref="FusedActivation"/> Lo/Hi): e.g. openWakeWord's Conv, LeakyRelu(0.2),
/// Max(., -0.4) becomes one Conv. With no activation, Relu or Clip, the bounds fold into a Clip instead. Runs after
/// ActivationFusion, which fuses the activation the clamp follows.
/// </summary>
public sealed class ClampFusion : IPass
{
    public string Name => "ClampFusion";

    public void Run(Graph graph) => Fixpoint(graph, TryFuse);

    static bool TryFuse(Graph g, Uses uses, Node m)
    {
        bool max = Is(m, "Max");
        if (!(max || Is(m, "Min")) || m.Inputs.Count != 2 || m.Outputs.Count != 1) return false;
        var x = m.In(0).IsConst ? m.In(1) : m.In(0);
        var cv = Scalar(Other(m, x));
        var p = x.Producer;
        if (cv == null || double.IsNaN(cv.Value) || !(Is(p, "Conv") || Is(p, "Gemm") || Is(p, "MatMul")) || !g.Nodes.Contains(p)) return false;
        if (p.Outputs.Count != 1 || uses.Only(x) != m || !DTypes.IsFloat(x.Type) || m.Out().Type != x.Type || !Shape.Equal(m.Out().Shape, x.Shape)) return false;
        float c = (float)cv.Value;
        var act = FusedActivation.Of(p);
        FusedActivation now;
        if (act == null || act.Kind is "Relu" or "Clip")
        {
            // these are a Clip [lo, hi]: intersect the bounds
            float lo = act == null ? float.NegativeInfinity : act.Kind == "Relu" ? 0f : act.Alpha;
            float hi = act == null || act.Kind == "Relu" ? float.PositiveInfinity : act.Beta;
            if (act != null && act.Clamped) { lo = System.Math.Max(lo, act.Lo); hi = System.Math.Min(hi, act.Hi); }
            if (max) lo = System.Math.Max(lo, c); else hi = System.Math.Min(hi, c);
            // an empty range makes the output constant: leave it to the model as written
            if (!(lo <= hi)) return false;
            now = act != null && act.Kind == "Relu" && lo == 0f && float.IsPositiveInfinity(hi) ? act : new FusedActivation("Clip", lo, hi);
        }
        else
        {
            float lo = max ? System.Math.Max(act.Lo, c) : act.Lo, hi = max ? act.Hi : System.Math.Min(act.Hi, c);
            if (!(lo <= hi)) return false;
            now = new FusedActivation(act.Kind, act.Alpha, act.Beta, lo, hi);
        }
        var attrs = new System.Collections.Generic.List<Attribute>();
        foreach (var a in p.Attributes.Values)
            if (!a.Name.StartsWith("_mg_", System.StringComparison.Ordinal)) attrs.Add(a);
        attrs.AddRange(now.Attributes());
        var node = MakeIn(p.Domain, p.OpType, p.Opset, p.Name, p.Inputs, new[] { m.Out() }, attrs.ToArray());
        Replace(g, new[] { p, m }, node);
        return true;
    }
}
