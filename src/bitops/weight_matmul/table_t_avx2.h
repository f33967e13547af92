// The AVX2 tables of the transposed weight matmul (the loop nest: table_t.h).
//   binary:  vpermilps picks one of 4 floats per 128-bit lane (the table sits in
//            both lanes), so W's rows are taken two at a time: the 4 signed sums
//            ±g[i,j0] ±g[i,j1] (in the reference's order), indexed by the two sign
//            bits: one vpermilps + one add per 2 weight rows x 8 columns.
//   ternary: vpermps picks one of 8 floats per lane, so W's rows are taken three
//            at a time: the 8 subset sums of g[i,j0], g[i,j1], g[i,j2], looked up
//            twice, by the +1 digits and by the -1 digits: add the one, subtract
//            the other (zero digits in neither: their terms are skipped, as the
//            reference skips them). The two 3-bit indices share a byte (+1 in
//            bits 0-2, which vpermps reads, -1 in bits 4-6).
// Why two policies: on Zen 2/3 a lane-crossing vpermps issues about one per 2
// cycles where vpermilps issues two per cycle (Zen 3, a lookup + add loop from
// L1: 0.69 vs 0.27 ns per lookup). Zen 3, 1 thread, with the plain stores below:
// binary g @ sign(W) 100x4096x4096 50-53 ms with 3-row vpermps tables, 35-37 with
// 2-row vpermilps ones; ternary the other way (66-68 vs 68-83 ms, 4 or 6 rows of
// g). On Intel before Ice Lake both permutes take the one shuffle port, where 3
// rows per lookup would win (not measured here).
// Indices: each word of bits becomes 64 bytes by a broadcast, a byte shuffle and a
// compare. kRows rows of g x 2 8-wide column blocks of accumulators per pass (6
// binary; 4 ternary, whose two index vectors per block would spill at 6); 128
// groups per block (kRows x 4 KiB of tables). Full column blocks load and store z
// plainly: vmaskmovps stores are slow on Zen 2/3 (binary dW 4096x100x4096 with
// vpermps tables: 103-110 -> 60-61 ms).
#pragma once

#include <immintrin.h>

#include "../simd/avx2.h"
#include "table_t.h"

namespace pbn {
namespace {

template <bool kTernary>
struct Avx2Tables {
  static constexpr std::size_t kRows = kTernary ? 4 : 6, kCols = 2, kGroups = 128, kGroupRows = kTernary ? 3 : 2;
  static constexpr std::size_t kTableFloats = 8, kPassCols = 8 * kCols;  // binary: 4 entries, in both lanes
  static PBN_INLINE __m256 lookup(__m256 t, __m256i ix) {
    if constexpr (kTernary) return _mm256_permutevar8x32_ps(t, ix);  // reads bits 0-2 only
    return _mm256_permutevar_ps(t, ix);                               // reads bits 0-1 only
  }

  // idx[(g - g0) * ld + c]: binary, the sign bits of rows 2g, 2g+1 at column c (row 2g in bit 0);
  // ternary, rows 3g..3g+2: their +1 bits in bits 0-2 and their -1 bits in bits 4-6. Rows past n: 0.
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

  // tab[(r * kGroups + (g - g0)) * 8 + l]: lane l holds entry e = l (ternary) or l % 4 (binary), and
  // e has bit b set where row b of the group is subtracted (binary) or taken (ternary). Rows past n
  // add g = 0.
  static void build_tables(const float* g, std::size_t ldg, std::size_t n, std::size_t i, std::size_t rows,
                           std::size_t g0, std::size_t g1, float* tab) {
    const __m256i lanes =
        kTernary ? _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7) : _mm256_setr_epi32(0, 1, 2, 3, 0, 1, 2, 3);
    __m256 pick[kGroupRows];  // all-ones lanes whose entry has bit b set
    for (int b = 0; b < int(kGroupRows); ++b)
      pick[b] = _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(lanes, _mm256_set1_epi32(1 << b)),
                                                       _mm256_set1_epi32(1 << b)));
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (std::size_t r = 0; r < rows; ++r) {
      const float* row = g + (i + r) * ldg;
      for (std::size_t grp = g0; grp < g1; ++grp) {
        __m256 acc = _mm256_setzero_ps();
        for (int b = 0; b < int(kGroupRows); ++b) {
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

  // Out of line, and whole column blocks apart from the tail: inlined into the loop nest, GCC kept
  // build_tables' constants in two ymm registers through the sweep and one of the 12 accumulators on
  // the stack (a store and a reload on its add chain every group). Zen 3, 1 thread, the two builds
  // alternating, best of 15 calls, 4 pairs: binary 100x4096x4096 dx 44.7-47.8 -> 36.8-43.1 ms, dW
  // 54.0-60.3 -> 44.8-51.1 ms; ternary unchanged within the noise (72-78 ms).
  template <std::size_t R>
  __attribute__((noinline)) static void sweep(const float* tab, const std::uint8_t* idx, std::size_t ld,
                                              std::size_t groups, std::size_t k, float* z, std::size_t ldz,
                                              bool first) {
    std::size_t c = 0;
    for (; c + kPassCols <= k; c += kPassCols) column_block<R, true>(tab, idx, ld, groups, k, c, z, ldz, first);
    if (c < k) column_block<R, false>(tab, idx, ld, groups, k, c, z, ldz, first);
  }

  // Columns [c, c + kPassCols) of R rows of z; kWhole: all inside k (else masked loads and stores at
  // the tail: vmaskmovps stores are slow on Zen 2/3).
  template <std::size_t R, bool kWhole>
  static PBN_INLINE void column_block(const float* tab, const std::uint8_t* idx, std::size_t ld, std::size_t groups,
                                      std::size_t k, std::size_t c, float* z, std::size_t ldz, bool first) {
    std::size_t live[kCols] = {};  // the tail's columns of each 8-wide block inside k
    if constexpr (!kWhole)
      for (std::size_t q = 0; q < kCols; ++q) live[q] = c + 8 * q >= k ? 0 : min_sz(k - c - 8 * q, 8);
    __m256 acc[R][kCols];
#pragma GCC unroll 8
    for (std::size_t r = 0; r < R; ++r)
#pragma GCC unroll 2
      for (std::size_t q = 0; q < kCols; ++q)
        acc[r][q] = first    ? Avx2::zero()
                    : kWhole ? Avx2::load(z + r * ldz + c + 8 * q)
                             : Avx2::load_tail(z + r * ldz + c + 8 * q, live[q]);
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
          acc[r][q] = _mm256_add_ps(acc[r][q], lookup(t, ix[q]));
          if constexpr (kTernary) acc[r][q] = _mm256_sub_ps(acc[r][q], lookup(t, in[q]));
        }
      }
    }
#pragma GCC unroll 8
    for (std::size_t r = 0; r < R; ++r)
#pragma GCC unroll 2
      for (std::size_t q = 0; q < kCols; ++q) {
        if constexpr (kWhole)
          Avx2::store(z + r * ldz + c + 8 * q, acc[r][q]);
        else
          Avx2::store_tail(z + r * ldz + c + 8 * q, acc[r][q], live[q]);
      }
  }
};

}  // namespace
}  // namespace pbn
