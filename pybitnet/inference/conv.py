"""Deprecated: the binary conv kernels' wrappers moved to :mod:`pybitnet.conv_bits`."""
import warnings

from ..conv_bits import *  # noqa: F401,F403
from ..conv_bits import (binary_conv2d, binary_conv2d_threshold, conv_output_size, first_conv2d_threshold,  # noqa: F401
                         im2col, im2col_bits, max_pool2d_bits, pair as _pair)

warnings.warn("pybitnet.inference.conv is deprecated: import from pybitnet.conv_bits", DeprecationWarning,
              stacklevel=2)
