using System.Diagnostics;
using ModelGen.Runtime;
namespace ModelGen.Benchmarks;
internal static class PanelExp
{
    public static void Run(string[] args)
    {
        if (args[0] == "raw") { foreach (var (v, pc, taps) in new[] { (4, 6, 64), (4, 6, 576), (3, 8, 64), (3, 8, 576), (1, 8, 576), (4, 2, 64) }) { ConvPanelsExp.Raw(v, pc, taps, 1000); Console.WriteLine($"raw {v}x{pc} taps {taps}: {ConvPanelsExp.Raw(v, pc, taps, 200000 / taps * 100):F1} GMAC/s"); } return; }
        string name = args[0];
        var b = new ConvBenchmarks { Case = name };
        b.Setup();
        long macs = ConvBenchmarks.Macs(name);
        var configs = args.Skip(1).Select(a => a.Split(',').Select(int.Parse).ToArray()).ToArray(); // V,P,K ; V=-1: planes
        var t = configs.Select(_ => new List<double>()).ToArray();
        var sw = Stopwatch.StartNew();
        for (int round = 0; round < 15; round++)
            for (int c = 0; c < configs.Length; c++)
            {
                var cf = configs[c];
                ConvBenchmarks.Panels = cf[0] >= 0;
                ConvPanels.ExpV = cf[0]; ConvPanels.ExpP = cf[1]; ConvPanels.KBlockFloats = cf[2];
                for (int i = 0; i < 20; i++) b.ModelGen();
                double t0 = Quick.Now(sw);
                for (int i = 0; i < 200; i++) b.ModelGen();
                t[c].Add((Quick.Now(sw) - t0) / 200);
            }
        var o = new List<double>();
        for (int round = 0; round < 15; round++) { double t0 = Quick.Now(sw); for (int i = 0; i < 200; i++) b.Ort(); o.Add((Quick.Now(sw) - t0) / 200); }
        o.Sort();
        Console.WriteLine($"{name}: ort {o[7] * 1e6:F1} us ({macs / o[7] / 1e9:F1} GMAC/s)");
        for (int c = 0; c < configs.Length; c++)
        {
            t[c].Sort();
            Console.WriteLine($"  {string.Join(",", configs[c]),-14} {t[c][7] * 1e6,7:F1} us  {macs / t[c][7] / 1e9,5:F1} GMAC/s  best {macs / t[c][0] / 1e9,5:F1}");
        }
    }
}
