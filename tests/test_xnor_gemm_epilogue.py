"""xnor_gemm's float epilogue (scale, bias): the bits of numpy's astype * scale + bias, on every ISA,
thread count and shape; plain and masked; its argument errors."""
import numpy as np
import pytest

import pybitnet
from pybitnet import _bitops


def _numpy_epilogue(dot, scale, bias):
    y = dot.astype(np.float32)
    if scale is not None:
        y = y * np.float32(scale)
    if bias is not None:
        y += bias
    return y


def _same_bits(got, want):
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_array_equal(got.view(np.int32), want.view(np.int32))


@pytest.mark.parametrize("m, n, k", [(1, 1, 1), (3, 17, 65), (70, 33, 200), (129, 130, 1000), (5, 0, 64), (0, 4, 64)])
@pytest.mark.parametrize("scale, biased", [(None, True), (0.37, False), (-3.0, True), (1.0, True), (1e-40, True)])
@pytest.mark.parametrize("masked", [False, True])
def test_matches_numpy_astype_scale_bias(isa, m, n, k, scale, biased, masked):
    rng = np.random.default_rng(m * 1000 + n + k)
    a = pybitnet.pack_signs(rng.standard_normal((m, k)).astype(np.float32))
    b = pybitnet.pack_signs(rng.standard_normal((n, k)).astype(np.float32))
    bias = rng.standard_normal(n).astype(np.float32) * 50 if biased else None
    if masked:
        mask = pybitnet.pack_signs(rng.standard_normal((m, k)).astype(np.float32))
        dot = _bitops.xnor_gemm_masked(a, b, k, mask, isa)
        got = _bitops.xnor_gemm_masked(a, b, k, mask, isa, scale=scale, bias=bias)
    else:
        dot = _bitops.xnor_gemm(a, b, k, isa)
        got = _bitops.xnor_gemm(a, b, k, isa, scale=scale, bias=bias)
    _same_bits(got, _numpy_epilogue(dot, scale, bias))


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_threads_give_identical_results(threads):
    """Chunks of rows (a tall a) and of columns (a short one) each get their epilogue once."""
    rng = np.random.default_rng(3)
    a = pybitnet.pack_signs(rng.standard_normal((2000, 700)).astype(np.float32))
    b = pybitnet.pack_signs(rng.standard_normal((300, 700)).astype(np.float32))
    bias = rng.standard_normal(300).astype(np.float32)
    want = _numpy_epilogue(_bitops.xnor_gemm(a, b, 700), 0.5, bias)
    old = pybitnet.get_num_threads()
    pybitnet.set_num_threads(threads)
    try:
        for rows in (slice(None), slice(0, 3)):
            _same_bits(pybitnet.xnor_gemm(a[rows], b, 700, scale=0.5, bias=bias), want[rows])
    finally:
        pybitnet.set_num_threads(old)


def test_public_function_counts_the_epilogue():
    a = pybitnet.pack_signs(np.ones((4, 64), np.float32))
    with pybitnet.count_ops() as counts:
        pybitnet.xnor_gemm(a, a[:3], 64, scale=2.0, bias=np.zeros(3, np.float32))
    assert counts.multiplications == 12  # one per output for the scale, none in the products
    with pybitnet.count_ops() as counts:
        y = pybitnet.xnor_gemm(a, a[:3], 64)
    assert counts.multiplications == 0 and y.dtype == np.int32


def test_epilogue_errors_name_the_argument():
    a = pybitnet.pack_signs(np.ones((4, 64), np.float32))
    with pytest.raises(ValueError, match="bias must have one entry per row of b_bits"):
        pybitnet.xnor_gemm(a, a[:3], 64, bias=np.zeros(4, np.float32))
    with pytest.raises((TypeError, ValueError), match="bias"):
        pybitnet.xnor_gemm(a, a[:3], 64, bias=np.zeros(3, np.float64))
    with pytest.raises((TypeError, ValueError), match="bias"):
        pybitnet.xnor_gemm(a, a[:3], 64, bias=np.zeros((3, 2), np.float32)[:, 0])
    with pytest.raises((TypeError, ValueError), match="scale"):
        _bitops.xnor_gemm(a, a[:3], 64, scale="2")
    with pytest.raises((TypeError, ValueError), match="scale"):
        pybitnet.xnor_gemm(a, a[:3], 64, scale="x")
