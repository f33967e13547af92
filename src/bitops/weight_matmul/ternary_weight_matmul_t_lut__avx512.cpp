// ternary_weight_matmul_t on AVX-512 for 16+ rows of g (variants.inc): the
// weight gradient of a BNN layer whose input went through dropout (the input
// rows, ±1 or 0, are the "weights" here), by table lookup with no
// multiplication. The weight rows are taken three at a time: three ternary
// digits make 27 combinations, and for each row i of g the 27 sums
// t0 g[i,j0] + t1 g[i,j1] + t2 g[i,j2] (t in {-1, 0, +1}; a zero term is
// skipped, as the scalar reference skips it) fill a 32-float table in two zmm
// registers. Every column c then needs one two-register lookup per group
// (vpermt2ps: 16 columns per instruction) and one add: three terms per
// lookup+add where the masked-add kernel spends one masked add per term.
//
// Blocking: kRows rows of g by kCols 16-wide column blocks of accumulators;
// the index loads are shared by the rows and the table loads by the columns;
// indices are built per block of kGroups groups, which every row then sweeps.
// Non-finite rows are redone in exact order, then 0 * Inf becomes NaN (fixup.h).
#include <immintrin.h>

#include "../kernels.h"
#include "../scratch.h"
#include "../tail.h"
#include "fixup.h"

namespace pbn {
namespace {

constexpr std::size_t kRows = 4;     // rows of g per pass
constexpr std::size_t kCols = 4;     // 16-wide column blocks per pass (kRows x kCols accumulators)
constexpr std::size_t kGroups = 64;  // groups of 3 W-rows per table block: 4 x 64 x 128 B = 32 KiB
constexpr std::size_t kEntries = 32;  // 27 used

// idx[(g - g0) * ld + c] = sum_r 3^r d_r, d_r = 0, 1, 2 for weight -1, 0, +1 of row 3g + r at
// column c, for groups [g0, g1). Rows past n have d = 1 (a zero weight).
void build_indices(const word_t* s, std::size_t lds, const word_t* nz, std::size_t ldnz, std::size_t n,
                   std::size_t k, std::size_t g0, std::size_t g1, std::uint8_t* idx, std::size_t ld) {
  const std::size_t words = words_for(k);
  for (std::size_t g = g0; g < g1; ++g)
    for (std::size_t w = 0; w < words; ++w) {
      __m512i bytes = _mm512_set1_epi8(1 + 3 + 9);
      for (std::size_t r = 0, p = 1; r < 3 && 3 * g + r < n; ++r, p *= 3) {
        const word_t neg = s[(3 * g + r) * lds + w], pos = nz[(3 * g + r) * ldnz + w] & ~neg;
        const __m512i step = _mm512_set1_epi8(char(p));
        bytes = _mm512_mask_add_epi8(bytes, __mmask64(pos), bytes, step);
        bytes = _mm512_mask_sub_epi8(bytes, __mmask64(neg), bytes, step);
      }
      _mm512_storeu_si512(idx + (g - g0) * ld + w * 64, bytes);
    }
}

// Lanes of table half h (entries 16h..16h+15) whose digit r is not 1 (the term is used), and those
// where it is 0 (subtracted).
constexpr __mmask16 digit_mask(int h, int r, int digit, bool equal) {
  unsigned m = 0;
  for (int lane = 0; lane < 16; ++lane) {
    int e = 16 * h + lane, p = 1;
    for (int q = 0; q < r; ++q) p *= 3;
    if (((e / p) % 3 == digit) == equal) m |= 1u << lane;
  }
  return __mmask16(m);
}

// Tables of rows [i, i + rows) for groups [g0, g1): tab[((r * kGroups + (g - g0)) * 32 + e].
void build_tables(const float* g, std::size_t ldg, std::size_t n, std::size_t i, std::size_t rows, std::size_t g0,
                  std::size_t g1, float* tab) {
  constexpr __mmask16 used[2][3] = {{digit_mask(0, 0, 1, false), digit_mask(0, 1, 1, false), digit_mask(0, 2, 1, false)},
                                    {digit_mask(1, 0, 1, false), digit_mask(1, 1, 1, false), digit_mask(1, 2, 1, false)}};
  constexpr __mmask16 minus[2][3] = {{digit_mask(0, 0, 0, true), digit_mask(0, 1, 0, true), digit_mask(0, 2, 0, true)},
                                     {digit_mask(1, 0, 0, true), digit_mask(1, 1, 0, true), digit_mask(1, 2, 0, true)}};
  const __m512i sign = _mm512_set1_epi32(int(0x80000000u));
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = g + (i + r) * ldg;
    for (std::size_t grp = g0; grp < g1; ++grp) {
      float* t = tab + (r * kGroups + (grp - g0)) * kEntries;
      for (int h = 0; h < 2; ++h) {
        __m512 acc = _mm512_setzero_ps();
        for (int b = 0; b < 3; ++b) {
          const std::size_t j = 3 * grp + std::size_t(b);
          if (j >= n) break;
          const __m512i v = _mm512_castps_si512(_mm512_set1_ps(row[j]));
          const __m512 term = _mm512_castsi512_ps(_mm512_mask_xor_epi32(v, minus[h][b], v, sign));
          acc = _mm512_mask_add_ps(acc, used[h][b], acc, term);  // in the reference's order, zeros skipped
        }
        _mm512_store_ps(t + 16 * h, acc);
      }
    }
  }
}

inline __mmask16 cols_mask(std::size_t k, std::size_t c) {
  return c >= k ? __mmask16(0) : k - c >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (k - c)) - 1);
}

template <std::size_t R>
void sweep(const float* tab, const std::uint8_t* idx, std::size_t ld, std::size_t groups, std::size_t k, float* z,
           std::size_t ldz, bool first) {
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
      __m512i ix[kCols];
#pragma GCC unroll 4
      for (std::size_t q = 0; q < kCols; ++q)  // idx rows hold whole words plus slack: always readable
        ix[q] = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(idx + grp * ld + c + 16 * q)));
#pragma GCC unroll 16
      for (std::size_t r = 0; r < R; ++r) {
        const float* t = tab + (r * kGroups + grp) * kEntries;
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

}  // namespace

void ternary_weight_matmul_t_lut__avx512(const float* g, std::size_t ldg, const word_t* s, std::size_t lds,
                                         const word_t* nz, std::size_t ldnz, float* z, std::size_t ldz, std::size_t m,
                                         std::size_t n, std::size_t k) {
  const std::size_t groups = (n + 2) / 3;
  // Whole words, rounded up to the kCols x 16 columns of a pass (+16 slack for the last load).
  const std::size_t ld = (k + 63) / 64 * 64 + 16 * kCols;
  AlignedScratch idx_buf((kGroups * ld + 64) / 8 + 1), tab_buf(kRows * kGroups * kEntries / 2);
  auto* idx = reinterpret_cast<std::uint8_t*>(idx_buf.data);
  auto* tab = reinterpret_cast<float*>(tab_buf.data);
  if (groups == 0) {
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t c = 0; c < k; ++c) z[i * ldz + c] = 0.0f;
    return;
  }
  // Groups outer: one block of indices (kGroups x ld bytes, in L2) serves every row of g; z is
  // revisited once per block (a conv weight gradient has n = N*OH*OW: thousands of groups).
  for (std::size_t g0 = 0; g0 < groups; g0 += kGroups) {
    const std::size_t g1 = min_sz(groups, g0 + kGroups);
    build_indices(s, lds, nz, ldnz, n, k, g0, g1, idx, ld);
    for (std::size_t i = 0; i < m; i += kRows) {
      const std::size_t rows = min_sz(kRows, m - i);
      build_tables(g, ldg, n, i, rows, g0, g1, tab);
      float* zi = z + i * ldz;
      with_count<kRows>(rows, [&](auto r) { sweep<decltype(r)::value>(tab, idx, ld, g1 - g0, k, zi, ldz, g0 == 0); });
      if (g1 == groups) {  // while in cache: rows with a non-finite output in exact order, then 0 * Inf = NaN
        fix_nonfinite_transposed(g + i * ldg, ldg, s, lds, zi, ldz, rows, n, k, nz, ldnz);
        fix_zero_weights_transposed(g + i * ldg, ldg, nz, ldnz, zi, ldz, rows, n, k);
      }
    }
  }
}

}  // namespace pbn
