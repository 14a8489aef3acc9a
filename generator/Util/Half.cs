namespace ModelGen.Compiler;

/// <summary>
/// float16 models compute in float32 (ModelGen has no half arithmetic): a Cast to float16 rounds each value to the
/// nearest float16 (ties to even; beyond the largest finite half, infinity), so the value a float16 graph would carry
/// is what flows on. Arithmetic, not bit tricks: the same code is written into Portable models (no BitConverter there).
/// </summary>
public static class Half
{
    public static float Round(float x)
    {
        if (float.IsNaN(x) || x == 0) return x; // NaN, and zeros keep their sign
        double a = x < 0 ? -x : x;
        // 65520 is halfway between 65504 (the largest half) and 65536: ties to even go up, to infinity
        if (a >= 65520) return x < 0 ? float.NegativeInfinity : float.PositiveInfinity;
        // the spacing of halves around a: 2^-24 up to 2^-13 (subnormals and the first binade), then doubling per binade
        double q = 1.0 / 16777216, top = 1.0 / 8192;
        while (a >= top) { q *= 2; top *= 2; }
        double r = a / q;
        long n = (long)r;
        double f = r - n;
        if (f > 0.5 || f == 0.5 && (n & 1) != 0) n++;
        float v = (float)(n * q);
        return x < 0 ? -v : v;
    }

    /// <summary>The same function as C# source for the Portable profile's helpers.</summary>
    public const string Source = "static float MgHalf(float x) { if (x != x || x == 0) return x; double a = x < 0 ? -x : x; if (a >= 65520) return x < 0 ? float.NegativeInfinity : float.PositiveInfinity; double q = 1.0 / 16777216, top = 1.0 / 8192; while (a >= top) { q *= 2; top *= 2; } double r = a / q; long n = (long)r; double f = r - n; if (f > 0.5 || f == 0.5 && (n & 1) != 0) n++; float v = (float)(n * q); return x < 0 ? -v : v; }";
}
