using System.Collections.Generic;

namespace ModelGen.Compiler.Operators;

public static partial class OperatorRegistry
{
    /// <summary>Losses, signal processing (windows, mel matrix, DFT, STFT), GridSample, ReverseSequence, Det, RoiAlign; the opset 18-20 image operators (Col2Im, CenterCropPad, AffineGrid, DeformConv).</summary>
    static partial void RegisterMisc(Dictionary<string, Operator> t)
    {
        t[":NegativeLogLikelihoodLoss"] = new Loss(false);
        t[":Det"] = new Det();
        t[":SoftmaxCrossEntropyLoss"] = new Loss(true);
        t[":HannWindow"] = CosineWindow.Hann();
        t[":HammingWindow"] = CosineWindow.Hamming();
        t[":BlackmanWindow"] = CosineWindow.Blackman();
        t[":MelWeightMatrix"] = new MelWeightMatrix();
        t[":DFT"] = new Dft();
        t[":STFT"] = new Stft();
        t[":GridSample"] = new GridSample();
        t[":ReverseSequence"] = new ReverseSequence();
        t[":Col2Im"] = new Col2Im();
        t[":CenterCropPad"] = new CenterCropPad();
        t[":AffineGrid"] = new AffineGrid();
        t[":DeformConv"] = new DeformConv();
    }
}
