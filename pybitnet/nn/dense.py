"""Dense layers: float, BinaryConnect, ternary connect and the BNN binary layer.

Weights are stored as (out_features, in_features) rows, the layout of the
packed weight bits the kernels take. Binary parts run on pybitnet's kernels:
the forward pass and the backward pass to the input do additions and
subtractions only; with ``qbp=True`` the weight gradient is a shift-add GEMM
on the power-of-two-quantized input (Lin et al. 2015).
"""
from __future__ import annotations

import math
from typing import Optional, Union

import numpy as np

from . import _ops as K
from .module import Module, Parameter


def glorot_w0(fan_in: int, fan_out: int) -> float:
    """W0 = sqrt(6 / (fan_in + fan_out)) / 2: the binary weight magnitude of BC-M / ternary connect."""
    return math.sqrt(6.0 / (fan_in + fan_out)) / 2


def glorot_lr_scale(fan_in: int, fan_out: int) -> float:
    """Per-layer learning-rate factor of BinaryConnect / BNN: 1 / sqrt(1.5 / (fan_in + fan_out))."""
    return 1.0 / math.sqrt(1.5 / (fan_in + fan_out))


def _uniform(rng, bound, shape):
    return rng.uniform(-bound, bound, shape).astype(np.float32)


class _Affine(Module):
    """The products of a layer whose weight rows ``weight.value.reshape(F, -1)``
    multiply 2-D input rows: Dense applies them to its input, the conv layers
    to im2col rows. Float weights."""

    weight: Parameter
    bias: Optional[Parameter]

    def own_parameters(self):
        return [self.weight] + ([self.bias] if self.bias is not None else [])

    def _weight_rows(self):
        w = self.weight.value
        return w.reshape(w.shape[0], -1)

    def _accumulate_weight_grad(self, compute):
        """weight.grad += compute(out) with `compute` working on (F, K) rows."""
        shape = self.weight.shape
        self.weight.accumulate_from(
            lambda out: compute(None if out is None else out.reshape(shape[0], -1)).reshape(shape))

    def _add_bias(self, y):
        """y += bias, in place: y is the product's fresh output array."""
        if self.bias is not None:
            y += self.bias.value
        return y

    def _rows_forward(self, x, x_bits=None):
        self._x = x
        return self._add_bias(K.float_matmul(x, self._weight_rows()))

    def _rows_backward(self, grad, input_grad: bool = True):
        """Accumulate the parameter gradients of rows `grad`; return the input-row gradient
        (None when not `input_grad` or not needs_input_grad)."""
        x = self._x
        self._accumulate_weight_grad(lambda out: K.float_weight_grad(grad, x, out))
        if self.bias is not None:
            self.bias.accumulate(grad.sum(axis=0))
        return self._rows_input_grad(grad) if input_grad and self.needs_input_grad else None

    def _rows_input_grad(self, grad):
        """Only the input-row gradient of rows `grad` (the conv layers compute it in chunks)."""
        return K.float_matmul_t(grad, self._weight_rows())


class _BinaryAffine(_Affine):
    """BinaryConnect products on rows (see :class:`BinaryDense`), shared by the
    dense and the conv layers: packed binary weights, XNOR-popcount on packed
    ±1 input rows, add/sub (or shift with qbp) gradients."""

    sampler = "binary"

    def _init_binary(self, fan_in, fan_out, shape, *, scale, stochastic, qbp, binary_input, lr_scale, seed):
        self.H = glorot_w0(fan_in, fan_out) if scale == "glorot" else float(scale)
        if lr_scale == "glorot":
            lr_scale = glorot_lr_scale(fan_in, fan_out)
        rng = np.random.default_rng(seed)
        # BC-M / Few-Mult draw W ~ U(-2 W0, 2 W0) and clip to +-W0 from the first update on (about half
        # the weights start saturated); with H = 1 (BC-L, BNN) the draw is U(-1, 1).
        init = 2 * self.H if scale == "glorot" else self.H
        self.weight = Parameter(_uniform(rng, init, shape), "weight", clip=self.H, lr_scale=lr_scale or 1.0)
        self.qbp_error_from = None
        self.stochastic, self.qbp, self.binary_input = stochastic, qbp, binary_input
        self.seed = seed
        self.step = np.zeros((), np.int64)  # counter-based sampling: resumable and reproducible

    def buffers(self):
        return {"step": self.step}

    def _sample_seed(self) -> int:
        return (self.seed * 0x9E3779B1 + int(self.step) * 0x85EBCA77 + 1) % (2**63)

    def _sample(self, stochastic: bool):
        return K.sample_weights(self.sampler, self._weight_rows(), stochastic, self._sample_seed(), self.H)

    def _real_weights_now(self) -> bool:
        """Stochastic layers evaluate with the real-valued weights, as in the papers' code."""
        return not self.training and self.stochastic

    def _rows_forward(self, x, x_bits=None):
        """Rows `x` (float; may be None when `x_bits`, the packed ±s/0 rows, are given) times W_b.T."""
        if self._real_weights_now():
            return _Affine._rows_forward(self, x)
        stochastic = self.stochastic and self.training
        if stochastic:
            self.step += 1
        self._w = self._sample(stochastic)
        self._x = None if x_bits is not None else x  # the bits serve the weight gradient
        self._x_bits = x_bits
        return self._add_bias(K.weight_matmul(x, self._w, self.H, x_bits=x_bits))

    def _rows_backward(self, grad, input_grad: bool = True):
        if self._real_weights_now():
            return _Affine._rows_backward(self, grad, input_grad)
        if self.bias is not None:
            self.bias.accumulate(grad.sum(axis=0))
        seed = self._sample_seed() ^ 0x5DEECE66D
        x, x_bits = self._x, self._x_bits
        e = grad
        if self.qbp and self.qbp_error_from is not None:  # Few-Mult: the error at the BN output
            e = self.qbp_error_from.grad_output.reshape(grad.shape)
        self._accumulate_weight_grad(
            lambda out: K.weight_grad(e, x, qbp=self.qbp, seed=seed, x_bits=x_bits, out=out))
        return self._rows_input_grad(grad) if input_grad and self.needs_input_grad else None

    def _rows_input_grad(self, grad):
        if self._real_weights_now():
            return _Affine._rows_input_grad(self, grad)
        return K.weight_matmul_t(grad, self._w, self.H)


class Dense(_Affine):
    """Float dense layer y = x @ W.T + b (the full-precision baseline)."""

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True, seed: int = 0):
        rng = np.random.default_rng(seed)
        bound = math.sqrt(6.0 / (in_features + out_features))
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(_uniform(rng, bound, (out_features, in_features)), "weight")
        self.bias = Parameter(np.zeros(out_features, np.float32), "bias") if bias else None

    def forward(self, x):
        return self._rows_forward(x)

    def backward(self, grad):
        return self._rows_backward(grad)

    def __repr__(self):
        return f"{type(self).__name__}({self.in_features}, {self.out_features})"


class BinaryDense(_BinaryAffine, Dense):
    """BinaryConnect dense layer (Courbariaux et al. 2015).

    Forward and backward use W_b = H * sign(W) (deterministic) or H * (±1
    sampled with P(+1) = hard_sigmoid(W / H)) (stochastic); the real-valued W
    accumulates the gradient dC/dW_b and is clipped to [-H, H].

    Parameters
    ----------
    scale : float or "glorot"
        H. ``"glorot"`` gives W0 = sqrt(6/(fan_in+fan_out))/2 (the BC-M and
        ternary-connect recipe; W is then drawn from U(-2 W0, 2 W0) as in that
        code, and the first update clips it); 1.0 is BC-L / BNN (W ~ U(-1, 1)).
    stochastic : bool
        Stochastic binarization at train time. Evaluation then uses the real
        weights, as in the papers' code; deterministic layers evaluate with
        the binary weights.
    qbp : bool
        Quantized back-propagation: the weight gradient uses the input
        quantized to signed powers of two, so it is a shift-add GEMM. Set the
        attribute ``qbp_error_from`` to the BatchNorm that follows the layer to
        use, as the Few-Multiplications code does, the error at that BN's
        output (the BN Jacobian skipped) instead of the exact one.
    binary_input : bool
        The input is ±1 (a BNN hidden layer): the forward pass packs it and
        runs the XNOR-popcount GEMM, and the weight gradient is an add/sub GEMM.
    lr_scale : float or "glorot" or None
        Learning-rate factor of the weights (``"glorot"``: the BC/BNN per-layer scale).
    """

    def __init__(self, in_features: int, out_features: int, *, scale: Union[float, str] = 1.0,
                 stochastic: bool = False, qbp: bool = False, binary_input: bool = False,
                 lr_scale: Union[float, str, None] = None, bias: bool = True, seed: int = 0):
        super().__init__(in_features, out_features, bias=bias, seed=seed)
        self._init_binary(in_features, out_features, (out_features, in_features), scale=scale,
                          stochastic=stochastic, qbp=qbp, binary_input=binary_input, lr_scale=lr_scale, seed=seed)

    def forward(self, x):
        packed = self.binary_input and not self._real_weights_now()
        return self._rows_forward(x, K.pack_input(x) if packed else None)

    def __repr__(self):
        flags = [f"H={self.H:.4g}"] + [n for n in ("stochastic", "qbp", "binary_input") if getattr(self, n)]
        return f"{type(self).__name__}({self.in_features}, {self.out_features}, {', '.join(flags)})"


class TernaryDense(BinaryDense):
    """Ternary connect dense layer (Lin et al. 2015): W_t = H * sign(W) *
    Bernoulli(clip(|W|/H, 0, 1)) at train time (zeros are skipped by the
    kernels, not multiplied); the real weights at test time. Stochastic by
    default, with H = W0 ("glorot"), as in the paper's code."""

    sampler = "ternary"

    def __init__(self, in_features: int, out_features: int, *, scale: Union[float, str] = "glorot",
                 stochastic: bool = True, qbp: bool = False, lr_scale: Union[float, str, None] = None,
                 bias: bool = True, seed: int = 0):
        super().__init__(in_features, out_features, scale=scale, stochastic=stochastic, qbp=qbp,
                         lr_scale=lr_scale, bias=bias, seed=seed)


class BinarizedDense(BinaryDense):
    """The BNN dense layer (Hubara et al. 2016): binary weights (H = 1,
    deterministic) on ±1 inputs from :class:`~pybitnet.nn.SteSign`; forward by
    XNOR-popcount. Set ``binary_input=False`` for the first layer (real inputs)."""

    def __init__(self, in_features: int, out_features: int, *, binary_input: bool = True,
                 lr_scale: Union[float, str, None] = "glorot", bias: bool = True, seed: int = 0,
                 qbp: bool = False):
        super().__init__(in_features, out_features, scale=1.0, stochastic=False, qbp=qbp,
                         binary_input=binary_input, lr_scale=lr_scale, bias=bias, seed=seed)
