"""Batch normalization and its shift-based approximation (BNN paper, Alg. 2/3)."""
from __future__ import annotations

import numpy as np

from .module import Module, Parameter


def ap2(z: np.ndarray) -> np.ndarray:
    """AP2(z) = sign(z) * 2**round(log2|z|): the nearest power of two in the
    log domain (0 stays 0). Multiplying by AP2(z) is a shift."""
    z = np.asarray(z, dtype=np.float32)
    mant, exp = np.frexp(np.abs(z))  # |z| = mant * 2**exp, mant in [0.5, 1)
    exp = np.where(mant >= np.sqrt(0.5), exp, exp - 1)  # round(log2|z|) = exp - 1 + round(log2 mant + 1)
    return (np.sign(z) * np.ldexp(np.float32(1), exp)).astype(np.float32)


class BatchNorm(Module):
    """Batch normalization of the feature axis (the last one) of (batch, features)
    or (N, ..., C) input: statistics over every axis but the last (per channel)."""

    def __init__(self, features: int, *, eps: float = 1e-4, momentum: float = 0.1):
        self.features, self.eps, self.momentum = features, eps, momentum
        self.gamma = Parameter(np.ones(features, np.float32), "gamma")
        self.beta = Parameter(np.zeros(features, np.float32), "beta")
        self.running_mean = np.zeros(features, np.float32)
        self.running_var = np.ones(features, np.float32)
        self._collected = None

    def own_parameters(self):
        return [self.gamma, self.beta]

    def buffers(self):
        return {"running_mean": self.running_mean, "running_var": self.running_var}

    def _inv_std(self, var):
        return 1.0 / np.sqrt(var + self.eps)

    def _gamma(self):
        return self.gamma.value

    def forward(self, x):
        if x.ndim == 2:
            return self._forward_rows(x)
        return self._forward_rows(x.reshape(-1, x.shape[-1])).reshape(x.shape)

    def backward(self, grad):
        if grad.ndim == 2:
            return self._backward_rows(grad)
        return self._backward_rows(grad.reshape(-1, grad.shape[-1])).reshape(grad.shape)

    def _forward_rows(self, x):
        if self.training or self._collected is not None:
            mean = x.mean(axis=0)
            xc = x - mean
            var = self._variance(xc)
            if self._collected is not None:  # recompute_statistics: average per-batch statistics
                self._collected.append((mean, var))
            else:
                m = self.momentum
                self.running_mean[...] = (1 - m) * self.running_mean + m * mean
                self.running_var[...] = (1 - m) * self.running_var + m * var
        else:
            xc, var = x - self.running_mean, self.running_var
        self._inv = self._inv_std(var).astype(np.float32)
        self._xhat = xc * self._inv
        y = self._xhat * self._gamma()
        y += self.beta.value
        return y.astype(np.float32, copy=False)

    def _variance(self, xc):
        return (xc * xc).mean(axis=0)

    def _backward_rows(self, grad):
        self.gamma.accumulate((grad * self._xhat).sum(axis=0))
        self.beta.accumulate(grad.sum(axis=0))
        gx = grad * self._gamma()
        if not self.training:
            return (gx * self._inv).astype(np.float32, copy=False)
        n = grad.shape[0]
        return (self._inv / n * (n * gx - gx.sum(0) - self._xhat * (gx * self._xhat).sum(0))).astype(
            np.float32, copy=False)

    def __repr__(self):
        return f"{type(self).__name__}({self.features})"


class ShiftBatchNorm(BatchNorm):
    """Shift-based batch normalization (Hubara et al. 2016, Alg. 2/3).

    Every product is by a power of two (a shift): the variance is
    mean(C * AP2(C)) with C = x - mean, the normalization multiplies by
    AP2(1/sqrt(var + eps)) and the scale by AP2(gamma). Backward is the
    standard BN backward with those AP2 factors (as the authors' Torch code).
    Defaults follow that code: eps 1e-5, running-average momentum 2**-3.
    """

    def __init__(self, features: int, *, eps: float = 1e-5, momentum: float = 0.125):
        super().__init__(features, eps=eps, momentum=momentum)

    def _variance(self, xc):
        return (xc * ap2(xc)).mean(axis=0)

    def _inv_std(self, var):
        return ap2(1.0 / np.sqrt(var + self.eps))

    def _gamma(self):
        return ap2(self.gamma.value)


def recompute_statistics(model, x: np.ndarray, batch_size: int = 1000) -> None:
    """Set every BatchNorm's running statistics to the average of its per-batch
    statistics over `x`, with the rest of the model in eval mode.

    Needed when evaluation uses other weights than training did: stochastic
    BinaryConnect / ternary connect train with sampled weights but evaluate with
    the real-valued ones, so statistics gathered during training do not fit
    (the papers' code recomputes them after every epoch).
    """
    norms = [m for m in model.modules() if isinstance(m, BatchNorm)]
    was_training = model.training
    model.eval()
    for bn in norms:
        bn._collected = []
    try:
        for i in range(0, len(x), batch_size):
            model.forward(x[i:i + batch_size])
        for bn in norms:
            if bn._collected:
                bn.running_mean[...] = np.mean([m for m, _ in bn._collected], axis=0)
                bn.running_var[...] = np.mean([v for _, v in bn._collected], axis=0)
    finally:
        for bn in norms:
            bn._collected = None
        model.train(was_training)
