using System.Collections.Generic;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// Col2Im (opset 18): the adjoint of im2col. Input [N, C * prod(block_shape), L] holds, for each of the L block
/// positions (row-major over the output grid of a strided, dilated, padded window scan), one column of C blocks;
/// output [N, C, image_shape...] is the sum of every column element written back to the image pixel it came from
/// (elements that fall in the padding are dropped). image_shape and block_shape must be constant; any spatial rank.
/// </summary>
public sealed class Col2Im : Operator
{
    sealed class St
    {
        public int NC, Block, L;
        public int[] Image, Kernel, Dil, Pad, Stride, Grid;
    }

    public override void Infer(Node n)
    {
        Require(n, 3, 3);
        var x = n.In(0);
        RequireFloat(n, x);
        var image = TensorOps.ConstInts(n, 1, "image_shape");
        var block = TensorOps.ConstInts(n, 2, "block_shape");
        int nd = image.Length;
        if (nd == 0 || block.Length != nd) throw Error($"Col2Im image_shape ({image.Length} values) and block_shape ({block.Length}) must have one value per spatial dimension");
        if (x.Shape.Length != 3) throw Error($"Col2Im input must be 3-D [N, C * prod(block_shape), L], has shape {Shape.Format(x.Shape)}");
        long[] dil = n.Ints("dilations") ?? Ones(nd), pads = n.Ints("pads") ?? new long[2 * nd], strides = n.Ints("strides") ?? Ones(nd);
        if (dil.Length != nd || strides.Length != nd || pads.Length != 2 * nd)
            throw Error($"Col2Im needs {nd} dilations and strides and {2 * nd} pads, has {dil.Length}, {strides.Length} and {pads.Length}");
        var st = new St { Image = new int[nd], Kernel = new int[nd], Dil = new int[nd], Pad = new int[nd], Stride = new int[nd], Grid = new int[nd], Block = 1, L = 1 };
        for (int d = 0; d < nd; d++)
        {
            st.Image[d] = TensorOps.ToInt(image[d], "Col2Im image dimension");
            st.Kernel[d] = TensorOps.ToInt(block[d], "Col2Im block dimension");
            st.Dil[d] = TensorOps.ToInt(dil[d], "Col2Im dilation");
            st.Stride[d] = TensorOps.ToInt(strides[d], "Col2Im stride");
            st.Pad[d] = TensorOps.ToInt(pads[d], "Col2Im pad");
            int padEnd = TensorOps.ToInt(pads[d + nd], "Col2Im pad");
            if (st.Image[d] < 1 || st.Kernel[d] < 1 || st.Dil[d] < 1 || st.Stride[d] < 1 || st.Pad[d] < 0 || padEnd < 0)
                throw Error($"Col2Im spatial dimension {d}: image {image[d]}, block {block[d]}, dilation {dil[d]} and stride {strides[d]} must be positive, pads {pads[d]}, {padEnd} not negative");
            long span = (long)st.Dil[d] * (st.Kernel[d] - 1) + 1, room = (long)st.Image[d] + st.Pad[d] + padEnd;
            if (room < span) throw Error($"Col2Im block {block[d]} (dilation {dil[d]}) does not fit the padded image dimension {room}");
            st.Grid[d] = (int)((room - span) / st.Stride[d] + 1);
            st.Block *= st.Kernel[d];
            st.L *= st.Grid[d];
        }
        if (x.Shape[1] % st.Block != 0) throw Error($"Col2Im input dimension 1 ({x.Shape[1]}) must be a multiple of prod(block_shape) = {st.Block}");
        if (x.Shape[2] != st.L) throw Error($"Col2Im input dimension 2 ({x.Shape[2]}) must be the number of block positions, {st.L}");
        st.NC = x.Shape[0] * (x.Shape[1] / st.Block);
        n.State = st;
        var shape = new List<int> { x.Shape[0], x.Shape[1] / st.Block };
        shape.AddRange(st.Image);
        SetOut(n, 0, x.Type, shape.ToArray());
    }

    static long[] Ones(int n) { var r = new long[n]; for (int i = 0; i < n; i++) r[i] = 1; return r; }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var st = (St)n.State;
        var x = inputs[0];
        var y = new TensorData(x.Type, n.Out().Shape);
        int nd = st.Image.Length, plane = y.Length / System.Math.Max(1, st.NC);
        var sum = new double[y.Length];
        var k = new int[nd]; var o = new int[nd];
        for (int nc = 0; nc < st.NC; nc++)
            for (int b = 0; b < st.Block; b++)
            {
                // b and l decoded row-major into kernel and grid coordinates
                for (int d = nd - 1, r = b; d >= 0; d--) { k[d] = r % st.Kernel[d]; r /= st.Kernel[d]; }
                for (int l = 0; l < st.L; l++)
                {
                    for (int d = nd - 1, r = l; d >= 0; d--) { o[d] = r % st.Grid[d]; r /= st.Grid[d]; }
                    int at = 0; bool inside = true;
                    for (int d = 0; d < nd && inside; d++)
                    {
                        int i = o[d] * st.Stride[d] - st.Pad[d] + k[d] * st.Dil[d];
                        inside = i >= 0 && i < st.Image[d];
                        at = at * st.Image[d] + i;
                    }
                    if (inside) sum[nc * plane + at] += x.GetDouble((nc * st.Block + b) * st.L + l);
                }
            }
        for (int i = 0; i < sum.Length; i++) y.Set(i, sum[i]);
        return new[] { y };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var st = (St)n.State;
        var x = n.In(0); var y = n.Out();
        if (y.Length == 0) return;
        TensorOps.EmitFill(e, y, EmitContext.Lit(y.Type, 0));
        if (x.Length == 0) return;
        var w = e.W;
        int nd = st.Image.Length, plane = y.Length / st.NC;
        int opened = 0;
        string Loop(string hint, int count, bool always = false)
        {
            if (count == 1 && !always) return "0";
            var v = e.Var(hint);
            w.Open($"for (int {v} = 0; {v} < {count}; {v}++)");
            opened++;
            return v;
        }
        string nc = Loop("nc", st.NC);
        // the kernel offset loops, then the grid loops (always open: their bounds checks 'continue'); a grid loop whose
        // positions can reach the padding skips those
        var k = new string[nd];
        for (int d = 0; d < nd; d++) k[d] = Loop("k", st.Kernel[d]);
        var xs = new List<string> { WindowEmit.Mul(nc, (long)st.Block * st.L) };
        var ys = new List<string> { WindowEmit.Mul(nc, plane) };
        long kStride = (long)st.Block * st.L, gStride = st.L, iStride = plane;
        for (int d = 0; d < nd; d++) { kStride /= st.Kernel[d]; xs.Add(WindowEmit.Mul(k[d], kStride)); }
        for (int d = 0; d < nd; d++)
        {
            string o = Loop("o", st.Grid[d], true);
            gStride /= st.Grid[d]; iStride /= st.Image[d];
            var i = e.Var("i");
            w.Line($"int {i} = {Idx.Sum(WindowEmit.Mul(o, st.Stride[d]), WindowEmit.Mul(k[d], st.Dil[d]), TensorOps.I(-st.Pad[d]))};");
            long last = (long)(st.Grid[d] - 1) * st.Stride[d] + (long)(st.Kernel[d] - 1) * st.Dil[d] - st.Pad[d];
            if (st.Pad[d] > 0 || last >= st.Image[d]) w.Line($"if ((uint){i} >= {st.Image[d]}u) continue;");
            xs.Add(WindowEmit.Mul(o, gStride));
            ys.Add(Idx.Mul(i, iStride));
        }
        w.Line($"{e.At(y, WindowEmit.Sum(ys))} += {e.At(x, WindowEmit.Sum(xs))};");
        WindowEmit.Close(e, opened);
    }
}
