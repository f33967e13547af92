"""Reading untrusted .npz files (models, checkpoints) without pickle, and with
every way a file can be broken turned into one :class:`InvalidModelFile`.

``np.load`` alone lets a corrupt file escape as SyntaxError, TokenError,
NotImplementedError, RuntimeError (encrypted member), KeyError, or a MemoryError
for a header that claims a huge shape. Here each member's .npy header is read
first and its claimed size checked against the zip directory (and the zip's
sizes against what DEFLATE can produce) before any array is allocated.
"""
from __future__ import annotations

import os
import zipfile
from typing import Dict

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
