// AVX-512 power-of-two quantizer, 16 floats per step, integer ops only:
// exponent and mantissa from the bits, the random bits from the same
// counter hash as the scalar reference (vpmulld is an integer multiply in
// the hash; there is no float multiply or log), so the codes match it exactly.
#include <immintrin.h>

#include "../kernels.h"
#include "pow2_code.h"

namespace pbn {
namespace {

PBN_INLINE __m512i mix32(__m512i x) {
  x = _mm512_xor_si512(x, _mm512_srli_epi32(x, 16));
  x = _mm512_mullo_epi32(x, _mm512_set1_epi32(0x7feb352d));
  x = _mm512_xor_si512(x, _mm512_srli_epi32(x, 15));
  x = _mm512_mullo_epi32(x, _mm512_set1_epi32(int(0x846ca68bU)));
  return _mm512_xor_si512(x, _mm512_srli_epi32(x, 16));
}

// Codes of x[i .. i+16) as 16 int32 lanes; `nan` collects lanes holding NaN.
template <bool kStochastic>
PBN_INLINE __m512i encode16(__m512i u, std::uint64_t i, Pow2Key key, __m512i lo, __m512i hi, __mmask16* nan) {
  const __m512i a = _mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff));
  *nan |= _mm512_cmpgt_epi32_mask(a, _mm512_set1_epi32(0x7f800000));
  const __m512i mant = _mm512_and_si512(a, _mm512_set1_epi32(0x7fffff));
  __m512i e = _mm512_sub_epi32(_mm512_srli_epi32(a, 23), _mm512_set1_epi32(127));
  __mmask16 up;
  if (kStochastic) {
    const __m512i base = _mm512_set1_epi32(int(std::uint32_t(i)));
    const __m512i idx = _mm512_add_epi32(base, _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    const __mmask16 carry = _mm512_cmplt_epu32_mask(idx, base);  // low word wrapped: high word + 1
    const __m512i hi_word = _mm512_mask_add_epi32(_mm512_set1_epi32(int(std::uint32_t(i >> 32))), carry,
                                                  _mm512_set1_epi32(int(std::uint32_t(i >> 32))), _mm512_set1_epi32(1));
    const __m512i h = mix32(_mm512_xor_si512(idx, _mm512_set1_epi32(int(key.k0))));
    const __m512i r = _mm512_srli_epi32(
        mix32(_mm512_xor_si512(_mm512_xor_si512(h, hi_word), _mm512_set1_epi32(int(key.k1)))), 9);
    up = _mm512_cmplt_epi32_mask(r, mant);
  } else {
    up = _mm512_cmpge_epi32_mask(mant, _mm512_set1_epi32(int(kSqrt2Mantissa)));
  }
  e = _mm512_mask_add_epi32(e, up, e, _mm512_set1_epi32(1));
  e = _mm512_min_epi32(_mm512_max_epi32(e, lo), hi);
  __m512i c = _mm512_add_epi32(e, _mm512_set1_epi32(kPow2Bias));
  c = _mm512_mask_sub_epi32(c, _mm512_movepi32_mask(u), _mm512_setzero_si512(), c);  // sign bit set: negate
  return _mm512_maskz_mov_epi32(_mm512_test_epi32_mask(a, a), c);                    // +-0 -> 0
}

template <bool kStochastic>
bool run(const float* x, std::int8_t* codes, std::size_t i0, std::size_t i1, int lo_exp, int hi_exp,
         std::uint64_t seed) {
  const Pow2Key key = pow2_key(seed);
  const __m512i lo = _mm512_set1_epi32(lo_exp), hi = _mm512_set1_epi32(hi_exp);
  __mmask16 nan = 0;
  std::size_t i = i0;
  for (; i + 16 <= i1; i += 16) {
    const __m512i u = _mm512_loadu_si512(x + i);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(codes + i),
                     _mm512_cvtepi32_epi8(encode16<kStochastic>(u, i, key, lo, hi, &nan)));
  }
  if (i < i1) {
    const __mmask16 m = __mmask16((1u << (i1 - i)) - 1);
    const __m512i u = _mm512_maskz_loadu_epi32(m, x + i);
    _mm512_mask_cvtepi32_storeu_epi8(codes + i, m, encode16<kStochastic>(u, i, key, lo, hi, &nan));
  }
  if (nan) {  // mark NaNs as the scalar reference does (the binding raises anyway)
    for (std::size_t j = i0; j < i1; ++j)
      if ((f32_bits(x[j]) & 0x7fffffffu) > 0x7f800000u) codes[j] = kPow2Invalid;
  }
  return nan != 0;
}

}  // namespace

bool quantize_pow2__avx512(const float* x, std::int8_t* codes, std::size_t i0, std::size_t i1, bool stochastic,
                           int lo, int hi, std::uint64_t seed) {
  return stochastic ? run<true>(x, codes, i0, i1, lo, hi, seed) : run<false>(x, codes, i0, i1, lo, hi, seed);
}

}  // namespace pbn
