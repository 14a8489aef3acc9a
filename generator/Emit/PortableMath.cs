using System.Collections.Generic;
using System.Linq;

namespace ModelGen.Compiler.Emit;

/// <summary>
/// Math helpers written into the generated class. nanoFramework's mscorlib has no System.Math, so the Portable
/// profile carries its own (double precision inside, float results accurate to about 1 ulp); the Net profile uses
/// MathF, the runtime's Transcendental.Erf, and these helpers only for QMul. Only the helpers a model uses are emitted.
/// </summary>
static class PortableMath
{
    /// <summary>Function -> (helpers it calls, source).</summary>
    static readonly Dictionary<string, (string[] Deps, string Code)> s_fns = new()
    {
        ["Max"] = (new string[0], "static float MgMax(float a, float b) { return a != a ? a : (a > b ? a : b); }"),
        ["Min"] = (new string[0], "static float MgMin(float a, float b) { return a != a ? a : (a < b ? a : b); }"),
        ["Abs"] = (new string[0], "static float MgAbs(float x) { return x < 0f ? -x : x; }"),
        ["Half"] = (new string[0], ModelGen.Compiler.Half.Source),
        ["Floor"] = (new string[0], "static float MgFloor(float x) { if (!(x > -8388608f && x < 8388608f)) return x; float t = (float)(long)x; return t > x ? t - 1f : t; }"),
        ["Ceiling"] = (new string[0], "static float MgCeiling(float x) { if (!(x > -8388608f && x < 8388608f)) return x; float t = (float)(long)x; return t < x ? t + 1f : t; }"),
        ["Round"] = (new[] { "Floor" }, "static float MgRound(float x) { float f = MgFloor(x); float d = x - f; if (d > 0.5f || d == 0.5f && ((long)f & 1) != 0) f += 1f; return f; }"),
        ["Sqrt"] = (new[] { "SqrtD" }, "static float MgSqrt(float x) { return (float)SqrtD(x); }"),
        ["Exp"] = (new[] { "ExpD" }, "static float MgExp(float x) { return (float)ExpD(x); }"),
        ["Log"] = (new[] { "LogD" }, "static float MgLog(float x) { return (float)LogD(x); }"),
        ["Tanh"] = (new[] { "ExpD" }, "static float MgTanh(float x) { if (x > 20f) return 1f; if (x < -20f) return -1f; if (x > -1e-4f && x < 1e-4f) return x; double e = ExpD(2.0 * x); return (float)((e - 1.0) / (e + 1.0)); }"),
        ["Sinh"] = (new[] { "ExpD" }, "static float MgSinh(float x) { if (x > -1e-4f && x < 1e-4f) return x; double e = ExpD(x); return (float)((e - 1.0 / e) * 0.5); }"),
        ["Cosh"] = (new[] { "ExpD" }, "static float MgCosh(float x) { double e = ExpD(x); return (float)((e + 1.0 / e) * 0.5); }"),
        ["Asinh"] = (new[] { "LogD", "SqrtD" }, "static float MgAsinh(float x) { double a = x < 0f ? -x : x; double r = LogD(a + SqrtD(a * a + 1.0)); if (a < 1e-4) r = a; return (float)(x < 0f ? -r : r); }"),
        ["Acosh"] = (new[] { "LogD", "SqrtD" }, "static float MgAcosh(float x) { return (float)LogD(x + SqrtD((double)x * x - 1.0)); }"),
        ["Atanh"] = (new[] { "LogD" }, "static float MgAtanh(float x) { if (x > -1e-4f && x < 1e-4f) return x; return (float)(0.5 * LogD((1.0 + x) / (1.0 - x))); }"),
        ["Pow"] = (new[] { "ExpD", "LogD" }, @"static float MgPow(float a, float b)
{
    if (b == 0f) return 1f;
    if (b == (float)(int)b && b > -64f && b < 64f)
    {
        int n = (int)b; double r = 1.0, p = a; bool neg = n < 0; if (neg) n = -n;
        while (n > 0) { if ((n & 1) != 0) r *= p; p *= p; n >>= 1; }
        return (float)(neg ? 1.0 / r : r);
    }
    if (a < 0f) return float.NaN;
    if (a == 0f) return b > 0f ? 0f : float.PositiveInfinity;
    return (float)ExpD(b * LogD(a));
}"),
        ["Sin"] = (new[] { "SinD" }, "static float MgSin(float x) { return (float)SinD(x); }"),
        ["Cos"] = (new[] { "SinD" }, "static float MgCos(float x) { return (float)SinD(x + 1.5707963267948966); }"),
        ["Tan"] = (new[] { "SinD" }, "static float MgTan(float x) { return (float)(SinD(x) / SinD(x + 1.5707963267948966)); }"),
        ["Atan"] = (new[] { "AtanD" }, "static float MgAtan(float x) { return (float)AtanD(x); }"),
        ["Asin"] = (new[] { "AtanD", "SqrtD" }, "static float MgAsin(float x) { if (x > 1f || x < -1f) return float.NaN; if (x == 1f || x == -1f) return x * 1.5707964f; return (float)AtanD(x / SqrtD(1.0 - (double)x * x)); }"),
        ["Acos"] = (new[] { "Asin" }, "static float MgAcos(float x) { if (x > 1f || x < -1f) return float.NaN; return (float)(1.5707963267948966 - MgAsin(x)); }"),
        ["Erf"] = (new[] { "ExpD" }, @"static float MgErf(float x)
{
    // Abramowitz-Stegun 7.1.26 is too coarse for float; use the series below 2.5 and the continued fraction above.
    double a = x < 0f ? -x : x, r;
    if (a < 2.5)
    {
        double term = a, sum = a, a2 = a * a;
        for (int n = 1; n < 60; n++) { term *= -a2 / n; double t = term / (2 * n + 1); sum += t; if (t < 1e-17 && t > -1e-17) break; }
        r = sum * 1.1283791670955126;
    }
    else if (a > 6.0) r = 1.0;
    else
    {
        double f = 0.0;
        for (int n = 60; n >= 1; n--) f = n * 0.5 / (a + f);
        r = 1.0 - ExpD(-a * a) / (a + f) * 0.56418958354775628;
    }
    return (float)(x < 0f ? -r : r);
}"),
        ["QMul"] = (new string[0], Quant.FixedPoint.Source),
        ["SqrtD"] = (new string[0], @"static double SqrtD(double x)
{
    if (x <= 0.0 || x != x) return x == 0.0 ? x : double.NaN;
    if (x > double.MaxValue) return x;
    double s = 1.0, m = x;
    while (m > 4.0) { m *= 0.25; s *= 2.0; }
    while (m < 0.25) { m *= 4.0; s *= 0.5; }
    double r = 0.5 * (m + 1.0);
    for (int i = 0; i < 6; i++) r = 0.5 * (r + m / r);
    return r * s;
}"),
        ["ExpD"] = (new string[0], @"static double ExpD(double x)
{
    if (x != x) return x;
    if (x > 709.0) return double.PositiveInfinity;
    if (x < -745.0) return 0.0;
    // x = k ln2 + r with |r| <= ln2/2; e^r by its Taylor series, times 2^k by squaring
    const double Ln2 = 0.69314718055994530942;
    double kd = x / Ln2;
    long k = (long)(kd < 0 ? kd - 0.5 : kd + 0.5);
    double r = x - k * Ln2, term = 1.0, sum = 1.0;
    for (int i = 1; i < 18; i++) { term *= r / i; sum += term; }
    double p = 1.0, b = k < 0 ? 0.5 : 2.0;
    long n = k < 0 ? -k : k;
    while (n > 0) { if ((n & 1) != 0) p *= b; b *= b; n >>= 1; }
    return sum * p;
}"),
        ["LogD"] = (new string[0], @"static double LogD(double x)
{
    if (x != x || x < 0.0) return double.NaN;
    if (x == 0.0) return double.NegativeInfinity;
    if (x > double.MaxValue) return x;
    // x = m 2^e with m in [sqrt(1/2), sqrt(2)); ln m = 2 atanh((m-1)/(m+1))
    int e = 0; double m = x;
    while (m > 1.4142135623730951) { m *= 0.5; e++; }
    while (m < 0.70710678118654752) { m *= 2.0; e--; }
    double z = (m - 1.0) / (m + 1.0), z2 = z * z, term = z, sum = 0.0;
    for (int i = 1; i < 40; i += 2) { sum += term / i; term *= z2; }
    return 2.0 * sum + e * 0.69314718055994530942;
}"),
        // exact in double: beyond 2^52 every double is an integer
        ["FloorDbl"] = (new string[0], "static double FloorDbl(double x) { if (!(x > -4503599627370496.0 && x < 4503599627370496.0)) return x; double t = (double)(long)x; return t > x ? t - 1.0 : t; }"),
        ["CeilingDbl"] = (new string[0], "static double CeilingDbl(double x) { if (!(x > -4503599627370496.0 && x < 4503599627370496.0)) return x; double t = (double)(long)x; return t < x ? t + 1.0 : t; }"),
        ["RoundDbl"] = (new[] { "FloorDbl" }, "static double RoundDbl(double x) { double f = FloorDbl(x); double d = x - f; if (d > 0.5 || d == 0.5 && ((long)f & 1) != 0) f += 1.0; return f; }"),
        ["SinD"] = (new string[0], @"static double SinD(double x)
{
    if (x != x || x > 1e15 || x < -1e15) return double.NaN;
    // reduce to [-pi, pi], then Taylor series
    const double TwoPi = 6.283185307179586;
    long k = (long)(x / TwoPi + (x < 0 ? -0.5 : 0.5));
    double r = x - k * TwoPi, r2 = r * r, term = r, sum = r;
    for (int i = 1; i < 20; i++) { term *= -r2 / ((2 * i) * (2 * i + 1)); sum += term; }
    return sum;
}"),
        ["AtanD"] = (new string[0], @"static double AtanD(double x)
{
    if (x != x) return x;
    bool neg = x < 0; if (neg) x = -x;
    bool inv = x > 1.0; if (inv) x = 1.0 / x;
    // atan(x) = 2 atan(x / (1 + sqrt(1 + x^2))) twice, then the series converges fast
    double y = x;
    for (int h = 0; h < 2; h++) { double s = 1.0 + y * y, q = 1.0; for (int i = 0; i < 30; i++) q = 0.5 * (q + s / q); y = y / (1.0 + q); }
    double y2 = y * y, term = y, sum = 0.0;
    for (int i = 1; i < 40; i += 2) { sum += term / i; term *= -y2; }
    double r = 4.0 * sum;
    if (inv) r = 1.5707963267948966 - r;
    return neg ? -r : r;
}"),
    };

    /// <summary>Functions neither MathF nor the runtime has: the Net profile emits these helpers too.</summary>
    public static bool NetNeedsHelper(string fn) => fn == "QMul";

    public static void Write(CodeWriter w, IEnumerable<string> used)
    {
        var all = new SortedSet<string>(System.StringComparer.Ordinal);
        void Add(string fn)
        {
            if (!s_fns.ContainsKey(fn) || !all.Add(fn)) return;
            foreach (var d in s_fns[fn].Deps) Add(d);
        }
        foreach (var fn in used) Add(fn);
        if (all.Count == 0) return;
        w.Line();
        w.Line("// Math helpers (self-contained: nanoFramework has no System.Math).");
        foreach (var fn in all)
            foreach (var line in s_fns[fn].Code.Split('\n')) w.Line(line.TrimEnd('\r'));
    }

    public static bool Has(string fn) => s_fns.ContainsKey(fn);
}
