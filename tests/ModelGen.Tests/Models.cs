namespace ModelGen.Tests;

/// <summary>
/// Locates the openWakeWord models downloaded by scripts/setup.sh (licence forbids committing them) and the committed
/// MLPerf Tiny reference models (made by scripts/models/make_mlperf_tiny.py).
/// </summary>
public static class Models
{
    public static string Dir => Path.Combine(Harness.RepoRoot, ".cache", "models");

    public static string Path_(string name)
    {
        var p = Path.Combine(Dir, name);
        if (!File.Exists(p)) throw new FileNotFoundException($"{p} is missing: run scripts/setup.sh (README's test command does) to download openWakeWord's models");
        return p;
    }

    public static string Mel => Path_("melspectrogram.onnx");
    public static string Embedding => Path_("embedding_model.onnx");
    public static string HeyJarvis => Path_("hey_jarvis_v0.1.onnx");
    public static string Alexa => Path_("alexa_v0.1.onnx");
    public static string HeyMycroft => Path_("hey_mycroft_v0.1.onnx");

    public static string MlperfDir => Path.Combine(Harness.RepoRoot, "tests", "models", "mlperf");

    /// <summary>The MLPerf Tiny v1.0 reference models: file name and input shape.</summary>
    public static readonly (string File, int[] Shape)[] Mlperf =
    {
        ("ds_cnn.onnx", new[] { 1, 1, 49, 10 }),
        ("mobilenet_v1_025.onnx", new[] { 1, 3, 96, 96 }),
        ("resnet8.onnx", new[] { 1, 3, 32, 32 }),
        ("fc_autoencoder.onnx", new[] { 1, 640 }),
    };

    public static string MlperfPath(string file) => Path.Combine(MlperfDir, file);
}
