"""pybitnet.nn: every backward pass against finite differences; STE masks; losses."""
import numpy as np
import pytest

from pybitnet import nn


def numeric_grad(f, x, eps=1e-2):
    """Central differences of scalar f at float32 x (computed in float64 around it)."""
    g = np.zeros(x.shape, np.float64)
    flat = x.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = f()
        flat[i] = old - eps
        down = f()
        flat[i] = old
        g.reshape(-1)[i] = (up - down) / (2 * eps)
    return g


def check_module(module, x, rtol=2e-2, atol=2e-3, seed=0):
    rng = np.random.default_rng(seed)
    out = module.forward(x)
    r = rng.standard_normal(out.shape).astype(np.float32)
    module.zero_grad()
    module.forward(x)
    gx = module.backward(r.copy())

    def f():
        return float(np.sum(module.forward(x).astype(np.float64) * r))

    np.testing.assert_allclose(gx, numeric_grad(f, x), rtol=rtol, atol=atol)
    grads = {id(p): p.grad.copy() for p in module.parameters()}
    for p in module.parameters():
        np.testing.assert_allclose(grads[id(p)], numeric_grad(f, p.value), rtol=rtol, atol=atol,
                                   err_msg=f"gradient of {p.name}")


@pytest.fixture
def x():
    return np.random.default_rng(1).standard_normal((6, 5)).astype(np.float32)


def test_dense(x):
    check_module(nn.Dense(5, 4, seed=3), x)


def test_relu_hardtanh(x):
    x = x + np.where(np.abs(x) < 0.05, 0.1, 0).astype(np.float32)  # keep away from kinks
    check_module(nn.ReLU(), x)
    check_module(nn.HardTanh(), x * 0.7)


def test_batchnorm_train_and_eval(x):
    bn = nn.BatchNorm(5)
    bn.gamma.value[...] = [0.5, 1.0, 2.0, -1.0, 0.3]
    bn.beta.value[...] = [0.1, 0.0, -0.2, 0.3, 1.0]
    check_module(bn, x)
    bn.eval()
    check_module(bn, x)


def test_sequential(x):
    net = nn.Sequential(nn.Dense(5, 7, seed=1), nn.BatchNorm(7), nn.Dense(7, 3, seed=2))  # no kinks for FD
    check_module(net, x * 0.3)


def test_ste_sign_forward_and_mask():
    x = np.array([[-2.0, -1.0, -0.3, 0.0, 0.5, 1.0, 1.5]], np.float32)
    s = nn.SteSign()
    np.testing.assert_array_equal(s.forward(x), [[-1, -1, -1, 1, 1, 1, 1]])
    np.testing.assert_array_equal(s.backward(np.ones_like(x)), [[0, 1, 1, 1, 1, 1, 0]])


def test_ap2():
    z = np.array([0.0, 1.0, -1.0, 3.0, 2.9, 1.41, 1.42, -0.7, 0.1, 1e-30], np.float32)
    got = nn.ap2(z)
    expected = np.sign(z) * 2.0 ** np.round(np.log2(np.where(z == 0, 1, np.abs(z))))
    np.testing.assert_array_equal(got, np.where(z == 0, 0, expected).astype(np.float32))


def test_shift_batchnorm_uses_powers_of_two(x):
    bn = nn.ShiftBatchNorm(5)
    bn.gamma.value[...] = [0.5, 1.3, 3.0, -0.9, 0.3]
    y = bn.forward(x)
    c = x - x.mean(0)
    inv = nn.ap2(1 / np.sqrt((c * nn.ap2(c)).mean(0) + bn.eps))
    np.testing.assert_allclose(y, c * inv * nn.ap2(bn.gamma.value) + bn.beta.value, rtol=1e-6, atol=1e-6)
    assert set(np.unique(np.log2(np.abs(inv)) % 1)) == {0.0}
    # backward, as BatchNormalizationShiftPow2.lua: AP2(gamma) s (g - mean(g) - s^2 AP2(c) mean(AP2(c) g))
    g = np.random.default_rng(2).standard_normal(y.shape).astype(np.float32)
    bn.zero_grad()
    gx = bn.backward(g)
    ct, gam = nn.ap2(c), nn.ap2(bn.gamma.value)
    expected = gam * inv * (g - g.mean(0) - inv**2 * ct * (ct * g).mean(0))
    np.testing.assert_allclose(gx, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bn.gamma.grad, (nn.ap2(c * inv) * g).sum(0), rtol=1e-5, atol=1e-5)
    # running statistics: the unrounded 1/std; evaluation multiplies by its AP2
    raw = 1 / np.sqrt((c * nn.ap2(c)).mean(0) + bn.eps)
    np.testing.assert_allclose(bn.running_inv_std, 0.875 + 0.125 * raw, rtol=1e-6)
    bn.eval()
    np.testing.assert_allclose(bn.forward(x), (x - bn.running_mean) * nn.ap2(bn.running_inv_std) * gam
                               + bn.beta.value, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("running", ["var", "inv_std", "unbiased_var"])
def test_batchnorm_running_statistics(x, running):
    bn = nn.BatchNorm(5, running=running, momentum=0.1)
    bn.forward(x)
    mean, var = x.mean(0), x.var(0)
    np.testing.assert_allclose(bn.running_mean, 0.1 * mean, rtol=1e-5, atol=1e-6)
    if running == "inv_std":  # Lasagne's BatchNormLayer
        np.testing.assert_allclose(bn.running_inv_std, 0.9 + 0.1 / np.sqrt(var + 1e-4), rtol=1e-5)
    else:  # Torch's nn.BatchNormalization keeps the unbiased variance
        v = var * len(x) / (len(x) - 1) if running == "unbiased_var" else var
        np.testing.assert_allclose(bn.running_var, 0.9 + 0.1 * v, rtol=1e-5)
    bn.eval()
    np.testing.assert_allclose(bn.forward(x), (x - bn.running_mean) * bn.eval_inv_std(), rtol=1e-5, atol=1e-5)


def test_dropout_is_reproducible_and_scaled():
    x = np.ones((200, 50), np.float32)
    d = nn.Dropout(0.5, seed=4)
    y = d.forward(x)
    assert set(np.unique(y)) <= {0.0, 2.0} and abs(y.mean() - 1) < 0.05
    np.testing.assert_array_equal(d.backward(np.ones_like(x)), y)
    d2 = nn.Dropout(0.5, seed=4)
    np.testing.assert_array_equal(d2.forward(x), y)
    d.eval()
    np.testing.assert_array_equal(d.forward(x), x)
    with pytest.raises(ValueError, match="p must be in"):
        nn.Dropout(1.0)


@pytest.mark.parametrize("loss", [nn.SquaredHinge(), nn.SquaredHinge("batch"), nn.SoftmaxCrossEntropy()])
def test_losses_gradients(loss):
    rng = np.random.default_rng(5)
    y = rng.standard_normal((4, 3)).astype(np.float32)
    labels = np.array([0, 2, 1, 2])
    value, grad = loss(y, labels)
    np.testing.assert_allclose(grad, numeric_grad(lambda: loss(y, labels)[0], y, eps=1e-3), rtol=2e-2, atol=1e-4)
    assert value > 0


def test_squared_hinge_matches_definition():
    y = np.array([[0.5, -2.0], [1.5, 0.2]], np.float32)
    t = np.array([[1, -1], [-1, 1]], np.float32)
    value, _ = nn.SquaredHinge()(y, t)
    assert value == pytest.approx(np.mean(np.maximum(0, 1 - t * y) ** 2))
    with pytest.raises(ValueError, match="rows"):
        nn.SquaredHinge()(y, t[:1])
    # BC-M / Few-Multiplications: summed over the classes, averaged over the batch
    value, grad = nn.SquaredHinge("batch")(y, t)
    assert value == pytest.approx(np.sum(np.maximum(0, 1 - t * y) ** 2) / 2)
    np.testing.assert_allclose(grad, 2 * nn.SquaredHinge()(y, t)[1])  # 2 classes: 2x the mean's gradient
    with pytest.raises(ValueError, match="reduction"):
        nn.SquaredHinge("sum")


def test_parameters_and_modes():
    net = nn.Sequential(nn.Dense(3, 4), nn.BatchNorm(4), nn.Dropout(0.1))
    assert [p.name for p in net.parameters()] == ["weight", "bias", "gamma", "beta"]
    net.eval()
    assert not any(m.training for m in net.modules())
    assert "Dense(3, 4)" in repr(net)


def test_recompute_statistics_averages_batches():
    """BC-M's set_BN_mean_var: per set, batch 0 on batch statistics, then every batch (batch 0 again)
    normalized by the averages so far; cumulative averages of the batch means and biased variances."""
    rng = np.random.default_rng(9)
    x = (rng.standard_normal((400, 5)) * 3 + 1).astype(np.float32)
    net = nn.Sequential(nn.Dense(5, 4, seed=1), nn.BatchNorm(4))
    nn.recompute_statistics(net, x, batch_size=100)
    h = x @ net[0].weight.value.T + net[0].bias.value
    batches = [h[:100]] + [h[i:i + 100] for i in range(0, 400, 100)]
    np.testing.assert_allclose(net[1].running_mean, np.mean([b.mean(0) for b in batches], 0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(net[1].running_var, np.mean([b.var(0) for b in batches], 0), rtol=1e-4)
    assert net.training  # mode restored
    # two sets (train, valid): the second extends the averages; a BN below normalizes by its averages so far
    deep = nn.Sequential(nn.Dense(5, 4, seed=1), nn.BatchNorm(4), nn.ReLU(), nn.Dense(4, 3, seed=2), nn.BatchNorm(3))
    nn.recompute_statistics(deep, (x[:200], x[200:]), batch_size=100)
    assert all(np.isfinite(b.running_var).all() for b in (deep[1], deep[4]))
    np.testing.assert_allclose(deep[1].running_mean, np.mean([b.mean(0) for b in
                               [h[:100], h[:100], h[100:200], h[200:300], h[200:300], h[300:]]], 0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("gate", ["inclusive", "exclusive"])
def test_ste_sign_module_takes_the_kernel_and_keeps_numpys_values(gate):
    """SteSign (deterministic) runs pybitnet.ste_ops: the same outputs and gradients as the numpy
    formulas, for a strided float32 gradient (a conv's cropped input gradient) and a float64 one."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((4, 5, 6, 7)) * 1.5).astype(np.float32)
    x.flat[:6] = [1.0, -1.0, 0.0, -0.0, np.nan, 2.0]
    act = nn.SteSign(gate=gate)
    y = act.forward(x)
    mask = (x >= -1) & (x <= 1) if gate == "inclusive" else (x > -1) & (x < 1)
    np.testing.assert_array_equal(y, np.where(x < 0, np.float32(-1), np.float32(1)))
    assert act._gate is not None
    wide = rng.standard_normal((4, 7, 8, 7)).astype(np.float32)
    g = wide[:, 1:6, 1:7]  # not contiguous
    np.testing.assert_array_equal(act.backward(g), g * mask)
    g64 = g.astype(np.float64)
    out = act.backward(g64)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, g64 * mask)
