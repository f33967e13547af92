// AVX2 has no vector popcount (the pshufb popcount of xnor_gemm needs long
// rows to pay), so the conv driver uses im2col + xnor_gemm_threshold on AVX2
// and this entry is the reference itself (kept so every op has every ISA).
#include "../kernels.h"

namespace pbn {

void xnor_gemm_threshold_panels__avx2(const word_t* a, std::size_t lda, const word_t* bp, word_t* c,
                                      std::size_t ldc, std::size_t m, std::size_t n, std::size_t words,
                                      std::int64_t k, const std::int32_t* thresholds, const word_t* flips) {
  xnor_gemm_threshold_panels__scalar(a, lda, bp, c, ldc, m, n, words, k, thresholds, flips);
}

}  // namespace pbn
