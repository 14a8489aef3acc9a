#!/usr/bin/python3
"""torchvision's architectures as a user exports them, for `tryall` (benchmarks/README.md): models nobody tuned for.

Run with /usr/bin/python3 (Debian python3-torch 1.13 and python3-torchvision 0.14); writes OUT/<name>_op<opset>.onnx
(OUT: the first argument, default .cache/torchvision, git-ignored: 1-111 MB each, deterministic random weights, not
committed) for opsets 11, 13 and 17, with BatchNorm statistics randomised as trained models have them. Inputs are small
(32-96 pixels) and the heads have 10 classes. The three largest (ResNet-18, ConvNeXt-T, Swin-T: 11-28M parameters)
only with --large: C# at that size takes Roslyn minutes to compile.
"""
import os
import sys

import torch
import torchvision.models as M

OUT = next((a for a in sys.argv[1:] if not a.startswith("--")), os.path.join(".cache", "torchvision"))
LARGE = "--large" in sys.argv

CASES = {
    "mobilenet_v2": (lambda: M.mobilenet_v2(width_mult=0.35, num_classes=10), 96),
    "mobilenet_v3_small": (lambda: M.mobilenet_v3_small(num_classes=10), 96),
    "mobilenet_v3_large": (lambda: M.mobilenet_v3_large(width_mult=0.5, num_classes=10), 96),
    "squeezenet1_1": (lambda: M.squeezenet1_1(num_classes=10), 96),
    "shufflenet_v2_x0_5": (lambda: M.shufflenet_v2_x0_5(num_classes=10), 96),
    "efficientnet_b0": (lambda: M.efficientnet_b0(num_classes=10), 96),
    "mnasnet0_5": (lambda: M.mnasnet0_5(num_classes=10), 96),
    "regnet_x_400mf": (lambda: M.regnet_x_400mf(num_classes=10), 64),
    "regnet_y_400mf": (lambda: M.regnet_y_400mf(num_classes=10), 64),
    "googlenet": (lambda: M.googlenet(num_classes=10, aux_logits=False, init_weights=True), 64),
    "densenet121": (lambda: M.densenet121(num_classes=10), 64),
    "vit_tiny": (lambda: M.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=3, hidden_dim=96,
                                             mlp_dim=192, num_classes=10), 32),
}
LARGE_CASES = {
    "resnet18": (lambda: M.resnet18(num_classes=10), 64),
    "convnext_tiny": (lambda: M.convnext_tiny(num_classes=10), 64),
    "swin_t": (lambda: M.swin_t(num_classes=10), 64),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, (make, size) in list(CASES.items()) + (list(LARGE_CASES.items()) if LARGE else []):
        for opset in (11, 13, 17):
            torch.manual_seed(0)
            m = make().eval()
            for mod in m.modules():
                if isinstance(mod, torch.nn.BatchNorm2d):
                    mod.running_mean.uniform_(-0.2, 0.2)
                    mod.running_var.uniform_(0.5, 1.5)
            x = torch.randn(1, 3, size, size)
            path = os.path.join(OUT, f"{name}_op{opset}.onnx")
            torch.onnx.export(m, x, path, opset_version=opset, do_constant_folding=opset != 11)
            print(f"{path}  {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
