"""asv: xnor_gemm per ISA, shape and threads, beside numpy float32 matmul of the same logical shape."""
import numpy as np

import pybitnet
from pybitnet import _bitops
from pybitnet.gemm import xnor_gemm_ops

from .common import ISAS, THREADS, random_pm, require_isa, use_threads

SHAPES = ["1x4096x4096", "100x4096x4096", "256x4096x4096", "100x1024x1024"]


def parse(shape):
    return tuple(int(v) for v in shape.split("x"))


class XnorGemm:
    """sign(A) @ sign(B).T from packed rows: A (M, K), B (N, K)."""

    params = [ISAS, SHAPES, THREADS]
    param_names = ["isa", "MxKxN", "threads"]
    timeout = 300

    def setup(self, isa, shape, threads):
        require_isa(isa)
        use_threads(threads)
        m, k, n = self.mkn = parse(shape)
        self.a_bits = pybitnet.pack_signs(random_pm((m, k), 1))
        self.b_bits = pybitnet.pack_signs(random_pm((n, k), 2))

    def time_xnor_gemm(self, isa, shape, threads):
        _bitops.xnor_gemm(self.a_bits, self.b_bits, self.mkn[1], isa)

    def track_gops(self, isa, shape, threads):
        """Billions of binary multiply-accumulates per second."""
        import timeit

        m, k, n = self.mkn
        t = min(timeit.repeat(lambda: _bitops.xnor_gemm(self.a_bits, self.b_bits, k, isa), number=3, repeat=5)) / 3
        return m * n * k / t / 1e9

    track_gops.unit = "G bit-MAC/s"


class Float32Matmul:
    """The float baseline: numpy float32 x @ w.T of the same logical shape."""

    params = [SHAPES, THREADS]
    param_names = ["MxKxN", "threads"]

    def setup(self, shape, threads):
        use_threads(threads)
        m, k, n = parse(shape)
        self.x = random_pm((m, k), 1)
        self.w = random_pm((n, k), 2)

    def time_numpy_float32(self, shape, threads):
        self.x @ self.w.T


class XnorGemmOps:
    """Operations per call, beside the float GEMM of the same shape."""

    params = [SHAPES]
    param_names = ["MxKxN"]

    def track_multiplications(self, shape):
        return xnor_gemm_ops(*parse(shape)).multiplications

    def track_multiplications_float32(self, shape):
        return pybitnet.float_gemm_ops(*parse(shape)).multiplications

    def track_popcounts(self, shape):
        return xnor_gemm_ops(*parse(shape)).popcounts

    def track_additions(self, shape):
        return xnor_gemm_ops(*parse(shape)).additions

    def track_additions_float32(self, shape):
        return pybitnet.float_gemm_ops(*parse(shape)).additions

    def track_weight_bytes(self, shape):
        return xnor_gemm_ops(*parse(shape)).weight_bytes

    def track_weight_bytes_float32(self, shape):
        return pybitnet.float_gemm_ops(*parse(shape)).weight_bytes

    for _name in list(locals()):
        if _name.startswith("track_"):
            locals()[_name].unit = "bytes" if "bytes" in _name else "ops"


class CountingOverhead:
    """count_ops() off must cost nothing measurable: same call, counting off vs on."""

    def setup(self):
        self.a = pybitnet.pack_signs(random_pm((1, 1024), 1))
        self.b = pybitnet.pack_signs(random_pm((64, 1024), 2))

    def time_xnor_gemm_counting_off(self):
        pybitnet.xnor_gemm(self.a, self.b, 1024)

    def time_xnor_gemm_counting_on(self):
        with pybitnet.count_ops():
            pybitnet.xnor_gemm(self.a, self.b, 1024)


class AlternatingWithNumpy:
    """A user alternating numpy's `x @ w` (OpenBLAS threads) and xnor_gemm (pybitnet's pool)
    on the same threads: time_alternating should stay near the sum of the two alone. pybitnet's
    workers sleep on a futex between jobs (no spin-wait), so they never steal OpenBLAS's cores."""

    params = [THREADS]
    param_names = ["threads"]

    def setup(self, threads):
        use_threads(threads)
        self.x, self.w = random_pm((256, 1024), 4), random_pm((1024, 1024), 5)
        self.a = pybitnet.pack_signs(random_pm((256, 4096), 1))
        self.b = pybitnet.pack_signs(random_pm((4096, 4096), 2))

    def time_numpy_alone(self, threads):
        self.x @ self.w

    def time_xnor_gemm_alone(self, threads):
        pybitnet.xnor_gemm(self.a, self.b, 4096)

    def time_alternating(self, threads):
        self.x @ self.w
        pybitnet.xnor_gemm(self.a, self.b, 4096)
