using ModelGen.Compiler.IR;
using ModelGen.Compiler.Passes;

namespace ModelGen.Compiler.Quantization;

/// <summary>
/// Which input of a node is a weight that quantizes per output channel, and along which axis: Conv W [M, C/g, k...]
/// axis 0; Gemm B [K, N] axis 1, or [N, K] axis 0 with transB; MatMul B [K, N] axis 1. Only constant float weights.
/// </summary>
internal static class WeightPatterns
{
    public static bool TryGet(Node n, out int input, out int axis)
    {
        input = 1; axis = -1;
        var w = n.In(1);
        if (w == null || !w.IsConst || w.Type != DType.Float || w.Length == 0) return false;
        if (PassUtil.Is(n, "Conv") && w.Shape.Length >= 3) axis = 0;
        else if (PassUtil.Is(n, "Gemm") && w.Shape.Length == 2) axis = n.Int("transB", 0) != 0 ? 0 : 1;
        else if (PassUtil.Is(n, "MatMul") && w.Shape.Length == 2 && n.In(0).Shape.Length >= 1) axis = 1;
        else return false;
        return true;
    }

    /// <summary>The bias input that becomes int32 (Conv's B [M]; Gemm's C [N] when alpha = beta = 1), or null.</summary>
    public static Value Bias(Node n, int channels)
    {
        var b = n.In(2);
        if (b == null || !b.IsConst || b.Type != DType.Float || b.Shape.Length != 1 || b.Length != channels) return null;
        if (PassUtil.Is(n, "Gemm") && (n.Float("alpha", 1f) != 1f || n.Float("beta", 1f) != 1f)) return null;
        return PassUtil.Is(n, "Conv") || PassUtil.Is(n, "Gemm") ? b : null;
    }
}
