"""pybitnet's kernels as PyTorch operators (``torch.ops.pybitnet.*``).

Importing this module needs torch (``pip install pybitnet[torch]``); nothing is
built against libtorch: each operator is a ``torch.library.custom_op`` whose
CPU implementation views the tensors as numpy arrays (zero-copy on contiguous
CPU tensors, ``Tensor.numpy()`` shares memory) and wraps the kernel's result with
``torch.from_numpy`` (zero-copy again). Every operator has a fake (meta)
implementation so ``torch.compile`` traces through it without a graph break, and
the differentiable ones an autograd formula.

Packed bits are ``torch.int64`` tensors holding the uint64 words of the bit
contract (:func:`pybitnet.pack_signs`): PyTorch's uint64 support is partial, and
the kernels reinterpret the words in place, so nothing is copied. The operators
also take ``torch.uint64`` words (``torch.from_numpy`` of a raw kernel's uint64
array), and the raw kernels (``pybitnet.xnor_gemm`` ...) take these int64 tensors
and return tensors when given tensors: the two APIs' packed bits are the same
(docs/FRAMEWORKS.md, "Mixing the two APIs").

Operators (all CPU)::

    sign(x)                                   # +-1 (0 -> +1); STE: grad * (|x| <= 1)
    pack_signs(x)                             # (..., K) -> (..., ceil(K/64)) int64 words
    binarize(w, stochastic, seed)             # packed +-1 weights (BinaryConnect)
    ternarize(w, stochastic, seed)            # (sign_bits, nonzero_bits)
    xnor_gemm(a_bits, b_bits, k)              # sign(A) @ sign(B).T, int32
    xnor_gemm_masked(a_bits, b_bits, k, mask) # T @ sign(B).T for ternary T = sign(A) where mask, else 0; int32
    xnor_gemm_threshold(a_bits, b_bits, k, thresholds, flip)  # fused layer: packed signs -> packed signs
    binary_weight_matmul(x, w_bits, k)        # x @ sign(W).T     grad x: binary_weight_matmul_t
    binary_weight_matmul_t(g, w_bits, k)      # g @ sign(W)       grad g: binary_weight_matmul
    ternary_weight_matmul(x, s, nz, k)        # x @ T.T           grad x: ternary_weight_matmul_t
    ternary_weight_matmul_t(g, s, nz, k)      # g @ T             grad g: ternary_weight_matmul
    shift_matmul(codes, g)                    # dequantize_pow2(codes).T @ g
    binary_linear(x, weight, w_bits)          # BinaryConnect layer: x @ Wb.T, grads to x and to real W
    ternary_linear(x, weight, s, nz)          # ternary connect layer, same
    binarized_linear(x, weight)               # BNN layer by XNOR-popcount: sign(x) @ sign(W).T, STE

Inputs that are not contiguous are made contiguous (``Tensor.contiguous()``,
which copies only then), as torch's own operators accept any layout: autograd
hands operators expanded or transposed gradients, and refusing them would break
ordinary training loops. (The raw kernels never copy: they refuse such a tensor
and name it, suggesting ``.contiguous()``.)
"""
from .ops import *  # noqa: F401,F403  (registers torch.ops.pybitnet.*)
from .ops import OPS
from .nn import BinarizedLinear, BinaryConv2d, BinaryLinear, Sign, TernaryLinear, clip_weights, forget_packed_weights

__all__ = list(OPS) + ["OPS", "BinarizedLinear", "BinaryConv2d", "BinaryLinear", "Sign", "TernaryLinear",
                       "clip_weights", "forget_packed_weights"]
