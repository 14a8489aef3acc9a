using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using ModelGen.Compiler;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Onnx.Proto;
using Xunit;
using Xunit.Abstractions;

namespace ModelGen.Tests;

/// <summary>
/// The Portable profile (C# 7.3 for .NET nanoFramework): it compiles against nanoFramework's mscorlib alone, it runs
/// on .NET too (so it is checked numerically against ONNX Runtime here), and constants larger than 64 KB are split
/// into array initializers of at most 64 KB (nanoFramework reads an initializer's length as 16 bits).
/// </summary>
public class PortableProfileTests(ITestOutputHelper log)
{
    const int ChunkBytes = 65536;

    /// <summary>Constants past 64 KB in two element types: float weights (80 KB) and an int64 table (72 KB).</summary>
    internal static byte[] BigConstants()
    {
        var table = new TensorProto { Name = "table", DataType = (int)DType.Int64 };
        table.Dims.Add(9000);
        table.Int64Data.AddRange(Enumerable.Range(0, 9000).Select(i => (long)i * 1_000_003 - 4_000_000_000L));
        var b = new OnnxBuilder()
            .Input("x", DType.Float, 1, 128).Input("ids", DType.Int64, 9000)
            .Initializer("w", new[] { 128, 160 }, Ort.Random(128 * 160, 11))
            .Node("Gemm", new[] { "x", "w" }, new[] { "y" })
            .Node("Add", new[] { "ids", "table" }, new[] { "z" })
            .Output("y").Output("z", DType.Int64);
        b.Proto.Graph.Initializer.Add(table);
        return b.Build();
    }

    /// <summary>Every synthetic test model, plus alexa.</summary>
    public static TheoryData<string> AllModels => new() { "tiny_mlp.onnx", "broadcast_if.onnx", "big_constants.onnx", "alexa_v0.1.onnx" };

    static byte[] Bytes(string name) => name switch
    {
        "alexa_v0.1.onnx" => File.ReadAllBytes(Models.Alexa),
        "big_constants.onnx" => BigConstants(),
        _ => TestModels.All().Single(m => m.File == name).Bytes,
    };

    [Theory]
    [MemberData(nameof(AllModels))]
    public void CompilesAgainstNanoFrameworkMscorlibAlone(string name)
    {
        var r = TestModels.Compile(Bytes(name), name, TargetProfile.Portable);
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        var errors = Harness.CompileNano(r.Source!);
        Assert.True(errors.Count == 0, $"{name}: {errors.Count} errors against nanoFramework mscorlib:\n" + string.Join("\n", errors.Take(20)));
        // nothing nanoFramework lacks slipped in as text either
        foreach (var banned in new[] { "Span<", "stackalloc", "MathF.", "System.Math.", "System.Linq", "System.Runtime.Intrinsics", "unsafe " })
            Assert.DoesNotContain(banned, r.Source);
    }

    [Theory]
    [MemberData(nameof(AllModels))]
    public void LargeConstantsAreSplitIntoChunksOfAtMost64KB(string name)
    {
        var r = TestModels.Compile(Bytes(name), name, TargetProfile.Portable);
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        var root = CSharpSyntaxTree.ParseText(r.Source!, new CSharpParseOptions(LanguageVersion.CSharp7_3)).GetRoot();
        long constantBytes = 0;
        int largest = 0, joined = 0;
        foreach (var init in root.DescendantNodes().OfType<InitializerExpressionSyntax>())
        {
            if (init.Parent is not ArrayCreationExpressionSyntax creation || creation.Type.RankSpecifiers.Count != 1) continue;
            var bytes = init.Expressions.Count * ElementSize(creation.Type.ElementType.ToString());
            largest = Math.Max(largest, bytes);
            Assert.True(bytes <= ChunkBytes, $"{name}: an array initializer of {init.Expressions.Count} {creation.Type.ElementType} ({bytes} bytes) exceeds 64 KB at line {init.GetLocation().GetLineSpan().StartLinePosition.Line + 1}");
            if (creation.Ancestors().OfType<FieldDeclarationSyntax>().Any()) constantBytes += bytes;
        }
        // each joined constant: Join<T>(length, new T[][] { chunks }) whose chunks add up to the length
        foreach (var call in root.DescendantNodes().OfType<InvocationExpressionSyntax>().Where(c => c.Expression.ToString().StartsWith("Join")))
        {
            joined++;
            var length = int.Parse(call.ArgumentList.Arguments[0].ToString());
            var chunks = call.ArgumentList.Arguments[1].DescendantNodes().OfType<ArrayCreationExpressionSyntax>().Where(a => a.Type.RankSpecifiers.Count == 1).ToList();
            Assert.True(chunks.Count >= 2, $"{name}: a joined constant has {chunks.Count} chunk(s)");
            Assert.Equal(length, chunks.Sum(c => c.Initializer!.Expressions.Count));
            // all chunks but the last are full
            var size = ElementSize(chunks[0].Type.ElementType.ToString());
            Assert.All(chunks.SkipLast(1), c => Assert.Equal(ChunkBytes / size, c.Initializer!.Expressions.Count));
        }
        log.WriteLine($"{name}: weights {r.WeightBytes} bytes, largest initializer {largest} bytes, {joined} joined constant(s)");
        if (name is "alexa_v0.1.onnx" or "big_constants.onnx")
        {
            Assert.True(r.WeightBytes > ChunkBytes);
            Assert.True(joined >= 1, $"{name} has constants over 64 KB but none was split");
            Assert.True(largest > ChunkBytes / 2);
        }
        Assert.True(constantBytes >= r.WeightBytes, $"{name}: the initializers hold {constantBytes} bytes, the weights are {r.WeightBytes}");
    }

    static int ElementSize(string t) => t switch
    {
        "float" or "int" or "uint" => 4,
        "double" or "long" or "ulong" => 8,
        "short" or "ushort" => 2,
        "byte" or "sbyte" or "bool" => 1,
        _ => throw new ArgumentException("element type " + t),
    };

    [Fact]
    public void BigConstantsComputeTheSameAsOnnxRuntime()
    {
        // both profiles, ORT as the oracle, Portable also compiled against nanoFramework (OpCheck does all three)
        var ids = Enumerable.Range(0, 9000).Select(i => (long)(i * 7919 % 100_000) - 50_000).ToArray();
        OpCheck.AgainstOrt(BigConstants(), 1e-4, Ort.Random(128, 12), ids);
    }

    [Fact]
    public void AlexaPortableMatchesOnnxRuntime()
    {
        var path = Models.Alexa;
        var model = Harness.Build(path, new ModelOptions { Target = TargetProfile.Portable, ClassName = "AlexaPortable" });
        Assert.Contains("Target profile: Portable", model.Source);
        int[] shape = { 1, 16, 96 };
        for (int seed = 0; seed < 4; seed++)
        {
            var x = Ort.Random(16 * 96, 100 + seed, seed < 2 ? 1f : 8f);
            var expected = Ort.Run(path, (x, shape))[0];
            var actual = new float[expected.Length];
            model.Run(x, actual);
            var diff = Ort.RelMaxDiff(actual, expected);
            log.WriteLine($"alexa Portable seed {seed}: expected {expected[0]}, got {actual[0]}, rel max diff {diff:E2}");
            Assert.True(diff <= 1e-4, $"seed {seed}: rel max diff {diff}");
        }
    }

    /// <summary>
    /// double math in the Portable profile (no System.Math there): Floor/Ceil/Round exact in double, Sqrt/Exp/Log/Sin/Cos
    /// through the double helpers, the others through the float helpers (float precision). These did not compile once.
    /// </summary>
    [Theory]
    [InlineData("Floor", 0)] [InlineData("Ceil", 0)] [InlineData("Round", 0)] [InlineData("Sin", 1e-12)] [InlineData("Cos", 1e-12)]
    [InlineData("Sqrt", 1e-12)] [InlineData("Tanh", 1e-6)] [InlineData("Sigmoid", 1e-6)]
    public void DoubleMathCompilesAndComputes(string op, double tolerance)
    {
        var b = new OnnxBuilder(13).Input("x", DType.Double, 7).Output("y", DType.Double);
        b.Node(op, new[] { "x" }, new[] { "y" });
        var x = new double[] { 2.5, 1.2, 0.5, 1.5, 2.7, 3.5, 1e15 + 0.5 };
        if (op is not ("Sqrt")) x = x.Select((v, i) => i % 2 == 1 ? -v : v).ToArray();
        if (op is "Sin" or "Cos" or "Tanh" or "Sigmoid") x[6] = 0.25;
        OpCheck.AgainstOrt(b.Build(), tolerance, x);
    }
}
