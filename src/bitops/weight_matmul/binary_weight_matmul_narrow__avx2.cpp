// binary_weight_matmul for short rows on AVX2: narrow.h with 8-lane vectors of outputs.
#include "../kernels.h"
#include "../simd/avx2.h"
#include "narrow.h"

namespace pbn {

void binary_weight_matmul_narrow__avx2(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, float* y,
                                       std::size_t ldy, std::size_t m, std::size_t n, std::size_t k) {
  if (!narrow_binary_weight_matmul<Avx2>(x, ldx, s, lds, y, ldy, m, n, k))  // no memory for the sign table
    binary_weight_matmul__avx2(x, ldx, s, lds, y, ldy, m, n, k);
}

}  // namespace pbn
