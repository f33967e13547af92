"""Reading untrusted .npz files (models, checkpoints) without pickle, and with
every way a file can be broken turned into one :class:`InvalidModelFile`.

``np.load`` alone lets a corrupt file escape as SyntaxError, TokenError,
NotImplementedError, RuntimeError (encrypted member), KeyError, or a MemoryError
for a header that claims a huge shape. Here each member's .npy header is read
first and its claimed size checked against the zip directory (and the zip's
sizes against what DEFLATE can produce) before any array is allocated.

Beside the reader: :func:`checksum` (SHA-256 over the members), :func:`write_npz`
(atomic) and :class:`Members` (typed access to a file's members, every problem an
:class:`InvalidModelFile` naming the file), shared by the packed model codec
(:mod:`pybitnet.inference.io`) and the training checkpoints (:mod:`pybitnet.checkpoint`).
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np
from numpy.lib import format as npy_format

from ._errors import InvalidModelFile

_MAX_HEADER = 1 << 16      # bytes of a .npy header (numpy's own default limit is 10000)
_DEFLATE_MAX_RATIO = 1100  # DEFLATE expands at most ~1032x: a bigger claim is a corrupt or hostile zip


def _header(f):
    """(shape, dtype, header length) of the .npy stream `f`, as read_array will parse it."""
    version = npy_format.read_magic(f)
    # (3, 0) differs from (2, 0) only by a utf-8 header (non-latin-1 field names); read as 2.0,
    # a misread header fails the size check below and read_array parses it properly.
    read = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
    shape, _fortran, dtype = read(f, max_header_size=_MAX_HEADER)
    return shape, dtype, f.tell()


def _member_size_ok(info: zipfile.ZipInfo, name: str) -> None:
    if info.flag_bits & 0x1:
        raise ValueError(f"member {name!r} is encrypted")
    if info.compress_type != zipfile.ZIP_STORED and info.compress_type != zipfile.ZIP_DEFLATED:
        raise ValueError(f"member {name!r} uses unsupported compression {info.compress_type}")
    if info.file_size > _DEFLATE_MAX_RATIO * info.compress_size + (1 << 16):
        raise ValueError(f"member {name!r} claims {info.file_size} bytes from {info.compress_size} compressed")


def read_npz(path, what: str) -> Dict[str, np.ndarray]:
    """The arrays of the .npz at `path` by name (allow_pickle=False).

    Raises FileNotFoundError if `path` does not exist and InvalidModelFile
    (message ``"<path>: not a valid <what>: ..."``) for anything else wrong.
    """
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(f"path must be a str or path-like, got {type(path).__name__}") from None
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what} {path} does not exist")
    if os.path.isdir(path):
        raise InvalidModelFile(f"{path}: not a valid {what}: it is a directory")
    arrays: Dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            for info in infos:
                name = info.filename
                if not name.endswith(".npy"):
                    raise ValueError(f"member {name!r} is not a .npy array")
                key = name[:-4]
                if key in arrays:
                    raise ValueError(f"member {name!r} appears twice")
                _member_size_ok(info, name)
                with zf.open(info) as f:
                    shape, dtype, header_len = _header(f)
                if dtype.hasobject:
                    raise ValueError(f"member {name!r} holds Python objects (pickle), which pybitnet never loads")
                count = 1
                for d in shape:
                    count *= int(d)  # Python ints: an absurd header cannot wrap around
                if header_len + count * dtype.itemsize != info.file_size:
                    raise ValueError(f"member {name!r}: header says {shape} {dtype} ({count * dtype.itemsize} bytes) "
                                     f"but the member holds {info.file_size - header_len}")
                with zf.open(info) as f:
                    arrays[key] = npy_format.read_array(f, allow_pickle=False, max_header_size=_MAX_HEADER)
    except MemoryError:
        raise
    except Exception as e:  # zipfile, zlib and numpy report corrupt input through many types
        raise InvalidModelFile(f"{path}: not a valid {what}: unreadable ({type(e).__name__}: {e})") from e
    return arrays


# -- helpers shared by the model codec (pybitnet.inference.io) and checkpoints ----------------------

def checksum(arrays: Dict[str, np.ndarray]) -> str:
    """SHA-256 (hex) over every array's name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def write_npz(path, arrays: Dict[str, np.ndarray]) -> str:
    """Write `arrays` as an uncompressed .npz at `path` exactly (numpy would add ".npz"
    to a bare name), atomically: a temporary file beside it, then a rename, so an
    interrupted write never leaves a broken file. Returns the path as a str."""
    path = os.fspath(path)
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


class Members:
    """Typed access to the arrays of a file being read: each getter checks the member's
    presence, kind and shape and raises ``fail(why)`` (an :class:`InvalidModelFile`
    naming the file) otherwise."""

    def __init__(self, arrays: Dict[str, np.ndarray], fail: Callable[[str], Exception]):
        self.arrays, self.fail = arrays, fail

    def __contains__(self, name: str) -> bool:
        return name in self.arrays

    def _get(self, name: str) -> np.ndarray:
        if name not in self.arrays:
            raise self.fail(f"member {name!r} is missing")
        return self.arrays[name]

    def scalar(self, name: str, kind: str):
        """A 0-d member of dtype kind `kind` ("U" str, "i" int, "f" float) as a Python value."""
        a = self._get(name)
        if a.shape != () or a.dtype.kind != kind:
            raise self.fail(f"member {name!r} must be a scalar of kind {kind!r}, got {a.dtype} {a.shape}")
        v = a[()]
        return str(v) if kind == "U" else int(v) if kind == "i" else float(v)

    def ints(self, name: str, lengths: Sequence[int], lo: int = 0, hi: int = 1 << 20) -> Tuple[int, ...]:
        """An int vector of one of `lengths`, every value in [lo, hi], as a tuple."""
        a = self._get(name)
        if a.dtype.kind != "i" or a.ndim != 1 or a.shape[0] not in lengths:
            raise self.fail(f"member {name!r} must be int64 of length {' or '.join(map(str, lengths))}, got "
                            f"{a.dtype} {a.shape}")
        if (a < lo).any() or (a > hi).any():
            raise self.fail(f"member {name!r} out of range: {a.tolist()}")
        return tuple(int(v) for v in a)

    def array(self, name: str, dtype, shape: Optional[Tuple[int, ...]] = None, ndim: Optional[int] = None):
        """A member of exactly `dtype` (and `shape`, or `ndim` dimensions), C-contiguous."""
        a = self._get(name)
        if a.dtype != dtype or (shape is not None and a.shape != shape) or (ndim is not None and a.ndim != ndim):
            want = np.dtype(dtype).name + (f" {shape}" if shape is not None else f" {ndim}-D" if ndim else "")
            raise self.fail(f"member {name!r} must be {want}, got {a.dtype} {a.shape}")
        return np.ascontiguousarray(a)

    def verify_checksum(self) -> None:
        want = self.scalar("checksum", "U")
        if checksum({k: v for k, v in self.arrays.items() if k != "checksum"}) != want:
            raise self.fail("checksum mismatch (the file is corrupt or was edited)")
