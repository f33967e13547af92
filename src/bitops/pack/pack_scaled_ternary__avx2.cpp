// pack_scaled_ternary on AVX2: per 8 lanes, three compares (x < 0, x == 0,
// |x| == s) and their movemask bytes; the row's tail goes through a zeroed copy.
#include <immintrin.h>

#include <cstring>

#include "../kernels.h"

namespace pbn {

namespace {

struct Lanes {
  unsigned neg, zero, same;  // 8-bit lane masks
};

inline Lanes classify(__m256 v, __m256 mag) {
  const __m256 zero = _mm256_setzero_ps();
  const __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
  return {unsigned(_mm256_movemask_ps(_mm256_cmp_ps(v, zero, _CMP_LT_OQ))),
          unsigned(_mm256_movemask_ps(_mm256_cmp_ps(v, zero, _CMP_EQ_OQ))),
          unsigned(_mm256_movemask_ps(_mm256_cmp_ps(a, mag, _CMP_EQ_OQ)))};
}

}  // namespace

unsigned pack_scaled_ternary__avx2(const float* x, std::size_t k, float s, word_t* signs, word_t* nonzero,
                                   std::size_t r0, std::size_t r1) {
  const std::size_t words = words_for(k);
  const __m256 mag = _mm256_set1_ps(s < 0 ? -s : s);
  unsigned zeros = 0, other = 0;
  for (std::size_t r = r0; r < r1; ++r) {
    const float* row = x + r * k;
    for (std::size_t w = 0; w < words; ++w) {
      word_t neg = 0, nz = 0;
      for (std::size_t q = 0; q < 8; ++q) {
        const std::size_t at = w * 64 + q * 8;
        if (at >= k) break;
        const std::size_t n = k - at >= 8 ? 8 : k - at;
        __m256 v;
        if (n == 8) {
          v = _mm256_loadu_ps(row + at);
        } else {
          alignas(32) float tail[8] = {};
          std::memcpy(tail, row + at, n * sizeof(float));
          v = _mm256_load_ps(tail);
        }
        const unsigned in = (1u << n) - 1;
        const Lanes l = classify(v, mag);
        const unsigned keep = ~l.zero & in;
        zeros |= l.zero & in;
        other |= keep & ~l.same;
        neg |= word_t(l.neg & keep) << (8 * q);
        nz |= word_t(keep) << (8 * q);
      }
      signs[r * words + w] = neg;
      nonzero[r * words + w] = nz;
    }
  }
  return (zeros ? kHasZero : 0u) | (other ? kOtherValue : 0u);
}

}  // namespace pbn
