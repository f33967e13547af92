"""Batch normalization and its shift-based approximation (BNN paper, Alg. 2/3).

The papers' codebases differ in what they keep for evaluation; each recipe
picks its codebase's rule (``running=``):

- ``"var"``: an exponential average of the batch variance;
- ``"inv_std"``: an exponential average of 1/sqrt(var + eps) (Lasagne's
  ``BatchNormLayer``, BNN Theano; the Torch shift-based BN);
- ``"unbiased_var"``: an exponential average of the unbiased batch variance
  (Torch's ``nn.BatchNormalization``);
- BinaryConnect's MNIST code (BC-M) instead recomputes the statistics after
  every epoch: :func:`recompute_statistics`.
"""
from __future__ import annotations

import numbers
from typing import Sequence, Union

import numpy as np

from .. import norm_ops
from .module import Module, Parameter, checks_grad_shape, records_output_shape


def ap2(z: np.ndarray) -> np.ndarray:
    """AP2(z) = sign(z) * 2**round(log2|z|): the nearest power of two in the
    log domain (0 stays 0). Multiplying by AP2(z) is a shift."""
    z = np.asarray(z, dtype=np.float32)
    mant, exp = np.frexp(np.abs(z))  # |z| = mant * 2**exp, mant in [0.5, 1)
    exp = np.where(mant >= np.sqrt(0.5), exp, exp - 1)  # round(log2|z|) = exp - 1 + round(log2 mant + 1)
    return (np.sign(z) * np.ldexp(np.float32(1), exp)).astype(np.float32)


RUNNING = ("var", "inv_std", "unbiased_var")


class BatchNorm(Module):
    """Batch normalization of the feature axis (the last one) of (batch, features)
    or (N, ..., C) input: statistics over every axis but the last (per channel).

    Training: y = gamma * (x - mean_B) / sqrt(var_B + eps) + beta with the
    batch's mean and biased variance. Evaluation: the running statistics.

    Parameters
    ----------
    eps : float
        Added to the variance (1e-4: BinaryConnect / BNN Theano; 1e-5: Torch).
    momentum : float
        Weight of the batch in the running averages (Lasagne's alpha).
    running : "var", "inv_std" or "unbiased_var"
        What the running average tracks (see the module docstring).
    gamma_init : "ones" or "uniform"
        gamma = 1, or gamma ~ U(0, 1) (Torch's ``nn.BatchNormalization``).
    """

    def __init__(self, features: int, *, eps: float = 1e-4, momentum: float = 0.1, running: str = "var",
                 gamma_init: str = "ones", seed: int = 0):
        if isinstance(features, bool) or not isinstance(features, numbers.Integral) or features < 1:
            raise ValueError(f"features must be an int >= 1, got {features!r}")
        if not 0 <= momentum <= 1:  # the running statistics are (1 - momentum) * old + momentum * batch
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        if running not in RUNNING:
            raise ValueError(f"running must be one of {RUNNING}, got {running!r}")
        if gamma_init not in ("ones", "uniform"):
            raise ValueError(f"gamma_init must be 'ones' or 'uniform', got {gamma_init!r}")
        self.features, self.eps, self.momentum, self.running = features, eps, momentum, running
        gamma = (np.random.default_rng(seed).uniform(0, 1, features) if gamma_init == "uniform"
                 else np.ones(features))
        self.gamma = Parameter(gamma.astype(np.float32), "gamma")
        self.beta = Parameter(np.zeros(features, np.float32), "beta")
        self.running_mean = np.zeros(features, np.float32)
        if running == "inv_std":
            self.running_inv_std = np.ones(features, np.float32)
        else:
            self.running_var = np.ones(features, np.float32)
        self._collect = None  # recompute_statistics: {"use_batch": bool, "n", "mean", "var", "seen"}

    def own_parameters(self):
        return [self.gamma, self.beta]

    def buffers(self):
        if self.running == "inv_std":
            return {"running_mean": self.running_mean, "running_inv_std": self.running_inv_std}
        return {"running_mean": self.running_mean, "running_var": self.running_var}

    # -- the factors, shared by training, evaluation and inference folding ----------------------
    def _inv_std(self, var):
        return 1.0 / np.sqrt(var + self.eps)

    def _gamma(self):
        return self.gamma.value

    def eval_inv_std(self) -> np.ndarray:
        """The 1/std that evaluation multiplies by (float32, per channel)."""
        if self.running == "inv_std":
            return self._round_eval(self.running_inv_std.astype(np.float32))
        return self._round_eval(self._inv_std(self.running_var).astype(np.float32))

    def set_statistics(self, mean, var) -> None:
        """Evaluation statistics from a mean and a (biased) variance."""
        self.running_mean[...] = mean
        if self.running == "inv_std":
            self.running_inv_std[...] = self._inv_std(np.asarray(var, np.float32))
        else:
            self.running_var[...] = var

    def _update_running(self, mean, var, inv, n):
        m = np.float32(self.momentum)
        self.running_mean *= 1 - m
        self.running_mean += m * mean
        if self.running == "inv_std":
            self.running_inv_std *= 1 - m
            self.running_inv_std += m * inv
        else:
            if self.running == "unbiased_var" and n > 1:
                var = var * np.float32(n / (n - 1))
            self.running_var *= 1 - m
            self.running_var += m * var

    # -- forward / backward ---------------------------------------------------------------------
    @records_output_shape
    def forward(self, x):
        if np.ndim(x) < 2 or x.shape[-1] != self.features:
            raise ValueError(f"BatchNorm({self.features}): x must have {self.features} features on its last axis "
                             f"(rows, or NHWC maps), got shape {np.shape(x)}")
        if self.training and x.size == 0:
            raise ValueError("BatchNorm: x has no rows; batch statistics of an empty batch are NaN and would "
                             "overwrite the running statistics")
        if x.ndim == 2:
            return self._forward_rows(x)
        return self._forward_rows(x.reshape(-1, x.shape[-1])).reshape(x.shape)

    @checks_grad_shape
    def backward(self, grad):
        self.grad_output = grad  # quantized back-propagation reads it (see BinaryDense.qbp_error_from)
        if grad.ndim == 2:
            return self._backward_rows(grad)
        return self._backward_rows(grad.reshape(-1, grad.shape[-1])).reshape(grad.shape)

    def _batch_inv_std(self, xc):
        """(variance, inv_std) of centred batch rows."""
        var = (xc * xc).mean(axis=0)
        return var, self._inv_std(var).astype(np.float32)

    def _fused(self) -> bool:
        """Training with the plain statistics (not ShiftBatchNorm's): the C++ kernels (pybitnet.norm_ops)."""
        return self.training and self._collect is None and type(self)._batch_inv_std is BatchNorm._batch_inv_std

    def _forward_rows(self, x):
        c = self._collect
        if self._fused() and x.shape[0] > 0:
            x = np.ascontiguousarray(x, dtype=np.float32)
            last = getattr(self, "_xhat", None)  # the last step's xhat, this module's own: reused, no page faults
            buf = last if isinstance(last, np.ndarray) and last.shape == x.shape and last.dtype == np.float32 \
                and last.flags.c_contiguous and last.flags.writeable else None
            y, self._xhat, mean, var, inv = norm_ops.batch_norm_train(x, self.gamma.value, self.beta.value,
                                                                      self.eps, xhat=buf)
            self._xc, self._inv = None, inv
            self._update_running(mean, var, inv, x.shape[0])
            return y
        if self.training or c is not None:
            # float64 accumulation: the float32 mean is exact to its last bit, so implementations that sum
            # in other orders agree, which matters where BN outputs sit exactly on the STE gate (shift BN)
            mean = x.mean(axis=0, dtype=np.float64).astype(np.float32)
            xc = x - mean
            var, inv = self._batch_inv_std(xc)
            if c is not None:  # recompute_statistics: record, normalize by the batch or the averages so far
                c["seen"] = (mean, var)
                if not c["use_batch"]:
                    xc, inv = x - c["mean"], self._round_eval(self._inv_std(c["var"]).astype(np.float32))
            else:
                self._update_running(mean, var, inv, x.shape[0])
        else:
            xc, inv = x - self.running_mean, self.eval_inv_std()
        self._xc, self._inv = xc, inv
        self._xhat = xc * inv
        y = self._xhat * self._gamma()
        y += self.beta.value
        return y.astype(np.float32, copy=False)

    def _round_eval(self, inv):
        """The evaluation factor from an unrounded 1/std (ShiftBatchNorm: AP2)."""
        return inv

    def _backward_rows(self, grad):
        if self._fused() and grad.shape[0] > 0:
            scale = (self._gamma() * self._inv).astype(np.float32)
            dgamma, dbeta, dx = norm_ops.batch_norm_backward(np.ascontiguousarray(grad, dtype=np.float32),
                                                             self._xhat, scale)
            self.gamma.accumulate(dgamma)
            self.beta.accumulate(dbeta)
            return dx
        dgamma = (grad * self._xhat).sum(axis=0)
        dbeta = grad.sum(axis=0)
        scale = (self._gamma() * self._inv).astype(np.float32)
        self.gamma.accumulate(dgamma)
        self.beta.accumulate(dbeta)
        if not self.training:
            return (grad * scale).astype(np.float32, copy=False)
        # gamma * inv * (grad - mean(grad) - xhat * mean(grad * xhat)): the per-channel sums of the
        # parameter gradients serve the input gradient too (three in-place passes).
        n = grad.shape[0]
        dx = self._xhat * (dgamma / n).astype(np.float32)
        dx += (dbeta / n).astype(np.float32)
        np.subtract(grad, dx, out=dx)
        dx *= scale
        return dx.astype(np.float32, copy=False)

    def __repr__(self):
        extra = "" if (self.eps, self.running) == (1e-4, "var") else f", eps={self.eps:g}, running={self.running!r}"
        return f"{type(self).__name__}({self.features}{extra})"


class ShiftBatchNorm(BatchNorm):
    """Shift-based batch normalization (Hubara et al. 2016, Alg. 2/3), as the
    authors' Torch code (``BatchNormalizationShiftPow2.lua``) does it.

    Every product is by a power of two (a shift). With c = x - mean_B:

    - forward: var = mean(c * AP2(c)), inv = 1/sqrt(var + eps), s = AP2(inv),
      y = c * s * AP2(gamma) + beta;
    - backward: dx = AP2(gamma) * s * (g - mean(g) - s**2 * AP2(c) * mean(AP2(c) * g)),
      dgamma = sum(AP2(c * s) * g), dbeta = sum(g);
    - running statistics: exponential averages (momentum 2**-3) of the mean and
      of the unrounded inv; evaluation multiplies by AP2(running inv).

    Defaults follow that code: eps 1e-5, momentum 0.125.
    """

    def __init__(self, features: int, *, eps: float = 1e-5, momentum: float = 0.125):
        super().__init__(features, eps=eps, momentum=momentum, running="inv_std")

    def _batch_inv_std(self, xc):
        self._c_ap2 = ap2(xc)
        var = (xc * self._c_ap2).mean(axis=0)
        inv = self._inv_std(var).astype(np.float32)
        self._inv_unrounded = inv
        return var, ap2(inv)

    def _update_running(self, mean, var, inv, n):
        super()._update_running(mean, var, self._inv_unrounded, n)

    def _round_eval(self, inv):
        return ap2(inv)

    def _gamma(self):
        return ap2(self.gamma.value)

    def _backward_rows(self, grad):
        if not self.training:
            return super()._backward_rows(grad)
        n = grad.shape[0]
        s, gam = self._inv, self._gamma()
        self.gamma.accumulate((ap2(self._xhat) * grad).sum(axis=0))
        self.beta.accumulate(grad.sum(axis=0))
        ct = self._c_ap2
        dx = ct * ((ct * grad).sum(axis=0) * (s * s) / np.float32(n)).astype(np.float32)
        dx += (grad.sum(axis=0) / np.float32(n)).astype(np.float32)
        np.subtract(grad, dx, out=dx)
        dx *= (gam * s).astype(np.float32)
        return dx.astype(np.float32, copy=False)


def recompute_statistics(model, x: Union[np.ndarray, Sequence[np.ndarray]], batch_size: int = 1000) -> None:
    """Set every BatchNorm's evaluation statistics to the running averages of its
    per-batch statistics over `x` (an array, or several: e.g. (train, valid)),
    with the rest of the model in eval mode, as BinaryConnect's MNIST code does
    after every epoch (``set_BN_mean_var``).

    Per array: the first batch runs with every BN on its batch statistics and
    starts (or, for a later array, extends) the averages; then every batch, the
    first again included, runs with each BN normalising by the averages so far
    while its input's batch statistics (mean, biased variance) join them. All
    layers update together after each pass.

    BC-M does this for every method; stochastic BinaryConnect / ternary connect
    need it most, since they train with sampled weights but evaluate with the
    real-valued ones.
    """
    sets = [x] if isinstance(x, np.ndarray) else list(x)
    norms = [m for m in model.modules() if isinstance(m, BatchNorm)]
    was_training = model.training
    model.eval()
    state = {id(bn): {"use_batch": True, "n": 0, "mean": None, "var": None, "seen": None} for bn in norms}
    for bn in norms:
        bn._collect = state[id(bn)]

    def run(rows, use_batch):
        for c in state.values():
            c["use_batch"], c["seen"] = use_batch, None
        model.forward(rows)
        for c in state.values():
            if c["seen"] is None:
                continue
            mean, var = c["seen"]
            n = c["n"]
            if n == 0:
                c["mean"], c["var"] = mean.astype(np.float32), var.astype(np.float32)
            else:
                c["mean"] = (np.float32(n / (n + 1)) * c["mean"] + np.float32(1 / (n + 1)) * mean).astype(np.float32)
                c["var"] = (np.float32(n / (n + 1)) * c["var"] + np.float32(1 / (n + 1)) * var).astype(np.float32)
            c["n"] = n + 1

    try:
        for rows in sets:
            if len(rows) == 0:
                continue
            run(rows[:batch_size], True)
            for i in range(0, len(rows), batch_size):
                run(rows[i:i + batch_size], False)
        for bn in norms:
            c = state[id(bn)]
            if c["n"]:
                bn.set_statistics(c["mean"], c["var"])
    finally:
        for bn in norms:
            bn._collect = None
        model.train(was_training)
