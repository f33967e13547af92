"""Run under mpiexec by tests/test_distributed.py: a few data-parallel steps of the native trainer.

    python dp_train.py OUT_DIR [die|raise]

Each rank writes its parameters to OUT_DIR/rank<r>.npz. With `die`, rank 1 exits abruptly
(os._exit) at its second gradient average; with `raise`, it raises there.
"""
import os
import sys

import numpy as np

from pybitnet import distributed, recipes
from pybitnet.train import Trainer


def recipe():
    return recipes.recipe("bc", hidden=64, epochs=1, batch_size=200, val_size=100, seed=3)


def main(out, mode=""):
    comm = distributed.world()
    assert comm is not None and comm.Get_size() == 2, "run me with mpiexec -n 2"
    trainer = Trainer(recipe(), out, subset=900, progress=False, comm=comm)
    if mode and comm.Get_rank() == 1:
        calls = [0]
        average = trainer.averager.average

        def failing(n):
            calls[0] += 1
            if calls[0] == 2:
                if mode == "die":
                    os._exit(3)
                raise RuntimeError("rank 1 fails on purpose")
            return average(n)

        trainer.averager.average = failing
    trainer.train_epoch()
    np.savez(os.path.join(out, f"rank{comm.Get_rank()}.npz"),
             *[p.value for p in trainer.model.parameters()])


if __name__ == "__main__":
    main(*sys.argv[1:])
