#!/usr/bin/env python3
"""Deterministic calibration inputs for the platform check's Int8 builds of the MLPerf Tiny models
(tests/ModelGen.PlatformCheck): standard normal float32 samples, raw little-endian, no numpy needed.
They only have to be the same on every platform; they are not representative data."""
import os
import random
import struct

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "models", "mlperf")
for name, floats, samples in (("ds_cnn", 49 * 10, 8), ("mobilenet_v1_025", 3 * 96 * 96, 1), ("resnet8", 3 * 32 * 32, 4)):
    rng = random.Random(name)
    with open(os.path.join(root, name + "_calib.bin"), "wb") as f:
        f.write(struct.pack("<%df" % (floats * samples), *(rng.gauss(0.0, 1.0) for _ in range(floats * samples))))
