"""Optimizers and learning-rate schedules for pybitnet.nn parameters.

Every optimizer applies a parameter's ``lr_scale`` (the per-layer Glorot
factor of binary weights: w <- w + scale * (w_step - w)) and then its
``clip`` (BinaryConnect keeps real weights in [-H, H]).
"""
from __future__ import annotations

import math
from typing import Dict, Iterable, List

import numpy as np

from .nn.module import Parameter
from .nn.norm import ap2


class Optimizer:
    def __init__(self, params: Iterable[Parameter], lr: float):
        self.params: List[Parameter] = list(params)
        if lr <= 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        self.lr = float(lr)
        self.t = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad[...] = 0

    def step(self) -> None:
        self.t += 1
        for i, p in enumerate(self.params):
            p.value -= np.float32(p.lr_scale) * self._delta(i, p)
            if p.clip is not None:
                np.clip(p.value, -p.clip, p.clip, out=p.value)

    def _delta(self, i: int, p: Parameter) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def state(self) -> Dict[str, np.ndarray]:
        """Arrays to checkpoint (moments, step count)."""
        out = {"t": np.array(self.t), "lr": np.array(self.lr)}
        for name, slots in self._slots().items():
            for i, arr in enumerate(slots):
                out[f"{name}.{i}"] = arr
        return out

    def load_state(self, state: Dict[str, np.ndarray]) -> None:
        self.t = int(state["t"])
        self.lr = float(state["lr"])
        for name, slots in self._slots().items():
            for i, arr in enumerate(slots):
                arr[...] = state[f"{name}.{i}"]

    def _slots(self) -> Dict[str, List[np.ndarray]]:
        return {}


class SGD(Optimizer):
    """SGD with optional (heavy-ball) momentum."""

    def __init__(self, params, lr: float, momentum: float = 0.0):
        super().__init__(params, lr)
        self.momentum = momentum
        self.velocity = [np.zeros_like(p.value) for p in self.params]

    def _delta(self, i, p):
        if not self.momentum:
            return self.lr * p.grad
        v = self.velocity[i]
        v *= self.momentum
        v += p.grad
        return self.lr * v

    def _slots(self):
        return {"velocity": self.velocity}


class Adam(Optimizer):
    """Adam (Kingma & Ba), bias-corrected."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, lr)
        self.b1, self.b2 = betas
        self.eps = eps
        self.m = [np.zeros_like(p.value) for p in self.params]
        self.v = [np.zeros_like(p.value) for p in self.params]

    def _delta(self, i, p):
        m, v, g = self.m[i], self.v[i], p.grad
        m *= self.b1
        m += (1 - self.b1) * g
        v *= self.b2
        v += (1 - self.b2) * g * g
        step = self.lr * math.sqrt(1 - self.b2**self.t) / (1 - self.b1**self.t)
        return step * m / (np.sqrt(v) + self.eps)

    def _slots(self):
        return {"m": self.m, "v": self.v}


class AdaMax(Adam):
    """AdaMax (Kingma & Ba, sec. 7): v = max(b2 * v, |g|)."""

    def _delta(self, i, p):
        m, v, g = self.m[i], self.v[i], p.grad
        m *= self.b1
        m += (1 - self.b1) * g
        np.maximum(self.b2 * v, np.abs(g), out=v)
        return (self.lr / (1 - self.b1**self.t)) * m / (v + self.eps)


class ShiftAdaMax(Adam):
    """Shift-based AdaMax (Hubara et al. 2016, Alg. 4, as the authors' Torch code):
    the step size AP2(lr / (1 - b1**t)) and the denominator 2**round(log2 v)
    are powers of two, so the update is shifts of m."""

    def __init__(self, params, lr: float = 2**-10, betas=(0.9, 0.999), eps: float = 2**-27):
        super().__init__(params, lr, betas, eps)

    def _delta(self, i, p):
        m, v, g = self.m[i], self.v[i], p.grad
        m *= self.b1
        m += (1 - self.b1) * g
        np.maximum(self.b2 * v, np.abs(g), out=v)
        step = float(ap2(np.float32(self.lr / (1 - self.b1**self.t))))
        return step * m / (ap2(v) + self.eps)


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
