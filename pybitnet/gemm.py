"""Binary matrix products: XNOR-popcount GEMM on packed signs."""
from __future__ import annotations

import numpy as np

from . import _bitops
from ._arrays import as_array
from .opcount import OpCounts, record
from .packing import pack_signs


def xnor_gemm(a_bits, b_bits, k: int) -> np.ndarray:
    """``sign(A) @ sign(B).T`` from packed rows, exactly, as int32.

    Parameters
    ----------
    a_bits : uint64 array (M, W)
        Rows of A packed by :func:`pack_signs` (``W = ceil(k / 64)``).
    b_bits : uint64 array (N, W)
        Rows of B packed the same way (B is N x K: the weights of N outputs).
    k : int
        The logical length K of the rows (``0 <= k < 2**31``).

    Returns
    -------
    int32 array (M, N): ``c[i, j] = k - 2 * popcount(a_bits[i] ^ b_bits[j])``.

    Rows must be contiguous (row slices of a packed array are fine); the
    padding bits past `k` must be zero, and are checked.
    """
    c = _bitops.xnor_gemm(as_array(a_bits, "a_bits"), as_array(b_bits, "b_bits"), k)
    record("xnor_gemm", lambda: xnor_gemm_ops(c.shape[0], k, c.shape[1]))
    return c


def xnor_gemm_ops(m: int, k: int, n: int) -> OpCounts:
    """What :func:`xnor_gemm` does for (m, k) x (k, n): per output and 64-bit
    word one XOR, one popcount and one addition; then ``k - 2*pop`` (one shift,
    one subtraction) per output. No multiplications."""
    words = -(-k // 64)
    return OpCounts(bitwise=m * n * words, popcounts=m * n * words, additions=m * n * (words + 1),
                    shifts=m * n, weight_bytes=8 * n * words)


def binary_matmul(a, b) -> np.ndarray:
    """``sign(a) @ sign(b)`` as int32 for real `a` (M, K) and `b` (K, N).

    Signs follow :func:`pack_signs` (0 counts as +1). This packs both operands
    and runs :func:`xnor_gemm`; to reuse packed weights, call those two directly.
    """
    a = as_array(a, "a")
    b = as_array(b, "b")
    if a.ndim != 2:
        raise ValueError(f"a must be 2-D (M, K), got shape {a.shape}")
    if b.ndim != 2:
        raise ValueError(f"b must be 2-D (K, N), got shape {b.shape}")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"a has K={a.shape[1]} columns but b has K={b.shape[0]} rows; shapes {a.shape} and {b.shape}")
    return xnor_gemm(_pack_rows(a, "a"), _pack_rows(b.T, "b"), a.shape[1])


def _pack_rows(x: np.ndarray, name: str) -> np.ndarray:
    """Packed rows of a 2-D array given in either memory order, with no copy of x.

    The transposes copy only packed words (1/32 of a float32 input)."""
    if x.flags.c_contiguous:
        return pack_signs(x, axis=1)
    if x.flags.f_contiguous:
        return np.ascontiguousarray(pack_signs(x.T, axis=0).T)
    raise ValueError(f"{name} must be C- or F-contiguous (pybitnet does not copy large inputs silently); "
                     f"pass np.ascontiguousarray({name})")
