"""Quantized back-propagation: quantize_pow2, dequantize_pow2, shift_matmul."""
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pybitnet
from pybitnet import _bitops

ISAS = ["scalar", "avx2", "avx512"]  # the `isa` fixture (conftest.py) runs each, skipping missing ones


def available():
    return [i for i in ISAS if i in pybitnet.available_isas()]


def quantize(x, isa, stochastic=True, min_exp=None, max_exp=None, seed=0):
    return _bitops.quantize_pow2(x, stochastic, min_exp, max_exp, seed, isa)


def values(codes):
    """Reference decoding of codes in float64."""
    c = codes.astype(np.int64)
    return np.where(c == 0, 0.0, np.sign(c) * np.ldexp(1.0, np.abs(c) - 64))


def floor_log2(x):
    """floor(log2|x|) exactly, from frexp (float64)."""
    _, e = np.frexp(np.abs(x.astype(np.float64)))
    return e - 1


def rng_floats(n, seed=0):
    r = np.random.default_rng(seed)
    return (r.standard_normal(n) * np.exp2(r.integers(-20, 20, n))).astype(np.float32)


# ---------------------------------------------------------------- quantizer


def test_dequantize_every_code(isa):
    codes = np.arange(-127, 128, dtype=np.int8)
    out = _bitops.dequantize_pow2(codes, isa)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, values(codes))


def test_dequantize_rejects_invalid_code(isa):
    with pytest.raises(ValueError, match="-128"):
        _bitops.dequantize_pow2(np.array([1, -128, 3], np.int8), isa)


@pytest.mark.parametrize("stochastic", [True, False])
def test_outputs_are_signed_powers_of_two(isa, stochastic):
    x = rng_floats(5000)
    codes = quantize(x, isa, stochastic)
    v = values(codes)
    assert np.all(np.sign(v) == np.sign(x))
    m, _ = np.frexp(np.abs(v))
    assert np.all(m == 0.5)  # exactly a power of two
    k = floor_log2(x)
    e = np.abs(codes.astype(int)) - 64
    assert np.all((e == k) | (e == k + 1))


def test_deterministic_is_nearest_power_in_log_domain(isa):
    x = np.concatenate([rng_floats(20000, 1), np.float32([1.41421344, 1.41421366, 0.7071067, 0.70710683, 3.0, 1.5])])
    codes = quantize(x, isa, stochastic=False)
    e = np.abs(codes.astype(int)) - 64
    l2 = np.log2(np.abs(x.astype(np.float64)))
    # the chosen exponent is within 1/2 of log2|x|, so no other power of two is nearer in log2
    assert np.all(np.abs(l2 - e) <= 0.5)
    assert list(e[-6:]) == [0, 1, -1, 0, 2, 1]


def test_powers_of_two_are_exact(isa):
    x = np.ldexp(np.float32(1), np.arange(-63, 64)).astype(np.float32)
    x = np.concatenate([x, -x])
    for stochastic in (True, False):
        np.testing.assert_array_equal(values(quantize(x, isa, stochastic)), x)


def test_stochastic_is_unbiased(isa):
    # 4000 independent draws of each of 64 values (elements of a tiled array
    # get independent random bits); the mean must be within 5 standard errors.
    x = rng_floats(64, 3)
    draws = 4000
    v = values(quantize(np.tile(x, draws), isa, seed=12345)).reshape(draws, -1)
    scale = np.ldexp(1.0, floor_log2(x))  # the std of one draw is <= scale / 2
    err = (v.mean(axis=0) - x) / scale
    assert np.all(np.abs(err) <= 5 * 0.5 / np.sqrt(draws))
    assert abs(err.mean()) <= 5 * 0.5 / np.sqrt(draws * x.size)


def test_stochastic_rounds_up_with_probability_of_the_mantissa(isa):
    x = np.full(200000, 1.25, np.float32)  # f = 0.25
    up = values(quantize(x, isa, seed=7)) == 2.0
    assert abs(up.mean() - 0.25) < 5 * np.sqrt(0.25 * 0.75 / x.size)


def test_same_codes_on_every_isa_and_thread_count():
    x = rng_floats(300001, 5)  # big enough to be split across threads
    ref = quantize(x, "scalar", seed=99, min_exp=-10, max_exp=5)
    old = pybitnet.get_num_threads()
    try:
        for threads in (1, 2, 3):
            pybitnet.set_num_threads(threads)
            for isa in available():
                np.testing.assert_array_equal(quantize(x, isa, seed=99, min_exp=-10, max_exp=5), ref)
                np.testing.assert_array_equal(quantize(x, isa, stochastic=False), quantize(x, "scalar", False))
    finally:
        pybitnet.set_num_threads(old)
    assert not np.array_equal(quantize(x, "scalar", seed=100, min_exp=-10, max_exp=5), ref)


@pytest.mark.parametrize("n", [1, 15, 16, 17, 63, 64, 65, 1000])
def test_lengths_and_offsets(isa, n):
    x = rng_floats(n + 3, n)
    for stochastic in (True, False):
        np.testing.assert_array_equal(quantize(x[3:], isa, stochastic, seed=4),
                                      quantize(np.ascontiguousarray(x[3:]), "scalar", stochastic, seed=4))


def test_special_values(isa):
    tiny = np.float32(1e-30)  # 2^-99.7
    den = np.float32(1e-40)
    x = np.array([0.0, -0.0, den, -den, np.inf, -np.inf, 3e38, -3e38, tiny, 1.0], np.float32)
    for stochastic in (True, False):
        v = values(quantize(x, isa, stochastic))
        np.testing.assert_array_equal(v, [0, 0, 2.0**-63, -2.0**-63, 2.0**63, -2.0**63, 2.0**63, -2.0**63,
                                          2.0**-63, 1.0])
        v = values(quantize(x, isa, stochastic, min_exp=-4, max_exp=3))
        np.testing.assert_array_equal(v, [0, 0, 2.0**-4, -2.0**-4, 8, -8, 8, -8, 2.0**-4, 1.0])


def test_nan_raises(isa):
    x = np.ones(100, np.float32)
    x[77] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        quantize(x, isa)


def test_clipping(isa):
    x = rng_floats(5000, 8)
    codes = quantize(x, isa, min_exp=-4, max_exp=3, seed=1)
    e = np.abs(codes.astype(int)) - 64
    assert e.min() == -4 and e.max() == 3
    assert np.all(codes != 0)


def test_shapes_are_kept():
    x = rng_floats(24).reshape(2, 3, 4)
    codes = pybitnet.quantize_pow2(x, seed=0)
    assert codes.shape == (2, 3, 4) and codes.dtype == np.int8
    assert pybitnet.dequantize_pow2(codes).shape == (2, 3, 4)
    assert pybitnet.quantize_pow2(np.zeros((0, 3), np.float32)).shape == (0, 3)


def test_seed_none_draws_fresh_seeds():
    x = np.full(1000, 1.5, np.float32)
    assert not np.array_equal(pybitnet.quantize_pow2(x), pybitnet.quantize_pow2(x))
    np.testing.assert_array_equal(pybitnet.quantize_pow2(x, seed=3), pybitnet.quantize_pow2(x, seed=3))


def test_quantize_argument_errors():
    x = np.ones(4, np.float32)
    with pytest.raises(TypeError, match="x must have dtype float32"):
        pybitnet.quantize_pow2(x.astype(np.float64))
    with pytest.raises(ValueError, match="x must be C-contiguous"):
        pybitnet.quantize_pow2(np.ones(8, np.float32)[::2])
    with pytest.raises(ValueError, match="min_exp"):
        pybitnet.quantize_pow2(x, min_exp=-64)
    with pytest.raises(ValueError, match="max_exp"):
        pybitnet.quantize_pow2(x, max_exp=64)
    with pytest.raises(ValueError, match="greater than max_exp"):
        pybitnet.quantize_pow2(x, min_exp=2, max_exp=1)
    with pytest.raises(TypeError, match="min_exp"):
        pybitnet.quantize_pow2(x, min_exp=1.5)
    with pytest.raises(ValueError, match="seed"):
        pybitnet.quantize_pow2(x, seed=-1)
    with pytest.raises(TypeError, match="seed"):
        pybitnet.quantize_pow2(x, seed=1.0)
    with pytest.raises(TypeError, match="codes must have dtype int8"):
        pybitnet.dequantize_pow2(np.ones(3, np.int16))
    with pytest.raises(TypeError, match="x must be a numpy array"):
        pybitnet.quantize_pow2([1.0])


# ---------------------------------------------------------------- shift_matmul

SHAPES = [(1, 1, 1), (3, 5, 7), (2, 1, 64), (17, 33, 65), (100, 70, 130), (33, 9, 200), (5, 130, 31)]


def operands(m, k, n, seed=0, zeros=0.2, min_exp=None, max_exp=None):
    r = np.random.default_rng(seed)
    x = r.standard_normal((m, k)).astype(np.float32)
    x[r.random((m, k)) < zeros] = 0
    codes = pybitnet.quantize_pow2(x, seed=seed, min_exp=min_exp, max_exp=max_exp)
    g = (r.standard_normal((m, n)) * np.exp2(r.integers(-3, 3, (m, n)))).astype(np.float32)
    return codes, g


def summation_bound(codes, g):
    """float32 recursive summation of m exact products: |err| <= m * 2^-24 * sum |terms| (with slack)."""
    m = max(codes.shape[0], 1)
    return 1.01 * m * 2.0**-24 * (np.abs(values(codes)).T @ np.abs(g.astype(np.float64)))


@pytest.mark.parametrize("shape", SHAPES)
def test_float_variant_matches_float64(isa, shape):
    codes, g = operands(*shape, seed=sum(shape))
    out = _bitops.shift_matmul(codes, g, "float", isa)
    assert out.dtype == np.float32 and out.shape == (shape[1], shape[2])
    exact = values(codes).T @ g.astype(np.float64)
    assert np.all(np.abs(out - exact) <= summation_bound(codes, g))
    # the same sums in the same order on every ISA: identical bits
    np.testing.assert_array_equal(out, _bitops.shift_matmul(codes, g, "float", "scalar"))


def test_float_variant_is_exact_for_one_row(isa):
    # M = 1: each output is a single product, which must be the IEEE product,
    # including overflow to Inf, gradual underflow (rounded) and denormal g.
    r = np.random.default_rng(11)
    g = np.concatenate([
        r.integers(0, 2**32, 4000, dtype=np.uint64).astype(np.uint32).view(np.float32),  # every kind of float
        np.float32([1e-40, -3e-45, 3e38, -1e-38, 1.5e-38, np.inf, -np.inf, 0.0, -0.0, np.nan]),
    ])
    g = g[None, :].astype(np.float32)
    codes = np.array([[127, -127, 1, -1, 64, 70, -50, 0]], np.int8)
    out = _bitops.shift_matmul(codes, g, "float", isa)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        ref = np.multiply.outer(values(codes)[0].astype(np.float32), g[0])
    np.testing.assert_array_equal(out, ref)  # NaN == NaN for assert_array_equal


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 40), k=st.integers(1, 20), n=st.integers(1, 150), seed=st.integers(0, 2**32 - 1))
def test_float_variant_property(m, k, n, seed):
    codes, g = operands(m, k, n, seed=seed)
    ref = _bitops.shift_matmul(codes, g, "float", "scalar")
    exact = values(codes).T @ g.astype(np.float64)
    assert np.all(np.abs(ref - exact) <= summation_bound(codes, g))
    for isa in available():
        np.testing.assert_array_equal(_bitops.shift_matmul(codes, g, "float", isa), ref)


@pytest.mark.parametrize("zeros", [0.0, 0.05])
def test_float_variant_dense_and_masked_rows_agree(isa, zeros):
    # AVX-512 adds a batch row without masks when its g tile has no zero and none of a tile's 6 codes is zero,
    # else with them: mix both per row, tile and row tile (zero g lanes in some 64-column tiles, rows of zero
    # codes in some output rows, a partial last tile), and compare with the scalar reference bit for bit.
    codes, g = operands(70, 23, 150, seed=5, zeros=zeros)
    g[3, 70] = 0.0  # a zero lane in the second column tile of batch row 3
    g[10, :64] = 0.0  # a whole tile
    g[11, 140] = -0.0
    codes[20:30, 6:12] = 0  # the second tile of output rows, for 10 batch rows
    out = _bitops.shift_matmul(codes, g, "float", isa)
    np.testing.assert_array_equal(out, _bitops.shift_matmul(codes, g, "float", "scalar"))
    exact = values(codes).T @ g.astype(np.float64)
    assert np.all(np.abs(out - exact) <= summation_bound(codes, g))


def test_float_variant_dense_rows_over_chunks_and_blocks(isa):
    # more than one chunk of batch rows (256) and more than one block of output rows (126 at full chunks): the
    # per-row-tile flags and the partial sums parked between chunks
    codes, g = operands(300, 140, 70, seed=8, zeros=0.01)
    codes[260:270, 130:136] = 0
    g[270, 5] = 0.0
    np.testing.assert_array_equal(_bitops.shift_matmul(codes, g, "float", isa),
                                  _bitops.shift_matmul(codes, g, "float", "scalar"))


def test_float_variant_strided_rows(isa):
    codes, g = operands(20, 50, 90, seed=2)
    out = _bitops.shift_matmul(codes[:, 5:40], g[:, 3:80], "float", isa)
    exact = values(codes[:, 5:40]).T @ g[:, 3:80].astype(np.float64)
    assert np.all(np.abs(out - exact) <= summation_bound(codes[:, 5:40], g[:, 3:80]))


def test_same_result_on_every_thread_count():
    codes, g = operands(64, 300, 700, seed=4)
    cases = [(isa, method, cols) for isa in available() for method in ("float", "fixed") for cols in (700, 5)]
    old = pybitnet.get_num_threads()
    try:
        pybitnet.set_num_threads(1)
        ref = {c: _bitops.shift_matmul(codes, g[:, :c[2]], c[1], c[0]) for c in cases}
        for threads in (2, 3):
            pybitnet.set_num_threads(threads)
            for c in cases:  # 5 columns: the output is split by rows instead of columns
                np.testing.assert_array_equal(_bitops.shift_matmul(codes, g[:, :c[2]], c[1], c[0]), ref[c])
    finally:
        pybitnet.set_num_threads(old)


def test_empty_operands(isa):
    assert _bitops.shift_matmul(np.zeros((0, 3), np.int8), np.zeros((0, 4), np.float32), "float", isa).tolist() == \
        [[0.0] * 4] * 3
    assert _bitops.shift_matmul(np.zeros((2, 0), np.int8), np.ones((2, 4), np.float32), "fixed", isa).shape == (0, 4)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("clip", [(None, None), (-4, 3)])
def test_fixed_variant_within_its_bound(isa, shape, clip):
    codes, g = operands(*shape, seed=sum(shape) + 1, min_exp=clip[0], max_exp=clip[1])
    out = _bitops.shift_matmul(codes, g, "fixed", isa)
    exact = values(codes).T @ g.astype(np.float64)
    bound = pybitnet.shift_matmul_fixed_bound(codes, g)
    assert np.all(np.abs(out - exact) <= bound)
    np.testing.assert_array_equal(out, _bitops.shift_matmul(codes, g, "fixed", "scalar"))


@pytest.mark.parametrize("g0", [5.7e-43, 1e-38, 3e-45])
def test_fixed_variant_subnormal_outputs_within_bound(isa, g0):
    # A fuzzer finding: tiny operands chose F = 169, and the outputs' rounding to
    # float32's subnormal grid broke the bound. F is capped at 149 now.
    codes = np.array([[-56, 60], [0, -57]], np.int8)  # -2^-8, 2^-4; -2^-7
    g = np.array([[g0, -g0], [2 * g0, 0.0]], np.float32)
    assert _bitops.shift_matmul_frac_bits(codes, g) <= 149
    out = _bitops.shift_matmul(codes, g, "fixed", isa)
    exact = values(codes).T @ g.astype(np.float64)
    assert np.all(np.abs(out - exact) <= pybitnet.shift_matmul_fixed_bound(codes, g))


def test_fixed_variant_bound_is_tight_enough():
    # The bound is a few float32 ulps of the largest possible output, not a free pass.
    codes, g = operands(100, 64, 64, seed=9, min_exp=-4, max_exp=3)
    bound = pybitnet.shift_matmul_fixed_bound(codes, g)
    scale = np.abs(values(codes)).sum(axis=0).max() * np.abs(g).max()
    assert bound.max() <= 2.0**-20 * scale


def test_fixed_variant_errors():
    codes, g = operands(4, 5, 6)
    g[1, 2] = np.inf
    with pytest.raises(ValueError, match="finite"):
        pybitnet.shift_matmul(codes, g, method="fixed")
    codes = np.full((4, 5), 127, np.int8)
    with pytest.raises(ValueError, match="too large"):
        pybitnet.shift_matmul(codes, np.ones((4, 6), np.float32), method="fixed")


def test_shift_matmul_argument_errors():
    codes, g = operands(4, 5, 6)
    with pytest.raises(TypeError, match="codes must have dtype int8"):
        pybitnet.shift_matmul(codes.astype(np.int16), g)
    with pytest.raises(TypeError, match="g must have dtype float32"):
        pybitnet.shift_matmul(codes, g.astype(np.float64))
    with pytest.raises(ValueError, match="M=4 rows but g has M=3"):
        pybitnet.shift_matmul(codes, g[:3])
    with pytest.raises(ValueError, match="codes must be 2-D"):
        pybitnet.shift_matmul(codes[0], g)
    with pytest.raises(ValueError, match="g must have contiguous rows"):
        pybitnet.shift_matmul(codes, g[:, ::2])
    with pytest.raises(ValueError, match="method"):
        pybitnet.shift_matmul(codes, g, method="exact")
    bad = codes.copy()
    bad[2, 3] = -128
    with pytest.raises(ValueError, match="-128"):
        pybitnet.shift_matmul(bad, g)
    with pytest.raises(ValueError, match="unknown ISA"):
        _bitops.shift_matmul(codes, g, "float", "sse9")


# ---------------------------------------------------------------- op counting


def test_shift_matmul_counts_shifts_and_adds_no_multiplications():
    codes, g = operands(10, 20, 30, zeros=0.5)
    with pybitnet.count_ops() as ops:
        pybitnet.shift_matmul(codes, g)
    nnz = int(np.count_nonzero(codes))
    c = ops.by_kernel["shift_matmul"]
    assert (c.calls, c.multiplications, c.shifts, c.additions) == (1, 0, nnz * 30, nnz * 30)


def test_qbp_dense_step_ops():
    r = pybitnet.qbp_dense_step_ops(100, 1024, 512)
    assert r["float"].multiplications == 3 * 100 * 1024 * 512 + 3 * 100 * 512
    assert r["qbp"].multiplications == 3 * 100 * 512
    assert r["qbp"].shifts == 100 * 1024 * 512
    assert r["ratio"] == pytest.approx(1025.0)


# ---------------------------------------------------------------- no multiply in the SIMD paths

QBP_OPS = ["quantize_pow2", "dequantize_pow2", "shift_matmul", "shift_matmul_fixed"]
QBP_SIMD_VARIANTS = [v["name"] for v in pybitnet.variants() if v["op"] in QBP_OPS and v["isa"] != "scalar"]


def test_every_qbp_op_has_simd_variants():
    assert {v.rsplit("__", 1)[0] for v in QBP_SIMD_VARIANTS} >= set(QBP_OPS) - {"shift_matmul"}
    assert "shift_matmul_expadd__avx512" in QBP_SIMD_VARIANTS and "shift_matmul__avx2" in QBP_SIMD_VARIANTS


@pytest.mark.parametrize("variant", QBP_SIMD_VARIANTS)
def test_simd_kernels_have_no_float_multiply(variant):
    """The disassembled SIMD kernels (and the internal helpers they call) hold
    no floating-point multiply, FMA or scale instruction (the quantizer's hash
    uses vpmulld, an integer multiply, which is allowed)."""
    claims = pytest.importorskip("test_weight_matmul_claims")
    code, _ = claims.kernel_code(claims.kernel_disassembly(), f"pbn::{variant}(")
    bad = [line for line in code if claims.FP_MULTIPLY.search(line)]
    assert not bad, bad[:5]
    assert any(re.search(r"\bvadd|\bvpadd", line) for line in code)
