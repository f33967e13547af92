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
    return fixed


def _pybitnet_step(method, x, y):
    r = recipes.recipe(method, hidden=HIDDEN)
    model = recipes.build_model(r, x.shape[1], 10)
    opt = recipes.build_optimizer(r, model)
    opt.lr = recipes.build_schedule(r)(0)
    loss_fn = recipes.build_loss(r)
    before = [p.value.copy() for p in model.parameters()]
    opt.zero_grad()
    out = model.forward(x)
    loss, grad = loss_fn(out, y)
    model.backward(grad)
    grads = [p.grad.copy() for p in model.parameters()]
    fixed = _draws(model)
    opt.step()
    after = [p.value.copy() for p in model.parameters()]
    return r, before, loss, grads, after, fixed, opt.lr


@needs_mnist
@pytest.mark.parametrize("method", METHODS)
def test_one_step_matches_the_reference(method, mnist_batches):
    torch.set_num_threads(1)
    r = recipes.recipe(method)
    x, y = mnist_batches[r.preprocess]
    r, before, loss, grads, after, fixed, lr = _pybitnet_step(method, x, y)

    net = ref.Net(ref.spec(method, hidden=HIDDEN))
    net.load(before)
    ref_loss, ref_grads = net.loss_and_grads(torch.from_numpy(x), torch.from_numpy(y), fixed)
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    names = [f"{i // 4}.{('W', 'b', 'gamma', 'beta')[i % 4]}" for i in range(len(grads))]
    rgs = [g.numpy() for g in ref_grads]
    atols = []
    for n, (name, g, rg) in enumerate(zip(names, grads, rgs)):
        # per layer: a bias before BN has a zero gradient in exact arithmetic, float noise on both sides
        atols.append(1e-4 * max(float(np.abs(a).max()) for a in rgs[n - n % 4:n - n % 4 + 4]))
        np.testing.assert_allclose(g, rg, rtol=1e-3, atol=atols[-1], err_msg=f"gradient of {name}")
    net.step(ref_grads, lr)
    adaptive = r.optimizer != "sgd"
    for name, p, rp, p0, atol in zip(names, after, net.parameters(), before, atols):
        rp = rp.detach().numpy()
        if adaptive and name.endswith(".b"):
            # Adam/AdaMax turn that noise into +-lr steps of either sign (BN then removes the bias)
            assert np.abs(p - rp).max() <= 2.5 * lr, name
            continue
        moved = float(np.abs(rp - p0).max())
        np.testing.assert_allclose(p, rp, rtol=1e-5, atol=2e-3 * moved + lr * atol, err_msg=f"{name} after the step")


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
