"""Inference for trained BNNs on packed kernels only: batch norm folded into the
kernels' epilogues, one engine for MLPs and CNNs, packed model files. See
docs/INFERENCE.md.

- :func:`from_trained` (a :mod:`pybitnet.nn` model), :func:`from_torch` (a PyTorch
  model of :mod:`pybitnet.torch` modules) -> a :class:`Model`
  (:class:`InferenceModel` for an MLP, :class:`CNNModel` for a CNN), which
  reproduces the trained model's predictions exactly;
- :func:`export` / :func:`load`: packed files (format table :data:`FORMATS`);
- the layers (:mod:`.layers`) and the folding (:mod:`.fold`), to build a model by hand.
"""
from ..conv_bits import binary_conv2d, binary_conv2d_threshold, im2col_bits, max_pool2d_bits
from ..first_layer import bitplane_matmul, pack_bit_planes, weight_row_sums
from .._errors import InvalidModelFile
from .convert import from_torch, from_trained
from .engine import CNNModel, InferenceModel, Model
from .fold import bn_eval, float_thresholds, fold_bn_affine, fold_bn_sign, fold_bn_sign_float, int_thresholds
from .io import FORMAT, FORMATS, VERSION, export, load
from .layers import Affine, FloatThreshold, MaxPool, PackedConv, PackedDense, RealConv, RealDense, Threshold

__all__ = ["Affine", "CNNModel", "FORMAT", "FORMATS", "FloatThreshold", "InferenceModel", "InvalidModelFile",
           "MaxPool", "Model", "PackedConv", "PackedDense", "RealConv", "RealDense", "Threshold", "VERSION",
           "binary_conv2d", "binary_conv2d_threshold", "bitplane_matmul", "bn_eval", "export", "float_thresholds",
           "fold_bn_affine", "fold_bn_sign", "fold_bn_sign_float", "from_torch", "from_trained", "im2col_bits",
           "int_thresholds", "load", "max_pool2d_bits", "pack_bit_planes", "weight_row_sums"]


def __getattr__(name):
    if name in ("PackedLayer", "ConvLayer"):  # pybitnet 0.1's stringly typed layers
        from . import cnn, model
        return getattr(model if name == "PackedLayer" else cnn, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
