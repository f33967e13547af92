"""The kernels behind the layers, in one place: which pybitnet kernel does
each product of a training step. Float products stay float32 numpy."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

import pybitnet
from pybitnet.opcount import float_gemm_ops, record


@dataclass
class SampledWeights:
    """Packed binary (or ternary) weights of one forward pass."""

    kind: str  # "binary" or "ternary"
    k: int
    bits: np.ndarray  # sign bits (N, words)
    nonzero: Optional[np.ndarray] = None  # ternary only


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


def sample_weights(kind: str, w: np.ndarray, stochastic: bool, seed: int, scale: float) -> SampledWeights:
    if kind == "binary":
        # Deterministic binarization is sign packing (scale > 0 does not change a sign).
        bits = pybitnet.binarize(w, stochastic=True, seed=seed, scale=scale) if stochastic else pybitnet.pack_signs(w)
        return SampledWeights(kind, w.shape[1], bits)
    sign, nonzero = pybitnet.ternarize(w, stochastic=stochastic, seed=seed, scale=scale)
    return SampledWeights(kind, w.shape[1], sign, nonzero)


def _scaled(y, h):
    return y if h == 1.0 else y * np.float32(h)


def pack_input(x):
    """Packed signs of a ±1 layer input (BNN), reused by the forward and the weight gradient."""
    return pybitnet.pack_signs(np.ascontiguousarray(x, dtype=np.float32))


def weight_matmul(x, w: SampledWeights, h: float, x_bits=None):
    """x @ W_b.T with W_b = h * (packed ±1 or ternary weights); with the packed
    signs of a ±1 input (BNN), XNOR-popcount."""
    if x_bits is not None:
        return _scaled(pybitnet.xnor_gemm(x_bits, w.bits, w.k).astype(np.float32), h)
    x = np.ascontiguousarray(x, dtype=np.float32)
    if w.kind == "ternary":
        return _scaled(pybitnet.ternary_weight_matmul(x, w.bits, w.nonzero, w.k), h)
    return _scaled(pybitnet.binary_weight_matmul(x, w.bits, w.k), h)


def weight_matmul_t(g, w: SampledWeights, h: float):
    """g @ W_b: the gradient to the layer input, from the same packed weights."""
    g = np.ascontiguousarray(g, dtype=np.float32)
    if w.kind == "ternary":
        return _scaled(pybitnet.ternary_weight_matmul_t(g, w.bits, w.nonzero, w.k), h)
    return _scaled(pybitnet.binary_weight_matmul_t(g, w.bits, w.k), h)


def transposed(a, block: int = 512):
    """a.T (2-D) as a new C-contiguous array, copied block by block: about 10x faster than
    ``np.ascontiguousarray(a.T)`` on the tall (N*OH*OW, F) gradients of conv layers,
    whose strided column reads miss the cache."""
    m, n = a.shape
    out = np.empty((n, m), a.dtype)
    for i in range(0, m, block):
        out[:, i:i + block] = a[i:i + block].T
    return out


def weight_grad(g, x, *, qbp: bool, seed: int, x_bits=None, k=None, out=None):
    """dC/dW_b = g.T @ x, without multiplications where the input allows:
    ±1 inputs (BNN, given as packed `x_bits`) -> additions/subtractions
    (g.T @ sign(X) is the transposed weight product with X's rows as the
    "weights"); qbp -> shifts of g. `k`: the row length of `x_bits` (x may then be None)."""
    g = np.ascontiguousarray(g, dtype=np.float32)
    if x_bits is not None:
        return pybitnet.binary_weight_matmul_t(transposed(g), x_bits, x.shape[1] if k is None else k,
                                             out=out)
    if qbp:
        codes = pybitnet.quantize_pow2(np.ascontiguousarray(x, dtype=np.float32), stochastic=True, seed=seed)
        dw = np.ascontiguousarray(pybitnet.shift_matmul(codes, g).T)
        if out is None:
            return dw
        out[...] = dw
        return out
    return float_weight_grad(g, x, out)
