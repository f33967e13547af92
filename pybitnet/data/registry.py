"""What the known data files are: folder and file names, the upstream sources
(mirrors, the CIFAR-10 archive's digest) and the published digests of the
upstream files; and the manifests of known copies (digests kept out of code).

Digests are ``"algorithm:hex"`` of a file's decompressed content. Three sources,
merged by :func:`digests` for a data folder:

- :data:`UPSTREAM`: the files as their authors publish them (MNIST and
  Fashion-MNIST sha256, SVHN's md5); a mismatch is an error;
- the manifests shipped with pybitnet (``pybitnet/data/manifests/<folder>.SHA256SUMS``,
  ``sha256sum`` format) of known copies, e.g. the JPEG-q75 CIFAR-10 copy in this
  project's shared data; a comment line ``# note: ...`` is the caveat to repeat
  wherever results on that copy are reported;
- a ``SHA256SUMS`` file in the data folder itself (or in the data root, with
  ``folder/name`` entries), when there is one: its entries win over the shipped
  manifests', never over an upstream digest.

A file that matches no copy's digest loads with a warning that it is unverified;
a file whose upstream digest is known and differs is refused.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

PathLike = Union[str, os.PathLike]

ENV_VAR = "PYBITNET_DATA"

IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
              "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
CIFAR_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6)) + ("test_batch.bin",)
CIFAR_META = "batches.meta.txt"
SVHN_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat", "extra": "extra_32x32.mat"}

# folder -> file -> "algorithm:hex" of the decompressed upstream content.
UPSTREAM: Dict[str, Dict[str, str]] = {
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
    # md5 as published with the data set (of the .mat files themselves).
    "svhn": {
        "train_32x32.mat": "md5:e26dedcc434d2e4c54c9b2d4a06d8373",
        "test_32x32.mat": "md5:eb5a983be6a315427106f1b164d9cef3",
        "extra_32x32.mat": "md5:a93ce644f1a588dc4d68dda5feec44a7",
    },
}

MIRRORS = {
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"],
    "fashion-mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
    "svhn": ["http://ufldl.stanford.edu/housenumbers/"],
}
CIFAR_ARCHIVE = ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
                  "sha256:c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd")

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")


MANIFESTS = Path(__file__).with_name("manifests")


def _parse_sums(text: str, folder: str, where) -> Tuple[Dict[str, str], str]:
    """(name -> "sha256:hex", note) of a SHA256SUMS text: lines ``<hex>  [*]<name>`` (names
    may be ``<folder>/<name>``: others' folders are skipped), ``# note: ...`` comments."""
    out: Dict[str, str] = {}
    note = ""
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line.startswith("# note:"):
            note = line[len("# note:"):].strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or len(parts[0]) != 64 or any(ch not in "0123456789abcdef" for ch in parts[0].lower()):
            raise ValueError(f"{where}, line {n}: not a '<sha256>  <file>' line: {line!r}")
        name = parts[1].lstrip("*").strip()
        if "/" in name:
            head, name = name.rsplit("/", 1)
            if head.split("/")[-1] != folder:
                continue
        out[name[:-3] if name.endswith(".gz") else name] = "sha256:" + parts[0].lower()
    return out, note


def manifest(folder: str, directory: Optional[PathLike] = None) -> Tuple[Dict[str, str], str]:
    """(name -> digest, note) of the known copies of `folder`: the shipped manifest, then a
    SHA256SUMS in the data root (``directory``'s parent) and in ``directory`` itself."""
    digests: Dict[str, str] = {}
    note = ""
    paths = [MANIFESTS / f"{folder}.SHA256SUMS"]
    if directory is not None:
        paths += [Path(directory).parent / "SHA256SUMS", Path(directory) / "SHA256SUMS"]
    for path in paths:
        if path.is_file():
            found, found_note = _parse_sums(path.read_text(encoding="utf-8"), folder, path)
            digests.update(found)
            note = found_note or note
    return digests, note


def digests(folder: str, directory: Optional[PathLike] = None) -> Dict[str, Tuple[str, bool]]:
    """name -> (digest, upstream?) of every known file of `folder` (see the module docstring)."""
    out = {name: (spec, True) for name, spec in UPSTREAM.get(folder, {}).items()}
    copies, _ = manifest(folder, directory)
    # a manifest records copies of files whose authors publish no digest (CIFAR-10's batches); it does not
    # overrule a published one: a SHA256SUMS line for MNIST's labels made edited labels load as verified
    out.update({name: (spec, False) for name, spec in copies.items() if name not in out})
    return out
