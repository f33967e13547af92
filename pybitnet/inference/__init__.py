"""Inference for trained BNNs: batch norm folded into the kernels' epilogues,
packed models on disk (:func:`export` / :func:`load`) and an
:class:`InferenceModel` running only packed kernels. See docs/INFERENCE.md."""
from .cnn import CNNModel, ConvLayer
from .conv import binary_conv2d, binary_conv2d_threshold, im2col_bits, max_pool2d_bits
from .first_layer import bitplane_matmul, pack_bit_planes, weight_row_sums
from .fold import bn_eval, fold_bn_affine, fold_bn_sign, fold_bn_sign_float
from .io import FORMAT, VERSION, InvalidModelFile, export, load
from .model import InferenceModel, PackedLayer, from_trained

__all__ = ["CNNModel", "ConvLayer", "FORMAT", "VERSION", "InferenceModel", "InvalidModelFile", "PackedLayer", "binary_conv2d", "binary_conv2d_threshold",
           "bitplane_matmul", "bn_eval", "export", "fold_bn_affine", "fold_bn_sign", "fold_bn_sign_float",
           "from_trained", "im2col_bits", "load", "max_pool2d_bits", "pack_bit_planes", "weight_row_sums"]
