"""xnor_gemm and binary_matmul against the scalar reference and against numpy."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pybitnet
from pybitnet import _bitops
from conftest import signs

MN = [0, 1, 2, 3, 7, 64, 65, 129]
KS = [1, 63, 64, 65, 127, 784, 1000, 4096]
_data = {}


def operands(k):
    """Fixed random (129, k) float operands and their packed rows, cached per k."""
    if k not in _data:
        rng = np.random.default_rng(k)
        a = rng.standard_normal((129, k)).astype(np.float32)
        b = rng.standard_normal((129, k)).astype(np.float32)
        _data[k] = (a, b, pybitnet.pack_signs(a), pybitnet.pack_signs(b), signs(a) @ signs(b).T)
    return _data[k]


@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("m", MN)
@pytest.mark.parametrize("n", MN)
def test_matches_numpy_and_reference(isa, m, n, k):
    _, _, a_bits, b_bits, expected = operands(k)
    got = _bitops.xnor_gemm(a_bits[:m], b_bits[:n], k, isa)
    assert got.dtype == np.int32 and got.shape == (m, n)
    np.testing.assert_array_equal(got, expected[:m, :n])
    np.testing.assert_array_equal(got, _bitops.xnor_gemm(a_bits[:m], b_bits[:n], k, "scalar"))


@pytest.mark.parametrize("k", [1000, 1024, 2048, 2600, 3000, 4100, 4160, 6000, 8150, 8192])
def test_one_row_add_chains(isa, k):
    """Batch 1 sums rows of 16, 32, 64 or 128 whole words as straight-line code (1000 ... 8192,
    with and without a masked tail: 4100), other long rows on four add chains (tile_avx512.h):
    whole 2048-bit steps, 512-bit steps after them and the masked tail, at 8 and 5 (a part tile)
    rows of b."""
    _, _, a_bits, b_bits, expected = operands(k)
    for n in (8, 13):
        got = _bitops.xnor_gemm(a_bits[:1], b_bits[:n], k, isa)
        np.testing.assert_array_equal(got, expected[:1, :n])


def test_extremes(isa):
    """All-equal rows give +k, opposite rows give -k (no off-by-padding)."""
    for k in (1, 64, 65, 4097):
        plus = pybitnet.pack_signs(np.ones((2, k), np.float32))
        minus = pybitnet.pack_signs(-np.ones((3, k), np.float32))
        assert (_bitops.xnor_gemm(plus, plus, k, isa) == k).all()
        assert (_bitops.xnor_gemm(plus, minus, k, isa) == -k).all()


def test_k_zero(isa):
    empty = np.zeros((4, 0), np.uint64)
    np.testing.assert_array_equal(_bitops.xnor_gemm(empty, empty[:3], 0, isa), np.zeros((4, 3), np.int32))


def test_strided_rows(isa):
    """Row slices of a packed array (rows contiguous, row stride larger) need no copy."""
    _, _, a_bits, b_bits, expected = operands(1000)
    got = _bitops.xnor_gemm(a_bits[::3], b_bits[1::2], 1000, isa)
    np.testing.assert_array_equal(got, expected[::3, 1::2])


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_threads_give_identical_results(isa, threads):
    rng = np.random.default_rng(7)
    a = pybitnet.pack_signs(rng.standard_normal((300, 1500)).astype(np.float32))
    b = pybitnet.pack_signs(rng.standard_normal((700, 1500)).astype(np.float32))
    pybitnet.set_num_threads(1)
    one = _bitops.xnor_gemm(a, b, 1500, isa)
    pybitnet.set_num_threads(threads)
    try:
        np.testing.assert_array_equal(_bitops.xnor_gemm(a, b, 1500, isa), one)
        np.testing.assert_array_equal(_bitops.xnor_gemm(a[:5], b, 1500, isa), one[:5])  # split over columns
        np.testing.assert_array_equal(_bitops.xnor_gemm(a, b[:9], 1500, isa), one[:, :9])  # split over rows
    finally:
        pybitnet.set_num_threads(pybitnet._bitops.default_num_threads())


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 20), st.integers(0, 20), st.integers(0, 300), st.data())
def test_property_binary_matmul(m, n, k, data):
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n))  # float64 operand
    a[rng.random(a.shape) < 0.1] = 0.0  # zeros count as +1
    np.testing.assert_array_equal(pybitnet.binary_matmul(a, b), signs(a) @ signs(b))


def test_binary_matmul_int_operands():
    a = np.array([[1, -2, 0]], np.int8)
    b = np.array([[3], [4], [-5]], np.int16)
    np.testing.assert_array_equal(pybitnet.binary_matmul(a, b), [[1 * 1 + -1 * 1 + 1 * -1]])


def test_counts_no_multiplications():
    a = pybitnet.pack_signs(np.ones((3, 130), np.float32))
    with pybitnet.count_ops() as ops:
        pybitnet.xnor_gemm(a, a[:2], 130)
    assert ops.multiplications == 0 and ops.popcounts == 3 * 2 * 3 and ops.calls == 1
    assert ops.by_kernel["xnor_gemm"].bitwise == 18
    base = pybitnet.float_gemm_ops(3, 130, 2)
    assert base.multiplications == 3 * 130 * 2


class TestBadInput:
    a = pybitnet.pack_signs(np.ones((4, 100), np.float32))

    def test_dtype(self):
        with pytest.raises(TypeError, match="a_bits must have dtype uint64 or int64"):
            pybitnet.xnor_gemm(self.a.astype(np.int32), self.a, 100)
        with pytest.raises(TypeError, match="b_bits must have dtype uint64"):
            pybitnet.xnor_gemm(self.a, self.a.view(np.float64), 100)

    def test_ndim(self):
        with pytest.raises(ValueError, match="a_bits must be 2-D"):
            pybitnet.xnor_gemm(self.a[0], self.a, 100)

    def test_word_count_mismatch(self):
        with pytest.raises(ValueError, match="b_bits has 1 words per row but k=100 needs ceil"):
            pybitnet.xnor_gemm(self.a, self.a[:, :1], 100)

    def test_k_larger_than_words_hold(self):
        with pytest.raises(ValueError, match="a_bits has 2 words per row but k=129"):
            pybitnet.xnor_gemm(self.a, self.a, 129)

    def test_k_negative_or_not_int(self):
        with pytest.raises(ValueError, match="k must be >= 0"):
            pybitnet.xnor_gemm(self.a, self.a, -1)
        with pytest.raises(TypeError, match="k must be an int"):
            pybitnet.xnor_gemm(self.a, self.a, 100.0)

    def test_k_overflows_int32(self):
        with pytest.raises(ValueError, match="k=2147483648 is too large"):
            pybitnet.xnor_gemm(np.zeros((1, 2**25), np.uint64), np.zeros((1, 2**25), np.uint64), 2**31)
        with pytest.raises(ValueError, match="too large"):
            pybitnet.xnor_gemm(self.a, self.a, 2**70)

    def test_nonzero_padding(self):
        bad = self.a.copy()
        bad[2, 1] |= np.uint64(1) << np.uint64(60)
        with pytest.raises(ValueError, match="a_bits row 2 has nonzero padding bits"):
            pybitnet.xnor_gemm(bad, self.a, 100)

    def test_non_contiguous_rows(self):
        wide = pybitnet.pack_signs(np.ones((4, 256), np.float32))
        with pytest.raises(ValueError, match="contiguous rows"):
            pybitnet.xnor_gemm(wide[:, ::2], wide[:, ::2], 128)

    def test_binary_matmul_shapes(self):
        with pytest.raises(ValueError, match="a has K=3 columns but b has K=4 rows"):
            pybitnet.binary_matmul(np.ones((2, 3), np.float32), np.ones((4, 2), np.float32))
        with pytest.raises(ValueError, match="a must be 2-D"):
            pybitnet.binary_matmul(np.ones(3, np.float32), np.ones((3, 2), np.float32))
        with pytest.raises(ValueError, match="NaN"):
            pybitnet.binary_matmul(np.full((2, 3), np.nan, np.float32), np.ones((3, 2), np.float32))


def test_binary_matmul_either_memory_order(rng):
    a = rng.standard_normal((33, 130)).astype(np.float32)
    b = rng.standard_normal((20, 130)).astype(np.float32)
    expected = signs(a) @ signs(b).T
    np.testing.assert_array_equal(pybitnet.binary_matmul(a, b.T), expected)  # b F-contiguous
    np.testing.assert_array_equal(pybitnet.binary_matmul(np.asfortranarray(a), np.ascontiguousarray(b.T)), expected)
    with pytest.raises(ValueError, match="b must be C- or F-contiguous"):
        pybitnet.binary_matmul(a, b.T[:, ::2])


@pytest.mark.parametrize("offset", range(8))
def test_any_alignment(isa, offset):
    """Rows at every 8-byte offset from a cache line (the kernels copy misaligned blocks)."""
    _, _, a_bits, b_bits, expected = operands(1000)
    words = a_bits.shape[1]

    def at_offset(x):
        raw = np.zeros(x.size + 16, np.uint64)
        start = (-(raw.ctypes.data // 8) % 8 + offset) % 8  # words to skip to reach the wanted offset
        view = raw[start:start + x.size].reshape(x.shape)
        view[...] = x
        assert view.ctypes.data % 64 == offset * 8
        return view

    got = _bitops.xnor_gemm(at_offset(a_bits[:40]), at_offset(b_bits[:100]), 1000, isa)
    np.testing.assert_array_equal(got, expected[:40, :100])
    assert words == 16
