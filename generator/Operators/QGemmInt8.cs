using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Quant;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// ai.modelgen QGemmInt8: the integer matrix product a QDQ Gemm or MatMul lowers to
/// (<see cref="Passes.QdqConvGemmLowering"/>). Inputs x (int8/uint8 [..., K]), w (constant int8 [N, K]: one row per
/// output channel, zero point folded out), bias, multiplier, shift (int32 [N]); attributes x_zero_point, y_zero_point,
/// qmin, qmax, to. y [..., N] = clamp(MultiplyByQuantizedMultiplier(bias[n] + sum_k (x[., k] - x_zp) * w[n, k]) + y_zp),
/// as <see cref="FixedPoint"/> defines. Net profile: ModelGen.Runtime.QGemm (one row) or QMatMulLanes (two rows or more)
/// (SIMD, bit-exact); Portable: loops.
/// </summary>
public sealed class QGemmInt8 : Operator
{
    public const string OpType = "QGemmInt8";

    sealed class Dims
    {
        public int M, N, K; public Int8Params P; public Value Packed;
        /// <summary>
        /// Two rows or more, at most 1024 columns (padded): ModelGen.Runtime.QMatMulLanes, the columns in the lanes (the
        /// row kernel sums across lanes for every output: a 16 x 32 x 96 product 15 us against ~1 us).
        /// </summary>
        public bool Lanes => M >= 2 && (N + 31) / 32 * 32 <= 1024;
    }

    public override void Infer(Node n)
    {
        Require(n, 5, 6);
        var x = n.In(0); var w = n.In(1);
        if (w.Type != DType.Int8 || !w.IsConst || w.Shape.Length != 2) throw Error("QGemmInt8 weights must be constant int8 [N, K]");
        if (x.Shape.Length < 1 || x.Shape[x.Shape.Length - 1] != w.Shape[1]) throw Error($"QGemmInt8 input {Shape.Format(x.Shape)} does not end in K = {w.Shape[1]}");
        var d = new Dims { N = w.Shape[0], K = w.Shape[1], P = Int8Params.Read(n, x, w.Shape[0]) };
        d.M = Shape.Count(x.Shape.Take(x.Shape.Length - 1).ToArray());
        if (n.Inputs.Count == 5)
            n.Inputs.Add(d.Lanes ? Int8Params.PackLanes((n.Name ?? "qgemm") + "_lanes", w.Const, d.N, d.K) : Int8Params.PackWeights((n.Name ?? "qgemm") + "_packed", w.Const, d.N, d.K));
        d.Packed = n.In(5);
        n.State = d;
        var shape = (int[])x.Shape.Clone(); shape[shape.Length - 1] = d.N;
        SetOut(n, 0, d.P.OutType, shape);
    }

    public override (DType Type, int Elements) Scratch(Node n, TargetProfile profile)
    {
        var d = (Dims)n.State;
        return profile == TargetProfile.Net && d.M > 0 && d.N > 0 ? (DType.Int16, Int8Params.RowsScratch(d.Lanes, d.M, d.K)) : (DType.Float, 0);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var d = (Dims)n.State;
        var x = inputs[0]; var w = inputs[1]; var b = inputs[2];
        var y = new TensorData(d.P.OutType, n.Out().Shape);
        for (int i = 0; i < d.M; i++)
            for (int j = 0; j < d.N; j++)
            {
                int acc = (int)b.L[j];
                for (int k = 0; k < d.K; k++) acc = unchecked(acc + (int)(x.L[i * d.K + k] - d.P.XZero) * (int)w.L[j * d.K + k]);
                y.L[i * d.N + j] = d.P.Requantize(acc, inputs[3], inputs[4], j);
            }
        return new[] { y };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var d = (Dims)n.State;
        if (d.M == 0 || d.N == 0) return;
        var x = n.In(0); var y = n.Out();
        if (e.Net)
        {
            e.W.Line($"ModelGen.Runtime.{(d.Lanes ? "QMatMulLanes" : "QGemm")}.Run({Int8Params.Bytes(e, x)}, {e.Span(d.Packed)}, {e.Span(n.In(2))}, {e.Span(n.In(3))}, {e.Span(n.In(4))}, " +
                $"{Int8Params.Bytes(e, y)}, {e.Span(e.Scratch(n))}, m: {d.M}, n: {d.N}, k: {d.K}, {d.P.Common(x)});");
            return;
        }
        var w = e.W;
        string i = "0";
        if (d.M > 1) { i = e.Var("i"); w.Open($"for (int {i} = 0; {i} < {d.M}; {i}++)"); }
        var j = e.Var("j");
        w.Open($"for (int {j} = 0; {j} < {d.N}; {j}++)");
        var acc = e.Var("acc");
        w.Line($"int {acc} = {e.At(n.In(2), j)};");
        string xb = Idx.Mul(i, d.K), wb = Idx.Mul(j, d.K);
        if (d.K > 0)
        {
            var k = e.Var("k");
            w.Open($"for (int {k} = 0; {k} < {d.K}; {k}++)");
            w.Line($"{acc} += {Q.Minus(e.At(x, Idx.Sum(xb, k)), d.P.XZero.ToString(System.Globalization.CultureInfo.InvariantCulture))} * {e.At(n.In(1), Idx.Sum(wb, k))};");
            w.Close();
        }
        d.P.EmitStore(e, e.At(y, Idx.Sum(Idx.Mul(i, d.N), j)), acc, e.At(n.In(3), j), e.At(n.In(4), j));
        w.Close();
        if (d.M > 1) w.Close();
    }
}
