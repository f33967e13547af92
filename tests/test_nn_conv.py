"""Conv, pooling and flatten layers of pybitnet.nn: forward against a plain
numpy convolution, every backward against finite differences (or, for packed
±1 inputs, the straight-through gradient: the float conv's with W_b)."""
import os
from pathlib import Path

import numpy as np
import pytest

import pybitnet
from pybitnet import nn, recipes
from pybitnet.conv_bits import col2im_add, im2col_bits, tap_views
from pybitnet.nn.conv import im2col

SHAPES = [  # (N, H, W, C, F, kernel, stride, padding)
    (2, 5, 5, 3, 4, 3, 1, 1),
    (2, 7, 6, 5, 3, 3, 2, 1),
    (1, 6, 5, 2, 3, 3, 1, 0),
    (2, 5, 7, 3, 2, (3, 2), (2, 1), (0, 1)),
]


def ref_conv(x, w, stride, padding, pad_value=0.0):
    """float64 convolution by loops over output positions."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    (sh, sw), (ph, pw) = stride, padding
    n, h, wd, c = x.shape
    f, kh, kw, _ = w.shape
    xp = np.full((n, h + 2 * ph, wd + 2 * pw, c), pad_value)
    xp[:, ph:ph + h, pw:pw + wd] = x
    oh, ow = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    y = np.zeros((n, oh, ow, f))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * sh:i * sh + kh, j * sw:j * sw + kw]
            y[:, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
    return y


def num_grad(fn, a, eps=1.0):
    """Central differences of the scalar fn at a (exact for fn affine in a, in float64)."""
    a = np.array(a, np.float64)
    g = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        old = a[idx]
        a[idx] = old + eps
        hi = fn(a)
        a[idx] = old - eps
        lo = fn(a)
        a[idx] = old
        g[idx] = (hi - lo) / (2 * eps)
    return g


def pm1(rng, shape):
    return np.where(rng.standard_normal(shape) < 0, -1.0, 1.0).astype(np.float32)


def binary_w(layer):
    return np.where(layer.weight.value < 0, -layer.H, layer.H)


def sampled_w(layer):
    return layer.H * pybitnet.unpack_signs(layer._w.bits, layer._w.k).reshape(layer.weight.shape)


def check_layer(layer, x, w_eff, pad_value, rng):
    """Forward == ref_conv(x, w_eff) + bias; backward == its exact gradients in x, W and b."""
    k, s, p = layer.kernel_size, layer.stride, layer.padding
    y = layer.forward(x)
    if callable(w_eff):  # the weights this forward pass sampled
        w_eff = w_eff(layer)
    ref = ref_conv(x, w_eff, s, p, pad_value) + layer.bias.value
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-4)
    r = rng.standard_normal(y.shape)
    layer.zero_grad()
    dx = layer.backward(r.astype(np.float32))
    gx = num_grad(lambda a: np.sum(ref_conv(a, w_eff, s, p, pad_value) * r), x)
    gw = num_grad(lambda a: np.sum(ref_conv(x, a, s, p, pad_value) * r), w_eff)
    np.testing.assert_allclose(dx, gx, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer.weight.grad, gw, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer.bias.grad, r.sum(axis=(0, 1, 2)), rtol=1e-4, atol=1e-4)
    assert dx.shape == x.shape and dx.dtype == np.float32


@pytest.mark.parametrize("shape", SHAPES)
def test_conv2d_float(shape):
    n, h, w, c, f, k, s, p = shape
    rng = np.random.default_rng(1)
    layer = nn.Conv2D(c, f, k, stride=s, padding=p, seed=3)
    layer.bias.value[...] = rng.standard_normal(f)
    x = rng.standard_normal((n, h, w, c)).astype(np.float32)
    check_layer(layer, x, layer.weight.value, 0.0, rng)
    # and directly on the float32 layer itself (not only via the reference)
    r = rng.standard_normal(layer.forward(x).shape)
    layer.zero_grad()
    dx = layer.backward(r.astype(np.float32))
    np.testing.assert_allclose(dx, num_grad(lambda a: np.sum(layer.forward(a.astype(np.float32)) * r), x),
                               rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("stochastic", [False, True])
def test_binary_conv_real_input(shape, stochastic):
    n, h, w, c, f, k, s, p = shape
    rng = np.random.default_rng(2)
    layer = nn.BinaryConv2D(c, f, k, stride=s, padding=p, scale=0.5, stochastic=stochastic, seed=4)
    layer.bias.value[...] = rng.standard_normal(f)
    x = rng.standard_normal((n, h, w, c)).astype(np.float32)
    assert layer.pad_value == "zero"
    check_layer(layer, x, sampled_w if stochastic else binary_w(layer), 0.0, rng)
    if stochastic:  # evaluation uses the real-valued weights
        layer.eval()
        check_layer(layer, x, layer.weight.value, 0.0, rng)


@pytest.mark.parametrize("shape", SHAPES + [(1, 4, 3, 64, 2, 3, 1, 1), (1, 5, 4, 128, 2, 3, 2, 1)])
@pytest.mark.parametrize("pad_value", ["one", "zero"])
def test_binarized_conv_binary_input(shape, pad_value):
    """±1 inputs: forward == the numpy conv of the ±1 arrays (padding holds pad_value);
    backward == the float conv's gradient with W_b (the straight-through gradient)."""
    n, h, w, c, f, k, s, p = shape
    rng = np.random.default_rng(3)
    layer = nn.BinarizedConv2D(c, f, k, stride=s, padding=p, pad_value=pad_value, seed=5)
    layer.bias.value[...] = rng.standard_normal(f)
    x = pm1(rng, (n, h, w, c))
    check_layer(layer, x, binary_w(layer), 1.0 if pad_value == "one" else 0.0, rng)


@pytest.mark.parametrize("holes", [False, True])
@pytest.mark.parametrize("geometry", [(3, 1, 1), (3, 2, 1), (5, 1, 2), (3, 1, 0)])
def test_zero_padded_weight_gradient_takes_padding_as_plus_one_minus_its_taps(geometry, holes):
    """Without dropout holes, a zero-padded conv's weight gradient is the binary product (padding
    as +1) minus the padded taps' sums of g; it must equal the masked (ternary) product's, and the
    float conv gradient. With holes the ternary product runs (no pad_taps)."""
    k, s, p = geometry
    rng = np.random.default_rng(8)
    layer = nn.BinarizedConv2D(64, 5, k, stride=s, padding=p, pad_value="zero", seed=2)
    x = pm1(rng, (3, 7, 6, 64)) * np.float32(2.0)
    if holes:
        x[rng.random(x.shape) < 0.3] = 0
    rows, bits = layer._input_rows(x)
    assert rows is None and (bits.pad_taps is None) == holes
    y = layer.forward(x)
    g = rng.standard_normal(y.shape).astype(np.float32)
    layer.zero_grad()
    layer.backward(g)
    gt = np.ascontiguousarray(g.reshape(-1, 5).T) * np.float32(2.0)
    masked = pybitnet.ternary_weight_matmul_t(gt, bits.signs, bits.nonzero, bits.k).reshape(layer.weight.shape)
    np.testing.assert_allclose(layer.weight.grad, masked, rtol=1e-5, atol=1e-4)
    xp = np.pad(x.astype(np.float64), ((0, 0), (p, p), (p, p), (0, 0)))
    oh, ow = y.shape[1:3]
    ref = np.zeros(layer.weight.shape)
    for i in range(k):
        for j in range(k):
            patch = xp[:, i:i + s * oh:s, j:j + s * ow:s, :]
            ref[:, i, j, :] = np.einsum("nyxf,nyxc->fc", g.astype(np.float64), patch)
    np.testing.assert_allclose(layer.weight.grad, ref, rtol=1e-5, atol=1e-4)


def test_binary_conv_qbp_runs_and_matches_forward():
    rng = np.random.default_rng(4)
    layer = nn.BinaryConv2D(3, 4, 3, qbp=True, seed=1)
    x = rng.standard_normal((2, 5, 5, 3)).astype(np.float32)
    y = layer.forward(x)
    np.testing.assert_allclose(y, ref_conv(x, binary_w(layer), (1, 1), (1, 1)), rtol=1e-5, atol=1e-4)
    layer.zero_grad()
    dx = layer.backward(np.ones_like(y))
    assert np.all(np.isfinite(layer.weight.grad)) and dx.shape == x.shape


def test_pad_value_defaults_and_semantics():
    assert nn.BinarizedConv2D(64, 8).pad_value == "one"
    assert nn.BinarizedConv2D(3, 8, binary_input=False).pad_value == "zero"
    assert nn.BinaryConv2D(3, 8).pad_value == "zero"
    assert nn.BinaryConv2D(64, 8, binary_input=True).pad_value == "one"
    with pytest.raises(ValueError, match="pad_value"):
        nn.BinaryConv2D(3, 8, pad_value="two")
    rng = np.random.default_rng(5)
    x = pm1(rng, (1, 4, 4, 64))
    one = nn.BinarizedConv2D(64, 2, seed=1)
    zero = nn.BinarizedConv2D(64, 2, seed=1, pad_value="zero")
    # +1 padding adds sum_c W_b over the padded taps: the corner sees 5 of 9 taps padded
    diff = one.forward(x) - zero.forward(x)
    wb = binary_w(one)
    corner = wb[:, 0, :].sum(axis=(1, 2)) + wb[:, 1:, 0].sum(axis=(1, 2))
    np.testing.assert_allclose(diff[0, 0, 0], corner)
    np.testing.assert_allclose(diff[0, 1:3, 1:3], 0)


def test_conv_attributes_and_glorot_scale():
    layer = nn.BinarizedConv2D(128, 256, seed=0)
    assert layer.kernel_size == (3, 3) and layer.stride == (1, 1) and layer.padding == (1, 1)
    assert layer.weight.shape == (256, 3, 3, 128) and layer.bias.shape == (256,)
    assert layer.H == 1.0 and not layer.stochastic and layer.binary_input
    assert layer.weight.lr_scale == pytest.approx(nn.glorot_lr_scale(9 * 128, 9 * 256))
    assert isinstance(layer, nn.BinaryConv2D) and not isinstance(layer, nn.BinaryDense)
    c = nn.Conv2D(3, 8, 5, stride=2, padding=0, bias=False)
    assert c.kernel_size == (5, 5) and c.stride == (2, 2) and c.padding == (0, 0) and c.bias is None
    with pytest.raises(ValueError, match="channels"):
        c.forward(np.zeros((1, 8, 8, 4), np.float32))


def _im2col_loops(x, kernel, stride, padding, pad_value, layout):
    """The patch rows element by element, from the definition."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    if layout == "nchw":
        x = x.transpose(0, 2, 3, 1)
    n, h, w, c = x.shape
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    rows = np.empty((n, oh, ow, kh, kw, c), x.dtype)
    for b, i, j, a, d in np.ndindex(n, oh, ow, kh, kw):
        y, z = i * sh + a - ph, j * sw + d - pw
        rows[b, i, j, a, d] = x[b, y, z] if 0 <= y < h and 0 <= z < w else pad_value
    if layout == "nchw":
        rows = rows.transpose(0, 1, 2, 5, 3, 4)  # a row in (c, kh, kw) order
    return rows.reshape(n * oh * ow, -1)


@pytest.mark.parametrize("layout", ["nhwc", "nchw"])
@pytest.mark.parametrize("kernel,stride,padding", [((3, 3), (1, 1), (1, 1)), ((3, 2), (2, 1), (0, 2)),
                                                   ((1, 1), (2, 2), (0, 0)), ((2, 3), (3, 2), (1, 0))])
def test_im2col_matches_the_definition(layout, kernel, stride, padding):
    rng = np.random.default_rng(17)
    x = rng.standard_normal((2, 3, 6, 7, 5)).astype(np.float32)[:, 1]  # a strided (2, 6, 7, 5) view
    got = im2col(x, kernel, stride=stride, padding=padding, pad_value=-2.5, layout=layout)
    want = _im2col_loops(x, kernel, stride, padding, -2.5, layout)
    assert got.flags.c_contiguous and got.dtype == x.dtype
    np.testing.assert_array_equal(got, want)


def test_im2col_nchw_matches_torch_unfold():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(18)
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    got = im2col(x, (3, 2), stride=(2, 1), padding=(1, 1), layout="nchw")
    want = torch.nn.functional.unfold(torch.from_numpy(x), (3, 2), stride=(2, 1), padding=(1, 1))
    np.testing.assert_array_equal(got, want.transpose(1, 2).reshape(-1, 3 * 3 * 2).numpy())


@pytest.mark.parametrize("c", [64, 128, 192])
def test_im2col_bits_equals_packed_float_rows(c):
    rng = np.random.default_rng(6)
    x = pm1(rng, (2, 5, 6, c))
    for stride, padding in [(1, 1), (2, 1), (1, 0)]:
        rows = im2col(x, 3, stride=stride, padding=padding, pad_value=1.0)
        bits = im2col_bits(pybitnet.pack_signs(x, axis=-1), 3, stride=stride, padding=padding)
        np.testing.assert_array_equal(bits, pybitnet.pack_signs(rows))


@pytest.mark.parametrize("size,stride,shape", [(2, None, (2, 4, 6, 3)), (2, None, (2, 5, 7, 3)),
                                               (3, 2, (1, 7, 7, 2)), ((2, 3), (1, 2), (2, 5, 7, 2))])
def test_maxpool_forward_backward(size, stride, shape):
    rng = np.random.default_rng(7)
    pool = nn.MaxPool2D(size, stride)
    x = rng.permutation(np.prod(shape)).reshape(shape).astype(np.float32)  # distinct values
    y = pool.forward(x)
    (kh, kw), (sh, sw) = pool.size, pool.stride
    oh, ow = (shape[1] - kh) // sh + 1, (shape[2] - kw) // sw + 1
    ref = np.array([[x[:, i * sh:i * sh + kh, j * sw:j * sw + kw].max(axis=(1, 2)) for j in range(ow)]
                    for i in range(oh)]).transpose(2, 0, 1, 3)
    np.testing.assert_array_equal(y, ref)
    r = rng.standard_normal(y.shape)
    dx = pool.backward(r.astype(np.float32))
    gx = num_grad(lambda a: np.sum(nn.MaxPool2D(size, stride).forward(a) * r), x, eps=0.25)
    np.testing.assert_allclose(dx, gx, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("ties", ["all", "first"])
def test_maxpool_forward_kernel_is_numpys_loop(ties):
    """A float32 C-contiguous input takes the C++ kernel; any other the numpy loop over the tap views:
    the same bits, NaN, infinities and -0/+0 ties included (np.maximum's rule: a tie takes the later tap)."""
    rng = np.random.default_rng(3)
    x = np.round(rng.standard_normal((3, 9, 8, 70)) * 2).astype(np.float32)
    x[rng.random(x.shape) < 0.2] = -0.0
    x.flat[rng.integers(0, x.size, 20)] = np.nan
    x.flat[rng.integers(0, x.size, 20)] = -np.inf
    for size, stride in ((2, None), (3, 2), ((2, 3), (1, 2))):
        fast = nn.MaxPool2D(size, stride, ties=ties).forward(x)
        slow = nn.MaxPool2D(size, stride, ties=ties).forward(np.asfortranarray(x))  # not C-contiguous: numpy
        np.testing.assert_array_equal(fast.view(np.uint32), np.ascontiguousarray(slow).view(np.uint32))


def test_maxpool_ties_go_to_first_maximum():
    pool = nn.MaxPool2D(2, ties="first")
    x = np.ones((1, 2, 2, 1), np.float32)
    pool.forward(x)
    dx = pool.backward(np.full((1, 1, 1, 1), 3.0, np.float32))
    np.testing.assert_array_equal(dx[0, :, :, 0], [[3, 0], [0, 0]])
    x = np.array([1, 5, 5, 2], np.float32).reshape(1, 2, 2, 1)  # (0,1) comes before (1,0) in (kh, kw) order
    pool.forward(x)
    np.testing.assert_array_equal(pool.backward(np.ones((1, 1, 1, 1), np.float32))[0, :, :, 0], [[0, 1], [0, 0]])


def test_flatten_order_and_backward():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    f = nn.Flatten()
    y = f.forward(x)
    np.testing.assert_array_equal(y, x.reshape(2, -1))
    np.testing.assert_array_equal(f.backward(y), x)


@pytest.mark.parametrize("cls", [nn.BatchNorm, nn.ShiftBatchNorm])
def test_batchnorm_4d_is_per_channel_rows(cls):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 4, 5, 6)).astype(np.float32) * 2 + 1
    a, b = cls(6), cls(6)
    for bn in (a, b):
        bn.gamma.value[...] = rng.uniform(0.5, 2, 6)
    b.gamma.value[...] = a.gamma.value
    y4, y2 = a.forward(x), b.forward(x.reshape(-1, 6))
    np.testing.assert_array_equal(y4, y2.reshape(x.shape))
    np.testing.assert_array_equal(a.running_mean, b.running_mean)
    g = rng.standard_normal(x.shape).astype(np.float32)
    np.testing.assert_array_equal(a.backward(g), b.backward(g.reshape(-1, 6)).reshape(x.shape))
    np.testing.assert_array_equal(a.gamma.grad, b.gamma.grad)


def test_batchnorm_4d_finite_differences():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 3, 3, 2)).astype(np.float32)
    bn = nn.BatchNorm(2)
    bn.gamma.value[...] = [1.5, 0.7]
    r = rng.standard_normal(x.shape)
    bn.forward(x)
    dx = bn.backward(r.astype(np.float32))
    gx = num_grad(lambda a: np.sum(nn.BatchNorm(2).forward(a.astype(np.float32)) * r * [1.5, 0.7]), x, eps=1e-2)
    np.testing.assert_allclose(dx, gx, rtol=2e-2, atol=2e-2)


def test_recompute_statistics_on_conv_model():
    rng = np.random.default_rng(10)
    model = nn.Sequential(nn.BinaryConv2D(3, 4, stochastic=True, seed=1), nn.BatchNorm(4), nn.ReLU(),
                          nn.MaxPool2D(2), nn.Flatten(), nn.Dense(4 * 2 * 2, 3))
    x = rng.standard_normal((20, 4, 4, 3)).astype(np.float32)
    nn.recompute_statistics(model, x, batch_size=10)
    bn = model[1]
    model.eval()
    h = model[0].forward(x).reshape(2, -1, 4)  # eval: the real-valued weights; two batches of 10 images
    # BC-M's procedure: batch 0 on its own statistics, then batches 0 and 1
    np.testing.assert_allclose(bn.running_mean, (2 * h[0].mean(0) + h[1].mean(0)) / 3, rtol=1e-4, atol=1e-5)


def test_conv_chunked_input_gradient(monkeypatch):
    """col2im in image chunks gives the same input gradient as in one piece."""
    from pybitnet.nn import conv as conv_mod

    rng = np.random.default_rng(11)
    layer = nn.BinarizedConv2D(64, 4, seed=2)
    x = pm1(rng, (5, 4, 4, 64))
    g = rng.standard_normal((5, 4, 4, 4)).astype(np.float32)
    layer.forward(x)
    whole = layer.backward(g)
    monkeypatch.setattr(conv_mod, "_CHUNK_BYTES", 1)
    layer.forward(x)
    np.testing.assert_array_equal(layer.backward(g), whole)


CIFAR = Path(os.environ.get("PYBITNET_DATA", "/work/shared/data")) / "cifar10"


@pytest.fixture(scope="module")
def cifar20():
    if not CIFAR.is_dir():
        pytest.skip("CIFAR-10 not found (set PYBITNET_DATA)")
    r = recipes.recipe("bnn", dataset="cifar10")
    x_tr, y_tr, x_val, y_val, x_test, y_test, ds = recipes.prepare_data(r, CIFAR.parent, subset=20)
    assert x_tr.shape == (20, 32, 32, 3) and x_val.shape == (5000, 32, 32, 3) and x_test.shape[1:] == (32, 32, 3)
    assert -1 <= x_tr.min() and x_tr.max() <= 1
    return x_tr, y_tr, x_test[:10]


@pytest.mark.parametrize("method,overrides", [("bnn", {}), ("bc", {"channels": 32, "hidden": 128})])
def test_cifar10_recipe_train_steps(cifar20, method, overrides):
    """The recipe's CNN (bnn: full size) on 20 real CIFAR-10 images: two train steps on one
    batch give finite values and lower the loss."""
    x_tr, y_tr, x_test = cifar20
    r = recipes.recipe(method, dataset="cifar10", batch_size=20, **overrides)
    model = recipes.build_model(r, x_tr.shape[1:], 10)
    assert sum(isinstance(m, (nn.Conv2D)) for m in model.modules()) == 6
    opt, loss_fn = recipes.build_optimizer(r, model), recipes.build_loss(r)
    losses = []
    for _ in range(2):
        opt.zero_grad()
        out = model.forward(x_tr)
        loss, grad = loss_fn(out, y_tr)
        model.backward(grad)
        opt.step()
        losses.append(loss)
        assert out.shape == (20, 10) and np.all(np.isfinite(out))
    assert all(np.isfinite(p.value).all() and np.isfinite(p.grad).all() for p in model.parameters())
    assert losses[-1] < losses[0]
    model.eval()
    assert np.all(np.isfinite(model.forward(x_test)))


def test_cnn_recipes():
    r = recipes.recipe("bnn", dataset="cifar10")
    assert (r.arch, r.channels, r.batch_size, r.epochs, r.lr, r.lr_end, r.val_size, r.preprocess) == \
        ("cnn", 128, 50, 500, 0.001, 3e-7, 5000, "pm1")
    s = recipes.recipe("bnn", dataset="svhn")
    assert (s.channels, s.epochs, s.lr_end) == (64, 200, 1e-6)
    b = recipes.recipe("bc", dataset="cifar10")
    assert (b.lr, b.lr_end, b.optimizer) == (0.003, 2e-6, "adam")
    model = recipes.build_model(s, (32, 32, 3), 10)
    convs = [m for m in model.modules() if isinstance(m, nn.BinarizedConv2D)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256]
    # Lasagne zero-pads the ±1 activations; --conv-pad one gives the +1 padding the packed engine fuses
    assert not convs[0].binary_input and all(c.binary_input and c.pad_value == "zero" for c in convs[1:])
    one = recipes.build_model(recipes.recipe("bnn", dataset="svhn", conv_pad="one"), (32, 32, 3), 10)
    assert all(c.pad_value == "one" for c in one.modules() if isinstance(c, nn.BinarizedConv2D) and c.binary_input)
    dense = [m for m in model.modules() if isinstance(m, nn.BinarizedDense)]
    assert [(d.in_features, d.out_features) for d in dense] == [(4096, 1024), (1024, 1024), (1024, 10)]
    for method in ("float", "bc", "bc-stoch", "bc-qbp"):
        recipes.build_model(recipes.recipe(method, dataset="cifar10", channels=8, hidden=16), (32, 32, 3), 10)
    for method in ("tc", "tc-qbp", "bnn-shift"):
        with pytest.raises(ValueError, match="cifar10"):
            recipes.recipe(method, dataset="cifar10")


def test_maxpool_large_window():
    x = np.zeros((1, 17, 17, 1), np.float32)
    x[0, 16, 15, 0] = 1  # tap 287: beyond uint8
    pool = nn.MaxPool2D(17)
    assert pool.forward(x)[0, 0, 0, 0] == 1
    dx = pool.backward(np.ones((1, 1, 1, 1), np.float32))
    assert dx[0, 16, 15, 0] == 1 and dx.sum() == 1


@pytest.mark.skipif(not CIFAR.is_dir(), reason="CIFAR-10 not found (set PYBITNET_DATA)")
def test_cifar10_trainer_resume_and_log(tmp_path):
    """Trainer on the CNN: an epoch, a checkpoint, a resumed second epoch, the log and the plot
    (20 training, 20 validation and 20 test images)."""
    import json

    from pybitnet.train import Trainer

    def trainer():
        t = Trainer(recipes.recipe("bnn", dataset="cifar10", val_size=20, batch_size=10, channels=16, hidden=64),
                    tmp_path, data_root=CIFAR.parent, subset=20, progress=False)
        t.x_test, t.y_test = t.x_test[:20], t.y_test[:20]
        return t

    first = trainer()
    assert "JPEG" in first.notes
    first.fit(epochs=1)
    second = trainer()
    best = second.fit(epochs=2)
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [rec["epoch"] for rec in log] == [1, 2] and all(np.isfinite(rec["loss"]) for rec in log)
    assert 0 <= best["val_error"] <= 1 and (tmp_path / "best.npz").is_file()
    if second.plot() is not None:  # None without matplotlib
        assert (tmp_path / "curves.png").is_file()


def _col2im_reference(cols, out, kernel, stride, padding=(0, 0)):
    """numpy: tap by tap, each tap's rows added into a strided view of the zero-padded gradient
    (what col2im_add replaced), then the padding cropped and added to `out`."""
    n, h, w, c = out.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    padded = np.zeros((n, h + 2 * ph, w + 2 * pw, c), np.float32)
    padded[:, ph:ph + h, pw:pw + w] = out
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    cols = cols.reshape(n, oh, ow, kh * kw, c)
    for t, view in enumerate(tap_views(padded, kernel, stride, (oh, ow))):
        view += cols[:, :, :, t]
    out[...] = padded[:, ph:ph + h, pw:pw + w]
    return out


@pytest.mark.parametrize("geometry", [((3, 3), (1, 1), (0, 0), (2, 6, 7, 5)), ((2, 2), (2, 2), (0, 0), (3, 8, 8, 64)),
                                      ((1, 3), (1, 2), (0, 0), (1, 4, 9, 3)), ((3, 3), (2, 1), (0, 0), (2, 9, 5, 130)),
                                      ((3, 3), (1, 1), (1, 1), (2, 6, 7, 5)), ((3, 3), (2, 2), (1, 1), (2, 7, 8, 64)),
                                      ((5, 3), (2, 1), (2, 1), (1, 6, 5, 17)), ((3, 3), (1, 1), (3, 4), (1, 2, 3, 3)),
                                      ((1, 1), (3, 3), (1, 1), (1, 5, 5, 2))])
@pytest.mark.parametrize("threads", [1, 2])
def test_col2im_add_matches_the_tap_loop_bit_for_bit(geometry, threads):
    """Padded or not: the same bits as numpy's tap loop on the padded buffer, cropped (taps in the
    padding, even a padding wider than the kernel, are dropped)."""
    kernel, stride, padding, shape = geometry
    rng = np.random.default_rng(7)
    n, h, w, c = shape
    oh = (h + 2 * padding[0] - kernel[0]) // stride[0] + 1
    ow = (w + 2 * padding[1] - kernel[1]) // stride[1] + 1
    cols = rng.standard_normal((n * oh * ow, kernel[0] * kernel[1] * c)).astype(np.float32)
    start = rng.standard_normal(shape).astype(np.float32)
    want = _col2im_reference(cols, start.copy(), kernel, stride, padding)
    old = pybitnet.get_num_threads()
    pybitnet.set_num_threads(threads)
    try:
        got = col2im_add(cols, start.copy(), kernel, stride=stride, padding=padding)
    finally:
        pybitnet.set_num_threads(old)
    assert got.view(np.int32).tolist() == want.view(np.int32).tolist()


def test_col2im_add_rejects_bad_arguments():
    out = np.zeros((2, 4, 4, 3), np.float32)
    cols = np.zeros((2 * 2 * 2, 9 * 3), np.float32)
    assert col2im_add(cols, out, 3) is out
    with pytest.raises(ValueError, match="cols has shape"):
        col2im_add(cols[:-1], out, 3)
    with pytest.raises(ValueError, match="cols has shape"):
        col2im_add(np.zeros((8, 26), np.float32), out, 3)
    with pytest.raises((TypeError, ValueError), match="cols"):
        col2im_add(cols.astype(np.float64), out, 3)
    with pytest.raises((TypeError, ValueError), match="out"):
        col2im_add(cols, out[:, ::2], 3)
    with pytest.raises(ValueError, match="writeable"):
        ro = out.copy()
        ro.flags.writeable = False
        col2im_add(cols, ro, 3)
    with pytest.raises(ValueError, match="does not fit"):
        col2im_add(cols, np.zeros((2, 2, 2, 3), np.float32), 3)
    with pytest.raises(ValueError, match="cols has shape"):  # padded: 4x4 patch rows per image, not 2x2
        col2im_add(cols, out, 3, padding=1)
    with pytest.raises((TypeError, ValueError, OverflowError), match="padding"):
        col2im_add(cols, out, 3, padding=-1)
    with pytest.raises(ValueError, match="padding"):  # a complex 1 is not an int (it was taken, with a warning)
        col2im_add(cols, out, 3, padding=np.complex64(1))
    with pytest.raises(ValueError, match="overlap"):
        buf = np.zeros(8 * 27 + 2 * 16 * 3, np.float32)
        col2im_add(buf[:8 * 27].reshape(8, 27), buf[8 * 27 - 6: 8 * 27 - 6 + 96].reshape(2, 4, 4, 3), 3)
