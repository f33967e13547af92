"""Losses: value and gradient with respect to the network output."""
from __future__ import annotations

import numpy as np


def _check(y, target, name):
    if y.shape[0] != target.shape[0]:
        raise ValueError(f"{name}: output has {y.shape[0]} rows but targets have {target.shape[0]}")


class SquaredHinge:
    """mean(max(0, 1 - t * y)**2) over batch x classes, t = ±1 targets (the papers' loss).

    Integer labels are turned into ±1 one-hot targets."""

    def __call__(self, y: np.ndarray, target: np.ndarray):
        _check(y, target, "SquaredHinge")
        t = target
        if t.ndim == 1:
            t = -np.ones_like(y)
            t[np.arange(len(target)), target] = 1
        margin = np.maximum(0, 1 - t * y)
        loss = float(np.mean(margin**2))
        grad = (-2 * t * margin / y.size).astype(np.float32)
        return loss, grad


class SoftmaxCrossEntropy:
    """Mean cross-entropy of softmax(y) against integer labels."""

    def __call__(self, y: np.ndarray, labels: np.ndarray):
        _check(y, labels, "SoftmaxCrossEntropy")
        z = y - y.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        n = len(labels)
        loss = float(-logp[np.arange(n), labels].mean())
        grad = np.exp(logp)
        grad[np.arange(n), labels] -= 1
        return loss, (grad / n).astype(np.float32)
