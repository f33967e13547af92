"""asv: every kernel variant of the registry (src/bitops/variants.inc, as
pybitnet.variants() lists it) on the shapes of its op, forced with isa=<variant>,
one thread: the micro-benchmarks that follow from the one list (a new variant or
ISA gets its row here without a line of benchmark code). Variants of ISAs this CPU
lacks, and the scalar references above ~1e8 operations, are skipped.

    asv run --python=same --quick -b Variants
"""
import pybitnet
from pybitnet._kernel_cases import case

from .common import parse_shape

# Per op, the shapes (m x n x k, as src/bitops/ops.inc defines them) of the headline benchmarks.
SHAPES = {
    "xnor_gemm": ["1x4096x4096", "256x4096x4096"], "xnor_gemm_masked": ["256x4096x4096"],
    "xnor_gemm_threshold": ["1x4096x4096", "100x4096x4096"], "xnor_gemm_threshold_panels": ["256x256x1152"],
    # 1024x128x27: a first conv; 1x4096x784, 100x4096x784: the MNIST MLP's first layer
    "binary_weight_matmul": ["1x4096x4096", "100x4096x4096", "1024x128x27", "1x4096x784", "100x4096x784"],
    "binary_weight_matmul_t": ["1x4096x4096", "100x4096x4096"],
    "ternary_weight_matmul": ["100x1024x1024"], "ternary_weight_matmul_t": ["100x1024x1024"],
    "uint8_weight_matmul": ["1x4096x784", "100x4096x784"], "shift_matmul": ["100x1024x1024"],
    "shift_matmul_fixed": ["100x1024x1024"], "quantize_pow2": ["100x0x4096"], "dequantize_pow2": ["100x0x4096"],
    "pack_signs": ["4096x1x4096"], "im2col_bits": ["50x0x128"], "maxpool_bits": ["50x0x128"],
    "col2im_add": ["50x0x128"], "maxpool_forward": ["50x0x128"], "maxpool_backward": ["50x0x128"], "batch_norm_train": ["51200x0x128", "100x0x4096"],
    "batch_norm_backward": ["51200x0x128", "100x0x4096"], "ste_sign": ["51200x0x128"],
    "ste_sign_backward": ["51200x0x128"], "transpose": ["51200x0x128"],
    "first_conv_threshold": ["50x128x27"], "optimizer_step": ["0x0x4194304"], "dropout": ["100x0x4096"],
    # the MNIST MLP's bit-plane first layer (the combine's case times the whole fused product)
    "pack_bit_planes": ["100x0x784"], "bitplane_combine": ["1x4096x784", "100x4096x784"],
    "bitplane_bytes": ["1x4096x784", "100x4096x784"],
}
VARIANTS = [v for v in pybitnet.variants() if v["op"] in SHAPES]


class Variants:
    params = [[v["name"] for v in VARIANTS], sorted({s for shapes in SHAPES.values() for s in shapes})]
    param_names = ["variant", "MxNxK"]
    timeout = 300

    def setup(self, variant, shape):
        v = next(v for v in VARIANTS if v["name"] == variant)
        if shape not in SHAPES[v["op"]]:
            raise NotImplementedError("not a shape of this op")  # asv: skipped
        if v["isa"] not in pybitnet.available_isas():
            raise NotImplementedError(f"this CPU lacks {v['isa']}")
        m, n, k = parse_shape(shape)
        if v["isa"] == "scalar" and max(m, 1) * max(n, 1) * k > 1e8:
            raise NotImplementedError("the scalar reference takes seconds at this shape")
        pybitnet.set_num_threads(1)
        self.run, self.variant = case(v["op"], m, n, k), variant
        self.run(variant)  # warm-up

    def time_variant(self, variant, shape):
        self.run(variant)
