using System;
using ModelGen.Compiler.Emit;
using ModelGen.Compiler.IR;

namespace ModelGen.Compiler.Operators;

/// <summary>
/// STFT (opset 17): signal [batch, length, 1 or 2], frame_step (scalar, known at build time), window [frame_length]
/// (optional), frame_length (optional scalar, known at build time; one of the two is required) -> [batch, frames,
/// bins, 2] with frames = 1 + (length - frame_length) / frame_step and bins = frame_length / 2 + 1 when onesided
/// (the default), else frame_length: Y[b, f, k] = sum_n x[b, f step + n] w[n] e^(-2 pi i k n / frame_length).
/// A direct DFT per frame over the tables of <see cref="Twiddles"/> (see <see cref="Dft"/>).
/// </summary>
public sealed class Stft : Operator
{
    sealed class Plan { public int Batch, Length, Complex, Step, Frame, Frames, Bins; public Value Cos, Sin; }

    public override void Infer(Node n)
    {
        Require(n, 2, 4);
        var x = n.In(0); var window = n.In(2);
        RequireFloat(n, x);
        if (x.Shape.Length != 3 || x.Shape[2] is not (1 or 2)) throw Error($"STFT signal must be [batch, length, 1 or 2], got {Shape.Format(x.Shape)}");
        long step = CosineWindow.ConstInt(n, 1, "frame_step");
        long frame;
        if (n.In(3) != null) frame = CosineWindow.ConstInt(n, 3, "frame_length");
        else if (window != null && window.Shape.Length == 1) frame = window.Shape[0];
        else throw Error("STFT needs a window or a frame_length");
        if (window != null && (window.Shape.Length != 1 || window.Shape[0] != frame))
            throw Error($"STFT window {Shape.Format(window.Shape)} must hold frame_length = {frame} values");
        if (window != null && window.Type != x.Type) throw Error("STFT window must have the signal's element type");
        if (step < 1 || frame < 1 || frame > 1 << 16) throw Unsupported($"STFT frame_step {step} and frame_length {frame} must be positive (frame_length at most 65536)");
        int length = x.Shape[1];
        if (frame > length) throw Error($"STFT frame_length {frame} is longer than the signal ({length})");
        bool onesided = n.Int("onesided", 1) != 0;
        var p = n.State as Plan ?? new Plan();
        p.Batch = x.Shape[0]; p.Length = length; p.Complex = x.Shape[2]; p.Step = (int)step; p.Frame = (int)frame;
        p.Frames = (int)((length - frame) / step + 1);
        p.Bins = onesided ? p.Frame / 2 + 1 : p.Frame;
        if (p.Cos == null || p.Cos.Length != p.Frame) Twiddles.Attach(n, p.Frame, 4, out p.Cos, out p.Sin);
        n.State = p;
        SetOut(n, 0, x.Type, new[] { p.Batch, p.Frames, p.Bins, 2 });
    }

    public override TensorData[] Evaluate(Node n, TensorData[] inputs)
    {
        var p = (Plan)n.State;
        var x = inputs[0]; var win = inputs.Length > 2 ? inputs[2] : null;
        var y = new TensorData(n.Out().Type, n.Out().Shape);
        for (int b = 0; b < p.Batch; b++)
            for (int f = 0; f < p.Frames; f++)
                for (int k = 0; k < p.Bins; k++)
                {
                    double re = 0, im = 0;
                    for (int t = 0; t < p.Frame; t++)
                    {
                        int at = (b * p.Length + f * p.Step + t) * p.Complex;
                        double wt = win == null ? 1 : win.GetDouble(t);
                        double xr = x.GetDouble(at) * wt, xi = p.Complex == 2 ? x.GetDouble(at + 1) * wt : 0;
                        double th = 2 * Math.PI * ((long)k * t % p.Frame) / p.Frame, c = Math.Cos(th), s = -Math.Sin(th);
                        re += xr * c - xi * s; im += xr * s + xi * c;
                    }
                    int yo = ((b * p.Frames + f) * p.Bins + k) * 2;
                    y.Set(yo, re); y.Set(yo + 1, im);
                }
        return new[] { y };
    }

    public override void Emit(Node n, EmitContext e)
    {
        var p = (Plan)n.State;
        var x = n.In(0); var win = n.In(2); var y = n.Out();
        var w = e.W;
        var b = e.Var("b"); var f = e.Var("f"); var k = e.Var("k");
        w.Open($"for (int {b} = 0; {b} < {p.Batch}; {b}++)");
        w.Open($"for (int {f} = 0; {f} < {p.Frames}; {f}++)");
        w.Open($"for (int {k} = 0; {k} < {p.Bins}; {k}++)");
        string xAt(string t, int part)
        {
            var v = e.At(x, Idx.Sum(Idx.Mul(Idx.Sum(Idx.Mul(b, p.Length), Idx.Mul(f, p.Step), t), p.Complex), part.ToString()));
            return win == null ? v : $"(double){v} * {e.At(win, t)}";
        }
        Twiddles.EmitSum(e, p.Cos, p.Sin, k, p.Frame, p.Frame, false, xAt, p.Complex == 2, out var re, out var im);
        string yAt(int part) => e.At(y, Idx.Sum(Idx.Mul(Idx.Sum(Idx.Mul(Idx.Sum(Idx.Mul(b, p.Frames), f), p.Bins), k), 2), part.ToString()));
        var cs = DTypes.CsName(y.Type);
        w.Line($"{yAt(0)} = ({cs}){re};");
        w.Line($"{yAt(1)} = ({cs}){im};");
        w.Close(); w.Close(); w.Close();
    }
}
