"""Deprecated: the first-layer products moved to :mod:`pybitnet.first_layer`."""
import warnings

from ..first_layer import (bitplane_matmul, pack_bit_planes, pixel_matmul, pixel_matmul_ops,  # noqa: F401
                           pixel_panels, real_matmul, weight_row_sums)

warnings.warn("pybitnet.inference.first_layer is deprecated: import from pybitnet.first_layer",
              DeprecationWarning, stacklevel=2)
