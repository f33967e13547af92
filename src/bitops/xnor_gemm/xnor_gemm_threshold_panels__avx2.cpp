// Fused binary layer with B in column panels on AVX2 (the conv driver's
// layout, kernels.h): a 64-bit lane is an output column, so, as on AVX-512
// (panels_avx512.h), there is no horizontal reduction and no K tail. No
// vector popcount: each byte of a ^ b is counted with two 16-entry table
// lookups (vpshufb on the low and high nibbles, as tile_avx2.h), byte counts
// add up for at most 31 words (31 * 8 < 256), then vpsadbw sums each lane's 8
// bytes into its 64-bit count. Against the row tile at conv row lengths (9 taps
// x 2 words = 18 words: 4 full 256-bit steps, a scalar tail of 2 words and a
// reduction per output) this drops the tail and the reduction: the CIFAR-10
// net's binary convs at batch 100 ran 0.60x (128 channels in) to 0.90x (512)
// of the row path's time on a Zen 5 core.
// Tile: 2 A rows x 2 panels (16 columns, 8 byte accumulators), 15 ymm registers.
#include <immintrin.h>

#include "../kernels.h"
#include "../tail.h"

namespace pbn {
namespace {

// 2 x 2 measured within 3% of 1 x 4, 3 x 1, 4 x 1 and 2 x 3 standalone (Zen 5; 0.63 ms for 2048 rows x
// 128 columns x 18 words, 135 bit-MACs/cycle), and the fastest in the conv.
constexpr int kMR = 2;  // A rows per tile: they share the epilogue's threshold loads
constexpr int kNP = 2;  // panels (8 columns, two 256-bit vectors each) per tile: 2 x 4 byte accumulators
constexpr std::size_t kMaxByteWords = 31;  // byte counts of at most 8 per word: 31 * 8 = 248 < 256

template <int MR, int NP>
PBN_INLINE void tile(const word_t* a, std::size_t lda, const word_t* bp, std::size_t words, std::uint8_t* c,
                     std::size_t ldc_bytes, std::size_t col, std::size_t n, std::int64_t k,
                     const std::int32_t* thresholds, const std::uint8_t* flips) {
  const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1,
                                       2, 2, 3, 2, 3, 3, 4);
  const __m256i low = _mm256_set1_epi8(0x0f), zero = _mm256_setzero_si256();
  alignas(32) std::int64_t ones[MR][2 * NP][4] = {};
  for (std::size_t q0 = 0; q0 < words; q0 += kMaxByteWords) {
    const std::size_t q1 = q0 + kMaxByteWords < words ? q0 + kMaxByteWords : words;
    __m256i bytes[MR][2 * NP];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int v = 0; v < 2 * NP; ++v) bytes[i][v] = zero;
    for (std::size_t q = q0; q < q1; ++q) {
      __m256i aq[MR];
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) aq[i] = _mm256_set1_epi64x(static_cast<long long>(a[i * lda + q]));
#pragma GCC unroll 8
      for (int v = 0; v < 2 * NP; ++v) {
        const __m256i b =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp + ((v / 2) * words + q) * 8 + 4 * (v % 2)));
#pragma GCC unroll 8
        for (int i = 0; i < MR; ++i) {
          const __m256i x = _mm256_xor_si256(aq[i], b);
          const __m256i lo = _mm256_and_si256(x, low), hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), low);
          bytes[i][v] = _mm256_add_epi8(bytes[i][v],
                                        _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi)));
        }
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int v = 0; v < 2 * NP; ++v) {
        __m256i* o = reinterpret_cast<__m256i*>(ones[i][v]);
        _mm256_store_si256(o, _mm256_add_epi64(_mm256_load_si256(o), _mm256_sad_epu8(bytes[i][v], zero)));
      }
  }
  // Epilogue: dot = k - 2 * ones, bit = flip ? dot > t : dot < t, 8 columns per output byte.
  const __m256i kk = _mm256_set1_epi64x(k);
#pragma GCC unroll 8
  for (int p = 0; p < NP; ++p) {
    const std::size_t j = col + 8 * std::size_t(p);
    const std::size_t live = n - j < 8 ? n - j : 8;
    __m256i t[2];
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {  // thresholds of columns j + 4h .. j + 4h + 3 (0 past n), as int64
      const int left = int(live) - 4 * h;
      const __m128i lanes = _mm_cmpgt_epi32(_mm_set1_epi32(left), _mm_setr_epi32(0, 1, 2, 3));
      t[h] = _mm256_cvtepi32_epi64(_mm_maskload_epi32(thresholds + j + (left > 0 ? 4 * h : 0), lanes));
    }
    const unsigned flip = flips[j / 8];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      unsigned byte = 0;
#pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {
        const __m256i sum = _mm256_load_si256(reinterpret_cast<const __m256i*>(ones[i][2 * p + h]));
        const __m256i dot = _mm256_sub_epi64(kk, _mm256_slli_epi64(sum, 1));
        const unsigned lt = unsigned(_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(t[h], dot))));
        const unsigned gt = unsigned(_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(dot, t[h]))));
        byte |= (lt | (gt << 8)) << (4 * h);  // lt in bits 0-7, gt in bits 8-15 (per half: 4 bits each)
      }
      const unsigned lt = byte & 0xFF, gt = byte >> 8;
      c[i * ldc_bytes + j / 8] = std::uint8_t(((lt & ~flip) | (gt & flip)) & ((1u << live) - 1));
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

void xnor_gemm_threshold_panels__avx2(const word_t* a, std::size_t lda, const word_t* bp, word_t* c,
                                      std::size_t ldc, std::size_t m, std::size_t n, std::size_t words,
                                      std::int64_t k, const std::int32_t* thresholds, const word_t* flips) {
  const std::size_t out_words = words_for(n);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t w = 0; w < out_words; ++w) c[i * ldc + w] = 0;  // bytes past n stay zero
  auto* cb = reinterpret_cast<std::uint8_t*>(c);
  const auto* fb = reinterpret_cast<const std::uint8_t*>(flips);
  const std::size_t ldc_bytes = ldc * sizeof(word_t), panels = (n + 7) / 8;
  std::size_t p = 0;
  // One group of kNP panels (16 columns, words * 128 bytes) stays in L1 while the A rows stream past.
  for (; p + kNP <= panels; p += kNP)
    panel_column<kNP>(a, lda, bp + p * words * 8, words, cb, ldc_bytes, p * 8, m, n, k, thresholds, fb);
  with_count<kNP - 1>(panels - p, [&](auto np) {
    panel_column<decltype(np)::value>(a, lda, bp + p * words * 8, words, cb, ldc_bytes, p * 8, m, n, k, thresholds, fb);
  });
}

}  // namespace pbn
