// Small AVX2 helpers for the family templates (weight_matmul/masked_add.h,
// shift/shift_table.h): 8 float or int32 lanes, loads and stores of a partial
// last vector, and lane masks from packed bits. AVX2 has no mask registers: a
// mask is a vector of all-ones/all-zeros lanes, from a table that turns a byte
// of packed bits into 8 lanes (8 KiB, stays in L1), so "add x where the bit is
// set" is one and + one add, with no multiply; bits_to_bytes spreads 32 bits to
// 32 byte masks. Include only in __avx2 files;
// everything is internal (static / anonymous namespace, no std:: templates).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "../bits.h"

namespace pbn {
namespace {

struct ByteMaskTable {
  alignas(32) std::int32_t lanes[256][8];
  constexpr ByteMaskTable() : lanes() {
    for (int b = 0; b < 256; ++b)
      for (int l = 0; l < 8; ++l) lanes[b][l] = ((b >> l) & 1) ? -1 : 0;
  }
};
constexpr ByteMaskTable kByteMasks{};

// Bytes 0..31 of the result are 0xFF where bits 0..31 of `bits` are set.
PBN_INLINE __m256i bits_to_bytes(std::uint32_t bits) {
  const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,  //
                                          2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i bit = _mm256_set1_epi64x(std::int64_t(0x8040201008040201ull));
  const __m256i v = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32(int(bits)), spread), bit);
  return _mm256_cmpeq_epi8(v, bit);
}

struct Avx2 {
  static constexpr int kLanes = 8;
  using Vec = __m256;    // float lanes
  using VecI = __m256i;  // int32 lanes
  using Mask = __m256;   // all-ones lanes where set

  // Lanes [0, n) set (n <= 8): tails of loads and stores.
  static PBN_INLINE __m256i prefix(std::size_t n) {
    return _mm256_load_si256(reinterpret_cast<const __m256i*>(kByteMasks.lanes[(1u << n) - 1]));
  }
  static PBN_INLINE Mask byte_mask(unsigned byte) {
    return _mm256_load_ps(reinterpret_cast<const float*>(kByteMasks.lanes[byte]));
  }
  static PBN_INLINE unsigned byte_of(const word_t* row, std::size_t t) {
    return reinterpret_cast<const std::uint8_t*>(row)[t];
  }

  static PBN_INLINE Vec zero() { return _mm256_setzero_ps(); }
  static PBN_INLINE Vec load(const float* p) { return _mm256_loadu_ps(p); }
  static PBN_INLINE Vec load_tail(const float* p, std::size_t n) { return _mm256_maskload_ps(p, prefix(n)); }
  static PBN_INLINE void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  static PBN_INLINE void store_tail(float* p, Vec v, std::size_t n) { _mm256_maskstore_ps(p, prefix(n), v); }
  static PBN_INLINE Vec broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static PBN_INLINE Vec set1(float v) { return _mm256_set1_ps(v); }
  static PBN_INLINE Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  static PBN_INLINE Vec sub(Vec a, Vec b) { return _mm256_sub_ps(a, b); }
  static PBN_INLINE Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
  static PBN_INLINE float hsum(Vec v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
  }

  // Lanes of packed bits [8t, 8t + 8) of a row: set where the bit is 1.
  static PBN_INLINE Mask bits(const word_t* row, std::size_t t) { return byte_mask(byte_of(row, t)); }
  // Ternary weights: +1 where nonzero and not negative, -1 where negative.
  static PBN_INLINE void pos_neg(const word_t* s, const word_t* nz, std::size_t t, Mask& pos, Mask& neg) {
    const unsigned neg_bits = byte_of(s, t);
    neg = byte_mask(neg_bits);
    pos = byte_mask(byte_of(nz, t) & ~neg_bits);
  }
  static PBN_INLINE Vec masked_add(Vec acc, Mask m, Vec v) { return _mm256_add_ps(acc, _mm256_and_ps(m, v)); }
  static PBN_INLINE Vec masked_sub(Vec acc, Mask m, Vec v) { return _mm256_sub_ps(acc, _mm256_and_ps(m, v)); }

  // int32 lanes. A lane mask (IMask) is all-ones lanes.
  using IMask = __m256i;
  static PBN_INLINE IMask lanes(long long n) {  // lanes [0, n), n clamped to [0, 8]
    const int c = n > 8 ? 8 : (n < 0 ? 0 : int(n));
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(c), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static PBN_INLINE VecI load_i(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
  static PBN_INLINE VecI load_i(const void* p, IMask m) { return _mm256_maskload_epi32(static_cast<const int*>(p), m); }
  static PBN_INLINE void store_i(void* p, IMask m, VecI v) { _mm256_maskstore_epi32(static_cast<int*>(p), m, v); }
  static PBN_INLINE void store_i(void* p, VecI v) { _mm256_store_si256(static_cast<__m256i*>(p), v); }  // aligned
  static PBN_INLINE VecI set1_i(std::int32_t v) { return _mm256_set1_epi32(v); }
  static PBN_INLINE VecI zero_i() { return _mm256_setzero_si256(); }
  static PBN_INLINE VecI add_i(VecI a, VecI b) { return _mm256_add_epi32(a, b); }
  static PBN_INLINE VecI sub_i(VecI a, VecI b) { return _mm256_sub_epi32(a, b); }
  static PBN_INLINE VecI and_i(VecI a, VecI b) { return _mm256_and_si256(a, b); }
  static PBN_INLINE VecI xor_i(VecI a, VecI b) { return _mm256_xor_si256(a, b); }
  static PBN_INLINE VecI srli_i(VecI a, int s) { return _mm256_srli_epi32(a, s); }
  static PBN_INLINE VecI sllv_i(VecI a, VecI s) { return _mm256_sllv_epi32(a, s); }
  static PBN_INLINE VecI srav_i(VecI a, VecI s) { return _mm256_srav_epi32(a, s); }
  static PBN_INLINE VecI float_bits_of(VecI a) { return _mm256_castps_si256(_mm256_cvtepi32_ps(a)); }  // bits of float(a)
  static PBN_INLINE Vec as_float(VecI a) { return _mm256_castsi256_ps(a); }
  static PBN_INLINE VecI bits_of(Vec a) { return _mm256_castps_si256(a); }
  static PBN_INLINE VecI as_int(Vec a) { return _mm256_castps_si256(a); }
  static PBN_INLINE IMask gt(VecI a, std::int32_t c) { return _mm256_cmpgt_epi32(a, _mm256_set1_epi32(c)); }
  // Lanes with lo < a + plus < hi.
  static PBN_INLINE IMask between(VecI a, std::int32_t lo, std::int32_t hi, std::int32_t plus = 0) {
    const VecI x = plus ? _mm256_add_epi32(a, _mm256_set1_epi32(plus)) : a;
    return _mm256_and_si256(_mm256_cmpgt_epi32(x, _mm256_set1_epi32(lo)), _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), x));
  }
  static PBN_INLINE IMask both(IMask a, IMask b) { return _mm256_and_si256(a, b); }
  static PBN_INLINE VecI select(IMask m, VecI v) { return _mm256_and_si256(m, v); }  // v where m, else 0
  static PBN_INLINE unsigned bits_of(IMask m) { return unsigned(_mm256_movemask_ps(_mm256_castsi256_ps(m))); }
};

}  // namespace
}  // namespace pbn
