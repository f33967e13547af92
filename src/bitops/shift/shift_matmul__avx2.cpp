// AVX2 shift-add weight gradient, float: as the AVX-512 file with 8-lane
// vectors, 32-column tiles and 2 output rows per step (8 accumulators of 16
// registers): table rows by vpaddd on the exponent field + sign xor, summed
// with vaddps only (see shift_table.h).
#include <immintrin.h>

#include <cstdlib>
#include <cstring>

#include "../kernels.h"
#include "../pow2/pow2_code.h"

namespace pbn {
namespace {

// All-ones in the lanes of vector v (8 lanes each) below `cols`.
PBN_INLINE __m256i lane_mask(std::size_t cols, int v) {
  const long long left = (long long)cols - 8LL * v;
  const int c = left > 8 ? 8 : (left < 0 ? 0 : int(left));
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(c), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

struct F256 {
  using Elem = float;
  using Vec = __m256;
  static constexpr int kLanes = 8, kNV = 4, kW = 32, kKB = 2;
  static PBN_INLINE Vec zero() { return _mm256_setzero_ps(); }
  static PBN_INLINE Vec load(const float* p) { return _mm256_loadu_ps(p); }
  static PBN_INLINE Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }

  // dst[i * kW + j] = code * g[i * ldg + j] for i < rows, j < cols (0 past cols).
  static void build_rows(float* dst, const float* g, std::size_t ldg, std::size_t rows, std::size_t cols,
                         std::int8_t code) {
    __m256i m[kNV];
    for (int v = 0; v < kNV; ++v) m[v] = lane_mask(cols, v);
    const __m256i abs_mask = _mm256_set1_epi32(0x7fffffff), max_finite = _mm256_set1_epi32(0x7f7fffff);
    if (code == 0) {  // 0 * g: +0, NaN where g is Inf or NaN
      for (std::size_t i = 0; i < rows; ++i, dst += kW, g += ldg)
#pragma GCC unroll 4
        for (int v = 0; v < kNV; ++v) {
          const __m256i a = _mm256_and_si256(_mm256_castps_si256(_mm256_maskload_ps(g + v * kLanes, m[v])), abs_mask);
          _mm256_store_si256(reinterpret_cast<__m256i*>(dst + v * kLanes),
                             _mm256_and_si256(_mm256_cmpgt_epi32(a, max_finite), _mm256_set1_epi32(0x7fc00000)));
        }
      return;
    }
    const int e = pow2_exponent(code);
    const std::uint32_t flip = code < 0 ? 0x80000000u : 0u;
    const __m256i add = _mm256_set1_epi32(int(std::uint32_t(e) << 23)), vflip = _mm256_set1_epi32(int(flip));
    const __m256i zero = _mm256_setzero_si256(), big = _mm256_set1_epi32(255), ve = _mm256_set1_epi32(e);
    for (std::size_t i = 0; i < rows; ++i, dst += kW, g += ldg) {
#pragma GCC unroll 4
      for (int v = 0; v < kNV; ++v) {
        const __m256i u = _mm256_castps_si256(_mm256_maskload_ps(g + v * kLanes, m[v]));
        const __m256i ef = _mm256_and_si256(_mm256_srli_epi32(u, 23), _mm256_set1_epi32(0xff));
        const __m256i er = _mm256_add_epi32(ef, ve);
        const __m256i ok = _mm256_and_si256(_mm256_and_si256(_mm256_cmpgt_epi32(ef, zero), _mm256_cmpgt_epi32(big, ef)),
                                            _mm256_and_si256(_mm256_cmpgt_epi32(er, zero), _mm256_cmpgt_epi32(big, er)));
        const __m256i r = _mm256_and_si256(ok, _mm256_xor_si256(_mm256_add_epi32(u, add), vflip));
        _mm256_store_si256(reinterpret_cast<__m256i*>(dst + v * kLanes), r);
        const int slow = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_andnot_si256(ok, m[v])));
        if (slow) {  // zero, denormal, Inf/NaN, or a result that under/overflows: exact from the bits
          for (int j = 0; j < 8; ++j)
            if (slow >> j & 1) dst[v * kLanes + j] = bits_f32(ldexp_bits(f32_bits(g[v * kLanes + j]), e) ^ flip);
        }
      }
    }
  }

  static PBN_INLINE void load_raw(const float* out, std::size_t cols, Vec (&acc)[kNV]) {
#pragma GCC unroll 4
    for (int v = 0; v < kNV; ++v) acc[v] = _mm256_maskload_ps(out + v * kLanes, lane_mask(cols, v));
  }
  static PBN_INLINE void store_raw(float* out, std::size_t cols, const Vec (&acc)[kNV]) { finish(out, acc, cols, 0); }
  static PBN_INLINE void finish(float* out, const Vec (&acc)[kNV], std::size_t cols, int) {
    if (cols >= std::size_t(kW)) {
#pragma GCC unroll 4
      for (int v = 0; v < kNV; ++v) _mm256_storeu_ps(out + v * kLanes, acc[v]);
    } else {
      for (int v = 0; v < kNV; ++v) _mm256_maskstore_ps(out + v * kLanes, lane_mask(cols, v), acc[v]);
    }
  }
};

#include "shift_table.h"

}  // namespace

void shift_matmul__avx2(const std::int8_t* codes, std::size_t ldc, const float* g, std::size_t ldg, float* out,
                        std::size_t ldo, std::size_t m, std::size_t k0, std::size_t k1, std::size_t n0,
                        std::size_t n1) {
  tbl::table_matmul<F256>(codes, ldc, g, ldg, out, ldo, m, k0, k1, n0, n1, 0);
}

}  // namespace pbn
