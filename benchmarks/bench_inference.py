"""asv: end-to-end BNN MLP inference (784-4096-4096-4096-10, input to logits)
with pybitnet's packed InferenceModel, beside the same net's float32 numpy
forward, per batch (ISA and threads: the asv environment; see benchmarks/bnn_inference.py)."""
import pybitnet  # before numpy (see pybitnet/__init__.py)
import numpy as np

from pybitnet.inference import from_trained

from .bnn_inference import FloatForward, build_model
from .common import use_threads

BATCHES = [1, 100]


class BnnMlpInference:
    params = [BATCHES]
    param_names = ["batch"]
    timeout = 600

    def setup_cache(self):
        # asv pickles this: the trained net, not the packed model (its native half is not picklable)
        model = build_model()
        return model, FloatForward(model)

    def setup(self, cache, batch):
        use_threads()
        model, self.ref = cache
        self.inf = from_trained(model, input_scale=2 / 255, input_offset=-1.0)
        self.px = np.random.default_rng(1).integers(0, 256, (batch, 784), dtype=np.uint8)
        self.x = pybitnet.data.scale_pm1(self.px)

    def time_pybitnet_float_input(self, cache, batch):
        self.inf.logits(self.x)

    def time_pybitnet_uint8_adds(self, cache, batch):
        self.inf.logits(self.px)

    def time_pybitnet_uint8_bitplanes(self, cache, batch):
        self.inf.logits(self.px, uint8_path="bitplanes")

    def time_numpy_float32(self, cache, batch):
        self.ref(self.x)

    def track_speedup(self, cache, batch):
        """numpy float32 time / pybitnet time (float input), measured side by side."""
        from pybitnet.bench import median_time

        return median_time(lambda: self.ref(self.x), 5) / median_time(lambda: self.inf.logits(self.x), 5)

    track_speedup.unit = "x"


class ModelMemory:
    """Peak memory of loading and running the 3x4096 MLP at batch 100: the packed
    model file (1 bit per binary weight, thresholds) vs the float32 weights.
    Each benchmark loads only its own model from disk, written by setup_cache."""

    def setup_cache(self):
        import os
        import tempfile

        from pybitnet.inference import export

        model = build_model()
        folder = tempfile.mkdtemp(prefix="pybitnet-bench-")
        packed = os.path.join(folder, "bnn.npz")
        export(model, packed)
        ref = FloatForward(model)
        dense = os.path.join(folder, "float32.npz")
        np.savez(dense, **{f"w{i}": w for i, w in enumerate(ref.w_t)},
                 **{f"a{i}": np.stack(a) for i, a in enumerate(ref.affine)})
        return packed, dense

    def setup(self, cache):
        self.x = np.random.default_rng(1).uniform(-1, 1, (100, 784)).astype(np.float32)

    def peakmem_packed_model(self, cache):
        from pybitnet.inference import load

        load(cache[0]).logits(self.x)

    def peakmem_float32_model(self, cache):
        with np.load(cache[1], allow_pickle=False) as z:
            h = self.x
            n = sum(k.startswith("w") for k in z.files)
            for i in range(n):
                scale, shift = z[f"a{i}"]
                y = h @ z[f"w{i}"] * scale + shift
                h = y if i == n - 1 else np.where(y >= 0, np.float32(1), np.float32(-1))


class BnnCifarCnnInference:
    """The BNN papers' CIFAR-10 CNN (random weights and batch norms, 32x32x3 input
    to logits) as pybitnet's packed CNNModel vs the same net's float32 numpy
    forward (im2col + matmul), per batch (see benchmarks/cnn_inference.py).
    Goal: <= 156 ms at batch 100 on one thread (5x Larq Compute Engine's 780 ms)."""

    params = [BATCHES]
    param_names = ["batch"]
    timeout = 900

    def setup_cache(self):
        from .cnn_inference import build

        return build()

    def setup(self, cache, batch):
        use_threads()
        self.model, self.ref = cache
        self.x = np.random.default_rng(1).uniform(-1, 1, (batch, 32, 32, 3)).astype(np.float32)

    def time_pybitnet_packed(self, cache, batch):
        self.model.logits(self.x)

    def time_numpy_float32(self, cache, batch):
        self.ref(self.x)

    def track_speedup(self, cache, batch):
        """numpy float32 time / pybitnet time, measured side by side."""
        from pybitnet.bench import median_time

        return median_time(lambda: self.ref(self.x), 3) / median_time(lambda: self.model.logits(self.x), 3)

    track_speedup.unit = "x"
