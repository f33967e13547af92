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


class Dense(Module):
    """Float dense layer y = x @ W.T + b (the full-precision baseline)."""

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True, seed: int = 0):
        rng = np.random.default_rng(seed)
        bound = math.sqrt(6.0 / (in_features + out_features))
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(_uniform(rng, bound, (out_features, in_features)), "weight")
        self.bias = Parameter(np.zeros(out_features, np.float32), "bias") if bias else None

    def own_parameters(self):
        return [self.weight] + ([self.bias] if self.bias is not None else [])

    def forward(self, x):
        self._x = x
        y = K.float_matmul(x, self.weight.value)
        return y + self.bias.value if self.bias is not None else y

    def backward(self, grad):
        self.weight.accumulate_from(lambda out: K.float_weight_grad(grad, self._x, out))
        if self.bias is not None:
            self.bias.accumulate(grad.sum(axis=0))
        return K.float_matmul_t(grad, self.weight.value) if self.needs_input_grad else None

    def __repr__(self):
        return f"{type(self).__name__}({self.in_features}, {self.out_features})"


class BinaryDense(Dense):
    """BinaryConnect dense layer (Courbariaux et al. 2015).

    Forward and backward use W_b = H * sign(W) (deterministic) or H * (±1
    sampled with P(+1) = hard_sigmoid(W / H)) (stochastic); the real-valued W
    accumulates the gradient dC/dW_b and is clipped to [-H, H].

    Parameters
    ----------
    scale : float or "glorot"
        H. ``"glorot"`` gives W0 = sqrt(6/(fan_in+fan_out))/2 (the BC-M and
        ternary-connect recipe); 1.0 is BC-L / BNN.
    stochastic : bool
        Stochastic binarization at train time. Evaluation then uses the real
        weights, as in the papers' code; deterministic layers evaluate with
        the binary weights.
    qbp : bool
        Quantized back-propagation: the weight gradient uses the input
        quantized to signed powers of two, so it is a shift-add GEMM.
    binary_input : bool
        The input is ±1 (a BNN hidden layer): the forward pass packs it and
        runs the XNOR-popcount GEMM, and the weight gradient is an add/sub GEMM.
    lr_scale : float or "glorot" or None
        Learning-rate factor of the weights (``"glorot"``: the BC/BNN per-layer scale).
    """

    sampler = "binary"

    def __init__(self, in_features: int, out_features: int, *, scale: Union[float, str] = 1.0,
                 stochastic: bool = False, qbp: bool = False, binary_input: bool = False,
                 lr_scale: Union[float, str, None] = None, bias: bool = True, seed: int = 0):
        super().__init__(in_features, out_features, bias=bias, seed=seed)
        self.H = glorot_w0(in_features, out_features) if scale == "glorot" else float(scale)
        if lr_scale == "glorot":
            lr_scale = glorot_lr_scale(in_features, out_features)
        rng = np.random.default_rng(seed)
        self.weight = Parameter(_uniform(rng, self.H, (out_features, in_features)), "weight", clip=self.H,
                                lr_scale=lr_scale or 1.0)
        self.stochastic, self.qbp, self.binary_input = stochastic, qbp, binary_input
        self.seed = seed
        self.step = np.zeros((), np.int64)  # counter-based sampling: resumable and reproducible

    def buffers(self):
        return {"step": self.step}

    def _sample_seed(self) -> int:
        return (self.seed * 0x9E3779B1 + int(self.step) * 0x85EBCA77 + 1) % (2**63)

    def _sample(self, stochastic: bool):
        return K.sample_weights(self.sampler, self.weight.value, stochastic, self._sample_seed(), self.H)

    def forward(self, x):
        if not self.training and self.stochastic:
            self._x = x
            return Dense.forward(self, x)  # real-valued weights at test time
        stochastic = self.stochastic and self.training
        if stochastic:
            self.step += 1
        self._w = self._sample(stochastic)
        self._x = x
        self._x_bits = K.pack_input(x) if self.binary_input else None
        y = K.weight_matmul(x, self._w, self.H, x_bits=self._x_bits)
        return y + self.bias.value if self.bias is not None else y

    def backward(self, grad):
        if self.bias is not None:
            self.bias.accumulate(grad.sum(axis=0))
        if not self.training and self.stochastic:
            self.weight.accumulate_from(lambda out: K.float_weight_grad(grad, self._x, out))
            return K.float_matmul_t(grad, self.weight.value) if self.needs_input_grad else None
        seed = self._sample_seed() ^ 0x5DEECE66D
        self.weight.accumulate_from(
            lambda out: K.weight_grad(grad, self._x, qbp=self.qbp, seed=seed, x_bits=self._x_bits, out=out))
        return K.weight_matmul_t(grad, self._w, self.H) if self.needs_input_grad else None

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
