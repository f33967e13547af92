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
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np


def bn_eval(bn, x: np.ndarray) -> np.ndarray:
    """``bn``'s eval-mode forward of float32 `x` (B, C), without touching its
    state: ``(x - running_mean) * inv_std * gamma + beta`` with the layer's own
    inv_std and gamma (AP2-rounded for :class:`~pybitnet.nn.ShiftBatchNorm`)."""
    inv = bn._inv_std(bn.running_var).astype(np.float32)
    return (((x - bn.running_mean) * inv) * bn._gamma() + bn.beta.value).astype(np.float32)


def _pre_sign(bn, bias: Optional[np.ndarray], dot: np.ndarray) -> np.ndarray:
    y = dot.astype(np.float32)
    if bias is not None:
        y = y + bias
    return bn_eval(bn, y)


def fold_bn_sign(bn, k: int, bias: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Thresholds and flips such that ``sign(BN(dot + bias))`` (sign(0) = +1,
    as :func:`pybitnet.nn.ste_sign`) is ``+1`` iff ``dot >= t`` (``dot <= t``
    where flipped), for every integer ``dot`` in ``[-k, k]``.

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
    thresholds : int32 array (C,), in ``[-k - 1, k + 1]``
    flip : bool array (C,)

    A channel whose sign is the same for every dot (gamma == 0, or a beta
    large enough) gets ``flip=False`` and ``t = -k`` (always +1) or
    ``t = k + 1`` (always -1).
    """
    c = bn.running_mean.shape[0]
    f = lambda d: _pre_sign(bn, bias, d[None, :])[0] >= 0  # noqa: E731  (True = output +1)
    lo_pos = f(np.full(c, -k, np.int64))
    hi_pos = f(np.full(c, k, np.int64))
    decreasing = lo_pos & ~hi_pos
    # Bisect in [-k, k + 1] for the first d where the sought predicate holds:
    # f(d) for increasing channels (t = d; k + 1 means never), not f(d) for
    # decreasing ones (t = d - 1, the last d with f).
    lo = np.full(c, -k, np.int64)
    hi = np.full(c, k + 1, np.int64)
    while True:
        active = lo < hi
        if not active.any():
            break
        mid = (lo + hi) // 2
        probe = np.where(active, mid, -k)
        pos = f(np.clip(probe, -k, k))
        go_left = np.where(decreasing, ~pos, pos)  # the sought predicate holds at mid
        hi = np.where(active & go_left, mid, hi)
        lo = np.where(active & ~go_left, mid + 1, lo)
    t = np.where(decreasing, lo - 1, lo)
    # Constant channels: f is the same at both ends.
    const = lo_pos == hi_pos
    t = np.where(const, np.where(lo_pos, -k, k + 1), t)
    flip = decreasing & ~const
    return t.astype(np.int32), flip.astype(bool)


def fold_bn_sign_float(bn, bias: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Real-valued thresholds for a first layer with real inputs: the output
    is ``+1`` iff ``(y - t) * s >= 0`` with ``s = -1`` where gamma < 0 (this
    puts ``y == t`` on the +1 side, as sign(0) = +1), ``t = mean - bias -
    beta / (gamma * inv_std)``; gamma == 0 gives ``t = -inf`` (always +1) or
    ``+inf`` (always -1) from beta's sign.

    Returns float32 thresholds t (C,) and float32 signs s (C,).
    """
    inv = bn._inv_std(bn.running_var).astype(np.float64)
    g = bn._gamma().astype(np.float64)
    beta = bn.beta.value.astype(np.float64)
    mean = bn.running_mean.astype(np.float64)
    b = np.zeros_like(mean) if bias is None else bias.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = mean - b - beta / (g * inv)
    t = np.where(g == 0, np.where(beta >= 0, -np.inf, np.inf), t)
    s = np.where(g < 0, -1.0, 1.0)
    return t.astype(np.float32), s.astype(np.float32)


def fold_bn_affine(bn, bias: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """The last layer's float epilogue: ``BN(dot + bias) = dot * scale + shift``
    with ``scale = gamma * inv_std`` and ``shift = (bias - mean) * scale + beta``
    (float32; equal to the trained layer up to float rounding)."""
    inv = bn._inv_std(bn.running_var).astype(np.float64)
    scale = bn._gamma().astype(np.float64) * inv
    b = np.zeros_like(scale) if bias is None else bias.astype(np.float64)
    shift = (b - bn.running_mean.astype(np.float64)) * scale + bn.beta.value.astype(np.float64)
    return scale.astype(np.float32), shift.astype(np.float32)
