"""One call of each kernel op of the registry, for the tests and benchmarks that
run every variant (tests/test_variants.py, benchmarks/bench_variants.py).

``case(op, m, n, k, seed)`` builds the operands of a call of `op` at shape (m, n, k)
(what m, n and k are per op: src/bitops/ops.inc) and returns ``run(isa)``, which
makes the call through the private binding forced to `isa`, an ISA or a variant
name (pybitnet.variants()), and returns its result.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from . import _bitops
from .packing import pack_signs

WEIGHT_MATMULS = ("binary_weight_matmul", "binary_weight_matmul_t", "ternary_weight_matmul", "ternary_weight_matmul_t")


def case(op: str, m: int, n: int, k: int, seed: int = 0) -> Optional[Callable[[str], object]]:
    """``run(isa)`` for one call of `op` at shape (m, n, k); None for the ops that
    are not reached through an ``isa`` argument (the samplers)."""
    rng = np.random.default_rng(seed)

    def f32(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    def bits(rows, cols):
        return pack_signs(f32(rows, cols))

    if op == "pack_signs":
        x = f32(m, k, n)
        return lambda isa: _bitops.pack_signs(x, 1, isa)
    if op == "pack_scaled_ternary":  # m rows of k values ±0.5 or 0 (a quarter dropped)
        x = np.where(rng.random((m, k)) < 0.25, 0, np.where(rng.random((m, k)) < 0.5, -0.5, 0.5)).astype(np.float32)

        def run(isa):
            signs, nonzero, s, flags = _bitops.pack_scaled_ternary(x, isa)
            return np.concatenate([signs.ravel(), nonzero.ravel(), [np.uint64(flags), np.float64(s).view(np.uint64)]])
        return run
    if op == "pack_bit_planes":  # m rows of k uint8 pixels
        px = rng.integers(0, 256, (m, k), dtype=np.uint8)
        return lambda isa: _bitops.pack_bit_planes(px, isa)
    # m pixel rows of k uint8 pixels against n weight rows (the bit-plane first layer; bitplane_bytes:
    # from the pixel bytes, the route an ISA without vector popcount takes)
    if op in ("bitplane_combine", "bitplane_bytes"):
        px, w = rng.integers(0, 256, (m, k), dtype=np.uint8), bits(n, k)
        from .first_layer import weight_row_sums
        planes, sums = _bitops.pack_bit_planes(px), weight_row_sums(w, k).astype(np.int32)
        return lambda isa: _bitops.bitplane_matmul(planes, w, k, sums, isa)
    if op in ("xnor_gemm", "xnor_gemm_masked", "xnor_gemm_threshold", "xnor_gemm_threshold_panels"):
        a, b = bits(m, k), bits(n, k)
        if op == "xnor_gemm":
            return lambda isa: _bitops.xnor_gemm(a, b, k, isa)
        if op == "xnor_gemm_masked":
            mask = bits(m, k)
            return lambda isa: _bitops.xnor_gemm_masked(a & mask, b, k, mask, isa)
        t, flip = rng.integers(-k, k + 1, n).astype(np.int32), rng.random(n) < 0.5
        return lambda isa: getattr(_bitops, op)(a, b, k, t, flip, isa)
    if op == "int32_affine":  # the float epilogue of an (m, n) XNOR GEMM over 200 bits: scaled, then biased
        a, b, bias = bits(m, 200), bits(n, 200), f32(n)
        return lambda isa: _bitops.xnor_gemm(a, b, 200, isa, scale=-0.37, bias=bias)
    if op in WEIGHT_MATMULS:
        x = f32(m, n if op.endswith("_t") else k)
        if op.startswith("ternary"):
            from .weight_matmul import pack_ternary
            w = pack_ternary(rng.integers(-1, 2, (n, k)).astype(np.int8))
        else:
            w = (bits(n, k),)
        return lambda isa: getattr(_bitops, op)(x, *w, k, isa=isa)
    if op == "uint8_weight_matmul":
        from .first_layer import pixel_panels
        x, panels = rng.integers(0, 256, (m, k), dtype=np.uint8), pixel_panels(bits(n, k), k)
        return lambda isa: _bitops.uint8_weight_matmul(x, panels, n, isa)
    if op in ("im2col_bits", "maxpool_bits"):  # m images of 6 x 7 pixels, k channels, 3x3 (pool: 2x2 / 2)
        x = pack_signs(f32(max(m, 1), 6, 7, max(k, 1)), axis=-1)
        if op == "im2col_bits":
            return lambda isa: _bitops.im2col_bits(x, 3, 3, 1, 1, 1, 1, isa)
        flip = rng.random(max(k, 1)) < 0.5
        return lambda isa: _bitops.maxpool_bits(x, 2, 2, 2, 2, flip, isa)
    if op == "col2im_add":  # m images of 6 x 7 pixels, k channels, 3x3 taps padded by 1: 6 x 7 patch rows
        cols, out0 = f32(max(m, 1) * 6 * 7, 9 * max(k, 1)), f32(max(m, 1), 6, 7, max(k, 1))
        return lambda isa: _bitops.col2im_add(cols, out0.copy(), 3, 3, 1, 1, 1, 1, isa)
    if op == "maxpool_forward":  # m images of 8 x 6 pixels, k channels, 2x2 windows
        x = np.round(f32(max(m, 1), 8, 6, max(k, 1)) * 2)  # ties
        return lambda isa: _bitops.maxpool_forward(x, 2, 2, 2, 2, isa)
    if op == "maxpool_backward":  # m images of 8 x 6 pixels, k channels, 2x2 windows
        x = np.round(f32(max(m, 1), 8, 6, max(k, 1)) * 2)  # ties
        y = x.reshape(max(m, 1), 4, 2, 3, 2, max(k, 1)).max(axis=(2, 4))
        g = f32(*y.shape)
        return lambda isa: _bitops.maxpool_backward(x, y, g, 2, 2, 2, 2, isa)
    if op == "first_conv_threshold":  # m images of 6 x 5 pixels, 3 channels, n filters of 3x3
        x, w, t, flip = f32(max(m, 1), 6, 5, 3), bits(n, 27), f32(n), rng.random(n) < 0.5
        return lambda isa: _bitops.first_conv_threshold(x, w, 3, 3, t, flip, 1, 1, 1, 1, isa)
    if op == "quantize_pow2":
        x = f32(m, k)
        return lambda isa: _bitops.quantize_pow2(x, True, -30, 30, 7, isa)
    if op == "dequantize_pow2":
        codes = rng.integers(-127, 128, (m, k)).astype(np.int8)
        return lambda isa: _bitops.dequantize_pow2(codes, isa)
    if op in ("shift_matmul", "shift_matmul_fixed"):
        codes = _bitops.quantize_pow2(f32(m, k), True, -20, 20, 3, "")
        g, method = f32(m, n), "fixed" if op.endswith("fixed") else "float"
        return lambda isa: _bitops.shift_matmul(codes, g, method, isa)
    if op == "optimizer_step":
        w0, g, m0, v0 = f32(k), f32(k), f32(k), np.abs(f32(k))

        def step(isa):
            w, mm, v = w0.copy(), m0.copy(), v0.copy()
            _bitops.optimizer_step("adam", w, g, mm, v, 0.01, 0.9, 0.999, 1e-8, 1.0, None, isa)
            return np.concatenate([w, mm, v])
        return step
    if op == "batch_norm_train":  # m rows, k channels
        x, gamma, beta = f32(max(m, 1), k) * 3 + 1, f32(k), f32(k)
        return lambda isa: np.concatenate([a.ravel() for a in _bitops.batch_norm_train(x, gamma, beta, 1e-4, None, isa)])
    if op == "batch_norm_backward":
        g, xhat, scale = f32(max(m, 1), k), f32(max(m, 1), k), f32(k)
        return lambda isa: np.concatenate([a.ravel() for a in _bitops.batch_norm_backward(g, xhat, scale, True, isa)])
    if op == "ste_sign":  # k elements (m rows of them)
        x = f32(max(m, 1), k) * 1.5

        def run(isa):
            y, gate = _bitops.ste_sign(x, True, isa)
            return np.concatenate([y.ravel().view(np.uint32).astype(np.uint64), gate])
        return run
    if op == "ste_sign_backward":
        g, gate = f32(max(m, 1), k), _bitops.ste_sign(f32(max(m, 1), k), True, "scalar")[1]
        return lambda isa: _bitops.ste_sign_backward(g, gate, isa)
    if op == "transpose":  # m rows, k columns
        a = f32(max(m, 1), max(k, 1))
        return lambda isa: _bitops.transpose(a, isa)
    if op == "dropout":  # k elements (m rows of them)
        x = f32(max(m, 1), k)
        return lambda isa: np.concatenate([a.ravel() for a in _bitops.dropout(x, 0.3, 5, isa)])
    if op in ("binarize", "ternarize"):
        return None
    raise ValueError(f"no case for op {op!r}: add one to pybitnet/_kernel_cases.py")
