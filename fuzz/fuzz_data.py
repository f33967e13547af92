"""Coverage-guided fuzzing of the data-set parsers (atheris): IDX (MNIST), CIFAR-10
binary batches, SVHN .mat files (scipy), each raw or gzip-compressed, through the
same functions the loaders use. Acceptable: arrays of the documented dtype/shape,
or ValueError naming the file. Anything else is a finding.
"""
import gzip
import os
import tempfile

import atheris
import numpy as np

import _setup
from pybitnet import data

TMP = tempfile.mkdtemp(prefix="pybitnet-fuzz-data-")


def _seeds():
    rng = np.random.default_rng(0)
    idx = bytes([0, 0, 8, 3]) + np.array([2, 28, 28], ">u4").tobytes() + rng.integers(0, 256, 2 * 784, np.uint8).tobytes()
    labels = bytes([0, 0, 8, 1]) + np.array([2], ">u4").tobytes() + bytes([3, 7])
    cifar = bytes(rng.integers(0, 10, 1, np.uint8)) + rng.integers(0, 256, 3072, np.uint8).tobytes()
    out = [b"\x00" + idx, b"\x00" + labels, b"\x01" + cifar, b"\x03" + gzip.compress(idx)]
    try:
        import scipy.io
        import io
        buf = io.BytesIO()
        scipy.io.savemat(buf, {"X": rng.integers(0, 256, (32, 32, 3, 2), np.uint8), "y": np.array([[1], [10]])})
        out.append(b"\x02" + buf.getvalue())
    except ImportError:
        pass
    return out


def test_one_input(data_in: bytes) -> None:
    if not data_in:
        return
    kind, payload = data_in[0] % 4, data_in[1:]
    try:
        if kind == 0:
            a = data._parse_idx(payload, "<idx>")
            assert isinstance(a, np.ndarray)
        elif kind == 1:
            x, y = data._parse_cifar(payload, "<cifar>")
            assert x.dtype == np.uint8 and x.shape[1:] == (32, 32, 3) and y.dtype == np.int64 and len(x) == len(y)
        elif kind == 2:
            x, y = data._parse_svhn(payload, "<svhn>")
            assert x.dtype == np.uint8 and x.shape[1:] == (32, 32, 3) and len(x) == len(y)
            assert y.size == 0 or (y.min() >= 0 and y.max() <= 9)
        else:  # through a file: gzip detection, then IDX
            path = os.path.join(TMP, "f.gz" if payload[:1] == b"\x1f" else "f")
            with open(path, "wb") as f:
                f.write(payload)
            data.read_idx(path)
    except ValueError:
        pass


if __name__ == "__main__":
    _setup.run(test_one_input, seeds=_seeds())
