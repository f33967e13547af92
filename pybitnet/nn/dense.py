"""Dense layers: one :class:`Dense` for float, BinaryConnect, ternary connect and BNN layers.

Weights are stored as (out_features, in_features) rows, the layout of the
packed weight bits the kernels take. A layer is float, or composes a weight
quantizer (:mod:`pybitnet.nn.quantizers`); its binary parts run on pybitnet's
kernels: the forward pass and the backward pass to the input do additions and
subtractions only (XNOR-popcount on ±1 inputs); with ``qbp=True`` the weight
gradient is a shift-add GEMM on the power-of-two-quantized input (Lin et al.
2015). :class:`BinaryDense`, :class:`TernaryDense` and :class:`BinarizedDense`
are the papers' layers as thin factories of :class:`Dense`.
"""
from __future__ import annotations

import math
import numbers
from typing import Optional, Union

import numpy as np

from . import _ops as K
from .module import Module, Parameter, checks_grad_shape, records_output_shape
from .quantizers import (SampledWeights, Scale, SignWeights, TernaryWeights, WeightQuantizer, glorot_lr_scale,
                         glorot_w0)

__all__ = ["Dense", "BinaryDense", "TernaryDense", "BinarizedDense", "glorot_w0", "glorot_lr_scale"]


def _uniform(rng, bound, shape):
    return rng.uniform(-bound, bound, shape).astype(np.float32)


class _Affine(Module):
    """The products of a layer whose weight rows ``weight.value.reshape(F, -1)``
    multiply 2-D input rows: Dense applies them to its input, Conv2D to im2col
    rows. Float, or quantized by ``self.quantizer``."""

    weight: Parameter
    bias: Optional[Parameter]
    quantizer: Optional[WeightQuantizer] = None
    binary_input = False
    qbp = False
    qbp_error_from = None

    def _init_weights(self, fan_in, fan_out, shape, *, quantizer, qbp, binary_input, lr_scale, bias, seed):
        if quantizer is not None and not isinstance(quantizer, WeightQuantizer):
            raise TypeError(f"weight_quantizer must be a WeightQuantizer (SignWeights, TernaryWeights) or None, "
                            f"got {type(quantizer).__name__}")
        if (qbp or binary_input) and quantizer is None:
            raise ValueError("qbp and binary_input need a weight_quantizer (the float layer has neither)")
        self.quantizer, self.qbp, self.binary_input, self.seed = quantizer, bool(qbp), bool(binary_input), seed
        if lr_scale == "glorot":
            lr_scale = glorot_lr_scale(fan_in, fan_out)
        rng = np.random.default_rng(seed)
        if quantizer is None:
            self.H = None
            self.weight = Parameter(_uniform(rng, math.sqrt(6.0 / (fan_in + fan_out)), shape), "weight",
                                    lr_scale=lr_scale or 1.0)
        else:
            self.H = quantizer.magnitude(fan_in, fan_out)
            self.weight = Parameter(_uniform(rng, quantizer.init_bound(fan_in, fan_out), shape), "weight",
                                    clip=self.H, lr_scale=lr_scale or 1.0)
            self.step = np.zeros((), np.int64)  # counter-based sampling: resumable and reproducible
        self.bias = Parameter(np.zeros(shape[0], np.float32), "bias") if bias else None

    @property
    def stochastic(self) -> bool:
        return self.quantizer is not None and self.quantizer.stochastic

    def own_parameters(self):
        return [self.weight] + ([self.bias] if self.bias is not None else [])

    def buffers(self):
        return {"step": self.step} if self.quantizer is not None else {}

    def _weight_rows(self):
        """The weights as (F, K) rows, read-only (a view: the packed-sign cache stays valid)."""
        w = self.weight.view()
        return w.reshape(w.shape[0], -1)

    def _keeps_signs(self) -> bool:
        """Deterministic binary weights: their packed signs are a function of the weights alone, so an
        optimizer updating them in backward packs them for the next forward."""
        return self.quantizer is not None and self.quantizer.kind == "binary" and not self.quantizer.stochastic

    def _accumulate_weight_grad(self, compute):
        """weight.grad += compute(out) with `compute` working on (F, K) rows."""
        shape = self.weight.shape
        self.weight.accumulate_from(
            lambda out: compute(None if out is None else out.reshape(shape[0], -1)).reshape(shape))

    def _bias_value(self):
        return None if self.bias is None else self.bias.value

    def _sample_seed(self) -> int:
        return (self.seed * 0x9E3779B1 + int(self.step) * 0x85EBCA77 + 1) % (2**63)

    def _real_weights_now(self) -> bool:
        """Float layers, and stochastic layers in evaluation (the papers' code evaluates them with the real
        weights), multiply by the real weights."""
        return self.quantizer is None or (not self.training and self.quantizer.stochastic)

    def _rows_forward(self, x, x_bits=None):
        """Rows `x` (float; may be None when `x_bits`, the packed ±s/0 rows, are given) times the weights."""
        if self._real_weights_now():
            self._x = x
            return K.add_bias(K.float_matmul(x, self._weight_rows()), self._bias_value())
        stochastic = self.quantizer.stochastic and self.training
        if stochastic:
            self.step += 1
        w = self._weight_rows()
        cached = self.weight.cached_signs(*w.shape) if self._keeps_signs() else None
        self._w = SampledWeights("binary", w.shape[1], cached) if cached is not None else \
            self.quantizer.sample(w, self.H, stochastic=stochastic, seed=self._sample_seed())
        self._x = None if x_bits is not None else x  # the bits serve the weight gradient
        self._x_bits = x_bits
        return K.weight_matmul(x, self._w, self.H, x_bits=x_bits, bias=self._bias_value())

    def _rows_backward(self, grad, input_grad: bool = True):
        """Accumulate the parameter gradients of rows `grad`; return the input-row gradient
        (None when not `input_grad` or not needs_input_grad)."""
        if self.bias is not None:
            self.bias.accumulate(grad.sum(axis=0))
        if self._real_weights_now():
            x = self._x
            self._accumulate_weight_grad(lambda out: K.float_weight_grad(grad, x, out))
        else:
            seed = self._sample_seed() ^ 0x5DEECE66D
            x, x_bits = self._x, self._x_bits
            e = grad
            if self.qbp and self.qbp_error_from is not None:  # Few-Mult: the error at the BN output
                e = self.qbp_error_from.grad_output.reshape(grad.shape)
            dw = K.weight_grad(e, x, qbp=self.qbp, seed=seed, x_bits=x_bits)
            if self.weight.updates_in_backward():
                self.weight.updater.backward_update(self.weight, dw, pack_signs=self._keeps_signs())
            else:
                self._accumulate_weight_grad(dw.compute)
        return self._rows_input_grad(grad) if input_grad and self.needs_input_grad else None

    def _rows_input_grad(self, grad):
        """Only the input-row gradient of rows `grad` (the conv layers compute it in chunks)."""
        if self._real_weights_now():
            return K.float_matmul_t(grad, self._weight_rows())
        return K.weight_matmul_t(grad, self._w, self.H)

    def _flags(self):
        if self.quantizer is None:
            return []
        flags = [f"{self.quantizer.kind}, H={self.H:.4g}"]
        return flags + [n for n in ("stochastic", "qbp", "binary_input") if getattr(self, n)]


class Dense(_Affine):
    """Dense layer y = x @ W_q.T + b, W_q the real weights W or their quantization.

    Parameters
    ----------
    in_features, out_features : int
    weight_quantizer : WeightQuantizer or None
        None: the float layer (Glorot-uniform W). :class:`~pybitnet.nn.SignWeights` (BinaryConnect,
        BNN) or :class:`~pybitnet.nn.TernaryWeights` (ternary connect): the forward and backward
        products use the packed quantized weights, the real W accumulates dC/dW_q and is clipped
        to [-H, H].
    qbp : bool
        Quantized back-propagation (Lin et al. 2015): the weight gradient uses the input quantized
        to signed powers of two, so it is a shift-add GEMM. Set the attribute ``qbp_error_from``
        to the BatchNorm that follows the layer to use, as the Few-Multiplications code does, the
        error at that BN's output (the BN Jacobian skipped) instead of the exact one.
    binary_input : bool
        The input is ±s, or 0 where dropout dropped a unit (a BNN hidden layer): it is packed once,
        the forward is an XNOR-popcount GEMM (masked where zeros are) and the weight gradient an
        add/sub GEMM.
    lr_scale : float, "glorot" or None
        Learning-rate factor of the weights (``"glorot"``: the BC/BNN per-layer scale).
    bias : bool
    seed : int
        Initialization and, for stochastic quantizers, the counter-based samples.
    """

    def __init__(self, in_features: int, out_features: int, *, weight_quantizer: Optional[WeightQuantizer] = None,
                 qbp: bool = False, binary_input: bool = False, lr_scale: Union[float, str, None] = None,
                 bias: bool = True, seed: int = 0):
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise ValueError(f"{name} must be an int >= 1, got {v!r}")
        self.in_features, self.out_features = in_features, out_features
        self._init_weights(in_features, out_features, (out_features, in_features), quantizer=weight_quantizer,
                           qbp=qbp, binary_input=binary_input, lr_scale=lr_scale, bias=bias, seed=seed)

    @records_output_shape
    def forward(self, x):
        packed = self.binary_input and not self._real_weights_now()
        return self._rows_forward(x, K.pack_input(x) if packed else None)

    @checks_grad_shape
    def backward(self, grad):
        return self._rows_backward(grad)

    def __repr__(self):
        return f"{_display_name(self)}({', '.join([str(self.in_features), str(self.out_features)] + self._flags())})"


class _LayerFactory(type):
    """The papers' layer names as factories of the one composed layer; ``isinstance`` still answers
    whether a layer is of that kind."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, cls.base) and cls.matches(obj)


def _quantized(obj, kind: Optional[str] = None) -> bool:
    q = obj.quantizer
    return q is not None and (kind is None or q.kind == kind)


def _bnn(obj) -> bool:
    """Binary weights with H = 1, deterministic: the BNN layer."""
    return _quantized(obj, "binary") and obj.H == 1.0 and not obj.quantizer.stochastic


def _display_name(layer) -> str:
    if _bnn(layer):
        return "BinarizedDense" if isinstance(layer, Dense) else "BinarizedConv2D"
    if _quantized(layer):
        kind = "Ternary" if layer.quantizer.kind == "ternary" else "Binary"
        return f"{kind}Dense" if isinstance(layer, Dense) else f"{kind}Conv2D"
    return type(layer).__name__


class BinaryDense(metaclass=_LayerFactory):
    """BinaryConnect dense layer (Courbariaux et al. 2015): ``Dense`` with
    ``SignWeights(scale, stochastic)``.

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
    qbp, binary_input, lr_scale, bias, seed
        As :class:`Dense`.
    """

    base = Dense
    matches = staticmethod(_quantized)

    def __new__(cls, in_features: int, out_features: int, *, scale: Scale = 1.0, stochastic: bool = False,
                qbp: bool = False, binary_input: bool = False, lr_scale: Union[float, str, None] = None,
                bias: bool = True, seed: int = 0) -> Dense:
        return Dense(in_features, out_features, weight_quantizer=SignWeights(scale, stochastic), qbp=qbp,
                     binary_input=binary_input, lr_scale=lr_scale, bias=bias, seed=seed)


class TernaryDense(metaclass=_LayerFactory):
    """Ternary connect dense layer (Lin et al. 2015): ``Dense`` with ``TernaryWeights``:
    W_t = H * sign(W) * Bernoulli(clip(|W|/H, 0, 1)) at train time (zeros are skipped by the
    kernels, not multiplied); the real weights at test time. Stochastic by default, with H = W0
    ("glorot"), as in the paper's code."""

    base = Dense
    matches = staticmethod(lambda obj: _quantized(obj, "ternary"))

    def __new__(cls, in_features: int, out_features: int, *, scale: Scale = "glorot", stochastic: bool = True,
                qbp: bool = False, lr_scale: Union[float, str, None] = None, bias: bool = True,
                seed: int = 0) -> Dense:
        return Dense(in_features, out_features, weight_quantizer=TernaryWeights(scale, stochastic), qbp=qbp,
                     lr_scale=lr_scale, bias=bias, seed=seed)


class BinarizedDense(metaclass=_LayerFactory):
    """The BNN dense layer (Hubara et al. 2016): ``Dense`` with ``SignWeights(1.0)`` (binary
    weights, H = 1, deterministic) on ±1 inputs from :class:`~pybitnet.nn.SteSign`; forward by
    XNOR-popcount; Glorot LR scale. Set ``binary_input=False`` for the first layer (real inputs)."""

    base = Dense
    matches = staticmethod(_bnn)

    def __new__(cls, in_features: int, out_features: int, *, binary_input: bool = True,
                lr_scale: Union[float, str, None] = "glorot", bias: bool = True, seed: int = 0,
                qbp: bool = False) -> Dense:
        return Dense(in_features, out_features, weight_quantizer=SignWeights(1.0), qbp=qbp,
                     binary_input=binary_input, lr_scale=lr_scale, bias=bias, seed=seed)
