"""binary_weight_matmul(_t), ternary_weight_matmul(_t), pack_ternary: results vs
numpy float64 on every ISA, edge shapes, NaN/Inf, bad input, thread counts.

Error bound tested (float32 summation): for an output that sums K terms
t_c = +-x_c, |y - y_exact| <= (3K + 2) * 2**-24 * sum_c |x_c|. Recursive
summation alone gives K * u * sum|x|; the binary kernels' identity
sum s_c x_c = sum x_c - 2 * sum_{s=-1} x_c sums twice and doubles one sum,
hence the 3K. (Observed errors are far smaller: the SIMD kernels sum in 16
lanes.)
"""
import math

import numpy as np
import pytest

import pybitnet
from pybitnet import _bitops

ISAS = ["scalar", "avx2", "avx512"]
U = 2.0 ** -24

# Every M, N in {0,1,2,3,7,64,65,129} and K in {0,1,63,64,65,127,784,1000,4096}
# appears, without the full cross product.
SHAPES = [
    (0, 5, 64), (3, 0, 65), (4, 5, 0), (1, 1, 1), (2, 3, 63), (3, 7, 64), (7, 2, 65),
    (64, 65, 127), (65, 64, 784), (129, 3, 1000), (1, 129, 4096), (7, 129, 1000),
    (129, 7, 4096), (2, 65, 784), (65, 1, 127), (64, 64, 63), (3, 129, 1),
]


@pytest.fixture(params=ISAS)
def isa(request):
    if request.param not in pybitnet.available_isas():
        pytest.skip(f"{request.param} not available on this CPU")
    return request.param


def signs(rng, n, k):
    return np.where(rng.random((n, k)) < 0.5, -1.0, 1.0).astype(np.float32)


def ternary(rng, n, k, p_zero=0.4):
    r = rng.random((n, k))
    return np.where(r < p_zero, 0, np.where(r < (1 + p_zero) / 2, -1, 1)).astype(np.int8)


def bound(a, terms):
    """Per-output bound for sums over the last axis of a (rows of a)."""
    return (3 * terms + 2) * U * np.abs(a.astype(np.float64)).sum(axis=1)


def check_forward(y, x, w):
    ref = x.astype(np.float64) @ w.astype(np.float64).T
    assert y.dtype == np.float32 and y.shape == ref.shape
    tol = bound(x, x.shape[1])[:, None]
    np.testing.assert_array_less(np.abs(y - ref), np.broadcast_to(tol + 1e-37, ref.shape))


def check_transposed(z, g, w):
    ref = g.astype(np.float64) @ w.astype(np.float64)
    assert z.dtype == np.float32 and z.shape == ref.shape
    tol = bound(g, g.shape[1])[:, None]
    np.testing.assert_array_less(np.abs(z - ref), np.broadcast_to(tol + 1e-37, ref.shape))


@pytest.mark.parametrize("m,n,k", SHAPES)
def test_binary_weight_matmul(isa, m, n, k):
    rng = np.random.default_rng(m * 10007 + n * 101 + k)
    x = rng.standard_normal((m, k), dtype=np.float32)
    w = signs(rng, n, k)
    bits = pybitnet.pack_signs(w)
    check_forward(_bitops.binary_weight_matmul(x, bits, k, isa=isa), x, w)


@pytest.mark.parametrize("m,n,k", SHAPES)
def test_binary_weight_matmul_t(isa, m, n, k):
    rng = np.random.default_rng(m * 10007 + n * 101 + k + 1)
    g = rng.standard_normal((m, n), dtype=np.float32)
    w = signs(rng, n, k)
    bits = pybitnet.pack_signs(w)
    check_transposed(_bitops.binary_weight_matmul_t(g, bits, k, isa=isa), g, w)


@pytest.mark.parametrize("m,n,k", SHAPES)
def test_ternary_weight_matmul(isa, m, n, k):
    rng = np.random.default_rng(m * 10007 + n * 101 + k + 2)
    x = rng.standard_normal((m, k), dtype=np.float32)
    t = ternary(rng, n, k)
    s, nz = pybitnet.pack_ternary(t)
    check_forward(_bitops.ternary_weight_matmul(x, s, nz, k, isa=isa), x, t)


@pytest.mark.parametrize("m,n,k", SHAPES)
def test_ternary_weight_matmul_t(isa, m, n, k):
    rng = np.random.default_rng(m * 10007 + n * 101 + k + 3)
    g = rng.standard_normal((m, n), dtype=np.float32)
    t = ternary(rng, n, k)
    s, nz = pybitnet.pack_ternary(t)
    check_transposed(_bitops.ternary_weight_matmul_t(g, s, nz, k, isa=isa), g, t)


def test_public_wrappers_match_bindings():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 70), dtype=np.float32)
    g = rng.standard_normal((3, 9), dtype=np.float32)
    w = signs(rng, 9, 70)
    t = ternary(rng, 9, 70)
    bits = pybitnet.pack_signs(w)
    s, nz = pybitnet.pack_ternary(t)
    check_forward(pybitnet.binary_weight_matmul(x, bits, 70), x, w)
    check_transposed(pybitnet.binary_weight_matmul_t(g, bits, 70), g, w)
    check_forward(pybitnet.ternary_weight_matmul(x, s, nz, 70), x, t)
    check_transposed(pybitnet.ternary_weight_matmul_t(g, s, nz, 70), g, t)


@pytest.mark.parametrize("m", [5, 20])
@pytest.mark.parametrize("op", ["binary", "binary_t", "ternary", "ternary_t"])
def test_large_and_small_magnitudes(isa, op, m):
    rng = np.random.default_rng(11)
    n, k = 37, 300
    a = (rng.standard_normal((m, k if op in ("binary", "ternary") else n)) *
         10.0 ** rng.uniform(-20, 20, (m, k if op in ("binary", "ternary") else n))).astype(np.float32)
    w = signs(rng, n, k) if op.startswith("binary") else ternary(rng, n, k)
    bits = pybitnet.pack_signs(w)
    s, nz = pybitnet.pack_ternary(w.astype(np.int8))
    if op == "binary":
        check_forward(_bitops.binary_weight_matmul(a, bits, k, isa=isa), a, w)
    elif op == "binary_t":
        check_transposed(_bitops.binary_weight_matmul_t(a, bits, k, isa=isa), a, w)
    elif op == "ternary":
        check_forward(_bitops.ternary_weight_matmul(a, s, nz, k, isa=isa), a, w)
    else:
        check_transposed(_bitops.ternary_weight_matmul_t(a, s, nz, k, isa=isa), a, w)


def nonfinite_input(rng, m, k):
    a = rng.standard_normal((m, k)).astype(np.float32)
    a[0, 3] = np.inf
    a[1, 5] = -np.inf
    a[2, 7] = np.nan
    a[3, 1] = np.inf
    a[3, k - 2] = np.inf
    a[4, 0] = 3e38  # overflow of sum(x) where the product cancels
    a[4, 1] = 3e38
    return a


def assert_matches_float_product(y, a, w):
    """y[i, j] vs sum_c a[i, c] * w[j, c]: the same NaN/+Inf/-Inf pattern as the
    float product, and the finite outputs close to the exactly rounded sum."""
    with np.errstate(invalid="ignore", over="ignore"):
        ref = (a.astype(np.float64)[:, None, :] * w.astype(np.float64)[None, :, :]).sum(-1)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
    np.testing.assert_array_equal(np.isposinf(y), np.isposinf(ref))
    np.testing.assert_array_equal(np.isneginf(y), np.isneginf(ref))
    for i, j in zip(*np.nonzero(np.isfinite(ref))):
        exact = math.fsum(float(v) for v in a[i].astype(np.float64) * w[j])
        tol = (3 * a.shape[1] + 2) * U * math.fsum(abs(float(v)) for v in a[i])
        assert abs(float(y[i, j]) - exact) <= tol, (i, j, y[i, j], exact)


@pytest.mark.parametrize("n", [21, 70])  # 70: the AVX2 table path (n >= 64)
@pytest.mark.parametrize("kind", ["binary", "ternary"])
@pytest.mark.parametrize("m", [6, 10, 18])  # wide panels: AVX2's of 8 rows (10, 18), AVX-512's of 16 (18)
def test_nonfinite_forward_propagates_like_float_product(isa, kind, n, m):
    rng = np.random.default_rng(3)
    k = 100
    x = nonfinite_input(rng, m, k)
    w = signs(rng, n, k) if kind == "binary" else ternary(rng, n, k)
    w[:, 0], w[:, 1] = 1, -1  # row 4: 3e38 - 3e38 = 0 in the float product
    if kind == "binary":
        y = _bitops.binary_weight_matmul(x, pybitnet.pack_signs(w), k, isa=isa)
    else:
        s, nz = pybitnet.pack_ternary(np.sign(w))
        y = _bitops.ternary_weight_matmul(x, s, nz, k, isa=isa)
    assert_matches_float_product(y, x, w)


@pytest.mark.parametrize("m", [6, 20])  # 20 rows: the AVX-512 table-lookup path
@pytest.mark.parametrize("kind", ["binary", "ternary"])
def test_nonfinite_transposed_propagates_like_float_product(isa, kind, m):
    rng = np.random.default_rng(4)
    n, k = 100, 21
    g = nonfinite_input(rng, m, n)
    w = signs(rng, n, k) if kind == "binary" else ternary(rng, n, k)
    w[0, :], w[1, :] = 1, -1
    if kind == "binary":
        z = _bitops.binary_weight_matmul_t(g, pybitnet.pack_signs(w), k, isa=isa)
    else:
        s, nz = pybitnet.pack_ternary(np.sign(w))
        z = _bitops.ternary_weight_matmul_t(g, s, nz, k, isa=isa)
    assert_matches_float_product(z, g, w.T)


@pytest.mark.parametrize("k,n", [(784, 300), (1100, 300), (4096, 300), (300, 66), (257, 71), (800, 129),
                                 (287, 67), (1000, 69), (300, 70), (100, 4100), (784, 90), (513, 80)])
def test_forward_rows_do_not_depend_on_the_batch(isa, k, n):
    """A row's float sums are the same bits alone (batch 1, the last row of M % 4 == 1) as in
    any panel (the table kernels' wide panels: 8 rows of x on AVX2, 16 on AVX-512; panels of
    4): the packed engine's first layer reproduces training at every batch size. n % 8 in
    1..7, a K block ending inside a 2-bit group (287) or a word's high half (300, 1000), part
    sub-blocks and more weight rows than an AVX-512 chunk (4100) reach the wide panels'
    remainders; one row of x on AVX-512 takes 32 weight rows per call, so n % 32 of 26 (90)
    and 16 (80) fill its second group in part or not at all."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((19, k), dtype=np.float32)
    x[17] *= 1e-30  # subnormal partial sums
    bits = pybitnet.pack_signs(rng.standard_normal((n, k), dtype=np.float32))
    full = _bitops.binary_weight_matmul(x, bits, k, isa=isa)
    for m in list(range(1, 10)) + [16, 17]:
        np.testing.assert_array_equal(_bitops.binary_weight_matmul(x[:m], bits, k, isa=isa), full[:m])
    for i in range(19):
        np.testing.assert_array_equal(_bitops.binary_weight_matmul(x[i:i + 1], bits, k, isa=isa), full[i:i + 1])
    np.testing.assert_array_equal(_bitops.binary_weight_matmul(x[3:], bits, k, isa=isa), full[3:])


def test_threads_give_identical_results(isa):
    rng = np.random.default_rng(8)
    m, n, k = 64, 600, 1100  # above the threading threshold
    x = rng.standard_normal((m, k), dtype=np.float32)
    g = rng.standard_normal((m, n), dtype=np.float32)
    t = ternary(rng, n, k)
    bits = pybitnet.pack_signs(t.astype(np.float32) - 0.5)
    s, nz = pybitnet.pack_ternary(t)
    calls = [
        lambda: _bitops.binary_weight_matmul(x, bits, k, isa=isa),
        lambda: _bitops.binary_weight_matmul_t(g, bits, k, isa=isa),
        lambda: _bitops.ternary_weight_matmul(x, s, nz, k, isa=isa),
        lambda: _bitops.ternary_weight_matmul_t(g, s, nz, k, isa=isa),
    ]
    before = pybitnet.get_num_threads()
    try:
        pybitnet.set_num_threads(1)
        one = [c() for c in calls]
        pybitnet.set_num_threads(2)
        two = [c() for c in calls]
    finally:
        pybitnet.set_num_threads(before)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def test_row_slices_of_packed_weights():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 130), dtype=np.float32)
    w = signs(rng, 10, 130)
    bits = pybitnet.pack_signs(w)
    check_forward(pybitnet.binary_weight_matmul(x, bits[2:7], 130), x, w[2:7])
    check_forward(pybitnet.binary_weight_matmul(x[1:3], bits, 130), x[1:3], w)


# ---- pack_ternary ----

def test_pack_ternary_bits():
    t = np.array([[1, -1, 0, 0, -1], [0, 0, 0, 1, 1]], np.int8)
    s, nz = pybitnet.pack_ternary(t)
    assert s.dtype == nz.dtype == np.uint64 and s.shape == nz.shape == (2, 1)
    assert list(s[:, 0]) == [0b10010, 0]
    assert list(nz[:, 0]) == [0b10011, 0b11000]
    for dtype in (np.float32, np.float64, np.int16, np.int32, np.int64):
        s2, nz2 = pybitnet.pack_ternary(t.astype(dtype))
        np.testing.assert_array_equal(s2, s)
        np.testing.assert_array_equal(nz2, nz)


def test_pack_ternary_rejects_non_ternary():
    with pytest.raises(ValueError, match="t must contain only -1, 0 and"):
        pybitnet.pack_ternary(np.array([[1, 2, 0]], np.int8))
    with pytest.raises(ValueError, match="t must contain only"):
        pybitnet.pack_ternary(np.array([[0.5, 0.0]], np.float32))
    with pytest.raises(ValueError, match="t must contain only"):
        pybitnet.pack_ternary(np.array([[np.nan, 0.0]], np.float32))
    with pytest.raises(TypeError, match="t must have a numeric dtype"):
        pybitnet.pack_ternary(np.array([["a"]]))


# ---- bad input ----

def test_bad_input_errors_name_the_argument():
    x = np.zeros((2, 70), np.float32)
    bits = np.zeros((3, 2), np.uint64)
    with pytest.raises(TypeError, match="x must have dtype float32"):
        pybitnet.binary_weight_matmul(x.astype(np.float64), bits, 70)
    with pytest.raises(ValueError, match="x must be 2-D"):
        pybitnet.binary_weight_matmul(x[0], bits, 70)
    with pytest.raises(ValueError, match="x has 70 columns but k=71"):
        pybitnet.binary_weight_matmul(x, bits, 71)
    with pytest.raises(ValueError, match="w_bits has 2 words per row but k=200"):
        pybitnet.binary_weight_matmul(np.zeros((2, 200), np.float32), bits, 200)
    with pytest.raises(TypeError, match="w_bits must have dtype uint64 or int64"):
        pybitnet.binary_weight_matmul(x, bits.astype(np.int32), 70)
    with pytest.raises(TypeError, match="k must be an int"):
        pybitnet.binary_weight_matmul(x, bits, 70.0)
    with pytest.raises(ValueError, match="k must be >= 0"):
        pybitnet.binary_weight_matmul(x, bits, -1)
    bad_pad = bits.copy()
    bad_pad[1, 1] = 1 << 63
    with pytest.raises(ValueError, match="w_bits row 1 has nonzero padding"):
        pybitnet.binary_weight_matmul(x, bad_pad, 70)
    with pytest.raises(ValueError, match="g has 4 columns but the weights have 3 rows"):
        pybitnet.binary_weight_matmul_t(np.zeros((2, 4), np.float32), bits, 70)
    with pytest.raises(TypeError, match="g must have dtype float32"):
        pybitnet.binary_weight_matmul_t(np.zeros((2, 3), np.float16), bits, 70)
    with pytest.raises(ValueError, match="x must have contiguous rows"):
        pybitnet.binary_weight_matmul(np.zeros((2, 140), np.float32)[:, ::2], bits, 70)
    s = np.zeros((3, 2), np.uint64)
    nz = np.zeros((3, 2), np.uint64)
    s[0, 0] = 1
    with pytest.raises(ValueError, match="sign_bits row 0 has a sign bit set where nonzero_bits is 0"):
        pybitnet.ternary_weight_matmul(x, s, nz, 70)
    with pytest.raises(ValueError, match="sign_bits has 3 rows but nonzero_bits has 2"):
        pybitnet.ternary_weight_matmul(x, nz, nz[:2], 70)
    with pytest.raises(ValueError, match="nonzero_bits has 1 words per row"):
        pybitnet.ternary_weight_matmul_t(np.zeros((2, 3), np.float32), nz, nz[:, :1], 70)
    with pytest.raises(ValueError, match="unknown ISA"):
        _bitops.binary_weight_matmul(x, bits, 70, isa="sse9")
    with pytest.raises(TypeError, match="x must be a numpy array"):
        pybitnet.binary_weight_matmul([[1.0]], bits, 70)


@pytest.mark.parametrize("k", [31, 32, 33, 511, 512, 513, 1000])
@pytest.mark.parametrize("n", [15, 16, 17, 64, 71])
def test_single_row_table_path(isa, n, k):
    # Batch 1 (and the odd row of M = 4q + 1) takes the subset-sum table path (AVX-512 at any n,
    # AVX2 from 64 weight rows).
    rng = np.random.default_rng(n * 1000 + k)
    x = rng.standard_normal((1, k), dtype=np.float32)
    w = signs(rng, n, k)
    check_forward(_bitops.binary_weight_matmul(x, pybitnet.pack_signs(w), k, isa=isa), x, w)


@pytest.mark.parametrize("n", [19, 70])
def test_single_row_nonfinite(isa, n):
    rng = np.random.default_rng(12)
    k = 100
    for col, val in [(3, np.inf), (5, -np.inf), (7, np.nan)]:
        x = rng.standard_normal((1, k)).astype(np.float32)
        x[0, col] = val
        w = signs(rng, n, k)
        y = _bitops.binary_weight_matmul(x, pybitnet.pack_signs(w), k, isa=isa)
        assert_matches_float_product(y, x, w)


def test_row_split_threads_give_identical_results(isa):
    # Few outputs, many rows: the forward call is split by rows across threads.
    rng = np.random.default_rng(13)
    m, n, k = 258, 20, 6600
    x = rng.standard_normal((m, k), dtype=np.float32)
    t = ternary(rng, n, k)
    bits = pybitnet.pack_signs(t.astype(np.float32) - 0.5)
    s, nz = pybitnet.pack_ternary(t)
    before = pybitnet.get_num_threads()
    try:
        pybitnet.set_num_threads(1)
        one = [_bitops.binary_weight_matmul(x, bits, k, isa=isa), _bitops.ternary_weight_matmul(x, s, nz, k, isa=isa)]
        pybitnet.set_num_threads(2)
        two = [_bitops.binary_weight_matmul(x, bits, k, isa=isa), _bitops.ternary_weight_matmul(x, s, nz, k, isa=isa)]
    finally:
        pybitnet.set_num_threads(before)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def test_transposed_out_parameter():
    rng = np.random.default_rng(11)
    g = rng.standard_normal((20, 70)).astype(np.float32)
    w = np.where(rng.random((70, 130)) < 0.5, -1, 1).astype(np.float32)
    bits = pybitnet.pack_signs(w)
    out = np.full((20, 130), np.nan, np.float32)
    z = pybitnet.binary_weight_matmul_t(g, bits, 130, out=out)
    assert z is out or np.shares_memory(z, out)
    np.testing.assert_allclose(out, g @ w, rtol=1e-4, atol=1e-4)
    s, nz = pybitnet.pack_ternary(w.astype(np.int8))
    pybitnet.ternary_weight_matmul_t(g, s, nz, 130, out=out)
    np.testing.assert_allclose(out, g @ w, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="out has shape"):
        pybitnet.binary_weight_matmul_t(g, bits, 130, out=np.zeros((20, 129), np.float32))
    with pytest.raises(TypeError, match="out must have dtype float32"):
        pybitnet.binary_weight_matmul_t(g, bits, 130, out=np.zeros((20, 130)))
    buf = np.zeros(20 * 130, np.float32)
    g_in_buf = buf[:20 * 70].reshape(20, 70)  # g and out share memory
    with pytest.raises(ValueError, match="overlap"):
        pybitnet.binary_weight_matmul_t(g_in_buf, bits, 130, out=buf.reshape(20, 130))


@pytest.mark.parametrize("ternary", [False, True])
def test_transposed_tables_of_a_large_output_in_row_slices(isa, ternary):
    # z above 4 MB with several blocks of groups is swept in slices of g's rows (table_t.h): each row's
    # sums are those of the row computed alone, and a non-finite g is still found in a later slice.
    if isa == "scalar":
        pytest.skip("the scalar reference has no table path")
    rng = np.random.default_rng(7)
    m, n, k = 300, 330, 4100
    g = rng.standard_normal((m, n)).astype(np.float32)
    g[250, 3] = np.inf
    w = rng.standard_normal((n, k)).astype(np.float32)
    if ternary:
        w[rng.random((n, k)) < 0.3] = 0
        s, nz = pybitnet.pack_ternary(np.sign(w))

        def run(a):
            return _bitops.ternary_weight_matmul_t(a, s, nz, k, isa=isa)
    else:
        bits = pybitnet.pack_signs(w)

        def run(a):
            return _bitops.binary_weight_matmul_t(a, bits, k, isa=isa)
    z = run(g)
    alone = np.concatenate([run(g[i:i + 20]) for i in range(0, m, 20)])
    np.testing.assert_array_equal(z.view(np.uint32), alone.view(np.uint32))
    assert np.isnan(z[250]).sum() + np.isinf(z[250]).sum() == k


@pytest.mark.parametrize("kind", ["binary", "ternary"])
@pytest.mark.parametrize("m,n,k", [(3, 7, 64), (5, 4096, 100), (600, 130, 27), (257, 65, 784)])
@pytest.mark.parametrize("scale,with_bias", [(None, True), (0.37, False), (0.37, True), (1.0, True)])
def test_forward_epilogue_gives_numpys_bits(isa, kind, m, n, k, scale, with_bias):
    """scale and bias in the call (row chunks while they are in cache, on every thread) give the bits of
    numpy's ``y * np.float32(scale)`` then ``y += bias`` after the plain product."""
    rng = np.random.default_rng(m + n + k)
    x = rng.standard_normal((m, k), dtype=np.float32)
    t = ternary(rng, n, k)
    bias = rng.standard_normal(n, dtype=np.float32) if with_bias else None
    if kind == "binary":
        bits = pybitnet.pack_signs(t.astype(np.float32) - 0.5)
        call = lambda **e: _bitops.binary_weight_matmul(x, bits, k, isa=isa, **e)  # noqa: E731
    else:
        s, nz = pybitnet.pack_ternary(t)
        call = lambda **e: _bitops.ternary_weight_matmul(x, s, nz, k, isa=isa, **e)  # noqa: E731
    expected = call()
    if scale is not None:
        expected = expected * np.float32(scale)
    if bias is not None:
        expected += bias
    before = pybitnet.get_num_threads()
    try:
        for threads in (1, 2):
            pybitnet.set_num_threads(threads)
            np.testing.assert_array_equal(call(scale=scale, bias=bias), expected)
    finally:
        pybitnet.set_num_threads(before)


def test_forward_epilogue_public_wrapper_and_bad_arguments():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 70), dtype=np.float32)
    bits = pybitnet.pack_signs(signs(rng, 9, 70))
    bias = np.arange(9, dtype=np.float32)
    with pybitnet.count_ops() as counts:
        y = pybitnet.binary_weight_matmul(x, bits, 70, scale=2.0, bias=bias)
    np.testing.assert_array_equal(y, pybitnet.binary_weight_matmul(x, bits, 70) * np.float32(2.0) + bias)
    assert counts.multiplications == 4 * 9 and counts.additions == 4 * 9 * 70 + 4 * 9
    with pytest.raises(ValueError, match="bias must have one entry per weight row"):
        pybitnet.binary_weight_matmul(x, bits, 70, bias=bias[:5])
    with pytest.raises(TypeError, match="bias must have dtype float32"):
        _bitops.binary_weight_matmul(x, bits, 70, bias=bias.astype(np.float64))
    with pytest.raises(TypeError, match="scale must be a number"):
        pybitnet.binary_weight_matmul(x, bits, 70, scale="two")
