// The transposed weight matmul by table lookup, z = g @ W (W binary or ternary),
// with no multiplication: the loop nest, written once over an ISA's table policy
// `T` (table_t_avx512.h: 32-entry vpermt2ps tables; table_t_avx2.h: 4-entry
// vpermilps tables, binary, or 8-entry vpermps, ternary). W's rows are taken
// T::kGroupRows at a time; for each row of g, T builds the table of the signed
// sums those rows can need, and W's digits at a column are the index of the sum
// that column takes (one lookup + one add per group and vector of columns, where
// a masked add covers one row).
//
// Groups are the outer loop: their indices are built per block of T::kGroups
// (in L2) and serve every row of g, so a conv weight gradient (n = N*OH*OW:
// thousands of groups) streams them once and revisits z once per block (a z of
// more than a few MB in slices of g's rows, so the revisits stay in L2); T::kRows
// rows of g per pass, their tables for the block in L1, the next pass's slice of
// g prefetched during the sweep. Rows with a non-finite
// output are redone in exact order, then 0 * Inf becomes NaN (fixup.h).
// Included by each ISA's *_lut__<isa>.cpp (internal linkage, that file's flags).
#pragma once

#include "../kernels.h"
#include "../scratch.h"
#include "../tail.h"
#include "fixup.h"

namespace pbn {
namespace {

// z larger than kSliceAboveBytes (with several blocks of groups) is swept in slices of g's rows of
// about kSliceZBytes: each block's sweep revisits z, and the slices' index rebuilds cost more than
// revisiting a z of a few MB (100x4096x4096, 1.6 MB: 4.7 -> 5.7 ms in 32-row slices).
constexpr std::size_t kSliceZBytes = 1 << 20, kSliceAboveBytes = 4 << 20;

// Brings g[r, c0:c1) for rows r < rows into the cache, a line at a time.
inline void prefetch_block(const float* g, std::size_t ldg, std::size_t rows, std::size_t c0, std::size_t c1) {
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = c0; c < c1; c += 16) __builtin_prefetch(g + r * ldg + c);
}

// The op for a slice of g's rows (ternary_weight_matmul_t_fn's arguments; `nz` null for binary weights).
// Kept out of line: with the slice loop written around this loop nest in one function, the sweep was
// inlined and the one-block shapes (4096x100x4096) ran 15 % slower.
template <class T>
__attribute__((noinline)) void table_matmul_t_rows(const float* g, std::size_t ldg, const word_t* s,
                                                   std::size_t lds, const word_t* nz, std::size_t ldnz, float* z,
                                                   std::size_t ldz, std::size_t m, std::size_t n, std::size_t k) {
  const std::size_t groups = (n + T::kGroupRows - 1) / T::kGroupRows;
  // idx rows: whole words, plus a pass's columns of slack for the last vector loads.
  const std::size_t ld = (k + 63) / 64 * 64 + T::kPassCols;
  AlignedScratch idx_buf((T::kGroups * ld + 64) / 8 + 1), tab_buf(T::kRows * T::kGroups * T::kTableFloats / 2);
  auto* idx = reinterpret_cast<std::uint8_t*>(idx_buf.data);
  auto* tab = reinterpret_cast<float*>(tab_buf.data);
  if (groups == 0) {
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t c = 0; c < k; ++c) z[i * ldz + c] = 0.0f;
    return;
  }
  for (std::size_t g0 = 0; g0 < groups; g0 += T::kGroups) {
    const std::size_t g1 = min_sz(groups, g0 + T::kGroups);
    T::build_indices(s, lds, nz, ldnz, n, k, g0, g1, idx, ld);
    for (std::size_t i = 0; i < m; i += T::kRows) {
      const std::size_t rows = min_sz(T::kRows, m - i);
      T::build_tables(g, ldg, n, i, rows, g0, g1, tab);
      // g's slice for the next pass: its rows are far apart (a conv weight gradient's g row is
      // N*OH*OW floats), a jump the hardware prefetchers do not follow; the sweep hides the latency
      if (i + T::kRows < m)
        prefetch_block(g + (i + T::kRows) * ldg, ldg, min_sz(T::kRows, m - i - T::kRows), T::kGroupRows * g0,
                       min_sz(n, T::kGroupRows * g1));
      else if (g1 < groups)
        prefetch_block(g, ldg, min_sz(T::kRows, m), T::kGroupRows * g1, min_sz(n, T::kGroupRows * (g1 + T::kGroups)));
      float* zi = z + i * ldz;
      with_count<T::kRows>(rows, [&](auto r) {
        T::template sweep<decltype(r)::value>(tab, idx, ld, g1 - g0, k, zi, ldz, g0 == 0);
      });
      if (g1 == groups) {  // while in cache
        fix_nonfinite_transposed(g + i * ldg, ldg, s, lds, zi, ldz, rows, n, k, nz, ldnz);
        if (nz) fix_zero_weights_transposed(g + i * ldg, ldg, nz, ldnz, zi, ldz, rows, n, k);
      }
    }
  }
}

// The whole op: a large z in slices of g's rows (kSliceZBytes above): 512x3200x4608, a 512-filter conv's
// weight gradient, has 9.4 MB of z revisited by 10 blocks. Each slice rebuilds the indices (a few %).
template <class T>
void table_matmul_t(const float* g, std::size_t ldg, const word_t* s, std::size_t lds, const word_t* nz,
                    std::size_t ldnz, float* z, std::size_t ldz, std::size_t m, std::size_t n, std::size_t k) {
  const std::size_t groups = (n + T::kGroupRows - 1) / T::kGroupRows;
  const std::size_t fit = kSliceZBytes / (4 * (k > 0 ? k : 1)) / T::kRows * T::kRows;
  const bool sliced = groups > T::kGroups && k > 0 && m > kSliceAboveBytes / 4 / k;  // integer sizes: no float multiply
  const std::size_t slice = !sliced ? m : fit > T::kRows ? fit : T::kRows;
  if (slice >= m) return table_matmul_t_rows<T>(g, ldg, s, lds, nz, ldnz, z, ldz, m, n, k);
  for (std::size_t i0 = 0; i0 < m; i0 += slice)
    table_matmul_t_rows<T>(g + i0 * ldg, ldg, s, lds, nz, ldnz, z + i0 * ldz, ldz, min_sz(slice, m - i0), n, k);
}

}  // namespace
}  // namespace pbn
