"""Loaders of the papers' data sets (MNIST, Fashion-MNIST, CIFAR-10, SVHN) into a
:class:`Dataset`, and :func:`load_dataset` by name."""
from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np

from . import registry
from .files import _dataset_dir, _download_cifar10, _download_files, _find, _locate, _read_bytes, _read_checked
from .formats import _parse_cifar, _parse_idx, _parse_svhn, _require_scipy_io
from .registry import CIFAR10_CLASSES, FASHION_MNIST_CLASSES, MNIST_CLASSES

PathLike = Union[str, os.PathLike]


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


def _load_idx_set(folder: str, title: str, fn: str, classes: Tuple[str, ...],
                  root: Optional[PathLike], download: bool, verify: bool) -> Dataset:
    directory = _dataset_dir(root, folder, registry.IDX_FILES)
    sources = " or ".join(registry.MIRRORS[folder])
    paths = _locate(title, folder, directory, registry.IDX_FILES, fn, download,
                    lambda missing: _download_files(folder, directory, missing, gz=True), sources)
    arrays = []
    for path, name in zip(paths, registry.IDX_FILES):
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
    meta = _find(directory, registry.CIFAR_META)
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
    directory = _dataset_dir(root, "cifar10", registry.CIFAR_FILES)
    paths = _locate("CIFAR-10", "cifar10", directory, registry.CIFAR_FILES, "load_cifar10", download,
                    lambda _missing: _download_cifar10(directory), registry.CIFAR_ARCHIVE[0])
    parts, matched, unverified = [], [], []
    for path, name in zip(paths, registry.CIFAR_FILES):
        data, ok = _read_checked(path, "cifar10", name, verify)
        (matched if ok else unverified).append(path.name)
        parts.append(_parse_cifar(data, path))
    notes = ""
    copy_note = registry.manifest("cifar10", directory)[1]
    if verify and not unverified:
        notes = copy_note
    elif verify:
        warnings.warn(f"CIFAR-10 files not verified (not the recorded JPEG-q75 copy, and the original's "
                      f"per-file digests are not recorded): {', '.join(unverified)} in {directory}; only "
                      f"their structure was checked", UserWarning, stacklevel=2)
        if matched:
            notes = f"partly the recorded copy ({', '.join(matched)}): " + copy_note
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
    names = [registry.SVHN_FILES["train"], registry.SVHN_FILES["test"]] + ([registry.SVHN_FILES["extra"]] if extra else [])
    directory = _dataset_dir(root, "svhn", names)
    paths = _locate("SVHN", "svhn", directory, names, "load_svhn", download,
                    lambda missing: _download_files("svhn", directory, missing, gz=False), registry.MIRRORS["svhn"][0])
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
