// Fused binary layer for short rows on AVX-512 VPOPCNTDQ, B already in column
// panels (the conv driver's layout): the panel kernel of panels_avx512.h with
// the sign-bit epilogue. The accumulators are the 8 dot products of a panel,
// compared with 8 thresholds into one output byte.
#include "../kernels.h"
#include "panels_avx512.h"

namespace pbn {

void xnor_gemm_threshold_panels__avx512(const word_t* a, std::size_t lda, const word_t* bp, word_t* c,
                                        std::size_t ldc, std::size_t m, std::size_t n, std::size_t words,
                                        std::int64_t k, const std::int32_t* thresholds, const word_t* flips) {
  const std::size_t out_words = words_for(n);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t w = 0; w < out_words; ++w) c[i * ldc + w] = 0;  // bytes past n stay zero
  const PanelBitsSink out{reinterpret_cast<std::uint8_t*>(c), ldc * sizeof(word_t), n, thresholds,
                          reinterpret_cast<const std::uint8_t*>(flips)};
  panels_gemm<Avx512PanelTile>(a, lda, bp, m, n, words, k, out);
}

}  // namespace pbn
