"""pybitnet.nn: modules with explicit forward/backward for BinaryConnect,
ternary connect (+ quantized back-propagation) and BNNs, on pybitnet's kernels."""
from .activations import Dropout, HardTanh, ReLU, SteSign, ste_sign
from .dense import BinarizedDense, BinaryDense, Dense, TernaryDense, glorot_lr_scale, glorot_w0
from .losses import SoftmaxCrossEntropy, SquaredHinge
from .module import Module, Parameter, Sequential
from .norm import BatchNorm, ShiftBatchNorm, ap2, recompute_statistics

__all__ = ["BatchNorm", "BinarizedDense", "BinaryDense", "Dense", "Dropout", "HardTanh", "Module", "Parameter",
           "ReLU", "Sequential", "ShiftBatchNorm", "SoftmaxCrossEntropy", "SquaredHinge", "SteSign",
           "TernaryDense", "ap2", "recompute_statistics", "glorot_lr_scale", "glorot_w0", "ste_sign"]
