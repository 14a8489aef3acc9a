using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>Numpy-style broadcasting: loop emission and build-time evaluation, shared by all elementwise operators.</summary>
public static class Broadcast
{
    /// <summary>
    /// Emits loops writing <paramref name="output"/>[o] = expr(inputs at their broadcast indices).
    /// Adjacent dimensions that are contiguous for every operand are merged, so same-shape operands get one flat loop.
    /// </summary>
    public static void Emit(EmitContext e, Value output, IReadOnlyList<Value> inputs, Func<string[], string> expr)
    {
        var (dims, strides) = Merge(output, inputs);
        var w = e.W;
        var vars = dims.Select(_ => e.Var("i")).ToArray();
        for (int d = 0; d < dims.Count; d++) w.Open($"for (int {vars[d]} = 0; {vars[d]} < {dims[d]}; {vars[d]}++)");
        var outStr = new int[dims.Count];
        for (int d = dims.Count - 1, acc = 1; d >= 0; d--) { outStr[d] = acc; acc *= dims[d]; }
        string Index(IList<int> st) => Idx.Sum(Enumerable.Range(0, dims.Count).Select(d => Idx.Mul(vars[d], st[d])).ToArray());
        var args = inputs.Select((v, k) => e.At(v, Index(strides[k]))).ToArray();
        w.Line($"{e.At(output, Index(outStr))} = {expr(args)};");
        for (int d = 0; d < dims.Count; d++) w.Close();
    }

    /// <summary>
    /// The output's loop nest with adjacent dimensions merged where they are contiguous for every operand (or broadcast
    /// in both): the merged sizes, and per input its element stride along each (0 where it broadcasts).
    /// </summary>
    internal static (List<int> Dims, List<List<int>> Strides) Merge(Value output, IReadOnlyList<Value> inputs)
    {
        var dims = new List<int>();
        var strides = inputs.Select(_ => new List<int>()).ToList();
        var outShape = output.Shape;
        var inStrides = inputs.Select(v => IR.Shape.BroadcastStrides(v.Shape, outShape)).ToArray();
        for (int d = 0; d < outShape.Length; d++)
        {
            if (outShape[d] == 1) continue;
            bool merge = dims.Count > 0;
            for (int k = 0; k < inputs.Count && merge; k++)
            {
                int prev = strides[k][strides[k].Count - 1];
                int cur = inStrides[k][d];
                // merge when the previous dim steps over exactly this dim (contiguous), or both are broadcast
                merge = prev == cur * outShape[d];
            }
            if (merge)
            {
                dims[dims.Count - 1] *= outShape[d];
                for (int k = 0; k < inputs.Count; k++) strides[k][strides[k].Count - 1] = inStrides[k][d];
            }
            else
            {
                dims.Add(outShape[d]);
                for (int k = 0; k < inputs.Count; k++) strides[k].Add(inStrides[k][d]);
            }
        }
        return (dims, strides);
    }

    /// <summary>For each output element (row-major), the flat index of each input under broadcasting.</summary>
    public static void ForEach(int[] outShape, IReadOnlyList<int[]> inShapes, Action<int, int[]> body)
    {
        int rank = outShape.Length;
        int n = IR.Shape.Count(outShape);
        var st = inShapes.Select(s => IR.Shape.BroadcastStrides(s, outShape)).ToArray();
        var idx = new int[inShapes.Count];
        var ctr = new int[rank];
        for (int o = 0; o < n; o++)
        {
            body(o, idx);
            for (int d = rank - 1; d >= 0; d--)
            {
                ctr[d]++;
                for (int k = 0; k < idx.Length; k++) idx[k] += st[k][d];
                if (ctr[d] < outShape[d]) break;
                for (int k = 0; k < idx.Length; k++) idx[k] -= st[k][d] * ctr[d];
                ctr[d] = 0;
            }
        }
    }
}
