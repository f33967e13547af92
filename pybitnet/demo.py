"""The README's main job: binary kernels on real MNIST, checked and timed.

    python -m pybitnet.demo [--data DIR]

Classifies MNIST test digits by the Hamming similarity of their binarized
(centred) pixels to per-class binary prototypes, computed with xnor_gemm, and
checks every score against float matmul of the ±1 matrices.
"""
from __future__ import annotations

import argparse
import gzip
import os
import time
from pathlib import Path

import numpy as np

import pybitnet


def _idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8 or raw[:2] != b"\0\0" or raw[2] != 8:
        raise ValueError(f"{path}: not an IDX file of uint8 values")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: truncated ({data.size} values, header says {dims})")
    return data.reshape(dims)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("PYBITNET_DATA", "../shared/data"),
                        help="directory holding mnist/ (default: $PYBITNET_DATA or ../shared/data)")
    args = parser.parse_args(argv)
    root = Path(args.data) / "mnist"
    names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
             "t10k-labels-idx1-ubyte.gz"]
    missing = [n for n in names if not (root / n).is_file()]
    if missing:
        raise SystemExit(f"MNIST not found: put {', '.join(missing)} in {root} (or pass --data / set PYBITNET_DATA)")
    x_train, y_train, x_test, y_test = (_idx(root / n) for n in names)
    x_train = x_train.reshape(len(x_train), -1).astype(np.float32) / 255
    x_test = x_test.reshape(len(x_test), -1).astype(np.float32) / 255
    mean = x_train.mean(axis=0)

    print(f"pybitnet {pybitnet.__version__}: ISA {pybitnet.isa()}, {pybitnet.get_num_threads()} threads")
    # Several binary prototypes per class: signs of the centred means of k-means-like splits.
    rng = np.random.default_rng(0)
    protos, labels = [], []
    for c in range(10):
        xc = x_train[y_train == c] - mean
        centers = xc[rng.choice(len(xc), 32, replace=False)]
        for _ in range(5):
            assign = np.argmax(np.sign(xc) @ np.sign(centers).T, axis=1)
            centers = np.stack([xc[assign == j].mean(0) if (assign == j).any() else centers[j] for j in range(32)])
        protos.append(centers)
        labels += [c] * 32
    protos, labels = np.concatenate(protos).astype(np.float32), np.array(labels)

    t0 = time.perf_counter()
    test_bits = pybitnet.pack_signs(np.ascontiguousarray(x_test - mean))
    proto_bits = pybitnet.pack_signs(protos)
    scores = pybitnet.xnor_gemm(test_bits, proto_bits, 784)
    elapsed = time.perf_counter() - t0
    exact = np.array_equal(scores, np.sign(np.sign(x_test - mean) + 0.5) @ np.sign(np.sign(protos) + 0.5).T)
    error = np.mean(labels[np.argmax(scores, axis=1)] != y_test)
    print(f"10,000 MNIST test digits x {len(protos)} binary prototypes: {elapsed * 1e3:.1f} ms "
          f"(packing included), scores exact vs float: {exact}")
    print(f"test error of binary nearest-prototype classification: {100 * error:.2f} %")
    return 0 if exact else 1


if __name__ == "__main__":
    raise SystemExit(main())
