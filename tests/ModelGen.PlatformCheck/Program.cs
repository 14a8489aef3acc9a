using System;
using System.Globalization;

namespace ModelGen.PlatformCheck;

/// <summary>
/// Runs each model on two fixed pseudo-random inputs and prints every output value (round-trip format), one line each:
/// "model kind sample index value", kind "exact" for integer pipelines (their outputs must be bit-identical on every
/// platform: the integer kernels are exact) or "float". scripts/check-arm64.sh compares two platforms' lines.
/// </summary>
public static class Program
{
    internal delegate void Predict(ReadOnlySpan<float> x, Span<float> y);

    /// <summary>The int8 convolutions' automatic path on this thread: sdot, vnni (vpdpbusd) or pairs.</summary>
    internal static string Kernels => ModelGen.Runtime.QDot.Path switch { ModelGen.Runtime.QDot.Sdot => "sdot", ModelGen.Runtime.QDot.Vnni => "vnni", _ => "pairs" };

    public static int Main(string[] args)
    {
        // --no-dot: the int8 pair kernels where the CPU has sdot (scripts/check-arm64.sh runs one armv8.2-a build both ways)
        if (Array.IndexOf(args, "--no-dot") >= 0) ModelGen.Runtime.QDot.Force = 1;
        // --time: float against Int8 (pair kernels, then the automatic path) per model, instead of the check
        if (Array.IndexOf(args, "--time") >= 0) { Timing.Run(); return 0; }
        // --layers: single int8 convolutions of those models' shapes, pair kernels against the automatic path
        if (Array.IndexOf(args, "--layers") >= 0) { Layers.Run(); return 0; }
        string kernels = Kernels;
        Run("digits_int8", true, DigitsInt8.ImageLength, DigitsInt8.LogitsLength, DigitsInt8.Predict, 16f);
        // integer layers then a float Softmax: compared within tolerance (one quantization step of a logit moves them ~1e-2)
        Run("ds_cnn_int8", false, DsCnnInt8.InputLength, DsCnnInt8.OutputLength, DsCnnInt8.Predict);
        Run("mobilenet_v1_025_int8", false, MobileNetInt8.InputLength, MobileNetInt8.OutputLength, MobileNetInt8.Predict);
        Run("resnet8_int8", false, ResNet8Int8.InputLength, ResNet8Int8.OutputLength, ResNet8Int8.Predict);
        Run("torch_qdq", true, TorchQdq.XLength, TorchQdq.YLength, TorchQdq.Predict);
        Run("torch_qdq_perchannel", true, TorchQdqPerChannel.XLength, TorchQdqPerChannel.YLength, TorchQdqPerChannel.Predict);
        Run("ds_cnn", false, DsCnn.InputLength, DsCnn.OutputLength, DsCnn.Predict);
        Run("mobilenet_v1_025", false, MobileNet.InputLength, MobileNet.OutputLength, MobileNet.Predict);
        Run("resnet8", false, ResNet8.InputLength, ResNet8.OutputLength, ResNet8.Predict);
        Run("fc_autoencoder_weights", false, FcAutoencoderWeights.InputLength, FcAutoencoderWeights.OutputLength, FcAutoencoderWeights.Predict);
        Run("tcn_kws", false, TcnKws.XLength, TcnKws.YLength, TcnKws.Predict);
        Run("gru_kws", false, GruKws.XLength, GruKws.YLength, GruKws.Predict);
        Run("lstm_bidir", false, LstmBidir.XLength, LstmBidir.YLength, LstmBidir.Predict);
        Run("tiny_transformer", false, TinyTransformer.XLength, TinyTransformer.YLength, TinyTransformer.Predict);
        Run("mobilenet_v3_block", false, MobileNetV3Block.XLength, MobileNetV3Block.YLength, MobileNetV3Block.Predict);
        Run("conv_autoencoder", false, ConvAutoencoder.XLength, ConvAutoencoder.YLength, ConvAutoencoder.Predict);
        // Dp: sdot (FEAT_DotProd) compiled in and present; an arm64 NativeAOT binary only with IlcInstructionSet naming it
        // AvxVnni: vpdpbusd; in a NativeAOT binary only with IlcInstructionSet naming avxvnni
        Console.WriteLine($"platform {System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture} dotprod {System.Runtime.Intrinsics.Arm.Dp.IsSupported} "
            + $"avxvnni {System.Runtime.Intrinsics.X86.AvxVnni.IsSupported} int8 {kernels}");
        const int cases = 150;
        var (auto, pairs, emulated, vnni) = KernelCheck.Run(cases, seed: 5);
        Console.WriteLine($"kernelcheck {cases} each of convolutions, pointwise convolutions (NCHW and channels last), depthwise ones (every layout), matrix products, lookups, multiplies and adds, mismatched bytes: automatic path {auto}, "
            + $"pair kernels {pairs}, emulated sdot {emulated}, emulated vpdpbusd {vnni}");
        return auto + pairs + emulated + vnni == 0 ? 0 : 1;
    }

    static void Run(string name, bool exact, int inLength, int outLength, Predict predict, float scale = 1f)
    {
        var x = new float[inLength];
        var y = new float[outLength];
        uint state = 12345;
        for (int sample = 0; sample < 2; sample++)
        {
            for (int i = 0; i < x.Length; i++)
            {
                state = state * 1664525u + 1013904223u;
                x[i] = ((state >> 8) / 16777216f * 2f - 1f) * scale;
            }
            predict(x, y);
            for (int i = 0; i < y.Length; i++)
                Console.WriteLine($"{name} {(exact ? "exact" : "float")} {sample} {i} {y[i].ToString("R", CultureInfo.InvariantCulture)}");
        }
    }
}
