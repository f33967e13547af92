"""asv benchmarks: multiplication-free weight matmuls beside numpy float32.

Every time_ benchmark of a kernel has a numpy float32 baseline in the same
class, run at the same thread count (pybitnet and BLAS both limited), so
ratios compare like with like. track_ benchmarks report the multiplications
and additions per call of each kernel and of its float baseline.
"""
import numpy as np

import pybitnet
from pybitnet import _bitops, weight_matmul

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

ISAS = ["avx512", "avx2", "scalar"]
SHAPES = ["1x4096x4096", "100x1024x1024", "100x4096x4096"]  # M x K x N
THREADS = [1, 2]


def parse(shape):
    return tuple(int(v) for v in shape.split("x"))


def prepare(isa, shape, threads):
    if isa not in pybitnet.available_isas():
        raise NotImplementedError(f"{isa} not available on this CPU")  # asv: skipped
    m, k, n = parse(shape)
    if isa == "scalar" and m * k * n > 1e8:
        raise NotImplementedError("the scalar reference takes seconds here")
    pybitnet.set_num_threads(threads)
    limiter = threadpool_limits(threads) if threadpool_limits is not None else None
    rng = np.random.default_rng(0)
    w = np.where(rng.random((n, k)) < 0.5, -1.0, 1.0).astype(np.float32)
    return m, k, n, w, limiter


class BinaryWeightMatmul:
    params = (ISAS, SHAPES, THREADS)
    param_names = ["isa", "shape", "threads"]

    def setup(self, isa, shape, threads):
        self.m, self.k, self.n, self.w, self._limiter = prepare(isa, shape, threads)
        self.x = np.random.default_rng(1).standard_normal((self.m, self.k), dtype=np.float32)
        self.bits = pybitnet.pack_signs(self.w)

    def time_binary_weight_matmul(self, isa, shape, threads):
        _bitops.binary_weight_matmul(self.x, self.bits, self.k, isa=isa)

    def time_numpy_float32(self, isa, shape, threads):
        self.x @ self.w.T


class BinaryWeightMatmulT:
    params = (ISAS, SHAPES, THREADS)
    param_names = ["isa", "shape", "threads"]

    def setup(self, isa, shape, threads):
        self.m, self.k, self.n, self.w, self._limiter = prepare(isa, shape, threads)
        self.g = np.random.default_rng(2).standard_normal((self.m, self.n), dtype=np.float32)
        self.bits = pybitnet.pack_signs(self.w)

    def time_binary_weight_matmul_t(self, isa, shape, threads):
        _bitops.binary_weight_matmul_t(self.g, self.bits, self.k, isa=isa)

    def time_numpy_float32(self, isa, shape, threads):
        self.g @ self.w


class TernaryWeightMatmul:
    params = (["avx512", "avx2"], ["100x1024x1024"], [1])
    param_names = ["isa", "shape", "threads"]

    def setup(self, isa, shape, threads):
        self.m, self.k, self.n, w, self._limiter = prepare(isa, shape, threads)
        self.t = np.random.default_rng(3).integers(-1, 2, (self.n, self.k)).astype(np.float32)
        self.s, self.nz = pybitnet.pack_ternary(self.t)
        self.x = np.random.default_rng(4).standard_normal((self.m, self.k), dtype=np.float32)
        self.g = np.random.default_rng(5).standard_normal((self.m, self.n), dtype=np.float32)

    def time_ternary_weight_matmul(self, isa, shape, threads):
        _bitops.ternary_weight_matmul(self.x, self.s, self.nz, self.k, isa=isa)

    def time_ternary_weight_matmul_t(self, isa, shape, threads):
        _bitops.ternary_weight_matmul_t(self.g, self.s, self.nz, self.k, isa=isa)

    def time_numpy_float32(self, isa, shape, threads):
        self.x @ self.t.T


class CountingOverhead:
    """Counting off costs one thread-local read per call; on, one formula."""

    params = ["1x4096x4096"]
    param_names = ["shape"]

    def setup(self, shape):
        self.m, self.k, self.n, w, self._limiter = prepare(pybitnet.isa(), shape, 1)
        self.x = np.random.default_rng(1).standard_normal((self.m, self.k), dtype=np.float32)
        self.bits = pybitnet.pack_signs(w)

    def time_counting_off(self, shape):
        pybitnet.binary_weight_matmul(self.x, self.bits, self.k)

    def time_counting_on(self, shape):
        with pybitnet.count_ops():
            pybitnet.binary_weight_matmul(self.x, self.bits, self.k)


class OpCounts:
    """Multiplications and additions per call, kernel vs float baseline (50% zero ternary weights)."""

    params = (["binary_weight_matmul", "binary_weight_matmul_t", "ternary_weight_matmul", "float32_gemm"],
              SHAPES)
    param_names = ["kernel", "shape"]

    def setup(self, kernel, shape):
        m, k, n = parse(shape)
        if kernel.startswith("binary"):
            self.counts = weight_matmul.binary_weight_matmul_ops(m, k, n)
        elif kernel.startswith("ternary"):
            nz = np.zeros((n, -(-k // 64)), np.uint64)
            nz[:, : k // 128] = np.uint64(2**64 - 1)  # half of the weights nonzero
            self.counts = weight_matmul.ternary_weight_matmul_ops(m, k, nz)
        else:
            self.counts = pybitnet.float_gemm_ops(m, k, n)

    def track_multiplications(self, kernel, shape):
        return self.counts.multiplications

    def track_additions(self, kernel, shape):
        return self.counts.additions

    track_multiplications.unit = "multiplications"
    track_additions.unit = "additions"
