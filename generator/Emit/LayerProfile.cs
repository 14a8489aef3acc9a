using System.Collections.Generic;

namespace ModelGen.Compiler.Emit;

/// <summary>
/// Profile="true": Predict times each layer of the header's table and adds the time to <c>LayerTicks</c>, and
/// <c>ProfileReport()</c> prints microseconds per call and share per layer, so a user can see on the board itself
/// which layer costs what (TFLM's MicroProfiler does the same). The clock is Stopwatch on .NET and DateTime ticks
/// (100 ns) on the portable profile, which has no Stopwatch. Off by default: the timing calls cost a little per layer.
/// </summary>
internal static class LayerProfile
{
    public static readonly string[] Members = { "LayerTicks", "LayerNames", "ProfiledCalls", "TicksPerSecond", "ResetProfile", "ProfileReport" };

    /// <summary>An expression for the current time in ticks.</summary>
    public static string Now(bool net) => net ? "System.Diagnostics.Stopwatch.GetTimestamp()" : "DateTime.UtcNow.Ticks";

    /// <summary>Adds the time since <paramref name="last"/> to layer <paramref name="layer"/> and restarts the clock.</summary>
    public static void Lap(CodeWriter w, bool net, string last, string now, int layer)
    {
        w.Line($"{now} = {Now(net)}; LayerTicks[{layer}] += {now} - {last}; {last} = {now};");
    }

    public static void WriteMembers(CodeWriter w, bool net, IReadOnlyList<string> layers)
    {
        w.Line();
        w.Line("/// <summary>Profile=\"true\": ticks (<see cref=\"TicksPerSecond\"/> per second) spent in each layer, summed over the calls since <see cref=\"ResetProfile\"/>.</summary>");
        w.Line($"public static readonly long[] LayerTicks = new long[{layers.Count}];");
        w.Line("/// <summary>The layers <see cref=\"LayerTicks\"/> times, as the header's table lists them.</summary>");
        w.Open("public static readonly string[] LayerNames = new string[]");
        foreach (var l in layers) w.Line($"\"{l.Replace("\\", "\\\\").Replace("\"", "\\\"")}\",");
        w.Close("};");
        w.Line("/// <summary>Predict calls since <see cref=\"ResetProfile\"/>.</summary>");
        w.Line("public static long ProfiledCalls;");
        w.Line($"public static readonly long TicksPerSecond = {(net ? "System.Diagnostics.Stopwatch.Frequency" : "10000000")};");
        w.Line();
        w.Line("/// <summary>Clears the profile (call it after a warm-up call: on .NET the first call includes JIT compilation).</summary>");
        w.Open("public static void ResetProfile()");
        w.Line("for (int i = 0; i < LayerTicks.Length; i++) LayerTicks[i] = 0;");
        w.Line("ProfiledCalls = 0;");
        w.Close();
        w.Line();
        w.Line("/// <summary>One line per layer: microseconds per call, share of the total, the layer. Allocates (call it outside the timed loop).</summary>");
        w.Open("public static string ProfileReport()");
        w.Line("long total = 0;");
        w.Line("for (int i = 0; i < LayerTicks.Length; i++) total += LayerTicks[i];");
        w.Line("long calls = ProfiledCalls > 0 ? ProfiledCalls : 1;");
        w.Line("string s = \"     us/call       %  layer\\n\";");
        w.Open("for (int i = 0; i < LayerTicks.Length; i++)");
        // tenths of a microsecond and of a percent, in integers: the portable profile has no floating-point formatting
        w.Line("long us10 = LayerTicks[i] * 10000000 / TicksPerSecond / calls;");
        w.Line("long pc10 = total > 0 ? LayerTicks[i] * 1000 / total : 0;");
        w.Line("s += Pad(us10 / 10 + \".\" + us10 % 10, 12) + Pad(pc10 / 10 + \".\" + pc10 % 10, 8) + \"  \" + LayerNames[i] + \"\\n\";");
        w.Close();
        w.Line("long all10 = total * 10000000 / TicksPerSecond / calls;");
        w.Line("return s + Pad(all10 / 10 + \".\" + all10 % 10, 12) + \"   100.0  total over \" + ProfiledCalls + \" calls\\n\";");
        w.Close();
        w.Line();
        w.Line("static string Pad(string s, int width) { while (s.Length < width) s = \" \" + s; return s; }");
    }
}
