"""The fused binary layer (xnor_gemm_threshold) against numpy, and the
batch-norm + sign folding against BN + sign on random statistics."""
import numpy as np
import pytest

import pybitnet
from pybitnet import _bitops
from pybitnet.inference import bn_eval, fold_bn_sign, fold_bn_sign_float
from pybitnet.nn import BatchNorm, ShiftBatchNorm, ste_sign
from conftest import signs


def expected_bits(dot, t, flip):
    plus = np.where(flip, dot <= t, dot >= t)
    return pybitnet.pack_signs(np.where(plus, 1.0, -1.0).astype(np.float32))


def operands(m, n, k, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((n, k)).astype(np.float32)
    dot = (signs(a) @ signs(b).T).astype(np.int64)
    t = rng.integers(-k - 1, k + 2, n).astype(np.int32)
    t[: n // 3] = np.clip(np.median(dot, axis=0)[: n // 3], -k, k).astype(np.int32)  # thresholds that split rows
    flip = rng.random(n) < 0.5
    return pybitnet.pack_signs(a), pybitnet.pack_signs(b), dot, t, flip


@pytest.mark.parametrize("k", [1, 63, 64, 65, 784, 1000])
@pytest.mark.parametrize("m,n", [(1, 1), (2, 7), (3, 64), (5, 65), (17, 130), (1, 200), (64, 129)])
def test_matches_numpy_and_reference(isa, m, n, k):
    a_bits, b_bits, dot, t, flip = operands(m, n, k, seed=m * 1000 + n + k)
    got = _bitops.xnor_gemm_threshold(a_bits, b_bits, k, t, flip, isa)
    assert got.dtype == np.uint64 and got.shape == (m, -(-n // 64))
    np.testing.assert_array_equal(got, expected_bits(dot, t, flip))  # also: padding bits zero
    np.testing.assert_array_equal(got, _bitops.xnor_gemm_threshold(a_bits, b_bits, k, t, flip, "scalar"))


def test_threshold_edges(isa):
    """dot == t is +1 unflipped and +1 flipped; t = -k always +1, t = k + 1 always -1."""
    k = 65
    a = pybitnet.pack_signs(np.ones((3, k), np.float32))
    b = pybitnet.pack_signs(np.ones((4, k), np.float32))  # dot = k everywhere
    t = np.array([k, k, k + 1, -k], np.int32)
    got = _bitops.xnor_gemm_threshold(a, b, k, t, np.array([False, True, False, False]), isa)
    assert (got[:, 0] == 0b0100).all()


@pytest.mark.parametrize("threads", [1, 2])
def test_threads_and_large(isa, threads):
    a_bits, b_bits, dot, t, flip = operands(100, 1000, 784, seed=3)
    old = pybitnet.get_num_threads()
    try:
        pybitnet.set_num_threads(threads)
        got = _bitops.xnor_gemm_threshold(a_bits, b_bits, 784, t, flip, isa)
    finally:
        pybitnet.set_num_threads(old)
    np.testing.assert_array_equal(got, expected_bits(dot, t, flip))


def test_bad_arguments():
    a_bits, b_bits, _, t, flip = operands(2, 3, 64, seed=0)
    with pytest.raises(TypeError, match="thresholds"):
        pybitnet.xnor_gemm_threshold(a_bits, b_bits, 64, t.astype(np.int64), flip)
    with pytest.raises(ValueError, match="thresholds"):
        pybitnet.xnor_gemm_threshold(a_bits, b_bits, 64, t[:2], flip)
    with pytest.raises(TypeError, match="flip"):
        pybitnet.xnor_gemm_threshold(a_bits, b_bits, 64, t, flip.astype(np.uint8))
    with pytest.raises(ValueError, match="flip"):
        pybitnet.xnor_gemm_threshold(a_bits, b_bits, 64, t, flip[:1])
    with pytest.raises(ValueError, match="a_bits"):
        pybitnet.xnor_gemm_threshold(a_bits, b_bits, 65, t, flip)


def random_bn(cls, c, k, seed):
    """Random trained-looking statistics; gamma has negative and zero entries."""
    rng = np.random.default_rng(seed)
    bn = cls(c)
    bn.eval()
    g = rng.standard_normal(c).astype(np.float32)
    g[::7] = 0
    g[1::5] *= 1e-3
    bn.gamma.value[...] = g
    bn.beta.value[...] = (rng.standard_normal(c) * rng.choice([0.01, 1, 10, 1e3], c)).astype(np.float32)
    bn.beta.value[3::11] = 0
    var = (rng.random(c) * 2 * k).astype(np.float32)
    var[2::9] = 0
    bn.set_statistics((rng.standard_normal(c) * np.sqrt(k)).astype(np.float32), var)
    bias = (rng.standard_normal(c) * 3).astype(np.float32)
    return bn, bias


@pytest.mark.parametrize("cls", [BatchNorm, ShiftBatchNorm])
@pytest.mark.parametrize("k", [1, 2, 63, 64, 784])
def test_fold_matches_bn_sign_on_every_dot(cls, k):
    """For every integer dot in [-k, k], the folded threshold gives the sign the
    trained layer gives (the layer's own float32 eval forward, sign(0) = +1)."""
    c = 300
    bn, bias = random_bn(cls, c, k, seed=k)
    t, flip = fold_bn_sign(bn, k, bias)
    dots = np.arange(-k, k + 1, dtype=np.int64)[:, None]
    expected = ste_sign(bn.forward(dots.astype(np.float32) + bias)) > 0
    got = np.where(flip, dots <= t, dots >= t)
    np.testing.assert_array_equal(got, expected)
    assert t.dtype == np.int32 and (t >= -k - 1).all() and (t <= k + 1).all()
    assert flip[bn.gamma.value == 0].sum() == 0
    assert (flip == ((bn._gamma() < 0) & (t > -k - 1) & (t < k + 1)))[bn.gamma.value != 0].mean() > 0.5


def test_fold_exact_boundary():
    """A threshold landing exactly on an integer: BN(dot) == 0 at dot == 5 is +1."""
    bn = BatchNorm(2)
    bn.eval()
    bn.gamma.value[...] = [2.0, -2.0]
    bn.beta.value[...] = 0
    bn.running_mean[...] = 5.0
    bn.running_var[...] = 1.0 - bn.eps
    t, flip = fold_bn_sign(bn, 9)
    assert list(t) == [5, 5] and list(flip) == [False, True]


def test_fused_layer_equals_bn_sign(isa):
    k, n = 300, 130
    rng = np.random.default_rng(1)
    x = signs(rng.standard_normal((33, k)))
    w = signs(rng.standard_normal((n, k)))
    bn, bias = random_bn(BatchNorm, n, k, seed=5)
    t, flip = fold_bn_sign(bn, k, bias)
    got = _bitops.xnor_gemm_threshold(pybitnet.pack_signs(x.astype(np.int8)), pybitnet.pack_signs(w.astype(np.int8)), k,
                                      t, flip, isa)
    expected = pybitnet.pack_signs(ste_sign(bn_eval(bn, (x @ w.T).astype(np.float32) + bias)))
    np.testing.assert_array_equal(got, expected)


def test_fold_float_matches_bn_sign():
    bn, bias = random_bn(BatchNorm, 200, 784, seed=2)
    y = np.random.default_rng(0).standard_normal((50, 200)).astype(np.float32) * 30
    t, s = fold_bn_sign_float(bn, bias)
    ref = bn_eval(bn, y + bias)
    got = (y - t) * s >= 0
    clear = np.abs(ref) > 1e-3 * (np.abs(bn._gamma()) + 1e-3)  # away from the rounding boundary
    np.testing.assert_array_equal(got[clear], (ref >= 0)[clear])
    assert clear.mean() > 0.95


def test_strided_and_misaligned_rows(isa):
    """Row slices (larger row stride, rows not 64-byte aligned) take the driver's copy path."""
    a_bits, b_bits, dot, t, flip = operands(131, 301, 1000, seed=9)
    got = _bitops.xnor_gemm_threshold(a_bits[1::2], b_bits[1:], 1000, t[1:], flip[1:].copy(), isa)
    np.testing.assert_array_equal(got, expected_bits(dot[1::2, 1:], t[1:], flip[1:]))
