"""End-to-end binary CNN inference: the BNN papers' CIFAR-10 VGG-like net
(2x128C3 - MP2 - 2x256C3 - MP2 - 2x512C3 - MP2 - 1024FC - 1024FC - 10FC,
32x32x3 input, BN after pooling) with random weights and batch norms, as
pybitnet's packed CNNModel vs the same net's float32 forward in numpy (im2col
+ BLAS matmul, folded batch norm, sign), side by side, medians of
interleaved repeats, one thread by default (numpy's BLAS limited too).

    python -m benchmarks.cnn_inference                 # table, batch 100 and 1, 1 thread
    python -m benchmarks.cnn_inference --profile       # + per-layer times of the packed model

The reference point is Larq Compute Engine on the same net, one thread, measured side by side by
``python -m benchmarks.peers.compare`` (658–669 ms at batch 100 in the last measurements; it varies
with the machine: time both in one run rather than quoting a figure).
"""
import argparse
import dataclasses
import time

import pybitnet  # before numpy: shortens OpenBLAS's idle spin (see pybitnet/__init__.py)
import numpy as np

from pybitnet.conv_bits import im2col
from pybitnet.inference import (Affine, CNNModel, FloatThreshold, MaxPool, PackedConv, PackedDense, RealConv,
                                Threshold)
from pybitnet.conv_bits import max_pool2d_bits
from pybitnet.inference.fold import fold_bn_affine, fold_bn_sign, fold_bn_sign_float
from pybitnet.nn import BatchNorm

from .common import use_threads

# (in, out, pool after) per conv; the SVHN variant halves the widths.
CIFAR_CONVS = ((3, 128, False), (128, 128, True), (128, 256, False), (256, 256, True), (256, 512, False),
               (512, 512, True))
CIFAR_DENSE = (8192, 1024, 1024, 10)


def random_bn(c, rng):
    bn = BatchNorm(c)
    bn.gamma.value[...] = rng.uniform(-1, 1, c).astype(np.float32)
    bn.beta.value[...] = rng.uniform(-1, 1, c).astype(np.float32)
    bn.running_mean[...] = rng.normal(0, 3, c).astype(np.float32)
    bn.running_var[...] = rng.uniform(1, 30, c).astype(np.float32)
    return bn


def build(convs=CIFAR_CONVS, dense=CIFAR_DENSE, seed=0):
    """(CNNModel, FloatCNN) of one random net (±1 weights, random batch norms)."""
    rng = np.random.default_rng(seed)
    packed_convs, float_convs = [], []
    for n, (cin, cout, pool) in enumerate(convs):
        w = np.where(rng.random((cout, 3, 3, cin)) < 0.5, -1.0, 1.0).astype(np.float32)
        bn = random_bn(cout, rng)
        pool_spec = MaxPool((2, 2), (2, 2)) if pool else None
        if n == 0:
            bits = pybitnet.pack_signs(np.ascontiguousarray(w.reshape(cout, -1)))
            packed_convs.append(RealConv(bits, cin, (3, 3), (1, 1), (1, 1), "nhwc",
                                         FloatThreshold(*fold_bn_sign_float(bn)), pool_spec))
        else:
            packed_convs.append(PackedConv(pybitnet.pack_signs(w, axis=-1), cin, (1, 1), (1, 1), "one",
                                           Threshold(*fold_bn_sign(bn, 9 * cin)), pool_spec))
        float_convs.append((np.ascontiguousarray(w.reshape(cout, -1).T), pool, fold_bn_affine(bn), n == 0))
    packed_dense, float_dense = [], []
    for n, (k, out) in enumerate(zip(dense[:-1], dense[1:])):
        w = np.where(rng.random((out, k)) < 0.5, -1.0, 1.0).astype(np.float32)
        bn = random_bn(out, rng)
        last = n == len(dense) - 2
        epilogue = Affine(*fold_bn_affine(bn)) if last else Threshold(*fold_bn_sign(bn, k))
        packed_dense.append(PackedDense(pybitnet.pack_signs(w), k, epilogue))
        float_dense.append((np.ascontiguousarray(w.T), fold_bn_affine(bn), last))
    return CNNModel(packed_convs, packed_dense, (32, 32, convs[0][0])), FloatCNN(float_convs, float_dense)


def build_random_cnn(batch, seed=0):
    """(packed CNNModel, float32 input batch): the hook of benchmarks/peers/compare.py."""
    model, _ = build(seed=seed)
    x = np.random.default_rng(seed + 1).uniform(-1, 1, (batch, 32, 32, 3)).astype(np.float32)
    return model, x


class FloatCNN:
    """The same net in float32 numpy: im2col + matmul, pool, folded BN, sign."""

    def __init__(self, convs, dense):
        self.convs, self.dense = convs, dense

    def __call__(self, x):
        h = x
        for w_t, pool, (scale, shift), first in self.convs:
            n, hh, ww, _ = h.shape
            pad = 0.0 if first else 1.0  # binary inputs are padded with +1, as the packed net
            y = (im2col(h, (3, 3), stride=1, padding=1, pad_value=pad) @ w_t).reshape(n, hh, ww, -1)
            if pool:
                y = y.reshape(n, hh // 2, 2, ww // 2, 2, -1).max(axis=(2, 4))
            y *= scale
            y += shift
            h = np.where(y >= 0, np.float32(1), np.float32(-1))
        h = h.reshape(h.shape[0], -1)
        for w_t, (scale, shift), last in self.dense:
            y = h @ w_t
            y *= scale
            y += shift
            h = y if last else np.where(y >= 0, np.float32(1), np.float32(-1))
        return h


def profile(model: CNNModel, x, repeats=5, first_conv="exact"):
    """Median CPU ms (time.process_time: immune to time-slicing on a loaded machine) per stage of model.logits(x)."""
    clock = time.process_time

    def stage_times():
        out, bits = [], None
        for i, conv in enumerate(model.convs):
            pool, conv = conv.pool, dataclasses.replace(conv, pool=None)
            t = clock()
            bits = conv.forward(x, fused=first_conv == "fused") if i == 0 else conv.forward(bits)
            out.append((f"conv{i} {conv.in_channels}->{conv.out_channels}", clock() - t))
            if pool is not None:
                t = clock()
                bits = max_pool2d_bits(bits, pool.size, pool.stride, flip=conv.epilogue.decreasing)
                out.append((f"pool{i}", clock() - t))
        bits = model.features(x, first_conv=first_conv)
        t = clock()
        for layer in model.dense[:-1]:
            e = layer.epilogue
            bits = pybitnet.xnor_gemm_threshold(bits, layer.weight_bits, layer.in_features, e.t, e.flip)
        pybitnet.xnor_gemm(bits, model.dense[-1].weight_bits, model.dense[-1].in_features)
        out.append(("dense (3 layers)", clock() - t))
        return out

    runs = [stage_times() for _ in range(repeats)]
    return [(name, 1e3 * float(np.median([r[i][1] for r in runs]))) for i, (name, _) in enumerate(runs[0])]


def interleaved_medians(fns, repeats=7, warmup=1):
    """(wall, cpu) median seconds of each function, timed in turns (one call of
    each per round). CPU time (time.process_time, all of this process's
    threads) is what a call costs when it has its cores to itself: with more
    runnable jobs than cores, a 100 ms call is time-sliced and its wall time
    doubles, which CPU time does not see. One thread: CPU time = unloaded wall time."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    wall, cpu = [[] for _ in fns], [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            c, t = time.process_time(), time.perf_counter()
            fn()
            wall[i].append(time.perf_counter() - t)
            cpu[i].append(time.process_time() - c)
    return [(float(np.median(w)), float(np.median(c))) for w, c in zip(wall, cpu)]


def rows(batches=(100, 1), threads=1, repeats=7):
    use_threads(threads)
    model, ref = build()
    rng = np.random.default_rng(1)
    out = []
    for m in batches:
        x = rng.uniform(-1, 1, (m, 32, 32, 3)).astype(np.float32)
        t_np, t_pb = interleaved_medians([lambda: ref(x), lambda: model.logits(x)], repeats)  # (wall, cpu)
        agree = float(np.mean(np.argmax(ref(x), 1) == model.predict(x)))
        out.append((m, threads, t_np, t_pb, agree))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    print(f"BNN CIFAR-10 CNN, 32x32x3 -> logits, median ms; active ISA {pybitnet.isa()}, {args.threads} thread(s)")
    print()
    print("| batch | threads | numpy float32 wall | pybitnet wall | speedup | numpy float32 CPU | pybitnet CPU "
          "| speedup | argmax agreement |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for m, th, (w_np, c_np), (w_pb, c_pb), agree in rows(threads=args.threads, repeats=args.repeats):
        print(f"| {m} | {th} | {1e3 * w_np:.1f} | {1e3 * w_pb:.2f} | {w_np / w_pb:.1f}x | {1e3 * c_np:.1f} | "
              f"{1e3 * c_pb:.2f} | {c_np / c_pb:.1f}x | {agree:.2f} |")
    if args.profile:
        model, _ = build()
        for m in (100, 1):
            x = np.random.default_rng(2).uniform(-1, 1, (m, 32, 32, 3)).astype(np.float32)
            print()
            print(f"Per stage, batch {m} (median CPU ms):")
            for name, ms in profile(model, x):
                print(f"  {name:24s} {ms:8.2f}")


if __name__ == "__main__":
    main()
