"""Packed model files: ``export(model, path)`` and ``load(path)``, one codec with a
table of formats.

Written: format ``"pybitnet-bnn"``, version 2, an uncompressed .npz (numpy's zip of
.npy members, read with allow_pickle=False; or, on request, a safetensors file
holding the same members) with

- ``format`` (str), ``version`` (int64), ``input_shape`` (int64 (1,) or (3,)),
  ``input_scale`` / ``input_offset`` (float64; NaN when unknown), ``num_layers``;
- per layer n: ``layer{n}.type`` (str: ``real_dense``, ``real_conv``, ``conv``,
  ``dense``; :mod:`.layers`), ``layer{n}.in`` (int64: input features or channels),
  ``layer{n}.weight_bits`` (uint64, 1 bit per weight, bit contract, zero padding:
  (out, ceil(in/64)) for dense layers and the first conv, (F, KH, KW, ceil(C/64)) for
  binary convs); convs: ``layer{n}.stride``, ``.padding`` (int64 (2,)), ``.pool``
  (int64 (4,): size h, w, stride h, w; or (0,)), binary convs ``.pad_value`` (str:
  zero / one), the first conv ``.kernel`` (int64 (2,)) and ``.layout`` (str: nhwc /
  nchw); ``layer{n}.epilogue`` (str: threshold / float_threshold / affine) and its
  arrays ``layer{n}.<field>`` (threshold: int32 t, bool flip; float_threshold:
  float32 t, s; affine: float32 scale, shift);
- ``checksum``: SHA-256 over every other member's name, dtype, shape and bytes.

Read: every format of :data:`FORMATS` — version 2 and the two of pybitnet 0.1,
``"pybitnet-bnn-mlp"`` v1 (MLPs) and ``"pybitnet-bnn-cnn"`` v1 (CNNs), told apart
by the ``format`` and ``version`` members. A corrupt, truncated, foreign,
wrong-version or inconsistent file raises :class:`InvalidModelFile` naming the
problem.
"""
from __future__ import annotations

import os
import sys
from typing import Callable, Dict, Optional

import numpy as np

from .._errors import InvalidModelFile
from .._npz import Members, checksum, read_npz, write_npz
from .engine import Model, make
from .layers import EPILOGUES, MaxPool, PackedConv, PackedDense, RealConv, RealDense, epilogue_name

FORMAT = "pybitnet-bnn"
VERSION = 2
_TYPES = {RealDense: "real_dense", RealConv: "real_conv", PackedConv: "conv", PackedDense: "dense"}

_checksum = checksum  # the name pybitnet 0.1's tests and fuzzers import


# ------------------------------------------------------------------------------------------------
# Writing
# ------------------------------------------------------------------------------------------------

def to_arrays(m: Model) -> Dict[str, np.ndarray]:
    """The members of `m`'s file (format 2), checksum included."""
    nan = float("nan")
    arrays = {"format": np.array(FORMAT), "version": np.array(VERSION, np.int64),
              "input_shape": np.array(m.input_shape, np.int64), "num_layers": np.array(len(m.layers), np.int64),
              "input_scale": np.array(nan if m.input_scale is None else m.input_scale, np.float64),
              "input_offset": np.array(nan if m.input_offset is None else m.input_offset, np.float64)}
    for n, layer in enumerate(m.layers):
        p = f"layer{n}."
        arrays[p + "type"] = np.array(_TYPES[type(layer)])
        arrays[p + "weight_bits"] = np.ascontiguousarray(layer.weight_bits, np.uint64)
        dense = isinstance(layer, (RealDense, PackedDense))
        arrays[p + "in"] = np.array(layer.in_features if dense else layer.in_channels, np.int64)
        if not dense:
            arrays[p + "stride"] = np.array(layer.stride, np.int64)
            arrays[p + "padding"] = np.array(layer.padding, np.int64)
            arrays[p + "pool"] = np.array(() if layer.pool is None else layer.pool.size + layer.pool.stride, np.int64)
        if isinstance(layer, PackedConv):
            arrays[p + "pad_value"] = np.array(layer.pad_value)
        if isinstance(layer, RealConv):
            arrays[p + "kernel"] = np.array(layer.kernel_size, np.int64)
            arrays[p + "layout"] = np.array(layer.layout)
        e = layer.epilogue
        arrays[p + "epilogue"] = np.array(epilogue_name(e))
        for name, dtype in e.fields:
            arrays[p + name] = np.ascontiguousarray(getattr(e, name), dtype)
    arrays["checksum"] = np.array(checksum(arrays))
    return arrays


def export(model, path, *, input_scale: Optional[float] = None, input_offset: Optional[float] = None,
           input_shape=None, format: Optional[str] = None) -> str:
    """Write a trained BNN, or a packed :class:`~.engine.Model`, as a packed file.

    Parameters
    ----------
    model : Model, pybitnet.nn.Sequential, or torch.nn.Sequential
        A trained model is folded first (:func:`~.convert.from_trained`,
        :func:`~.convert.from_torch`).
    path : str or path-like
        Written as given (numpy's savez would add ".npz" to a bare name; we do not),
        atomically.
    input_scale, input_offset : float, optional
        MLP: the uint8-pixel to input map ``x = p * scale + offset`` (recipe "pm1":
        2/255, -1; "unit": 1/255, 0), enabling uint8 inputs after :func:`load`.
    input_shape : tuple, optional
        CNN: one input's shape, when folding a trained model (see from_trained).
    format : "npz" or "safetensors", optional
        Default: "safetensors" for a path ending in ``.safetensors``, else "npz".
        safetensors needs ``pip install safetensors``; the members are the same
        (strings in the header's metadata).

    Returns
    -------
    str: the path written.
    """
    from .convert import from_torch, from_trained

    if not isinstance(model, Model):
        torch = sys.modules.get("torch")  # a torch model means torch is imported; never import it here
        if torch is not None and isinstance(model, torch.nn.Module):
            model = from_torch(model, input_shape, input_scale, input_offset)
        else:
            model = from_trained(model, input_scale, input_offset, input_shape)
    elif input_scale is not None or input_offset is not None:
        model = make(model.layers, model.input_shape, input_scale=input_scale, input_offset=input_offset)
    if format is None:
        format = "safetensors" if os.fspath(path).endswith(".safetensors") else "npz"
    arrays = to_arrays(model)
    if format == "npz":
        return write_npz(path, arrays)
    if format == "safetensors":
        return _write_safetensors(path, arrays)
    raise ValueError(f"format must be 'npz' or 'safetensors', got {format!r}")


def _write_safetensors(path, arrays: Dict[str, np.ndarray]) -> str:
    from safetensors.numpy import save

    tensors = {k: v for k, v in arrays.items() if v.dtype.kind != "U"}
    meta = {k: str(v[()]) for k, v in arrays.items() if v.dtype.kind == "U"}
    data = save(tensors, metadata=meta)
    path = os.fspath(path)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return path


# ------------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------------

def load(path) -> Model:
    """Read a file written by :func:`export` (any format of :data:`FORMATS`): an
    :class:`~.engine.InferenceModel` for an MLP, a :class:`~.engine.CNNModel` for a CNN.
    Raises :class:`InvalidModelFile` (a ValueError) naming the problem for a corrupt,
    truncated, foreign, wrong-version or inconsistent file."""
    what = "packed model file"
    arrays = _read_safetensors(path, what) if _is_safetensors(path) else read_npz(path, what)
    return from_arrays(arrays, os.fspath(path))


def from_arrays(arrays: Dict[str, np.ndarray], path="<arrays>") -> Model:
    """The model of a file's members (see :func:`load`)."""
    generic = Members(arrays, lambda why: InvalidModelFile(f"{path}: not a valid packed model file: {why}"))
    fmt = generic.scalar("format", "U")
    version = generic.scalar("version", "i")
    reader = FORMATS.get((fmt, version))
    if reader is None:
        known = ", ".join(f"{f} v{v}" for f, v in FORMATS)
        raise generic.fail(f"format {fmt!r} version {version} (this pybitnet reads {known})")
    m = Members(arrays, lambda why: InvalidModelFile(f"{path}: not a valid {fmt} v{version} model file: {why}"))
    m.verify_checksum()
    try:
        return reader(m)
    except InvalidModelFile:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError) as e:  # a check we lack
        raise m.fail(f"{type(e).__name__}: {e}") from e


def _epilogue(m: Members, prefix: str, kind: str, channels: int, names=None):
    """The epilogue `kind` from members prefix + its field names (or `names`, pybitnet 0.1's "a", "b")."""
    if kind not in EPILOGUES:
        raise m.fail(f"{prefix}epilogue {kind!r} is not one of {', '.join(EPILOGUES)}")
    cls = EPILOGUES[kind]
    names = names or [name for name, _ in cls.fields]
    return cls(*(m.array(prefix + name, dtype, (channels,)) for name, (_, dtype) in zip(names, cls.fields)))


def _pool(m: Members, name: str) -> Optional[MaxPool]:
    p = m.ints(name, (0, 4), lo=1)
    return MaxPool(p[:2], p[2:]) if p else None


def _model(m: Members, layers, input_shape, scale=None, offset=None) -> Model:
    try:
        return make(layers, input_shape, input_scale=scale, input_offset=offset)
    except ValueError as e:
        raise m.fail(f"layers do not fit together: {e}") from e


def _input_map(m: Members):
    scale, offset = m.scalar("input_scale", "f"), m.scalar("input_offset", "f")
    if np.isnan(scale) and np.isnan(offset):  # both NaN: no uint8 input map
        return None, None
    return scale, offset


def _layer_count(m: Members, name: str) -> int:
    num = m.scalar(name, "i")
    if not 1 <= num <= 1000:
        raise m.fail(f"{name} {num}")
    return num


def _read_v2(m: Members) -> Model:
    num = _layer_count(m, "num_layers")
    layers = []
    for n in range(num):
        p = f"layer{n}."
        kind = m.scalar(p + "type", "U")
        if kind not in _TYPES.values():
            raise m.fail(f"layer {n} type {kind!r} is not one of {', '.join(_TYPES.values())}")
        k = m.scalar(p + "in", "i")
        if not 1 <= k <= 1 << 30:
            raise m.fail(f"layer {n} in {k}")
        bits = m.array(p + "weight_bits", np.uint64, ndim=4 if kind == "conv" else 2)
        e = _epilogue(m, p, m.scalar(p + "epilogue", "U"), bits.shape[0])
        if kind == "real_dense":
            layers.append(RealDense(bits, k, e))
        elif kind == "dense":
            layers.append(PackedDense(bits, k, e))
        else:
            stride, padding = m.ints(p + "stride", (2,)), m.ints(p + "padding", (2,))
            pool = _pool(m, p + "pool")
            if kind == "conv":
                layers.append(PackedConv(bits, k, stride, padding, m.scalar(p + "pad_value", "U"), e, pool))
            else:
                layers.append(RealConv(bits, k, m.ints(p + "kernel", (2,)), stride, padding,
                                       m.scalar(p + "layout", "U"), e, pool))
    shape = m.ints("input_shape", (1, 3), lo=1, hi=1 << 30)
    scale, offset = _input_map(m)
    return _model(m, layers, shape, scale, offset)


def _read_mlp_v1(m: Members) -> Model:
    """pybitnet 0.1's MLP files: layer{n}.kind / in_features / weight_bits / a / b."""
    num = _layer_count(m, "num_layers")
    if num < 2:
        raise m.fail(f"num_layers {num}")
    layers = []
    for n in range(num):
        p = f"layer{n}."
        kind = m.scalar(p + "kind", "U")
        want = "float_threshold" if n == 0 else "affine" if n == num - 1 else "threshold"
        if kind != want:
            raise m.fail(f"layer {n} kind is {kind!r}, expected {want!r}")
        k = m.scalar(p + "in_features", "i")
        bits = m.array(p + "weight_bits", np.uint64, ndim=2)
        if not 1 <= k <= 1 << 30 or bits.shape[1] != -(-k // 64):
            raise m.fail(f"layer {n} weight_bits must be uint64 (out, ceil({k}/64)), got {bits.shape}")
        e = _epilogue(m, p, kind, bits.shape[0], "ab")
        layers.append(RealDense(bits, k, e) if n == 0 else PackedDense(bits, k, e))
    scale, offset = _input_map(m)
    return _model(m, layers, None, scale, offset)


def _read_cnn_v1(m: Members) -> Model:
    """pybitnet 0.1's CNN files: conv{n}.* and dense{n}.* members (NHWC input)."""
    num_convs, num_dense = _layer_count(m, "num_convs"), _layer_count(m, "num_dense")
    input_shape = m.ints("input_shape", (3,), lo=1)
    layers = []
    for n in range(num_convs):
        p = f"conv{n}."
        kind = m.scalar(p + "kind", "U")
        want = "float_threshold" if n == 0 else "threshold"
        if kind != want:
            raise m.fail(f"conv {n} kind is {kind!r}, expected {want!r}")
        c = m.scalar(p + "in_channels", "i")
        kh, kw, sh, sw, ph, pw = m.ints(p + "geometry", (6,))
        pool = _pool(m, p + "pool")
        pad_value = m.scalar(p + "pad_value", "U")
        bits = m.array(p + "weight_bits", np.uint64, ndim=2 if n == 0 else 4)
        e = _epilogue(m, p, kind, bits.shape[0], "ab")
        if n == 0:
            layers.append(RealConv(bits, c, (kh, kw), (sh, sw), (ph, pw), "nhwc", e, pool))
        else:
            if bits.shape[1:3] != (kh, kw):
                raise m.fail(f"conv {n} weight_bits {bits.shape} does not match its kernel {kh}x{kw}")
            layers.append(PackedConv(bits, c, (sh, sw), (ph, pw), pad_value, e, pool))
    for n in range(num_dense):
        p = f"dense{n}."
        kind = m.scalar(p + "kind", "U")
        want = "affine" if n == num_dense - 1 else "threshold"
        if kind != want:
            raise m.fail(f"dense {n} kind is {kind!r}, expected {want!r}")
        bits = m.array(p + "weight_bits", np.uint64, ndim=2)
        layers.append(PackedDense(bits, m.scalar(p + "in_features", "i"), _epilogue(m, p, kind, bits.shape[0], "ab")))
    return _model(m, layers, input_shape)


#: (format, version) -> reader: what :func:`load` reads. Writing is always the first one.
FORMATS: Dict[tuple, Callable[[Members], Model]] = {
    (FORMAT, VERSION): _read_v2,
    ("pybitnet-bnn-mlp", 1): _read_mlp_v1,
    ("pybitnet-bnn-cnn", 1): _read_cnn_v1,
}


# ------------------------------------------------------------------------------------------------
# safetensors
# ------------------------------------------------------------------------------------------------

def _is_safetensors(path) -> bool:
    try:
        with open(os.fspath(path), "rb") as f:
            head = f.read(9)
    except (OSError, TypeError):
        return False  # read_npz reports it
    return len(head) == 9 and head[:2] != b"PK" and head[8:9] == b"{"


def _read_safetensors(path, what: str) -> Dict[str, np.ndarray]:
    path = os.fspath(path)
    try:
        from safetensors import safe_open
    except ImportError as e:
        raise InvalidModelFile(f"{path}: a safetensors file; reading it needs `pip install safetensors`") from e
    try:
        with safe_open(path, framework="numpy") as f:
            arrays = {k: f.get_tensor(k) for k in f.keys()}
            meta = f.metadata() or {}
    except Exception as e:  # the Rust parser reports corrupt files through several types
        raise InvalidModelFile(f"{path}: not a valid {what}: unreadable safetensors ({type(e).__name__}: {e})") from e
    for k, v in meta.items():
        if k in arrays:
            raise InvalidModelFile(f"{path}: not a valid {what}: {k!r} is both a tensor and metadata")
        arrays[k] = np.array(v)
    return arrays

