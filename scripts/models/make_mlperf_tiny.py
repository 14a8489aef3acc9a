#!/usr/bin/python3
"""The four MLPerf Tiny v1.0 reference architectures in PyTorch, with deterministic weights, exported to ONNX.

Run from anywhere with /usr/bin/python3 (torch 1.13, onnx 1.12); writes tests/models/mlperf/*.onnx, which are
committed so that tests and benchmarks never need torch. The layer lists follow mlcommons/tiny's Keras reference
models (benchmark/training/*/keras_model.py, vww_model.py):

- ds_cnn            keyword spotting, DS-CNN small, input 1x1x49x10, 12 classes
- mobilenet_v1_025  visual wake words, MobileNetV1 alpha 0.25, input 1x3x96x96, 2 classes
- resnet8           CIFAR-10 image classification, ResNet-8 (16/32/64 filters), input 1x3x32x32, 10 classes
- fc_autoencoder    anomaly detection, 640-128x4-8-128x4-640, input 1x640

Two deliberate departures from the Keras graphs, neither changing shapes, MACs or parameter counts:
- Keras 'same' padding pads stride-2 convolutions on even inputs asymmetrically (0 before, 1 after); PyTorch's
  symmetric padding (k // 2) gives the same output sizes and is what a PyTorch user writes, so the export has the
  pads inside each Conv instead of separate Pad nodes.
- Dropout layers are left out: they are identities in inference and the exporter drops them in eval mode.

Weights come from torch.manual_seed; BatchNorm running statistics are first measured on random inputs (so that
activations keep a sensible scale through the network) and then perturbed deterministically, and the affine
parameters randomised, so that folding BatchNorm changes the weights in a way a test can see. The classifiers' final
layer is then scaled to logits of unit spread on those inputs, so that the softmax outputs are not saturated (a
saturated softmax would hide differences from a test).
"""
import os

import onnx
import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "models", "mlperf")


def conv_bn_relu(cin, cout, k, stride=1, groups=1, pad=None):
    return [nn.Conv2d(cin, cout, k, stride, k // 2 if pad is None else pad, groups=groups), nn.BatchNorm2d(cout), nn.ReLU()]


class DsCnn(nn.Module):
    """DS-CNN small: Conv 64 10x4 stride 2, four depthwise-separable blocks of 64, average pool, FC 12, softmax."""

    def __init__(self, filters=64, classes=12):
        super().__init__()
        # 49x10 -> 25x5 as Keras' 'same' (which pads 4+5 rows and 1+1 columns)
        layers = conv_bn_relu(1, filters, (10, 4), stride=2, pad=(5, 1))
        for _ in range(4):
            layers += conv_bn_relu(filters, filters, 3, groups=filters)  # depthwise 3x3
            layers += conv_bn_relu(filters, filters, 1)  # pointwise
        self.features = nn.Sequential(*layers)
        self.pool = nn.AvgPool2d((25, 5))
        self.fc = nn.Linear(filters, classes)

    def forward(self, x):
        x = self.features(x)
        assert x.shape[2:] == (25, 5), x.shape  # the reference's feature map, pooled whole
        return torch.softmax(self.fc(self.pool(x).flatten(1)), dim=1)


class MobileNetV1(nn.Module):
    """MobileNetV1 alpha 0.25 as in the VWW reference: conv 8 stride 2, 13 depthwise-separable blocks, pool, FC 2."""

    def __init__(self, classes=2):
        super().__init__()
        layers = conv_bn_relu(3, 8, 3, stride=2)  # 96 -> 48
        # (stride of the depthwise conv, pointwise filters)
        blocks = [(1, 16), (2, 32), (1, 32), (2, 64), (1, 64), (2, 128)] + [(1, 128)] * 5 + [(2, 256), (1, 256)]
        c = 8
        for stride, out in blocks:
            layers += conv_bn_relu(c, c, 3, stride=stride, groups=c)
            layers += conv_bn_relu(c, out, 1)
            c = out
        self.features = nn.Sequential(*layers)  # 256 x 3 x 3
        self.pool = nn.AvgPool2d(3)
        self.fc = nn.Linear(256, classes)

    def forward(self, x):
        x = self.features(x)
        assert x.shape[2:] == (3, 3), x.shape
        return torch.softmax(self.fc(self.pool(x).flatten(1)), dim=1)


class ResidualStack(nn.Module):
    """Two 3x3 convs with BN; a strided 1x1 conv (no BN, as in the reference) on the shortcut when the shape changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.body = nn.Sequential(*conv_bn_relu(cin, cout, 3, stride=stride),
                                  nn.Conv2d(cout, cout, 3, 1, 1), nn.BatchNorm2d(cout))
        self.shortcut = nn.Conv2d(cin, cout, 1, stride) if stride != 1 or cin != cout else nn.Identity()
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.shortcut(x) + self.body(x))


class ResNet8(nn.Module):
    """ResNet-8 (EEMBC variant): conv 16, three residual stacks of 16/32/64 filters, average pool 8, FC 10, softmax."""

    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(*conv_bn_relu(3, 16, 3))
        self.stacks = nn.Sequential(ResidualStack(16, 16, 1), ResidualStack(16, 32, 2), ResidualStack(32, 64, 2))
        self.pool = nn.AvgPool2d(8)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = self.stacks(self.stem(x))
        assert x.shape[2:] == (8, 8), x.shape
        return torch.softmax(self.fc(self.pool(x).flatten(1)), dim=1)


class FcAutoencoder(nn.Module):
    """Anomaly detection: Dense+BN+ReLU 128 x4, bottleneck 8, 128 x4, Dense 640 (linear output)."""

    def __init__(self, dim=640):
        super().__init__()
        widths = [dim, 128, 128, 128, 128, 8, 128, 128, 128, 128]
        layers = []
        for a, b in zip(widths, widths[1:]):
            layers += [nn.Linear(a, b), nn.BatchNorm1d(b), nn.ReLU()]
        layers.append(nn.Linear(128, dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


def randomise_batchnorm(model, shape, gen):
    """Measures BN statistics on random inputs, then perturbs them and the affine parameters (all from gen)."""
    bns = [m for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model(torch.randn((32,) + shape[1:], generator=gen))
    with torch.no_grad():
        for bn in bns:
            n = bn.num_features
            bn.running_mean += 0.2 * bn.running_var.sqrt() * torch.randn(n, generator=gen)
            bn.running_var *= 0.5 + torch.rand(n, generator=gen)
            bn.weight.copy_(0.5 + torch.rand(n, generator=gen))
            bn.bias.copy_(0.2 * torch.randn(n, generator=gen))
    model.eval()
    fc = getattr(model, "fc", None)
    if fc is not None:
        logits = []
        hook = fc.register_forward_hook(lambda mod, inp, out: logits.append(out))
        with torch.no_grad():
            model(torch.randn((64,) + shape[1:], generator=gen))
            hook.remove()
            spread = logits[0].std()
            fc.weight /= spread
            fc.bias /= spread


MODELS = [
    ("ds_cnn", DsCnn, (1, 1, 49, 10)),
    ("mobilenet_v1_025", MobileNetV1, (1, 3, 96, 96)),
    ("resnet8", ResNet8, (1, 3, 32, 32)),
    ("fc_autoencoder", FcAutoencoder, (1, 640)),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    for i, (name, cls, shape) in enumerate(MODELS):
        torch.manual_seed(1000 + i)
        model = cls()
        randomise_batchnorm(model, shape, torch.Generator().manual_seed(2000 + i))
        path = os.path.join(OUT, name + ".onnx")
        torch.onnx.export(model, torch.zeros(shape), path, opset_version=13,
                          input_names=["input"], output_names=["output"])
        graph = onnx.load(path).graph
        ops = {}
        for node in graph.node:
            ops[node.op_type] = ops.get(node.op_type, 0) + 1
        params = sum(p.numel() for p in model.parameters())
        print(f"{name}: {shape} -> {path}  {params} parameters; nodes: "
              + ", ".join(f"{k} x{v}" for k, v in sorted(ops.items())))


if __name__ == "__main__":
    main()
