"""The data sets' file formats: IDX (MNIST, Fashion-MNIST), CIFAR-10's binary
batches, SVHN's MATLAB v5 .mat files (checked strictly before scipy reads them).
Parsers take bytes; the ``read_*`` functions a path (gzip-compressed or not)."""
from __future__ import annotations

import io
import math
import os
import zlib
from pathlib import Path
from typing import Tuple, Union

import numpy as np

from .files import _read_bytes

PathLike = Union[str, os.PathLike]

_IDX_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def _parse_idx(data: bytes, where: object) -> np.ndarray:
    if len(data) < 4:
        raise ValueError(f"{where}: truncated IDX file ({len(data)} bytes, no header)")
    if data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES or data[3] == 0:
        raise ValueError(f"{where}: bad IDX magic {data[:4].hex()} (expected 0000 then a type byte "
                         f"08/09/0b/0c/0d/0e and a dimension count); not an IDX file")
    dtype, ndim = _IDX_TYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{where}: truncated IDX header ({len(data)} bytes, needs {header})")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, 4))
    expected = math.prod(shape) * dtype.itemsize  # Python ints: absurd headers cannot wrap around
    got = len(data) - header
    if got != expected:
        what = "truncated" if got < expected else "has trailing bytes"
        raise ValueError(f"{where}: IDX file {what}: header says shape {shape} = {expected} bytes of "
                         f"data, file holds {got}")
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def read_idx(path: PathLike) -> np.ndarray:
    """Read one IDX file (the MNIST format), gzip-compressed or not.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    ndarray
        In the stored dtype (native byte order, writable) and shape.

    Raises
    ------
    ValueError
        Bad magic, truncated header or data, trailing bytes, corrupt gzip.
    """
    path = Path(path)
    return _parse_idx(_read_bytes(path), path)


_CIFAR_RECORD = 1 + 32 * 32 * 3


def _parse_cifar(data: bytes, where: object) -> Tuple[np.ndarray, np.ndarray]:
    if len(data) == 0 or len(data) % _CIFAR_RECORD:
        raise ValueError(f"{where}: {len(data)} bytes is not a whole number of 3073-byte CIFAR-10 "
                         f"records (truncated or not a CIFAR-10 binary batch)")
    records = np.frombuffer(data, np.uint8).reshape(-1, _CIFAR_RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() > 9:
        bad = int(np.argmax(labels > 9))
        raise ValueError(f"{where}: record {bad} has label {labels[bad]} (CIFAR-10 labels are 0..9); "
                         f"corrupt or not a CIFAR-10 binary batch")
    # Each record stores the R, G, B planes one after the other; return NHWC.
    images = np.ascontiguousarray(records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return images, labels


def read_cifar10_batch(path: PathLike) -> Tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR-10 binary batch (``data_batch_N.bin``, ``test_batch.bin``, or ``.gz``).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    images : ndarray of uint8, shape (N, 32, 32, 3)
        NHWC, RGB.
    labels : ndarray of int64, shape (N,)

    Raises
    ------
    ValueError
        Size not a multiple of 3073 bytes, a label above 9, corrupt gzip.
    """
    path = Path(path)
    return _parse_cifar(_read_bytes(path), path)


def _require_scipy_io():
    try:
        import scipy.io
    except ImportError as e:
        raise ImportError("reading SVHN .mat files needs scipy: pip install 'pybitnet[svhn]' "
                          "(or pip install scipy)") from e
    return scipy.io


# MATLAB v5 element types -> item size (numeric ones), and the numeric array classes.
_MAT_SIZES = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8}
_MAT_NUMERIC_CLASSES = range(6, 16)  # double, single, int8 .. uint64
_MAT_MAX_INFLATED = 1 << 34  # 16 GiB: far above SVHN's largest variable (extra X: 1.6 GB)


def _mat_elements(b: bytes, pos: int, end: int, order: str):
    """(type, payload) of the MATLAB v5 data elements in b[pos:end], bounds-checked."""
    while pos < end:
        if end - pos < 8:
            raise ValueError(f"truncated element tag at byte {pos}")
        typ, n = np.frombuffer(b, order + "u4", 2, pos)
        typ, n = int(typ), int(n)
        if typ >> 16:  # small data element: 2-byte size, 2-byte type, 4 bytes of data
            typ, n = typ & 0xFFFF, typ >> 16
            if n > 4:
                raise ValueError(f"small element of {n} bytes at byte {pos}")
            yield typ, b[pos + 4:pos + 4 + n]
            pos += 8
            continue
        if n > end - pos - 8:
            raise ValueError(f"element at byte {pos} claims {n} bytes, {end - pos - 8} remain")
        yield typ, b[pos + 8:pos + 8 + n]
        pos += 8 + (n if typ == 15 else -(-n // 8) * 8)


def _check_mat_matrix(b: bytes, order: str) -> None:
    subs = list(_mat_elements(b, 0, len(b), order))
    if len(subs) < 3 or subs[0][0] != 6 or len(subs[0][1]) != 8 or subs[1][0] != 5 or len(subs[1][1]) % 4 \
            or len(subs[1][1]) < 8 or subs[2][0] != 1:
        raise ValueError("malformed array header (flags, dimensions, name)")
    flags = int(np.frombuffer(subs[0][1], order + "u4", 1)[0])
    cls, complex_ = flags & 0xFF, bool(flags & 0x800)
    dims = np.frombuffer(subs[1][1], order + "i4")
    if (dims < 0).any():
        raise ValueError(f"negative dimensions {dims.tolist()}")
    count = 1
    for d in dims.tolist():
        count *= d
    if cls == 4:  # char array (e.g. a string variable): one data element
        if len(subs) != 4 or subs[3][0] not in (2, 4, 16, 17, 18):
            raise ValueError("malformed char array")
        return
    if cls not in _MAT_NUMERIC_CLASSES:
        raise ValueError(f"unsupported MATLAB array class {cls} (SVHN files hold numeric arrays)")
    parts = subs[3:]
    if len(parts) != 1 + complex_:
        raise ValueError(f"numeric array with {len(parts)} data parts (complex={complex_})")
    for typ, payload in parts:
        if typ not in _MAT_SIZES or len(payload) != count * _MAT_SIZES[typ]:
            raise ValueError(f"data part of type {typ} and {len(payload)} bytes for {count} elements")


def _check_mat5(data: bytes) -> None:
    """Walk a MATLAB v5 file's structure strictly before scipy reads it: scipy.io.loadmat
    (1.17) segfaults on some corrupt files (e.g. a complex flag without an imaginary part;
    found by fuzz/fuzz_data.py). Raises ValueError saying what is wrong."""
    if len(data) < 128:
        raise ValueError(f"{len(data)} bytes: shorter than the 128-byte MATLAB v5 header")
    order = {b"IM": "<", b"MI": ">"}.get(data[126:128])
    if order is None:
        raise ValueError(f"unsupported .mat version (endian indicator {data[126:128]!r}; SVHN's files are MATLAB v5)")
    for typ, payload in _mat_elements(data, 128, len(data), order):
        if typ == 15:
            z = zlib.decompressobj()
            try:
                payload = z.decompress(payload, _MAT_MAX_INFLATED)
            except zlib.error as e:
                raise ValueError(f"corrupt compressed variable ({e})") from None
            if z.unconsumed_tail:
                raise ValueError("a compressed variable inflates past 16 GiB")
            inner = list(_mat_elements(payload, 0, len(payload), order))
            if len(inner) != 1:
                raise ValueError("a compressed element must hold exactly one variable")
            typ, payload = inner[0]
        if typ != 14:
            raise ValueError(f"top-level element of type {typ} (expected a matrix)")
        _check_mat_matrix(payload, order)


def _parse_svhn(data: bytes, where: object) -> Tuple[np.ndarray, np.ndarray]:
    sio = _require_scipy_io()
    try:
        _check_mat5(data)
    except ValueError as e:
        raise ValueError(f"{where}: not a readable MATLAB .mat file ({e})") from None
    try:
        mat = sio.loadmat(io.BytesIO(data))
    except NotImplementedError as e:  # MATLAB v7.3 (HDF5) files
        raise ValueError(f"{where}: unsupported .mat version ({e}); SVHN's files are MATLAB v5") from e
    except Exception as e:  # scipy reports corrupt files through many exception types
        raise ValueError(f"{where}: not a readable MATLAB .mat file ({type(e).__name__}: {e})") from e
    if "X" not in mat or "y" not in mat:
        raise ValueError(f"{where}: expected variables 'X' and 'y' (SVHN cropped digits), "
                         f"found {sorted(k for k in mat if not k.startswith('__'))}")
    x, y = np.asarray(mat["X"]), np.asarray(mat["y"])
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3) or x.dtype != np.uint8:
        raise ValueError(f"{where}: 'X' must be uint8 of shape (32, 32, 3, N), got {x.dtype}{x.shape}")
    y = y.reshape(-1)
    if not (np.issubdtype(y.dtype, np.integer) or (np.issubdtype(y.dtype, np.floating) and np.all(y == np.round(y)))):
        raise ValueError(f"{where}: 'y' must hold integer labels, got {y.dtype}")
    if y.shape[0] != x.shape[3]:
        raise ValueError(f"{where}: {x.shape[3]} images but {y.shape[0]} labels")
    if y.size and (y.min() < 1 or y.max() > 10):
        raise ValueError(f"{where}: SVHN labels must be 1..10 (10 = digit 0), got {y.min()}..{y.max()}")
    images = np.ascontiguousarray(x.transpose(3, 0, 1, 2))
    return images, (y.astype(np.int64) % 10)


def read_svhn_mat(path: PathLike) -> Tuple[np.ndarray, np.ndarray]:
    """Read one SVHN cropped-digits file (``train_32x32.mat`` ...), gzip-compressed or not.

    Needs scipy (``pip install 'pybitnet[svhn]'``).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    images : ndarray of uint8, shape (N, 32, 32, 3)
        NHWC, from the file's (32, 32, 3, N) ``X``.
    labels : ndarray of int64, shape (N,)
        Digits 0..9 (the file's label 10 means digit 0).

    Raises
    ------
    ImportError
        scipy is not installed.
    ValueError
        Unreadable file, missing ``X``/``y``, wrong shapes or label values.
    """
    _require_scipy_io()
    path = Path(path)
    return _parse_svhn(_read_bytes(path), path)
