"""The papers' MNIST recipes: architecture, optimizer, schedule and
preprocessing for each ``--method`` (every knob overridable)."""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from . import data, optim
from .nn import (BatchNorm, BinarizedDense, BinaryDense, Dense, Dropout, ReLU, Sequential, ShiftBatchNorm,
                 SquaredHinge, SteSign, TernaryDense)

METHODS = ("float", "bc", "bc-stoch", "tc", "bc-qbp", "tc-qbp", "bnn", "bnn-shift")


@dataclasses.dataclass
class Recipe:
    """Everything that defines a run. Defaults come from :func:`recipe`."""

    method: str
    dataset: str = "mnist"
    hidden: int = 1024
    depth: int = 3
    epochs: int = 1000
    batch_size: int = 200
    optimizer: str = "sgd"
    lr: float = 0.3
    lr_end: float = 0.01
    schedule: str = "exp"  # "exp": lr -> lr_end over `epochs`; "step": x0.5 every `lr_every`
    lr_every: int = 20
    input_dropout: float = 0.0
    hidden_dropout: float = 0.0
    preprocess: str = "center"  # "center" (BC/TC papers), "pm1" (BNN Theano), "unit" (BNN Torch)
    val_size: int = 10000
    seed: int = 0

    def to_dict(self):
        return dataclasses.asdict(self)


def recipe(method: str, **overrides) -> Recipe:
    """The paper's recipe for `method`, with `overrides` (None values ignored).

    - float, bc, bc-stoch, tc, bc-qbp, tc-qbp: Lin et al. 2015 / BC-M: 784-1024x3-10,
      ReLU, BN everywhere, SGD (no momentum), batch 200, LR 0.3 -> 0.01 exponential,
      centred pixels, W0 = Glorot/2 weight scale, squared hinge loss.
    - bnn: Hubara et al. 2016 (Theano): 784-4096x3-10, sign activations (STE), BN,
      dropout 0.2/0.5, Adam 0.003 -> 3e-7, batch 100, inputs in [-1, 1], Glorot LR scale.
    - bnn-shift: the Torch variant: 3x2048, shift-based BN and AdaMax, LR 2**-6 halved
      every 20 epochs, inputs in [0, 1], no dropout.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    base = Recipe(method=method)
    if method == "bnn":
        base = dataclasses.replace(base, hidden=4096, batch_size=100, optimizer="adam", lr=0.003, lr_end=3e-7,
                                   input_dropout=0.2, hidden_dropout=0.5, preprocess="pm1")
    elif method == "bnn-shift":
        base = dataclasses.replace(base, hidden=2048, batch_size=100, optimizer="shift-adamax", lr=2**-6,
                                   schedule="step", lr_every=20, preprocess="unit")
    return dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})


def build_model(r: Recipe, in_features: int, classes: int) -> Sequential:
    sizes = [in_features] + [r.hidden] * r.depth + [classes]
    layers = []
    bnn = r.method.startswith("bnn")
    if r.input_dropout:
        layers.append(Dropout(r.input_dropout, seed=r.seed + 101))
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        last = i == len(sizes) - 2
        seed = r.seed * 1000 + i
        if r.method == "float":
            layers.append(Dense(fan_in, fan_out, seed=seed))
        elif r.method in ("bc", "bc-stoch", "bc-qbp"):
            layers.append(BinaryDense(fan_in, fan_out, scale="glorot", stochastic=r.method != "bc",
                                      qbp=r.method == "bc-qbp", seed=seed))
        elif r.method in ("tc", "tc-qbp"):
            layers.append(TernaryDense(fan_in, fan_out, qbp=r.method == "tc-qbp", seed=seed))
        else:
            layers.append(BinarizedDense(fan_in, fan_out, binary_input=i > 0, seed=seed))
        layers[-1].needs_input_grad = i > 0
        norm = ShiftBatchNorm if r.method == "bnn-shift" else BatchNorm
        layers.append(norm(fan_out))
        if not last:
            layers.append(SteSign() if bnn else ReLU())
            if r.hidden_dropout:
                layers.append(Dropout(r.hidden_dropout, seed=r.seed + 200 + i))
    return Sequential(*layers)


def build_optimizer(r: Recipe, model):
    params = model.parameters()
    if r.optimizer == "sgd":
        return optim.SGD(params, r.lr)
    if r.optimizer == "adam":
        return optim.Adam(params, r.lr)
    if r.optimizer == "adamax":
        return optim.AdaMax(params, r.lr)
    if r.optimizer == "shift-adamax":
        return optim.ShiftAdaMax(params, r.lr)
    raise ValueError(f"optimizer must be sgd, adam, adamax or shift-adamax; got {r.optimizer!r}")


def build_schedule(r: Recipe):
    if r.schedule == "exp":
        return optim.ExponentialDecay(r.lr, r.lr_end, r.epochs)
    if r.schedule == "step":
        return optim.StepDecay(r.lr, 0.5, r.lr_every)
    raise ValueError(f"schedule must be exp or step; got {r.schedule!r}")


def prepare_data(r: Recipe, root: Optional[str] = None, subset: Optional[int] = None):
    """(x_train, y_train, x_val, y_val, x_test, y_test) as float32 rows, per the recipe."""
    ds = data.load_dataset(r.dataset, root)
    x_train, x_test = data.flatten(ds.x_train), data.flatten(ds.x_test)
    if r.preprocess == "pm1":
        x_train, x_test = data.scale_pm1(x_train), data.scale_pm1(x_test)
    else:
        x_train, x_test = (x_train / np.float32(255)).astype(np.float32), (x_test / np.float32(255)).astype(np.float32)
    x_tr, y_tr, x_val, y_val = data.validation_split(x_train, ds.y_train, r.val_size)
    if r.preprocess == "center":
        x_tr, x_val, x_test = data.center(x_tr, x_val, x_test)
    if subset:
        x_tr, y_tr = x_tr[:subset], y_tr[:subset]
    f = lambda a: np.ascontiguousarray(a, dtype=np.float32)  # noqa: E731
    return f(x_tr), y_tr, f(x_val), y_val, f(x_test), ds.y_test, ds


LOSS = SquaredHinge
