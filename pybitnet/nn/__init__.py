"""pybitnet.nn: modules with explicit forward/backward for BinaryConnect,
ternary connect (+ quantized back-propagation) and BNNs, on pybitnet's kernels."""
from .activations import Dropout, HardTanh, ReLU, SteSign, ste_sign
from .conv import BinarizedConv2D, BinaryConv2D, Conv2D, Flatten, MaxPool2D
from .dense import BinarizedDense, BinaryDense, Dense, TernaryDense, glorot_lr_scale, glorot_w0
from .losses import SoftmaxCrossEntropy, SquaredHinge
from .module import Module, Parameter, Sequential
from .norm import BatchNorm, ShiftBatchNorm, ap2, recompute_statistics
from .quantizers import SignWeights, TernaryWeights, WeightQuantizer, sign_weights, ternary_weights

__all__ = ["BatchNorm", "BinarizedConv2D", "BinarizedDense", "BinaryConv2D", "BinaryDense", "Conv2D", "Dense",
           "Dropout", "Flatten", "HardTanh", "MaxPool2D", "Module", "Parameter",
           "ReLU", "Sequential", "ShiftBatchNorm", "SoftmaxCrossEntropy", "SquaredHinge", "SteSign",
           "TernaryDense", "ap2", "recompute_statistics", "glorot_lr_scale", "glorot_w0", "ste_sign",
           "SignWeights", "TernaryWeights", "WeightQuantizer", "sign_weights", "ternary_weights"]
