// binary_weight_matmul_t on AVX2 for 16+ rows of g (variants.inc): z = g @ sign(W)
// by table lookup, two rows of W per 4-entry vpermilps table (table_t_avx2.h).
#include "table_t_avx2.h"

namespace pbn {

void binary_weight_matmul_t_lut__avx2(const float* g, std::size_t ldg, const word_t* s, std::size_t lds, float* z,
                                      std::size_t ldz, std::size_t m, std::size_t n, std::size_t k) {
  table_matmul_t<Avx2Tables<false>>(g, ldg, s, lds, nullptr, 0, z, ldz, m, n, k);
}

}  // namespace pbn
