using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>Base of operators whose output is input 0's data under a new shape: no code, no copy.</summary>
public abstract class ViewOperator : Operator
{
    public override bool IsView => true;
    public override TensorData[] Evaluate(Node n, TensorData[] inputs) => new[] { inputs[0].Reshape(n.Out().Shape) };
    public override void Emit(Node n, EmitContext e) { }
}

/// <summary>Identity (and the pass-through of optional/sequence-free graphs).</summary>
public sealed class Identity : ViewOperator
{
    public override void Infer(Node n) { Require(n, 1, 1); SetOut(n, 0, n.In(0).Type, n.In(0).Shape); }
}

/// <summary>
/// Dropout in inference, or in training mode with a constant ratio of 0 (torchvision's Swin exports its attention
/// dropout so): the input unchanged; the optional mask is all true.
/// </summary>
public sealed class Dropout : ViewOperator
{
    public override void Infer(Node n)
    {
        Require(n, 1, 3);
        bool training = n.Opset >= 12 && n.In(2) != null && !(n.In(2).IsConst && n.In(2).Const.GetDouble(0) == 0);
        bool keepsAll = n.In(1) != null && n.In(1).IsConst && n.In(1).Length > 0 && n.In(1).Const.GetDouble(0) == 0;
        if (training && !keepsAll)
            throw Unsupported("Dropout with training_mode set (and a ratio that is not a constant 0) is not an inference graph");
        SetOut(n, 0, n.In(0).Type, n.In(0).Shape);
        if (n.Outputs.Count > 1) SetOut(n, 1, n.Opset >= 10 ? DType.Bool : n.In(0).Type, n.In(0).Shape);
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var r = new List<TensorData> { inputs[0].Reshape(n.Out().Shape) };
        if (n.Outputs.Count > 1)
        {
            var mask = new TensorData(n.Out(1).Type, n.Out(1).Shape);
            for (int i = 0; i < mask.Length; i++) mask.Set(i, 1);
            r.Add(mask);
        }
        return r.ToArray();
    }

    public override void Emit(Node n, EmitContext e)
    {
        var m = n.Out(1);
        var i = e.Var("i");
        e.W.Line($"for (int {i} = 0; {i} < {m.Length}; {i}++) {e.At(m, i)} = {EmitContext.Lit(m.Type, 1)};");
    }
}

/// <summary>Reshape: 0 copies the input dimension (unless allowzero), -1 is inferred.</summary>
public sealed class Reshape : ViewOperator
{
    public override void Infer(Node n)
    {
        int[] target;
        if (n.Opset < 5)
        {
            Require(n, 1, 1);
            target = (n.Ints("shape") ?? throw Error("Reshape-1 needs the 'shape' attribute")).Select(x => (int)x).ToArray();
        }
        else
        {
            Require(n, 2, 2);
            var s = n.In(1);
            if (!s.IsConst) throw new CompileException(Diag.DynamicShape, $"Reshape's target shape '{s.Name}' is computed at run time; ModelGen needs it at build time (fix the input shapes with InputShape so it folds)");
            target = s.Const.ToLongs().Select(x => x < int.MinValue || x > int.MaxValue ? throw Error($"Reshape dimension {x} is out of range") : (int)x).ToArray();
        }
        var x = n.In(0);
        bool allowZero = n.Int("allowzero", 0) != 0;
        var shape = new int[target.Length];
        int infer = -1;
        long known = 1;
        for (int i = 0; i < target.Length; i++)
        {
            int d = target[i];
            if (d == 0 && !allowZero)
            {
                if (i >= x.Shape.Length) throw Error($"Reshape copies dimension {i}, but the input has rank {x.Shape.Length}");
                d = x.Shape[i];
            }
            if (d == -1)
            {
                if (infer >= 0) throw Error("Reshape has more than one -1 dimension");
                infer = i; shape[i] = 1; continue;
            }
            if (d < 0) throw Error($"Reshape dimension {d} is invalid");
            shape[i] = d; known *= d;
        }
        long total = x.Length;
        if (infer >= 0)
        {
            if (known == 0 || total % known != 0) throw Error($"Reshape cannot infer -1: {total} elements into {Shape.Format(target)}");
            shape[infer] = (int)(total / known);
        }
        else if (known != total) throw Error($"Reshape of {Shape.Format(x.Shape)} ({total} elements) to {Shape.Format(shape)} ({known})");
        SetOut(n, 0, x.Type, shape);
    }
}

/// <summary>Flatten to 2-D at 'axis'.</summary>
public sealed class Flatten : ViewOperator
{
    public override void Infer(Node n)
    {
        Require(n, 1, 1);
        var x = n.In(0);
        int r = x.Shape.Length;
        long a = n.Int("axis", 1);
        if (a < -r || a > r) throw Error($"Flatten axis {a} out of range for rank {r}");
        int axis = (int)(a < 0 ? a + r : a);
        int outer = 1, inner = 1;
        for (int i = 0; i < r; i++) if (i < axis) outer *= x.Shape[i]; else inner *= x.Shape[i];
        SetOut(n, 0, x.Type, new[] { outer, inner });
    }
}

/// <summary>Squeeze: axes from the attribute (opset &lt; 13) or the constant second input; all 1-dims when absent.</summary>
public sealed class Squeeze : ViewOperator
{
    public override void Infer(Node n)
    {
        Require(n, 1, 2);
        var x = n.In(0);
        long[] axes = n.Opset >= 13 ? ConstAxes(n, 1) : n.Ints("axes");
        var drop = new bool[x.Shape.Length];
        if (axes == null || axes.Length == 0) { for (int i = 0; i < drop.Length; i++) drop[i] = x.Shape[i] == 1; }
        else foreach (var a in axes)
            {
                int k = Shape.Axis(a, x.Shape.Length);
                if (x.Shape[k] != 1) throw Error($"Squeeze axis {a} has size {x.Shape[k]}, not 1");
                drop[k] = true;
            }
        SetOut(n, 0, x.Type, x.Shape.Where((d, i) => !drop[i]).ToArray());
    }

    internal static long[] ConstAxes(Node n, int input)
    {
        var v = n.In(input);
        if (v == null) return null;
        if (!v.IsConst) throw new CompileException(Diag.DynamicShape, $"{n.OpType}'s axes '{v.Name}' are computed at run time; ModelGen needs them at build time");
        return v.Const.ToLongs();
    }
}

/// <summary>Unsqueeze: inserts 1-dims at the given axes of the output.</summary>
public sealed class Unsqueeze : ViewOperator
{
    public override void Infer(Node n)
    {
        Require(n, 1, 2);
        var x = n.In(0);
        long[] axes = (n.Opset >= 13 ? Squeeze.ConstAxes(n, 1) : n.Ints("axes")) ?? throw Error("Unsqueeze needs axes");
        int rank = x.Shape.Length + axes.Length;
        var ins = new bool[rank];
        foreach (var a in axes)
        {
            int k = Shape.Axis(a, rank);
            if (ins[k]) throw Error($"Unsqueeze axis {a} is repeated");
            ins[k] = true;
        }
        var shape = new int[rank];
        for (int i = 0, j = 0; i < rank; i++) shape[i] = ins[i] ? 1 : x.Shape[j++];
        SetOut(n, 0, x.Type, shape);
    }
}
