// Reference: the bit-contract identity dot = k - 2 * popcount(a ^ b), one
// output at a time.
#include "../kernels.h"

namespace pbn {

void xnor_gemm__scalar(const word_t* a, std::size_t lda, const word_t* b, std::size_t ldb, std::int32_t* c,
                       std::size_t ldc, std::size_t m, std::size_t n, std::size_t words, std::int64_t k) {
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      std::int64_t ones = 0;
      for (std::size_t w = 0; w < words; ++w) ones += __builtin_popcountll(a[i * lda + w] ^ b[j * ldb + w]);
      c[i * ldc + j] = std::int32_t(k - 2 * ones);
    }
  }
}

}  // namespace pbn
