"""pytest-benchmark: shift_matmul beside numpy float32 GEMM at the same threads.

    python -m pytest benchmarks/test_bench_shift.py --benchmark-only \
        --benchmark-group-by=param:shape,param:threads

Compare the medians within one group (numpy vs float vs fixed, per ISA).
"""
import numpy as np
import pytest

import pybitnet
from pybitnet import _bitops

threadpoolctl = pytest.importorskip("threadpoolctl")

SHAPES = [(100, 1024, 1024), (100, 4096, 4096)]
IMPLS = ["numpy"] + [f"{method}-{isa}" for isa in pybitnet.available_isas() if isa != "scalar"
                     for method in ("float", "fixed")]


@pytest.fixture(scope="module", params=SHAPES, ids=lambda s: "x".join(map(str, s)))
def shape(request):
    return request.param


@pytest.fixture(scope="module")
def operands(shape):
    m, k, n = shape
    r = np.random.default_rng(0)
    codes = pybitnet.quantize_pow2(r.standard_normal((m, k)).astype(np.float32), seed=0)
    return codes, pybitnet.dequantize_pow2(codes), r.standard_normal((m, n)).astype(np.float32)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("impl", IMPLS)
def test_shift_matmul(benchmark, operands, shape, impl, threads):
    codes, xq, g = operands
    old = pybitnet.get_num_threads()
    pybitnet.set_num_threads(threads)
    try:
        with threadpoolctl.threadpool_limits(threads):
            if impl == "numpy":
                benchmark(lambda: xq.T @ g)
            else:
                method, isa = impl.split("-")
                benchmark(_bitops.shift_matmul, codes, g, method, isa)
    finally:
        pybitnet.set_num_threads(old)
