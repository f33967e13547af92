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


def _float_gemm(name, a, b):
    """a @ b in float32 numpy, recorded as a float GEMM (the baseline's multiplications)."""
    record(name, lambda: float_gemm_ops(a.shape[0], a.shape[1], b.shape[1]))
    return a @ b


def float_matmul(x, w):
    return _float_gemm("float_matmul", x, w.T)


def float_matmul_t(g, w):
    return _float_gemm("float_matmul_t", g, w)


def float_weight_grad(g, x):
    return _float_gemm("float_weight_grad", g.T, x)


def sample_weights(kind: str, w: np.ndarray, stochastic: bool, seed: int, scale: float) -> SampledWeights:
    if kind == "binary":
        return SampledWeights(kind, w.shape[1], pybitnet.binarize(w, stochastic=stochastic, seed=seed, scale=scale))
    sign, nonzero = pybitnet.ternarize(w, stochastic=stochastic, seed=seed, scale=scale)
    return SampledWeights(kind, w.shape[1], sign, nonzero)


def _scaled(y, h):
    return y if h == 1.0 else y * np.float32(h)


def weight_matmul(x, w: SampledWeights, h: float, binary_input: bool = False):
    """x @ W_b.T with W_b = h * (packed ±1 or ternary weights)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if w.kind == "ternary":
        return _scaled(pybitnet.ternary_weight_matmul(x, w.bits, w.nonzero, w.k), h)
    if binary_input:  # BNN: ±1 inputs and weights -> XNOR-popcount
        return _scaled(pybitnet.xnor_gemm(pybitnet.pack_signs(x), w.bits, w.k).astype(np.float32), h)
    return _scaled(pybitnet.binary_weight_matmul(x, w.bits, w.k), h)


def weight_matmul_t(g, w: SampledWeights, h: float):
    """g @ W_b: the gradient to the layer input, from the same packed weights."""
    g = np.ascontiguousarray(g, dtype=np.float32)
    if w.kind == "ternary":
        return _scaled(pybitnet.ternary_weight_matmul_t(g, w.bits, w.nonzero, w.k), h)
    return _scaled(pybitnet.binary_weight_matmul_t(g, w.bits, w.k), h)


def weight_grad(g, x, *, qbp: bool, binary_input: bool, seed: int):
    """dC/dW_b = g.T @ x, without multiplications where the input allows:
    ±1 inputs (BNN) -> additions/subtractions; qbp -> shifts of g."""
    g = np.ascontiguousarray(g, dtype=np.float32)
    if binary_input:
        x_cols = np.ascontiguousarray(pybitnet.pack_signs(np.ascontiguousarray(x), axis=0).T)  # (K, words_M)
        return pybitnet.binary_weight_matmul(np.ascontiguousarray(g.T), x_cols, x.shape[0])
    if qbp:
        codes = pybitnet.quantize_pow2(np.ascontiguousarray(x, dtype=np.float32), stochastic=True, seed=seed)
        return np.ascontiguousarray(pybitnet.shift_matmul(codes, g).T)
    return float_weight_grad(g, x)
