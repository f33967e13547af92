// Fused binary layer on AVX-512: xnor_gemm's micro-kernel and blocked driver
// with a compare-and-pack epilogue. Each tile row's 8 int64 dot products are
// compared with the 8 thresholds in one vpcmpq pair, the flip bits select
// which comparison holds, and the 8-bit mask is the output byte: no int32
// array is ever written.
#include <immintrin.h>

#include "../kernels.h"
#include "../scratch.h"

namespace pbn {
namespace {

#include "../xnor_gemm/tile_avx512.h"

// Output column `col` of this sink's rows; the driver only ever starts a tile
// at a multiple of kNR = 8, so a tile row is one whole output byte.
struct BitsSink {
  std::uint8_t* c;  // byte 0 of row 0
  std::size_t ldc;  // row stride in bytes
  std::size_t col;
  const std::int32_t* thresholds;
  const std::uint8_t* flips;
  BitsSink at(std::size_t i, std::size_t j) const { return {c + i * ldc, ldc, col + j, thresholds, flips}; }
  template <int NR>
  PBN_INLINE void put(int i, __m512i dot) const {
    const __mmask8 lanes = __mmask8((1u << NR) - 1);
    const __m512i t = _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(lanes, thresholds + col));
    const __mmask8 flip = __mmask8(flips[col / 8]);
    const __mmask8 lt = _mm512_mask_cmplt_epi64_mask(lanes, dot, t);
    const __mmask8 gt = _mm512_mask_cmpgt_epi64_mask(lanes, dot, t);
    c[i * ldc + col / 8] = std::uint8_t((lt & ~flip) | (gt & flip));
  }
};

#include "../xnor_gemm/blocked_driver.h"

}  // namespace

void xnor_gemm_threshold__avx512(const word_t* a, std::size_t lda, const word_t* b, std::size_t ldb, word_t* c,
                                 std::size_t ldc, std::size_t m, std::size_t n, std::size_t words, std::int64_t k,
                                 const std::int32_t* thresholds, const word_t* flips) {
  const std::size_t out_words = words_for(n);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t w = 0; w < out_words; ++w) c[i * ldc + w] = 0;  // padding bytes past n stay zero
  const BitsSink sink{reinterpret_cast<std::uint8_t*>(c), ldc * sizeof(word_t), 0, thresholds,
                      reinterpret_cast<const std::uint8_t*>(flips)};
  blocked_xnor_gemm(a, lda, b, ldb, sink, m, n, words, k);
}

}  // namespace pbn
