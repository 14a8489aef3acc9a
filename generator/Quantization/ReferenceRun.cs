using System;
using System.Collections.Generic;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Operators;

namespace ModelGen.Compiler.Quantization;

/// <summary>
/// Runs a graph on one sample (a value for each of its inputs) with the operators' reference evaluation (the code constant folding uses), and
/// hands every float intermediate to a visitor. This is how calibration observes activations at build time.
/// </summary>
internal static class ReferenceRun
{
    public static void Run(Graph g, IReadOnlyList<Value> inputs, float[][] sample, Action<Value, TensorData> visit)
    {
        var values = new Dictionary<Value, TensorData>();
        for (int i = 0; i < inputs.Count; i++)
        {
            var x = new TensorData(DType.Float, inputs[i].Shape, f: sample[i]);
            values[inputs[i]] = x;
            visit(inputs[i], x);
        }
        RunNodes(g, values, visit);
    }

    /// <summary>Runs the nodes of <paramref name="g"/>; a branch sees the values of the scopes around it.</summary>
    static void RunNodes(Graph g, Dictionary<Value, TensorData> values, Action<Value, TensorData> visit)
    {
        foreach (var n in g.Nodes)
        {
            var op = OperatorRegistry.Find(n.Domain, n.OpType, n.Opset);
            var args = new TensorData[n.Inputs.Count];
            for (int i = 0; i < args.Length; i++)
            {
                var v = n.Inputs[i];
                if (v == null) continue;
                if (v.IsConst) args[i] = v.Const;
                else if (!values.TryGetValue(v, out args[i]))
                    throw new CompileException(Diag.CalibrationError, $"calibration cannot run node {n.Display}: its input '{v.Name}' is not computed");
            }
            TensorData[] outs = n.OpType == "If" && n.Subgraphs.Count == 2 ? RunIf(n, args[0], values, visit)
                : n.Subgraphs.Count == 0 ? op?.Evaluate(n, args) : null;
            if (outs == null)
                throw new CompileException(Diag.CalibrationError, $"calibration cannot run node {n.Display}: {n.OpType} has no build-time reference evaluation in ModelGen; quantize with Quantize=\"Weights\" instead, which needs no calibration");
            for (int i = 0; i < outs.Length; i++)
            {
                values[n.Outputs[i]] = outs[i];
                if (outs[i].Type == DType.Float) visit(n.Outputs[i], outs[i]);
            }
        }
    }

    /// <summary>A run-time If: the branch its condition picks for this sample.</summary>
    static TensorData[] RunIf(Node n, TensorData cond, Dictionary<Value, TensorData> values, Action<Value, TensorData> visit)
    {
        var branch = n.Subgraphs[cond.GetDouble(0) != 0 ? "then_branch" : "else_branch"];
        RunNodes(branch, values, visit);
        var outs = new TensorData[branch.Outputs.Count];
        for (int i = 0; i < outs.Length; i++)
        {
            var v = branch.Outputs[i];
            if (!v.IsConst && !values.ContainsKey(v)) return null;
            outs[i] = v.IsConst ? v.Const : values[v];
        }
        return outs;
    }
}
