using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// Resize (opsets 10, 11, 13, 18, 19) and the deprecated Upsample (7, 9): nearest, linear and cubic interpolation over
/// any number of axes. The interpolation is separable, as in the ONNX reference: every output position along one axis
/// reads a few input positions (taps) with weights that depend only on that axis. Because scales, sizes and roi are
/// constant at build time, each resized axis becomes a small table of source offsets and weights, computed here once
/// with the reference's math (coordinate transform, nearest rounding, cubic/antialias coefficients, edge padding,
/// exclude_outside). The tables are attached to the node as extra constant inputs, so they are emitted like weights
/// (RVA spans in the Net profile, static arrays in the Portable profile) and the generated loops only gather and weigh.
/// </summary>
public sealed class Resize : Operator
{
    readonly bool _upsample;
    public Resize(bool upsample) { _upsample = upsample; }

    enum Mode { Nearest, Linear, Cubic }

    sealed class Settings
    {
        public Mode Mode;
        public string Ctm = "half_pixel";
        /// <summary>round_prefer_floor, round_prefer_ceil, floor, ceil, or "simple" (Upsample and Resize-10).</summary>
        public string Nearest = "round_prefer_floor";
        public double CubicA = -0.75;
        public bool ExcludeOutside, Antialias;
        /// <summary>The roi input is float32 (the reference then does part of the tf_crop_and_resize arithmetic in float32).</summary>
        public bool RoiFloat;
    }

    /// <summary>One axis: for output position o, taps t &lt; Taps read source index Src[o*Taps+t] with weight W[o*Taps+t].</summary>
    internal sealed class AxisTable
    {
        public int In, Out, Taps;
        public int[] Src;
        public double[] W;
        /// <summary>Output positions outside [Lo, Hi] take extrapolation_value (tf_crop_and_resize).</summary>
        public int Lo, Hi;
        public bool Identity, Gather;
        public Value SrcConst, WConst;
        public bool Extrapolates => Lo > 0 || Hi < Out - 1;
    }

    internal sealed class Plan
    {
        public AxisTable[] Axes;
        public double Extrapolation;
    }

    // ---------------- inference ----------------

    public override void Infer(Node n)
    {
        int maxInputs = _upsample ? (n.Opset >= 9 ? 2 : 1) : n.Opset >= 11 ? 4 : 2;
        Require(n, 1, maxInputs);
        var x = n.In(0);
        var s = ReadSettings(n);
        if (s.Mode != Mode.Nearest && !DTypes.IsFloat(x.Type) && !DTypes.IsInteger(x.Type))
            throw new CompileException(Diag.UnsupportedType, $"{n.OpType} {s.Mode.ToString().ToLowerInvariant()} on {DTypes.OnnxName(x.Type)} is not supported");
        if (!DTypes.IsSupported(x.Type)) throw new CompileException(Diag.UnsupportedType, $"{n.OpType} on {DTypes.OnnxName(x.Type)} is not supported");
        int r = x.Shape.Length;

        // scales / sizes / roi, by opset
        double[] scales = null; long[] sizes = null; double[] roi = null;
        if (_upsample && n.Opset < 9)
        {
            var a = n.Floats("scales") ?? throw Error("Upsample-7 needs the 'scales' attribute");
            scales = a.Select(f => (double)f).ToArray();
        }
        else if (_upsample || n.Opset < 11)
        {
            scales = ConstInput(n, 1, "scales", required: true);
        }
        else
        {
            var sc = ConstInput(n, 2, "scales", required: false);
            var sz = ConstLongInput(n, 3, "sizes");
            if (sc != null && sc.Length > 0) scales = sc;
            if (sz != null && sz.Length > 0) sizes = sz;
            if (scales != null && sizes != null) throw Error("Resize takes either 'scales' or 'sizes', not both");
            if (scales == null && sizes == null) throw Error("Resize needs non-empty 'scales' or 'sizes'");
            if (s.Ctm == "tf_crop_and_resize")
            {
                roi = ConstInput(n, 1, "roi", required: false);
                if (roi == null || roi.Length == 0) throw Error("Resize with coordinate_transformation_mode tf_crop_and_resize needs the 'roi' input");
                s.RoiFloat = n.In(1).Type == DType.Float;
            }
        }

        // axes (opset 18): scales, sizes and roi name only those axes
        int[] axes = Enumerable.Range(0, r).ToArray();
        bool hasAxes = false;
        if (!_upsample && n.Opset >= 18 && n.Has("axes"))
        {
            axes = n.Ints("axes").Select(a => Shape.Axis(a, r, "Resize axis")).ToArray();
            if (axes.Distinct().Count() != axes.Length) throw Error("Resize 'axes' has a repeated axis");
            hasAxes = true;
        }
        int count = (scales?.Length ?? sizes.Length);
        if (count != axes.Length)
            throw Error($"{n.OpType} {(scales != null ? "scales" : "sizes")} has {count} values, expected {axes.Length} ({(hasAxes ? "one per axis in 'axes'" : "one per input dimension")})");
        if (roi != null && roi.Length != 2 * axes.Length) throw Error($"Resize roi has {roi.Length} values, expected {2 * axes.Length}");

        var scale = new double[r]; var outSize = new int[r]; var outFloat = new double[r];
        var roiStart = new double[r]; var roiEnd = new double[r];
        for (int i = 0; i < r; i++) { scale[i] = 1; outSize[i] = x.Shape[i]; outFloat[i] = x.Shape[i]; roiEnd[i] = 1; }
        if (roi != null)
            for (int k = 0; k < axes.Length; k++) { roiStart[axes[k]] = roi[k]; roiEnd[axes[k]] = roi[axes.Length + k]; }

        if (scales != null)
        {
            for (int k = 0; k < axes.Length; k++)
            {
                double v = scales[k];
                int d = axes[k];
                if (!(v > 0) || double.IsInfinity(v)) throw Error($"{n.OpType} scale {v.ToString(CultureInfo.InvariantCulture)} must be positive");
                if (_upsample && v < 1) throw Error($"Upsample scale {v.ToString(CultureInfo.InvariantCulture)} must be >= 1");
                scale[d] = v;
                outFloat[d] = (float)(v * x.Shape[d]); // float32 scale * int in the reference
                if (outFloat[d] >= Shape.MaxElements) throw new CompileException(Diag.TensorTooLarge, $"{n.OpType} output dimension {outFloat[d]} is too large");
                outSize[d] = (int)Math.Floor(v * x.Shape[d]);
            }
        }
        else
        {
            for (int k = 0; k < axes.Length; k++)
            {
                int d = axes[k];
                if (sizes[k] < 0 || sizes[k] >= Shape.MaxElements) throw Error($"Resize size {sizes[k]} is invalid");
                outSize[d] = (int)sizes[k];
                scale[d] = x.Shape[d] == 0 ? 1 : (double)sizes[k] / x.Shape[d];
                outFloat[d] = sizes[k];
            }
            var policy = !_upsample && n.Opset >= 18 ? n.Str("keep_aspect_ratio_policy", "stretch") : "stretch";
            if (policy != "stretch")
            {
                if (policy != "not_larger" && policy != "not_smaller") throw Unsupported($"Resize keep_aspect_ratio_policy '{policy}'");
                double pick = policy == "not_larger" ? axes.Min(d => scale[d]) : axes.Max(d => scale[d]);
                foreach (var d in axes)
                {
                    scale[d] = pick;
                    outFloat[d] = pick * x.Shape[d];
                    outSize[d] = (int)(outFloat[d] + 0.5);
                }
            }
        }

        for (int d = 0; d < r; d++)
            if (x.Shape[d] == 0 && outSize[d] != 0) throw Error($"{n.OpType} cannot resize an empty dimension {d} to {outSize[d]}");
        var plan = new Plan { Axes = new AxisTable[r], Extrapolation = n.Float("extrapolation_value", 0f) };
        for (int d = 0; d < r; d++)
            plan.Axes[d] = BuildAxis(s, x.Shape[d], outSize[d], scale[d], outFloat[d], roiStart[d], roiEnd[d]);
        n.State = plan;
        SetOut(n, 0, x.Type, outSize);
        AttachTables(n, plan, maxInputs, x.Type);
    }

    Settings ReadSettings(Node n)
    {
        if (_upsample && n.Opset < 7) throw Unsupported("Upsample-1 (experimental) is not supported; use opset 7 or later");
        var s = new Settings();
        var mode = n.Str("mode", "nearest");
        s.Mode = mode switch
        {
            "nearest" => Mode.Nearest,
            "linear" => Mode.Linear,
            "bilinear" when _upsample => Mode.Linear,
            "cubic" when !_upsample && n.Opset >= 11 => Mode.Cubic,
            _ => throw Unsupported($"{n.OpType}-{n.Opset} mode '{mode}'"),
        };
        if (_upsample || n.Opset < 11)
        {
            // Upsample and Resize-10: asymmetric coordinates; nearest truncates (ceil when downsampling), as ONNX Runtime does
            s.Ctm = "asymmetric";
            s.Nearest = "simple";
            return s;
        }
        s.Ctm = n.Str("coordinate_transformation_mode", "half_pixel");
        if (s.Ctm is not ("half_pixel" or "half_pixel_symmetric" or "pytorch_half_pixel" or "align_corners" or "asymmetric" or "tf_half_pixel_for_nn" or "tf_crop_and_resize"))
            throw Unsupported($"Resize coordinate_transformation_mode '{s.Ctm}'");
        s.Nearest = n.Str("nearest_mode", "round_prefer_floor");
        if (s.Nearest is not ("round_prefer_floor" or "round_prefer_ceil" or "floor" or "ceil"))
            throw Unsupported($"Resize nearest_mode '{s.Nearest}'");
        s.CubicA = n.Float("cubic_coeff_a", -0.75f);
        s.ExcludeOutside = n.Int("exclude_outside", 0) != 0;
        if (n.Opset >= 18)
        {
            // antialias only changes linear and cubic (a low-pass filter when downscaling)
            s.Antialias = n.Int("antialias", 0) != 0 && s.Mode != Mode.Nearest;
        }
        return s;
    }

    static double[] ConstInput(Node n, int i, string what, bool required)
    {
        var v = n.In(i);
        if (v == null)
        {
            if (required) throw Error($"{n.OpType} needs the '{what}' input");
            return null;
        }
        if (!v.IsConst)
            throw new CompileException(Diag.DynamicShape, $"{n.OpType} '{what}' input '{v.Name}' is computed at run time; ModelGen needs it constant at build time (an initializer, or computed from shapes only) to fix the output shape");
        if (!DTypes.IsFloat(v.Type)) throw Error($"{n.OpType} '{what}' must be a float tensor");
        var r = new double[v.Const.Length];
        for (int k = 0; k < r.Length; k++) r[k] = v.Const.GetDouble(k);
        return r;
    }

    static long[] ConstLongInput(Node n, int i, string what)
    {
        var v = n.In(i);
        if (v == null) return null;
        if (!v.IsConst)
            throw new CompileException(Diag.DynamicShape, $"{n.OpType} '{what}' input '{v.Name}' is computed at run time; ModelGen needs it constant at build time (an initializer, or computed from shapes only) to fix the output shape");
        if (v.Type != DType.Int64) throw Error($"{n.OpType} '{what}' must be an int64 tensor");
        return v.Const.ToLongs();
    }

    // ---------------- per-axis tables (the reference math) ----------------

    /// <summary>The input coordinate of output position x (the coordinate_transformation_mode).</summary>
    static double Original(Settings s, int x, int inLen, int outLen, double scale, double outFloat, double roiStart, double roiEnd)
    {
        switch (s.Ctm)
        {
            case "align_corners": return outFloat == 1 ? 0 : x * (double)(inLen - 1) / (outFloat - 1);
            case "asymmetric": return x / scale;
            case "tf_crop_and_resize":
                {
                    if (s.RoiFloat)
                    {
                        // a float roi: the reference forms (end - start) and start * (in - 1) in float32
                        float span = (float)roiEnd - (float)roiStart, start = (float)roiStart * (inLen - 1);
                        return outFloat == 1 ? (float)(span * (inLen - 1) / 2f) + start : x * (double)span * (inLen - 1) / (outFloat - 1) + start;
                    }
                    double o = outFloat == 1 ? (roiEnd - roiStart) * (inLen - 1) / 2 : x * (roiEnd - roiStart) * (inLen - 1) / (outFloat - 1);
                    return o + roiStart * (inLen - 1);
                }
            case "pytorch_half_pixel": return outFloat == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
            case "tf_half_pixel_for_nn": return (x + 0.5) / scale;
            case "half_pixel_symmetric":
                {
                    double adjustment = outLen / outFloat;
                    double center = inLen / 2.0;
                    double offset = center * (1 - adjustment);
                    return offset + (x + 0.5) / scale - 0.5;
                }
            default: return (x + 0.5) / scale - 0.5;
        }
    }

    /// <summary>Weights of the taps around the coordinate; ratio in (0, 1] is the distance from the tap left of it.</summary>
    static double[] Coefficients(Settings s, double ratio, double scale)
    {
        switch (s.Mode)
        {
            case Mode.Nearest:
                {
                    if (ratio == 1) return new double[] { 0, 1 };
                    bool right = s.Nearest switch
                    {
                        "round_prefer_floor" => ratio > 0.5,
                        "round_prefer_ceil" => ratio >= 0.5,
                        "floor" => false,
                        _ => true,
                    };
                    return right ? new double[] { 0, 1 } : new double[] { 1, 0 };
                }
            case Mode.Linear when !s.Antialias:
                return new[] { 1 - ratio, ratio };
            case Mode.Linear:
                {
                    double sc = Math.Min(scale, 1.0);
                    int start = (int)Math.Floor(-1 / sc) + 1;
                    int footprint = 2 - 2 * start;
                    var c = new double[footprint];
                    double sum = 0;
                    for (int i = 0; i < footprint; i++) { c[i] = Math.Min(1, Math.Max(0, 1 - Math.Abs((start + i - ratio) * sc))); sum += c[i]; }
                    for (int i = 0; i < footprint; i++) c[i] /= sum;
                    return c;
                }
            case Mode.Cubic when !s.Antialias:
                {
                    double a = s.CubicA, r = ratio;
                    return new[]
                    {
                        ((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
                        ((a + 2) * r - (a + 3)) * r * r + 1,
                        ((a + 2) * (1 - r) - (a + 3)) * (1 - r) * (1 - r) + 1,
                        ((a * ((1 - r) + 1) - 5 * a) * ((1 - r) + 1) + 8 * a) * ((1 - r) + 1) - 4 * a,
                    };
                }
            default:
                {
                    double sc = Math.Min(scale, 1.0), a = s.CubicA;
                    int iStart = (int)Math.Floor(-2 / sc) + 1, iEnd = 2 - iStart;
                    var c = new double[iEnd - iStart];
                    double sum = 0;
                    for (int i = iStart; i < iEnd; i++)
                    {
                        double v = Math.Abs(sc * (i - ratio)), v2 = v * v, v3 = v * v2;
                        c[i - iStart] = v <= 1 ? (a + 2) * v3 - (a + 3) * v2 + 1 : v < 2 ? a * v3 - 5 * a * v2 + 8 * a * v - 4 * a : 0;
                        sum += c[i - iStart];
                    }
                    for (int i = 0; i < c.Length; i++) c[i] /= sum;
                    return c;
                }
        }
    }

    /// <summary>
    /// The n integer positions nearest to x (ties: the smaller), among the input edge-padded by ceil(n/2) on each
    /// side, ascending. Positions outside [0, limit) read the edge value.
    /// </summary>
    static int[] Neighbors(double x, int n, int limit)
    {
        int pad = (n + 1) / 2;
        int lo = -pad, hi = limit - 1 + pad;
        long c = (long)Math.Floor(Math.Max(lo, Math.Min(hi, x)));
        var cand = new List<int>();
        for (long i = Math.Max(lo, c - n - 1); i <= Math.Min(hi, c + n + 1); i++) cand.Add((int)i);
        return cand.OrderBy(i => Math.Abs(x - i)).ThenBy(i => i).Take(n).OrderBy(i => i).ToArray();
    }

    static AxisTable BuildAxis(Settings s, int inLen, int outLen, double scale, double outFloat, double roiStart, double roiEnd)
    {
        var taps = new List<(int Src, double W)>[outLen];
        int lo = outLen, hi = -1;
        for (int x = 0; x < outLen; x++)
        {
            var t = taps[x] = new List<(int, double)>();
            double xo = Original(s, x, inLen, outLen, scale, outFloat, roiStart, roiEnd);
            if (s.Ctm == "tf_crop_and_resize" && (xo < 0 || xo > inLen - 1)) continue;
            lo = Math.Min(lo, x); hi = Math.Max(hi, x);
            if (inLen == 0) continue;
            if (s.Mode == Mode.Nearest && s.Nearest == "simple")
            {
                double k = scale < 1 ? Math.Ceiling(xo) : Math.Truncate(xo);
                t.Add(((int)Math.Max(0, Math.Min(inLen - 1, k)), 1.0));
                continue;
            }
            double ratio = xo == Math.Floor(xo) ? 1 : xo - Math.Floor(xo);
            var c = Coefficients(s, ratio, scale);
            var idx = Neighbors(xo, c.Length, inLen);
            if (s.ExcludeOutside && s.Mode != Mode.Nearest)
            {
                double sum = 0;
                for (int i = 0; i < c.Length; i++) { if (idx[i] < 0 || idx[i] >= inLen) c[i] = 0; sum += c[i]; }
                for (int i = 0; i < c.Length; i++) c[i] /= sum;
            }
            // edge padding: taps outside read the border; taps on the same source merge, zero weights drop
            for (int i = 0; i < c.Length; i++)
            {
                if (c[i] == 0) continue;
                int src = Math.Max(0, Math.Min(inLen - 1, idx[i]));
                int at = t.FindIndex(p => p.Src == src);
                if (at >= 0) t[at] = (src, t[at].W + c[i]);
                else t.Add((src, c[i]));
            }
        }
        var a = new AxisTable { In = inLen, Out = outLen, Lo = lo, Hi = hi };
        if (hi < lo) { a.Lo = outLen; a.Hi = -1; }
        a.Taps = Math.Max(1, taps.Length == 0 ? 1 : taps.Max(t => t.Count));
        a.Src = new int[outLen * a.Taps];
        a.W = new double[outLen * a.Taps];
        bool gather = a.Taps == 1, identity = inLen == outLen && !a.Extrapolates;
        for (int x = 0; x < outLen; x++)
        {
            var t = taps[x];
            for (int k = 0; k < a.Taps; k++)
            {
                var (src, w) = k < t.Count ? t[k] : (t.Count > 0 ? t[0].Src : 0, 0.0);
                if (a.Taps == 1 && t.Count == 1 && Math.Abs(w - 1) < 1e-9) w = 1;
                a.Src[x * a.Taps + k] = src;
                a.W[x * a.Taps + k] = w;
            }
            if (a.Taps == 1 && t.Count == 1 && a.W[x] != 1) gather = false;
            if (a.Taps == 1 && t.Count == 0 && x >= a.Lo && x <= a.Hi) gather = false;
            if (!(a.Taps == 1 && a.Src[x] == x && a.W[x] == 1)) identity = false;
        }
        a.Gather = gather;
        a.Identity = identity && gather;
        return a;
    }

    /// <summary>Adds the tables of the resized axes as constant inputs after the ONNX inputs (so they are emitted as constants).</summary>
    static void AttachTables(Node n, Plan p, int onnxInputs, DType type)
    {
        while (n.Inputs.Count < onnxInputs) n.Inputs.Add(null);
        var x = n.In(0);
        var strides = Shape.Strides(x.Shape);
        var y = n.Out();
        var wType = type == DType.Float ? DType.Float : DType.Double;
        for (int d = 0; d < p.Axes.Length; d++)
        {
            var a = p.Axes[d];
            if (a.Identity || a.Out == 0) continue;
            var src = new TensorData(DType.Int32, new[] { a.Src.Length });
            for (int i = 0; i < a.Src.Length; i++) src.SetLong(i, (long)a.Src[i] * strides[d]);
            a.SrcConst = new Value($"{y.Name}_axis{d}_src") { Type = DType.Int32, Shape = src.Shape, Const = src };
            n.Inputs.Add(a.SrcConst);
            if (a.Gather) continue;
            var w = new TensorData(wType, new[] { a.W.Length });
            for (int i = 0; i < a.W.Length; i++) w.Set(i, a.W[i]);
            a.WConst = new Value($"{y.Name}_axis{d}_weight") { Type = wType, Shape = w.Shape, Const = w };
            n.Inputs.Add(a.WConst);
        }
    }

    // ---------------- reference evaluation ----------------

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var p = (Plan)n.State;
        var x = inputs[0];
        var y = x.Like(n.Out().Shape);
        int r = p.Axes.Length;
        var xs = Shape.Strides(x.Shape);
        var o = new int[r];
        for (int flat = 0; flat < y.Length; flat++)
        {
            int rem = flat;
            for (int d = r - 1; d >= 0; d--) { o[d] = rem % y.Shape[d]; rem /= y.Shape[d]; }
            bool extrapolate = false;
            for (int d = 0; d < r; d++) if (o[d] < p.Axes[d].Lo || o[d] > p.Axes[d].Hi) extrapolate = true;
            if (extrapolate) { y.Set(flat, p.Extrapolation); continue; }
            if (p.Axes.All(a => a.Gather))
            {
                int off = 0;
                for (int d = 0; d < r; d++) off += p.Axes[d].Src[o[d]] * xs[d];
                y.CopyElement(flat, x, off);
                continue;
            }
            y.Set(flat, Interpolate(p, x, xs, o, 0, 0));
        }
        return new[] { y };
    }

    /// <summary>Separable interpolation: the outermost axis weighs the interpolated values of the inner axes.</summary>
    static double Interpolate(Plan p, TensorData x, int[] xs, int[] o, int d, int off)
    {
        if (d == p.Axes.Length) return x.GetDouble(off);
        var a = p.Axes[d];
        double acc = 0;
        for (int k = 0; k < a.Taps; k++)
        {
            double w = a.W[o[d] * a.Taps + k];
            if (w == 0) continue;
            acc += w * Interpolate(p, x, xs, o, d + 1, off + a.Src[o[d] * a.Taps + k] * xs[d]);
        }
        return acc;
    }

    // ---------------- emission ----------------

    /// <summary>
    /// The Net profile's runtime kernel: float, the last two axes resized (by any mode), the others unchanged, nothing
    /// extrapolated (the common 2-D up/downsampling of NCHW images).
    /// </summary>
    static bool UsesKernel(Node n, TargetProfile profile)
    {
        var p = (Plan)n.State;
        int r = p.Axes.Length;
        if (profile != TargetProfile.Net || n.In(0).Type != DType.Float || r < 2 || n.Out().Length == 0) return false;
        if (p.Axes.Any(a => a.Extrapolates || a.In == 0)) return false;
        for (int d = 0; d < r - 2; d++) if (!p.Axes[d].Identity) return false;
        return !p.Axes[r - 2].Identity && !p.Axes[r - 1].Identity;
    }

    public override (DType Type, int Elements) Scratch(Node n, TargetProfile profile)
    {
        if (!UsesKernel(n, profile)) return base.Scratch(n, profile);
        var p = (Plan)n.State;
        AxisTable h = p.Axes[p.Axes.Length - 2], w = p.Axes[p.Axes.Length - 1];
        return (DType.Float, h.Gather && w.Gather ? 0 : h.In * w.Out);
    }

    public override void Emit(Node n, EmitContext e)
    {
        var p = (Plan)n.State;
        var x = n.In(0); var y = n.Out();
        if (y.Length == 0) return;
        if (UsesKernel(n, e.Profile))
        {
            AxisTable ah = p.Axes[p.Axes.Length - 2], aw = p.Axes[p.Axes.Length - 1];
            string Weights(AxisTable a) => a.Gather ? "default" : e.Span(a.WConst);
            var scratch = ah.Gather && aw.Gather ? "default" : e.Span(e.Scratch(n));
            e.W.Line($"ModelGen.Runtime.Resize.Resize2D({e.Span(x)}, {e.Span(y)}, {scratch}, planes: {x.Length / (ah.In * aw.In)}, inH: {ah.In}, inW: {aw.In}, outH: {ah.Out}, outW: {aw.Out}, " +
                $"srcH: {e.Span(ah.SrcConst)}, wH: {Weights(ah)}, tapsH: {ah.Taps}, srcW: {e.Span(aw.SrcConst)}, wW: {Weights(aw)}, tapsW: {aw.Taps});");
            return;
        }
        var w = e.W;
        int r = p.Axes.Length;
        var xs = Shape.Strides(x.Shape); var ys = Shape.Strides(y.Shape);
        bool gather = p.Axes.All(a => a.Gather);
        var ov = new string[r];
        int opened = 0;
        var srcTerms = new List<string>();
        for (int d = 0; d < r; d++)
        {
            var a = p.Axes[d];
            if (a.Out == 1 && !a.Extrapolates) ov[d] = "0";
            else
            {
                ov[d] = e.Var("o");
                w.Open($"for (int {ov[d]} = 0; {ov[d]} < {a.Out}; {ov[d]}++)");
                opened++;
            }
            if (a.Extrapolates)
            {
                var block = Idx.Sum(Enumerable.Range(0, d + 1).Select(k => ov[k] == "0" ? "" : Idx.Mul(ov[k], ys[k])).ToArray());
                var z = e.Var("z");
                w.Open($"if ({ov[d]} < {a.Lo} || {ov[d]} > {a.Hi})");
                if (ys[d] == 1) w.Line($"{e.At(y, block)} = {EmitContext.Lit(y.Type, p.Extrapolation)};");
                else w.Line($"for (int {z} = 0; {z} < {ys[d]}; {z}++) {e.At(y, Idx.Sum(block, z))} = {EmitContext.Lit(y.Type, p.Extrapolation)};");
                w.Line("continue;");
                w.Close();
            }
            if (a.Identity) srcTerms.Add(ov[d] == "0" ? "" : Idx.Mul(ov[d], xs[d]));
            else if (a.Gather) srcTerms.Add(e.At(a.SrcConst, ov[d]));
        }
        var dst = e.At(y, Idx.Sum(Enumerable.Range(0, r).Select(k => ov[k] == "0" ? "" : Idx.Mul(ov[k], ys[k])).ToArray()));
        if (gather)
        {
            w.Line($"{dst} = {e.At(x, Idx.Sum(srcTerms.ToArray()))};");
        }
        else
        {
            // taps of the interpolated axes, outermost first; the weight product is carried down
            var t = x.Type;
            var accType = t == DType.Float ? DType.Float : DType.Double;
            var acc = e.Var("acc");
            w.Line($"{DTypes.CsName(accType)} {acc} = {EmitContext.Lit(accType, 0)};");
            string weight = null;
            int tapLoops = 0;
            for (int d = 0; d < r; d++)
            {
                var a = p.Axes[d];
                if (a.Gather) continue;
                var k = e.Var("t");
                var at = Idx.Sum(ov[d] == "0" ? "" : Idx.Mul(ov[d], a.Taps), k);
                w.Open($"for (int {k} = 0; {k} < {a.Taps}; {k}++)");
                tapLoops++;
                var wv = e.Var("w");
                w.Line($"{DTypes.CsName(accType)} {wv} = {(weight == null ? "" : weight + " * ")}{e.At(a.WConst, at)};");
                weight = wv;
                srcTerms.Add(e.At(a.SrcConst, at));
            }
            w.Line($"{acc} += {weight} * {e.At(x, Idx.Sum(srcTerms.ToArray()))};");
            for (int i = 0; i < tapLoops; i++) w.Close();
            w.Line($"{dst} = {(t == accType ? acc : $"({DTypes.CsName(t)}){acc}")};");
        }
        for (int i = 0; i < opened; i++) w.Close();
    }
}
