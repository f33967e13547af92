"""Optimizers with ``update_in_backward=True`` (what ``pybitnet train`` uses on one process): the
quantized weights are updated in slices of rows during the backward pass and the deterministic
binary layers keep their packed signs for the next forward. The steps must be the same, bit for
bit, as the ordinary optimizer's (the one the fidelity tests check against PyTorch), and no
way of writing the weights between steps may leave the kept signs stale."""
import os
from pathlib import Path

import numpy as np
import pytest

import pybitnet
from pybitnet import _bitops, nn, recipes
from pybitnet.profiling import input_shape, random_batch
from pybitnet.train import Trainer

needs_mnist = pytest.mark.skipif(
    not (Path(os.environ.get("PYBITNET_DATA", "")) / "mnist").is_dir(), reason="real MNIST not found")


def _run(r, in_backward, steps=3, between=None):
    """`in_backward`: False, or a list that collects how many parameters each backward updated."""
    model = recipes.build_model(r, input_shape(r), 10)
    opt = recipes.build_optimizer(r, model, update_in_backward=in_backward is not False)
    loss_fn = recipes.build_loss(r)
    x, y = random_batch(r, 1)
    outs = []
    for step in range(steps):
        opt.lr = r.lr * 0.5**step  # a schedule: the in-backward update must take this step's lr
        opt.zero_grad()
        out = model.forward(x)
        _, grad = loss_fn(out, y)
        model.backward(grad)
        if in_backward is not False:
            in_backward.append(len(opt._updated))
        opt.step()
        outs.append(out)
        if between is not None:
            between(model)
    model.eval()
    outs.append(model.forward(x))
    return model, opt, outs


def _assert_same(a, b):
    (ma, oa, outs_a), (mb, ob, outs_b) = a, b
    for pa, pb in zip(ma.parameters(), mb.parameters()):
        np.testing.assert_array_equal(pa.view(), pb.view(), err_msg=repr(pa))
    for sa, sb in zip(oa.m + oa.v, ob.m + ob.v):
        np.testing.assert_array_equal(sa, sb)
    assert oa.t == ob.t
    for ya, yb in zip(outs_a, outs_b):
        np.testing.assert_array_equal(ya, yb)


# hidden 128: the backward products take the table kernels (binary and ternary: dropout on)
@pytest.mark.parametrize("method", recipes.METHODS)
def test_mlp_steps_are_the_same_bit_for_bit(method):
    r = recipes.recipe(method, hidden=128, batch_size=64)
    counts = []
    _assert_same(_run(r, False), _run(r, counts))
    assert counts == [0 if method == "float" else 4] * 3  # the 4 quantized weight matrices, in backward


@pytest.mark.parametrize("method", ["bnn", "bc-qbp", "bc-stoch"])
def test_cnn_steps_are_the_same_bit_for_bit(method):
    r = recipes.recipe(method, dataset="cifar10", batch_size=4, channels=16, hidden=64)
    counts = []
    _assert_same(_run(r, False, steps=2), _run(r, counts, steps=2))
    assert counts[0] >= 6  # the conv layers at least


def test_weights_written_between_steps_are_seen():
    """A write through ``.value`` (in place or by assignment) drops the kept signs."""
    r = recipes.recipe("bnn", hidden=128, batch_size=32)

    def flip(model):
        for m in model.modules():
            if isinstance(m, nn.Dense):
                m.weight.value[:5] *= -1  # in place, through .value
                m.weight.value = m.weight.value.copy()  # and by assignment
    _assert_same(_run(r, False, between=flip), _run(r, [], between=flip))


@needs_mnist
def test_trainer_updates_in_backward_and_resumes(tmp_path):
    """``pybitnet train`` on one process takes the in-backward updates; a resumed BNN run equals an
    uninterrupted one (the checkpoint reads the weights between steps: the kept signs are dropped)."""
    r = recipes.recipe("bnn", hidden=64, epochs=2, val_size=500)
    full = Trainer(r, tmp_path / "a", subset=1000, progress=False)
    assert full.optimizer.update_in_backward
    full.fit()
    part = Trainer(r, tmp_path / "b", subset=1000, progress=False)
    part.fit(epochs=1)
    resumed = Trainer(r, tmp_path / "b", subset=1000, progress=False)
    resumed.fit()
    for p, q in zip(full.model.parameters(), resumed.model.parameters()):
        np.testing.assert_array_equal(p.view(), q.view())


def test_a_held_reference_cannot_write_past_the_kept_signs():
    r = recipes.recipe("bnn", hidden=128, batch_size=32)
    model = recipes.build_model(r, input_shape(r), 10)
    opt, loss_fn = recipes.build_optimizer(r, model, update_in_backward=True), recipes.build_loss(r)
    layer = next(m for m in model.modules() if isinstance(m, nn.Dense) and m.binary_input)
    held = layer.weight.value
    x, y = random_batch(r, 1)
    opt.zero_grad()
    model.backward(loss_fn(model.forward(x), y)[1])
    opt.step()
    assert layer.weight.cached_signs(*layer.weight.shape) is not None
    with pytest.raises(ValueError, match="read-only"):
        held[0, 0] = 0.5
    layer.weight.value[0, 0] = 0.5  # through .value: allowed, and the kept signs are dropped
    assert layer.weight.cached_signs(*layer.weight.shape) is None


def test_a_second_backward_before_step_raises():
    r = recipes.recipe("bnn", hidden=128, batch_size=32)
    model = recipes.build_model(r, input_shape(r), 10)
    opt, loss_fn = recipes.build_optimizer(r, model, update_in_backward=True), recipes.build_loss(r)
    x, y = random_batch(r, 1)
    opt.zero_grad()
    model.backward(loss_fn(model.forward(x), y)[1])
    with pytest.raises(RuntimeError, match="already updated in this backward pass"):
        model.backward(loss_fn(model.forward(x), y)[1])


def test_an_ordinary_optimizer_takes_the_parameters_back():
    """A later optimizer without update_in_backward over the same parameters: gradients are kept again."""
    r = recipes.recipe("bnn", hidden=128, batch_size=32)
    model = recipes.build_model(r, input_shape(r), 10)
    recipes.build_optimizer(r, model, update_in_backward=True)
    opt, loss_fn = recipes.build_optimizer(r, model), recipes.build_loss(r)
    x, y = random_batch(r, 1)
    opt.zero_grad()
    model.backward(loss_fn(model.forward(x), y)[1])
    assert all(np.any(p.grad != 0) for p in model.parameters() if p.name == "weight")


# ---- the fused kernel itself ------------------------------------------------------------------------

def _operands(f, n, k, ternary, seed=0):
    rng = np.random.default_rng(seed)
    x = np.sign(rng.standard_normal((n, k))).astype(np.float32)
    if ternary:
        x[rng.random((n, k)) < 0.5] = 0
    gt = rng.standard_normal((f, n)).astype(np.float32)
    w = rng.uniform(-1, 1, (f, k)).astype(np.float32)
    m, v = rng.standard_normal((f, k)).astype(np.float32) * 0.01, np.abs(rng.standard_normal((f, k))).astype(np.float32)
    return gt, pybitnet.pack_signs(x), pybitnet.pack_signs(-np.abs(x)) if ternary else None, w, m, v


@pytest.mark.parametrize("isa", pybitnet.available_isas())
@pytest.mark.parametrize("f,n,k", [(1, 3, 5), (10, 100, 4096), (37, 64, 130), (200, 33, 1000), (4096, 100, 256)])
@pytest.mark.parametrize("ternary", [False, True])
@pytest.mark.parametrize("kind", ["adam", "shift_adamax", "sgd"])
def test_fused_kernel_equals_product_then_update(isa, f, n, k, ternary, kind):
    gt, s, nz, w, m, v = _operands(f, n, k, ternary)
    moments = {"sgd": (None, None), "adam": (m, v), "shift_adamax": (m, v)}[kind]
    want_w, want_m, want_v = w.copy(), *(None if a is None else a.copy() for a in moments)
    dw = (_bitops.ternary_weight_matmul_t(gt, s, nz, k, isa) if ternary
          else _bitops.binary_weight_matmul_t(gt, s, k, isa))
    _bitops.optimizer_step(kind, want_w, dw, want_m, want_v, 1e-3, 0.9, 0.999, 1e-8, 0.5, 1.0, isa)
    got_w, got_m, got_v = w.copy(), *(None if a is None else a.copy() for a in moments)
    signs = np.empty((f, -(-k // 64)), np.uint64)
    _bitops.weight_grad_update(kind, gt, s, nz, k, got_w, got_m, got_v, 1e-3, 0.9, 0.999, 1e-8, 0.5, 1.0, signs, isa)
    np.testing.assert_array_equal(got_w, want_w)
    for a, b in ((got_m, want_m), (got_v, want_v)):
        if a is not None:
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(signs, pybitnet.pack_signs(want_w))


def test_fused_kernel_errors_name_the_argument():
    gt, s, nz, w, m, v = _operands(8, 5, 70, True)
    call = dict(kind="adam", gt=gt, x_signs=s, x_nonzero=nz, k=70, w=w, m=m, v=v, lr=1e-3)
    for change, error, match in [
        (dict(kind="lion"), ValueError, "kind must be"),
        (dict(gt=gt.astype(np.float64)), TypeError, "gt must have dtype float32"),
        (dict(gt=gt[:, :4]), ValueError, "gt has 4 columns but x_signs has 5 rows"),
        (dict(x_signs=s[:, :1]), ValueError, "x_signs has 1 words per row"),
        (dict(x_nonzero=nz[:4]), ValueError, "x_signs has 5 rows but x_nonzero has 4"),
        (dict(w=w[:4]), ValueError, "w has 280 elements"),
        (dict(w=w.astype(np.float64)), TypeError, "w must have dtype float32"),
        (dict(m=None), ValueError, "m is required"),
        (dict(v=v[:, :3].copy()), ValueError, "v has 24 elements"),
        (dict(k=0), ValueError, "k"),
        (dict(signs=np.empty((8, 1), np.uint64)), ValueError, "signs must have shape \\(8, 2\\)"),
        (dict(signs=np.empty((8, 2), np.int64)), TypeError, "signs must have dtype uint64"),
    ]:
        with pytest.raises(error, match=match):
            _bitops.weight_grad_update(**{**call, **change})
    m[0, 0] = np.nan  # a NaN moment makes a NaN weight: said, not packed as a sign
    with pytest.raises(pybitnet.NonFiniteUpdate, match="w holds NaN after the update"):
        _bitops.weight_grad_update(**{**call, "signs": np.empty((8, 2), np.uint64)})
