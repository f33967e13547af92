"""The packed binary CNN's file members (read and written by :mod:`.io`).

Format "pybitnet-bnn-cnn", version 1 (same family as the MLP's
"pybitnet-bnn-mlp": an uncompressed .npz read with allow_pickle=False, a
SHA-256 ``checksum`` member over every other member):

- ``format`` (str), ``version`` (int64), ``input_shape`` (int64 (3,): H, W, C),
  ``num_convs``, ``num_dense`` (int64);
- per conv n: ``conv{n}.kind`` (float_threshold / threshold),
  ``conv{n}.in_channels`` (int64), ``conv{n}.geometry`` (int64 (6,): kernel
  h, w, stride h, w, padding h, w), ``conv{n}.pad_value`` (str: zero / one),
  ``conv{n}.pool`` (int64 (4,): size h, w, stride h, w; or (0,) for none),
  ``conv{n}.weight_bits`` (uint64: (F, ceil(KH*KW*C/64)) for the first conv,
  (F, KH, KW, ceil(C/64)) for the others), ``conv{n}.a`` / ``conv{n}.b``
  (float32 t, s; or int32 t, bool flip);
- per dense layer n: ``dense{n}.kind`` (threshold / affine),
  ``dense{n}.in_features``, ``dense{n}.weight_bits``, ``dense{n}.a``,
  ``dense{n}.b`` as the MLP's layers.
"""
from __future__ import annotations

from typing import Dict

import numpy as np

from .cnn import CNNModel, ConvLayer
from .model import PackedLayer

CNN_FORMAT = "pybitnet-bnn-cnn"
CNN_VERSION = 1
_EPILOGUE = {"float_threshold": (np.float32, np.float32), "threshold": (np.int32, np.bool_),
             "affine": (np.float32, np.float32)}


def to_arrays(m: CNNModel) -> Dict[str, np.ndarray]:
    from .io import _checksum

    arrays = {"format": np.array(CNN_FORMAT), "version": np.array(CNN_VERSION, np.int64),
              "input_shape": np.array(m.input_shape, np.int64), "num_convs": np.array(len(m.convs), np.int64),
              "num_dense": np.array(len(m.dense), np.int64)}
    for n, c in enumerate(m.convs):
        p = f"conv{n}."
        arrays[p + "kind"] = np.array(c.kind)
        arrays[p + "in_channels"] = np.array(c.in_channels, np.int64)
        arrays[p + "geometry"] = np.array(c.kernel_size + c.stride + c.padding, np.int64)
        arrays[p + "pad_value"] = np.array(c.pad_value)
        arrays[p + "pool"] = np.array(c.pool if c.pool is not None else (), np.int64)
        arrays[p + "weight_bits"] = np.ascontiguousarray(c.weight_bits, np.uint64)
        arrays[p + "a"], arrays[p + "b"] = c.a, c.b
    for n, d in enumerate(m.dense):
        p = f"dense{n}."
        arrays[p + "kind"] = np.array(d.kind)
        arrays[p + "in_features"] = np.array(d.in_features, np.int64)
        arrays[p + "weight_bits"] = np.ascontiguousarray(d.weight_bits, np.uint64)
        arrays[p + "a"], arrays[p + "b"] = d.a, d.b
    arrays["checksum"] = np.array(_checksum(arrays))
    return arrays


def _padding_ok(bits: np.ndarray, k: int) -> bool:
    return k % 64 == 0 or not (bits[..., -1] >> np.uint64(k % 64)).any()


def from_arrays(arrays: Dict[str, np.ndarray], path="<arrays>") -> CNNModel:
    from .io import InvalidModelFile, _checksum, check_epilogue

    def fail(why):
        return InvalidModelFile(f"{path}: not a valid {CNN_FORMAT} v{CNN_VERSION} model file: {why}")

    def scalar(name, kind):
        a = arrays.get(name)
        if a is None:
            raise fail(f"member {name!r} is missing")
        if a.shape != () or a.dtype.kind != kind:
            raise fail(f"member {name!r} must be a scalar of kind {kind!r}, got {a.dtype} {a.shape}")
        return a[()]

    def vector(name, length):
        a = arrays.get(name)
        if a is None or a.dtype.kind != "i" or a.ndim != 1 or a.shape[0] not in length:
            raise fail(f"member {name!r} must be int64 of length {' or '.join(map(str, length))}, got "
                       f"{None if a is None else (a.dtype, a.shape)}")
        if (a < 0).any() or (a > 1 << 20).any():
            raise fail(f"member {name!r} out of range: {a.tolist()}")
        return tuple(int(v) for v in a)

    def epilogue(prefix, kind, out):
        ab = []
        for name, dtype in zip("ab", _EPILOGUE[kind]):
            a = arrays.get(prefix + name)
            if a is None or a.dtype != dtype or a.shape != (out,):
                raise fail(f"{prefix}{name} must be {np.dtype(dtype)} ({out},), got "
                           f"{None if a is None else (a.dtype, a.shape)}")
            ab.append(a)
        return check_epilogue(kind, ab[0], ab[1], lambda why: fail(f"{prefix[:-1]}: {why}"))

    version = int(scalar("version", "i"))
    if version != CNN_VERSION:
        raise fail(f"version {version} (this pybitnet reads version {CNN_VERSION})")
    if _checksum({k: v for k, v in arrays.items() if k != "checksum"}) != scalar("checksum", "U"):
        raise fail("checksum mismatch (the file is corrupt or was edited)")
    num_convs, num_dense = int(scalar("num_convs", "i")), int(scalar("num_dense", "i"))
    if not (1 <= num_convs <= 1000 and 1 <= num_dense <= 1000):
        raise fail(f"num_convs {num_convs}, num_dense {num_dense}")
    input_shape = vector("input_shape", (3,))
    convs = []
    for n in range(num_convs):
        p = f"conv{n}."
        kind = str(scalar(p + "kind", "U"))
        want = "float_threshold" if n == 0 else "threshold"
        if kind != want:
            raise fail(f"conv {n} kind is {kind!r}, expected {want!r}")
        c = int(scalar(p + "in_channels", "i"))
        kh, kw, sh, sw, ph, pw = vector(p + "geometry", (6,))
        pool = vector(p + "pool", (0, 4)) or None
        pad_value = str(scalar(p + "pad_value", "U"))
        if pad_value not in ("zero", "one") or c < 1 or min(kh, kw, sh, sw) < 1 or (pool and min(pool) < 1):
            raise fail(f"conv {n} geometry: channels {c}, kernel/stride/padding {(kh, kw, sh, sw, ph, pw)}, "
                       f"pool {pool}, pad_value {pad_value!r}")
        bits = arrays.get(p + "weight_bits")
        k = kh * kw * c if n == 0 else c
        shape_ok = bits is not None and bits.dtype == np.uint64 and (
            bits.ndim == 2 and bits.shape[1] == -(-k // 64) if n == 0 else
            bits.ndim == 4 and bits.shape[1:] == (kh, kw, -(-c // 64)))
        if not shape_ok:
            raise fail(f"conv {n} weight_bits has the wrong dtype or shape: "
                       f"{None if bits is None else (bits.dtype, bits.shape)}")
        if not _padding_ok(bits, k):
            raise fail(f"conv {n} weight_bits has nonzero padding bits")
        a, b = epilogue(p, kind, bits.shape[0])
        convs.append(ConvLayer(kind, c, (kh, kw), (sh, sw), (ph, pw), pad_value, np.ascontiguousarray(bits), a, b,
                               pool))
    dense = []
    for n in range(num_dense):
        p = f"dense{n}."
        kind = str(scalar(p + "kind", "U"))
        want = "affine" if n == num_dense - 1 else "threshold"
        if kind != want:
            raise fail(f"dense {n} kind is {kind!r}, expected {want!r}")
        k = int(scalar(p + "in_features", "i"))
        bits = arrays.get(p + "weight_bits")
        if bits is None or bits.dtype != np.uint64 or bits.ndim != 2 or k < 1 or bits.shape[1] != -(-k // 64):
            raise fail(f"dense {n} weight_bits must be uint64 (out, ceil({k}/64)), got "
                       f"{None if bits is None else (bits.dtype, bits.shape)}")
        if not _padding_ok(bits, k):
            raise fail(f"dense {n} weight_bits has nonzero padding bits")
        a, b = epilogue(p, kind, bits.shape[0])
        dense.append(PackedLayer(kind, k, np.ascontiguousarray(bits), a, b))
    try:
        return CNNModel(convs, dense, input_shape)
    except ValueError as e:
        raise fail(f"layers do not fit together: {e}") from e
