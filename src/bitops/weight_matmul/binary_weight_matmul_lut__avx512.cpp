// binary_weight_matmul on AVX-512: x @ sign(W).T by a subset-sum table kernel.
//
// y[i, j] = rowsum(x_i) - 2 * sum_{bit=1} x[i, c], with the sums over
// the -1 weights read from subset-sum tables (table_forward.h's loops over
// Avx512Tables, below): per 4 columns
// of a row of x, the 16 subset sums are built once with additions, and one
// vpermps (a lane permute) picks them for 16 weight rows at a time. That covers
// 64 weights per permute + add, where a masked add driven by the sign bits
// covers 16 (and is bound by mask loads at batch 1). Panels of MR = 4 rows of
// x share one in-register transpose of the weight bits. The row sums are
// computed once per panel (masked_add.h's row_sums); non-finite rows are
// redone in exact order (fixup.h).
#include <immintrin.h>

#include "../kernels.h"
#include "../simd/avx512.h"
#include "table_forward.h"

namespace pbn {
namespace {


// 16x16 transpose of 32-bit lanes.
PBN_INLINE void transpose16(__m512i (&r)[16]) {
  __m512i t[16];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    r[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i + 0], t[4 * i + 2]);
    r[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i + 0], t[4 * i + 2]);
    r[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    r[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  // now r[4i + c] holds, per 128-bit lane L, rows 4i..4i+3 of dword column 4L + c
  __m512i u[16];
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    // rows 0-3 (r[c]), 4-7 (r[4+c]), 8-11 (r[8+c]), 12-15 (r[12+c]); 128-bit lane L = column 4L + c
    const __m512i ab_lo = _mm512_shuffle_i32x4(r[c], r[4 + c], _MM_SHUFFLE(2, 0, 2, 0));   // cols L=0,2 of rows 0-3 | 4-7
    const __m512i ab_hi = _mm512_shuffle_i32x4(r[c], r[4 + c], _MM_SHUFFLE(3, 1, 3, 1));   // L=1,3
    const __m512i cd_lo = _mm512_shuffle_i32x4(r[8 + c], r[12 + c], _MM_SHUFFLE(2, 0, 2, 0));
    const __m512i cd_hi = _mm512_shuffle_i32x4(r[8 + c], r[12 + c], _MM_SHUFFLE(3, 1, 3, 1));
    // ab_lo lanes: [r0-3 L0, r0-3 L2, r4-7 L0, r4-7 L2]
    u[0 * 4 + c] = _mm512_shuffle_i32x4(ab_lo, cd_lo, _MM_SHUFFLE(2, 0, 2, 0));  // L0: rows 0-3,4-7,8-11,12-15
    u[2 * 4 + c] = _mm512_shuffle_i32x4(ab_lo, cd_lo, _MM_SHUFFLE(3, 1, 3, 1));  // L2
    u[1 * 4 + c] = _mm512_shuffle_i32x4(ab_hi, cd_hi, _MM_SHUFFLE(2, 0, 2, 0));  // L1
    u[3 * 4 + c] = _mm512_shuffle_i32x4(ab_hi, cd_hi, _MM_SHUFFLE(3, 1, 3, 1));  // L3
  }
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) r[i] = u[i];  // r[4L + c] = dword column 4L + c of rows 0..15
}

// The AVX-512 table policy of table_forward.h: per 4 columns of a row of x, a
// table of its 16 subset sums is built once (4 adds per 4 columns), and each
// nibble of the sign bits picks its subset sum for 16 weight rows at once with
// one vpermps (a lane permute, no arithmetic): 64 weights per permute + add,
// where a masked add covers 16 (and batch 1 would be bound by the mask loads,
// one kmov per 16 weights at ~1 per cycle). The bits of 16 weight rows are
// transposed in registers so that lane j holds row j, once for MR rows of x.
struct Avx512Tables {
  static constexpr std::size_t kBlockK = 512;  // weights per K block: 128 nibble tables (8 KiB)
  static constexpr std::size_t kRows = 16;     // weight rows per lookup (lanes)
  static constexpr std::size_t kTableFloats = kBlockK / 4 * 16;
  static constexpr std::size_t kWideRows = 0;  // no wide panels (table_forward.h)
  using S = Avx512;

  // tables[g] (16 floats): lane b = sum of x[4g + l] over the set bits l of b, in order l = 0..3.
  // Groups past `cols` up to a whole dword of bits (8 groups) get zero tables:
  // their bits are zero, and lane 0 of every table is the empty sum.
  static void build_tables(const float* x, std::size_t cols, float* tables) {
    const std::size_t groups = (cols + 31) / 32 * 8;
    for (std::size_t g = 0; g < groups; ++g) {
      if (4 * g >= cols) {
        _mm512_store_ps(tables + 16 * g, _mm512_setzero_ps());
        continue;
      }
      const float* p = x + 4 * g;
      const std::size_t left = cols - 4 * g;
      __m512 t = _mm512_maskz_mov_ps(0xAAAA, _mm512_set1_ps(p[0]));
      if (left > 1) t = _mm512_mask_add_ps(t, 0xCCCC, t, _mm512_set1_ps(p[1]));
      if (left > 2) t = _mm512_mask_add_ps(t, 0xF0F0, t, _mm512_set1_ps(p[2]));
      if (left > 3) t = _mm512_mask_add_ps(t, 0xFF00, t, _mm512_set1_ps(p[3]));
      _mm512_store_ps(tables + 16 * g, t);
    }
  }

  // neg[j] += the sum of x over the set bits of rows j < rows (<= 16), for the
  // block of `cols` columns starting at word w0.
  template <int MR>
  static void lut_block(const float* tables, const word_t* s, std::size_t lds, std::size_t w0, std::size_t cols,
                 std::size_t rows, float* neg, std::size_t ldy) {
    const std::size_t dwords = (cols + 31) / 32;  // <= 16
    const __mmask16 dmask = __mmask16((1u << dwords) - 1);  // dwords = 16 gives 0xFFFF
    __m512i r[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i)
      r[i] = (std::size_t(i) < rows) ? _mm512_maskz_loadu_epi32(dmask, s + i * lds + w0) : _mm512_setzero_si512();
    transpose16(r);
    alignas(64) __m512i dcol[16];  // dword column c of the 16 rows, read back one c at a time (below)
#pragma GCC unroll 16
    for (int c = 0; c < 16; ++c) dcol[c] = r[c];
    // Two add chains per row whatever the panel's rows: every row of every call sums in one
    // order, so a lone row (batch 1, the last of M % 4 == 1) gives the bits of a row in a panel.
    constexpr int kChains = 2;
    __m512 acc[MR][kChains];
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int q = 0; q < kChains; ++q) acc[i][q] = _mm512_setzero_ps();
    // Not unrolled over c: fully unrolled (512 permutes), GCC hoisted permutes and spilled their results
    // to the stack.
#pragma GCC unroll 1
    for (std::size_t c = 0; c < dwords; ++c) {
      __m512i idx = _mm512_load_si512(dcol + c);
#pragma GCC unroll 8
      for (int h = 0; h < 8; ++h) {
#pragma GCC unroll 4
        for (int i = 0; i < MR; ++i) {
          const __m512 t = _mm512_load_ps(tables + i * kTableFloats + 16 * (8 * c + h));
          acc[i][h % kChains] = _mm512_add_ps(acc[i][h % kChains], _mm512_permutexvar_ps(idx, t));
        }
        idx = _mm512_srli_epi32(idx, 4);
      }
    }
    const __mmask16 rmask = __mmask16((1u << rows) - 1);
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i) {
      __m512 sum = acc[i][0];
#pragma GCC unroll 4
      for (int q = 1; q < kChains; ++q) sum = _mm512_add_ps(sum, acc[i][q]);
      float* out = neg + i * ldy;
      _mm512_mask_storeu_ps(out, rmask, _mm512_add_ps(_mm512_maskz_loadu_ps(rmask, out), sum));
    }
  }

};

}  // namespace

// y (m x n) = x (m x k) @ sign(W).T for packed rows s of W (n x k).
void binary_weight_matmul_lut__avx512(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, float* y,
                                      std::size_t ldy, std::size_t m, std::size_t n, std::size_t k) {
  table_forward<Avx512Tables>(x, ldx, s, lds, y, ldy, m, n, k);
}

}  // namespace pbn
