"""The fused conv input gradient (_bitops.conv_input_grad: product and scatter per chunk of images in
C++) against the unfused path (the transposed weight product per chunk, then col2im_add): the same bits
for binary and ternary filters, any scale, geometry, chunk size, thread count and ISA; its errors."""
import numpy as np
import pytest

import pybitnet
from pybitnet import _bitops
from pybitnet.conv_bits import col2im_add, conv_output_size


def _filters(rng, f, k, ternary):
    w = rng.standard_normal((f, k)).astype(np.float32)
    if not ternary:
        return pybitnet.pack_signs(w), None
    t = np.where(np.abs(w) < 0.5, 0, np.sign(w)).astype(np.int8)
    return pybitnet.pack_ternary(t)


def _unfused(g, signs, nonzero, k, h, shape, kernel, stride, padding, chunk, isa):
    dx = np.zeros(shape, np.float32)
    n = shape[0]
    per_image = g.shape[0] // n
    for i in range(0, n, chunk):
        rows = g[i * per_image:(i + chunk) * per_image]
        if nonzero is None:
            cols = _bitops.binary_weight_matmul_t(rows, signs, k, isa=isa)
        else:
            cols = _bitops.ternary_weight_matmul_t(rows, signs, nonzero, k, isa=isa)
        if h != 1.0:
            cols = cols * np.float32(h)
        col2im_add(cols, dx[i:i + chunk], kernel, stride=stride, padding=padding)
    return dx


@pytest.mark.parametrize("shape, f, kernel, stride, padding, chunk", [
    ((5, 7, 6, 64), 16, (3, 3), (1, 1), (1, 1), 2),    # 42 rows per image: not whole 8-row passes
    ((3, 8, 8, 128), 40, (3, 3), (1, 1), (1, 1), 1),
    ((4, 9, 9, 3), 20, (3, 3), (2, 2), (0, 0), 3),
    ((2, 6, 5, 17), 8, (2, 3), (1, 2), (1, 0), 5),
])
@pytest.mark.parametrize("ternary", [False, True])
@pytest.mark.parametrize("h", [1.0, 0.37])
def test_fused_matches_product_then_col2im(isa, shape, f, kernel, stride, padding, chunk, ternary, h):
    rng = np.random.default_rng(sum(shape) + f)
    n, hh, ww, c = shape
    oh = conv_output_size(hh, kernel[0], stride[0], padding[0])
    ow = conv_output_size(ww, kernel[1], stride[1], padding[1])
    k = kernel[0] * kernel[1] * c
    signs, nonzero = _filters(rng, f, k, ternary)
    g = rng.standard_normal((n * oh * ow, f)).astype(np.float32)
    want = _unfused(g, signs, nonzero, k, h, shape, kernel, stride, padding, chunk, isa)
    for threads in (1, 2, 3):
        old = pybitnet.get_num_threads()
        pybitnet.set_num_threads(threads)
        try:
            got = _bitops.conv_input_grad(g, signs, nonzero, k, h, np.zeros(shape, np.float32), *kernel, *stride,
                                          *padding, chunk, isa)
        finally:
            pybitnet.set_num_threads(old)
        np.testing.assert_array_equal(got.view(np.int32), want.view(np.int32))


def test_errors_name_the_argument():
    rng = np.random.default_rng(0)
    signs, _ = _filters(rng, 8, 9 * 64, False)
    g = np.zeros((2 * 16, 8), np.float32)
    dx = np.zeros((2, 4, 4, 64), np.float32)
    geometry = (3, 3, 1, 1, 1, 1)
    assert _bitops.conv_input_grad(g, signs, None, 9 * 64, 1.0, dx, *geometry, 1) is dx
    with pytest.raises(ValueError, match="g has shape"):
        _bitops.conv_input_grad(g[:-1], signs, None, 9 * 64, 1.0, dx, *geometry, 1)
    with pytest.raises(ValueError, match="k="):
        _bitops.conv_input_grad(g, pybitnet.pack_signs(np.ones((8, 64), np.float32)), None, 64, 1.0, dx, *geometry, 1)
    with pytest.raises((TypeError, ValueError), match="dx"):
        _bitops.conv_input_grad(g, signs, None, 9 * 64, 1.0, dx.astype(np.float64), *geometry, 1)
    with pytest.raises(ValueError, match="writeable"):
        ro = dx.copy()
        ro.flags.writeable = False
        _bitops.conv_input_grad(g, signs, None, 9 * 64, 1.0, ro, *geometry, 1)
    with pytest.raises(ValueError, match="chunk_images"):
        _bitops.conv_input_grad(g, signs, None, 9 * 64, 1.0, dx, *geometry, 0)
    with pytest.raises(ValueError, match="h must be finite"):
        _bitops.conv_input_grad(g, signs, None, 9 * 64, float("nan"), dx, *geometry, 1)
    with pytest.raises((TypeError, ValueError), match="g"):
        _bitops.conv_input_grad(g[:, ::2], signs[::2], None, 9 * 64, 1.0, dx, *geometry, 1)
