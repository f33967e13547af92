"""One optimizer step of every MNIST recipe against an independent PyTorch implementation.

From identical weights and batch (and the same random draws: stochastic weight
samples, power-of-two quantized inputs, dropout masks), pybitnet's step must
give the loss, every parameter's gradient and every parameter after the update
that tests/torch_reference.py (written from the authors' code, gradients by
autograd) gives. This is what catches a loss scale or a lost dropout mask;
finite differences do not.
"""
import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import pybitnet  # noqa: E402
from pybitnet import nn, recipes  # noqa: E402

import torch_reference as ref  # noqa: E402

METHODS = ["float", "bc", "bc-stoch", "tc", "bc-qbp", "tc-qbp", "bnn", "bnn-shift"]
HIDDEN = 96
needs_mnist = pytest.mark.skipif(
    not (Path(os.environ.get("PYBITNET_DATA", "")) / "mnist").is_dir(), reason="real MNIST not found")


@pytest.fixture(scope="module")
def mnist_batches():
    """A few real MNIST batches per preprocessing, prepared by pybitnet (the same arrays go to both sides)."""
    out = {}
    for method in ("float", "bnn", "bnn-shift"):
        r = recipes.recipe(method)
        x_tr, y_tr, *_ = recipes.prepare_data(r)
        out[r.preprocess] = (x_tr[:r.batch_size], y_tr[:r.batch_size])
    return out


def _unpack(bits, k):
    return pybitnet.unpack_signs(bits, k)


def _draws(model):
    """pybitnet's random draws of the step just taken, as the reference's `fixed` dict."""
    fixed = {}
    dense = [m for m in model.modules() if isinstance(m, nn.Dense)]
    drops = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    for i, layer in enumerate(dense):
        w = getattr(layer, "_w", None)
        if w is not None and getattr(layer, "stochastic", False):
            s = _unpack(w.bits, w.k)
            if w.nonzero is not None:
                s = s * (_unpack(w.nonzero, w.k) < 0)
            fixed[f"w{i}"] = torch.from_numpy(np.ascontiguousarray(s, np.float32))
        if getattr(layer, "qbp", False):
            seed = layer._sample_seed() ^ 0x5DEECE66D  # the seed the layer's weight gradient used
            codes = pybitnet.quantize_pow2(np.ascontiguousarray(layer._x), stochastic=True, seed=seed)
            fixed[f"q{i}"] = torch.from_numpy(pybitnet.dequantize_pow2(codes))
    # dropout j: j = 0 is the input dropout (if the recipe has one), then after hidden layer j
    r_in = 1 if drops and model.layers[0] is drops[0] else 0
    for n, d in enumerate(drops):
        if d._scale is not None:
            fixed[f"d{n + 1 - r_in}"] = torch.from_numpy(d._scale)
    # stochastic neurons: the uniforms of this step (counter-based: a function of the module's seed and step)
    for i, a in enumerate(m for m in model.modules() if isinstance(m, nn.SteSign)):
        if a.stochastic:
            u = np.random.default_rng([a.seed, int(a.step)]).random(a._mask.shape, dtype=np.float32)
            fixed[f"u{i}"] = torch.from_numpy(u)
    return fixed


def _bn_buffers(model):
    """Each BN's running statistics in reference terms: (mean, var or inv_std)."""
    out = []
    for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm)):
        out.append((bn.running_mean.copy(), (bn.running_inv_std if bn.running == "inv_std" else bn.running_var).copy()))
    return out


STEPS = 2  # the second step sees the optimizer state (Adam moments, shift-AdaMax's stored rounded v)


@needs_mnist
@pytest.mark.parametrize("method", METHODS)
def test_one_step_matches_the_reference(method, mnist_batches):
    """Each step from identical weights and batch: same loss, gradients, parameters after the update
    and BN running statistics. The reference keeps its own optimizer state across the steps."""
    check_steps(method, HIDDEN, mnist_batches)


@needs_mnist
@pytest.mark.parametrize("method", ["bnn", "bnn-shift", "tc"])
def test_one_step_through_the_table_kernels(method, mnist_batches):
    """The same at 128 hidden units, where the backward products take the table kernels
    (variants.inc: m >= 16 && k >= 128): binary and ternary, the dropout weight gradient."""
    check_steps(method, 128, mnist_batches)


def check_steps(method, hidden, mnist_batches):
    torch.set_num_threads(1)
    r = recipes.recipe(method, hidden=hidden)
    x_all, y_all = mnist_batches[r.preprocess]
    model = recipes.build_model(r, x_all.shape[1], 10)
    opt = recipes.build_optimizer(r, model)
    loss_fn = recipes.build_loss(r)
    net = ref.Net(ref.spec(method, hidden=hidden))
    per = len(net.names)
    names = [f"{i // per}.{net.names[i % per]}" for i in range(len(model.parameters()))]
    assert [p.shape for p in model.parameters()] == [tuple(p.shape) for p in net.parameters()]
    for step in range(STEPS):
        half = len(x_all) // STEPS
        x, y = x_all[step * half:(step + 1) * half], y_all[step * half:(step + 1) * half]
        lr = opt.lr = recipes.build_schedule(r)(step)
        before = [p.value.copy() for p in model.parameters()]
        net.load(before)
        opt.zero_grad()
        out = model.forward(x)
        loss, grad = loss_fn(out, y)
        model.backward(grad)
        grads = [p.grad.copy() for p in model.parameters()]
        fixed = _draws(model)
        opt.step()
        after = [p.value.copy() for p in model.parameters()]

        ref_loss, ref_grads = net.loss_and_grads(torch.from_numpy(x), torch.from_numpy(y), fixed)
        assert loss == pytest.approx(ref_loss, rel=1e-5), f"loss at step {step}"
        rgs = [g.numpy() for g in ref_grads]
        atols = []
        for n, (name, g, rg) in enumerate(zip(names, grads, rgs)):
            # per layer: a bias before BN has a zero gradient in exact arithmetic, float noise on both sides
            atols.append(1e-4 * max(float(np.abs(a).max()) for a in rgs[n - n % per:n - n % per + per]))
            np.testing.assert_allclose(g, rg, rtol=1e-3, atol=atols[-1], err_msg=f"gradient of {name}, step {step}")
        net.step(ref_grads, lr)
        for name, p, rp, p0, atol, rg in zip(names, after, net.parameters(), before, atols, rgs):
            rp = rp.detach().numpy()
            moved = float(np.abs(rp - p0).max())
            close = np.isclose(p, rp, rtol=1e-5, atol=2e-3 * moved + lr * atol)
            if r.optimizer != "sgd":
                # Adam and AdaMax normalize the step: a gradient at float-noise level (a bias before BN,
                # a dead unit's gamma) becomes a full step of either sign on each side
                close |= np.abs(rg) <= atol
            # shift-AdaMax divides by AP2(|g|): a gradient a float-rounding away from a power-of-two
            # rounding boundary (sqrt(2) 2^k) takes a step 2x larger or smaller on one side
            allowed = 1e-3 * close.size if r.optimizer == "shift-adamax" else 0
            assert (~close).sum() <= allowed, f"{name} after step {step}: {(~close).sum()} of {close.size} differ"
        for k, ((mean, stat), L) in enumerate(zip(_bn_buffers(model), net.layers)):
            np.testing.assert_allclose(mean, L["mean"].numpy(), rtol=1e-4, atol=1e-4, err_msg=f"BN {k} mean")
            rstat = L["inv_std"] if L["bn"] in ("lasagne", "shift") else L["var"]
            if r.bn_stats != "recompute":  # BC-M's running statistics are never used (recomputed)
                np.testing.assert_allclose(stat, rstat.numpy(), rtol=1e-4, err_msg=f"BN {k} statistic")


@pytest.mark.parametrize("method", METHODS)
def test_recipes_agree_with_the_reference(method):
    """The hyperparameters both sides read from the authors' code."""
    r, s = recipes.recipe(method), ref.spec(method)
    assert (r.hidden, r.depth, r.batch_size, r.lr, r.lr_end, r.schedule) == \
           (s.hidden, s.depth, s.batch, s.lr, s.lr_end, s.schedule)
    assert (r.input_dropout, r.hidden_dropout, r.preprocess, r.loss_reduction) == \
           (s.input_dropout, s.hidden_dropout, s.preprocess, s.loss)
    sched = recipes.build_schedule(r)
    for e in (0, 1, 7, r.epochs - 1):
        assert sched(e) == pytest.approx(ref.lr_at(s, e))


def test_cnn_step_matches_the_reference():
    """The BNN CIFAR-10 CNN (narrow): one Adam step from identical weights and batch, zero padding of the
    ±1 activations, max-pool ties, Lasagne BN, Glorot LR scale, clipping."""
    torch.set_num_threads(1)
    r = recipes.recipe("bnn", dataset="cifar10", channels=64, hidden=32)
    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 1, (12, 16, 16, 3)).astype(np.float32)
    y = rng.integers(0, 10, 12)
    model = recipes.build_model(r, x.shape[1:], 10)
    opt = recipes.build_optimizer(r, model)
    opt.lr = recipes.build_schedule(r)(0)
    net = ref.ConvNet(channels=64, hidden=32, in_shape=x.shape[1:])
    assert [p.shape for p in model.parameters()] == [tuple(p.shape) for p in net.parameters()]
    before = [p.value.copy() for p in model.parameters()]
    net.load(before)
    opt.zero_grad()
    loss, grad = recipes.build_loss(r)(model.forward(x), y)
    model.backward(grad)
    grads = [p.grad.copy() for p in model.parameters()]
    opt.step()
    ref_loss, ref_grads = net.loss_and_grads(torch.from_numpy(x), torch.from_numpy(y))
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    for n, (g, rg) in enumerate(zip(grads, ref_grads)):
        rg = rg.numpy()
        scale = max(float(np.abs(a.numpy()).max()) for a in ref_grads[n - n % 4:n - n % 4 + 4])
        np.testing.assert_allclose(g, rg, rtol=1e-3, atol=1e-4 * scale, err_msg=f"gradient {n}")
    net.step(ref_grads, opt.lr)
    for n, (p, rp, rg, p0) in enumerate(zip(model.parameters(), net.parameters(), ref_grads, before)):
        rp = rp.detach().numpy()
        scale = max(float(np.abs(a.numpy()).max()) for a in ref_grads[n - n % 4:n - n % 4 + 4])
        moved = float(np.abs(rp - p0).max())
        # Adam's first step is ~lr * sign(g): where g is near eps (or float noise) it depends on g's last bits
        close = np.isclose(p.value, rp, rtol=1e-5, atol=2e-3 * moved) | (np.abs(rg.numpy()) <= 1e-4 * scale)
        assert close.all(), f"parameter {n} after the step: {(~close).sum()} differ"
