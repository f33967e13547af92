// ternary_weight_matmul_t on AVX-512 for 16+ rows of g (variants.inc): the weight
// gradient of a BNN layer whose input went through dropout (the input rows, ±1 or 0,
// are the "weights" here), by table lookup, three rows of W per 27-entry table
// (table_t_avx512.h).
#include "table_t_avx512.h"

namespace pbn {

void ternary_weight_matmul_t_lut__avx512(const float* g, std::size_t ldg, const word_t* s, std::size_t lds,
                                         const word_t* nz, std::size_t ldnz, float* z, std::size_t ldz, std::size_t m,
                                         std::size_t n, std::size_t k) {
  table_matmul_t<Avx512Tables<TernaryDigits>>(g, ldg, s, lds, nz, ldnz, z, ldz, m, n, k);
}

}  // namespace pbn
