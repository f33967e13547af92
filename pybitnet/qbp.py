"""Quantized back-propagation (Lin et al., "Neural Networks with Few Multiplications").

The layer input ``x`` is quantized to signed powers of two, so every product
in the weight gradient ``dW = x~.T @ delta`` is a shift of ``delta``:

    codes = pybitnet.quantize_pow2(x, seed=0)      # int8 codes, E[dequantize] = x
    dw = pybitnet.shift_matmul(codes, delta)       # == dequantize_pow2(codes).T @ delta

The int8 code (``src/bitops/pow2/pow2_code.h``): ``0`` is exactly 0; a nonzero
code ``c`` is ``sign(c) * 2**(abs(c) - 64)``, exponents ``-63 .. 63``; ``-128``
is invalid.
"""
from __future__ import annotations

import os
from typing import Optional

import numpy as np

from . import _bitops
from ._arrays import as_array, as_flag
from ._interop import ArrayOut, tensors_in_tensors_out
from .opcount import OpCounts, float_gemm_ops, record

MIN_EXP = _bitops.POW2_MIN_EXP  # -63
MAX_EXP = _bitops.POW2_MAX_EXP  # 63


@tensors_in_tensors_out
def quantize_pow2(x, stochastic: bool = True, min_exp: Optional[int] = None, max_exp: Optional[int] = None,
                  seed: Optional[int] = None) -> ArrayOut:
    """Quantize float32 `x` to signed powers of two, as int8 codes.

    With ``k = floor(log2|x|)`` and ``f = |x| / 2**k - 1`` (read from the
    float's exponent and mantissa bits, no log or multiply):

    - stochastic (default, the paper's rule): exponent ``k + 1`` with
      probability ``f``, else ``k``; so ``E[dequantize_pow2(code)] = x``
      exactly, for x within the clipping range;
    - deterministic: the power of two nearest to ``|x|`` in log2 (round up
      iff ``log2(1 + f) >= 1/2``).

    Then the exponent is clipped to ``[min_exp, max_exp]`` (default and limits
    ``[-63, 63]``; the paper's code clips to e.g. ``[-4, 3]``).

    Special values: ``+-0`` -> code 0 (exact zero stays zero); denormals and
    values below ``2**min_exp`` -> ``+-2**min_exp``; values above
    ``2**max_exp`` and ``+-Inf`` -> ``+-2**max_exp``; NaN raises ``ValueError``.

    Parameters
    ----------
    x : float32 array (any shape), C-contiguous; numpy or DLPack.
    stochastic : bool
    min_exp, max_exp : int or None
    seed : int or None
        Seeds a counter-based generator: the random bit of element ``i``
        (flat index) is a hash of ``(seed, i)``, so the codes are the same on
        every ISA and thread count. ``None`` draws a fresh seed.

    Returns
    -------
    int8 array, the shape of `x`: 0 for zero, else ``sign * (exponent + 64)``.
    """
    if seed is None:
        seed = int.from_bytes(os.urandom(8), "little")
    seed = _check_seed(seed)
    return _bitops.quantize_pow2(as_array(x, "x"), as_flag(stochastic, "stochastic"), min_exp, max_exp, seed)


@tensors_in_tensors_out
def dequantize_pow2(codes) -> ArrayOut:
    """The float32 values of power-of-two codes (exact): 0 -> 0, ``c`` ->
    ``sign(c) * 2**(abs(c) - 64)``. Code -128 raises ``ValueError``."""
    return _bitops.dequantize_pow2(as_array(codes, "codes"))


@tensors_in_tensors_out
def shift_matmul(codes, g, method: str = "float") -> ArrayOut:
    """``dequantize_pow2(codes).T @ g`` with shifts and adds, no multiplications.

    The weight gradient of a dense layer whose input was quantized to `codes`.

    Parameters
    ----------
    codes : int8 array (M, K)
        Power-of-two codes of the layer input (M = batch, K = inputs).
    g : float32 array (M, N)
        The error at the layer's output (N = outputs). Rows must be contiguous.
    method : ``"float"`` (default) or ``"fixed"``
        ``"float"``: each product ``+-2**e * g`` is an integer add on g's
        exponent field and a sign flip (exact; under/overflowing and denormal
        cases are scaled exactly from the bits instead), the products summed in
        float32 in order of the batch row: the same bits on every ISA, within
        float32 summation error of the exact product.
        ``"fixed"``: g is rounded to int32 with F fraction bits (F chosen per
        call so no int32 sum overflows: ``max_k sum_i 2**e[i,k] * max|g| *
        2**F <= 2**29``, and F <= 149 so outputs lie on float32's grid), each
        term is an integer shift (rounding right shifts), summed exactly in
        int32, then scaled by ``2**-F``. Error
        bound, per output ``(k, n)`` with ``A_k = sum_i |x~[i, k]|``::

            |out - exact| <= 2**-F * (A_k + M) / 2 * (1 + 2**-24) + 2**-24 * |exact|

        (see :func:`shift_matmul_fixed_bound`). g must be finite and the codes'
        exponents moderate (``max_k A_k + M <= 2**30``), else ``ValueError``.

    Returns
    -------
    float32 array (K, N).
    """
    codes = as_array(codes, "codes")
    g = as_array(g, "g")
    out = _bitops.shift_matmul(codes, g, method)
    record("shift_matmul", lambda: shift_matmul_ops(codes, g.shape[1]))
    return out


@tensors_in_tensors_out
def shift_matmul_fixed_bound(codes, g) -> ArrayOut:
    """The documented error bound of ``shift_matmul(codes, g, method="fixed")``
    per output, shape (K, N), as float64."""
    codes = as_array(codes, "codes")
    g = as_array(g, "g")
    frac_bits = _bitops.shift_matmul_frac_bits(codes, g)
    xt = dequantize_pow2(np.ascontiguousarray(codes)).astype(np.float64)  # rows may be strided, as in shift_matmul
    exact = np.abs(xt.T @ g.astype(np.float64))
    a = np.abs(xt).sum(axis=0)[:, None]
    m = codes.shape[0]
    return np.ldexp((a + m) / 2, -frac_bits) * (1 + 2.0**-24) + 2.0**-24 * exact


def shift_matmul_ops(codes, n: int) -> OpCounts:
    """What :func:`shift_matmul` does for codes (M, K) and g (M, N): per
    nonzero code and output column one shift (the exponent add, or an integer
    shift) and one addition; zero codes cost nothing. No multiplications.

    (The kernels share the shifts: ``+-2**e * g[i]`` is built once per distinct
    code and row of g, then only added; this counts the paper's ops.)
    """
    nnz = int(np.count_nonzero(codes))
    return OpCounts(shifts=nnz * n, additions=nnz * n, multiplications=0)


def qbp_dense_step_ops(batch: int, n_in: int, n_out: int, elementwise: int = 3) -> dict:
    """Operations of one training step of a dense layer (batch B, n_in -> n_out),
    float backprop vs ternary connect + quantized backprop (QBP).

    The three products of a step, each ``B * n_in * n_out`` multiply-adds in
    float: forward ``y = x @ W``, error ``dx = dy @ W.T`` and gradient
    ``dW = x.T @ dy``. With ternary (or binary) weights the first two are
    sign changes and additions; with QBP the third is shifts and additions
    (:func:`shift_matmul`). What both keep is the elementwise work on the
    outputs, ``elementwise`` multiplications per output and sample (default 3,
    the paper's accounting: e.g. batch-norm scale forward and backward and the
    activation derivative), so ``~3 * n_in * n_out * B`` float multiplications
    become ``~3 * n_out * B``.

    Returns ``{"float": OpCounts, "qbp": OpCounts, "ratio": float}`` where
    ratio = float multiplications / QBP multiplications.
    """
    gemm = float_gemm_ops(batch, n_in, n_out)
    elem = elementwise * batch * n_out
    mac = batch * n_in * n_out
    flt = OpCounts(multiplications=3 * gemm.multiplications + elem, additions=3 * gemm.additions)
    qbp = OpCounts(multiplications=elem, additions=3 * mac, shifts=mac)
    return {"float": flt, "qbp": qbp, "ratio": flt.multiplications / max(qbp.multiplications, 1)}


def _check_seed(seed) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
    seed = int(seed)
    if not 0 <= seed < 2**64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    return seed
