using System.Linq;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Operators;

namespace ModelGen.Compiler.Passes;

/// <summary>
/// Quantize="Weights", Net profile: a Conv whose W is the DequantizeLinear of constant int8 weights (zero point 0, one
/// scale per output channel or one for all) takes the int8 weights and their scales itself (<see cref="Conv"/>'s 6th
/// input) and dequantizes them into its scratch, in the layout its kernel reads: packed panels
/// (<see cref="ConvWeightPanels"/>, which runs after), channel lanes, or W's own. A separate DequantizeLinear would
/// rebuild W's layout on each call and leave the Conv non-constant weights, losing the build-time layouts that make
/// float convolutions fast. The floats are the same (x * scale). Portable keeps the DequantizeLinear and its loops.
/// </summary>
public sealed class WeightConvFusion : IPass
{
    public string Name => "WeightConvFusion";

    public void Run(Graph graph)
    {
        var uses = new Uses(graph);
        foreach (var n in graph.Nodes.ToArray())
        {
            if (!PassUtil.Is(n, "Conv") || n.Inputs.Count > 4 || !(n.State is Conv.Geo geo) || !Conv.UsesNetKernel(n, geo, TargetProfile.Net)) continue;
            var dq = n.In(1)?.Producer;
            if (!DequantizeLinear.Keep(dq) || uses.Only(dq.Out()) != n || !graph.Nodes.Contains(dq)) continue;
            var w = dq.In(0); var scale = dq.In(1); var zero = dq.In(2);
            if (w == null || !w.IsConst || w.Type != DType.Int8 || scale == null || !scale.IsConst || scale.Const.F == null) continue;
            if (zero != null && !(zero.IsConst && Enumerable.Range(0, (int)zero.Length).All(i => zero.Const.GetLong(i) == 0))) continue;
            long axis = dq.Int("axis", 1);
            if (axis < 0) axis += w.Shape.Length;
            if (scale.Length != 1 && (scale.Length != geo.M || axis != 0)) continue;
            var s = scale.Length == 1 ? PassUtil.Const(scale.Name + "_channels", new TensorData(DType.Float, new[] { geo.M }, f: Enumerable.Repeat(scale.Const.F[0], geo.M).ToArray())) : scale;
            while (n.Inputs.Count < 6) n.Inputs.Add(null);
            n.Inputs[1] = w;
            n.Inputs[5] = s;
            graph.Nodes.Remove(dq);
        }
    }
}
