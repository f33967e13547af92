"""The trainer: seeded minibatch training with validation-based model
selection, a progress bar, a JSON-lines log, checkpoint/resume and plots.

>>> r = recipes.recipe("bnn", epochs=5)
>>> Trainer(r, out_dir="runs/bnn").fit()
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Dict, Optional

import numpy as np

from . import checkpoint, distributed, recipes
from .nn import recompute_statistics
from .opcount import count_ops
from .runtime import reuse_memory, warn_if_blas_spin_slows_threads

try:
    from tqdm.auto import tqdm
except ImportError:  # pragma: no cover - tqdm is a dependency; keep working without it
    tqdm = None


def predictions(model, x, batch_size: int = 1000) -> np.ndarray:
    """Class indices (N,) that `model` gives `x` in eval mode, in batches."""
    was_training = model.training
    model.eval()
    out = [np.argmax(model.forward(x[i:i + batch_size]), axis=1) for i in range(0, len(x), batch_size)]
    model.train(was_training)
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def error_rate(model, x, y, batch_size: int = 1000) -> float:
    """Classification error (fraction) of `model` in eval mode."""
    return float(np.sum(predictions(model, x, batch_size) != y)) / max(1, len(x))


class Trainer:
    """Trains `recipe` on its dataset; everything it writes goes to `out_dir`:

    - ``log.jsonl``: one JSON object per epoch (loss, errors, lr, wall time,
      operation counts of the epoch's kernels);
    - ``last.npz`` (checkpoint after every epoch: resume with ``fit()`` again),
      ``best.npz`` (best validation error so far);
    - ``curves.png``: learning curves.

    Data parallel: with `comm` (an mpi4py communicator; ``pybitnet train`` passes
    ``MPI.COMM_WORLD`` when started by ``mpiexec -n N``) each rank trains on its slice of
    every global minibatch of ``recipe.batch_size`` and the gradients are averaged before
    each optimizer step (:mod:`pybitnet.distributed`); rank 0 alone evaluates, logs and
    writes files. Every rank reads ``last.npz`` to resume: `out_dir` must be shared.
    """

    def __init__(self, recipe: recipes.Recipe, out_dir, data_root: Optional[str] = None,
                 subset: Optional[int] = None, progress: bool = True, test_every: int = 1, comm=None):
        self.recipe = recipe
        self.comm = comm
        self.rank = distributed.rank_of(comm)
        self.is_root = self.rank == 0
        self.out = Path(out_dir)
        self.progress = progress and tqdm is not None and self.is_root
        self.test_every = test_every
        (self.x_tr, self.y_tr, self.x_val, self.y_val, self.x_test, self.y_test,
         ds) = recipes.prepare_data(recipe, data_root, subset)
        self.notes = ds.notes
        self.model = recipes.build_model(recipe, self.x_tr.shape[1:], ds.num_classes)
        self.eval_batch = recipes.eval_batch_size(recipe)
        # gradients averaged over workers must exist before the update: no update in backward then
        self.optimizer = recipes.build_optimizer(recipe, self.model, update_in_backward=comm is None)
        self.schedule = recipes.build_schedule(recipe)
        self.loss = recipes.build_loss(recipe)
        self.epoch = 0
        self.best = {"val_error": float("inf"), "epoch": -1, "test_error": None}
        self.averager = None
        if comm is not None:
            distributed.broadcast_parameters(comm, self.model)
            self.averager = distributed.GradientAverager(comm, self.model.parameters())

    # -- persistence -------------------------------------------------------------------------
    def _meta(self) -> Dict:
        return {"recipe": self.recipe.to_dict(), "epoch": self.epoch, "best": self.best}

    def save(self, name: str = "last.npz"):
        return checkpoint.save(self.out / name, self.model, self.optimizer, self._meta())

    def resume(self) -> bool:
        path = self.out / "last.npz"
        if not path.is_file():
            return False
        arrays, meta = checkpoint.read(path)
        if meta["recipe"] != self.recipe.to_dict():
            defaults = recipes.Recipe(method=self.recipe.method).to_dict()  # fields newer than the checkpoint
            saved = {k: meta["recipe"].get(k, defaults[k]) for k in defaults}
            changed = sorted(k for k, v in self.recipe.to_dict().items() if saved[k] != v)
            if changed == ["epochs"]:  # the schedule is fixed when a run starts: no silent LR jump on resume
                raise ValueError(
                    f"{path} was started with epochs={saved['epochs']} (its LR schedule spans those epochs); "
                    f"resuming with epochs={self.recipe.epochs} would change the schedule mid-run. Resume with "
                    f"--epochs {saved['epochs']}, or train past its end with --extend-to N (the schedule keeps "
                    "its per-epoch decay), or use another --out directory")
            if changed:
                raise ValueError(f"{path} was trained with a different recipe (differs in {changed}); "
                                 "use another --out directory")
        checkpoint.load_into(arrays, self.model, self.optimizer, str(path))
        self.epoch, self.best = meta["epoch"], meta["best"]
        return True

    # -- training ----------------------------------------------------------------------------
    def train_epoch(self) -> Dict:
        r = self.recipe
        self.model.train()
        self.optimizer.lr = self.schedule(self.epoch)
        order = np.random.default_rng([r.seed, self.epoch]).permutation(len(self.x_tr))
        batches = range(0, len(order), r.batch_size)
        bar = tqdm(batches, desc=f"epoch {self.epoch + 1}/{r.epochs}", leave=False, unit="batch") if self.progress \
            else batches
        total, n = 0.0, 0
        with count_ops() as ops, reuse_memory():  # the steps' temporaries: freed blocks reused, not faulted in again
            for i in bar:
                idx = order[i:i + r.batch_size]
                if self.comm is not None:
                    idx = distributed.shard(idx, self.rank, self.comm.Get_size())
                self.optimizer.zero_grad()
                out = self.model.forward(self.x_tr[idx])
                loss, grad = self.loss(out, self.y_tr[idx])
                if not np.isfinite(loss):  # before the backward pass: the weights stay those of the last step
                    raise FloatingPointError(
                        f"the training loss is {loss} at epoch {self.epoch + 1}, batch {i // r.batch_size + 1}: "
                        "training diverged (try a lower learning rate; check the data for NaN). The weights are "
                        f"those of the step before; {self.out / 'last.npz'} holds the last finished epoch")
                self.model.backward(grad)
                if self.averager is not None:
                    self.averager.average(len(idx))  # gradients of the global batch, identical on every rank
                self.optimizer.step()
                total, n = total + loss * len(idx), n + len(idx)
                if self.progress:
                    bar.set_postfix(loss=f"{total / n:.4f}")
        if self.comm is not None:
            distributed.average_buffers(self.comm, self.model)
            total, n = (float(v) for v in self.comm.allreduce(np.array([total, n], np.float64)))
        return {"loss": total / max(1, n), "ops": ops.as_dict(),
                "ops_by_kernel": {k: v.as_dict() for k, v in ops.by_kernel.items()}}

    def _recompute_bn(self) -> None:
        """BC-M's evaluation statistics: recomputed after every epoch over the training and validation
        sets, with the evaluation weights (the real ones for stochastic layers)."""
        if self.recipe.bn_stats == "recompute":
            recompute_statistics(self.model, (self.x_tr, self.x_val), self.recipe.batch_size)

    def fit(self, epochs: Optional[int] = None, resume: bool = True) -> Dict:
        """Train up to epoch `epochs` (default: the recipe's), resuming from ``last.npz`` if present.

        The LR schedule always spans the recipe's epochs, fixed when the run starts: `epochs`
        beyond them extends the run with the schedule continued by its own formula (the
        exponential decay keeps its per-epoch factor, the step decay keeps halving)."""
        target = epochs or self.recipe.epochs
        warn_if_blas_spin_slows_threads()
        if self.is_root:
            self.out.mkdir(parents=True, exist_ok=True)
        if self.comm is not None:
            self.comm.Barrier()  # rank 0 made the directory before anyone looks in it
        if resume and self.resume() and self.is_root:
            print(f"resumed {self.out / 'last.npz'} at epoch {self.epoch}")
        while self.epoch < target:
            t0 = time.perf_counter()
            stats = self.train_epoch()
            self._recompute_bn()
            train_time = time.perf_counter() - t0
            self.epoch += 1
            if not self.is_root:  # rank 0 evaluates, logs and writes checkpoints
                continue
            val = error_rate(self.model, self.x_val, self.y_val, self.eval_batch) if len(self.x_val) else float("nan")
            test = error_rate(self.model, self.x_test, self.y_test, self.eval_batch) \
                if self.epoch % self.test_every == 0 or self.epoch == target else None
            if val <= self.best["val_error"] or not np.isfinite(self.best["val_error"]):
                self.best = {"val_error": val, "epoch": self.epoch, "test_error": test}
                self.save("best.npz")
            record = {"epoch": self.epoch, "method": self.recipe.method, "lr": self.optimizer.lr,
                      "loss": stats["loss"], "val_error": val, "test_error": test, "train_time_s": round(train_time, 3),
                      "epoch_time_s": round(time.perf_counter() - t0, 3), **stats}
            with open(self.out / "log.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")
            self.save("last.npz")
            print(f"epoch {self.epoch}: loss {stats['loss']:.4f}  val {100 * val:.2f} %"
                  + (f"  test {100 * test:.2f} %" if test is not None else "") + f"  ({train_time:.1f} s)")
        if self.comm is not None:
            self.comm.Barrier()
        if self.is_root:
            self.plot()
        return self.best

    def plot(self) -> Optional[Path]:
        from .plots import learning_curves

        return learning_curves(self.out / "log.jsonl", self.out / "curves.png",
                               title=f"{self.recipe.dataset} {self.recipe.method}")
