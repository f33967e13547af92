// binary_weight_matmul_t on AVX-512 for 16+ rows of g (variants.inc):
// z = g @ sign(W) by table lookup, with no multiplication: the rows of W are
// taken four at a time, and for each row i of g the 16 signed sums
// ±g[i,j0] ±g[i,j1] ±g[i,j2] ±g[i,j3] are built once (a 16-float table in one
// zmm register: 4 broadcasts, 4 sign flips, 3 adds). Then every column c
// needs one lookup per group of four rows, indexed by W's four sign bits at c
// (vpermps: 16 columns per instruction) and one add: four terms per
// lookup+add instead of one per masked add. The nibble indices are built
// once per call from the packed bits (vpmovm2b-style masked byte moves).
//
// Blocking: kRows rows of g share each index load; their tables for a block
// of kGroups groups stay in L1 while the columns are swept in 16-wide blocks;
// indices are built per block of groups, which every row then sweeps.
// Non-finite rows are redone in exact order (fixup.h).
#include <immintrin.h>

#include "../kernels.h"
#include "../scratch.h"
#include "../tail.h"
#include "fixup.h"

namespace pbn {
namespace {

constexpr std::size_t kRows = 8;     // rows of g per pass (accumulators)
constexpr std::size_t kGroups = 64;  // groups of 4 W-rows per table block: 8 x 64 x 64 B = 32 KiB

// idx[(g - g0) * ld + c] = the 4 sign bits of W rows 4g..4g+3 at column c (row 4g in bit 0), for
// groups [g0, g1).
void build_indices(const word_t* s, std::size_t lds, std::size_t n, std::size_t k, std::size_t g0, std::size_t g1,
                   std::uint8_t* idx, std::size_t ld) {
  const std::size_t words = words_for(k);
  for (std::size_t g = g0; g < g1; ++g) {
    for (std::size_t w = 0; w < words; ++w) {
      __m512i bytes = _mm512_setzero_si512();
      for (std::size_t r = 0; r < 4 && 4 * g + r < n; ++r)
        bytes = _mm512_or_si512(bytes, _mm512_maskz_mov_epi8(__mmask64(s[(4 * g + r) * lds + w]),
                                                             _mm512_set1_epi8(char(1 << r))));
      _mm512_storeu_si512(idx + (g - g0) * ld + w * 64, bytes);
    }
  }
}

// Tables of rows [i, i + rows) of g for groups [g0, g1): tab[(r * kGroups + (g - g0)) * 16 + j].
void build_tables(const float* g, std::size_t ldg, std::size_t n, std::size_t i, std::size_t rows, std::size_t g0,
                  std::size_t g1, float* tab) {
  const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i sign = _mm512_set1_epi32(int(0x80000000u));
  __m512i flip[4];
  for (int b = 0; b < 4; ++b)  // lanes whose index has bit b set take -g[j_b]
    flip[b] = _mm512_and_si512(sign, _mm512_sub_epi32(_mm512_setzero_si512(),
                                                      _mm512_and_si512(_mm512_srli_epi32(lanes, b), _mm512_set1_epi32(1))));
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = g + (i + r) * ldg;
    for (std::size_t grp = g0; grp < g1; ++grp) {
      __m512 t = _mm512_setzero_ps();
      for (std::size_t b = 0; b < 4; ++b) {
        const std::size_t j = 4 * grp + b;
        const float v = j < n ? row[j] : 0.0f;
        t = _mm512_add_ps(t, _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(_mm512_set1_ps(v)), flip[b])));
      }
      _mm512_store_ps(tab + (r * kGroups + (grp - g0)) * 16, t);
    }
  }
}

template <std::size_t R>
void sweep(const float* tab, const std::uint8_t* idx, std::size_t ld, std::size_t groups, std::size_t k, float* z,
           std::size_t ldz, bool first) {
  for (std::size_t c = 0; c < k; c += 16) {
    const __mmask16 m = k - c >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (k - c)) - 1);
    __m512 acc[R];
#pragma GCC unroll 16
    for (std::size_t r = 0; r < R; ++r) acc[r] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m, z + r * ldz + c);
    for (std::size_t grp = 0; grp < groups; ++grp) {
      const __m512i ix = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(idx + grp * ld + c)));
#pragma GCC unroll 16
      for (std::size_t r = 0; r < R; ++r)
        acc[r] = _mm512_add_ps(acc[r], _mm512_permutexvar_ps(ix, _mm512_load_ps(tab + (r * kGroups + grp) * 16)));
    }
#pragma GCC unroll 16
    for (std::size_t r = 0; r < R; ++r) _mm512_mask_storeu_ps(z + r * ldz + c, m, acc[r]);
  }
}

}  // namespace

void binary_weight_matmul_t_lut__avx512(const float* g, std::size_t ldg, const word_t* s, std::size_t lds, float* z,
                                        std::size_t ldz, std::size_t m, std::size_t n, std::size_t k) {
  const std::size_t groups = (n + 3) / 4;
  const std::size_t ld = (k + 63) / 64 * 64 + 16;  // whole words, plus slack for the last 16-wide load
  AlignedScratch idx_buf((kGroups * ld + 64) / 8 + 1), tab_buf(kRows * kGroups * 16 / 2);
  auto* idx = reinterpret_cast<std::uint8_t*>(idx_buf.data);
  auto* tab = reinterpret_cast<float*>(tab_buf.data);
  if (groups == 0) {
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t c = 0; c < k; ++c) z[i * ldz + c] = 0.0f;
    return;
  }
  // Groups outer: one block of indices (in L2) serves every row of g (see the ternary kernel).
  for (std::size_t g0 = 0; g0 < groups; g0 += kGroups) {
    const std::size_t g1 = min_sz(groups, g0 + kGroups);
    build_indices(s, lds, n, k, g0, g1, idx, ld);
    for (std::size_t i = 0; i < m; i += kRows) {
      const std::size_t rows = min_sz(kRows, m - i);
      build_tables(g, ldg, n, i, rows, g0, g1, tab);
      float* zi = z + i * ldz;
      with_count<kRows>(rows, [&](auto r) { sweep<decltype(r)::value>(tab, idx, ld, g1 - g0, k, zi, ldz, g0 == 0); });
      if (g1 == groups) fix_nonfinite_transposed(g + i * ldg, ldg, s, lds, zi, ldz, rows, n, k);  // while in cache
    }
  }
}

}  // namespace pbn
