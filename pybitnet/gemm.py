"""Binary matrix products: XNOR-popcount GEMM on packed signs."""
from __future__ import annotations

import numpy as np

from . import _bitops
from ._arrays import as_array, as_bits, as_real
from ._interop import ArrayOut, tensors_in_tensors_out
from .opcount import OpCounts, record
from .packing import _SIGN_DTYPES, pack_signs


@tensors_in_tensors_out
def xnor_gemm(a_bits, b_bits, k: int, mask=None, *, scale=None, bias=None) -> ArrayOut:
    """``sign(A) @ sign(B).T`` from packed rows, exactly, as int32; with `mask`,
    ``T @ sign(B).T`` for a ternary A; with `scale` or `bias`, a layer's float32
    outputs ``dot * scale + bias`` from the same call.

    Parameters
    ----------
    a_bits : uint64 or int64 array (M, W)
        Rows of A packed by :func:`pack_signs` (``W = ceil(k / 64)``).
    b_bits : uint64 or int64 array (N, W)
        Rows of B packed the same way (B is N x K: the weights of N outputs).
    k : int
        The logical length K of the rows (``0 <= k < 2**31``).
    mask : uint64 or int64 array (M, W), optional
        Keep mask of A (bit set = element kept/nonzero), e.g. dropout before a
        binarized layer: then row i of A is the ternary ``t_i = sign(a_i)``
        where kept and 0 where dropped, and sign bits outside the mask are
        ignored. For a ternary array ``t`` in {-1, 0, +1},
        ``a_bits, mask = pack_ternary(t)`` (sign, nonzero). Same shape as
        `a_bits`, contiguous rows, zero padding bits. None (the default): the
        plain XNOR GEMM.
    scale : float, optional
        Multiplies every dot product (rounded to float32 first; 1 is not
        multiplied by). Given alone or with `bias`, the result is float32.
    bias : float32 array (N,), optional
        Added to column j (one entry per row of `b_bits`).

    Returns
    -------
    int32 array (M, N): ``c[i, j] = k - 2 * popcount(a_bits[i] ^ b_bits[j])``;
    with `mask`, ``c[i, j] = popcount(mask[i]) - 2 * popcount((a_bits[i] ^ b_bits[j]) & mask[i])``,
    which is ``sum_k t[i, k] * sign(B)[j, k]``. With `scale` or `bias`: float32
    ``float32(c) * float32(scale) + bias``, each operation rounded as numpy's
    ``c.astype(np.float32) * np.float32(scale) + bias`` (no fused multiply-add),
    computed on each block of the output while it is in cache and written over
    the int32 (one array, one pass fewer).

    Rows must be contiguous (row slices of a packed array are fine); the
    padding bits past `k` must be zero, and are checked.
    """
    a_bits = as_bits(a_bits, "a_bits")
    b_bits = as_bits(b_bits, "b_bits")
    epilogue = _epilogue(scale, bias)
    if mask is None:
        c = _bitops.xnor_gemm(a_bits, b_bits, k, **epilogue)
        record("xnor_gemm", lambda: _with_epilogue(xnor_gemm_ops(c.shape[0], k, c.shape[1]), c.shape, scale, bias))
        return c
    c = _bitops.xnor_gemm_masked(a_bits, b_bits, k, as_bits(mask, "mask"), **epilogue)
    record("xnor_gemm_masked",
           lambda: _with_epilogue(xnor_gemm_masked_ops(c.shape[0], k, c.shape[1]), c.shape, scale, bias))
    return c


def _epilogue(scale, bias) -> dict:
    """The bindings' scale/bias arguments of a product's float epilogue, checked."""
    return dict(scale=None if scale is None else as_real(scale, "scale"),
                bias=None if bias is None else as_array(bias, "bias"))


def _with_epilogue(counts: OpCounts, shape, scale, bias) -> OpCounts:
    """The float epilogue's operations: one multiplication per output for a `scale` other than 1 (the kernel
    does not multiply by 1), one addition for `bias`."""
    outputs = shape[0] * shape[1]
    if scale is not None and np.float32(scale) != 1:  # as the kernel compares it
        counts.multiplications += outputs
    if bias is not None:
        counts.additions += outputs
    return counts


def xnor_gemm_ops(m: int, k: int, n: int) -> OpCounts:
    """What :func:`xnor_gemm` does for (m, k) x (k, n): per output and 64-bit
    word one XOR, one popcount and one addition; then ``k - 2*pop`` (one shift,
    one subtraction) per output. No multiplications."""
    words = -(-k // 64)
    return OpCounts(bitwise=m * n * words, popcounts=m * n * words, additions=m * n * (words + 1),
                    shifts=m * n, weight_bytes=8 * n * words)


def xnor_gemm_masked_ops(m: int, k: int, n: int) -> OpCounts:
    """What :func:`xnor_gemm` with a mask does: :func:`xnor_gemm_ops` plus one
    AND per output and word (``(a ^ b) & m``; one vpternlogq does both on
    AVX-512, counted as two bitwise ops all the same), plus the popcount of
    each row's mask (one popcount and one addition per row and word). No
    multiplications."""
    words = -(-k // 64)
    c = xnor_gemm_ops(m, k, n)
    c.bitwise += m * n * words
    c.popcounts += m * words
    c.additions += m * words
    return c


@tensors_in_tensors_out
def xnor_gemm_threshold(a_bits, b_bits, k: int, thresholds, flip) -> ArrayOut:
    """A fused binary layer: packed input signs to packed output signs.

    The XNOR GEMM dot products ``d = sign(A) @ sign(B).T`` are compared inside
    the kernel with one integer threshold per output channel (column) and
    packed, with no int32 array in between: the output sign of ``(i, j)`` is
    ``+1`` where ``d[i, j] >= thresholds[j]`` (or ``d[i, j] <= thresholds[j]``
    where ``flip[j]``), else ``-1``. Batch norm + sign of a hidden BNN layer
    fold into such thresholds (:func:`pybitnet.inference.fold_bn_sign`).

    Parameters
    ----------
    a_bits : uint64 or int64 array (M, W)
        Packed input rows (``W = ceil(k / 64)``).
    b_bits : uint64 or int64 array (N, W)
        Packed weight rows of the N output channels.
    k : int
        The logical row length K.
    thresholds : int32 array (N,)
    flip : bool array (N,)
        Channels whose comparison is reversed (negative batch-norm gamma).

    Returns
    -------
    uint64 array (M, ceil(N / 64)) (an int64 tensor for tensor inputs): the output
    signs under the bit contract (bit 1 = -1, padding bits past N zero), ready as
    the next layer's a_bits.
    """
    a_bits, b_bits = as_bits(a_bits, "a_bits"), as_bits(b_bits, "b_bits")
    c = _bitops.xnor_gemm_threshold(a_bits, b_bits, k,
                                    as_array(thresholds, "thresholds"), as_array(flip, "flip"))
    m, n = c.shape[0], b_bits.shape[0]
    record("xnor_gemm_threshold", lambda: xnor_gemm_threshold_ops(m, k, n))
    return c


def xnor_gemm_threshold_ops(m: int, k: int, n: int) -> OpCounts:
    """:func:`xnor_gemm_ops` plus, per output, one comparison (counted as an
    addition) and one bitwise select; no multiplications."""
    c = xnor_gemm_ops(m, k, n)
    c.additions += m * n
    c.bitwise += m * n
    return c


@tensors_in_tensors_out
def binary_matmul(a, b) -> ArrayOut:
    """``sign(a) @ sign(b)`` as int32 for real `a` (M, K) and `b` (K, N).

    Signs follow :func:`pack_signs` (0 counts as +1). This packs both operands
    and runs :func:`xnor_gemm`; to reuse packed weights, call those two directly.
    """
    a = as_array(a, "a")
    b = as_array(b, "b")
    for name, v in (("a", a), ("b", b)):
        if not any(v.dtype == d for d in _SIGN_DTYPES):
            raise TypeError(f"{name} must have dtype float32, float64, int8 or int16, got {v.dtype}")
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
    try:
        if x.flags.c_contiguous:
            return pack_signs(x, axis=1)
        if x.flags.f_contiguous:
            return np.ascontiguousarray(pack_signs(x.T, axis=0).T)
    except ValueError as e:  # the binding names its own argument, x
        if "NaN" in str(e):
            raise ValueError(f"{name} contains NaN, which has no sign") from None
        raise
    raise ValueError(f"{name} must be C- or F-contiguous (pybitnet does not copy large inputs silently); "
                     f"pass np.ascontiguousarray({name})")
