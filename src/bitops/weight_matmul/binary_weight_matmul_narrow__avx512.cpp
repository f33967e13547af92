// binary_weight_matmul for short rows on AVX-512: narrow.h with 16-lane vectors of outputs.
#include "../kernels.h"
#include "../simd/avx512.h"
#include "narrow.h"

namespace pbn {

void binary_weight_matmul_narrow__avx512(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, float* y,
                                         std::size_t ldy, std::size_t m, std::size_t n, std::size_t k) {
  if (!narrow_binary_weight_matmul<Avx512>(x, ldx, s, lds, y, ldy, m, n, k))  // no memory for the sign table
    binary_weight_matmul_lut__avx512(x, ldx, s, lds, y, ldy, m, n, k);
}

}  // namespace pbn
