"""The examples run end to end (CI runs them here, on a small subset)."""
import os
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
needs_mnist = pytest.mark.skipif(not (Path(os.environ.get("PYBITNET_DATA", "")) / "mnist").is_dir(),
                                 reason="real MNIST not found")


@needs_mnist
def test_torch_mnist_bnn_example(tmp_path):
    """PyTorch data loading, training, torch.compile, the summary, and deployment to the packed engine,
    whose predictions are the trained model's."""
    pytest.importorskip("torch")
    main = runpy.run_path(str(ROOT / "examples" / "torch_mnist_bnn.py"))["main"]
    agreement = main(["--subset", "3000", "--hidden", "256", "--compile-backend", "aot_eager",
                      "--out", str(tmp_path / "bnn.npz")])
    assert agreement == 1.0 and (tmp_path / "bnn.npz").stat().st_size > 1000
