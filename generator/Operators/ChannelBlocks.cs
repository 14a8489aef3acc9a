using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// ai.modelgen ChannelBlocks: the boundary of a chain of convolutions that keeps its tensors channel-blocked (NCHW16c,
/// <see cref="Passes.ChannelBlocking"/>). Attribute to = 1: x (NCHW) into blocks; to = 0: blocks back into NCHW. The
/// graph's values keep their NCHW meaning (the reference evaluation copies); only the Net kernels' buffers between the
/// two ends hold the blocked order. Net: ModelGen.Runtime.ConvBlocked.ToBlocks / FromBlocks.
/// </summary>
public sealed class ChannelBlocks : Operator
{
    public const string OpType = "ChannelBlocks";

    public override void Infer(Node n)
    {
        Require(n, 1, 1);
        var x = n.In(0);
        RequireFloat(n, x);
        if (x.Shape.Length < 2 || x.Shape[1] % 16 != 0) throw Error($"ChannelBlocks needs [N, C, ...] with C a multiple of 16, not {Shape.Format(x.Shape)}");
        SetOut(n, 0, DType.Float, x.Shape);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs) => new[] { inputs[0] };

    public override void Emit(Node n, EmitContext e)
    {
        var x = n.In(0);
        if (!e.Net) throw Error("ChannelBlocks is a Net-profile node (ChannelBlocking runs for Net only)");
        if (x.Length == 0) { e.W.Line("// no elements to reorder"); return; }
        long plane = x.Length / ((long)x.Shape[0] * x.Shape[1]);
        e.W.Line($"ModelGen.Runtime.ConvBlocked.{(n.Int("to", 1) != 0 ? "ToBlocks" : "FromBlocks")}({e.Span(x)}, {e.Span(n.Out())}, batch: {x.Shape[0]}, channels: {x.Shape[1]}, plane: {plane});");
    }
}
