using System.Linq;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Passes;

/// <summary>
/// A float Gemm with A not transposed and a constant B [N, K] stored transposed (transB = 1: PyTorch's Linear, Keras'
/// Dense as tf2onnx writes it) gets B transposed at build time to [K, N] and transB = 0. ModelGen.Runtime.Gemm then
/// streams B's rows and vectorises over the outputs instead of taking one dot product (and one horizontal sum) per
/// output: a 128 x 128 matrix-vector product 2.6x faster, 640 x 128 1.5x, with 3 rows of A 2.8x (Sapphire Rapids, one
/// thread; with the kernel's row sweep, ModelGen.Runtime.GemmCore.Row). From <see cref="MinColumns"/> outputs. Net profile
/// only (the Portable profile's loops read B along K, contiguous as exported). B is rewritten only where this Gemm is
/// its one reader, so no weights are compiled in twice.
/// </summary>
public sealed class GemmWeightLayout : IPass
{
    public string Name => "GemmWeightLayout";

    /// <summary>
    /// Output columns (N) from which the layout pays: below them the kernel's dot products of contiguous rows win (one
    /// output, as openWakeWord's last layer: 0.03 against 0.6 us; 8 outputs of 2 rows: 0.13 against 0.21).
    /// </summary>
    internal const int MinColumns = 16;

    public void Run(Graph graph)
    {
        var uses = new Uses(graph);
        for (int i = 0; i < graph.Nodes.Count; i++)
        {
            var n = graph.Nodes[i];
            if (!PassUtil.Is(n, "Gemm") || n.Int("transA", 0) != 0 || n.Int("transB", 0) == 0) continue;
            var b = n.In(1);
            if (b == null || !b.IsConst || b.Type != DType.Float || b.Const.F == null || b.Shape.Length != 2 || n.In(0)?.Type != DType.Float) continue;
            if (uses.Of(b).Count != 1 || uses.IsGraphOutput(b) || graph.Inputs.Contains(b)) continue;
            int rows = b.Shape[0], cols = b.Shape[1];
            if (rows < MinColumns) continue;
            var src = b.Const.F;
            var t = new float[src.Length];
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++) t[c * rows + r] = src[r * cols + c];
            var bt = PassUtil.Const(b.Name + "_t", new TensorData(DType.Float, new[] { cols, rows }, f: t));
            var attrs = n.Attributes.Values.Where(a => a.Name != "transB").Append(PassUtil.Int("transB", 0)).ToArray();
            var inputs = n.Inputs.ToArray();
            inputs[1] = bt;
            graph.Nodes[i] = PassUtil.Make("Gemm", n.Opset, n.Name, inputs, n.Outputs, attrs);
        }
    }
}
