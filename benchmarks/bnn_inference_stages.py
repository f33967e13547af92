"""Where the BNN MLP's inference time goes, stage by stage, one thread.

    python -m benchmarks.bnn_inference_stages [--batch 1] [--repeats 1000]

Each stage is timed inside the end-to-end sequence (first layer, the fused
hidden layers, the last layer, the float epilogue), so every layer's weights
come from wherever the previous stages left the caches, as in real use;
prints the medians in ms and the end-to-end median of `InferenceModel.logits`.
"""
import argparse
import os
import time

import pybitnet  # before numpy (see pybitnet/__init__.py)
import numpy as np

from pybitnet import _bitops
from pybitnet.inference import from_trained

from .bnn_inference import build_model
from .common import use_threads


def stages(inf, x, repeats):
    layers, clock = inf.layers, time.perf_counter
    last = layers[-1]
    times = []
    for _ in range(repeats):
        t = [clock()]
        bits = inf.features(x)
        t.append(clock())
        for layer in layers[1:-1]:
            e = layer.epilogue
            bits = _bitops.xnor_gemm_threshold(bits, layer.weight_bits, layer.in_features, e.t, e.flip)
            t.append(clock())
        dot = _bitops.xnor_gemm(bits, last.weight_bits, last.in_features)
        t.append(clock())
        (dot * last.epilogue.scale + last.epilogue.shift).astype(np.float32)
        t.append(clock())
        times.append(np.diff(t))
    return 1e3 * np.median(np.array(times), axis=0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--repeats", type=int, default=1000)
    args = p.parse_args(argv)
    use_threads(1)
    inf = from_trained(build_model(), input_scale=2 / 255, input_offset=-1.0)
    px = np.random.default_rng(1).integers(0, 256, (args.batch, 784), dtype=np.uint8)
    x = pybitnet.data.scale_pm1(px)
    names = ["first layer"] + [f"fused layer {i}" for i in range(1, len(inf.layers) - 1)] + ["last layer", "epilogue"]
    print(f"batch {args.batch}, 1 thread, ISA {pybitnet.isa()}, load average {os.getloadavg()[0]:.1f}; median ms")
    for label, inp in (("float32", x), ("uint8", px)):
        parts = stages(inf, inp, args.repeats)
        e2e = stages_e2e(inf, inp, args.repeats)
        print(f"{label:8s} " + ", ".join(f"{n} {v:.4f}" for n, v in zip(names, parts)) + f"; logits() {e2e:.4f}")


def stages_e2e(inf, x, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        inf.logits(x)
        times.append(time.perf_counter() - t)
    return 1e3 * float(np.median(times))


if __name__ == "__main__":
    main()
