// AVX-512 fixed-point shift-add weight gradient: table rows +-(q << e) or
// +-round(q >> -e) built with vpsllvd / vpsravd, summed with vpaddd (exact
// int32), converted with vcvtdq2ps and scaled by 2^-F on the exponent field.
#include <immintrin.h>

#include <cstdlib>
#include <cstring>

#include "../kernels.h"
#include "../pow2/pow2_code.h"

namespace pbn {
namespace {

PBN_INLINE __mmask16 lane_mask(std::size_t cols, int v) {
  const std::size_t lo = std::size_t(v) * 16;
  return cols >= lo + 16 ? __mmask16(0xFFFF) : (cols > lo ? __mmask16((1u << (cols - lo)) - 1) : __mmask16(0));
}

struct I512 {
  using Elem = std::int32_t;
  using Vec = __m512i;
  static constexpr int kLanes = 16, kNV = 4, kW = 64, kKB = 4;
  static PBN_INLINE Vec zero() { return _mm512_setzero_si512(); }
  static PBN_INLINE Vec load(const std::int32_t* p) { return _mm512_loadu_si512(p); }
  static PBN_INLINE Vec add(Vec a, Vec b) { return _mm512_add_epi32(a, b); }

  static void build_rows(std::int32_t* dst, const std::int32_t* q, std::size_t ldq, std::size_t rows,
                         std::size_t cols, std::int8_t code) {
    const int e = code ? pow2_exponent(code) : 0;
    const int s = e >= 0 ? 0 : (-e > 31 ? 31 : -e);
    const __m512i left = _mm512_set1_epi32(e >= 0 ? e : 0), right = _mm512_set1_epi32(s);
    const __m512i bias = _mm512_set1_epi32(s ? int(1u << (s - 1)) : 0);
    for (std::size_t i = 0; i < rows; ++i, dst += kW, q += ldq) {
#pragma GCC unroll 4
      for (int v = 0; v < kNV; ++v) {
        const __m512i x = _mm512_maskz_loadu_epi32(lane_mask(cols, v), q + v * kLanes);
        __m512i r = e >= 0 ? _mm512_sllv_epi32(x, left) : _mm512_srav_epi32(_mm512_add_epi32(x, bias), right);
        if (code < 0) r = _mm512_sub_epi32(_mm512_setzero_si512(), r);
        if (code == 0) r = _mm512_setzero_si512();
        _mm512_store_si512(dst + v * kLanes, r);
      }
    }
  }

  static PBN_INLINE void load_raw(const float* out, std::size_t cols, Vec (&acc)[kNV]) {
#pragma GCC unroll 4
    for (int v = 0; v < kNV; ++v) acc[v] = _mm512_maskz_loadu_epi32(lane_mask(cols, v), out + v * kLanes);
  }
  static PBN_INLINE void store_raw(float* out, std::size_t cols, const Vec (&acc)[kNV]) {
#pragma GCC unroll 4
    for (int v = 0; v < kNV; ++v) _mm512_mask_storeu_epi32(out + v * kLanes, lane_mask(cols, v), acc[v]);
  }
  // out = float(acc) * 2^-frac_bits: exponent-field add, exact fallback off the normal range.
  static PBN_INLINE void finish(float* out, const Vec (&acc)[kNV], std::size_t cols, int frac_bits) {
    const __m512i sub = _mm512_set1_epi32(int(std::uint32_t(-frac_bits) << 23));
#pragma GCC unroll 4
    for (int v = 0; v < kNV; ++v) {
      const __m512i u = _mm512_castps_si512(_mm512_cvtepi32_ps(acc[v]));
      const __m512i ef = _mm512_and_si512(_mm512_srli_epi32(u, 23), _mm512_set1_epi32(0xff));
      const __mmask16 ok =
          _mm512_cmple_epu32_mask(_mm512_sub_epi32(ef, _mm512_set1_epi32(1)), _mm512_set1_epi32(253)) &
          _mm512_cmple_epu32_mask(_mm512_sub_epi32(ef, _mm512_set1_epi32(frac_bits + 1)), _mm512_set1_epi32(253));
      __m512i r = _mm512_add_epi32(u, sub);
      if (__mmask16(~ok)) {
        alignas(64) std::uint32_t ub[16], rb[16];
        _mm512_store_si512(ub, u);
        _mm512_store_si512(rb, r);
        for (int j = 0; j < 16; ++j)
          if (!(ok >> j & 1)) rb[j] = ldexp_bits(ub[j], -frac_bits);
        r = _mm512_load_si512(rb);
      }
      _mm512_mask_storeu_epi32(out + v * kLanes, lane_mask(cols, v), r);
    }
  }
};

#include "shift_table.h"

}  // namespace

void shift_matmul_fixed__avx512(const std::int8_t* codes, std::size_t ldc, const std::int32_t* q, std::size_t ldq,
                                float* out, std::size_t ldo, std::size_t m, std::size_t k0, std::size_t k1,
                                std::size_t n0, std::size_t n1, int frac_bits) {
  tbl::table_matmul<I512>(codes, ldc, q, ldq, out, ldo, m, k0, k1, n0, n1, frac_bits);
}

}  // namespace pbn
