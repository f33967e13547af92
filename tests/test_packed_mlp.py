"""The one-call MLP forward pass (_bitops.PackedMlp, used by pybitnet.inference for float32
rows and, with an input map, uint8 pixels): bit for bit the layer-by-layer Python path, on every
ISA, with clear errors."""
import threading

import numpy as np
import pytest

import pybitnet
from pybitnet import _bitops
from pybitnet.inference import Model
from pybitnet.inference.layers import Affine, FloatThreshold, PackedDense, RealDense, Threshold


def random_mlp(sizes, seed=0, **input_map):
    rng = np.random.default_rng(seed)
    k0, n0 = sizes[0], sizes[1]
    w0 = pybitnet.pack_signs(rng.standard_normal((n0, k0)).astype(np.float32))
    s0 = np.where(rng.random(n0) < 0.3, -1, 1).astype(np.float32) * rng.uniform(0.5, 2, n0).astype(np.float32)
    layers = [RealDense(w0, k0, FloatThreshold(rng.normal(0, 3, n0).astype(np.float32), s0))]
    for k, n in zip(sizes[1:-2], sizes[2:-1]):
        w = pybitnet.pack_signs(rng.standard_normal((n, k)).astype(np.float32))
        t = rng.integers(-k // 4, k // 4 + 1, n).astype(np.int32)
        layers.append(PackedDense(w, k, Threshold(t, rng.random(n) < 0.3)))
    k, n = sizes[-2], sizes[-1]
    w = pybitnet.pack_signs(rng.standard_normal((n, k)).astype(np.float32))
    layers.append(PackedDense(w, k, Affine(rng.uniform(-1, 1, n).astype(np.float32),
                                           rng.normal(0, 5, n).astype(np.float32))))
    return Model(layers, **input_map)


def layer_by_layer(model, x, **options):
    bits = model.features(x, **options)
    for layer in model.dense:
        bits = layer.forward(bits)
    return bits


# (1000, 200, 10): the AVX-512 table kernel's dword panels (dword_panels.h) with a short last group of
# 16 rows and a short last block of columns
@pytest.mark.parametrize("sizes", [(784, 256, 256, 10), (100, 64, 10), (64, 130, 70, 3), (5, 1, 1),
                                   (1000, 200, 10), (784, 4096, 4096, 4096, 10)])
@pytest.mark.parametrize("batch", [1, 3, 9, 100])
def test_native_equals_layer_by_layer(sizes, batch):
    model = random_mlp(sizes, seed=batch)
    assert model._native is not None
    x = np.random.default_rng(batch).normal(0, 2, (batch, sizes[0])).astype(np.float32)
    got = model.logits(x)
    assert got.dtype == np.float32 and got.shape == (batch, sizes[-1])
    np.testing.assert_array_equal(got, layer_by_layer(model, x))


@pytest.mark.parametrize("isa", pybitnet.available_isas())
def test_every_isa_gives_the_same_bits(isa):
    model = random_mlp((300, 200, 130, 7), seed=3)
    x = np.random.default_rng(4).normal(0, 2, (17, 300)).astype(np.float32)
    np.testing.assert_array_equal(model._native.logits(x, isa), model._native.logits(x, "scalar"))
    np.testing.assert_array_equal(model._native.logits(x, isa), layer_by_layer(model, x))


def test_row_slices_and_fallbacks_agree():
    model = random_mlp((100, 64, 10), seed=5)
    x = np.random.default_rng(5).normal(0, 2, (8, 100)).astype(np.float32)
    want = model.logits(x)
    np.testing.assert_array_equal(model.logits(x.astype(np.float64)), want)  # the Python path converts
    np.testing.assert_array_equal(model.logits(np.asfortranarray(x)), want)
    np.testing.assert_array_equal(model._native.logits(x[::2]), want[::2])  # strided rows, contiguous columns
    assert model.logits(x[:0]).shape == (0, 10)


def test_nan_and_inf_inputs_are_refused_with_the_python_message():
    model = random_mlp((100, 64, 10))
    for bad in (np.nan, np.inf):
        x = np.zeros((2, 100), np.float32)
        x[1, 7] = bad
        with pytest.raises(ValueError, match="x contains NaN or Inf"):
            model.logits(x)
        with pytest.raises(ValueError, match="x contains NaN or Inf"):
            model._native.logits(x)


def test_bad_x_names_it():
    native = random_mlp((100, 64, 10))._native
    with pytest.raises(TypeError, match="x must have dtype float32"):
        native.logits(np.zeros((1, 100)))
    with pytest.raises(ValueError, match=r"x must have shape \(M, 100\)"):
        native.logits(np.zeros((1, 99), np.float32))
    with pytest.raises(ValueError, match="x"):
        native.logits(np.zeros((1, 100), np.float32)[:, ::-1])
    with pytest.raises(ValueError, match="x"):
        native.logits(np.zeros(100, np.float32))


def test_construction_checks_every_array():
    rng = np.random.default_rng(0)
    w0 = pybitnet.pack_signs(rng.standard_normal((64, 100)).astype(np.float32))
    t0 = s0 = np.ones(64, np.float32)
    w1 = pybitnet.pack_signs(rng.standard_normal((10, 64)).astype(np.float32))
    ones10 = np.ones(10, np.float32)
    _bitops.PackedMlp(w0, 100, t0, s0, [], w1, 64, ones10, ones10)  # fine
    with pytest.raises(ValueError, match="the last layer takes k=65"):
        _bitops.PackedMlp(w0, 100, t0, s0, [], pybitnet.pack_signs(np.ones((10, 65), np.float32)), 65, ones10, ones10)
    bad = w0.copy()
    bad[3, -1] |= np.uint64(1) << np.uint64(63)  # a padding bit past k=100
    with pytest.raises(ValueError, match="w0 row 3 has nonzero padding bits"):
        _bitops.PackedMlp(bad, 100, t0, s0, [], w1, 64, ones10, ones10)
    with pytest.raises(TypeError, match="t0 must have dtype float32"):
        _bitops.PackedMlp(w0, 100, t0.astype(np.float64), s0, [], w1, 64, ones10, ones10)
    with pytest.raises(ValueError, match="scale contains NaN"):
        _bitops.PackedMlp(w0, 100, t0, s0, [], w1, 64, np.full(10, np.nan, np.float32), ones10)
    with pytest.raises(ValueError, match=r"hidden\[0\] must be a tuple"):
        _bitops.PackedMlp(w0, 100, t0, s0, [(w1,)], w1, 64, ones10, ones10)
    with pytest.raises(ValueError, match="w0"):
        _bitops.PackedMlp(np.asfortranarray(np.zeros((64, 2), np.uint64)), 100, t0, s0, [], w1, 64, ones10, ones10)
    with pytest.raises(ValueError, match="k0"):
        _bitops.PackedMlp(w0, -1, t0, s0, [], w1, 64, ones10, ones10)


def test_the_model_owns_copies():
    model = random_mlp((100, 64, 10), seed=6)
    x = np.random.default_rng(6).normal(0, 2, (4, 100)).astype(np.float32)
    want = model.logits(x)
    for layer in model.layers:
        layer.weight_bits[...] = 0  # the engine's arrays: the native object has its own
    np.testing.assert_array_equal(model._native.logits(x), want)


def test_op_counts_match_the_layer_path():
    model = random_mlp((784, 256, 256, 10), seed=7)
    x = np.random.default_rng(7).normal(0, 2, (5, 784)).astype(np.float32)
    with pybitnet.count_ops() as fast:
        model.logits(x)
    with pybitnet.count_ops() as slow:
        layer_by_layer(model, x)
    assert fast.as_dict() == slow.as_dict()
    assert {k: v.as_dict() for k, v in fast.by_kernel.items()} == {k: v.as_dict() for k, v in slow.by_kernel.items()}


def test_threads_share_one_model():
    model = random_mlp((784, 512, 512, 10), seed=8)
    xs = [np.random.default_rng(i).normal(0, 2, (3, 784)).astype(np.float32) for i in range(4)]
    want = [model.logits(x) for x in xs]
    got = [None] * 4

    def run(i):
        for _ in range(20):
            got[i] = model.logits(xs[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@pytest.fixture
def two_threads():
    before = pybitnet.get_num_threads()
    pybitnet.set_num_threads(2)
    pybitnet.reset_thread_plans()
    yield
    pybitnet.set_num_threads(before)
    pybitnet.reset_thread_plans()


# Batch 1 through layers each too small to split: one job of phases (one wake-up), columns cut in
# whole output words (4000 and 3000 outputs: ragged last chunks), from float32 rows and from pixels.
PHASED = (784, 4000, 3000, 10)


@pytest.mark.parametrize("path", [None, "adds", "bitplanes"])
def test_batch1_forward_splits_as_one_job(two_threads, path):
    model = random_mlp(PHASED, seed=11, **(PIXELS if path else {}))
    rng = np.random.default_rng(11)
    if path:
        xs = [rng.integers(0, 256, (1, 784), dtype=np.uint8) for _ in range(12)]
        options = dict(uint8_path=path)
    else:
        xs = [rng.normal(0, 2, (1, 784)).astype(np.float32) for _ in range(12)]
        options = {}
    for x in xs:
        np.testing.assert_array_equal(model.logits(x, **options), layer_by_layer(model, x, **options))
    key = {None: "packed_mlp", "adds": "packed_mlp_pixels", "bitplanes": "packed_mlp_bitplanes"}[path]
    [row] = [r for r in pybitnet.thread_plans() if r["op"] == key]
    assert row["calls"] == len(xs) and row["split_samples"] >= 2  # (the workers' first split is not a sample)
    for isa in pybitnet.available_isas():  # every ISA's kernels in the chunks
        got = (model._native.logits_pixels(xs[0], path == "bitplanes", isa) if path
               else model._native.logits(xs[0], isa))
        np.testing.assert_array_equal(got, layer_by_layer(model, xs[0], **options))
    pybitnet.set_num_threads(1)  # one thread: the same bits, phase by phase on the caller
    for x in xs[:3]:
        np.testing.assert_array_equal(model.logits(x, **options), layer_by_layer(model, x, **options))


def test_batch1_jobs_from_many_threads(two_threads):
    """Callers that find the pool busy run their phases inline; every result is still exact."""
    model = random_mlp(PHASED, seed=12, **PIXELS)
    rng = np.random.default_rng(12)
    xs = [rng.normal(0, 2, (1, 784)).astype(np.float32) for _ in range(3)]
    xs.append(rng.integers(0, 256, (1, 784), dtype=np.uint8))
    want = [layer_by_layer(model, x) for x in xs]
    bad = []

    def run(i):
        for _ in range(30):
            if not np.array_equal(model.logits(xs[i]), want[i]):
                bad.append(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bad == []


def test_deepcopy_rebuilds_the_native_half():
    import copy

    model = random_mlp((100, 64, 10), seed=9)
    x = np.random.default_rng(9).normal(0, 2, (3, 100)).astype(np.float32)
    twin = copy.deepcopy(model)
    assert twin._native is not None and twin._native is not model._native
    np.testing.assert_array_equal(twin.logits(x), model.logits(x))


PIXELS = dict(input_scale=2 / 255, input_offset=-1.0)


# (1000, 200, 10): the AVX-512 table kernel's dword panels (dword_panels.h) with a short last group of
# 16 rows and a short last block of columns
@pytest.mark.parametrize("sizes", [(784, 256, 256, 10), (100, 64, 10), (64, 130, 70, 3), (5, 1, 1),
                                   (1000, 200, 10), (784, 4096, 4096, 4096, 10)])
@pytest.mark.parametrize("batch", [1, 3, 100])
@pytest.mark.parametrize("path", ["adds", "bitplanes"])
def test_native_pixels_equal_layer_by_layer(sizes, batch, path):
    """uint8 pixels take the native call too (both uint8 paths), with the layer path's bits."""
    model = random_mlp(sizes, seed=batch, **PIXELS)
    assert model._native.has_pixels
    px = np.random.default_rng(batch).integers(0, 256, (batch, sizes[0]), dtype=np.uint8)
    got = model.logits(px, uint8_path=path)
    assert got.dtype == np.float32 and got.shape == (batch, sizes[-1])
    np.testing.assert_array_equal(got, layer_by_layer(model, px, uint8_path=path))


@pytest.mark.parametrize("isa", pybitnet.available_isas())
def test_pixels_every_isa_gives_the_same_bits(isa):
    model = random_mlp((300, 200, 130, 7), seed=3, **PIXELS)
    px = np.random.default_rng(4).integers(0, 256, (17, 300), dtype=np.uint8)
    want = layer_by_layer(model, px)
    for bitplanes in (False, True):
        np.testing.assert_array_equal(model._native.logits_pixels(px, bitplanes, isa), want)
    np.testing.assert_array_equal(model._native.logits_pixels(px[::2], False, isa), want[::2])  # strided rows


def test_pixel_op_counts_match_the_layer_path():
    model = random_mlp((784, 256, 256, 10), seed=7, **PIXELS)
    px = np.random.default_rng(7).integers(0, 256, (5, 784), dtype=np.uint8)
    for path in ("adds", "bitplanes"):
        with pybitnet.count_ops() as fast:
            model.logits(px, uint8_path=path)
        with pybitnet.count_ops() as slow:
            layer_by_layer(model, px, uint8_path=path)
        assert fast.as_dict() == slow.as_dict()
        assert ({k: v.as_dict() for k, v in fast.by_kernel.items()} ==
                {k: v.as_dict() for k, v in slow.by_kernel.items()})


def test_pixel_errors_name_the_argument():
    plain = random_mlp((100, 64, 10))
    assert not plain._native.has_pixels
    px = np.zeros((2, 100), np.uint8)
    with pytest.raises(ValueError, match="uint8 input needs input_scale"):  # the engine's message, as before
        plain.logits(px)
    with pytest.raises(ValueError, match="built without pixel_t"):
        plain._native.logits_pixels(px)
    native = random_mlp((100, 64, 10), **PIXELS)._native
    with pytest.raises(TypeError, match="x must have dtype uint8"):
        native.logits_pixels(px.astype(np.float32))
    with pytest.raises(ValueError, match=r"x must have shape \(M, 100\)"):
        native.logits_pixels(np.zeros((2, 99), np.uint8))
    with pytest.raises(ValueError, match="x"):
        native.logits_pixels(np.zeros((4, 100), np.uint8)[::2], True)  # the planes need whole rows
    assert native.logits_pixels(px[:0]).shape == (0, 10)
    rng = np.random.default_rng(0)
    w0 = pybitnet.pack_signs(rng.standard_normal((64, 100)).astype(np.float32))
    w1 = pybitnet.pack_signs(rng.standard_normal((10, 64)).astype(np.float32))
    ones64, ones10 = np.ones(64, np.float32), np.ones(10, np.float32)
    with pytest.raises(ValueError, match="pixel_t"):
        _bitops.PackedMlp(w0, 100, ones64, ones64, [], w1, 64, ones10, ones10, pixel_t=np.ones(63, np.float32))
    with pytest.raises(TypeError, match="pixel_t must have dtype float32"):
        _bitops.PackedMlp(w0, 100, ones64, ones64, [], w1, 64, ones10, ones10, pixel_t=np.ones(64))
    with pytest.raises(ValueError, match="pixel_t contains NaN"):
        _bitops.PackedMlp(w0, 100, ones64, ones64, [], w1, 64, ones10, ones10, pixel_t=np.full(64, np.nan, np.float32))


def test_pixel_panels_are_held_once():
    """A model with an input map reads the native object's panels and row sums (read-only views
    of its memory), not a second copy; a deep copy shares its own native half's."""
    import copy

    from pybitnet.first_layer import pixel_panels, weight_row_sums

    model = random_mlp((100, 64, 10), seed=5, **PIXELS)
    pixels, native, first = model._pixels, model._native, model.layers[0]
    for shared, own in ((pixels.panels, native.pixel_panels), (pixels.w_sums, native.weight_row_sums)):
        assert np.shares_memory(shared, own) and not shared.flags.writeable
    np.testing.assert_array_equal(pixels.panels, pixel_panels(first.weight_bits, 100))
    np.testing.assert_array_equal(pixels.w_sums, weight_row_sums(first.weight_bits, 100))
    px = np.random.default_rng(5).integers(0, 256, (4, 100), dtype=np.uint8)
    twin = copy.deepcopy(model)
    assert np.shares_memory(twin._pixels.panels, twin._native.pixel_panels)
    for path in ("adds", "bitplanes"):
        np.testing.assert_array_equal(twin.logits(px[::2], uint8_path=path), model.logits(px[::2], uint8_path=path))
    assert random_mlp((100, 64, 10))._native.pixel_panels is None
