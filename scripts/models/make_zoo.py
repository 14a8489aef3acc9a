#!/usr/bin/python3
"""Small models as users export them from PyTorch, one per common edge architecture, at the opsets exporters use.

Run with /usr/bin/python3 (torch 1.13, onnx 1.12); writes tests/models/zoo/*.onnx (committed, so tests never need
torch) and prints each file's size. Weights are deterministic (torch.manual_seed) and BatchNorm statistics are
randomised so that folding is visible. Nothing here is tuned to ModelGen: these are the layers and export calls a
user writes. The opsets vary on purpose (9 to 17: Upsample vs Resize, Slice/Squeeze/Reduce attributes vs inputs,
LayerNormalization as one node at 17), and two models are exported with a dynamic batch axis.

- tcn_kws          1-D temporal conv net for keyword spotting: dilated Conv1d + BatchNorm1d + ReLU, residual adds,
                   global average pooling, Linear. Input 1x40x98 (MFCC frames). Opset 11.
- gru_kws          Conv1d front end, 2-layer GRU (batch_first), last step, Linear. Input 1x49x40. Opset 13.
- lstm_bidir       bidirectional LSTM tagger with a LogSoftmax head. Input 1x32x20. Opset 11.
- tiny_transformer 2 encoder layers (nn.TransformerEncoderLayer, 4 heads, GELU), mean over time, Linear.
                   Input 1x16x32. Opset 14 (LayerNorm as its primitive ops) and 17 (one LayerNormalization node).
- conv_autoencoder Conv2d stride 2 encoder, ConvTranspose2d decoder with BatchNorm, nearest Upsample, Sigmoid.
                   Input 1x1x28x28. Opset 9 (Upsample op) and 13 (Resize).
- mobilenet_v3_block inverted residuals with Hardswish, squeeze-excite (AdaptiveAvgPool, Hardsigmoid), ReLU6,
                   bilinear Resize to the input size. Input 1x3x64x64. Opset 13, dynamic batch.
- mlp_dynamic      Flatten, Linear/LayerNorm/SiLU, Dropout (eval), Softmax. Input Bx64, dynamic batch. Opset 13.
- torch_qdq_cnn    PyTorch eager-mode static quantization (qnnpack: uint8 activations, per-tensor weights), fused
                   Conv+ReLU, exported as torch writes quantized models: QuantizeLinear -> Cast -> DequantizeLinear,
                   biases as DequantizeLinear of int32 with a ConstantOfShape zero point. Input 1x1x16x16. Opset 13.
- torch_qdq_cnn_perchannel  the same with per-channel symmetric int8 weights (axis 0). Opset 13.
- swin_micro       torchvision's SwinTransformer class at a small configuration (embed 24, depths 2-2, heads 2-4,
                   window 4): shifted-window attention (roll, relative position bias gathered), patch merging,
                   LayerNorm, GELU, and attention Dropout exported in training mode with ratio 0. Input 1x3x32x32.
                   Opset 17.
- convnext_micro   torchvision's ConvNeXt class (stages 24 -> 48, two blocks each): 7x7 depthwise convolutions,
                   LayerNorm over channels through permutes, layer scale, GELU. Input 1x3x32x32. Opset 13.
- shufflenet_micro torchvision's ShuffleNetV2 class (stages of 2 blocks, 24-48-96 channels): channel split and
                   shuffle (Reshape/Transpose/Reshape), depthwise stride-2 branches, Concat. Input 1x3x64x64. Opset 13.
"""
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "models", "zoo")


def randomise_bn(model, seed):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
            m.weight.data.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)


class TcnKws(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv1d(40, 32, 3, padding=1), nn.BatchNorm1d(32), nn.ReLU())
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv1d(32, 32, 3, padding=d, dilation=d), nn.BatchNorm1d(32), nn.ReLU(),
                          nn.Conv1d(32, 32, 1), nn.BatchNorm1d(32)) for d in (1, 2, 4))
        self.fc = nn.Linear(32, 12)

    def forward(self, x):
        x = self.stem(x)
        for b in self.blocks:
            x = F.relu(x + b(x))
        return self.fc(x.mean(dim=2))


class GruKws(nn.Module):
    def __init__(self):
        super().__init__()
        self.front = nn.Conv1d(40, 48, 5, stride=2, padding=2)
        self.gru = nn.GRU(48, 64, num_layers=2, batch_first=True)
        self.fc = nn.Linear(64, 12)

    def forward(self, x):  # x: [1, T, 40]
        x = F.relu(self.front(x.transpose(1, 2))).transpose(1, 2)
        y, _ = self.gru(x)
        return self.fc(y[:, -1])


class LstmBidir(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(20, 24, batch_first=True, bidirectional=True)
        self.head = nn.Linear(48, 5)

    def forward(self, x):
        y, _ = self.lstm(x)
        return F.log_softmax(self.head(y), dim=-1)


class TinyTransformer(nn.Module):
    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, dropout=0.1, activation="gelu", batch_first=True)
        self.enc = nn.TransformerEncoder(layer, 2)
        self.fc = nn.Linear(32, 6)

    def forward(self, x):
        return self.fc(self.enc(x).mean(dim=1))


class ConvAutoencoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 8, 3, 2, 1), nn.ReLU(), nn.Conv2d(8, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.ReLU())
        self.dec = nn.Sequential(nn.ConvTranspose2d(16, 8, 3, 2, 1, output_padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                 nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(8, 1, 3, padding=1), nn.Sigmoid())

    def forward(self, x):
        return self.dec(self.enc(x))


class InvertedResidual(nn.Module):
    def __init__(self, c, expand, se):
        super().__init__()
        h = c * expand
        self.expand = nn.Sequential(nn.Conv2d(c, h, 1, bias=False), nn.BatchNorm2d(h), nn.Hardswish())
        self.dw = nn.Sequential(nn.Conv2d(h, h, 3, padding=1, groups=h, bias=False), nn.BatchNorm2d(h), nn.Hardswish())
        self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(h, h // 4, 1), nn.ReLU(), nn.Conv2d(h // 4, h, 1), nn.Hardsigmoid()) if se else None
        self.project = nn.Sequential(nn.Conv2d(h, c, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        y = self.dw(self.expand(x))
        if self.se is not None:
            y = y * self.se(y)
        return x + self.project(y)


class MobileNetV3Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6())
        self.b1 = InvertedResidual(16, 4, se=True)
        self.b2 = InvertedResidual(16, 3, se=False)
        self.head = nn.Conv2d(16, 4, 1)

    def forward(self, x):
        y = self.head(self.b2(self.b1(self.stem(x))))
        return F.interpolate(y, size=(64, 64), mode="bilinear", align_corners=False)


class MlpDynamic(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, 96), nn.LayerNorm(96), nn.SiLU(), nn.Dropout(0.2),
                                 nn.Linear(96, 10), nn.Softmax(dim=-1))

    def forward(self, x):
        return self.net(x)


class QuantCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant = torch.ao.quantization.QuantStub()
        self.dequant = torch.ao.quantization.DeQuantStub()
        self.c1, self.r1 = nn.Conv2d(1, 8, 3, padding=1), nn.ReLU()
        self.c2, self.r2 = nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.quant(x)
        x = self.r2(self.c2(self.r1(self.c1(x))))
        return self.dequant(self.fc(torch.flatten(self.pool(x), 1)))


def quantized(per_channel, seed):
    """Eager-mode post-training static quantization, calibrated on deterministic random batches."""
    from torch.ao.quantization import QConfig, HistogramObserver, PerChannelMinMaxObserver
    torch.backends.quantized.engine = "qnnpack"
    torch.manual_seed(seed)
    m = QuantCnn().eval()
    m.qconfig = (QConfig(activation=HistogramObserver.with_args(reduce_range=False),
                         weight=PerChannelMinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_channel_symmetric))
                 if per_channel else torch.ao.quantization.get_default_qconfig("qnnpack"))
    m = torch.ao.quantization.fuse_modules(m, [["c1", "r1"], ["c2", "r2"]])
    p = torch.ao.quantization.prepare(m)
    g = torch.Generator().manual_seed(seed)
    for _ in range(8):
        p(torch.randn(4, 1, 16, 16, generator=g))
    return torch.ao.quantization.convert(p)


def export(name, model, shape, opset, dynamic_batch=False):
    model.eval()
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    path = os.path.join(OUT, f"{name}.onnx")
    axes = {"x": {0: "batch"}, "y": {0: "batch"}} if dynamic_batch else None
    # not under no_grad: nn.TransformerEncoderLayer's inference fast path (one fused aten op) has no ONNX export
    torch.onnx.export(model, x, path, opset_version=opset, input_names=["x"], output_names=["y"], dynamic_axes=axes,
                      do_constant_folding=True)
    print(f"{name}.onnx  {os.path.getsize(path)} bytes  opset {opset}")


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    models = [
        ("tcn_kws", TcnKws, (1, 40, 98), 11, False),
        ("gru_kws", GruKws, (1, 49, 40), 13, False),
        ("lstm_bidir", LstmBidir, (1, 32, 20), 11, False),
        ("tiny_transformer_op14", TinyTransformer, (1, 16, 32), 14, False),
        ("tiny_transformer_op17", TinyTransformer, (1, 16, 32), 17, False),
        ("conv_autoencoder_op9", ConvAutoencoder, (1, 1, 28, 28), 9, False),
        ("conv_autoencoder_op13", ConvAutoencoder, (1, 1, 28, 28), 13, False),
        ("mobilenet_v3_block", MobileNetV3Block, (1, 3, 64, 64), 13, True),
        ("mlp_dynamic", MlpDynamic, (2, 64), 13, True),
    ]
    for i, (name, cls, shape, opset, dyn) in enumerate(models):
        torch.manual_seed(100 + i)
        m = cls()
        randomise_bn(m, 200 + i)
        export(name, m, shape, opset, dyn)
    for i, per_channel in enumerate((False, True)):
        name = "torch_qdq_cnn_perchannel" if per_channel else "torch_qdq_cnn"
        x = torch.randn(1, 1, 16, 16, generator=torch.Generator().manual_seed(1))
        path = os.path.join(OUT, f"{name}.onnx")
        torch.onnx.export(quantized(per_channel, 300 + i), x, path, opset_version=13, input_names=["x"], output_names=["y"])
        print(f"{name}.onnx  {os.path.getsize(path)} bytes  opset 13")
    # torchvision's own architecture classes (Debian python3-torchvision), at configurations small enough to commit
    from torchvision.models import ShuffleNetV2
    from torchvision.models.convnext import CNBlockConfig, ConvNeXt
    from torchvision.models.swin_transformer import SwinTransformer
    vision = [
        ("swin_micro", lambda: SwinTransformer(patch_size=[4, 4], embed_dim=24, depths=[2, 2], num_heads=[2, 4],
                                               window_size=[4, 4], num_classes=10), (1, 3, 32, 32), 17),
        ("convnext_micro", lambda: ConvNeXt([CNBlockConfig(24, 48, 2), CNBlockConfig(48, None, 2)], num_classes=10),
         (1, 3, 32, 32), 13),
        ("shufflenet_micro", lambda: ShuffleNetV2([2, 2, 2], [24, 24, 48, 96, 256], num_classes=10), (1, 3, 64, 64), 13),
    ]
    for i, (name, make, shape, opset) in enumerate(vision):
        torch.manual_seed(400 + i)
        m = make()
        randomise_bn(m, 500 + i)
        export(name, m, shape, opset)


if __name__ == "__main__":
    main()
