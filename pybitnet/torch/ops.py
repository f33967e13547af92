"""pybitnet's kernels as PyTorch operators (``torch.ops.pybitnet.*``); see :mod:`pybitnet.torch`."""
from __future__ import annotations

import os
import warnings

import numpy as np
import torch

from .. import gemm as _gemm
from .. import packing as _packing
from .. import qbp as _qbp
from .. import sampling as _sampling
from .. import weight_matmul as _wm

_LIB = "pybitnet"

if os.environ.get("OMP_WAIT_POLICY") is None and os.environ.get("PYBITNET_OMP_SPIN") != "keep" \
        and torch.get_num_threads() > 1:
    warnings.warn("torch was imported before pybitnet, so torch's OpenMP threads spin between calls and can slow "
                  "pybitnet's kernels when other processes compete for the cores (a BNN training step 5-12x slower, "
                  "medians, on a shared 2-core machine; on an idle one it was not slower: "
                  "scripts/import_order_check.py measures yours): import pybitnet before torch, or set "
                  "OMP_WAIT_POLICY=PASSIVE (PYBITNET_OMP_SPIN=keep silences this)",
                  RuntimeWarning, stacklevel=2)


# -- zero-copy views between torch and numpy ---------------------------------------------------
def _np(t: torch.Tensor, name: str) -> np.ndarray:
    """A numpy view of CPU tensor `t`; a non-contiguous `t` is copied first (``Tensor.contiguous()``),
    as torch's own operators accept any layout (autograd hands operators expanded gradients)."""
    if t.device.type != "cpu":
        raise ValueError(f"{name} must be a CPU tensor, got device {t.device}")
    return t.detach().contiguous().numpy()


# Packed words: torch.int64 (what the operators return), or torch.uint64 (a tensor made from the raw
# kernels' uint64 arrays with torch.from_numpy): the same 64 bits, read in place.
_BITS_DTYPES = (torch.int64, torch.uint64)


def _bits_np(t: torch.Tensor, name: str) -> np.ndarray:
    if t.dtype not in _BITS_DTYPES:
        raise TypeError(f"{name} must hold packed bits as torch.int64 (or torch.uint64), got {t.dtype}")
    return _np(t, name).view(np.uint64)


def _from_bits(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a.view(np.int64))


def _typed(t: torch.Tensor, name: str, dtype: torch.dtype) -> np.ndarray:
    if t.dtype != dtype:
        raise TypeError(f"{name} must be {dtype}, got {t.dtype}")
    return _np(t, name)


def _f32(t: torch.Tensor, name: str) -> np.ndarray:
    return _typed(t, name, torch.float32)


def _words(k: int) -> int:
    return -(-k // 64)


# -- sign with the straight-through estimator ---------------------------------------------------
@torch.library.custom_op(f"{_LIB}::sign", mutates_args=())
def sign(x: torch.Tensor) -> torch.Tensor:
    """+1 where ``x >= 0`` (also 0 and -0.0), -1 where ``x < 0``: the bit contract's sign."""
    return torch.where(x < 0, -1.0, 1.0).to(x.dtype)


@sign.register_fake
def _(x):
    return torch.empty_like(x)


def _sign_backward(ctx, grad):
    (x,) = ctx.saved_tensors
    return grad * (x.abs() <= 1).to(grad.dtype)  # STE (Hubara et al. 2016): pass the gradient where |x| <= 1


def _save_x(ctx, inputs, output):
    ctx.save_for_backward(inputs[0])


sign.register_autograd(_sign_backward, setup_context=_save_x)


# -- packing and sampling -----------------------------------------------------------------------
@torch.library.custom_op(f"{_LIB}::pack_signs", mutates_args=())
def pack_signs(x: torch.Tensor) -> torch.Tensor:
    """Signs of `x` along the last axis packed into int64 words (bit 1 = negative)."""
    return _from_bits(_packing.pack_signs(_np(x, "x")))


@pack_signs.register_fake
def _(x):
    return x.new_empty((*x.shape[:-1], _words(x.shape[-1])), dtype=torch.int64)


@torch.library.custom_op(f"{_LIB}::binarize", mutates_args=())
def binarize(w: torch.Tensor, stochastic: bool, seed: int) -> torch.Tensor:
    """Packed +-1 weights: sign(w), or +1 with probability hard_sigmoid(w) if `stochastic`."""
    return _from_bits(_sampling.binarize(_f32(w, "w"), stochastic=stochastic, seed=seed))


@binarize.register_fake
def _(w, stochastic, seed):
    return w.new_empty((*w.shape[:-1], _words(w.shape[-1])), dtype=torch.int64)


@torch.library.custom_op(f"{_LIB}::ternarize", mutates_args=())
def ternarize(w: torch.Tensor, stochastic: bool, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Packed ternary weights ``(sign_bits, nonzero_bits)`` (see :func:`pybitnet.ternarize`)."""
    s, nz = _sampling.ternarize(_f32(w, "w"), stochastic=stochastic, seed=seed)
    return _from_bits(s), _from_bits(nz)


@ternarize.register_fake
def _(w, stochastic, seed):
    shape = (*w.shape[:-1], _words(w.shape[-1]))
    return w.new_empty(shape, dtype=torch.int64), w.new_empty(shape, dtype=torch.int64)


# -- GEMMs ----------------------------------------------------------------------------------------
@torch.library.custom_op(f"{_LIB}::xnor_gemm", mutates_args=())
def xnor_gemm(a_bits: torch.Tensor, b_bits: torch.Tensor, k: int) -> torch.Tensor:
    """``sign(A) @ sign(B).T`` from packed rows (int32, M x N)."""
    return torch.from_numpy(_gemm.xnor_gemm(_bits_np(a_bits, "a_bits"), _bits_np(b_bits, "b_bits"), k))


@xnor_gemm.register_fake
def _(a_bits, b_bits, k):
    return a_bits.new_empty((a_bits.shape[0], b_bits.shape[0]), dtype=torch.int32)


@torch.library.custom_op(f"{_LIB}::xnor_gemm_masked", mutates_args=())
def xnor_gemm_masked(a_bits: torch.Tensor, b_bits: torch.Tensor, k: int, mask: torch.Tensor) -> torch.Tensor:
    """``T @ sign(B).T`` for a ternary A (sign bits `a_bits`, keep bits `mask`; int32, M x N):
    :func:`pybitnet.xnor_gemm` with ``mask=``."""
    return torch.from_numpy(_gemm.xnor_gemm(_bits_np(a_bits, "a_bits"), _bits_np(b_bits, "b_bits"), k,
                                            mask=_bits_np(mask, "mask")))


@xnor_gemm_masked.register_fake
def _(a_bits, b_bits, k, mask):
    return a_bits.new_empty((a_bits.shape[0], b_bits.shape[0]), dtype=torch.int32)


@torch.library.custom_op(f"{_LIB}::xnor_gemm_threshold", mutates_args=())
def xnor_gemm_threshold(a_bits: torch.Tensor, b_bits: torch.Tensor, k: int, thresholds: torch.Tensor,
                        flip: torch.Tensor) -> torch.Tensor:
    """A fused binary layer (:func:`pybitnet.xnor_gemm_threshold`): packed input signs to packed
    output signs, int64 words (M x ceil(N/64)); `thresholds` torch.int32 (N,), `flip` torch.bool (N,)."""
    return _from_bits(_gemm.xnor_gemm_threshold(_bits_np(a_bits, "a_bits"), _bits_np(b_bits, "b_bits"), k,
                                                _typed(thresholds, "thresholds", torch.int32),
                                                _typed(flip, "flip", torch.bool)))


@xnor_gemm_threshold.register_fake
def _(a_bits, b_bits, k, thresholds, flip):
    return a_bits.new_empty((a_bits.shape[0], _words(b_bits.shape[0])), dtype=torch.int64)


@torch.library.custom_op(f"{_LIB}::binary_weight_matmul", mutates_args=())
def binary_weight_matmul(x: torch.Tensor, w_bits: torch.Tensor, k: int) -> torch.Tensor:
    """``x @ sign(W).T`` (float32, M x N), additions and subtractions only."""
    return torch.from_numpy(_wm.binary_weight_matmul(_f32(x, "x"), _bits_np(w_bits, "w_bits"), k))


@binary_weight_matmul.register_fake
def _(x, w_bits, k):
    return x.new_empty((x.shape[0], w_bits.shape[0]))


@torch.library.custom_op(f"{_LIB}::binary_weight_matmul_t", mutates_args=())
def binary_weight_matmul_t(g: torch.Tensor, w_bits: torch.Tensor, k: int) -> torch.Tensor:
    """``g @ sign(W)`` (float32, M x K): the backward pass to the layer input."""
    return torch.from_numpy(_wm.binary_weight_matmul_t(_f32(g, "g"), _bits_np(w_bits, "w_bits"), k))


@binary_weight_matmul_t.register_fake
def _(g, w_bits, k):
    return g.new_empty((g.shape[0], k))


def _save_bits(ctx, inputs, output):
    ctx.k = inputs[-1]
    ctx.save_for_backward(*inputs[1:-1])


binary_weight_matmul.register_autograd(
    lambda ctx, g: (binary_weight_matmul_t(g, *ctx.saved_tensors, ctx.k), None, None), setup_context=_save_bits)
binary_weight_matmul_t.register_autograd(
    lambda ctx, g: (binary_weight_matmul(g, *ctx.saved_tensors, ctx.k), None, None), setup_context=_save_bits)


@torch.library.custom_op(f"{_LIB}::ternary_weight_matmul", mutates_args=())
def ternary_weight_matmul(x: torch.Tensor, sign_bits: torch.Tensor, nonzero_bits: torch.Tensor,
                          k: int) -> torch.Tensor:
    """``x @ T.T`` for packed ternary T (float32, M x N); zero weights are skipped."""
    return torch.from_numpy(_wm.ternary_weight_matmul(_f32(x, "x"), _bits_np(sign_bits, "sign_bits"),
                                                      _bits_np(nonzero_bits, "nonzero_bits"), k))


@ternary_weight_matmul.register_fake
def _(x, sign_bits, nonzero_bits, k):
    return x.new_empty((x.shape[0], sign_bits.shape[0]))


@torch.library.custom_op(f"{_LIB}::ternary_weight_matmul_t", mutates_args=())
def ternary_weight_matmul_t(g: torch.Tensor, sign_bits: torch.Tensor, nonzero_bits: torch.Tensor,
                            k: int) -> torch.Tensor:
    """``g @ T`` for packed ternary T (float32, M x K)."""
    return torch.from_numpy(_wm.ternary_weight_matmul_t(_f32(g, "g"), _bits_np(sign_bits, "sign_bits"),
                                                        _bits_np(nonzero_bits, "nonzero_bits"), k))


@ternary_weight_matmul_t.register_fake
def _(g, sign_bits, nonzero_bits, k):
    return g.new_empty((g.shape[0], k))


ternary_weight_matmul.register_autograd(
    lambda ctx, g: (ternary_weight_matmul_t(g, *ctx.saved_tensors, ctx.k), None, None, None),
    setup_context=_save_bits)
ternary_weight_matmul_t.register_autograd(
    lambda ctx, g: (ternary_weight_matmul(g, *ctx.saved_tensors, ctx.k), None, None, None),
    setup_context=_save_bits)


@torch.library.custom_op(f"{_LIB}::shift_matmul", mutates_args=())
def shift_matmul(codes: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """``dequantize_pow2(codes).T @ g`` with shifts and adds (float32, K x N)."""
    if codes.dtype != torch.int8:
        raise TypeError(f"codes must be torch.int8 power-of-two codes, got {codes.dtype}")
    return torch.from_numpy(_qbp.shift_matmul(_np(codes, "codes"), _f32(g, "g")))


@shift_matmul.register_fake
def _(codes, g):
    return g.new_empty((codes.shape[1], g.shape[1]))


def _dequantize(codes: torch.Tensor) -> torch.Tensor:
    """The float values of power-of-two codes, in torch ops (traceable): 0 -> 0, c -> sign(c) 2**(|c|-64)."""
    c = codes.to(torch.int32)
    mag = torch.exp2((c.abs() - 64).to(torch.float32))
    return torch.where(c == 0, 0.0, torch.where(c < 0, -mag, mag))


def _shift_backward(ctx, grad):
    (codes,) = ctx.saved_tensors
    return None, _dequantize(codes) @ grad  # d(D.T g)/dg: a float product, as in the float backward-of-backward


def _save_codes(ctx, inputs, output):
    ctx.save_for_backward(inputs[0])


shift_matmul.register_autograd(_shift_backward, setup_context=_save_codes)


# -- layers: the binarized weights in the product, the gradient to the real weights -------------
@torch.library.custom_op(f"{_LIB}::binary_linear", mutates_args=())
def binary_linear(x: torch.Tensor, weight: torch.Tensor, w_bits: torch.Tensor) -> torch.Tensor:
    """A BinaryConnect layer: ``x @ Wb.T`` with ``Wb`` = the +-1 weights packed in `w_bits`
    (sampled from the real `weight`). Gradients: to `x` by ``binary_weight_matmul_t``; to the real
    `weight` ``grad.T @ x``, the gradient w.r.t. ``Wb`` (Courbariaux et al. 2015)."""
    return torch.from_numpy(_wm.binary_weight_matmul(_f32(x, "x"), _bits_np(w_bits, "w_bits"), weight.shape[1]))


@binary_linear.register_fake
def _(x, weight, w_bits):
    return x.new_empty((x.shape[0], weight.shape[0]))


def _save_linear(ctx, inputs, output):
    x, weight, *bits = inputs
    ctx.k = weight.shape[1]
    ctx.save_for_backward(x, *bits)


def _binary_linear_backward(ctx, grad):
    x, w_bits = ctx.saved_tensors
    gx = binary_weight_matmul_t(grad, w_bits, ctx.k) if ctx.needs_input_grad[0] else None
    gw = grad.t() @ x if ctx.needs_input_grad[1] else None
    return gx, gw, None


binary_linear.register_autograd(_binary_linear_backward, setup_context=_save_linear)


@torch.library.custom_op(f"{_LIB}::ternary_linear", mutates_args=())
def ternary_linear(x: torch.Tensor, weight: torch.Tensor, sign_bits: torch.Tensor,
                   nonzero_bits: torch.Tensor) -> torch.Tensor:
    """A ternary connect layer: as :func:`binary_linear` with ternary weights."""
    return torch.from_numpy(_wm.ternary_weight_matmul(_f32(x, "x"), _bits_np(sign_bits, "sign_bits"),
                                                      _bits_np(nonzero_bits, "nonzero_bits"), weight.shape[1]))


@ternary_linear.register_fake
def _(x, weight, sign_bits, nonzero_bits):
    return x.new_empty((x.shape[0], weight.shape[0]))


def _ternary_linear_backward(ctx, grad):
    x, s, nz = ctx.saved_tensors
    gx = ternary_weight_matmul_t(grad, s, nz, ctx.k) if ctx.needs_input_grad[0] else None
    gw = grad.t() @ x if ctx.needs_input_grad[1] else None
    return gx, gw, None, None


ternary_linear.register_autograd(_ternary_linear_backward, setup_context=_save_linear)


@torch.library.custom_op(f"{_LIB}::binarized_linear", mutates_args=())
def binarized_linear(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """A BNN layer: ``sign(x) @ sign(W).T`` by XNOR-popcount (float32, M x N).

    Gradients are straight-through (Hubara et al. 2016): to `x`, ``(grad @ sign(W)) * (|x| <= 1)``
    (by ``binary_weight_matmul_t``); to the real `weight`, ``grad.T @ sign(x)``.
    """
    k = weight.shape[1]
    a = _packing.pack_signs(_f32(x, "x"))
    w = _packing.pack_signs(_f32(weight, "weight"))
    return torch.from_numpy(_gemm.xnor_gemm(a, w, k).astype(np.float32))


@binarized_linear.register_fake
def _(x, weight):
    return x.new_empty((x.shape[0], weight.shape[0]))


def _save_binarized(ctx, inputs, output):
    ctx.save_for_backward(*inputs)


def _binarized_linear_backward(ctx, grad):
    x, weight = ctx.saved_tensors
    gx = gw = None
    if ctx.needs_input_grad[0]:
        gx = binary_weight_matmul_t(grad, pack_signs(weight), weight.shape[1]) * (x.abs() <= 1).to(grad.dtype)
    if ctx.needs_input_grad[1]:
        gw = grad.t() @ sign(x.detach())
    return gx, gw


binarized_linear.register_autograd(_binarized_linear_backward, setup_context=_save_binarized)

OPS = ("sign", "pack_signs", "binarize", "ternarize", "xnor_gemm", "xnor_gemm_masked", "xnor_gemm_threshold",
       "binary_weight_matmul", "binary_weight_matmul_t",
       "ternary_weight_matmul", "ternary_weight_matmul_t", "shift_matmul", "binary_linear", "ternary_linear",
       "binarized_linear")

__all__ = list(OPS) + ["OPS"]
