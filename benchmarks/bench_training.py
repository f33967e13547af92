"""asv: one training step (forward, loss, backward, update) per method on a
minibatch of the MNIST MLP and of the CIFAR-10 CNN, beside the float model (at the environment's ISA
and threads, see common.py), with the step's counted
operations (kernel products; the float baseline's GEMMs are counted too); N steps of every
recipe as ``pybitnet train`` runs it on MNIST (RecipeTrainingSteps); and the BNN recipes' steps
beside the same nets in PyTorch float32 on the same threads (TrainingVsTorch, issue 16's table:
``python -m benchmarks.speed_table``)."""
import contextlib

import numpy as np

import pybitnet
from pybitnet import profiling, recipes

from .bnn_inference import interleaved_medians
from .common import ISA, NUM_THREADS, use_threads

METHODS = list(recipes.METHODS)  # every method of recipes.METHOD_TABLE


def make_step(method, hidden, batch, *, dataset="mnist", **overrides):
    """A closure running one training step of the recipe's model on random data."""
    r = recipes.recipe(method, **{"dataset": dataset, "hidden": hidden, "batch_size": batch, "input_dropout": 0.0,
                                  "hidden_dropout": 0.0, **overrides})
    shape = (32, 32, 3) if r.arch == "cnn" else (784,)
    model = recipes.build_model(r, shape, 10)
    try:
        opt = recipes.build_optimizer(r, model, update_in_backward=True)  # as pybitnet train
    except TypeError:  # a commit before the updates in backward (asv runs this file against older ones)
        opt = recipes.build_optimizer(r, model)
    loss = recipes.build_loss(r)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (batch,) + shape).astype(np.float32)
    y = rng.integers(0, 10, batch)

    reuse = getattr(pybitnet, "reuse_memory", contextlib.nullcontext)  # as the Trainer (not on older commits)

    def step():
        with reuse():
            opt.zero_grad()
            out = model.forward(x)
            _, g = loss(out, y)
            model.backward(g)
            opt.step()

    return step


class TrainingStep:
    params = [METHODS, [1024, 4096]]
    param_names = ["method", "hidden"]
    timeout = 600

    def setup(self, method, hidden):
        use_threads()
        batch = 100 if method.startswith("bnn") else 200
        self.step = make_step(method, hidden, batch)
        self.step()  # warm-up

    def time_step(self, method, hidden):
        self.step()


class CnnTrainingStep:
    """One step of the CIFAR-10 CNN (128C3x2-MP2-256C3x2-MP2-512C3x2-MP2-1024x2-10) at the
    recipes' batch 50: x 900 for a 45000-image epoch."""

    params = [["float", "bc", "bnn"]]
    param_names = ["method"]
    timeout = 900
    number, repeat = 1, 5

    def setup(self, method):
        use_threads()
        self.step = make_step(method, 1024, 50, dataset="cifar10")
        self.step()  # warm-up

    def time_step(self, method):
        self.step()


class TrainingStepOps:
    """Counted operations of one step (minibatch 200, the paper's table: float ~1.75e9
    multiplications, ternary connect + QBP ~1.85e6, all of them element-wise work that
    the kernels' counters leave out)."""

    params = [METHODS]
    param_names = ["method"]

    def setup(self, method):
        step = make_step(method, 1024, 200)
        with pybitnet.count_ops() as self.ops:
            step()

    def track_multiplications(self, method):
        return self.ops.multiplications

    def track_additions(self, method):
        return self.ops.additions

    def track_shifts(self, method):
        return self.ops.shifts

    def track_popcounts(self, method):
        return self.ops.popcounts

    for _name in list(locals()):
        if _name.startswith("track_"):
            locals()[_name].unit = "ops per step"


class RecipeTrainingSteps:
    """STEPS training steps of each method's own MNIST recipe (its widths, batch, optimizer,
    dropout: what ``pybitnet train --method M`` runs) on random MNIST-shaped data; x
    (epoch steps / STEPS) for an epoch (500 steps for batch 100, 250 for batch 200)."""

    STEPS = 5
    params = [METHODS]
    param_names = ["method"]
    timeout = 900
    number, repeat = 1, 3

    def setup(self, method):
        use_threads()
        r = recipes.recipe(method)
        if ISA == "scalar" and r.hidden > 1024:
            raise NotImplementedError("the scalar reference takes minutes at this width")  # asv: skipped
        self.step = profiling.training_step(r)
        self.step()  # warm-up

    def time_steps(self, method):
        for _ in range(self.STEPS):
            self.step()


class TrainingVsTorch:
    """One training step of the BNN recipe (MNIST: 784-4096x3-10, batch 100, Adam, dropout;
    CIFAR-10: the papers' CNN, batch 50) beside the same net in PyTorch float32 with
    Adam(fused=True) (pybitnet.profiling.torch_training_step) on the same threads.
    Skipped without PyTorch. Issue 16's targets: >= 5x on MNIST, >= 3x on the CNN."""

    params = [["mnist", "cifar10"]]
    param_names = ["dataset"]
    timeout = 900
    number, repeat = 1, 5

    def setup(self, dataset):
        try:
            import torch
        except ImportError:
            raise NotImplementedError("PyTorch is not installed") from None  # asv: skipped
        if ISA == "scalar":
            raise NotImplementedError("the scalar reference takes minutes per step here")  # asv: skipped
        use_threads()
        torch.set_num_threads(NUM_THREADS)
        r = recipes.recipe("bnn", dataset=dataset)
        self.ours, self.theirs = profiling.training_step(r), profiling.torch_training_step(r)
        self.ours(), self.theirs()  # warm-up

    def time_pybitnet_step(self, dataset):
        self.ours()

    def time_torch_float32_step(self, dataset):
        self.theirs()

    def track_speedup(self, dataset):
        """PyTorch's step time / pybitnet's, the two timed in turns (3 rounds)."""
        t_ours, t_theirs = interleaved_medians([self.ours, self.theirs], repeats=3, warmup=0)
        return t_theirs / t_ours

    track_speedup.unit = "x"
