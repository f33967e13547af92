// Small AVX-512 helpers for the family templates (weight_matmul/masked_add.h,
// shift/shift_table.h): 16 float or int32 lanes, loads and stores of a
// partial last vector (masked), and lane masks straight from packed bits (a
// mask register). Include only in __avx512 files; everything is internal
// (static / anonymous namespace, no std:: templates).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "../bits.h"

namespace pbn {
namespace {

struct Avx512 {
  static constexpr int kLanes = 16;
  using Vec = __m512;    // float lanes
  using VecI = __m512i;  // int32 lanes
  using Mask = __mmask16;

  // Lanes [0, n) set (n <= 16).
  static PBN_INLINE Mask prefix(std::size_t n) { return n >= 16 ? Mask(0xFFFF) : Mask((1u << n) - 1); }

  static PBN_INLINE Vec zero() { return _mm512_setzero_ps(); }
  static PBN_INLINE Vec load(const float* p) { return _mm512_loadu_ps(p); }
  static PBN_INLINE Vec load_tail(const float* p, std::size_t n) { return _mm512_maskz_loadu_ps(prefix(n), p); }
  static PBN_INLINE void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static PBN_INLINE void store_tail(float* p, Vec v, std::size_t n) { _mm512_mask_storeu_ps(p, prefix(n), v); }
  static PBN_INLINE Vec broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static PBN_INLINE Vec set1(float v) { return _mm512_set1_ps(v); }
  static PBN_INLINE Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
  static PBN_INLINE Vec sub(Vec a, Vec b) { return _mm512_sub_ps(a, b); }
  static PBN_INLINE Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
  static PBN_INLINE float hsum(Vec v) { return _mm512_reduce_add_ps(v); }

  // Packed bits [16t, 16t + 16) of a row straight from memory into a mask
  // register. GCC compiles _load_mask16 to movzx + kmovw k, r32, and that kmov
  // takes port 5, one of the two ports the adds need; "kmovw k, m16" is a pure load.
  static PBN_INLINE Mask bits(const word_t* row, std::size_t t) {
    Mask m;
    asm("kmovw %1, %0" : "=k"(m) : "m"(reinterpret_cast<const std::uint16_t*>(row)[t]));
    return m;
  }
  // Ternary weights: +1 where nonzero and not negative, -1 where negative.
  static PBN_INLINE void pos_neg(const word_t* s, const word_t* nz, std::size_t t, Mask& pos, Mask& neg) {
    neg = bits(s, t);
    pos = _kandn_mask16(neg, bits(nz, t));
  }
  static PBN_INLINE Vec masked_add(Vec acc, Mask m, Vec v) { return _mm512_mask_add_ps(acc, m, acc, v); }
  static PBN_INLINE Vec masked_sub(Vec acc, Mask m, Vec v) { return _mm512_mask_sub_ps(acc, m, acc, v); }

  // int32 lanes. A lane mask (IMask) is a mask register.
  using IMask = __mmask16;
  static PBN_INLINE IMask lanes(long long n) { return n >= 16 ? IMask(0xFFFF) : n > 0 ? IMask((1u << n) - 1) : IMask(0); }
  static PBN_INLINE VecI load_i(const void* p) { return _mm512_loadu_si512(p); }
  static PBN_INLINE VecI load_i(const void* p, IMask m) { return _mm512_maskz_loadu_epi32(m, p); }
  static PBN_INLINE void store_i(void* p, IMask m, VecI v) { _mm512_mask_storeu_epi32(p, m, v); }
  static PBN_INLINE void store_i(void* p, VecI v) { _mm512_store_si512(p, v); }  // aligned
  static PBN_INLINE VecI set1_i(std::int32_t v) { return _mm512_set1_epi32(v); }
  static PBN_INLINE VecI zero_i() { return _mm512_setzero_si512(); }
  static PBN_INLINE VecI add_i(VecI a, VecI b) { return _mm512_add_epi32(a, b); }
  static PBN_INLINE VecI sub_i(VecI a, VecI b) { return _mm512_sub_epi32(a, b); }
  static PBN_INLINE VecI and_i(VecI a, VecI b) { return _mm512_and_si512(a, b); }
  static PBN_INLINE VecI xor_i(VecI a, VecI b) { return _mm512_xor_si512(a, b); }
  static PBN_INLINE VecI srli_i(VecI a, int s) { return _mm512_srli_epi32(a, unsigned(s)); }
  static PBN_INLINE VecI sllv_i(VecI a, VecI s) { return _mm512_sllv_epi32(a, s); }
  static PBN_INLINE VecI srav_i(VecI a, VecI s) { return _mm512_srav_epi32(a, s); }
  static PBN_INLINE VecI float_bits_of(VecI a) { return _mm512_castps_si512(_mm512_cvtepi32_ps(a)); }  // bits of float(a)
  static PBN_INLINE Vec as_float(VecI a) { return _mm512_castsi512_ps(a); }
  static PBN_INLINE VecI bits_of(Vec a) { return _mm512_castps_si512(a); }
  static PBN_INLINE VecI as_int(Vec a) { return _mm512_castps_si512(a); }
  static PBN_INLINE IMask gt(VecI a, std::int32_t c) { return _mm512_cmpgt_epi32_mask(a, _mm512_set1_epi32(c)); }
  // Lanes with lo < a + plus < hi: one add and one unsigned compare,
  // (a + plus - lo - 1) <= (hi - lo - 2).
  static PBN_INLINE IMask between(VecI a, std::int32_t lo, std::int32_t hi, std::int32_t plus = 0) {
    return _mm512_cmple_epu32_mask(_mm512_add_epi32(a, _mm512_set1_epi32(plus - lo - 1)), _mm512_set1_epi32(hi - lo - 2));
  }
  static PBN_INLINE IMask both(IMask a, IMask b) { return IMask(a & b); }
  static PBN_INLINE VecI select(IMask m, VecI v) { return _mm512_maskz_mov_epi32(m, v); }  // v where m, else 0
  static PBN_INLINE unsigned bits_of(IMask m) { return unsigned(m); }
};

}  // namespace
}  // namespace pbn
