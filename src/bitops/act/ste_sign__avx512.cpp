// The sign activation and its straight-through gradient on AVX-512: the gate word of 64 elements from
// four 16-lane compare masks (the body's bit-by-bit loop, ste_sign_body.h, does not vectorize).
#include <immintrin.h>

#include "ste_sign_body.h"

namespace pbn {

void ste_sign__avx512(const float* x, float* y, word_t* gate, std::size_t i0, std::size_t i1, bool inclusive) {
  const __m512 lo = _mm512_set1_ps(-1.0f), hi = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
  for (std::size_t w0 = i0; w0 < i1; w0 += 64) {
    const std::size_t n = i1 - w0 < 64 ? i1 - w0 : 64;
    word_t bits = 0;
#pragma GCC unroll 4
    for (std::size_t v = 0; v < 4; ++v) {
      if (v * 16 >= n) break;
      const std::size_t left = n - v * 16;
      const bool full = left >= 16;
      const __mmask16 in = full ? __mmask16(0xffff) : __mmask16((1u << left) - 1);
      const __m512 xv = full ? _mm512_loadu_ps(x + w0 + v * 16) : _mm512_maskz_loadu_ps(in, x + w0 + v * 16);
      const __mmask16 g = inclusive ? _mm512_cmp_ps_mask(xv, lo, _CMP_GE_OQ) & _mm512_cmp_ps_mask(xv, hi, _CMP_LE_OQ)
                                    : _mm512_cmp_ps_mask(xv, lo, _CMP_GT_OQ) & _mm512_cmp_ps_mask(xv, hi, _CMP_LT_OQ);
      bits |= word_t(g & in) << (16 * v);
      const __m512 s = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(xv, zero, _CMP_LT_OQ), hi, lo);
      if (full)
        _mm512_storeu_ps(y + w0 + v * 16, s);
      else
        _mm512_mask_storeu_ps(y + w0 + v * 16, in, s);
    }
    gate[w0 / 64] = bits;
  }
}

void ste_sign_backward__avx512(const float* g, const word_t* gate, float* dx, std::size_t i0, std::size_t i1) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (std::size_t w0 = i0; w0 < i1; w0 += 64) {
    const std::size_t n = i1 - w0 < 64 ? i1 - w0 : 64;
    const word_t bits = gate[w0 / 64];
#pragma GCC unroll 4
    for (std::size_t v = 0; v < 4; ++v) {
      if (v * 16 >= n) break;
      const std::size_t left = n - v * 16;
      const __m512 m = _mm512_maskz_mov_ps(__mmask16(bits >> (16 * v)), one);  // the gate as 0/1 floats
      if (left >= 16) {
        _mm512_storeu_ps(dx + w0 + v * 16, _mm512_mul_ps(_mm512_loadu_ps(g + w0 + v * 16), m));
      } else {
        const __mmask16 in = __mmask16((1u << left) - 1);
        _mm512_mask_storeu_ps(dx + w0 + v * 16, in, _mm512_mul_ps(_mm512_maskz_loadu_ps(in, g + w0 + v * 16), m));
      }
    }
  }
}

}  // namespace pbn
