// The column-panel micro-kernel of the xnor_gemm family on AVX-512 VPOPCNTDQ,
// written once over its epilogue (a panel sink, below). A lane is an output
// column: per word q of K, one word of each of MR A rows is broadcast (a load,
// no ALU op) and XORed with NP panels of 8 columns' word q, then popcounted
// and added: 3 ops per 512 bit-MACs, as in the row tile (tile_avx512.h), but
// with no masked K tail and no horizontal reduction (21 ops per 8 outputs
// there: ~11% of a 4096-bit row, ~40% of a conv's 9 taps x 2 words). Panel
// layout as kernels.h's xnor_gemm_threshold_panels_fn: bp[(p * words + q) * 8
// + l] = word q of column 8p + l, zero words past n.
//
// The loops around the tile and the variants built on it: panel_loops.h
// (xnor_gemm_panels__avx512.cpp).
#pragma once

#include <immintrin.h>

#include "../bits.h"
#include "panel_loops.h"

namespace pbn {
namespace {

// int32 dot products, c[i, j] (xnor_gemm).
struct Avx512PanelInt32Sink {
  std::int32_t* c;
  std::size_t ldc, n;
  // Rows [i, i + MR) of the 8 columns from j.
  template <int MR>
  PBN_INLINE void put(std::size_t i, std::size_t j, const __m512i (&dot)[MR]) const {
    const std::size_t live = n - j < 8 ? n - j : 8;
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r)
      _mm256_mask_storeu_epi32(c + (i + r) * ldc + j, __mmask8((1u << live) - 1), _mm512_cvtepi64_epi32(dot[r]));
  }
};

// The fused binary layer's sign bits: byte j / 8 of each row (rows zeroed first).
struct Avx512PanelBitsSink {
  std::uint8_t* c;
  std::size_t ldc_bytes, n;
  const std::int32_t* thresholds;
  const std::uint8_t* flips;
  template <int MR>
  PBN_INLINE void put(std::size_t i, std::size_t j, const __m512i (&dot)[MR]) const {
    const std::size_t live = n - j < 8 ? n - j : 8;
    const __mmask8 lanes = __mmask8((1u << live) - 1);
    const __m512i t = _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(lanes, thresholds + j));
    const __mmask8 flip = __mmask8(flips[j / 8]);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __mmask8 lt = _mm512_mask_cmplt_epi64_mask(lanes, dot[r], t);
      const __mmask8 gt = _mm512_mask_cmpgt_epi64_mask(lanes, dot[r], t);
      c[(i + r) * ldc_bytes + j / 8] = std::uint8_t((lt & ~flip) | (gt & flip));
    }
  }
};

struct Avx512PanelTile {
  static constexpr int kMR = 6;  // A rows per tile (6 x 4 panels: 24 accumulators; 5% over 4 x 4, measured)
  static constexpr int kNP = 4;  // panels (8 columns each) per tile

  template <int MR, int NP, class Sink>
  static PBN_INLINE void run(const word_t* a, std::size_t lda, const word_t* bp, std::size_t words, std::size_t row,
                             std::size_t col, std::int64_t k, const Sink& out) {
    __m512i acc[MR][NP];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int p = 0; p < NP; ++p) acc[i][p] = _mm512_setzero_si512();
    for (std::size_t q = 0; q < words; ++q) {
      __m512i b[NP];
#pragma GCC unroll 8
      for (int p = 0; p < NP; ++p) b[p] = _mm512_loadu_si512(bp + (std::size_t(p) * words + q) * 8);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const __m512i ai = _mm512_set1_epi64(static_cast<long long>(a[i * lda + q]));
#pragma GCC unroll 8
        for (int p = 0; p < NP; ++p)
          acc[i][p] = _mm512_add_epi64(acc[i][p], _mm512_popcnt_epi64(_mm512_xor_si512(ai, b[p])));
      }
    }
    const __m512i kk = _mm512_set1_epi64(k);
#pragma GCC unroll 8
    for (int p = 0; p < NP; ++p) {
      __m512i dot[MR];
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) dot[i] = _mm512_sub_epi64(kk, _mm512_slli_epi64(acc[i][p], 1));
      out.template put<MR>(row, col + 8 * std::size_t(p), dot);
    }
  }
};

}  // namespace
}  // namespace pbn
