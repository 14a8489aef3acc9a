using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Operators;
using ModelGen.Runtime;
using Xunit;

namespace ModelGen.Tests;

/// <summary>
/// The generator plans each QConvInt8 node's scratch by a copy of the runtime's formula for the kernel it calls
/// (<see cref="QConvInt8.NetKernel"/>). Too little and the kernel's size check throws in the user's Predict; too much
/// and the arena grows for nothing. The model tests cover a few dozen geometries; this holds the two formulas to each
/// other over many, each kernel and layout included.
/// </summary>
public class QConvScratchTests
{
    [Fact]
    public void GeneratorScratchIsWhatTheRuntimeKernelAsksFor()
    {
        var r = new Random(2026);
        var seen = new Dictionary<string, int>();
        for (int i = 0; i < 3000; i++)
        {
            // the kinds of layer the generator routes differently: depthwise, 1x1 (small planes to QPointwise), grouped,
            // one input channel per group, small output planes (QConvRows), strided 1x1 (subsampled), 1-D
            int kind = r.Next(6);
            int c = 1 + r.Next(kind == 0 ? 96 : 70), groups = kind == 0 ? c : 1;
            int m = kind == 0 ? c : 1 + r.Next(80);
            if (kind == 2) { groups = new[] { 2, 3, 4 }[r.Next(3)]; c = groups * (1 + r.Next(12)); m = groups * (1 + r.Next(12)); }
            if (kind == 3) { c = 1; groups = 1; }
            bool oneD = r.Next(8) == 0;
            int kh = oneD ? 1 : kind == 1 ? 1 : 1 + r.Next(7), kw = kind == 1 ? 1 : 1 + r.Next(7);
            int h = oneD ? 1 : kh + r.Next(kind == 4 ? 8 : 60), w = kw + r.Next(kind == 4 ? 8 : 60);
            int sh = oneD ? 1 : 1 + r.Next(3), sw = 1 + r.Next(3), dh = oneD || kind == 1 ? 1 : 1 + r.Next(2), dw = kind == 1 ? 1 : 1 + r.Next(2);
            if (kind == 1 && r.Next(2) == 0) sh = sw = 1;
            int pt = kind == 1 ? 0 : r.Next(kh), pl = kind == 1 ? 0 : r.Next(kw), pb = kind == 1 ? 0 : r.Next(kh), pr = kind == 1 ? 0 : r.Next(kw);
            int oh = (h + pt + pb - dh * (kh - 1) - 1) / sh + 1, ow = (w + pl + pr - dw * (kw - 1) - 1) / sw + 1;
            if (h + pt + pb < dh * (kh - 1) + 1 || w + pl + pr < dw * (kw - 1) + 1) continue;
            // inside an int8 chain depthwise and 1x1 stride-1 layers read or write channels last
            bool chain = (kind == 0 || kind == 1 && sh == 1 && sw == 1) && r.Next(3) == 0;
            bool nhwcIn = chain && r.Next(2) == 0, nhwcOut = chain && !nhwcIn || chain && r.Next(2) == 0;
            var n = Node(oneD, 1 + r.Next(2), c, m, h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, groups, nhwcIn, nhwcOut);
            var (kernel, scratch) = QConvInt8.NetKernel(n);
            string what = $"{kernel} c {c} m {m} groups {groups} {h}x{w} k {kh}x{kw} s {sh},{sw} d {dh},{dw} pads {pt},{pl},{pb},{pr} -> {oh}x{ow} nhwc {nhwcIn}/{nhwcOut}";
            long want = kernel switch
            {
                "QConvRows.Run" => QConvRows.Scratch(c, h, w, kh, kw, oh, ow),
                "QPointwise.Run" => QPointwise.Scratch(c, oh * ow),
                "QConv.Depthwise2D" => QConv.DepthwiseScratch(kh, kw, oh, ow, sh, sw, dh, dw),
                "QConv.Conv2D" => QConv.Conv2DScratch(c, m, kh, kw, oh, ow, sh, sw, dh, dw, groups),
                _ => throw new InvalidOperationException("no Net kernel: " + what),
            };
            Assert.True(want == scratch, $"{what}: generator plans {scratch} int16, the runtime asks for {want}");
            seen[kernel] = seen.GetValueOrDefault(kernel) + 1;
        }
        // every kernel met often enough to mean something
        Assert.All(new[] { "QConvRows.Run", "QPointwise.Run", "QConv.Depthwise2D", "QConv.Conv2D" }, k => Assert.True(seen.GetValueOrDefault(k) >= 50, $"{k}: {seen.GetValueOrDefault(k)} cases"));
    }

    /// <summary>A QConvInt8 node (int8 in and out, random weights) with its shapes inferred, as the lowering leaves it.</summary>
    static Node Node(bool oneD, int batch, int c, int m, int h, int w, int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl, int pb, int pr, int groups,
        bool nhwcIn, bool nhwcOut)
    {
        var r = new Random(c * 131 + m);
        int icg = c / groups;
        int[] spatial = oneD ? new[] { w } : new[] { h, w }, kernel = oneD ? new[] { kw } : new[] { kh, kw };
        var weights = new TensorData(DType.Int8, new[] { m, icg }.Concat(kernel).ToArray(), l: Enumerable.Range(0, m * icg * kh * kw).Select(_ => (long)r.Next(-128, 128)).ToArray());
        Value Int32s(string name) => new(name) { Type = DType.Int32, Shape = new[] { m }, Const = new TensorData(DType.Int32, new[] { m }, l: new long[m]) };
        var n = new Node { OpType = QConvInt8.OpType, Domain = FusedElementwise.Domain, Name = "conv" };
        n.Inputs.Add(new Value("x") { Type = DType.Int8, Shape = new[] { batch, c }.Concat(spatial).ToArray() });
        n.Inputs.Add(new Value("w") { Type = DType.Int8, Shape = weights.Shape, Const = weights });
        n.Inputs.Add(Int32s("bias")); n.Inputs.Add(Int32s("multiplier")); n.Inputs.Add(Int32s("shift"));
        n.Outputs.Add(new Value("y"));
        void Ints(string name, params int[] v) => n.Attributes[name] = new ModelGen.Compiler.IR.Attribute { Name = name, Type = AttrType.Ints, Ints = v.Select(x => (long)x).ToArray() };
        void Int(string name, long v) => n.Attributes[name] = new ModelGen.Compiler.IR.Attribute { Name = name, Type = AttrType.Int, I = v };
        Ints("strides", oneD ? new[] { sw } : new[] { sh, sw });
        Ints("dilations", oneD ? new[] { dw } : new[] { dh, dw });
        Ints("pads", oneD ? new[] { pl, pr } : new[] { pt, pl, pb, pr });
        Int("group", groups); Int("qmin", -128); Int("qmax", 127);
        if (nhwcIn) Int("mg_nhwc_in", 1);
        if (nhwcOut) Int("mg_nhwc_out", 1);
        new QConvInt8().Infer(n);
        return n;
    }
}
