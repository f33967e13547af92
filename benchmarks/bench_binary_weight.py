"""asv benchmarks: multiplication-free weight matmuls beside numpy float32.

Every time_ benchmark of a kernel has a numpy float32 baseline in the same
class, at the environment's ISA and threads (see common.py; pybitnet and BLAS
both limited), so ratios compare like with like. track_ benchmarks report the
multiplications and additions per call of each kernel and of its float baseline.
"""
import numpy as np

import pybitnet
from pybitnet import _bitops, weight_matmul

from .common import ISA, parse_shape, skip_slow_scalar, torch_matmul, use_threads

SHAPES = ["1x4096x4096", "100x1024x1024", "100x4096x4096"]  # M x K x N


def sign_weights(shape):
    m, k, n = parse_shape(shape)
    skip_slow_scalar(m * k * n)
    use_threads()
    rng = np.random.default_rng(0)
    return m, k, n, np.where(rng.random((n, k)) < 0.5, -1.0, 1.0).astype(np.float32)


class BinaryWeightMatmul:
    """x @ sign(W).T, W packed; the baseline is the same product in float32."""

    params = [SHAPES]
    param_names = ["MxKxN"]

    def setup(self, shape):
        self.m, self.k, self.n, self.w = sign_weights(shape)
        self.x = np.random.default_rng(1).standard_normal((self.m, self.k), dtype=np.float32)
        self.bits = pybitnet.pack_signs(self.w)

    def time_binary_weight_matmul(self, shape):
        _bitops.binary_weight_matmul(self.x, self.bits, self.k, isa=ISA)

    def time_numpy_float32(self, shape):
        self.x @ self.w.T

    def time_torch_float32(self, shape):
        self._torch = getattr(self, "_torch", None) or torch_matmul(self.x, self.w.T)
        self._torch()


class BinaryWeightMatmulBias:
    """x @ sign(W).T + bias in one call (the bias added to each thread's rows while they are in
    cache), beside the product followed by numpy's ``y += bias``: 51200x27x128 is the CIFAR-10
    net's first conv at batch 50 (26 MB of output), 100x784x4096 the MLP's first layer."""

    params = [["51200x27x128", "100x784x4096"]]
    param_names = ["MxKxN"]

    def setup(self, shape):
        self.m, self.k, self.n, self.w = sign_weights(shape)
        self.x = np.random.default_rng(1).standard_normal((self.m, self.k), dtype=np.float32)
        self.bits = pybitnet.pack_signs(self.w)
        self.bias = np.random.default_rng(2).standard_normal(self.n, dtype=np.float32)

    def time_with_bias(self, shape):
        _bitops.binary_weight_matmul(self.x, self.bits, self.k, isa=ISA, bias=self.bias)

    def time_bias_after(self, shape):
        y = _bitops.binary_weight_matmul(self.x, self.bits, self.k, isa=ISA)
        y += self.bias


class BinaryWeightMatmulT:
    """g @ sign(W) (the backward pass to the input), from the same packed rows."""

    params = [SHAPES]
    param_names = ["MxKxN"]

    def setup(self, shape):
        self.m, self.k, self.n, self.w = sign_weights(shape)
        self.g = np.random.default_rng(2).standard_normal((self.m, self.n), dtype=np.float32)
        self.bits = pybitnet.pack_signs(self.w)

    def time_binary_weight_matmul_t(self, shape):
        _bitops.binary_weight_matmul_t(self.g, self.bits, self.k, isa=ISA)

    def time_numpy_float32(self, shape):
        self.g @ self.w

    def time_torch_float32(self, shape):
        self._torch = getattr(self, "_torch", None) or torch_matmul(self.g, self.w)
        self._torch()


class TernaryWeightMatmul:
    params = [["100x1024x1024"]]
    param_names = ["MxKxN"]

    def setup(self, shape):
        self.m, self.k, self.n, _ = sign_weights(shape)
        self.t = np.random.default_rng(3).integers(-1, 2, (self.n, self.k)).astype(np.float32)
        self.s, self.nz = pybitnet.pack_ternary(self.t)
        self.x = np.random.default_rng(4).standard_normal((self.m, self.k), dtype=np.float32)
        self.g = np.random.default_rng(5).standard_normal((self.m, self.n), dtype=np.float32)

    def time_ternary_weight_matmul(self, shape):
        _bitops.ternary_weight_matmul(self.x, self.s, self.nz, self.k, isa=ISA)

    def time_ternary_weight_matmul_t(self, shape):
        _bitops.ternary_weight_matmul_t(self.g, self.s, self.nz, self.k, isa=ISA)

    def time_numpy_float32(self, shape):
        self.x @ self.t.T


class CountingOverhead:
    """Counting off costs one thread-local read per call; on, one formula."""

    params = [["1x4096x4096"]]
    param_names = ["MxKxN"]

    def setup(self, shape):
        self.m, self.k, self.n, w = sign_weights(shape)
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
    param_names = ["kernel", "MxKxN"]

    def setup(self, kernel, shape):
        m, k, n = parse_shape(shape)
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


class ConvInputGrad:
    """A BNN conv layer's input gradient (CIFAR-10 net, batch 50): the fused C++ call (each thread whole
    chunks of images: product into its buffer, then col2im) beside the unfused product + col2im_add per
    chunk, and numpy's float32 product (the same g @ W, no scatter) as the float baseline."""

    params = [["50x32x32x128", "50x16x16x256", "50x8x8x512"]]
    param_names = ["NxHxWxC"]
    timeout = 300

    def setup(self, shape):
        if not hasattr(_bitops, "conv_input_grad"):
            raise NotImplementedError("before the fused conv input gradient")
        n, h, w, c = map(int, shape.split("x"))
        skip_slow_scalar(n * h * w * c * 9 * c)
        use_threads()
        rng = np.random.default_rng(0)
        self.shape, self.k, self.chunk = (n, h, w, c), 9 * c, max(1, (4 << 20) // (h * w * 9 * c * 4))
        self.g = rng.standard_normal((n * h * w, c), dtype=np.float32)
        self.w = np.where(rng.random((c, self.k)) < 0.5, -1.0, 1.0).astype(np.float32)
        self.bits = pybitnet.pack_signs(self.w)

    def time_fused(self, shape):
        _bitops.conv_input_grad(self.g, self.bits, None, self.k, 1.0, np.zeros(self.shape, np.float32), 3, 3, 1, 1,
                                1, 1, self.chunk, ISA)

    def time_product_then_col2im(self, shape):
        from pybitnet.conv_bits import col2im_add

        dx = np.zeros(self.shape, np.float32)
        per = self.shape[1] * self.shape[2]
        for i in range(0, self.shape[0], self.chunk):
            cols = _bitops.binary_weight_matmul_t(self.g[i * per:(i + self.chunk) * per], self.bits, self.k, isa=ISA)
            col2im_add(cols, dx[i:i + self.chunk], 3, padding=1)

    def time_numpy_float32(self, shape):
        self.g @ self.w
