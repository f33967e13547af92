"""End-to-end BNN MLP inference (784-4096-4096-4096-10): pybitnet's packed
InferenceModel vs the same network's float32 forward in numpy, side by side in
one run, same thread count (numpy's BLAS limited with threadpoolctl), medians of
interleaved repeats.

    python -m benchmarks.bnn_inference            # prints a Markdown table

pybitnet: input -> first layer (float x times packed weights; uint8 pixels by
the same additions, exact, or by the bit-plane path) -> pack -> 2 fused xnor_gemm_threshold layers -> xnor_gemm +
float epilogue -> logits; packing and thresholds included. numpy: the same
net with ±1 float32 weights, batch norm folded to scale/shift, sign by
np.where: x @ W.T, y * scale + shift, sign, ..., logits.
"""
import time

import pybitnet  # before numpy: shortens OpenBLAS's idle spin (see pybitnet/__init__.py)
import numpy as np

from pybitnet import recipes
from pybitnet.inference import fold_bn_affine, from_trained
from pybitnet.nn import BatchNorm, BinarizedDense
from pybitnet.bench import median_time

from .common import use_threads

SIZES = (784, 4096, 4096, 4096, 10)


def build_model(hidden=4096, seed=0):
    """The BNN recipe's MLP (eval mode) with non-trivial BN statistics."""
    model = recipes.build_model(recipes.recipe("bnn", hidden=hidden, seed=seed), 784, 10)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, BatchNorm):
            c = layer.features
            layer.gamma.value[...] = rng.uniform(-1, 1, c).astype(np.float32)
            layer.beta.value[...] = rng.uniform(-1, 1, c).astype(np.float32)
            mean = rng.normal(0, 5, c).astype(np.float32)
            layer.set_statistics(mean, rng.uniform(1, 100, c).astype(np.float32))  # whatever the BN tracks
    model.eval()
    return model


class FloatForward:
    """The same network in float32 numpy: ±1 weights, folded BN, sign."""

    def __init__(self, model):
        dense = [l for l in model.layers if isinstance(l, BinarizedDense)]
        norms = [l for l in model.layers if isinstance(l, BatchNorm)]
        self.w_t = [np.ascontiguousarray(np.where(d.weight.value < 0, -1, 1).astype(np.float32).T) for d in dense]
        self.affine = [fold_bn_affine(bn, d.bias.value) for d, bn in zip(dense, norms)]

    def __call__(self, x):
        h = x
        for i, (w_t, (scale, shift)) in enumerate(zip(self.w_t, self.affine)):
            y = h @ w_t
            y *= scale
            y += shift
            h = y if i == len(self.w_t) - 1 else np.where(y >= 0, np.float32(1), np.float32(-1))
        return h


def interleaved_medians(fns, repeats=15, warmup=2):
    """Median time of each function, timed in turns (one call of each per round)
    so that load from other processes hits all of them alike."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
    return [float(np.median(ts)) for ts in times]


def rows(batches=(100, 1), threads=(1, 2), repeats=15):
    model = build_model()
    inf = from_trained(model, input_scale=2 / 255, input_offset=-1.0)
    ref = FloatForward(model)
    rng = np.random.default_rng(1)
    out = []
    for th in threads:
        use_threads(th)
        for m in batches:
            px = rng.integers(0, 256, (m, 784), dtype=np.uint8)
            x = pybitnet.data.scale_pm1(px)
            t_np, t_f, t_u8, t_bp = interleaved_medians(
                [lambda: ref(x), lambda: inf.logits(x), lambda: inf.logits(px),
                 lambda: inf.logits(px, uint8_path="bitplanes")], repeats)
            out.append((m, th, t_np, t_f, t_u8, t_bp))
    return out


def main():
    print(f"BNN MLP {'-'.join(map(str, SIZES))}, end to end (input to logits), median ms; "
          f"active ISA {pybitnet.isa()}")
    print()
    print("| batch | threads | numpy float32 | pybitnet (float input) | speedup | pybitnet (uint8, adds) | speedup "
          "| pybitnet (uint8, bit planes) | speedup |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for m, th, t_np, t_f, t_u8, t_bp in rows():
        print(f"| {m} | {th} | {1e3 * t_np:.3f} | {1e3 * t_f:.3f} | {t_np / t_f:.1f}x | {1e3 * t_u8:.3f} | "
              f"{t_np / t_u8:.1f}x | {1e3 * t_bp:.3f} | {t_np / t_bp:.1f}x |")


if __name__ == "__main__":
    main()
