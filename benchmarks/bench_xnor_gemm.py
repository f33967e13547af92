"""asv: xnor_gemm (and its masked variant: ternary activations, e.g. dropout)
beside numpy float32 matmul of the same logical shape, at the environment's ISA
and threads (see common.py); its operation counts."""
import timeit

import pybitnet
from pybitnet import _bitops
from pybitnet.gemm import xnor_gemm_masked_ops, xnor_gemm_ops

from .common import ISA, parse_shape, random_pm, random_ternary, skip_slow_scalar, torch_matmul, use_threads

# 51200x1152x128: a CIFAR-10 conv layer (batch 50, 32x32, 128 -> 128 channels), tall: cut by rows on threads
SHAPES = ["1x4096x4096", "100x4096x4096", "256x4096x4096", "100x1024x1024", "51200x1152x128"]


class XnorGemm:
    """sign(A) @ sign(B).T from packed rows: A (M, K), B (N, K); the baseline is x @ w.T in float32."""

    params = [SHAPES]
    param_names = ["MxKxN"]
    timeout = 300

    def setup(self, shape):
        m, k, n = self.mkn = parse_shape(shape)
        skip_slow_scalar(m * k * n / 64)  # one popcount per 64 bit-MACs
        use_threads()
        self.x, self.w = random_pm((m, k), 1), random_pm((n, k), 2)
        self.a_bits, self.b_bits = pybitnet.pack_signs(self.x), pybitnet.pack_signs(self.w)
        self.t_bits, self.t_mask = pybitnet.pack_ternary(random_ternary((m, k), 3))

    def time_xnor_gemm(self, shape):
        _bitops.xnor_gemm(self.a_bits, self.b_bits, self.mkn[1], ISA)

    def time_xnor_gemm_masked(self, shape):
        """Ternary A (half the activations dropped) x binary B."""
        _bitops.xnor_gemm_masked(self.t_bits, self.b_bits, self.mkn[1], self.t_mask, ISA)

    def time_numpy_float32(self, shape):
        self.x @ self.w.T

    def time_torch_float32(self, shape):
        self._torch = getattr(self, "_torch", None) or torch_matmul(self.x, self.w.T)
        self._torch()

    def track_gops(self, shape):
        """Billions of binary multiply-accumulates per second."""
        m, k, n = self.mkn
        t = min(timeit.repeat(lambda: _bitops.xnor_gemm(self.a_bits, self.b_bits, k, ISA), number=3, repeat=5)) / 3
        return m * n * k / t / 1e9

    track_gops.unit = "G bit-MAC/s"


class XnorGemmCold:
    """One row against 4096x4096 packed weights that come from DRAM (batch-1 inference after other
    work): the tiles read the B rows one after another in that case (a_rows.h, SignRowsOf<true>).
    track_ medians of calls timed alone, each after an untimed flush (pack_signs over 128 MiB); the
    baseline reads the same 2 MiB the same way (numpy's max over them)."""

    timeout = 120

    def setup(self):
        use_threads()
        self.a_bits = pybitnet.pack_signs(random_pm((1, 4096), 1))
        self.b_bits = pybitnet.pack_signs(random_pm((4096, 4096), 2))
        self.flush = random_pm((32 * 1024 * 1024,), 3)

    def _cold_ms(self, fn, reps=21):
        times = []
        for _ in range(reps):
            pybitnet.pack_signs(self.flush)
            t0 = timeit.default_timer()
            fn()
            times.append(timeit.default_timer() - t0)
        return 1e3 * sorted(times)[reps // 2]

    def track_xnor_gemm_1x4096x4096_cold(self):
        return self._cold_ms(lambda: _bitops.xnor_gemm(self.a_bits, self.b_bits, 4096, ISA))

    track_xnor_gemm_1x4096x4096_cold.unit = "ms"

    def track_numpy_read_cold(self):
        return self._cold_ms(lambda: self.b_bits.max())

    track_numpy_read_cold.unit = "ms"


class XnorGemmOps:
    """Operations per call, beside the float GEMM of the same shape."""

    params = [SHAPES]
    param_names = ["MxKxN"]

    def track_multiplications(self, shape):
        return xnor_gemm_ops(*parse_shape(shape)).multiplications

    def track_multiplications_masked(self, shape):
        return xnor_gemm_masked_ops(*parse_shape(shape)).multiplications

    def track_bitwise_masked(self, shape):
        return xnor_gemm_masked_ops(*parse_shape(shape)).bitwise

    def track_multiplications_float32(self, shape):
        return pybitnet.float_gemm_ops(*parse_shape(shape)).multiplications

    def track_popcounts(self, shape):
        return xnor_gemm_ops(*parse_shape(shape)).popcounts

    def track_additions(self, shape):
        return xnor_gemm_ops(*parse_shape(shape)).additions

    def track_additions_float32(self, shape):
        return pybitnet.float_gemm_ops(*parse_shape(shape)).additions

    def track_weight_bytes(self, shape):
        return xnor_gemm_ops(*parse_shape(shape)).weight_bytes

    def track_weight_bytes_float32(self, shape):
        return pybitnet.float_gemm_ops(*parse_shape(shape)).weight_bytes

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

    def setup(self):
        if ISA == "scalar":
            raise NotImplementedError("a threads benchmark: one ISA is enough")  # asv: skipped
        use_threads()
        self.x, self.w = random_pm((256, 1024), 4), random_pm((1024, 1024), 5)
        self.a = pybitnet.pack_signs(random_pm((256, 4096), 1))
        self.b = pybitnet.pack_signs(random_pm((4096, 4096), 2))

    def time_numpy_alone(self):
        self.x @ self.w

    def time_xnor_gemm_alone(self):
        pybitnet.xnor_gemm(self.a, self.b, 4096)

    def time_alternating(self):
        self.x @ self.w
        pybitnet.xnor_gemm(self.a, self.b, 4096)
