"""pytest-benchmark micro-benchmarks for quick per-change checks:

    pytest benchmarks/ --benchmark-only --benchmark-group-by=param:shape

Each kernel runs beside its numpy float32 baseline in the same group.
"""
import numpy as np
import pytest

import pybitnet
from pybitnet import _bitops

from .common import random_pm, random_ternary, use_threads

SHAPES = [(1, 4096, 4096), (100, 4096, 4096), (256, 4096, 4096)]


@pytest.fixture(autouse=True)
def one_thread():
    use_threads(1)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("isa", ["avx512", "avx2", "numpy-float32"])
def test_xnor_gemm(benchmark, isa, shape):
    m, k, n = shape
    x, w = random_pm((m, k), 1), random_pm((n, k), 2)
    if isa == "numpy-float32":
        benchmark(lambda: x @ w.T)
        return
    if isa not in pybitnet.available_isas():
        pytest.skip(f"{isa} not available")
    a, b = pybitnet.pack_signs(x), pybitnet.pack_signs(w)
    benchmark(_bitops.xnor_gemm, a, b, k, isa)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("isa", ["avx512", "avx2"])
def test_xnor_gemm_masked(benchmark, isa, shape):
    """Ternary activations (half dropped) x binary weights; compare with test_xnor_gemm."""
    m, k, n = shape
    if isa not in pybitnet.available_isas():
        pytest.skip(f"{isa} not available")
    a, mask = pybitnet.pack_ternary(random_ternary((m, k), 3))
    b = pybitnet.pack_signs(random_pm((n, k), 2))
    benchmark(_bitops.xnor_gemm_masked, a, b, k, mask, isa)


@pytest.mark.parametrize("what", ["pack_signs", "copy"])
def test_pack_4096(benchmark, what):
    x = random_pm((4096, 4096), 3)
    benchmark(pybitnet.pack_signs if what == "pack_signs" else np.copy, x)
