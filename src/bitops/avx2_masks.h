// AVX2 has no mask registers: a table turns a byte of packed bits into an
// 8-lane all-ones/all-zeros mask (8 KiB, stays in L1), so "add x where the bit
// is set" is one and + one add, with no multiply. Included by __avx2 files
// only; everything is internal (anonymous namespace).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "bits.h"

namespace pbn {
namespace {

struct ByteMaskTable {
  alignas(32) std::int32_t lanes[256][8];
  constexpr ByteMaskTable() : lanes() {
    for (int b = 0; b < 256; ++b)
      for (int l = 0; l < 8; ++l) lanes[b][l] = ((b >> l) & 1) ? -1 : 0;
  }
};
constexpr ByteMaskTable kByteMasks{};

PBN_INLINE unsigned bits_byte(const word_t* row, std::size_t t) { return reinterpret_cast<const std::uint8_t*>(row)[t]; }

PBN_INLINE __m256 byte_mask(unsigned byte) {
  return _mm256_load_ps(reinterpret_cast<const float*>(kByteMasks.lanes[byte]));
}

// Lanes [0, n) all ones (n <= 8): for tail loads and stores.
PBN_INLINE __m256i prefix_mask(std::size_t n) {
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(kByteMasks.lanes[(1u << n) - 1]));
}

PBN_INLINE float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

}  // namespace
}  // namespace pbn
