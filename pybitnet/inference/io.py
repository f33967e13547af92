"""Packed model files: ``export(model, path)`` and ``load(path)``.

Format "pybitnet-bnn-mlp", version 1: an uncompressed .npz (numpy's zip of
.npy members, read with allow_pickle=False) holding

- ``format`` (str), ``version`` (int64), ``num_layers`` (int64),
  ``input_scale`` / ``input_offset`` (float64; NaN when unknown);
- per layer n: ``layer{n}.kind`` (str: float_threshold / threshold / affine),
  ``layer{n}.in_features`` (int64), ``layer{n}.weight_bits`` (uint64 (out,
  ceil(in / 64)): 1 bit per binary weight, bit contract, zero padding),
  ``layer{n}.a`` / ``layer{n}.b`` (the epilogue: float32 t, s; int32 t, bool
  flip; float32 scale, shift);
- ``checksum``: SHA-256 over every other member's name, dtype, shape and bytes.

Binary CNNs (:class:`~pybitnet.inference.cnn.CNNModel`) are written in the
same family as format "pybitnet-bnn-cnn" (:mod:`.cnn_io` lists its members);
:func:`load` reads either, telling them apart by the ``format`` member.
"""
from __future__ import annotations

import hashlib
import io
import os
from typing import Dict, Optional

import numpy as np

from .._errors import InvalidModelFile
from .._npz import read_npz
from .model import InferenceModel, PackedLayer, from_trained

FORMAT = "pybitnet-bnn-mlp"
VERSION = 1
_EPILOGUE = {"float_threshold": (np.float32, np.float32), "threshold": (np.int32, np.bool_),
             "affine": (np.float32, np.float32)}


def _checksum(arrays: Dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def to_arrays(m: InferenceModel) -> Dict[str, np.ndarray]:
    nan = float("nan")
    arrays = {"format": np.array(FORMAT), "version": np.array(VERSION, np.int64),
              "num_layers": np.array(len(m.layers), np.int64),
              "input_scale": np.array(nan if m.input_scale is None else m.input_scale, np.float64),
              "input_offset": np.array(nan if m.input_offset is None else m.input_offset, np.float64)}
    for n, layer in enumerate(m.layers):
        arrays[f"layer{n}.kind"] = np.array(layer.kind)
        arrays[f"layer{n}.in_features"] = np.array(layer.in_features, np.int64)
        arrays[f"layer{n}.weight_bits"] = np.ascontiguousarray(layer.weight_bits, np.uint64)
        arrays[f"layer{n}.a"], arrays[f"layer{n}.b"] = layer.a, layer.b
    arrays["checksum"] = np.array(_checksum(arrays))
    return arrays


def export(model, path, *, input_scale: Optional[float] = None, input_offset: Optional[float] = None) -> str:
    """Write a trained BNN MLP (pybitnet.nn Sequential from recipes.build_model,
    method "bnn" or "bnn-shift") or an :class:`InferenceModel` as a packed file.

    Parameters
    ----------
    model : Sequential or InferenceModel
    path : str or path-like
        Written as given (numpy's savez would add ".npz" to a bare name; we do not).
    input_scale, input_offset : float, optional
        The uint8-pixel to input map ``x = p * scale + offset`` (recipe "pm1":
        2/255, -1; "unit": 1/255, 0), enabling uint8 inputs after :func:`load`.

    Returns
    -------
    str: the path written.
    """
    from . import cnn_io
    from .cnn import CNNModel

    if not isinstance(model, (InferenceModel, CNNModel)):
        model = from_trained(model, input_scale, input_offset)
    elif input_scale is not None and isinstance(model, InferenceModel):
        model = InferenceModel(model.layers, input_scale, input_offset)
    buf = io.BytesIO()
    np.savez(buf, **(cnn_io.to_arrays(model) if isinstance(model, CNNModel) else to_arrays(model)))
    path = os.fspath(path)
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    return path


def _fail(path, why) -> InvalidModelFile:
    return InvalidModelFile(f"{path}: not a valid {FORMAT} v{VERSION} model file: {why}")


def load(path):
    """Read a file written by :func:`export` (an :class:`InferenceModel`, or a
    :class:`~pybitnet.inference.cnn.CNNModel` for a CNN file); raises :class:`InvalidModelFile`
    (a ValueError) naming the problem for a corrupt, truncated, foreign,
    wrong-version or inconsistent file."""
    arrays = read_npz(path, f"{FORMAT} v{VERSION} model file")  # InvalidModelFile "...: unreadable (...)"
    try:
        return from_arrays(arrays, os.fspath(path))
    except InvalidModelFile:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError) as e:  # a check we lack
        raise _fail(path, f"{type(e).__name__}: {e}") from e


def check_epilogue(kind: str, a: np.ndarray, b: np.ndarray, fail) -> tuple:
    """The epilogue arrays of a layer read from a file, checked and normalised:
    no NaN in float thresholds and scales (Inf only as a threshold), and bool
    flips as 0/1 (a bool member may hold any byte; numpy reads nonzero as True)."""
    if a.dtype == np.float32 and np.isnan(a).any() or b.dtype == np.float32 and np.isnan(b).any():
        raise fail("NaN in its epilogue")
    if kind == "affine" and not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise fail("Inf in its affine epilogue (scale, shift)")
    if b.dtype == np.bool_:
        b = b.view(np.uint8) != 0
    return a, b


def _scalar(arrays, name, path, kind):
    if name not in arrays:
        raise _fail(path, f"member {name!r} is missing")
    a = arrays[name]
    if a.shape != () or a.dtype.kind != kind:
        raise _fail(path, f"member {name!r} must be a scalar of kind {kind!r}, got {a.dtype} {a.shape}")
    return a[()]


def from_arrays(arrays: Dict[str, np.ndarray], path="<arrays>"):
    fmt = _scalar(arrays, "format", path, "U")
    if fmt == "pybitnet-bnn-cnn":
        from . import cnn_io
        return cnn_io.from_arrays(arrays, path)
    if fmt != FORMAT:
        raise _fail(path, f"format is {fmt!r}")
    version = int(_scalar(arrays, "version", path, "i"))
    if version != VERSION:
        raise _fail(path, f"version {version} (this pybitnet reads version {VERSION})")
    checksum = _scalar(arrays, "checksum", path, "U")
    if _checksum({k: v for k, v in arrays.items() if k != "checksum"}) != checksum:
        raise _fail(path, "checksum mismatch (the file is corrupt or was edited)")
    num = int(_scalar(arrays, "num_layers", path, "i"))
    if not 2 <= num <= 1000:
        raise _fail(path, f"num_layers {num}")
    layers, prev_out = [], None
    for n in range(num):
        kind = str(_scalar(arrays, f"layer{n}.kind", path, "U"))
        want = "float_threshold" if n == 0 else "affine" if n == num - 1 else "threshold"
        if kind != want:
            raise _fail(path, f"layer {n} kind is {kind!r}, expected {want!r}")
        k = int(_scalar(arrays, f"layer{n}.in_features", path, "i"))
        bits = arrays.get(f"layer{n}.weight_bits")
        if bits is None or bits.dtype != np.uint64 or bits.ndim != 2 or bits.shape[1] != -(-k // 64) or k < 1:
            raise _fail(path, f"layer {n} weight_bits must be uint64 (out, ceil({k}/64)), got "
                              f"{None if bits is None else (bits.dtype, bits.shape)}")
        if prev_out is not None and k != prev_out:
            raise _fail(path, f"layer {n} takes {k} inputs but layer {n - 1} has {prev_out} outputs")
        if k % 64 and (bits[:, -1] >> np.uint64(k % 64)).any():
            raise _fail(path, f"layer {n} weight_bits has nonzero padding bits past in_features={k}")
        out = bits.shape[0]
        for name, dtype in zip("ab", _EPILOGUE[kind]):
            a = arrays.get(f"layer{n}.{name}")
            if a is None or a.dtype != dtype or a.shape != (out,):
                raise _fail(path, f"layer {n} {name} must be {np.dtype(dtype)} ({out},), got "
                                  f"{None if a is None else (a.dtype, a.shape)}")
        a, b = check_epilogue(kind, arrays[f"layer{n}.a"], arrays[f"layer{n}.b"],
                              lambda why, n=n: _fail(path, f"layer {n}: {why}"))
        layers.append(PackedLayer(kind, k, np.ascontiguousarray(bits), a, b))
        prev_out = out
    scale = float(_scalar(arrays, "input_scale", path, "f"))
    offset = float(_scalar(arrays, "input_offset", path, "f"))
    known = not (np.isnan(scale) and np.isnan(offset))  # both NaN: no uint8 input map
    try:
        return InferenceModel(layers, scale if known else None, offset if known else None)
    except ValueError as e:
        raise _fail(path, str(e)) from e
