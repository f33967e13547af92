"""Trained BNNs into the packed engine: :func:`from_trained` (a :mod:`pybitnet.nn`
Sequential) and :func:`from_torch` (a ``torch.nn.Sequential`` of :mod:`pybitnet.torch`
modules). The only module of :mod:`pybitnet.inference` that knows the training
layers; it tells them apart with ``isinstance``.

Both read a model as blocks, the BNN papers' layout::

    product [MaxPool] BatchNorm Sign        the input layer (real inputs), then
    (conv [MaxPool] BatchNorm Sign)*        binary convs,
    [Flatten]                               (after convs),
    (dense BatchNorm Sign)* dense [BatchNorm]   binary dense layers, the last giving logits

(dropout is the identity at inference). Each block's batch norm is folded into
its epilogue by a threshold search over the framework's OWN eval arithmetic
(:mod:`.fold`): ``pybitnet.nn``'s float32 BatchNorm, or the torch module's
forward itself (its eps, its rounding), so the folded signs are the trained
model's, not an approximation of them.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from ..conv_bits import pair
from ..nn import BatchNorm, BinarizedConv2D, BinarizedDense, Dropout, Flatten, MaxPool2D, SteSign
from ..packing import pack_signs
from .engine import Model, make
from .fold import fold_bn_affine, fold_bn_sign, fold_bn_sign_float, float_thresholds, int_thresholds
from .layers import (Affine, FloatThreshold, MaxPool, PackedConv, PackedDense, RealConv, RealDense,
                     Threshold)


@dataclasses.dataclass
class _Block:
    """One layer of the trained model with what follows it, in a framework-neutral form."""

    kind: str  # "conv" or "dense"
    weight: np.ndarray  # float, (F, KH, KW, C) for nn convs (NHWC), (F, C, KH, KW) for torch convs, (F, K) dense
    fold: "_Fold"  # the block's epilogue, folded on demand
    stride: Tuple[int, int] = (1, 1)
    padding: Tuple[int, int] = (0, 0)
    pad_value: str = "zero"
    pool: Optional[MaxPool] = None
    has_sign: bool = True  # False: the last block, its output is the logits
    where: str = ""


class _Fold:
    """How to fold one block's ``[bias] [scale] BN [sign]`` into an epilogue."""

    def float_threshold(self) -> FloatThreshold:
        raise NotImplementedError

    def threshold(self, k: int) -> Threshold:
        raise NotImplementedError

    def affine(self) -> Affine:
        raise NotImplementedError


# ------------------------------------------------------------------------------------------------
# pybitnet.nn
# ------------------------------------------------------------------------------------------------

class _NnFold(_Fold):
    def __init__(self, layer, bn):
        self.bias = None if layer.bias is None else layer.bias.value
        self.bn = bn

    def float_threshold(self):
        return FloatThreshold(*fold_bn_sign_float(self.bn, self.bias))

    def threshold(self, k):
        return Threshold(*fold_bn_sign(self.bn, k, self.bias))

    def affine(self):
        if self.bn is None:
            b = np.zeros(0, np.float32) if self.bias is None else self.bias
            return Affine(np.ones(b.shape, np.float32), b.astype(np.float32))
        return Affine(*fold_bn_affine(self.bn, self.bias))


def _nn_blocks(model) -> List[_Block]:
    mods = [m for m in getattr(model, "layers", None) or [] if not isinstance(m, Dropout)]
    if not mods:
        raise ValueError("model must be a pybitnet.nn.Sequential BNN (its layers were not found)")

    def role(m):
        if isinstance(m, BinarizedConv2D):
            return "conv"
        if isinstance(m, BinarizedDense):
            return "dense"
        if isinstance(m, MaxPool2D):
            return "pool"
        if isinstance(m, BatchNorm):
            return "bn"
        if isinstance(m, SteSign):
            return "sign"
        if isinstance(m, Flatten):
            return "flatten"
        return None

    def block(kind, m, pool, bn, has_sign, where):
        _require_finite(where, weight=m.weight.value, bias=None if m.bias is None else m.bias.value)
        if bn is not None:
            _require_finite(f"{where}: its batch norm", running_mean=bn.running_mean, gamma=bn._gamma(),
                            beta=bn.beta.value)
            _require_inv_std(where, bn.eval_inv_std())
        if kind == "conv":
            if m.binary_input is False and m.pad_value != "zero" and any(m.padding):
                raise ValueError(f"{where}: the first conv must pad its real input with zeros")
            return _Block("conv", m.weight.value, _NnFold(m, bn), tuple(m.stride), tuple(m.padding),
                          m.pad_value, pool, has_sign, where)
        return _Block("dense", m.weight.value, _NnFold(m, bn), has_sign=has_sign, where=where)

    blocks = _read_blocks(mods, role, block, lambda m: MaxPool(pair(m.size, "size"), pair(m.stride, "stride")),
                          "BinarizedConv2D / BinarizedDense (deterministic binary weights, H = 1)")
    first = mods[0]
    if first.binary_input:
        raise ValueError("the first layer must take real inputs (binary_input=False) and the others binary ones")
    if any(not m.binary_input for m in mods[1:] if role(m) in ("conv", "dense")):
        raise ValueError("the first layer must take real inputs (binary_input=False) and the others binary ones")
    return blocks


def from_trained(model, input_scale: Optional[float] = None, input_offset: Optional[float] = None,
                 input_shape: Optional[Sequence[int]] = None) -> Model:
    """Fold a trained :mod:`pybitnet.nn` BNN into the packed engine.

    An MLP (the ``bnn`` / ``bnn-shift`` recipes: ``[Dropout] BinarizedDense(binary_input=False)
    BatchNorm SteSign ... BinarizedDense BatchNorm``) gives an :class:`~.engine.InferenceModel`;
    a CNN (``BinarizedConv2D [MaxPool2D] BatchNorm SteSign ... Flatten BinarizedDense BatchNorm
    SteSign ... BinarizedDense BatchNorm``, the BNN CIFAR-10 / SVHN nets) a
    :class:`~.engine.CNNModel` on NHWC input. Dropout is the identity at inference.

    The packed model computes the trained model's eval forward: the same signs in every
    layer and logits within float32 rounding (docs/INFERENCE.md, "Exactness").

    Parameters
    ----------
    model : pybitnet.nn.Sequential (or an object with ``.layers``), in eval mode or not
        (the running statistics are used either way).
    input_scale, input_offset : float, optional
        MLP: the uint8-pixel to input map ``x = p * scale + offset`` (recipe "pm1":
        2/255, -1; "unit": 1/255, 0), enabling uint8 inputs.
    input_shape : (H, W, C), optional
        CNN: one input's shape; by default the square size that gives the first dense
        layer its number of features.
    """
    blocks = _nn_blocks(model)
    return _assemble(blocks, "nhwc", input_shape, input_scale, input_offset)


# ------------------------------------------------------------------------------------------------
# PyTorch
# ------------------------------------------------------------------------------------------------

class _TorchFold(_Fold):
    """Folds by running the torch modules' own eval forward on probe values: the layer's
    scale and bias exactly as its forward applies them, then the BatchNorm module."""

    def __init__(self, torch, layer, bn, spatial: bool):
        self.torch, self.layer, self.bn, self.spatial = torch, layer, bn, spatial
        self.h = float(getattr(layer, "H", 1.0))
        self.bias = None if layer.bias is None else layer.bias.detach()
        self.channels = layer.weight.shape[0]

    def _pre_bn(self, values: np.ndarray):
        torch = self.torch
        y = torch.from_numpy(np.ascontiguousarray(values, np.float32))
        if self.h != 1.0:  # as the module's forward: y * H, then + bias
            y = y * self.h
        if self.bias is not None:
            y = y + self.bias
        return y

    def _out(self, values: np.ndarray) -> np.ndarray:
        torch = self.torch
        with torch.no_grad():
            y = self._pre_bn(values)
            if self.bn is not None:
                y = self.bn(y.reshape(1, -1, 1, 1) if self.spatial else y.reshape(1, -1)).reshape(-1)
            return y.numpy()

    def _positive(self, values: np.ndarray) -> np.ndarray:
        return ~(self._out(values) < 0)  # pybitnet.torch.Sign: -1 where x < 0

    def _gamma(self) -> np.ndarray:
        if self.bn is None or self.bn.weight is None:
            return np.ones(self.channels, np.float32)
        return self.bn.weight.detach().numpy()

    def float_threshold(self):
        g = self._gamma()
        return FloatThreshold(*float_thresholds(self._positive, g < 0, g == 0))

    def threshold(self, k):
        return Threshold(*int_thresholds(lambda d: self._positive(d.astype(np.float32)), self.channels, k))

    def affine(self):
        # logits = BN(dot * H + bias) = dot * scale + shift, in float64 from the module's state
        h = self.h
        b = np.zeros(self.channels) if self.bias is None else self.bias.numpy().astype(np.float64)
        if self.bn is None:
            return Affine(np.full(self.channels, h, np.float32), b.astype(np.float32))
        bn = self.bn
        g = _torch_inv_std(bn) * (1.0 if bn.weight is None else bn.weight.detach().numpy().astype(np.float64))
        beta = 0.0 if bn.bias is None else bn.bias.detach().numpy().astype(np.float64)
        scale = h * g
        shift = (b - bn.running_mean.numpy().astype(np.float64)) * g + beta
        return Affine(scale.astype(np.float32), shift.astype(np.float32))


def from_torch(model, input_shape: Optional[Sequence[int]] = None, input_scale: Optional[float] = None,
               input_offset: Optional[float] = None) -> Model:
    """Fold a trained PyTorch BNN into the packed engine.

    `model`: a ``torch.nn.Sequential`` of :mod:`pybitnet.torch` modules in the BNN layout,
    e.g. ``BinaryLinear(784, h) BatchNorm1d Sign BinarizedLinear BatchNorm1d Sign ...
    BinarizedLinear BatchNorm1d`` (an MLP on (M, features) rows), or ``BinaryConv2d
    [MaxPool2d] BatchNorm2d Sign ... Flatten BinarizedLinear BatchNorm1d ...`` (a CNN on
    NCHW images, as the torch model takes them). The first layer takes real inputs
    (BinaryLinear / BinaryConv2d, deterministic); later BinaryLinear / BinaryConv2d layers
    see ±1 inputs and are binary layers (their convs zero-pad, as ``F.unfold``);
    ``torch.nn.Dropout`` / ``Identity`` are skipped.

    The batch norms are folded by searching each threshold with the torch module's own
    eval forward (its eps, 1e-5 by default, and its arithmetic), and the first layer runs
    the same kernel on the same patch rows as ``BinaryConv2d`` / ``BinaryLinear``, so the
    packed model has the torch model's signs in every layer and its logits within float32
    rounding. A CNN's flatten is in NCHW order; the first dense layer's weight columns are
    permuted to the engine's NHWC order (integer dot products: exact in any order).

    Parameters
    ----------
    model : torch.nn.Sequential
    input_shape : (C, H, W), optional
        CNN: one input's shape; by default the square size that fits the first dense layer.
    input_scale, input_offset : float, optional
        MLP: the uint8-pixel to input map (see :func:`from_trained`).
    """
    import torch
    from torch import nn as tnn

    from ..torch.nn import BinarizedLinear, BinaryConv2d, BinaryLinear, Sign

    if not isinstance(model, tnn.Sequential):
        raise ValueError(f"model must be a torch.nn.Sequential of pybitnet.torch modules, got {type(model).__name__}")
    mods = [m for m in model if not isinstance(m, (tnn.Dropout, tnn.Identity))]
    if not mods:
        raise ValueError("model is an empty torch.nn.Sequential")

    def role(m):
        if isinstance(m, BinaryConv2d):
            return "conv"
        if isinstance(m, (BinaryLinear, BinarizedLinear)):
            return "dense"
        if isinstance(m, tnn.MaxPool2d):
            return "pool"
        if isinstance(m, (tnn.BatchNorm1d, tnn.BatchNorm2d)):
            return "bn"
        if isinstance(m, Sign):
            return "sign"
        if isinstance(m, tnn.Flatten):
            return "flatten"
        return None

    def pool(m):
        if pair(m.padding, "padding") != (0, 0) or pair(m.dilation, "dilation") != (1, 1) or m.ceil_mode or \
                m.return_indices:
            raise ValueError(f"{m}: only max-pooling without padding, dilation or ceil_mode is supported")
        return MaxPool(pair(m.kernel_size, "kernel_size"), pair(m.stride if m.stride is not None else m.kernel_size,
                                                                 "stride"))

    def block(kind, m, pool_, bn, has_sign, where):
        if bn is not None and (bn.training or bn.running_mean is None):
            raise ValueError(f"{where}: {bn} must be in eval mode with running statistics (call model.eval())")
        if getattr(m, "stochastic", False):
            raise ValueError(f"{where}: {m} is stochastic; the packed engine needs deterministic binary weights")
        if not float(getattr(m, "H", 1.0)) > 0:
            raise ValueError(f"{where}: {m} has a scale H <= 0")
        w = m.weight.detach().numpy()
        _require_finite(where, weight=w, bias=None if m.bias is None else m.bias.detach().numpy())
        if bn is not None:
            _require_finite(f"{where}: its batch norm", running_mean=bn.running_mean.numpy(),
                            weight=None if bn.weight is None else bn.weight.detach().numpy(),
                            bias=None if bn.bias is None else bn.bias.detach().numpy())
            _require_inv_std(where, _torch_inv_std(bn))
        fold = _TorchFold(torch, m, bn, spatial=kind == "conv")
        if kind == "conv":
            if pair(m.dilation, "dilation") != (1, 1):
                raise ValueError(f"{where}: dilated convolutions are not supported")
            return _Block("conv", w, fold, pair(m.stride, "stride"), pair(m.padding, "padding"), "zero", pool_,
                          has_sign, where)
        return _Block("dense", w, fold, has_sign=has_sign, where=where)

    blocks = _read_blocks(mods, role, block, pool, "BinaryLinear / BinarizedLinear / BinaryConv2d")
    if isinstance(mods[0], BinarizedLinear):
        raise ValueError("the first layer binarizes its real input (BinarizedLinear); the packed engine's first "
                         "layer takes real inputs: use BinaryLinear")
    return _assemble(blocks, "nchw", input_shape, input_scale, input_offset)


# ------------------------------------------------------------------------------------------------
# Shared: reading the blocks, building the layers
# ------------------------------------------------------------------------------------------------

def _require_finite(where: str, **arrays) -> None:
    """ValueError naming the first array (None: absent) holding NaN or Inf: a folded threshold
    would compare against it and give neither the trained model's signs nor an error."""
    for name, a in arrays.items():
        if a is not None and not np.isfinite(a).all():
            raise ValueError(f"{where}: {name} contains NaN or Inf; the packed model could not match the trained one")


def _torch_inv_std(bn) -> np.ndarray:
    """A torch BatchNorm's 1/sqrt(running_var + eps) in float64 (NaN or Inf where var + eps <= 0, quietly:
    :func:`_require_inv_std` refuses them)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1.0 / np.sqrt(bn.running_var.numpy().astype(np.float64) + bn.eps)


def _require_inv_std(where: str, inv: np.ndarray) -> None:
    """ValueError unless every 1/sqrt(running variance + eps) is finite and > 0 (a variance of NaN, Inf
    or <= -eps has no threshold to fold into)."""
    bad = ~(np.isfinite(inv) & (inv > 0))
    if bad.any():
        raise ValueError(f"{where}: its batch norm's running variance is NaN, Inf or <= -eps (1/std "
                         f"{inv[bad][:4]} ...): nothing to fold")


def _read_blocks(mods, role: Callable, block: Callable, pool: Callable, products: str) -> List[_Block]:
    """The model's blocks (see the module docstring), or ValueError saying where it departs."""
    roles = [role(m) for m in mods]
    for i, r in enumerate(roles):
        if r is None:
            raise ValueError(f"layer {i} ({type(mods[i]).__name__}) is not part of a packed BNN: expected "
                             f"{products}, max-pooling, batch norm, sign or flatten")
    blocks: List[_Block] = []
    i, flattened = 0, False
    while i < len(mods):
        if roles[i] == "flatten":
            if flattened or not blocks or blocks[-1].kind != "conv":
                raise ValueError(f"layer {i}: Flatten must follow the conv layers, once")
            flattened = True
            i += 1
            continue
        kind = roles[i]
        if kind not in ("conv", "dense"):
            raise ValueError(f"expected a conv or dense layer at layer {i}, got {type(mods[i]).__name__}")
        if kind == "conv" and flattened or kind == "dense" and blocks and blocks[-1].kind == "conv" and not flattened:
            raise ValueError(f"layer {i}: convs come first, then Flatten, then the dense layers")
        j = i + 1
        p = None
        if j < len(roles) and roles[j] == "pool":
            if kind != "conv":
                raise ValueError(f"layer {j}: max-pooling after a dense layer")
            p = pool(mods[j])
            j += 1
        bn = None
        if j < len(roles) and roles[j] == "bn":
            bn = mods[j]
            j += 1
        has_sign = j < len(roles) and roles[j] == "sign"
        if has_sign:
            if bn is None:
                raise ValueError(f"expected batch norm before the sign at layer {j}")
            j += 1
        elif j < len(mods):
            raise ValueError(f"expected {'[max-pooling] ' if kind == 'conv' else ''}batch norm and sign after "
                             f"layer {i}, got {type(mods[j]).__name__} at layer {j}")
        if not has_sign and (kind == "conv" or p is not None):
            raise ValueError(f"the model must end with a dense layer (the logits), not layer {i}")
        blocks.append(block(kind, mods[i], p, bn, has_sign, f"layer {i}"))
        i = j
    if len(blocks) < 2 or blocks[-1].kind != "dense" or blocks[-1].has_sign:
        raise ValueError("the BNN needs a real-input layer and at least one binary dense layer after it, "
                         "the last giving the logits (dense [batch norm], no sign)")
    if any(b.kind == "conv" for b in blocks) and not flattened:
        raise ValueError("expected Flatten after the convs")
    return blocks


def _conv_bits(w: np.ndarray, layout: str) -> np.ndarray:
    """Packed (F, KH, KW, ceil(C/64)) filters of a binary conv from its float weights."""
    if layout == "nchw":
        w = w.transpose(0, 2, 3, 1)  # (F, C, KH, KW) -> (F, KH, KW, C)
    return np.ascontiguousarray(pack_signs(np.ascontiguousarray(w, np.float32), axis=-1))


def _assemble(blocks: List[_Block], layout: str, input_shape, input_scale, input_offset) -> Model:
    first, rest = blocks[0], blocks[1:]
    convs = [b for b in rest if b.kind == "conv"]
    dense = [b for b in rest if b.kind == "dense"]
    layers: list = []
    w = first.weight
    if first.kind == "dense":
        layers.append(RealDense(np.ascontiguousarray(pack_signs(np.ascontiguousarray(w, np.float32))), w.shape[1],
                                first.fold.float_threshold()))
    else:
        f = w.shape[0]
        kh, kw, c = (w.shape[1], w.shape[2], w.shape[3]) if layout == "nhwc" else (w.shape[2], w.shape[3], w.shape[1])
        rows = np.ascontiguousarray(w.reshape(f, -1), np.float32)  # the trained layer's weight rows, its order
        layers.append(RealConv(np.ascontiguousarray(pack_signs(rows)), c, (kh, kw), first.stride, first.padding,
                               layout, first.fold.float_threshold(), first.pool))
    for b in convs:
        bits = _conv_bits(b.weight, layout)
        f, kh, kw, _ = bits.shape
        c = b.weight.shape[3] if layout == "nhwc" else b.weight.shape[1]
        layers.append(PackedConv(bits, c, b.stride, b.padding, b.pad_value, b.fold.threshold(kh * kw * c), b.pool))
    if first.kind == "conv":
        input_shape = _conv_input_shape(layers, dense[0].weight.shape[1], layout, input_shape)
        feature_shape = _feature_shape(layers, layout, input_shape)
    for n, b in enumerate(dense):
        w = np.asarray(b.weight, np.float32)
        k = w.shape[1]
        if n == 0 and first.kind == "conv" and layout == "nchw":
            h, wd, c = feature_shape  # torch flattens (c, h, w); the engine's features are (h, w, c)
            w = w.reshape(-1, c, h, wd).transpose(0, 2, 3, 1).reshape(w.shape[0], -1)
        bits = np.ascontiguousarray(pack_signs(np.ascontiguousarray(w)))
        epilogue = b.fold.threshold(k) if b.has_sign else b.fold.affine()
        layers.append(PackedDense(bits, k, epilogue))
    return make(layers, input_shape if first.kind == "conv" else None, input_scale=input_scale,
                input_offset=input_offset)


def _spatial(layers, h: int, w: int) -> Tuple[int, int, int]:
    c = layers[0].in_channels
    for layer in layers:
        if not isinstance(layer, (RealConv, PackedConv)):
            break
        h, w = layer.out_size(h, w) if h > 0 and w > 0 else (0, 0)
        c = layer.out_channels
    return h, w, c


def _feature_shape(layers, layout, input_shape) -> Tuple[int, int, int]:
    h, w = input_shape[:2] if layout == "nhwc" else input_shape[1:]
    return _spatial(layers, h, w)


def _conv_input_shape(layers, features: int, layout: str, input_shape) -> Tuple[int, int, int]:
    """The given input shape, or the smallest square one whose conv stack gives `features`
    features (pooling floors: 32 to 39 all give the CIFAR-10 net's 4x4; 32 drops no pixel)."""
    c = layers[0].in_channels
    if input_shape is not None:
        return tuple(int(v) for v in input_shape)
    fits = []
    for s in range(1, 4097):
        h, w, f = _spatial(layers, s, s)
        if h > 0 and w > 0 and h * w * f == features:
            fits.append(s)
        if h * w * f > features and h > 0:
            break
    if not fits:
        raise ValueError(f"no square input gives the first dense layer's {features} features; pass input_shape")
    s = fits[0]
    return (s, s, c) if layout == "nhwc" else (c, s, s)
