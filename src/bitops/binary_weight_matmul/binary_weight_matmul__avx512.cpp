// AVX-512: the subset-sum table kernel of forward_lut_avx512.h (see there).
#include "../kernels.h"
#include "forward_lut_avx512.h"

namespace pbn {

void binary_weight_matmul__avx512(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, float* y,
                                  std::size_t ldy, std::size_t m, std::size_t n, std::size_t k) {
  lut::forward_lut(x, ldx, s, lds, y, ldy, m, n, k);
}

}  // namespace pbn
