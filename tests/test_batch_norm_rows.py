"""The training batch norm kernels on many rows: fixed blocks of 1024 rows summed in row order, the
blocks' sums added in block order (re-derived here with numpy's sequential cumsum), the same bits on
any thread count, on every ISA."""
import numpy as np
import pytest

import pybitnet
from pybitnet import _bitops

BLOCK = 1024  # rows per block of sums (src/bitops/norm/driver.cpp)


def _blocked_sums(terms):
    """Per column: each block's terms summed in row order (float64), the blocks added in block order."""
    total = None
    for r0 in range(0, len(terms), BLOCK):
        part = np.cumsum(terms[r0:r0 + BLOCK], axis=0)[-1]
        total = part if total is None else total + part
    return total


@pytest.mark.parametrize("rows, c", [(5000, 130), (1024, 17), (1025, 600), (3 * BLOCK, 3)])
def test_statistics_follow_the_block_rule(isa, rows, c):
    rng = np.random.default_rng(rows + c)
    x = (rng.standard_normal((rows, c)) * 3 + 100).astype(np.float32)
    gamma, beta = rng.standard_normal(c).astype(np.float32), rng.standard_normal(c).astype(np.float32)
    y, xhat, mean, var, inv = _bitops.batch_norm_train(x, gamma, beta, 1e-4, None, isa)
    d = x.astype(np.float64) - x[0].astype(np.float64)
    s1, s2 = _blocked_sums(d), _blocked_sums(d * d)
    m1 = s1 / rows
    np.testing.assert_array_equal(mean, (x[0].astype(np.float64) + m1).astype(np.float32))
    np.testing.assert_array_equal(var, np.maximum(s2 / rows - m1 * m1, 0).astype(np.float32))
    np.testing.assert_array_equal(xhat, (x - mean) * inv)
    g = rng.standard_normal((rows, c)).astype(np.float32)
    dgamma, dbeta, dx = _bitops.batch_norm_backward(g, xhat, gamma, True, isa)
    g64 = g.astype(np.float64)
    np.testing.assert_array_equal(dbeta, _blocked_sums(g64).astype(np.float32))
    np.testing.assert_array_equal(dgamma, _blocked_sums(g64 * xhat.astype(np.float64)).astype(np.float32))
    n = np.float32(rows)
    np.testing.assert_array_equal(dx, (g - (xhat * (dgamma / n) + dbeta / n)) * gamma)


@pytest.mark.parametrize("rows, c", [(51200, 128), (100, 4096), (3000, 600)])
def test_threads_give_identical_bits(rows, c):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((rows, c)).astype(np.float32)
    g = rng.standard_normal((rows, c)).astype(np.float32)
    gamma, beta = np.ones(c, np.float32), np.zeros(c, np.float32)
    old = pybitnet.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3):
            pybitnet.set_num_threads(threads)
            fwd = _bitops.batch_norm_train(x, gamma, beta, 1e-5, None, "")
            results.append(fwd + _bitops.batch_norm_backward(g, fwd[1], gamma, True, ""))
    finally:
        pybitnet.set_num_threads(old)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)
