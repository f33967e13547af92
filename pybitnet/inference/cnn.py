"""A binary CNN for inference (the BNN papers' CIFAR-10/SVHN VGG-like net) on packed bits.

Layers, in order:

- first conv (real NHWC input, ±1 weights, zero padding): one C++ call
  (:func:`~pybitnet.inference.conv.first_conv2d_threshold`: float sums with
  additions only, ``(P + P) - S``, straight from the NHWC input, compared with the exact float
  thresholds of the folded batch norm + sign, packed; any number of filters,
  1024 at a time);
- hidden binary convs: one fused C++ call each
  (:func:`~pybitnet.inference.conv.binary_conv2d_threshold`: im2col in cache +
  XNOR-popcount GEMM whose epilogue compares with the folded integer
  thresholds), packed NHWC bits in and out. Spatial padding must hold +1
  ("one": train with ``pad_value="one"``, the default for binary inputs);
  zero-padded layers fall back to the exact but unfused
  :func:`~pybitnet.inference.conv.binary_conv2d` + threshold;
- max-pooling on the packed signs (:func:`max_pool2d_bits`) AFTER the
  threshold, with the per-channel flip mask: training does conv -> pool -> BN
  -> sign, and a monotone per-channel map commutes with max (increasing BN)
  or turns it into min (decreasing BN, negative gamma: the OR of the -1 bits);
- flatten of packed NHWC: with C % 64 == 0 the packed (N, H, W, C/64) words
  are exactly the packed (h, w, c)-flattened features;
- dense layers: :class:`~pybitnet.inference.model.PackedLayer` s, hidden ones
  fused (:func:`~pybitnet.xnor_gemm_threshold`), the last one
  :func:`~pybitnet.xnor_gemm` + float affine (folded batch norm).
"""
from __future__ import annotations

import dataclasses
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .._arrays import as_array, refuse_broadcast
from ..gemm import xnor_gemm, xnor_gemm_threshold
from ..packing import pack_signs
from .conv import (_pair, binary_conv2d, binary_conv2d_threshold, conv_output_size, first_conv2d_threshold,
                   max_pool2d_bits)
from .fold import fold_bn_affine, fold_bn_sign, fold_bn_sign_float
from .model import PackedLayer


@dataclasses.dataclass
class ConvLayer:
    """One conv layer and its epilogue.

    kind "float_threshold" (real input): weight_bits (F, ceil(KH*KW*C/64)), the
    filters flattened in (kh, kw, c) order and packed; a, b = float32 t, s
    (output +1 iff (y - t) * s >= 0). kind "threshold" (binary input):
    weight_bits (F, KH, KW, ceil(C/64)); a, b = int32 t, bool flip.
    pool: (kh, kw, sh, sw) of a max-pool after the layer, or None.
    """

    kind: str
    in_channels: int
    kernel_size: Tuple[int, int]
    stride: Tuple[int, int]
    padding: Tuple[int, int]
    pad_value: str
    weight_bits: np.ndarray
    a: np.ndarray
    b: np.ndarray
    pool: Optional[Tuple[int, int, int, int]] = None

    @property
    def out_channels(self) -> int:
        return self.weight_bits.shape[0]

    def out_size(self, h: int, w: int) -> Tuple[int, int]:
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        h, w = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
        if self.pool is not None:
            h, w = (h - self.pool[0]) // self.pool[2] + 1, (w - self.pool[1]) // self.pool[3] + 1
        return h, w

    def pool_flip(self) -> np.ndarray:
        return self.b < 0 if self.kind == "float_threshold" else self.b


def float_im2col(x: np.ndarray, kernel_size, stride, padding, pad_value: float = 0.0) -> np.ndarray:
    """Rows (N * OH * OW, KH * KW * C) of float32 NHWC patches; the padding holds pad_value."""
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    n, h, w, c = x.shape
    oh, ow = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
    if ph or pw:
        xp = np.full((n, h + 2 * ph, w + 2 * pw, c), pad_value, np.float32)
        xp[:, ph:ph + h, pw:pw + w] = x
    else:
        xp = x
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(1, 2))  # (n, H', W', c, kh, kw)
    win = win[:, : (oh - 1) * sh + 1: sh, : (ow - 1) * sw + 1: sw]
    return np.ascontiguousarray(win.transpose(0, 1, 2, 4, 5, 3)).reshape(n * oh * ow, kh * kw * c)


def _threshold_bits(dot: np.ndarray, t: np.ndarray, flip: np.ndarray) -> np.ndarray:
    """Packed signs of an int32 (..., F) conv output under the fused layer's rule."""
    negative = np.where(flip, dot > t, dot < t)
    return pack_signs(np.negative(negative.view(np.int8)), axis=-1)


class CNNModel:
    """A packed binary CNN (see :func:`from_trained`, :func:`pybitnet.inference.load`).

    Parameters
    ----------
    convs : list of ConvLayer
        The first "float_threshold", then "threshold" layers.
    dense : list of PackedLayer
        "threshold" layers, the last one "affine".
    input_shape : (H, W, C)
    """

    def __init__(self, convs: List[ConvLayer], dense: List[PackedLayer], input_shape: Sequence[int]):
        if not convs or not dense:
            raise ValueError("a CNNModel needs at least one conv and one dense layer")
        kinds = [c.kind for c in convs]
        if kinds[0] != "float_threshold" or any(k != "threshold" for k in kinds[1:]):
            raise ValueError(f"conv kinds must be float_threshold, threshold...; got {kinds}")
        dkinds = [d.kind for d in dense]
        if dkinds[-1] != "affine" or any(k != "threshold" for k in dkinds[:-1]):
            raise ValueError(f"dense kinds must be threshold..., affine; got {dkinds}")
        self.convs, self.dense = convs, dense
        self.input_shape = tuple(int(v) for v in input_shape)
        h, w, c = self.input_shape
        for i, conv in enumerate(convs):
            if conv.in_channels != c:
                raise ValueError(f"conv {i} takes {conv.in_channels} channels, gets {c}")
            h, w = conv.out_size(h, w)
            if h < 1 or w < 1:
                raise ValueError(f"conv {i} leaves no output pixels")
            c = conv.out_channels
        self.flat_features = h * w * c
        if dense[0].in_features != self.flat_features:
            raise ValueError(f"dense 0 takes {dense[0].in_features} features, the convs give {h}x{w}x{c}")
        for i in range(1, len(dense)):
            if dense[i].in_features != dense[i - 1].out_features:
                raise ValueError(f"dense {i} takes {dense[i].in_features} features, gets {dense[i - 1].out_features}")

    @property
    def classes(self) -> int:
        return self.dense[-1].out_features

    def _first(self, x: np.ndarray, conv: ConvLayer) -> np.ndarray:
        return first_conv2d_threshold(x, conv.weight_bits, conv.kernel_size, conv.a, conv.b < 0,
                                      stride=conv.stride, padding=conv.padding)

    def _hidden(self, bits: np.ndarray, conv: ConvLayer) -> np.ndarray:
        if conv.pad_value == "one" or not any(conv.padding):
            return binary_conv2d_threshold(bits, conv.weight_bits, conv.in_channels, conv.a, conv.b,
                                           stride=conv.stride, padding=conv.padding)
        dot = binary_conv2d(bits, conv.weight_bits, conv.in_channels, stride=conv.stride, padding=conv.padding,
                            pad_value="zero")
        return _threshold_bits(dot, conv.a, conv.b)

    def features(self, x) -> np.ndarray:
        """Packed (N, flat_features) signs after the convs and the flatten."""
        x = as_array(x, "x")
        refuse_broadcast(x, "x")
        if x.ndim != 4 or x.shape[1:] != self.input_shape:
            raise ValueError(f"x must have shape (N, {', '.join(map(str, self.input_shape))}), got {x.shape}")
        if x.dtype.kind != "f":  # raw uint8 pixels would silently be read as 0..255
            raise TypeError(f"x must be floating point (the trained model's inputs, e.g. pixels scaled to "
                            f"[-1, 1]), got {x.dtype}")
        x = np.ascontiguousarray(x, dtype=np.float32)
        if not np.isfinite(x).all():  # NaN compares false with every threshold: it predicted class 0
            raise ValueError("x contains NaN or Inf: the model has no prediction for it")
        bits = None
        for i, conv in enumerate(self.convs):
            bits = self._first(x, conv) if i == 0 else self._hidden(bits, conv)
            if conv.pool is not None:
                kh, kw, sh, sw = conv.pool
                bits = max_pool2d_bits(bits, (kh, kw), (sh, sw), flip=conv.pool_flip())
        n, h, w, words = bits.shape
        c = self.convs[-1].out_channels
        if c % 64 == 0:
            return bits.reshape(n, h * w * words)
        # Channel padding bits sit inside the flattened row: repack (rare; not the papers' nets).
        planes = np.unpackbits(bits.view(np.uint8), axis=-1, bitorder="little")[..., :c]
        return pack_signs(np.negative(planes.reshape(n, h * w * c).view(np.int8)), axis=-1)

    def logits(self, x) -> np.ndarray:
        """Float32 logits (N, classes) of float32 NHWC inputs (N, H, W, C)."""
        bits = self.features(x)
        for layer in self.dense[:-1]:
            bits = xnor_gemm_threshold(bits, layer.weight_bits, layer.in_features, layer.a, layer.b)
        last = self.dense[-1]
        dot = xnor_gemm(bits, last.weight_bits, last.in_features)
        return (dot * last.a + last.b).astype(np.float32)

    def predict(self, x) -> np.ndarray:
        return np.argmax(self.logits(x), axis=1)

    def weight_bytes(self) -> int:
        return sum(c.weight_bits.nbytes for c in self.convs) + sum(d.weight_bits.nbytes for d in self.dense)

    def __repr__(self):
        chans = [self.input_shape[2]] + [c.out_channels for c in self.convs]
        return f"CNNModel(convs {'-'.join(map(str, chans))}, dense {'-'.join(str(d.out_features) for d in self.dense)})"


def _name(m) -> str:
    return type(m).__name__


def from_trained(model, input_shape: Optional[Sequence[int]] = None) -> CNNModel:
    """Fold a trained pybitnet.nn binary CNN (Sequential of BinarizedConv2D
    [MaxPool2D] BatchNorm SteSign ... Flatten BinarizedDense BatchNorm SteSign
    ... BinarizedDense BatchNorm; Dropout ignored) into a :class:`CNNModel`.

    The first conv takes real inputs (zero padding); the others binary inputs.
    input_shape (H, W, C) defaults to 32 x 32 x in_channels (CIFAR-10, SVHN).
    """
    from ..nn import BatchNorm, BinarizedDense, BinaryConv2D, Dropout, SteSign

    mods = [m for m in getattr(model, "layers", None) or [] if not isinstance(m, Dropout)]
    convs: List[ConvLayer] = []
    i = 0
    while i < len(mods) and isinstance(mods[i], BinaryConv2D):
        conv = mods[i]
        if float(getattr(conv, "H", 1.0)) != 1.0 or getattr(conv, "stochastic", False):
            raise ValueError(f"conv layer {i} must be deterministic with H = 1 (BinarizedConv2D)")
        pool = None
        j = i + 1
        if j < len(mods) and _name(mods[j]) == "MaxPool2D":
            pool = tuple(_pair(mods[j].size, "size")) + tuple(_pair(mods[j].stride, "stride"))
            j += 1
        if j + 1 >= len(mods) or not isinstance(mods[j], BatchNorm) or not isinstance(mods[j + 1], SteSign):
            raise ValueError(f"expected conv [MaxPool2D] BatchNorm SteSign at layer {i}, got {mods[i:j + 2]}")
        bn = mods[j]
        w = conv.weight.value
        f, kh, kw, c = w.shape
        bias = None if conv.bias is None else conv.bias.value
        first = not convs
        if first == bool(conv.binary_input):
            raise ValueError("the first conv must take real inputs (binary_input=False) and the others binary ones")
        pad_value = conv.pad_value or ("one" if conv.binary_input else "zero")
        geometry = (c, (kh, kw), _pair(conv.stride, "stride"), _pair(conv.padding, "padding"), pad_value)
        if first:
            t, s = fold_bn_sign_float(bn, bias)
            bits = np.ascontiguousarray(pack_signs(np.ascontiguousarray(w.reshape(f, -1))))
            convs.append(ConvLayer("float_threshold", *geometry, bits, t, s, pool))
        else:
            t, flip = fold_bn_sign(bn, kh * kw * c, bias)
            bits = np.ascontiguousarray(pack_signs(np.ascontiguousarray(w), axis=-1))
            convs.append(ConvLayer("threshold", *geometry, bits, t, flip, pool))
        i = j + 2
    if not convs:
        raise ValueError("model must be a pybitnet.nn.Sequential binary CNN starting with a BinarizedConv2D")
    if i >= len(mods) or _name(mods[i]) != "Flatten":
        raise ValueError(f"expected Flatten after the convs, got {mods[i:i + 1]}")
    i += 1
    dense: List[PackedLayer] = []
    while i < len(mods):
        d = mods[i]
        if not isinstance(d, BinarizedDense) or i + 1 >= len(mods) or not isinstance(mods[i + 1], BatchNorm):
            raise ValueError(f"expected BinarizedDense -> BatchNorm at layer {i}, got {mods[i:i + 2]}")
        if not d.binary_input:
            raise ValueError(f"dense layer {i} after the convs must take binary inputs")
        last = i + 2 >= len(mods)
        if not last and not isinstance(mods[i + 2], SteSign):
            raise ValueError(f"expected SteSign after layer {i + 1}, got {mods[i + 2]}")
        bits = np.ascontiguousarray(pack_signs(d.weight.value))
        bias = None if d.bias is None else d.bias.value
        if last:
            dense.append(PackedLayer("affine", d.in_features, bits, *fold_bn_affine(mods[i + 1], bias)))
        else:
            dense.append(PackedLayer("threshold", d.in_features, bits, *fold_bn_sign(mods[i + 1], d.in_features, bias)))
        i += 2 if last else 3
    if not dense or dense[-1].kind != "affine":
        raise ValueError("the CNN must end with BinarizedDense -> BatchNorm (the logits)")
    if input_shape is None:
        input_shape = (32, 32, convs[0].in_channels)
    return CNNModel(convs, dense, input_shape)
