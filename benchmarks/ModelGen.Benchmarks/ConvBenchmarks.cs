using BenchmarkDotNet.Attributes;
using ModelGen.Runtime;

namespace ModelGen.Benchmarks;

/// <summary>Conv2D: ModelGen.Runtime.Conv.Conv2D vs ONNX Runtime's Conv on the same single-op model (single thread).</summary>
[Config(typeof(KernelConfig<ConvBenchmarks>))]
public class ConvBenchmarks : IMacCount
{
    /// <summary>inC, inH, inW, outC, kH, kW, strideH, strideW, padH (top=bottom), padW (left=right), dilation, groups.</summary>
    internal static readonly Dictionary<string, int[]> Shapes = new()
    {
        // openWakeWord embedding model (NCHW): the 3x3 stem, 1x3 / 3x1 separable layers at each width
        ["oww_stem_3x3_1to24_76x32"] = new[] { 1, 76, 32, 24, 3, 3, 1, 1, 0, 1, 1, 1 },
        ["oww_1x3_24_74x32"] = new[] { 24, 74, 32, 24, 1, 3, 1, 1, 0, 1, 1, 1 },
        ["oww_3x1_48_34x16"] = new[] { 48, 34, 16, 48, 3, 1, 1, 1, 0, 0, 1, 1 },
        ["oww_1x3_72_30x8"] = new[] { 72, 30, 8, 72, 1, 3, 1, 1, 0, 1, 1, 1 },
        ["oww_3x1_96_12x4"] = new[] { 96, 12, 4, 96, 3, 1, 1, 1, 0, 0, 1, 1 },
        // dense 3x3 convs over 76x32 maps with 24..96 channels, a ResNet-like layer
        ["3x3_24to48_76x32"] = new[] { 24, 76, 32, 48, 3, 3, 1, 1, 1, 1, 1, 1 },
        ["3x3_96_38x16"] = new[] { 96, 38, 16, 96, 3, 3, 1, 1, 1, 1, 1, 1 },
        ["3x3_64_56x56"] = new[] { 64, 56, 56, 64, 3, 3, 1, 1, 1, 1, 1, 1 },
        ["3x3s2_64to128_56x56"] = new[] { 64, 56, 56, 128, 3, 3, 2, 2, 1, 1, 1, 1 },
        // pointwise and depthwise (MobileNet-style)
        ["1x1_128_28x28"] = new[] { 128, 28, 28, 128, 1, 1, 1, 1, 0, 0, 1, 1 },
        ["dw3x3_128_56x56"] = new[] { 128, 56, 56, 128, 3, 3, 1, 1, 1, 1, 1, 128 },
        // melspectrogram's STFT as a 1-D conv (height 1): 257 filters x 512 taps, stride 160
        ["mel_stft_1x512s160"] = new[] { 1, 1, 1760, 257, 1, 512, 1, 160, 0, 0, 1, 1 },
        // MLPerf Tiny's layers (tests/models/mlperf): DS-CNN's stem and separable block, MobileNetV1 0.25's widest
        // depthwise/pointwise layers and deeper ones, ResNet-8's stem, stacks and strided shortcuts
        ["mlperf_dscnn_stem_10x4s2_1to64_49x10"] = new[] { 1, 49, 10, 64, 10, 4, 2, 2, 5, 1, 1, 1 },
        ["mlperf_dscnn_dw3x3_64_25x5"] = new[] { 64, 25, 5, 64, 3, 3, 1, 1, 1, 1, 1, 64 },
        ["mlperf_dscnn_1x1_64_25x5"] = new[] { 64, 25, 5, 64, 1, 1, 1, 1, 0, 0, 1, 1 },
        ["mlperf_mbv1_stem_3x3s2_3to8_96x96"] = new[] { 3, 96, 96, 8, 3, 3, 2, 2, 1, 1, 1, 1 },
        ["mlperf_mbv1_dw3x3_8_48x48"] = new[] { 8, 48, 48, 8, 3, 3, 1, 1, 1, 1, 1, 8 },
        ["mlperf_mbv1_1x1_8to16_48x48"] = new[] { 8, 48, 48, 16, 1, 1, 1, 1, 0, 0, 1, 1 },
        ["mlperf_mbv1_dw3x3s2_16_48x48"] = new[] { 16, 48, 48, 16, 3, 3, 2, 2, 1, 1, 1, 16 },
        ["mlperf_mbv1_1x1_128_6x6"] = new[] { 128, 6, 6, 128, 1, 1, 1, 1, 0, 0, 1, 1 },
        ["mlperf_mbv1_dw3x3s2_32_24x24"] = new[] { 32, 24, 24, 32, 3, 3, 2, 2, 1, 1, 1, 32 },
        ["mlperf_mbv1_dw3x3_32_24x24"] = new[] { 32, 24, 24, 32, 3, 3, 1, 1, 1, 1, 1, 32 },
        ["mlperf_mbv1_dw3x3_64_12x12"] = new[] { 64, 12, 12, 64, 3, 3, 1, 1, 1, 1, 1, 64 },
        ["mlperf_mbv1_dw3x3s2_64_12x12"] = new[] { 64, 12, 12, 64, 3, 3, 2, 2, 1, 1, 1, 64 },
        ["mlperf_mbv1_dw3x3_128_6x6"] = new[] { 128, 6, 6, 128, 3, 3, 1, 1, 1, 1, 1, 128 },
        ["mlperf_mbv1_dw3x3s2_128_6x6"] = new[] { 128, 6, 6, 128, 3, 3, 2, 2, 1, 1, 1, 128 },
        ["mlperf_mbv1_dw3x3_256_3x3"] = new[] { 256, 3, 3, 256, 3, 3, 1, 1, 1, 1, 1, 256 },
        ["mlperf_resnet8_stem_3x3_3to16_32x32"] = new[] { 3, 32, 32, 16, 3, 3, 1, 1, 1, 1, 1, 1 },
        ["mlperf_resnet8_3x3_16_32x32"] = new[] { 16, 32, 32, 16, 3, 3, 1, 1, 1, 1, 1, 1 },
        ["mlperf_resnet8_3x3s2_16to32_32x32"] = new[] { 16, 32, 32, 32, 3, 3, 2, 2, 1, 1, 1, 1 },
        ["mlperf_resnet8_1x1s2_16to32_32x32"] = new[] { 16, 32, 32, 32, 1, 1, 2, 2, 0, 0, 1, 1 },
        ["mlperf_resnet8_3x3_32_16x16"] = new[] { 32, 16, 16, 32, 3, 3, 1, 1, 1, 1, 1, 1 },
        ["mlperf_resnet8_3x3s2_32to64_16x16"] = new[] { 32, 16, 16, 64, 3, 3, 2, 2, 1, 1, 1, 1 },
        ["mlperf_resnet8_3x3_64_8x8"] = new[] { 64, 8, 8, 64, 3, 3, 1, 1, 1, 1, 1, 1 },
    };

    [ParamsSource(nameof(Cases))]
    public string Case { get; set; }
    public static IEnumerable<string> Cases => Shapes.Keys;

    int _inC, _inH, _inW, _outC, _kH, _kW, _sh, _sw, _ph, _pw, _dil, _g, _outH, _outW;
    float[] _x, _w, _b, _y, _yOrt, _panels;

    /// <summary>Passes the weights also packed into panels (as generated code does for dense spatial kernels); off for A/B.</summary>
    internal static bool Panels = true;
    OrtOneOp _ort;

    static (int OutH, int OutW) OutSize(int[] s) =>
        ((s[1] + 2 * s[8] - s[10] * (s[4] - 1) - 1) / s[6] + 1, (s[2] + 2 * s[9] - s[10] * (s[5] - 1) - 1) / s[7] + 1);

    public static long Macs(string name)
    {
        var s = Shapes[name];
        var (oh, ow) = OutSize(s);
        return (long)s[3] * oh * ow * (s[0] / s[11]) * s[4] * s[5];
    }

    [GlobalSetup]
    public void Setup()
    {
        var s = Shapes[Case];
        (_inC, _inH, _inW, _outC, _kH, _kW, _sh, _sw, _ph, _pw, _dil, _g) = (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11]);
        (_outH, _outW) = OutSize(s);
        var rng = new Random(42);
        _x = Data.Random(rng, _inC * _inH * _inW);
        _w = Data.Random(rng, _outC * (_inC / _g) * _kH * _kW, 0.1f);
        _b = Data.Random(rng, _outC);
        // generated code packs the weights of wide enough dense spatial kernels at build time (ConvPanels' layout; the
        // rule of ModelGen.Compiler.Passes.ConvWeightPanels)
        _panels = Array.Empty<float>();
        int icg = _inC / _g, ocg = _outC / _g;
        if (_kH * _kW > 1 && !(icg == 1 && _g > 1) && (ocg >= 16 && (icg >= 8 || ocg >= 32) || icg < 8 && ocg >= 8 && _sw <= 2 && _outW % 16 == 0))
        {
            int taps = _inC / _g * _kH * _kW;
            _panels = new float[ConvPanels.PackedLength(_outC, _g, taps)];
            ConvPanels.Pack(_w, _panels, _outC, _g, taps);
        }
        _y = new float[_outC * _outH * _outW];
        _yOrt = new float[_y.Length];
        var model = OneOpModel.Conv(1, _inC, _inH, _inW, _outC, _kH, _kW, _sh, _sw, _ph, _pw, _dil, _g, _w, _b);
        _ort = new OrtOneOp(model, _x, new long[] { 1, _inC, _inH, _inW }, _yOrt, new long[] { 1, _outC, _outH, _outW });
        // both must agree before anything is timed
        ModelGen(); Ort();
        Data.AssertClose(_y, _yOrt, $"Conv {Case}");
    }

    [GlobalCleanup]
    public void Cleanup() => _ort?.Dispose();

    [Benchmark(Baseline = true)]
    public void Ort() => _ort.Run();

    [Benchmark]
    public void ModelGen() => Conv.Conv2D(_x, _w, _b, _y, 1, _inC, _inH, _inW, _outC, _kH, _kW, _outH, _outW, _sh, _sw, _ph, _pw, _dil, _dil, _g,
        panels: Panels ? _panels : default);

    // `quick fusion`: the same convolution then LeakyRelu as a second pass over the output, vs fused into its store
    internal void ThenLeakyRelu() { ModelGen(); Activations.LeakyRelu(_y, 0.2f); }

    internal void Fused(Activation act) => Conv.Conv2D(_x, _w, _b, _y, 1, _inC, _inH, _inW, _outC, _kH, _kW, _outH, _outW, _sh, _sw, _ph, _pw, _dil, _dil, _g,
        act, panels: Panels ? _panels : default);

    internal void FusedLeakyRelu() => Conv.Conv2D(_x, _w, _b, _y, 1, _inC, _inH, _inW, _outC, _kH, _kW, _outH, _outW, _sh, _sw, _ph, _pw, _dil, _dil, _g,
        new Activation(ActivationKind.LeakyRelu, 0.2f));
}
