"""pybitnet.data: loaders on the real files, on corrupt ones, and the preprocessing."""
from __future__ import annotations

import gzip
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from pybitnet import data
from pybitnet.data import registry

# The real data: $PYBITNET_DATA, else the shared copy next to the repository (<repo>/../shared/data).
REAL_ROOT = Path(os.environ.get(data.ENV_VAR) or Path(__file__).resolve().parents[1].parent / "shared" / "data")


def _need(folder: str) -> Path:
    d = REAL_ROOT / folder
    if not d.is_dir():
        pytest.skip(f"real data not found: {d} (set {data.ENV_VAR} to a root holding {folder}/)")
    return d


@pytest.fixture(scope="module")
def mnist():
    _need("mnist")
    return data.load_mnist(REAL_ROOT)


def _idx(arr: np.ndarray) -> bytes:
    """IDX bytes of `arr` (uint8 or int32), as the format stores them."""
    code = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C}[arr.dtype]
    head = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, ">u4").tobytes()
    return head + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def _small_idx_set(directory: Path, n_train=20, n_test=10, gz=True) -> None:
    rng = np.random.default_rng(0)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8)}
    for name, arr in arrays.items():
        raw = _idx(arr)
        if gz:
            (directory / (name + ".gz")).write_bytes(gzip.compress(raw))
        else:
            (directory / name).write_bytes(raw)
    return arrays


# --- real files --------------------------------------------------------------------------------

def test_mnist_real(mnist):
    assert mnist.name == "mnist" and mnist.num_classes == 10
    assert mnist.x_train.shape == (60000, 28, 28) and mnist.x_train.dtype == np.uint8
    assert mnist.x_test.shape == (10000, 28, 28) and mnist.x_test.dtype == np.uint8
    assert mnist.y_train.dtype == np.int64 and mnist.y_test.shape == (10000,)
    assert np.bincount(mnist.y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(mnist.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert mnist.x_train.max() == 255 and mnist.x_train.min() == 0
    assert mnist.x_train.flags.writeable
    assert "Dataset(name='mnist'" in repr(mnist)


def test_mnist_validation_split_holds_out_last_10k(mnist):
    x_tr, y_tr, x_val, y_val = data.validation_split(mnist.x_train, mnist.y_train, 10000)
    assert x_tr.shape == (50000, 28, 28) and x_val.shape == (10000, 28, 28)
    assert np.shares_memory(x_val, mnist.x_train)
    np.testing.assert_array_equal(x_val, mnist.x_train[50000:])
    np.testing.assert_array_equal(y_tr, mnist.y_train[:50000])


@pytest.mark.parametrize("folder, name", [("mnist", n) for n in registry.IDX_FILES]
                         + [("fashion-mnist", n) for n in registry.IDX_FILES])
def test_real_idx_checksums(folder, name):
    path = _need(folder) / (name + ".gz")
    assert "sha256:" + data.file_digest(path) == registry.UPSTREAM[folder][name]


def test_readme_checksums_agree():
    readme = _need("mnist").parent / "README.md"
    if not readme.is_file():
        pytest.skip(f"{readme} not found")
    text = readme.read_text()
    for folder in ("mnist", "cifar10"):
        for spec, _ in registry.digests(folder).values():
            assert spec.split(":")[1] in text


def test_fashion_mnist_real():
    _need("fashion-mnist")
    ds = data.load_fashion_mnist(REAL_ROOT)
    assert ds.x_train.shape == (60000, 28, 28) and ds.x_test.shape == (10000, 28, 28)
    assert np.bincount(ds.y_train).tolist() == [6000] * 10
    assert np.bincount(ds.y_test).tolist() == [1000] * 10
    assert ds.classes[9] == "Ankle boot"


def test_cifar10_real():
    d = _need("cifar10")
    ds = data.load_cifar10(REAL_ROOT)
    assert ds.x_train.shape == (50000, 32, 32, 3) and ds.x_train.dtype == np.uint8
    assert ds.x_test.shape == (10000, 32, 32, 3) and ds.y_test.dtype == np.int64
    assert np.bincount(ds.y_train).tolist() == [5000] * 10
    assert np.bincount(ds.y_test).tolist() == [1000] * 10
    assert ds.classes == data.CIFAR10_CLASSES
    assert "JPEG q75" in ds.notes
    # The lossless first 1000 records of data_batch_1: same labels, pixels ~8 grey levels apart.
    x, y = data.read_cifar10_batch(d / "lossless_data_batch_1_first1000.bin.gz")
    assert "sha256:" + data.file_digest(d / "lossless_data_batch_1_first1000.bin.gz") == \
        registry.manifest("cifar10")[0]["lossless_data_batch_1_first1000.bin"]
    np.testing.assert_array_equal(y, ds.y_train[:1000])
    rmse = np.sqrt(np.mean((x.astype(np.float64) - ds.x_train[:1000]) ** 2))
    assert 4 < rmse < 12


def test_env_var_and_dataset_folder_as_root(monkeypatch, tmp_path):
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    assert data.data_root() == tmp_path
    assert data.data_root("/x/y") == Path("/x/y")
    monkeypatch.delenv(data.ENV_VAR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data.data_root() == tmp_path / "cache" / "pybitnet"
    # Through the environment, and with root pointing at the data set's own folder.
    arrays = _small_idx_set(tmp_path / "mnist")
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    a = data.load_mnist(verify=False)
    b = data.load_mnist(tmp_path / "mnist", verify=False)
    np.testing.assert_array_equal(a.x_train, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(b.y_test, arrays["t10k-labels-idx1-ubyte"])


def test_uncompressed_and_gzip_mixed(tmp_path):
    src = _need("mnist")
    d = tmp_path / "mnist"
    d.mkdir()
    for name in registry.IDX_FILES:
        if name.startswith("t10k"):
            (d / name).write_bytes(gzip.decompress((src / (name + ".gz")).read_bytes()))
        else:
            (d / (name + ".gz")).symlink_to(src / (name + ".gz"))
    ds = data.load_mnist(tmp_path)
    assert ds.x_test.shape == (10000, 28, 28)
    assert np.bincount(ds.y_test)[0] == 980


def test_load_dataset_by_name(tmp_path):
    _small_idx_set(tmp_path / "fashion-mnist", gz=False)
    ds = data.load_dataset("Fashion-MNIST", tmp_path, verify=False)
    assert ds.name == "fashion-mnist" and ds.x_train.shape == (20, 28, 28)
    with pytest.raises(ValueError, match="unknown data set 'imagenet'"):
        data.load_dataset("imagenet")


# --- missing, corrupt, wrong -------------------------------------------------------------------

def test_missing_files_message_names_files_and_place(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        data.load_mnist(tmp_path)
    msg = str(e.value)
    for name in registry.IDX_FILES:
        assert name in msg
    assert str(tmp_path / "mnist") in msg and data.ENV_VAR in msg and "download=True" in msg
    with pytest.raises(FileNotFoundError, match="(?s)data_batch_3.bin.*test_batch.bin"):
        data.load_cifar10(tmp_path)


def test_missing_one_file_names_only_it(tmp_path):
    _small_idx_set(tmp_path / "mnist")
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError) as e:
        data.load_mnist(tmp_path, verify=False)
    assert "t10k-labels-idx1-ubyte" in str(e.value) and "train-images" not in str(e.value)


@pytest.mark.parametrize("mutate, match", [
    (lambda b: b[:3], "truncated IDX file"),
    (lambda b: b"\x08\x03" + b[2:], "bad IDX magic"),
    (lambda b: b[:2] + b"\x07" + b[3:], "bad IDX magic"),
    (lambda b: b[:10], "truncated IDX header"),
    (lambda b: b[:-1], "IDX file truncated"),
    (lambda b: b + b"\x00", "trailing bytes"),
])
def test_read_idx_rejects_bad_files(tmp_path, mutate, match):
    good = _idx(np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4))
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(mutate(good))
    with pytest.raises(ValueError, match=match) as e:
        data.read_idx(path)
    assert str(path) in str(e.value)


def test_read_idx_dtypes_and_gzip(tmp_path):
    a = np.arange(-6, 6, dtype=np.int32).reshape(3, 4) * 1000
    (tmp_path / "a").write_bytes(_idx(a))
    (tmp_path / "a.gz").write_bytes(gzip.compress(_idx(a)))
    for p in ("a", "a.gz"):
        got = data.read_idx(tmp_path / p)
        assert got.dtype == np.int32 and got.dtype.isnative
        np.testing.assert_array_equal(got, a)


def test_corrupt_gzip_errors(tmp_path):
    good = gzip.compress(_idx(np.zeros((4, 28, 28), np.uint8)))
    cases = {"trunc.gz": good[: len(good) // 2], "crc.gz": good[:-8] + b"\0\0\0\0" + good[-4:],
             "notgz.gz": b"hello world"}
    for name, raw in cases.items():
        (tmp_path / name).write_bytes(raw)
        with pytest.raises(ValueError, match=name):
            data.read_idx(tmp_path / name)


def test_truncated_real_file_in_loader(tmp_path):
    src = _need("mnist")
    d = tmp_path / "mnist"
    d.mkdir()
    for name in registry.IDX_FILES:
        (d / (name + ".gz")).symlink_to(src / (name + ".gz"))
    labels = d / "t10k-labels-idx1-ubyte.gz"
    raw = gzip.decompress(labels.read_bytes())
    labels.unlink()
    labels.write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz: sha256 checksum mismatch"):
        data.load_mnist(tmp_path)
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz: IDX file truncated"):
        data.load_mnist(tmp_path, verify=False)


def test_checksum_mismatch_and_wrong_dataset(tmp_path):
    d = tmp_path / "fashion-mnist"
    arrays = _small_idx_set(d)
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.gz: sha256 checksum mismatch"):
        data.load_fashion_mnist(tmp_path)
    ds = data.load_fashion_mnist(tmp_path, verify=False)
    np.testing.assert_array_equal(ds.x_test, arrays["t10k-images-idx3-ubyte"])
    # MNIST files where Fashion-MNIST belongs: the message says what they are.
    src = _need("mnist")
    shutil.rmtree(d)
    shutil.copytree(src, d)
    with pytest.raises(ValueError, match=r"\(it is mnist/train-images-idx3-ubyte\)"):
        data.load_fashion_mnist(tmp_path)


def test_loader_checks_structure(tmp_path):
    d = tmp_path / "mnist"
    _small_idx_set(d)
    (d / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(np.zeros(19, np.uint8))))
    with pytest.raises(ValueError, match="20 images but .*train-labels-idx1-ubyte.gz has 19 labels"):
        data.load_mnist(tmp_path, verify=False)
    (d / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(np.full(20, 10, np.uint8))))
    with pytest.raises(ValueError, match="label 10 out of range"):
        data.load_mnist(tmp_path, verify=False)
    (d / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(np.zeros((20, 32, 32), np.uint8))))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.gz: expected uint8 images of shape \(N, 28, 28\)"):
        data.load_mnist(tmp_path, verify=False)


# --- CIFAR-10 format ---------------------------------------------------------------------------

def _cifar_records(labels, rng):
    n = len(labels)
    planes = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    raw = np.concatenate([np.asarray(labels, np.uint8)[:, None], planes.reshape(n, -1)], axis=1)
    return raw.tobytes(), planes


def test_cifar_record_layout_is_nhwc_rgb(tmp_path):
    rng = np.random.default_rng(1)
    raw, planes = _cifar_records([3, 0, 9], rng)
    (tmp_path / "b.bin").write_bytes(raw)
    x, y = data.read_cifar10_batch(tmp_path / "b.bin")
    assert x.shape == (3, 32, 32, 3) and x.flags.c_contiguous and y.tolist() == [3, 0, 9]
    # pixel (row 5, col 7) of image 1: red from the first plane, green the second, blue the third
    assert x[1, 5, 7].tolist() == [planes[1, 0, 5, 7], planes[1, 1, 5, 7], planes[1, 2, 5, 7]]


def test_cifar_bad_batches(tmp_path):
    rng = np.random.default_rng(2)
    raw, _ = _cifar_records([1, 2], rng)
    (tmp_path / "short.bin").write_bytes(raw[:-1])
    with pytest.raises(ValueError, match="short.bin: 6145 bytes is not a whole number of 3073-byte"):
        data.read_cifar10_batch(tmp_path / "short.bin")
    (tmp_path / "empty.bin").write_bytes(b"")
    with pytest.raises(ValueError, match="empty.bin"):
        data.read_cifar10_batch(tmp_path / "empty.bin")
    bad, _ = _cifar_records([1, 12], rng)
    (tmp_path / "label.bin.gz").write_bytes(gzip.compress(bad))
    with pytest.raises(ValueError, match="label.bin.gz: record 1 has label 12"):
        data.read_cifar10_batch(tmp_path / "label.bin.gz")


@pytest.mark.parametrize("where", ["folder", "root"])
def test_sha256sums_in_the_data_folder_verify_a_copy(tmp_path, where):
    """A SHA256SUMS beside the data (folder: plain names; root: folder/name) records a copy:
    it verifies, its '# note:' becomes the Dataset's notes; a file that differs is unverified."""
    import hashlib
    rng = np.random.default_rng(4)
    d = tmp_path / "cifar10"
    d.mkdir()
    lines = ["# note: my own CIFAR-10 copy"]
    for name in registry.CIFAR_FILES:
        raw = _cifar_records(rng.integers(0, 10, 2), rng)[0]
        (d / (name + ".gz")).write_bytes(gzip.compress(raw))
        lines.append(f"{hashlib.sha256(raw).hexdigest()}  {'' if where == 'folder' else 'cifar10/'}{name}")
    (d if where == "folder" else tmp_path).joinpath("SHA256SUMS").write_text("\n".join(lines) + "\n")
    ds = data.load_cifar10(tmp_path)
    assert ds.notes == "my own CIFAR-10 copy"
    (d / "test_batch.bin.gz").write_bytes(gzip.compress(_cifar_records([1, 2], rng)[0]))
    with pytest.warns(UserWarning, match="not verified.*test_batch"):
        assert data.load_cifar10(tmp_path).notes.startswith("partly the recorded copy")
    (d if where == "folder" else tmp_path).joinpath("SHA256SUMS").write_text("zz  test_batch.bin\n")
    with pytest.raises(ValueError, match="SHA256SUMS, line 1"):
        data.load_cifar10(tmp_path)


def test_the_jpeg_copy_digests_live_in_a_manifest_not_in_code():
    import inspect
    import pybitnet.data
    digests, note = registry.manifest("cifar10")
    assert set(registry.CIFAR_FILES) <= set(digests) and "JPEG q75" in note
    for module in (pybitnet.data.registry, pybitnet.data.files, pybitnet.data.loaders):
        assert digests["test_batch.bin"].split(":")[1] not in inspect.getsource(module)


def test_cifar_loader_unknown_copy_warns_and_meta(tmp_path):
    rng = np.random.default_rng(3)
    d = tmp_path / "cifar10"
    d.mkdir()
    for name in registry.CIFAR_FILES:
        (d / name).write_bytes(_cifar_records(rng.integers(0, 10, 4), rng)[0])
    with pytest.warns(UserWarning, match="not verified.*data_batch_1.bin"):
        ds = data.load_cifar10(tmp_path)
    assert ds.x_train.shape == (20, 32, 32, 3) and ds.x_test.shape == (4, 32, 32, 3) and ds.notes == ""
    (d / "batches.meta.txt").write_text("\n".join(f"c{i}" for i in range(10)) + "\n\n")
    assert data.load_cifar10(tmp_path, verify=False).classes == tuple(f"c{i}" for i in range(10))
    (d / "batches.meta.txt").write_text("a\nb\n")
    with pytest.raises(ValueError, match="batches.meta.txt: expected 10 class names"):
        data.load_cifar10(tmp_path, verify=False)


# --- download (through file:// mirrors, no network) --------------------------------------------

def test_download_fetches_verifies_and_loads(tmp_path, monkeypatch):
    src = _need("mnist")
    monkeypatch.setitem(registry.MIRRORS, "mnist", [src.as_uri() + "/"])
    root = tmp_path / "root"
    ds = data.load_mnist(root, download=True)
    assert ds.x_train.shape == (60000, 28, 28)
    assert sorted(p.name for p in (root / "mnist").iterdir()) == sorted(n + ".gz" for n in registry.IDX_FILES)


def test_download_rejects_bad_mirror_and_leaves_nothing(tmp_path, monkeypatch):
    bad = tmp_path / "mirror"
    _small_idx_set(bad)  # right names, wrong content
    monkeypatch.setitem(registry.MIRRORS, "mnist", [(tmp_path / "nowhere").as_uri() + "/", bad.as_uri() + "/"])
    with pytest.raises(ValueError, match="download of train-images-idx3-ubyte.gz failed its check.*checksum"):
        data.load_mnist(tmp_path / "root", download=True)
    assert list((tmp_path / "root" / "mnist").iterdir()) == []
    monkeypatch.setitem(registry.MIRRORS, "mnist", [(tmp_path / "nowhere").as_uri() + "/"])
    with pytest.raises(OSError, match="could not download train-images-idx3-ubyte.gz"):
        data.load_mnist(tmp_path / "root", download=True)


# --- SVHN .mat ---------------------------------------------------------------------------------

def _write_svhn(path: Path, n: int, seed: int):
    sio = pytest.importorskip("scipy.io")
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
    y = rng.integers(1, 11, (n, 1)).astype(np.uint8)
    y[0] = 10
    sio.savemat(str(path), {"X": x, "y": y})
    return x, y


def test_svhn_mat_round_trip(tmp_path):
    x, y = _write_svhn(tmp_path / "train_32x32.mat", 7, 0)
    images, labels = data.read_svhn_mat(tmp_path / "train_32x32.mat")
    assert images.shape == (7, 32, 32, 3) and images.dtype == np.uint8 and images.flags.c_contiguous
    np.testing.assert_array_equal(images[4], x[..., 4])
    assert labels[0] == 0 and labels.dtype == np.int64
    np.testing.assert_array_equal(labels, y[:, 0] % 10)


def test_svhn_loader(tmp_path):
    d = tmp_path / "svhn"
    d.mkdir()
    _write_svhn(d / "train_32x32.mat", 5, 1)
    _write_svhn(d / "test_32x32.mat", 3, 2)
    raw = (d / "test_32x32.mat").read_bytes()
    (d / "test_32x32.mat").unlink()
    (d / "test_32x32.mat.gz").write_bytes(gzip.compress(raw))
    ds = data.load_svhn(tmp_path, verify=False)
    assert ds.x_train.shape == (5, 32, 32, 3) and ds.x_test.shape == (3, 32, 32, 3) and ds.name == "svhn"
    with pytest.raises(ValueError, match="train_32x32.mat: md5 checksum mismatch"):
        data.load_svhn(tmp_path)
    with pytest.raises(FileNotFoundError, match="extra_32x32.mat"):
        data.load_svhn(tmp_path, extra=True, verify=False)
    _write_svhn(d / "extra_32x32.mat", 4, 3)
    assert data.load_svhn(tmp_path, extra=True, verify=False).x_train.shape == (9, 32, 32, 3)


def test_svhn_bad_files(tmp_path):
    sio = pytest.importorskip("scipy.io")
    p = tmp_path / "t.mat"
    _write_svhn(p, 4, 0)
    p.write_bytes(p.read_bytes()[:300])
    with pytest.raises(ValueError, match="t.mat: not a readable MATLAB .mat file"):
        data.read_svhn_mat(p)
    p.write_bytes(b"garbage" * 50)
    with pytest.raises(ValueError, match="t.mat"):
        data.read_svhn_mat(p)
    sio.savemat(str(p), {"X": np.zeros((32, 32, 3, 2), np.uint8)})
    with pytest.raises(ValueError, match="expected variables 'X' and 'y'"):
        data.read_svhn_mat(p)
    sio.savemat(str(p), {"X": np.zeros((28, 28, 2), np.uint8), "y": np.ones((2, 1))})
    with pytest.raises(ValueError, match=r"'X' must be uint8 of shape \(32, 32, 3, N\)"):
        data.read_svhn_mat(p)
    sio.savemat(str(p), {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.array([[0], [3]], np.uint8)})
    with pytest.raises(ValueError, match="labels must be 1..10"):
        data.read_svhn_mat(p)
    sio.savemat(str(p), {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.ones((3, 1), np.uint8)})
    with pytest.raises(ValueError, match="2 images but 3 labels"):
        data.read_svhn_mat(p)


def test_svhn_without_scipy_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.io", None)
    with pytest.raises(ImportError, match=r"pybitnet\[svhn\]"):
        data.load_svhn(tmp_path)
    with pytest.raises(ImportError, match=r"pybitnet\[svhn\]"):
        data.read_svhn_mat(tmp_path / "x.mat")


# --- targets and preprocessing -----------------------------------------------------------------

def test_one_hot_pm1():
    t = data.one_hot_pm1(np.array([2, 0, 1]), 3)
    assert t.dtype == np.float32
    np.testing.assert_array_equal(t, [[-1, -1, 1], [1, -1, -1], [-1, 1, -1]])
    with pytest.raises(ValueError, match="labels must be in 0..2"):
        data.one_hot_pm1(np.array([3]), 3)
    with pytest.raises(ValueError, match="1-D integer"):
        data.one_hot_pm1(np.array([0.5]), 3)


def test_validation_split_errors():
    with pytest.raises(ValueError, match="same length"):
        data.validation_split(np.zeros(5), np.zeros(4), 2)
    with pytest.raises(ValueError, match="n_val must be in 1..4"):
        data.validation_split(np.zeros(5), np.zeros(5), 5)


def test_flatten_and_scale_pm1():
    x = np.array([[[0, 255], [127, 128]]], np.uint8)
    f = data.flatten(x)
    assert f.shape == (1, 4) and np.shares_memory(f, x)
    s = data.scale_pm1(x)
    assert s.dtype == np.float32 and s.shape == x.shape
    assert s.min() == -1.0 and s.max() == 1.0
    np.testing.assert_allclose(s[0, 1], [127 / 127.5 - 1, 128 / 127.5 - 1], atol=1e-6)


def test_center_uses_train_mean():
    rng = np.random.default_rng(4)
    a, b = rng.normal(3, 1, (50, 2, 3)), rng.normal(3, 1, (20, 2, 3))
    ca, cb = data.center(a, b)
    assert ca.dtype == np.float32 and ca.shape == a.shape
    np.testing.assert_allclose(ca.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(cb, b - a.mean(axis=0), atol=1e-5)
    with pytest.raises(ValueError, match="others\\[0\\]"):
        data.center(a, np.zeros((3, 6)))


def test_gcn_properties():
    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, (10, 4, 4, 3)).astype(np.uint8)
    x[3] = 7  # a flat image: stays finite (zeros)
    g = data.gcn(x, scale=2.0)
    rows = g.reshape(10, -1).astype(np.float64)
    assert g.shape == x.shape and g.dtype == np.float32
    np.testing.assert_allclose(rows.mean(axis=1), 0, atol=1e-5)
    norms = np.linalg.norm(rows, axis=1)
    np.testing.assert_allclose(np.delete(norms, 3), 2.0, rtol=1e-5)
    assert np.all(rows[3] == 0)
    s = data.gcn(x, use_std=True).reshape(10, -1).astype(np.float64)
    np.testing.assert_allclose(np.delete(s.std(axis=1), 3), 1.0, rtol=1e-5)
    b = data.gcn(x, sqrt_bias=10.0, use_std=True).reshape(10, -1).astype(np.float64)
    assert np.all(np.delete(b.std(axis=1), 3) < 1.0)


def test_zca_whitens_train_covariance_to_identity():
    rng = np.random.default_rng(6)
    mix = rng.normal(size=(8, 8))
    x_train = rng.normal(size=(4000, 8)) @ mix + 5.0
    x_test = rng.normal(size=(500, 8)) @ mix + 5.0
    w_train, w_test = data.zca_whiten(x_train.reshape(4000, 2, 4), x_test.reshape(500, 2, 4), eps=1e-8)
    assert w_train.shape == (4000, 2, 4) and w_train.dtype == np.float32
    flat = w_train.reshape(4000, 8).astype(np.float64)
    np.testing.assert_allclose(flat.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(flat.T @ flat / 4000, np.eye(8), atol=2e-3)
    # Same map for other sets (fitted on train): test covariance near identity, not exactly.
    ft = w_test.reshape(500, 8).astype(np.float64)
    assert np.abs(np.cov(ft.T) - np.eye(8)).max() < 0.4
    zca = data.ZCA(eps=1e-8).fit(x_train)
    np.testing.assert_allclose(zca.whitening_, zca.whitening_.T, atol=1e-5)  # ZCA: symmetric W
    np.testing.assert_allclose(zca.transform(x_test), w_test.reshape(500, 8), atol=1e-4)


def test_zca_eps_shrinks_small_directions_and_errors():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2000, 4)) * np.array([10.0, 1.0, 0.1, 0.01])
    w = data.ZCA(eps=0.1).fit_transform(x).astype(np.float64)
    var = w.var(axis=0)
    assert var[0] > 0.99 and var[3] < 0.01  # eps damps the tiny-variance direction
    with pytest.raises(RuntimeError, match="before fit"):
        data.ZCA().transform(x)
    with pytest.raises(ValueError, match="4 features per example, ZCA was fitted on 3"):
        data.ZCA().fit(x[:, :3]).transform(x)
    with pytest.raises(ValueError, match="at least 2 examples"):
        data.ZCA().fit(x[:1])


def test_cifar10_download_unpacks_known_members_only(tmp_path, monkeypatch):
    import hashlib
    import io
    import tarfile

    rng = np.random.default_rng(8)
    payload = {n: _cifar_records(rng.integers(0, 10, 3), rng)[0] for n in registry.CIFAR_FILES}
    payload["batches.meta.txt"] = ("\n".join(data.CIFAR10_CLASSES) + "\n").encode()
    archive = tmp_path / "upstream.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, raw in list(payload.items()) + [("../evil.txt", b"x")]:
            info = tarfile.TarInfo("cifar-10-batches-bin/" + name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    monkeypatch.setattr(registry, "CIFAR_ARCHIVE", (archive.as_uri(), "sha256:" + digest))
    with pytest.warns(UserWarning, match="not verified"):
        ds = data.load_cifar10(tmp_path / "root", download=True)
    assert ds.x_train.shape == (15, 32, 32, 3) and ds.x_test.shape == (3, 32, 32, 3)
    got = sorted(p.name for p in (tmp_path / "root" / "cifar10").iterdir())
    assert got == sorted(payload)  # no archive left behind, nothing outside the known names
    assert not (tmp_path / "root" / "evil.txt").exists()
    # A tampered archive is refused.
    monkeypatch.setattr(registry, "CIFAR_ARCHIVE", (archive.as_uri(), "sha256:" + "0" * 64))
    with pytest.raises(ValueError, match="cifar-10-binary.tar.gz failed its check"):
        data.load_cifar10(tmp_path / "root2", download=True)


def test_svhn_download_checks_md5(tmp_path, monkeypatch):
    import hashlib

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    _write_svhn(mirror / "train_32x32.mat", 4, 0)
    _write_svhn(mirror / "test_32x32.mat", 2, 1)
    known = {n: "md5:" + hashlib.md5((mirror / n).read_bytes()).hexdigest()
             for n in ("train_32x32.mat", "test_32x32.mat")}
    monkeypatch.setitem(registry.UPSTREAM, "svhn", known)
    monkeypatch.setitem(registry.MIRRORS, "svhn", [mirror.as_uri() + "/"])
    ds = data.load_svhn(tmp_path / "root", download=True)
    assert ds.x_train.shape == (4, 32, 32, 3) and ds.y_test.shape == (2,)


def test_idx_header_with_absurd_sizes(tmp_path):
    p = tmp_path / "huge"
    p.write_bytes(bytes([0, 0, 0x08, 4]) + np.full(4, 2**32 - 1, ">u4").tobytes() + b"\0" * 16)
    with pytest.raises(ValueError, match="IDX file truncated"):
        data.read_idx(p)
