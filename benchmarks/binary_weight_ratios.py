"""Side-by-side ratios (numpy float32 time / pybitnet time) on 1 thread, medians
of interleaved repeats. Run: python benchmarks/binary_weight_ratios.py [repeats]"""
import sys

import numpy as np
from threadpoolctl import threadpool_limits

import pybitnet
from pybitnet.bench import median_pair


def main(repeats=15):
    pybitnet.set_num_threads(1)
    print(f"isa={pybitnet.isa()} threads=1 repeats={repeats}")
    with threadpool_limits(1):
        for m, k, n in [(1, 4096, 4096), (100, 4096, 4096), (100, 1024, 1024)]:
            rng = np.random.default_rng(0)
            w = np.where(rng.random((n, k)) < 0.5, -1.0, 1.0).astype(np.float32)
            bits = pybitnet.pack_signs(w)
            x = rng.standard_normal((m, k), dtype=np.float32)
            g = rng.standard_normal((m, n), dtype=np.float32)
            tb, tn = median_pair(lambda: pybitnet.binary_weight_matmul(x, bits, k), lambda: x @ w.T, repeats)
            tbt, tnt = median_pair(lambda: pybitnet.binary_weight_matmul_t(g, bits, k), lambda: g @ w, repeats)
            print(f"({m}, {k}, {n})  forward: {tb * 1e3:8.3f} ms vs numpy {tn * 1e3:8.3f} ms = {tn / tb:5.2f}x   "
                  f"transposed: {tbt * 1e3:8.3f} ms vs numpy {tnt * 1e3:8.3f} ms = {tnt / tbt:5.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
