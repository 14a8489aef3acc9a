namespace ModelGen.Compiler.Emit;

/// <summary>
/// Math for the Portable profile: nanoFramework's mscorlib has no System.Math, so the generated class carries
/// its own float functions (double-precision internally, so float results are accurate to about 1 ulp).
/// </summary>
static class PortableMath
{
    public static void Write(CodeWriter w)
    {
        foreach (var line in Source.Split('\n')) w.Line(line.TrimEnd('\r'));
    }

    const string Source = @"// Self-contained math (nanoFramework has no System.Math).
static float MgMax(float a, float b) { return a != a ? a : (a > b ? a : b); }
static float MgMin(float a, float b) { return a != a ? a : (a < b ? a : b); }
static float MgAbs(float x) { return x < 0f ? -x : x; }
static float MgFloor(float x) { double t = (double)(long)x; return (float)(t > x ? t - 1.0 : t); }
static float MgCeiling(float x) { double t = (double)(long)x; return (float)(t < x ? t + 1.0 : t); }
static float MgSqrt(float x) { return (float)SqrtD(x); }
static float MgExp(float x) { return (float)ExpD(x); }
static float MgLog(float x) { return (float)LogD(x); }
static float MgTanh(float x)
{
    if (x > 20f) return 1f;
    if (x < -20f) return -1f;
    double e = ExpD(2.0 * x);
    return (float)((e - 1.0) / (e + 1.0));
}
static float MgPow(float a, float b)
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
}
static double SqrtD(double x)
{
    if (x <= 0.0 || x != x) return x == 0.0 ? x : double.NaN;
    if (x > double.MaxValue) return x;
    double s = 1.0, m = x;
    while (m > 4.0) { m *= 0.25; s *= 2.0; }
    while (m < 0.25) { m *= 4.0; s *= 0.5; }
    double r = 0.5 * (m + 1.0);
    for (int i = 0; i < 6; i++) r = 0.5 * (r + m / r);
    return r * s;
}
static double ExpD(double x)
{
    if (x != x) return x;
    if (x > 709.0) return double.PositiveInfinity;
    if (x < -745.0) return 0.0;
    // x = k ln2 + r, |r| <= ln2/2; e^r by Taylor series; times 2^k by repeated scaling
    const double Ln2 = 0.69314718055994530942;
    double kd = x / Ln2;
    long k = (long)(kd < 0 ? kd - 0.5 : kd + 0.5);
    double r = x - k * Ln2, term = 1.0, sum = 1.0;
    for (int i = 1; i < 18; i++) { term *= r / i; sum += term; }
    double p = 1.0, b = k < 0 ? 0.5 : 2.0;
    long n = k < 0 ? -k : k;
    while (n > 0) { if ((n & 1) != 0) p *= b; b *= b; n >>= 1; }
    return sum * p;
}
static double LogD(double x)
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
}";
}
