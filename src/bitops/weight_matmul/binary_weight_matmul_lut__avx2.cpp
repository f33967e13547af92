// binary_weight_matmul on AVX2: x @ sign(W).T by a subset-sum table kernel
// (the AVX-512 one, binary_weight_matmul_lut__avx512.cpp, with AVX2's permute).
//
// y[i, j] = rowsum(x_i) - 2 * sum_{bit=1} x[i, c]. AVX2's vpermps picks one of
// 8 floats per lane, so the tables cover 3 columns of a row of x (8 subset
// sums): each dword of 32 sign bits is 10 groups of 3 bits and one of 2 (bits
// 30-31, a table of 4 sums). vpermps reads only bits 0-2 of each index lane, so
// a group's index is the dword shifted right by 3h: one shift (shared by the
// panel's rows), one permute and one add per 3 columns x 8 weight rows, where a
// masked add (weight_matmul__avx2.cpp) covers 8 weights with a mask load, an
// and and an add. The bits of 8 weight rows are transposed in registers so that
// lane j holds row j, once for MR rows of x (the loops: table_forward.h). Row
// sums once per panel; rows with a non-finite output are redone in exact order
// (fixup.h).
#include <immintrin.h>

#include "../kernels.h"
#include "../simd/avx2.h"
#include "table_forward.h"

namespace pbn {
namespace {

constexpr std::size_t kGroups = 11;  // tables per dword: 10 of 3 columns, 1 of 2

// 8x8 transpose of 32-bit lanes.
PBN_INLINE void transpose8(__m256i (&r)[8]) {
  __m256i t[8], u[8];
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
#pragma GCC unroll 2
  for (int i = 0; i < 2; ++i) {
    u[4 * i + 0] = _mm256_unpacklo_epi64(t[4 * i + 0], t[4 * i + 2]);
    u[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i + 0], t[4 * i + 2]);
    u[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  // u[c] (c < 4): per 128-bit lane L, rows 0-3 of dword column 4L + c; u[4 + c]: rows 4-7
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    r[c] = _mm256_permute2x128_si256(u[c], u[4 + c], 0x20);
    r[4 + c] = _mm256_permute2x128_si256(u[c], u[4 + c], 0x31);
  }
}

// The AVX2 table policy of table_forward.h (the file comment above).
struct Avx2Tables {
  static constexpr std::size_t kBlockK = 256;  // columns per K block: one 8x8 transpose of dwords
  static constexpr std::size_t kRows = 8;      // weight rows per lookup (lanes)
  static constexpr std::size_t kTableFloats = kBlockK / 32 * kGroups * 8;  // one row of x: 2.75 KiB
  using S = Avx2;

  // tables[8 * (kGroups * d + h) + e] = the sum of x over the columns 32d + 3h + l whose bit l
  // of e is set, added in order l = 0, 1, 2 onto x[32d + 3h] or +0, as the AVX-512 kernel's
  // masked adds do. Columns past `cols` are absent (their bits are 0).
  static void build_tables(const float* x, std::size_t cols, float* tables) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256 has[3];  // all-ones lanes whose entry takes column l
    for (int l = 0; l < 3; ++l)
      has[l] = _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(lanes, _mm256_set1_epi32(1 << l)),
                                                      _mm256_set1_epi32(1 << l)));
    const std::size_t dwords = (cols + 31) / 32;
    for (std::size_t d = 0; d < dwords; ++d)
      for (std::size_t h = 0; h < kGroups; ++h) {
        const std::size_t c0 = 32 * d + 3 * h, width = h + 1 < kGroups ? 3 : 2;
        __m256 t = _mm256_setzero_ps();
        if (c0 < cols) t = _mm256_and_ps(_mm256_set1_ps(x[c0]), has[0]);
        for (std::size_t l = 1; l < width && c0 + l < cols; ++l)
          t = _mm256_blendv_ps(t, _mm256_add_ps(t, _mm256_set1_ps(x[c0 + l])), has[l]);
        _mm256_store_ps(tables + 8 * (kGroups * d + h), t);
      }
  }

  // neg[j] += the sum of x over the set bits of rows j < rows (<= 8), for the block
  // of `cols` columns starting at word w0.
  template <int MR>
  static void lut_block(const float* tables, const word_t* s, std::size_t lds, std::size_t w0, std::size_t cols,
                 std::size_t rows, float* neg, std::size_t ldy) {
    const std::size_t dwords = (cols + 31) / 32;  // <= 8
    const __m256i dmask = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(dwords)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256i r[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i)
      r[i] = (std::size_t(i) < rows)
                 ? _mm256_maskload_epi32(reinterpret_cast<const int*>(s + i * lds + w0), dmask)
                 : _mm256_setzero_si256();
    transpose8(r);
    alignas(32) __m256i dcol[8];  // dword column c of the 8 rows, read back one c at a time (below)
#pragma GCC unroll 8
    for (int c = 0; c < 8; ++c) dcol[c] = r[c];
    // Two add chains per row whatever the panel's rows: every row of every call sums in one
    // order, so a lone row (batch 1, the last of M % 4 == 1) gives the bits of a row in a panel.
    constexpr int kChains = 2;
    __m256 acc[MR][kChains];
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
      for (int q = 0; q < kChains; ++q) acc[i][q] = _mm256_setzero_ps();
    // Not unrolled over c: fully unrolled (352 permutes), GCC hoisted permutes and spilled their results
    // to the stack (4.3 ms instead of 4.05 at 100 x 784 -> 4096).
#pragma GCC unroll 1
    for (std::size_t c = 0; c < dwords; ++c) {
      __m256i idx = _mm256_load_si256(dcol + c);
#pragma GCC unroll 11
      for (int h = 0; h < int(kGroups); ++h) {
#pragma GCC unroll 4
        for (int i = 0; i < MR; ++i) {
          const __m256 t = _mm256_load_ps(tables + i * kTableFloats + 8 * (kGroups * c + h));
          acc[i][h % kChains] = _mm256_add_ps(acc[i][h % kChains], _mm256_permutevar8x32_ps(t, idx));
        }
        idx = _mm256_srli_epi32(idx, 3);
      }
    }
    const __m256i rmask = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(rows)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i) {
      const __m256 sum = _mm256_add_ps(acc[i][0], acc[i][1]);
      float* out = neg + i * ldy;
      _mm256_maskstore_ps(out, rmask, _mm256_add_ps(_mm256_maskload_ps(out, rmask), sum));
    }
  }
};

}  // namespace

// y (m x n) = x (m x k) @ sign(W).T for packed rows s of W (n x k).
void binary_weight_matmul_lut__avx2(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, float* y,
                                    std::size_t ldy, std::size_t m, std::size_t n, std::size_t k) {
  table_forward<Avx2Tables>(x, ldx, s, lds, y, ldy, m, n, k);
}

}  // namespace pbn
