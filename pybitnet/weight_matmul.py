"""Multiplication-free matrix products with binary (+-1) or ternary (-1/0/+1) weights.

In BinaryConnect and ternary connect the weights are +-1 (or -1/0/+1) in both
passes while activations and errors stay real, so every product is a sign
change. These kernels do additions and subtractions only; the weights stay
packed (1 bit, or 2 bits for ternary, per weight) in both passes.

Packed weights follow the bit contract of :func:`pybitnet.pack_signs`: row ``j``
of W (N x K) is ``ceil(K / 64)`` uint64 words (int64 accepted: the same bits), bit 1 = -1.
"""
from __future__ import annotations

import numpy as np

from . import _bitops
from ._arrays import as_array, as_bits, refuse_broadcast
from ._interop import ArrayOut, tensors_in_tensors_out
from .gemm import _epilogue, _with_epilogue
from .opcount import OpCounts, record
from .packing import _check_k, pack_signs

_TERNARY_DTYPES = (np.float32, np.float64, np.int8, np.int16)


@tensors_in_tensors_out
def binary_weight_matmul(x, w_bits, k: int, *, scale=None, bias=None) -> ArrayOut:
    """``x @ sign(W).T`` for packed +-1 weights: the forward pass of a BinaryConnect layer.

    Parameters
    ----------
    x : float32 array (M, K)
        Activations, rows contiguous.
    w_bits : uint64 or int64 array (N, ceil(K / 64))
        Rows of W packed by :func:`pack_signs` or :func:`binarize` (bit 1 = -1).
    k : int
        K, the logical length of the weight rows.
    scale : number, optional
        Multiplies the product (a BinaryConnect layer's H), as numpy's ``y * np.float32(scale)``.
    bias : float32 array (N,), optional
        Added after the scale, as numpy's ``y += bias``. Both run on each thread's rows while they
        are in cache, not as a second pass over the output; the bits are numpy's.

    Returns
    -------
    float32 array (M, N), computed with additions and subtractions only (and the epilogue's
    one multiplication / addition per output, when given).

    Notes
    -----
    The result equals the float64 product within float32 summation error:
    ``|y - y_exact| <= (3K + 2) * 2**-24 * sum_c |x[i, c]|`` (tested). NaN and Inf in
    `x` give the same NaN/Inf as the float product.
    """
    y = _bitops.binary_weight_matmul(as_array(x, "x"), as_bits(w_bits, "w_bits"), k, **_epilogue(scale, bias))
    record("binary_weight_matmul",
           lambda: _with_epilogue(binary_weight_matmul_ops(y.shape[0], k, y.shape[1]), y.shape, scale, bias))
    return y


@tensors_in_tensors_out
def binary_weight_matmul_t(g, w_bits, k: int, out=None) -> ArrayOut:
    """``g @ sign(W)`` for packed +-1 weights: the backward pass to the layer input.

    Parameters
    ----------
    g : float32 array (M, N)
        Errors (gradients) at the layer output, rows contiguous.
    w_bits : uint64 or int64 array (N, ceil(K / 64))
        The same packed rows of W as the forward pass (no transposed copy needed).
    k : int
        K, the logical length of the weight rows (the width of the result).
    out : float32 array or tensor (M, K), optional
        Where to write the result (C-contiguous, not overlapping the inputs):
        reusing a buffer saves the page faults of a fresh large array.

    Returns
    -------
    float32 array (M, K), computed with additions and subtractions only.
    """
    z = _bitops.binary_weight_matmul_t(as_array(g, "g"), as_bits(w_bits, "w_bits"), k, out=_out(out))
    record("binary_weight_matmul_t", lambda: binary_weight_matmul_ops(z.shape[0], k, _rows(w_bits)))
    return z


@tensors_in_tensors_out
def pack_ternary(t) -> tuple[ArrayOut, ArrayOut]:
    """Pack a ternary array (values in {-1, 0, +1}) along its last axis.

    Returns
    -------
    (sign_bits, nonzero_bits) : two uint64 arrays, the shape of `t` with the last
    axis ``ceil(K / 64)`` words: ``sign_bits`` has bit 1 where ``t == -1``,
    ``nonzero_bits`` has bit 1 where ``t != 0``.

    Raises ``ValueError`` naming `t` if any value is not -1, 0 or +1.
    """
    t = as_array(t, "t")
    if t.ndim == 0:
        raise ValueError("t must have at least 1 dimension, got a 0-d array")
    refuse_broadcast(t, "t")
    if not (np.issubdtype(t.dtype, np.number) or t.dtype == np.bool_) or t.dtype.kind == "c":
        raise TypeError(f"t must have a numeric dtype (real), got {t.dtype}")
    ok = (t == 0) | (t == 1) | (t == -1)
    if not ok.all():
        bad = t[~ok].flat[0]
        raise ValueError(f"t must contain only -1, 0 and +1, found {bad!r}")
    if t.dtype not in _TERNARY_DTYPES:
        t = t.astype(np.int8)
    t = np.ascontiguousarray(t)
    sign_bits = pack_signs(t)
    nonzero_bits = pack_signs(-np.abs(t))
    return sign_bits, nonzero_bits


@tensors_in_tensors_out
def ternary_weight_matmul(x, sign_bits, nonzero_bits, k: int, *, scale=None, bias=None) -> ArrayOut:
    """``x @ T.T`` for ternary weights T (N, K) packed by :func:`pack_ternary` or :func:`ternarize`.

    Zero weights are skipped: each nonzero weight costs one addition or
    subtraction per row of `x`, and nothing is multiplied. Returns float32 (M, N),
    then ``* scale`` and ``+ bias`` when given (as :func:`binary_weight_matmul`).
    """
    y = _bitops.ternary_weight_matmul(as_array(x, "x"), as_bits(sign_bits, "sign_bits"),
                                      as_bits(nonzero_bits, "nonzero_bits"), k, **_epilogue(scale, bias))
    record("ternary_weight_matmul",
           lambda: _with_epilogue(ternary_weight_matmul_ops(y.shape[0], k, nonzero_bits), y.shape, scale, bias))
    return y


@tensors_in_tensors_out
def ternary_weight_matmul_t(g, sign_bits, nonzero_bits, k: int, out=None) -> ArrayOut:
    """``g @ T`` for ternary weights T (N, K): the backward pass to the layer input.

    Same packed weights as :func:`ternary_weight_matmul`. Returns float32 (M, K),
    written into `out` if given (as in :func:`binary_weight_matmul_t`).
    """
    z = _bitops.ternary_weight_matmul_t(as_array(g, "g"), as_bits(sign_bits, "sign_bits"),
                                        as_bits(nonzero_bits, "nonzero_bits"), k, out=_out(out))
    record("ternary_weight_matmul_t", lambda: ternary_weight_matmul_ops(z.shape[0], k, nonzero_bits))
    return z


def binary_weight_matmul_ops(m: int, k: int, n: int) -> OpCounts:
    """Counts of :func:`binary_weight_matmul` (and ``_t``) for (m, k) x (k, n):
    ``m*n*k`` additions/subtractions (one per weight use), no multiplications;
    the weights are read as ``n * ceil(k/64)`` words."""
    words = -(-k // 64)
    return OpCounts(additions=m * n * k, weight_bytes=8 * n * words)


def ternary_weight_matmul_ops(m: int, k: int, nonzero_bits) -> OpCounts:
    """Counts of :func:`ternary_weight_matmul` (and ``_t``): one addition or
    subtraction per nonzero weight per row of the batch (``m * nnz``), no
    multiplications; two bit planes of weights read."""
    nz = as_bits(nonzero_bits, "nonzero_bits")
    nnz = int(np.bitwise_count(nz).sum(dtype=np.int64))
    return OpCounts(additions=m * nnz, weight_bytes=16 * nz.size)


def _out(out):
    """`out` as the binding takes it: None, or a numpy view of the caller's array or tensor."""
    return None if out is None else as_array(out, "out")


def _rows(w_bits) -> int:
    return int(as_array(w_bits, "w_bits").shape[0])


__all__ = [
    "binary_weight_matmul",
    "binary_weight_matmul_t",
    "pack_ternary",
    "ternary_weight_matmul",
    "ternary_weight_matmul_t",
    "binary_weight_matmul_ops",
    "ternary_weight_matmul_ops",
]
