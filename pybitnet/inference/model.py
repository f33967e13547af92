"""A BNN MLP for inference: packed weights, folded epilogues, packed kernels only.

Layer 0 (real inputs): ``y = x @ W0.T`` (float path: additions only; or the
bit-plane path for uint8 pixels), compared with exact float thresholds and
packed. Hidden layers: one fused :func:`~pybitnet.xnor_gemm_threshold` call,
packed bits in and out. Last layer: :func:`~pybitnet.xnor_gemm` and the
folded batch norm ``logits = dot * scale + shift``.
"""
from __future__ import annotations

import dataclasses
from typing import List, Optional

import numpy as np

from .. import _bitops
from .._arrays import as_array, refuse_broadcast
from ..gemm import xnor_gemm_ops, xnor_gemm_threshold_ops
from ..opcount import record
from ..packing import pack_signs
from ..weight_matmul import binary_weight_matmul_ops
from .fold import fold_bn_affine, fold_bn_sign, fold_bn_sign_float
from .first_layer import bitplane_matmul, pixel_matmul_ops, pixel_panels, weight_row_sums


_PAD_ROWS = 8  # batches up to this size pad the first layer's input to whole words (below)


@dataclasses.dataclass
class PackedLayer:
    """One dense layer: packed ±1 weight rows (out, words) over `in_features`, and
    its epilogue: "float_threshold" (t, s float32), "threshold" (int32 t, bool
    flip) or "affine" (scale, shift float32)."""

    kind: str
    in_features: int
    weight_bits: np.ndarray
    a: np.ndarray
    b: np.ndarray

    @property
    def out_features(self) -> int:
        return self.weight_bits.shape[0]


class InferenceModel:
    """A packed BNN MLP (see :func:`from_trained`, :func:`pybitnet.inference.load`).

    Parameters
    ----------
    layers : list of PackedLayer
        First "float_threshold", then "threshold" layers, last "affine".
    input_scale, input_offset : float, optional
        The map from uint8 pixels to the model's input, ``x = p * scale +
        offset`` (e.g. 2/255 and -1 for the BNN recipe's [-1, 1] inputs);
        needed for uint8 inputs (the bit-plane first layer).
    """

    def __init__(self, layers: List[PackedLayer], input_scale: Optional[float] = None,
                 input_offset: Optional[float] = None):
        if len(layers) < 2:
            raise ValueError("an InferenceModel needs a first and a last layer")
        kinds = [layer.kind for layer in layers]
        if kinds[0] != "float_threshold" or kinds[-1] != "affine" or any(k != "threshold" for k in kinds[1:-1]):
            raise ValueError(f"layer kinds must be float_threshold, threshold..., affine; got {kinds}")
        for n, layer in enumerate(layers):
            words = -(-layer.in_features // 64)
            if layer.weight_bits.ndim != 2 or layer.weight_bits.shape[1] != words:
                raise ValueError(f"layer {n}: weight_bits must have ceil({layer.in_features} / 64) = {words} words "
                                 f"per row, got shape {layer.weight_bits.shape}")
        k0 = layers[0].in_features
        if k0 % 64 and np.any(layers[0].weight_bits[:, -1] >> np.uint64(k0 % 64)):
            raise ValueError(f"layer 0: weight_bits has nonzero padding bits past in_features={k0}")
        self.layers = layers
        self.input_scale, self.input_offset = input_scale, input_offset
        first = layers[0]
        if (input_scale is None) != (input_offset is None):
            raise ValueError(f"input_scale and input_offset go together, got {input_scale} and {input_offset}")
        if input_scale is not None:
            if not (np.isfinite(input_scale) and input_scale > 0):
                raise ValueError(f"input_scale must be a finite number > 0, got {input_scale}")
            if not np.isfinite(input_offset):
                raise ValueError(f"input_offset must be finite, got {input_offset}")
            # y = scale * (p . w) + offset * sum(w); the float threshold moves to the integer sums.
            self._w0_sums = weight_row_sums(first.weight_bits, first.in_features)
            t = first.a.astype(np.float64) - input_offset * self._w0_sums
            t = t / input_scale  # +1 iff p . w >= t (gamma > 0) or <= t (gamma < 0); p . w is an integer
            t = np.where(first.b > 0, np.ceil(t), np.floor(t))
            self._bitplane_t = np.clip(t, -(2.0**30), 2.0**30).astype(np.float32)  # integers, exact in float32
            self._w0_panels = pixel_panels(first.weight_bits, first.in_features)  # for uint8_path="adds"

    @property
    def in_features(self) -> int:
        return self.layers[0].in_features

    @property
    def classes(self) -> int:
        return self.layers[-1].out_features

    def _first_sums(self, x) -> np.ndarray:
        """``x @ W0.T`` (float32 (M, N)) for float32 `x`: additions only."""
        first = self.layers[0]
        k, m = first.in_features, x.shape[0]
        if k % 64 and m <= _PAD_ROWS:
            # Zero columns up to whole words add nothing to x . w, and with k % 64 == 0
            # the binding skips its scan of every weight row's padding bits
            # (checked in __init__): 4096 cache misses, ~8 us at batch 1.
            padded = np.zeros((m, first.weight_bits.shape[1] * 64), np.float32)
            padded[:, :k] = x
            x, k = padded, padded.shape[1]
        y = _bitops.binary_weight_matmul(x, first.weight_bits, k)
        record("binary_weight_matmul", lambda: binary_weight_matmul_ops(m, first.in_features, first.out_features))
        return y

    def _first_bits(self, x, uint8_path: str) -> np.ndarray:
        first = self.layers[0]
        if x.dtype != np.uint8:
            y = self._first_sums(x)
            y -= first.a
            return _bitops.pack_signs(np.multiply(y, first.b, out=y), -1)
        if self.input_scale is None:
            raise ValueError("uint8 input needs input_scale/input_offset (export(..., input_scale=...))")
        if uint8_path not in ("adds", "bitplanes"):
            raise ValueError(f"uint8_path must be 'adds' or 'bitplanes', got {uint8_path!r}")
        if uint8_path == "adds":
            # Exact int32 p . w with additions only, by the variant the registry
            # picks (AVX-512: subset-sum tables of the pixels in 16-bit lanes;
            # AVX2: masked adds in 16-bit lanes; see pybitnet.active_kernels()).
            s = _bitops.uint8_weight_matmul(x, self._w0_panels, first.out_features)
            record("uint8_weight_matmul", lambda: pixel_matmul_ops(x.shape[0], first.in_features,
                                                                   first.out_features))
        else:
            s = bitplane_matmul(x, first.weight_bits, first.in_features, self._w0_sums)
        v = np.subtract(s, self._bitplane_t, dtype=np.float32)  # exact: |s| < 2**24
        return _bitops.pack_signs(np.multiply(v, first.b, out=v), -1)

    def logits(self, x, *, uint8_path: str = "adds") -> np.ndarray:
        """Float32 logits (M, classes) of `x` (M, in_features): float32 model
        inputs (as the trained model gets them) or uint8 pixels.

        uint8 pixels take the exact integer first layer ``p . w``, either by
        subset-sum tables of the pixels (`uint8_path` "adds",
        :func:`~pybitnet.inference.first_layer.pixel_matmul`, fastest here) or
        by the BNN paper's bit planes (eight XNOR dot products, shifts and adds:
        "bitplanes"); both give the same bits, with additions only.
        """
        x = as_array(x, "x")
        refuse_broadcast(x, "x")
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"x must have shape (M, {self.in_features}), got {x.shape}")
        if x.dtype != np.uint8 and x.dtype.kind not in "fiub":
            raise TypeError(f"x must hold real numbers (float32 model inputs or uint8 pixels), got {x.dtype}")
        x = np.ascontiguousarray(x, dtype=np.uint8 if x.dtype == np.uint8 else np.float32)
        if x.dtype == np.float32 and not np.isfinite(x).all():
            raise ValueError("x contains NaN or Inf: the model has no prediction for it")
        # The kernels' bindings directly (the layers were checked in __init__):
        # at batch 1 the Python wrappers' argument checks were a measurable
        # share of the call. Op counts are recorded here, per kernel.
        bits = self._first_bits(x, uint8_path)
        for layer in self.layers[1:-1]:
            bits = _bitops.xnor_gemm_threshold(bits, layer.weight_bits, layer.in_features, layer.a, layer.b)
        last = self.layers[-1]
        dot = _bitops.xnor_gemm(bits, last.weight_bits, last.in_features)
        # (the first layer's kernels recorded their counts where they ran)
        for layer in self.layers[1:-1]:
            record("xnor_gemm_threshold", lambda layer=layer: xnor_gemm_threshold_ops(
                x.shape[0], layer.in_features, layer.out_features))
        record("xnor_gemm", lambda: xnor_gemm_ops(x.shape[0], last.in_features, last.out_features))
        return (dot * last.a + last.b).astype(np.float32)

    def predict(self, x, *, uint8_path: str = "adds") -> np.ndarray:
        """Class indices (M,), the argmax of :meth:`logits`."""
        return np.argmax(self.logits(x, uint8_path=uint8_path), axis=1)

    def weight_bytes(self) -> int:
        return sum(layer.weight_bits.nbytes for layer in self.layers)

    def __repr__(self):
        sizes = [self.in_features] + [layer.out_features for layer in self.layers]
        return f"InferenceModel({'-'.join(map(str, sizes))})"


def from_trained(model, input_scale: Optional[float] = None, input_offset: Optional[float] = None) -> InferenceModel:
    """Fold a trained pybitnet.nn BNN MLP (recipes.build_model with method "bnn" or
    "bnn-shift": [Dropout] BinarizedDense(binary_input=False) -> BatchNorm ->
    SteSign -> [Dropout] -> BinarizedDense -> ... -> BinarizedDense -> BatchNorm)
    into an :class:`InferenceModel`. Dropout is the identity at inference."""
    if any(type(m).__name__.endswith("Conv2D") for m in getattr(model, "layers", None) or []):
        from .cnn import from_trained as cnn_from_trained  # binary CNNs: a CNNModel
        return cnn_from_trained(model)
    from ..nn import BatchNorm, BinarizedDense, Dropout, SteSign

    mods = [m for m in getattr(model, "layers", None) or [] if not isinstance(m, Dropout)]
    if not mods:
        raise ValueError("model must be a pybitnet.nn.Sequential BNN (its layers were not found)")
    groups, i = [], 0
    while i < len(mods):
        dense = mods[i]
        if not isinstance(dense, BinarizedDense) or i + 1 >= len(mods) or not isinstance(mods[i + 1], BatchNorm):
            raise ValueError(f"expected BinarizedDense -> BatchNorm at layer {i}, got {mods[i:i + 2]}")
        act = i + 2 < len(mods) and isinstance(mods[i + 2], SteSign)
        if not act and i + 2 < len(mods):
            raise ValueError(f"expected SteSign after layer {i + 1}, got {mods[i + 2]}")
        groups.append((dense, mods[i + 1]))
        i += 3 if act else 2
    if len(groups) < 2:
        raise ValueError("the BNN needs at least two dense layers")
    if groups[0][0].binary_input or any(not d.binary_input for d, _ in groups[1:]):
        raise ValueError("the first BinarizedDense must take real inputs and the others binary ones")
    layers = []
    for n, (dense, bn) in enumerate(groups):
        k = dense.in_features
        bits = np.ascontiguousarray(pack_signs(dense.weight.value))
        bias = None if dense.bias is None else dense.bias.value
        if n == 0:
            a, b = fold_bn_sign_float(bn, bias)
            layers.append(PackedLayer("float_threshold", k, bits, a, b))
        elif n == len(groups) - 1:
            a, b = fold_bn_affine(bn, bias)
            layers.append(PackedLayer("affine", k, bits, a, b))
        else:
            a, b = fold_bn_sign(bn, k, bias)
            layers.append(PackedLayer("threshold", k, bits, a, b))
    return InferenceModel(layers, input_scale, input_offset)
