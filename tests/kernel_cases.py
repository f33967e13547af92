"""Every public kernel as a *case*: draw its inputs from a Source, run it on every ISA
the CPU has, check the result against an oracle that does not use the kernels (numpy)
or against the scalar reference.

Shared by the hypothesis property suite (tests/test_properties.py: a Source over
``st.data()``) and the coverage-guided atheris harness (fuzz/fuzz_kernels.py: a Source
over ``atheris.FuzzedDataProvider``). Adding an op to both is one line in CASES (plus
its case function).

Layouts: operands are placed contiguous, at an element offset inside a larger buffer
(another alignment), or, where the kernel takes strided rows, as a column slice of a
wider array. Sizes come from EDGE_SIZES (0, 1, 63, 64, 65: word and tile edges) or
are drawn freely.

``ABUSE`` calls each public function with arbitrary arguments (any dtype, ndim,
shape, strides, huge or negative ints, None, lists, NaN): the only acceptable outcomes
are a result, ``TypeError`` or ``ValueError`` (``InvalidModelFile`` is one). A crash, a
hang or any other exception is a finding.
"""
from __future__ import annotations

import numpy as np

import pybitnet
from pybitnet import _bitops
from pybitnet import conv_bits as conv, first_layer, layout, norm_ops, ste_ops

ISAS = pybitnet.available_isas()
EDGE_SIZES = (0, 1, 63, 64, 65)
U = 2.0 ** -24


class Source:
    """What a case may draw. Subclasses: HypothesisSource, AtherisSource."""

    def integer(self, lo: int, hi: int) -> int:
        raise NotImplementedError

    def boolean(self) -> bool:
        return self.integer(0, 1) == 1

    def choice(self, seq):
        return seq[self.integer(0, len(seq) - 1)]

    def size(self, hi: int = 150) -> int:
        return self.choice(EDGE_SIZES) if self.boolean() else self.integer(0, hi)

    def rng(self) -> np.random.Generator:
        return np.random.default_rng(self.integer(0, 2**32 - 1))

    def floats(self, shape, scale: float = 1.0) -> np.ndarray:
        """float32 values of `shape`, finite, with +-0 and a few extremes mixed in."""
        r = self.rng()
        x = (r.standard_normal(shape) * scale).astype(np.float32)
        if x.size and self.boolean():
            specials = np.array([0.0, -0.0, 1e-40, -1e-40, 1.0, -1.0, 2.0**-126], np.float32)
            idx = r.integers(0, x.size, max(1, x.size // 8))
            x.flat[idx] = specials[r.integers(0, len(specials), idx.size)]
        return x


class HypothesisSource(Source):
    def __init__(self, data):
        from hypothesis import strategies as st
        self._data, self._st = data, st

    def integer(self, lo, hi):
        return self._data.draw(self._st.integers(lo, hi))


class AtherisSource(Source):
    def __init__(self, fdp):
        self._fdp = fdp

    def integer(self, lo, hi):
        return self._fdp.ConsumeIntInRange(lo, hi)

    def floats(self, shape, scale=1.0):
        x = super().floats(shape, scale)
        raw = self._fdp.ConsumeBytes(4 * min(x.size, 64))  # the fuzzer steers the first values bit by bit
        if raw:
            v = np.frombuffer(raw[: len(raw) // 4 * 4], np.float32)
            v = np.where(np.isfinite(v) & (np.abs(v) < 1e30), v, 0).astype(np.float32)
            x.flat[: v.size] = v
        return x


# ---------------------------------------------------------------------------------- layouts

def place(src: Source, a: np.ndarray, strided_rows: bool = False) -> np.ndarray:
    """`a` as given, at an element offset in a larger buffer (C-contiguous), or (2-D, if
    `strided_rows`) as a column slice of a wider array: same values, other memory."""
    how = src.integer(0, 2 if strided_rows and a.ndim == 2 else 1)
    if how == 0:
        return a
    if how == 1:
        off = src.integer(1, 9)
        buf = np.empty(a.size + off, a.dtype)
        out = buf[off:].reshape(a.shape)
        out[...] = a
        return out
    extra, left = src.integer(1, 9), src.integer(0, 5)
    wide = np.zeros((a.shape[0], a.shape[1] + extra + left), a.dtype)
    wide[:, left:left + a.shape[1]] = a
    return wide[:, left:left + a.shape[1]]


def signs_of(x):
    return np.where(np.asarray(x) < 0, -1, 1).astype(np.int64)


def pm1(src, shape):
    return np.where(src.rng().random(shape) < 0.5, -1.0, 1.0).astype(np.float32)


def unpacked(bits, k):
    """±1 int64 (…, k) of packed rows, by numpy (the oracle's own unpacking)."""
    b = np.unpackbits(np.ascontiguousarray(bits).view(np.uint8), axis=-1, bitorder="little")[..., :k]
    return 1 - 2 * b.astype(np.int64)


def pack_oracle(neg: np.ndarray) -> np.ndarray:
    """Words of a bool (…, k) 'negative' mask under the bit contract, by numpy."""
    k = neg.shape[-1]
    words = -(-k // 64)
    padded = np.zeros(neg.shape[:-1] + (words * 64,), np.uint8)
    padded[..., :k] = neg
    return np.packbits(padded, axis=-1, bitorder="little").view("<u8").astype(np.uint64)


# ---------------------------------------------------------------------------------- cases

def case_pack_signs(src):
    ndim = src.integer(1, 3)
    shape = tuple(src.size(70) for _ in range(ndim))
    dtype = src.choice([np.float32, np.float64, np.int8, np.int16])
    v = src.floats(shape, 100.0)
    x = place(src, v.astype(dtype) if dtype in (np.float32, np.float64) else np.clip(v, -100, 100).astype(dtype))
    axis = src.integer(-ndim, ndim - 1)
    want = np.moveaxis(pack_oracle(np.moveaxis(x, axis, -1) < 0), -1, axis)
    for isa in ISAS:
        np.testing.assert_array_equal(_bitops.pack_signs(x, axis, isa), want)
    np.testing.assert_array_equal(pybitnet.unpack_signs(want, shape[axis], axis, np.int8), signs_of(x))
    if x.size:
        y = x.astype(np.float32) if dtype != np.float64 else x.copy()
        y.flat[src.integer(0, y.size - 1)] = np.nan
        for isa in ISAS:
            try:
                _bitops.pack_signs(y, axis, isa)
                raise AssertionError("NaN was packed")
            except ValueError as e:
                assert "NaN" in str(e)


def _gemm_operands(src):
    m, n, k = src.size(), src.size(), src.size(200)
    a, b = pm1(src, (m, k)), pm1(src, (n, k))
    ab = place(src, pybitnet.pack_signs(a), strided_rows=True)
    bb = place(src, pybitnet.pack_signs(b), strided_rows=True)
    return a, b, ab, bb, k


def case_xnor_gemm(src):
    a, b, ab, bb, k = _gemm_operands(src)
    want = a.astype(np.int64) @ b.astype(np.int64).T
    for isa in ISAS:
        np.testing.assert_array_equal(_bitops.xnor_gemm(ab, bb, k, isa), want)
    np.testing.assert_array_equal(pybitnet.xnor_gemm(ab, bb, k), want)


def case_xnor_gemm_masked(src):
    a, b, ab, bb, k = _gemm_operands(src)
    keep = src.rng().random(a.shape) < 0.7
    mask = place(src, pack_oracle(keep), strided_rows=True)
    want = (a * keep).astype(np.int64) @ b.astype(np.int64).T  # a dropped unit counts 0
    for isa in ISAS:
        np.testing.assert_array_equal(_bitops.xnor_gemm_masked(ab, bb, k, mask, isa), want)
    np.testing.assert_array_equal(pybitnet.xnor_gemm(ab, bb, k, mask=mask), want)


def case_xnor_gemm_threshold(src):
    a, b, ab, bb, k = _gemm_operands(src)
    n = b.shape[0]
    dot = a.astype(np.int64) @ b.astype(np.int64).T
    r = src.rng()
    t = r.integers(-k - 2, k + 3, n).astype(np.int32)
    flip = place(src, r.random(n) < 0.5)
    want = pack_oracle(np.where(flip, dot > t, dot < t))
    for isa in ISAS:
        np.testing.assert_array_equal(_bitops.xnor_gemm_threshold(ab, bb, k, t, flip, isa), want)
        np.testing.assert_array_equal(_bitops.xnor_gemm_threshold_panels(ab, bb, k, t, flip, isa), want)


def case_binary_matmul(src):
    m, n, k = src.size(), src.size(), src.size(200)
    a = src.floats((m, k))
    b = src.floats((k, n))
    b = b if src.boolean() else np.asfortranarray(b)
    np.testing.assert_array_equal(pybitnet.binary_matmul(a, b), signs_of(a) @ signs_of(b))


def _close(out, exact, terms, absval):
    tol = (3 * terms + 2) * U * absval + 1e-37
    assert out.dtype == np.float32 and out.shape == exact.shape
    assert np.all(np.abs(out - exact) <= tol), np.max(np.abs(out - exact) - tol)


def case_binary_weight_matmul(src):
    m, n, k = src.size(), src.size(), src.size(200)
    w = pm1(src, (n, k))
    wb = place(src, pybitnet.pack_signs(w), strided_rows=True)
    x = place(src, src.floats((m, k)), strided_rows=True)
    g = place(src, src.floats((m, n)), strided_rows=True)
    fwd = x.astype(np.float64) @ w.T.astype(np.float64)
    back = g.astype(np.float64) @ w.astype(np.float64)
    for isa in ISAS:
        _close(_bitops.binary_weight_matmul(x, wb, k, isa), fwd, k, np.abs(x.astype(np.float64)).sum(1)[:, None])
        _close(_bitops.binary_weight_matmul_t(g, wb, k, isa), back, n, np.abs(g.astype(np.float64)).sum(1)[:, None])


def case_ternary_weight_matmul(src):
    m, n, k = src.size(), src.size(), src.size(200)
    t = src.rng().integers(-1, 2, (n, k)).astype(np.int8)
    s, nz = pybitnet.pack_ternary(t)
    s, nz = place(src, s, strided_rows=True), place(src, nz, strided_rows=True)
    x = place(src, src.floats((m, k)), strided_rows=True)
    g = place(src, src.floats((m, n)), strided_rows=True)
    fwd = x.astype(np.float64) @ t.T.astype(np.float64)
    back = g.astype(np.float64) @ t.astype(np.float64)
    for isa in ISAS:
        _close(_bitops.ternary_weight_matmul(x, s, nz, k, isa), fwd, k, np.abs(x.astype(np.float64)).sum(1)[:, None])
        _close(_bitops.ternary_weight_matmul_t(g, s, nz, k, isa), back, n,
               np.abs(g.astype(np.float64)).sum(1)[:, None])


def case_binarize_ternarize(src):
    shape = (src.size(20), src.size(150))
    w = place(src, src.floats(shape))
    scale = src.choice([0.25, 1.0, 3.0])
    np.testing.assert_array_equal(pybitnet.binarize(w, stochastic=False), pack_oracle(w < 0))
    s, nz = pybitnet.ternarize(w, stochastic=False, scale=scale)
    keep = np.abs(w.astype(np.float64)) / np.float32(scale) > 0.5
    np.testing.assert_array_equal(nz, pack_oracle(keep))
    np.testing.assert_array_equal(s, pack_oracle(keep & (w < 0)))
    seed = src.integer(0, 2**64 - 1)
    s, nz = pybitnet.ternarize(w, stochastic=True, seed=seed, scale=scale)
    assert not np.any(s & ~nz)
    sampled = unpacked(nz, shape[1]) == -1
    assert not np.any(sampled & (w == 0))
    np.testing.assert_array_equal(unpacked(s, shape[1]) == -1, sampled & (w < 0))


def _pow2_values(codes):
    c = codes.astype(np.int64)
    return np.where(c == 0, 0.0, np.sign(c) * np.ldexp(1.0, np.abs(c) - 64))


def case_pow2(src):
    shape = (src.size(40), src.size(80))
    x = place(src, src.floats(shape, src.choice([1e-3, 1.0, 1e3])))
    lo = src.integer(-63, 63)
    hi = src.integer(lo, 63)
    stochastic, seed = src.boolean(), src.integer(0, 2**64 - 1)
    ref = _bitops.quantize_pow2(x, stochastic, lo, hi, seed, "scalar")
    for isa in ISAS:
        np.testing.assert_array_equal(_bitops.quantize_pow2(x, stochastic, lo, hi, seed, isa), ref)
        np.testing.assert_array_equal(_bitops.dequantize_pow2(ref, isa), _pow2_values(ref).astype(np.float32))
    v = _pow2_values(ref)
    x64 = x.astype(np.float64)
    assert np.all((v == 0) == (x64 == 0)) and np.all(np.signbit(v[v != 0]) == (x64[v != 0] < 0))
    nz = x64 != 0
    with np.errstate(divide="ignore"):
        e = np.clip(np.floor(np.log2(np.abs(x64[nz]))), lo, hi)
    got = np.log2(np.abs(v[nz]))
    assert np.all((got == e) | (got == np.clip(e + 1, lo, hi)))


def case_shift_matmul(src):
    m, k, n = src.size(60), src.size(80), src.size(80)
    x = src.floats((m, k), src.choice([1e-3, 1.0, 30.0]))
    lo = src.integer(-20, 10)
    codes = place(src, pybitnet.quantize_pow2(x, min_exp=lo, max_exp=src.integer(lo, 12), seed=1), strided_rows=True)
    g = place(src, src.floats((m, n), src.choice([1e-3, 1.0, 1e3])), strided_rows=True)
    xt = _pow2_values(codes)
    exact = xt.T @ g.astype(np.float64)
    ref = _bitops.shift_matmul(codes, g, "float", "scalar")
    _close(ref, exact, m, (np.abs(xt).T @ np.abs(g.astype(np.float64))))
    fixed = _bitops.shift_matmul(codes, g, "fixed", "scalar")
    assert np.all(np.abs(fixed - exact) <= pybitnet.shift_matmul_fixed_bound(codes, g))
    for isa in ISAS:
        np.testing.assert_array_equal(_bitops.shift_matmul(codes, g, "float", isa), ref)
        np.testing.assert_array_equal(_bitops.shift_matmul(codes, g, "fixed", isa), fixed)


def _conv_geometry(src, h, w):
    kh, kw = src.integer(1, min(4, h + 2)), src.integer(1, min(4, w + 2))
    sh, sw = src.integer(1, 3), src.integer(1, 3)
    ph, pw = src.integer(0, 2), src.integer(0, 2)
    if h + 2 * ph < kh or w + 2 * pw < kw:
        ph, pw = kh, kw
    return kh, kw, sh, sw, ph, pw


def _patches(x, kh, kw, sh, sw, ph, pw, pad):
    """(n, oh, ow, kh, kw, c) windows of NHWC x padded with `pad`, by numpy."""
    n, h, w, c = x.shape
    xp = np.full((n, h + 2 * ph, w + 2 * pw, c), pad, x.dtype)
    xp[:, ph:ph + h, pw:pw + w] = x
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    out = np.empty((n, oh, ow, kh, kw, c), x.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, :, :, i, j] = xp[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
    return out


def case_conv_bits(src):
    n, h, w, c = src.integer(0, 3), src.integer(1, 7), src.integer(1, 7), src.choice([1, 3, 63, 64, 65, 70])
    kh, kw, sh, sw, ph, pw = _conv_geometry(src, h, w)
    xs = pm1(src, (n, h, w, c))
    xb = place(src, pybitnet.pack_signs(xs, axis=-1))
    words = xb.shape[-1]
    # im2col: zero words in the padding
    pw_bits = _patches(xb, kh, kw, sh, sw, ph, pw, np.uint64(0))
    want = pw_bits.reshape(-1, kh * kw * words)
    for isa in ISAS:
        np.testing.assert_array_equal(_bitops.im2col_bits(xb, kh, kw, sh, sw, ph, pw, isa), want)
    # fused conv + threshold, +1 padding
    f = src.choice([1, 5, 64, 65])
    wsgn = pm1(src, (f, kh, kw, c))
    wb = pybitnet.pack_signs(wsgn, axis=-1)
    dot = np.einsum("nabijc,fijc->nabf", _patches(xs, kh, kw, sh, sw, ph, pw, 1.0).astype(np.int64),
                    wsgn.astype(np.int64))
    r = src.rng()
    t = r.integers(-kh * kw * c - 1, kh * kw * c + 2, f).astype(np.int32)
    flip = r.random(f) < 0.5
    want = pack_oracle(np.where(flip, dot > t, dot < t))
    for isa in ISAS:
        np.testing.assert_array_equal(_bitops.binary_conv2d_threshold(xb, wb, c, t, flip, sh, sw, ph, pw, isa), want)
    zero = dot - np.einsum("nabijc,fijc->nabf", _patches(np.zeros_like(xs), kh, kw, sh, sw, ph, pw, 1.0)
                           .astype(np.int64), wsgn.astype(np.int64))
    np.testing.assert_array_equal(conv.binary_conv2d(xb, wb, c, stride=(sh, sw), padding=(ph, pw)), zero)
    # max pool (no padding) with flips: AND of -1 bits, OR where flipped
    if h >= kh and w >= kw:
        pflip = r.random(c) < 0.5
        win = _patches(xs, kh, kw, sh, sw, 0, 0, 1.0)
        pooled = np.where(pflip, win.min(axis=(3, 4)), win.max(axis=(3, 4)))
        for isa in ISAS:
            np.testing.assert_array_equal(_bitops.maxpool_bits(xb, kh, kw, sh, sw, pflip, isa), pack_oracle(pooled < 0))


def case_col2im_add(src):
    n, h, w, c = src.integer(0, 3), src.integer(1, 8), src.integer(1, 8), src.choice([1, 3, 16, 17, 130])
    ph, pw = src.integer(0, 2), src.integer(0, 2)
    hp, wp = h + 2 * ph, w + 2 * pw
    kh, kw, sh, sw = src.integer(1, min(4, hp)), src.integer(1, min(4, wp)), src.integer(1, 3), src.integer(1, 3)
    oh, ow = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    cols = place(src, src.floats((n * oh * ow, kh * kw * c)))
    start = src.floats((n, h, w, c))
    padded = np.zeros((n, hp, wp, c), np.float32)
    padded[:, ph:ph + h, pw:pw + w] = start
    taps = cols.reshape(n, oh, ow, kh, kw, c)
    for i in range(kh):  # tap by tap, as the kernel sums
        for j in range(kw):
            padded[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw] += taps[:, :, :, i, j]
    want = padded[:, ph:ph + h, pw:pw + w]
    for isa in ISAS:
        got = _bitops.col2im_add(np.ascontiguousarray(cols), start.copy(), kh, kw, sh, sw, ph, pw, isa)
        np.testing.assert_array_equal(got, want)


def case_batch_norm(src):
    rows, c = src.integer(1, 70), src.choice([1, 5, 16, 17, 600])
    x = place(src, src.floats((rows, c), src.choice([1.0, 1e3])) + np.float32(src.choice([0.0, 50.0])))
    x = np.ascontiguousarray(x)
    gamma, beta, eps = src.floats(c), src.floats(c), src.choice([1e-4, 1e-5, 0.0])
    x64 = x.astype(np.float64)
    with np.errstate(over="ignore"):  # a variance past float32's range is inf on both sides
        mean, var = x64.mean(axis=0).astype(np.float32), x64.var(axis=0).astype(np.float32)
        big = np.float32(min(1e-6 * float(np.abs(x64).max(initial=0)) ** 2, 3e38))
    ref = _bitops.batch_norm_train(x, gamma, beta, eps, None, "scalar")
    np.testing.assert_allclose(ref[2], mean, rtol=1e-6, atol=1e-6 * np.abs(x64).max(initial=0))
    np.testing.assert_allclose(ref[3], var, rtol=1e-5, atol=big + np.float32(1e-30))
    g = src.floats((rows, c))
    back = _bitops.batch_norm_backward(g, ref[1], gamma, True, "scalar")
    g64, h64 = g.astype(np.float64), ref[1].astype(np.float64)
    np.testing.assert_allclose(back[1], g64.sum(axis=0), rtol=1e-5, atol=1e-5 * np.abs(g64).sum(axis=0).max())
    for isa in ISAS:  # every ISA: the reference's bits
        for a, b in zip(_bitops.batch_norm_train(x, gamma, beta, eps, None, isa), ref):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(_bitops.batch_norm_backward(g, ref[1], gamma, True, isa), back):
            np.testing.assert_array_equal(a, b)
    assert np.all(np.isfinite(h64)) or eps == 0.0


def case_ste_sign(src):
    shape = (src.size(9), src.size(150))
    x = src.floats(shape, src.choice([0.5, 1.0, 4.0]))
    r = src.rng()
    x.flat[r.integers(0, max(x.size, 1), min(x.size, 3))] = src.choice([1.0, -1.0, 0.0, -0.0, np.nan]) if x.size else 0
    x = np.ascontiguousarray(place(src, x))
    g = src.floats(shape)
    for inclusive in (True, False):
        mask = (x >= -1) & (x <= 1) if inclusive else (x > -1) & (x < 1)
        want_y = np.where(x < 0, np.float32(-1), np.float32(1))
        with np.errstate(invalid="ignore"):
            want_dx = g * mask
        for isa in ISAS:
            y, gate = _bitops.ste_sign(x, inclusive, isa)
            np.testing.assert_array_equal(y, want_y)
            np.testing.assert_array_equal(np.unpackbits(gate.view(np.uint8), count=x.size, bitorder="little")
                                          .reshape(shape).astype(bool), mask)
            assert gate.size == (x.size + 63) // 64 and (x.size % 64 == 0 or gate[-1] >> np.uint64(x.size % 64) == 0)
            np.testing.assert_array_equal(_bitops.ste_sign_backward(g, gate, isa).view(np.int32), want_dx.view(np.int32))


def case_maxpool_forward(src):
    """Every ISA gives np.maximum's bits over the tap views (NaN, -0/+0 ties, infinities; windows may
    overlap)."""
    n, c = src.integer(0, 3), src.choice([1, 3, 16, 17, 130])
    kh, kw = src.integer(1, 3), src.integer(1, 3)
    sh, sw = src.integer(1, 3), src.integer(1, 3)
    h, w = src.integer(kh, 9), src.integer(kw, 9)
    x = np.round(src.floats((n, h, w, c), 2.0))  # ties
    if x.size:
        r = src.rng()
        x[r.random(x.shape) < 0.2] = -0.0
        x.flat[r.integers(0, x.size, 2)] = [np.nan, -np.inf]
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    views = list(conv.tap_views(x, (kh, kw), (sh, sw), (oh, ow)))
    want = np.array(views[0])
    for view in views[1:]:
        np.maximum(want, view, out=want)
    for isa in ISAS:
        np.testing.assert_array_equal(_bitops.maxpool_forward(x, kh, kw, sh, sw, isa).view(np.uint32),
                                      want.view(np.uint32))


def case_maxpool_backward(src):
    n, c = src.integer(0, 3), src.choice([1, 3, 16, 17, 130])
    kh, kw = src.integer(1, 3), src.integer(1, 3)
    sh, sw = kh + src.integer(0, 1), kw + src.integer(0, 1)
    h, w = src.integer(kh, 9), src.integer(kw, 9)
    x = np.round(src.floats((n, h, w, c), 2.0))  # ties
    if x.size and src.boolean():
        x.flat[src.rng().integers(0, x.size)] = np.nan
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    win = _patches(x, kh, kw, sh, sw, 0, 0, 0.0)  # (n, oh, ow, kh, kw, c)
    y = win.max(axis=(3, 4)) if win.size else np.zeros((n, oh, ow, c), np.float32)
    g = src.floats((n, oh, ow, c))
    want = np.zeros_like(x)
    for i in range(kh):
        for j in range(kw):
            want[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw] = np.where(win[:, :, :, i, j] == y, g, 0)
    for isa in ISAS:
        np.testing.assert_array_equal(_bitops.maxpool_backward(np.ascontiguousarray(x), np.ascontiguousarray(y), g,
                                                               kh, kw, sh, sw, isa), want)


def case_transpose(src):
    a = src.floats((src.size(40), src.size(40)))
    r = src.rng()
    if a.size:
        a.flat[r.integers(0, a.size, min(a.size, 2))] = src.choice([np.nan, -0.0, np.inf])
    a = np.ascontiguousarray(place(src, a))
    for isa in ISAS:
        got = _bitops.transpose(a, isa)
        assert got.shape == a.T.shape and got.flags.c_contiguous
        np.testing.assert_array_equal(got.view(np.int32), a.T.view(np.int32))


def case_first_conv(src):
    n, h, w, c = src.integer(0, 3), src.integer(1, 7), src.integer(1, 7), src.integer(1, 4)
    kh, kw, sh, sw, ph, pw = _conv_geometry(src, h, w)
    x = place(src, src.floats((n, h, w, c)))
    f = src.choice([1, 7, 64, 65])
    wsgn = pm1(src, (f, kh * kw * c))
    wb = pybitnet.pack_signs(wsgn)
    patches = _patches(x.astype(np.float64), kh, kw, sh, sw, ph, pw, 0.0)  # taps in (kh, kw, c) order
    y = np.einsum("nabt,ft->nabf", patches.reshape(patches.shape[:3] + (kh * kw * c,)), wsgn.astype(np.float64))
    r = src.rng()
    t = (r.standard_normal(f) * 2).astype(np.float32)
    flip = r.random(f) < 0.5
    ref = _bitops.first_conv_threshold(x, wb, kh, kw, t, flip, sh, sw, ph, pw, "scalar")
    for isa in ISAS:
        np.testing.assert_array_equal(_bitops.first_conv_threshold(x, wb, kh, kw, t, flip, sh, sw, ph, pw, isa), ref)
    neg = np.where(flip, y > t, y < t)
    # float32 sums (P + P) - S: trust the oracle only beyond their error bound (large inputs cancel)
    taps = kh * kw * c
    err = (4 * taps + 4) * U * np.abs(patches).reshape(patches.shape[:3] + (taps,)).sum(-1)[..., None]
    sure = np.abs(y - t) > err + 1e-30
    got = unpacked(ref, f) == -1
    assert np.all((got == neg) | ~sure)


def case_pixel_matmul(src):
    m, n, k = src.size(), src.size(), src.size(200)
    x = place(src, src.rng().integers(0, 256, (m, k)).astype(np.uint8), strided_rows=True)
    wsgn = pm1(src, (n, k))
    wb = pybitnet.pack_signs(wsgn)
    want = x.astype(np.int64) @ wsgn.T.astype(np.int64)
    panels = first_layer.pixel_panels(wb, k)
    for isa in ISAS:
        np.testing.assert_array_equal(_bitops.uint8_weight_matmul(x, panels, n, isa), want)
    if k:
        np.testing.assert_array_equal(first_layer.bitplane_matmul(x, wb, k), want)


def case_packed_mlp(src):
    """_bitops.PackedMlp (the inference engine's one-call MLP) against a numpy oracle of
    its layers: exact integer dot products, the first layer's float threshold from the
    same float32 sums (binary_weight_matmul's, checked by its own case)."""
    sizes = [src.size(150)] + [src.size(90) + 1 for _ in range(src.integer(1, 3))] + [src.size(12) + 1]
    sizes[0] = max(sizes[0], 1)
    r = src.rng()
    w = [pm1(src, (n, k)) for k, n in zip(sizes[:-1], sizes[1:])]
    wb = [place(src, pybitnet.pack_signs(x), strided_rows=False) for x in w]
    t0 = r.normal(0, 3, sizes[1]).astype(np.float32)
    s0 = (np.where(r.random(sizes[1]) < 0.3, -1, 1) * r.uniform(0.5, 2, sizes[1])).astype(np.float32)
    hidden = []
    for i in range(1, len(w) - 1):
        k, n = sizes[i], sizes[i + 1]
        hidden.append((wb[i], k, r.integers(-k - 1, k + 2, n).astype(np.int32), r.random(n) < 0.4))
    scale = r.uniform(-1, 1, sizes[-1]).astype(np.float32)
    shift = r.normal(0, 5, sizes[-1]).astype(np.float32)
    net = _bitops.PackedMlp(wb[0], sizes[0], t0, s0, hidden, wb[-1], sizes[-2], scale, shift)
    x = place(src, src.floats((src.size(9), sizes[0]), 4.0), strided_rows=True)
    for isa in ISAS:  # the first layer's sums of this ISA: they differ across ISAs by rounding, and a
        # fuzzed outlier (|x| ~ 1e23) makes that rounding large enough to flip thresholds of the other units
        y = _bitops.binary_weight_matmul(np.ascontiguousarray(x), wb[0], sizes[0], isa)
        y = (y - t0) * s0
        a = np.where(y < 0, -1, 1).astype(np.int64)
        for (wbits, k, t, flip), wi in zip(hidden, w[1:-1]):
            dot = a @ wi.astype(np.int64).T
            a = np.where(np.where(flip, dot > t, dot < t), -1, 1).astype(np.int64)
        want = ((a @ w[-1].astype(np.int64).T) * scale.astype(np.float64) + shift).astype(np.float32)
        np.testing.assert_array_equal(net.logits(x, isa), want)


def case_packed_mlp_pixels(src):
    """_bitops.PackedMlp.logits_pixels (uint8 pixels, both first-layer paths) against a numpy oracle:
    the exact integer p . w, float32 as PixelInput has it, its threshold, then the packed layers."""
    sizes = [max(src.size(150), 1), src.size(90) + 1, src.size(12) + 1]
    r = src.rng()
    w = [pm1(src, (n, k)) for k, n in zip(sizes[:-1], sizes[1:])]
    wb = [pybitnet.pack_signs(x) for x in w]
    t0 = r.normal(0, 3, sizes[1]).astype(np.float32)
    s0 = (np.where(r.random(sizes[1]) < 0.3, -1, 1) * r.uniform(0.5, 2, sizes[1])).astype(np.float32)
    pixel_t = np.round(r.normal(0, 30 * sizes[0] ** 0.5, sizes[1])).astype(np.float32)
    scale = r.uniform(-1, 1, sizes[-1]).astype(np.float32)
    shift = r.normal(0, 5, sizes[-1]).astype(np.float32)
    net = _bitops.PackedMlp(wb[0], sizes[0], t0, s0, [], wb[1], sizes[1], scale, shift, pixel_t=pixel_t)
    bitplanes = src.boolean()
    p = place(src, r.integers(0, 256, (src.size(9), sizes[0]), dtype=np.uint8), strided_rows=not bitplanes)
    y = (p.astype(np.int64) @ w[0].astype(np.int64).T).astype(np.float32)
    y = (y - pixel_t) * s0
    a = np.where(y < 0, -1, 1).astype(np.int64)
    want = ((a @ w[1].astype(np.int64).T) * scale.astype(np.float64) + shift).astype(np.float32)
    for isa in ISAS:
        np.testing.assert_array_equal(net.logits_pixels(p, bitplanes, isa), want)


# The one list: op name -> case. Adding an op to the property suite and the fuzzer is one line here.
CASES = {
    "pack_signs": case_pack_signs,
    "xnor_gemm": case_xnor_gemm,
    "xnor_gemm_threshold": case_xnor_gemm_threshold,
    "xnor_gemm_masked": case_xnor_gemm_masked,
    "binary_matmul": case_binary_matmul,
    "binary_weight_matmul": case_binary_weight_matmul,
    "ternary_weight_matmul": case_ternary_weight_matmul,
    "binarize_ternarize": case_binarize_ternarize,
    "pow2": case_pow2,
    "shift_matmul": case_shift_matmul,
    "conv_bits": case_conv_bits,
    "first_conv": case_first_conv,
    "col2im_add": case_col2im_add,
    "batch_norm": case_batch_norm,
    "ste_sign": case_ste_sign,
    "transpose": case_transpose,
    "maxpool_forward": case_maxpool_forward,
    "maxpool_backward": case_maxpool_backward,
    "pixel_matmul": case_pixel_matmul,
    "packed_mlp": case_packed_mlp,
    "packed_mlp_pixels": case_packed_mlp_pixels,
}


# ---------------------------------------------------------------------------------- abuse

_DTYPES = [np.float32, np.float64, np.int8, np.int16, np.int32, np.uint8, np.uint16, np.uint64, np.bool_,
           np.complex64, np.float16]


def any_array(src):
    """An arbitrary array: any dtype, 0-4 dims (with 0, 1, 63, 64, 65 sizes), any layout."""
    ndim = src.integer(0, 4)
    shape = tuple(src.choice([0, 1, 2, 3, 63, 64, 65]) for _ in range(ndim))
    dtype = src.choice(_DTYPES)
    r = src.rng()
    x = (r.standard_normal(shape) * 10).astype(dtype) if dtype != np.bool_ else r.random(shape) < 0.5
    how = src.integer(0, 4)
    if how == 1 and x.ndim >= 1 and x.size:
        x = x[..., ::2]                       # strided
    elif how == 2 and x.ndim >= 2:
        x = x.T                               # Fortran order
    elif how == 3 and x.ndim >= 1 and x.size:
        x = np.broadcast_to(x[:1], (src.choice([2, 2**40]),) + x.shape[1:])  # stride 0
    elif how == 4 and x.size and dtype in (np.float32, np.float64):
        x = x.copy()
        x.flat[0] = src.choice([np.nan, np.inf, -np.inf])
    return x


def any_int(src):
    return src.choice([0, 1, -1, 2, 3, 63, 64, 65, 130, 2**31 - 1, 2**31, 2**40, 2**63, 2**70, -2**63])


def any_arg(src):
    what = src.integer(0, 5)
    if what <= 2:
        return any_array(src)
    if what == 3:
        return any_int(src)
    return src.choice([None, 1.5, "x", [1, 2], True])


ABUSE = [
    ("pack_signs", lambda s: pybitnet.pack_signs(any_array(s), any_int(s) if s.boolean() else -1)),
    ("unpack_signs", lambda s: pybitnet.unpack_signs(any_array(s), any_int(s), dtype=s.choice([np.float32, np.int8]))),
    ("xnor_gemm", lambda s: pybitnet.xnor_gemm(any_array(s), any_array(s), any_int(s))),
    ("xnor_gemm_masked", lambda s: pybitnet.xnor_gemm(any_array(s), any_array(s), any_int(s), mask=any_array(s))),
    ("xnor_gemm_threshold", lambda s: pybitnet.xnor_gemm_threshold(any_array(s), any_array(s), any_int(s),
                                                                   any_array(s), any_array(s))),
    ("binary_matmul", lambda s: pybitnet.binary_matmul(any_array(s), any_array(s))),
    ("binary_weight_matmul", lambda s: pybitnet.binary_weight_matmul(any_array(s), any_array(s), any_int(s))),
    ("binary_weight_matmul_t", lambda s: pybitnet.binary_weight_matmul_t(any_array(s), any_array(s), any_int(s),
                                                                         out=any_array(s) if s.boolean() else None)),
    ("ternary_weight_matmul", lambda s: pybitnet.ternary_weight_matmul(any_array(s), any_array(s), any_array(s),
                                                                       any_int(s))),
    ("ternary_weight_matmul_t", lambda s: pybitnet.ternary_weight_matmul_t(any_array(s), any_array(s), any_array(s),
                                                                           any_int(s))),
    ("pack_ternary", lambda s: pybitnet.pack_ternary(any_array(s))),
    ("xnor_gemm epilogue", lambda s: pybitnet.xnor_gemm(any_array(s), any_array(s), any_int(s),
                                                       mask=any_array(s) if s.boolean() else None,
                                                       scale=any_arg(s) if s.boolean() else None,
                                                       bias=any_array(s) if s.boolean() else 1.0)),
    ("pack_scaled_ternary", lambda s: _bitops.pack_scaled_ternary(any_array(s))),
    ("conv_input_grad", lambda s: _bitops.conv_input_grad(any_array(s), any_array(s),
                                                          any_array(s) if s.boolean() else None, any_int(s),
                                                          s.choice([1.0, 0.5, float("nan")]), any_array(s),
                                                          any_arg(s), any_arg(s), any_arg(s), any_arg(s), any_arg(s),
                                                          any_arg(s), any_arg(s))),
    ("binarize", lambda s: pybitnet.binarize(any_array(s), s.boolean(), s.integer(0, 9), s.choice([1.0, 0.0, -1.0]))),
    ("ternarize", lambda s: pybitnet.ternarize(any_array(s), s.boolean(), s.integer(0, 9))),
    ("dropout", lambda s: pybitnet.dropout(any_array(s), s.choice([0.5, 0.0, 1.0, -1.0, float("nan")]), s.integer(0, 9))),
    ("quantize_pow2", lambda s: pybitnet.quantize_pow2(any_array(s), s.boolean(), any_arg(s) if s.boolean() else None,
                                                       None, seed=s.integer(0, 9))),
    ("dequantize_pow2", lambda s: pybitnet.dequantize_pow2(any_array(s))),
    ("shift_matmul", lambda s: pybitnet.shift_matmul(any_array(s), any_array(s), s.choice(["float", "fixed", "x"]))),
    ("im2col_bits", lambda s: conv.im2col_bits(any_array(s), any_arg(s), stride=any_arg(s), padding=any_arg(s))),
    ("max_pool2d_bits", lambda s: conv.max_pool2d_bits(any_array(s), any_arg(s), any_arg(s),
                                                       flip=any_array(s) if s.boolean() else None)),
    ("binary_conv2d", lambda s: conv.binary_conv2d(any_array(s), any_array(s), any_int(s), stride=any_arg(s),
                                                   padding=any_arg(s))),
    ("binary_conv2d_threshold", lambda s: conv.binary_conv2d_threshold(any_array(s), any_array(s), any_int(s),
                                                                       any_array(s), any_array(s), stride=any_arg(s),
                                                                       padding=any_arg(s))),
    ("first_conv2d_threshold", lambda s: conv.first_conv2d_threshold(any_array(s), any_array(s), any_arg(s),
                                                                     any_array(s), any_array(s), stride=any_arg(s),
                                                                     padding=any_arg(s))),
    ("col2im_add", lambda s: conv.col2im_add(any_array(s), any_array(s), any_arg(s), stride=any_arg(s),
                                             padding=any_arg(s))),
    ("batch_norm_train", lambda s: norm_ops.batch_norm_train(any_array(s), any_array(s), any_array(s),
                                                             s.choice([1e-4, -1.0, float("nan")]),
                                                             xhat=any_array(s) if s.boolean() else None)),
    ("batch_norm_backward", lambda s: norm_ops.batch_norm_backward(any_array(s), any_array(s), any_array(s),
                                                                   s.boolean())),
    ("maxpool_forward", lambda s: conv.maxpool_forward(any_array(s), any_arg(s), stride=any_arg(s))),
    ("maxpool_backward", lambda s: conv.maxpool_backward(any_array(s), any_array(s), any_array(s), any_arg(s),
                                                         stride=any_arg(s))),
    ("ste_sign", lambda s: ste_ops.ste_sign(any_array(s), s.boolean())),
    ("ste_sign_backward", lambda s: ste_ops.ste_sign_backward(any_array(s), any_array(s))),
    ("transpose", lambda s: layout.transpose(any_array(s))),
    ("pixel_matmul", lambda s: first_layer.pixel_matmul(any_array(s), any_array(s), any_int(s))),
    ("bitplane_matmul", lambda s: first_layer.bitplane_matmul(any_array(s), any_array(s), any_int(s),
                                                              any_array(s) if s.boolean() else None)),
    ("pack_bit_planes", lambda s: first_layer.pack_bit_planes(any_array(s))),
    ("_bitops.bitplane_matmul", lambda s: _bitops.bitplane_matmul(any_array(s), any_array(s), any_int(s), any_array(s))),
    ("set_num_threads", lambda s: pybitnet.set_num_threads(any_arg(s))),
    ("PackedMlp", lambda s: _bitops.PackedMlp(any_array(s), any_int(s), any_array(s), any_array(s),
                                              s.choice([[], [(any_array(s), any_int(s), any_array(s), any_array(s))],
                                                        [(any_array(s),)], [any_arg(s)]]),
                                              any_array(s), any_int(s), any_array(s), any_array(s))
     .logits(any_array(s))),
    ("PackedMlp.logits_pixels", lambda s: _bitops.PackedMlp(any_array(s), any_int(s), any_array(s), any_array(s), [],
                                                            any_array(s), any_int(s), any_array(s), any_array(s),
                                                            pixel_t=any_array(s) if s.boolean() else None)
     .logits_pixels(any_array(s), s.boolean())),
]


def abuse(src) -> None:
    """One call of a public function with arbitrary arguments; raises AssertionError if it
    fails in any way other than TypeError/ValueError."""
    name, call = src.choice(ABUSE)
    threads = pybitnet.get_num_threads()
    try:
        call(src)
    except (TypeError, ValueError):
        pass
    except Exception as e:  # noqa: BLE001 - that is the finding
        raise AssertionError(f"{name} raised {type(e).__name__}: {e}") from e
    finally:
        pybitnet.set_num_threads(threads)
