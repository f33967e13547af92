"""asv: quantized back-propagation. The shift-add weight gradient
``shift_matmul(codes, g)`` (= dequantize_pow2(codes).T @ g) per shape at the
environment's ISA and threads (see common.py), beside numpy float32 ``x.T @ g`` on the same threads; and the
multiplications one QBP dense-layer training step does vs its float baseline.

Shapes are M x K x N = batch x inputs x outputs; codes come from
``quantize_pow2`` of standard-normal inputs (unclipped: ~35 distinct codes).
"""
import timeit

import pybitnet
from pybitnet import _bitops

from .common import ISA, parse_shape, random_pm, use_threads

SHAPES = ["100x1024x1024", "100x4096x4096"]


def operands(shape):
    m, k, n = parse_shape(shape)
    codes = pybitnet.quantize_pow2(random_pm((m, k), 1), seed=1)
    return codes, pybitnet.dequantize_pow2(codes), random_pm((m, n), 2)


def best_of(fn, repeat=5):
    return min(timeit.repeat(fn, number=1, repeat=repeat))


class ShiftMatmul:
    """Float and fixed-point variants at the environment's ISA and threads; the
    baseline is numpy float32 of the dequantized input, x.T @ g."""

    params = [SHAPES]
    param_names = ["MxKxN"]
    timeout = 600

    def setup(self, shape):
        if ISA == "scalar" and shape != SHAPES[0]:
            raise NotImplementedError("the scalar reference is too slow for this shape")
        use_threads()
        self.codes, self.xq, self.g = operands(shape)

    def time_shift_matmul_float(self, shape):
        _bitops.shift_matmul(self.codes, self.g, "float", ISA)

    def time_shift_matmul_fixed(self, shape):
        _bitops.shift_matmul(self.codes, self.g, "fixed", ISA)

    def time_numpy_float32(self, shape):
        self.xq.T @ self.g

    def track_ratio_vs_numpy_float(self, shape):
        """numpy float32 time / shift_matmul float time, measured side by side (>= 1 is parity)."""
        numpy_t = best_of(lambda: self.xq.T @ self.g)
        shift_t = best_of(lambda: _bitops.shift_matmul(self.codes, self.g, "float", ISA))
        return numpy_t / shift_t

    track_ratio_vs_numpy_float.unit = "x"


class QuantizePow2:
    params = [["100x1024", "100x4096"]]
    param_names = ["MxK"]

    def setup(self, shape):
        use_threads()
        self.x = random_pm(parse_shape(shape), 3)

    def time_quantize_stochastic(self, shape):
        _bitops.quantize_pow2(self.x, True, None, None, 7, ISA)

    def time_quantize_deterministic(self, shape):
        _bitops.quantize_pow2(self.x, False, None, None, 0, ISA)


class QbpStepMultiplications:
    """One training step of a dense layer (batch x inputs x outputs): float
    backprop vs ternary connect + QBP (``pybitnet.qbp_dense_step_ops`` has the
    accounting: ~3*B*K*N vs ~3*B*N)."""

    params = [SHAPES]
    param_names = ["MxKxN"]
    unit = "multiplications"

    def track_multiplications_float32_step(self, shape):
        return pybitnet.qbp_dense_step_ops(*parse_shape(shape))["float"].multiplications

    def track_multiplications_qbp_step(self, shape):
        return pybitnet.qbp_dense_step_ops(*parse_shape(shape))["qbp"].multiplications

    def track_ratio_float32_over_qbp(self, shape):
        return pybitnet.qbp_dense_step_ops(*parse_shape(shape))["ratio"]

    track_ratio_float32_over_qbp.unit = "x"

    def track_multiplications_counted_shift_matmul(self, shape):
        """What the op counter records for a real shift_matmul call: 0."""
        m, _, n = parse_shape(shape)
        codes = pybitnet.quantize_pow2(random_pm((m, 64), 4), seed=4)
        with pybitnet.count_ops() as ops:
            pybitnet.shift_matmul(codes, random_pm((m, n), 5))
        return ops.multiplications


