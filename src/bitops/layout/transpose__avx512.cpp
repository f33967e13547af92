// The transpose on AVX-512: 16x16 tiles through registers (16 row loads, three
// rounds of shuffles, 16 row stores) in transpose_blocks.h's loop nest.
#include <immintrin.h>

#include "transpose_blocks.h"

namespace pbn {
namespace {

// out[j * ldo + i] = a[i * lda + j] for i, j < 16.
inline void tile16(const float* a, std::size_t lda, float* out, std::size_t ldo) {
  __m512 r[16], t[16];
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(a + i * lda);
  // Round 1: pairs of rows interleaved by element; round 2: by pairs of elements. Then, in each
  // 128-bit lane L of r[4q + c], rows 4q..4q+3 of column 4L + c.
#pragma GCC unroll 8
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
#pragma GCC unroll 4
  for (int i = 0; i < 16; i += 4) {
    const __m512d t0 = _mm512_castps_pd(t[i]), t1 = _mm512_castps_pd(t[i + 1]);
    const __m512d t2 = _mm512_castps_pd(t[i + 2]), t3 = _mm512_castps_pd(t[i + 3]);
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
  }
  // Round 3: gather the four 4-row pieces of each column across registers (two 2-source permutes).
  const __m512i lanes_lo = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const __m512i lanes_hi = _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  const __m512i halves_lo = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
  const __m512i halves_hi = _mm512_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    const __m512 a0 = _mm512_permutex2var_ps(r[c], lanes_lo, r[4 + c]);
    const __m512 a1 = _mm512_permutex2var_ps(r[c], lanes_hi, r[4 + c]);
    const __m512 b0 = _mm512_permutex2var_ps(r[8 + c], lanes_lo, r[12 + c]);
    const __m512 b1 = _mm512_permutex2var_ps(r[8 + c], lanes_hi, r[12 + c]);
    _mm512_storeu_ps(out + c * ldo, _mm512_permutex2var_ps(a0, halves_lo, b0));
    _mm512_storeu_ps(out + (4 + c) * ldo, _mm512_permutex2var_ps(a0, halves_hi, b0));
    _mm512_storeu_ps(out + (8 + c) * ldo, _mm512_permutex2var_ps(a1, halves_lo, b1));
    _mm512_storeu_ps(out + (12 + c) * ldo, _mm512_permutex2var_ps(a1, halves_hi, b1));
  }
}

}  // namespace

void transpose__avx512(const float* a, std::size_t lda, float* out, std::size_t ldo, std::size_t n, std::size_t i0,
                       std::size_t i1) {
  transpose_blocks<16>(a, lda, out, ldo, n, i0, i1, tile16);
}

}  // namespace pbn
