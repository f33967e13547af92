// AVX2 dequantizer: 8 codes -> float32 bits; the tail through the reference.
#include <immintrin.h>

#include "../kernels.h"
#include "pow2_code.h"

namespace pbn {

bool dequantize_pow2__avx2(const std::int8_t* codes, float* out, std::size_t i0, std::size_t i1) {
  __m256i badv = _mm256_setzero_si256();
  std::size_t i = i0;
  for (; i + 8 <= i1; i += 8) {
    const __m256i c = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes + i)));
    badv = _mm256_or_si256(badv, _mm256_cmpeq_epi32(c, _mm256_set1_epi32(kPow2Invalid)));
    const __m256i bits =
        _mm256_or_si256(_mm256_slli_epi32(_mm256_add_epi32(_mm256_abs_epi32(c), _mm256_set1_epi32(127 - kPow2Bias)), 23),
                        _mm256_and_si256(c, _mm256_set1_epi32(int(0x80000000u))));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i),
                        _mm256_andnot_si256(_mm256_cmpeq_epi32(c, _mm256_setzero_si256()), bits));
  }
  bool bad = !_mm256_testz_si256(badv, badv);
  for (; i < i1; ++i) {
    bad |= codes[i] == kPow2Invalid;
    out[i] = bits_f32(pow2_decode_bits(codes[i]));
  }
  return bad;
}

}  // namespace pbn
