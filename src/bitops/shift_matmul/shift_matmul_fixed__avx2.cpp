// AVX2 fixed-point shift-add weight gradient: table rows +-(q << e) or
// +-round(q >> -e) with vpsllvd / vpsravd, int32 sums with vpaddd, then
// vcvtdq2ps and a 2^-F exponent-field scale (see the AVX-512 file).
#include <immintrin.h>

#include <cstdlib>
#include <cstring>

#include "../kernels.h"
#include "../pow2/pow2_code.h"

namespace pbn {
namespace {

PBN_INLINE __m256i lane_mask(std::size_t cols, int v) {
  const long long left = (long long)cols - 8LL * v;
  const int c = left > 8 ? 8 : (left < 0 ? 0 : int(left));
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(c), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

struct I256 {
  using Elem = std::int32_t;
  using Vec = __m256i;
  static constexpr int kLanes = 8, kNV = 4, kW = 32, kKB = 2;
  static PBN_INLINE Vec zero() { return _mm256_setzero_si256(); }
  static PBN_INLINE Vec load(const std::int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static PBN_INLINE Vec add(Vec a, Vec b) { return _mm256_add_epi32(a, b); }

  static void build_rows(std::int32_t* dst, const std::int32_t* q, std::size_t ldq, std::size_t rows,
                         std::size_t cols, std::int8_t code) {
    const int e = code ? pow2_exponent(code) : 0;
    const int s = e >= 0 ? 0 : (-e > 31 ? 31 : -e);
    const __m256i left = _mm256_set1_epi32(e >= 0 ? e : 0), right = _mm256_set1_epi32(s);
    const __m256i bias = _mm256_set1_epi32(s ? int(1u << (s - 1)) : 0);
    __m256i m[kNV];
    for (int v = 0; v < kNV; ++v) m[v] = lane_mask(cols, v);
    for (std::size_t i = 0; i < rows; ++i, dst += kW, q += ldq) {
#pragma GCC unroll 4
      for (int v = 0; v < kNV; ++v) {
        const __m256i x = _mm256_maskload_epi32(reinterpret_cast<const int*>(q + v * kLanes), m[v]);
        __m256i r = e >= 0 ? _mm256_sllv_epi32(x, left) : _mm256_srav_epi32(_mm256_add_epi32(x, bias), right);
        if (code < 0) r = _mm256_sub_epi32(_mm256_setzero_si256(), r);
        if (code == 0) r = _mm256_setzero_si256();
        _mm256_store_si256(reinterpret_cast<__m256i*>(dst + v * kLanes), r);
      }
    }
  }

  static PBN_INLINE void load_raw(const float* out, std::size_t cols, Vec (&acc)[kNV]) {
#pragma GCC unroll 4
    for (int v = 0; v < kNV; ++v)
      acc[v] = _mm256_maskload_epi32(reinterpret_cast<const int*>(out + v * kLanes), lane_mask(cols, v));
  }
  static PBN_INLINE void store_raw(float* out, std::size_t cols, const Vec (&acc)[kNV]) {
#pragma GCC unroll 4
    for (int v = 0; v < kNV; ++v)
      _mm256_maskstore_epi32(reinterpret_cast<int*>(out + v * kLanes), lane_mask(cols, v), acc[v]);
  }
  // out = float(acc) * 2^-frac_bits: exponent-field add, exact fallback off the normal range.
  static PBN_INLINE void finish(float* out, const Vec (&acc)[kNV], std::size_t cols, int frac_bits) {
    const __m256i sub = _mm256_set1_epi32(int(std::uint32_t(-frac_bits) << 23));
    const __m256i zero = _mm256_setzero_si256(), big = _mm256_set1_epi32(255), vf = _mm256_set1_epi32(frac_bits);
    for (int v = 0; v < kNV; ++v) {
      const __m256i u = _mm256_castps_si256(_mm256_cvtepi32_ps(acc[v]));
      const __m256i ef = _mm256_and_si256(_mm256_srli_epi32(u, 23), _mm256_set1_epi32(0xff));
      const __m256i er = _mm256_sub_epi32(ef, vf);
      const __m256i ok = _mm256_and_si256(_mm256_and_si256(_mm256_cmpgt_epi32(ef, zero), _mm256_cmpgt_epi32(big, ef)),
                                          _mm256_and_si256(_mm256_cmpgt_epi32(er, zero), _mm256_cmpgt_epi32(big, er)));
      alignas(32) std::uint32_t rb[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(rb), _mm256_add_epi32(u, sub));
      const int slow = ~_mm256_movemask_ps(_mm256_castsi256_ps(ok)) & 0xff;
      if (slow) {
        alignas(32) std::uint32_t ub[8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(ub), u);
        for (int j = 0; j < 8; ++j)
          if (slow >> j & 1) rb[j] = ldexp_bits(ub[j], -frac_bits);
      }
      _mm256_maskstore_epi32(reinterpret_cast<int*>(out + v * kLanes), lane_mask(cols, v),
                             _mm256_load_si256(reinterpret_cast<const __m256i*>(rb)));
    }
  }
};

#include "shift_table.h"

}  // namespace

void shift_matmul_fixed__avx2(const std::int8_t* codes, std::size_t ldc, const std::int32_t* q, std::size_t ldq,
                              float* out, std::size_t ldo, std::size_t m, std::size_t k0, std::size_t k1,
                              std::size_t n0, std::size_t n1, int frac_bits) {
  tbl::table_matmul<I256>(codes, ldc, q, ldq, out, ldo, m, k0, k1, n0, n1, frac_bits);
}

}  // namespace pbn
