"""pybitnet: CPU kernels for neural networks with few multiplications.

Binary (XNOR-popcount) and multiplication-free kernels with run-time ISA
dispatch (scalar / AVX2 / AVX-512), exposed on numpy arrays and DLPack
producers (e.g. PyTorch CPU tensors) without copies. One convention for all
array functions (``pybitnet._interop``): tensors in -> tensors out (numpy
otherwise); packed bits may be uint64 or int64 words (the same bits; tensors
get int64 back, as ``torch.ops.pybitnet`` returns); non-contiguous inputs are
refused with a hint for their framework, never copied.

Kernel core::

    bits = pybitnet.pack_signs(x)                  # signs -> uint64 words, LSB first, 1 = negative
    c = pybitnet.xnor_gemm(a_bits, b_bits, k)      # == sign(A) @ sign(B).T, int32
    c = pybitnet.binary_matmul(a, b)               # == sign(a) @ sign(b), int32

Multiplication-free weight products (BinaryConnect / ternary connect)::

    y = pybitnet.binary_weight_matmul(x, w_bits, k)   # == x @ sign(W).T, float32
    z = pybitnet.binary_weight_matmul_t(g, w_bits, k) # == g @ sign(W)
    s, nz = pybitnet.pack_ternary(t)                  # t in {-1, 0, +1}
    y = pybitnet.ternary_weight_matmul(x, s, nz, k)   # == x @ t.T
    w_bits = pybitnet.binarize(w, stochastic=True, seed=0)  # sampled, reproducible
    s, nz = pybitnet.ternarize(w, seed=0)

Data sets and preprocessing: the ``pybitnet.data`` subpackage (MNIST, Fashion-MNIST,
CIFAR-10, SVHN loaders; GCN, ZCA, +-1 targets), imported when first used.
Quantized back-propagation (power-of-two inputs, shift-add weight gradient)::

    codes = pybitnet.quantize_pow2(x, seed=0)      # int8 codes of +-2^e or 0, unbiased
    dw = pybitnet.shift_matmul(codes, delta)       # == dequantize_pow2(codes).T @ delta

PyTorch (optional, ``pip install pybitnet[torch]``): ``pybitnet.torch`` registers the kernels as
``torch.ops.pybitnet.*`` custom ops (fake tensors, autograd, zero-copy) and provides
``BinaryLinear``, ``TernaryLinear``, ``BinarizedLinear``, ``BinaryConv2d``. Data-parallel
training: ``mpiexec -n N pybitnet train ...`` (``pybitnet.distributed``). See docs/FRAMEWORKS.md.

Run time::

    pybitnet.isa(), pybitnet.available_isas(), pybitnet.cpu_features()
    pybitnet.active_kernels(), pybitnet.variants(), pybitnet.kernel_calls()
    pybitnet.set_num_threads(n), pybitnet.get_num_threads()
"""
import os as _os
import sys as _sys

if "numpy" not in _sys.modules and _os.environ.get("PYBITNET_OPENBLAS_SPIN") != "keep":
    # numpy's OpenBLAS workers spin (calling sched_yield) for ~2**28 cycles after every
    # call; on a 2-core machine that holds the core pybitnet's second thread needs, so
    # alternating `x @ w` and pybitnet calls halved pybitnet's speed. A short spin makes
    # them sleep at once. Only possible before numpy loads OpenBLAS; opt out with
    # PYBITNET_OPENBLAS_SPIN=keep. See docs/KERNELS.md, "Threads".
    _os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

# PyTorch's OpenMP workers spin after every parallel region by default and can hold the cores
# pybitnet's pool needs: on a 2-core AMD EPYC VM shared with other CPU-bound jobs, a BNN training
# step through pybitnet.torch was 5-12x slower (medians; single runs up to 70x) with torch imported
# first. Idle, it is the other way round: torch first was 1.7x faster at width 512, equal at 2048
# (docs/FRAMEWORKS.md; scripts/import_order_check.py measures a machine).
# Passive waiting avoids it; libgomp reads this once, when torch is imported, so it applies only
# if pybitnet is imported first. Opt out with PYBITNET_OMP_SPIN=keep.
_OMP_PASSIVE = "torch" not in _sys.modules and _os.environ.get("PYBITNET_OMP_SPIN") != "keep"
if _OMP_PASSIVE:
    _os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from ._errors import InvalidModelFile, NonFiniteUpdate
from ._version import __version__
from .gemm import binary_matmul, xnor_gemm, xnor_gemm_threshold
from .opcount import OpCounts, count_ops, float_gemm_ops
from .packing import pack_signs, unpack_signs
from .weight_matmul import (binary_weight_matmul, binary_weight_matmul_t, pack_ternary, ternary_weight_matmul,
                            ternary_weight_matmul_t)
from .sampling import binarize, dropout, ternarize
from .qbp import (dequantize_pow2, qbp_dense_step_ops, quantize_pow2, shift_matmul, shift_matmul_fixed_bound,
                  shift_matmul_ops)
from .runtime import (active_kernels, available_isas, build_info, cpu_features, get_num_threads, isa,
                      kernel_calls, memory_cache_stats, release_memory, reuse_memory, select_variant,
                      reset_thread_plans, set_num_threads, thread_plans, variants)
from .summarize import summarize as summary

__all__ = [
    "__version__",
    "active_kernels",
    "available_isas",
    "binarize",
    "binary_matmul",
    "binary_weight_matmul",
    "binary_weight_matmul_t",
    "build_info",
    "count_ops",
    "cpu_features",
    "data",
    "dequantize_pow2",
    "dropout",
    "float_gemm_ops",
    "get_num_threads",
    "InvalidModelFile",
    "NonFiniteUpdate",
    "isa",
    "kernel_calls",
    "OpCounts",
    "pack_signs",
    "pack_ternary",
    "qbp_dense_step_ops",
    "quantize_pow2",
    "select_variant",
    "set_num_threads",
    "thread_plans",
    "reset_thread_plans",
    "reuse_memory",
    "release_memory",
    "memory_cache_stats",
    "shift_matmul",
    "shift_matmul_fixed_bound",
    "shift_matmul_ops",
    "summary",
    "ternarize",
    "ternary_weight_matmul",
    "ternary_weight_matmul_t",
    "unpack_signs",
    "variants",
    "xnor_gemm",
    "xnor_gemm_threshold",
]


def __getattr__(name):
    # pybitnet.data (loaders, urllib for downloads, scipy for SVHN) loads on first use, not with pybitnet
    if name == "data":
        import importlib
        return importlib.import_module(".data", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
