using System.Text;
using Xunit.Sdk;

namespace ModelGen.Tests;

/// <summary>
/// A tiny snapshot helper (no Verify package): compares text with tests/ModelGen.Tests/Snapshots/&lt;name&gt;.verified.cs.
/// On a mismatch it writes &lt;name&gt;.received.cs beside it and fails with a diff excerpt. MODELGEN_ACCEPT=1 accepts
/// (overwrites the verified file). A missing verified file is created (and the test fails, so it gets reviewed), except
/// under CI (CI=true), where it is a plain failure and nothing is written.
/// </summary>
public static class Snapshot
{
    public static string Dir => Path.Combine(Harness.RepoRoot, "tests", "ModelGen.Tests", "Snapshots");

    static bool Env(string name) => Environment.GetEnvironmentVariable(name) is { } v && (v == "1" || v.Equals("true", StringComparison.OrdinalIgnoreCase));
    public static bool Accept => Env("MODELGEN_ACCEPT");
    public static bool IsCI => Env("CI");

    public static void Match(string actual, string name) => Match(actual, name, Dir, Accept, IsCI);

    /// <summary>The logic with its environment passed in (so the helper itself can be tested).</summary>
    public static void Match(string actual, string name, string dir, bool accept, bool ci)
    {
        if (name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name.Contains('/')) throw new ArgumentException("bad snapshot name " + name);
        actual = Normalize(actual);
        var verified = Path.Combine(dir, name + ".verified.cs");
        var received = Path.Combine(dir, name + ".received.cs");
        if (!File.Exists(verified))
        {
            if (ci) throw new XunitException($"snapshot {name}: {verified} is missing. Run the test locally with MODELGEN_ACCEPT=1, review and commit the file (CI never creates snapshots).");
            Directory.CreateDirectory(dir);
            File.WriteAllText(verified, actual, new UTF8Encoding(false));
            if (File.Exists(received)) File.Delete(received);
            if (!accept) throw new XunitException($"snapshot {name}: {verified} did not exist and was created from this run: review it, commit it and run again.");
            return;
        }
        var expected = Normalize(File.ReadAllText(verified));
        if (expected == actual)
        {
            if (File.Exists(received)) File.Delete(received);
            return;
        }
        if (accept && !ci)
        {
            File.WriteAllText(verified, actual, new UTF8Encoding(false));
            if (File.Exists(received)) File.Delete(received);
            return;
        }
        File.WriteAllText(received, actual, new UTF8Encoding(false));
        throw new XunitException($"snapshot {name} differs from {verified} (this run was written to {received}; " +
            "if the change is intended, run with MODELGEN_ACCEPT=1 or copy the received file over the verified one):\n" + Diff(expected, actual));
    }

    static string Normalize(string s) => s.Replace("\r\n", "\n");

    /// <summary>A short unified-style excerpt around the first differing lines.</summary>
    public static string Diff(string expected, string actual, int context = 3, int maxLines = 40)
    {
        var e = expected.Split('\n');
        var a = actual.Split('\n');
        int start = 0;
        while (start < e.Length && start < a.Length && e[start] == a[start]) start++;
        int ee = e.Length - 1, ae = a.Length - 1;
        while (ee >= start && ae >= start && e[ee] == a[ae]) { ee--; ae--; }
        var sb = new StringBuilder();
        sb.Append($"@@ first difference at line {start + 1}: verified lines {start + 1}-{ee + 1}, received lines {start + 1}-{ae + 1} @@\n");
        int lines = 0;
        for (int i = Math.Max(0, start - context); i < start; i++) sb.Append("  ").Append(e[i]).Append('\n');
        for (int i = start; i <= ee && lines < maxLines / 2; i++, lines++) sb.Append("- ").Append(e[i]).Append('\n');
        if (ee - start + 1 > maxLines / 2) sb.Append($"- ... ({ee - start + 1 - maxLines / 2} more)\n");
        lines = 0;
        for (int i = start; i <= ae && lines < maxLines / 2; i++, lines++) sb.Append("+ ").Append(a[i]).Append('\n');
        if (ae - start + 1 > maxLines / 2) sb.Append($"+ ... ({ae - start + 1 - maxLines / 2} more)\n");
        for (int i = ee + 1; i < Math.Min(e.Length, ee + 1 + context); i++) sb.Append("  ").Append(e[i]).Append('\n');
        return sb.ToString();
    }
}
