#if MODEL_BENCHMARKS
using System.Reflection;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace ModelGen.Benchmarks;

/// <summary>
/// Whole models: the Predict that ModelGen generated from openWakeWord's models and the MLPerf Tiny reference models
/// (the OnnxModel items in the csproj, built with -p:ModelBenchmarks=true) vs ONNX Runtime on the same file (single
/// thread, all optimisations, pinned pre-allocated OrtValues). Setup checks both agree before timing.
/// </summary>
[Config(typeof(ModelConfig))]
public class ModelBenchmarks
{
    /// <summary>openWakeWord's models (.cache/models, downloaded), MLPerf Tiny's (tests/models/mlperf) and exporter output (tests/models/zoo).</summary>
    public static readonly string[] All =
    {
        "melspectrogram", "embedding_model", "hey_jarvis_v0.1", "alexa_v0.1", "hey_mycroft_v0.1",
        "ds_cnn", "mobilenet_v1_025", "resnet8", "fc_autoencoder",
        "tcn_kws", "gru_kws", "lstm_bidir", "tiny_transformer_op17", "conv_autoencoder_op13", "mobilenet_v3_block",
    };

    /// <summary>BenchmarkDotNet's ParamsSource reads a property or method, not a field.</summary>
    public static IEnumerable<string> Names => All;

    [ParamsSource(nameof(Names))]
    public string Model { get; set; }

    static readonly Dictionary<string, long[]> InputShapes = new()
    {
        ["melspectrogram"] = new long[] { 1, 1760 },
        ["embedding_model"] = new long[] { 1, 76, 32, 1 },
        ["hey_jarvis_v0.1"] = new long[] { 1, 16, 96 },
        ["alexa_v0.1"] = new long[] { 1, 16, 96 },
        ["hey_mycroft_v0.1"] = new long[] { 1, 16, 96 },
        ["ds_cnn"] = new long[] { 1, 1, 49, 10 },
        ["mobilenet_v1_025"] = new long[] { 1, 3, 96, 96 },
        ["resnet8"] = new long[] { 1, 3, 32, 32 },
        ["fc_autoencoder"] = new long[] { 1, 640 },
        ["tcn_kws"] = new long[] { 1, 40, 98 },
        ["gru_kws"] = new long[] { 1, 49, 40 },
        ["lstm_bidir"] = new long[] { 1, 32, 20 },
        ["tiny_transformer_op17"] = new long[] { 1, 16, 32 },
        ["conv_autoencoder_op13"] = new long[] { 1, 1, 28, 28 },
        ["mobilenet_v3_block"] = new long[] { 1, 3, 64, 64 },
    };

    /// <summary>Multiply-accumulates of one Predict of the model (the generated Macs constant), for GMAC/s.</summary>
    public static long Macs(string model) => model switch
    {
        "melspectrogram" => MelSpectrogram.Macs,
        "embedding_model" => EmbeddingModel.Macs,
        "hey_jarvis_v0.1" => HeyJarvis.Macs,
        "alexa_v0.1" => Alexa.Macs,
        "hey_mycroft_v0.1" => HeyMycroft.Macs,
        "ds_cnn" => DsCnn.Macs,
        "mobilenet_v1_025" => MobileNetV1025.Macs,
        "resnet8" => ResNet8.Macs,
        "fc_autoencoder" => FcAutoencoder.Macs,
        "tcn_kws" => TcnKws.Macs,
        "gru_kws" => GruKws.Macs,
        "lstm_bidir" => LstmBidir.Macs,
        "tiny_transformer_op17" => TinyTransformer.Macs,
        "conv_autoencoder_op13" => ConvAutoencoder.Macs,
        "mobilenet_v3_block" => MobileNetV3Block.Macs,
        _ => throw new ArgumentException(model),
    };

    float[] _x, _y, _yOrt;
    InferenceSession _session;
    RunOptions _run;
    OrtValue[] _in, _out;
    string[] _inNames, _outNames;
    int _which;

    internal static string PathOf(string name) => ModelPath(name);

    static string ModelPath(string name)
    {
        // MODELGEN_MODELS overrides the folder of every model (a published benchmark run on another machine)
        var dir = Environment.GetEnvironmentVariable("MODELGEN_MODELS");
        if (string.IsNullOrEmpty(dir))
        {
            var root = typeof(ModelBenchmarks).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().First(a => a.Key == "RepoRoot").Value;
            int i = Array.IndexOf(All, name);
            dir = i >= 9 ? Path.Combine(root, "tests", "models", "zoo") : i >= 5 ? Path.Combine(root, "tests", "models", "mlperf") : Path.Combine(root, ".cache", "models");
        }
        return Path.Combine(dir, name + ".onnx");
    }

    [GlobalSetup]
    public void Setup()
    {
        _which = Array.IndexOf(All, Model);
        var shape = InputShapes[Model];
        int n = (int)shape.Aggregate(1L, (a, b) => a * b);
        _x = Data.Random(new Random(42), n, Model == "melspectrogram" ? 1000f : 1f);
        _session = new InferenceSession(ModelPath(Model), OrtOneOp.Options());
        _run = new RunOptions();
        _inNames = _session.InputMetadata.Keys.ToArray();
        _outNames = _session.OutputMetadata.Keys.Take(1).ToArray();
        // one ordinary run tells the output shape; then pin pre-allocated buffers for the timed path
        using (var r = _session.Run(new[] { NamedOnnxValue.CreateFromTensor(_inNames[0], new DenseTensor<float>(_x, shape.Select(d => (int)d).ToArray())) }))
        {
            var t = r.First().AsTensor<float>();
            _yOrt = new float[t.Length];
            _out = new[] { OrtValue.CreateTensorValueFromMemory(_yOrt, t.Dimensions.ToArray().Select(d => (long)d).ToArray()) };
        }
        _in = new[] { OrtValue.CreateTensorValueFromMemory(_x, shape) };
        _y = new float[_yOrt.Length];
        ModelGen(); Ort();
        Data.AssertClose(_y, _yOrt, Model);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var v in _in.Concat(_out)) v.Dispose();
        _run.Dispose();
        _session.Dispose();
    }

    [Benchmark(Baseline = true)]
    public void Ort() => _session.Run(_run, _inNames, _in, _outNames, _out);

    [Benchmark]
    public void ModelGen()
    {
        switch (_which)
        {
            case 0: MelSpectrogram.Predict(_x, _y); break;
            case 1: EmbeddingModel.Predict(_x, _y); break;
            case 2: HeyJarvis.Predict(_x, _y); break;
            case 3: Alexa.Predict(_x, _y); break;
            case 4: HeyMycroft.Predict(_x, _y); break;
            case 5: DsCnn.Predict(_x, _y); break;
            case 6: MobileNetV1025.Predict(_x, _y); break;
            case 7: ResNet8.Predict(_x, _y); break;
            case 8: FcAutoencoder.Predict(_x, _y); break;
            case 9: TcnKws.Predict(_x, _y); break;
            case 10: GruKws.Predict(_x, _y); break;
            case 11: LstmBidir.Predict(_x, _y); break;
            case 12: TinyTransformer.Predict(_x, _y); break;
            case 13: ConvAutoencoder.Predict(_x, _y); break;
            default: MobileNetV3Block.Predict(_x, _y); break;
        }
    }
}

/// <summary>Median, allocations, and GMAC/s from the model's Macs constant.</summary>
public sealed class ModelConfig : ManualConfig
{
    public ModelConfig()
    {
        AddColumn(StatisticColumn.Median);
        AddColumn(new GmacColumn(ModelBenchmarks.Macs, "Model"));
        AddDiagnoser(MemoryDiagnoser.Default);
    }
}
#endif
