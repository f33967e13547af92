"""xnor_gemm with a keep mask (ternary activations x binary weights) against the
scalar reference and against numpy."""
import re

import numpy as np
import pytest

import pybitnet
from pybitnet import _bitops
from conftest import signs

MN = [0, 1, 2, 3, 7, 64, 65, 129]
KS = [1, 63, 64, 65, 127, 784, 1000, 4096]
_data = {}


def ternary(rng, shape, keep=0.7):
    """±1 signs of normal floats, each zeroed (dropped) with probability 1 - keep."""
    x = rng.standard_normal(shape).astype(np.float32)
    return (signs(x) * (rng.random(shape) < keep)).astype(np.int8), x


def operands(k):
    """Fixed (129, k) ternary A packed as (signs, mask), ±1 B packed, and the float oracle, cached per k."""
    if k not in _data:
        rng = np.random.default_rng(1000 + k)
        t, x = ternary(rng, (129, k))
        b = rng.standard_normal((129, k)).astype(np.float32)
        a_bits, mask = pybitnet.pack_ternary(t)
        expected = t.astype(np.float64) @ signs(b).T.astype(np.float64)  # float matmul, exact at these sizes
        _data[k] = (a_bits, mask, pybitnet.pack_signs(b), expected.astype(np.int64), pybitnet.pack_signs(x))
    return _data[k]


@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("m", MN)
@pytest.mark.parametrize("n", MN)
def test_matches_numpy_and_reference(isa, m, n, k):
    a_bits, mask, b_bits, expected, _ = operands(k)
    got = _bitops.xnor_gemm_masked(a_bits[:m], b_bits[:n], k, mask[:m], isa)
    assert got.dtype == np.int32 and got.shape == (m, n)
    np.testing.assert_array_equal(got, expected[:m, :n])
    np.testing.assert_array_equal(got, _bitops.xnor_gemm_masked(a_bits[:m], b_bits[:n], k, mask[:m], "scalar"))


@pytest.mark.parametrize("k", [1, 64, 65, 1000, 4096])
def test_all_ones_mask_is_xnor_gemm(isa, k):
    _, _, b_bits, _, a_signs = operands(k)
    ones = pybitnet.pack_signs(-np.ones((129, k), np.float32))  # every valid bit set, padding zero
    np.testing.assert_array_equal(_bitops.xnor_gemm_masked(a_signs, b_bits, k, ones, isa),
                                  _bitops.xnor_gemm(a_signs, b_bits, k, isa))


@pytest.mark.parametrize("k", [1, 65, 1000])
def test_all_zero_mask_gives_zero(isa, k):
    _, _, b_bits, _, a_signs = operands(k)
    got = _bitops.xnor_gemm_masked(a_signs, b_bits, k, np.zeros_like(a_signs), isa)
    np.testing.assert_array_equal(got, np.zeros((129, 129), np.int32))


@pytest.mark.parametrize("k", [63, 784, 4096])
def test_sign_bits_outside_the_mask_are_ignored(isa, k):
    a_bits, mask, b_bits, expected, a_signs = operands(k)
    rng = np.random.default_rng(k)
    valid = pybitnet.pack_signs(-np.ones((1, k), np.float32))
    noise = rng.integers(0, 2**64, a_bits.shape, dtype=np.uint64) & ~mask & valid
    for dirty in (a_signs, a_bits | noise):  # the signs of the dropped elements, random bits
        assert (dirty != a_bits).any()
        np.testing.assert_array_equal(_bitops.xnor_gemm_masked(dirty, b_bits, k, mask, isa), expected)


def test_k_zero(isa):
    empty = np.zeros((4, 0), np.uint64)
    np.testing.assert_array_equal(_bitops.xnor_gemm_masked(empty, empty[:3], 0, empty, isa), np.zeros((4, 3), np.int32))


def test_strided_rows(isa):
    """Row slices (lda != words), with the mask at its own stride."""
    a_bits, mask, b_bits, expected, _ = operands(1000)
    wide = np.zeros((a_bits.shape[0], 2 * a_bits.shape[1] + 3), np.uint64)
    wide[:, 5:5 + mask.shape[1]] = mask
    mask_view = wide[:, 5:5 + mask.shape[1]]  # ldm = 35 words, lda = 16 or 48
    got = _bitops.xnor_gemm_masked(a_bits[::3], b_bits[1::2], 1000, mask_view[::3], isa)
    np.testing.assert_array_equal(got, expected[::3, 1::2])
    got = _bitops.xnor_gemm_masked(a_bits, b_bits, 1000, mask_view, isa)
    np.testing.assert_array_equal(got, expected)


def at_offset(x, offset):
    """A copy of x whose data starts `offset` words past a cache line."""
    raw = np.zeros(x.size + 16, np.uint64)
    start = (-(raw.ctypes.data // 8) % 8 + offset) % 8
    view = raw[start:start + x.size].reshape(x.shape)
    view[...] = x
    assert view.ctypes.data % 64 == offset * 8
    return view


@pytest.mark.parametrize("offsets", [(0, 0), (0, 3), (5, 0), (1, 7), (4, 4)])
def test_any_alignment(isa, offsets):
    """Signs and mask at different offsets from a cache line: the driver's aligned
    copies of A must keep each mask row with its sign row."""
    a_bits, mask, b_bits, expected, _ = operands(1000)
    got = _bitops.xnor_gemm_masked(at_offset(a_bits[:100], offsets[0]), at_offset(b_bits[:100], 2), 1000,
                                   at_offset(mask[:100], offsets[1]), isa)
    np.testing.assert_array_equal(got, expected[:100, :100])


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_threads_give_identical_results(isa, threads):
    rng = np.random.default_rng(8)
    a, mask = pybitnet.pack_ternary(ternary(rng, (300, 1500), keep=0.5)[0])
    b = pybitnet.pack_signs(rng.standard_normal((700, 1500)).astype(np.float32))
    pybitnet.set_num_threads(1)
    one = _bitops.xnor_gemm_masked(a, b, 1500, mask, isa)
    pybitnet.set_num_threads(threads)
    try:
        np.testing.assert_array_equal(_bitops.xnor_gemm_masked(a, b, 1500, mask, isa), one)
        np.testing.assert_array_equal(_bitops.xnor_gemm_masked(a[:5], b, 1500, mask[:5], isa), one[:5])  # columns
        np.testing.assert_array_equal(_bitops.xnor_gemm_masked(a, b[:9], 1500, mask, isa), one[:, :9])  # rows
    finally:
        pybitnet.set_num_threads(pybitnet._bitops.default_num_threads())


def test_public_api_and_kernel_calls(rng):
    t, _ = ternary(rng, (10, 300))
    w = rng.standard_normal((20, 300)).astype(np.float32)
    a_bits, mask = pybitnet.pack_ternary(t)
    w_bits = pybitnet.pack_signs(w)
    before = pybitnet.kernel_calls(by="isa")
    got = pybitnet.xnor_gemm(a_bits, w_bits, 300, mask=mask)
    after = pybitnet.kernel_calls(by="isa")
    np.testing.assert_array_equal(got, t.astype(np.int64) @ signs(w).T)
    assert sum(after["xnor_gemm_masked"].values()) == sum(before["xnor_gemm_masked"].values()) + 1
    assert after["xnor_gemm_masked"][pybitnet.isa()] == before["xnor_gemm_masked"][pybitnet.isa()] + 1
    assert after["xnor_gemm"] == before["xnor_gemm"]  # mask=None is the only way to the plain kernel
    np.testing.assert_array_equal(pybitnet.xnor_gemm(a_bits, w_bits, 300, mask=None),
                                  _bitops.xnor_gemm(a_bits, w_bits, 300))
    assert "xnor_gemm_masked" in pybitnet.active_kernels()


def test_counts_no_multiplications():
    a = pybitnet.pack_signs(np.ones((3, 130), np.float32))
    with pybitnet.count_ops() as ops:
        pybitnet.xnor_gemm(a, a[:2], 130, mask=a)
    words = 3
    c = ops.by_kernel["xnor_gemm_masked"]
    assert ops.multiplications == 0 and ops.calls == 1 and "xnor_gemm" not in ops.by_kernel
    assert c.bitwise == 2 * 3 * 2 * words  # xor and and per output and word
    assert c.popcounts == 3 * 2 * words + 3 * words  # plus each mask row once
    plain = pybitnet.gemm.xnor_gemm_ops(3, 130, 2)
    assert c.additions == plain.additions + 3 * words and c.shifts == plain.shifts
    assert c.weight_bytes == plain.weight_bytes


@pytest.mark.parametrize("simd", ["avx2", "avx512"])
@pytest.mark.parametrize("kernel", ["xnor_gemm", "xnor_gemm_masked"])
def test_simd_kernels_do_not_multiply(kernel, simd):
    """The disassembled kernels (with the internal helpers they call) hold no
    floating-point or vector integer multiply; the AVX-512 masked kernel does
    (a ^ b) & m in one vpternlogq."""
    claims = pytest.importorskip("test_weight_matmul_claims")
    code, _ = claims.kernel_code(claims.kernel_disassembly(), f"pbn::{kernel}__{simd}(")
    bad = [line for line in code if claims.FP_MULTIPLY.search(line) or re.search(r"\bvpmul|\bvpmadd", line)]
    assert not bad, bad[:5]
    assert any(re.search(r"\bvpopcntq|\bvpshufb", line) for line in code)
    if simd == "avx512" and kernel == "xnor_gemm_masked":
        assert any(re.search(r"\bvpternlogq", line) for line in code)


class TestBadInput:
    a = pybitnet.pack_signs(np.ones((4, 100), np.float32))

    def test_dtype(self):
        with pytest.raises(TypeError, match="mask must have dtype uint64"):
            pybitnet.xnor_gemm(self.a, self.a, 100, mask=self.a.astype(np.int32))
        with pytest.raises(TypeError, match="mask must have dtype uint64"):
            pybitnet.xnor_gemm(self.a, self.a, 100, mask=self.a.view(np.float64))

    def test_shape(self):
        with pytest.raises(ValueError, match=r"mask must have the shape of a_bits \(4, 2\), got \(3, 2\)"):
            pybitnet.xnor_gemm(self.a, self.a, 100, mask=self.a[:3])
        with pytest.raises(ValueError, match=r"mask must have the shape of a_bits \(4, 2\), got \(4, 1\)"):
            pybitnet.xnor_gemm(self.a, self.a, 100, mask=self.a[:, :1])
        with pytest.raises(ValueError, match="mask must be 2-D"):
            pybitnet.xnor_gemm(self.a, self.a, 100, mask=self.a[0])

    def test_non_contiguous_rows(self):
        wide = pybitnet.pack_signs(np.ones((4, 256), np.float32))
        with pytest.raises(ValueError, match="mask must have contiguous rows"):
            pybitnet.xnor_gemm(self.a, self.a, 100, mask=wide[:, ::2])

    def test_nonzero_padding(self):
        bad = self.a.copy()
        bad[2, 1] |= np.uint64(1) << np.uint64(60)
        with pytest.raises(ValueError, match="mask row 2 has nonzero padding bits"):
            pybitnet.xnor_gemm(self.a, self.a, 100, mask=bad)

    def test_not_an_array(self):
        with pytest.raises(TypeError, match="mask"):
            pybitnet.xnor_gemm(self.a, self.a, 100, mask="nope")

    def test_other_arguments_still_checked(self):
        with pytest.raises(ValueError, match="a_bits row 2 has nonzero padding bits"):
            bad = self.a.copy()
            bad[2, 1] |= np.uint64(1) << np.uint64(60)
            pybitnet.xnor_gemm(bad, self.a, 100, mask=self.a)
        with pytest.raises(ValueError, match="b_bits has 1 words per row"):
            pybitnet.xnor_gemm(self.a, self.a[:, :1], 100, mask=self.a)
