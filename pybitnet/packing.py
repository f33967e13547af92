"""Bit packing: signs of real arrays to 64-bit words and back.

The bit contract (``src/bitops/bits.h``): element ``i`` of the packed axis is
bit ``i % 64`` (LSB first) of word ``i // 64``; a set bit means the element is
negative, so +1 <-> 0 and -1 <-> 1; 0 and -0.0 count as +1; the padding bits
past the logical length are 0.
"""
from __future__ import annotations

import operator

import numpy as np

from . import _bitops
from ._arrays import as_array, as_bits, refuse_broadcast
from ._interop import ArrayOut, tensors_in_tensors_out

_SIGN_DTYPES = (np.float32, np.float64, np.int8, np.int16)


@tensors_in_tensors_out
def pack_signs(x, axis: int = -1) -> ArrayOut:
    """Pack the signs of `x` along `axis` into ``uint64`` words.

    Parameters
    ----------
    x : array_like (numpy array or DLPack producer)
        float32, float64, int8 or int16, C-contiguous. NaN raises ``ValueError``.
    axis : int
        The axis to pack. Its length ``K`` becomes ``ceil(K / 64)``.

    Returns
    -------
    ndarray of uint64, the shape of `x` with ``shape[axis] = ceil(K / 64)`` (for a
    tensor `x`, a torch.int64 tensor of the same words).

    Examples
    --------
    >>> pack_signs(np.array([1.0, -2.0, 0.0, -0.0], np.float32))
    array([2], dtype=uint64)
    """
    try:
        axis = operator.index(axis)  # ints only; any size (the binding range-checks it)
    except TypeError:
        raise TypeError(f"axis must be an int, got {type(axis).__name__}") from None
    return _bitops.pack_signs(as_array(x, "x"), axis)


@tensors_in_tensors_out
def unpack_signs(bits, k: int, axis: int = -1, dtype=np.float32) -> ArrayOut:
    """Inverse of :func:`pack_signs`: words to an array of +1/-1 of `dtype`.

    `bits` (uint64, or int64 as ``torch.ops.pybitnet.pack_signs`` returns) holds ``ceil(k / 64)`` words along `axis`; the result has
    length `k` there. Padding bits must be zero, as ``pack_signs`` leaves them.
    `dtype` must hold -1: a float or signed integer type (``TypeError`` otherwise).
    """
    bits = as_bits(bits, "bits")
    if bits.ndim == 0:
        raise ValueError("bits must have at least 1 dimension, got a 0-d array")
    refuse_broadcast(bits, "bits")
    k = _check_k(k)
    axis = _check_axis(axis, bits.ndim, bits.shape)
    words = -(-k // 64)
    if bits.shape[axis] != words:
        raise ValueError(f"bits has {bits.shape[axis]} words along axis {axis} but k={k} needs ceil(k/64) = {words}")
    try:
        dtype = np.dtype(dtype)
    except TypeError as e:
        raise TypeError(f"dtype: {e}") from None
    if dtype.kind not in "fi":  # uint8 turned -1 into 255, bool into True
        raise TypeError(f"dtype must be a float or signed integer type (it must hold -1), got {dtype}")
    moved = np.moveaxis(bits, axis, -1)
    flat = np.ascontiguousarray(moved).astype("<u8", copy=False).view(np.uint8)
    unpacked = np.unpackbits(flat, axis=-1, bitorder="little")
    if k % 64 and unpacked[..., k:].any():
        raise ValueError(f"bits has nonzero padding bits past k={k}")
    signs = (1 - 2 * unpacked[..., :k].astype(np.int8)).astype(dtype, copy=False)
    return np.moveaxis(signs, -1, axis)


def _check_k(k) -> int:
    try:
        k = operator.index(k)  # ints only: 3.0 is not a length
    except TypeError:
        raise TypeError(f"k must be an int, got {type(k).__name__}") from None
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    return k


def _check_axis(axis, ndim: int, shape) -> int:
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"axis must be an int, got {type(axis).__name__}") from None
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for an array of shape {shape}")
    return axis % ndim
