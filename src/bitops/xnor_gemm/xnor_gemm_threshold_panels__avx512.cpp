// Fused binary layer for short rows on AVX-512 VPOPCNTDQ. A lane is an output
// column: per word q of K, one word of each of MR A rows is broadcast (a load,
// no ALU op) and XORed with NP panels of 8 columns' word q, then popcounted and
// added (3 ops per 512 bit-MACs, as in xnor_gemm's tile) - but with no masked
// K tail and no horizontal reduction, which cost xnor_gemm's row-major tile
// ~40% at conv row lengths (9 taps x 2 words). The accumulators are the 8 dot
// products of a panel, compared with 8 thresholds into one output byte.
#include <immintrin.h>

#include "../kernels.h"
#include "../tail.h"

namespace pbn {
namespace {

constexpr int kMR = 6;  // A rows per tile (6 x 4 panels: 24 accumulators; 5% over 4 x 4, measured)
constexpr int kNP = 4;  // panels (8 columns each) per tile

template <int MR, int NP>
PBN_INLINE void tile(const word_t* a, std::size_t lda, const word_t* bp, std::size_t words, std::uint8_t* c,
                     std::size_t ldc_bytes, std::size_t col, std::size_t n, std::int64_t k,
                     const std::int32_t* thresholds, const std::uint8_t* flips) {
  __m512i acc[MR][NP];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int p = 0; p < NP; ++p) acc[i][p] = _mm512_setzero_si512();
  for (std::size_t q = 0; q < words; ++q) {
    __m512i b[NP];
#pragma GCC unroll 8
    for (int p = 0; p < NP; ++p) b[p] = _mm512_loadu_si512(bp + (std::size_t(p) * words + q) * 8);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m512i ai = _mm512_set1_epi64(static_cast<long long>(a[i * lda + q]));
#pragma GCC unroll 8
      for (int p = 0; p < NP; ++p)
        acc[i][p] = _mm512_add_epi64(acc[i][p], _mm512_popcnt_epi64(_mm512_xor_si512(ai, b[p])));
    }
  }
  const __m512i kk = _mm512_set1_epi64(k);
#pragma GCC unroll 8
  for (int p = 0; p < NP; ++p) {
    const std::size_t j = col + 8 * std::size_t(p);
    const std::size_t live = n - j < 8 ? n - j : 8;
    const __mmask8 lanes = __mmask8((1u << live) - 1);
    const __m512i t = _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(lanes, thresholds + j));
    const __mmask8 flip = __mmask8(flips[j / 8]);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m512i dot = _mm512_sub_epi64(kk, _mm512_slli_epi64(acc[i][p], 1));
      const __mmask8 lt = _mm512_mask_cmplt_epi64_mask(lanes, dot, t);
      const __mmask8 gt = _mm512_mask_cmpgt_epi64_mask(lanes, dot, t);
      c[i * ldc_bytes + j / 8] = std::uint8_t((lt & ~flip) | (gt & flip));
    }
  }
}

template <int NP>
void panel_column(const word_t* a, std::size_t lda, const word_t* bp, std::size_t words, std::uint8_t* c,
                  std::size_t ldc_bytes, std::size_t col, std::size_t m, std::size_t n, std::int64_t k,
                  const std::int32_t* thresholds, const std::uint8_t* flips) {
  std::size_t i = 0;
  for (; i + kMR <= m; i += kMR)
    tile<kMR, NP>(a + i * lda, lda, bp, words, c + i * ldc_bytes, ldc_bytes, col, n, k, thresholds, flips);
  for (; i < m; ++i) tile<1, NP>(a + i * lda, lda, bp, words, c + i * ldc_bytes, ldc_bytes, col, n, k, thresholds, flips);
}

}  // namespace

void xnor_gemm_threshold_panels__avx512(const word_t* a, std::size_t lda, const word_t* bp, word_t* c,
                                        std::size_t ldc, std::size_t m, std::size_t n, std::size_t words,
                                        std::int64_t k, const std::int32_t* thresholds, const word_t* flips) {
  const std::size_t out_words = words_for(n);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t w = 0; w < out_words; ++w) c[i * ldc + w] = 0;  // bytes past n stay zero
  auto* cb = reinterpret_cast<std::uint8_t*>(c);
  const auto* fb = reinterpret_cast<const std::uint8_t*>(flips);
  const std::size_t ldc_bytes = ldc * sizeof(word_t), panels = (n + 7) / 8;
  std::size_t p = 0;
  // One group of kNP panels (32 columns, words * 2 KB) stays in L1 while the A rows stream past.
  for (; p + kNP <= panels; p += kNP)
    panel_column<kNP>(a, lda, bp + p * words * 8, words, cb, ldc_bytes, p * 8, m, n, k, thresholds, fb);
  with_count<kNP - 1>(panels - p, [&](auto np) {
    panel_column<decltype(np)::value>(a, lda, bp + p * words * 8, words, cb, ldc_bytes, p * 8, m, n, k, thresholds, fb);
  });
}

}  // namespace pbn
