using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Quant;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// ai.modelgen MatMulIntegerInt8: the MatMulInteger a dynamically quantized MatMul (DynamicQuantizeLinear, then
/// MatMulInteger on constant int8 weights, as ONNX Runtime's quantize_dynamic writes it) lowers to
/// (<see cref="Passes.QLinearLowering"/>). Inputs x (int8/uint8 [..., K]), w (constant int8 [N, K]: one row per output
/// column, B's zero point folded out), optional a_zero_point (x's type, one value, computed at run time when x is
/// quantized dynamically), the packed weights (added here), and optionally scale (float, 1 or N values) and bias (float
/// [N]): acc [..., N] = sum_k (x - a_zero_point) * w[n, k] in int32, exact; y = acc (int32), or with a scale the
/// graph's Cast, Mul and Add that followed: y = (float)acc * scale[n] (+ bias[n]), multiply then add as those nodes
/// round. Net profile: ModelGen.Runtime.QGemm.RunInt32 / RunFloat (SIMD; one row), ModelGen.Runtime.QMatMulLanes
/// (two rows or more: the columns in the lanes); Portable: loops.
/// </summary>
public sealed class MatMulIntegerInt8 : Operator
{
    public const string OpType = "MatMulIntegerInt8";

    sealed class Dims
    {
        public int M, N, K; public Value Packed;
        /// <summary>Two rows or more: ModelGen.Runtime.QMatMulLanes (columns in the lanes, its own weight layout).</summary>
        public bool Lanes => M >= 2;
    }

    public override void Infer(Node n)
    {
        RequireSome(n, 2, 6, 0, 1);
        var x = n.In(0); var w = n.In(1);
        if (!Q.Is8(x.Type)) throw Q.TypeError(n, x, "int8, uint8");
        if (w.Type != DType.Int8 || !w.IsConst || w.Shape.Length != 2) throw Error("MatMulIntegerInt8 weights must be constant int8 [N, K]");
        if (x.Shape.Length < 1 || x.Shape[x.Shape.Length - 1] != w.Shape[1]) throw Error($"MatMulIntegerInt8 input {Shape.Format(x.Shape)} does not end in K = {w.Shape[1]}");
        if (n.In(2) is Value z && (z.Type != x.Type || z.Length != 1)) throw Error("MatMulIntegerInt8 a_zero_point must be one value of x's type");
        var d = new Dims { N = w.Shape[0], K = w.Shape[1], M = Shape.Count(x.Shape.Take(x.Shape.Length - 1).ToArray()) };
        while (n.Inputs.Count < 6) n.Inputs.Add(null);
        n.Inputs[3] ??= d.Lanes ? Int8Params.PackLanes((n.Name ?? "matmulinteger") + "_lanes", w.Const, d.N, d.K)
            : Int8Params.PackWeights((n.Name ?? "matmulinteger") + "_packed", w.Const, d.N, d.K);
        d.Packed = n.In(3);
        var scale = n.In(4); var bias = n.In(5);
        if (scale != null && (scale.Type != DType.Float || scale.Length != 1 && scale.Length != d.N)) throw Error($"MatMulIntegerInt8 scale must be float with 1 or {d.N} values");
        if (bias != null && (scale == null || bias.Type != DType.Float || bias.Length != d.N)) throw Error($"MatMulIntegerInt8 bias must be float [{d.N}], with a scale");
        n.State = d;
        var shape = (int[])x.Shape.Clone(); shape[shape.Length - 1] = d.N;
        SetOut(n, 0, scale == null ? DType.Int32 : DType.Float, shape);
    }

    public override (DType Type, int Elements) Scratch(Node n, TargetProfile profile)
    {
        var d = (Dims)n.State;
        return profile == TargetProfile.Net && d.M > 0 && d.N > 0 ? (DType.Int16, Int8Params.RowsScratch(d.Lanes, d.M, d.K)) : (DType.Float, 0);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var d = (Dims)n.State;
        TensorData In(int i) => i < inputs.Length ? inputs[i] : null;
        var x = In(0); var w = In(1); var scale = In(4); var bias = In(5);
        long z = Q.ZpAt(In(2), 0);
        var y = new TensorData(n.Out().Type, n.Out().Shape);
        for (int i = 0; i < d.M; i++)
            for (int j = 0; j < d.N; j++)
            {
                int acc = 0;
                for (int k = 0; k < d.K; k++) acc = unchecked(acc + (int)(x.L[i * d.K + k] - z) * (int)w.L[j * d.K + k]);
                if (scale == null) { y.L[i * d.N + j] = acc; continue; }
                float v = (float)acc * scale.F[scale.Length == 1 ? 0 : j];
                y.F[i * d.N + j] = bias == null ? v : v + bias.F[j];
            }
        return new[] { y };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var d = (Dims)n.State;
        if (d.M == 0 || d.N == 0) return;
        var x = n.In(0); var y = n.Out();
        string zero = Q.Zp(e, n.In(2), "0");
        Value scale = n.In(4), bias = n.In(5);
        if (e.Net)
        {
            string common = $"m: {d.M}, n: {d.N}, k: {d.K}, xSigned: {(x.Type == DType.Int8 ? "true" : "false")}, xZero: {zero}";
            string kernel = d.Lanes ? "QMatMulLanes" : "QGemm";
            if (scale == null) e.W.Line($"ModelGen.Runtime.{kernel}.RunInt32({Int8Params.Bytes(e, x)}, {e.Span(d.Packed)}, {e.Span(y)}, {e.Span(e.Scratch(n))}, {common});");
            else e.W.Line($"ModelGen.Runtime.{kernel}.RunFloat({Int8Params.Bytes(e, x)}, {e.Span(d.Packed)}, {e.Span(scale)}, {(bias == null ? "default" : e.Span(bias))}, " +
                $"{e.Span(y)}, {e.Span(e.Scratch(n))}, {common});");
            return;
        }
        var w = e.W;
        zero = QMatMulBase.Local(e, zero, "za");
        string i = "0";
        if (d.M > 1) { i = e.Var("i"); w.Open($"for (int {i} = 0; {i} < {d.M}; {i}++)"); }
        var j = e.Var("j");
        w.Open($"for (int {j} = 0; {j} < {d.N}; {j}++)");
        var acc = e.Var("acc");
        w.Line($"int {acc} = 0;");
        if (d.K > 0)
        {
            var k = e.Var("k");
            w.Line($"for (int {k} = 0; {k} < {d.K}; {k}++) {acc} += {Q.Minus(e.At(x, Idx.Sum(Idx.Mul(i, d.K), k)), zero)} * {e.At(n.In(1), Idx.Sum(Idx.Mul(j, d.K), k))};");
        }
        var target = e.At(y, Idx.Sum(Idx.Mul(i, d.N), j));
        if (scale == null) w.Line($"{target} = {acc};");
        else
        {
            // multiply, then add: the Cast, Mul and Add this node stands for round after each
            var v = e.Var("v");
            w.Line($"float {v} = (float){acc} * {e.At(scale, scale.Length == 1 ? "0" : j)};");
            w.Line($"{target} = {(bias == null ? v : $"{v} + {e.At(bias, j)}")};");
        }
        w.Close();
        if (d.M > 1) w.Close();
    }
}
