"""PyTorch modules on pybitnet's operators: BinaryConnect, ternary connect and BNN layers.

Each layer keeps a real-valued ``weight`` parameter that the optimizer updates;
the forward pass uses its binarized (or ternarized) copy through the
multiplication-free kernels, and the gradient w.r.t. the binary weights is
passed straight to the real ones (Courbariaux et al. 2015; Hubara et al. 2016).
After ``optimizer.step()`` call :func:`clip_weights` (or ``layer.clip_()``) to
keep the real weights in [-H, H], as the papers do.

Stochastic sampling uses torch's generator (``torch.manual_seed`` makes it
reproducible), so the layers trace under ``torch.compile`` without graph breaks.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from . import ops


def _glorot_uniform_(w: torch.Tensor, fan_in: int, fan_out: int, bound: float) -> None:
    with torch.no_grad():
        w.uniform_(-1, 1).mul_(min(bound, math.sqrt(6.0 / (fan_in + fan_out))))


class _ScaleGrad(torch.autograd.Function):
    """The identity, its gradient multiplied by `factor`."""

    @staticmethod
    def forward(ctx, x, factor: float):
        ctx.factor = factor
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.factor, None


def _straight_through(w: torch.Tensor, h: float) -> torch.Tensor:
    """`w` for a product whose output is then scaled by H: the real weights get the gradient
    w.r.t. the scaled binary weights ``H * Wb``, ``grad.T @ x`` (Courbariaux et al. 2015; what
    pybitnet.nn and the BinaryConnect code pass through), not H times it."""
    return w if h == 1.0 else _ScaleGrad.apply(w, 1.0 / h)


class _RealWeightLinear(nn.Module):
    """A linear layer whose real weights in [-H, H] are quantized in the forward pass."""

    def __init__(self, in_features: int, out_features: int, bias: bool, scale: float, stochastic: bool = False):
        super().__init__()
        self.in_features, self.out_features, self.H = in_features, out_features, float(scale)
        self.stochastic = stochastic
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        _glorot_uniform_(self.weight, in_features, out_features, self.H)
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"{type(self).__name__}: x must have in_features={self.in_features} on its last axis, "
                             f"got shape {tuple(x.shape)}")

    def _evaluates_real_weights(self) -> bool:
        """Stochastic layers evaluate with the real weights, as in the papers' code."""
        return self.stochastic and not self.training

    @torch.no_grad()
    def clip_(self) -> "_RealWeightLinear":
        """Clip the real weights to [-H, H] (call after the optimizer step)."""
        self.weight.clamp_(-self.H, self.H)
        return self

    def _inference_bits(self):
        """The packed sign(W) for inference without autograd, packed once per weight version
        (repacking 4096 x 4096 weights would cost more than the XNOR product itself); None
        while training, under autograd or when compiling (a cache is not traceable).

        The version is PyTorch's: an optimizer step, ``load_state_dict`` or any in-place op on the
        parameter bumps it. An edit through ``weight.data`` does not (PyTorch does not track it), so
        call :func:`forget_packed_weights` after one."""
        if self.training or torch.is_grad_enabled() or torch.compiler.is_compiling():
            return None
        key = (self.weight._version, self.weight.data_ptr())
        if getattr(self, "_bits_key", None) != key:
            self._bits, self._bits_key = ops.pack_signs(self.weight.detach()), key
        return self._bits

    def _finish(self, y: torch.Tensor) -> torch.Tensor:
        if self.H != 1.0:
            y = y * self.H
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, " \
               f"H={self.H}"


class BinaryLinear(_RealWeightLinear):
    """BinaryConnect linear layer: ``y = x @ (H * Wb).T + b`` with Wb = +-1.

    Deterministic: ``Wb = sign(W)``. Stochastic: ``Wb = +1`` with probability
    ``hard_sigmoid(W / H)``; evaluation then uses the real weights, as in the
    papers' code (deterministic layers evaluate with the binary weights). The
    product is ``pybitnet::binary_linear`` (additions only); the gradient reaches
    `x` through ``binary_weight_matmul_t`` and the real weights straight through.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, stochastic: bool = False,
                 scale: float = 1.0):
        super().__init__(in_features, out_features, bias, scale, stochastic)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        w = self.weight
        if self._evaluates_real_weights():
            return F.linear(x, w, self.bias)
        if self.stochastic:
            p = ((w.detach() / self.H + 1) / 2).clamp(0, 1)
            bits = ops.pack_signs(torch.where(torch.rand_like(p) < p, 1.0, -1.0))
        else:
            bits = self._inference_bits()
            if bits is None:
                bits = ops.pack_signs(w.detach())
        return self._finish(ops.binary_linear(x.reshape(-1, self.in_features), _straight_through(w, self.H), bits)
                            .reshape(*x.shape[:-1], self.out_features))


class TernaryLinear(_RealWeightLinear):
    """Ternary connect linear layer: weights in {-H, 0, +H}, zero weights skipped.

    Stochastic (default): ``T = sign(W) * Bernoulli(|W| / H)``; deterministic:
    ``sign(W)`` where ``|W| > H/2``, else 0. Evaluation of stochastic layers uses
    the real weights.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, stochastic: bool = True,
                 scale: float = 1.0):
        super().__init__(in_features, out_features, bias, scale, stochastic)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        w = self.weight
        if self._evaluates_real_weights():
            return F.linear(x, w, self.bias)
        a = (w.detach() / self.H).abs().clamp(max=1)
        keep = torch.rand_like(a) < a if self.stochastic else a > 0.5
        t = torch.where(keep, torch.where(w.detach() < 0, -1.0, 1.0), 0.0)
        y = ops.ternary_linear(x.reshape(-1, self.in_features), _straight_through(w, self.H), ops.pack_signs(t),
                               ops.pack_signs(-t.abs()))
        return self._finish(y.reshape(*x.shape[:-1], self.out_features))


class BinarizedLinear(_RealWeightLinear):
    """BNN linear layer: ``sign(x) @ sign(W).T`` by XNOR-popcount (Hubara et al. 2016).

    Both the input and the weights are binarized in the forward pass; gradients
    are straight-through (to `x` where ``|x| <= 1``). No bias by default: BNNs
    follow each layer with batch normalization.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = False, scale: float = 1.0):
        super().__init__(in_features, out_features, bias, scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        x2, bits = x.reshape(-1, self.in_features), self._inference_bits()
        if bits is not None:  # inference: weights packed once, the input packed per call
            y = ops.xnor_gemm(ops.pack_signs(x2), bits, self.in_features).to(torch.float32)
        else:
            y = ops.binarized_linear(x2, _straight_through(self.weight, self.H))
        return self._finish(y.reshape(*x.shape[:-1], self.out_features))


class BinaryConv2d(nn.Module):
    """BinaryConnect 2-d convolution: im2col (``F.unfold``) then the binary-weight GEMM.

    Weight (out, in, kh, kw) binarized deterministically; stride/padding/dilation
    as in ``nn.Conv2d`` (no groups).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 bias: bool = True, scale: float = 1.0):
        super().__init__()
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        if kh < 1 or kw < 1:
            raise ValueError(f"kernel_size must be >= 1, got {kernel_size}")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, (kh, kw)
        self.stride, self.padding, self.dilation, self.H = stride, padding, dilation, float(scale)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kh, kw))
        _glorot_uniform_(self.weight, in_channels * kh * kw, out_channels * kh * kw, self.H)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    @torch.no_grad()
    def clip_(self) -> "BinaryConv2d":
        self.weight.clamp_(-self.H, self.H)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"BinaryConv2d: x must be (N, {self.in_channels}, H, W) (NCHW, batched), "
                             f"got shape {tuple(x.shape)}")
        n, _, h, w = x.shape
        cols = F.unfold(x, self.kernel_size, dilation=self.dilation, padding=self.padding, stride=self.stride)
        k, l = cols.shape[1], cols.shape[2]
        w2 = self.weight.reshape(self.out_channels, k)
        y = ops.binary_linear(cols.transpose(1, 2).reshape(n * l, k).contiguous(), _straight_through(w2, self.H),
                              ops.pack_signs(w2.detach()))
        if self.H != 1.0:
            y = y * self.H
        if self.bias is not None:
            y = y + self.bias
        ho = _out_size(h, self.kernel_size[0], self.stride, self.padding, self.dilation, 0)
        wo = _out_size(w, self.kernel_size[1], self.stride, self.padding, self.dilation, 1)
        return y.reshape(n, ho, wo, self.out_channels).permute(0, 3, 1, 2)


def _out_size(size: int, kernel: int, stride, padding, dilation, dim: int) -> int:
    s, p, d = (v if isinstance(v, int) else v[dim] for v in (stride, padding, dilation))
    return (size + 2 * p - d * (kernel - 1) - 1) // s + 1


class Sign(nn.Module):
    """Sign activation (0 -> +1) with the straight-through estimator ``grad * (|x| <= 1)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ops.sign(x)


def forget_packed_weights(model: nn.Module) -> None:
    """Drop the packed weights the layers of `model` keep for inference, so that the next call packs
    them again: needed only after editing weights through ``.data``, which PyTorch does not version."""
    for m in model.modules():
        if isinstance(m, _RealWeightLinear):
            m._bits_key = None


def clip_weights(model: nn.Module) -> None:
    """Clip the real weights of every pybitnet layer in `model` (call after ``optimizer.step()``)."""
    for m in model.modules():
        if isinstance(m, (_RealWeightLinear, BinaryConv2d)):
            m.clip_()


__all__ = ["BinarizedLinear", "BinaryConv2d", "BinaryLinear", "Sign", "TernaryLinear", "clip_weights",
           "forget_packed_weights"]
