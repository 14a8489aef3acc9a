using Google.Protobuf;
using ModelGen.Compiler;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Onnx.Proto;
using Xunit;

namespace ModelGen.Tests;

/// <summary>
/// Tensor-manipulation and reduction operators against ONNX Runtime. Every model runs twice: as built (the operator
/// is emitted as code) and with its graph inputs turned into initializers (the operator is folded at build time by
/// its reference Evaluate), so both the emitter and the evaluator meet the oracle.
/// </summary>
public class TensorOperatorTests
{
    // ---------- helpers ----------

    static OnnxBuilder B(int opset = 13) => new(opset);

    /// <summary>Runs the model against ORT as built, then folded (inputs as initializers).</summary>
    static void Check(OnnxBuilder b, params Array[] inputs) => Check(b, 1e-5, inputs);

    static void Check(OnnxBuilder b, double tol, params Array[] inputs)
    {
        OpCheck.AgainstOrt(b.Build(), tol, inputs);
        var folded = Folded(b.Proto, inputs);
        OpCheck.AgainstOrt(folded, tol);
        // folded all the way: no layer survives
        var src = Generate(folded).Source!;
        Assert.Contains("//   total: 0 layers,", src);
    }

    /// <summary>A copy of the model whose graph inputs are initializers holding <paramref name="inputs"/>.</summary>
    static byte[] Folded(ModelProto m, Array[] inputs)
    {
        var c = m.Clone();
        var ins = c.Graph.Input.ToList();
        c.Graph.Input.Clear();
        for (int i = 0; i < ins.Count; i++)
        {
            var tt = ins[i].Type.TensorType;
            c.Graph.Initializer.Add(Tensor(ins[i].Name, (DType)tt.ElemType, tt.Shape.Dim.Select(d => (int)d.DimValue).ToArray(), inputs[i]));
        }
        return c.ToByteArray();
    }

    static CompileResult Generate(byte[] model, TargetProfile target = TargetProfile.Net)
        => ModelCompiler.Compile(model, "m.onnx", new ModelOptions { Target = target, ClassName = "M" });

    /// <summary>A tensor of any element type from an array of its C# type.</summary>
    internal static TensorProto Tensor(string name, DType type, int[] shape, Array data)
    {
        var t = new TensorProto { Name = name, DataType = (int)type };
        t.Dims.AddRange(shape.Select(d => (long)d));
        switch (data)
        {
            case float[] f: t.FloatData.AddRange(f); break;
            case double[] d: t.DoubleData.AddRange(d); break;
            case long[] l: t.Int64Data.AddRange(l); break;
            case int[] i: t.Int32Data.AddRange(i); break;
            case bool[] b: t.Int32Data.AddRange(b.Select(x => x ? 1 : 0)); break;
            case sbyte[] sb: t.Int32Data.AddRange(sb.Select(x => (int)x)); break;
            case byte[] ub: t.Int32Data.AddRange(ub.Select(x => (int)x)); break;
            default: throw new ArgumentException("unsupported data " + data.GetType());
        }
        return t;
    }

    static OnnxBuilder Init(OnnxBuilder b, string name, DType type, int[] shape, Array data)
    {
        b.Proto.Graph.Initializer.Add(Tensor(name, type, shape, data));
        return b;
    }

    static long[] Longs(int n, int seed, int lo = -1000, int hi = 1000)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (long)rng.Next(lo, hi)).ToArray();
    }

    static int[] Ints(int n, int seed, int lo = -1000, int hi = 1000) => Longs(n, seed, lo, hi).Select(x => (int)x).ToArray();
    static float[] R(int n, int seed = 1, float scale = 1f) => Ort.Random(n, seed, scale);
    static double[] D(int n, int seed) => R(n, seed).Select(x => (double)x * 3.7).ToArray();
    static bool[] Bools(int n, int seed) { var r = new Random(seed); return Enumerable.Range(0, n).Select(_ => r.Next(2) == 1).ToArray(); }

    static void AssertDiag(byte[] model, Diag kind, string fragment)
    {
        var r = Generate(model);
        Assert.False(r.Success);
        Assert.Contains(r.Diagnostics, d => d.Kind == kind && d.Message.Contains(fragment));
    }

    // ---------- Reduce (priority: Mean, Max, Sum) ----------

    [Fact]
    public void ReduceMeanAttributeAxes()
    {
        Check(B(13).Input("x", DType.Float, 2, 3, 4).Node("ReduceMean", new[] { "x" }, new[] { "y" }, ("axes", new long[] { -1 })).Output("y"), R(24));
        Check(B(11).Input("x", DType.Float, 2, 3, 4).Node("ReduceMean", new[] { "x" }, new[] { "y" }, ("axes", new long[] { 0, 2 }), ("keepdims", 0L)).Output("y"), R(24));
        Check(B(13).Input("x", DType.Float, 2, 3, 4).Node("ReduceMean", new[] { "x" }, new[] { "y" }, ("keepdims", 0L)).Output("y"), R(24));
        Check(B(13).Input("x", DType.Float, 3, 5, 2).Node("ReduceMean", new[] { "x" }, new[] { "y" }, ("axes", new long[] { 1 })).Output("y"), R(30));
    }

    [Fact]
    public void ReduceMeanLastAxisIsATightLoop()
    {
        var b = B(13).Input("x", DType.Float, 8, 200).Node("ReduceMean", new[] { "x" }, new[] { "y" }, ("axes", new long[] { 1 })).Output("y");
        Check(b, 1e-5, R(1600, 3, 4f));
        var src = Generate(b.Build()).Source!;
        // one accumulator, one inner loop over 200 contiguous elements
        Assert.Contains("< 200; r", src);
        Assert.Contains("/ 200f", src);
    }

    [Fact]
    public void ReduceMeanOpset18AxesInput()
    {
        Check(B(18).Input("x", DType.Float, 2, 3, 4).Initializer("a", new[] { 2 }, new long[] { 0, -1 })
            .Node("ReduceMean", new[] { "x", "a" }, new[] { "y" }).Output("y"), R(24));
        Check(B(18).Input("x", DType.Float, 2, 3, 4).Node("ReduceMean", new[] { "x" }, new[] { "y" }, ("keepdims", 0L)).Output("y"), R(24));
        // no axes + noop_with_empty_axes: identity
        Check(B(18).Input("x", DType.Float, 2, 3, 4).Node("ReduceMean", new[] { "x" }, new[] { "y" }, ("noop_with_empty_axes", 1L)).Output("y"), R(24));
        // empty axes tensor behaves as omitted
        Check(B(18).Input("x", DType.Float, 2, 3).Initializer("a", new[] { 0 }, Array.Empty<long>())
            .Node("ReduceMean", new[] { "x", "a" }, new[] { "y" }).Output("y"), R(6));
    }

    [Fact]
    public void ReduceSumAxesMoveToInputInOpset13()
    {
        Check(B(11).Input("x", DType.Float, 2, 3, 4).Node("ReduceSum", new[] { "x" }, new[] { "y" }, ("axes", new long[] { 1 })).Output("y"), R(24));
        Check(B(13).Input("x", DType.Float, 2, 3, 4).Initializer("a", new[] { 1 }, new long[] { 1 })
            .Node("ReduceSum", new[] { "x", "a" }, new[] { "y" }, ("keepdims", 0L)).Output("y"), R(24));
        Check(B(13).Input("x", DType.Float, 2, 3, 4).Node("ReduceSum", new[] { "x" }, new[] { "y" }).Output("y"), R(24));
        Check(B(13).Input("x", DType.Float, 2, 3).Node("ReduceSum", new[] { "x" }, new[] { "y" }, ("noop_with_empty_axes", 1L)).Output("y"), R(6));
        Check(B(13).Input("x", DType.Int64, 2, 3, 4).Initializer("a", new[] { 2 }, new long[] { 0, 2 })
            .Node("ReduceSum", new[] { "x", "a" }, new[] { "y" }).Output("y", DType.Int64), Longs(24, 5, -1_000_000_000, 1_000_000_000));
        Check(B(13).Input("x", DType.Int32, 4, 5).Initializer("a", new[] { 1 }, new long[] { -1 })
            .Node("ReduceSum", new[] { "x", "a" }, new[] { "y" }, ("keepdims", 0L)).Output("y", DType.Int32), Ints(20, 6));
    }

    [Fact]
    public void ReduceSumWithRuntimeAxesIsADynamicShape()
    {
        var m = B(13).Input("x", DType.Float, 2, 3).Input("a", DType.Int64, 1)
            .Node("ReduceSum", new[] { "x", "a" }, new[] { "y" }).Output("y").Build();
        AssertDiag(m, Diag.DynamicShape, "axes");
    }

    [Fact]
    public void ReduceMaxAndMin()
    {
        foreach (var op in new[] { "ReduceMax", "ReduceMin" })
        {
            Check(B(13).Input("x", DType.Float, 3, 4, 5).Node(op, new[] { "x" }, new[] { "y" }, ("axes", new long[] { 0, 2 })).Output("y"), R(60, 2));
            Check(B(18).Input("x", DType.Float, 3, 4, 5).Initializer("a", new[] { 1 }, new long[] { 1 })
                .Node(op, new[] { "x", "a" }, new[] { "y" }, ("keepdims", 0L)).Output("y"), R(60, 3));
            Check(B(13).Input("x", DType.Int64, 3, 4).Node(op, new[] { "x" }, new[] { "y" }, ("axes", new long[] { 1 })).Output("y", DType.Int64), Longs(12, 4));
            Check(B(13).Input("x", DType.Int32, 3, 4).Node(op, new[] { "x" }, new[] { "y" }).Output("y", DType.Int32), Ints(12, 5));
            Check(B(18).Input("x", DType.Double, 3, 4).Node(op, new[] { "x" }, new[] { "y" }, ("keepdims", 0L)).Output("y", DType.Double), D(12, 5));
        }
    }

    [Fact]
    public void ReduceMaxMinOnBoolFromOpset20()
    {
        foreach (var op in new[] { "ReduceMax", "ReduceMin" })
            Check(B(20).Input("x", DType.Bool, 4, 3).Initializer("a", new[] { 1 }, new long[] { 1 })
                .Node(op, new[] { "x", "a" }, new[] { "y" }).Output("y", DType.Bool), Bools(12, 7));
    }

    [Fact]
    public void OtherReductions()
    {
        foreach (var op in new[] { "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare" })
        {
            // positive inputs so LogSum is defined
            var x = R(24, 8).Select(v => op == "ReduceLogSum" ? Math.Abs(v) + 0.1f : v * 2).ToArray();
            Check(B(13).Input("x", DType.Float, 2, 3, 4).Node(op, new[] { "x" }, new[] { "y" }, ("axes", new long[] { 1 })).Output("y"), 1e-5, x);
            Check(B(11).Input("x", DType.Float, 2, 3, 4).Node(op, new[] { "x" }, new[] { "y" }, ("axes", new long[] { 0, 2 }), ("keepdims", 0L)).Output("y"), 1e-5, x);
            Check(B(18).Input("x", DType.Float, 2, 3, 4).Initializer("a", new[] { 1 }, new long[] { -1 })
                .Node(op, new[] { "x", "a" }, new[] { "y" }, ("keepdims", 0L)).Output("y"), 1e-5, x);
            Check(B(18).Input("x", DType.Float, 2, 3, 4).Node(op, new[] { "x" }, new[] { "y" }).Output("y"), 1e-4, x);
        }
    }

    [Fact]
    public void IntegerReductions()
    {
        Check(B(13).Input("x", DType.Int64, 3, 4).Node("ReduceProd", new[] { "x" }, new[] { "y" }, ("axes", new long[] { 1 })).Output("y", DType.Int64), Longs(12, 9, -20, 20));
        Check(B(13).Input("x", DType.Int64, 3, 4).Node("ReduceL1", new[] { "x" }, new[] { "y" }, ("axes", new long[] { 0 })).Output("y", DType.Int64), Longs(12, 10));
        Check(B(13).Input("x", DType.Int32, 3, 4).Node("ReduceSumSquare", new[] { "x" }, new[] { "y" }, ("axes", new long[] { 1 })).Output("y", DType.Int32), Ints(12, 11));
        Check(B(13).Input("x", DType.Int32, 3, 4).Node("ReduceMean", new[] { "x" }, new[] { "y" }, ("axes", new long[] { 1 })).Output("y", DType.Int32), Ints(12, 12));
    }

    [Fact]
    public void ReduceLogSumExpIsStableForLargeInputs()
    {
        var x = R(12, 13, 200f);
        Check(B(13).Input("x", DType.Float, 3, 4).Node("ReduceLogSumExp", new[] { "x" }, new[] { "y" }, ("axes", new long[] { 1 })).Output("y"), 1e-5, x);
    }

    [Fact]
    public void ReductionsOverNaNAndInfinity()
    {
        // ONNX Runtime: Max/Min start from the first element, so only a leading NaN survives; ArgMax likewise
        var x = new[] { float.NaN, 1f, 2f, 1f, float.NaN, 2f, float.NaN, float.NaN, float.NaN, 3f, -1f, float.NaN };
        foreach (var op in new[] { "ReduceMax", "ReduceMin" })
            Check(B(18).Input("x", DType.Float, 4, 3).Initializer("a", new[] { 1 }, new long[] { 1 }).Node(op, new[] { "x", "a" }, new[] { "y" }).Output("y"), x);
        foreach (var op in new[] { "ArgMax", "ArgMin" })
            Check(B(13).Input("x", DType.Float, 4, 3).Node(op, new[] { "x" }, new[] { "y" }, ("axis", 1L)).Output("y", DType.Int64), x);
        // LogSumExp of infinities (clipped after: OpCheck cannot compare infinities; a NaN would still differ)
        Check(Clipped(B(13).Input("x", DType.Float, 3, 2).Node("ReduceLogSumExp", new[] { "x" }, new[] { "r" }, ("axes", new long[] { 1 }))),
            new[] { float.NegativeInfinity, float.NegativeInfinity, float.PositiveInfinity, 1f, -3f, float.NegativeInfinity });
    }

    /// <summary>Clips 'r' into [-1e6, 1e6] as output 'y', so infinite results can be compared.</summary>
    static OnnxBuilder Clipped(OnnxBuilder b)
        => b.Initializer("lo", Array.Empty<int>(), new[] { -1e6f }).Initializer("hi", Array.Empty<int>(), new[] { 1e6f })
            .Node("Clip", new[] { "r", "lo", "hi" }, new[] { "y" }).Output("y");

    [Fact]
    public void ReductionsOfAnEmptySet()
    {
        // the empty tensor comes from a slice (ModelGen inputs cannot have a 0 dimension)
        // (ReduceMean of nothing is 0/0, which ONNX leaves undefined)
        foreach (var op in new[] { "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSumExp" })
        {
            Check(Clipped(SliceModel(18, new[] { 2, 3, 3 }, new long[] { 1 }, new long[] { 1 }, new long[] { 1 }, null, DType.Float, "e0")
                .Initializer("a", new[] { 1 }, new long[] { 1 }).Node(op, new[] { "e0", "a" }, new[] { "r" })), R(18));
        }
    }

    [Fact]
    public void ReduceSmallIntegerTypes()
    {
        var x = new sbyte[] { 1, -5, 7, 3, -128, 127, 0, 2 };
        Check(B(18).Input("x", DType.Int8, 2, 4).Node("ReduceMax", new[] { "x" }, new[] { "y" }, ("keepdims", 0L)).Output("y", DType.Int8), x);
        Check(B(18).Input("x", DType.Int8, 2, 4).Initializer("a", new[] { 1 }, new long[] { 0 })
            .Node("ReduceMin", new[] { "x", "a" }, new[] { "y" }).Output("y", DType.Int8), x);
    }

    [Fact]
    public void ArgMaxArgMin()
    {
        // few distinct values so ties happen
        var x = Ints(60, 14, 0, 4).Select(v => (float)v).ToArray();
        foreach (var op in new[] { "ArgMax", "ArgMin" })
        {
            Check(B(13).Input("x", DType.Float, 3, 4, 5).Node(op, new[] { "x" }, new[] { "y" }, ("axis", 1L)).Output("y", DType.Int64), x);
            Check(B(13).Input("x", DType.Float, 3, 4, 5).Node(op, new[] { "x" }, new[] { "y" }, ("axis", -1L), ("keepdims", 0L)).Output("y", DType.Int64), x);
            Check(B(12).Input("x", DType.Float, 3, 4, 5).Node(op, new[] { "x" }, new[] { "y" }, ("axis", 0L), ("select_last_index", 1L)).Output("y", DType.Int64), x);
            Check(B(11).Input("x", DType.Float, 3, 4, 5).Node(op, new[] { "x" }, new[] { "y" }).Output("y", DType.Int64), R(60, 15));
            Check(B(13).Input("x", DType.Int64, 6, 5).Node(op, new[] { "x" }, new[] { "y" }, ("axis", 1L), ("select_last_index", 1L)).Output("y", DType.Int64), Longs(30, 16, 0, 3));
            Check(B(13).Input("x", DType.Int32, 6, 5).Node(op, new[] { "x" }, new[] { "y" }, ("axis", 0L)).Output("y", DType.Int64), Ints(30, 17));
            Check(B(13).Input("x", DType.Float, 3, 1, 2).Node(op, new[] { "x" }, new[] { "y" }, ("axis", 1L)).Output("y", DType.Int64), R(6, 18));
        }
    }

    // ---------- variadic ----------

    [Fact]
    public void VariadicFloat()
    {
        foreach (var op in new[] { "Max", "Min", "Sum", "Mean" })
        {
            Check(B(13).Input("a", DType.Float, 2, 3).Node(op, new[] { "a" }, new[] { "y" }).Output("y"), R(6, 1));
            Check(B(13).Input("a", DType.Float, 2, 3).Input("b", DType.Float, 3).Node(op, new[] { "a", "b" }, new[] { "y" }).Output("y"), R(6, 2), R(3, 3));
            Check(B(8).Input("a", DType.Float, 2, 1, 4).Input("b", DType.Float, 3, 1).Input("c", DType.Float, 1)
                .Node(op, new[] { "a", "b", "c" }, new[] { "y" }).Output("y"), R(8, 4), R(3, 5), R(1, 6));
            if (op != "Mean") // ONNX Runtime has no double Mean kernel
                Check(B(13).Input("a", DType.Double, 4).Input("b", DType.Double, 4).Input("c", DType.Double, 4).Input("d", DType.Double, 4)
                .Node(op, new[] { "a", "b", "c", "d" }, new[] { "y" }).Output("y", DType.Double), D(4, 7), D(4, 8), D(4, 9), D(4, 10));
        }
    }

    [Fact]
    public void VariadicMaxMinIntegers()
    {
        foreach (var op in new[] { "Max", "Min" })
        {
            Check(B(13).Input("a", DType.Int64, 2, 3).Input("b", DType.Int64, 3).Input("c", DType.Int64, 2, 1)
                .Node(op, new[] { "a", "b", "c" }, new[] { "y" }).Output("y", DType.Int64), Longs(6, 1), Longs(3, 2), Longs(2, 3));
            Check(B(12).Input("a", DType.Int32, 5).Input("b", DType.Int32, 5).Node(op, new[] { "a", "b" }, new[] { "y" }).Output("y", DType.Int32), Ints(5, 4), Ints(5, 5));
        }
    }

    // ---------- Transpose ----------

    [Fact]
    public void TransposeDefaultAndPerm()
    {
        Check(B(13).Input("x", DType.Float, 2, 3, 4).Node("Transpose", new[] { "x" }, new[] { "y" }).Output("y"), R(24));
        Check(B(13).Input("x", DType.Float, 2, 3, 4, 5).Node("Transpose", new[] { "x" }, new[] { "y" }, ("perm", new long[] { 0, 2, 3, 1 })).Output("y"), R(120));
        Check(B(13).Input("x", DType.Float, 2, 3, 4, 5).Node("Transpose", new[] { "x" }, new[] { "y" }, ("perm", new long[] { 1, 0, 2, 3 })).Output("y"), R(120));
        Check(B(21).Input("x", DType.Int64, 3, 5).Node("Transpose", new[] { "x" }, new[] { "y" }, ("perm", new long[] { 1, 0 })).Output("y", DType.Int64), Longs(15, 3));
        Check(B(13).Input("x", DType.Bool, 2, 1, 3).Node("Transpose", new[] { "x" }, new[] { "y" }, ("perm", new long[] { 2, 0, 1 })).Output("y", DType.Bool), Bools(6, 4));
    }

    [Fact]
    public void TransposeKeepingInnerDimsCopiesBlocks()
    {
        var b = B(13).Input("x", DType.Float, 4, 3, 16).Node("Transpose", new[] { "x" }, new[] { "y" }, ("perm", new long[] { 1, 0, 2 })).Output("y");
        Check(b, R(192));
        Assert.Contains(".CopyTo(", Generate(b.Build()).Source!);
        Assert.Contains("Array.Copy(", Generate(b.Build(), TargetProfile.Portable).Source!);
    }

    // ---------- Concat ----------

    [Fact]
    public void ConcatWithAnEmptyInput()
    {
        Check(SliceModel(13, new[] { 2, 3 }, new long[] { 2 }, new long[] { 2 }, new long[] { 1 }, null, DType.Float, "e0").Input("c", DType.Float, 2, 1)
            .Node("Concat", new[] { "x", "e0", "c" }, new[] { "y" }, ("axis", 1L)).Output("y"), R(6, 1), R(2, 2));
    }

    [Fact]
    public void ConcatAxes()
    {
        Check(B(13).Input("a", DType.Float, 2, 3, 4).Input("b", DType.Float, 2, 2, 4)
            .Node("Concat", new[] { "a", "b" }, new[] { "y" }, ("axis", 1L)).Output("y"), R(24, 1), R(16, 2));
        Check(B(11).Input("a", DType.Float, 2, 3, 4).Input("b", DType.Float, 2, 3, 1).Initializer("c", new[] { 2, 3, 2 }, R(12, 9))
            .Node("Concat", new[] { "a", "b", "c" }, new[] { "y" }, ("axis", -1L)).Output("y"), R(24, 3), R(6, 4));
        Check(B(13).Input("a", DType.Float, 1, 16).Input("b", DType.Float, 3, 16)
            .Node("Concat", new[] { "a", "b" }, new[] { "y" }, ("axis", 0L)).Output("y"), R(16, 5), R(48, 6));
        Check(B(13).Input("a", DType.Int64, 3).Input("b", DType.Int64, 1)
            .Node("Concat", new[] { "a", "b" }, new[] { "y" }, ("axis", 0L)).Output("y", DType.Int64), Longs(3, 7), Longs(1, 8));
        Check(B(7).Input("a", DType.Float, 2, 2).Node("Concat", new[] { "a" }, new[] { "y" }, ("axis", 1L)).Output("y"), R(4, 9));
    }

    // ---------- Gather ----------

    [Fact]
    public void GatherRuntimeIndices()
    {
        // embedding lookup: runtime int64 indices, negative ones included
        Check(B(13).Input("w", DType.Float, 10, 8).Input("i", DType.Int64, 2, 3)
            .Node("Gather", new[] { "w", "i" }, new[] { "y" }).Output("y"), R(80), new long[] { 0, 9, -1, 3, -10, 4 });
        Check(B(11).Input("x", DType.Float, 3, 5, 2).Input("i", DType.Int32, 4)
            .Node("Gather", new[] { "x", "i" }, new[] { "y" }, ("axis", 1L)).Output("y"), R(30), new[] { 4, -5, 2, 2 });
        // constant table, run-time ids
        Check(B(13).Initializer("w", new[] { 7, 9 }, R(63, 5)).Input("i", DType.Int64, 5)
            .Node("Gather", new[] { "w", "i" }, new[] { "y" }).Output("y"), new long[] { 6, 0, -7, 3, 3 });
        Check(B(13).Input("x", DType.Int64, 4, 3).Input("i", DType.Int64)
            .Node("Gather", new[] { "x", "i" }, new[] { "y" }, ("axis", -1L)).Output("y", DType.Int64), Longs(12, 4), new long[] { -2 });
    }

    [Fact]
    public void GatherConstantIndices()
    {
        Check(Init(B(13).Input("x", DType.Float, 3, 4, 5), "i", DType.Int64, new int[0], new long[] { 2 })
            .Node("Gather", new[] { "x", "i" }, new[] { "y" }, ("axis", 1L)).Output("y"), R(60));
        Check(B(13).Input("x", DType.Float, 3, 4, 5).Initializer("i", new[] { 3 }, new long[] { -1, 0, 2 })
            .Node("Gather", new[] { "x", "i" }, new[] { "y" }, ("axis", 2L)).Output("y"), R(60));
        Check(B(13).Input("x", DType.Float, 6, 4).Initializer("i", new[] { 2, 2 }, new long[] { 1, 2, 3, 4 })
            .Node("Gather", new[] { "x", "i" }, new[] { "y" }).Output("y"), R(24));
        Check(Init(B(13).Input("x", DType.Float, 6, 4), "i", DType.Int32, new[] { 3 }, new[] { 5, 3, 1 })
            .Node("Gather", new[] { "x", "i" }, new[] { "y" }).Output("y"), R(24));
    }

    [Fact]
    public void GatherConstantIndexOutOfRangeIsAnError()
    {
        var m = B(13).Input("x", DType.Float, 3, 4).Initializer("i", new[] { 1 }, new long[] { 3 })
            .Node("Gather", new[] { "x", "i" }, new[] { "y" }).Output("y").Build();
        AssertDiag(m, Diag.InvalidModel, "out of range");
    }

    // ---------- Slice ----------

    [Fact]
    public void SliceOpset1Attributes()
    {
        Check(B(7).Input("x", DType.Float, 4, 6).Node("Slice", new[] { "x" }, new[] { "y" }, ("starts", new long[] { 1, -4 }), ("ends", new long[] { 3, 1000 })).Output("y"), R(24));
        Check(B(9).Input("x", DType.Float, 4, 6, 2).Node("Slice", new[] { "x" }, new[] { "y" }, ("axes", new long[] { 1 }), ("starts", new long[] { 2 }), ("ends", new long[] { -1 })).Output("y"), R(48));
    }

    static OnnxBuilder SliceModel(int opset, int[] shape, long[] starts, long[] ends, long[]? axes, long[]? steps, DType type = DType.Float, string? output = "y")
    {
        var b = B(opset).Input("x", type, shape)
            .Initializer("s", new[] { starts.Length }, starts).Initializer("e", new[] { ends.Length }, ends);
        var ins = new List<string> { "x", "s", "e" };
        if (axes != null) { b.Initializer("a", new[] { axes.Length }, axes); ins.Add("a"); }
        else if (steps != null) ins.Add("");
        if (steps != null) { b.Initializer("p", new[] { steps.Length }, steps); ins.Add("p"); }
        b.Node("Slice", ins.ToArray(), new[] { output ?? "y" });
        return output == "y" ? b.Output("y", type) : b;
    }

    [Fact]
    public void SliceInputs()
    {
        int[] s = { 5, 6, 7 };
        var x = R(210);
        Check(SliceModel(10, s, new long[] { 1, 2 }, new long[] { 4, 6 }, null, null), x);
        Check(SliceModel(13, s, new long[] { 0 }, new long[] { long.MaxValue }, new long[] { -1 }, new long[] { 2 }), x);
        Check(SliceModel(13, s, new long[] { -1 }, new long[] { long.MinValue }, new long[] { 1 }, new long[] { -1 }), x);
        Check(SliceModel(13, s, new long[] { 10, -100 }, new long[] { -100, 100 }, new long[] { 2, 0 }, new long[] { -2, 3 }), x);
        Check(SliceModel(13, s, new long[] { 1, 0 }, new long[] { 3, 7 }, new long[] { 0, 2 }, new long[] { 1, 1 }), x);
        Check(SliceModel(11, s, new long[] { 2 }, new long[] { 2 }, new long[] { 1 }, null), x); // empty result
        Check(SliceModel(13, s, new long[] { 4, -3 }, new long[] { 0, -100 }, null, new long[] { -3, -1 }), x);
        Check(SliceModel(13, new[] { 8 }, new long[] { 1 }, new long[] { -1 }, null, null, DType.Int64), Longs(8, 3));
    }

    [Fact]
    public void SliceWithRuntimeStartsIsADynamicShape()
    {
        var m = B(13).Input("x", DType.Float, 4).Input("s", DType.Int64, 1).Initializer("e", new[] { 1 }, new long[] { 3 })
            .Node("Slice", new[] { "x", "s", "e" }, new[] { "y" }).Output("y").Build();
        AssertDiag(m, Diag.DynamicShape, "starts");
    }

    // ---------- Pad ----------

    [Fact]
    public void PadAttributesBeforeOpset11()
    {
        Check(B(7).Input("x", DType.Float, 2, 3).Node("Pad", new[] { "x" }, new[] { "y" }, ("pads", new long[] { 1, 2, 0, 1 }), ("value", 1.5f)).Output("y"), R(6));
        Check(B(10).Input("x", DType.Float, 3, 4).Node("Pad", new[] { "x" }, new[] { "y" }, ("pads", new long[] { 0, 2, 2, 3 }), ("mode", "reflect")).Output("y"), R(12));
        Check(B(10).Input("x", DType.Float, 3, 4).Node("Pad", new[] { "x" }, new[] { "y" }, ("pads", new long[] { 2, 1, 1, 5 }), ("mode", "edge")).Output("y"), R(12));
    }

    static OnnxBuilder PadModel(int opset, int[] shape, long[] pads, string mode, float? value = null, long[]? axes = null, DType type = DType.Float)
    {
        var b = B(opset).Input("x", type, shape).Initializer("p", new[] { pads.Length }, pads);
        var ins = new List<string> { "x", "p" };
        if (value != null) { b.Initializer("v", Array.Empty<int>(), new[] { value.Value }); ins.Add("v"); }
        else if (axes != null) ins.Add("");
        if (axes != null) { b.Initializer("a", new[] { axes.Length }, axes); ins.Add("a"); }
        return b.Node("Pad", ins.ToArray(), new[] { "y" }, ("mode", mode)).Output("y", type);
    }

    [Fact]
    public void PadInputs()
    {
        var x = R(60);
        int[] s = { 3, 4, 5 };
        Check(PadModel(11, s, new long[] { 0, 1, 2, 1, 0, 3 }, "constant", 2.5f), x);
        Check(PadModel(13, s, new long[] { 1, 0, 0, 0, 2, 0 }, "constant"), x);
        Check(PadModel(13, s, new long[] { 0, 2, 3, 0, 3, 4 }, "reflect"), x);
        Check(PadModel(13, s, new long[] { 2, 1, 4, 1, 3, 0 }, "edge"), x);
        // negative pads crop, alone and mixed with padding
        Check(PadModel(13, s, new long[] { -1, 0, -2, 0, 1, -1 }, "constant", -1f), x);
        Check(PadModel(13, s, new long[] { 0, -1, 1, 0, 1, -2 }, "edge"), x);
        Check(PadModel(13, s, new long[] { 0, 0, -1, 0, 0, 2 }, "reflect"), x);
        Check(PadModel(13, new[] { 6 }, new long[] { 2, 3 }, "constant", type: DType.Int64), Longs(6, 2));
    }

    [Fact]
    public void PadRuntimeConstantValue()
    {
        Check(B(13).Input("x", DType.Float, 2, 3).Input("v", DType.Float).Initializer("p", new[] { 4 }, new long[] { 1, 1, 1, 1 })
            .Node("Pad", new[] { "x", "p", "v" }, new[] { "y" }).Output("y"), R(6), new[] { 7.25f });
    }

    [Fact]
    public void PadAxesOpset18AndWrapOpset19()
    {
        var x = R(60);
        int[] s = { 3, 4, 5 };
        Check(PadModel(18, s, new long[] { 1, 2, 0, 3 }, "constant", 0.5f, new long[] { -1, 0 }), x);
        Check(PadModel(18, s, new long[] { 2, 1 }, "reflect", axes: new long[] { 1 }), x);
        Check(PadModel(19, s, new long[] { 0, 2, 3, 1, 4, 2 }, "wrap"), x);
        Check(PadModel(19, s, new long[] { 1, 3 }, "wrap", axes: new long[] { 2 }), x);
    }

    // ---------- folding of exporters' shape arithmetic ----------

    [Fact]
    public void ShapeArithmeticFoldsToAPlainReshape()
    {
        var b = B(13).Input("x", DType.Float, 2, 3, 4)
            .Node("Shape", new[] { "x" }, new[] { "s" })
            .Initializer("zero", Array.Empty<int>(), new long[] { 0 })
            .Node("Gather", new[] { "s", "zero" }, new[] { "d0" }, ("axis", 0L))
            .Initializer("ax", new[] { 1 }, new long[] { 0 })
            .Node("Unsqueeze", new[] { "d0", "ax" }, new[] { "d0u" })
            .Initializer("rest", new[] { 1 }, new long[] { -1 })
            .Node("Concat", new[] { "d0u", "rest" }, new[] { "shape" }, ("axis", 0L))
            .Node("Reshape", new[] { "x", "shape" }, new[] { "y" })
            .Output("y");
        OpCheck.AgainstOrt(b.Build(), R(24));
        var src = Generate(b.Build()).Source!;
        Assert.Contains("Reshape", src);
        Assert.DoesNotContain("Gather", src);
        Assert.DoesNotContain("Concat", src);
        Assert.DoesNotContain("Unsqueeze", src);
    }

    // ---------- Split ----------

    [Fact]
    public void SplitVariants()
    {
        var x = R(60);
        Check(B(11).Input("x", DType.Float, 6, 10).Node("Split", new[] { "x" }, new[] { "a", "b", "c" }).Output("a").Output("b").Output("c"), x);
        Check(B(11).Input("x", DType.Float, 6, 10).Node("Split", new[] { "x" }, new[] { "a", "b" }, ("axis", -1L), ("split", new long[] { 3, 7 })).Output("a").Output("b"), x);
        Check(B(13).Input("x", DType.Float, 6, 10).Initializer("s", new[] { 3 }, new long[] { 1, 4, 5 })
            .Node("Split", new[] { "x", "s" }, new[] { "a", "b", "c" }, ("axis", 1L)).Output("a").Output("b").Output("c"), x);
        Check(B(13).Input("x", DType.Float, 6, 10).Node("Split", new[] { "x" }, new[] { "a", "b" }).Output("a").Output("b"), x);
        Check(B(18).Input("x", DType.Float, 6, 10).Node("Split", new[] { "x" }, new[] { "a", "b", "c" }, ("axis", 1L), ("num_outputs", 3L)).Output("a").Output("b").Output("c"), x);
        Check(B(18).Input("x", DType.Int64, 7).Node("Split", new[] { "x" }, new[] { "a", "b" }, ("num_outputs", 2L)).Output("a", DType.Int64).Output("b", DType.Int64), Longs(7, 1));
    }

    // ---------- Expand, Tile, Where ----------

    [Fact]
    public void ExpandBroadcasts()
    {
        Check(B(13).Input("x", DType.Float, 3, 1).Initializer("s", new[] { 3 }, new long[] { 2, 1, 6 })
            .Node("Expand", new[] { "x", "s" }, new[] { "y" }).Output("y"), R(3));
        Check(B(8).Input("x", DType.Float, 1, 16).Initializer("s", new[] { 2 }, new long[] { 4, 1 })
            .Node("Expand", new[] { "x", "s" }, new[] { "y" }).Output("y"), R(16));
        Check(B(13).Input("x", DType.Int64, 2, 1, 3).Initializer("s", new[] { 1 }, new long[] { 1 })
            .Node("Expand", new[] { "x", "s" }, new[] { "y" }).Output("y", DType.Int64), Longs(6, 2));
        Check(B(13).Input("x", DType.Bool, 3).Initializer("s", new[] { 2 }, new long[] { 2, 3 })
            .Node("Expand", new[] { "x", "s" }, new[] { "y" }).Output("y", DType.Bool), Bools(3, 3));
    }

    [Fact]
    public void TileRepeats()
    {
        Check(B(13).Input("x", DType.Float, 2, 3).Initializer("r", new[] { 2 }, new long[] { 2, 3 })
            .Node("Tile", new[] { "x", "r" }, new[] { "y" }).Output("y"), R(6));
        Check(B(13).Input("x", DType.Float, 2, 1, 12).Initializer("r", new[] { 3 }, new long[] { 1, 4, 2 })
            .Node("Tile", new[] { "x", "r" }, new[] { "y" }).Output("y"), R(24));
        Check(B(6).Input("x", DType.Int64, 3).Initializer("r", new[] { 1 }, new long[] { 3 })
            .Node("Tile", new[] { "x", "r" }, new[] { "y" }).Output("y", DType.Int64), Longs(3, 4));
    }

    [Fact]
    public void ShapeInputsMustBeKnownAtBuildTime()
    {
        AssertDiag(B(13).Input("x", DType.Float, 3).Input("s", DType.Int64, 2).Node("Expand", new[] { "x", "s" }, new[] { "y" }).Output("y").Build(), Diag.DynamicShape, "shape");
        AssertDiag(B(13).Input("x", DType.Float, 3).Input("r", DType.Int64, 1).Node("Tile", new[] { "x", "r" }, new[] { "y" }).Output("y").Build(), Diag.DynamicShape, "repeats");
        AssertDiag(B(13).Input("x", DType.Float, 3).Input("p", DType.Int64, 2).Node("Pad", new[] { "x", "p" }, new[] { "y" }).Output("y").Build(), Diag.DynamicShape, "pads");
        AssertDiag(B(13).Input("s", DType.Int64, 2).Node("ConstantOfShape", new[] { "s" }, new[] { "y" }).Output("y").Build(), Diag.DynamicShape, "shape");
        AssertDiag(B(13).Input("x", DType.Float, 6).Input("s", DType.Int64, 2).Node("Split", new[] { "x", "s" }, new[] { "a", "b" }).Output("a").Output("b").Build(), Diag.DynamicShape, "split");
    }

    [Fact]
    public void TileWithZeroRepeatsAndExpandOfZero()
    {
        Check(B(13).Input("x", DType.Float, 2, 3).Input("z", DType.Float, 2)
            .Initializer("r", new[] { 2 }, new long[] { 0, 2 }).Node("Tile", new[] { "x", "r" }, new[] { "t" })
            .Node("Shape", new[] { "t" }, new[] { "ts" }).Node("Cast", new[] { "ts" }, new[] { "tf" }, ("to", 1L))
            .Node("Add", new[] { "tf", "z" }, new[] { "y" }).Output("y"), R(6), R(2, 2));
    }

    [Fact]
    public void WhereSelects()
    {
        Check(B(16).Input("c", DType.Bool, 2, 1, 4).Input("a", DType.Float, 3, 1).Input("b", DType.Float, 4)
            .Node("Where", new[] { "c", "a", "b" }, new[] { "y" }).Output("y"), Bools(8, 1), R(3, 2), R(4, 3));
        Check(B(9).Input("c", DType.Bool, 6).Input("a", DType.Int64, 6).Input("b", DType.Int64, 1)
            .Node("Where", new[] { "c", "a", "b" }, new[] { "y" }).Output("y", DType.Int64), Bools(6, 4), Longs(6, 5), Longs(1, 6));
    }

    // ---------- ConstantOfShape, Range ----------

    [Fact]
    public void ConstantOfShapeFills()
    {
        Check(B(13).Input("x", DType.Float, 2, 3).Node("Shape", new[] { "x" }, new[] { "s" })
            .Node("ConstantOfShape", new[] { "s" }, new[] { "z" })
            .Node("Add", new[] { "x", "z" }, new[] { "y" }).Output("y"), R(6));
        Check(B(13).Input("x", DType.Int64, 2, 3).Node("Shape", new[] { "x" }, new[] { "s" })
            .Node("ConstantOfShape", new[] { "s" }, new[] { "z" }, ("value", OnnxBuilder.Tensor("v", new[] { 1 }, new long[] { -7 })))
            .Node("Add", new[] { "x", "z" }, new[] { "y" }).Output("y", DType.Int64), Longs(6, 1));
        Check(B(9).Input("x", DType.Float, 3).Initializer("s", new[] { 2 }, new long[] { 4, 3 })
            .Node("ConstantOfShape", new[] { "s" }, new[] { "z" }, ("value", OnnxBuilder.Tensor("v", new[] { 1 }, new[] { 0.25f })))
            .Node("Add", new[] { "z", "x" }, new[] { "y" }).Output("y"), R(3));
    }

    [Fact]
    public void RangeValues()
    {
        Check(Init(Init(Init(B(11).Input("x", DType.Float, 5), "s", DType.Float, new int[0], new[] { 0.5f }), "l", DType.Float, new int[0], new[] { 3f }), "d", DType.Float, new int[0], new[] { 0.5f })
            .Node("Range", new[] { "s", "l", "d" }, new[] { "r" }).Node("Add", new[] { "x", "r" }, new[] { "y" }).Output("y"), R(5));
        Check(Init(Init(Init(B(11).Input("x", DType.Int64, 4), "s", DType.Int64, new int[0], new long[] { 10 }), "l", DType.Int64, new int[0], new long[] { -2 }), "d", DType.Int64, new int[0], new long[] { -3 })
            .Node("Range", new[] { "s", "l", "d" }, new[] { "r" }).Node("Add", new[] { "x", "r" }, new[] { "y" }).Output("y", DType.Int64), Longs(4, 1));
        Check(Init(Init(Init(B(11).Input("x", DType.Int32, 3), "s", DType.Int32, new int[0], new[] { 1 }), "l", DType.Int32, new int[0], new[] { 8 }), "d", DType.Int32, new int[0], new[] { 3 })
            .Node("Range", new[] { "s", "l", "d" }, new[] { "r" }).Node("Add", new[] { "x", "r" }, new[] { "y" }).Output("y", DType.Int32), Ints(3, 1));
    }

    [Fact]
    public void RangeWithRuntimeLimitIsADynamicShape()
    {
        var b = Init(Init(B(11).Input("l", DType.Int64), "s", DType.Int64, new int[0], new long[] { 0 }), "d", DType.Int64, new int[0], new long[] { 1 })
            .Node("Range", new[] { "s", "l", "d" }, new[] { "r" }).Output("r", DType.Int64);
        AssertDiag(b.Build(), Diag.DynamicShape, "limit");
    }
}
