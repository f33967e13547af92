// binary_weight_matmul_t on AVX-512 for 16+ rows of g (variants.inc): z = g @ sign(W)
// by table lookup, five rows of W per 32-entry table (table_t_avx512.h).
#include "table_t_avx512.h"

namespace pbn {

void binary_weight_matmul_t_lut__avx512(const float* g, std::size_t ldg, const word_t* s, std::size_t lds, float* z,
                                        std::size_t ldz, std::size_t m, std::size_t n, std::size_t k) {
  table_matmul_t<Avx512Tables<BinaryDigits>>(g, ldg, s, lds, nullptr, 0, z, ldz, m, n, k);
}

}  // namespace pbn
