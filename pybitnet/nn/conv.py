"""Convolution and pooling layers on NHWC activations, for training.

A convolution is im2col + the dense layers' products: the patches of the
(N, H, W, C) input become rows (N * OH * OW, KH * KW * C) in (kh, kw, c)
order, the filters (F, KH, KW, C) are the weight rows ``weight.reshape(F, -1)``,
and the very code of the dense layers (float, BinaryConnect, BNN XNOR) does the
forward product, the weight gradient and the input-row gradient. col2im
(a scatter-add over the KH * KW taps) turns the input-row gradient back into
an image gradient.

Binary (±1) inputs of :class:`BinaryConv2D` are packed: with ``pad_value="one"``
the spatial padding holds +1 (zero bits), so the forward is one XNOR-popcount
GEMM and the weight gradient an add/sub GEMM on the packed rows, which are
gathered from the packed image when C % 64 == 0
(:func:`pybitnet.conv_bits.im2col_bits`): the float patches are never
built. ``pad_value="zero"`` (what Lasagne does, so the BNN papers' code) makes
the rows ternary: the padded taps are masked out of the XNOR-popcount
(``xnor_gemm(..., mask=)``) and of the add/sub weight gradient, still exactly.
"""
from __future__ import annotations

import functools
import math
from typing import Optional, Tuple, Union

import numpy as np

import pybitnet
from ..conv_bits import (col2im_add, conv_output_size, im2col, im2col_bits, maxpool_backward, maxpool_forward,
                         padded_taps, pair as _pair, tap_views as _taps)
from . import _ops as K
from .dense import _Affine, _bnn, _display_name, _LayerFactory, _quantized
from .module import Module, checks_grad_shape, records_output_shape
from .quantizers import Scale, SignWeights, WeightQuantizer

_CHUNK_BYTES = 4 << 20  # input-row gradient held at once: col2im then reads it from cache, image chunk by chunk


def _geometry(x_shape, kernel, stride, padding) -> Tuple[int, int]:
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    _, h, w, _ = x_shape
    oh, ow = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
    if oh < 1 or ow < 1:
        raise ValueError(f"kernel {kh}x{kw} does not fit the padded {h}x{w} input")
    return oh, ow


@functools.lru_cache(maxsize=16)
def _zero_padding(shape, kernel, stride, padding) -> Tuple[np.ndarray, np.ndarray]:
    """For im2col rows of an NHWC input whose only zeros are the padding (read-only, cached: a
    zero-padded BNN conv asks for the same ones every step): the packed nonzero mask, and the
    (OH * OW, KH * KW) bool padded taps of each output position."""
    ones = np.full(shape, -1.0, np.float32)  # sign bit set = kept
    mask = im2col_bits(pybitnet.pack_signs(ones, axis=-1), kernel, stride=stride, padding=padding)
    taps = padded_taps(shape[1], shape[2], kernel, stride, padding).reshape(-1, kernel[0] * kernel[1])
    mask.flags.writeable = taps.flags.writeable = False
    return mask, taps


class Conv2D(_Affine):
    """2-D convolution on NHWC input; filters (F, KH, KW, C). Float, or quantized like
    :class:`~pybitnet.nn.Dense` (the same products on im2col rows).

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, padding : int or (int, int)
    weight_quantizer, qbp, lr_scale, bias, seed
        As :class:`~pybitnet.nn.Dense`; Glorot fans are KH*KW*C_in and KH*KW*C_out.
    binary_input : bool
        The input is ±s (0 where dropout dropped a unit): packed rows, XNOR-popcount forward.
    pad_value : "zero", "one" or None
        What the spatial padding holds. None: "one" when `binary_input` (±1
        activations padded with +1, so the packed conv is a plain XNOR GEMM),
        else "zero". Zero padding of a binary input (Lasagne's, so the BNN
        papers') masks the padded taps out of the XNOR-popcount, exactly.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size=3, *, stride=1, padding=1,
                 weight_quantizer: Optional[WeightQuantizer] = None, qbp: bool = False, binary_input: bool = False,
                 pad_value: Optional[str] = None, lr_scale: Union[float, str, None] = None, bias: bool = True,
                 seed: int = 0):
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride")
        self.padding = _pair(padding, "padding")
        if min(self.kernel_size) < 1 or min(self.stride) < 1:
            raise ValueError("kernel_size and stride must be >= 1")
        if pad_value is None:
            pad_value = "one" if binary_input else "zero"
        if pad_value not in ("zero", "one"):
            raise ValueError(f"pad_value must be 'zero', 'one' or None, got {pad_value!r}")
        self.pad_value = pad_value
        fan_in, fan_out = self._fans()
        kh, kw = self.kernel_size
        self._init_weights(fan_in, fan_out, (self.out_channels, kh, kw, self.in_channels), quantizer=weight_quantizer,
                           qbp=qbp, binary_input=binary_input, lr_scale=lr_scale, bias=bias, seed=seed)

    def _fans(self):
        kh, kw = self.kernel_size
        return kh * kw * self.in_channels, kh * kw * self.out_channels

    def _check(self, x):
        if x.ndim != 4 or x.shape[3] != self.in_channels:
            raise ValueError(f"{_display_name(self)}: x must be NHWC with {self.in_channels} channels, "
                             f"got shape {x.shape}")

    def _float_pad(self) -> float:
        return 1.0 if self.pad_value == "one" else 0.0

    def _packs_input(self) -> bool:
        return self.binary_input and not self._real_weights_now()

    def _input_rows(self, x):
        """(float rows or None, packed rows or None) for the forward product."""
        if not self._packs_input():
            return im2col(x, self.kernel_size, stride=self.stride, padding=self.padding,
                          pad_value=self._float_pad()), None
        if self.in_channels % 64 == 0:  # whole words per tap: gather packed words, never the float patches
            signs, nonzero, scale = K.pack_scaled_ternary(x)  # one pass; nonzero: dropout zeros, or None
            geometry = dict(stride=self.stride, padding=self.padding)
            if self.pad_value == "one" and nonzero is None:
                bits = im2col_bits(signs, self.kernel_size, **geometry)
                return None, K.PackedInput(bits, None, scale, bits.shape[1] * 64)
            if self.pad_value == "zero":
                # zero padding is a ternary input: the padded taps (and dropped units) are masked out of
                # the XNOR-popcount, exactly; im2col_bits pads both the signs and the mask with zero words
                bits = im2col_bits(signs, self.kernel_size, **geometry)
                if nonzero is not None:
                    mask, pad = im2col_bits(nonzero, self.kernel_size, **geometry), None
                else:  # the mask is the padding alone: the weight gradient may take it as +1 and subtract
                    # the padded taps' sums (a binary table product, 5/3 the terms per lookup)
                    mask, pad = _zero_padding(x.shape, self.kernel_size, self.stride, self.padding)
                return None, K.PackedInput(bits, mask, scale, bits.shape[1] * 64, pad)
        # C % 64 != 0, or +1 padding with dropout zeros: float patches packed as ±s/0 rows (+1 padding: a kept +s)
        pad = (float(np.abs(x).max()) or 1.0) if (self.pad_value == "one" and x.size) else 0.0
        rows = im2col(x, self.kernel_size, stride=self.stride, padding=self.padding, pad_value=pad)
        return None, K.pack_input(rows)

    @records_output_shape
    def forward(self, x):
        self._check(x)
        x = np.ascontiguousarray(x, dtype=np.float32)
        n = x.shape[0]
        oh, ow = _geometry(x.shape, self.kernel_size, self.stride, self.padding)
        self._in_shape = x.shape
        rows, bits = self._input_rows(x)
        y = self._rows_forward(rows, bits)
        return y.reshape(n, oh, ow, self.out_channels)

    @checks_grad_shape
    def backward(self, grad):
        n, oh, ow, f = grad.shape
        g = np.ascontiguousarray(grad, dtype=np.float32).reshape(n * oh * ow, f)
        self._rows_backward(g, input_grad=False)  # the input gradient: image chunk by image chunk, below
        self._x = None
        if not self.needs_input_grad:
            return None
        dx = np.zeros(self._in_shape, np.float32)  # contiguous: the next backward (sign/BN) reads it as is
        row_bytes = oh * ow * self.kernel_size[0] * self.kernel_size[1] * self.in_channels * 4
        step = max(1, _CHUNK_BYTES // max(1, row_bytes))
        if not self._real_weights_now():  # packed filters: product and scatter fused in C++, chunk by chunk
            return K.conv_input_grad(g, self._w, self.H, dx, self.kernel_size, self.stride, self.padding, step)
        per_image = oh * ow
        for i in range(0, n, step):
            cols = self._rows_input_grad(g[i * per_image:(i + step) * per_image])
            col2im_add(cols, dx[i:i + step], self.kernel_size, stride=self.stride, padding=self.padding)
        return dx

    def __repr__(self):
        kh, kw = self.kernel_size
        flags = [f"{kh}x{kw}"] + ([f"stride={self.stride}"] if self.stride != (1, 1) else [])
        flags += [f"padding={self.padding}"] + self._flags()
        if self.binary_input or self.pad_value != "zero":
            flags.append(f"pad_value={self.pad_value!r}")
        return f"{_display_name(self)}({self.in_channels}, {self.out_channels}, {', '.join(flags)})"


class BinaryConv2D(metaclass=_LayerFactory):
    """BinaryConnect convolution: ``Conv2D`` with ``SignWeights(scale, stochastic)`` (filters
    W_b = ±H; the semantics of :class:`~pybitnet.nn.BinaryDense` applied to im2col rows)."""

    base = Conv2D
    matches = staticmethod(_quantized)

    def __new__(cls, in_channels: int, out_channels: int, kernel_size=3, *, stride=1, padding=1,
                scale: Scale = 1.0, stochastic: bool = False, qbp: bool = False, binary_input: bool = False,
                pad_value: Optional[str] = None, lr_scale: Union[float, str, None] = None, bias: bool = True,
                seed: int = 0) -> Conv2D:
        return Conv2D(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                      weight_quantizer=SignWeights(scale, stochastic), qbp=qbp, binary_input=binary_input,
                      pad_value=pad_value, lr_scale=lr_scale, bias=bias, seed=seed)


class BinarizedConv2D(metaclass=_LayerFactory):
    """The BNN convolution (Hubara et al. 2016): ``Conv2D`` with ``SignWeights(1.0)`` (binary
    filters, H = 1, deterministic) on ±1 inputs from :class:`~pybitnet.nn.SteSign`, forward by
    XNOR-popcount on packed patches; Glorot LR scale. ``binary_input=False`` for the first layer."""

    base = Conv2D
    matches = staticmethod(_bnn)

    def __new__(cls, in_channels: int, out_channels: int, kernel_size=3, *, stride=1, padding=1,
                binary_input: bool = True, pad_value: Optional[str] = None,
                lr_scale: Union[float, str, None] = "glorot", bias: bool = True, seed: int = 0) -> Conv2D:
        return Conv2D(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                      weight_quantizer=SignWeights(1.0), binary_input=binary_input, pad_value=pad_value,
                      lr_scale=lr_scale, bias=bias, seed=seed)


class MaxPool2D(Module):
    """Max-pooling of NHWC input over `size` windows every `stride` (default: `size`), no padding.

    ``ties``: where several window positions hold the maximum, ``"all"`` sends
    the gradient to each of them (Theano's ``MaxPoolGrad``, so the papers' code:
    ties are frequent on the integer outputs of binary convolutions), ``"first"``
    to the first in (kh, kw) order only."""

    def __init__(self, size=2, stride=None, ties: str = "all"):
        self.size = _pair(size, "size")
        self.stride = _pair(size if stride is None else stride, "stride")
        if min(self.size) < 1 or min(self.stride) < 1:
            raise ValueError("size and stride must be >= 1")
        if ties not in ("all", "first"):
            raise ValueError(f"ties must be 'all' or 'first', got {ties!r}")
        self.ties = ties

    @records_output_shape
    def forward(self, x):
        if x.ndim != 4:
            raise ValueError(f"MaxPool2D: x must be NHWC, got shape {x.shape}")
        oh, ow = _geometry(x.shape, self.size, self.stride, (0, 0))
        if x.dtype == np.float32 and x.flags.c_contiguous:  # the C++ kernel: np.maximum's bits, one threaded pass
            y = maxpool_forward(x, self.size, stride=self.stride)
        else:
            views = _taps(x, self.size, self.stride, (oh, ow))
            y = np.array(next(views))
            for view in views:
                np.maximum(y, view, out=y)
        self._in_shape = x.shape
        if self.ties == "all":
            self._x, self._y = x, y
            return y
        views = list(_taps(x, self.size, self.stride, (oh, ow)))
        index = np.min_scalar_type(len(views) - 1)  # uint8 up to 256 taps
        arg = np.zeros(y.shape, index)  # window index of the first maximum (ties: the first in (kh, kw) order)
        taken = views[0] == y
        for t, view in enumerate(views[1:], start=1):
            hit = view == y
            hit &= ~taken
            arg += hit.view(np.uint8) * index.type(t)
            taken |= hit
        self._arg = arg
        return y

    @checks_grad_shape
    def backward(self, grad):
        disjoint = all(s >= k for s, k in zip(self.stride, self.size))
        if self.ties == "all" and disjoint and self._x.dtype == np.float32 and self._x.flags.c_contiguous:
            # the C++ kernel (conv_bits.maxpool_backward): one pass, np.where's values (+0 at unhit taps)
            dx = maxpool_backward(self._x, self._y, np.ascontiguousarray(grad, dtype=np.float32), self.size,
                                  stride=self.stride)
            self._x = self._y = None
            return dx
        dx = np.zeros(self._in_shape, np.float32)
        oh, ow = grad.shape[1:3]
        # Windows that do not overlap (stride >= size) write disjoint taps: grad * hit straight into each
        # (4x faster than np.where; only the sign of a zero differs); a non-finite grad keeps np.where,
        # whose unhit taps stay 0 where Inf * 0 would be NaN.
        multiply = disjoint and bool(np.isfinite(grad).all())
        taps = _taps(dx, self.size, self.stride, (oh, ow))
        hits = ((xv == self._y) for xv in _taps(self._x, self.size, self.stride, (oh, ow))) if self.ties == "all" \
            else (self._arg == t for t in range(self.size[0] * self.size[1]))
        for view, hit in zip(taps, hits):
            if multiply:
                np.multiply(grad, hit, out=view)
            else:
                view += np.where(hit, grad, np.float32(0))
        self._x = self._y = None
        return dx

    def __repr__(self):
        s = f"MaxPool2D({self.size[0]}x{self.size[1]}"
        s += f", stride={self.stride}" if self.stride != self.size else ""
        return s + (", ties='first')" if self.ties == "first" else ")")


class Flatten(Module):
    """(N, H, W, C) -> (N, H*W*C) in (h, w, c) order."""

    @records_output_shape
    def forward(self, x):
        self._in_shape = x.shape
        return x.reshape(len(x), -1)

    @checks_grad_shape
    def backward(self, grad):
        return grad.reshape(self._in_shape)
