// Reference of int32_affine: one element at a time, float(c) * scale (not for a
// scale of 1), then + bias, each rounded to float32; the float bits replace the
// int32 in place.
#include <cstring>

#include "../kernels.h"

namespace pbn {

void int32_affine__scalar(std::int32_t* c, std::size_t ldc, std::size_t rows, std::size_t cols, float scale,
                          const float* bias) {
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < cols; ++j) {
      float z = float(c[i * ldc + j]);
      if (scale != 1.0f) z *= scale;  // rounded here (-ffp-contract=off: no fused multiply-add); 1: no multiply
      if (bias) z += bias[j];
      std::memcpy(&c[i * ldc + j], &z, sizeof z);
    }
}

}  // namespace pbn
