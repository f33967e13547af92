"""asv: pack_signs at the environment's ISA and threads, beside x.copy() (the
memory-bound floor) of the same array."""
import numpy as np

from pybitnet import _bitops

from .common import ISA, parse_shape, random_pm, use_threads

SHAPES = ["4096x4096", "100x784", "1x4096"]


class PackSigns:
    params = [SHAPES, ["float32", "int8"], ["last", "first"]]
    param_names = ["shape", "dtype", "axis"]

    def setup(self, shape, dtype, axis):
        use_threads()
        x = random_pm(parse_shape(shape), 3)
        self.x = x if dtype == "float32" else np.clip(x * 40, -127, 127).astype(np.int8)
        self.axis = -1 if axis == "last" else 0

    def time_pack_signs(self, shape, dtype, axis):
        _bitops.pack_signs(self.x, self.axis, ISA)

    def time_copy_baseline(self, shape, dtype, axis):
        self.x.copy()

    def peakmem_pack_signs(self, shape, dtype, axis):
        _bitops.pack_signs(self.x, self.axis, ISA)
