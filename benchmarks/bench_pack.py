"""asv: pack_signs per ISA beside x.copy() (the memory-bound floor) of the same array."""
import numpy as np

from pybitnet import _bitops

from .common import ISAS, random_pm, require_isa, use_threads

SHAPES = ["4096x4096", "100x784", "1x4096"]


class PackSigns:
    params = [ISAS, SHAPES, ["float32", "int8"], ["last", "first"]]
    param_names = ["isa", "shape", "dtype", "axis"]

    def setup(self, isa, shape, dtype, axis):
        require_isa(isa)
        use_threads(1)
        x = random_pm(tuple(int(v) for v in shape.split("x")), 3)
        self.x = x if dtype == "float32" else np.clip(x * 40, -127, 127).astype(np.int8)
        self.axis = -1 if axis == "last" else 0

    def time_pack_signs(self, isa, shape, dtype, axis):
        _bitops.pack_signs(self.x, self.axis, isa)

    def time_copy_baseline(self, isa, shape, dtype, axis):
        self.x.copy()

    def peakmem_pack_signs(self, isa, shape, dtype, axis):
        _bitops.pack_signs(self.x, self.axis, isa)
