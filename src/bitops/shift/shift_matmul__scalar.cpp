// Scalar reference of the shift-add weight gradient: for each output, the
// terms +-2^e * g (exponent-field add, exact) summed in order of the batch row.
#include "../kernels.h"
#include "pow2_code.h"

namespace pbn {


void shift_matmul__scalar(const std::int8_t* codes, std::size_t ldc, const float* g, std::size_t ldg, float* out,
                          std::size_t ldo, std::size_t m, std::size_t k0, std::size_t k1, std::size_t n0,
                          std::size_t n1) {
  for (std::size_t k = k0; k < k1; ++k) {
    for (std::size_t n = n0; n < n1; ++n) {
      float s = 0.0f;
      for (std::size_t i = 0; i < m; ++i) s += bits_f32(pow2_product_bits(codes[i * ldc + k], f32_bits(g[i * ldg + n])));
      out[k * ldo + n] = s;
    }
  }
}

}  // namespace pbn
