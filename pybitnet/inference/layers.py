"""The packed engine's layers and their typed epilogues.

A BNN layer computes ``sign(BN(dot + bias))``; with batch norm folded, what
follows the product is one of three epilogues:

- :class:`Threshold` ``(t, flip)``: an integer dot (XNOR-popcount) to a packed
  sign, -1 where ``dot < t`` (``dot > t`` where flipped, i.e. negative gamma);
- :class:`FloatThreshold` ``(t, s)``: a float dot (a first layer on real inputs)
  to a packed sign, -1 where ``(y - t) * s < 0``;
- :class:`Affine` ``(scale, shift)``: the last layer's logits ``dot * scale + shift``.

Layers (packed weights, 1 bit each, bit contract of :func:`pybitnet.pack_signs`):

- :class:`RealDense` / :class:`RealConv`: the input stage, real inputs to packed
  signs, :class:`FloatThreshold` epilogue;
- :class:`PackedConv`: a binary conv on packed NHWC bits, :class:`Threshold`
  epilogue, optional :class:`MaxPool` after the threshold;
- :class:`PackedDense`: a binary dense layer on packed rows, :class:`Threshold`
  epilogue, or :class:`Affine` for the last one.

Every kernel call of the engine is in the block of private functions below
("the kernels"): the few places where the choice of kernel (and of ISA
path) is made.
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Tuple, Union

import numpy as np

from .. import _bitops
from ..conv_bits import (binary_conv2d_threshold, conv_output_size, first_conv2d_threshold, im2col,
                         max_pool2d_bits)
from ..first_layer import bitplane_matmul, pixel_matmul_ops, pixel_panels, record_bitplane_ops, weight_row_sums
from ..gemm import xnor_gemm_ops, xnor_gemm_threshold_ops
from ..opcount import counting, record
from ..packing import pack_signs
from ..weight_matmul import binary_weight_matmul_ops


# ------------------------------------------------------------------------------------------------
# Epilogues
# ------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True, eq=False)
class Threshold:
    """Integer dot products to packed signs: +1 iff ``dot >= t`` (``dot <= t``
    where ``flip``, the channels of a decreasing batch norm). int32 t, bool flip."""

    t: np.ndarray
    flip: np.ndarray
    fields = (("t", np.int32), ("flip", np.bool_))

    @property
    def decreasing(self) -> np.ndarray:
        return self.flip


@dataclasses.dataclass(frozen=True, eq=False)
class FloatThreshold:
    """Float dot products to packed signs: +1 iff ``(y - t) * s >= 0``; float32 t
    (+-inf: a constant sign), float32 s = +-1 (-1: a decreasing batch norm)."""

    t: np.ndarray
    s: np.ndarray
    fields = (("t", np.float32), ("s", np.float32))

    @property
    def decreasing(self) -> np.ndarray:
        return self.s < 0


@dataclasses.dataclass(frozen=True, eq=False)
class Affine:
    """The last layer's logits ``dot * scale + shift`` (float32 per class)."""

    scale: np.ndarray
    shift: np.ndarray
    fields = (("scale", np.float32), ("shift", np.float32))


Epilogue = Union[Threshold, FloatThreshold, Affine]
EPILOGUES = {"threshold": Threshold, "float_threshold": FloatThreshold, "affine": Affine}


def epilogue_name(e: Epilogue) -> str:
    return next(name for name, cls in EPILOGUES.items() if isinstance(e, cls))


def check_epilogue(e: Epilogue, channels: int) -> Epilogue:
    """`e` with its arrays checked (dtype, shape (channels,), no NaN; no Inf in an
    affine; no zero float threshold sign s) and s normalised to +-1 and bool flips normalised to 0/1 bytes (a file's bool member may hold
    any byte). ValueError naming the problem."""
    arrays = {}
    for name, dtype in e.fields:
        a = getattr(e, name)
        if not isinstance(a, np.ndarray) or a.dtype != dtype or a.shape != (channels,):
            got = (a.dtype, a.shape) if isinstance(a, np.ndarray) else type(a).__name__
            raise ValueError(f"{epilogue_name(e)} {name} must be {np.dtype(dtype)} ({channels},), got {got}")
        if a.dtype == np.float32 and np.isnan(a).any():
            raise ValueError(f"NaN in its epilogue ({name})")
        if isinstance(e, Affine) and not np.isfinite(a).all():
            raise ValueError(f"Inf in its affine epilogue ({name})")
        if isinstance(e, FloatThreshold) and name == "s":
            # Only its sign counts: normalised to +-1, as flips to 0/1 (a tiny s made (y - t) * s
            # underflow to 0, i.e. +1, on one input path and not the other; s = 0 made every sign +1)
            if (a == 0).any():
                raise ValueError(f"float_threshold s must be +1 or -1 (the sign of its batch norm's gamma), "
                                 f"got 0 at channel {int(np.flatnonzero(a == 0)[0])}")
            a = np.where(a < 0, np.float32(-1), np.float32(1))
        arrays[name] = a.view(np.uint8) != 0 if a.dtype == np.bool_ else a
    return type(e)(**arrays)


@dataclasses.dataclass(frozen=True)
class MaxPool:
    """Max-pooling (no padding) of a conv's output, applied AFTER its threshold on
    packed signs: training pools before batch norm + sign, and a monotone
    per-channel map commutes with max (or turns it into min, for the flipped
    channels). size and stride as (h, w)."""

    size: Tuple[int, int]
    stride: Tuple[int, int]

    def out_size(self, h: int, w: int) -> Tuple[int, int]:
        return (h - self.size[0]) // self.stride[0] + 1, (w - self.size[1]) // self.stride[1] + 1


# ------------------------------------------------------------------------------------------------
# The kernels: every call the engine makes into _bitops or a kernel wrapper (one place; the
# layers' arrays were checked when the model was built, so the bindings are called directly
# where a wrapper's checks cost a measurable share of a batch-1 call).
# ------------------------------------------------------------------------------------------------

_PAD_ROWS = 8  # batches up to this size pad the first layer's input to whole words (below)


def _weight_rows_product(x: np.ndarray, w_bits: np.ndarray, k: int) -> np.ndarray:
    """``x @ sign(W).T`` (float32 (M, N)) for float32 rows `x`: the trained layer's
    product, bit for bit (training calls :func:`~pybitnet.binary_weight_matmul` on the same
    rows, and every kernel sums a row in one order whatever its batch or panel).

    Small batches get zero columns up to whole words: zeros add nothing, and with
    k % 64 == 0 the binding skips its scan of every weight row's padding bits (checked
    when the model was built): 4096 cache misses, ~8 us at batch 1.
    """
    m = x.shape[0]
    if k % 64 and m <= _PAD_ROWS:
        kp = w_bits.shape[1] * 64
        padded = np.zeros((m, kp), np.float32)
        padded[:, :k] = x
        y = _bitops.binary_weight_matmul(padded, w_bits, kp)
    else:
        y = _bitops.binary_weight_matmul(x, w_bits, k)
    record("binary_weight_matmul", lambda: binary_weight_matmul_ops(m, k, w_bits.shape[0]))
    return y


def _float_threshold_bits(y: np.ndarray, t: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Packed signs (last axis) of ``(y - t) * s``, in place on float32 `y`; -0.0 is +1."""
    y -= t
    return _bitops.pack_signs(np.multiply(y, s, out=y), -1)


def _first_conv_fused(x: np.ndarray, w_bits: np.ndarray, layer: "RealConv") -> np.ndarray:
    e = layer.epilogue
    return first_conv2d_threshold(x, w_bits, layer.kernel_size, e.t, e.s < 0, stride=layer.stride,
                                  padding=layer.padding)


def _pixel_product(p: np.ndarray, stage: "PixelInput", uint8_path: str) -> np.ndarray:
    """Exact int32 (or integer-valued float32) ``p . w`` of uint8 pixel rows."""
    layer = stage.layer
    if uint8_path == "bitplanes":
        return bitplane_matmul(p, layer.weight_bits, layer.in_features, stage.w_sums)
    # Exact int32 p . w (the same as the bit planes') with additions only, by the variant
    # the registry picks (AVX-512: subset-sum tables of the pixels in 16-bit lanes; AVX2:
    # tables of two pixel rows per dword, or masked adds below 64 weight rows; see
    # pybitnet.active_kernels()).
    s = _bitops.uint8_weight_matmul(p, stage.panels, layer.out_features)
    record("uint8_weight_matmul", lambda: pixel_matmul_ops(p.shape[0], layer.in_features, layer.out_features))
    return s


def _dense_threshold(bits: np.ndarray, layer: "PackedDense") -> np.ndarray:
    e = layer.epilogue
    out = _bitops.xnor_gemm_threshold(bits, layer.weight_bits, layer.in_features, e.t, e.flip)
    record("xnor_gemm_threshold", lambda: xnor_gemm_threshold_ops(bits.shape[0], layer.in_features,
                                                                  layer.out_features))
    return out


def _dense_dot(bits: np.ndarray, layer: "PackedDense") -> np.ndarray:
    dot = _bitops.xnor_gemm(bits, layer.weight_bits, layer.in_features)
    record("xnor_gemm", lambda: xnor_gemm_ops(bits.shape[0], layer.in_features, layer.out_features))
    return dot


def _native_mlp(first: "RealDense", dense, pixels: Optional["PixelInput"] = None) -> "_bitops.PackedMlp":
    """The whole MLP as one native object (src/bitops/inference/packed_mlp.h): the same
    kernels and float operations as the layers' forward passes, in one call, so a batch-1
    call with cold caches skips ~10 numpy operations' worth of interpreter work. With
    `pixels` (the model's input map), uint8 pixel rows too (``logits_pixels``)."""
    hidden = [(d.weight_bits, d.in_features, d.epilogue.t, d.epilogue.flip) for d in dense[:-1]]
    last = dense[-1]
    return _bitops.PackedMlp(first.weight_bits, first.in_features, first.epilogue.t, first.epilogue.s, hidden,
                             last.weight_bits, last.in_features, last.epilogue.scale, last.epilogue.shift,
                             pixel_t=None if pixels is None else pixels.t)


def _record_native_mlp(first: "RealDense", dense, m: int, pixels: Optional["PixelInput"] = None,
                       uint8_path: str = "adds") -> None:
    """The op counts of :func:`_native_mlp`'s call, as the layer-by-layer path records them (from
    uint8 pixels: `pixels` and the path)."""
    if not counting():
        return
    if pixels is None:
        record("binary_weight_matmul", binary_weight_matmul_ops(m, first.in_features, first.out_features))
    elif uint8_path == "bitplanes":
        record_bitplane_ops(m, first.in_features, first.out_features)
    else:
        record("uint8_weight_matmul", pixel_matmul_ops(m, first.in_features, first.out_features))
    for d in dense[:-1]:
        record("xnor_gemm_threshold", xnor_gemm_threshold_ops(m, d.in_features, d.out_features))
    record("xnor_gemm", xnor_gemm_ops(m, dense[-1].in_features, dense[-1].out_features))


def _conv_threshold(bits: np.ndarray, layer: "PackedConv") -> np.ndarray:
    e = layer.epilogue
    return binary_conv2d_threshold(bits, layer.weight_bits, layer.in_channels, e.t, e.flip, stride=layer.stride,
                                   padding=layer.padding, pad_value=layer.pad_value)


def _pool(bits: np.ndarray, pool: Optional[MaxPool], e: Epilogue) -> np.ndarray:
    if pool is None:
        return bits
    return max_pool2d_bits(bits, pool.size, pool.stride, flip=e.decreasing)


# ------------------------------------------------------------------------------------------------
# Layers
# ------------------------------------------------------------------------------------------------

def _words(k: int) -> int:
    return -(-k // 64)


def _padding_bits_zero(bits: np.ndarray, k: int) -> bool:
    return k % 64 == 0 or not (bits[..., -1] >> np.uint64(k % 64)).any()


def _check_bits(bits, shape, what: str) -> None:
    if not isinstance(bits, np.ndarray) or bits.dtype != np.uint64 or bits.shape != shape:
        got = (bits.dtype, bits.shape) if isinstance(bits, np.ndarray) else type(bits).__name__
        raise ValueError(f"{what} must be uint64 {shape}, got {got}")


@dataclasses.dataclass(eq=False)
class PackedDense:
    """A binary dense layer on packed input rows: weight_bits uint64 (out, ceil(in/64)),
    epilogue :class:`Threshold` (packed signs out) or :class:`Affine` (logits out)."""

    weight_bits: np.ndarray
    in_features: int
    epilogue: Union[Threshold, Affine]

    @property
    def out_features(self) -> int:
        return self.weight_bits.shape[0]

    def check(self) -> None:
        if self.in_features < 1 or not isinstance(self.epilogue, (Threshold, Affine)):
            raise ValueError(f"in_features {self.in_features}, epilogue {type(self.epilogue).__name__}")
        _check_bits(self.weight_bits, (self.weight_bits.shape[0], _words(self.in_features)), "weight_bits")
        if not _padding_bits_zero(self.weight_bits, self.in_features):
            raise ValueError(f"weight_bits has nonzero padding bits past in_features={self.in_features}")
        self.epilogue = check_epilogue(self.epilogue, self.out_features)

    def forward(self, bits: np.ndarray) -> np.ndarray:
        if isinstance(self.epilogue, Threshold):
            return _dense_threshold(bits, self)
        e = self.epilogue
        return (_dense_dot(bits, self) * e.scale + e.shift).astype(np.float32)


@dataclasses.dataclass(eq=False)
class PackedConv:
    """A binary conv on packed NHWC bits: weight_bits uint64 (F, KH, KW, ceil(C/64)),
    a :class:`Threshold` epilogue, the spatial padding's value ("one": +1, the fused
    kernel as is; "zero": Lasagne's, the fused kernel plus its border pixels redone),
    and an optional :class:`MaxPool` after the threshold."""

    weight_bits: np.ndarray
    in_channels: int
    stride: Tuple[int, int]
    padding: Tuple[int, int]
    pad_value: str
    epilogue: Threshold
    pool: Optional[MaxPool] = None

    @property
    def out_channels(self) -> int:
        return self.weight_bits.shape[0]

    @property
    def kernel_size(self) -> Tuple[int, int]:
        return self.weight_bits.shape[1], self.weight_bits.shape[2]

    def out_size(self, h: int, w: int) -> Tuple[int, int]:
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        h, w = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
        return self.pool.out_size(h, w) if self.pool is not None and h > 0 and w > 0 else (h, w)

    def check(self) -> None:
        if self.in_channels < 1 or self.pad_value not in ("zero", "one") or not isinstance(self.epilogue, Threshold):
            raise ValueError(f"in_channels {self.in_channels}, pad_value {self.pad_value!r}, "
                             f"epilogue {type(self.epilogue).__name__}")
        b = self.weight_bits
        if not isinstance(b, np.ndarray) or b.ndim != 4:
            raise ValueError(f"weight_bits must be uint64 (F, KH, KW, words), got {getattr(b, 'shape', b)}")
        _check_bits(b, b.shape[:3] + (_words(self.in_channels),), "weight_bits")
        if not _padding_bits_zero(b, self.in_channels):
            raise ValueError("weight_bits has nonzero padding bits")
        _check_geometry(self.kernel_size, self.stride, self.padding, self.pool)
        self.epilogue = check_epilogue(self.epilogue, self.out_channels)

    def forward(self, bits: np.ndarray) -> np.ndarray:
        return _pool(_conv_threshold(bits, self), self.pool, self.epilogue)


@dataclasses.dataclass(eq=False)
class RealDense:
    """The first dense layer, real-valued input rows (M, in_features) to packed signs:
    weight_bits uint64 (out, ceil(in/64)), a :class:`FloatThreshold` epilogue."""

    weight_bits: np.ndarray
    in_features: int
    epilogue: FloatThreshold

    @property
    def out_features(self) -> int:
        return self.weight_bits.shape[0]

    def check(self) -> None:
        if self.in_features < 1 or not isinstance(self.epilogue, FloatThreshold):
            raise ValueError(f"in_features {self.in_features}, epilogue {type(self.epilogue).__name__}")
        _check_bits(self.weight_bits, (self.weight_bits.shape[0], _words(self.in_features)), "weight_bits")
        if not _padding_bits_zero(self.weight_bits, self.in_features):
            raise ValueError(f"weight_bits has nonzero padding bits past in_features={self.in_features}")
        self.epilogue = check_epilogue(self.epilogue, self.out_features)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """float32 rows (M, in_features) -> packed signs (M, ceil(out/64))."""
        e = self.epilogue
        return _float_threshold_bits(_weight_rows_product(x, self.weight_bits, self.in_features), e.t, e.s)


class PixelInput:
    """uint8 pixels into a :class:`RealDense` whose model input is
    ``x = p * scale + offset``: ``y = scale * (p . w) + offset * sum(w)``, so the float
    threshold moves to an integer one on the exact ``p . w``. Built once per model."""

    def __init__(self, layer: RealDense, scale: float, offset: float):
        self.layer = layer
        self.w_sums = weight_row_sums(layer.weight_bits, layer.in_features).astype(np.int32)  # |sum| <= k < 2**22
        e = layer.epilogue
        t = (e.t.astype(np.float64) - offset * self.w_sums) / scale
        # +1 iff p . w >= t (s > 0) or <= t (s < 0); p . w is an integer
        t = np.where(e.s > 0, np.ceil(t), np.floor(t))
        self.t = np.clip(t, -(2.0**30), 2.0**30).astype(np.float32)  # integers, exact in float32
        self._panels = None

    def share(self, native: "_bitops.PackedMlp") -> None:
        """Read the native MLP's panels and row sums (the same C++ derivation from the same
        weights) instead of holding a second copy (~0.4 MB for 784 x 4096)."""
        self._panels, self.w_sums = native.pixel_panels, native.weight_row_sums

    @property
    def panels(self) -> np.ndarray:
        """The layer's :func:`~pybitnet.first_layer.pixel_panels` (uint8_path "adds"), built on
        first use unless shared from the native MLP."""
        if self._panels is None:
            self._panels = pixel_panels(self.layer.weight_bits, self.layer.in_features)
        return self._panels

    def forward(self, p: np.ndarray, uint8_path: str) -> np.ndarray:
        s = _pixel_product(p, self, uint8_path).astype(np.float32)  # exact: |s| < 2**24
        return _float_threshold_bits(s, self.t, self.layer.epilogue.s)


@dataclasses.dataclass(eq=False)
class RealConv:
    """The first conv layer, a real-valued image batch to packed NHWC signs.

    weight_bits uint64 (F, ceil(KH * KW * C / 64)): the filters flattened in the order of
    the trained layer's patch rows, ``layout`` "nhwc" ((kh, kw, c): :mod:`pybitnet.nn`,
    NHWC input) or "nchw" ((c, kh, kw): PyTorch, NCHW input). A :class:`FloatThreshold`
    epilogue, an optional :class:`MaxPool` after it. Zero padding (a real input's).
    """

    weight_bits: np.ndarray
    in_channels: int
    kernel_size: Tuple[int, int]
    stride: Tuple[int, int]
    padding: Tuple[int, int]
    layout: str
    epilogue: FloatThreshold
    pool: Optional[MaxPool] = None

    _CHUNK_ROWS = 1 << 13  # patch rows per kernel call: the rows and their float sums stay in cache

    @property
    def out_channels(self) -> int:
        return self.weight_bits.shape[0]

    @property
    def k(self) -> int:
        return self.kernel_size[0] * self.kernel_size[1] * self.in_channels

    def out_size(self, h: int, w: int) -> Tuple[int, int]:
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        h, w = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
        return self.pool.out_size(h, w) if self.pool is not None and h > 0 and w > 0 else (h, w)

    def check(self) -> None:
        if self.in_channels < 1 or self.layout not in ("nhwc", "nchw") or \
                not isinstance(self.epilogue, FloatThreshold):
            raise ValueError(f"in_channels {self.in_channels}, layout {self.layout!r}, "
                             f"epilogue {type(self.epilogue).__name__}")
        _check_geometry(self.kernel_size, self.stride, self.padding, self.pool)
        _check_bits(self.weight_bits, (self.weight_bits.shape[0], _words(self.k)), "weight_bits")
        if not _padding_bits_zero(self.weight_bits, self.k):
            raise ValueError("weight_bits has nonzero padding bits")
        self.epilogue = check_epilogue(self.epilogue, self.out_channels)

    def forward(self, x: np.ndarray, fused: bool = False) -> np.ndarray:
        """float32 images (N, H, W, C) ("nhwc") or (N, C, H, W) ("nchw") -> packed NHWC signs.

        Exact (default): the trained layer's patch rows (:func:`~pybitnet.conv_bits.im2col`
        in its order) times the packed filters by :func:`~pybitnet.binary_weight_matmul`,
        the kernel training uses, so every float sum is the trained model's; then the
        exact float threshold. ``fused=True``: :func:`~pybitnet.conv_bits.first_conv2d_threshold`,
        one C++ call straight from NHWC input, ~5x faster, but its sums ``(P + P) - S``
        round differently: a sum within rounding of its threshold can take the other sign.
        """
        if fused:
            bits = self._fused(x)
        else:
            n = x.shape[0]
            h, w = x.shape[1:3] if self.layout == "nhwc" else x.shape[2:4]
            (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
            oh, ow = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
            step = max(1, self._CHUNK_ROWS // (oh * ow))
            bits = np.empty((n, oh, ow, _words(self.out_channels)), np.uint64)
            for i in range(0, n, step):
                rows = im2col(x[i:i + step], self.kernel_size, stride=self.stride, padding=self.padding,
                              layout=self.layout)
                y = _weight_rows_product(rows, self.weight_bits, self.k)
                e = self.epilogue
                bits[i:i + step] = _float_threshold_bits(y, e.t, e.s).reshape(-1, oh, ow, bits.shape[3])
        return _pool(bits, self.pool, self.epilogue)

    def _fused(self, x: np.ndarray) -> np.ndarray:
        if self.layout == "nchw":  # the fused kernel reads NHWC with (kh, kw, c) filters
            return _first_conv_fused(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), self._hwc_bits(), self)
        return _first_conv_fused(x, self.weight_bits, self)

    def _hwc_bits(self) -> np.ndarray:
        if getattr(self, "_hwc", None) is None:
            (kh, kw), c, f = self.kernel_size, self.in_channels, self.out_channels
            signs = np.unpackbits(self.weight_bits.view(np.uint8), axis=1, count=self.k, bitorder="little")
            signs = signs.reshape(f, c, kh, kw).transpose(0, 2, 3, 1).reshape(f, -1)
            self._hwc = pack_signs(np.negative(np.ascontiguousarray(signs).view(np.int8)))
        return self._hwc


def _check_geometry(kernel_size, stride, padding, pool) -> None:
    ok = len(kernel_size) == len(stride) == len(padding) == 2 and min(*kernel_size, *stride) >= 1 and \
        min(padding) >= 0 and max(*kernel_size, *stride, *padding) <= 1 << 20
    if pool is not None:
        ok = ok and min(*pool.size, *pool.stride) >= 1 and max(*pool.size, *pool.stride) <= 1 << 20
    if not ok:
        raise ValueError(f"geometry: kernel {kernel_size}, stride {stride}, padding {padding}, pool {pool}")


Layer = Union[RealDense, RealConv, PackedConv, PackedDense]
