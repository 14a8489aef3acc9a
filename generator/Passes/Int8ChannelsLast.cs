using System.Linq;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Operators;

namespace ModelGen.Compiler.Passes;

/// <summary>
/// Chains of int8 depthwise and 1x1 convolutions (MobileNet's and DS-CNN's bodies, once quantized) keep the tensors
/// between them channels last ([N, H, W, C] bytes), as TensorFlow Lite's int8 kernels do. In NCHW every int8 depthwise
/// layer transposes its input bytes into vectors of channels and its output back, and the 1x1 kernel with the channels
/// in the lanes transposes its output: channels last, each position's channels are one copy in and one store out. A
/// tensor is channels last where a QConvInt8 that can run so (<see cref="QConvInt8.ChannelsLastCapable"/>) writes it,
/// it is not a graph output, and every consumer is such a convolution reading it as its input; each convolution then
/// reads (mg_nhwc_in) and writes (mg_nhwc_out) the order its neighbours agreed, so a chain's first layer reads NCHW
/// and its last writes NCHW: no reorder node is needed. A 1x1 layer joins a chain on planes up to
/// QConvInt8.MaxChainPlane positions and then runs the channel-lanes kernel (its weights packed for it again). Net profile only, after the lowering (the integer nodes are final). The
/// graph's values keep their NCHW meaning; only the generated code's buffers change order.
/// </summary>
public sealed class Int8ChannelsLast : IPass
{
    public string Name => "Int8ChannelsLast";

    public void Run(Graph graph)
    {
        var uses = new Uses(graph);
        bool Last(Value v) => v?.Producer is Node p && QConvInt8.ChannelsLastCapable(p) && !uses.IsGraphOutput(v) && uses.Of(v).Count > 0
            && uses.Of(v).All(c => QConvInt8.ChannelsLastCapable(c) && c.In(0) == v && c.Inputs.Skip(1).All(i => i != v));
        var marked = graph.Nodes.Where(n => QConvInt8.ChannelsLastCapable(n) && (Last(n.In(0)) || Last(n.Out()))).ToList();
        foreach (var n in marked)
        {
            n.Attributes["mg_nhwc_in"] = PassUtil.Int("mg_nhwc_in", Last(n.In(0)) ? 1 : 0);
            n.Attributes["mg_nhwc_out"] = PassUtil.Int("mg_nhwc_out", Last(n.Out()) ? 1 : 0);
        }
        // inferred again: a 1x1 layer's weights packed for the channel-lanes kernel (the packed input dropped first)
        foreach (var n in marked)
        {
            if (n.Inputs.Count > 5) n.Inputs.RemoveRange(5, n.Inputs.Count - 5);
            OperatorRegistry.Find(n.Domain, n.OpType, n.Opset).Infer(n);
        }
    }
}
