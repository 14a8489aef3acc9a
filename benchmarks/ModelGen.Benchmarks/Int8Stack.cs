using System.Diagnostics;
using Google.Protobuf;
using ModelGen.Compiler;
using ModelGen.Compiler.IR;
using ModelGen.Compiler.Onnx.Proto;
using ModelGen.Compiler.Passes;
using ModelGen.Runtime;

namespace ModelGen.Benchmarks;

/// <summary>
/// `int8`: a QDQ conv stack (ONNX Runtime's QDQ format, deterministic weights and scales: 3x3 32->32, 1x1 32->64,
/// depthwise 3x3 64, 1x1 64->32, Relu after the first three, input 1x32x40x40) three ways: ModelGen int8 (the
/// compiler's own lowering of the QDQ model, run through the QConv kernels the generated code calls, with the weights
/// as the compiler packs them), ModelGen
/// float (Conv.Conv2D on the dequantized weights) and ONNX Runtime on the same QDQ model. Median / best of 15 batches.
/// </summary>
internal static class Int8Stack
{
    record Layer(int InC, int OutC, int K, int Group, bool Relu);

    static readonly Layer[] s_layers = { new(32, 32, 3, 1, true), new(32, 64, 1, 1, true), new(64, 64, 3, 64, true), new(64, 32, 1, 1, false) };
    const int H = 40, W = 40;

    public static void Run()
    {
        var model = Build();
        var x = new float[32 * H * W];
        var r = new Random(1);
        for (int i = 0; i < x.Length; i++) x[i] = (float)(r.NextDouble() * 2 - 1) * 2f;
        var yOrt = new float[32 * H * W];
        using var ort = new OrtOneOp(model, x, new long[] { 1, 32, H, W }, yOrt, new long[] { 1, 32, H, W });

        // the compiler's lowering of the same model
        var g = new ModelGen.Compiler.Onnx.OnnxImporter(new ModelOptions()).Import(model).Graph;
        PassManager.Run(g, new ModelOptions());
        Console.WriteLine("lowered: " + string.Join(",", g.Nodes.Select(n => n.OpType)));
        var convs = g.Nodes.Where(n => n.OpType == "QConvInt8").ToArray();
        var qIn = g.Nodes.First(n => n.OpType == "QuantizeLinear"); var dqOut = g.Nodes.Last(n => n.OpType == "DequantizeLinear");
        float sx = qIn.In(1).Const.F[0]; int zx = (int)qIn.In(2).Const.GetLong(0);
        float sy = dqOut.In(1).Const.F[0]; int zy = (int)dqOut.In(2).Const.GetLong(0);
        var bufs = convs.Select(c => new byte[c.Out().Length]).Prepend(new byte[x.Length]).ToArray();
        bool Dw(Layer L) => L.Group == L.InC && L.OutC == L.InC;
        var scratch = new short[s_layers.Max(L => Dw(L) ? QConv.DepthwiseScratch(L.K, L.K, H, W, 1, 1, 1, 1)
            : QConv.Conv2DScratch(L.InC, L.OutC, L.K, L.K, H, W, 1, 1, 1, 1, L.Group))];
        var yInt = new float[yOrt.Length];
        int[] I32(Value v) => v.Const.L.Select(l => (int)l).ToArray();
        var plan = convs.Select(c => (W: c.In(5).Const.L.Select(l => (sbyte)l).ToArray(), B: I32(c.In(2)), M: I32(c.In(3)), S: I32(c.In(4)), N: c)).ToArray();
        void Int8()
        {
            ModelGen.Runtime.Int8.Quantize(x, sx, zx, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, sbyte>(bufs[0].AsSpan()));
            for (int l = 0; l < plan.Length; l++) Int8Layer(l);
            ModelGen.Runtime.Int8.Dequantize(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, sbyte>(bufs[^1]), sy, zy, yInt);
        }
        void Int8Layer(int l)
        {
            var p = plan[l]; var L = s_layers[l]; int pad = L.K / 2;
            int zx = (int)p.N.Int("x_zero_point", 0), zo = (int)p.N.Int("y_zero_point", 0), lo = (int)p.N.Int("qmin", 0), hi = (int)p.N.Int("qmax", 0);
            if (Dw(L)) QConv.Depthwise2D(bufs[l], p.W, p.B, p.M, p.S, bufs[l + 1], scratch, 1, L.InC, H, W, L.K, L.K, H, W, 1, 1, pad, pad, 1, 1, true, zx, zo, lo, hi);
            else QConv.Conv2D(bufs[l], p.W, p.B, p.M, p.S, bufs[l + 1], scratch, 1, L.InC, H, W, L.OutC, L.K, L.K, H, W, 1, 1, pad, pad, 1, 1, L.Group, true, zx, zo, lo, hi);
        }

        // float: the same weights dequantized
        var fw = s_layers.Select((L, l) => Weights(L, l).Select(v => v * WScale(l)).ToArray()).ToArray();
        var fb = s_layers.Select((L, l) => new float[L.OutC]).ToArray();
        var fbufs = s_layers.Select(L => new float[L.OutC * H * W]).Prepend(x).ToArray();
        void Float()
        {
            for (int l = 0; l < s_layers.Length; l++) FloatLayer(l);
        }
        void FloatLayer(int l)
        {
            var L = s_layers[l]; int pad = L.K / 2;
            Conv.Conv2D(fbufs[l], fw[l], fb[l], fbufs[l + 1], 1, L.InC, H, W, L.OutC, L.K, L.K, H, W, 1, 1, pad, pad, 1, 1, L.Group);
            if (L.Relu) Elementwise.Unary(UnaryOp.Relu, fbufs[l + 1], fbufs[l + 1]);
        }

        Int8(); ort.Run();
        double maxSteps = 0; int off = 0;
        for (int i = 0; i < yOrt.Length; i++) { double d = Math.Abs(yOrt[i] - yInt[i]) / sy; maxSteps = Math.Max(maxSteps, d); if (d > 0.5) off++; }
        Console.WriteLine($"int8 vs ORT on the QDQ model: max {maxSteps:F2} output steps, {off} of {yOrt.Length} outputs differ");
        long macs = s_layers.Sum(L => (long)L.OutC * (L.InC / L.Group) * L.K * L.K * H * W);
        var (ti, ti0) = Median(Int8); var (tf, tf0) = Median(Float); var (to, to0) = Median(ort.Run);
        Console.WriteLine($"{"",-22} {"median us",10} {"best us",10} {"GMAC/s",8}");
        Console.WriteLine($"{"ModelGen int8",-22} {ti * 1e6,10:F1} {ti0 * 1e6,10:F1} {macs / ti / 1e9,8:F2}");
        Console.WriteLine($"{"ModelGen float",-22} {tf * 1e6,10:F1} {tf0 * 1e6,10:F1} {macs / tf / 1e9,8:F2}");
        Console.WriteLine($"{"ONNX Runtime QDQ",-22} {to * 1e6,10:F1} {to0 * 1e6,10:F1} {macs / to / 1e9,8:F2}");
        Console.WriteLine($"int8 speed-up: {tf / ti:F2}x over ModelGen float, {to / ti:F2}x over ONNX Runtime (medians)");
        // where the time goes: each layer alone (int8 includes its requantization, float its Relu)
        Console.WriteLine($"{"layer",-22} {"int8 med",10} {"int8 best",10} {"float med",10} {"float best",10}");
        for (int l = 0; l < s_layers.Length; l++)
        {
            var L = s_layers[l]; int li = l;
            var (a, a0) = Median(() => Int8Layer(li)); var (b, b0) = Median(() => FloatLayer(li));
            string name = $"{L.K}x{L.K} {L.InC}->{L.OutC}" + (L.Group > 1 ? " dw" : "");
            Console.WriteLine($"{name,-22} {a * 1e6,10:F1} {a0 * 1e6,10:F1} {b * 1e6,10:F1} {b0 * 1e6,10:F1}");
        }
    }

    static float WScale(int l) => 0.004f + 0.001f * l;
    static float AScale(int l) => l == 0 ? 0.02f : 0.03f + 0.01f * l; // activation scale entering layer l (l = 4: output)

    static sbyte[] Weights(Layer L, int l)
    {
        var r = new Random(10 + l);
        return Enumerable.Range(0, L.OutC * (L.InC / L.Group) * L.K * L.K).Select(_ => (sbyte)r.Next(-127, 128)).ToArray();
    }

    static byte[] Build()
    {
        var g = new GraphProto { Name = "qdq_stack" };
        g.Input.Add(Vi("x", 1, 32, H, W));
        string cur = "x";
        for (int l = 0; l <= s_layers.Length; l++)
        {
            // activation entering layer l: QuantizeLinear -> DequantizeLinear (int8, zero point -3)
            string s = $"a{l}_s", z = $"a{l}_z";
            g.Initializer.Add(F(s, new[] { AScale(l) })); g.Initializer.Add(I(z, 3, new long[] { -3 }));
            g.Node.Add(N("QuantizeLinear", new[] { cur, s, z }, $"a{l}_q"));
            g.Node.Add(N("DequantizeLinear", new[] { $"a{l}_q", s, z }, $"a{l}_dq"));
            cur = $"a{l}_dq";
            if (l == s_layers.Length) break;
            var L = s_layers[l];
            g.Initializer.Add(I($"w{l}_q", 3, Weights(L, l).Select(v => (long)v).ToArray(), L.OutC, L.InC / L.Group, L.K, L.K));
            g.Initializer.Add(F($"w{l}_s", new[] { WScale(l) })); g.Initializer.Add(I($"w{l}_z", 3, new long[] { 0 }));
            g.Node.Add(N("DequantizeLinear", new[] { $"w{l}_q", $"w{l}_s", $"w{l}_z" }, $"w{l}_dq"));
            g.Initializer.Add(I($"b{l}_q", 6, Enumerable.Range(0, L.OutC).Select(i => (long)(i * 37 % 200 - 100)).ToArray(), L.OutC));
            g.Initializer.Add(F($"b{l}_s", new[] { AScale(l) * WScale(l) }));
            g.Node.Add(N("DequantizeLinear", new[] { $"b{l}_q", $"b{l}_s" }, $"b{l}_dq"));
            var conv = N("Conv", new[] { cur, $"w{l}_dq", $"b{l}_dq" }, $"c{l}");
            conv.Attribute.Add(new AttributeProto { Name = "group", Type = AttributeProto.Types.AttributeType.Int, I = L.Group });
            var pads = new AttributeProto { Name = "pads", Type = AttributeProto.Types.AttributeType.Ints };
            pads.Ints.Add(new long[] { L.K / 2, L.K / 2, L.K / 2, L.K / 2 });
            conv.Attribute.Add(pads);
            g.Node.Add(conv);
            cur = $"c{l}";
            if (L.Relu) { g.Node.Add(N("Relu", new[] { cur }, $"r{l}")); cur = $"r{l}"; }
        }
        g.Node.Add(N("Identity", new[] { cur }, "y"));
        g.Output.Add(new ValueInfoProto { Name = "y", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1 } } });
        var m = new ModelProto { IrVersion = 8, ProducerName = "ModelGen.Benchmarks", Graph = g };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        return m.ToByteArray();
    }

    static NodeProto N(string op, string[] inputs, string output)
    {
        var n = new NodeProto { OpType = op, Name = output + "_node" };
        n.Input.AddRange(inputs); n.Output.Add(output);
        return n;
    }

    static TensorProto F(string name, float[] data) { var t = new TensorProto { Name = name, DataType = 1 }; t.FloatData.AddRange(data); return t; }

    static TensorProto I(string name, int type, long[] data, params int[] dims)
    {
        var t = new TensorProto { Name = name, DataType = type };
        foreach (var d in dims) t.Dims.Add(d);
        t.Int32Data.AddRange(data.Select(v => (int)v));
        return t;
    }

    static ValueInfoProto Vi(string name, params int[] dims)
    {
        var t = new TypeProto.Types.Tensor { ElemType = 1, Shape = new TensorShapeProto() };
        foreach (var d in dims) t.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = t } };
    }

    static (double Median, double Min) Median(Action f)
    {
        var sw = Stopwatch.StartNew();
        int n = 0;
        while (sw.Elapsed.TotalMilliseconds < 300 || n < 3) { f(); n++; }
        int batch = Math.Max(1, (int)(n * 20 / sw.Elapsed.TotalMilliseconds));
        var t = new double[15];
        for (int r = 0; r < t.Length; r++)
        {
            double t0 = Quick.Now(sw); // wall time, or thread CPU time with MODELGEN_BENCH_CPU=1
            for (int i = 0; i < batch; i++) f();
            t[r] = (Quick.Now(sw) - t0) / batch;
        }
        Array.Sort(t);
        return (t[t.Length / 2], t[0]);
    }
}
