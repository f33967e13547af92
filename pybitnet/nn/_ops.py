"""The kernels behind the layers, in one place: which pybitnet kernel does
each product of a training step. Float products stay float32 numpy."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

import numpy as np

import pybitnet
from pybitnet import _bitops, layout
from pybitnet.opcount import OpCounts, float_gemm_ops, record
from pybitnet.weight_matmul import binary_weight_matmul_ops, ternary_weight_matmul_ops

from .quantizers import SampledWeights


def _float_gemm(name, a, b, out=None):
    """a @ b in float32 numpy, recorded as a float GEMM (the baseline's multiplications)."""
    record(name, lambda: float_gemm_ops(a.shape[0], a.shape[1], b.shape[1]))
    return np.matmul(a, b, out=out)


def float_matmul(x, w):
    return _float_gemm("float_matmul", x, w.T)


def float_matmul_t(g, w):
    return _float_gemm("float_matmul_t", g, w)


def float_weight_grad(g, x, out=None):
    return _float_gemm("float_weight_grad", g.T, x, out)


def _scaled(y, h):
    """y * h (a new array; y itself when h is 1), its multiplications counted."""
    if h == 1.0:
        return y
    record("scale", lambda: OpCounts(multiplications=y.size))
    return y * np.float32(h)


@dataclass
class PackedInput:
    """A layer input of ±s and 0 values, packed: sign bits, the nonzero mask
    (None when no element is 0) and the magnitude s. A BNN hidden layer's input
    is ±1; after inverted dropout it is ±1/(1-p) or 0, a ternary vector: the
    dropped units must contribute 0 (not +1) to the forward product and to
    the weight gradient."""

    signs: np.ndarray
    nonzero: Optional[np.ndarray]
    scale: float
    k: int
    # (OH * OW, KH * KW) bool, for a zero-padded conv input without dropout holes: the nonzero mask
    # is then the padding alone (padded taps are 0 in `nonzero` and +1 in `signs`)
    pad_taps: Optional[np.ndarray] = None


_HAS_ZERO, _OTHER_VALUE = 1, 2  # the flags of _bitops.pack_scaled_ternary (src/bitops/kernels.h)


def pack_scaled_ternary(x):
    """(sign bits, nonzero bits or None, s) of x (..., K) float32 whose values are ±s or 0, packed
    along the last axis in one C++ pass (threaded); nonzero is None when no element is 0. All zeros:
    s = 1.0 and an all-clear nonzero mask (every unit dropped: the products are 0)."""
    signs, nonzero, s, flags = _bitops.pack_scaled_ternary(x)
    if not math.isfinite(s) or (flags & _OTHER_VALUE and not np.isfinite(x).all()):
        raise ValueError("binary input: x holds NaN or Inf")
    if flags & _OTHER_VALUE:
        raise ValueError("binary input: x must hold ±s and 0 only (±1 activations, maybe after dropout), "
                         f"got magnitudes other than 0 and {s:g}")
    return signs, (nonzero if flags & _HAS_ZERO else None), (s or 1.0)


def pack_input(x) -> PackedInput:
    """Pack a layer input whose values are ±s or 0 (BNN activations, dropout
    allowed), once: the forward product and the weight gradient reuse it."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    signs, nonzero, s = pack_scaled_ternary(x)
    return PackedInput(signs, nonzero, s, x.shape[-1])


def add_bias(y, bias):
    """y += bias in place (y is a product's fresh output), or y as is when bias is None."""
    if bias is not None:
        y += bias
    return y


def weight_matmul(x, w: SampledWeights, h: float, x_bits: Optional[PackedInput] = None, bias=None):
    """x @ W_b.T + bias with W_b = h * (packed ±1 or ternary weights); with a packed
    ±s input (BNN), XNOR-popcount, masked where dropout zeroed the input (dropped
    units add 0), the int32 dot products scaled and biased inside the same call."""
    if x_bits is not None:  # the scale 1.0 of a plain BNN layer multiplies exactly
        return pybitnet.xnor_gemm(x_bits.signs, w.bits, w.k, mask=x_bits.nonzero, scale=h * x_bits.scale, bias=bias)
    x = np.ascontiguousarray(x, dtype=np.float32)
    # y * h + bias in the call, on rows in cache (a scale of 1 is not multiplied, nor counted)
    if w.kind == "ternary":
        return pybitnet.ternary_weight_matmul(x, w.bits, w.nonzero, w.k, scale=h, bias=bias)
    return pybitnet.binary_weight_matmul(x, w.bits, w.k, scale=h, bias=bias)


def weight_matmul_t(g, w: SampledWeights, h: float):
    """g @ W_b: the gradient to the layer input, from the same packed weights."""
    g = np.ascontiguousarray(g, dtype=np.float32)
    if w.kind == "ternary":
        return _scaled(pybitnet.ternary_weight_matmul_t(g, w.bits, w.nonzero, w.k), h)
    return _scaled(pybitnet.binary_weight_matmul_t(g, w.bits, w.k), h)


def conv_input_grad(g, w: SampledWeights, h: float, dx, kernel, stride, padding, chunk_images: int):
    """dx (N, H, W, C) += col2im((g @ W_b) * h): a quantized conv layer's input gradient from its output
    gradient rows g (N * OH * OW, F), in one C++ call: each thread takes whole chunks of `chunk_images`
    images, their product (additions only) into its own buffer, then their scatter over the taps while
    the buffer is in cache (the same bits as :func:`weight_matmul_t` per chunk, then col2im_add)."""
    g = np.ascontiguousarray(g, dtype=np.float32)
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    _bitops.conv_input_grad(g, w.bits, w.nonzero if w.kind == "ternary" else None, w.k, h, dx, kh, kw, sh, sw,
                            ph, pw, chunk_images)
    n, per_image = dx.shape[0], g.shape[0] // max(1, dx.shape[0])
    for i in range(0, n, chunk_images):  # the counts of the chunks' products, as one call each
        rows = (min(n, i + chunk_images) - i) * per_image
        if w.kind == "ternary":
            record("ternary_weight_matmul_t", lambda rows=rows: ternary_weight_matmul_ops(rows, w.k, w.nonzero))
        else:
            record("binary_weight_matmul_t", lambda rows=rows: binary_weight_matmul_ops(rows, w.k, w.bits.shape[0]))
        if h != 1.0:  # the C++ multiplies each product row by h before the scatter
            record("scale", lambda rows=rows: OpCounts(multiplications=rows * w.k))
    return dx


def _minus_padded_taps(dw, gt, pad_taps):
    """dW of a zero-padded conv from the product that took the padding as +1: subtract, per filter and
    tap, the sum of g over the output positions whose tap is padded (the same for every channel).
    Additions only; about 1/(4 C) of the product's work."""
    f, p = gt.shape[0], pad_taps.shape[0]
    g_pos = gt.reshape(f, -1, p).sum(axis=1)  # (F, OH * OW): summed over the images
    taps = pad_taps.shape[1]
    per_tap = dw.reshape(f, taps, -1)
    for t in np.flatnonzero(pad_taps.any(axis=0)):
        per_tap[:, t] -= g_pos[:, pad_taps[:, t]].sum(axis=1)[:, None]
    return dw


@dataclass
class WeightGrad:
    """dC/dW_b = g.T @ x of one step, not computed yet: ``compute(out)`` writes it, (F, K) rows, into
    `out` (or a new array) and returns it. ``packed`` = (gt, x_bits) when it is the product of the
    transposed g with packed ±s input rows, which an optimizer updating in backward fuses into its
    update (``_bitops.weight_grad_update``: no dW in memory)."""

    compute: Callable[[Optional[np.ndarray]], np.ndarray]
    packed: Optional[Tuple[np.ndarray, PackedInput]] = None


def weight_grad(g, x, *, qbp: bool, seed: int, x_bits: Optional[PackedInput] = None) -> WeightGrad:
    """dC/dW_b = g.T @ x, without multiplications where the input allows: a packed ±s input (BNN,
    `x_bits`) -> additions/subtractions (g.T @ X is the transposed weight product with X's rows as the
    "weights": binary, or ternary where dropout zeroed units); qbp -> shifts of g (x may be None when
    `x_bits` is given); else a float32 GEMM."""
    g = np.ascontiguousarray(g, dtype=np.float32)
    if x_bits is not None:
        gt = layout.transpose(g)  # C++: numpy's copy of the tall (N*OH*OW, F) g's transpose misses the cache
        if x_bits.scale != 1.0:  # on g, not on dW: 100x smaller, and each term g*s rounds as in x.T @ g
            gt *= np.float32(x_bits.scale)
        if x_bits.pad_taps is not None:
            return WeightGrad(lambda out=None: _minus_padded_taps(
                pybitnet.binary_weight_matmul_t(gt, x_bits.signs, x_bits.k, out=out), gt, x_bits.pad_taps))
        if x_bits.nonzero is None:
            return WeightGrad(lambda out=None: pybitnet.binary_weight_matmul_t(gt, x_bits.signs, x_bits.k, out=out),
                              (gt, x_bits))
        return WeightGrad(lambda out=None: pybitnet.ternary_weight_matmul_t(gt, x_bits.signs, x_bits.nonzero,
                                                                            x_bits.k, out=out), (gt, x_bits))
    if qbp:
        def shifts(out=None):
            codes = pybitnet.quantize_pow2(np.ascontiguousarray(x, dtype=np.float32), stochastic=True, seed=seed)
            dw = np.ascontiguousarray(pybitnet.shift_matmul(codes, g).T)
            if out is None:
                return dw
            out[...] = dw
            return out
        return WeightGrad(shifts)
    return WeightGrad(lambda out=None: float_weight_grad(g, x, out))
