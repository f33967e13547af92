"""binarize / ternarize / dropout: deterministic rules, sampled frequencies (binomial
bounds with fixed seeds), reproducibility across seeds, threads and ISAs."""
import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

import pybitnet

REPEATS = 20000
PROBS = np.array([0.0, 0.05, 0.25, 0.5, 0.8, 1.0])


def sign_of(bits, k):
    return pybitnet.unpack_signs(bits, k)


def assert_binomial(count, n, p):
    # 5 standard deviations: with fixed seeds this never flakes, and a wrong
    # probability (e.g. p vs 1-p, or off by 0.02 at n=20000) fails it.
    sd = np.sqrt(n * p * (1 - p))
    assert abs(count - n * p) <= 5 * sd + 1e-9, (count, n, p)


def test_binarize_deterministic_is_sign():
    w = np.array([[0.5, -0.1, 0.0, -0.0, 3.0, -7.0]], np.float32)
    np.testing.assert_array_equal(pybitnet.binarize(w), pybitnet.pack_signs(w))
    np.testing.assert_array_equal(pybitnet.binarize(w, scale=0.01), pybitnet.pack_signs(w))


@pytest.mark.parametrize("scale", [1.0, 0.25])
def test_binarize_stochastic_frequencies(scale):
    w = np.repeat(((2 * PROBS - 1) * scale).astype(np.float32)[:, None], REPEATS, axis=1)
    plus = sign_of(pybitnet.binarize(w, stochastic=True, seed=123, scale=scale), REPEATS) > 0
    for p, count in zip(PROBS, plus.sum(axis=1)):
        assert_binomial(count, REPEATS, p)


def test_ternarize_deterministic():
    w = np.array([[0.6, -0.6, 0.4, -0.4, 0.0, 2.0, -2.0]], np.float32)
    s, nz = pybitnet.ternarize(w, stochastic=False)
    es, enz = pybitnet.pack_ternary(np.array([[1, -1, 0, 0, 0, 1, -1]], np.int8))
    np.testing.assert_array_equal(s, es)
    np.testing.assert_array_equal(nz, enz)


@pytest.mark.parametrize("scale", [1.0, 2.0])
def test_ternarize_stochastic_frequencies(scale):
    mags = (PROBS * scale).astype(np.float32)
    w = np.concatenate([mags, -mags])[:, None] * np.ones((1, REPEATS), np.float32)
    s, nz = pybitnet.ternarize(w, stochastic=True, seed=7, scale=scale)
    nonzero = sign_of(nz, REPEATS) < 0
    negative = sign_of(s, REPEATS) < 0
    assert not (negative & ~nonzero).any()
    for row, p in enumerate(np.concatenate([PROBS, PROBS])):
        assert_binomial(nonzero[row].sum(), REPEATS, p)
        # the sign is sign(w): negative exactly where nonzero, for w < 0
        np.testing.assert_array_equal(negative[row], nonzero[row] & (row >= len(PROBS)))


def test_chi_square_of_binarize_over_many_probabilities():
    scipy_stats = pytest.importorskip("scipy.stats")
    p = np.linspace(0.02, 0.98, 49)
    w = np.repeat((2 * p - 1).astype(np.float32)[:, None], 4000, axis=1)
    plus = (sign_of(pybitnet.binarize(w, stochastic=True, seed=99), 4000) > 0).sum(axis=1)
    expected = p * 4000
    chi2 = (((plus - expected) ** 2) / (expected * (1 - p))).sum()
    assert scipy_stats.chi2.sf(chi2, df=len(p)) > 1e-4


def test_seeds_reproduce_and_differ():
    w = np.random.default_rng(0).standard_normal((30, 300)).astype(np.float32) * 0.5
    a = pybitnet.binarize(w, stochastic=True, seed=5)
    np.testing.assert_array_equal(a, pybitnet.binarize(w, stochastic=True, seed=5))
    assert not np.array_equal(a, pybitnet.binarize(w, stochastic=True, seed=6))
    s1, nz1 = pybitnet.ternarize(w, seed=5)
    s2, nz2 = pybitnet.ternarize(w, seed=5)
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(nz1, nz2)
    assert pybitnet.binarize(w, stochastic=True).shape == (30, 5)  # seed=None works


def test_identical_across_thread_counts():
    w = np.random.default_rng(1).standard_normal((512, 4100)).astype(np.float32)  # above the threading threshold
    before = pybitnet.get_num_threads()
    try:
        pybitnet.set_num_threads(1)
        one = (pybitnet.binarize(w, True, 42), *pybitnet.ternarize(w, True, 42))
        pybitnet.set_num_threads(2)
        two = (pybitnet.binarize(w, True, 42), *pybitnet.ternarize(w, True, 42))
    finally:
        pybitnet.set_num_threads(before)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


_DIGEST = """
import hashlib, numpy as np, pybitnet
w = np.random.default_rng(2).standard_normal((64, 1000)).astype(np.float32)
h = hashlib.sha256(pybitnet.binarize(w, True, 3).tobytes() + b"".join(a.tobytes() for a in pybitnet.ternarize(w, True, 3)))
print(pybitnet.isa(), h.hexdigest())
"""


def test_identical_across_isas():
    digests = set()
    for isa in pybitnet.available_isas():
        env = dict(os.environ, PYBITNET_ISA=isa)
        out = subprocess.run([sys.executable, "-c", _DIGEST], env=env, capture_output=True, text=True, check=True,
                             cwd=os.path.dirname(os.path.dirname(os.path.abspath(pybitnet.__file__))))
        got_isa, digest = out.stdout.split()
        assert got_isa == isa
        digests.add(digest)
    assert len(digests) == 1


def test_sampler_errors_name_the_argument():
    w = np.zeros((2, 3), np.float32)
    with pytest.raises(TypeError, match="w must have dtype float32"):
        pybitnet.binarize(w.astype(np.float64))
    with pytest.raises(ValueError, match="w contains NaN"):
        pybitnet.ternarize(np.array([[np.nan]], np.float32), seed=1)
    with pytest.raises(ValueError, match="scale must be a finite number > 0"):
        pybitnet.binarize(w, scale=0.0)
    with pytest.raises(ValueError, match="seed must be in"):
        pybitnet.binarize(w, True, seed=-1)
    with pytest.raises(TypeError, match="seed must be an int"):
        pybitnet.binarize(w, True, seed=1.5)
    with pytest.raises(ValueError, match="w must be C-contiguous"):
        pybitnet.binarize(np.zeros((4, 4), np.float32)[:, ::2])


def test_samples_feed_the_kernels():
    rng = np.random.default_rng(4)
    w = rng.standard_normal((9, 130)).astype(np.float32)
    x = rng.standard_normal((3, 130)).astype(np.float32)
    bits = pybitnet.binarize(w, stochastic=True, seed=1)
    W = pybitnet.unpack_signs(bits, 130)
    np.testing.assert_allclose(pybitnet.binary_weight_matmul(x, bits, 130), x @ W.T, rtol=1e-4, atol=1e-4)
    s, nz = pybitnet.ternarize(w, seed=1)
    T = (pybitnet.unpack_signs(s, 130) < 0) * -2.0 + 1.0
    T = np.where(pybitnet.unpack_signs(nz, 130) < 0, T, 0.0)
    np.testing.assert_allclose(pybitnet.ternary_weight_matmul(x, s, nz, 130), x @ T.T, rtol=1e-4, atol=1e-4)


# ---- dropout ------------------------------------------------------------------------------

def _dropout_rule(n, p, seed):
    """The documented rule, in numpy: unit i keeps where the 24-bit uniform of splitmix64 draw i // 2
    (bits 40..63 for even i, 16..39 for odd) is >= p (p rounded to float32)."""
    m = np.uint64(2**64 - 1)
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + (np.arange(n // 2 + 1, dtype=np.uint64) + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = (z ^ (z >> np.uint64(31))) & m
    d = z[np.arange(n) // 2]
    u = np.where(np.arange(n) % 2 == 0, d >> np.uint64(40), (d >> np.uint64(16)) & np.uint64(0xFFFFFF))
    keep = (u.astype(np.float64) / 2**24) >= np.float32(p)
    return keep.astype(np.float32) / np.float32(1 - p)


@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 0.75])
@pytest.mark.parametrize("shape", [(1,), (7,), (3, 33), (100, 1025)])
def test_dropout_follows_its_rule(p, shape):
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    y, scale = pybitnet.dropout(x, p, seed=77)
    want = _dropout_rule(x.size, p, 77).reshape(shape)
    np.testing.assert_array_equal(scale, want)
    np.testing.assert_array_equal(y, x * want)
    assert y.dtype == scale.dtype == np.float32 and y.shape == scale.shape == shape


def test_dropout_rate_and_reproducibility():
    x = np.ones((200, 1000), np.float32)
    for p in (0.1, 0.5, 0.9):
        _, scale = pybitnet.dropout(x, p, seed=5)
        assert_binomial(int((scale == 0).sum()), x.size, p)
    a, b, c = (pybitnet.dropout(x, 0.5, seed=s)[1] for s in (1, 1, 2))
    np.testing.assert_array_equal(a, b)
    assert (a != c).mean() > 0.4


def test_dropout_identical_across_threads_and_isas():
    from pybitnet import _bitops
    x = np.random.default_rng(4).standard_normal((300, 4097)).astype(np.float32)  # above the threading threshold
    before = pybitnet.get_num_threads()
    try:
        pybitnet.set_num_threads(1)
        one = pybitnet.dropout(x, 0.5, seed=9)
        pybitnet.set_num_threads(2)
        two = pybitnet.dropout(x, 0.5, seed=9)
    finally:
        pybitnet.set_num_threads(before)
    for isa in pybitnet.available_isas():
        for a, b, c in zip(one, two, _bitops.dropout(x, 0.5, 9, isa)):
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(a, c)


def test_dropout_errors_name_the_argument():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(TypeError, match="x must have dtype float32"):
        pybitnet.dropout(x.astype(np.float64), 0.5, seed=1)
    with pytest.raises(ValueError, match="x must be C-contiguous"):
        pybitnet.dropout(np.zeros((4, 4), np.float32)[:, ::2], 0.5, seed=1)
    for p in (1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="p must be (in|finite)"):
            pybitnet.dropout(x, p, seed=1)
    with pytest.raises(TypeError, match="p must be a number"):  # float('0.5') would have parsed it
        pybitnet.dropout(x, "0.5", seed=1)
    with pytest.raises(ValueError, match="seed must be in"):
        pybitnet.dropout(x, 0.5, seed=-1)
    y, scale = pybitnet.dropout(np.zeros((0, 5), np.float32), 0.5, seed=1)
    assert y.shape == scale.shape == (0, 5)
