"""uint8_weight_matmul / pixel_matmul: exact int32 x @ W.T for uint8 pixels and
±1 weights in 16-bit panels, every ISA against integer numpy."""
import numpy as np
import pytest

import pybitnet
from pybitnet import _bitops
from pybitnet.first_layer import pixel_matmul, pixel_panels
from conftest import signs

SHAPES = [(1, 1, 1), (1, 784, 4096), (3, 15, 31), (2, 16, 32), (5, 17, 33), (4, 129, 70), (2, 300, 64), (7, 784, 95),
          # AVX2's pair tables (n >= 64): an odd last row, 1-3 rows after the panels of 4, a
          # half-empty last chunk (k % 32 <= 16), K blocks of 256 and a part block
          (5, 784, 64), (6, 1000, 130), (3, 520, 72), (9, 33, 200)]


def case(m, k, n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (m, k), dtype=np.uint8)
    x[0, : k // 2] = 255  # the largest sums: int16 stages must not overflow
    w = rng.standard_normal((n, k)).astype(np.float32)
    w[-1] = -1.0  # a row of all -1 weights
    return x, pybitnet.pack_signs(w), x.astype(np.int64) @ signs(w).T.astype(np.int64)


@pytest.mark.parametrize("m,k,n", SHAPES)
def test_exact(isa, m, k, n):
    x, w_bits, expected = case(m, k, n)
    panels = pixel_panels(w_bits, k)
    assert panels.shape == (-(-n // 32), -(-k // 16), 32) and panels.dtype == np.uint16
    got = _bitops.uint8_weight_matmul(x, panels, n, isa)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("n", [40, 72])  # AVX2: masked adds below 64 rows, pair tables from 64
def test_all_255_long_rows_do_not_overflow(isa, n):
    k = 5000
    x = np.full((3, k), 255, np.uint8)
    w = -np.ones((n, k), np.float32)
    w[::2] = 1.0
    panels = pixel_panels(pybitnet.pack_signs(w), k)
    got = _bitops.uint8_weight_matmul(x, panels, n, isa)
    for row in got:
        np.testing.assert_array_equal(row, np.where(np.arange(n) % 2 == 0, 255 * k, -255 * k))


def test_threads_give_the_same_result():
    x, w_bits, expected = case(64, 784, 300, seed=3)
    panels = pixel_panels(w_bits, 784)
    before = pybitnet.get_num_threads()
    try:
        for t in (1, 2):
            pybitnet.set_num_threads(t)
            np.testing.assert_array_equal(pixel_matmul(x, panels, 300), expected)
    finally:
        pybitnet.set_num_threads(before)


def test_counts_additions_only():
    x, w_bits, _ = case(2, 100, 40)
    with pybitnet.count_ops() as counts:
        pixel_matmul(x, pixel_panels(w_bits, 100), 40)
    assert counts.multiplications == 0 and counts.additions == 2 * 40 * 100


def test_bad_arguments_are_named():
    x, w_bits, _ = case(2, 100, 40)
    panels = pixel_panels(w_bits, 100)
    with pytest.raises(TypeError, match="x must have dtype uint8"):
        _bitops.uint8_weight_matmul(x.astype(np.float32), panels, 40)
    with pytest.raises(TypeError, match="panels must have dtype uint16"):
        _bitops.uint8_weight_matmul(x, panels.astype(np.int32), 40)
    with pytest.raises(ValueError, match="panels must have shape"):
        _bitops.uint8_weight_matmul(x[:, :50], panels, 40)
    with pytest.raises(ValueError, match="n"):
        _bitops.uint8_weight_matmul(x, panels, 65)
    with pytest.raises(ValueError, match="n"):
        _bitops.uint8_weight_matmul(x, panels, 20)
    with pytest.raises(ValueError, match="x"):
        _bitops.uint8_weight_matmul(np.zeros((2, 200), np.uint8)[:, ::2], panels, 40)
    empty = _bitops.uint8_weight_matmul(np.zeros((0, 100), np.uint8), panels, 40)
    assert empty.shape == (0, 40)


def test_empty_shapes(isa):
    panels = pixel_panels(np.zeros((5, 0), np.uint64), 0)
    assert panels.shape == (1, 0, 32)
    np.testing.assert_array_equal(_bitops.uint8_weight_matmul(np.zeros((2, 0), np.uint8), panels, 5, isa),
                                  np.zeros((2, 5), np.int32))
    none = pixel_panels(np.zeros((0, 2), np.uint64), 100)
    assert _bitops.uint8_weight_matmul(np.ones((2, 100), np.uint8), none, 0, isa).shape == (2, 0)


def test_strided_rows(isa):
    x, w_bits, expected = case(3, 100, 40)
    wide = np.zeros((3, 160), np.uint8)
    wide[:, :100] = x
    got = _bitops.uint8_weight_matmul(wide[:, :100], pixel_panels(w_bits, 100), 40, isa)
    np.testing.assert_array_equal(got, expected)


def _panels_oracle(w_bits, k):
    """The panels from their definition, with numpy (the Python derivation before it moved to C++)."""
    n, chunks = w_bits.shape[0], -(-k // 16)
    out = np.zeros((-(-n // 32) * 32, chunks), np.uint16)
    out[:n] = w_bits.view("<u2")[:, :chunks]
    return out.reshape(out.shape[0] // 32, 32, chunks).transpose(0, 2, 1)


@pytest.mark.parametrize("n,k", [(1, 1), (33, 17), (4096, 784), (5, 64), (40, 129), (0, 10), (3, 0), (64, 200)])
def test_panels_and_row_sums_match_their_definition(n, k):
    w = np.random.default_rng(n + k).standard_normal((n, k)).astype(np.float32)
    w_bits = pybitnet.pack_signs(w) if n and k else np.zeros((n, -(-k // 64)), np.uint64)
    np.testing.assert_array_equal(pixel_panels(w_bits, k), _panels_oracle(w_bits, k))
    sums = pybitnet.inference.weight_row_sums(w_bits, k)
    assert sums.dtype == np.int64
    np.testing.assert_array_equal(sums, signs(w).sum(axis=1) if k else np.zeros(n))


def test_panels_and_row_sums_name_bad_weights():
    w_bits = pybitnet.pack_signs(np.ones((4, 70), np.float32))
    for f in (pixel_panels, pybitnet.inference.weight_row_sums):
        with pytest.raises(ValueError, match="w_bits"):
            f(w_bits, 60)  # k disagrees with the words
        with pytest.raises(ValueError, match="w_bits"):
            f(w_bits | np.uint64(1) << np.uint64(63), 70)  # nonzero padding
        with pytest.raises(TypeError, match="w_bits"):
            f(w_bits.astype(np.float64), 70)
        with pytest.raises(ValueError, match="k"):
            f(w_bits, -1)
