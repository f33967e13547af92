"""The packed BNN engine: one model for the MLP and the CNN.

A :class:`Model` is an input stage (a :class:`~.layers.RealDense` on feature
rows, or a :class:`~.layers.RealConv` on an image batch), a stack of binary
convs (:class:`~.layers.PackedConv`, packed NHWC bits in and out), a flatten,
and a stack of binary dense layers (:class:`~.layers.PackedDense`), the last
one with the :class:`~.layers.Affine` logits. The MLP is the case without
convs. Everything after the input stage is integer arithmetic on packed bits
with folded integer thresholds, so it reproduces the trained model's signs
exactly; the input stage computes the trained layer's float sums with the
trained layer's kernel on the same rows, so it does too (docs/INFERENCE.md,
"Exactness").

:class:`InferenceModel` and :class:`CNNModel` are the engine under the names of
pybitnet 0.1's two models (the MLP and the CNN), for ``isinstance`` and their
constructors; :func:`make` builds whichever fits a list of layers.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np

from .._arrays import as_array, refuse_broadcast
from .._hugepages import place_together
from ..packing import pack_signs
from .layers import (Affine, Layer, PackedConv, PackedDense, PixelInput, RealConv, RealDense, Threshold,
                     _native_mlp, _record_native_mlp)

_UINT8_PATHS = ("adds", "bitplanes")
_FIRST_CONV = ("exact", "fused")


class Model:
    """A packed BNN (see :func:`pybitnet.inference.from_trained`, :func:`~pybitnet.inference.from_torch`,
    :func:`~pybitnet.inference.load`).

    Parameters
    ----------
    layers : list
        :class:`~.layers.RealDense` or :class:`~.layers.RealConv`, then any number of
        :class:`~.layers.PackedConv`, then :class:`~.layers.PackedDense` layers with
        :class:`~.layers.Threshold` epilogues, the last one :class:`~.layers.Affine`.
    input_shape : tuple, optional
        One input's shape: ``(in_features,)`` (the default for a RealDense), ``(H, W, C)``
        for an "nhwc" RealConv, ``(C, H, W)`` for an "nchw" one.
    input_scale, input_offset : float, optional
        The map from uint8 pixels to the model's input, ``x = p * scale + offset``
        (e.g. 2/255 and -1 for the BNN recipe's [-1, 1] inputs); needed for uint8
        inputs (MLP only).

    The model copies every layer's ``weight_bits`` into one block (2 MiB-aligned, on huge
    pages where the OS has them, so that a batch-1 call streams them faster) and points the
    layers at the copies: changing the arrays you passed in afterwards changes nothing. An
    MLP also builds a native copy of the whole net (``_bitops.PackedMlp``) that runs float32
    rows in one C++ call, bit for bit the layer-by-layer path; treat a built model as
    immutable.

    Raises ValueError naming the first layer that does not fit.
    """

    def __init__(self, layers: Sequence[Layer], input_shape: Optional[Sequence[int]] = None, *,
                 input_scale: Optional[float] = None, input_offset: Optional[float] = None):
        layers = list(layers)
        if len(layers) < 2:
            raise ValueError("a packed model needs an input layer and a last dense layer")
        first = layers[0]
        if not isinstance(first, (RealDense, RealConv)):
            raise ValueError(f"layer 0 must be a RealDense or RealConv (real inputs), got {type(first).__name__}")
        convs = [layer for layer in layers[1:] if isinstance(layer, PackedConv)]
        dense = [layer for layer in layers[1:] if isinstance(layer, PackedDense)]
        if layers[1:] != convs + dense or not dense:
            raise ValueError(f"after layer 0 the layers must be PackedConv..., PackedDense...; got "
                             f"{[type(layer).__name__ for layer in layers]}")
        if isinstance(first, RealDense) and convs:
            raise ValueError("a RealDense input layer cannot feed a conv layer")
        if not isinstance(dense[-1].epilogue, Affine) or any(not isinstance(d.epilogue, Threshold) for d in dense[:-1]):
            raise ValueError("the dense layers must have Threshold epilogues and the last one Affine")
        for n, layer in enumerate(layers):
            try:
                layer.check()
            except ValueError as e:
                raise ValueError(f"layer {n} ({type(layer).__name__}): {e}") from None
        # One 2 MiB-aligned block on huge pages for all the weights: a batch-1 call streams
        # them from DRAM without a TLB miss per 4 KiB (pybitnet/_hugepages.py).
        for layer, bits in zip(layers, place_together([layer.weight_bits for layer in layers])):
            layer.weight_bits = bits
        self.layers: List[Layer] = layers
        self.input_shape = self._input_shape(first, input_shape)
        self._check_chain()
        self.input_scale, self.input_offset = input_scale, input_offset
        self._pixels = None
        if (input_scale is None) != (input_offset is None):
            raise ValueError(f"input_scale and input_offset go together, got {input_scale} and {input_offset}")
        if input_scale is not None:
            if not (np.isfinite(input_scale) and input_scale > 0):
                raise ValueError(f"input_scale must be a finite number > 0, got {input_scale}")
            if not np.isfinite(input_offset):
                raise ValueError(f"input_offset must be finite, got {input_offset}")
            if isinstance(first, RealDense):
                self._pixels = PixelInput(first, float(input_scale), float(input_offset))
        self._build_native()

    # copy.deepcopy (and pickle, for those who use it) rebuild the native half, which holds raw memory
    def __getstate__(self):
        state = self.__dict__.copy()
        state["_native"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._build_native()

    def _build_native(self) -> None:
        """MLPs: float32 rows, and uint8 pixels when the model has an input map, take one native call
        (bit for bit the layer-by-layer path)."""
        first = self.layers[0]
        self._native = _native_mlp(first, self.dense, self._pixels) if isinstance(first, RealDense) else None
        if self._pixels is not None and self._native is not None:
            self._pixels.share(self._native)  # one copy of the pixel panels per model

    # -- structure ---------------------------------------------------------------------------------
    @staticmethod
    def _input_shape(first, input_shape):
        if isinstance(first, RealDense):
            shape = (first.in_features,) if input_shape is None else tuple(int(v) for v in input_shape)
            if shape != (first.in_features,):
                raise ValueError(f"input_shape must be ({first.in_features},) for a dense input layer, got {shape}")
            return shape
        if input_shape is None or len(tuple(input_shape)) != 3:
            raise ValueError(f"a conv model needs input_shape (H, W, C) or (C, H, W), got {input_shape}")
        shape = tuple(int(v) for v in input_shape)
        c = shape[2] if first.layout == "nhwc" else shape[0]
        if c != first.in_channels:
            raise ValueError(f"conv 0 takes {first.in_channels} channels, input_shape {shape} ({first.layout}) "
                             f"has {c}")
        return shape

    def _check_chain(self) -> None:
        first = self.layers[0]
        if isinstance(first, RealDense):
            features = first.out_features
        else:
            h, w = self.input_shape[:2] if first.layout == "nhwc" else self.input_shape[1:]
            c = first.in_channels
            for i, conv in enumerate(self.convs):
                if conv.in_channels != c:
                    raise ValueError(f"conv {i} takes {conv.in_channels} channels, gets {c}")
                if min(conv.padding) < 0 or (h + 2 * conv.padding[0] < conv.kernel_size[0]) or \
                        (w + 2 * conv.padding[1] < conv.kernel_size[1]):
                    raise ValueError(f"conv {i} does not fit its {h}x{w} input")
                h, w = conv.out_size(h, w)
                if h < 1 or w < 1:
                    raise ValueError(f"conv {i} leaves no output pixels")
                c = conv.out_channels
            features = h * w * c
            self.feature_shape = (h, w, c)
        for i, d in enumerate(self.dense):
            if d.in_features != features:
                what = "the convs give " + "x".join(map(str, self.feature_shape)) if i == 0 and self.convs \
                    else f"gets {features}"
                raise ValueError(f"dense {i} takes {d.in_features} features, {what}")
            features = d.out_features

    @property
    def convs(self) -> List[Layer]:
        """The conv layers: the RealConv input layer (if any), then the PackedConvs."""
        return [layer for layer in self.layers if isinstance(layer, (RealConv, PackedConv))]

    @property
    def dense(self) -> List[PackedDense]:
        """The packed dense layers (the RealDense input layer of an MLP excluded)."""
        return [layer for layer in self.layers if isinstance(layer, PackedDense)]

    @property
    def in_features(self) -> int:
        return int(np.prod(self.input_shape))

    @property
    def classes(self) -> int:
        return self.layers[-1].out_features

    def weight_bytes(self) -> int:
        """Bytes of packed weights (1 bit per weight, rows padded to whole words)."""
        return sum(layer.weight_bits.nbytes for layer in self.layers)

    # -- running -----------------------------------------------------------------------------------
    def _input(self, x) -> np.ndarray:
        x = as_array(x, "x")
        refuse_broadcast(x, "x")
        shape = (x.shape[0],) + self.input_shape if x.ndim == len(self.input_shape) + 1 else None
        if x.shape != shape:
            want = ", ".join(("M",) + tuple(map(str, self.input_shape)))
            raise ValueError(f"x must have shape ({want}), got {x.shape}")
        if isinstance(self.layers[0], RealConv) and x.dtype.kind != "f":  # uint8 would be read as 0..255
            raise TypeError(f"x must be floating point (the trained model's inputs, e.g. pixels scaled to "
                            f"[-1, 1]), got {x.dtype}")
        if x.dtype != np.uint8 and x.dtype.kind != "f":  # int64 pixels would be read as model inputs 0..255
            raise TypeError(f"x must be float model inputs or uint8 pixels, got {x.dtype}: pass "
                            f"x.astype(np.float32) (model inputs) or x.astype(np.uint8) (pixels)")
        x = np.ascontiguousarray(x, dtype=np.uint8 if x.dtype == np.uint8 else np.float32)
        if x.dtype == np.float32 and not np.isfinite(x).all():  # NaN compares false with every threshold
            raise ValueError("x contains NaN or Inf: the model has no prediction for it")
        return x

    def features(self, x, *, uint8_path: str = "adds", first_conv: str = "exact") -> np.ndarray:
        """Packed signs (M, ceil(features / 64)) that the first dense layer reads: after
        the input layer, the convs and the flatten."""
        if uint8_path not in _UINT8_PATHS:
            raise ValueError(f"uint8_path must be one of {_UINT8_PATHS}, got {uint8_path!r}")
        if first_conv not in _FIRST_CONV:
            raise ValueError(f"first_conv must be one of {_FIRST_CONV}, got {first_conv!r}")
        x = self._input(x)
        first = self.layers[0]
        if isinstance(first, RealDense):
            if x.dtype != np.uint8:
                return first.forward(x)
            if self._pixels is None:
                raise ValueError("uint8 input needs input_scale/input_offset (export(..., input_scale=...))")
            return self._pixels.forward(x, uint8_path)
        bits = first.forward(x, fused=first_conv == "fused")
        for conv in self.layers[1:]:
            if not isinstance(conv, PackedConv):
                break
            bits = conv.forward(bits)
        n, h, w, words = bits.shape
        c = self.feature_shape[2]
        if c % 64 == 0:  # packed (N, H, W, C/64) words are the packed (h, w, c)-flattened features
            return bits.reshape(n, h * w * words)
        # Channel padding bits sit inside the flattened row: repack (not the papers' nets).
        planes = np.unpackbits(bits.view(np.uint8), axis=-1, bitorder="little")[..., :c]
        return pack_signs(np.negative(planes.reshape(n, h * w * c).view(np.int8)), axis=-1)

    def logits(self, x, *, uint8_path: str = "adds", first_conv: str = "exact") -> np.ndarray:
        """Float32 logits (M, classes).

        Parameters
        ----------
        x : array (M, *input_shape)
            float32 model inputs, as the trained model gets them; for an MLP also uint8
            pixels (with the model's input map), taken by an exact integer first layer:
            subset-sum tables of the pixels (`uint8_path` "adds",
            :func:`~pybitnet.first_layer.pixel_matmul`, fastest here) or the BNN paper's
            bit planes ("bitplanes"); both give the same bits, with additions only.
        first_conv : "exact" or "fused"
            A CNN's first layer: "exact" reproduces the trained layer's float sums (the
            same kernel on the same patch rows); "fused" runs
            :func:`~pybitnet.conv_bits.first_conv2d_threshold` (~5x faster for that
            layer), whose sums round differently, so a pixel whose sum sits within
            rounding of its threshold can flip.
        """
        native = self._native
        if (native is not None and type(x) is np.ndarray and x.ndim == 2 and x.flags.c_contiguous
                and x.shape[1] == native.in_features and first_conv == "exact" and uint8_path in _UINT8_PATHS):
            # One call for the whole net: a batch-1 call after an idle moment found the ~10 numpy
            # operations and kernel calls of the layer path cold (MLP, uint8 pixels, 5 ms asleep before
            # each call, Zen 4: 0.52 ms layer by layer against 0.39 for the native float32 call)
            if x.dtype == np.float32:  # (uint8_path is for pixels: float rows take the same layer either way)
                out = native.logits(x)  # checks x for NaN/Inf as _input does, with the same message
                _record_native_mlp(self.layers[0], self.dense, x.shape[0])
                return out
            if x.dtype == np.uint8 and native.has_pixels:
                out = native.logits_pixels(x, uint8_path == "bitplanes")
                _record_native_mlp(self.layers[0], self.dense, x.shape[0], self._pixels, uint8_path)
                return out
        bits = self.features(x, uint8_path=uint8_path, first_conv=first_conv)
        for layer in self.dense:
            bits = layer.forward(bits)
        return bits

    def predict(self, x, **options) -> np.ndarray:
        """Class indices (M,), the argmax of :meth:`logits`."""
        return np.argmax(self.logits(x, **options), axis=1)

    def __repr__(self):
        first = self.layers[0]
        if isinstance(first, RealDense):
            sizes = [first.in_features, first.out_features] + [d.out_features for d in self.dense]
            return f"{type(self).__name__}({'-'.join(map(str, sizes))})"
        chans = [first.in_channels] + [c.out_channels for c in self.convs]
        return (f"{type(self).__name__}(convs {'-'.join(map(str, chans))}, "
                f"dense {'-'.join(str(d.out_features) for d in self.dense)})")


class InferenceModel(Model):
    """The engine for a BNN MLP: ``InferenceModel([RealDense, PackedDense, ...], input_scale,
    input_offset)`` (pybitnet 0.1's name and constructor)."""

    def __init__(self, layers: Sequence[Layer], input_scale: Optional[float] = None,
                 input_offset: Optional[float] = None):
        super().__init__(layers, None, input_scale=input_scale, input_offset=input_offset)


class CNNModel(Model):
    """The engine for a binary CNN: ``CNNModel(convs, dense, input_shape)`` with
    ``convs = [RealConv, PackedConv, ...]`` (pybitnet 0.1's name and constructor)."""

    def __init__(self, convs: Sequence[Layer], dense: Sequence[PackedDense], input_shape: Sequence[int]):
        super().__init__(list(convs) + list(dense), input_shape)


def make(layers: Sequence[Layer], input_shape: Optional[Sequence[int]] = None, *,
         input_scale: Optional[float] = None, input_offset: Optional[float] = None) -> Model:
    """The engine for `layers`: a :class:`CNNModel` when they start with a conv, else an
    :class:`InferenceModel`."""
    layers = list(layers)
    if layers and isinstance(layers[0], RealConv):
        if input_scale is not None or input_offset is not None:
            raise ValueError("a conv model takes float inputs only (no input_scale / input_offset)")
        n = next((i for i, layer in enumerate(layers) if isinstance(layer, PackedDense)), len(layers))
        return CNNModel(layers[:n], layers[n:], input_shape)
    if input_shape is not None and tuple(input_shape) != (getattr(layers[0], "in_features", None),):
        raise ValueError(f"input_shape {tuple(input_shape)} does not fit a dense input layer")
    return InferenceModel(layers, input_scale, input_offset)
