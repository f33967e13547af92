"""asv: the quantized weights' gradient fused into their Adam update (``_bitops.weight_grad_update``,
what ``Optimizer(update_in_backward=True)`` runs for a layer with packed ±1 or dropout-ternary inputs)
beside the same work unfused: the transposed product into a dW buffer, then ``optimizer_step`` (and,
for a deterministic binary layer, ``pack_signs`` of the new weights, which the next forward would
otherwise do). Shape: the MNIST BNN's 4096x4096 layer at batch 100. The weights and moments sit where
``Parameter`` and the optimizers put them (2 MiB-aligned blocks on huge pages,
``pybitnet._hugepages``): the update streams them 1.5-1.8x faster than numpy's own arrays."""
import numpy as np

import pybitnet
from pybitnet import _bitops, layout

from .common import use_threads

try:  # the training layer's allocation (older commits: numpy's)
    from pybitnet._hugepages import copy_array, zeros_array
except ImportError:
    def copy_array(a, dtype=None):
        return np.array(a, dtype=dtype, order="C")

    def zeros_array(shape, dtype=np.float32):
        return np.zeros(shape, dtype)

F = K = 4096
N = 100


class WeightGradUpdate:
    params = [["binary", "ternary"]]
    param_names = ["inputs"]
    number, repeat = 1, 9

    def setup(self, inputs):
        use_threads()
        rng = np.random.default_rng(0)
        x = np.sign(rng.standard_normal((N, K))).astype(np.float32)
        if inputs == "ternary":  # dropout's zeros
            x[rng.random((N, K)) < 0.5] = 0
        self.signs = pybitnet.pack_signs(x)
        self.nonzero = pybitnet.pack_signs(-np.abs(x)) if inputs == "ternary" else None
        self.gt = layout.transpose(rng.standard_normal((N, F)).astype(np.float32))
        self.w = copy_array(rng.uniform(-1, 1, (F, K)), np.float32)
        self.m, self.v, self.dw = zeros_array((F, K)), zeros_array((F, K)), zeros_array((F, K))
        self.v[...] = 1e-4
        self.packed = np.empty((F, K // 64), np.uint64)

    def _update(self, g, signs):
        _bitops.optimizer_step("adam", self.w, g, self.m, self.v, 1e-5, 0.9, 0.999, 1e-8, 1.0, 1.0, signs=signs, k=K)

    def time_fused(self, inputs):
        _bitops.weight_grad_update("adam", self.gt, self.signs, self.nonzero, K, self.w, self.m, self.v, 1e-5, 0.9,
                                   0.999, 1e-8, 1.0, 1.0, self.packed)

    def time_unfused(self, inputs):
        if self.nonzero is None:
            pybitnet.binary_weight_matmul_t(self.gt, self.signs, K, out=self.dw)
        else:
            pybitnet.ternary_weight_matmul_t(self.gt, self.signs, self.nonzero, K, out=self.dw)
        self._update(self.dw, None)
        pybitnet.pack_signs(self.w)
