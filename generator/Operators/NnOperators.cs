using System.Collections.Generic;

namespace ModelGen.Compiler.Operators;

public static partial class OperatorRegistry
{
    static partial void RegisterNn(Dictionary<string, Operator> t)
    {
        t[":Conv"] = new Conv();
        t[":MaxPool"] = new Pool(PoolKind.Max);
        t[":AveragePool"] = new Pool(PoolKind.Average);
        t[":LpPool"] = new Pool(PoolKind.Lp);
        t[":GlobalMaxPool"] = new GlobalPool(PoolKind.Max);
        t[":GlobalAveragePool"] = new GlobalPool(PoolKind.Average);
        t[":GlobalLpPool"] = new GlobalPool(PoolKind.Lp);
        t[":BatchNormalization"] = new BatchNormalization();
        t[":InstanceNormalization"] = new InstanceNormalization();
        t[":LayerNormalization"] = new LayerNormalization();
        t[":GroupNormalization"] = new GroupNormalization();
        t[":RMSNormalization"] = new RmsNormalization();
        t[":RotaryEmbedding"] = new RotaryEmbedding();
        t[":Attention"] = new Attention();
        t[":MatMul"] = new MatMul();
        t[":Softmax"] = new Softmax(SoftmaxKind.Softmax);
        t[":LogSoftmax"] = new Softmax(SoftmaxKind.LogSoftmax);
        t[":Hardmax"] = new Softmax(SoftmaxKind.Hardmax);
    }
}
