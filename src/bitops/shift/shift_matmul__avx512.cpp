// AVX-512 shift-add weight gradient, float: table rows +-2^e * g built with a
// vpaddd on the exponent field and a sign xor (lanes whose input or result
// leaves the normal range are scaled exactly from the bits, as in the scalar
// reference), then summed with vaddps only (see shift_table.h).
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

struct F512 {
  using Elem = float;
  using Vec = __m512;
  static constexpr int kLanes = 16, kNV = 4, kW = 64, kKB = 4;
  static PBN_INLINE Vec zero() { return _mm512_setzero_ps(); }
  static PBN_INLINE Vec load(const float* p) { return _mm512_loadu_ps(p); }
  static PBN_INLINE void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static PBN_INLINE Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }

  // dst[i * kW + j] = code * g[i * ldg + j] for i < rows, j < cols (0 past cols).
  static void build_rows(float* dst, const float* g, std::size_t ldg, std::size_t rows, std::size_t cols,
                         std::int8_t code) {
    __mmask16 m[kNV];
    for (int v = 0; v < kNV; ++v) m[v] = lane_mask(cols, v);
    if (code == 0) {  // 0 * g: +0, NaN where g is Inf or NaN
      for (std::size_t i = 0; i < rows; ++i, dst += kW, g += ldg)
#pragma GCC unroll 4
        for (int v = 0; v < kNV; ++v) {
          const __m512i a = _mm512_and_si512(_mm512_maskz_loadu_epi32(m[v], g + v * kLanes), _mm512_set1_epi32(0x7fffffff));
          _mm512_store_si512(dst + v * kLanes, _mm512_maskz_mov_epi32(_mm512_cmpge_epi32_mask(a, _mm512_set1_epi32(0x7f800000)),
                                                                     _mm512_set1_epi32(0x7fc00000)));
        }
      return;
    }
    const int e = pow2_exponent(code);
    const std::uint32_t flip = code < 0 ? 0x80000000u : 0u;
    const __m512i add = _mm512_set1_epi32(int(std::uint32_t(e) << 23)), vflip = _mm512_set1_epi32(int(flip));
    const __m512i one = _mm512_set1_epi32(1), em1 = _mm512_set1_epi32(e - 1), top = _mm512_set1_epi32(253);
    for (std::size_t i = 0; i < rows; ++i, dst += kW, g += ldg) {
#pragma GCC unroll 4
      for (int v = 0; v < kNV; ++v) {
        const __m512i u = _mm512_maskz_loadu_epi32(m[v], g + v * kLanes);
        const __m512i ef = _mm512_and_si512(_mm512_srli_epi32(u, 23), _mm512_set1_epi32(0xff));
        const __mmask16 ok = _mm512_cmple_epu32_mask(_mm512_sub_epi32(ef, one), top) &
                             _mm512_cmple_epu32_mask(_mm512_add_epi32(ef, em1), top);
        __m512i r = _mm512_maskz_mov_epi32(ok, _mm512_xor_si512(_mm512_add_epi32(u, add), vflip));
        _mm512_store_si512(dst + v * kLanes, r);
        const __mmask16 slow = __mmask16(~ok & m[v]);
        if (slow) {  // zero, denormal, Inf/NaN, or a result that under/overflows: exact from the bits
          for (int j = 0; j < 16; ++j)
            if (slow >> j & 1) dst[v * kLanes + j] = bits_f32(ldexp_bits(f32_bits(g[v * kLanes + j]), e) ^ flip);
        }
      }
    }
  }

  static PBN_INLINE void load_raw(const float* out, std::size_t cols, Vec (&acc)[kNV]) {
#pragma GCC unroll 4
    for (int v = 0; v < kNV; ++v) acc[v] = _mm512_maskz_loadu_ps(lane_mask(cols, v), out + v * kLanes);
  }
  static PBN_INLINE void store_raw(float* out, std::size_t cols, const Vec (&acc)[kNV]) { finish(out, acc, cols, 0); }
  static PBN_INLINE void finish(float* out, const Vec (&acc)[kNV], std::size_t cols, int) {
#pragma GCC unroll 4
    for (int v = 0; v < kNV; ++v) _mm512_mask_storeu_ps(out + v * kLanes, lane_mask(cols, v), acc[v]);
  }
};

#include "shift_table.h"

}  // namespace

void shift_matmul__avx512(const std::int8_t* codes, std::size_t ldc, const float* g, std::size_t ldg, float* out,
                          std::size_t ldo, std::size_t m, std::size_t k0, std::size_t k1, std::size_t n0,
                          std::size_t n1) {
  tbl::table_matmul<F512>(codes, ldc, g, ldg, out, ldo, m, k0, k1, n0, n1, 0);
}

}  // namespace pbn
