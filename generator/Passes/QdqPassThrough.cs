using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Operators;
using static ModelGen.Compiler.Passes.PassUtil;

namespace ModelGen.Compiler.Passes;

/// <summary>
/// The rest of a QDQ graph on integer tensors (per-tensor parameters only):
/// <list type="bullet">
/// <item>QuantizeLinear(DequantizeLinear(q)) with the same scale, zero point and type is q;</item>
/// <item>data movement (Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Identity, Slice, MaxPool, Concat) between
///   a DequantizeLinear and a QuantizeLinear with equal parameters runs on the integer tensor (exact: these ops only
///   move values, and max commutes with the monotone quantization);</item>
/// <item>Add / Mul of two dequantized tensors, AveragePool and GlobalAveragePool, followed by a QuantizeLinear,
///   become ONNX Runtime's QLinearAdd / QLinearMul / QLinearAveragePool / QLinearGlobalAveragePool (what ONNX
///   Runtime itself runs for them); LeakyRelu and Sigmoid become QLinearLeakyRelu / QLinearSigmoid (256-entry tables).</item>
/// </list>
/// </summary>
public sealed class QdqPassThrough : IPass
{
    public string Name => "QdqPassThrough";

    static readonly HashSet<string> s_moves = new() { "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity", "Slice", "MaxPool", "Concat" };

    public void Run(Graph graph) => Fixpoint(graph, Try);

    static bool IsOp(Node n, string op) => n != null && n.OpType == op && (n.Domain == "" || n.Domain == "ai.onnx" || n.Domain == "com.microsoft");

    /// <summary>Per-tensor constant (float scale, zero point) of a Q or DQ node, with the integer type (int8 or uint8).</summary>
    internal static bool Params(Node q, out float s, out long z, out DType t)
    {
        s = 0; z = 0; t = IsOp(q, "QuantizeLinear") ? q.Out().Type : q.In(0).Type;
        var sv = q.In(1); var zv = q.In(2);
        if (sv == null || !sv.IsConst || sv.Length != 1 || sv.Type != DType.Float || zv != null && (!zv.IsConst || zv.Length != 1) || !Q.Is8(t)) return false;
        s = sv.Const.F[0]; z = zv == null ? 0 : zv.Const.GetLong(0);
        return true;
    }

    static bool Same(Node a, Node b)
        => Params(a, out var sa, out var za, out var ta) && Params(b, out var sb, out var zb, out var tb) && sa == sb && za == zb && ta == tb;

    /// <summary>The zero point of a Q or DQ node of type t; absent (0), a constant 0, as the QLinear ops require one.</summary>
    static Value Zp(Node q, DType t) => q.In(2) ?? Q.Constant((q.Name ?? "q") + "_zero_point", TensorData.Scalar(t, 0));

    static Node Dq(Graph g, Value v) => v?.Producer is { } p && IsOp(p, "DequantizeLinear") && g.Nodes.Contains(p) ? p : null;

    static bool Try(Graph g, Uses uses, Node n)
    {
        if (IsOp(n, "QuantizeLinear"))
        {
            var dq = Dq(g, n.In(0));
            if (dq == null || !Same(dq, n) || uses.IsGraphOutput(n.Out())) return false;
            ReplaceUses(g, n.Out(), dq.In(0));
            g.Nodes.Remove(n);
            return true;
        }
        if (n.Outputs.Count != 1 || n.Subgraphs.Count != 0 || !(n.Domain == "" || n.Domain == "ai.onnx")) return false;
        var q = uses.Only(n.Out());
        if (!IsOp(q, "QuantizeLinear") || !Params(q, out float sy, out long zy, out var ty)) return false;
        if (s_moves.Contains(n.OpType))
        {
            int data = n.OpType == "Concat" ? n.Inputs.Count : 1;
            var ins = n.Inputs.ToList();
            for (int i = 0; i < data; i++)
            {
                var dq = Dq(g, n.In(i));
                if (dq == null || !Same(dq, q)) return false;
                ins[i] = dq.In(0);
            }
            Replace(g, new[] { n, q }, MakeIn(n.Domain, n.OpType, n.Opset, n.Name, ins, new[] { q.Out() }, n.Attributes.Values.ToArray()));
            return true;
        }
        if (n.OpType is "Add" or "Mul" && n.Inputs.Count == 2)
        {
            Node a = Dq(g, n.In(0)), b = Dq(g, n.In(1));
            if (a == null || b == null || !Params(a, out _, out _, out var ta) || !Params(b, out _, out _, out var tb) || ta != ty || tb != ty) return false;
            var ins = new[] { a.In(0), a.In(1), Zp(a, ta), b.In(0), b.In(1), Zp(b, tb), q.In(1), Zp(q, ty) };
            Replace(g, new[] { n, q }, MakeIn("com.microsoft", "QLinear" + n.OpType, 1, n.Name, ins, new[] { q.Out() }, new IR.Attribute[0]));
            return true;
        }
        if (n.OpType is "LeakyRelu" or "Sigmoid")
        {
            var a = Dq(g, n.In(0));
            if (a == null || !Params(a, out _, out _, out var ta) || ta != ty) return false;
            var ins = new[] { a.In(0), a.In(1), Zp(a, ta), q.In(1), Zp(q, ty) };
            var attrs = n.OpType == "LeakyRelu" ? new[] { Float("alpha", n.Float("alpha", 0.01f)) } : new IR.Attribute[0];
            Replace(g, new[] { n, q }, MakeIn("com.microsoft", "QLinear" + n.OpType, 1, n.Name, ins, new[] { q.Out() }, attrs));
            return true;
        }
        if (n.OpType is "AveragePool" or "GlobalAveragePool")
        {
            var a = Dq(g, n.In(0));
            if (a == null || !Params(a, out _, out _, out var ta) || ta != ty || n.In(0).Shape.Length != 4) return false;
            var ins = new[] { a.In(0), a.In(1), Zp(a, ta), q.In(1), Zp(q, ty) };
            var attrs = n.OpType == "GlobalAveragePool" ? new[] { Int("channels_last", 0) } : n.Attributes.Values.ToArray();
            Replace(g, new[] { n, q }, MakeIn("com.microsoft", "QLinear" + n.OpType, 1, n.Name, ins, new[] { q.Out() }, attrs));
            return true;
        }
        return false;
    }
}
