"""Binarization and ternarization of real weights into packed bits.

BinaryConnect (Courbariaux et al., 2015) and ternary connect ("Neural Networks
with Few Multiplications", Lin et al., 2016) keep real weights for the update
and use +-1 (or -1/0/+1) weights, possibly sampled, in both passes. These
samplers return the packed bits the weight kernels take directly.

Sampling is counter-based: the draw for element ``i`` is a hash of
``(seed, i)`` (splitmix64), so one seed gives the same bits for any thread
count and on every CPU.
"""
from __future__ import annotations

import operator
import secrets

from . import _bitops
from ._arrays import as_array, as_flag, as_real
from ._interop import ArrayOut, tensors_in_tensors_out


@tensors_in_tensors_out
def binarize(w, stochastic: bool = False, seed: int | None = None, scale: float = 1.0) -> ArrayOut:
    """Packed signs of `w` (float32, rows along the last axis) for :func:`binary_weight_matmul`.

    Deterministic: -1 where ``w < 0`` (0 -> +1). Stochastic: +1 with probability
    ``hard_sigmoid(w / scale) = clip((w / scale + 1) / 2, 0, 1)``, else -1.

    Returns uint64 words, the shape of `w` with the last axis ``ceil(K / 64)``.
    ``seed=None`` draws a fresh seed; NaN in `w` raises ``ValueError``.
    """
    return _bitops.binarize(as_array(w, "w"), as_flag(stochastic, "stochastic"), _seed(seed), _scale(scale))


@tensors_in_tensors_out
def ternarize(w, stochastic: bool = True, seed: int | None = None, scale: float = 1.0):
    """Ternarize `w` (float32) into ``(sign_bits, nonzero_bits)`` for :func:`ternary_weight_matmul`.

    Stochastic: ``sign(w) * Bernoulli(clip(|w| / scale, 0, 1))``. Deterministic:
    ``sign(w)`` where ``|w| / scale > 1/2``, else 0.
    """
    return _bitops.ternarize(as_array(w, "w"), as_flag(stochastic, "stochastic"), _seed(seed), _scale(scale))


@tensors_in_tensors_out
def dropout(x, p: float, seed: int | None = None):
    """Inverted dropout of `x` (float32, C-contiguous): ``(y, scale)`` with ``scale = 1 / (1 - p)``
    (float32) where a unit is kept, 0 where dropped, and ``y = x * scale``.

    Unit ``i`` is kept where its counter-based uniform ``u_i >= p`` (``p`` rounded to float32):
    probability ``1 - p``. ``u_i`` is 24 bits of the splitmix64 draw ``i // 2`` (bits 40..63 for
    even ``i``, 16..39 for odd), so one seed gives the same mask for any thread count and on every
    CPU. ``seed=None`` draws a fresh seed.
    """
    p = as_real(p, "p")
    if not 0 <= p < 1:
        raise ValueError(f"p must be in [0, 1), got {p}")
    return _bitops.dropout(as_array(x, "x"), p, _seed(seed))


def _seed(seed) -> int:
    if seed is None:
        return secrets.randbits(64)
    try:
        seed = operator.index(seed)
    except TypeError:
        raise TypeError(f"seed must be an int or None, got {type(seed).__name__}") from None
    if not 0 <= seed < 2**64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    return seed


def _scale(scale) -> float:
    scale = as_real(scale, "scale")
    if not scale > 0:
        raise ValueError(f"scale must be a finite number > 0, got {scale}")
    return scale
