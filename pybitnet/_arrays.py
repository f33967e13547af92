"""Turning user inputs into arrays the kernels accept, without silent copies."""
from __future__ import annotations

import math
import numbers
import operator

import numpy as np


def as_array(x, name: str) -> np.ndarray:
    """Return `x` as a numpy array sharing its memory.

    numpy arrays pass through; DLPack producers (PyTorch CPU tensors, JAX and
    CuPy host arrays, ...) are wrapped with ``np.from_dlpack`` (zero-copy);
    other objects with ``__array__`` are viewed with ``np.asarray`` (no copy
    unless their ``__array__`` makes one). Anything else (lists, scalars) is
    rejected rather than converted, so no large input is copied behind the
    user's back.
    """
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "__dlpack__"):
        # A PyTorch view with the negative bit set (x.conj().imag, x._neg_view()) exports its memory
        # through DLPack without the negation: read so, every value would have the wrong sign.
        is_neg = getattr(x, "is_neg", None)
        if callable(is_neg) and is_neg():
            raise TypeError(f"{name} is a PyTorch tensor with the negative bit set (a lazy negation, e.g. from "
                            f".conj().imag); pass {name}.resolve_neg()")
        try:
            return np.from_dlpack(x)
        except (TypeError, BufferError, RuntimeError) as e:
            raise TypeError(f"{name}: cannot view this {type(x).__name__} through DLPack on the CPU: {e}") from e
    if hasattr(x, "__array__"):
        return np.asarray(x)
    raise TypeError(f"{name} must be a numpy array or a DLPack-compatible CPU tensor (or have __array__), "
                    f"got {type(x).__name__}")


def as_flag(value, name: str) -> bool:
    """`value` if it is a bool (or numpy bool); TypeError naming `name` otherwise (bool('False') is True)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return bool(value)


def as_real(v, name: str) -> float:
    """`v` as a finite float: a Python or numpy real number, or a 0-d real array or tensor. TypeError
    naming `name` for a str (float('2') would parse it), a bool, a complex number or anything else;
    ValueError for NaN or +-Inf (a NaN scale or rate gives NaN results, not an error, downstream)."""
    array_like = hasattr(v, "__float__") and np.ndim(v) == 0 and getattr(getattr(v, "dtype", None), "kind", "f") in "iuf"
    if isinstance(v, (str, bytes, bool, np.bool_)) or not (isinstance(v, numbers.Real) or array_like):
        raise TypeError(f"{name} must be a number, got {type(v).__name__}")
    try:
        v = float(v)
    except (TypeError, ValueError):  # a 0-d complex tensor
        raise TypeError(f"{name} must be a real number, got {v!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def as_size(v, name: str, hi: int | None = None) -> int:
    """`v` as an int in [0, hi) (numpy integers too); TypeError naming `name` for a bool, float or
    str (a float would be truncated, '2' * 3 repeats a string), ValueError outside the range."""
    if isinstance(v, bool):
        raise TypeError(f"{name} must be an int, got a bool")
    try:
        v = operator.index(v)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {type(v).__name__}") from None
    if v < 0 or (hi is not None and v >= hi):
        raise ValueError(f"{name} must be >= 0, got {v}" if hi is None else f"{name} must be in [0, {hi}), got {v}")
    return v


def as_bits(x, name: str) -> np.ndarray:
    """:func:`as_array` for packed bits: uint64 words, or int64 words (what ``torch.ops.pybitnet``
    returns) reinterpreted as uint64 in place (``.view(np.uint64)``: the same 64 bits, no copy).
    Other dtypes raise ``TypeError`` naming `name`."""
    a = as_array(x, name)
    if a.dtype == np.int64:
        return a.view(np.uint64)
    if a.dtype != np.uint64:
        raise TypeError(f"{name} must have dtype uint64 or int64 (packed words), got {a.dtype}")
    return a


def refuse_broadcast(x: np.ndarray, name: str) -> None:
    """ValueError for a broadcast view (a stride of 0 on an axis longer than 1): its
    elements repeat in memory, and the numpy work a function does on it (a copy, a mask)
    would be the size of the view, not of its memory (2**40 rows: a hang or MemoryError)."""
    if x.size and any(st == 0 and n > 1 for st, n in zip(x.strides, x.shape)):
        raise ValueError(f"{name} is a broadcast view (a stride of 0); pass np.ascontiguousarray({name})")
