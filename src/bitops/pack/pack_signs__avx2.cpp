// AVX2: compare + movemask gives 8 (f32), 4 (f64), 32 (i8) or 16 (i16) bits
// at a time. A partial last word is first copied into a zeroed buffer, so the
// kernel never reads past the row and the padding bits come out zero.
#include <immintrin.h>

#include <cstring>

#include "../kernels.h"

namespace pbn {
namespace {

#include "pack_cols.h"

// A row word from a full-word packer: a partial last word goes through a zeroed buffer.
template <class T>
auto with_tail(word_t (*full)(const T*, bool&)) {
  return [full](const T* p, std::size_t n, bool& nan) {
    if (n == 64) return full(p, nan);
    T buf[64] = {};
    std::memcpy(buf, p, n * sizeof(T));
    return full(buf, nan);
  };
}

word_t full_f32(const float* p, bool& nan) {
  const __m256 zero = _mm256_setzero_ps();
  word_t bits = 0;
  __m256 bad = _mm256_setzero_ps();
  for (int q = 0; q < 8; ++q) {
    const __m256 v = _mm256_loadu_ps(p + 8 * q);
    bits |= word_t(unsigned(_mm256_movemask_ps(_mm256_cmp_ps(v, zero, _CMP_LT_OQ)))) << (8 * q);
    bad = _mm256_or_ps(bad, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  }
  nan |= _mm256_movemask_ps(bad) != 0;
  return bits;
}

word_t full_f64(const double* p, bool& nan) {
  const __m256d zero = _mm256_setzero_pd();
  word_t bits = 0;
  __m256d bad = _mm256_setzero_pd();
  for (int q = 0; q < 16; ++q) {
    const __m256d v = _mm256_loadu_pd(p + 4 * q);
    bits |= word_t(unsigned(_mm256_movemask_pd(_mm256_cmp_pd(v, zero, _CMP_LT_OQ)))) << (4 * q);
    bad = _mm256_or_pd(bad, _mm256_cmp_pd(v, v, _CMP_UNORD_Q));
  }
  nan |= _mm256_movemask_pd(bad) != 0;
  return bits;
}

word_t full_i8(const std::int8_t* p, bool&) {
  const auto lo = unsigned(_mm256_movemask_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))));
  const auto hi = unsigned(_mm256_movemask_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32))));
  return word_t(lo) | (word_t(hi) << 32);
}

word_t full_i16(const std::int16_t* p, bool&) {
  word_t bits = 0;
  for (int q = 0; q < 2; ++q) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * q));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * q + 16));
    // packs keeps the sign and interleaves 128-bit lanes; the permute restores order.
    const __m256i ab = _mm256_permute4x64_epi64(_mm256_packs_epi16(a, b), 0xD8);
    bits |= word_t(unsigned(_mm256_movemask_epi8(ab))) << (32 * q);
  }
  return bits;
}

}  // namespace

bool pack_signs__avx2(const void* x, DType dtype, std::size_t, std::size_t k, std::size_t inner, word_t* out,
                      std::size_t o0, std::size_t o1, std::size_t i0, std::size_t i1) {
  switch (dtype) {
    case DType::f32: return pack_any<float>(x, k, inner, out, o0, o1, i0, i1, with_tail<float>(full_f32));
    case DType::f64: return pack_any<double>(x, k, inner, out, o0, o1, i0, i1, with_tail<double>(full_f64));
    case DType::i8: return pack_any<std::int8_t>(x, k, inner, out, o0, o1, i0, i1, with_tail<std::int8_t>(full_i8));
    case DType::i16: return pack_any<std::int16_t>(x, k, inner, out, o0, o1, i0, i1, with_tail<std::int16_t>(full_i16));
  }
  return false;
}

}  // namespace pbn
