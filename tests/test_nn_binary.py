"""Binary, ternary and BNN layers run on the kernels and match their float definitions."""
import numpy as np
import pytest

import pybitnet
from pybitnet import nn
from test_nn import numeric_grad


def pm(x):
    return np.where(x < 0, -1.0, 1.0)


@pytest.fixture
def data():
    rng = np.random.default_rng(7)
    return rng.standard_normal((9, 70)).astype(np.float32), rng.standard_normal((9, 5)).astype(np.float32)


def test_binary_dense_deterministic(data):
    x, g = data
    layer = nn.BinaryDense(70, 5, scale="glorot", seed=1)
    layer.bias.value[...] = np.arange(5)
    h, w = layer.H, layer.weight.value
    np.testing.assert_allclose(layer.forward(x), x @ (h * pm(w)).T + np.arange(5), rtol=1e-5, atol=1e-5)
    layer.zero_grad()
    dx = layer.backward(g)
    np.testing.assert_allclose(dx, g @ (h * pm(w)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.weight.grad, g.T @ x, rtol=1e-5, atol=1e-5)  # applied to the real W
    np.testing.assert_allclose(layer.bias.grad, g.sum(0), rtol=1e-6)
    layer.eval()  # deterministic: binary weights at test time too
    np.testing.assert_allclose(layer.forward(x), x @ (h * pm(w)).T + np.arange(5), rtol=1e-5, atol=1e-5)


def test_binary_dense_input_gradient_finite_differences(data):
    x, _ = data
    layer = nn.BinaryDense(20, 4, seed=3)
    # W's gradient is the straight-through one (dC/dW_b), so only the input gradient is checked numerically.
    layer.weight.value[...] = np.where(np.abs(layer.weight.value) < 0.05, 0.5, layer.weight.value)
    xs = x[:3, :20].copy()
    out = layer.forward(xs)
    r = np.random.default_rng(0).standard_normal(out.shape).astype(np.float32)
    dx = layer.backward(r)
    np.testing.assert_allclose(dx, numeric_grad(lambda: float(np.sum(layer.forward(xs) * r)), xs), rtol=2e-2,
                               atol=2e-3)


def test_stochastic_binary_dense(data):
    x, _ = data
    layer = nn.BinaryDense(70, 5, stochastic=True, seed=2)
    y1 = layer.forward(x)
    y2 = layer.forward(x)
    assert not np.allclose(y1, y2)  # a new sample per step
    again = nn.BinaryDense(70, 5, stochastic=True, seed=2)
    np.testing.assert_array_equal(again.forward(x), y1)  # reproducible from (seed, step)
    layer.eval()  # stochastic: real weights at test time
    np.testing.assert_allclose(layer.forward(x), x @ layer.weight.value.T, rtol=1e-5, atol=1e-5)
    # the sample is +1 with probability hard_sigmoid(w / H)
    big = nn.BinaryDense(4000, 50, stochastic=True, seed=5)
    big.forward(np.zeros((1, 4000), np.float32))
    signs = pybitnet.unpack_signs(big._w.bits, 4000)
    p = np.clip((big.weight.value / big.H + 1) / 2, 0, 1)
    assert abs(np.mean(signs == 1) - p.mean()) < 0.01


def test_ternary_dense(data):
    x, g = data
    layer = nn.TernaryDense(70, 5, seed=4)
    y = layer.forward(x)
    s = pybitnet.unpack_signs(layer._w.bits, 70)
    nz = pybitnet.unpack_signs(layer._w.nonzero, 70) < 0  # nonzero bits set -> "negative" in unpack
    t = layer.H * s * nz
    np.testing.assert_allclose(y, x @ t.T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.backward(g), g @ t, rtol=1e-5, atol=1e-6)
    assert 0 < nz.mean() < 1


def test_qbp_weight_gradient_is_the_quantized_product(data):
    x, g = data
    layer = nn.BinaryDense(70, 5, qbp=True, seed=6)
    layer.forward(x)
    layer.zero_grad()
    layer.backward(g)
    seed = layer._sample_seed() ^ 0x5DEECE66D
    xq = pybitnet.dequantize_pow2(pybitnet.quantize_pow2(x, stochastic=True, seed=seed))
    np.testing.assert_allclose(layer.weight.grad, g.T @ xq, rtol=1e-5, atol=1e-5)
    assert set(np.unique(np.log2(np.abs(xq[xq != 0]))) % 1) == {0.0}


def test_bnn_layer_runs_xnor_and_add_only_gradients(data):
    x, g = data
    xb = pm(x).astype(np.float32)
    layer = nn.BinarizedDense(70, 5, seed=8)
    before = pybitnet.kernel_calls()["xnor_gemm"]
    y = layer.forward(xb)
    assert sum(pybitnet.kernel_calls()["xnor_gemm"].values()) == sum(before.values()) + 1
    np.testing.assert_allclose(y, xb @ pm(layer.weight.value).T + layer.bias.value, rtol=1e-6)
    layer.zero_grad()
    with pybitnet.count_ops() as ops:
        dx = layer.backward(g)
    np.testing.assert_allclose(dx, g @ pm(layer.weight.value), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.weight.grad, g.T @ xb, rtol=1e-5, atol=1e-5)
    assert ops.multiplications == 0


def test_glorot_factors():
    assert nn.glorot_lr_scale(784, 4096) == pytest.approx(57.0, abs=0.1)
    assert nn.glorot_lr_scale(4096, 4096) == pytest.approx(73.9, abs=0.1)
    assert nn.glorot_w0(784, 1024) == pytest.approx(0.0288, abs=1e-4)


@pytest.mark.parametrize("k", [70, 128, 1000])
def test_dropout_before_binarized_dense_drops_units(k):
    """A dropped unit (0 after inverted dropout) contributes 0 to the XNOR forward and to the
    weight gradient, not +1 (BNN Theano: sign -> dropout 0.5 -> binary dense)."""
    rng = np.random.default_rng(11)
    a = pm(rng.standard_normal((9, k))).astype(np.float32)
    drop = nn.Dropout(0.5, seed=3)
    x = drop.forward(a)
    assert (x == 0).any() and set(np.unique(x)) <= {-2.0, 0.0, 2.0}
    layer = nn.BinarizedDense(k, 6, seed=4)
    w = pm(layer.weight.value)
    y = layer.forward(x)
    np.testing.assert_array_equal(y, x @ w.T + layer.bias.value)
    g = rng.standard_normal((9, 6)).astype(np.float32)
    layer.zero_grad()
    dx = layer.backward(g)
    np.testing.assert_allclose(layer.weight.grad, g.T @ x, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(drop.backward(dx), (g @ w) * (x != 0) * 2, rtol=1e-5, atol=1e-5)
    # no dropout (eval): plain ±1 input, the unmasked kernel
    np.testing.assert_array_equal(layer.forward(a), a @ w.T + layer.bias.value)


def test_binarized_dense_rejects_non_binary_input():
    layer = nn.BinarizedDense(8, 2)
    with pytest.raises(ValueError, match="±s and 0"):
        layer.forward(np.array([[1, -1, 0.5, 1, 1, 1, -1, 1]], np.float32))


def test_dropout_before_binarized_conv_drops_units():
    rng = np.random.default_rng(12)
    a = pm(rng.standard_normal((2, 5, 5, 64))).astype(np.float32)
    x = nn.Dropout(0.5, seed=1).forward(a)
    layer = nn.BinarizedConv2D(64, 3, 3, padding=1, seed=2)
    y = layer.forward(x)
    from pybitnet.nn.conv import im2col
    rows = im2col(x, 3, padding=1, pad_value=2.0)  # +1 padding, scaled like the kept units
    w = pm(layer.weight.value).reshape(3, -1)
    np.testing.assert_allclose(y.reshape(-1, 3), rows @ w.T + layer.bias.value, rtol=1e-6, atol=1e-4)
    g = rng.standard_normal(y.shape).astype(np.float32)
    layer.zero_grad()
    layer.backward(g)
    np.testing.assert_allclose(layer.weight.grad.reshape(3, -1), g.reshape(-1, 3).T @ rows, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("dropout", [False, True])
def test_zero_padded_binarized_conv_is_exact_on_the_packed_path(dropout):
    """Lasagne pads ±1 activations with 0: the packed path masks the padded taps out (masked XNOR)."""
    rng = np.random.default_rng(13)
    x = pm(rng.standard_normal((2, 6, 5, 128))).astype(np.float32)
    if dropout:
        x = nn.Dropout(0.5, seed=2).forward(x)
    layer = nn.BinarizedConv2D(128, 4, 3, padding=1, pad_value="zero", seed=3)
    from pybitnet.nn.conv import im2col
    rows = im2col(x, 3, padding=1, pad_value=0.0)
    w = pm(layer.weight.value).reshape(4, -1)
    with pybitnet.count_ops() as ops:
        y = layer.forward(x)
    assert "xnor_gemm_masked" in ops.by_kernel
    np.testing.assert_array_equal(y.reshape(-1, 4), rows @ w.T + layer.bias.value)
    g = rng.standard_normal(y.shape).astype(np.float32)
    layer.zero_grad()
    layer.backward(g)
    np.testing.assert_allclose(layer.weight.grad.reshape(4, -1), g.reshape(-1, 4).T @ rows, rtol=1e-5, atol=1e-3)


def test_maxpool_ties_get_the_gradient_everywhere():
    x = np.array([[[[1.0], [1.0]], [[0.0], [1.0]]]], np.float32)  # one 2x2 window, three tied maxima
    g = np.ones((1, 1, 1, 1), np.float32)
    every = nn.MaxPool2D(2)
    every.forward(x)
    np.testing.assert_array_equal(every.backward(g)[0, :, :, 0], [[1, 1], [0, 1]])  # Theano's MaxPoolGrad
    first = nn.MaxPool2D(2, ties="first")
    first.forward(x)
    np.testing.assert_array_equal(first.backward(g)[0, :, :, 0], [[1, 0], [0, 0]])


# ---- packing a layer's ±s / 0 input in one pass (_bitops.pack_scaled_ternary) ----

def _numpy_packed_input(x):
    """The rule, in numpy: sign bits of x < 0, nonzero bits of x != 0, s the common magnitude."""
    a = np.abs(x)
    return pybitnet.pack_signs(x), pybitnet.pack_signs(-a), float(a.max()) if a.max() else 1.0


@pytest.mark.parametrize("shape", [(1, 1), (3, 63), (100, 784), (7, 4096), (2, 5, 5, 128)])
@pytest.mark.parametrize("drop", [0.0, 0.3])
@pytest.mark.parametrize("threads", [1, 2])
def test_packed_input_matches_numpy(shape, drop, threads):
    from pybitnet.nn._ops import pack_scaled_ternary

    rng = np.random.default_rng(sum(shape))
    s = np.float32(1 / (1 - drop)) if drop else np.float32(1)
    x = np.where(rng.random(shape) < 0.5, -s, s).astype(np.float32)
    if drop:
        x[rng.random(shape) < drop] = 0
        x.flat[0] = 0  # the first nonzero element is not the first one
    old = pybitnet.get_num_threads()
    pybitnet.set_num_threads(threads)
    try:
        signs, nonzero, scale = pack_scaled_ternary(x)
    finally:
        pybitnet.set_num_threads(old)
    want_signs, want_nonzero, want_scale = _numpy_packed_input(x)
    np.testing.assert_array_equal(signs, want_signs)
    assert scale == want_scale
    if drop:
        np.testing.assert_array_equal(nonzero, want_nonzero)
    else:
        assert nonzero is None


def test_packed_input_all_dropped_gives_zero_products():
    """Every unit dropped: the mask is all clear, so the layer's products are 0 (not the weights' sums)."""
    from pybitnet.nn._ops import pack_input

    packed = pack_input(np.zeros((3, 100), np.float32))
    assert packed.nonzero is not None and not packed.nonzero.any()
    w = pybitnet.pack_signs(np.random.default_rng(0).standard_normal((5, 100)).astype(np.float32))
    assert not pybitnet.xnor_gemm(packed.signs, w, 100, mask=packed.nonzero).any()


@pytest.mark.parametrize("bad, match", [(np.nan, "NaN or Inf"), (np.inf, "NaN or Inf"), (0.5, "magnitudes other")])
@pytest.mark.parametrize("first", [True, False])
def test_binary_layers_refuse_inputs_other_than_pm_s_and_0(bad, match, first):
    x = np.ones((2, 4, 4, 64), np.float32)
    x.flat[0 if first else 77] = bad
    conv = nn.BinarizedConv2D(64, 8, pad_value="zero", seed=1)
    with pytest.raises(ValueError, match=match):
        conv.forward(x)
    dense = nn.BinarizedDense(64, 8, seed=1)
    with pytest.raises(ValueError, match=match):
        dense.forward(x.reshape(-1, 64))
