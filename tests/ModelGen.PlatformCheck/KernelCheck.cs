using System;
using ModelGen.Runtime;

namespace ModelGen.PlatformCheck;

/// <summary>
/// In-process check of the int8 kernels' paths against the scalar one (SimdLevel.ForceBits = 0, itself checked against
/// ModelGen.Compiler.Quant.FixedPoint by the tests): random QConv.Conv2D (and QConvRows on the same one-group shapes),
/// QPointwise.Run (NCHW and channels last),
/// QConv.Depthwise2D (every layout), Int8.Lookup, Int8.Mul, Int8.MulChannelsLast and Int8.Add, and QGemm.Run shapes (QGemm's
/// also through QMatMulLanes, and both int32 forms; odd channel counts,
/// groups, padding, strides 1-3, dilation, int8 and uint8 inputs with zero points at the extremes, positions off the
/// vectors, weights and scratch with garbage where the layouts pad) through the automatic path (sdot on an arm64 CPU
/// with FEAT_DotProd in a binary compiled for it, vpdpbusd on an x64 CPU with AVX-VNNI), the pair kernels (QDot.Force
/// = 1) and the emulated dot products (sdot's: QDot.Force = 2, vpdpbusd's: 4). Run by scripts/check-arm64.sh on arm64
/// (qemu), by tests/ModelGen.Tests (DotKernelTests) on x64, and on an AVX-VNNI machine as scripts/check-vnni.sh says.
/// </summary>
public static class KernelCheck
{
    /// <summary>
    /// Mismatched output bytes over <paramref name="cases"/> random convolutions, pointwise ones and matrix products
    /// each, per path: (automatic, at the machine's width and at 256 bits; pairs; emulated sdot; emulated vpdpbusd).
    /// </summary>
    public static (int Auto, int Pairs, int Emulated, int EmulatedVnni) Run(int cases, int seed)
    {
        var r = new Random(seed);
        int auto = 0, pairs = 0, emulated = 0, vnni = 0;
        for (int c = 0; c < cases; c++)
        {
            var conv = Conv.Random(r);
            var lanes = Lanes.Random(r);
            var gemm = Gemm.Random(r);
            var dw = Depthwise.Random(r);
            var ew = Elementwise.Random(r);
            byte[] want = Paths(conv, lanes, gemm, dw, ew, bits: 0, force: -1);
            auto += Diff(want, Paths(conv, lanes, gemm, dw, ew, -1, -1)) + Diff(want, Paths(conv, lanes, gemm, dw, ew, 256, -1))
                + Diff(want, Paths(conv, lanes, gemm, dw, ew, 128, -1));
            pairs += Diff(want, Paths(conv, lanes, gemm, dw, ew, -1, 1));
            emulated += Diff(want, Paths(conv, lanes, gemm, dw, ew, -1, 2));
            vnni += Diff(want, Paths(conv, lanes, gemm, dw, ew, -1, 4));
        }
        return (auto, pairs, emulated, vnni);
    }

    static byte[] Paths(Conv conv, Lanes lanes, Gemm gemm, Depthwise dw, Elementwise ew, int bits, int force)
    {
        try
        {
            SimdLevel.ForceBits = bits;
            QDot.Force = force;
            return [.. conv.Run(), .. lanes.Run(), .. gemm.Run(), .. dw.Run(), .. ew.Run()];
        }
        finally { SimdLevel.ForceBits = -1; QDot.Force = -1; }
    }

    static int Diff(byte[] a, byte[] b)
    {
        int n = 0;
        for (int i = 0; i < a.Length; i++) if (a[i] != b[i]) n++;
        return n;
    }

    /// <summary>A zero point of the input type: an extreme or random.</summary>
    static int Zero(Random r, bool signed) => r.Next(4) switch
    {
        0 => signed ? -128 : 0,
        1 => signed ? 127 : 255,
        2 => signed ? 0 : 128,
        _ => signed ? r.Next(-128, 128) : r.Next(256),
    };

    static sbyte[] Weights(Random r, int n)
    {
        var w = new sbyte[n];
        bool extreme = r.Next(6) == 0;
        for (int i = 0; i < n; i++) w[i] = extreme ? (sbyte)-128 : (sbyte)r.Next(-128, 128);
        return w;
    }

    static (int[] Bias, int[] Mult, int[] Shift) Requant(Random r, int n)
    {
        var bias = new int[n]; var mult = new int[n]; var shift = new int[n];
        for (int i = 0; i < n; i++)
        {
            bias[i] = r.Next(-50000, 50000);
            mult[i] = r.Next(1 << 30, int.MaxValue);
            shift[i] = -r.Next(5, 14);
        }
        return (bias, mult, shift);
    }

    sealed class Conv
    {
        int batch, inC, inH, inW, outC, kH, kW, outH, outW, sH, sW, pT, pL, dH, dW, groups, xZero, yZero, lo, hi;
        bool signed;
        byte[] x = [];
        sbyte[] w = [], wr = [];
        int[] bias = [], mult = [], shift = [];

        public static Conv Random(Random r)
        {
            var c = new Conv { groups = r.Next(4) == 0 ? r.Next(2, 4) : 1, batch = r.Next(1, 3) };
            // one input channel in a fifth (stems: quads of kernel rows on the dot products from 16 output channels)
            int icg = r.Next(5) == 0 ? 1 : r.Next(2, 14), ocg = icg == 1 ? r.Next(1, 25) : r.Next(1, 12);
            c.inC = icg * c.groups; c.outC = ocg * c.groups;
            bool pointwise = r.Next(4) == 0;
            c.kH = pointwise ? 1 : r.Next(1, 4); c.kW = pointwise ? 1 : r.Next(1, 4);
            c.sH = pointwise ? 1 : r.Next(1, 3); c.sW = pointwise ? 1 : r.Next(1, r.Next(6) == 0 ? 4 : 3);
            c.dH = pointwise ? 1 : r.Next(1, 3); c.dW = pointwise ? 1 : r.Next(1, 3);
            c.pT = pointwise ? 0 : r.Next(0, 3); c.pL = pointwise ? 0 : r.Next(0, 3);
            c.inH = r.Next(c.dH * (c.kH - 1) + 1, 20); c.inW = r.Next(c.dW * (c.kW - 1) + 1, 40);
            c.outH = (c.inH + 2 * c.pT - c.dH * (c.kH - 1) - 1) / c.sH + 1; c.outW = (c.inW + 2 * c.pL - c.dW * (c.kW - 1) - 1) / c.sW + 1;
            c.signed = r.Next(2) == 0; c.xZero = Zero(r, c.signed);
            c.x = new byte[c.batch * c.inC * c.inH * c.inW];
            r.NextBytes(c.x);
            int blocks = (ocg + QConv.BlockRows - 1) / QConv.BlockRows, pairs = (icg + 1) / 2;
            c.w = Weights(r, c.groups * blocks * c.kH * c.kW * pairs * QConv.BlockRows * 2);
            // QConvRows' layout: QPointwise's over rows of kH x kW x inC (one group)
            int mp = (c.outC + QPointwise.ColumnMultiple - 1) / QPointwise.ColumnMultiple * QPointwise.ColumnMultiple;
            c.wr = Weights(r, (QConvRows.RowBytes(c.inC, c.kH, c.kW) + 1) / 2 * mp * 2);
            (c.bias, c.mult, c.shift) = Requant(r, c.outC);
            bool full = r.Next(2) == 0;
            c.yZero = c.signed ? r.Next(-20, 20) : r.Next(100, 150);
            c.lo = full ? (c.signed ? -128 : 0) : (c.signed ? -100 : 10); c.hi = full ? (c.signed ? 127 : 255) : (c.signed ? 100 : 240);
            return c;
        }

        public byte[] Run()
        {
            var y = new byte[batch * outC * outH * outW];
            var scratch = new short[QConv.Conv2DScratch(inC, outC, kH, kW, outH, outW, sH, sW, dH, dW, groups)];
            Array.Fill(scratch, (short)0x5A5A);
            QConv.Conv2D(x, w, bias, mult, shift, y, scratch, batch, inC, inH, inW, outC, kH, kW, outH, outW, sH, sW, pT, pL, dH, dW, groups,
                signed, xZero, yZero, lo, hi);
            if (groups != 1) return y;
            // the same shape as im2col rows (QConvRows: QPointwise's tiles over rows written in its pair plane)
            var yr = new byte[y.Length];
            var rs = new short[QConvRows.Scratch(inC, inH, inW, kH, kW, outH, outW)];
            Array.Fill(rs, (short)0x5A5A);
            QConvRows.Run(x, wr, bias, mult, shift, yr, rs, batch, inC, inH, inW, outC, kH, kW, outH, outW, sH, sW, pT, pL, dH, dW, signed, xZero, yZero, lo, hi);
            return [.. y, .. yr];
        }
    }

    /// <summary>QPointwise: 1x1 on small planes, output channels in the lanes.</summary>
    sealed class Lanes
    {
        int batch, inC, outC, plane, xZero, yZero;
        bool signed;
        byte[] x = [];
        sbyte[] w = [];
        int[] bias = [], mult = [], shift = [];

        public static Lanes Random(Random r)
        {
            var l = new Lanes { batch = r.Next(1, 3), inC = r.Next(1, 70), outC = r.Next(1, 70), plane = r.Next(1, 50), signed = r.Next(2) == 0 };
            l.xZero = Zero(r, l.signed);
            l.x = new byte[l.batch * l.inC * l.plane];
            r.NextBytes(l.x);
            int mp = (l.outC + QPointwise.ColumnMultiple - 1) / QPointwise.ColumnMultiple * QPointwise.ColumnMultiple;
            l.w = Weights(r, (l.inC + 1) / 2 * mp * 2);
            (l.bias, l.mult, l.shift) = Requant(r, l.outC);
            l.yZero = l.signed ? r.Next(-20, 20) : r.Next(100, 150);
            return l;
        }

        public byte[] Run()
        {
            var y = new byte[batch * outC * plane];
            var scratch = new short[QPointwise.Scratch(inC, plane)];
            Array.Fill(scratch, (short)0x5A5A);
            QPointwise.Run(x, w, bias, mult, shift, y, scratch, batch, inC, outC, plane, signed, xZero, yZero, signed ? -128 : 0, signed ? 127 : 255);
            // channels last on both sides (an int8 chain's layout): x read as [batch, plane, inC]
            var yl = new byte[y.Length];
            QPointwise.Run(x, w, bias, mult, shift, yl, scratch, batch, inC, outC, plane, signed, xZero, yZero, signed ? -128 : 0, signed ? 127 : 255, true, true);
            return [.. y, .. yl];
        }
    }

    /// <summary>QConv.Depthwise2D in each layout: NCHW, and channels last on either side or both (QDepthwiseLast on arm64).</summary>
    sealed class Depthwise
    {
        int batch, c, inH, inW, kH, kW, outH, outW, s, d, p, xZero, yZero;
        bool signed;
        byte[] x = [];
        sbyte[] w = [];
        int[] bias = [], mult = [], shift = [];

        public static Depthwise Random(Random r)
        {
            var g = new Depthwise { batch = r.Next(1, 3), c = r.Next(1, 40), kH = r.Next(1, 4), kW = r.Next(1, 4), s = r.Next(1, 3), d = r.Next(1, 3), p = r.Next(0, 3), signed = r.Next(2) == 0 };
            g.inH = r.Next(g.d * (g.kH - 1) + 1, 16); g.inW = r.Next(g.d * (g.kW - 1) + 1, 20);
            g.outH = (g.inH + 2 * g.p - g.d * (g.kH - 1) - 1) / g.s + 1; g.outW = (g.inW + 2 * g.p - g.d * (g.kW - 1) - 1) / g.s + 1;
            g.xZero = Zero(r, g.signed);
            g.x = new byte[g.batch * g.c * g.inH * g.inW];
            r.NextBytes(g.x);
            g.w = Weights(r, g.c * ((g.kH + 1) / 2) * g.kW * 2);
            // an odd kernel's last pair of rows: its second row is 0 in the packed layout (the channel-lanes kernel multiplies it)
            if (g.kH % 2 == 1)
                for (int j = 0; j < g.kW; j++)
                    for (int ch = 0; ch < g.c; ch++) g.w[(((g.kH / 2) * g.kW + j) * g.c + ch) * 2 + 1] = 0;
            (g.bias, g.mult, g.shift) = Requant(r, g.c);
            g.yZero = g.signed ? r.Next(-20, 20) : r.Next(100, 150);
            return g;
        }

        public byte[] Run()
        {
            int n = batch * c * outH * outW;
            var y = new byte[4 * n];
            var scratch = new short[QConv.DepthwiseScratch(kH, kW, outH, outW, s, s, d, d)];
            for (int layout = 0; layout < 4; layout++)
            {
                Array.Fill(scratch, (short)0x5A5A);
                QConv.Depthwise2D(x, w, bias, mult, shift, y.AsSpan(layout * n, n), scratch, batch, c, inH, inW, kH, kW, outH, outW, s, s, p, p, d, d,
                    signed, xZero, yZero, signed ? -128 : 0, signed ? 127 : 255, (layout & 1) != 0, (layout & 2) != 0);
            }
            return y;
        }
    }

    /// <summary>
    /// Int8.Lookup (a random table; VBMI permutes on x64, tbl/tbx on arm64), Int8.Mul of two same-shape tensors and of a
    /// gate per run of inner outputs, Int8.MulChannelsLast and Int8.Add: every length, zero points at the extremes.
    /// </summary>
    sealed class Elementwise
    {
        int n, inner, channels, za, zb, zc;
        float ratio;
        bool signed;
        byte[] a = [], b = [], gate = [], table = [];

        public static Elementwise Random(Random r)
        {
            var g = new Elementwise { inner = r.Next(1, 40), channels = r.Next(1, 40), signed = r.Next(2) == 0, ratio = (float)(r.NextDouble() * 0.02 + 1e-4) };
            g.n = g.inner * g.channels;
            g.za = Zero(r, g.signed); g.zb = Zero(r, g.signed); g.zc = Zero(r, g.signed);
            g.a = new byte[g.n]; g.b = new byte[g.n]; g.gate = new byte[g.channels]; g.table = new byte[256];
            r.NextBytes(g.a); r.NextBytes(g.b); r.NextBytes(g.gate); r.NextBytes(g.table);
            return g;
        }

        public byte[] Run()
        {
            var y = new byte[5 * n];
            Span<byte> y0 = y.AsSpan(0, n), y1 = y.AsSpan(n, n), y2 = y.AsSpan(2 * n, n), y3 = y.AsSpan(3 * n, n), y4 = y.AsSpan(4 * n, n);
            if (signed)
            {
                Int8.Lookup(Cast(a), Cast(table), Cast(y0));
                Int8.Mul(Cast(a), za, Cast(b), zb, ratio, zc, Cast(y1), 1);
                Int8.Mul(Cast(a), za, Cast(gate), zb, ratio, zc, Cast(y2), inner);
                Int8.MulChannelsLast(Cast(a), za, Cast(gate), zb, ratio, zc, Cast(y3), channels, inner);
                Int8.Add(Cast(a), za, ratio * 40, Cast(b), zb, ratio * 70, zc, Cast(y4));
            }
            else
            {
                Int8.Lookup(a, table, y0);
                Int8.Mul(a, za, b, zb, ratio, zc, y1, 1);
                Int8.Mul(a, za, gate, zb, ratio, zc, y2, inner);
                Int8.MulChannelsLast(a, za, gate, zb, ratio, zc, y3, channels, inner);
                Int8.Add(a, za, ratio * 40, b, zb, ratio * 70, zc, y4);
            }
            return y;
        }

        static Span<sbyte> Cast(Span<byte> s) => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, sbyte>(s);
    }

    sealed class Gemm
    {
        int m, n, k, xZero, yZero;
        bool signed;
        byte[] x = [];
        sbyte[] w = [];
        int[] bias = [], mult = [], shift = [];

        public static Gemm Random(Random r)
        {
            var g = new Gemm { m = r.Next(1, 9), n = r.Next(1, 40), k = r.Next(1, 90), signed = r.Next(2) == 0 };
            g.xZero = Zero(r, g.signed);
            g.x = new byte[g.m * g.k];
            r.NextBytes(g.x);
            g.w = Weights(r, g.n * ((g.k + 1) & ~1));
            (g.bias, g.mult, g.shift) = Requant(r, g.n);
            g.yZero = g.signed ? r.Next(-20, 20) : r.Next(100, 150);
            return g;
        }

        /// <summary>QGemm.Run, then QMatMulLanes.Run on the same weights in its layout, then both int32 forms (as bytes).</summary>
        public byte[] Run()
        {
            int kp = (k + 1) & ~1, np = (n + QMatMulLanes.ColumnMultiple - 1) / QMatMulLanes.ColumnMultiple * QMatMulLanes.ColumnMultiple;
            var y = new byte[m * n];
            var scratch = new short[kp];
            Array.Fill(scratch, (short)0x5A5A);
            QGemm.Run(x, w, bias, mult, shift, y, scratch, m, n, k, signed, xZero, yZero, signed ? -128 : 0, signed ? 127 : 255);
            var lanes = new sbyte[kp / 2 * np * 2];
            for (int c2 = 0; c2 < kp / 2; c2++)
                for (int j = 0; j < n; j++)
                    for (int e = 0; e < 2 && 2 * c2 + e < k; e++) lanes[(c2 * np + j) * 2 + e] = w[j * kp + 2 * c2 + e];
            var yl = new byte[m * n];
            var ls = new short[QMatMulLanes.Scratch(m, k)];
            Array.Fill(ls, (short)0x5A5A);
            QMatMulLanes.Run(x, lanes, bias, mult, shift, yl, ls, m, n, k, signed, xZero, yZero, signed ? -128 : 0, signed ? 127 : 255);
            int[] s1 = new int[m * n], s2 = new int[m * n];
            QGemm.RunInt32(x, w, s1, scratch, m, n, k, signed, xZero);
            QMatMulLanes.RunInt32(x, lanes, s2, ls, m, n, k, signed, xZero);
            var all = new byte[2 * m * n + 8 * m * n];
            y.CopyTo(all, 0); yl.CopyTo(all, m * n);
            Buffer.BlockCopy(s1, 0, all, 2 * m * n, 4 * m * n); Buffer.BlockCopy(s2, 0, all, 6 * m * n, 4 * m * n);
            return all;
        }
    }
}
