using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using ModelGen.Runtime;

namespace ModelGen.Benchmarks;

/// <summary>
/// `experiment`: A/B measurements for kernel tuning, interleaved in one process so that machine load hits both sides:
/// masked vs run-based im2col packing, and the dot-product vs packed path for transposed-B Gemm.
/// </summary>
internal static class Experiment
{
    public static void Run()
    {
        foreach (var (m, n, k) in new[] { (96, 608, 864), (256, 256, 256), (96, 608, 256), (256, 256, 864), (96, 256, 256), (96, 256, 864), (256, 608, 256) })
        {
            var rng = new Random(1);
            var A = Data.Random(rng, m * k); var B = Data.Random(rng, k * n); var C = new float[m * n];
            double t = Time(() => MatMul.Run(A, B, C, m, n, k));
            Console.WriteLine($"MatMul {m}x{n}x{k}: {(double)m * n * k / t / 1e9:F1} GMAC/s");
        }
        foreach (var name in new[] { "oww_stem_3x3_1to24_76x32", "oww_1x3_24_74x32", "oww_1x3_72_30x8", "3x3_24to48_76x32", "3x3_96_38x16", "3x3_64_56x56" })
        {
            var b = new ConvBenchmarks { Case = name };
            b.Setup();
            long macs = ConvBenchmarks.Macs(name);
            var on = new List<double>(); var off = new List<double>(); var ort = new List<double>();
            for (int round = 0; round < 5; round++)
            {
                GemmCore.MaskedIm2Col = true; on.Add(Time(b.ModelGen));
                GemmCore.MaskedIm2Col = false; off.Add(Time(b.ModelGen));
                ort.Add(Time(b.Ort));
            }
            GemmCore.MaskedIm2Col = true;
            Console.WriteLine($"{name,-26}: masked {macs / Med(on) / 1e9,5:F1}  runs {macs / Med(off) / 1e9,5:F1}  ort {macs / Med(ort) / 1e9,5:F1} GMAC/s");
            b.Cleanup();
        }
        foreach (var name in new[] { "16x256x512_tB", "oww_fc_1x128x1536_tB" })
        {
            var b = new GemmBenchmarks { Case = name };
            b.Setup();
            long macs = GemmBenchmarks.Macs(name);
            int keep = Gemm.DotMaxRows;
            Gemm.DotMaxRows = 0; double tp = Time(b.ModelGen);
            Gemm.DotMaxRows = 1 << 20; double td = Time(b.ModelGen);
            Gemm.DotMaxRows = keep;
            double to = Time(b.Ort);
            Console.WriteLine($"{name,-26}: packed {macs / tp / 1e9:F1}  dot {macs / td / 1e9:F1}  ort {macs / to / 1e9:F1} GMAC/s");
            b.Cleanup();
        }
    }

    /// <summary>
    /// `experiment pointwise`: 1x1 convolutions with positions in the lanes (Conv2D's GEMM) vs channels in the lanes
    /// (PointwiseConv), with Relu (PW_ACT=hswish or hsig: HardSwish or HardSigmoid).
    /// </summary>
    public static void Pointwise()
    {
        foreach (var (c, m, p) in new[] { (120, 480, 1), (480, 120, 1), (56, 336, 36), (336, 56, 36), (64, 64, 128), (64, 64, 125), (64, 64, 112), (64, 64, 96), (16, 32, 576), (32, 32, 576), (32, 64, 144), (64, 64, 144), (64, 128, 36), (128, 128, 36), (128, 256, 9), (256, 256, 9), (384, 384, 4), (416, 416, 4), (1024, 1024, 4) })
        {
            var rng = new Random(1);
            var x = Data.Random(rng, c * p); var w = Data.Random(rng, m * c); var b = Data.Random(rng, m);
            var y1 = new float[m * p]; var y2 = new float[m * p];
            var wt = ModelGen.Compiler.Operators.Conv.ChannelLanesLayout(w, b, c, m);
            var relu = Environment.GetEnvironmentVariable("PW_ACT") switch { "hsig" => new Activation(ActivationKind.HardSigmoid, 1f / 6, 0.5f), "hswish" => new Activation(ActivationKind.HardSwish), _ => new Activation(ActivationKind.Relu) };
            Action a = () => Conv.Conv2D(x, w, b, y1, 1, c, p, 1, m, 1, 1, p, 1, 1, 1, 0, 0, 1, 1, 1, relu);
            Action t = () => PointwiseConv.Run(x, wt, y2, 1, c, m, p, relu);
            a(); t();
            double err = 0; for (int i = 0; i < y1.Length; i++) err = Math.Max(err, Math.Abs(y1[i] - y2[i]));
            var ta = new List<double>(); var tt = new List<double>();
            for (int round = 0; round < 5; round++) { ta.Add(Time(a)); tt.Add(Time(t)); }
            double macs = (double)c * m * p;
            Console.WriteLine($"{c,4}->{m,4} x {p,4}: lanes=positions {Med(ta) * 1e6,7:F2} us {macs / Med(ta) / 1e9,5:F1} GMAC/s   lanes=channels {Med(tt) * 1e6,7:F2} us {macs / Med(tt) / 1e9,5:F1} GMAC/s   max diff {err:G2}");
        }
    }

    /// <summary>
    /// `experiment wconv`: Quantize="Weights" convolutions: the float kernel on constant weights vs the int8 weights
    /// dequantized per call into its layout (Int8.DequantizeLanes) then the same kernel, and the dequantization alone
    /// (MobileNet's 1x1 channel-lanes layers, dense 3x3 panels).
    /// </summary>
    public static void WeightConvs()
    {
        var relu = new Activation(ActivationKind.Relu);
        foreach (var (c, m, p) in new[] { (64, 128, 36), (128, 128, 36), (128, 256, 9), (256, 256, 9) })
        {
            var rng = new Random(1);
            var x = Data.Random(rng, c * p); var w = Data.Random(rng, m * c); var b = Data.Random(rng, m);
            var wt = ModelGen.Compiler.Operators.Conv.ChannelLanesLayout(w, b, c, m);
            int mp = (m + 31) / 32 * 32;
            var q = new sbyte[c * mp]; for (int i = 0; i < q.Length; i++) q[i] = (sbyte)rng.Next(-127, 128);
            var s = Enumerable.Repeat(0.01f, mp).ToArray(); var scratch = new float[wt.Length]; var y = new float[m * p];
            Action f = () => PointwiseConv.Run(x, wt, y, 1, c, m, p, relu);
            Action d = () => Int8.DequantizeLanes(q, s, scratch, mp / 32, c, 32);
            Action dq = () => { Int8.DequantizeLanes(q, s, scratch, mp / 32, c, 32); PointwiseConv.Run(x, scratch, y, 1, c, m, p, relu); };
            var tf = new List<double>(); var td = new List<double>(); var tq = new List<double>();
            for (int round = 0; round < 5; round++) { tf.Add(Time(f)); td.Add(Time(d)); tq.Add(Time(dq)); }
            Console.WriteLine($"1x1 {c,4}->{m,4} x {p,3}: float {Med(tf) * 1e6,7:F2} us   dequantize {Med(td) * 1e6,6:F2} us   dequantize + float {Med(tq) * 1e6,7:F2} us");
        }
        foreach (var (c, m, h, st) in new[] { (8, 16, 48, 1), (16, 32, 24, 1), (32, 64, 12, 2), (64, 64, 8, 1) })
        {
            var rng = new Random(1);
            int taps = c * 9, oh = (h - 1) / st + 1;
            var x = Data.Random(rng, c * h * h); var w = Data.Random(rng, m * taps); var b = Data.Random(rng, m);
            var pf = ModelGen.Compiler.Passes.ConvWeightPanels.Pack(w, m, 1, taps);
            var q = new sbyte[pf.Length]; for (int i = 0; i < q.Length; i++) q[i] = (sbyte)rng.Next(-127, 128);
            var s = Enumerable.Repeat(0.01f, pf.Length / taps).ToArray(); var scratch = new float[pf.Length]; var y = new float[m * oh * oh];
            Action f = () => Conv.Conv2D(x, w, b, y, 1, c, h, h, m, 3, 3, oh, oh, st, st, 1, 1, 1, 1, 1, relu, false, pf);
            Action d = () => Int8.DequantizeLanes(q, s, scratch, pf.Length / taps / 16, taps, 16);
            Action dq = () => WeightConv.Conv2D(x, q, s, b, scratch, y, 1, c, h, h, m, 3, 3, oh, oh, st, st, 1, 1, 1, 1, 1, relu);
            var tf = new List<double>(); var td = new List<double>(); var tq = new List<double>();
            for (int round = 0; round < 5; round++) { tf.Add(Time(f)); td.Add(Time(d)); tq.Add(Time(dq)); }
            Console.WriteLine($"3x3 {c,4}->{m,4} {h,2}x{h,-2} s{st}: float {Med(tf) * 1e6,7:F2} us   dequantize {Med(td) * 1e6,6:F2} us   dequantize + float {Med(tq) * 1e6,7:F2} us");
        }
        foreach (var (c, h, st) in new[] { (32, 24, 1), (128, 6, 1), (256, 3, 1) })
        {
            var rng = new Random(1);
            int oh = (h - 1) / st + 1;
            var x = Data.Random(rng, c * h * h); var w = Data.Random(rng, c * 9); var b = Data.Random(rng, c);
            var q = new sbyte[c * 9]; for (int i = 0; i < q.Length; i++) q[i] = (sbyte)rng.Next(-127, 128);
            var s = Enumerable.Repeat(0.01f, c).ToArray(); var scratch = new float[c * 9]; var y = new float[c * oh * oh];
            Action f = () => Conv.Conv2D(x, w, b, y, 1, c, h, h, c, 3, 3, oh, oh, st, st, 1, 1, 1, 1, c, relu);
            Action d = () => Int8.DequantizeAxis(q, s, default, scratch, 1, c, 9);
            Action dq = () => { Int8.DequantizeAxis(q, s, default, scratch, 1, c, 9); Conv.Conv2D(x, scratch, b, y, 1, c, h, h, c, 3, 3, oh, oh, st, st, 1, 1, 1, 1, c, relu); };
            var tf = new List<double>(); var td = new List<double>(); var tq = new List<double>();
            for (int round = 0; round < 5; round++) { tf.Add(Time(f)); td.Add(Time(d)); tq.Add(Time(dq)); }
            Console.WriteLine($"dw3x3 {c,4} {h,2}x{h,-2} s{st}: float {Med(tf) * 1e6,7:F2} us   dequantize {Med(td) * 1e6,6:F2} us   dequantize + float {Med(tq) * 1e6,7:F2} us");
        }
    }

    /// <summary>`experiment wgemm`: matrix-vector products with float weights (Gemm) vs int8 weights (WeightGemm).</summary>
    public static void WeightGemms()
    {
        foreach (var (n, k) in new[] { (128, 1536), (128, 128), (640, 128), (64, 1536), (10, 256) })
        {
            var rng = new Random(1);
            var a = Data.Random(rng, k); var wf = Data.Random(rng, n * k); var b = Data.Random(rng, n);
            var w8 = new sbyte[k * n]; for (int i = 0; i < w8.Length; i++) w8[i] = (sbyte)rng.Next(-127, 128);
            var s = Enumerable.Repeat(0.01f, n).ToArray(); var y = new float[n];
            Action f = () => Gemm.Run(a, wf, b, y, 1, n, k, false, true, 1f, 1f, BiasKind.Row);
            Action q = () => WeightGemm.Run(a, w8, s, b, y, 1, n, k);
            var tf = new List<double>(); var tq = new List<double>();
            for (int round = 0; round < 5; round++) { tf.Add(Time(f)); tq.Add(Time(q)); }
            Console.WriteLine($"1x{k} -> {n}: float weights {Med(tf) * 1e6,7:F2} us   int8 weights {Med(tq) * 1e6,7:F2} us");
        }
    }

    /// <summary>
    /// `experiment qdw`: int8 depthwise 3x3 (QConv.Depthwise2D, NCHW and channels last) vs float (Conv.Conv2D) on small
    /// planes. QDW_SPIN=64x25x5s1: that shape's int8 call alone for 4 s first (QDW_LAST=1: the channels-last one).
    /// </summary>
    public static void QDepthwise()
    {
        foreach (var (c, h, w, s) in new[] { (64, 25, 5, 1), (8, 48, 48, 1), (16, 20, 20, 1), (16, 48, 48, 2), (32, 24, 24, 1), (32, 24, 24, 2), (64, 12, 12, 1), (64, 12, 12, 2),
            (128, 6, 6, 1), (128, 6, 6, 2), (256, 3, 3, 1) })
        {
            int oh = (h + 2 - 3) / s + 1, ow = (w + 2 - 3) / s + 1;
            var rng = new Random(1);
            var xb = new byte[c * h * w]; rng.NextBytes(xb);
            var wq = new sbyte[c * 2 * 3 * 2]; for (int i = 0; i < wq.Length; i++) wq[i] = (sbyte)rng.Next(-100, 100);
            var bias = new int[c]; var mult = Enumerable.Repeat(1 << 30, c).ToArray(); var shift = Enumerable.Repeat(-8, c).ToArray();
            var yb = new byte[c * oh * ow];
            var scratch = new short[QConv.DepthwiseScratch(3, 3, oh, ow, s, s, 1, 1)];
            var xf = Data.Random(rng, c * h * w); var wf = Data.Random(rng, c * 9); var bf = Data.Random(rng, c); var yf = new float[c * oh * ow];
            Action q = () => QConv.Depthwise2D(xb, wq, bias, mult, shift, yb, scratch, 1, c, h, w, 3, 3, oh, ow, s, s, 1, 1, 1, 1, true, 3, -128, -128, 127);
            // channels last on both sides, as inside an int8 chain
            Action ql = () => QConv.Depthwise2D(xb, wq, bias, mult, shift, yb, scratch, 1, c, h, w, 3, 3, oh, ow, s, s, 1, 1, 1, 1, true, 3, -128, -128, 127, true, true);
            Action f = () => Conv.Conv2D(xf, wf, bf, yf, 1, c, h, w, c, 3, 3, oh, ow, s, s, 1, 1, 1, 1, c, new Activation(ActivationKind.Relu));
            if (Environment.GetEnvironmentVariable("QDW_SPIN") is string spin && spin == $"{c}x{h}x{w}s{s}")
            {
                // QDW_LAST=1: the channels-last call
                var run = Environment.GetEnvironmentVariable("QDW_LAST") == "1" ? ql : q;
                var sw = Stopwatch.StartNew(); while (sw.Elapsed.TotalSeconds < 4) run();
            }
            var tq = new List<double>(); var tf = new List<double>(); var tb = new List<double>(); var tq2 = new List<double>(); var tb2 = new List<double>(); var tl = new List<double>();
            for (int round = 0; round < 5; round++)
            {
                tq.Add(Time(q)); tf.Add(Time(f)); tl.Add(Time(ql));
                ModelGen.Runtime.QDepthwise.Off = true; tb.Add(Time(q)); ModelGen.Runtime.QDepthwise.Off = false;
                if (!Vector512.IsHardwareAccelerated) continue;
                SimdLevel.ForceBits = 256;
                tq2.Add(Time(q));
                ModelGen.Runtime.QDepthwise.Off = true; tb2.Add(Time(q)); ModelGen.Runtime.QDepthwise.Off = false;
                SimdLevel.ForceBits = -1;
            }
            Console.WriteLine($"depthwise {c}x{h}x{w} s{s}: int8 {Med(tq) * 1e6,7:F2} us   channels last {Med(tl) * 1e6,7:F2} us   per-channel {Med(tb) * 1e6,7:F2} us   float {Med(tf) * 1e6,7:F2} us"
                + (tq2.Count > 0 ? $"   256-bit: int8 {Med(tq2) * 1e6,7:F2} us   per-channel {Med(tb2) * 1e6,7:F2} us" : ""));
        }
    }

    /// <summary>
    /// `experiment qconv`: int8 convolutions (QConv.Conv2D, and QPointwise where the generator picks it) vs float
    /// (Conv.Conv2D) on the benchmark models' stems, 3x3 and 1x1 layers. QCONV_ONLY=prefix: those layers only;
    /// QCONV_SPIN=1 (LANES_SPIN=1, 2: channels last): the int8 call (QPointwise's) alone for 4 s first (for perf record); QCONV_COLUMNS=1:
    /// also the dot-product kernel with each tile width forced.
    /// </summary>
    public static void QConvolution()
    {
        foreach (var (name, c, m, h, w, kh, kw, s, ph, pw) in new[]
        {
            ("ds_cnn 1x1", 64, 64, 25, 5, 1, 1, 1, 0, 0), ("ds_cnn stem", 1, 64, 49, 10, 10, 4, 2, 5, 1),
            ("mobilenet stem", 3, 8, 96, 96, 3, 3, 2, 1, 1), ("resnet8 stem", 3, 16, 32, 32, 3, 3, 1, 1, 1), ("resnet8 3x3", 16, 16, 32, 32, 3, 3, 1, 1, 1), ("resnet8 shortcut", 16, 32, 32, 32, 1, 1, 2, 0, 0), ("resnet8 3x3 s2", 16, 32, 32, 32, 3, 3, 2, 1, 1), ("resnet8 3x3 s2 b", 32, 64, 16, 16, 3, 3, 2, 1, 1), ("resnet8 shortcut 2", 32, 64, 16, 16, 1, 1, 2, 0, 0), ("resnet8 sub 1x1", 16, 32, 16, 16, 1, 1, 1, 0, 0), ("resnet8 sub 1x1 2", 32, 64, 8, 8, 1, 1, 1, 0, 0),
            ("mobilenet 1x1 48", 8, 16, 48, 48, 1, 1, 1, 0, 0), ("mobilenet 1x1 24", 32, 32, 24, 24, 1, 1, 1, 0, 0), ("mobilenet 1x1 12", 64, 64, 12, 12, 1, 1, 1, 0, 0),
            ("mobilenet 1x1 6", 128, 128, 6, 6, 1, 1, 1, 0, 0), ("mobilenet 1x1 3", 256, 256, 3, 3, 1, 1, 1, 0, 0),
            ("mv2 project 8", 48, 8, 24, 24, 1, 1, 1, 0, 0), ("mv2 expand 48", 8, 48, 48, 48, 1, 1, 1, 0, 0), ("mv2 project 48", 16, 8, 48, 48, 1, 1, 1, 0, 0), ("mv2 project 16", 48, 16, 24, 24, 1, 1, 1, 0, 0),
            // openWakeWord's embedding model: separable 1x3 and 3x1 layers on tall narrow planes
            ("emb stem", 1, 24, 76, 32, 3, 3, 1, 0, 1), ("emb 1x3 24", 24, 24, 74, 32, 1, 3, 1, 0, 1), ("emb 3x1 24", 24, 24, 74, 32, 3, 1, 1, 0, 0), ("emb 3x1 48", 48, 48, 36, 16, 3, 1, 1, 0, 0),
            ("emb 1x3 72", 72, 72, 30, 8, 1, 3, 1, 0, 1), ("emb 3x1 96", 96, 96, 12, 4, 3, 1, 1, 0, 0), ("emb 1x3 96", 96, 96, 8, 2, 1, 3, 1, 0, 1),
        })
        {
            if (Environment.GetEnvironmentVariable("QCONV_ONLY") is string only && !name.StartsWith(only)) continue;
            int oh = (h + 2 * ph - kh) / s + 1, ow = (w + 2 * pw - kw) / s + 1;
            var rng = new Random(1);
            var xb = new byte[c * h * w]; rng.NextBytes(xb);
            var wq = new sbyte[(m + 3) / 4 * 4 * kh * kw * (c + 1) / 2 * 2]; for (int i = 0; i < wq.Length; i++) wq[i] = (sbyte)rng.Next(-100, 100);
            var bias = new int[m]; var mult = Enumerable.Repeat(1 << 30, m).ToArray(); var shift = Enumerable.Repeat(-8, m).ToArray();
            var yb = new byte[m * oh * ow];
            var scratch = new short[QConv.Conv2DScratch(c, m, kh, kw, oh, ow, s, s, 1, 1, 1)];
            var xf = Data.Random(rng, c * h * w); var wf = Data.Random(rng, m * c * kh * kw); var bf = Data.Random(rng, m); var yf = new float[m * oh * ow];
            Action q = () => QConv.Conv2D(xb, wq, bias, mult, shift, yb, scratch, 1, c, h, w, m, kh, kw, oh, ow, s, s, ph, pw, 1, 1, 1, true, 3, -128, -128, 127);
            Action f = () => Conv.Conv2D(xf, wf, bf, yf, 1, c, h, w, m, kh, kw, oh, ow, s, s, ph, pw, 1, 1, 1, new Activation(ActivationKind.Relu));
            if (Environment.GetEnvironmentVariable("QCONV_SPIN") is string qs && qs != "0")
            {
                // QCONV_SPIN=n > 1: the dot-product kernel's tiles of n - 1 vectors
                QDotConv.ForceColumns = int.Parse(qs) - 1;
                var sw = Stopwatch.StartNew(); while (sw.Elapsed.TotalSeconds < 4) q();
                QDotConv.ForceColumns = 0;
            }
            var tq = new List<double>(); var tf = new List<double>();
            var tc = new List<double>[5]; for (int n = 1; n <= 4; n++) tc[n] = new List<double>();
            bool sweep = Environment.GetEnvironmentVariable("QCONV_COLUMNS") == "1";
            for (int round = 0; round < 5; round++)
            {
                tq.Add(Time(q)); tf.Add(Time(f));
                // the dot-product kernel's tiles of 1-4 vectors of positions, each forced
                for (int n = 1; sweep && n <= 4; n++) { QDotConv.ForceColumns = n; tc[n].Add(Time(q)); QDotConv.ForceColumns = 0; }
            }
            string lanes = sweep ? $"   columns 1-4: {string.Join(" ", Enumerable.Range(1, 4).Select(n => $"{Med(tc[n]) * 1e6:F2}"))} us" : "";
            if (kh == 1 && kw == 1 && s == 1 && ph == 0)
            {
                // the channel-lanes kernel the generator picks for these planes
                var wl = new sbyte[(c + 1) / 2 * ((m + 31) / 32 * 32) * 2]; for (int i = 0; i < wl.Length; i++) wl[i] = (sbyte)rng.Next(-100, 100);
                var sl = new short[QPointwise.Scratch(c, h * w)];
                Action l = () => QPointwise.Run(xb, wl, bias, mult, shift, yb, sl, 1, c, m, h * w, true, 3, -128, -128, 127);
                // channels last on both sides, as inside an int8 chain (any plane)
                Action ll = () => QPointwise.Run(xb, wl, bias, mult, shift, yb, sl, 1, c, m, h * w, true, 3, -128, -128, 127, true, true);
                if (Environment.GetEnvironmentVariable("LANES_SPIN") is "1" or "2") { var sw = Stopwatch.StartNew(); var spin = Environment.GetEnvironmentVariable("LANES_SPIN") == "1" ? l : ll; while (sw.Elapsed.TotalSeconds < 4) spin(); }
                var tl = new List<double>(); var tll = new List<double>();
                for (int round = 0; round < 5; round++) { tl.Add(Time(l)); tll.Add(Time(ll)); }
                lanes += $"   lanes {Med(tl) * 1e6,7:F2} us   channels last {Med(tll) * 1e6,7:F2} us";
            }
            Console.WriteLine($"{name,-15} {c}->{m} {h}x{w} k{kh}x{kw} s{s}: int8 {Med(tq) * 1e6,7:F2} us   float {Med(tf) * 1e6,7:F2} us{lanes}");
        }
    }

    /// <summary>
    /// `experiment qpeak`: int8 MAC throughput of one thread, 12 independent chains: vpmaddwd + vpaddd (int16 pairs) at
    /// 512 and 256 bits, vpdpbusd at 256 bits (AVX-VNNI: .NET 10 exposes no 512-bit form), and fp32 FMA at 512 bits for
    /// the int8 / float ceiling of the convolutions.
    /// </summary>
    public static void QPeak()
    {
        const int n = 20_000_000;
        var sw = Stopwatch.StartNew();
        var z = PeakMadd512(n);
        double t = sw.Elapsed.TotalSeconds;
        Console.WriteLine($"vpmaddwd+vpaddd zmm: {12.0 * n * 32 / t / 1e9:F1} GMAC/s ({z})");
        sw.Restart(); var y = PeakMadd256(n); t = sw.Elapsed.TotalSeconds;
        Console.WriteLine($"vpmaddwd+vpaddd ymm: {12.0 * n * 16 / t / 1e9:F1} GMAC/s ({y})");
        double fma = 0;
        if (Avx512F.IsSupported)
        {
            sw.Restart(); var f = PeakFma512(n); t = sw.Elapsed.TotalSeconds;
            fma = 12.0 * n * 16 / t / 1e9;
            Console.WriteLine($"vfmadd231ps zmm (fp32): {fma:F1} GMAC/s ({f})");
        }
        if (AvxVnni.IsSupported)
        {
            sw.Restart(); var v = PeakVnni256(n); t = sw.Elapsed.TotalSeconds;
            double vnni = 12.0 * n * 32 / t / 1e9;
            Console.WriteLine($"vpdpbusd ymm: {vnni:F1} GMAC/s ({v})" + (fma > 0 ? $", {vnni / fma:F2}x the fp32 peak" : ""));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float PeakFma512(int n)
    {
        var m = Vector512.Create(1.0001f);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default, a8 = default, a9 = default, a10 = default, a11 = default;
        for (int i = 0; i < n; i++)
        {
            a0 = Avx512F.FusedMultiplyAdd(a0, m, m); a1 = Avx512F.FusedMultiplyAdd(a1, m, m); a2 = Avx512F.FusedMultiplyAdd(a2, m, m); a3 = Avx512F.FusedMultiplyAdd(a3, m, m);
            a4 = Avx512F.FusedMultiplyAdd(a4, m, m); a5 = Avx512F.FusedMultiplyAdd(a5, m, m); a6 = Avx512F.FusedMultiplyAdd(a6, m, m); a7 = Avx512F.FusedMultiplyAdd(a7, m, m);
            a8 = Avx512F.FusedMultiplyAdd(a8, m, m); a9 = Avx512F.FusedMultiplyAdd(a9, m, m); a10 = Avx512F.FusedMultiplyAdd(a10, m, m); a11 = Avx512F.FusedMultiplyAdd(a11, m, m);
        }
        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int PeakVnni256(int n)
    {
        var x = Vector256.Create((byte)3);
        var w = Vector256.Create((sbyte)-2);
        Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default, a8 = default, a9 = default, a10 = default, a11 = default;
        for (int i = 0; i < n; i++)
        {
            a0 = AvxVnni.MultiplyWideningAndAdd(a0, x, w); a1 = AvxVnni.MultiplyWideningAndAdd(a1, x, w); a2 = AvxVnni.MultiplyWideningAndAdd(a2, x, w); a3 = AvxVnni.MultiplyWideningAndAdd(a3, x, w);
            a4 = AvxVnni.MultiplyWideningAndAdd(a4, x, w); a5 = AvxVnni.MultiplyWideningAndAdd(a5, x, w); a6 = AvxVnni.MultiplyWideningAndAdd(a6, x, w); a7 = AvxVnni.MultiplyWideningAndAdd(a7, x, w);
            a8 = AvxVnni.MultiplyWideningAndAdd(a8, x, w); a9 = AvxVnni.MultiplyWideningAndAdd(a9, x, w); a10 = AvxVnni.MultiplyWideningAndAdd(a10, x, w); a11 = AvxVnni.MultiplyWideningAndAdd(a11, x, w);
        }
        return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int PeakMadd512(int n)
    {
        var m = Vector512.Create((short)3);
        Vector512<int> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default, a8 = default, a9 = default, a10 = default, a11 = default;
        for (int i = 0; i < n; i++)
        {
            a0 += Avx512BW.MultiplyAddAdjacent(a0.AsInt16(), m); a1 += Avx512BW.MultiplyAddAdjacent(a1.AsInt16(), m); a2 += Avx512BW.MultiplyAddAdjacent(a2.AsInt16(), m); a3 += Avx512BW.MultiplyAddAdjacent(a3.AsInt16(), m);
            a4 += Avx512BW.MultiplyAddAdjacent(a4.AsInt16(), m); a5 += Avx512BW.MultiplyAddAdjacent(a5.AsInt16(), m); a6 += Avx512BW.MultiplyAddAdjacent(a6.AsInt16(), m); a7 += Avx512BW.MultiplyAddAdjacent(a7.AsInt16(), m);
            a8 += Avx512BW.MultiplyAddAdjacent(a8.AsInt16(), m); a9 += Avx512BW.MultiplyAddAdjacent(a9.AsInt16(), m); a10 += Avx512BW.MultiplyAddAdjacent(a10.AsInt16(), m); a11 += Avx512BW.MultiplyAddAdjacent(a11.AsInt16(), m);
            m += Vector512<short>.One;
        }
        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int PeakMadd256(int n)
    {
        var m = Vector256.Create((short)3);
        Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default, a8 = default, a9 = default, a10 = default, a11 = default;
        for (int i = 0; i < n; i++)
        {
            a0 += Avx2.MultiplyAddAdjacent(a0.AsInt16(), m); a1 += Avx2.MultiplyAddAdjacent(a1.AsInt16(), m); a2 += Avx2.MultiplyAddAdjacent(a2.AsInt16(), m); a3 += Avx2.MultiplyAddAdjacent(a3.AsInt16(), m);
            a4 += Avx2.MultiplyAddAdjacent(a4.AsInt16(), m); a5 += Avx2.MultiplyAddAdjacent(a5.AsInt16(), m); a6 += Avx2.MultiplyAddAdjacent(a6.AsInt16(), m); a7 += Avx2.MultiplyAddAdjacent(a7.AsInt16(), m);
            a8 += Avx2.MultiplyAddAdjacent(a8.AsInt16(), m); a9 += Avx2.MultiplyAddAdjacent(a9.AsInt16(), m); a10 += Avx2.MultiplyAddAdjacent(a10.AsInt16(), m); a11 += Avx2.MultiplyAddAdjacent(a11.AsInt16(), m);
            m += Vector256<short>.One;
        }
        return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    /// <summary>`experiment epilogue`: every ConvBenchmarks shape with no activation, Relu and Clip (Relu6) fused.</summary>
    public static void Epilogues(string filter)
    {
        foreach (var name in ConvBenchmarks.Cases)
        {
            if (filter != null && !name.Contains(filter)) continue;
            var b = new ConvBenchmarks { Case = name };
            b.Setup();
            var relu = new Activation(ActivationKind.Relu); var clip = new Activation(ActivationKind.Clip, 0f, 6f);
            var leaky = new Activation(ActivationKind.LeakyRelu, 0.1f); var hswish = new Activation(ActivationKind.HardSwish);
            Console.WriteLine($"{name,-40} none {Time(() => b.Fused(default)) * 1e6,8:F2}  relu {Time(() => b.Fused(relu)) * 1e6,8:F2}  relu6 {Time(() => b.Fused(clip)) * 1e6,8:F2}  leaky {Time(() => b.Fused(leaky)) * 1e6,8:F2}  hswish {Time(() => b.Fused(hswish)) * 1e6,8:F2} us");
            b.Cleanup();
        }
    }

    /// <summary>
    /// `experiment logistic`: ns per element of the in-place Sigmoid and SiLU epilogues (Activation.Apply) on an
    /// L1-resident row and on a 48x48x96 tensor, TensorPrimitives.Sigmoid beside them, and EfficientNet-B0's 16 -> 96
    /// 1x1 convolution on 48x48 with no activation and with SiLU fused.
    /// </summary>
    public static unsafe void Logistic()
    {
        var rng = new Random(1);
        foreach (int n in new[] { 2304, 221184 })
        {
            var x = Data.Random(rng, n); var t = new float[n];
            for (int i = 0; i < n; i++) x[i] *= 8;
            foreach (var kind in new[] { ActivationKind.Sigmoid, ActivationKind.Silu })
            {
                var act = new Activation(kind);
                double us = Time(() => { x.CopyTo(t, 0); fixed (float* p = t) act.Apply(p, n); }) - Time(() => x.CopyTo(t, 0));
                Console.WriteLine($"{kind,-8} n={n,7}: {us / n * 1e9,6:F3} ns/element");
            }
            double tp = Time(() => System.Numerics.Tensors.TensorPrimitives.Sigmoid(x, t));
            Console.WriteLine($"TensorPrimitives.Sigmoid n={n,7}: {tp / n * 1e9,6:F3} ns/element");
        }
        {
            // in one process, interleaved: exp clamped by IEEE Min/Max (before session 16; the native clamp inside it then
            // has nothing to do) and as it is now
            var x = Data.Random(rng, 4096); var t = new float[x.Length];
            var ieee = new List<double>(); var native = new List<double>();
            for (int round = 0; round < 7; round++)
            {
                ieee.Add(Time(() => { fixed (float* px = x, pt = t) LogisticIeeeClamp(px, pt, x.Length); }));
                native.Add(Time(() => { fixed (float* px = x, pt = t) LogisticNow(px, pt, x.Length); }));
            }
            Console.WriteLine($"sigmoid, 4096 floats, 512-bit: IEEE clamp {Med(ieee) / x.Length * 1e9:F3} ns/element, native clamp {Med(native) / x.Length * 1e9:F3}");
        }
        {
            int c = 16, m = 96, hw = 48;
            var x = Data.Random(rng, c * hw * hw); var w = Data.Random(rng, m * c); var b = Data.Random(rng, m); var y = new float[m * hw * hw];
            double none = Time(() => Conv.Conv2D(x, w, b, y, 1, c, hw, hw, m, 1, 1, hw, hw, 1, 1, 0, 0, 1, 1, 1, default));
            double silu = Time(() => Conv.Conv2D(x, w, b, y, 1, c, hw, hw, m, 1, 1, hw, hw, 1, 1, 0, 0, 1, 1, 1, new Activation(ActivationKind.Silu)));
            Console.WriteLine($"1x1 16->96 48x48: none {none * 1e6:F1} us, SiLU {silu * 1e6:F1} us ({(silu - none) / y.Length * 1e9:F3} ns/element)");
            // the same layer as EfficientNet-B0's channel-blocked chain runs it
            int mp = (m + 31) / 32 * 32;
            var packed = new float[(c + 1) * mp];
            for (int o = 0; o < m; o++) { for (int i = 0; i < c; i++) packed[((o / 32) * c + i) * 32 + o % 32] = w[o * c + i]; packed[c * mp + o] = b[o]; }
            var xb = new float[x.Length];
            ConvBlocked.ToBlocks(x, xb, 1, c, hw * hw);
            none = Time(() => ConvBlocked.Pointwise(xb, packed, y, 1, c, m, hw * hw));
            silu = Time(() => ConvBlocked.Pointwise(xb, packed, y, 1, c, m, hw * hw, new Activation(ActivationKind.Silu)));
            Console.WriteLine($"blocked 1x1 16->96 48x48: none {none * 1e6:F1} us, SiLU {silu * 1e6:F1} us ({(silu - none) / y.Length * 1e9:F3} ns/element)");
        }
    }

    /// <summary>The sigmoid as it was before session 16: exp's clamp by .NET's IEEE Min and Max (vrangeps + 2 vfixupimmps each).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void LogisticIeeeClamp(float* x, float* y, int n)
    {
        var one = Vector512<float>.One;
        for (int i = 0; i + 16 <= n; i += 16)
        {
            var v = -Vector512.Load(x + i);
            var c = Vector512.Min(Vector512.Max(v, Vector512.Create(-87.3f)), Vector512.Create(88.3f));
            var e = Transcendental.Exp<V512, E512, Vector512<float>>(c);
            Vector512.Store(one / (one + Vector512.ConditionalSelect(Vector512.Equals(v, v), e, v)), y + i);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void LogisticNow(float* x, float* y, int n)
    {
        for (int i = 0; i + 16 <= n; i += 16) Vector512.Store(Transcendental.Sigmoid<V512, E512, Vector512<float>>(Vector512.Load(x + i)), y + i);
    }

    /// <summary>`experiment dwpaths`: the depthwise kernels side by side on MobileNet's shapes (blocked vs direct).</summary>
    public static unsafe void DwPaths()
    {
        foreach (var (c, hw, st) in new[] { (16, 48, 2), (32, 24, 2), (64, 12, 2), (8, 48, 1), (32, 24, 1), (64, 12, 1), (128, 6, 1), (128, 6, 2), (256, 3, 1) })
        {
            var rng = new Random(1);
            int oh = (hw + 2 - 3) / st + 1;
            var x = Data.Random(rng, c * hw * hw); var w = Data.Random(rng, c * 9); var b = Data.Random(rng, c);
            var y1 = new float[c * oh * oh]; var y2 = new float[c * oh * oh];
            var relu = new Activation(ActivationKind.Relu);
            bool ok1 = false, ok2 = false;
            Action blocked = () => { fixed (float* px = x, pw = w, pb = b, py = y1) ok1 = DepthwiseBlocked.TryRun(px, pw, pb, py, c, hw, hw, 3, 3, oh, oh, st, st, 1, 1, 1, 1, relu); };
            Action direct = () => { fixed (float* px = x, pw = w, pb = b, py = y2) ok2 = ConvDirect.TryRun(px, pw, pb, py, 1, c, 1, hw, hw, 3, 3, oh, oh, st, st, 1, 1, 1, 1, relu); };
            double t1 = Time(blocked), t2 = Time(direct);
            Console.WriteLine($"dw {c,3} {hw,2}x{hw,-2} s{st}: blocked {(ok1 ? $"{t1 * 1e6,7:F2}" : "   -   ")} us  direct {(ok2 ? $"{t2 * 1e6,7:F2}" : "   -   ")} us");
        }
    }

    /// <summary>
    /// `experiment inlining`: every float kernel path once, at every vector width, with every fused activation kind, and
    /// the int8 convolutions and depthwise kernels (their A/B timings printed too). scripts/check-inlining.sh runs it under the JIT's disassembler and fails where
    /// optimized runtime code calls a SIMD helper instead of inlining it: a kernel whose body grew past the JIT's inline
    /// budget turns its FMAs into calls and runs several times slower (MobileNetV3's squeeze-excite 1x1s: 70 us, not 3)
    /// while staying correct, so no test would notice.
    /// </summary>
    public static void Inlining()
    {
        var acts = new[]
        {
            default, new Activation(ActivationKind.Relu), new Activation(ActivationKind.Clip, 0f, 6f), new Activation(ActivationKind.LeakyRelu, 0.1f),
            new Activation(ActivationKind.HardSwish), new Activation(ActivationKind.HardSigmoid, 0.2f, 0.5f), new Activation(ActivationKind.Sigmoid),
            new Activation(ActivationKind.Relu, lo: -1f, hi: 1f),
        };
        var rng = new Random(1);
        foreach (int bits in new[] { 512, 256, 128, 0 })
        {
            SimdLevel.ForceBits = bits;
            foreach (var name in ConvBenchmarks.Cases)
            {
                var b = new ConvBenchmarks { Case = name };
                b.Setup();
                foreach (var a in acts) b.Fused(a);
                b.Cleanup();
            }
            foreach (var (c, m, p) in new[] { (120, 480, 1), (64, 40, 5), (56, 336, 36), (128, 128, 9), (32, 24, 13) })
            {
                var x = Data.Random(rng, c * p); var w = Data.Random(rng, m * c); var bias = Data.Random(rng, m); var y = new float[m * p];
                var wt = ModelGen.Compiler.Operators.Conv.ChannelLanesLayout(w, bias, c, m);
                foreach (var a in acts) { PointwiseConv.Run(x, wt, y, 1, c, m, p, a); PointwiseConv.Run(x, wt, y, 1, c, m, p, a, accumulate: true); }
                foreach (var a in acts) Gemm.Run(x.AsSpan(0, c), w, bias, y.AsSpan(0, m), 1, m, c, transA: false, transB: true, alpha: 1f, beta: 1f, BiasKind.Row, a);
            }
            // the channel-blocked chain's ends: a dense stem writing blocks, squeeze-excite gates, global pools
            foreach (var (c, m, h, w) in new[] { (1, 64, 49, 10), (3, 16, 32, 32) })
            {
                int oh = (h - 1) / 2 + 1, ow = (w - 1) / 2 + 1, taps = c * 9;
                var x = Data.Random(rng, c * h * w); var wd = Data.Random(rng, m * taps); var bias = Data.Random(rng, m); var y = new float[m * oh * ow];
                var panels = ModelGen.Compiler.Passes.ConvWeightPanels.Pack(wd, m, 1, taps);
                foreach (var a in acts) ConvBlocked.Dense(x, panels, bias, y, 1, c, h, w, m, 3, 3, oh, ow, 2, 2, 1, 1, 1, 1, a);
                ConvBlocked.ScaleChannels(y, bias, y, 1, m, oh * ow);
                ConvBlocked.GlobalPool(y, bias, 1, m, oh * ow, false);
                ConvBlocked.GlobalPool(y, bias, 1, m, oh * ow, true);
                // inside a chain: a dense layer reading blocks, a max pool on blocks
                var taps2 = m * 9; var panels2 = ModelGen.Compiler.Passes.ConvWeightPanels.Pack(Data.Random(rng, m * taps2), m, 1, taps2);
                var y2 = new float[m * oh * ow];
                foreach (var a in acts) ConvBlocked.Dense(y, panels2, bias, y2, 1, m, oh, ow, m, 3, 3, oh, ow, 1, 1, 1, 1, 1, 1, a, xBlocked: true);
                int po = (oh - 3 + 1) / 2 + 1, pw = (ow - 3 + 1) / 2 + 1;
                ConvBlocked.MaxPool(y2, y, 1, m, oh, ow, po, pw, 3, 3, 2, 2, 0, 0, 1, 1);
            }
            foreach (var (c, hw) in new[] { (64, 47), (16, 23), (8, 9) })
            {
                int o = (hw - 3 + 1) / 2 + 1;
                var x = Data.Random(rng, c * hw * hw); var y = new float[c * o * o];
                Pool.MaxPool2D(x, y, c, hw, hw, o, o, 3, 3, 2, 2, 0, 0, 1, 1);
                Pool.MaxPool2D(x, y, c, hw, hw, o, o, 2, 2, 2, 2, 0, 0, 1, 1);
                Pool.AveragePool2D(x, y, c, hw, hw, o, o, 3, 3, 2, 2, 0, 0, 1, 1, false, 0, 0);
            }
        }
        SimdLevel.ForceBits = -1;
        QConvolution();
        QDepthwise();
        // QConvRows (im2col rows through QPointwise) at each width, on a plane the dot tiles take and one they do not
        foreach (var bits in new[] { -1, 256, 128 })
        {
            SimdLevel.ForceBits = bits;
            foreach (var h in new[] { 4, 2 })
            {
                var xq = new byte[12 * h * h]; var wq = new sbyte[(QConvRows.RowBytes(12, 3, 3) + 1) / 2 * 64 * 2];
                var yq = new byte[40 * h * h]; var sq = new short[QConvRows.Scratch(12, h, h, 3, 3, h, h)];
                QConvRows.Run(xq, wq, new int[40], Enumerable.Repeat(1 << 30, 40).ToArray(), Enumerable.Repeat(-8, 40).ToArray(), yq, sq,
                    1, 12, h, h, 40, 3, 3, h, h, 1, 1, 1, 1, 1, 1, true, 3, -128, -128, 127);
            }
        }
        SimdLevel.ForceBits = -1;
        // the int8 matrix products on several rows (columns in the lanes) and the row kernel, every output form
        var r = new Random(5);
        foreach (var (m, n, k) in new[] { (16, 96, 32), (6, 40, 129) })
        {
            var xq = new byte[m * k]; r.NextBytes(xq);
            var wl = new sbyte[(k + 1) / 2 * ((n + 31) / 32 * 32) * 2]; var wr = new sbyte[n * ((k + 1) & ~1)];
            var bias = new int[n]; var mult = Enumerable.Repeat(1 << 30, n).ToArray(); var shift = Enumerable.Repeat(-8, n).ToArray();
            var scale = Enumerable.Repeat(0.01f, n).ToArray(); var fb = new float[n];
            var yb = new byte[m * n]; var yi = new int[m * n]; var yf = new float[m * n];
            for (int i = 0; i < 60; i++)
            {
                QMatMulLanes.Run(xq, wl, bias, mult, shift, yb, new short[QMatMulLanes.Scratch(m, k)], m, n, k, false, 3, -128, -128, 127);
                QMatMulLanes.RunInt32(xq, wl, yi, new short[QMatMulLanes.Scratch(m, k)], m, n, k, true, 0);
                QMatMulLanes.RunFloat(xq, wl, scale, fb, yf, new short[QMatMulLanes.Scratch(m, k)], m, n, k, true, 0);
                QGemm.RunFloat(xq, wr, scale, fb, yf, new short[(k + 1) & ~1], m, n, k, true, 0);
            }
        }
    }

    /// <summary>`experiment gemv`: classifier heads (one row of A, B transposed, weights beyond L2): GB/s of weights streamed.</summary>
    public static void Gemv()
    {
        foreach (var (n, k) in new[] { (128, 1536), (1024, 576), (640, 480), (1280, 960), (128, 640), (10, 1024) })
        {
            var rng = new Random(1);
            var a = Data.Random(rng, k); var b = Data.Random(rng, n * k); var bias = Data.Random(rng, n); var y = new float[n];
            Action f = () => Gemm.Run(a, b, bias, y, 1, n, k, transA: false, transB: true, alpha: 1f, beta: 1f, BiasKind.Row, new Activation(ActivationKind.HardSwish));
            double t = Time(f);
            Console.WriteLine($"gemv {n}x{k}: {t * 1e6,7:F2} us  {4.0 * n * k / t / 1e9,6:F1} GB/s");
            Action g = () => Gemm.Run(a, b, bias, y, 1, n, k, transA: false, transB: false, alpha: 1f, beta: 1f, BiasKind.Row);
            t = Time(g);
            Console.WriteLine($"gemv [k,n] {n}x{k}: {t * 1e6,7:F2} us  {4.0 * n * k / t / 1e9,6:F1} GB/s");
        }
    }

    /// <summary>
    /// `experiment qmatmul`: int8 products of a few rows (QMatMulLanes.Run, as a transformer's QGemmInt8 layers call it)
    /// vs float Gemm.Run on the same shapes. QMM_SPIN=m,n,k: that shape's int8 call alone for 4 s first (for perf record).
    /// </summary>
    public static void QMatMul()
    {
        foreach (var (m, n, k) in new[] { (16, 96, 32), (16, 64, 32), (16, 32, 64), (16, 32, 32), (32, 128, 128), (100, 128, 128) })
        {
            var rng = new Random(1);
            int np = (n + QMatMulLanes.ColumnMultiple - 1) / QMatMulLanes.ColumnMultiple * QMatMulLanes.ColumnMultiple;
            var xb = new byte[m * k]; rng.NextBytes(xb);
            var wq = new sbyte[(k + 1) / 2 * np * 2]; for (int i = 0; i < wq.Length; i++) wq[i] = (sbyte)rng.Next(-100, 100);
            var bias = new int[n]; var mult = Enumerable.Repeat(1 << 30, n).ToArray(); var shift = Enumerable.Repeat(-8, n).ToArray();
            var yb = new byte[m * n]; var scratch = new short[QMatMulLanes.Scratch(m, k)];
            var a = Data.Random(rng, m * k); var b = Data.Random(rng, n * k); var bf = Data.Random(rng, n); var yf = new float[m * n];
            Action q = () => QMatMulLanes.Run(xb, wq, bias, mult, shift, yb, scratch, m, n, k, true, 3, -9, -128, 127);
            Action f = () => Gemm.Run(a, b, bf, yf, m, n, k, transA: false, transB: true, alpha: 1f, beta: 1f, BiasKind.Row);
            if (Environment.GetEnvironmentVariable("QMM_SPIN") == $"{m},{n},{k}") { var sw = Stopwatch.StartNew(); while (sw.Elapsed.TotalSeconds < 4) q(); }
            var tq = new List<double>(); var tf = new List<double>();
            for (int round = 0; round < 5; round++) { tq.Add(Time(q)); tf.Add(Time(f)); }
            Console.WriteLine($"{m}x{n}x{k}: int8 {Med(tq) * 1e6,7:F3} us   float {Med(tf) * 1e6,7:F3} us   float/int8 {Med(tf) / Med(tq),5:F2}");
        }
    }

    /// <summary>
    /// `experiment qrows`: dense int8 convolutions of small planes, QConv.Conv2D (positions in the lanes) vs QConvRows
    /// (im2col rows, output channels in the lanes) vs float Conv.Conv2D, on GoogLeNet's and ResNet-8's shapes.
    /// QROWS_SPIN=c,m,h: that shape's QConvRows call alone for 4 s first (for perf record).
    /// </summary>
    public static void QRows()
    {
        foreach (var (c, m, h, k, s) in new[] { (192, 384, 2, 3, 1), (160, 320, 2, 3, 1), (32, 128, 2, 3, 1), (160, 320, 4, 3, 1), (96, 208, 4, 3, 1),
            (128, 256, 4, 3, 1), (16, 48, 4, 3, 1), (128, 192, 8, 3, 1), (96, 128, 8, 3, 1), (64, 64, 8, 3, 1), (8, 16, 8, 3, 1), (16, 32, 8, 3, 1), (8, 16, 4, 3, 1), (32, 32, 5, 3, 1), (16, 32, 6, 3, 1), (48, 48, 6, 3, 1), (32, 64, 6, 3, 1), (64, 64, 5, 3, 1), (48, 96, 6, 3, 1), (96, 64, 7, 3, 1), (32, 64, 16, 3, 2), (32, 32, 16, 3, 1), (16, 16, 32, 3, 1), (32, 64, 16, 1, 2), (64, 128, 8, 1, 2) })
        {
            int p = k / 2, oh = (h + 2 * p - k) / s + 1, kk = k * k * c, mp = (m + 31) / 32 * 32;
            var rng = new Random(1);
            var xb = new byte[c * h * h]; rng.NextBytes(xb);
            var wq = new sbyte[(m + 3) / 4 * 4 * k * k * (c + 1) / 2 * 2]; for (int i = 0; i < wq.Length; i++) wq[i] = (sbyte)rng.Next(-100, 100);
            var wl = new sbyte[(kk + 1) / 2 * mp * 2]; for (int i = 0; i < wl.Length; i++) wl[i] = (sbyte)rng.Next(-100, 100);
            var bias = new int[m]; var mult = Enumerable.Repeat(1 << 30, m).ToArray(); var shift = Enumerable.Repeat(-8, m).ToArray();
            var yb = new byte[m * oh * oh];
            var scratch = new short[QConv.Conv2DScratch(c, m, k, k, oh, oh, s, s, 1, 1, 1)];
            var rs = new short[QConvRows.Scratch(c, h, h, k, k, oh, oh)];
            var xf = Data.Random(rng, c * h * h); var wf = Data.Random(rng, m * c * k * k); var bf = Data.Random(rng, m); var yf = new float[m * oh * oh];
            Action q = () => QConv.Conv2D(xb, wq, bias, mult, shift, yb, scratch, 1, c, h, h, m, k, k, oh, oh, s, s, p, p, 1, 1, 1, true, 3, -128, -128, 127);
            Action r = () => QConvRows.Run(xb, wl, bias, mult, shift, yb, rs, 1, c, h, h, m, k, k, oh, oh, s, s, p, p, 1, 1, true, 3, -128, -128, 127);
            Action f = () => Conv.Conv2D(xf, wf, bf, yf, 1, c, h, h, m, k, k, oh, oh, s, s, p, p, 1, 1, 1, new Activation(ActivationKind.Relu));
            if (Environment.GetEnvironmentVariable("QROWS_SPIN") == $"{c},{m},{h}") { var sw = Stopwatch.StartNew(); while (sw.Elapsed.TotalSeconds < 4) r(); }
            var tq = new List<double>(); var tr = new List<double>(); var tf = new List<double>();
            for (int round = 0; round < 5; round++) { tq.Add(Time(q)); tr.Add(Time(r)); tf.Add(Time(f)); }
            double macs = (double)m * kk * oh * oh;
            Console.WriteLine($"{c}->{m} {h}x{h} k{k} s{s}: QConv {Med(tq) * 1e6,7:F2} us   rows {Med(tr) * 1e6,7:F2} us ({macs / Med(tr) / 1e9,5:F0} GMAC/s)   float {Med(tf) * 1e6,7:F2} us   QConv/rows {Med(tq) / Med(tr),5:F2}   float/rows {Med(tf) / Med(tr),5:F2}");
        }
    }

    /// <summary>`experiment align`: DS-CNN's and MobileNet's layers with their tensors 64-byte aligned vs 16 bytes off.</summary>
    public static unsafe void Align()
    {
        float* mem = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(4 << 20, 64);
        var rng = new Random(1);
        var relu = new Activation(ActivationKind.Relu);
        foreach (var (c, m, hw, k, g) in new[] { (64, 64, 125, 1, 1), (64, 64, 125, 3, 64), (32, 32, 576, 3, 32), (128, 128, 36, 1, 1), (16, 32, 576, 1, 1) })
        {
            int h = hw == 125 ? 25 : (int)Math.Sqrt(hw), w = hw / h;
            var wt = Data.Random(rng, m * c / g * k * k); var b = Data.Random(rng, m);
            var t = new double[2];
            for (int off = 0; off < 2; off++)
            {
                int o = off * 4;
                var x = new Span<float>(mem + o, c * hw); var y = new Span<float>(mem + (1 << 18) + o, m * hw);
                Data.Random(rng, c * hw).CopyTo(x);
                float* px = mem + o, py = mem + (1 << 18) + o;
                Action f = () => Conv.Conv2D(new ReadOnlySpan<float>(px, c * hw), wt, b, new Span<float>(py, m * hw), 1, c, h, w, m, k, k, h, w, 1, 1, k / 2, k / 2, 1, 1, g, relu);
                t[off] = Time(f);
            }
            Console.WriteLine($"{c}->{m} {h}x{w} k{k} g{g}: aligned {t[0] * 1e6,7:F2} us   16 bytes off {t[1] * 1e6,7:F2} us");
        }
        System.Runtime.InteropServices.NativeMemory.AlignedFree(mem);
    }

    /// <summary>
    /// `experiment bdense c,m,h,w,k,s,p[;...]`: ConvBlocked.Dense with channel-blocked input and output (SqueezeNet's
    /// expand 3x3 layers inside a chain), ReLU, alternated with the same layer on NCHW (Conv.Conv2D with the panels); BDENSE_ALIGN=n:
    /// the NCHW layer with its panels n bytes past a 64-byte boundary against the array's. BDENSE_SPIN=1: the first shape alone for 4 s first (for perf record).
    /// </summary>
    public static void BlockedDense(string specs)
    {
        bool first = true;
        foreach (var spec in specs.Split(';'))
        {
            var a = spec.Split(',');
            int c = int.Parse(a[0]), m = int.Parse(a[1]), h = int.Parse(a[2]), w = int.Parse(a[3]), k = int.Parse(a[4]), s = int.Parse(a[5]), p = int.Parse(a[6]);
            int oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
            var rng = new Random(1);
            var x = Data.Random(rng, c * h * w); var wt = Data.Random(rng, m * c * k * k); var b = Data.Random(rng, m); var y = new float[m * oh * ow];
            var panels = new float[ConvPanels.PackedLength(m, 1, c * k * k)];
            ConvPanels.Pack(wt, panels, m, 1, c * k * k);
            var act = new Activation(ActivationKind.Relu);
            Action f = () => ConvBlocked.Dense(x, panels, b, y, 1, c, h, w, m, k, k, oh, ow, s, s, p, p, 1, 1, act, xBlocked: c % 16 == 0);
            if (first && Environment.GetEnvironmentVariable("BDENSE_SPIN") == "1") { var sw = Stopwatch.StartNew(); while (sw.Elapsed.TotalSeconds < 4) f(); }
            first = false;
            double macs = (double)m * c * k * k * oh * ow;
            // the same layer on NCHW (ConvPanels through Conv.Conv2D, as the generator calls it), alternated with it
            var yn = new float[m * oh * ow];
            Action g = () => Conv.Conv2D(x, default, b, yn, 1, c, h, w, m, k, k, oh, ow, s, s, p, p, 1, 1, 1, act, panels: panels);
            var ab = Quick.Alternate(f, g, 2);
            if (Environment.GetEnvironmentVariable("BDENSE_ALIGN") is string mis)
            {
                // the panels at a chosen byte offset from 64-byte alignment (generated code reads its weights from string literals)
                int off = int.Parse(mis);
                var at = Misaligned(panels, off);
                Action hm = () => Conv.Conv2D(x, default, b, yn, 1, c, h, w, m, k, k, oh, ow, s, s, p, p, 1, 1, 1, act, panels: at());
                var al = Quick.Alternate(g, hm, 2);
                Console.WriteLine($"  NCHW, panels {off} bytes off 64: {al.B * 1e6,7:F2} us vs the array {al.A * 1e6,7:F2}: {al.Ratio:F3} ({al.Low:F3}-{al.High:F3})");
            }
            Console.WriteLine($"blocked dense {c}->{m} {h}x{w} k{k} s{s} p{p}: {ab.A * 1e6,7:F2} us ({macs / ab.A / 1e9,5:F1} GMAC/s); NCHW {ab.B * 1e6,7:F2} us, NCHW/blocked {ab.Ratio:F3} ({ab.Low:F3}-{ab.High:F3})");
        }
    }

    delegate ReadOnlySpan<float> SpanOf();

    /// <summary>A copy of data at <paramref name="off"/> bytes past a 64-byte boundary (never freed: an experiment).</summary>
    static unsafe SpanOf Misaligned(float[] data, int off)
    {
        byte* raw = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(data.Length * 4 + 128), 64) + off;
        data.AsSpan().CopyTo(new Span<float>(raw, data.Length));
        int len = data.Length;
        return () => new ReadOnlySpan<float>(raw, len);
    }

    /// <summary>`experiment pool`: SqueezeNet's 3x3/2 max pools, NCHW and on channel blocks (a float chain's layout). POOL_SPIN=1: the 64-channel blocked pool alone for 4 s first (for perf record).</summary>
    public static void Pools()
    {
        foreach (var (c, hw) in new[] { (64, 47), (128, 23), (256, 11) })
        {
            var rng = new Random(1);
            int o = (hw - 3 + 1) / 2 + 1;
            var x = Data.Random(rng, c * hw * hw); var y = new float[c * o * o];
            Action f = () => Pool.MaxPool2D(x, y, c, hw, hw, o, o, 3, 3, 2, 2, 0, 0, 1, 1);
            // the same pool on channel blocks (a float chain's layout: SqueezeNet's pools)
            Action b = () => ConvBlocked.MaxPool(x, y, 1, c, hw, hw, o, o, 3, 3, 2, 2, 0, 0, 1, 1);
            if (c == 64 && Environment.GetEnvironmentVariable("POOL_SPIN") == "1") { var sw = Stopwatch.StartNew(); while (sw.Elapsed.TotalSeconds < 4) b(); }
            Console.WriteLine($"maxpool {c} {hw}x{hw} -> {o}x{o}: {Time(f) * 1e6:F2} us   channel blocks {Time(b) * 1e6:F2} us");
        }
    }

    /// <summary>`experiment norm`: GroupNorm.Run (GroupNormalization, and InstanceNormalization with one channel per group) against ONNX Runtime's GroupNormalization, one thread.</summary>
    public static void Norms()
    {
        foreach (var (c, plane, groups) in new[] { (32, 4096, 8), (64, 256, 32), (16, 16000, 16) })
        {
            var rng = new Random(1);
            var x = Data.Random(rng, c * plane); var y = new float[x.Length]; var yo = new float[x.Length];
            var scale = Data.Random(rng, c); var bias = Data.Random(rng, c);
            Action f = () => GroupNorm.Run(x, scale, bias, y, 1, c, groups, plane, 1e-5f, perGroup: false);
            using var ort = new OrtOneOp(OneOpModel.GroupNormalization(1, c, plane, groups, scale, bias), x, new long[] { 1, c, plane }, yo, new long[] { 1, c, plane });
            double ours = Time(f), theirs = Time(ort.Run);
            Console.WriteLine($"groupnorm {c}x{plane}, {groups} groups: {ours * 1e6:F1} us, ORT {theirs * 1e6:F1} us, ORT/ModelGen {theirs / ours:F2}");
        }
    }

    /// <summary>`experiment dwctx`: the cost of a fused Relu (vs none) in the depthwise and 1x1 kernels, inputs normal, half zero, denormal or tiny.</summary>
    public static void DwContext()
    {
        var rng = new Random(1);
        int c = 32, h = 24, wd = 24;
        var x = Data.Random(rng, c * h * wd); var w = Data.Random(rng, c * 9); var b = Data.Random(rng, c);
        var y = new float[c * h * wd];
        var relu = new Activation(ActivationKind.Relu);
        var xr = x.Select(v => Math.Max(v, 0f)).ToArray();
        var xd = x.Select(v => v * 1e-39f).ToArray();
        var xs = x.Select(v => v * 1e-30f).ToArray();
        var x16 = Data.Random(rng, 16 * h * wd); var w16 = Data.Random(rng, 32 * 16); var b16 = Data.Random(rng, 32);
        foreach (var (name, input) in new[] { ("normal", x), ("relu'd", xr), ("denormal", xd), ("tiny", xs) })
        {
            Action f = () => Conv.Conv2D(input, w, b, y, 1, c, h, wd, c, 3, 3, h, wd, 1, 1, 1, 1, 1, 1, c, relu);
            Action g = () => Conv.Conv2D(input, w, b, y, 1, c, h, wd, c, 3, 3, h, wd, 1, 1, 1, 1, 1, 1, c, default);
            Console.WriteLine($"dw {name,-9}: relu {Time(f) * 1e6:F2} us, none {Time(g) * 1e6:F2} us");
        }
        foreach (var (ci, co, hw) in new[] { (16, 32, 24), (32, 32, 24), (64, 64, 12), (128, 128, 6), (256, 256, 3) })
        {
            var xa = Data.Random(rng, ci * hw * hw); var wa = Data.Random(rng, co * ci); var ba = Data.Random(rng, co); var ya = new float[co * hw * hw];
            var wt = ModelGen.Compiler.Operators.Conv.ChannelLanesLayout(wa, ba, ci, co);
            Action r = () => Conv.Conv2D(xa, wa, ba, ya, 1, ci, hw, hw, co, 1, 1, hw, hw, 1, 1, 0, 0, 1, 1, 1, relu);
            Action o = () => Conv.Conv2D(xa, wa, ba, ya, 1, ci, hw, hw, co, 1, 1, hw, hw, 1, 1, 0, 0, 1, 1, 1, default);
            Action pr = () => PointwiseConv.Run(xa, wt, ya, 1, ci, co, hw * hw, relu);
            Action po = () => PointwiseConv.Run(xa, wt, ya, 1, ci, co, hw * hw);
            Console.WriteLine($"1x1 {ci}->{co} {hw}x{hw}: gemm relu {Time(r) * 1e6:F2} none {Time(o) * 1e6:F2} us; lanes relu {Time(pr) * 1e6:F2} none {Time(po) * 1e6:F2} us");
        }
        Action pw = () => Conv.Conv2D(x16, w16, b16, x, 1, 16, h, wd, 32, 1, 1, h, wd, 1, 1, 0, 0, 1, 1, 1, relu);
        Action both = () => { pw(); Conv.Conv2D(x, w, b, y, 1, c, h, wd, c, 3, 3, h, wd, 1, 1, 1, 1, 1, 1, c, relu); };
        Console.WriteLine($"pw alone {Time(pw) * 1e6:F2} us, pw+dw {Time(both) * 1e6:F2} us");
    }

    /// <summary>
    /// `experiment smallconv`: dense spatial convolutions onto small planes (openWakeWord's embedding tail, ResNet-8's
    /// last stack, MobileNet-like 3x3 on 6x6) through ConvPanels (W packed by ConvWeightPanels) against their input
    /// patches through PointwiseConv (output channels in the lanes).
    /// </summary>
    public static void SmallConvs()
    {
        var rng = new Random(1);
        var act = new Activation(ActivationKind.LeakyRelu, 0.2f, 0f);
        foreach (var (c, m, h, w, kh, kw, ph, pw) in new[] { (96, 96, 10, 2, 1, 3, 0, 1), (96, 96, 10, 2, 3, 1, 0, 0), (96, 96, 8, 2, 1, 3, 0, 1), (96, 96, 8, 2, 3, 1, 0, 0),
            (72, 72, 30, 8, 1, 3, 0, 1), (48, 48, 34, 16, 3, 1, 0, 0), (72, 96, 14, 4, 1, 3, 0, 1), (96, 96, 14, 4, 3, 1, 0, 0), (96, 96, 12, 4, 1, 3, 0, 1), (64, 64, 6, 6, 3, 3, 1, 1), (128, 128, 4, 4, 3, 3, 1, 1), (64, 64, 8, 8, 3, 3, 1, 1) })
        {
            int oh = h + 2 * ph - kh + 1, ow = w + 2 * pw - kw + 1, taps = c * kh * kw;
            var x = Data.Random(rng, c * h * w); var wt = Data.Random(rng, m * taps); var b = Data.Random(rng, m); var y = new float[m * oh * ow];
            var panels = ModelGen.Compiler.Passes.ConvWeightPanels.Pack(wt, m, 1, taps);
            var lanes = ModelGen.Compiler.Operators.Conv.ChannelLanesLayout(wt, b, taps, m);
            var col = new float[taps * oh * ow];
            Action f = () => Conv.Conv2D(x, default, b, y, 1, c, h, w, m, kh, kw, oh, ow, 1, 1, ph, pw, 1, 1, 1, act, panels: panels);
            Action g = () => { PointwiseConv.Patches(x, col, 1, c, h, w, kh, kw, oh, ow, 1, 1, ph, pw, 1, 1); PointwiseConv.Run(col, lanes, y, 1, taps, m, oh * ow, act); };
            // SMALLCONV_SPIN=c,m,h,w: that shape's panels alone for 4 s first (for perf record)
            if (Environment.GetEnvironmentVariable("SMALLCONV_SPIN") == $"{c},{m},{h},{w}") { var sw = Stopwatch.StartNew(); while (sw.Elapsed.TotalSeconds < 4) f(); }
            double t0 = Time(f), t1 = Time(g);
            ConvPanels.WrapRows = false;
            double t2 = Time(f);
            ConvPanels.WrapRows = true;
            Console.Write($"[panels row by row {t2 * 1e6,7:F2}] ");
            double macs = (double)m * taps * oh * ow;
            Console.WriteLine($"{c}->{m} {h}x{w} k{kh}x{kw} p{ph},{pw} -> {oh}x{ow}: panels {t0 * 1e6,7:F2} us ({macs / t0 / 1e9,5:F1} GMAC/s), patches {t1 * 1e6,7:F2} us ({macs / t1 / 1e9,5:F1})");
        }
    }

    static double Med(List<double> t) { var a = t.ToArray(); Array.Sort(a); return a[a.Length / 2]; }

    /// <summary>
    /// `experiment conv c,m,h,w,k,s,p[,act]`: one Conv.Conv2D shape (in channels, out channels, height, width, square
    /// kernel, stride, padding; act: relu or sigmoid) through the dispatcher, and with ConvPlanes off (the paths below it).
    /// CONV_SPIN=1: the call alone for 4 s first (for perf record).
    /// </summary>
    public static void OneConv(string spec)
    {
        var a = spec.Split(',');
        int c = int.Parse(a[0]), m = int.Parse(a[1]), h = int.Parse(a[2]), w = int.Parse(a[3]), k = int.Parse(a[4]), s = int.Parse(a[5]), p = int.Parse(a[6]);
        var act = a.Length > 7 && a[7] == "sigmoid" ? new Activation(ActivationKind.Sigmoid) : new Activation(ActivationKind.Relu);
        int oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
        var rng = new Random(1);
        var x = Data.Random(rng, c * h * w); var wt = Data.Random(rng, m * c * k * k); var b = Data.Random(rng, m); var y = new float[m * oh * ow];
        Action f = () => Conv.Conv2D(x, wt, b, y, 1, c, h, w, m, k, k, oh, ow, s, s, p, p, 1, 1, 1, act);
        if (Environment.GetEnvironmentVariable("CONV_SPIN") == "1") { var sw = Stopwatch.StartNew(); while (sw.Elapsed.TotalSeconds < 4) f(); }
        double t0 = Time(f);
        ConvPlanes.Enabled = false;
        double t1 = Time(f);
        ConvPlanes.Enabled = true;
        // as the generator calls it: the weights only as ConvPanels' panels
        var panels = new float[ConvPanels.PackedLength(m, 1, c * k * k)];
        ConvPanels.Pack(wt, panels, m, 1, c * k * k);
        Action fp = () => Conv.Conv2D(x, default, b, y, 1, c, h, w, m, k, k, oh, ow, s, s, p, p, 1, 1, 1, act, panels: panels);
        if (Environment.GetEnvironmentVariable("CONV_SPIN") == "panels") { var sw = Stopwatch.StartNew(); while (sw.Elapsed.TotalSeconds < 4) fp(); }
        double t2 = k > 1 ? Time(fp) : double.NaN;
        Console.WriteLine($"conv {c}->{m} {h}x{w} k{k} s{s} p{p}: {t0 * 1e6:F2} us, ConvPlanes off {t1 * 1e6:F2} us, panels {t2 * 1e6:F2} us ({2e-3 * c * m * k * k * oh * ow / t0 / 1e6:F1} GFLOP/s)");
    }

    static double Time(Action f)
    {
        for (int i = 0; i < 10; i++) f();
        var t = new double[15];
        var sw = new Stopwatch();
        for (int r = 0; r < t.Length; r++) { sw.Restart(); for (int i = 0; i < 10; i++) f(); t[r] = sw.Elapsed.TotalSeconds / 10; }
        Array.Sort(t);
        return t[0]; // best batch: on a shared machine the minimum is the least disturbed estimate
    }
}
