using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// Data movement that is a reshape then a transpose (DepthToSpace, SpaceToDepth): one loop nest over the
/// permuted view, reading the input by strides. Also the reference evaluation of the same.
/// </summary>
public static class Permute
{
    public static void Emit(EmitContext e, Value x, Value y, int[] viewShape, int[] perm)
    {
        var st = Shape.Strides(viewShape);
        var outView = new int[perm.Length];
        var inStrides = new int[perm.Length];
        for (int i = 0; i < perm.Length; i++) { outView[i] = viewShape[perm[i]]; inStrides[i] = st[perm[i]]; }
        var vars = Loops.Open(e, outView);
        e.W.Line($"{e.At(y, Loops.Flat(vars, Shape.Strides(outView)))} = {e.At(x, Loops.Flat(vars, inStrides))};");
        Loops.Close(e, outView);
    }

    public static TensorData Eval(TensorData x, int[] outShape, int[] viewShape, int[] perm)
    {
        var st = Shape.Strides(viewShape);
        var outView = new int[perm.Length];
        var inStrides = new int[perm.Length];
        for (int i = 0; i < perm.Length; i++) { outView[i] = viewShape[perm[i]]; inStrides[i] = st[perm[i]]; }
        var r = new TensorData(x.Type, outShape);
        Broadcast.ForEach(outView, new[] { outView }, (o, _) =>
        {
            int rem = o, src = 0;
            for (int d = outView.Length - 1; d >= 0; d--) { src += rem % outView[d] * inStrides[d]; rem /= outView[d]; }
            r.CopyElement(o, x, src);
        });
        return r;
    }
}

/// <summary>DepthToSpace (DCR and CRD modes) and SpaceToDepth on NCHW tensors.</summary>
public sealed class DepthSpace : Operator
{
    readonly bool _toSpace;
    public DepthSpace(bool toSpace) { _toSpace = toSpace; }

    sealed class Plan { public int[] View, Perm; }

    public override void Infer(Node n)
    {
        Require(n, 1, 1);
        var x = n.In(0);
        if (x.Shape.Length != 4) throw Error($"{n.OpType} takes a 4-D NCHW input, got {Shape.Format(x.Shape)}");
        int b = (int)n.Int("blocksize", 0);
        if (b <= 0) throw Error($"{n.OpType} needs a positive blocksize");
        int N = x.Shape[0], C = x.Shape[1], H = x.Shape[2], W = x.Shape[3];
        var p = new Plan();
        if (_toSpace)
        {
            if (C % (b * b) != 0) throw Error($"DepthToSpace: channels {C} not divisible by blocksize^2 {b * b}");
            bool crd = n.Str("mode", "DCR") == "CRD";
            if (!crd && n.Str("mode", "DCR") != "DCR") throw Unsupported($"DepthToSpace mode '{n.Str("mode", "")}'");
            p.View = crd ? new[] { N, C / (b * b), b, b, H, W } : new[] { N, b, b, C / (b * b), H, W };
            p.Perm = crd ? new[] { 0, 1, 4, 2, 5, 3 } : new[] { 0, 3, 4, 1, 5, 2 };
            SetOut(n, 0, x.Type, new[] { N, C / (b * b), H * b, W * b });
        }
        else
        {
            if (H % b != 0 || W % b != 0) throw Error($"SpaceToDepth: spatial size {H}x{W} not divisible by blocksize {b}");
            p.View = new[] { N, C, H / b, b, W / b, b };
            p.Perm = new[] { 0, 3, 5, 1, 2, 4 };
            SetOut(n, 0, x.Type, new[] { N, C * b * b, H / b, W / b });
        }
        n.State = p;
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var p = (Plan)n.State;
        return new[] { Permute.Eval(inputs[0], n.Out().Shape, p.View, p.Perm) };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var p = (Plan)n.State;
        Permute.Emit(e, n.In(0), n.Out(), p.View, p.Perm);
    }
}
