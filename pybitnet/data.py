"""Data sets of the papers (MNIST, Fashion-MNIST, CIFAR-10, SVHN) and their preprocessing.

Files are read from a data root holding one folder per data set::

    <root>/mnist/          train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz
                           t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz
    <root>/fashion-mnist/  the same four IDX names
    <root>/cifar10/        data_batch_1.bin.gz .. data_batch_5.bin.gz  test_batch.bin.gz
                           (batches.meta.txt, optional: class names)
    <root>/svhn/           train_32x32.mat  test_32x32.mat  (extra_32x32.mat)

Every file may be gzip-compressed (``name.gz``) or not. The root is the
``root`` argument, else the ``PYBITNET_DATA`` environment variable, else
``~/.cache/pybitnet``; ``root`` may also be the data set's folder itself.
Known files are checked against the sha256 (md5 for SVHN, as published) of
their decompressed content; bad files raise :class:`ValueError` naming the
file, missing ones :class:`FileNotFoundError` saying what to put where.
``download=True`` fetches missing files from the upstream sites (off by
default: the machines that build pybitnet are offline).

>>> ds = pybitnet.data.load_mnist()                 # uint8 (60000, 28, 28), int64 labels
>>> x_tr, y_tr, x_val, y_val = pybitnet.data.validation_split(ds.x_train, ds.y_train, 10000)
>>> x = pybitnet.data.scale_pm1(pybitnet.data.flatten(x_tr))     # float32 in [-1, 1]
>>> t = pybitnet.data.one_hot_pm1(y_tr, 10)                        # +-1 targets, squared hinge
"""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import math
import os
import shutil
import tarfile
import urllib.request
import warnings
import zlib
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = [
    "CIFAR10_CLASSES",
    "ENV_VAR",
    "FASHION_MNIST_CLASSES",
    "MNIST_CLASSES",
    "Dataset",
    "ZCA",
    "center",
    "data_root",
    "file_digest",
    "flatten",
    "gcn",
    "load_cifar10",
    "load_dataset",
    "load_fashion_mnist",
    "load_mnist",
    "load_svhn",
    "one_hot_pm1",
    "read_cifar10_batch",
    "read_idx",
    "read_svhn_mat",
    "scale_pm1",
    "validation_split",
    "zca_whiten",
]

PathLike = Union[str, os.PathLike]

ENV_VAR = "PYBITNET_DATA"

# ---------------------------------------------------------------------------------------------
# What the known files are: names, digests of the decompressed content, upstream sources.
# ---------------------------------------------------------------------------------------------

_IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
              "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
_CIFAR_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6)) + ("test_batch.bin",)
_CIFAR_META = "batches.meta.txt"
_SVHN_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat", "extra": "extra_32x32.mat"}

# folder -> file -> "algorithm:hex" of the decompressed content.
_DIGESTS: Dict[str, Dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte": "sha256:ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "sha256:65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "sha256:0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "sha256:ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "sha256:c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "sha256:bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "sha256:5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "sha256:0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    # The JPEG-q75 rebuild kept in the project's shared data (see its README). The original
    # files' per-file digests are not recorded; a download is checked through its archive.
    "cifar10": {
        "data_batch_1.bin": "sha256:8da035fc1631e8ce5f25904206b8993b0f3ad02a504c0584d662e806fd76c12b",
        "data_batch_2.bin": "sha256:106eeaad9f1fa7a999292fdafe68ee909080f58aee038a76994035aedf40ba26",
        "data_batch_3.bin": "sha256:99cb88ba00fca88bf28c517a74307b6b78a346c6ea747a561cb8e660c787d5cb",
        "data_batch_4.bin": "sha256:76b482bc3bb79c0370e48ea71bb6e4f567a3770d224dc09a9ddc8cfa2369f294",
        "data_batch_5.bin": "sha256:490f5ead4f04a3eb71d5898eb551e0d8d2c592feb778fb9b109a006b3f231495",
        "test_batch.bin": "sha256:1a12357ec210a79e0e979b2d122ef760c47d27270bbc33a184d7677d0d8f0f9a",
        "lossless_data_batch_1_first1000.bin":
            "sha256:1c5f9ea0fc1111d586f29115efd3db25eecf7db27b29aaebbe84721446b052cc",
    },
    # md5 as published with the data set (of the .mat files themselves).
    "svhn": {
        "train_32x32.mat": "md5:e26dedcc434d2e4c54c9b2d4a06d8373",
        "test_32x32.mat": "md5:eb5a983be6a315427106f1b164d9cef3",
        "extra_32x32.mat": "md5:a93ce644f1a588dc4d68dda5feec44a7",
    },
}

_CIFAR_JPEG_NOTE = ("CIFAR-10 (JPEG q75 copy): labels exact, pixels about 8 grey levels RMSE from the "
                    "original; results on it are close to, not equal to, results on CIFAR-10")

_MIRRORS = {
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"],
    "fashion-mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
    "svhn": ["http://ufldl.stanford.edu/housenumbers/"],
}
_CIFAR_ARCHIVE = ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
                  "sha256:c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd")

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")


# ---------------------------------------------------------------------------------------------
# The result
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class Dataset:
    """A train/test split as arrays.

    Attributes
    ----------
    x_train, x_test : ndarray
        Images, uint8: (N, 28, 28) for MNIST and Fashion-MNIST, (N, 32, 32, 3)
        (NHWC, RGB) for CIFAR-10 and SVHN.
    y_train, y_test : ndarray of int64, shape (N,)
        Class indices ``0 .. len(classes) - 1``.
    name : str
        ``"mnist"``, ``"fashion-mnist"``, ``"cifar10"`` or ``"svhn"``.
    classes : tuple of str
        Class names in label order.
    notes : str
        Caveats about this copy of the data (e.g. the JPEG-degraded CIFAR-10),
        to be repeated wherever results on it are reported; empty if none.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str
    classes: Tuple[str, ...]
    notes: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __repr__(self) -> str:
        note = f", notes={self.notes!r}" if self.notes else ""
        return (f"Dataset(name={self.name!r}, x_train={self.x_train.dtype}{self.x_train.shape}, "
                f"x_test={self.x_test.dtype}{self.x_test.shape}, classes={len(self.classes)}{note})")


# ---------------------------------------------------------------------------------------------
# Files: where they are, reading (gzip or not), digests, download
# ---------------------------------------------------------------------------------------------

def data_root(root: Optional[PathLike] = None) -> Path:
    """The data root: `root`, else ``$PYBITNET_DATA``, else ``$XDG_CACHE_HOME/pybitnet``
    (``~/.cache/pybitnet``).

    Parameters
    ----------
    root : str or path-like, optional
        An explicit directory; wins over the environment.

    Returns
    -------
    pathlib.Path
    """
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "pybitnet"


def _candidates(directory: Path, name: str) -> List[Path]:
    return [directory / name, directory / (name + ".gz")]


def _find(directory: Path, name: str) -> Optional[Path]:
    for p in _candidates(directory, name):
        if p.is_file():
            return p
    return None


def _dataset_dir(root: Optional[PathLike], folder: str, names: Sequence[str]) -> Path:
    """``<root>/<folder>``, or `root` itself when it directly holds the data set's files."""
    base = data_root(root)
    if (base / folder).is_dir():
        return base / folder
    if base.is_dir() and any(_find(base, n) for n in names):
        return base
    return base / folder


def _read_bytes(path: Path) -> bytes:
    """The file's content, gunzipped when it is gzip data (told by its magic, not its name)."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"{path}: corrupt or truncated gzip data ({e})") from e
    if str(path).endswith(".gz"):
        raise ValueError(f"{path}: named .gz but is not gzip data (starts with {raw[:4]!r})")
    return raw


def _hexdigest(data: bytes, algorithm: str) -> str:
    return hashlib.new(algorithm, data).hexdigest()


def file_digest(path: PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file's content, decompressed first if it is gzip data.

    Parameters
    ----------
    path : str or path-like
    algorithm : str, default "sha256"
        Any :func:`hashlib.new` name.

    Returns
    -------
    str
    """
    return _hexdigest(_read_bytes(Path(path)), algorithm)


def _identify(data: bytes) -> Optional[str]:
    """Which known file (``folder/name``) these bytes are, if any."""
    digests: Dict[str, str] = {}
    for folder, files in _DIGESTS.items():
        for name, spec in files.items():
            algo, hexd = spec.split(":")
            if algo not in digests:
                digests[algo] = _hexdigest(data, algo)
            if digests[algo] == hexd:
                return f"{folder}/{name}"
    return None


def _check_digest(path: Path, data: bytes, folder: str, name: str) -> Optional[bool]:
    """Compare with the known digest: True on match, None when none is known, else ValueError."""
    spec = _DIGESTS.get(folder, {}).get(name)
    if spec is None:
        return None
    algo, expected = spec.split(":")
    got = _hexdigest(data, algo)
    if got == expected:
        return True
    if folder == "cifar10":
        return False  # only the JPEG copy is recorded: the caller warns instead
    other = _identify(data)
    hint = f" (it is {other})" if other else ""
    raise ValueError(f"{path}: {algo} checksum mismatch{hint}: expected {expected}, got {got}; "
                     f"the file is corrupt or not {folder}/{name} (pass verify=False to skip this check)")


def _read_checked(path: Path, folder: str, name: str, verify: bool) -> Tuple[bytes, Optional[bool]]:
    data = _read_bytes(path)
    return data, (_check_digest(path, data, folder, name) if verify else None)


def _fetch(urls: Sequence[str], dest: Path, check: Callable[[Path], None]) -> None:
    """Download the first working URL to `dest` (atomically), after `check` passed on it."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(f"{dest.name}.{os.getpid()}.part")  # concurrent downloads do not collide
    errors: List[str] = []
    bad: List[str] = []
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as out:
                shutil.copyfileobj(response, out, 1 << 20)
            check(part)
            os.replace(part, dest)
            return
        except ValueError as e:
            bad.append(f"{url}: {e}")
        except OSError as e:  # urllib.error.URLError is an OSError
            errors.append(f"{url}: {e}")
        finally:
            if part.exists():
                part.unlink()
    if bad:
        raise ValueError(f"download of {dest.name} failed its check: " + "; ".join(bad + errors))
    raise OSError(f"could not download {dest.name}: " + "; ".join(errors))


def _digest_check(spec: str, decompress: bool = True) -> Callable[[Path], None]:
    algo, expected = spec.split(":")

    def check(path: Path) -> None:
        data = _read_bytes(path) if decompress else path.read_bytes()
        got = _hexdigest(data, algo)
        if got != expected:
            raise ValueError(f"{algo} checksum mismatch: expected {expected}, got {got}")
    return check


def _download_files(folder: str, directory: Path, names: Sequence[str], gz: bool) -> None:
    for name in names:
        remote = name + ".gz" if gz else name
        urls = [m + remote for m in _MIRRORS[folder]]
        _fetch(urls, directory / remote, _digest_check(_DIGESTS[folder][name]))


def _download_cifar10(directory: Path) -> None:
    url, spec = _CIFAR_ARCHIVE
    archive = directory / "cifar-10-binary.tar.gz"
    _fetch([url], archive, _digest_check(spec, decompress=False))
    try:
        # Only the known members are read, and written under names we choose (no path traversal).
        with tarfile.open(archive, "r:gz") as tar:
            for name in _CIFAR_FILES + (_CIFAR_META,):
                member = tar.extractfile("cifar-10-batches-bin/" + name)
                if member is None:
                    raise ValueError(f"{archive}: {name} is not a regular file")
                part = directory / f"{name}.{os.getpid()}.part"
                try:
                    with member, open(part, "wb") as out:
                        shutil.copyfileobj(member, out, 1 << 20)
                    os.replace(part, directory / name)
                finally:
                    part.unlink(missing_ok=True)
    except (tarfile.TarError, KeyError, EOFError, zlib.error) as e:
        raise ValueError(f"{archive}: unreadable CIFAR-10 archive ({e})") from e
    finally:
        archive.unlink(missing_ok=True)


def _missing_error(title: str, directory: Path, missing: Sequence[str], folder: str, fn: str,
                   sources: str) -> FileNotFoundError:
    files = "\n".join(f"    {n}  (or {n}.gz)" for n in missing)
    return FileNotFoundError(
        f"{title} not found: these files are missing from {directory}:\n{files}\n"
        f"Put them there (gzip-compressed or not), or point {ENV_VAR} (or root=) at a directory "
        f"holding a {folder}/ folder with them. On a machine with network, {fn}(download=True) "
        f"fetches them from {sources} and checks their checksums.")


def _locate(title: str, folder: str, directory: Path, names: Sequence[str], fn: str,
            download: bool, fetch: Callable[[List[str]], None], sources: str) -> List[Path]:
    missing = [n for n in names if _find(directory, n) is None]
    if missing and download:
        fetch(missing)
        missing = [n for n in names if _find(directory, n) is None]
    if missing:
        raise _missing_error(title, directory, missing, folder, fn, sources)
    return [_find(directory, n) for n in names]  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# Loaders
# ---------------------------------------------------------------------------------------------

def _load_idx_set(folder: str, title: str, fn: str, classes: Tuple[str, ...],
                  root: Optional[PathLike], download: bool, verify: bool) -> Dataset:
    directory = _dataset_dir(root, folder, _IDX_FILES)
    sources = " or ".join(_MIRRORS[folder])
    paths = _locate(title, folder, directory, _IDX_FILES, fn, download,
                    lambda missing: _download_files(folder, directory, missing, gz=True), sources)
    arrays = []
    for path, name in zip(paths, _IDX_FILES):
        data, _ = _read_checked(path, folder, name, verify)
        arrays.append(_parse_idx(data, path))
    x_train, y_train, x_test, y_test = arrays
    for x, y, px, py in ((x_train, y_train, paths[0], paths[1]), (x_test, y_test, paths[2], paths[3])):
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28):
            raise ValueError(f"{px}: expected uint8 images of shape (N, 28, 28), got {x.dtype}{x.shape}")
        if y.dtype != np.uint8 or y.ndim != 1:
            raise ValueError(f"{py}: expected a uint8 label vector, got {y.dtype}{y.shape}")
        if len(x) != len(y):
            raise ValueError(f"{px} has {len(x)} images but {py} has {len(y)} labels")
        if y.size and y.max() >= len(classes):
            raise ValueError(f"{py}: label {y.max()} out of range 0..{len(classes) - 1}")
    return Dataset(x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64),
                   name=folder, classes=classes)


def load_mnist(root: Optional[PathLike] = None, *, download: bool = False, verify: bool = True) -> Dataset:
    """MNIST: 60,000 train and 10,000 test handwritten digits, 28x28 uint8.

    Parameters
    ----------
    root : str or path-like, optional
        Data root holding ``mnist/`` (or the ``mnist`` folder itself); default
        ``$PYBITNET_DATA``, see :func:`data_root`.
    download : bool, default False
        Fetch missing files from the upstream mirrors (checksums checked).
    verify : bool, default True
        Check each file's sha256 (of the decompressed content).

    Returns
    -------
    Dataset
        ``x_*`` uint8 (N, 28, 28), ``y_*`` int64.

    Raises
    ------
    FileNotFoundError
        Files missing (the message lists them and where they go).
    ValueError
        A corrupt, truncated or wrong file (the message names it).
    """
    return _load_idx_set("mnist", "MNIST", "load_mnist", MNIST_CLASSES, root, download, verify)


def load_fashion_mnist(root: Optional[PathLike] = None, *, download: bool = False,
                       verify: bool = True) -> Dataset:
    """Fashion-MNIST: 60,000 train and 10,000 test clothing images, 28x28 uint8.

    Same files, parameters and errors as :func:`load_mnist`, in ``<root>/fashion-mnist/``.

    Returns
    -------
    Dataset
    """
    return _load_idx_set("fashion-mnist", "Fashion-MNIST", "load_fashion_mnist", FASHION_MNIST_CLASSES,
                         root, download, verify)


def _cifar_classes(directory: Path) -> Tuple[str, ...]:
    meta = _find(directory, _CIFAR_META)
    if meta is None:
        return CIFAR10_CLASSES
    try:
        names = tuple(line.strip() for line in _read_bytes(meta).decode("ascii").splitlines() if line.strip())
    except UnicodeDecodeError as e:
        raise ValueError(f"{meta}: not an ASCII list of class names ({e})") from e
    if len(names) != 10:
        raise ValueError(f"{meta}: expected 10 class names, found {len(names)}")
    return names


def load_cifar10(root: Optional[PathLike] = None, *, download: bool = False, verify: bool = True) -> Dataset:
    """CIFAR-10 from its binary batches: 50,000 train and 10,000 test 32x32 RGB images.

    Parameters
    ----------
    root : str or path-like, optional
        Data root holding ``cifar10/`` (or that folder itself), see :func:`data_root`.
    download : bool, default False
        Fetch and unpack ``cifar-10-binary.tar.gz`` (archive checksum checked).
    verify : bool, default True
        Check the batches' sha256. Only the digests of the project's JPEG-q75 copy
        are recorded: a matching copy gets :attr:`Dataset.notes` saying so; other
        files (e.g. the original CIFAR-10) load with a :class:`UserWarning` that
        they are unverified (their structure is still checked).

    Returns
    -------
    Dataset
        ``x_*`` uint8 (N, 32, 32, 3) NHWC RGB, ``y_*`` int64.

    Raises
    ------
    FileNotFoundError
        Batches missing (the message lists them and where they go).
    ValueError
        A truncated or corrupt batch (the message names it).
    """
    directory = _dataset_dir(root, "cifar10", _CIFAR_FILES)
    paths = _locate("CIFAR-10", "cifar10", directory, _CIFAR_FILES, "load_cifar10", download,
                    lambda _missing: _download_cifar10(directory), _CIFAR_ARCHIVE[0])
    parts, matched, unverified = [], [], []
    for path, name in zip(paths, _CIFAR_FILES):
        data, ok = _read_checked(path, "cifar10", name, verify)
        (matched if ok else unverified).append(path.name)
        parts.append(_parse_cifar(data, path))
    notes = ""
    if verify and not unverified:
        notes = _CIFAR_JPEG_NOTE
    elif verify:
        warnings.warn(f"CIFAR-10 files not verified (not the recorded JPEG-q75 copy, and the original's "
                      f"per-file digests are not recorded): {', '.join(unverified)} in {directory}; only "
                      f"their structure was checked", UserWarning, stacklevel=2)
        if matched:
            notes = f"partly the JPEG q75 copy ({', '.join(matched)}): " + _CIFAR_JPEG_NOTE
    x_train = np.concatenate([p[0] for p in parts[:5]])
    y_train = np.concatenate([p[1] for p in parts[:5]])
    x_test, y_test = parts[5]
    return Dataset(x_train, y_train, x_test, y_test, name="cifar10", classes=_cifar_classes(directory),
                   notes=notes)


def load_svhn(root: Optional[PathLike] = None, *, extra: bool = False, download: bool = False,
              verify: bool = True) -> Dataset:
    """SVHN cropped digits (``train_32x32.mat``, ``test_32x32.mat``), 32x32 RGB.

    Needs scipy (``pip install 'pybitnet[svhn]'``).

    Parameters
    ----------
    root : str or path-like, optional
        Data root holding ``svhn/`` (or that folder itself), see :func:`data_root`.
    extra : bool, default False
        Append ``extra_32x32.mat`` (531,131 easier images) to the training set.
    download : bool, default False
        Fetch missing files from the SVHN site (md5 checked).
    verify : bool, default True
        Check each file's published md5.

    Returns
    -------
    Dataset
        ``x_*`` uint8 (N, 32, 32, 3) NHWC, ``y_*`` int64 digits 0..9 (the files'
        label 10 is digit 0).

    Raises
    ------
    ImportError
        scipy is not installed.
    FileNotFoundError
        Files missing (the message lists them and where they go).
    ValueError
        A corrupt, truncated or wrong file (the message names it).
    """
    _require_scipy_io()
    names = [_SVHN_FILES["train"], _SVHN_FILES["test"]] + ([_SVHN_FILES["extra"]] if extra else [])
    directory = _dataset_dir(root, "svhn", names)
    paths = _locate("SVHN", "svhn", directory, names, "load_svhn", download,
                    lambda missing: _download_files("svhn", directory, missing, gz=False), _MIRRORS["svhn"][0])
    parts = []
    for path, name in zip(paths, names):
        data, _ = _read_checked(path, "svhn", name, verify)
        parts.append(_parse_svhn(data, path))
    train = [parts[0]] + parts[2:]
    x_train = np.concatenate([p[0] for p in train]) if len(train) > 1 else train[0][0]
    y_train = np.concatenate([p[1] for p in train]) if len(train) > 1 else train[0][1]
    return Dataset(x_train, y_train, parts[1][0], parts[1][1], name="svhn", classes=MNIST_CLASSES)


_LOADERS = {"mnist": load_mnist, "fashion-mnist": load_fashion_mnist, "fashion_mnist": load_fashion_mnist,
            "cifar10": load_cifar10, "cifar-10": load_cifar10, "svhn": load_svhn}


def load_dataset(name: str, root: Optional[PathLike] = None, **kwargs) -> Dataset:
    """Load a data set by name: ``mnist``, ``fashion-mnist``, ``cifar10`` or ``svhn``.

    Parameters
    ----------
    name : str
    root : str or path-like, optional
    **kwargs
        Passed to the loader (``download``, ``verify``, ``extra``).

    Returns
    -------
    Dataset
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    try:
        loader = _LOADERS[name.lower()]
    except KeyError:
        raise ValueError(f"name: unknown data set {name!r}; known: mnist, fashion-mnist, cifar10, svhn") from None
    return loader(root, **kwargs)


# ---------------------------------------------------------------------------------------------
# Splits and targets
# ---------------------------------------------------------------------------------------------

def validation_split(x, y, n_val: int = 10000):
    """Hold out the LAST `n_val` examples as validation set (as the papers do for MNIST).

    Parameters
    ----------
    x, y : ndarray
        Examples and labels, same length.
    n_val : int, default 10000

    Returns
    -------
    x_train, y_train, x_val, y_val : ndarray
        Views of the inputs (no copies).
    """
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    n_val = int(n_val)
    if not 0 < n_val < len(x):
        raise ValueError(f"n_val must be in 1..{len(x) - 1}, got {n_val}")
    cut = len(x) - n_val
    return x[:cut], y[:cut], x[cut:], y[cut:]


def one_hot_pm1(y, classes: int) -> np.ndarray:
    """±1 targets: +1 at the label, -1 elsewhere (the squared-hinge loss of the papers).

    Parameters
    ----------
    y : array of int, shape (N,)
        Labels in ``0 .. classes - 1``.
    classes : int

    Returns
    -------
    ndarray of float32, shape (N, classes)
    """
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must be a 1-D integer label array, got {y.dtype}{y.shape}")
    if classes < 1:
        raise ValueError(f"classes must be positive, got {classes}")
    if y.size and (y.min() < 0 or y.max() >= classes):
        raise ValueError(f"y: labels must be in 0..{classes - 1}, got {y.min()}..{y.max()}")
    t = np.full((y.size, classes), -1.0, np.float32)
    t[np.arange(y.size), y] = 1.0
    return t


# ---------------------------------------------------------------------------------------------
# Preprocessing
# ---------------------------------------------------------------------------------------------

_CHUNK = 4096  # rows per float64 temporary, bounds memory on CIFAR-sized inputs


def flatten(x) -> np.ndarray:
    """Images (N, ...) -> rows (N, features); a view when possible.

    Returns
    -------
    ndarray, shape (N, prod(x.shape[1:]))
    """
    x = np.asarray(x)
    if x.ndim < 1:
        raise ValueError(f"x must have a leading example axis, got shape {x.shape}")
    return x.reshape(len(x), -1)


def scale_pm1(x, max_value: float = 255.0) -> np.ndarray:
    """Map ``[0, max_value]`` linearly to ``[-1, 1]`` (``2 x / max_value - 1``), float32.

    Parameters
    ----------
    x : array
        e.g. uint8 images.
    max_value : float, default 255

    Returns
    -------
    ndarray of float32, same shape
    """
    half = np.float32(max_value / 2.0)
    return np.asarray(x, np.float32) / half - np.float32(1.0)


def center(x_train, *others) -> Tuple[np.ndarray, ...]:
    """Subtract the per-feature mean of `x_train` from it and from `others`.

    Parameters
    ----------
    x_train : array (N, ...)
        The set the mean is fitted on.
    *others : array (M, ...)
        Sets to shift by the same mean (validation, test).

    Returns
    -------
    tuple of ndarray of float32
        ``(x_train_centred, *others_centred)``, shapes kept.
    """
    x_train = np.asarray(x_train)
    mean = x_train.mean(axis=0, dtype=np.float64).astype(np.float32)
    out = []
    for i, x in enumerate((x_train,) + others):
        x = np.asarray(x)
        if x.shape[1:] != x_train.shape[1:]:
            raise ValueError(f"others[{i - 1}]: example shape {x.shape[1:]} differs from x_train's "
                             f"{x_train.shape[1:]}")
        out.append(np.asarray(x, np.float32) - mean)
    return tuple(out)


def gcn(x, scale: float = 1.0, sqrt_bias: float = 0.0, use_std: bool = False,
        min_divisor: float = 1e-8) -> np.ndarray:
    """Global contrast normalization, per example.

    Each example (flattened) has its mean removed and is divided by
    ``sqrt(sqrt_bias + var)`` (``use_std=True``) or ``sqrt(sqrt_bias + sum of
    squares)`` (its L2 norm when ``sqrt_bias=0``), then multiplied by `scale`.
    Divisors below `min_divisor` (flat images) are replaced by 1. The
    BinaryConnect/BNN CIFAR-10 inputs (pylearn2's ``make_cifar10_gcn_whitened``)
    are ``gcn(x, scale=55)`` followed by ``ZCA(eps=0.1)``; Coates et al. (2011)
    used ``gcn(x, sqrt_bias=10, use_std=True)``.

    Parameters
    ----------
    x : array (N, ...)
    scale : float, default 1
    sqrt_bias : float, default 0
    use_std : bool, default False
    min_divisor : float, default 1e-8

    Returns
    -------
    ndarray of float32, shape of `x`
    """
    x = np.asarray(x)
    rows = flatten(x)
    out = np.empty(rows.shape, np.float32)
    for s in range(0, len(rows), _CHUNK):
        r = rows[s:s + _CHUNK].astype(np.float64)
        r -= r.mean(axis=1, keepdims=True)
        sq = (r * r).mean(axis=1) if use_std else (r * r).sum(axis=1)
        div = np.sqrt(sqrt_bias + sq)
        div[div < min_divisor] = 1.0
        out[s:s + _CHUNK] = scale * r / div[:, None]
    return out.reshape(x.shape)


class ZCA:
    """ZCA whitening, fitted on a training set and applied to any set.

    ``transform(x) = (x - mean) @ W`` with ``W = U diag(1 / sqrt(s + eps)) U^T``,
    where ``U diag(s) U^T`` is the SVD of the training covariance (``1/N``
    normalisation). `eps` regularises small eigenvalues: with ``eps -> 0`` the
    whitened training covariance is the identity. ``eps=0.1`` is the filter bias
    of the papers' CIFAR-10 preprocessing (pylearn2's ZCA, after ``gcn(x, scale=55)``).

    Examples
    --------
    >>> ds = load_cifar10()
    >>> zca = ZCA(eps=0.1).fit(gcn(ds.x_train, scale=55.0))
    >>> x_train, x_test = zca.transform(gcn(ds.x_train, scale=55.0)), zca.transform(gcn(ds.x_test, scale=55.0))

    Parameters
    ----------
    eps : float, default 0.1

    Attributes
    ----------
    mean_ : ndarray of float32, shape (D,)
    whitening_ : ndarray of float32, shape (D, D)
        Symmetric whitening matrix ``W``.
    """

    def __init__(self, eps: float = 0.1) -> None:
        if not eps >= 0:
            raise ValueError(f"eps must be >= 0, got {eps}")
        self.eps = float(eps)
        self.mean_: Optional[np.ndarray] = None
        self.whitening_: Optional[np.ndarray] = None

    def fit(self, x) -> "ZCA":
        """Fit mean and whitening matrix on `x` (N, ...); returns self."""
        rows = flatten(x)
        n, d = rows.shape
        if n < 2:
            raise ValueError(f"x: need at least 2 examples to fit ZCA, got {n}")
        mean = rows.mean(axis=0, dtype=np.float64)
        cov = np.zeros((d, d), np.float64)
        for s in range(0, n, _CHUNK):
            c = rows[s:s + _CHUNK].astype(np.float64) - mean
            cov += c.T @ c
        cov /= n
        u, s, _ = np.linalg.svd(cov, hermitian=True)
        if self.eps == 0 and s.min() <= 0:
            raise ValueError("x: covariance is singular; use eps > 0")
        w = (u / np.sqrt(s + self.eps)) @ u.T
        self.mean_ = mean.astype(np.float32)
        self.whitening_ = w.astype(np.float32)
        return self

    def transform(self, x) -> np.ndarray:
        """Whiten `x` (N, ...) with the fitted parameters; float32, shape of `x`."""
        if self.whitening_ is None:
            raise RuntimeError("ZCA.transform before fit")
        x = np.asarray(x)
        rows = flatten(x)
        if rows.shape[1] != self.whitening_.shape[0]:
            raise ValueError(f"x: {rows.shape[1]} features per example, ZCA was fitted on "
                             f"{self.whitening_.shape[0]}")
        out = np.empty(rows.shape, np.float32)
        for s in range(0, len(rows), _CHUNK):
            out[s:s + _CHUNK] = (rows[s:s + _CHUNK].astype(np.float32) - self.mean_) @ self.whitening_
        return out.reshape(x.shape)

    def fit_transform(self, x) -> np.ndarray:
        """``fit(x).transform(x)``."""
        return self.fit(x).transform(x)


def zca_whiten(x_train, *others, eps: float = 0.1) -> Tuple[np.ndarray, ...]:
    """Fit :class:`ZCA` on `x_train`, apply it to `x_train` and `others`.

    Parameters
    ----------
    x_train : array (N, ...)
    *others : array (M, ...)
    eps : float, default 0.1

    Returns
    -------
    tuple of ndarray of float32
        ``(x_train_white, *others_white)``, shapes kept.
    """
    zca = ZCA(eps).fit(x_train)
    return tuple(zca.transform(x) for x in (x_train,) + others)
