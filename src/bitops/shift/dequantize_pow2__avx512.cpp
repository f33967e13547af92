// AVX-512 dequantizer: 16 codes -> float32 bits (sign | (|c| - 64 + 127) << 23).
#include <immintrin.h>

#include "../kernels.h"
#include "pow2_code.h"

namespace pbn {
namespace {

PBN_INLINE __m512i decode16(__m512i c, __mmask16* bad) {
  *bad |= _mm512_cmpeq_epi32_mask(c, _mm512_set1_epi32(kPow2Invalid));
  const __m512i mag = _mm512_abs_epi32(c);
  const __m512i bits = _mm512_or_si512(_mm512_slli_epi32(_mm512_add_epi32(mag, _mm512_set1_epi32(127 - kPow2Bias)), 23),
                                       _mm512_and_si512(c, _mm512_set1_epi32(int(0x80000000u))));
  return _mm512_maskz_mov_epi32(_mm512_test_epi32_mask(c, c), bits);
}

}  // namespace

bool dequantize_pow2__avx512(const std::int8_t* codes, float* out, std::size_t i0, std::size_t i1) {
  __mmask16 bad = 0;
  std::size_t i = i0;
  for (; i + 16 <= i1; i += 16) {
    const __m512i c = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + i)));
    _mm512_storeu_si512(out + i, decode16(c, &bad));
  }
  if (i < i1) {
    const __mmask16 m = __mmask16((1u << (i1 - i)) - 1);
    const __m512i c = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, codes + i));
    _mm512_mask_storeu_epi32(out + i, m, decode16(c, &bad));
  }
  return bad != 0;
}

}  // namespace pbn
