// Reference: c = popcount(mask) - 2 * popcount((a ^ b) & mask), one output at
// a time.
#include "../kernels.h"

namespace pbn {

void xnor_gemm_masked__scalar(const word_t* a, std::size_t lda, const word_t* mask, std::size_t ldm,
                              const word_t* b, std::size_t ldb, std::int32_t* c, std::size_t ldc, std::size_t m,
                              std::size_t n, std::size_t words) {
  for (std::size_t i = 0; i < m; ++i) {
    std::int64_t kept = 0;
    for (std::size_t w = 0; w < words; ++w) kept += __builtin_popcountll(mask[i * ldm + w]);
    for (std::size_t j = 0; j < n; ++j) {
      std::int64_t ones = 0;
      for (std::size_t w = 0; w < words; ++w)
        ones += __builtin_popcountll((a[i * lda + w] ^ b[j * ldb + w]) & mask[i * ldm + w]);
      c[i * ldc + j] = std::int32_t(kept - 2 * ones);
    }
  }
}

}  // namespace pbn
