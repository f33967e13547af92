"""Deprecated: pybitnet 0.1's CNN engine module. The engine is :mod:`.engine`
(:class:`~.engine.CNNModel` is the CNN case), its layers are typed (:mod:`.layers`)."""
import warnings
from typing import Optional, Sequence

from ..conv_bits import im2col
from . import convert
from .engine import CNNModel  # noqa: F401
from .layers import FloatThreshold, MaxPool, PackedConv, RealConv, Threshold


def from_trained(model, input_shape: Optional[Sequence[int]] = None):
    """pybitnet 0.1's ``cnn.from_trained(model, input_shape)``: :func:`pybitnet.inference.from_trained`."""
    return convert.from_trained(model, input_shape=input_shape)


def ConvLayer(kind, in_channels, kernel_size, stride, padding, pad_value, weight_bits, a, b, pool=None):
    """pybitnet 0.1's conv layer ("float_threshold": the first, NHWC; "threshold"): the typed layer."""
    pool = None if pool is None else MaxPool(tuple(pool[:2]), tuple(pool[2:]))
    if kind == "float_threshold":
        return RealConv(weight_bits, in_channels, tuple(kernel_size), tuple(stride), tuple(padding), "nhwc",
                        FloatThreshold(a, b), pool)
    return PackedConv(weight_bits, in_channels, tuple(stride), tuple(padding), pad_value, Threshold(a, b), pool)


def float_im2col(x, kernel_size, stride, padding, pad_value: float = 0.0):
    """Float NHWC patch rows in (kh, kw, c) order: :func:`pybitnet.conv_bits.im2col`."""
    return im2col(x, kernel_size, stride=stride, padding=padding, pad_value=pad_value)


warnings.warn("pybitnet.inference.cnn is deprecated: use pybitnet.inference (CNNModel, from_trained) and "
              "pybitnet.inference.layers", DeprecationWarning, stacklevel=2)
