"""Memory layout helpers as C++ kernels (``layout/`` in src/bitops).

``transpose(a)`` is ``np.ascontiguousarray(a.T)`` for a 2-D float32 array, in 16x16 (AVX-512) or
8x8 (AVX2) register tiles (elsewhere a 16-row scalar loop), over threads with the GIL released: a
conv layer's weight gradient needs its (N*OH*OW, F) output gradient as F rows, and numpy's copy of
the transposed view misses the cache on every column (51200 x 128, one core: ~6 ms in numpy's best
blocked form, 1.7-2.9 ms here).
"""
from __future__ import annotations

import numpy as np

from . import _bitops
from ._arrays import as_array


def transpose(a) -> np.ndarray:
    """``a.T`` of a 2-D C-contiguous float32 array as a new C-contiguous array."""
    return _bitops.transpose(as_array(a, "a"))
