"""pytest-benchmark: weight matmuls beside numpy float32 on the same threads.

Run (pyproject's addopts skip benchmarks by default):
    python -m pytest benchmarks/test_bench_binary_weight.py -o addopts="" --benchmark-only \
        --benchmark-columns=median,iqr,rounds
Each case has a "pybitnet" and a "numpy" entry; compare their medians.
"""
import numpy as np
import pytest

import pybitnet

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

CASES = [("fwd", 1, 4096, 4096), ("fwd", 100, 4096, 4096), ("bwd", 100, 4096, 4096),
         ("fwd", 100, 1024, 1024), ("bwd", 100, 1024, 1024)]


@pytest.fixture(autouse=True)
def one_thread():
    before = pybitnet.get_num_threads()
    pybitnet.set_num_threads(1)
    if threadpool_limits is None:
        yield
    else:
        with threadpool_limits(1):
            yield
    pybitnet.set_num_threads(before)


@pytest.mark.parametrize("impl", ["pybitnet", "numpy"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}x{c[2]}x{c[3]}")
def test_binary_weight_matmul(benchmark, case, impl):
    kind, m, k, n = case
    rng = np.random.default_rng(0)
    w = np.where(rng.random((n, k)) < 0.5, -1.0, 1.0).astype(np.float32)
    bits = pybitnet.pack_signs(w)
    if kind == "fwd":
        x = rng.standard_normal((m, k), dtype=np.float32)
        fn = (lambda: pybitnet.binary_weight_matmul(x, bits, k)) if impl == "pybitnet" else (lambda: x @ w.T)
    else:
        g = rng.standard_normal((m, n), dtype=np.float32)
        fn = (lambda: pybitnet.binary_weight_matmul_t(g, bits, k)) if impl == "pybitnet" else (lambda: g @ w)
    benchmark.group = f"{kind} {m}x{k}x{n}"
    benchmark(fn)
