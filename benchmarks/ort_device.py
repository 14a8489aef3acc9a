#!/usr/bin/env python3
"""ONNX Runtime's single-thread times on a machine without the .NET SDK (scripts/check-vnni.sh's device), beside the
NativeAOT PlatformCheck's --time there: the MLPerf Tiny float models, and each quantized by ONNX Runtime's own
quantize_static (QDQ, int8 activations and per-channel int8 weights, MinMax on the same calibration files as the
Int8 builds). Python's per-call overhead is measured on an Identity model and printed, not subtracted.
Usage: python3 ort_device.py MODELS_DIR  (tests/models/mlperf)"""
import os
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static


def session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def median_us(sess, x):
    """Median over 15 batches (each at least 2 ms) of one bound run's time."""
    io = sess.io_binding()
    io.bind_cpu_input(sess.get_inputs()[0].name, x)
    for o in sess.get_outputs():
        io.bind_output(o.name, "cpu")
    for _ in range(200):
        sess.run_with_iobinding(io)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 0.002:
        sess.run_with_iobinding(io)
        n += 1
    batches = []
    for _ in range(15):
        t0 = time.perf_counter()
        for _ in range(n):
            sess.run_with_iobinding(io)
        batches.append((time.perf_counter() - t0) / n * 1e6)
    return sorted(batches)[7]


class Reader(CalibrationDataReader):
    def __init__(self, name, samples):
        self.items = iter([{name: s[None]} for s in samples])

    def get_next(self):
        return next(self.items, None)


def main():
    root = sys.argv[1]
    tmp = tempfile.mkdtemp()
    ident = os.path.join(tmp, "identity.onnx")
    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "identity",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), ident)
    print("ort onnxruntime %s, python per-call overhead (Identity [1,16]) %.1f us" % (
        ort.__version__, median_us(session(ident), np.zeros((1, 16), np.float32))))
    print("ort model float_us qdq_us")
    for name in ("ds_cnn", "mobilenet_v1_025", "resnet8"):
        path = os.path.join(root, name + ".onnx")
        s = session(path)
        inp = s.get_inputs()[0]
        shape = [d if isinstance(d, int) else 1 for d in inp.shape]
        rng = np.random.default_rng(1)
        x = rng.uniform(-1, 1, shape).astype(np.float32)
        calib = np.fromfile(os.path.join(root, name + "_calib.bin"), dtype="<f4").reshape([-1] + shape[1:])
        qpath = os.path.join(tmp, name + "_qdq.onnx")
        quantize_static(path, qpath, Reader(inp.name, calib), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
        print("ort %s %.1f %.1f" % (name, median_us(s, x), median_us(session(qpath), x)))


if __name__ == "__main__":
    main()
