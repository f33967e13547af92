"""Headline ratios of the kernel core, measured side by side in one run (medians).

    python -m benchmarks.headline            # prints a Markdown table

Every kernel is timed next to numpy float32 matmul of the same logical shape at
the same thread count (numpy's BLAS limited with threadpoolctl), by
pybitnet.bench (the code behind ``pybitnet bench``), here for every ISA.
"""
import pybitnet  # before numpy: shortens OpenBLAS's idle spin (see pybitnet/__init__.py)
import numpy as np
from pybitnet.bench import measure

XNOR_SHAPES = [(1, 4096, 4096), (100, 4096, 4096), (256, 4096, 4096)]


def xnor_rows(isas):
    return [measure("xnor_gemm", shape, isa, threads) for threads in (1, 2) for shape in XNOR_SHAPES
            for isa in isas]


def pack_rows(isas):
    return [measure("pack_signs", (4096, 4096), isa, 1) for isa in isas]


ALTERNATION = """
import sys, time, json
if sys.argv[1] == "numpy-first":
    import numpy
import pybitnet
import numpy as np
pybitnet.set_num_threads(2)
from threadpoolctl import threadpool_limits
threadpool_limits(2)
rng = np.random.default_rng(0)
x, w = rng.standard_normal((256, 1024), np.float32), rng.standard_normal((1024, 1024), np.float32)
a = pybitnet.pack_signs(rng.standard_normal((256, 4096), np.float32))
b = pybitnet.pack_signs(rng.standard_normal((4096, 4096), np.float32))
out = {}
for alternate in (False, True):
    ts = []
    for _ in range(60):
        if alternate:
            x @ w
        t = time.perf_counter()
        pybitnet.xnor_gemm(a, b, 4096)
        ts.append((time.perf_counter() - t) * 1e3)
    out["alternating" if alternate else "alone"] = ts
print(json.dumps(out))
"""


def alternating_with_numpy():
    """A user alternating `x @ w` (OpenBLAS, 2 threads) and xnor_gemm (2 threads), in a fresh
    process per import order: pybitnet imported first shortens OpenBLAS's idle spin."""
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    results = {}
    for order in ("pybitnet-first", "numpy-first"):
        out = subprocess.run([sys.executable, "-c", ALTERNATION, order], env=env, capture_output=True, text=True,
                             check=True).stdout
        results[order] = {k: np.array(v) for k, v in json.loads(out).items()}
    return results


def main():
    isas = [i for i in ("avx512", "avx2", "scalar") if i in pybitnet.available_isas()]
    print(f"pybitnet {pybitnet.__version__}, ISA {pybitnet.isa()}, CPU features: "
          f"{' '.join(k for k, v in pybitnet.cpu_features().items() if v)}\n")
    print("| kernel | ISA | threads | pybitnet (ms) | baseline (ms) | speed-up | throughput |")
    print("|---|---|---|---|---|---|---|")
    for r in xnor_rows([i for i in isas if i != "scalar"]) + pack_rows(isas):
        name = f"{r.kernel} {r.shape_name}" + (" f32 (baseline x.copy())" if r.kernel == "pack_signs" else "")
        print(f"| {name} | {r.isa} | {r.threads} | {r.seconds * 1e3:.3f} | {r.baseline_seconds * 1e3:.3f} "
              f"| {r.speedup:.1f}x | {r.throughput} |")
    print("\nxnor_gemm 256x4096x4096 on 2 threads, alone vs alternating with numpy `x @ w` (OpenBLAS, 2 threads):")
    for order, runs in alternating_with_numpy().items():
        for label, ts in runs.items():
            print(f"  {order:15s} {label:12s} median {np.median(ts):.2f} ms, p90 {np.percentile(ts, 90):.2f} ms, "
                  f"max {ts.max():.2f} ms")


if __name__ == "__main__":
    main()
