"""Convolution helpers below the layers: binary 2-D convolution and max-pooling
on packed NHWC bits, the first conv layer on real inputs, and the float im2col
that training and the packed engine's first layer share.

Activations are NHWC with the channel axis packed (``pack_signs(x, axis=-1)``:
uint64 (N, H, W, ceil(C/64))), filters (F, KH, KW, C) packed the same way.

Convolution is a bit-packed im2col: each output position's KH x KW x
ceil(C/64) words are gathered into one row (copying packed words, 1/64 of
the floats) and one :func:`~pybitnet.xnor_gemm` against the filter rows gives
every dot product. Channel padding bits are zero in both operands, so they
agree and each adds +1; the exact count is subtracted.

Padding: a ±1 activation cannot hold 0. Spatial padding is filled with +1
(zero words) and, with ``pad_value="zero"`` (the default; what a float conv
with zero padding computes, i.e. what training with zero padding sees), the
padded taps' contribution ``sum_c w[f, tap, c]`` is subtracted per output
position (a correction precomputed from the filters). ``pad_value="one"`` keeps
the +1 padding (train with one-padding to use it); its output is then a plain
per-channel XNOR GEMM, so batch norm + sign can be fused with
:func:`~pybitnet.xnor_gemm_threshold` on the same im2col rows.

Max-pooling of ±1 values is +1 if any input is +1: under the bit contract
(bit 1 = -1) the pooled bit is the AND of the window's bits (the OR of the
positive ones); channels with a `flip` bit take the OR (the min), see
:func:`max_pool2d_bits`. Channel padding bits stay zero.

The first layer of a BNN takes real inputs: :func:`im2col` gathers its
patch rows (NHWC in (kh, kw, c) order as :mod:`pybitnet.nn` trains, or NCHW in
(c, kh, kw) order as ``torch.nn.functional.unfold``), and the weight product of
those rows is :func:`~pybitnet.binary_weight_matmul`;
:func:`first_conv2d_threshold` is a fused alternative straight from NHWC input.

The work is done by C++ kernels (``src/bitops/im2col_bits``,
``maxpool_bits``, ``xnor_gemm_threshold_panels`` and the fused driver in
``bind_conv_bits.cpp``).
"""
from __future__ import annotations

import itertools
from typing import Tuple

import numpy as np

from . import _bitops
from ._arrays import as_array
from .gemm import xnor_gemm, xnor_gemm_threshold_ops
from .opcount import OpCounts, record
from .packing import pack_signs


def pair(v, name) -> Tuple[int, int]:
    """`v` as a pair of ints in [0, 2**30] (an int stands for both); ValueError naming `name`."""
    try:
        if isinstance(v, np.ndarray) and v.ndim == 0:
            v = v[()]
        t = (v, v) if np.isscalar(v) else tuple(itertools.islice(iter(v), 3))  # never materialise a huge iterable
        ok = len(t) == 2 and all(not isinstance(a, (bool, np.bool_, complex, np.complexfloating)) and int(a) == a
                                 and 0 <= a <= 2**30 for a in t)
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise ValueError(f"{name} must be an int in [0, 2**30] or a pair of them, got {v!r}")
    return int(t[0]), int(t[1])


def _check_bits(a, name, ndim):
    a = as_array(a, name)
    if a.dtype != np.uint64:
        raise TypeError(f"{name} must have dtype uint64 (packed signs), got {a.dtype}")
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {a.shape}")
    return a


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def tap_views(a, kernel, stride, out_hw):
    """Views ``a[:, i::sh, j::sw]`` (OH x OW each) of a padded NHWC image `a`, tap by
    tap in (kh, kw) order."""
    (kh, kw), (sh, sw), (oh, ow) = kernel, stride, out_hw
    for i in range(kh):
        for j in range(kw):
            yield a[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]


def _pad(x, padding, value: float):
    """NHWC `x` with `padding` rows and columns of `value` around each image."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    n, h, w, c = x.shape
    xp = np.empty((n, h + 2 * ph, w + 2 * pw, c), x.dtype)
    xp[:, :ph], xp[:, ph + h:], xp[:, :, :pw], xp[:, :, pw + w:] = value, value, value, value
    xp[:, ph:ph + h, pw:pw + w] = x
    return xp


def im2col(x, kernel_size, *, stride=1, padding=0, pad_value: float = 0.0, layout: str = "nhwc") -> np.ndarray:
    """Float patch rows (N * OH * OW, KH * KW * C) of an image batch; the spatial
    padding holds `pad_value`.

    ``layout="nhwc"``: `x` is (N, H, W, C) and a row lists its patch in (kh, kw, c)
    order (:mod:`pybitnet.nn`'s conv layers, whose filters are (F, KH, KW, C)).
    ``layout="nchw"``: `x` is (N, C, H, W) and a row is in (c, kh, kw) order, the
    rows of ``torch.nn.functional.unfold(x, ...).transpose(1, 2)`` (filters
    (F, C, KH, KW), as PyTorch's). Rows follow the output pixels in (n, oh, ow) order.

    The packed engine's first conv multiplies these very rows (same values, same
    order) with :func:`~pybitnet.binary_weight_matmul`, as training does, so its
    float sums are the trained layer's bit for bit.
    """
    if layout not in ("nhwc", "nchw"):
        raise ValueError(f"layout must be 'nhwc' or 'nchw', got {layout!r}")
    kernel, stride, padding = pair(kernel_size, "kernel_size"), pair(stride, "stride"), pair(padding, "padding")
    if layout == "nhwc":
        n, h, w, c = x.shape
    else:
        n, c, h, w = x.shape
    oh, ow = conv_output_size(h, kernel[0], stride[0], padding[0]), conv_output_size(w, kernel[1], stride[1], padding[1])
    if oh < 1 or ow < 1 or min(stride) < 1:
        raise ValueError(f"kernel {kernel[0]}x{kernel[1]} does not fit the padded {h}x{w} input")
    xp = _pad(x if layout == "nhwc" else x.transpose(0, 2, 3, 1), padding, pad_value)  # NHWC, padded
    # Every patch as one read-only view (n, oh, ow, then the row's axes), copied once: in NHWC a
    # patch row's (kw, c) run is contiguous, so numpy copies KW * C floats at a time (the CIFAR-10
    # net's first conv, 50x32x32x3: 2.1 -> 0.6 ms against a copy per tap of C = 3 floats).
    s0, s1, s2, s3 = xp.strides
    (kh, kw), (sh, sw) = kernel, stride
    outer = (n, oh, ow), (s0, sh * s1, sw * s2)
    row = ((kh, kw, c), (s1, s2, s3)) if layout == "nhwc" else ((c, kh, kw), (s3, s1, s2))
    patches = np.lib.stride_tricks.as_strided(xp, outer[0] + row[0], outer[1] + row[1], writeable=False)
    return np.ascontiguousarray(patches).reshape(n * oh * ow, kh * kw * c)


def col2im_add(cols, out, kernel_size, *, stride=1, padding=0) -> np.ndarray:
    """The adjoint of :func:`im2col` (NHWC): ``out`` (N, H, W, C) float32, the input's own size,
    += the scatter of the float rows ``cols`` (N * OH * OW, KH * KW * C) over their taps, in place;
    returns ``out``. Taps that fall in the `padding` are dropped (a conv layer's input gradient comes
    out whole and contiguous: no padded buffer to crop). Tap by tap, so each element sums its terms
    in tap order. A C++ kernel (threaded, GIL released)."""
    kh, kw = pair(kernel_size, "kernel_size")
    sh, sw = pair(stride, "stride")
    ph, pw = pair(padding, "padding")
    return _bitops.col2im_add(as_array(cols, "cols"), as_array(out, "out"), kh, kw, sh, sw, ph, pw)


def maxpool_forward(x, size, *, stride=None) -> np.ndarray:
    """Float max-pooling of NHWC ``x`` (N, H, W, C) float32 over ``size`` windows every ``stride``
    (default: ``size``; windows may overlap), no padding: (N, OH, OW, C). Tap by tap in (kh, kw)
    order with ``np.maximum``'s rule (a NaN propagates, a tie takes the later tap), so the same bits
    as numpy's loop over the taps. One pass; a C++ kernel (threaded, GIL released)."""
    kh, kw = pair(size, "size")
    sh, sw = pair(size if stride is None else stride, "stride")
    return _bitops.maxpool_forward(as_array(x, "x"), kh, kw, sh, sw)


def maxpool_backward(x, y, grad, size, *, stride=None) -> np.ndarray:
    """The gradient of float max-pooling with windows that do not overlap (stride >= size, no
    padding), NHWC: ``grad`` (N, OH, OW, C) at every window position of ``x`` (N, H, W, C) equal to
    the window's maximum ``y`` (ties: all of them), +0 elsewhere. One pass; a C++ kernel (threaded,
    GIL released)."""
    kh, kw = pair(size, "size")
    sh, sw = pair(size if stride is None else stride, "stride")
    return _bitops.maxpool_backward(as_array(x, "x"), as_array(y, "y"), as_array(grad, "grad"), kh, kw, sh, sw)


def im2col_bits(x_bits, kernel_size, *, stride=1, padding=0) -> np.ndarray:
    """Rows (N * OH * OW, KH * KW * words) of packed patches in (kh, kw, word)
    order; padded taps are zero words (+1). A C++ kernel (threaded, GIL released)."""
    x_bits = _check_bits(x_bits, "x_bits", 4)
    kh, kw = pair(kernel_size, "kernel_size")
    sh, sw = pair(stride, "stride")
    ph, pw = pair(padding, "padding")
    if sh == 0 or sw == 0 or kh == 0 or kw == 0:
        raise ValueError("kernel_size and stride must be >= 1")
    return _bitops.im2col_bits(x_bits, kh, kw, sh, sw, ph, pw)


def padded_taps(h: int, w: int, kernel, stride, padding) -> np.ndarray:
    """(OH, OW, KH, KW) bool: which taps of each output position fall in the padding."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    oh, ow = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
    ys = np.arange(oh)[:, None] * sh - ph + np.arange(kh)[None, :]  # (oh, kh) input rows
    xs = np.arange(ow)[:, None] * sw - pw + np.arange(kw)[None, :]
    pad_y = (ys < 0) | (ys >= h)
    pad_x = (xs < 0) | (xs >= w)
    return pad_y[:, None, :, None] | pad_x[None, :, None, :]


def _padding_correction(w_bits, channels, h, w, stride, padding):
    """(OH * OW, F) int32: sum over the padded taps of sum_c w[f, tap, c]."""
    f, kh, kw, _ = w_bits.shape
    neg = np.unpackbits(np.ascontiguousarray(w_bits).view(np.uint8), axis=-1).sum(axis=-1, dtype=np.int64)
    tap_sums = channels - 2 * neg  # (F, kh, kw)
    padded = padded_taps(h, w, (kh, kw), stride, padding)
    corr = np.einsum("abij,fij->abf", padded.astype(np.int64), tap_sums)
    return corr.reshape(-1, f).astype(np.int32)


def binary_conv2d(x_bits, w_bits, channels: int, *, stride=1, padding=0, pad_value: str = "zero") -> np.ndarray:
    """``conv2d(sign(x), sign(w))`` on packed NHWC bits, exactly, as int32.

    Parameters
    ----------
    x_bits : uint64 array (N, H, W, ceil(C/64))
        ``pack_signs(x, axis=-1)`` of NHWC activations.
    w_bits : uint64 array (F, KH, KW, ceil(C/64))
        ``pack_signs(w, axis=-1)`` of (F, KH, KW, C) filters.
    channels : int
        C.
    stride, padding : int or (int, int)
    pad_value : "zero" or "one"
        What the spatial padding holds (see the module docstring): "zero"
        matches a float convolution with zero padding.

    Returns
    -------
    int32 array (N, OH, OW, F), ``OH = (H + 2 pad - KH) // stride + 1``.
    """
    x_bits = _check_bits(x_bits, "x_bits", 4)
    w_bits = _check_bits(w_bits, "w_bits", 4)
    if pad_value not in ("zero", "one"):
        raise ValueError(f"pad_value must be 'zero' or 'one', got {pad_value!r}")
    words = -(-channels // 64)
    if not w_bits.flags.c_contiguous:
        raise ValueError("w_bits must be C-contiguous (pybitnet does not copy large inputs silently); "
                         "pass np.ascontiguousarray(w_bits)")
    if x_bits.shape[3] != words or w_bits.shape[3] != words:
        raise ValueError(f"x_bits and w_bits need ceil(channels/64) = {words} words on their last axis, "
                         f"got shapes {x_bits.shape} and {w_bits.shape}")
    n, h, w, _ = x_bits.shape
    f, kh, kw, _ = w_bits.shape
    stride, padding = pair(stride, "stride"), pair(padding, "padding")
    cols = im2col_bits(x_bits, (kh, kw), stride=stride, padding=padding)
    k_full = kh * kw * words * 64
    dot = xnor_gemm(cols, np.ascontiguousarray(w_bits).reshape(f, kh * kw * words), k_full)
    dot -= k_full - kh * kw * channels  # channel padding bits agree (+1 each)
    oh, ow = conv_output_size(h, kh, stride[0], padding[0]), conv_output_size(w, kw, stride[1], padding[1])
    dot = dot.reshape(n, oh * ow, f)
    if pad_value == "zero" and any(padding):
        dot -= _padding_correction(w_bits, channels, h, w, stride, padding)[None]
    return dot.reshape(n, oh, ow, f)


def binary_conv2d_threshold(x_bits, w_bits, channels: int, thresholds, flip=None, *, stride=1,
                            padding=0, pad_value: str = "one") -> np.ndarray:
    """A fused binary conv layer, packed bits in and out: ``sign`` of the
    thresholded ``conv2d(sign(x), sign(w))``.

    One C++ call: block by block of output pixels, the patches are gathered
    (im2col, in cache) and go through the XNOR-popcount GEMM whose epilogue
    compares each dot product with its channel's threshold (as
    :func:`~pybitnet.xnor_gemm_threshold`): the output bit is -1 where
    ``dot < thresholds[f]`` (``dot > thresholds[f]`` where ``flip[f]``).

    The kernel pads with +1 (``pad_value="one"``). With ``pad_value="zero"``
    (Lasagne's, so the BNN papers' training) the dot products of the output
    pixels whose window reaches into the padding lack the padded taps'
    ``sum_c w[f, tap, c]``; only those border pixels are redone, exactly: their
    packed patches gathered in numpy, one :func:`~pybitnet.xnor_gemm`, the
    per-position correction of :func:`binary_conv2d`, the threshold. The interior
    (all of it but one ring of pixels for a 3x3 'same' conv) stays fused.

    Parameters
    ----------
    x_bits : uint64 array (N, H, W, ceil(C/64)), C-contiguous
    w_bits : uint64 array (F, KH, KW, ceil(C/64)), C-contiguous
    channels : int
        C; the dot products run over ``KH * KW * C`` taps.
    thresholds : int32 array (F,)
    flip : bool array (F,) or None
    stride, padding : int or (int, int)
    pad_value : "one" or "zero"
        What the spatial padding holds.

    Returns
    -------
    uint64 array (N, OH, OW, ceil(F/64)): the next layer's packed input.
    """
    x_bits = _check_bits(x_bits, "x_bits", 4)
    w_bits = _check_bits(w_bits, "w_bits", 4)
    if pad_value not in ("zero", "one"):
        raise ValueError(f"pad_value must be 'zero' or 'one', got {pad_value!r}")
    (sh, sw), (ph, pw) = pair(stride, "stride"), pair(padding, "padding")
    thresholds = as_array(thresholds, "thresholds")
    flip = None if flip is None else as_array(flip, "flip")
    out = _bitops.binary_conv2d_threshold(x_bits, w_bits, channels, thresholds, flip, sh, sw, ph, pw)
    n, oh, ow, _ = out.shape
    f, kh, kw, _ = w_bits.shape
    record("binary_conv2d_threshold", lambda: xnor_gemm_threshold_ops(n * oh * ow, kh * kw * channels, f))
    if pad_value == "zero" and (ph or pw):
        _redo_zero_padded_border(out, x_bits, w_bits, channels, thresholds, flip, (sh, sw), (ph, pw))
    return out


def _redo_zero_padded_border(out, x_bits, w_bits, channels, thresholds, flip, stride, padding) -> None:
    """Overwrite the output pixels of a fused +1-padded conv whose window reaches into the
    padding with the zero-padded layer's exact bits (see binary_conv2d_threshold)."""
    n, h, w, words = x_bits.shape
    f, kh, kw, _ = w_bits.shape
    (sh, sw), (ph, pw) = stride, padding
    _, oh, ow, _ = out.shape
    ys, xs = np.arange(oh) * sh - ph, np.arange(ow) * sw - pw  # top-left input pixel of each window
    edge_y, edge_x = (ys < 0) | (ys + kh > h), (xs < 0) | (xs + kw > w)
    py, px = np.nonzero(edge_y[:, None] | edge_x[None, :])
    if py.size == 0:
        return
    xp = np.zeros((n, h + 2 * ph, w + 2 * pw, words), np.uint64)  # +1 (zero words) in the padding
    xp[:, ph:ph + h, pw:pw + w] = x_bits
    rows_y = (py * sh)[:, None, None] + np.arange(kh)[None, :, None]  # (P, KH, 1), padded coordinates
    rows_x = (px * sw)[:, None, None] + np.arange(kw)[None, None, :]  # (P, 1, KW)
    patches = xp[:, rows_y, rows_x]  # (N, P, KH, KW, words)
    k_full = kh * kw * words * 64
    dot = xnor_gemm(patches.reshape(n * py.size, -1), np.ascontiguousarray(w_bits).reshape(f, -1), k_full)
    dot -= k_full - kh * kw * channels  # channel padding bits agree (+1 each)
    correction = _padding_correction(w_bits, channels, h, w, stride, padding)[py * ow + px]  # (P, F)
    dot = dot.reshape(n, py.size, f) - correction[None]
    flip = np.zeros(f, bool) if flip is None else np.asarray(flip) != 0
    negative = np.where(flip, dot > thresholds, dot < thresholds)
    out[:, py, px] = pack_signs(np.negative(negative.view(np.int8)), axis=-1)


def first_conv2d_threshold(x, w_bits, kernel_size, thresholds, flip=None, *, stride=1, padding=0) -> np.ndarray:
    """A BNN's first conv layer, real inputs to packed signs, in one C++ call.

    ``y = conv2d(x, w)`` of float32 NHWC `x` with ±1 filters (zero padding:
    padded taps are skipped), with additions only: ``y = (P + P) - S`` where P
    sums the inputs at the +1 weights and S all the window's inputs (float32,
    tap order), then compared with float thresholds:
    the output is -1 where ``y < thresholds[f]`` (``y > thresholds[f]`` where
    ``flip[f]``), packed per pixel. No im2col, no float output array.

    Parameters
    ----------
    x : float32 array (N, H, W, C), C-contiguous
    w_bits : uint64 array (F, ceil(KH * KW * C / 64))
        ``pack_signs(w.reshape(F, -1))`` of (F, KH, KW, C) filters.
    kernel_size : int or (int, int)
    thresholds : float32 array (F,)
    flip : bool array (F,) or None
    stride, padding : int or (int, int)

    Returns
    -------
    uint64 array (N, OH, OW, ceil(F/64)).
    """
    kh, kw = pair(kernel_size, "kernel_size")
    (sh, sw), (ph, pw) = pair(stride, "stride"), pair(padding, "padding")
    out = _bitops.first_conv_threshold(as_array(x, "x"), as_array(w_bits, "w_bits"), kh, kw,
                                       as_array(thresholds, "thresholds"),
                                       None if flip is None else as_array(flip, "flip"), sh, sw, ph, pw)
    n, oh, ow, _ = out.shape
    f, c = np.shape(w_bits)[0], np.shape(x)[3]
    # Per pixel: a (masked) addition per filter and tap, the tap sum, P + P - S per filter; one compare.
    record("first_conv_threshold", lambda: OpCounts(additions=n * oh * ow * (kh * kw * c * (f + 1) + 3 * f),
                                                    weight_bytes=int(np.asarray(w_bits).nbytes)))
    return out


def max_pool2d_bits(x_bits, size=2, stride=None, flip=None) -> np.ndarray:
    """Max-pooling of packed ±1 NHWC activations (no padding): the AND of the
    window's bits (a pooled value is -1 only if the whole window is -1).

    Parameters
    ----------
    x_bits : uint64 array (N, H, W, words), C-contiguous
    size, stride : int or (int, int)
        stride defaults to size.
    flip : bool array (C,) or None
        Channels pooled by the OR instead (the min of ±1). The sign after a
        decreasing batch norm (negative gamma) of a max is the min of the
        signs, so with this mask the pool can come after a fused threshold
        layer although training pools before batch norm.

    Returns uint64 (N, OH, OW, words), ``OH = (H - size) // stride + 1``.
    """
    x_bits = _check_bits(x_bits, "x_bits", 4)
    kh, kw = pair(size, "size")
    sh, sw = pair(stride if stride is not None else (kh, kw), "stride")
    if min(kh, kw, sh, sw) < 1:
        raise ValueError("size and stride must be >= 1")
    n, h, w, words = x_bits.shape
    if kh > h or kw > w:
        raise ValueError(f"pool window {kh}x{kw} larger than the {h}x{w} input")
    out = _bitops.maxpool_bits(x_bits, kh, kw, sh, sw, None if flip is None else as_array(flip, "flip"))
    record("maxpool_bits", lambda: OpCounts(bitwise=out.size * (kh * kw - 1)))
    return out
