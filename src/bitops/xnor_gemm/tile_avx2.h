// The AVX2 micro-kernel of the xnor_gemm family (xnor_gemm, xnor_gemm_masked,
// xnor_gemm_threshold; the tile hands each int64 dot product to the sink's
// put(i, j, dot); cache blocking: blocked.h; the A operand: a_rows.h): no vector
// popcount, so each byte is counted with two 16-entry table lookups (vpshufb on
// the low and high nibbles): 8 ops per 256 bit-MACs, which bounds this path
// near 96 bit-MACs/cycle on a core with three vector ports. Byte counts (at
// most 8 per step) accumulate for up to 31 steps before vpsadbw widens them to
// 64-bit lanes. MR x NR = 1 x 4 measured best (88 bit-MACs/cycle; 2x4 spilled).
// The masked operand folds the keep mask into the two nibble masks of the
// lookup (once per A row and step), so it adds no op per column.
#pragma once

#include <immintrin.h>

#include "a_rows.h"

namespace pbn {
namespace {

constexpr std::size_t kMaxByteSteps = 31;  // 31 * 8 = 248 < 256

struct Popcnt8 {
  __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3,
                                 2, 3, 3, 4);
  __m256i low = _mm256_set1_epi8(0x0f);
  // Byte counts of v & m given lo_mask = m & 0x0f.. and hi_mask = (m >> 4) & 0x0f.. (both `low` for m = ~0).
  PBN_INLINE __m256i operator()(__m256i v, __m256i lo_mask, __m256i hi_mask) const {
    const __m256i lo = _mm256_and_si256(v, lo_mask);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), hi_mask);
    return _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
  }
};

PBN_INLINE __m256i load(const word_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

struct Avx2Tile {
  static constexpr int kMR = 1;
  static constexpr int kNR = 4;

  // A by value: by reference, GCC reloaded its pointer after the sink's stores
  // (measured 2% on xnor_gemm_threshold); the AVX-512 tile measured the other way.
  template <int MR, int NR, class A, class Sink>
  static void run(const A a, const word_t* b, std::size_t ldb, const Sink& out, std::size_t words, std::int64_t k);
};

template <int MR, int NR, class A, class Sink>
void Avx2Tile::run(const A a, const word_t* b, std::size_t ldb, const Sink& out, std::size_t words, std::int64_t k) {
  const Popcnt8 popcnt8;
  const __m256i zero = _mm256_setzero_si256();
  __m256i acc[MR][NR];
#pragma GCC unroll 4
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) acc[i][j] = zero;
  std::size_t w = 0;
  if constexpr (MR == 1 && A::kOneRow) {
    // One row of A in the call (batch 1, cold weights): the B rows one after another, so that the
    // loads run through memory in address order (tile_avx512.h). Each row leaves w at the
    // same place, where the scalar tail below starts.
#pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) {
      prefetch_ahead(b + j * ldb, words);
      for (w = 0; w + 4 <= words;) {
        const std::size_t steps = min_sz((words - w) / 4, kMaxByteSteps);
        __m256i bytes = zero;
        for (std::size_t s = 0; s < steps; ++s, w += 4)
          bytes = _mm256_add_epi8(bytes, popcnt8(_mm256_xor_si256(load(a.a + w), load(b + j * ldb + w)), popcnt8.low,
                                                 popcnt8.low));
        acc[0][j] = _mm256_add_epi64(acc[0][j], _mm256_sad_epu8(bytes, zero));
      }
    }
  }
  while (w + 4 <= words) {
    const std::size_t steps = min_sz((words - w) / 4, kMaxByteSteps);
    __m256i bytes[MR][NR];
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int j = 0; j < NR; ++j) bytes[i][j] = zero;
    for (std::size_t s = 0; s < steps; ++s, w += 4) {
      __m256i va[MR], lo_mask[MR], hi_mask[MR];
#pragma GCC unroll 4
      for (int i = 0; i < MR; ++i) {
        va[i] = load(a.a + i * a.lda + w);
        if constexpr (A::kMasked) {
          const __m256i vm = load(a.m + i * a.ldm + w);
          lo_mask[i] = _mm256_and_si256(vm, popcnt8.low);
          hi_mask[i] = _mm256_and_si256(_mm256_srli_epi16(vm, 4), popcnt8.low);
        } else {
          lo_mask[i] = hi_mask[i] = popcnt8.low;
        }
      }
#pragma GCC unroll 4
      for (int j = 0; j < NR; ++j) {
        const __m256i vb = load(b + j * ldb + w);
#pragma GCC unroll 4
        for (int i = 0; i < MR; ++i)
          bytes[i][j] = _mm256_add_epi8(bytes[i][j], popcnt8(_mm256_xor_si256(va[i], vb), lo_mask[i], hi_mask[i]));
      }
    }
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_add_epi64(acc[i][j], _mm256_sad_epu8(bytes[i][j], zero));
  }
  std::int64_t ones[MR][NR];
  for (int i = 0; i < MR; ++i) {
    for (int j = 0; j < NR; ++j) {
      const __m128i s = _mm_add_epi64(_mm256_castsi256_si128(acc[i][j]), _mm256_extracti128_si256(acc[i][j], 1));
      ones[i][j] = _mm_cvtsi128_si64(s) + _mm_extract_epi64(s, 1);
      for (std::size_t t = w; t < words; ++t) {
        word_t x = a.a[i * a.lda + t] ^ b[j * ldb + t];
        if constexpr (A::kMasked) x &= a.m[i * a.ldm + t];
        ones[i][j] += _mm_popcnt_u64(x);
      }
      out.put(i, j, a.bias(i, k) - 2 * ones[i][j]);
    }
  }
}

}  // namespace
}  // namespace pbn
