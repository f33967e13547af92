// xnor_gemm and the fused binary layer on AVX-512 VPOPCNTDQ for many rows of
// A: B's rows are copied into column panels (per thread, kept between calls)
// and the panel kernel of panels_avx512.h runs, with no horizontal reduction.
// The copy reads B once (~0.07 ms for 4096 x 4096 bits on a Zen 5 core) and
// pays from ~64 rows of A: 256 x 4096 x 4096 ran 1.85 -> 1.58 ms plus the copy.
#include <immintrin.h>

#include "../kernels.h"
#include "panels_avx512.h"
#include "repanel.h"

namespace pbn {
namespace {

// dst[q * 8 + l] = src[l * ldb + q] for q, l < 8: an 8 x 8 transpose of words in registers
// (to_panels of 4096 x 4096 bits: 0.071 -> 0.040 ms against copy_block8).
PBN_INLINE void transpose8(const word_t* src, std::size_t ldb, word_t* dst) {
  __m512i r[8], t[8], u[8];
#pragma GCC unroll 8
  for (int l = 0; l < 8; ++l) r[l] = _mm512_loadu_si512(src + l * ldb);
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {  // t[2i]: rows 2i, 2i+1 interleaved at even words; t[2i+1]: odd words
    t[2 * i] = _mm512_unpacklo_epi64(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi64(r[2 * i], r[2 * i + 1]);
  }
  const __m512i i1 = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13), i2 = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
#pragma GCC unroll 2
  for (int h = 0; h < 2; ++h) {  // pairs of pairs: 4 rows per 256 bits
    u[h * 4 + 0] = _mm512_permutex2var_epi64(t[h], i1, t[h + 2]);
    u[h * 4 + 1] = _mm512_permutex2var_epi64(t[h], i2, t[h + 2]);
    u[h * 4 + 2] = _mm512_permutex2var_epi64(t[h + 4], i1, t[h + 6]);
    u[h * 4 + 3] = _mm512_permutex2var_epi64(t[h + 4], i2, t[h + 6]);
  }
  const __m512i j1 = _mm512_setr_epi64(0, 1, 2, 3, 8, 9, 10, 11), j2 = _mm512_setr_epi64(4, 5, 6, 7, 12, 13, 14, 15);
#pragma GCC unroll 2
  for (int h = 0; h < 2; ++h) {  // 8 rows per word: output word q = h + 2 * (pair) + 4 * (half)
    _mm512_storeu_si512(dst + (h + 0) * 8, _mm512_permutex2var_epi64(u[h * 4 + 0], j1, u[h * 4 + 2]));
    _mm512_storeu_si512(dst + (h + 4) * 8, _mm512_permutex2var_epi64(u[h * 4 + 0], j2, u[h * 4 + 2]));
    _mm512_storeu_si512(dst + (h + 2) * 8, _mm512_permutex2var_epi64(u[h * 4 + 1], j1, u[h * 4 + 3]));
    _mm512_storeu_si512(dst + (h + 6) * 8, _mm512_permutex2var_epi64(u[h * 4 + 1], j2, u[h * 4 + 3]));
  }
}

}  // namespace

void xnor_gemm_repanel__avx512(const word_t* a, std::size_t lda, const word_t* b, std::size_t ldb, std::int32_t* c,
                               std::size_t ldc, std::size_t m, std::size_t n, std::size_t words, std::int64_t k) {
  const word_t* bp = to_panels(b, ldb, n, words, transpose8);
  if (!bp) return xnor_gemm__avx512(a, lda, b, ldb, c, ldc, m, n, words, k);  // no memory for panels
  panels_gemm<Avx512PanelTile>(a, lda, bp, m, n, words, k, PanelInt32Sink{c, ldc, n});
}

void xnor_gemm_threshold_repanel__avx512(const word_t* a, std::size_t lda, const word_t* b, std::size_t ldb,
                                         word_t* c, std::size_t ldc, std::size_t m, std::size_t n, std::size_t words,
                                         std::int64_t k, const std::int32_t* thresholds, const word_t* flips) {
  const word_t* bp = to_panels(b, ldb, n, words, transpose8);
  if (!bp) return xnor_gemm_threshold__avx512(a, lda, b, ldb, c, ldc, m, n, words, k, thresholds, flips);
  xnor_gemm_threshold_panels__avx512(a, lda, bp, c, ldc, m, n, words, k, thresholds, flips);
}

}  // namespace pbn
