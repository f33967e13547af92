// The AVX-512 tables of the transposed weight matmul (the loop nest: table_t.h):
// W's rows are taken `Digits::kRows` at a time (5 binary digits or 3 ternary
// ones: 32 or 27 combinations), and for each row i of g the signed sums
// ±g[i,j0] ±g[i,j1] ... (a zero ternary digit's term skipped, as the scalar
// reference skips it) fill a 32-float table in two zmm registers, built by
// merge-masked adds in the reference's order. W's digits at a column are the
// index of the sum that column needs: one vpermt2ps + one add covers
// kRows weight rows x 16 columns, where a masked add covers one. 4 rows of g x
// 4 16-wide column blocks of accumulators per pass (the index loads shared by
// the rows, the table loads by the columns); 64 groups per block (32 KiB of
// tables).
#pragma once

#include <immintrin.h>
#include <cstdint>
#include <type_traits>

#include "table_t.h"

namespace pbn {
namespace {

// Binary weights, 5 rows per group: digit 1 where the weight is -1; index = sum_r 2^r d_r.
struct BinaryDigits {
  static constexpr std::size_t kRows = 5;
  static constexpr int digit(int e, int r) { return (e >> r) & 1; }
  static constexpr bool used(int, int) { return true; }
  static constexpr bool minus(int e, int r) { return digit(e, r) == 1; }
  static constexpr int place(int r) { return 1 << r; }
  static constexpr int kStartIndex = 0;  // every digit starts at +1 (0); rows past n add g = 0
  static constexpr int kPos = 0;
  static constexpr int kNeg = 1;
};

// Ternary weights, 3 rows per group: digit 0, 1, 2 for -1, 0, +1; index = sum_r 3^r d_r.
struct TernaryDigits {
  static constexpr std::size_t kRows = 3;
  static constexpr int place(int r) { return r == 0 ? 1 : r == 1 ? 3 : 9; }
  static constexpr int digit(int e, int r) { return (e / place(r)) % 3; }
  static constexpr bool used(int e, int r) { return digit(e, r) != 1; }
  static constexpr bool minus(int e, int r) { return digit(e, r) == 0; }
  static constexpr int kStartIndex = 1 + 3 + 9;  // every digit starts at 0 (1): also the rows past n
  static constexpr int kPos = 1;
  static constexpr int kNeg = -1;
};

// The policy table_t.h's loop takes.
template <class D>
struct Avx512Tables {
  static constexpr std::size_t kRows = 4;          // rows of g per pass
  static constexpr std::size_t kCols = 4;          // 16-wide column blocks per pass (kRows x kCols accumulators)
  static constexpr std::size_t kGroups = 64;       // groups per block: 4 rows x 64 x 128 B = 32 KiB of tables
  static constexpr std::size_t kGroupRows = D::kRows;
  static constexpr std::size_t kTableFloats = 32;  // one vpermt2ps table
  static constexpr std::size_t kPassCols = 16 * kCols;

  static constexpr __mmask16 lanes(int half, int r, bool minus) {
    unsigned m = 0;
    for (int lane = 0; lane < 16; ++lane) {
      const int e = 16 * half + lane;
      if (minus ? D::minus(e, r) : D::used(e, r)) m |= 1u << lane;
    }
    return __mmask16(m);
  }

  // Index bytes of one word in natural order (byte p = column 64 w + p) -> byte 4l + q = column 16q + l:
  // the sweep then gets the index vector of columns [16q, 16q + 16) as the block's dwords shifted
  // right by 8q (vpermt2ps reads bits 4:0 of each dword) instead of a byte-to-dword expansion per
  // vector (a shuffle-port uop beside every 4 permutes). A 4x16 byte transpose in two shuffles per
  // block: dword L of 128-bit lane q to dword q of lane L (vpermd), then 4x4 bytes within each lane.
  static __m512i interleave4(__m512i bytes) {
    const __m512i lanes = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const __m512i within = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
    return _mm512_shuffle_epi8(_mm512_permutexvar_epi32(lanes, bytes), within);
  }

  // idx[(g - g0) * ld + 64 w + 4 l + q] = W's digits of rows kGroupRows*g + r at column 64 w + 16 q + l,
  // for groups [g0, g1). `nz` is null for binary weights.
  static void build_indices(const word_t* s, std::size_t lds, const word_t* nz, std::size_t ldnz, std::size_t n,
                            std::size_t k, std::size_t g0, std::size_t g1, std::uint8_t* idx, std::size_t ld) {
    const std::size_t words = words_for(k);
    for (std::size_t g = g0; g < g1; ++g)
      for (std::size_t w = 0; w < words; ++w) {
        __m512i bytes = _mm512_set1_epi8(char(D::kStartIndex));
        for (std::size_t r = 0; r < kGroupRows && kGroupRows * g + r < n; ++r) {
          const std::size_t row = kGroupRows * g + r;
          const word_t neg = s[row * lds + w];
          const int p = D::place(int(r));
          bytes = _mm512_mask_add_epi8(bytes, __mmask64(neg), bytes, _mm512_set1_epi8(char(D::kNeg * p)));
          if (nz) {
            const word_t pos = nz[row * ldnz + w] & ~neg;
            bytes = _mm512_mask_add_epi8(bytes, __mmask64(pos), bytes, _mm512_set1_epi8(char(D::kPos * p)));
          }
        }
        _mm512_storeu_si512(idx + (g - g0) * ld + w * 64, interleave4(bytes));
      }
  }

  // Tables of rows [i, i + rows) for groups [g0, g1): tab[((g - g0) * kRows + r) * 32 + e] (a group's
  // tables side by side: rows kGroups apart put the 4 tables a sweep step reads in one L1 set)
  static void build_tables(const float* g, std::size_t ldg, std::size_t n, std::size_t i, std::size_t rows,
                           std::size_t g0, std::size_t g1, float* tab) {
    for (std::size_t r = 0; r < rows; ++r) {
      const float* row = g + (i + r) * ldg;
      for (std::size_t grp = g0; grp < g1; ++grp) {
        float* t = tab + ((grp - g0) * kRows + r) * kTableFloats;
        const std::size_t j0 = kGroupRows * grp;
        if (j0 + kGroupRows <= n) {
          build_table(row + j0, t);  // broadcasts straight from g
        } else {
          float a[kGroupRows] = {};  // rows past n add 0
          for (std::size_t j = j0; j < n; ++j) a[j - j0] = row[j];
          build_table(a, t);
        }
      }
    }
  }

  // The table of one group's values a[0..kGroupRows): entry e = the sum, from +0, of +-a[b] (b = 0, 1, ...;
  // skipped where the digit is unused), the reference's order.
  static void build_table(const float* a, float* t) {
    const __m512i sign = _mm512_set1_epi32(int(0x80000000u));
    if constexpr (std::is_same<D, BinaryDigits>::value) {
      // Digit 4 is bit 4 of e, the table's halves: both are base + a[4] and base - a[4] (x - y is x + (-y)),
      // base the sums of digits 0-3 over 16 lanes: half the adds of building each half in full.
      __m512 base = _mm512_setzero_ps();
  #pragma GCC unroll 4
      for (int b = 0; b < 4; ++b) {
        const __m512i v = _mm512_castps_si512(_mm512_set1_ps(a[b]));
        base = _mm512_add_ps(base, _mm512_castsi512_ps(_mm512_mask_xor_epi32(v, lanes(0, b, true), v, sign)));
      }
      const __m512 a4 = _mm512_set1_ps(a[4]);
      _mm512_store_ps(t, _mm512_add_ps(base, a4));
      _mm512_store_ps(t + 16, _mm512_sub_ps(base, a4));
    } else {
      __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
  #pragma GCC unroll 5
      for (int b = 0; b < int(kGroupRows); ++b) {
        const __m512i v = _mm512_castps_si512(_mm512_set1_ps(a[b]));
  #pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
          const __m512 term = _mm512_castsi512_ps(_mm512_mask_xor_epi32(v, lanes(h, b, true), v, sign));
          acc[h] = _mm512_mask_add_ps(acc[h], lanes(h, b, false), acc[h], term);
        }
      }
      _mm512_store_ps(t, acc[0]);
      _mm512_store_ps(t + 16, acc[1]);
    }
  }

  static __mmask16 cols_mask(std::size_t k, std::size_t c) {
    return c >= k ? __mmask16(0) : k - c >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (k - c)) - 1);
  }

  template <std::size_t R>
  static void sweep(const float* tab, const std::uint8_t* idx, std::size_t ld, std::size_t groups, std::size_t k,
                    float* z, std::size_t ldz, bool first) {
    for (std::size_t c = 0; c < k; c += 16 * kCols) {
      __mmask16 m[kCols];
      for (std::size_t q = 0; q < kCols; ++q) m[q] = cols_mask(k, c + 16 * q);
      __m512 acc[R][kCols];
  #pragma GCC unroll 16
      for (std::size_t r = 0; r < R; ++r)
  #pragma GCC unroll 4
        for (std::size_t q = 0; q < kCols; ++q)
          acc[r][q] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m[q], z + r * ldz + c + 16 * q);
      for (std::size_t grp = 0; grp < groups; ++grp) {
        static_assert(kCols == 4, "an index block's dword holds the digits of 4 column vectors");
        const __m512i block = _mm512_loadu_si512(idx + grp * ld + c);  // whole words plus slack: readable
        const __m512i ix[kCols] = {block, _mm512_srli_epi32(block, 8), _mm512_srli_epi32(block, 16),
                                   _mm512_srli_epi32(block, 24)};
  #pragma GCC unroll 16
        for (std::size_t r = 0; r < R; ++r) {
          const float* t = tab + (grp * kRows + r) * kTableFloats;
          const __m512 lo = _mm512_load_ps(t), hi = _mm512_load_ps(t + 16);
  #pragma GCC unroll 4
          for (std::size_t q = 0; q < kCols; ++q)
            acc[r][q] = _mm512_add_ps(acc[r][q], _mm512_permutex2var_ps(lo, ix[q], hi));
        }
      }
  #pragma GCC unroll 16
      for (std::size_t r = 0; r < R; ++r)
  #pragma GCC unroll 4
        for (std::size_t q = 0; q < kCols; ++q) _mm512_mask_storeu_ps(z + r * ldz + c + 16 * q, m[q], acc[r][q]);
    }
  }
};

}  // namespace
}  // namespace pbn
