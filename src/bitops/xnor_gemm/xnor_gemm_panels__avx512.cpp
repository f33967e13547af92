// The column-panel variants of the xnor_gemm family on AVX-512 VPOPCNTDQ
// (panels_avx512.h's tile in panel_loops.h's loops): the fused layer on B
// already in panels (the conv driver), and, for many rows of A, xnor_gemm and
// xnor_gemm_threshold that copy B into panels first (B's rows, 8x8 blocks
// transposed in registers) and then need no horizontal reduction: 256 x 4096 x
// 4096 ran 1.85 -> 1.58 ms plus the ~0.04 ms copy on a Zen 5 core, paying from
// ~64 rows of A.
#include <immintrin.h>

#include "../kernels.h"
#include "panels_avx512.h"

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

PBN_PANEL_VARIANTS(avx512, Avx512PanelTile, Avx512PanelInt32Sink, Avx512PanelBitsSink, transpose8)

}  // namespace pbn
