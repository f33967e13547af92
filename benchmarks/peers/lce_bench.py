"""Peer benchmark: the BNN MLP and the CIFAR-10 BNN in Larq, converted with
Larq Compute Engine (LCE) and timed with LCE's own interpreter on the CPU.

Runs in its own venv (benchmarks/peers/requirements-lce.txt); never imported
by pybitnet. Random weights and batch-norm statistics: speed does not depend
on them, only the op graph does.

    python benchmarks/peers/lce_bench.py [--models mlp,cnn] [--batches 100,1] [--threads 1]

prints one JSON line per (model, batch, threads): median ms over `--repeats`
timed calls after `--warmup` calls, and the converted model's op counts
(`lce_ops`: the Lce* custom ops, proof that the binary layers became binary
kernels; `ops`: every op). `--serve` instead reads lines "model batch threads
repeats [between]" on stdin and answers each with one JSON line, so that a driver
(compare.py) can interleave LCE's and pybitnet's timings in one run.

`between` says what happens before each timed call: `warm` (nothing: back to
back), `sleep5` (5 ms asleep, as a server between requests) or `cold` (read a
128 MiB buffer first, evicting the weights from every cache level).
"""
import argparse
import collections
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import larq as lq  # noqa: E402
import larq_compute_engine as lce  # noqa: E402
from larq_compute_engine.tflite.python.interpreter import Interpreter  # noqa: E402

MLP_SIZES = (784, 4096, 4096, 4096, 10)
# Binary layers: binary weights, and ste_sign on the inputs (LCE converts a
# QuantConv2D to LceBconv2d only when both input and kernel are binarized).
BINARY = dict(input_quantizer="ste_sign", kernel_quantizer="ste_sign", kernel_constraint="weight_clip",
              use_bias=False)
# First layers: real input, binary weights.
REAL_IN = dict(kernel_quantizer="ste_sign", kernel_constraint="weight_clip", use_bias=False)


def bn():
    return tf.keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-4, scale=True)


def mlp(batch):
    """784-4096-4096-4096-10 as 1x1 convolutions on a (1, 1, C) input (LCE has
    no binary dense op), batch norm after each layer."""
    x = inp = tf.keras.Input((1, 1, MLP_SIZES[0]), batch_size=batch)
    for n, width in enumerate(MLP_SIZES[1:]):
        x = lq.layers.QuantConv2D(width, 1, **(REAL_IN if n == 0 else BINARY))(x)
        x = bn()(x)
    x = tf.keras.layers.Flatten()(x)
    return tf.keras.Model(inp, x), (batch, 1, 1, MLP_SIZES[0])


def cnn(batch):
    """The BNN paper's CIFAR-10 net (docs: /tmp/contract.md of the conv work):
    128C3-128C3-MP2-256C3-256C3-MP2-512C3-512C3-MP2-1024FC-1024FC-10FC, BN after
    pooling, 'same' padding; binary-input convs pad with +1 (pad_values=1.0, as
    LCE recommends), the real-input first conv with zeros."""
    x = inp = tf.keras.Input((32, 32, 3), batch_size=batch)
    x = lq.layers.QuantConv2D(128, 3, padding="same", **REAL_IN)(x)
    x = bn()(x)
    for width, pool in ((128, True), (256, False), (256, True), (512, False), (512, True)):
        x = lq.layers.QuantConv2D(width, 3, padding="same", pad_values=1.0, **BINARY)(x)
        if pool:
            x = tf.keras.layers.MaxPool2D(2)(x)
        x = bn()(x)
    x = tf.keras.layers.Flatten()(x)
    for width in (1024, 1024, 10):
        x = lq.layers.QuantDense(width, **BINARY)(x)
        x = bn()(x)
    return tf.keras.Model(inp, x), (batch, 32, 32, 3)


MODELS = {"mlp": mlp, "cnn": cnn}


def randomize_batch_norms(model, rng):
    """Non-trivial BN statistics (gamma of both signs), like benchmarks/bnn_inference.py."""
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(-1, 1, c), rng.uniform(-1, 1, c), rng.normal(0, 5, c),
                               rng.uniform(1, 100, c)])


def op_counts(flatbuffer):
    """Operator counts of a converted model, by name (custom ops by their custom code)."""
    from tensorflow.lite.python import schema_py_generated as schema

    m = schema.Model.GetRootAsModel(flatbuffer, 0)
    names = []
    for i in range(m.OperatorCodesLength()):
        code = m.OperatorCodes(i)
        if code.CustomCode():
            names.append(code.CustomCode().decode())
        else:
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            names.append(next(k for k, v in vars(schema.BuiltinOperator).items() if v == builtin))
    counts = collections.Counter()
    for s in range(m.SubgraphsLength()):
        g = m.Subgraphs(s)
        for o in range(g.OperatorsLength()):
            counts[names[g.Operators(o).OpcodeIndex()]] += 1
    return dict(sorted(counts.items()))


class Bench:
    """Converted models, cached per (model, batch), and their interpreters per thread count."""

    def __init__(self, seed=0, xnnpack=False):
        self.seed, self.xnnpack = seed, xnnpack
        self.converted = {}
        self.interpreters = {}

    def model(self, name, batch):
        if (name, batch) not in self.converted:
            tf.keras.utils.set_random_seed(self.seed)
            keras_model, shape = MODELS[name](batch)
            randomize_batch_norms(keras_model, np.random.default_rng(self.seed))
            flatbuffer = lce.convert_keras_model(keras_model)
            self.converted[name, batch] = (flatbuffer, shape, op_counts(flatbuffer))
        return self.converted[name, batch]

    def interpreter(self, name, batch, threads):
        if (name, batch, threads) not in self.interpreters:
            flatbuffer = self.model(name, batch)[0]
            self.interpreters[name, batch, threads] = Interpreter(
                flatbuffer, num_threads=threads, use_reference_bconv=False, use_indirect_bgemm=True,
                use_xnnpack=self.xnnpack)
        return self.interpreters[name, batch, threads]

    def time(self, name, batch, threads, repeats, warmup=2, between="warm"):
        _, shape, ops = self.model(name, batch)
        interp = self.interpreter(name, batch, threads).interpreter  # the wrapper: one call = one batch
        x = np.random.default_rng(1).uniform(-1, 1, shape).astype(np.float32)
        for _ in range(warmup):
            out = interp.predict([x])
        times = []
        pause = BETWEEN[between]
        for _ in range(repeats):
            pause()
            t = time.perf_counter()
            interp.predict([x])
            times.append(time.perf_counter() - t)
        lce_ops = {k: v for k, v in ops.items() if k.startswith("Lce")}
        return dict(peer="lce", lce_version=lce.__version__, xnnpack=self.xnnpack, model=name, batch=batch,
                    threads=threads, between=between,
                    median_ms=1e3 * float(np.median(times)), min_ms=1e3 * min(times), repeats=repeats,
                    output_shape=list(out[0].shape), lce_ops=lce_ops, ops=ops)


_EVICT = None


def evict_caches():
    """Read 128 MiB, more than any L3 here, so the next call finds its weights in DRAM."""
    global _EVICT
    if _EVICT is None:
        _EVICT = np.ones(32 << 20, np.float32)
    float(_EVICT.sum())


# What runs before each timed call (the same three modes as compare.py's --between).
BETWEEN = {"warm": lambda: None, "sleep5": lambda: time.sleep(0.005), "cold": evict_caches}


def default_repeats(name, batch):
    return 5 if (name, batch) == ("cnn", 100) else 30


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="mlp,cnn")
    p.add_argument("--batches", default="100,1")
    p.add_argument("--threads", default="1")
    p.add_argument("--repeats", type=int, default=0, help="timed calls per row (0: 30, 5 for cnn batch 100)")
    p.add_argument("--serve", action="store_true", help="answer 'model batch threads repeats' lines on stdin")
    p.add_argument("--xnnpack", action="store_true", help="run the interpreter with TFLite's XNNPack delegate "
                   "(faster float first layer at batch 1 here; off by default)")
    args = p.parse_args(argv)
    bench = Bench(xnnpack=args.xnnpack)
    if args.serve:
        print(json.dumps({"ready": True, "lce_version": lce.__version__}), flush=True)
        for line in sys.stdin:
            if not line.strip():
                continue
            name, batch, threads, repeats, *between = line.split()
            print(json.dumps(bench.time(name, int(batch), int(threads), int(repeats),
                                        between=between[0] if between else "warm")), flush=True)
        return
    for name in args.models.split(","):
        for batch in map(int, args.batches.split(",")):
            for threads in map(int, args.threads.split(",")):
                row = bench.time(name, batch, threads, args.repeats or default_repeats(name, batch))
                if not row["lce_ops"]:
                    print(f"warning: {name} converted without Lce ops: {row['ops']}", file=sys.stderr)
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
