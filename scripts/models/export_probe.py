#!/usr/bin/python3
"""Single PyTorch layers and idioms as users export them, for `tryall`: GroupNorm, PixelShuffle, interpolate,
reflect padding, chunk/cat, masked_fill, cumsum/argmax, topk, 2-layer bidirectional LSTM, GRU, MultiheadAttention,
einsum, grid_sample, dilated grouped Conv1d, ConvTranspose with output_padding, ceil-mode pools, adaptive pooling,
tanh GELU, an embedding lookup, PReLU/HardSwish/SiLU, and an STFT (which torch 1.13 cannot export: it says so).

Run with /usr/bin/python3 (Debian python3-torch 1.13); writes OUT/<name>_op<13|17>.onnx (OUT: the first argument,
default .cache/probe, git-ignored; random weights, seed 0). Then:
dotnet run -c Release --project benchmarks/ModelGen.Benchmarks -- tryall .cache/probe
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(".cache", "probe")
os.makedirs(out, exist_ok=True)
class M(nn.Module):
    def __init__(self, f, mods=None):
        super().__init__(); self.f = f
        if mods:
            for k, v in mods.items(): setattr(self, k, v)
    def forward(self, x): return self.f(self, x)
cases = {
 "groupnorm": (M(lambda s, x: s.gn(x), {"gn": nn.GroupNorm(4, 8)}), (1, 8, 10, 10)),
 "pixelshuffle": (M(lambda s, x: F.pixel_shuffle(s.c(x), 2), {"c": nn.Conv2d(3, 12, 3, padding=1)}), (1, 3, 8, 8)),
 "interp_bilinear": (M(lambda s, x: F.interpolate(x, scale_factor=2.5, mode="bilinear", align_corners=False)), (1, 3, 7, 9)),
 "interp_nearest_size": (M(lambda s, x: F.interpolate(x, size=(5, 13), mode="nearest")), (1, 2, 7, 9)),
 "pad_reflect": (M(lambda s, x: F.pad(x, (1, 2, 3, 1), mode="reflect")), (1, 2, 6, 7)),
 "chunk_cat": (M(lambda s, x: torch.cat([c * (i + 1) for i, c in enumerate(torch.chunk(x, 3, dim=1))], dim=2)), (1, 9, 4)),
 "masked_fill": (M(lambda s, x: x.masked_fill(x > 0.5, -1.0).softmax(-1)), (2, 5, 7)),
 "cumsum_argmax": (M(lambda s, x: torch.cumsum(x, dim=1) + torch.argmax(x, dim=1, keepdim=True).float()), (3, 6)),
 "topk": (M(lambda s, x: torch.topk(x, 3, dim=-1)[0]), (2, 10)),
 "lstm_bi_2layer": (M(lambda s, x: s.l(x)[0], {"l": nn.LSTM(6, 5, num_layers=2, bidirectional=True, batch_first=True)}), (1, 7, 6)),
 "gru_proj": (M(lambda s, x: s.g(x)[1], {"g": nn.GRU(4, 6, batch_first=True)}), (1, 9, 4)),
 "mha": (M(lambda s, x: s.a(x, x, x, need_weights=False)[0], {"a": nn.MultiheadAttention(16, 4, batch_first=True)}), (1, 6, 16)),
 "einsum_bmm": (M(lambda s, x: torch.einsum("bij,bkj->bik", x, x)), (2, 4, 5)),
 "grid_sample": (M(lambda s, x: F.grid_sample(x, torch.tanh(x.mean(1, keepdim=True).permute(0, 2, 3, 1).repeat(1, 1, 1, 2)), align_corners=False)), (1, 3, 5, 6)),
 "conv1d_dilated_same": (M(lambda s, x: s.c(x), {"c": nn.Conv1d(4, 6, 3, dilation=2, padding=2, groups=2)}), (1, 4, 20)),
 "convtranspose_outpad": (M(lambda s, x: s.c(x), {"c": nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1)}), (1, 4, 5, 5)),
 "maxpool_ceil_indices": (M(lambda s, x: F.max_pool2d(x, 3, 2, ceil_mode=True)), (1, 2, 8, 8)),
 "adaptive_avg": (M(lambda s, x: F.adaptive_avg_pool2d(x, (3, 2))), (1, 2, 9, 8)),
 "layernorm_gelu_tanh": (M(lambda s, x: F.gelu(s.n(x), approximate="tanh"), {"n": nn.LayerNorm(12)}), (2, 3, 12)),
 "embedding_like": (M(lambda s, x: s.e(torch.clamp((x * 5).long(), 0, 9)).sum(1), {"e": nn.Embedding(10, 4)}), (2, 6)),
 "prelu_hardswish_silu": (M(lambda s, x: F.silu(F.hardswish(s.p(x))), {"p": nn.PReLU(3)}), (1, 3, 4, 4)),
 "stft_mag": (M(lambda s, x: torch.stft(x, 16, hop_length=4, window=torch.hann_window(16), return_complex=False).pow(2).sum(-1)), (1, 64)),
}
for name, (m, shape) in cases.items():
    m.eval()
    x = torch.randn(*shape)
    for opset in (13, 17):
        try:
            torch.onnx.export(m, x, f"{out}/{name}_op{opset}.onnx", opset_version=opset, input_names=["x"], output_names=["y"])
        except Exception as e:
            print("EXPORT FAIL", name, opset, str(e).splitlines()[0][:150])
print("done")
