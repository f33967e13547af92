"""Folding a trained layer's batch norm into the inference epilogues.

A hidden BNN layer computes ``sign(BN(dot + bias))`` where ``dot`` is an
integer in ``[-k, k]`` (an XNOR-popcount dot product). BN in eval mode is a
monotone function of ``dot`` per channel (increasing for gamma > 0,
decreasing for gamma < 0, constant for gamma == 0), so the sign is decided by
one integer threshold per channel: ``+1`` iff ``dot >= t`` (or ``dot <= t``
with the flip flag). We find ``t`` by a per-channel binary search over the
integers, evaluating BN exactly as the trained layer does in float32, so the
folded layer reproduces the trained model's signs bit for bit (no rounding
argument about ``mean - bias - beta * sqrt(var + eps) / gamma`` needed).

The searches (:func:`int_thresholds`, :func:`float_thresholds`) take the
layer's own eval pipeline as a black box, ``positive(values) -> bool per
channel``; :func:`fold_bn_sign` and :func:`fold_bn_sign_float` give them
:mod:`pybitnet.nn`'s batch norm, and :func:`pybitnet.inference.from_torch` a
PyTorch module's own eval forward (its BatchNorm's eps, its arithmetic).
This module reads its layers by their attributes only (``running_mean``,
``eval_inv_std()``, ``gamma``, ``beta``): it imports neither :mod:`pybitnet.nn`
nor torch.
"""
from __future__ import annotations

from typing import Callable, Optional, Tuple

import numpy as np


def bn_eval(bn, x: np.ndarray) -> np.ndarray:
    """``bn``'s eval-mode forward of float32 `x` (B, C), without touching its
    state: ``(x - running_mean) * inv_std * gamma + beta`` with the layer's own
    inv_std and gamma (AP2-rounded for :class:`~pybitnet.nn.ShiftBatchNorm`)."""
    inv = bn.eval_inv_std()
    return (((x - bn.running_mean) * inv) * bn._gamma() + bn.beta.value).astype(np.float32)


def _pre_sign(bn, bias: Optional[np.ndarray], dot: np.ndarray) -> np.ndarray:
    y = dot.astype(np.float32)
    if bias is not None:
        y = y + bias
    return bn_eval(bn, y)


def int_thresholds(positive: Callable[[np.ndarray], np.ndarray], channels: int,
                   k: int) -> Tuple[np.ndarray, np.ndarray]:
    """Thresholds and flips of a layer whose output sign is a monotone function of an
    integer dot product in ``[-k, k]``, per channel.

    Parameters
    ----------
    positive : callable
        ``positive(d)`` for an int64 vector ``d`` (one dot per channel) returns a
        bool vector: the layer's output is +1 there. Monotone in ``d`` per channel
        (either way, or constant).
    channels, k : int

    Returns
    -------
    thresholds : int32 array (C,), in ``[-k, k + 1]``
    flip : bool array (C,)
        +1 iff ``dot >= t`` (``dot <= t`` where flipped), for every integer dot in
        ``[-k, k]``. A channel with the same sign everywhere gets ``flip=False``
        and ``t = -k`` (always +1) or ``t = k + 1`` (always -1).
    """
    c = channels
    lo_pos = positive(np.full(c, -k, np.int64))
    hi_pos = positive(np.full(c, k, np.int64))
    decreasing = lo_pos & ~hi_pos
    # Bisect in [-k, k + 1] for the first d where the sought predicate holds:
    # positive(d) for increasing channels (t = d; k + 1 means never), not positive(d)
    # for decreasing ones (t = d - 1, the last d with positive).
    lo = np.full(c, -k, np.int64)
    hi = np.full(c, k + 1, np.int64)
    while True:
        active = lo < hi
        if not active.any():
            break
        mid = (lo + hi) // 2
        probe = np.where(active, mid, -k)
        pos = positive(np.clip(probe, -k, k))
        go_left = np.where(decreasing, ~pos, pos)  # the sought predicate holds at mid
        hi = np.where(active & go_left, mid, hi)
        lo = np.where(active & ~go_left, mid + 1, lo)
    t = np.where(decreasing, lo - 1, lo)
    const = lo_pos == hi_pos  # the same sign at both ends
    t = np.where(const, np.where(lo_pos, -k, k + 1), t)
    flip = decreasing & ~const
    return t.astype(np.int32), flip.astype(bool)


def fold_bn_sign(bn, k: int, bias: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Thresholds and flips such that ``sign(BN(dot + bias))`` (sign(0) = +1,
    as :func:`pybitnet.nn.ste_sign`) is ``+1`` iff ``dot >= t`` (``dot <= t``
    where flipped), for every integer ``dot`` in ``[-k, k]`` (:func:`int_thresholds`
    over the trained layer's float32 eval arithmetic).

    Parameters
    ----------
    bn : BatchNorm or ShiftBatchNorm
        The trained normalization (its running statistics are used).
    k : int
        The dot products' length (the layer's input features).
    bias : float32 array (C,), optional
        The dense layer's bias, added before BN.

    Returns
    -------
    thresholds : int32 array (C,), in ``[-k, k + 1]``
    flip : bool array (C,)
    """
    return int_thresholds(lambda d: _pre_sign(bn, bias, d[None, :])[0] >= 0, bn.running_mean.shape[0], k)


def _float_key(x: np.ndarray) -> np.ndarray:
    """float32 -> int64 keys in the floats' order (-0.0 just below +0.0)."""
    i = np.asarray(x, np.float32).view(np.int32).astype(np.int64)
    return np.where(i < 0, -(i & 0x7FFFFFFF) - 1, i)


def _key_float(key: np.ndarray) -> np.ndarray:
    i = np.where(key < 0, (-(key + 1)) | -0x80000000, key)
    return i.astype(np.int32).view(np.float32)


def float_thresholds(positive: Callable[[np.ndarray], np.ndarray], decreasing: np.ndarray,
                     constant: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Exact thresholds of a layer whose output sign is a monotone function of a
    float32 value per channel (a first layer's dot product on real inputs).

    Parameters
    ----------
    positive : callable
        ``positive(y)`` for a float32 vector ``y`` (one value per channel) returns a
        bool vector: the layer's output is +1 there; monotone in ``y`` per channel
        (evaluated as the trained layer evaluates it, so in its float arithmetic).
    decreasing, constant : bool arrays (C,)
        Channels where ``positive`` falls with ``y`` (negative gamma) and where it
        does not depend on it (zero gamma: read at ``y = 0``).

    Returns
    -------
    t, s : float32 arrays (C,)
        +1 iff ``(y - t) * s >= 0``, with ``s = -1`` on the decreasing channels
        (``y == t`` gives -0.0, which counts as +1), for every float32 ``y``; found
        by bisection over the float32 values in order. ``t = +-inf``: a constant
        sign. Computing ``y - t`` in float32 keeps the sign exactly.
    """
    c = decreasing.shape[0]

    def f(y):
        with np.errstate(over="ignore", invalid="ignore"):
            return np.asarray(positive(y), bool)

    big = np.float32(np.finfo(np.float32).max)
    lo = np.full(c, _float_key(-big), np.int64)
    hi = np.full(c, _float_key(big) + 1, np.int64)  # the key of +inf
    while True:
        active = lo < hi
        if not active.any():
            break
        mid = (lo + hi) // 2
        pos = f(_key_float(np.where(active, mid, 0)))
        go_left = np.where(decreasing, ~pos, pos)
        hi = np.where(active & go_left, mid, hi)
        lo = np.where(active & ~go_left, mid + 1, lo)
    t = _key_float(np.where(decreasing, lo - 1, lo))  # lo - 1 at the bottom is -inf
    const_plus = f(np.zeros(c, np.float32))
    t = np.where(constant, np.where(const_plus, -np.inf, np.inf), t).astype(np.float32)
    s = np.where(decreasing & ~constant, -1.0, 1.0).astype(np.float32)
    return t, s


def fold_bn_sign_float(bn, bias: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Exact real-valued thresholds for a first layer with real inputs.

    The trained layer's output sign is ``sign(BN(y + bias))`` for the float32
    matmul result ``y``; it is ``+1`` iff ``(y - t) * s >= 0``, with ``s = +1``
    for gamma >= 0 and ``s = -1`` for gamma < 0 (:func:`float_thresholds` over
    the layer's float32 eval arithmetic, so every float32 ``y`` gets the
    trained layer's sign).

    Returns float32 thresholds t (C,) and float32 signs s (C,).
    """
    g = bn._gamma()
    return float_thresholds(lambda y: _pre_sign(bn, bias, y[None, :])[0] >= 0, g < 0, g == 0)


def fold_bn_affine(bn, bias: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """The last layer's float epilogue: ``BN(dot + bias) = dot * scale + shift``
    with ``scale = gamma * inv_std`` and ``shift = (bias - mean) * scale + beta``
    (float32; equal to the trained layer up to float rounding)."""
    inv = bn.eval_inv_std().astype(np.float64)
    scale = bn._gamma().astype(np.float64) * inv
    b = np.zeros_like(scale) if bias is None else bias.astype(np.float64)
    shift = (b - bn.running_mean.astype(np.float64)) * scale + bn.beta.value.astype(np.float64)
    return scale.astype(np.float32), shift.astype(np.float32)
