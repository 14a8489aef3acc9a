using BenchmarkDotNet.Attributes;
using ModelGen.Runtime;

namespace ModelGen.Benchmarks;

/// <summary>Gemm: ModelGen.Runtime.Gemm.Run vs ONNX Runtime's Gemm (A an input, B and C constants; single thread).</summary>
[Config(typeof(KernelConfig<GemmBenchmarks>))]
public class GemmBenchmarks : IMacCount
{
    /// <summary>m, n, k, transB.</summary>
    internal static readonly Dictionary<string, int[]> Shapes = new()
    {
        // openWakeWord classifier heads (batch 1, weights [n, k] with transB)
        ["oww_fc_1x128x1536_tB"] = new[] { 1, 128, 1536, 1 },
        ["oww_fc_1x128x128_tB"] = new[] { 1, 128, 128, 1 },
        // batched fully-connected layers and square products
        ["16x256x512_tB"] = new[] { 16, 256, 512, 1 },
        ["64x256x256"] = new[] { 64, 256, 256, 0 },
        ["256x256x256"] = new[] { 256, 256, 256, 0 },
        ["256x256x256_tB"] = new[] { 256, 256, 256, 1 },
        ["128x1024x1024"] = new[] { 128, 1024, 1024, 0 },
    };

    [ParamsSource(nameof(Cases))]
    public string Case { get; set; }
    public static IEnumerable<string> Cases => Shapes.Keys;

    int _m, _n, _k;
    bool _tb;
    float[] _a, _b, _c, _y, _yOrt;
    OrtOneOp _ort;

    public static long Macs(string name) { var s = Shapes[name]; return (long)s[0] * s[1] * s[2]; }

    [GlobalSetup]
    public void Setup()
    {
        var s = Shapes[Case];
        (_m, _n, _k, _tb) = (s[0], s[1], s[2], s[3] != 0);
        var rng = new Random(42);
        _a = Data.Random(rng, _m * _k);
        _b = Data.Random(rng, _k * _n, 0.1f);
        _c = Data.Random(rng, _n);
        _y = new float[_m * _n];
        _yOrt = new float[_y.Length];
        _ort = new OrtOneOp(OneOpModel.Gemm(_m, _n, _k, _tb, _b, _c), _a, new long[] { _m, _k }, _yOrt, new long[] { _m, _n });
        ModelGen(); Ort();
        Data.AssertClose(_y, _yOrt, $"Gemm {Case}");
    }

    [GlobalCleanup]
    public void Cleanup() => _ort?.Dispose();

    [Benchmark(Baseline = true)]
    public void Ort() => _ort.Run();

    [Benchmark]
    public void ModelGen() => Gemm.Run(_a, _b, _c, _y, _m, _n, _k, false, _tb, 1f, 1f, BiasKind.Row);
}
