using System.Linq;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Operators;

namespace ModelGen.Compiler.Passes;

/// <summary>
/// Quantize="Weights": a Gemm (A not transposed) whose B is the DequantizeLinear of constant int8 weights, per output
/// column with zero point 0, and C absent or a constant row becomes one <see cref="GemmInt8Weights"/> that reads the
/// int8 weights itself, instead of dequantizing them into the arena on every call and running a float Gemm over
/// them. B [N, K] (transB = 1, PyTorch's Linear) is transposed here, at build time, to the kernel's [K, N]; alpha
/// joins the scales and beta the bias. The fused activation stays.
/// </summary>
public sealed class WeightGemmFusion : IPass
{
    public string Name => "WeightGemmFusion";

    public void Run(Graph graph)
    {
        var uses = new Uses(graph);
        foreach (var n in graph.Nodes.ToArray())
        {
            if (!PassUtil.Is(n, "Gemm") || n.Int("transA", 0) != 0) continue;
            var dq = n.In(1)?.Producer;
            if (!DequantizeLinear.Keep(dq) || uses.Only(dq.Out()) != n || !graph.Nodes.Contains(dq)) continue;
            var w = dq.In(0); var scale = dq.In(1); var zero = dq.In(2);
            if (w == null || !w.IsConst || w.Type != DType.Int8 || w.Shape.Length != 2 || scale == null || !scale.IsConst) continue;
            if (zero != null && PassUtil.Scalar(zero) != 0) continue; // absent, or constant zeros
            bool transB = n.Int("transB", 0) != 0;
            int kDim = transB ? w.Shape[1] : w.Shape[0], nDim = transB ? w.Shape[0] : w.Shape[1];
            // one scale per output column: along B's N axis, or a single one
            long axis = dq.Int("axis", 1);
            if (axis < 0) axis += 2;
            if (scale.Length != 1 && (scale.Length != nDim || axis != (transB ? 0 : 1))) continue;
            var c = n.In(2);
            float alpha = n.Float("alpha", 1f), beta = n.Float("beta", 1f);
            float[] bias = null;
            if (c != null && beta != 0f)
            {
                if (!c.IsConst || c.Type != DType.Float || (c.Length != nDim && c.Length != 1) || c.Shape.Length > 1 && c.Shape[c.Shape.Length - 1] != c.Length) continue;
                bias = Enumerable.Range(0, nDim).Select(j => beta * c.Const.F[c.Length == 1 ? 0 : j]).ToArray();
            }
            var cols = new long[nDim * kDim];
            for (int k = 0; k < kDim; k++)
                for (int j = 0; j < nDim; j++) cols[k * nDim + j] = w.Const.GetLong(transB ? j * kDim + k : k * nDim + j);
            var scales = Enumerable.Range(0, nDim).Select(j => alpha * scale.Const.F[scale.Length == 1 ? 0 : j]).ToArray();
            var inputs = new[]
            {
                n.In(0),
                PassUtil.Const(w.Name + (transB ? "_t" : ""), new TensorData(DType.Int8, new[] { kDim, nDim }, l: cols)),
                PassUtil.Const(scale.Name + (alpha == 1f ? "" : "_alpha"), new TensorData(DType.Float, new[] { nDim }, f: scales)),
            }.ToList();
            if (bias != null) inputs.Add(PassUtil.Const((c.Name ?? "bias") + "_row", new TensorData(DType.Float, new[] { nDim }, f: bias)));
            var attrs = n.Attributes.Values.Where(a => a.Name.StartsWith("_mg_")).ToArray();
            var fused = PassUtil.MakeIn(FusedElementwise.Domain, GemmInt8Weights.OpType, 1, n.Name, inputs, new[] { n.Out() }, attrs);
            int at = graph.Nodes.IndexOf(n);
            graph.Nodes[at] = fused;
            graph.Nodes.Remove(dq);
        }
    }
}
