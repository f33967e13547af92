// AVX2 power-of-two quantizer, 8 floats per step, integer ops only (see the
// AVX-512 file); the tail goes through the scalar reference's pow2_encode, so
// every element's code equals the reference's.
#include <immintrin.h>

#include "../kernels.h"
#include "pow2_code.h"

namespace pbn {
namespace {

PBN_INLINE __m256i mix32(__m256i x) {
  x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 16));
  x = _mm256_mullo_epi32(x, _mm256_set1_epi32(0x7feb352d));
  x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 15));
  x = _mm256_mullo_epi32(x, _mm256_set1_epi32(int(0x846ca68bU)));
  return _mm256_xor_si256(x, _mm256_srli_epi32(x, 16));
}

template <bool kStochastic>
PBN_INLINE __m256i encode8(__m256i u, std::uint64_t i, Pow2Key key, __m256i lo, __m256i hi, __m256i* nan) {
  const __m256i a = _mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff));
  *nan = _mm256_or_si256(*nan, _mm256_cmpgt_epi32(a, _mm256_set1_epi32(0x7f800000)));
  const __m256i mant = _mm256_and_si256(a, _mm256_set1_epi32(0x7fffff));
  __m256i e = _mm256_sub_epi32(_mm256_srli_epi32(a, 23), _mm256_set1_epi32(127));
  __m256i up;  // all ones where the exponent goes up
  if (kStochastic) {
    const __m256i base = _mm256_set1_epi32(int(std::uint32_t(i)));
    const __m256i idx = _mm256_add_epi32(base, _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256i sgn = _mm256_set1_epi32(int(0x80000000u));
    const __m256i carry = _mm256_cmpgt_epi32(_mm256_xor_si256(base, sgn), _mm256_xor_si256(idx, sgn));  // wrapped
    const __m256i hi_word = _mm256_sub_epi32(_mm256_set1_epi32(int(std::uint32_t(i >> 32))), carry);
    const __m256i h = mix32(_mm256_xor_si256(idx, _mm256_set1_epi32(int(key.k0))));
    const __m256i r = _mm256_srli_epi32(
        mix32(_mm256_xor_si256(_mm256_xor_si256(h, hi_word), _mm256_set1_epi32(int(key.k1)))), 9);
    up = _mm256_cmpgt_epi32(mant, r);
  } else {
    up = _mm256_cmpgt_epi32(mant, _mm256_set1_epi32(int(kSqrt2Mantissa - 1)));
  }
  e = _mm256_sub_epi32(e, up);
  e = _mm256_min_epi32(_mm256_max_epi32(e, lo), hi);
  const __m256i c = _mm256_add_epi32(e, _mm256_set1_epi32(kPow2Bias));
  const __m256i s = _mm256_srai_epi32(u, 31);
  const __m256i signed_c = _mm256_sub_epi32(_mm256_xor_si256(c, s), s);
  return _mm256_andnot_si256(_mm256_cmpeq_epi32(a, _mm256_setzero_si256()), signed_c);
}

template <bool kStochastic>
bool run(const float* x, std::int8_t* codes, std::size_t i0, std::size_t i1, int lo_exp, int hi_exp,
         std::uint64_t seed) {
  const Pow2Key key = pow2_key(seed);
  const __m256i lo = _mm256_set1_epi32(lo_exp), hi = _mm256_set1_epi32(hi_exp);
  __m256i nanv = _mm256_setzero_si256();
  std::size_t i = i0;
  for (; i + 8 <= i1; i += 8) {
    const __m256i c = encode8<kStochastic>(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i)), i, key, lo,
                                           hi, &nanv);
    const __m128i c16 = _mm_packs_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(codes + i), _mm_packs_epi16(c16, c16));
  }
  bool nan = !_mm256_testz_si256(nanv, nanv);
  for (; i < i1; ++i) {
    codes[i] = pow2_encode(x[i], kStochastic, lo_exp, hi_exp, key, i);
    nan |= codes[i] == kPow2Invalid;
  }
  if (nan) {  // mark NaNs as the scalar reference does (the binding raises anyway)
    for (std::size_t j = i0; j < i1; ++j)
      if ((f32_bits(x[j]) & 0x7fffffffu) > 0x7f800000u) codes[j] = kPow2Invalid;
  }
  return nan;
}

}  // namespace

bool quantize_pow2__avx2(const float* x, std::int8_t* codes, std::size_t i0, std::size_t i1, bool stochastic,
                         int lo, int hi, std::uint64_t seed) {
  return stochastic ? run<true>(x, codes, i0, i1, lo, hi, seed) : run<false>(x, codes, i0, i1, lo, hi, seed);
}

}  // namespace pbn
