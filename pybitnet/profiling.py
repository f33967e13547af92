"""Where a training step's time goes: ``pybitnet bench --training``.

Times each stage of a recipe's training step — the forward products (dense
and conv layers, packing included), batch norm, activations / pooling /
dropout, the loss, the backward products (input and weight gradients), the
weight gradients fused with their update in backward, and the optimizer
update — by wrapping every module's forward and backward with a
clock, over a few real steps of random data, beside the same network in
PyTorch float32 on the same thread count (when torch is installed): one
PyTorch step after each pybitnet step, so machine load hits both alike.
MNIST recipes give the MLP; ``dataset="cifar10"`` the BNN papers' CNN
(128C3-128C3-MP2-256C3-256C3-MP2-512C3-512C3-MP2-1024FC-1024FC-10, batch 50),
beside the same CNN in PyTorch.

:func:`training_step` and :func:`torch_training_step` are the two steps alone
(``benchmarks/speed_table.py`` and ``benchmarks/bench_training.py`` time them).

>>> p = training_profile("bnn", steps=5)
>>> print(format_profile(p))
"""
from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from .runtime import reuse_memory

# "weight gradients + update": the quantized weights' gradient products and their update, fused in
# backward (Optimizer(update_in_backward=True), as pybitnet train); "backward products" is then the
# input gradients (and any weight gradient not fused), "optimizer" the other parameters' update.
STAGES = ("forward products", "batch norm", "activations, pooling, dropout", "loss", "backward products",
          "weight gradients + update", "optimizer")


@dataclass
class TrainingProfile:
    method: str
    dataset: str
    batch: int
    threads: int
    steps: int
    seconds: Dict[str, float]  # stage -> seconds per step
    torch_seconds: Optional[float] = None  # the same net in PyTorch float32, per step
    torch_optimizer: str = ""  # what the PyTorch step updates with, e.g. "Adam(fused=True)"
    steps_per_epoch: int = 0
    layers: Dict[str, float] = field(default_factory=dict)  # "i: Layer fwd/bwd" -> seconds per step
    per_step: List[Dict[str, float]] = field(default_factory=list)  # each timed step's stage -> seconds
    warmup: int = 1  # untimed steps before the timed ones
    # on more threads: the ops (and size classes) the thread planner measured faster inline, so left on one thread
    inline_ops: List[Dict] = field(default_factory=list)

    @property
    def step_seconds(self) -> float:
        return sum(self.seconds.values())

    @property
    def median_seconds(self) -> Dict[str, float]:
        """Stage -> the median over the timed steps (a step slowed by other jobs weighs less than
        in the means of `seconds`)."""
        if not self.per_step:
            return dict(self.seconds)
        return {s: float(np.median([step[s] for step in self.per_step])) for s in STAGES}


def _stage(module, direction: str) -> str:
    from .nn import BatchNorm, Conv2D, Dense

    if isinstance(module, (Dense, Conv2D)):
        return "forward products" if direction == "forward" else "backward products"
    if isinstance(module, BatchNorm):
        return "batch norm"
    return "activations, pooling, dropout"


def input_shape(r) -> tuple:
    """One example's shape for the recipe: (H, W, C) images for the CNN, (784,) rows for the MLP."""
    return (32, 32, 3) if r.arch == "cnn" else (784,)


def random_batch(r, seed: int = 0):
    """(x, y): one minibatch of random inputs in [-1, 1] and labels, float32 NHWC or rows."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (r.batch_size,) + input_shape(r)).astype(np.float32)
    return x, rng.integers(0, 10, r.batch_size)


def training_step(r, seed: int = 0):
    """A closure running one training step of the recipe's model (forward, loss, backward,
    update: dropout and all, as ``pybitnet train`` does) on a fixed random minibatch."""
    from . import recipes

    x, y = random_batch(r, seed)
    model = recipes.build_model(r, input_shape(r), 10)
    opt, loss_fn = recipes.build_optimizer(r, model, update_in_backward=True), recipes.build_loss(r)

    def step():
        with reuse_memory():  # as the Trainer's epochs
            opt.zero_grad()
            _, grad = loss_fn(model.forward(x), y)
            model.backward(grad)
            opt.step()

    return step


def _blas_threads(n: int):
    """numpy's BLAS on n threads for the block (no limit without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(n, user_api="blas")


def warmup_steps(threads: int) -> int:
    """Untimed training steps before a step's time stands for an epoch's: 1 on one thread, 8 on more.

    On more threads the thread planner (threads.h, :func:`pybitnet.thread_plans`) times each op and
    size class both ways over its first 7 calls (the workers' first call, 3 split, 3 inline) before it
    keeps the faster way, and the CIFAR-10 CNN calls most of its ops once per step. An epoch pays that
    once (the CNN on 2 threads, Zen 4: the first 7 steps' median 378 ms, steps 11-20 339 ms)."""
    return 1 if threads <= 1 else 8


def training_profile(method: str, dataset: str = "mnist", *, steps: int = 5, threads: Optional[int] = None,
                     torch_baseline: bool = True, seed: int = 0, warmup: Optional[int] = None,
                     **overrides) -> TrainingProfile:
    """Time `steps` training steps of `method`'s recipe on random data, after `warmup` untimed ones.

    `warmup` defaults to :func:`warmup_steps` (1 step on one thread, 8 on more)."""
    from . import recipes
    from .runtime import get_num_threads, set_num_threads

    r = recipes.recipe(method, dataset=dataset, **overrides)
    shape = input_shape(r)
    x, y = random_batch(r, seed)
    model = recipes.build_model(r, shape, 10)
    opt, loss_fn = recipes.build_optimizer(r, model, update_in_backward=True), recipes.build_loss(r)
    before = get_num_threads()
    if warmup is None:
        warmup = warmup_steps(threads or before)
    if warmup < 1:
        raise ValueError(f"warmup must be >= 1 (the first step warms the caches and the allocator), got {warmup}")
    blas = contextlib.ExitStack()
    if threads:
        set_num_threads(threads)
        blas.enter_context(_blas_threads(threads))  # the float layers' products run in numpy's BLAS
    torch_step = torch_training_step(r, seed) if torch_baseline else None
    torch_times = []
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
    fused_update = opt.backward_update

    def timed_update(p, dw, pack_signs=False):  # inside a layer's backward: moved out of "backward products"
        t0 = time.perf_counter()
        fused_update(p, dw, pack_signs)
        dt = time.perf_counter() - t0
        seconds["weight gradients + update"] += dt
        seconds["backward products"] -= dt

    opt.backward_update = timed_update
    per_step: List[Dict[str, float]] = []
    try:
        for step in range(warmup + steps):
            if step == warmup:  # the first steps warm the caches, the allocator and the thread planner
                seconds.clear()
                per_layer.clear()
            before_step = {k: seconds[k] for k in STAGES}
            with reuse_memory():  # as the Trainer's steps
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
            if step >= warmup:
                per_step.append({k: seconds[k] - before_step[k] for k in STAGES})
            if torch_step is not None:  # interleaved: the same load for both
                with torch_step.threads(get_num_threads()):
                    t6 = time.perf_counter()
                    torch_step()
                    torch_times.append(time.perf_counter() - t6)
        torch_s = sum(torch_times[warmup:]) / steps if torch_step is not None else None
        inline_ops = _inline_ops() if get_num_threads() > 1 else []
    finally:
        for m, direction in originals:
            delattr(m, direction)  # back to the class's method
        del opt.backward_update
        set_num_threads(before)
        blas.close()
    n_train = 45000 if r.arch == "cnn" else 50000
    return TrainingProfile(method, dataset, r.batch_size, threads or before, steps,
                           {s: seconds[s] / steps for s in STAGES}, torch_s,
                           torch_step.optimizer if torch_step is not None else "", n_train // r.batch_size,
                           {k: v / steps for k, v in per_layer.items()}, per_step, warmup, inline_ops)


def _inline_ops() -> List[Dict]:
    """The thread planner's ops and size classes measured both ways and found faster on one thread."""
    from .runtime import thread_plans

    return [r for r in thread_plans() if r["measured"] and not r["splits"]]


def torch_float_model(r, shape):
    """The recipe's network in PyTorch float32 (float weights, BN, hardtanh for the BNN's sign,
    ReLU otherwise, the recipe's dropout): the float baseline a binary step is compared with.
    CNN: conv 3x3 pad 1, max pooling after every second conv, BN after pooling, as the recipe."""
    import torch
    from torch import nn

    hardtanh = r.method.startswith("bnn")

    def act():
        return [nn.Hardtanh() if hardtanh else nn.ReLU()] + ([nn.Dropout(r.hidden_dropout)] if r.hidden_dropout else [])

    layers = [nn.Dropout(r.input_dropout)] if r.input_dropout else []
    if r.arch == "cnn":
        c_in, hw = shape[2], shape[0]
        widths = [r.channels, r.channels, 2 * r.channels, 2 * r.channels, 4 * r.channels, 4 * r.channels]
        for i, c in enumerate(widths):
            layers.append(nn.Conv2d(c_in, c, 3, padding=1))
            if i % 2 == 1:
                layers.append(nn.MaxPool2d(2))
                hw //= 2
            layers += [nn.BatchNorm2d(c, eps=1e-4)] + act()
            c_in = c
        layers.append(nn.Flatten())
        sizes = [hw * hw * c_in] + [r.hidden] * r.depth + [10]
    else:
        sizes = [int(np.prod(shape))] + [r.hidden] * r.depth + [10]
    for j, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [nn.Linear(a, b), nn.BatchNorm1d(b, eps=1e-4)]
        if j < len(sizes) - 2:
            layers += act()
    return torch.nn.Sequential(*layers)


class _TorchStep:
    """One training step of the recipe's net in PyTorch float32 on a fixed random minibatch
    (the squared hinge loss, the recipe's optimizer); ``update()`` is the optimizer step alone.
    Adam is PyTorch's fused CPU kernel when `fused` and this torch has it (on one thread of a
    2-core EPYC it updated the 3x4096 MLP's 36.8 M weights in 18 ms, the default for-loop
    implementation in 183 ms): the strongest float baseline, unless asked otherwise."""

    def __init__(self, r, seed: int = 0, fused: bool = True):
        import torch

        self.torch = torch
        torch.manual_seed(seed)
        self.model = torch_float_model(r, input_shape(r))
        params = list(self.model.parameters())
        self.optimizer = "SGD"
        if r.optimizer == "sgd":
            self.opt = torch.optim.SGD(params, lr=r.lr)
        else:  # adam, and the Adam family's AdaMax variants: Adam stands in for them
            self.opt, self.optimizer = None, "Adam"
            if fused:
                try:
                    self.opt, self.optimizer = torch.optim.Adam(params, lr=r.lr, fused=True), "Adam(fused=True)"
                except (RuntimeError, TypeError, ValueError):  # an older torch: no fused CPU Adam
                    pass
            self.opt = self.opt or torch.optim.Adam(params, lr=r.lr)
        x, y = random_batch(r, seed)
        self.x = torch.from_numpy(x.transpose(0, 3, 1, 2).copy() if r.arch == "cnn" else x)  # NCHW for torch
        y = torch.from_numpy(y)
        self.t = -torch.ones(r.batch_size, 10)
        self.t[torch.arange(r.batch_size), y] = 1

    def __call__(self):
        self.opt.zero_grad()
        loss = self.torch.clamp(1 - self.t * self.model(self.x), min=0).square().mean()
        loss.backward()
        self.opt.step()

    def update(self):
        self.opt.step()

    def threads(self, n: int):
        """A context manager: torch on `n` threads inside, the previous count after."""
        from contextlib import contextmanager

        @contextmanager
        def scope():
            previous = self.torch.get_num_threads()
            self.torch.set_num_threads(n)
            try:
                yield
            finally:
                self.torch.set_num_threads(previous)

        return scope()


def torch_training_step(r, seed: int = 0, fused: bool = True):
    """One training step of :func:`torch_float_model` (callable; ``.update()`` times the optimizer
    alone, ``.threads(n)`` scopes torch's thread count, ``.optimizer`` names it; `fused`: Adam's
    fused CPU kernel where torch has it), or None when torch is not installed."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return None
    return _TorchStep(r, seed, fused)


def format_profile(p: TrainingProfile, layers: bool = False) -> str:
    total = p.step_seconds
    lines = [f"{p.method} on {p.dataset}, batch {p.batch}, {p.threads} thread(s), {p.steps} steps "
             f"(after {p.warmup} untimed): "
             f"{1e3 * total:.1f} ms per step, {total * p.steps_per_epoch:.1f} s per epoch "
             f"({p.steps_per_epoch} steps)"]
    for s in STAGES:
        lines.append(f"  {s:32s} {1e3 * p.seconds[s]:9.2f} ms  {100 * p.seconds[s] / total:5.1f} %")
    if p.torch_seconds is not None:
        lines.append(f"  PyTorch float32 ({p.torch_optimizer}), same net and threads, steps interleaved: "
                     f"{1e3 * p.torch_seconds:.1f} ms per step "
                     f"-> pybitnet is {p.torch_seconds / total:.2f}x as fast")
    if p.inline_ops:
        lines.append("  left on one thread by the thread planner (wall / estimated time, split vs inline; "
                     "pybitnet.thread_plans()): " + ", ".join(
                         f"{r['op']} {r['work_ms'][0]:.2g}-{r['work_ms'][1]:.2g} ms "
                         f"({r['split_median']:.2f} vs {r['inline_median']:.2f})" for r in p.inline_ops))
    if layers:
        for k, v in sorted(p.layers.items(), key=lambda kv: -kv[1])[:12]:
            lines.append(f"    {k:40s} {1e3 * v:8.2f} ms")
    return "\n".join(lines)
