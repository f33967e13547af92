"""Type stub of the private compiled module (use the public pybitnet API).

Every kernel binding takes `isa`: "" (the active ISA), an ISA name, or a variant
name of the registry (variants()) to force that variant.
"""
from typing import Any

import numpy as np
import numpy.typing as npt

__version__: str
build_flags: str

def isa() -> str: ...
def available_isas() -> list[str]: ...
def cpu_features() -> dict[str, bool]: ...
def isa_names() -> list[str]: ...
def op_names() -> list[str]: ...
def variants() -> list[dict[str, str]]: ...
def select_variant(op: str, m: int, n: int, k: int, isa: str = "") -> str: ...
def shape_classes(isa: str = "") -> dict[str, list[tuple[str, str, str]]]: ...
def kernel_calls() -> dict[str, dict[str, int]]: ...
def get_num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
def split_stats() -> list[dict[str, Any]]: ...
def reset_split_stats() -> None: ...
def default_num_threads() -> int: ...
def pack_signs(x: npt.NDArray[np.generic], axis: int = -1, isa: str = "") -> npt.NDArray[np.uint64]: ...
def pack_scaled_ternary(
    x: npt.NDArray[np.float32], isa: str = ""
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64], float, int]: ...
def pack_bit_planes(x: npt.NDArray[np.uint8], isa: str = "") -> npt.NDArray[np.uint64]: ...
def bitplane_matmul(
    planes: npt.NDArray[np.uint64],
    w_bits: npt.NDArray[np.uint64],
    k: int,
    w_sums: npt.NDArray[np.int32],
    isa: str = "",
) -> npt.NDArray[np.int32]: ...
def xnor_gemm(
    a_bits: npt.NDArray[np.uint64],
    b_bits: npt.NDArray[np.uint64],
    k: int,
    isa: str = "",
    scale: float | None = None,
    bias: npt.NDArray[np.float32] | None = None,
) -> npt.NDArray[np.int32] | npt.NDArray[np.float32]: ...
def xnor_gemm_masked(
    a_bits: npt.NDArray[np.uint64],
    b_bits: npt.NDArray[np.uint64],
    k: int,
    mask: npt.NDArray[np.uint64],
    isa: str = "",
    scale: float | None = None,
    bias: npt.NDArray[np.float32] | None = None,
) -> npt.NDArray[np.int32] | npt.NDArray[np.float32]: ...
def xnor_gemm_threshold(
    a_bits: npt.NDArray[np.uint64],
    b_bits: npt.NDArray[np.uint64],
    k: int,
    thresholds: npt.NDArray[np.int32],
    flip: npt.NDArray[np.bool_],
    isa: str = "",
) -> npt.NDArray[np.uint64]: ...
def xnor_gemm_threshold_panels(
    a_bits: npt.NDArray[np.uint64],
    b_bits: npt.NDArray[np.uint64],
    k: int,
    thresholds: npt.NDArray[np.int32],
    flip: npt.NDArray[np.bool_],
    isa: str = "",
) -> npt.NDArray[np.uint64]: ...
def im2col_bits(
    x_bits: npt.NDArray[np.uint64], kh: int, kw: int, sh: int, sw: int, ph: int, pw: int, isa: str = ""
) -> npt.NDArray[np.uint64]: ...
def transpose(a: npt.NDArray[np.float32], isa: str = "") -> npt.NDArray[np.float32]: ...
def maxpool_forward(
    x: npt.NDArray[np.float32], kh: int, kw: int, sh: int, sw: int, isa: str = ""
) -> npt.NDArray[np.float32]: ...
def maxpool_bits(
    x_bits: npt.NDArray[np.uint64],
    kh: int,
    kw: int,
    sh: int,
    sw: int,
    flip: npt.NDArray[np.bool_] | None = None,
    isa: str = "",
) -> npt.NDArray[np.uint64]: ...
def binary_conv2d_threshold(
    x_bits: npt.NDArray[np.uint64],
    w_bits: npt.NDArray[np.uint64],
    channels: int,
    thresholds: npt.NDArray[np.int32],
    flip: npt.NDArray[np.bool_] | None,
    sh: int,
    sw: int,
    ph: int,
    pw: int,
    isa: str = "",
) -> npt.NDArray[np.uint64]: ...
def first_conv_threshold(
    x: npt.NDArray[np.float32],
    w_bits: npt.NDArray[np.uint64],
    kh: int,
    kw: int,
    thresholds: npt.NDArray[np.float32],
    flip: npt.NDArray[np.bool_] | None,
    sh: int,
    sw: int,
    ph: int,
    pw: int,
    isa: str = "",
) -> npt.NDArray[np.uint64]: ...
def binary_weight_matmul(
    x: npt.NDArray[np.float32],
    w_bits: npt.NDArray[np.uint64],
    k: int,
    isa: str = "",
    scale: float | None = None,
    bias: npt.NDArray[np.float32] | None = None,
) -> npt.NDArray[np.float32]: ...
def uint8_weight_matmul(
    x: npt.NDArray[np.uint8], panels: npt.NDArray[np.uint16], n: int, isa: str = ""
) -> npt.NDArray[np.int32]: ...
def binary_weight_matmul_t(
    g: npt.NDArray[np.float32], w_bits: npt.NDArray[np.uint64], k: int, isa: str = ""
) -> npt.NDArray[np.float32]: ...
def ternary_weight_matmul(
    x: npt.NDArray[np.float32],
    sign_bits: npt.NDArray[np.uint64],
    nonzero_bits: npt.NDArray[np.uint64],
    k: int,
    isa: str = "",
    scale: float | None = None,
    bias: npt.NDArray[np.float32] | None = None,
) -> npt.NDArray[np.float32]: ...
def ternary_weight_matmul_t(
    g: npt.NDArray[np.float32],
    sign_bits: npt.NDArray[np.uint64],
    nonzero_bits: npt.NDArray[np.uint64],
    k: int,
    isa: str = "",
) -> npt.NDArray[np.float32]: ...
def _weight_matmul_counted(
    op: str,
    a: npt.NDArray[np.float32],
    sign_bits: npt.NDArray[np.uint64],
    nonzero_bits: npt.NDArray[np.uint64] | None,
    k: int,
) -> tuple[npt.NDArray[np.float32], int, int]: ...
def binarize(w: npt.NDArray[np.float32], stochastic: bool, seed: int, scale: float) -> npt.NDArray[np.uint64]: ...
def ternarize(
    w: npt.NDArray[np.float32], stochastic: bool, seed: int, scale: float
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]: ...
def dropout(
    x: npt.NDArray[np.float32], p: float, seed: int, isa: str = ""
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]: ...
POW2_MIN_EXP: int
POW2_MAX_EXP: int
MAX_THREADS: int  # set_num_threads accepts 1..MAX_THREADS

def quantize_pow2(
    x: npt.NDArray[np.float32], stochastic: bool = True, min_exp: int | None = None, max_exp: int | None = None,
    seed: int = 0, isa: str = ""
) -> npt.NDArray[np.int8]: ...
def dequantize_pow2(codes: npt.NDArray[np.int8], isa: str = "") -> npt.NDArray[np.float32]: ...
def shift_matmul(
    codes: npt.NDArray[np.int8], g: npt.NDArray[np.float32], method: str = "float", isa: str = ""
) -> npt.NDArray[np.float32]: ...
def shift_matmul_frac_bits(codes: npt.NDArray[np.int8], g: npt.NDArray[np.float32]) -> int: ...
def optimizer_step(
    kind: str, w: npt.NDArray[np.float32], g: npt.NDArray[np.float32], m: npt.NDArray[np.float32] | None,
    v: npt.NDArray[np.float32] | None, lr: float, b1: float = 0.0, b2: float = 0.0, eps: float = 0.0,
    lr_scale: float = 1.0, clip: float | None = None, isa: str = "",
    signs: npt.NDArray[np.uint64] | None = None, k: int = 0
) -> None: ...
def weight_grad_update(
    kind: str, gt: npt.NDArray[np.float32], x_signs: npt.NDArray[np.uint64],
    x_nonzero: npt.NDArray[np.uint64] | None, k: int, w: npt.NDArray[np.float32],
    m: npt.NDArray[np.float32] | None, v: npt.NDArray[np.float32] | None, lr: float, b1: float = 0.0,
    b2: float = 0.0, eps: float = 0.0, lr_scale: float = 1.0, clip: float | None = None,
    signs: npt.NDArray[np.uint64] | None = None, isa: str = ""
) -> None: ...
