#!/usr/bin/env python3
"""Trains a small CNN on scikit-learn's 8x8 digits and exports it as a user would (torch.onnx.export, opset 13).

Writes tests/models/digits/: digits_cnn.onnx, test_x.bin (held-out inputs, float32 [N,1,8,8] back to back),
test_y.bin (their labels, int32), calib.bin (300 training inputs, float32) for build-time INT8 calibration.
Deterministic (fixed seeds, fixed split, one thread). Run with /usr/bin/python3 (torch 1.13, sklearn 1.2).
"""
import os
import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

torch.manual_seed(0)
np.random.seed(0)
torch.set_num_threads(1)

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
out = os.path.join(root, "tests", "models", "digits")
os.makedirs(out, exist_ok=True)

digits = load_digits()
x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]  # [N,1,8,8] in [0,1]
y = digits.target.astype(np.int64)
x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)


class DigitsCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(16 * 4 * 4, 10)

    def forward(self, t):
        t = torch.relu(self.conv1(t))
        t = torch.relu(self.conv2(t))
        t = self.pool(t)
        return self.fc(torch.flatten(t, 1))


model = DigitsCnn()
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
for epoch in range(30):
    perm = torch.randperm(len(xt))
    for i in range(0, len(xt), 64):
        idx = perm[i:i + 64]
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx])
        loss.backward()
        opt.step()

model.eval()
with torch.no_grad():
    acc = (model(torch.from_numpy(x_test)).argmax(1).numpy() == y_test).mean()
print(f"float accuracy on {len(y_test)} held-out digits: {acc:.4f}")

torch.onnx.export(model, torch.zeros(1, 1, 8, 8), os.path.join(out, "digits_cnn.onnx"), opset_version=13,
                  input_names=["image"], output_names=["logits"])
x_test.astype("<f4").tofile(os.path.join(out, "test_x.bin"))
y_test.astype("<i4").tofile(os.path.join(out, "test_y.bin"))
x_train[:300].astype("<f4").tofile(os.path.join(out, "calib.bin"))
