// The sign activation and its straight-through gradient on AVX2: the gate word of 64 elements from eight
// 8-lane compare masks (movemask); the last partial word by the body's loop (ste_sign_body.h).
#include <immintrin.h>

#include "ste_sign_body.h"

namespace pbn {

namespace {
PBN_STE_SIGN_VARIANTS(tail)  // ste_sign__tail, ste_sign_backward__tail: the plain loops, for partial words
}  // namespace

void ste_sign__avx2(const float* x, float* y, word_t* gate, std::size_t i0, std::size_t i1, bool inclusive) {
  const __m256 lo = _mm256_set1_ps(-1.0f), hi = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
  std::size_t w0 = i0;
  for (; w0 + 64 <= i1; w0 += 64) {
    word_t bits = 0;
    for (int v = 0; v < 8; ++v) {
      const __m256 xv = _mm256_loadu_ps(x + w0 + 8 * v);
      const __m256 g = inclusive ? _mm256_and_ps(_mm256_cmp_ps(xv, lo, _CMP_GE_OQ), _mm256_cmp_ps(xv, hi, _CMP_LE_OQ))
                                 : _mm256_and_ps(_mm256_cmp_ps(xv, lo, _CMP_GT_OQ), _mm256_cmp_ps(xv, hi, _CMP_LT_OQ));
      bits |= word_t(unsigned(_mm256_movemask_ps(g))) << (8 * v);
      _mm256_storeu_ps(y + w0 + 8 * v, _mm256_blendv_ps(hi, lo, _mm256_cmp_ps(xv, zero, _CMP_LT_OQ)));
    }
    gate[w0 / 64] = bits;
  }
  if (w0 < i1) ste_sign__tail(x, y, gate, w0, i1, inclusive);
}

void ste_sign_backward__avx2(const float* g, const word_t* gate, float* dx, std::size_t i0, std::size_t i1) {
  const __m256i lane = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  const __m256 one = _mm256_set1_ps(1.0f);
  std::size_t w0 = i0;
  for (; w0 + 64 <= i1; w0 += 64) {
    const word_t bits = gate[w0 / 64];
    for (int v = 0; v < 8; ++v) {
      const __m256i b = _mm256_set1_epi32(int((bits >> (8 * v)) & 0xff));
      const __m256 on = _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(b, lane), lane));
      _mm256_storeu_ps(dx + w0 + 8 * v, _mm256_mul_ps(_mm256_loadu_ps(g + w0 + 8 * v), _mm256_and_ps(on, one)));
    }
  }
  if (w0 < i1) ste_sign_backward__tail(g, gate, dx, w0, i1);
}

}  // namespace pbn
