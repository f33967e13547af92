"""asv: one training step (forward, loss, backward, update) per method on a
minibatch of the MNIST MLP and of the CIFAR-10 CNN, beside the float model (at the environment's ISA
and threads, see common.py), with the step's counted
operations (kernel products; the float baseline's GEMMs are counted too)."""
import numpy as np

import pybitnet
from pybitnet import recipes

from .common import use_threads

METHODS = ["float", "bc-stoch", "bc-qbp", "tc-qbp", "bnn", "bnn-shift"]


def make_step(method, hidden, batch, *, dataset="mnist", **overrides):
    """A closure running one training step of the recipe's model on random data."""
    r = recipes.recipe(method, **{"dataset": dataset, "hidden": hidden, "batch_size": batch, "input_dropout": 0.0,
                                  "hidden_dropout": 0.0, **overrides})
    shape = (32, 32, 3) if r.arch == "cnn" else (784,)
    model = recipes.build_model(r, shape, 10)
    opt = recipes.build_optimizer(r, model)
    loss = recipes.build_loss(r)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (batch,) + shape).astype(np.float32)
    y = rng.integers(0, 10, batch)

    def step():
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
