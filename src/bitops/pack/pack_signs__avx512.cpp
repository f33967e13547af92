// AVX-512: a compare (or the sign-bit move for integers) turns 16/8/64/32
// elements into a mask register in one instruction; masked loads make the
// tail of a row read nothing past its end and produce zero padding bits.
#include <immintrin.h>

#include "../kernels.h"

namespace pbn {
namespace {

#include "pack_cols.h"

inline std::uint64_t low_mask(std::size_t n) { return n >= 64 ? ~std::uint64_t(0) : (std::uint64_t(1) << n) - 1; }

word_t word_f32(const float* p, std::size_t n, bool& nan) {
  const __m512 zero = _mm512_setzero_ps();
  if (n == 64) {  // whole words: plain loads, one unordered compare checks two vectors for NaN (3x the masked loop)
    const __m512 v0 = _mm512_loadu_ps(p), v1 = _mm512_loadu_ps(p + 16);
    const __m512 v2 = _mm512_loadu_ps(p + 32), v3 = _mm512_loadu_ps(p + 48);
    const word_t b0 = _cvtmask16_u32(_mm512_cmp_ps_mask(v0, zero, _CMP_LT_OQ));
    const word_t b1 = _cvtmask16_u32(_mm512_cmp_ps_mask(v1, zero, _CMP_LT_OQ));
    const word_t b2 = _cvtmask16_u32(_mm512_cmp_ps_mask(v2, zero, _CMP_LT_OQ));
    const word_t b3 = _cvtmask16_u32(_mm512_cmp_ps_mask(v3, zero, _CMP_LT_OQ));
    nan |= (_mm512_cmp_ps_mask(v0, v1, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(v2, v3, _CMP_UNORD_Q)) != 0;
    return b0 | (b1 << 16) | (b2 << 32) | (b3 << 48);
  }
  word_t bits = 0;
  __mmask16 bad = 0;
  for (int q = 0; q < 4; ++q) {
    if (n <= std::size_t(16 * q)) break;
    const __mmask16 m = __mmask16(low_mask(n - 16 * q));
    const __m512 v = _mm512_maskz_loadu_ps(m, p + 16 * q);
    bits |= word_t(_mm512_mask_cmp_ps_mask(m, v, zero, _CMP_LT_OQ)) << (16 * q);
    bad |= _mm512_mask_cmp_ps_mask(m, v, v, _CMP_UNORD_Q);
  }
  nan |= bad != 0;
  return bits;
}

word_t word_f64(const double* p, std::size_t n, bool& nan) {
  const __m512d zero = _mm512_setzero_pd();
  if (n == 64) {  // whole words, as word_f32
    word_t bits = 0;
    __mmask8 bad = 0;
    for (int q = 0; q < 8; q += 2) {
      const __m512d v0 = _mm512_loadu_pd(p + 8 * q), v1 = _mm512_loadu_pd(p + 8 * q + 8);
      bits |= word_t(_cvtmask8_u32(_mm512_cmp_pd_mask(v0, zero, _CMP_LT_OQ))) << (8 * q);
      bits |= word_t(_cvtmask8_u32(_mm512_cmp_pd_mask(v1, zero, _CMP_LT_OQ))) << (8 * q + 8);
      bad |= _mm512_cmp_pd_mask(v0, v1, _CMP_UNORD_Q);
    }
    nan |= bad != 0;
    return bits;
  }
  word_t bits = 0;
  __mmask8 bad = 0;
  for (int q = 0; q < 8; ++q) {
    if (n <= std::size_t(8 * q)) break;
    const __mmask8 m = __mmask8(low_mask(n - 8 * q));
    const __m512d v = _mm512_maskz_loadu_pd(m, p + 8 * q);
    bits |= word_t(_mm512_mask_cmp_pd_mask(m, v, zero, _CMP_LT_OQ)) << (8 * q);
    bad |= _mm512_mask_cmp_pd_mask(m, v, v, _CMP_UNORD_Q);
  }
  nan |= bad != 0;
  return bits;
}

word_t word_i8(const std::int8_t* p, std::size_t n, bool&) {
  return _mm512_movepi8_mask(_mm512_maskz_loadu_epi8(__mmask64(low_mask(n)), p));
}

word_t word_i16(const std::int16_t* p, std::size_t n, bool&) {
  word_t bits = _mm512_movepi16_mask(_mm512_maskz_loadu_epi16(__mmask32(low_mask(n)), p));
  if (n > 32) bits |= word_t(_mm512_movepi16_mask(_mm512_maskz_loadu_epi16(__mmask32(low_mask(n - 32)), p + 32))) << 32;
  return bits;
}

}  // namespace

bool pack_signs__avx512(const void* x, DType dtype, std::size_t, std::size_t k, std::size_t inner, word_t* out,
                        std::size_t o0, std::size_t o1, std::size_t i0, std::size_t i1) {
  switch (dtype) {
    case DType::f32: return pack_any<float>(x, k, inner, out, o0, o1, i0, i1, word_f32);
    case DType::f64: return pack_any<double>(x, k, inner, out, o0, o1, i0, i1, word_f64);
    case DType::i8: return pack_any<std::int8_t>(x, k, inner, out, o0, o1, i0, i1, word_i8);
    case DType::i16: return pack_any<std::int16_t>(x, k, inner, out, o0, o1, i0, i1, word_i16);
  }
  return false;
}

}  // namespace pbn
