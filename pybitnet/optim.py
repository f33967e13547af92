"""Optimizers and learning-rate schedules for pybitnet.nn parameters.

Every optimizer applies a parameter's ``lr_scale`` (the per-layer Glorot
factor of binary weights: w <- w + scale * (w_step - w)) and then its
``clip`` (BinaryConnect keeps real weights in [-H, H]).
"""
from __future__ import annotations

import math
from typing import Dict, Iterable, List

import numpy as np

from . import _bitops
from .nn.module import Parameter
from .nn.norm import ap2


class Optimizer:
    """Base class. Each step is one fused pass per parameter in C++
    (``_bitops.optimizer_step``): numpy would need a dozen temporaries per
    update, which dominated BNN training steps."""

    kind = ""

    def __init__(self, params: Iterable[Parameter], lr: float, betas=(0.0, 0.0), eps: float = 0.0):
        self.params: List[Parameter] = list(params)
        if lr <= 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        self.lr = float(lr)
        self.b1, self.b2 = betas
        self.eps = eps
        self.t = 0
        self.m = [np.zeros_like(p.value) for p in self.params] if self._moments() >= 1 else []
        self.v = [np.zeros_like(p.value) for p in self.params] if self._moments() >= 2 else []

    def _moments(self) -> int:
        return 0

    def _step_size(self) -> float:
        return self.lr

    def zero_grad(self) -> None:
        for p in self.params:
            p.zero_grad()

    def step(self) -> None:
        """w <- clip(w - lr_scale * update, -clip, clip) for every parameter."""
        self.t += 1
        lr = self._step_size()
        for i, p in enumerate(self.params):
            _bitops.optimizer_step(self.kind, p.value, p.grad, self.m[i] if self.m else None,
                                   self.v[i] if self.v else None, lr, self.b1, self.b2, self.eps, p.lr_scale, p.clip)

    def state(self) -> Dict[str, np.ndarray]:
        """Arrays to checkpoint (moments, step count, learning rate)."""
        out = {"t": np.array(self.t), "lr": np.array(self.lr)}
        out.update({f"m.{i}": a for i, a in enumerate(self.m)})
        out.update({f"v.{i}": a for i, a in enumerate(self.v)})
        return out

    def load_state(self, state: Dict[str, np.ndarray]) -> None:
        self.t = int(state["t"])
        self.lr = float(state["lr"])
        for name, slots in (("m", self.m), ("v", self.v)):
            for i, arr in enumerate(slots):
                arr[...] = state[f"{name}.{i}"]


class SGD(Optimizer):
    """SGD: w -= lr * g; with momentum mu: m = mu * m + g, w -= lr * m."""

    def __init__(self, params, lr: float, momentum: float = 0.0):
        self.momentum = momentum
        super().__init__(params, lr, (momentum, 0.0))
        self.kind = "momentum" if momentum else "sgd"

    def _moments(self):
        return 1 if self.momentum else 0


class Adam(Optimizer):
    """Adam (Kingma & Ba), bias-corrected: m, v moments; w -= lr_t * m / (sqrt(v) + eps)."""

    kind = "adam"

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, lr, betas, eps)

    def _moments(self):
        return 2

    def _step_size(self):
        return self.lr * math.sqrt(1 - self.b2**self.t) / (1 - self.b1**self.t)


class AdaMax(Adam):
    """AdaMax (Kingma & Ba, sec. 7): v = max(b2 * v, |g|); w -= lr / (1 - b1**t) * m / (v + eps)."""

    kind = "adamax"

    def _step_size(self):
        return self.lr / (1 - self.b1**self.t)


class ShiftAdaMax(AdaMax):
    """Shift-based AdaMax (Hubara et al. 2016, Alg. 4, as the authors' Torch code):
    the step size AP2(lr / (1 - b1**t)) and the denominator 2**round(log2 v)
    are powers of two, so the update is shifts of m."""

    kind = "shift_adamax"

    def __init__(self, params, lr: float = 2**-10, betas=(0.9, 0.999), eps: float = 2**-27):
        super().__init__(params, lr, betas, eps)

    def _step_size(self):
        return float(ap2(np.float32(self.lr / (1 - self.b1**self.t))))


class ExponentialDecay:
    """lr(epoch) = lr0 * (lr_end / lr0) ** (epoch / epochs): the papers' schedule (e.g. 0.3 -> 0.01 over 1000 epochs)."""

    def __init__(self, lr0: float, lr_end: float, epochs: int):
        self.lr0, self.lr_end, self.epochs = lr0, lr_end, max(1, epochs)

    def __call__(self, epoch: int) -> float:
        return self.lr0 * (self.lr_end / self.lr0) ** (epoch / self.epochs)


class StepDecay:
    """lr(epoch) = lr0 * factor ** (epoch // every) (BNN Torch: halve every 20 epochs)."""

    def __init__(self, lr0: float, factor: float = 0.5, every: int = 20):
        self.lr0, self.factor, self.every = lr0, factor, every

    def __call__(self, epoch: int) -> float:
        return self.lr0 * self.factor ** (epoch // self.every)
