// Fused binary layer on AVX2: xnor_gemm's micro-kernel and blocked driver
// with a compare-and-set-bit epilogue on each int64 dot product.
#include <immintrin.h>

#include "../kernels.h"
#include "../scratch.h"

namespace pbn {
namespace {

#include "../xnor_gemm/tile_avx2.h"

struct BitsSink {
  word_t* c;  // word 0 of row 0
  std::size_t ldc;
  std::size_t col;
  const std::int32_t* thresholds;
  const word_t* flips;
  BitsSink at(std::size_t i, std::size_t j) const { return {c + i * ldc, ldc, col + j, thresholds, flips}; }
  PBN_INLINE void put(int i, int j, std::int64_t dot) const {
    const std::size_t n = col + std::size_t(j);
    const bool flip = (flips[n / 64] >> (n % 64)) & 1;
    const bool negative = flip ? dot > thresholds[n] : dot < thresholds[n];
    c[i * ldc + n / 64] |= word_t(negative) << (n % 64);
  }
};

#include "../xnor_gemm/blocked_driver.h"

}  // namespace

void xnor_gemm_threshold__avx2(const word_t* a, std::size_t lda, const word_t* b, std::size_t ldb, word_t* c,
                               std::size_t ldc, std::size_t m, std::size_t n, std::size_t words, std::int64_t k,
                               const std::int32_t* thresholds, const word_t* flips) {
  const std::size_t out_words = words_for(n);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t w = 0; w < out_words; ++w) c[i * ldc + w] = 0;
  blocked_xnor_gemm(a, lda, b, ldb, BitsSink{c, ldc, 0, thresholds, flips}, m, n, words, k);
}

}  // namespace pbn
