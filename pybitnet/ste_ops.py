"""The sign activation with the straight-through gate as C++ kernels (``act/`` in src/bitops):
what :class:`pybitnet.nn.SteSign` runs (deterministic), usable on its own.

``ste_sign(x)`` returns ``sign(x)`` as ±1 float32 (sign(0) = +1, NaN -> +1) and the gate
``|x| <= 1`` (``inclusive=False``: ``|x| < 1``; NaN -> 0) packed one bit per element (uint64
words, the bit contract's order, zero past the end): one pass over x instead of numpy's
three for the mask and two for the sign. ``ste_sign_backward(grad, gate)`` is
``grad * gate`` with the gate as 0/1 floats, bit for bit (an Inf or NaN gradient outside
the gate gives NaN, as numpy's product does).
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

from . import _bitops
from ._arrays import as_array


def ste_sign(x, inclusive: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """``(y, gate)``: y = sign(x) (±1 float32, x's shape), gate = |x| <= 1 (or < 1) as packed bits."""
    return _bitops.ste_sign(as_array(x, "x"), bool(inclusive))


def ste_sign_backward(grad, gate) -> np.ndarray:
    """``grad * gate`` (the straight-through gradient of :func:`ste_sign`), grad's shape."""
    return _bitops.ste_sign_backward(as_array(grad, "grad"), as_array(gate, "gate"))
