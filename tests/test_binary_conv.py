"""Binary conv2d (bit-packed im2col) and max-pooling on packed bits against
numpy on ±1 data: odd H, W, C, stride 1/2, padding 0/1, both padding values."""
import numpy as np
import pytest

import pybitnet
from pybitnet.conv_bits import binary_conv2d, im2col_bits, max_pool2d_bits


def pm1(shape, seed):
    return np.where(np.random.default_rng(seed).random(shape) < 0.5, -1.0, 1.0).astype(np.float32)


def conv_ref(x, w, stride, padding, fill):
    """NHWC x (N, H, W, C), w (F, KH, KW, C); spatial padding holds `fill`."""
    n, h, wd, c = x.shape
    f, kh, kw, _ = w.shape
    xp = np.full((n, h + 2 * padding, wd + 2 * padding, c), fill, np.float64)
    xp[:, padding:padding + h, padding:padding + wd] = x
    oh, ow = (h + 2 * padding - kh) // stride + 1, (wd + 2 * padding - kw) // stride + 1
    out = np.zeros((n, oh, ow, f), np.int64)
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, i, j] = np.einsum("nabc,fabc->nf", patch, w).astype(np.int64)
    return out


@pytest.mark.parametrize("h,w,c,f,k", [(5, 7, 3, 4, 3), (9, 6, 65, 5, 3), (4, 4, 64, 3, 1), (7, 5, 130, 2, 2)])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("padding", [0, 1])
@pytest.mark.parametrize("pad_value", ["zero", "one"])
def test_conv_matches_numpy(h, w, c, f, k, stride, padding, pad_value):
    x = pm1((2, h, w, c), seed=h * w + c)
    wt = pm1((f, k, k, c), seed=f + k)
    got = binary_conv2d(pybitnet.pack_signs(x, axis=-1), pybitnet.pack_signs(wt, axis=-1), c, stride=stride,
                        padding=padding, pad_value=pad_value)
    expected = conv_ref(x, wt, stride, padding, 0.0 if pad_value == "zero" else 1.0)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, expected)


def test_one_padding_fuses_with_threshold():
    """With one-padding the conv is a plain XNOR GEMM of the im2col rows, so
    BN + sign fold into xnor_gemm_threshold and give packed NHWC output."""
    c, f = 70, 66
    x = pm1((2, 6, 5, c), 1)
    wt = pm1((f, 3, 3, c), 2)
    xb, wb = pybitnet.pack_signs(x, axis=-1), pybitnet.pack_signs(wt, axis=-1)
    dot = binary_conv2d(xb, wb, c, padding=1, pad_value="one")
    t = np.random.default_rng(0).integers(-20, 20, f).astype(np.int32)
    flip = np.arange(f) % 3 == 0
    cols = im2col_bits(xb, 3, padding=1)
    k_full = 9 * 2 * 64
    # the k_full - 9 c agreeing channel-padding bits add a constant: shift the thresholds by it
    bits = pybitnet.xnor_gemm_threshold(cols, wb.reshape(f, -1), k_full, t + (k_full - 9 * c), flip)
    plus = np.where(flip, dot <= t, dot >= t)
    expected = pybitnet.pack_signs(np.where(plus, 1.0, -1.0).astype(np.float32), axis=-1)
    np.testing.assert_array_equal(bits.reshape(expected.shape), expected)


@pytest.mark.parametrize("h,w,c,size,stride", [(4, 4, 3, 2, None), (7, 5, 65, 2, None), (9, 9, 130, 3, 2),
                                                 (5, 6, 64, 2, 1)])
def test_max_pool_matches_numpy(h, w, c, size, stride):
    x = pm1((3, h, w, c), seed=c)
    x[0] = -1  # an all-negative image: every pooled value -1
    got = max_pool2d_bits(pybitnet.pack_signs(x, axis=-1), size, stride)
    s = stride or size
    oh, ow = (h - size) // s + 1, (w - size) // s + 1
    ref = np.full((3, oh, ow, c), -np.inf, np.float32)
    for dy in range(size):
        for dx in range(size):
            ref = np.maximum(ref, x[:, dy:dy + (oh - 1) * s + 1:s, dx:dx + (ow - 1) * s + 1:s])
    np.testing.assert_array_equal(got, pybitnet.pack_signs(ref, axis=-1))  # padding bits stay zero


def test_bad_arguments():
    xb = pybitnet.pack_signs(pm1((1, 4, 4, 3), 0), axis=-1)
    wb = pybitnet.pack_signs(pm1((2, 3, 3, 3), 1), axis=-1)
    with pytest.raises(TypeError, match="x_bits"):
        binary_conv2d(xb.astype(np.int64), wb, 3)
    with pytest.raises(ValueError, match="words"):
        binary_conv2d(xb, wb, 65)
    with pytest.raises(ValueError, match="pad_value"):
        binary_conv2d(xb, wb, 3, pad_value="two")
    with pytest.raises(ValueError, match="stride"):
        binary_conv2d(xb, wb, 3, stride=0)
    with pytest.raises(ValueError, match="fit"):
        binary_conv2d(np.ascontiguousarray(xb[:, :2, :2]), wb, 3)
    with pytest.raises(ValueError, match="larger"):
        max_pool2d_bits(xb, 5)
