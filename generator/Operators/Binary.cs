using System;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

public enum BinaryKind { Arithmetic, Compare, Logical }

/// <summary>
/// Elementwise binary operators with multidirectional broadcasting (Add, Sub, Mul, Div, Pow, Equal, Greater, ...).
/// Arithmetic keeps the input type; comparisons give bool; logical ops take and give bool.
/// </summary>
public sealed class Binary : Operator
{
    readonly BinaryKind _kind;
    readonly Func<Node, double, double, double> _evalF;
    readonly Func<Node, long, long, long> _evalI;
    readonly Func<Node, EmitContext, DType, string, string, string> _emit;

    public Binary(BinaryKind kind, Func<double, double, double> evalF, Func<long, long, long> evalI, Func<EmitContext, DType, string, string, string> emit)
        : this(kind, evalF == null ? null : (n, a, b) => evalF(a, b), evalI == null ? null : (n, a, b) => evalI(a, b), (n, e, t, a, b) => emit(e, t, a, b)) { }

    /// <summary>For operators whose computation depends on attributes (Mod's fmod, BitShift's direction).</summary>
    public Binary(BinaryKind kind, Func<Node, double, double, double> evalF, Func<Node, long, long, long> evalI, Func<Node, EmitContext, DType, string, string, string> emit)
    {
        _kind = kind; _evalF = evalF; _evalI = evalI; _emit = emit;
    }

    public override bool ElementwiseInPlace => true;

    /// <summary>For fused elementwise chains: the row's kind and emitted expression for a node.</summary>
    internal BinaryKind RowKind => _kind;
    internal string Expr(Node n, EmitContext e, DType t, string a, string b) => _emit(n, e, t, a, b);

    public override void Infer(Node n)
    {
        Require(n, 2, 2);
        var a = n.In(0); var b = n.In(1);
        if (n.OpType == "PRelu" && n.Opset < 7 && b.Shape.Length == 1 && a.Shape.Length >= 2 && b.Length == a.Shape[1] && b.Length > 1)
        {
            // before opset 7 a 1-D slope is per channel (axis 1), not numpy-broadcast from the last axis
            if (!b.IsConst) throw Unsupported("PRelu (opset < 7) with a per-channel slope computed at run time");
            var shape = new int[a.Shape.Length - 1];
            for (int i = 0; i < shape.Length; i++) shape[i] = i == 0 ? b.Length : 1;
            b = new Value(b.Name) { Type = b.Type, Shape = shape, Const = b.Const.Reshape(shape) };
            n.Inputs[1] = b;
        }
        bool pow = n.OpType == "Pow";
        if (!pow && a.Type != b.Type) throw Error($"{n.OpType} inputs have different element types ({DTypes.OnnxName(a.Type)}, {DTypes.OnnxName(b.Type)})");
        if (_kind == BinaryKind.Logical && a.Type != DType.Bool) throw Error($"{n.OpType} takes bool inputs");
        if (_kind == BinaryKind.Arithmetic && a.Type == DType.Bool) throw new CompileException(Diag.UnsupportedType, $"{n.OpType} on bool is not defined");
        if (_evalI == null && !DTypes.IsFloat(a.Type) && _kind == BinaryKind.Arithmetic) RequireFloat(n, a);
        if (_evalF == null && DTypes.IsFloat(a.Type)) throw new CompileException(Diag.UnsupportedType, $"{n.OpType} on {DTypes.OnnxName(a.Type)} is not defined");
        SetOut(n, 0, _kind == BinaryKind.Arithmetic ? a.Type : DType.Bool, IR.Shape.Broadcast(a.Shape, b.Shape));
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var a = inputs[0]; var b = inputs[1];
        var o = n.Out();
        var r = new TensorData(o.Type, o.Shape);
        bool floats = DTypes.IsFloat(a.Type) || n.OpType == "Pow" && DTypes.IsFloat(b.Type);
        if (!floats && _evalI == null) return null;
        Broadcast.ForEach(o.Shape, new[] { a.Shape, b.Shape }, (i, idx) =>
        {
            if (floats)
            {
                double x = a.GetDouble(idx[0]), y = b.GetDouble(idx[1]);
                if (a.Type == DType.Float && _kind == BinaryKind.Arithmetic) r.Set(i, (float)_evalF(n, (float)x, (float)y));
                else r.Set(i, _evalF(n, x, y));
            }
            else r.SetLong(i, _evalI(n, a.L[idx[0]], b.L[idx[1]]));
        });
        return new[] { r };
    }

    public override void Emit(Node n, EmitContext e)
    {
        if (n.Int("mg_blocked", 0) != 0)
        {
            // a squeeze-excite gate on a channel-blocked tensor (Passes.ChannelBlocking)
            if (!e.Net) throw Error($"{n.OpType} on channel blocks is a Net-profile node (ChannelBlocking runs for Net only)");
            int d = (int)n.Int("mg_blocked_data", 0);
            var y = n.Out();
            e.W.Line($"ModelGen.Runtime.ConvBlocked.ScaleChannels({e.Span(n.In(d))}, {e.Span(n.In(1 - d))}, {e.Span(y)}, batch: {y.Shape[0]}, channels: {y.Shape[1]}, plane: {y.Shape[2] * y.Shape[3]});");
            return;
        }
        if (SimdElementwise.TryBinary(e, n.OpType, n.In(0), n.In(1), n.Out())) return;
        var t = n.In(0).Type;
        Broadcast.Emit(e, n.Out(), new[] { n.In(0), n.In(1) }, a => _emit(n, e, t, a[0], a[1]));
    }
}
