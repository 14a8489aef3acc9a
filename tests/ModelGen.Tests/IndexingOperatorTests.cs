using ModelGen.Compiler.IR;
using Xunit;

namespace ModelGen.Tests;

/// <summary>Indexing, scatter/gather, ordering and misc. operators against ONNX Runtime, both profiles.</summary>
public class IndexingOperatorTests
{
    static float[] R(int n, int seed) => Ort.Random(n, seed, 3f);

    [Theory]
    [InlineData("DCR")]
    [InlineData("CRD")]
    public void DepthToSpaceAndBack(string mode)
    {
        var m = new OnnxBuilder(13).Input("x", DType.Float, 2, 8, 3, 2)
            .Node("DepthToSpace", new[] { "x" }, new[] { "y" }, ("blocksize", 2L), ("mode", mode))
            .Node("SpaceToDepth", new[] { "y" }, new[] { "z" }, ("blocksize", 2L))
            .Output("y").Output("z").Build();
        OpCheck.AgainstOrt(m, 0, R(96, 1));
    }

    [Theory]
    [InlineData(1L, 0L)]
    [InlineData(0L, -1L)]
    [InlineData(1L, 2L)]
    public void Trilu(long upper, long k)
    {
        var m = new OnnxBuilder(14).Input("x", DType.Float, 2, 4, 5).Initializer("k", new int[0], new[] { k })
            .Node("Trilu", new[] { "x", "k" }, new[] { "y" }, ("upper", upper)).Output("y").Build();
        OpCheck.AgainstOrt(m, 0, R(40, 2));
    }

    [Fact]
    public void EyeLikeFoldsFromShape()
    {
        var m = new OnnxBuilder(13).Input("x", DType.Float, 3, 5)
            .Node("EyeLike", new[] { "x" }, new[] { "e" }, ("k", 1L))
            .Node("Add", new[] { "x", "e" }, new[] { "y" }).Output("y").Build();
        OpCheck.AgainstOrt(m, 0, R(15, 3));
    }

    [Theory]
    [InlineData(-1L)]
    [InlineData(0L)]
    [InlineData(1L)]
    public void OneHot(long axis)
    {
        var m = new OnnxBuilder(11).Input("i", DType.Int64, 2, 3)
            .Initializer("d", new int[0], new[] { 5L }).Initializer("v", new[] { 2 }, new[] { -1f, 4f })
            .Node("OneHot", new[] { "i", "d", "v" }, new[] { "y" }, ("axis", axis)).Output("y").Build();
        OpCheck.AgainstOrt(m, 0, new long[] { 0, 4, -1, 2, 7, -5 });
    }

    [Theory]
    [InlineData(0L, 0L, 1L)]
    [InlineData(1L, 0L, 1L)]
    [InlineData(0L, 1L, -1L)]
    [InlineData(1L, 1L, 0L)]
    public void CumSum(long exclusive, long reverse, long axis)
    {
        var m = new OnnxBuilder(14).Input("x", DType.Float, 3, 4).Initializer("a", new int[0], new[] { axis })
            .Node("CumSum", new[] { "x", "a" }, new[] { "y" }, ("exclusive", exclusive), ("reverse", reverse)).Output("y").Build();
        OpCheck.AgainstOrt(m, 1e-6, R(12, 4));
    }

    [Fact]
    public void GatherAndScatterElements()
    {
        var m = new OnnxBuilder(18).Input("x", DType.Float, 3, 4).Input("i", DType.Int64, 3, 2).Input("u", DType.Float, 3, 2)
            .Node("GatherElements", new[] { "x", "i" }, new[] { "g" }, ("axis", 1L))
            .Node("ScatterElements", new[] { "x", "i", "u" }, new[] { "s" }, ("axis", 1L))
            .Node("ScatterElements", new[] { "x", "i", "u" }, new[] { "a" }, ("axis", 1L), ("reduction", "add"))
            .Output("g").Output("s").Output("a").Build();
        OpCheck.AgainstOrt(m, 1e-6, R(12, 5), new long[] { 0, 3, -1, 1, 2, 0 }, R(6, 6));
    }

    [Fact]
    public void GatherNDWithBatchDimsAndScatterND()
    {
        var g = new OnnxBuilder(13).Input("x", DType.Float, 2, 3, 4).Input("i", DType.Int64, 2, 2, 1)
            .Node("GatherND", new[] { "x", "i" }, new[] { "y" }, ("batch_dims", 1L)).Output("y").Build();
        OpCheck.AgainstOrt(g, 0, R(24, 7), new long[] { 2, 0, -1, 1 });
        var s = new OnnxBuilder(18).Input("x", DType.Float, 4, 3).Input("i", DType.Int64, 2, 1).Input("u", DType.Float, 2, 3)
            .Node("ScatterND", new[] { "x", "i", "u" }, new[] { "y" }).Node("ScatterND", new[] { "x", "i", "u" }, new[] { "z" }, ("reduction", "mul"))
            .Output("y").Output("z").Build();
        OpCheck.AgainstOrt(s, 1e-6, R(12, 8), new long[] { 3, 1 }, R(6, 9));
    }

    [Theory]
    [InlineData(1L, -1L)]
    [InlineData(0L, 0L)]
    public void TopKWithTies(long largest, long axis)
    {
        var m = new OnnxBuilder(11).Input("x", DType.Float, 3, 6).Initializer("k", new[] { 1 }, new[] { 3L })
            .Node("TopK", new[] { "x", "k" }, new[] { "v", "i" }, ("largest", largest), ("axis", axis))
            .Output("v").Output("i", DType.Int64).Build();
        var x = new float[] { 1, 3, 3, 2, 5, 5, 0, -1, 4, 4, 4, 2, 9, 8, 7, 7, 1, 1 };
        OpCheck.AgainstOrt(m, 0, x);
    }

    [Fact]
    public void CompressWithConstantCondition()
    {
        var b = new OnnxBuilder(11).Input("x", DType.Float, 3, 4);
        var cond = new ModelGen.Compiler.Onnx.Proto.TensorProto { Name = "c", DataType = (int)DType.Bool, Dims = { 4 }, Int32Data = { 1, 0, 1, 1 } };
        b.Proto.Graph.Initializer.Add(cond);
        var m = b.Node("Compress", new[] { "x", "c" }, new[] { "y" }, ("axis", 1L)).Output("y").Build();
        OpCheck.AgainstOrt(m, 0, R(12, 10));
    }

    [Fact]
    public void MeanVarianceNormalizationAndLrn()
    {
        var m = new OnnxBuilder(13).Input("x", DType.Float, 2, 5, 3, 3)
            .Node("MeanVarianceNormalization", new[] { "x" }, new[] { "y" })
            .Node("LRN", new[] { "x" }, new[] { "z" }, ("size", 3L), ("alpha", 0.01f), ("beta", 0.6f), ("bias", 1.5f))
            .Output("y").Output("z").Build();
        OpCheck.AgainstOrt(m, 1e-4, R(90, 11));
    }

    [Theory]
    [InlineData("ij,jk->ik", new[] { 3, 4 }, new[] { 4, 5 })]
    [InlineData("bij,bjk->bik", new[] { 2, 3, 4 }, new[] { 2, 4, 2 })]
    [InlineData("ii->i", new[] { 4, 4 }, null)]
    [InlineData("ij->", new[] { 3, 4 }, null)]
    [InlineData("...ij,...jk", new[] { 2, 3, 4 }, new[] { 2, 4, 5 })]
    [InlineData("i,j->ij", new[] { 3 }, new[] { 4 })]
    public void Einsum(string eq, int[] a, int[]? b)
    {
        var builder = new OnnxBuilder(12).Input("a", DType.Float, a);
        var inputs = new List<Array> { R(a.Aggregate(1, (x, y) => x * y), 12) };
        var names = new List<string> { "a" };
        if (b != null) { builder.Input("b", DType.Float, b); inputs.Add(R(b.Aggregate(1, (x, y) => x * y), 13)); names.Add("b"); }
        var m = builder.Node("Einsum", names.ToArray(), new[] { "y" }, ("equation", eq)).Output("y").Build();
        OpCheck.AgainstOrt(m, 1e-5, inputs.ToArray());
    }
}
