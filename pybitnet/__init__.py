"""pybitnet: CPU kernels for neural networks with few multiplications.

Binary (XNOR-popcount) and multiplication-free kernels with run-time ISA
dispatch (scalar / AVX2 / AVX-512), exposed on numpy arrays and DLPack
producers (e.g. PyTorch CPU tensors) without copies.

Kernel core::

    bits = pybitnet.pack_signs(x)                  # signs -> uint64 words, LSB first, 1 = negative
    c = pybitnet.xnor_gemm(a_bits, b_bits, k)      # == sign(A) @ sign(B).T, int32
    c = pybitnet.binary_matmul(a, b)               # == sign(a) @ sign(b), int32

Quantized back-propagation (power-of-two inputs, shift-add weight gradient)::

    codes = pybitnet.quantize_pow2(x, seed=0)      # int8 codes of +-2^e or 0, unbiased
    dw = pybitnet.shift_matmul(codes, delta)       # == dequantize_pow2(codes).T @ delta

Run time::

    pybitnet.isa(), pybitnet.available_isas(), pybitnet.cpu_features()
    pybitnet.set_num_threads(n), pybitnet.get_num_threads()
"""
from ._version import __version__
from .gemm import binary_matmul, xnor_gemm
from .opcount import OpCounts, count_ops, float_gemm_ops
from .packing import pack_signs, unpack_signs
from .qbp import (dequantize_pow2, qbp_dense_step_ops, quantize_pow2, shift_matmul, shift_matmul_fixed_bound,
                  shift_matmul_ops)
from .runtime import (active_kernels, available_isas, build_info, cpu_features, get_num_threads, isa,
                      set_num_threads)

__all__ = [
    "__version__",
    "active_kernels",
    "available_isas",
    "OpCounts",
    "binary_matmul",
    "count_ops",
    "float_gemm_ops",
    "build_info",
    "cpu_features",
    "get_num_threads",
    "isa",
    "pack_signs",
    "set_num_threads",
    "unpack_signs",
    "xnor_gemm",
    "quantize_pow2",
    "dequantize_pow2",
    "shift_matmul",
    "shift_matmul_fixed_bound",
    "shift_matmul_ops",
    "qbp_dense_step_ops",
]
