"""asv benchmarks of quantized back-propagation: the shift-add weight gradient
``shift_matmul(codes, g)`` beside numpy's float32 ``x.T @ g`` (OpenBLAS) at the
same shapes and thread count, and the multiplications one QBP dense-layer
training step does vs its float baseline.

Shapes are (M, K, N) = (batch, inputs, outputs); codes come from
``quantize_pow2`` of standard-normal inputs (unclipped: ~35 distinct codes).
"""
import numpy as np

import pybitnet

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # numpy then uses its default thread count
    threadpool_limits = None

SHAPES = [(100, 1024, 1024), (100, 4096, 4096)]


def operands(m, k, n, seed=0):
    r = np.random.default_rng(seed)
    x = r.standard_normal((m, k)).astype(np.float32)
    g = r.standard_normal((m, n)).astype(np.float32)
    codes = pybitnet.quantize_pow2(x, seed=seed)
    return codes, pybitnet.dequantize_pow2(codes), g


class ShiftMatmul:
    params = (SHAPES, [1, 2])
    param_names = ["shape", "threads"]
    timeout = 300

    def setup(self, shape, threads):
        self.codes, self.xq, self.g = operands(*shape)
        self._old = pybitnet.get_num_threads()
        pybitnet.set_num_threads(threads)
        self._limits = threadpool_limits(threads) if threadpool_limits else None

    def teardown(self, shape, threads):
        pybitnet.set_num_threads(self._old)
        if self._limits is not None:
            self._limits.unregister()

    def time_numpy_float32(self, shape, threads):
        """The baseline: dequantized input, float32 GEMM."""
        self.xq.T @ self.g

    def time_shift_matmul_float(self, shape, threads):
        pybitnet.shift_matmul(self.codes, self.g)

    def time_shift_matmul_fixed(self, shape, threads):
        pybitnet.shift_matmul(self.codes, self.g, method="fixed")


class Quantize:
    params = [[(100, 1024), (100, 4096)]]
    param_names = ["shape"]

    def setup(self, shape):
        self.x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)

    def time_quantize_pow2_stochastic(self, shape):
        pybitnet.quantize_pow2(self.x, seed=1)

    def time_quantize_pow2_deterministic(self, shape):
        pybitnet.quantize_pow2(self.x, stochastic=False)


class QbpStepMultiplications:
    """Multiplications of one training step of a dense layer (batch, inputs,
    outputs), float backprop vs ternary connect + QBP (see
    ``pybitnet.qbp_dense_step_ops`` for the accounting)."""

    params = [SHAPES]
    param_names = ["shape"]
    unit = "multiplications"

    def track_float_step(self, shape):
        return pybitnet.qbp_dense_step_ops(*shape)["float"].multiplications

    def track_qbp_step(self, shape):
        return pybitnet.qbp_dense_step_ops(*shape)["qbp"].multiplications

    def track_ratio_float_over_qbp(self, shape):
        return pybitnet.qbp_dense_step_ops(*shape)["ratio"]

    track_ratio_float_over_qbp.unit = "x"

    def track_shift_matmul_multiplications(self, shape):
        """Counted by the op counter on a real call: 0."""
        codes, _, g = operands(shape[0], 64, 64)
        with pybitnet.count_ops() as ops:
            pybitnet.shift_matmul(codes, g)
        return ops.multiplications
