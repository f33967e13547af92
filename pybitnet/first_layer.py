"""First-layer products for real inputs: the float path (real x times packed
±1 weights, additions only), and for 8-bit pixels the exact integer ``x . w``
either by subset-sum tables in 16-bit lanes (:func:`pixel_matmul`, additions
only) or by the BNN paper's bit-plane trick, ``x . w = sum_n 2^n (x^n . w)``
over the bit planes x^n of the pixels: eight binary dot products and shifts,
no multiplications."""
from __future__ import annotations

import numpy as np

from . import _bitops
from ._arrays import as_array, as_bits, refuse_broadcast
from .gemm import xnor_gemm_ops
from .opcount import OpCounts, record
from .weight_matmul import binary_weight_matmul


def weight_row_sums(w_bits: np.ndarray, k: int) -> np.ndarray:
    """sum_c w[j, c] of packed ±1 rows (N, ceil(k/64)): k - 2 * (number of -1 entries), int64.
    In C++ (``_bitops.weight_row_sums``), the derivation the native MLP uses too."""
    return _bitops.weight_row_sums(_contiguous_bits(w_bits), k).astype(np.int64)


def pack_bit_planes(x: np.ndarray) -> np.ndarray:
    """uint8 rows (M, k) -> packed ±1 bit planes (8 * M, words): rows
    ``n * M + i`` hold plane n of row i as +1 where bit n of the pixel is set and
    -1 where not (bit contract: the packed bit is the complement, padding zero).
    One pass in C++ (``_bitops.pack_bit_planes``; AVX-512: one vptestnmb per plane and
    64 pixels)."""
    x = as_array(x, "x")
    refuse_broadcast(x, "x")
    if x.dtype != np.uint8:
        raise TypeError(f"x must have dtype uint8, got {x.dtype}")
    return _bitops.pack_bit_planes(np.ascontiguousarray(x))


def bitplane_matmul(x, w_bits: np.ndarray, k: int, w_sums=None) -> np.ndarray:
    """Exact ``x @ W.T`` for uint8 `x` (M, k) and packed ±1 weights W (N, k), int32.

    With p_n = 2 * x^n - 1 (±1 bit planes), ``x^n . w = (p_n . w + sum(w)) / 2``,
    so ``x . w = (sum_n (p_n . w) << n + 255 * sum(w)) >> 1``: XNOR products of the 8 M plane
    rows, then shifts and additions in int32 (|x . w| <= 255 k, so k < 2**22 cannot overflow).
    In C++ (``_bitops.bitplane_matmul``), block by block: the planes' dot products are combined
    while in cache, never written out as an 8 x M x N array (at M = 100, N = 4096 that array and
    numpy's seven shift-and-add passes over it took 1.6 of 4.4 ms). Where the CPU has no vector
    popcount (AVX2), the planes go back into their pixels' bytes, where bit n of a byte is plane n:
    one XOR with a weight's bit spread over the byte flips all 8 planes, and a byte sum (vpsadbw)
    adds each plane's bits weighted 2**n, which is ``sum_n 2**n popcount(x^n ^ w)``: the same
    integers, 3x faster there than counting the 8 planes' bits by table lookups.
    """
    x = as_array(x, "x")
    refuse_broadcast(x, "x")
    x = np.ascontiguousarray(x)
    if x.dtype != np.uint8:
        raise TypeError(f"x must have dtype uint8, got {x.dtype}")
    if x.ndim != 2 or x.shape[1] != k:
        raise ValueError(f"x must have shape (M, {k}), got {x.shape}")
    if k >= 1 << 22:
        raise ValueError(f"k must be < 2**22 for int32 sums, got {k}")
    w_bits = as_bits(w_bits, "w_bits")  # int64 words (torch.ops.pybitnet) and DLPack tensors too
    refuse_broadcast(w_bits, "w_bits")
    w_bits = np.ascontiguousarray(w_bits)
    w_sums = _int32_sums(weight_row_sums(w_bits, k) if w_sums is None else w_sums)
    s = _bitops.bitplane_matmul(pack_bit_planes(x), w_bits, k, w_sums)
    record_bitplane_ops(x.shape[0], k, s.shape[1])
    return s


def record_bitplane_ops(m: int, k: int, n: int) -> None:
    """Counts (:func:`pybitnet.count_ops`) of :func:`bitplane_matmul` of m pixel rows with n weight rows:
    the XNOR products of the 8 m plane rows, then 9 additions and 8 shifts per output (the planes'
    formulation on every ISA: on AVX2 the byte sums add the same bits)."""
    record("xnor_gemm", lambda: xnor_gemm_ops(8 * m, k, n))
    record("bitplane_epilogue", lambda: OpCounts(additions=9 * m * n, shifts=8 * m * n))


def _int32_sums(w_sums) -> np.ndarray:
    """`w_sums` as int32, refusing what would not convert exactly (the binding checks the values)."""
    a = np.asarray(w_sums)
    if a.dtype == np.int32:
        return np.ascontiguousarray(a)
    if a.dtype.kind not in "iu":
        raise TypeError(f"w_sums must hold integers (weight_row_sums), got {a.dtype}")
    out = np.ascontiguousarray(a, dtype=np.int32)
    if not np.array_equal(out, a):
        raise ValueError("w_sums holds values outside int32: they are not row sums of k < 2**22 weights")
    return out


def real_matmul(x: np.ndarray, w_bits: np.ndarray, k: int) -> np.ndarray:
    """``x @ W.T`` for float32 `x` (M, k) and packed ±1 weights: additions only."""
    return binary_weight_matmul(np.ascontiguousarray(x, dtype=np.float32), w_bits, k)


def pixel_panels(w_bits: np.ndarray, k: int) -> np.ndarray:
    """Packed ±1 weight rows (N, ceil(k/64)) -> the 16-bit panels of
    :func:`pixel_matmul`: uint16 (ceil(N/32), ceil(k/16), 32), where
    ``panels[r, q, l]`` holds bits ``16 q .. 16 q + 15`` of row ``32 r + l``
    (bit 1 = -1; rows past N are zero). Same 1 bit per weight, regrouped so that
    one 64-byte load serves 32 rows; built once per model, in C++
    (``_bitops.pixel_panels``, the derivation the native MLP uses too)."""
    return _bitops.pixel_panels(_contiguous_bits(w_bits), k)


def _contiguous_bits(w_bits) -> np.ndarray:
    w_bits = as_bits(w_bits, "w_bits")  # int64 words (torch.ops.pybitnet) and DLPack tensors too
    refuse_broadcast(w_bits, "w_bits")
    return np.ascontiguousarray(w_bits)


def pixel_matmul(x, panels: np.ndarray, n: int) -> np.ndarray:
    """Exact ``x @ W.T`` (int32 (M, n)) for uint8 `x` (M, k) and ±1 weights W
    given as :func:`pixel_panels`: additions only (per 4 pixels, a table of
    their 16 subset sums; each weight row's 4 bits pick its entry, 32 rows per
    AVX-512 lane permute)."""
    x = as_array(x, "x")  # rows may be strided; the binding checks them (no copy)
    y = _bitops.uint8_weight_matmul(x, as_array(panels, "panels"), n)
    m, k = x.shape
    record("uint8_weight_matmul", lambda: pixel_matmul_ops(m, k, n))
    return y


def pixel_matmul_ops(m: int, k: int, n: int) -> OpCounts:
    """One addition per pixel-weight pair (a table entry added per 4 pairs,
    plus the tables and sums: counted as m * n * k), no multiplications; weights
    1 bit each."""
    return OpCounts(additions=m * n * k, weight_bytes=n * -(-k // 16) * 2)
