"""CI smoke test: one short epoch of BNN and of BinaryConnect on a subset of real MNIST
reaches >= 90 % test accuracy in under a minute (2-core CI machine)."""
import os
import time
from pathlib import Path

import pytest

from pybitnet import recipes
from pybitnet.train import Trainer, error_rate

pytestmark = pytest.mark.skipif(not (Path(os.environ.get("PYBITNET_DATA", "")) / "mnist").is_dir(),
                                reason="real MNIST not found (set PYBITNET_DATA)")


@pytest.mark.parametrize("method,extra", [("bnn", {"input_dropout": 0.0, "hidden_dropout": 0.0}), ("bc", {})])
def test_one_epoch_reaches_90_percent(tmp_path, method, extra):
    r = recipes.recipe(method, hidden=1024, epochs=1, val_size=1000, **extra)
    trainer = Trainer(r, tmp_path, subset=20000, progress=False)
    t0 = time.perf_counter()
    trainer.train_epoch()
    seconds = time.perf_counter() - t0
    accuracy = 1 - error_rate(trainer.model, trainer.x_test, trainer.y_test)
    print(f"{method}: test accuracy {100 * accuracy:.2f} % after one epoch on 20k images in {seconds:.1f} s")
    assert accuracy >= 0.90
    assert seconds < 60
