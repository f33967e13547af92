"""Packed CNN inference: the conv kernels (every ISA) against numpy references
on ±1 data, and the CNNModel against a float forward of the same net."""
import numpy as np
import pytest

import pybitnet
from pybitnet import _bitops, nn
from pybitnet.conv_bits import im2col
from pybitnet.inference import CNNModel, from_trained
from pybitnet.inference.fold import bn_eval

from conftest import rewrite_model_file
from pybitnet.nn import BatchNorm, BinarizedDense, Dropout, Parameter, SteSign

ISAS = ["scalar", "avx2", "avx512"]


def isa_or_skip(isa):
    if isa not in pybitnet.available_isas():
        pytest.skip(f"{isa} not available on this CPU")


def pm1(shape, seed):
    return np.where(np.random.default_rng(seed).random(shape) < 0.5, -1.0, 1.0).astype(np.float32)


def float_conv(x, w, stride, padding, pad_value=0.0):
    """NHWC float conv of x (N, H, W, C) with (F, KH, KW, C) filters; padding holds pad_value."""
    n, h, wd, c = x.shape
    (ph, pw) = padding
    xp = np.full((n, h + 2 * ph, wd + 2 * pw, c), pad_value, np.float32)
    xp[:, ph:ph + h, pw:pw + wd] = x
    cols = im2col(xp, w.shape[1:3], stride=stride, padding=(0, 0))
    oh, ow = (h + 2 * ph - w.shape[1]) // stride[0] + 1, (wd + 2 * pw - w.shape[2]) // stride[1] + 1
    return (cols.astype(np.float64) @ w.reshape(w.shape[0], -1).T.astype(np.float64)).reshape(n, oh, ow, -1)


def float_pool(x, size, stride, op=np.max):
    n, h, w, c = x.shape
    oh, ow = (h - size[0]) // stride[0] + 1, (w - size[1]) // stride[1] + 1
    out = np.empty((n, oh, ow, c), x.dtype)
    for i in range(oh):
        for j in range(ow):
            out[:, i, j] = op(x[:, i * stride[0]:i * stride[0] + size[0], j * stride[1]:j * stride[1] + size[1]],
                              axis=(1, 2))
    return out


# ---------------------------------------------------------------- kernels

SHAPES = [  # n, h, w, c, kh, kw, stride, padding
    (2, 5, 7, 3, 3, 3, 1, 1), (1, 6, 5, 70, 3, 3, 2, 1), (2, 4, 4, 64, 3, 3, 1, 0), (1, 7, 6, 130, 2, 3, 2, 0),
    (3, 3, 3, 1, 3, 3, 1, 1), (1, 5, 5, 128, 3, 3, 1, 1),
]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("shape", SHAPES)
def test_im2col_bits_matches_numpy(isa, shape):
    isa_or_skip(isa)
    n, h, w, c, kh, kw, s, p = shape
    x = pm1((n, h, w, c), 0)
    xb = pybitnet.pack_signs(x, axis=-1)
    rows = _bitops.im2col_bits(xb, kh, kw, s, s, p, p, isa)
    # Reference: float patches with +1 padding, packed tap by tap.
    xp = np.ones((n, h + 2 * p, w + 2 * p, c), np.float32)
    xp[:, p:p + h, p:p + w] = x
    cols = im2col(xp, (kh, kw), stride=(s, s), padding=(0, 0)).reshape(-1, kh * kw, c)
    want = pybitnet.pack_signs(cols, axis=-1).reshape(cols.shape[0], -1)
    np.testing.assert_array_equal(rows, want)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("shape", [(2, 6, 6, 3, 2, 2), (1, 7, 5, 70, 2, 2), (2, 5, 5, 130, 3, 2), (1, 4, 4, 64, 2, 1)])
def test_maxpool_bits_with_flip_matches_numpy(isa, shape):
    isa_or_skip(isa)
    n, h, w, c, size, stride = shape
    x = pm1((n, h, w, c), 1)
    flip = np.random.default_rng(2).random(c) < 0.5
    xb = pybitnet.pack_signs(x, axis=-1)
    got = _bitops.maxpool_bits(xb, size, size, stride, stride, flip, isa)
    want = np.where(flip, float_pool(x, (size, size), (stride, stride), np.min),
                    float_pool(x, (size, size), (stride, stride), np.max))
    np.testing.assert_array_equal(got, pybitnet.pack_signs(want, axis=-1))
    plain = _bitops.maxpool_bits(xb, size, size, stride, stride, None, isa)
    np.testing.assert_array_equal(plain, pybitnet.pack_signs(float_pool(x, (size,) * 2, (stride,) * 2), axis=-1))


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("mnk", [(1, 1, 1), (5, 3, 7), (37, 77, 1152), (9, 130, 200), (4, 32, 64)])
def test_xnor_gemm_threshold_panels_matches_unfused(isa, mnk):
    isa_or_skip(isa)
    m, n, k = mnk
    a = pybitnet.pack_signs(pm1((m, k), 3))
    b = pybitnet.pack_signs(pm1((n, k), 4))
    rng = np.random.default_rng(5)
    t = rng.integers(-k // 3 - 1, k // 3 + 2, n).astype(np.int32)
    flip = rng.random(n) < 0.5
    want = pybitnet.xnor_gemm_threshold(a, b, k, t, flip, )
    np.testing.assert_array_equal(_bitops.xnor_gemm_threshold_panels(a, b, k, t, flip, isa), want)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("f", [5, 64, 72])
def test_fused_conv_threshold_matches_float_reference(isa, shape, f):
    isa_or_skip(isa)
    n, h, w, c, kh, kw, s, p = shape
    x, wt = pm1((n, h, w, c), 6), pm1((f, kh, kw, c), 7)
    rng = np.random.default_rng(8)
    k = kh * kw * c
    t = rng.integers(-k // 4 - 1, k // 4 + 2, f).astype(np.int32)
    flip = rng.random(f) < 0.4
    got = _bitops.binary_conv2d_threshold(pybitnet.pack_signs(x, axis=-1), pybitnet.pack_signs(wt, axis=-1), c, t,
                                          flip, s, s, p, p, isa)
    dot = float_conv(x, wt, (s, s), (p, p), pad_value=1.0)
    want = np.where(np.where(flip, dot > t, dot < t), -1.0, 1.0).astype(np.float32)
    np.testing.assert_array_equal(got, pybitnet.pack_signs(want, axis=-1))


def test_conv_public_wrappers_and_errors():
    x, wt = pm1((2, 6, 6, 70), 9), pm1((8, 3, 3, 70), 10)
    xb, wb = pybitnet.pack_signs(x, axis=-1), pybitnet.pack_signs(wt, axis=-1)
    t = np.zeros(8, np.int32)
    from pybitnet.conv_bits import binary_conv2d_threshold, im2col_bits, max_pool2d_bits
    out = binary_conv2d_threshold(xb, wb, 70, t, None, padding=1)
    assert out.shape == (2, 6, 6, 1)
    assert im2col_bits(xb, 3, stride=2, padding=1).shape == (2 * 3 * 3, 9 * 2)
    assert max_pool2d_bits(xb, 2, flip=np.zeros(70, bool)).shape == (2, 3, 3, 2)
    with pytest.raises(TypeError, match="x_bits"):
        binary_conv2d_threshold(xb.view(np.int64), wb, 70, t)
    with pytest.raises(ValueError, match="channels"):
        binary_conv2d_threshold(xb, wb, 140, t)
    with pytest.raises(ValueError, match="thresholds"):
        binary_conv2d_threshold(xb, wb, 70, t[:3])
    with pytest.raises(TypeError, match="thresholds"):
        binary_conv2d_threshold(xb, wb, 70, t.astype(np.int64))
    with pytest.raises(ValueError, match="flip"):
        binary_conv2d_threshold(xb, wb, 70, t, np.zeros(3, bool))
    with pytest.raises(ValueError, match="fit"):
        binary_conv2d_threshold(np.ascontiguousarray(xb[:, :2, :2]), wb, 70, t)
    bad = xb.copy()
    bad[0, 0, 0, 1] |= np.uint64(1) << np.uint64(63)
    with pytest.raises(ValueError, match="padding bits"):
        binary_conv2d_threshold(bad, wb, 70, t)
    with pytest.raises(ValueError, match="contiguous"):
        binary_conv2d_threshold(xb[:, ::2], wb, 70, t)
    with pytest.raises(ValueError, match="flip"):
        max_pool2d_bits(xb, 2, flip=np.zeros(200, bool))
    with pytest.raises(ValueError, match="stride"):
        _bitops.maxpool_bits(xb, 2, 2, 0, 2)


# ---------------------------------------------------------------- model
# The real pybitnet.nn layers, in arrangements the recipes do not build: a pool after the first
# conv, odd widths (70 channels), random biases.

def BinarizedConv2D(cin, cout, *, binary_input=True, padding=1, stride=1, seed=0):
    conv = nn.BinarizedConv2D(cin, cout, 3, binary_input=binary_input, padding=padding, stride=stride, seed=seed)
    conv.bias.value[...] = np.random.default_rng(seed + 1).uniform(-2, 2, cout).astype(np.float32)
    return conv


MaxPool2D, Flatten = nn.MaxPool2D, nn.Flatten


class Model:
    def __init__(self, layers):
        self.layers = layers


def random_bn(c, seed, zero_gamma=0):
    bn = BatchNorm(c)
    rng = np.random.default_rng(seed)
    bn.gamma.value[...] = rng.uniform(-1, 1, c).astype(np.float32)
    bn.gamma.value[:zero_gamma] = 0  # constant channels
    bn.beta.value[...] = rng.uniform(-1, 1, c).astype(np.float32)
    bn.running_mean[...] = rng.normal(0, 3, c).astype(np.float32)
    bn.running_var[...] = rng.uniform(1, 30, c).astype(np.float32)
    return bn


def small_cnn(pool_first=False):
    """Conv(3->8) [pool] | Conv(8->70) pool | Conv(70->64) pool | Flatten | Dense(64*?) | Dense(10)."""
    layers = [BinarizedConv2D(3, 8, binary_input=False, seed=1)]
    if pool_first:
        layers.append(MaxPool2D())
    layers += [random_bn(8, 2, zero_gamma=1), SteSign(), Dropout(0.2),
               BinarizedConv2D(8, 70, seed=3), MaxPool2D(), random_bn(70, 4, zero_gamma=2), SteSign(),
               BinarizedConv2D(70, 64, stride=1, seed=5), MaxPool2D(), random_bn(64, 6), SteSign(), Flatten()]
    side = 8 // (8 if pool_first else 4)
    feats = side * side * 64
    d1 = BinarizedDense(feats, 40, binary_input=True, seed=7)
    d2 = BinarizedDense(40, 10, binary_input=True, seed=8)
    layers += [d1, random_bn(40, 9), SteSign(), d2, random_bn(10, 10)]
    return Model(layers)


def reference_logits(model, x):
    """The float forward of the trained net: conv -> [pool] -> BN -> sign, ..., dense, BN."""
    h = x
    mods = [m for m in model.layers if not isinstance(m, Dropout)]
    i = 0
    while i < len(mods):
        m = mods[i]
        if isinstance(m, nn.BinarizedConv2D):
            w = np.where(m.weight.value < 0, -1.0, 1.0).astype(np.float32)
            pad = 1.0 if m.binary_input else 0.0
            h = (float_conv(h, w, m.stride, m.padding, pad) + m.bias.value).astype(np.float32)
        elif isinstance(m, MaxPool2D):
            h = float_pool(h, m.size, m.stride)
        elif isinstance(m, BatchNorm):
            shape = h.shape
            h = bn_eval(m, h.reshape(-1, shape[-1])).reshape(shape)
        elif isinstance(m, SteSign):
            h = np.where(h >= 0, 1.0, -1.0).astype(np.float32)
        elif isinstance(m, Flatten):
            h = h.reshape(h.shape[0], -1)
        elif isinstance(m, BinarizedDense):
            w = np.where(m.weight.value < 0, -1.0, 1.0)
            h = (h.astype(np.float64) @ w.T + m.bias.value).astype(np.float32)
        i += 1
    return h


@pytest.mark.parametrize("pool_first", [False, True])
def test_cnn_model_matches_float_forward(pool_first):
    model = small_cnn(pool_first)
    # Inputs on a 1/8 grid: the first layer's float sums are exact in any order.
    x = (np.random.default_rng(11).integers(-8, 9, (6, 8, 8, 3)) / 8).astype(np.float32)
    packed = from_trained(model, input_shape=(8, 8, 3))
    got = packed.logits(x)
    want = reference_logits(model, x)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(packed.predict(x), np.argmax(want, axis=1))
    assert isinstance(packed, CNNModel)
    # Without input_shape: the smallest square input whose convs give the dense layer its features.
    assert from_trained(model).input_shape == (8, 8, 3)


def test_cnn_zero_padding_fallback_matches_float_forward():
    model = small_cnn()
    model.layers[4].pad_value = "zero"  # the second conv, trained with zero padding: unfused path
    x = (np.random.default_rng(12).integers(-8, 9, (3, 8, 8, 3)) / 8).astype(np.float32)
    packed = from_trained(model, input_shape=(8, 8, 3))
    conv = model.layers[4]
    conv.binary_input = False  # reference_logits pads a conv with 0 when its input is not binary
    try:
        want = reference_logits(model, x)
    finally:
        conv.binary_input = True
    np.testing.assert_allclose(packed.logits(x), want, rtol=1e-5, atol=1e-4)


def test_cnn_bad_models_and_inputs():
    model = small_cnn()
    with pytest.raises(ValueError, match="Flatten"):
        from_trained(Model(model.layers[:4] + model.layers[13:]), input_shape=(8, 8, 3))
    packed = from_trained(model, input_shape=(8, 8, 3))
    with pytest.raises(ValueError, match="shape"):
        packed.logits(np.zeros((2, 8, 8, 4), np.float32))
    with pytest.raises(TypeError, match="floating"):
        packed.logits(np.zeros((2, 8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="features"):
        from_trained(model, input_shape=(16, 16, 3))


# ---------------------------------------------------------------- files

@pytest.fixture(scope="module")
def cnn_file(tmp_path_factory):
    from pybitnet.inference import export
    path = tmp_path_factory.mktemp("cnn") / "cnn.npz"
    export(from_trained(small_cnn(pool_first=True), input_shape=(8, 8, 3)), path)
    return path


def test_cnn_export_load_round_trip(cnn_file, tmp_path):
    from pybitnet.inference import export, load
    x = (np.random.default_rng(13).integers(-8, 9, (4, 8, 8, 3)) / 8).astype(np.float32)
    want = from_trained(small_cnn(pool_first=True), input_shape=(8, 8, 3)).logits(x)
    loaded = load(cnn_file)
    assert isinstance(loaded, CNNModel)
    np.testing.assert_array_equal(loaded.logits(x), want)
    again = load(export(loaded, tmp_path / "again.npz"))
    np.testing.assert_array_equal(again.logits(x), want)


@pytest.mark.parametrize("changes,match", [
    ({"version": np.array(7, np.int64)}, "version 7"),
    ({"layer1.weight_bits": np.zeros((70, 3, 3, 2), np.uint64)}, "weight_bits"),
    ({"layer1.t": np.zeros(70, np.float32)}, "layer1.t"),
    ({"layer0.type": np.array("conv")}, "weight_bits|layer 0"),
    ({"layer1.stride": np.array([0, 1], np.int64)}, "geometry"),
    ({"layer2.pool": None}, "layer2.pool"),
    ({"layer3.in": np.array(128, np.int64)}, "weight_bits|features"),
    ({"input_shape": np.array([16, 16, 3], np.int64)}, "features"),
    ({"layer0.layout": np.array("nchw")}, "channels"),
    ({"layer1.pad_value": np.array("two")}, "pad_value"),
    ({"num_layers": np.array(6, np.int64)}, "missing"),
])
def test_cnn_file_rejects_mismatched(cnn_file, tmp_path, changes, match):
    from pybitnet.inference import InvalidModelFile, load
    with pytest.raises(InvalidModelFile, match=match):
        load(rewrite_model_file(cnn_file, tmp_path / "x.npz", **changes))


def test_cnn_file_rejects_truncated_corrupt_and_edited(cnn_file, tmp_path):
    from pybitnet.inference import InvalidModelFile, load
    data = cnn_file.read_bytes()
    bad = tmp_path / "bad.npz"
    for cut in (10, len(data) // 2, len(data) - 5):
        bad.write_bytes(data[:cut])
        with pytest.raises(InvalidModelFile):
            load(bad)
    corrupt = bytearray(data)
    corrupt[len(data) // 2] ^= 0x5A
    bad.write_bytes(bytes(corrupt))
    with pytest.raises(InvalidModelFile):
        load(bad)
    with np.load(cnn_file, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["layer1.t"] = arrays["layer1.t"] + 1
    np.savez(tmp_path / "e.npz", **arrays)
    with pytest.raises(InvalidModelFile, match="checksum"):
        load(tmp_path / "e.npz")
    bits = arrays["layer1.weight_bits"].copy()
    bits[0, 0, 0, -1] |= np.uint64(1) << np.uint64(63)  # 8 channels: bit 63 is padding
    with pytest.raises(InvalidModelFile, match="padding"):
        load(rewrite_model_file(cnn_file, tmp_path / "p.npz", **{"layer1.weight_bits": bits}))


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("shape", [(2, 5, 7, 3, 3, 3, 1, 1), (1, 6, 5, 4, 3, 3, 2, 1), (2, 4, 4, 1, 2, 3, 1, 0)])
@pytest.mark.parametrize("f", [5, 16, 128, 150])
def test_first_conv_threshold_matches_float_reference(isa, shape, f):
    isa_or_skip(isa)
    n, h, w, c, kh, kw, s, p = shape
    rng = np.random.default_rng(14)
    x = (rng.integers(-8, 9, (n, h, w, c)) / 8).astype(np.float32)  # exact sums in any order
    wt = pm1((f, kh, kw, c), 15)
    y = float_conv(x, wt, (s, s), (p, p), 0.0)
    t = (rng.integers(-8, 9, f) / 4).astype(np.float32)  # on the grid: ties y == t happen
    t[:2] = [np.inf, -np.inf][: min(2, f)]
    flip = rng.random(f) < 0.5
    wb = pybitnet.pack_signs(np.ascontiguousarray(wt.reshape(f, -1)))
    got = _bitops.first_conv_threshold(x, wb, kh, kw, t, flip, s, s, p, p, isa)
    want = np.where(np.where(flip, y > t, y < t), -1.0, 1.0).astype(np.float32)
    np.testing.assert_array_equal(got, pybitnet.pack_signs(want, axis=-1))


def test_first_conv_threshold_isas_agree_bit_for_bit():
    rng = np.random.default_rng(16)
    x = rng.standard_normal((2, 9, 9, 3)).astype(np.float32)
    wb = pybitnet.pack_signs(rng.standard_normal((40, 27)).astype(np.float32))
    t = rng.standard_normal(40).astype(np.float32)
    outs = [_bitops.first_conv_threshold(x, wb, 3, 3, t, None, 1, 1, 1, 1, isa) for isa in pybitnet.available_isas()]
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])
    with pytest.raises(TypeError, match="x"):
        _bitops.first_conv_threshold(x.astype(np.float64), wb, 3, 3, t, None, 1, 1, 1, 1)
    with pytest.raises(ValueError, match="w_bits"):
        _bitops.first_conv_threshold(x, wb, 3, 2, t, None, 1, 1, 1, 1)
    with pytest.raises(ValueError, match="thresholds"):
        _bitops.first_conv_threshold(x, wb, 3, 3, t[:5], None, 1, 1, 1, 1)


# ---------------------------------------------------------------- the contract's layers (pybitnet.nn)

def recipe_cnn(channels, seed=0):
    """The CIFAR-10 BNN recipe at a small width, random batch norms, eval mode."""
    from pybitnet import recipes
    model = recipes.build_model(recipes.recipe("bnn", dataset="cifar10", channels=channels, hidden=48, seed=seed),
                                (32, 32, 3), 10)
    for n, layer in enumerate(model.layers):
        if isinstance(layer, BatchNorm):
            fresh = random_bn(layer.features, 100 + n, zero_gamma=1)
            layer.gamma.value[...], layer.beta.value[...] = fresh.gamma.value, fresh.beta.value
            layer.set_statistics(fresh.running_mean, fresh.running_var)
    model.eval()
    return model


@pytest.mark.parametrize("channels", [8, 16])  # last conv 32 channels (flatten repacks) or 64
def test_recipe_cnn_matches_trained_forward(channels, tmp_path):
    from pybitnet.inference import export, from_trained, load
    model = recipe_cnn(channels)
    x = (np.random.default_rng(17).integers(-8, 9, (5, 32, 32, 3)) / 8).astype(np.float32)
    want = model.forward(x)
    packed = from_trained(model)
    assert isinstance(packed, CNNModel)
    got = packed.logits(x)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4 * (np.abs(want).max() + 1))
    np.testing.assert_array_equal(packed.predict(x), np.argmax(want, axis=1))
    # A trained model exports directly; the file gives the same logits.
    np.testing.assert_array_equal(load(export(model, tmp_path / "cnn.npz")).logits(x), got)
    # Real-valued inputs off the grid: the first layer's float sums may round
    # differently from training's, so only the predictions are compared.
    xr = np.random.default_rng(18).uniform(-1, 1, (5, 32, 32, 3)).astype(np.float32)
    assert np.mean(packed.predict(xr) == np.argmax(model.forward(xr), axis=1)) >= 0.8


def test_threaded_layers_match_single_thread():
    """Big enough to be split across threads: the same bits as one thread."""
    x, wt = pm1((4, 16, 16, 128), 19), pm1((256, 3, 3, 128), 20)
    xb, wb = pybitnet.pack_signs(x, axis=-1), pybitnet.pack_signs(wt, axis=-1)
    t = np.random.default_rng(21).integers(-40, 40, 256).astype(np.int32)
    flip = np.random.default_rng(22).random(256) < 0.5
    xf = np.random.default_rng(23).uniform(-1, 1, (16, 16, 16, 3)).astype(np.float32)
    w0 = pybitnet.pack_signs(pm1((128, 27), 24))
    t0 = np.random.default_rng(25).uniform(-3, 3, 128).astype(np.float32)
    before = pybitnet.get_num_threads()
    outs = []
    try:
        for n in (1, 2):
            pybitnet.set_num_threads(n)
            outs.append((_bitops.binary_conv2d_threshold(xb, wb, 128, t, flip, 1, 1, 1, 1),
                         _bitops.first_conv_threshold(xf, w0, 3, 3, t0, None, 1, 1, 1, 1),
                         _bitops.maxpool_bits(xb, 2, 2, 2, 2, flip[:128]),
                         _bitops.im2col_bits(xb, 3, 3, 1, 1, 1, 1)))
    finally:
        pybitnet.set_num_threads(before)
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)
    dot = float_conv(x, wt, (1, 1), (1, 1), pad_value=1.0)
    want = np.where(np.where(flip, dot > t, dot < t), -1.0, 1.0).astype(np.float32)
    np.testing.assert_array_equal(outs[1][0], pybitnet.pack_signs(want, axis=-1))
