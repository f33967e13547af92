"""Where a training step's time goes: ``pybitnet bench --training``.

Times each stage of a recipe's training step — the forward products (dense
and conv layers, packing included), batch norm, activations / pooling /
dropout, the loss, the backward products (input and weight gradients) and the
optimizer update — by wrapping every module's forward and backward with a
clock, over a few real steps of random data, beside the same network in
PyTorch float32 on the same thread count (when torch is installed).

>>> p = training_profile("bnn", steps=5)
>>> print(format_profile(p))
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Dict, Optional

import numpy as np

STAGES = ("forward products", "batch norm", "activations, pooling, dropout", "loss", "backward products",
          "optimizer")


@dataclass
class TrainingProfile:
    method: str
    dataset: str
    batch: int
    threads: int
    steps: int
    seconds: Dict[str, float]  # stage -> seconds per step
    torch_seconds: Optional[float] = None  # the same net in PyTorch float32, per step
    steps_per_epoch: int = 0
    layers: Dict[str, float] = field(default_factory=dict)  # "i: Layer fwd/bwd" -> seconds per step

    @property
    def step_seconds(self) -> float:
        return sum(self.seconds.values())


def _stage(module, direction: str) -> str:
    from .nn import BatchNorm, Conv2D, Dense

    if isinstance(module, (Dense, Conv2D)):
        return "forward products" if direction == "forward" else "backward products"
    if isinstance(module, BatchNorm):
        return "batch norm"
    return "activations, pooling, dropout"


def training_profile(method: str, dataset: str = "mnist", *, steps: int = 5, threads: Optional[int] = None,
                     torch_baseline: bool = True, seed: int = 0, **overrides) -> TrainingProfile:
    """Time `steps` training steps (after one warm-up step) of `method`'s recipe on random data."""
    from . import recipes
    from .runtime import get_num_threads, set_num_threads

    r = recipes.recipe(method, dataset=dataset, **overrides)
    shape = (32, 32, 3) if r.arch == "cnn" else (784,)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (r.batch_size,) + shape).astype(np.float32)
    y = rng.integers(0, 10, r.batch_size)
    model = recipes.build_model(r, shape, 10)
    opt, loss_fn = recipes.build_optimizer(r, model), recipes.build_loss(r)
    before = get_num_threads()
    if threads:
        set_num_threads(threads)
    seconds: Dict[str, float] = defaultdict(float)
    per_layer: Dict[str, float] = defaultdict(float)
    originals = []
    for i, m in enumerate(model.layers):
        for direction in ("forward", "backward"):
            fn = getattr(m, direction)
            label = f"{i}: {type(m).__name__} {direction}"

            def timed(arg, fn=fn, stage=_stage(m, direction), label=label):
                t0 = time.perf_counter()
                out = fn(arg)
                dt = time.perf_counter() - t0
                seconds[stage] += dt
                per_layer[label] += dt
                return out

            originals.append((m, direction))
            setattr(m, direction, timed)
    try:
        for step in range(steps + 1):
            if step == 1:  # the first step warms the caches and the allocator
                seconds.clear()
                per_layer.clear()
            t0 = time.perf_counter()
            opt.zero_grad()
            t1 = time.perf_counter()
            out = model.forward(x)
            t2 = time.perf_counter()
            _, grad = loss_fn(out, y)
            t3 = time.perf_counter()
            model.backward(grad)
            t4 = time.perf_counter()
            opt.step()
            t5 = time.perf_counter()
            seconds["loss"] += t3 - t2
            seconds["optimizer"] += (t1 - t0) + (t5 - t4)
        torch_s = _torch_step_seconds(r, shape, steps, get_num_threads()) if torch_baseline else None
    finally:
        for m, direction in originals:
            delattr(m, direction)  # back to the class's method
        set_num_threads(before)
    n_train = 45000 if r.arch == "cnn" else 50000
    return TrainingProfile(method, dataset, r.batch_size, threads or before, steps,
                           {s: seconds[s] / steps for s in STAGES}, torch_s, n_train // r.batch_size,
                           {k: v / steps for k, v in per_layer.items()})


def torch_float_model(r, shape):
    """The recipe's network in PyTorch float32 (float weights, BN, hardtanh for the BNN's sign,
    ReLU otherwise): the float baseline a binary step is compared with."""
    import torch
    from torch import nn

    act = nn.Hardtanh if r.method.startswith("bnn") else nn.ReLU
    layers = []
    if r.arch == "cnn":
        c_in, hw = shape[2], shape[0]
        widths = [r.channels, r.channels, 2 * r.channels, 2 * r.channels, 4 * r.channels, 4 * r.channels]
        for i, c in enumerate(widths):
            layers.append(nn.Conv2d(c_in, c, 3, padding=1))
            if i % 2 == 1:
                layers.append(nn.MaxPool2d(2))
                hw //= 2
            layers += [nn.BatchNorm2d(c, eps=1e-4), act()]
            c_in = c
        layers.append(nn.Flatten())
        sizes = [hw * hw * c_in] + [r.hidden] * r.depth + [10]
    else:
        sizes = [int(np.prod(shape))] + [r.hidden] * r.depth + [10]
    for j, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [nn.Linear(a, b), nn.BatchNorm1d(b, eps=1e-4)]
        if j < len(sizes) - 2:
            layers.append(act())
    return torch.nn.Sequential(*layers)


def _torch_step_seconds(r, shape, steps: int, threads: int) -> Optional[float]:
    try:
        import torch
    except ImportError:
        return None
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        model = torch_float_model(r, shape)
        opt = (torch.optim.SGD(model.parameters(), lr=r.lr) if r.optimizer == "sgd"
               else torch.optim.Adam(model.parameters(), lr=r.lr))
        torch_shape = (shape[2], shape[0], shape[1]) if r.arch == "cnn" else shape
        x = torch.rand((r.batch_size,) + tuple(torch_shape)) * 2 - 1
        y = torch.randint(0, 10, (r.batch_size,))
        t = -torch.ones(r.batch_size, 10)
        t[torch.arange(r.batch_size), y] = 1

        def step():
            opt.zero_grad()
            loss = torch.clamp(1 - t * model(x), min=0).square().mean()
            loss.backward()
            opt.step()

        step()
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        return (time.perf_counter() - t0) / steps
    finally:
        torch.set_num_threads(previous)


def format_profile(p: TrainingProfile, layers: bool = False) -> str:
    total = p.step_seconds
    lines = [f"{p.method} on {p.dataset}, batch {p.batch}, {p.threads} thread(s), {p.steps} steps: "
             f"{1e3 * total:.1f} ms per step, {total * p.steps_per_epoch:.1f} s per epoch "
             f"({p.steps_per_epoch} steps)"]
    for s in STAGES:
        lines.append(f"  {s:32s} {1e3 * p.seconds[s]:9.2f} ms  {100 * p.seconds[s] / total:5.1f} %")
    if p.torch_seconds is not None:
        lines.append(f"  PyTorch float32, same net and threads: {1e3 * p.torch_seconds:.1f} ms per step "
                     f"-> pybitnet is {p.torch_seconds / total:.2f}x as fast")
    if layers:
        for k, v in sorted(p.layers.items(), key=lambda kv: -kv[1])[:12]:
            lines.append(f"    {k:40s} {1e3 * v:8.2f} ms")
    return "\n".join(lines)
