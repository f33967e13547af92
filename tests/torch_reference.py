"""An independent PyTorch implementation of the seed papers' MNIST recipes.

Written from the authors' code (BinaryConnect's BC-M ``mnist.py``/``model.py``,
the Few-Multiplications branches of hantek/BinaryConnect, BinaryNet's Theano
``mnist.py``/``binary_net.py`` and Torch7 ``Main_BinaryNet_MNIST.lua``; see
../shared/reference/seed-papers.md and docs/RESULTS.md, "Audit"), not from
pybitnet: it imports nothing from pybitnet, reads MNIST itself, and gets its
gradients from PyTorch autograd. Two users:

- ``tests/test_fidelity.py`` holds pybitnet to it for one optimizer step, from
  identical weights and batch (random draws — stochastic weights, quantized
  inputs, dropout masks — are passed in, so both sides use the same sample);
- ``scripts/reference_train.py`` trains it for the reference learning curves
  that docs/RESULTS.md shows beside pybitnet's.

Everything is float32 on the CPU.
"""
from __future__ import annotations

import gzip
import json
import math
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import torch

# --------------------------------------------------------------------------------------------
# The recipes, as the authors' code sets them
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    method: str
    hidden: int = 1024
    depth: int = 3
    batch: int = 200
    epochs: int = 1000
    lr: float = 0.3
    lr_end: float = 0.01
    schedule: str = "exp"  # exp: lr * (lr_end/lr)**(epoch/epochs); step: halved every lr_every epochs
    lr_every: int = 20
    optimizer: str = "sgd"  # sgd | adam (Lasagne) | shift-adamax (Torch7 adaMax_binary_clip_shift)
    weights: str = "float"  # float | binary | ternary
    stochastic: bool = False
    qbp: bool = False
    activation: str = "relu"  # relu | sign (STE)
    scale: str = "w0"  # binary magnitude H: "w0" = sqrt(6/(fan_in+fan_out))/2 (BC-M), "one" (BNN)
    init: str = "bcm"  # bcm: U(-2 W0, 2 W0) for every weight; bnn: U(-1, 1); glorot: U(-2 W0, 2 W0)
    glorot_lr: bool = False  # BNN: binary weights' Adam step times 1/sqrt(1.5/(fan_in+fan_out))
    input_dropout: float = 0.0
    hidden_dropout: float = 0.0
    bn: str = "bcm"  # bcm | lasagne | shift
    bn_eps: float = 1e-4
    bn_alpha: float = 0.1
    loss: str = "batch"  # batch: sum over classes / batch (BC-M); mean: over batch x classes
    preprocess: str = "center"  # center (pylearn2) | pm1 | standardize (Torch DataProvider)
    eval_stats: str = "recompute"  # recompute (BC-M: per-batch averages after each epoch) | running
    bias: bool = False  # a bias before BN: BC-M has none (BN's beta is it); Lasagne and Torch layers have one
    stochastic_neurons: bool = False  # Torch7 -stcNeurons true: +1 with probability (clamp(y)+1)/2
    torch_glr: bool = False  # Torch7 MNIST: GLR also on biases and BN gammas


_BCM = Spec("float")
SPECS: Dict[str, Spec] = {
    "float": _BCM,
    "bc": replace(_BCM, method="bc", weights="binary"),
    "bc-stoch": replace(_BCM, method="bc-stoch", weights="binary", stochastic=True),
    "tc": replace(_BCM, method="tc", weights="ternary", stochastic=True),
    "bc-qbp": replace(_BCM, method="bc-qbp", weights="binary", stochastic=True, qbp=True),
    "tc-qbp": replace(_BCM, method="tc-qbp", weights="ternary", stochastic=True, qbp=True),
    "bnn": Spec("bnn", hidden=4096, batch=100, lr=0.003, lr_end=3e-7, optimizer="adam", weights="binary",
                activation="sign", scale="one", init="bnn", glorot_lr=True, input_dropout=0.2,
                hidden_dropout=0.5, bn="lasagne", loss="mean", preprocess="pm1", eval_stats="running", bias=True),
    "bnn-shift": Spec("bnn-shift", hidden=2048, batch=100, lr=2**-6, lr_end=0.01, schedule="step", lr_every=20,
                      optimizer="shift-adamax", weights="binary", activation="sign", scale="one", init="bnn",
                      glorot_lr=True, bn="shift", bn_eps=1e-5, bn_alpha=0.125, loss="mean",
                      preprocess="standardize", eval_stats="running", bias=True, stochastic_neurons=True,
                      torch_glr=True),
}


def spec(method: str, **overrides) -> Spec:
    return replace(SPECS[method], **overrides)


def lr_at(s: Spec, epoch: int) -> float:
    """The LR of 0-based `epoch`: Lasagne code multiplies by (lr_end/lr)**(1/epochs) after each epoch."""
    if s.schedule == "exp":
        return s.lr * (s.lr_end / s.lr) ** (epoch / s.epochs)
    return s.lr * 0.5 ** (epoch // s.lr_every)


# --------------------------------------------------------------------------------------------
# Data (read here, not through pybitnet)
# --------------------------------------------------------------------------------------------


def _idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_mnist(root, s: Spec, val: int = 10000):
    """(x_train, y_train, x_val, y_val, x_test, y_test): the last `val` training images validate."""
    d = Path(root) / "mnist"
    xtr = _idx(d / "train-images-idx3-ubyte.gz").reshape(60000, -1).astype(np.float32) / 255
    ytr = _idx(d / "train-labels-idx1-ubyte.gz").astype(np.int64)
    xte = _idx(d / "t10k-images-idx3-ubyte.gz").reshape(10000, -1).astype(np.float32) / 255
    yte = _idx(d / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    if s.preprocess == "center":  # pylearn2 MNIST(center=True): each file minus its own per-pixel mean
        xtr = xtr - xtr.mean(axis=0, dtype=np.float64).astype(np.float32)
        xte = xte - xte.mean(axis=0, dtype=np.float64).astype(np.float32)
    xtr, xva, ytr, yva = xtr[:-val], xtr[-val:], ytr[:-val], ytr[-val:]
    if s.preprocess == "pm1":
        xtr, xva, xte = 2 * xtr - 1, 2 * xva - 1, 2 * xte - 1
    elif s.preprocess == "standardize":  # Torch DataProvider normalize('simple'): scalar, from the train split
        m, sd = np.float32(xtr.mean(dtype=np.float64)), np.float32(xtr.std(dtype=np.float64, ddof=1))
        xtr, xva, xte = (xtr - m) / sd, (xva - m) / sd, (xte - m) / sd
    return [torch.from_numpy(np.ascontiguousarray(a)) for a in (xtr, ytr, xva, yva, xte, yte)]


# --------------------------------------------------------------------------------------------
# Pieces
# --------------------------------------------------------------------------------------------


def w0(fan_in: int, fan_out: int) -> float:
    return math.sqrt(6.0 / (fan_in + fan_out)) / 2


def ap2(x: torch.Tensor) -> torch.Tensor:
    """sign(x) * 2**round(log2|x|) (0 stays 0): Torch7 ``AP2``."""
    return torch.sign(x) * torch.pow(2.0, torch.round(torch.log2(x.abs())))


class SignSTE(torch.autograd.Function):
    """sign(x) (sign(0) = +1) forward; gradient g * 1{|x| <= 1} (BNN Theano: Theano's clip gradient is inclusive)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.where(x < 0, -torch.ones_like(x), torch.ones_like(x))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x.abs() <= 1).to(g.dtype)


class StochasticNeuron(torch.autograd.Function):
    """Torch7 HardTanh + BinarizedNeurons(stcFlag): s = sign((clamp(y)+1)/2 - u); gradient g * 1{-1 < y < 1}."""

    @staticmethod
    def forward(ctx, y, u):
        ctx.save_for_backward(y)
        p = (torch.clamp(y, -1, 1) + 1) / 2
        return torch.where(p - u < 0, -torch.ones_like(y), torch.ones_like(y))

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * ((y > -1) & (y < 1)).to(g.dtype), None


class ShiftBN(torch.autograd.Function):
    """BatchNormalizationShiftPow2.lua, training mode. Forward: c = a - mean, inv = (mean(c AP2(c)) + eps)**-1/2,
    s = AP2(inv), y = c s AP2(gamma) + beta. Backward: da = AP2(gamma) s (g - mean g - s^2 AP2(c) mean(AP2(c) g)),
    dgamma = sum(AP2(c s) g), dbeta = sum(g). Returns y and the unrounded inv (for the running average)."""

    @staticmethod
    def forward(ctx, a, gamma, beta, eps):
        c = a - _mean(a)
        ct = ap2(c)
        inv = 1 / torch.sqrt((c * ct).mean(0) + eps)
        s = ap2(inv)
        xhat = c * s
        ctx.save_for_backward(ct, s, xhat, gamma)
        return xhat * ap2(gamma) + beta, inv

    @staticmethod
    def backward(ctx, g, _):
        ct, s, xhat, gamma = ctx.saved_tensors
        da = ap2(gamma) * s * (g - g.mean(0) - s * s * ct * (ct * g).mean(0))
        return da, (ap2(xhat) * g).sum(0), g.sum(0), None


class QuantizedLinear(torch.autograd.Function):
    """y = x @ wq.T for sampled weights wq; the gradient dC/dwq = g.T @ x goes to the real W unchanged
    (BinaryConnect's straight-through rule: no mask on the weights)."""

    @staticmethod
    def forward(ctx, x, w, wq):
        ctx.save_for_backward(x, wq)
        return x @ wq.T

    @staticmethod
    def backward(ctx, g):
        x, wq = ctx.saved_tensors
        return g @ wq, g.T @ x, None


def _mean(z: torch.Tensor) -> torch.Tensor:
    """The batch mean, accumulated in float64 (rounded once: independent of the summation order)."""
    return z.to(torch.float64).mean(0).to(z.dtype)


def quantize_pow2(x: torch.Tensor, gen: Optional[torch.Generator] = None) -> torch.Tensor:
    """Few-Mult's stochastic power-of-two rounding: k = floor(log2|x|), up with p = |x|/2**k - 1; 0 stays 0."""
    a = x.abs()
    k = torch.floor(torch.log2(torch.where(a > 0, a, torch.ones_like(a))))
    p = a / torch.pow(2.0, k) - 1
    up = (torch.rand(x.shape, generator=gen) < p).to(x.dtype)
    return torch.where(a > 0, torch.sign(x) * torch.pow(2.0, k + up), torch.zeros_like(x))


# --------------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------------


class Net:
    """784 - hidden x depth - 10: [dense -> BN -> activation -> dropout] x depth, dense -> BN.

    Parameters (torch leaf tensors) in pybitnet's order: per layer W (out, in), [b], gamma, beta.
    """

    def __init__(self, s: Spec, in_features: int = 784, classes: int = 10, seed: int = 0):
        self.s = s
        g = torch.Generator().manual_seed(seed)
        sizes = [in_features] + [s.hidden] * s.depth + [classes]
        self.layers = []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            last = i == len(sizes) - 2
            H = w0(fan_in, fan_out) if s.scale == "w0" else 1.0
            bound = 1.0 if s.init == "bnn" else 2 * w0(fan_in, fan_out)
            glr = 1.0 / math.sqrt(1.5 / (fan_in + fan_out)) if s.glorot_lr and s.weights != "float" else 1.0
            L = {"W": ((torch.rand(fan_out, fan_in, generator=g) * 2 - 1) * bound).requires_grad_(),
                 "gamma": torch.ones(fan_out, requires_grad=True), "beta": torch.zeros(fan_out, requires_grad=True),
                 "H": H, "lr": {"W": glr, "b": glr if s.torch_glr else 1.0,
                                "gamma": math.sqrt(fan_out / 1.5) if s.torch_glr else 1.0, "beta": 1.0},
                 "bn": "torch" if (s.bn == "shift" and last) else s.bn,
                 "mean": torch.zeros(fan_out), "var": torch.ones(fan_out), "inv_std": torch.ones(fan_out)}
            if s.bias:
                bb = 1 / math.sqrt(fan_in) if s.torch_glr else 0.0
                L["b"] = ((torch.rand(fan_out, generator=g) * 2 - 1) * bb).requires_grad_()
            self.layers.append(L)
        self.names = [k for k in ("W", "b", "gamma", "beta") if k in self.layers[0]]
        self.state: Dict[int, List[torch.Tensor]] = {}
        self.t = 0

    # -- parameters -------------------------------------------------------------------------
    def parameters(self) -> List[torch.Tensor]:
        return [L[k] for L in self.layers for k in self.names]

    def load(self, arrays: List[np.ndarray]) -> None:
        """Set the parameters from arrays in pybitnet's order (weight, [bias], gamma, beta per layer)."""
        with torch.no_grad():
            for p, a in zip(self.parameters(), arrays, strict=True):
                p.copy_(torch.from_numpy(np.asarray(a, np.float32)).reshape(p.shape))

    # -- forward ----------------------------------------------------------------------------
    def _sample(self, i, training, fixed):
        """The weights this pass multiplies by (a constant: the gradient dC/dW_b goes to W below)."""
        L, s = self.layers[i], self.s
        W, H = L["W"].detach(), L["H"]
        if s.weights == "float" or (not training and s.stochastic):
            return None  # the real weights (stochastic BC/TC evaluate with them)
        if fixed is not None and f"w{i}" in fixed:
            return fixed[f"w{i}"] * H  # a sample given as ±1/0
        if s.weights == "binary" and not s.stochastic:
            return torch.where(W < 0, -H, H)
        if s.weights == "binary":
            p = torch.clamp((W / H + 1) / 2, 0, 1)
            return torch.where(torch.rand(W.shape) < p, H, -H)
        p = torch.clamp(W.abs() / H, 0, 1)
        return torch.where(torch.rand(W.shape) < p, torch.where(W > 0, H, -H), 0.0)

    def _bn(self, i, z, training):
        L, s = self.layers[i], self.s
        kind = L["bn"]
        eps = 1e-5 if kind == "torch" else s.bn_eps
        if getattr(self, "_collected", None) is not None:  # BC-M's set_BN_mean_var (see recompute_statistics)
            c = self._collected[i]
            mean = _mean(z)
            var = ((z - mean) ** 2).mean(0)
            c["seen"] = (mean, var)
            if not c["use_batch"]:
                mean, var = c["mean"], c["var"]
            return (z - mean) / torch.sqrt(var + eps) * L["gamma"] + L["beta"]
        if training and kind == "shift":
            y, inv = ShiftBN.apply(z, L["gamma"], L["beta"], eps)
            a = s.bn_alpha
            L["mean"] = (1 - a) * L["mean"] + a * _mean(z.detach())
            L["inv_std"] = (1 - a) * L["inv_std"] + a * inv.detach()
            return y
        if training:
            mean = _mean(z)
            var = ((z - mean) ** 2).mean(0)
            m, v = mean.detach(), var.detach()
            a = 0.1 if kind == "torch" else s.bn_alpha
            L["mean"] = (1 - a) * L["mean"] + a * m
            if kind == "lasagne":
                L["inv_std"] = (1 - a) * L["inv_std"] + a / torch.sqrt(v + eps)
            elif kind == "torch":
                L["var"] = (1 - a) * L["var"] + a * v * len(z) / (len(z) - 1)
            return (z - mean) / torch.sqrt(var + eps) * L["gamma"] + L["beta"]
        if kind == "lasagne":
            return (z - L["mean"]) * L["inv_std"] * L["gamma"] + L["beta"]
        if kind == "shift":
            return (z - L["mean"]) * ap2(L["inv_std"]) * ap2(L["gamma"]) + L["beta"]
        return (z - L["mean"]) / torch.sqrt(L["var"] + eps) * L["gamma"] + L["beta"]

    def forward(self, x: torch.Tensor, training: bool, fixed: Optional[Dict[str, torch.Tensor]] = None):
        """The network output. `fixed` may give the random draws: ``w{i}`` (the ±1/0 sample of
        layer i's weights), ``q{i}`` (the power-of-two quantized input of layer i, QBP), ``d{j}``
        (dropout j's keep mask scaled by 1/(1-p); j = 0 is the input dropout), ``u{i}`` (the
        uniforms of hidden layer i's stochastic neurons)."""
        s = self.s
        h = self._dropout(x, 0, s.input_dropout, training, fixed)
        n = len(self.layers)
        self._pending = []  # (layer, input, weights, bn output): weight gradients computed by hand
        for i, L in enumerate(self.layers):
            wb = self._sample(i, training, fixed)
            if wb is None:
                z = h @ L["W"].T
            elif training and not s.qbp:
                z = QuantizedLinear.apply(h, L["W"], wb)  # dC/dW_b goes straight to the real W
            else:
                z = h @ wb.T  # eval, or QBP: W's gradient by hand from the BN output's error (below)
            if "b" in L:
                z = z + L["b"]
            y = self._bn(i, z, training)
            if s.qbp and training:
                xq = fixed[f"q{i}"] if fixed is not None and f"q{i}" in fixed else quantize_pow2(h.detach())
                if y.requires_grad:
                    y.retain_grad()
                self._pending.append((L, xq, y))
            if i == n - 1:
                return y
            if s.activation == "relu":
                h = torch.relu(y)
            elif s.stochastic_neurons and training:
                u = fixed[f"u{i}"] if fixed is not None and f"u{i}" in fixed else torch.rand(y.shape)
                h = StochasticNeuron.apply(y, u)
            else:
                h = SignSTE.apply(y)
            h = self._dropout(h, i + 1, s.hidden_dropout, training, fixed)
        return h

    def _dropout(self, h, j, p, training, fixed):
        if not training or p == 0:
            return h
        if fixed is not None and f"d{j}" in fixed:
            return h * fixed[f"d{j}"]
        return h * ((torch.rand(h.shape) >= p).to(h.dtype) / (1 - p))

    # -- loss, gradients, update ------------------------------------------------------------
    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        t = -torch.ones_like(out)
        t[torch.arange(len(y)), y] = 1
        sq = torch.clamp(1 - t * out, min=0) ** 2
        return sq.sum() / (out.numel() if self.s.loss == "mean" else out.shape[0])

    def loss_and_grads(self, x, y, fixed=None):
        for p in self.parameters():
            p.grad = None
        out = self.forward(x, True, fixed)
        loss = self.loss(out, y)
        loss.backward()
        for L, xq, y_bn in self._pending:  # Few-Mult quantized_bprop: dW = Q(x)^T e, e = dC/d(BN output)
            L["W"].grad = (y_bn.grad.T @ xq).detach()
        return float(loss.detach()), [p.grad.detach().clone() for p in self.parameters()]

    def step(self, grads: List[torch.Tensor], lr: float) -> None:
        """One optimizer update from `grads` (each parameter's dC/dp; dC/dW_b for binary W), then
        the clip of binary weights to [-H, H]."""
        s = self.s
        self.t += 1
        t = self.t
        with torch.no_grad():
            for k, (p, g) in enumerate(zip(self.parameters(), grads)):
                i, name = divmod(k, len(self.names))
                name = self.names[name]
                L = self.layers[i]
                scale = L["lr"][name]
                # in place, few passes: the 37M weights of the BNN make this the reference's hot loop
                if s.optimizer == "sgd":
                    p.add_(g, alpha=-lr)
                elif s.optimizer == "adam":  # lasagne.updates.adam; BinaryNet: w + scale * (w_adam - w)
                    m, v = self._moments(k, p)
                    m.mul_(0.9).add_(g, alpha=0.1)
                    v.mul_(0.999).addcmul_(g, g, value=0.001)
                    a_t = lr * math.sqrt(1 - 0.999**t) / (1 - 0.9**t)
                    p.addcdiv_(m, v.sqrt().add_(1e-8), value=-a_t * scale)
                else:  # Torch7 adaMax_binary_clip_shift.lua: v stored rounded, x -= AP2(step) * GLR * m / v
                    m, v = self._moments(k, p)
                    m.mul_(0.9).add_(g, alpha=0.1)
                    v.copy_(ap2(torch.maximum(0.999 * v, g.abs())) + 2.0**-27)
                    step = float(ap2(torch.tensor(lr / (1 - 0.9**t))))
                    p.addcdiv_(m, v, value=-step * scale)
                if name == "W" and s.weights != "float":
                    p.clamp_(-L["H"], L["H"])

    def _moments(self, k, p):
        if k not in self.state:
            self.state[k] = [torch.zeros_like(p), torch.zeros_like(p)]
        return self.state[k]

    # -- evaluation -------------------------------------------------------------------------
    def recompute_statistics(self, sets, batch: int) -> None:
        """BC-M trainer.set_BN_mean_var: reset; per set, batch 0 with batch statistics, then every batch
        (0 again) with each BN normalising by the cumulative averages; all layers update together."""
        self._collected = [{"n": 0, "mean": None, "var": None, "use_batch": True} for _ in self.layers]

        def run(rows, use_batch):
            for c in self._collected:
                c["use_batch"], c["seen"] = use_batch, None
            self.forward(rows, False)
            for c in self._collected:
                mean, var = c["seen"]
                n = c["n"]
                c["mean"] = mean if n == 0 else n / (n + 1) * c["mean"] + mean / (n + 1)
                c["var"] = var if n == 0 else n / (n + 1) * c["var"] + var / (n + 1)
                c["n"] = n + 1

        try:
            with torch.no_grad():
                for x in sets:
                    run(x[:batch], True)
                    for i in range(0, len(x), batch):
                        run(x[i:i + batch], False)
        finally:
            collected, self._collected = self._collected, None
        for L, c in zip(self.layers, collected):
            L["mean"], L["var"] = c["mean"], c["var"]

    def error(self, x, y, batch: int = 1000) -> float:
        with torch.no_grad():
            pred = torch.cat([self.forward(x[i:i + batch], False).argmax(1) for i in range(0, len(x), batch)])
        return float((pred != y).float().mean())


# --------------------------------------------------------------------------------------------
# The BNN Theano CIFAR-10 CNN (BinaryNet Train-time/cifar10.py)
# --------------------------------------------------------------------------------------------


class MaxPool2Ties(torch.autograd.Function):
    """2x2 max-pooling (NCHW) whose gradient goes to every tied maximum (Theano's MaxPoolGrad)."""

    @staticmethod
    def forward(ctx, x):
        y = torch.nn.functional.max_pool2d(x, 2)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        up = lambda t: t.repeat_interleave(2, 2).repeat_interleave(2, 3)  # noqa: E731
        n, c, h, w = x.shape
        hit = (x[:, :, :2 * (h // 2), :2 * (w // 2)] == up(y)).to(g.dtype)
        dx = torch.zeros_like(x)
        dx[:, :, :2 * (h // 2), :2 * (w // 2)] = hit * up(g)
        return dx


def load_cifar10(root, val: int = 5000):
    """(x_train, y_train, x_val, y_val, x_test, y_test), NHWC float32 in [-1, 1] (2 x / 255 - 1)."""
    d = Path(root) / "cifar10"
    parts = []
    for name in [f"data_batch_{i}.bin.gz" for i in range(1, 6)] + ["test_batch.bin.gz"]:
        with gzip.open(d / name, "rb") as f:
            parts.append(np.frombuffer(f.read(), np.uint8).reshape(-1, 3073))
    train, test = np.concatenate(parts[:5]), parts[5]

    def split(rec):
        x = rec[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).astype(np.float32)
        return 2 * x / 255 - 1, rec[:, 0].astype(np.int64)

    xtr, ytr = split(train)
    xte, yte = split(test)
    out = (xtr[:-val], ytr[:-val], xtr[-val:], ytr[-val:], xte, yte)
    return [torch.from_numpy(np.ascontiguousarray(a)) for a in out]


class ConvNet:
    """2x(C)C3-MP2-2x(2C)C3-MP2-2x(4C)C3-MP2-hidden x depth-10, pad 1 (zeros), BN after the pool,
    sign activations (STE), binary weights and Glorot LR scale, Lasagne BN, Adam, mean squared hinge.
    Parameters in pybitnet's order and layout: conv W (F, KH, KW, C), b, gamma, beta; dense W (out, in), b, ..."""

    def __init__(self, channels: int = 128, hidden: int = 1024, depth: int = 2, classes: int = 10,
                 in_shape=(32, 32, 3), seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        h, w, c_in = in_shape
        self.layers = []
        widths = [channels, channels, 2 * channels, 2 * channels, 4 * channels, 4 * channels]
        for i, c_out in enumerate(widths):
            W = (torch.rand(c_out, 3, 3, c_in, generator=g) * 2 - 1).requires_grad_()
            self.layers.append(self._layer(W, c_out, 9 * c_in, 9 * c_out, pool=i % 2 == 1))
            if i % 2 == 1:
                h, w = h // 2, w // 2
            c_in = c_out
        sizes = [h * w * c_in] + [hidden] * depth + [classes]
        for fi, fo in zip(sizes[:-1], sizes[1:]):
            W = (torch.rand(fo, fi, generator=g) * 2 - 1).requires_grad_()
            self.layers.append(self._layer(W, fo, fi, fo, pool=False))
        self.s = Spec("bnn-cifar10", optimizer="adam")
        self.state: Dict[int, List[torch.Tensor]] = {}
        self.t = 0

    @staticmethod
    def _layer(W, features, fan_in, fan_out, pool):
        return {"W": W, "b": torch.zeros(features, requires_grad=True),
                "gamma": torch.ones(features, requires_grad=True), "beta": torch.zeros(features, requires_grad=True),
                "lr": 1.0 / math.sqrt(1.5 / (fan_in + fan_out)), "pool": pool,
                "mean": torch.zeros(features), "inv_std": torch.ones(features)}

    def parameters(self):
        return [L[k] for L in self.layers for k in ("W", "b", "gamma", "beta")]

    def load(self, arrays):
        with torch.no_grad():
            for p, a in zip(self.parameters(), arrays, strict=True):
                p.copy_(torch.from_numpy(np.asarray(a, np.float32)).reshape(p.shape))

    def _bn(self, L, z, training):
        axes = (0, 2, 3) if z.ndim == 4 else (0,)
        shape = (1, -1, 1, 1) if z.ndim == 4 else (1, -1)
        if training:
            mean = z.to(torch.float64).mean(axes).to(z.dtype)
            var = ((z - mean.reshape(shape)) ** 2).mean(axes)
            inv = 1 / torch.sqrt(var + 1e-4)
            L["mean"] = 0.9 * L["mean"] + 0.1 * mean.detach()
            L["inv_std"] = 0.9 * L["inv_std"] + 0.1 * inv.detach()
        else:
            mean, inv = L["mean"], L["inv_std"]
        return (z - mean.reshape(shape)) * (inv * L["gamma"]).reshape(shape) + L["beta"].reshape(shape)

    def forward(self, x, training: bool):
        """x: NHWC float32 in [-1, 1]."""
        h = x.permute(0, 3, 1, 2)
        n = len(self.layers)
        for i, L in enumerate(self.layers):
            W = L["W"]
            wb = W + (torch.where(W < 0, -1.0, 1.0) - W).detach()  # dC/dW_b straight to W
            if W.ndim == 4:
                z = torch.nn.functional.conv2d(h, wb.permute(0, 3, 1, 2), L["b"], padding=1)
                if L["pool"]:
                    z = MaxPool2Ties.apply(z)
            else:
                if h.ndim == 4:
                    h = h.permute(0, 2, 3, 1).reshape(len(h), -1)  # NHWC flatten, as pybitnet
                z = h @ wb.T + L["b"]
            y = self._bn(L, z, training)
            if i == n - 1:
                return y
            h = SignSTE.apply(y)
        return h

    def loss(self, out, y):
        t = -torch.ones_like(out)
        t[torch.arange(len(y)), y] = 1
        return (torch.clamp(1 - t * out, min=0) ** 2).mean()

    def loss_and_grads(self, x, y):
        for p in self.parameters():
            p.grad = None
        loss = self.loss(self.forward(x, True), y)
        loss.backward()
        return float(loss.detach()), [p.grad.detach().clone() for p in self.parameters()]

    def step(self, grads, lr):
        self.t += 1
        t = self.t
        with torch.no_grad():
            for k, (p, g) in enumerate(zip(self.parameters(), grads)):
                L, name = self.layers[k // 4], ("W", "b", "gamma", "beta")[k % 4]
                if k not in self.state:
                    self.state[k] = [torch.zeros_like(p), torch.zeros_like(p)]
                m, v = self.state[k]
                m.mul_(0.9).add_(0.1 * g)
                v.mul_(0.999).add_(0.001 * g * g)
                a_t = lr * math.sqrt(1 - 0.999**t) / (1 - 0.9**t)
                step = -a_t * m / (torch.sqrt(v) + 1e-8)
                if name == "W":
                    p.copy_(torch.clamp(p + L["lr"] * step, -1, 1))
                else:
                    p.add_(step)

    def error(self, x, y, batch: int = 100) -> float:
        with torch.no_grad():
            pred = torch.cat([self.forward(x[i:i + batch], False).argmax(1) for i in range(0, len(x), batch)])
        return float((pred != y).float().mean())


def train_cifar10(data_root, out_dir, epochs: int, lr: float = 0.001, lr_end: float = 3e-7, batch: int = 50,
                  seed: int = 0, log=print) -> None:
    """The BNN Theano CIFAR-10 recipe for `epochs` (LR decay compressed into them); resumable."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    xtr, ytr, xva, yva, xte, yte = load_cifar10(data_root)
    net = ConvNet(seed=seed)
    epoch, ckpt = 0, out / "last.npz"
    if ckpt.is_file():
        z = np.load(ckpt, allow_pickle=False)
        meta = json.loads(str(z["meta"]))
        net.load([z[f"p{i}"] for i in range(len(net.parameters()))])
        for i, L in enumerate(net.layers):
            L["mean"], L["inv_std"] = torch.from_numpy(z[f"mean{i}"]), torch.from_numpy(z[f"inv{i}"])
        net.state = {k: [torch.from_numpy(z[f"m{k}_0"]), torch.from_numpy(z[f"m{k}_1"])]
                     for k in range(len(net.parameters())) if f"m{k}_0" in z.files}
        net.t, epoch = meta["t"], meta["epoch"]
        torch.set_rng_state(torch.from_numpy(z["rng"]))
        log(f"resumed {ckpt} at epoch {epoch}")
    else:
        torch.manual_seed(seed)
    while epoch < epochs:
        t0 = time.perf_counter()
        rate = lr * (lr_end / lr) ** (epoch / epochs)
        order = torch.randperm(len(xtr))
        total = 0.0
        for i in range(0, len(order) - batch + 1, batch):
            idx = order[i:i + batch]
            loss, grads = net.loss_and_grads(xtr[idx], ytr[idx])
            net.step(grads, rate)
            total += loss * batch
        train_time = time.perf_counter() - t0
        epoch += 1
        val, test = net.error(xva, yva), net.error(xte, yte)
        rec = {"epoch": epoch, "method": "bnn", "lr": rate, "loss": total / len(order), "val_error": val,
               "test_error": test, "train_time_s": round(train_time, 3),
               "epoch_time_s": round(time.perf_counter() - t0, 3), "reference": "torch"}
        with open(out / "log.jsonl", "a") as f:
            f.write(json.dumps(rec) + "\n")
        arrays = {f"p{i}": p.detach().numpy() for i, p in enumerate(net.parameters())}
        for i, L in enumerate(net.layers):
            arrays[f"mean{i}"], arrays[f"inv{i}"] = L["mean"].numpy(), L["inv_std"].numpy()
        for k, (m, v) in net.state.items():
            arrays[f"m{k}_0"], arrays[f"m{k}_1"] = m.numpy(), v.numpy()
        arrays["rng"] = torch.get_rng_state().numpy()
        arrays["meta"] = np.array(json.dumps({"t": net.t, "epoch": epoch}))
        np.savez(out / "last.tmp.npz", **arrays)
        (out / "last.tmp.npz").replace(ckpt)
        log(f"epoch {epoch}: loss {rec['loss']:.4f}  val {100 * val:.2f} %  test {100 * test:.2f} %  "
            f"({train_time:.1f} s)")


# --------------------------------------------------------------------------------------------
# Training (the reference curves)
# --------------------------------------------------------------------------------------------


def train(s: Spec, data_root, out_dir, seed: int = 0, log=print) -> None:
    """Train `s` for s.epochs, resumable from out_dir/last.npz; one JSON line per epoch in out_dir/log.jsonl."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    xtr, ytr, xva, yva, xte, yte = load_mnist(data_root, s)
    net = Net(s, seed=seed)
    epoch, best = 0, {"val_error": float("inf"), "epoch": -1, "test_error": None}
    ckpt = out / "last.npz"
    if ckpt.is_file():
        z = np.load(ckpt, allow_pickle=False)
        meta = json.loads(str(z["meta"]))
        if meta["spec"] != s.__dict__:
            raise ValueError(f"{ckpt} was trained with another spec: {meta['spec']}")
        net.load([z[f"p{i}"] for i in range(len(net.parameters()))])
        for L, i in zip(net.layers, range(len(net.layers))):
            for k in ("mean", "var", "inv_std"):
                L[k] = torch.from_numpy(z[f"{k}{i}"])
        net.state = {int(k[1:-2]): None for k in z.files if re.fullmatch(r"m\d+_0", k)}  # not mean<i>
        for k in list(net.state):
            net.state[k] = [torch.from_numpy(z[f"m{k}_0"]), torch.from_numpy(z[f"m{k}_1"])]
        net.t, epoch, best = meta["t"], meta["epoch"], meta["best"]
        torch.set_rng_state(torch.from_numpy(z["rng"]))
        log(f"resumed {ckpt} at epoch {epoch}")
    else:
        torch.manual_seed(seed)
    while epoch < s.epochs:
        t0 = time.perf_counter()
        lr = lr_at(s, epoch)
        order = torch.randperm(len(xtr))
        total = 0.0
        for i in range(0, len(order) - s.batch + 1, s.batch):  # the authors' loops drop a partial batch
            idx = order[i:i + s.batch]
            loss, grads = net.loss_and_grads(xtr[idx], ytr[idx])
            net.step(grads, lr)
            total += loss * len(idx)
        if s.eval_stats == "recompute":
            net.recompute_statistics((xtr, xva), s.batch)
        train_time = time.perf_counter() - t0
        epoch += 1
        val, test = net.error(xva, yva), net.error(xte, yte)
        if val <= best["val_error"]:
            best = {"val_error": val, "epoch": epoch, "test_error": test}
        rec = {"epoch": epoch, "method": s.method, "lr": lr, "loss": total / len(order), "val_error": val,
               "test_error": test, "train_time_s": round(train_time, 3),
               "epoch_time_s": round(time.perf_counter() - t0, 3), "reference": "torch"}
        with open(out / "log.jsonl", "a") as f:
            f.write(json.dumps(rec) + "\n")
        arrays = {f"p{i}": p.detach().numpy() for i, p in enumerate(net.parameters())}
        for i, L in enumerate(net.layers):
            for k in ("mean", "var", "inv_std"):
                arrays[f"{k}{i}"] = L[k].numpy()
        for k, (m, v) in net.state.items():
            arrays[f"m{k}_0"], arrays[f"m{k}_1"] = m.numpy(), v.numpy()
        arrays["rng"] = torch.get_rng_state().numpy()
        arrays["meta"] = np.array(json.dumps({"spec": s.__dict__, "t": net.t, "epoch": epoch, "best": best}))
        tmp = out / "last.tmp.npz"
        np.savez(tmp, **arrays)
        tmp.replace(ckpt)
        log(f"epoch {epoch}: loss {rec['loss']:.4f}  val {100 * val:.2f} %  test {100 * test:.2f} %  "
            f"({train_time:.1f} s)")
