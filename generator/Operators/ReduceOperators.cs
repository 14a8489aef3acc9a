using System.Collections.Generic;

namespace ModelGen.Compiler.Operators;

public static partial class OperatorRegistry
{
    static partial void RegisterReduce(Dictionary<string, Operator> t)
    {
        t[":ReduceSum"] = new Reduce(ReduceKind.Sum);
        t[":ReduceMean"] = new Reduce(ReduceKind.Mean);
        t[":ReduceMax"] = new Reduce(ReduceKind.Max);
        t[":ReduceMin"] = new Reduce(ReduceKind.Min);
        t[":ReduceProd"] = new Reduce(ReduceKind.Prod);
        t[":ReduceL1"] = new Reduce(ReduceKind.L1);
        t[":ReduceL2"] = new Reduce(ReduceKind.L2);
        t[":ReduceLogSum"] = new Reduce(ReduceKind.LogSum);
        t[":ReduceLogSumExp"] = new Reduce(ReduceKind.LogSumExp);
        t[":ReduceSumSquare"] = new Reduce(ReduceKind.SumSquare);
        t[":ArgMax"] = new ArgMinMax(max: true);
        t[":ArgMin"] = new ArgMinMax(max: false);
    }
}
