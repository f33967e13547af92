"""Optimizers and learning-rate schedules for pybitnet.nn parameters.

Every optimizer applies a parameter's ``lr_scale`` (the per-layer Glorot
factor of binary weights: w <- w + scale * (w_step - w)) and then its
``clip`` (BinaryConnect keeps real weights in [-H, H]).
"""
from __future__ import annotations

import contextlib
import math
from typing import Dict, Iterable, List

import numpy as np

from . import _bitops
from ._arrays import as_real
from ._errors import NonFiniteUpdate
from ._hugepages import zeros_array
from .nn.module import Parameter
from .nn.norm import ap2


def _positive(v, name: str) -> float:
    v = as_real(v, name)
    if v <= 0:
        raise ValueError(f"{name} must be > 0, got {v}")
    return v


def _fraction(v, name: str) -> float:
    """A decay rate in [0, 1): at 1 the bias corrections divide by 0 (or the moments never move)."""
    v = as_real(v, name)
    if not 0 <= v < 1:
        raise ValueError(f"{name} must be in [0, 1), got {v}")
    return v


@contextlib.contextmanager
def _naming(p: Parameter, t: int):
    """The kernel's non-finite-update error, naming the parameter and the step."""
    try:
        yield
    except NonFiniteUpdate as e:
        raise NonFiniteUpdate(f"step {t}, parameter {p.name!r} {p.shape}: {e}") from None


class Optimizer:
    """Base class. Each step is one fused pass per parameter in C++
    (``_bitops.optimizer_step``): numpy would need a dozen temporaries per
    update, which dominated BNN training steps.

    ``update_in_backward=True``: a quantized layer's weights are updated as
    soon as the backward pass computes their gradient
    (:meth:`backward_update`): with packed inputs, in slices of rows, each
    used while it is in cache and never written to memory; and the pass that
    writes a deterministic binary layer's weights also packs their signs for
    the next forward, which then does not read the weights. The arithmetic
    is the same, bit for bit; :meth:`step` then updates the other parameters.
    Those weights' ``grad`` is not kept, and a second backward before
    :meth:`step` raises (no gradient accumulation, clipping or averaging over
    workers in this mode).
    """

    kind = ""

    def __init__(self, params: Iterable[Parameter], lr: float, betas=(0.0, 0.0), eps: float = 0.0,
                 update_in_backward: bool = False):
        # A layer used twice (Sequential(d, d)) lists its parameters twice: each is updated once, with the
        # gradient its uses summed into (twice would double the step)
        self.params: List[Parameter] = list({id(p): p for p in params}.values())
        self.lr = _positive(lr, "lr")
        b1, b2 = betas
        self.b1, self.b2 = _fraction(b1, "betas[0]"), _fraction(b2, "betas[1]")
        self.eps = as_real(eps, "eps")
        if self.eps < 0:
            raise ValueError(f"eps must be >= 0, got {eps}")
        self.t = 0
        # moments in 2 MiB-aligned blocks, as the parameters (Parameter): the update streams them
        self.m = [zeros_array(p.shape) for p in self.params] if self._moments() >= 1 else []
        self.v = [zeros_array(p.shape) for p in self.params] if self._moments() >= 2 else []
        self._index = {id(p): i for i, p in enumerate(self.params)}
        self._updated = set()  # ids of the parameters updated in backward since the last step
        self.update_in_backward = bool(update_in_backward)
        for p in self.params:
            p.updater = self if self.update_in_backward else None

    def _moments(self) -> int:
        return 0

    def _step_size(self, t: int) -> float:
        return self.lr

    def zero_grad(self) -> None:
        for p in self.params:
            p.zero_grad()

    def step(self) -> None:
        """w <- clip(w - lr_scale * update, -clip, clip) for every parameter (not already updated in backward)."""
        self.t += 1
        lr = self._step_size(self.t)
        try:
            for i, p in enumerate(self.params):
                if id(p) not in self._updated:
                    with _naming(p, self.t):
                        _bitops.optimizer_step(self.kind, p.value, p.grad, self.m[i] if self.m else None,
                                               self.v[i] if self.v else None, lr, self.b1, self.b2, self.eps,
                                               p.lr_scale, p.clip)
        finally:  # also after a non-finite gradient's error: the next backward may update in place again
            self._updated.clear()

    def backward_update(self, p: Parameter, dw, pack_signs: bool = False) -> None:
        """Update `p` now, from its gradient `dw` (a :class:`pybitnet.nn._ops.WeightGrad`, (F, K) rows),
        as :meth:`step` will count it (``update_in_backward``). A product of packed inputs is fused
        into the update in C++ (slices of dW never leave the cache); any other is computed into the
        gradient's buffer, then applied in one pass. With `pack_signs`, that pass also packs the new
        rows' signs for the next forward (:meth:`Parameter.cache_signs`)."""
        if id(p) in self._updated:
            raise RuntimeError(f"{p!r} was already updated in this backward pass: update_in_backward takes one "
                               "gradient per step (for gradient accumulation build the optimizer with "
                               "update_in_backward=False)")
        i = self._index[id(p)]
        lr = self._step_size(self.t + 1)  # the step that step() will count
        rows = p.shape[0]
        k = p.view().size // rows
        w = p.value.reshape(rows, k)  # .value: we write it (and drop the packed signs of the last update)
        m = self.m[i].reshape(rows, k) if self.m else None
        v = self.v[i].reshape(rows, k) if self.v else None
        signs = np.empty((rows, -(-k // 64)), np.uint64) if pack_signs else None
        with _naming(p, self.t + 1):
            if dw.packed is not None:
                gt, x_bits = dw.packed
                _bitops.weight_grad_update(self.kind, gt, x_bits.signs, x_bits.nonzero, k, w, m, v, lr, self.b1,
                                           self.b2, self.eps, p.lr_scale, p.clip, signs)
            else:
                g = dw.compute(p.scratch_grad().reshape(rows, k))
                _bitops.optimizer_step(self.kind, w, g, m, v, lr, self.b1, self.b2, self.eps, p.lr_scale, p.clip,
                                       signs=signs, k=k)
        self._updated.add(id(p))
        if signs is not None:
            p.cache_signs(signs)

    def state(self) -> Dict[str, np.ndarray]:
        """Arrays to checkpoint (the optimizer's kind, moments, step count, learning rate)."""
        out = {"kind": np.array(self.kind), "t": np.array(self.t), "lr": np.array(self.lr)}
        out.update({f"m.{i}": a for i, a in enumerate(self.m)})
        out.update({f"v.{i}": a for i, a in enumerate(self.v)})
        return out

    def check_kind(self, state: Dict[str, np.ndarray]) -> None:
        """ValueError if `state` (of :meth:`state`) was saved by another kind of optimizer."""
        if "kind" in state:
            kind = np.asarray(state["kind"])
            if kind.shape != () or kind.dtype.kind != "U" or str(kind) != self.kind:
                raise ValueError(f"optimizer state was saved by a {kind!s} optimizer, this one is "
                                 f"{self.kind} ({type(self).__name__})")

    def load_state(self, state: Dict[str, np.ndarray]) -> None:
        """Restore :meth:`state`. Refuses another optimizer's state (Adam's moments are not AdaMax's:
        v is a mean of squares there, a running maximum here); a state without ``kind`` (pybitnet
        0.1's checkpoints) is taken as this optimizer's."""
        self.check_kind(state)
        missing = [k for k in self.state() if k != "kind" and k not in state]
        if missing:
            raise ValueError(f"optimizer state lacks {missing}: saved by another optimizer or for another model")
        t = np.asarray(state["t"])
        if t.shape != () or t.dtype.kind not in "iuf" or not (t == np.floor(t) and 0 <= t < 2**62):
            raise ValueError(f"optimizer state: the step count t must be an integer >= 0, got {t!r}")
        lr = _positive(float(np.asarray(state["lr"])), "lr")
        self.t = int(t)
        self.lr = lr
        for name, slots in (("m", self.m), ("v", self.v)):
            for i, arr in enumerate(slots):
                value = np.asarray(state[f"{name}.{i}"])
                if value.shape != arr.shape:
                    raise ValueError(f"optimizer state {name}.{i} has shape {value.shape}, the parameter "
                                     f"{self.params[i].name!r} has {arr.shape}")
                arr[...] = value


class SGD(Optimizer):
    """SGD: w -= lr * g; with momentum mu: m = mu * m + g, w -= lr * m."""

    def __init__(self, params, lr: float, momentum: float = 0.0, update_in_backward: bool = False):
        self.momentum = _fraction(momentum, "momentum")
        super().__init__(params, lr, (self.momentum, 0.0), update_in_backward=update_in_backward)
        self.kind = "momentum" if momentum else "sgd"

    def _moments(self):
        return 1 if self.momentum else 0


class Adam(Optimizer):
    """Adam (Kingma & Ba), bias-corrected: m, v moments; w -= lr_t * m / (sqrt(v) + eps)."""

    kind = "adam"

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 update_in_backward: bool = False):
        super().__init__(params, lr, betas, eps, update_in_backward)
        if self.eps <= 0:  # m / (sqrt(v) + 0) is 0 / 0 wherever a gradient has been 0 so far
            raise ValueError(f"eps must be > 0, got {eps}")

    def _moments(self):
        return 2

    def _step_size(self, t):
        return self.lr * math.sqrt(1 - self.b2**t) / (1 - self.b1**t)


class AdaMax(Adam):
    """AdaMax (Kingma & Ba, sec. 7): v = max(b2 * v, |g|); w -= lr / (1 - b1**t) * m / (v + eps)."""

    kind = "adamax"

    def _step_size(self, t):
        return self.lr / (1 - self.b1**t)


class ShiftAdaMax(AdaMax):
    """Shift-based AdaMax (Hubara et al. 2016, Alg. 4, as the authors' Torch code):
    the step size AP2(lr / (1 - b1**t)) and the denominator 2**round(log2 v)
    are powers of two, so the update is shifts of m."""

    kind = "shift_adamax"

    def __init__(self, params, lr: float = 2**-10, betas=(0.9, 0.999), eps: float = 2**-27,
                 update_in_backward: bool = False):
        super().__init__(params, lr, betas, eps, update_in_backward)

    def _step_size(self, t):
        return float(ap2(np.float32(self.lr / (1 - self.b1**t))))


class ExponentialDecay:
    """lr(epoch) = lr0 * (lr_end / lr0) ** (epoch / epochs): the papers' schedule (e.g. 0.3 -> 0.01 over 1000 epochs)."""

    def __init__(self, lr0: float, lr_end: float, epochs: int):
        self.lr0, self.lr_end, self.epochs = _positive(lr0, "lr0"), _positive(lr_end, "lr_end"), max(1, epochs)

    def __call__(self, epoch: int) -> float:
        return self.lr0 * (self.lr_end / self.lr0) ** (epoch / self.epochs)


class StepDecay:
    """lr(epoch) = lr0 * factor ** (epoch // every) (BNN Torch: halve every 20 epochs)."""

    def __init__(self, lr0: float, factor: float = 0.5, every: int = 20):
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"every must be an int >= 1 (epochs), got {every!r}")
        self.lr0, self.factor, self.every = _positive(lr0, "lr0"), _positive(factor, "factor"), int(every)

    def __call__(self, epoch: int) -> float:
        return self.lr0 * self.factor ** (epoch // self.every)
