using System.Diagnostics;

namespace ModelGen.Benchmarks;

/// <summary>
/// `experiment panels [seconds]`: ResNet-8's dense 3x3 layers on ConvPanels. With seconds, each layer runs alone that
/// long (for perf record); without, A/B of <see cref="Runtime.ConvPanels.RowTiles"/> interleaved in one process.
/// </summary>
internal static class PanelsExperiment
{
    public static void Run(string[] args)
    {
        double spin = args.Length > 2 ? double.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 0;
        string filter = args.Length > 3 ? args[3] : "resnet8_3x3";
        foreach (var name in ConvBenchmarks.Cases.Where(c => c.Contains(filter)))
        {
            var b = new ConvBenchmarks { Case = name };
            b.Setup();
            long macs = ConvBenchmarks.Macs(name);
            if (spin > 0)
            {
                var sw = Stopwatch.StartNew();
                long n = 0;
                while (sw.Elapsed.TotalSeconds < spin) { b.ModelGen(); n++; }
                Console.WriteLine($"{name,-34} {sw.Elapsed.TotalSeconds / n * 1e6,7:F1} us");
            }
            else
            {
                var t = new double[2][];
                for (int side = 0; side < 2; side++) { Runtime.ConvPanels.RowTiles = side == 0; Quick.Median(b.ModelGen); t[side] = new double[15]; }
                var sw = Stopwatch.StartNew();
                for (int r = 0; r < 15; r++)
                    for (int side = 0; side < 2; side++)
                    {
                        Runtime.ConvPanels.RowTiles = side == 0;
                        double t0 = Quick.Now(sw);
                        for (int i = 0; i < 200; i++) b.ModelGen();
                        t[side][r] = (Quick.Now(sw) - t0) / 200;
                    }
                Runtime.ConvPanels.RowTiles = true;
                Array.Sort(t[0]); Array.Sort(t[1]);
                Console.WriteLine($"{name,-34} new {t[0][7] * 1e6,6:F1} us {macs / t[0][7] / 1e9,5:F1} GMAC/s   old {t[1][7] * 1e6,6:F1} us {macs / t[1][7] / 1e9,5:F1} GMAC/s   old/new {t[1][7] / t[0][7],5:F2}");
            }
            b.Cleanup();
        }
    }
}
