namespace ModelGen.Tests;

/// <summary>Locates the openWakeWord models downloaded by scripts/setup.sh (licence forbids committing them).</summary>
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
}
