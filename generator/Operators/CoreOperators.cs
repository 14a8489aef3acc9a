using System.Collections.Generic;

namespace ModelGen.Compiler.Operators;

public static partial class OperatorRegistry
{
    static partial void RegisterCore(Dictionary<string, Operator> t)
    {
        t[":Identity"] = new Identity();
        t[":Dropout"] = new Dropout();
        t[":Reshape"] = new Reshape();
        t[":Flatten"] = new Flatten();
        t[":Squeeze"] = new Squeeze();
        t[":Unsqueeze"] = new Unsqueeze();
        t[":Constant"] = new Constant();
        t[":Shape"] = new ShapeOf();
        t[":Size"] = new SizeOf();
        t[":Cast"] = new Cast();
        t[":CastLike"] = new Cast();
        t[":Clip"] = new Clip();
        t[":If"] = new If();
        t[":Gemm"] = new Gemm();
    }
}
