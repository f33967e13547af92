"""pybitnet.inference: folded first/last layers, the bit-plane first layer, the
packed InferenceModel against the trained model in eval mode, and the packed
file format (round trip, rejection of bad files, size)."""
import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest

import pybitnet
from pybitnet import recipes
from pybitnet.inference import (InvalidModelFile, bitplane_matmul, bn_eval, export, fold_bn_sign_float,
                                from_trained, load)
from pybitnet.inference import InferenceModel
from pybitnet.nn import BatchNorm, ShiftBatchNorm, ste_sign
from conftest import rewrite_model_file as rewrite, signs
from test_xnor_gemm_threshold import random_bn


def test_bitplane_matmul_is_exact():
    rng = np.random.default_rng(0)
    for m, k, n in [(1, 1, 1), (3, 63, 5), (7, 784, 130), (2, 129, 64)]:
        x = rng.integers(0, 256, (m, k), dtype=np.uint8)
        x[0, : k // 2] = 255
        w = rng.standard_normal((n, k)).astype(np.float32)
        got = bitplane_matmul(x, pybitnet.pack_signs(w), k)
        np.testing.assert_array_equal(got, x.astype(np.int64) @ signs(w).T)


def test_bitplane_matmul_no_multiplications():
    x = np.full((2, 100), 200, np.uint8)
    w = pybitnet.pack_signs(np.ones((3, 100), np.float32))
    with pybitnet.count_ops() as counts:
        bitplane_matmul(x, w, 100)
    assert counts.multiplications == 0


@pytest.mark.parametrize("cls", [BatchNorm, ShiftBatchNorm])
def test_float_fold_is_exact(cls):
    """(y - t) * s >= 0 gives the trained layer's sign for every float32 y tried,
    including the thresholds themselves and their neighbours."""
    c = 200
    bn, bias = random_bn(cls, c, 784, seed=4)
    t, s = fold_bn_sign_float(bn, bias)
    rng = np.random.default_rng(1)
    finite = np.where(np.isfinite(t), t, 0).astype(np.float32)
    ys = [rng.standard_normal((40, c)).astype(np.float32) * 100, finite[None], np.nextafter(finite, np.inf)[None],
          np.nextafter(finite, -np.inf)[None], np.zeros((1, c), np.float32)]
    y = np.concatenate(ys)
    expected = ste_sign(bn_eval(bn, y + bias))
    got = pybitnet.unpack_signs(pybitnet.pack_signs((y - t) * s), y.shape[1])
    np.testing.assert_array_equal(got, expected)


def synthetic_model(method="bnn", hidden=200, depth=3, seed=0):
    """A recipe model with random trained-looking BN statistics and biases, in eval mode."""
    model = recipes.build_model(recipes.recipe(method, hidden=hidden, depth=depth, seed=seed), 784, 10)
    norm = ShiftBatchNorm if method == "bnn-shift" else BatchNorm
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, norm):
            k = 784 if layer is model.layers[1] or layer is model.layers[2] else hidden
            bn, bias = random_bn(norm, layer.features, k, seed=int(rng.integers(1 << 30)))
            layer.gamma.value[...] = bn.gamma.value
            layer.beta.value[...] = bn.beta.value * 0.01
            layer.set_statistics(bn.running_mean * 0.1, 1 / bn.eval_inv_std() ** 2 - bn.eps + 1)
        elif hasattr(layer, "bias") and layer.bias is not None:
            layer.bias.value[...] = rng.standard_normal(layer.bias.value.shape).astype(np.float32)
    model.eval()
    return model


def assert_logits_match(got, expected):
    scale = np.abs(expected).max() + 1
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * scale)
    np.testing.assert_array_equal(np.argmax(got, 1), np.argmax(expected, 1))


@pytest.mark.parametrize("method", ["bnn", "bnn-shift"])
def test_inference_model_matches_trained(method):
    model = synthetic_model(method)
    x = np.random.default_rng(3).uniform(-1, 1, (57, 784)).astype(np.float32)
    expected = model.forward(x)
    inf = from_trained(model)
    assert_logits_match(inf.logits(x), expected)
    assert_logits_match(inf.logits(x[:1]), expected[:1])


def test_inference_uses_packed_kernels_only():
    inf = from_trained(synthetic_model())
    x = np.random.default_rng(3).uniform(-1, 1, (5, 784)).astype(np.float32)
    with pybitnet.count_ops() as counts:
        inf.logits(x)
    kernels = set(counts.by_kernel)
    assert kernels <= {"pack_signs", "binary_weight_matmul", "xnor_gemm_threshold", "xnor_gemm"}, kernels
    assert counts.multiplications == 0


def test_uint8_bitplane_input():
    """uint8 pixels through the bit planes agree with the float model on
    pixel * 2/255 - 1 (the float model's rounding can flip a first-layer sign
    sitting on its threshold, so compare predictions)."""
    model = synthetic_model()
    px = np.random.default_rng(5).integers(0, 256, (200, 784), dtype=np.uint8)
    x = pybitnet.data.scale_pm1(px)
    inf = from_trained(model, input_scale=2 / 255, input_offset=-1.0)
    expected = model.forward(x)
    got = inf.logits(px)
    assert (np.argmax(got, 1) == np.argmax(expected, 1)).mean() >= 0.98
    assert np.isclose(got, expected, rtol=1e-5, atol=1e-4 * np.abs(expected).max()).all(axis=1).mean() >= 0.9
    with pytest.raises(ValueError, match="input_scale"):
        from_trained(model).logits(px)


def test_export_load_round_trip(tmp_path):
    model = synthetic_model("bnn-shift")
    path = export(model, tmp_path / "m.npz", input_scale=1 / 255, input_offset=0.0)
    inf = load(path)
    x = np.random.default_rng(3).uniform(-1, 1, (9, 784)).astype(np.float32)
    np.testing.assert_array_equal(inf.logits(x), from_trained(model).logits(x))
    assert inf.input_scale == 1 / 255 and inf.input_offset == 0.0
    px = np.random.default_rng(5).integers(0, 256, (4, 784), dtype=np.uint8)
    assert inf.logits(px).shape == (4, 10)
    assert load(export(inf, tmp_path / "again.npz")).logits(x).tolist() == inf.logits(x).tolist()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "m.npz"
    export(synthetic_model(hidden=70, depth=2), path)
    return path


def test_rejects_truncated_and_corrupt(exported, tmp_path):
    data = Path(exported).read_bytes()
    bad = tmp_path / "bad.npz"
    for cut in (0, 10, len(data) // 2, len(data) - 5):
        bad.write_bytes(data[:cut])
        with pytest.raises(InvalidModelFile, match="not a valid"):
            load(bad)
    for pos in (len(data) // 3, len(data) // 2, 2 * len(data) // 3):
        corrupt = bytearray(data)
        corrupt[pos] ^= 0x5A
        bad.write_bytes(bytes(corrupt))
        with pytest.raises(InvalidModelFile):
            load(bad)
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(InvalidModelFile, match="unreadable"):
        load(bad)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.npz")


@pytest.mark.parametrize("changes,match", [
    ({"version": np.array(7, np.int64)}, "version 7"),
    ({"format": np.array("something-else")}, "format"),
    ({"layer1.weight_bits": np.zeros((70, 1), np.uint64)}, "weight_bits"),
    ({"layer1.t": np.zeros(69, np.int32)}, "layer1.t"),
    ({"layer1.flip": np.zeros(70, np.float32)}, "layer1.flip"),
    ({"layer2.in": np.array(71, np.int64)}, "weight_bits|features"),
    ({"layer0.type": np.array("dense")}, "layer 0 must be"),
    ({"layer0.type": np.array("pool")}, "type"),
    ({"layer1.epilogue": np.array("affine")}, "layer1.scale|missing"),
    ({"num_layers": np.array(5, np.int64)}, "missing"),
    ({"layer0.weight_bits": None}, "weight_bits"),
    ({"input_shape": np.array([785], np.int64)}, "input_shape"),
])
def test_rejects_mismatched(exported, tmp_path, changes, match):
    with pytest.raises(InvalidModelFile, match=match):
        load(rewrite(exported, tmp_path / "x.npz", **changes))


def test_rejects_edited_without_checksum(exported, tmp_path):
    with np.load(exported, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["layer1.t"] = arrays["layer1.t"] + 1
    np.savez(tmp_path / "e.npz", **arrays)
    with pytest.raises(InvalidModelFile, match="checksum"):
        load(tmp_path / "e.npz")


def test_rejects_nonzero_padding(exported, tmp_path):
    with np.load(exported, allow_pickle=False) as z:
        bits = z["layer0.weight_bits"].copy()
    bits[0, -1] |= np.uint64(1) << np.uint64(63)  # 784 = 12 * 64 + 16: bit 63 of the last word is padding
    with pytest.raises(InvalidModelFile, match="padding"):
        load(rewrite(exported, tmp_path / "p.npz", **{"layer0.weight_bits": bits}))


def test_rejects_non_bnn():
    model = recipes.build_model(recipes.recipe("bc", hidden=32, depth=1), 784, 10)
    with pytest.raises(ValueError, match="BinarizedConv2D / BinarizedDense"):
        from_trained(model)


def test_mnist_3x4096_file_is_25x_smaller(tmp_path):
    model = recipes.build_model(recipes.recipe("bnn"), 784, 10)
    model.eval()
    float_bytes = sum(4 * l.weight.value.size for l in model.layers if hasattr(l, "weight"))
    path = export(model, tmp_path / "mnist.npz")
    size = os.path.getsize(path)
    print(f"float32 weights {float_bytes / 1e6:.1f} MB, packed file {size / 1e6:.2f} MB, {float_bytes / size:.1f}x")
    assert float_bytes / size >= 25


def _mnist():
    try:
        r = recipes.recipe("bnn", hidden=256, epochs=1, val_size=1000, input_dropout=0.0, hidden_dropout=0.0)
        recipes.prepare_data(r, os.environ.get("PYBITNET_DATA") or "/work/shared/data")
        return r
    except Exception:  # noqa: BLE001 - no data here
        return None


@pytest.mark.skipif(_mnist() is None, reason="real MNIST not found (set PYBITNET_DATA)")
def test_trained_mnist_model(tmp_path):
    from pybitnet.train import Trainer

    r = _mnist()
    trainer = Trainer(r, tmp_path, data_root=os.environ.get("PYBITNET_DATA") or "/work/shared/data",
                      subset=5000, progress=False)
    trainer.train_epoch()
    model = trainer.model
    model.eval()
    x = trainer.x_test
    expected = np.concatenate([model.forward(x[i:i + 1000]) for i in range(0, len(x), 1000)])
    inf = load(export(model, tmp_path / "mnist.npz"))
    got = inf.logits(x)
    assert_logits_match(got, expected)
    assert (inf.predict(x) == trainer.y_test).mean() > 0.85


@pytest.mark.parametrize("m", [1, 8, 9])
def test_small_batches_pad_the_first_layer_exactly(m):
    """Batches up to 8 rows pad the first layer's input to whole words: same logits."""
    model = synthetic_model()
    x = np.random.default_rng(7).uniform(-1, 1, (m, 784)).astype(np.float32)
    assert_logits_match(from_trained(model).logits(x), model.forward(x))


def test_model_rejects_bad_first_layer_padding():
    inf = from_trained(synthetic_model())
    layers = [dataclasses.replace(layer) for layer in inf.layers]
    layers[0].weight_bits = layers[0].weight_bits.copy()
    layers[0].weight_bits[3, -1] |= np.uint64(1) << np.uint64(63)
    with pytest.raises(ValueError, match="nonzero padding bits"):
        InferenceModel(layers)
    layers[0].weight_bits = layers[0].weight_bits[:, :-1].copy()
    with pytest.raises(ValueError, match=r"weight_bits must be uint64 \(200, 13\)"):
        InferenceModel(layers)


@pytest.mark.parametrize("m", [1, 5, 64])
def test_uint8_paths_agree_exactly(m):
    """The pixels' integer first layer by float additions ("adds") and by bit
    planes give the same bits, hence identical logits."""
    inf = from_trained(synthetic_model(), input_scale=2 / 255, input_offset=-1.0)
    px = np.random.default_rng(m).integers(0, 256, (m, 784), dtype=np.uint8)
    px[0] = 255
    np.testing.assert_array_equal(inf.logits(px), inf.logits(px, uint8_path="bitplanes"))
    with pytest.raises(ValueError, match="uint8_path"):
        inf.logits(px, uint8_path="planes")


def test_bitplane_matmul_blocks_and_threads():
    """The fused C++ path: more pixel rows than one block (128), column blocks, every ISA, 1 and 2 threads."""
    rng = np.random.default_rng(3)
    for m, k, n in [(300, 70, 40), (129, 784, 300), (1, 784, 4096), (300, 784, 1000)]:  # the last one splits
        x = rng.integers(0, 256, (m, k), dtype=np.uint8)
        w = rng.standard_normal((n, k)).astype(np.float32)
        wb = pybitnet.pack_signs(w)
        want = x.astype(np.int64) @ signs(w).T
        sums = pybitnet.inference.weight_row_sums(wb, k).astype(np.int32)
        planes = pybitnet.inference.pack_bit_planes(x)
        for threads in (1, 2):
            with _threads(threads):
                for isa in pybitnet.available_isas():
                    np.testing.assert_array_equal(pybitnet._bitops.bitplane_matmul(planes, wb, k, sums, isa), want)


def _threads(n):
    import contextlib

    @contextlib.contextmanager
    def scope():
        before = pybitnet.get_num_threads()
        pybitnet.set_num_threads(n)
        try:
            yield
        finally:
            pybitnet.set_num_threads(before)
    return scope()


def test_bitplane_matmul_refuses_bad_operands():
    from pybitnet import _bitops
    x = np.arange(20, dtype=np.uint8).reshape(2, 10)
    wb = pybitnet.pack_signs(np.ones((3, 10), np.float32))
    planes, sums = pybitnet.inference.pack_bit_planes(x), np.full(3, 10, np.int32)
    with pytest.raises(ValueError, match="8 bit planes per pixel row"):
        _bitops.bitplane_matmul(planes[:5], wb, 10, sums)
    with pytest.raises(ValueError, match="w_sums"):
        _bitops.bitplane_matmul(planes, wb, 10, sums[:2])
    with pytest.raises(TypeError, match="w_sums"):
        _bitops.bitplane_matmul(planes, wb, 10, sums.astype(np.int64))
    with pytest.raises(ValueError, match="not the sum of a row"):
        _bitops.bitplane_matmul(planes, wb, 10, np.array([10, 9, 10], np.int32))
    with pytest.raises(ValueError, match="k"):
        _bitops.bitplane_matmul(planes, wb, 1 << 22, sums)
    with pytest.raises(TypeError, match="uint8"):
        pybitnet.inference.pack_bit_planes(x.astype(np.int16))
    with pytest.raises(ValueError, match="x"):
        _bitops.pack_bit_planes(np.zeros(5, np.uint8))


def test_bitplane_matmul_takes_int64_words_and_checks_w_sums():
    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, (3, 100), dtype=np.uint8)
    w = rng.standard_normal((7, 100)).astype(np.float32)
    wb = pybitnet.pack_signs(w)
    want = x.astype(np.int64) @ signs(w).T
    np.testing.assert_array_equal(bitplane_matmul(x, wb.view(np.int64), 100), want)  # torch.ops' int64 words
    sums = pybitnet.inference.weight_row_sums(wb, 100)  # int64
    np.testing.assert_array_equal(bitplane_matmul(x, wb, 100, sums), want)
    with pytest.raises(TypeError, match="w_sums"):
        bitplane_matmul(x, wb, 100, sums.astype(np.float32))
    with pytest.raises(ValueError, match="w_sums"):
        bitplane_matmul(x, wb, 100, sums + (1 << 32))  # would wrap to the right values in int32
