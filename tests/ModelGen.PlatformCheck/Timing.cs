using System;
using System.Diagnostics;
using System.Globalization;
using ModelGen.Runtime;

namespace ModelGen.PlatformCheck;

/// <summary>
/// `--time`: each convolutional model's float build against its Int8 build on the pair kernels (QDot.Force = 1) and
/// on the automatic path (sdot or vpdpbusd where the binary has them), on the calling thread, in one process: the
/// median over 15 batches of the per-call time, each batch at least 2 ms. For a machine the benchmark project cannot
/// run on (a NativeAOT binary carries no SDK and no ONNX Runtime): scripts/check-vnni.sh.
/// </summary>
static class Timing
{
    public static void Run()
    {
        string auto = Program.Kernels;
        Console.WriteLine($"time model float_us int8_pairs_us int8_{auto}_us float/int8_{auto} pairs/{auto}");
        Row("ds_cnn", DsCnn.InputLength, DsCnn.OutputLength, DsCnn.Predict, DsCnnInt8.Predict);
        Row("mobilenet_v1_025", MobileNet.InputLength, MobileNet.OutputLength, MobileNet.Predict, MobileNetInt8.Predict);
        Row("resnet8", ResNet8.InputLength, ResNet8.OutputLength, ResNet8.Predict, ResNet8Int8.Predict);
    }

    static void Row(string name, int inLength, int outLength, Program.Predict f, Program.Predict q)
    {
        var x = new float[inLength];
        var y = new float[outLength];
        var r = new Random(1);
        for (int i = 0; i < x.Length; i++) x[i] = (float)(r.NextDouble() * 2 - 1);
        double tf = Median(() => f(x, y));
        var (tp, ta) = Layers.Both(() => q(x, y), bits: -1);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"time {name} {tf:F1} {tp:F1} {ta:F1} {tf / ta:F2} {tp / ta:F2}"));
    }

    internal static double Median(Action call)
    {
        for (int i = 0; i < 200; i++) call();
        var sw = Stopwatch.StartNew();
        int n = 0;
        while (sw.Elapsed.TotalMilliseconds < 2) { call(); n++; }
        var batches = new double[15];
        for (int b = 0; b < batches.Length; b++)
        {
            sw.Restart();
            for (int i = 0; i < n; i++) call();
            batches[b] = sw.Elapsed.TotalMicroseconds / n;
        }
        Array.Sort(batches);
        return batches[batches.Length / 2];
    }
}
