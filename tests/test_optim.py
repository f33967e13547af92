"""Optimizers against hand-computed steps; clipping; Glorot LR scale; schedules."""
import math

import numpy as np
import pytest

import pybitnet
from pybitnet import nn, optim


def param(value, grad, **kw):
    p = nn.Parameter(np.array(value, np.float32), "w", **kw)
    p.grad[...] = grad
    return p


def test_sgd_plain_and_momentum():
    p = param([1.0, -2.0], [0.5, -1.0])
    optim.SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.value, [0.95, -1.9])
    p = param([1.0], [1.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    opt.step()
    opt.step()  # v = 1, then 1.9
    np.testing.assert_allclose(p.value, [1.0 - 0.1 - 0.19], rtol=1e-6)


def test_adam_first_steps():
    p = param([0.0], [2.0])
    opt = optim.Adam([p], lr=0.01)
    opt.step()  # bias-corrected first step is lr * sign(g)
    np.testing.assert_allclose(p.value, [-0.01], rtol=1e-5)
    p.grad[...] = -1.0
    opt.step()
    m = 0.9 * 0.2 + 0.1 * -1.0
    v = 0.999 * 0.004 + 0.001 * 1.0
    step = 0.01 * math.sqrt(1 - 0.999**2) / (1 - 0.9**2)
    np.testing.assert_allclose(p.value, [-0.01 - step * m / (math.sqrt(v) + 1e-8)], rtol=1e-5)


def test_adamax_and_shift_adamax():
    p = param([0.0], [0.5])
    optim.AdaMax([p], lr=0.002).step()
    np.testing.assert_allclose(p.value, [-0.002 * (0.05 / 0.1) / 0.5], rtol=1e-5)
    q = param([0.0], [0.3])
    optim.ShiftAdaMax([q], lr=2**-10).step()
    # step = AP2(2**-10 / 0.1) = 2**-3 (0.0097 -> 2**-7 = 0.0078); v = AP2(0.3) = 0.25
    step = 2.0 ** round(math.log2(2**-10 / 0.1))
    np.testing.assert_allclose(q.value, [-step * (0.1 * 0.3) / (0.25 + 2**-27)], rtol=1e-5)


def test_shift_adamax_stores_the_rounded_second_moment():
    """Torch's adaMax_binary_clip_shift.lua writes v = AP2(max(b2 v, |g|)) + eps back to the state:
    b2 * v then rounds back to the same power of two, so v does not decay (running max of AP2|g|)."""
    q = param([0.0], [0.3])
    opt = optim.ShiftAdaMax([q], lr=2**-10)
    opt.step()
    assert opt.v[0][0] == np.float32(0.25 + 2**-27)
    for _ in range(50):
        q.grad[...] = 0.001
        opt.step()
    assert opt.v[0][0] == np.float32(0.25 + 2**-27)  # AdaMax proper would have decayed it to 0.238


def test_clip_and_lr_scale():
    p = param([0.9, -0.9], [-10.0, 10.0], clip=1.0, lr_scale=2.0)
    optim.SGD([p], lr=0.01).step()
    np.testing.assert_array_equal(p.value, [1.0, -1.0])  # 0.9 + 2 * 0.1 -> clipped
    p = param([0.0], [1.0], lr_scale=3.0)
    optim.Adam([p], lr=0.01).step()
    np.testing.assert_allclose(p.value, [-0.03], rtol=1e-5)


def test_state_round_trip():
    p = param([1.0, 2.0], [0.1, 0.2])
    a = optim.Adam([p], lr=0.01)
    a.step()
    state = {k: v.copy() for k, v in a.state().items()}
    q = param([1.0, 2.0], [0.1, 0.2])
    b = optim.Adam([q], lr=0.5)
    b.load_state(state)
    assert b.t == 1 and b.lr == 0.01
    np.testing.assert_array_equal(b.m[0], a.m[0])


def test_schedules_and_bad_lr():
    s = optim.ExponentialDecay(0.3, 0.01, 1000)
    assert s(0) == pytest.approx(0.3) and s(1000) == pytest.approx(0.01)
    assert optim.StepDecay(2**-6, 0.5, 20)(45) == pytest.approx(2**-8)
    with pytest.raises(ValueError, match="lr must be > 0"):
        optim.SGD([], lr=0)


@pytest.mark.parametrize("kind", ["sgd", "momentum", "adam", "adamax", "shift_adamax"])
def test_fused_kernel_same_on_every_isa(kind):
    from pybitnet import _bitops, available_isas

    rng = np.random.default_rng(3)
    start = [rng.standard_normal(1003).astype(np.float32) for _ in range(4)]
    start[3] = np.abs(start[3])
    results = []
    for isa in available_isas():
        w, g, m, v = (a.copy() for a in start)
        _bitops.optimizer_step(kind, w, g, m, v, 0.01, 0.9, 0.999, 1e-8, 2.0, 0.5, isa)
        results.append((w, m, v))
        assert np.abs(w).max() <= 0.5
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_fused_kernel_bad_input():
    from pybitnet import _bitops

    w = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="kind must be"):
        _bitops.optimizer_step("rmsprop", w, w, None, None, 0.1)
    with pytest.raises(ValueError, match="m is required"):
        _bitops.optimizer_step("adam", w, w, None, None, 0.1)
    with pytest.raises(ValueError, match="g has 3 elements"):
        _bitops.optimizer_step("sgd", w, np.zeros(3, np.float32), None, None, 0.1)
    with pytest.raises(TypeError, match="g must have dtype float32"):
        _bitops.optimizer_step("sgd", w, np.zeros(4), None, None, 0.1)


def test_optimizer_step_refuses_buffers_that_share_memory():
    from pybitnet import _bitops
    w, g, m = (np.zeros(64, np.float32) for _ in range(3))
    with pytest.raises(ValueError, match="m and v must not share memory"):
        _bitops.optimizer_step("adam", w, g, m, m, 1e-3, 0.9, 0.999, 1e-8)
    with pytest.raises(ValueError, match="w and g must not share memory"):
        _bitops.optimizer_step("sgd", w, w, None, None, 1e-3)
    big = np.zeros(128, np.float32)
    with pytest.raises(ValueError, match="share memory"):
        _bitops.optimizer_step("momentum", big[:64], g, big[32:96], None, 1e-3, 0.9)


@pytest.mark.parametrize("kind", ["sgd", "momentum", "adam", "adamax", "shift_adamax"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_gradient_is_an_error_on_every_isa(kind, bad):
    """A NaN or infinite gradient (a diverged loss, a NaN input) raises, after the update, instead of
    leaving NaN weights (or with a clip, saturated ones) for training to go on with."""
    from pybitnet import _bitops, available_isas

    for isa in available_isas():
        for n, at in [(1, 0), (40, 37), (1003, 500)]:  # the tail and the vector body
            w, g, m, v = (np.full(n, 0.5, np.float32) for _ in range(4))
            g[at] = bad
            with pytest.raises(pybitnet.NonFiniteUpdate, match="g holds NaN or Inf"):
                _bitops.optimizer_step(kind, w, g, m, v, 0.01, 0.9, 0.999, 1e-8, 1.0, 1.0, isa)
            w, g, m, v = (np.full(n, 0.5, np.float32) for _ in range(4))  # finite: no error, even with a
            _bitops.optimizer_step(kind, w, g, m, v, 10.0, 0.9, 0.999, 1e-8, 1.0, 0.1, isa)  # saturating clip


@pytest.mark.parametrize("clip", [-1.0, np.nan])
def test_a_negative_or_nan_clip_is_an_error(clip):
    """[-clip, clip] is empty for a negative clip, and a NaN clip compared false everywhere, so it clipped
    nothing: both were silent, now an error where the clip is set and where a kernel is handed one."""
    from pybitnet import _bitops

    with pytest.raises(ValueError, match="clip"):
        nn.Parameter(np.zeros(3, np.float32), "w", clip=clip)
    w, g, m, v = (np.full(5, 0.5, np.float32) for _ in range(4))
    with pytest.raises(ValueError, match="clip must be >= 0"):
        _bitops.optimizer_step("adam", w, g, m, v, 0.01, 0.9, 0.999, 1e-8, 1.0, clip)
    np.testing.assert_array_equal(w, 0.5)  # refused before the update
    p = param([2.0, -2.0], [0.0, 0.0], clip=0.0)  # 0 is a bound: every weight 0
    optim.SGD([p], lr=0.1).step()
    np.testing.assert_array_equal(p.value, [0.0, 0.0])


def test_optimizer_step_names_the_parameter_of_a_nan_gradient():
    p, q = param([1.0, 2.0], [0.1, 0.2]), param([1.0], [np.nan])
    q.name = "dense.weight"
    opt = optim.Adam([p, q], lr=0.01)
    with pytest.raises(pybitnet.NonFiniteUpdate, match=r"step 1, parameter 'dense.weight' \(1,\): .*g holds NaN or Inf"):
        opt.step()
    assert issubclass(pybitnet.NonFiniteUpdate, ValueError)  # what pybitnet 0.1 raised: still caught


def test_load_state_refuses_another_optimizers_state():
    """Adam's v is a mean of squares, AdaMax's a running maximum: the same keys, not the same state."""
    p = param([1.0, 2.0], [0.1, 0.2])
    adam = optim.Adam([p])
    adam.step()
    state = adam.state()
    assert str(state["kind"]) == "adam"
    with pytest.raises(ValueError, match="saved by a adam optimizer, this one is adamax"):
        optim.AdaMax([p]).load_state(state)
    with pytest.raises(ValueError, match="lacks \\['v.0'\\]"):
        optim.Adam([p]).load_state({k: v for k, v in state.items() if k != "v.0"})
    with pytest.raises(ValueError, match="m.0 has shape \\(3,\\)"):
        optim.Adam([p]).load_state({**state, "m.0": np.zeros(3, np.float32)})
    old = {k: v for k, v in state.items() if k != "kind"}  # pybitnet 0.1 saved no kind: taken as this one's
    b = optim.Adam([param([1.0, 2.0], [0.0, 0.0])])
    b.load_state(old)
    assert b.t == 1
