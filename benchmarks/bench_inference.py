"""asv: end-to-end BNN MLP inference (784-4096-4096-4096-10, input to logits)
with pybitnet's packed InferenceModel, beside the same net's float32 numpy
forward, per batch and thread count (see benchmarks/bnn_inference.py)."""
import pybitnet  # before numpy (see pybitnet/__init__.py)
import numpy as np

from pybitnet.inference import from_trained

from .bnn_inference import FloatForward, build_model
from .common import THREADS, use_threads

BATCHES = [1, 100]


class BnnMlpInference:
    params = [BATCHES, THREADS]
    param_names = ["batch", "threads"]
    timeout = 600

    def setup_cache(self):
        model = build_model()
        return from_trained(model, input_scale=2 / 255, input_offset=-1.0), FloatForward(model)

    def setup(self, cache, batch, threads):
        use_threads(threads)
        self.inf, self.ref = cache
        self.px = np.random.default_rng(1).integers(0, 256, (batch, 784), dtype=np.uint8)
        self.x = pybitnet.data.scale_pm1(self.px)

    def time_pybitnet_float_input(self, cache, batch, threads):
        self.inf.logits(self.x)

    def time_pybitnet_uint8_bitplanes(self, cache, batch, threads):
        self.inf.logits(self.px)

    def time_numpy_float32(self, cache, batch, threads):
        self.ref(self.x)

    def track_speedup(self, cache, batch, threads):
        """numpy float32 time / pybitnet time (float input), measured side by side."""
        from .bnn_inference import median_time

        return median_time(lambda: self.ref(self.x), 5) / median_time(lambda: self.inf.logits(self.x), 5)

    track_speedup.unit = "x"
