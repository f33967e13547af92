"""Losses: value and gradient with respect to the network output."""
from __future__ import annotations

import numpy as np


def _check(y, target, name):
    if np.ndim(y) != 2:
        raise ValueError(f"{name}: the output must be (rows, classes), got shape {np.shape(y)}")
    if y.shape[0] != target.shape[0]:
        raise ValueError(f"{name}: output has {y.shape[0]} rows but targets have {target.shape[0]}")


def _check_labels(labels, classes: int, name: str) -> None:
    """Integer class labels, one per row, in [0, classes): numpy would read -1 as the last class
    and broadcast (N, 1) labels into an N x N index, with no error."""
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name}: labels must be a 1-D integer array (one class per row), got "
                         f"{labels.dtype} with shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        bad = labels[(labels < 0) | (labels >= classes)][0]
        raise ValueError(f"{name}: labels must be in [0, {classes}) (the output's classes), got {bad}")


class SquaredHinge:
    """The papers' loss: max(0, 1 - t * y)**2 with t = ±1 one-hot targets.

    Integer labels are turned into ±1 one-hot targets.

    Parameters
    ----------
    reduction : "mean" or "batch"
        ``"mean"`` averages over batch x classes, as the BNN code (Theano and
        Torch7) and BinaryConnect's Lasagne code do. ``"batch"`` sums over the
        classes and averages over the batch, as the BinaryConnect MNIST code
        (BC-M) and the Few-Multiplications code do: with 10 classes its
        gradient is 10x larger, which matters for plain SGD (Adam does not
        see a constant scale).
    """

    REDUCTIONS = ("mean", "batch")

    def __init__(self, reduction: str = "mean"):
        if reduction not in self.REDUCTIONS:
            raise ValueError(f"reduction must be one of {self.REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction

    def __call__(self, y: np.ndarray, target: np.ndarray):
        _check(y, target, "SquaredHinge")
        t = target
        if t.ndim != 1 and t.shape != y.shape:
            raise ValueError(f"SquaredHinge: targets must be integer labels (rows,) or +-1 targets of the output's "
                             f"shape {y.shape}, got shape {t.shape}")
        if t.ndim == 1:
            _check_labels(target, y.shape[1], "SquaredHinge")
            t = -np.ones_like(y)
            t[np.arange(len(target)), target] = 1
        margin = np.maximum(0, 1 - t * y)
        count = y.size if self.reduction == "mean" else y.shape[0]
        loss = float(np.sum(margin.astype(np.float64) ** 2) / max(1, count))
        grad = (-2 * t * margin / np.float32(max(1, count))).astype(np.float32)
        return loss, grad

    def __repr__(self):
        return f"SquaredHinge(reduction={self.reduction!r})"


class SoftmaxCrossEntropy:
    """Mean cross-entropy of softmax(y) against integer labels."""

    def __call__(self, y: np.ndarray, labels: np.ndarray):
        _check(y, labels, "SoftmaxCrossEntropy")
        _check_labels(labels, y.shape[1], "SoftmaxCrossEntropy")
        z = y - y.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        n = len(labels)
        loss = float(-logp[np.arange(n), labels].mean())
        grad = np.exp(logp)
        grad[np.arange(n), labels] -= 1
        return loss, (grad / n).astype(np.float32)
