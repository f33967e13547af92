"""Deprecated: the PyTorch modules moved to :mod:`pybitnet.torch.nn` (``from pybitnet.torch import ...``)."""
import warnings

from .torch.nn import *  # noqa: F401,F403
from .torch.nn import BinarizedLinear, BinaryConv2d, BinaryLinear, Sign, TernaryLinear, clip_weights  # noqa: F401

warnings.warn("pybitnet.torch_nn is deprecated: import the modules from pybitnet.torch", DeprecationWarning,
              stacklevel=2)
