// The AVX2 tables of the transposed weight matmul (the loop nest: table_t.h).
// vpermps picks one of 8 floats per lane, so W's rows are taken three at a time:
//   binary:  the 8 signed sums ±g[i,j0] ±g[i,j1] ±g[i,j2] (in the reference's
//            order), indexed by the three sign bits: one vpermps + one add per
//            3 weight rows x 8 columns;
//   ternary: the 8 subset sums of g[i,j0], g[i,j1], g[i,j2], looked up twice,
//            by the +1 digits and by the -1 digits: add the one, subtract the
//            other (zero digits in neither: their terms are skipped, as the
//            reference skips them). The two 3-bit indices share a byte
//            (+1 in bits 0-2, which vpermps reads, -1 in bits 4-6).
// Indices: each word of bits becomes 64 bytes by a broadcast, a byte shuffle and a
// compare. 4 rows of g x 2 8-wide column blocks of accumulators per pass; 128
// groups per block (16 KiB of tables).
#pragma once

#include <immintrin.h>

#include "../simd/avx2.h"
#include "table_t.h"

namespace pbn {
namespace {

template <bool kTernary>
struct Avx2Tables {
  static constexpr std::size_t kRows = 4, kCols = 2, kGroups = 128, kGroupRows = 3;
  static constexpr std::size_t kTableFloats = 8, kPassCols = 8 * kCols;

  // idx[(g - g0) * ld + c]: binary, the sign bits of rows 3g..3g+2 at column c (row 3g in bit 0);
  // ternary, their +1 bits in bits 0-2 and their -1 bits in bits 4-6. Rows past n: 0.
  static void build_indices(const word_t* s, std::size_t lds, const word_t* nz, std::size_t ldnz, std::size_t n,
                            std::size_t k, std::size_t g0, std::size_t g1, std::uint8_t* idx, std::size_t ld) {
    const std::size_t words = words_for(k);
    for (std::size_t g = g0; g < g1; ++g)
      for (std::size_t w = 0; w < words; ++w)
        for (int half = 0; half < 2; ++half) {
          __m256i bytes = _mm256_setzero_si256();
          for (std::size_t r = 0; r < kGroupRows && kGroupRows * g + r < n; ++r) {
            const std::size_t row = kGroupRows * g + r;
            const word_t neg = s[row * lds + w];
            const auto part = [&](word_t bits) { return bits_to_bytes(std::uint32_t(bits >> (32 * half))); };
            const int up = kTernary ? 4 : 0;  // the -1 bits' place
            bytes = _mm256_or_si256(bytes, _mm256_and_si256(part(neg), _mm256_set1_epi8(char(1 << (r + up)))));
            if constexpr (kTernary)
              bytes = _mm256_or_si256(bytes, _mm256_and_si256(part(nz[row * ldnz + w] & ~neg),
                                                              _mm256_set1_epi8(char(1 << r))));
          }
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(idx + (g - g0) * ld + w * 64 + 32 * half), bytes);
        }
  }

  // tab[(r * kGroups + (g - g0)) * 8 + e]: entry e has bit b set where row b of the group is
  // subtracted (binary) or taken (ternary). Rows past n add g = 0.
  static void build_tables(const float* g, std::size_t ldg, std::size_t n, std::size_t i, std::size_t rows,
                           std::size_t g0, std::size_t g1, float* tab) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256 pick[3];  // all-ones lanes whose entry has bit b set
    for (int b = 0; b < 3; ++b)
      pick[b] = _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(lanes, _mm256_set1_epi32(1 << b)),
                                                       _mm256_set1_epi32(1 << b)));
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (std::size_t r = 0; r < rows; ++r) {
      const float* row = g + (i + r) * ldg;
      for (std::size_t grp = g0; grp < g1; ++grp) {
        __m256 acc = _mm256_setzero_ps();
        for (int b = 0; b < 3; ++b) {
          const std::size_t j = kGroupRows * grp + std::size_t(b);
          const __m256 v = _mm256_set1_ps(j < n ? row[j] : 0.0f);
          // binary: -v where the bit is set; ternary: v there, +0 elsewhere (never 0 * Inf)
          const __m256 term = kTernary ? _mm256_and_ps(v, pick[b]) : _mm256_xor_ps(v, _mm256_and_ps(sign, pick[b]));
          acc = _mm256_add_ps(acc, term);
        }
        _mm256_store_ps(tab + (r * kGroups + (grp - g0)) * kTableFloats, acc);
      }
    }
  }

  static PBN_INLINE __m256i tail_mask(std::size_t k, std::size_t c) {
    const std::size_t n = c >= k ? 0 : k - c >= 8 ? 8 : k - c;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }

  template <std::size_t R>
  static void sweep(const float* tab, const std::uint8_t* idx, std::size_t ld, std::size_t groups, std::size_t k,
                    float* z, std::size_t ldz, bool first) {
    for (std::size_t c = 0; c < k; c += 8 * kCols) {
      __m256i m[kCols];
      for (std::size_t q = 0; q < kCols; ++q) m[q] = tail_mask(k, c + 8 * q);
      __m256 acc[R][kCols];
#pragma GCC unroll 8
      for (std::size_t r = 0; r < R; ++r)
#pragma GCC unroll 2
        for (std::size_t q = 0; q < kCols; ++q)
          acc[r][q] = first ? _mm256_setzero_ps() : _mm256_maskload_ps(z + r * ldz + c + 8 * q, m[q]);
      for (std::size_t grp = 0; grp < groups; ++grp) {
        __m256i ix[kCols], in[kCols];
#pragma GCC unroll 2
        for (std::size_t q = 0; q < kCols; ++q) {  // idx rows hold whole words plus slack: always readable
          ix[q] = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(idx + grp * ld + c + 8 * q)));
          if constexpr (kTernary) in[q] = _mm256_srli_epi32(ix[q], 4);
        }
#pragma GCC unroll 8
        for (std::size_t r = 0; r < R; ++r) {
          const __m256 t = _mm256_load_ps(tab + (r * kGroups + grp) * kTableFloats);
#pragma GCC unroll 2
          for (std::size_t q = 0; q < kCols; ++q) {
            acc[r][q] = _mm256_add_ps(acc[r][q], _mm256_permutevar8x32_ps(t, ix[q]));  // reads bits 0-2 only
            if constexpr (kTernary) acc[r][q] = _mm256_sub_ps(acc[r][q], _mm256_permutevar8x32_ps(t, in[q]));
          }
        }
      }
#pragma GCC unroll 8
      for (std::size_t r = 0; r < R; ++r)
#pragma GCC unroll 2
        for (std::size_t q = 0; q < kCols; ++q) _mm256_maskstore_ps(z + r * ldz + c + 8 * q, m[q], acc[r][q]);
    }
  }
};

}  // namespace
}  // namespace pbn
