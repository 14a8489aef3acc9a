using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// Einsum, any equation (explicit or implicit output, ellipsis, repeated letters = diagonals, broadcasting of size-1
/// dims): loops over the output letters, an accumulator over the summed letters.
/// </summary>
public sealed class Einsum : Operator
{
    sealed class Plan
    {
        public char[] Letters;          // all letters: output first, then summed
        public int OutCount;
        public int[] Size;              // per letter
        public int[][] Strides;         // [input][letter] element stride (0 when absent or broadcast)
    }

    public override void Infer(Node n)
    {
        if (n.Inputs.Count < 1 || n.Inputs.Any(v => v == null)) throw Error("Einsum needs at least one input");
        var eq = (n.Str("equation", null) ?? throw Error("Einsum needs an equation")).Replace(" ", "");
        var t = n.In(0).Type;
        if (t == DType.Bool || n.Inputs.Any(v => v.Type != t)) throw Error("Einsum inputs must share one numeric type");
        var parts = eq.Split(new[] { "->" }, StringSplitOptions.None);
        var ins = parts[0].Split(',');
        if (ins.Length != n.Inputs.Count) throw Error($"Einsum equation '{eq}' names {ins.Length} inputs, the node has {n.Inputs.Count}");
        const string EllipsisLetters = "0123456789";
        int ell = 0;
        var terms = new string[ins.Length];
        for (int k = 0; k < ins.Length; k++)
        {
            var s = ins[k];
            int named = s.Replace("...", "").Length, rank = n.In(k).Shape.Length;
            if (s.Contains("..."))
            {
                int e = rank - named;
                if (e < 0 || e > 10) throw Error($"Einsum term '{s}' does not fit rank {rank}");
                ell = Math.Max(ell, e);
                s = s.Replace("...", EllipsisLetters.Substring(10 - e)); // right-aligned ellipsis dims
            }
            if (s.Length != rank || s.Any(c => !char.IsLetter(c) && !char.IsDigit(c))) throw Error($"Einsum term '{ins[k]}' does not fit input rank {rank}");
            terms[k] = s;
        }
        var ellLetters = EllipsisLetters.Substring(10 - ell);
        string output;
        if (parts.Length > 1)
        {
            output = parts[1].Replace("...", ellLetters);
            if (output.Any(c => !terms.Any(tm => tm.Contains(c)))) throw Error($"Einsum output '{parts[1]}' names a letter no input has");
        }
        else
        {
            var counts = terms.SelectMany(s => s.Where(char.IsLetter)).GroupBy(c => c).Where(g => g.Count() == 1).Select(g => g.Key).OrderBy(c => c);
            output = ellLetters + new string(counts.ToArray());
        }
        var summed = terms.SelectMany(s => s).Distinct().Where(c => !output.Contains(c)).OrderBy(c => c);
        var letters = output.Concat(summed).ToArray();
        var size = new int[letters.Length];
        for (int l = 0; l < letters.Length; l++)
        {
            size[l] = 1;
            for (int k = 0; k < terms.Length; k++)
                for (int d = 0; d < terms[k].Length; d++)
                    if (terms[k][d] == letters[l])
                    {
                        int s = n.In(k).Shape[d];
                        if (s != 1 && size[l] != 1 && s != size[l]) throw Error($"Einsum letter '{letters[l]}' has sizes {size[l]} and {s}");
                        if (s != 1) size[l] = s;
                    }
        }
        var strides = new int[terms.Length][];
        for (int k = 0; k < terms.Length; k++)
        {
            var st = Shape.Strides(n.In(k).Shape);
            strides[k] = new int[letters.Length];
            for (int d = 0; d < terms[k].Length; d++)
            {
                int l = Array.IndexOf(letters, terms[k][d]);
                if (n.In(k).Shape[d] != 1) strides[k][l] += st[d];
            }
        }
        n.State = new Plan { Letters = letters, OutCount = output.Length, Size = size, Strides = strides };
        SetOut(n, 0, t, size.Take(output.Length).ToArray());
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var p = (Plan)n.State;
        var r = new TensorData(n.Out().Type, n.Out().Shape);
        var sumShape = p.Size.Skip(p.OutCount).ToArray();
        int sumCount = Shape.Count(sumShape);
        var outShape = p.Size.Take(p.OutCount).ToArray();
        int outCount = Shape.Count(outShape);
        var coord = new int[p.Letters.Length];
        for (int o = 0; o < outCount; o++)
        {
            double acc = 0;
            for (int s = 0; s < sumCount; s++)
            {
                int rem = o;
                for (int l = p.OutCount - 1; l >= 0; l--) { coord[l] = rem % p.Size[l]; rem /= p.Size[l]; }
                rem = s;
                for (int l = p.Letters.Length - 1; l >= p.OutCount; l--) { coord[l] = rem % p.Size[l]; rem /= p.Size[l]; }
                double prod = 1;
                for (int k = 0; k < inputs.Length; k++)
                {
                    int at = 0;
                    for (int l = 0; l < coord.Length; l++) at += coord[l] * p.Strides[k][l];
                    prod *= inputs[k].GetDouble(at);
                }
                acc += prod;
            }
            r.Set(o, acc);
        }
        return new[] { r };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var p = (Plan)n.State;
        var y = n.Out();
        var w = e.W;
        var outShape = p.Size.Take(p.OutCount).ToArray();
        var sumShape = p.Size.Skip(p.OutCount).ToArray();
        var ov = Loops.Open(e, outShape, "o");
        var acc = e.Var("acc");
        w.Line($"{DTypes.CsName(y.Type)} {acc} = {EmitContext.Lit(y.Type, 0)};");
        var sv = Loops.Open(e, sumShape, "s");
        var all = ov.Concat(sv).ToArray();
        var factors = n.Inputs.Select((v, k) => e.At(v, Loops.Flat(all, p.Strides[k])));
        w.Line($"{acc} += {string.Join(" * ", factors)};");
        Loops.Close(e, sumShape);
        var cast = y.Type is DType.Int8 or DType.UInt8 or DType.Int16 or DType.UInt16 ? $"({DTypes.CsName(y.Type)})" : "";
        w.Line($"{e.At(y, Loops.Flat(ov, Shape.Strides(outShape)))} = {cast}{acc};");
        Loops.Close(e, outShape);
    }
}
