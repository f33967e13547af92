"""pytest-benchmark: end-to-end BNN MLP inference beside its numpy float32 baseline.

    pytest benchmarks/test_bench_inference.py --benchmark-only --benchmark-group-by=param:batch
"""
import pybitnet  # before numpy (see pybitnet/__init__.py)
import numpy as np
import pytest

from pybitnet.inference import from_trained

from .bnn_inference import FloatForward, build_model
from .common import use_threads


@pytest.fixture(scope="module")
def models():
    model = build_model()
    return from_trained(model, input_scale=2 / 255, input_offset=-1.0), FloatForward(model)


@pytest.mark.parametrize("batch", [1, 100])
@pytest.mark.parametrize("path", ["pybitnet-float-input", "pybitnet-uint8", "pybitnet-uint8-bitplanes",
                                  "numpy-float32"])
def test_bnn_mlp_inference(benchmark, models, path, batch):
    use_threads(1)
    inf, ref = models
    px = np.random.default_rng(1).integers(0, 256, (batch, 784), dtype=np.uint8)
    x = pybitnet.data.scale_pm1(px)
    fn = {"pybitnet-float-input": lambda: inf.logits(x), "pybitnet-uint8": lambda: inf.logits(px),
          "pybitnet-uint8-bitplanes": lambda: inf.logits(px, uint8_path="bitplanes"),
          "numpy-float32": lambda: ref(x)}[path]
    benchmark(fn)


@pytest.fixture(scope="module")
def cnn_models():
    from .cnn_inference import build

    return build()


@pytest.mark.parametrize("batch", [1, 100])
@pytest.mark.parametrize("path", ["pybitnet-packed", "numpy-float32"])
def test_bnn_cifar_cnn_inference(benchmark, cnn_models, path, batch):
    use_threads(1)
    model, ref = cnn_models
    x = np.random.default_rng(1).uniform(-1, 1, (batch, 32, 32, 3)).astype(np.float32)
    benchmark(model.logits if path == "pybitnet-packed" else ref, x)
