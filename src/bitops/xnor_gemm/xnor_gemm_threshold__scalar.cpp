// Reference: the xnor_gemm identity dot = k - 2 * popcount(a ^ b), then the
// threshold comparison, one output bit at a time.
#include "../kernels.h"

namespace pbn {

void xnor_gemm_threshold__scalar(const word_t* a, std::size_t lda, const word_t* b, std::size_t ldb, word_t* c,
                                 std::size_t ldc, std::size_t m, std::size_t n, std::size_t words, std::int64_t k,
                                 const std::int32_t* thresholds, const word_t* flips) {
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t w = 0; w < words_for(n); ++w) c[i * ldc + w] = 0;
    for (std::size_t j = 0; j < n; ++j) {
      std::int64_t ones = 0;
      for (std::size_t w = 0; w < words; ++w) ones += __builtin_popcountll(a[i * lda + w] ^ b[j * ldb + w]);
      const std::int64_t dot = k - 2 * ones;
      const bool flip = (flips[j / 64] >> (j % 64)) & 1;
      const bool negative = flip ? dot > thresholds[j] : dot < thresholds[j];
      c[i * ldc + j / 64] |= word_t(negative) << (j % 64);
    }
  }
}

}  // namespace pbn
