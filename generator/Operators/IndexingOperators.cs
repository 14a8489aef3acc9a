using System.Collections.Generic;

namespace ModelGen.Compiler.Operators;

public static partial class OperatorRegistry
{
    static partial void RegisterIndexing(Dictionary<string, Operator> t)
    {
        t[":DepthToSpace"] = new DepthSpace(toSpace: true);
        t[":SpaceToDepth"] = new DepthSpace(toSpace: false);
        t[":Trilu"] = new Trilu();
        t[":EyeLike"] = new EyeLike();
        t[":OneHot"] = new OneHot();
        t[":CumSum"] = new CumSum();
        t[":GatherElements"] = new ElementsIndexing(scatter: false);
        t[":ScatterElements"] = new ElementsIndexing(scatter: true);
        t[":Scatter"] = new ElementsIndexing(scatter: true);
        t[":GatherND"] = new NdIndexing(scatter: false);
        t[":ScatterND"] = new NdIndexing(scatter: true);
        t[":TopK"] = new TopK();
        t[":NonZero"] = new NonZero();
        t[":Unique"] = new Unique();
        t[":Compress"] = new Compress();
        t[":MeanVarianceNormalization"] = new MeanVarianceNormalization();
        t[":LRN"] = new Lrn();
        t[":Einsum"] = new Einsum();
    }
}
