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
their decompressed content: the upstream digests in :mod:`.registry`, the
manifests of known copies shipped in ``pybitnet/data/manifests/`` (e.g. the
JPEG-q75 CIFAR-10 copy) and a ``SHA256SUMS`` file in the data folder or root
when there is one. Bad files raise :class:`ValueError` naming the file,
missing ones :class:`FileNotFoundError` saying what to put where.
``download=True`` fetches missing files from the upstream sites (off by
default: the machines that build pybitnet are offline).

Modules, one concern each: :mod:`.registry` (what the known files are),
:mod:`.files` (finding, reading, verifying, downloading), :mod:`.formats`
(IDX, CIFAR-10 batches, SVHN .mat), :mod:`.loaders` (:class:`Dataset`,
``load_*``), :mod:`.splits` and :mod:`.preprocess`. ``import pybitnet``
imports this package only when ``pybitnet.data`` is first used.

>>> ds = pybitnet.data.load_mnist()                 # uint8 (60000, 28, 28), int64 labels
>>> x_tr, y_tr, x_val, y_val = pybitnet.data.validation_split(ds.x_train, ds.y_train, 10000)
>>> x = pybitnet.data.scale_pm1(pybitnet.data.flatten(x_tr))     # float32 in [-1, 1]
>>> t = pybitnet.data.one_hot_pm1(y_tr, 10)                        # +-1 targets, squared hinge
"""
from .files import data_root, file_digest
from .formats import _parse_cifar, _parse_idx, _parse_svhn, read_cifar10_batch, read_idx, read_svhn_mat  # noqa: F401
from .loaders import Dataset, load_cifar10, load_dataset, load_fashion_mnist, load_mnist, load_svhn
from .preprocess import ZCA, center, flatten, gcn, scale_pm1, zca_whiten
from .registry import CIFAR10_CLASSES, ENV_VAR, FASHION_MNIST_CLASSES, MNIST_CLASSES
from .splits import one_hot_pm1, validation_split

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
