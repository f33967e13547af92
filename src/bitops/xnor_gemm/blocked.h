// The cache-blocked loop nest of the SIMD xnor_gemm family (int32 output,
// masked A, packed sign bits out), written once over a micro-kernel `Tile`
// (tile_avx2.h, tile_avx512.h): Tile::kMR x Tile::kNR outputs per call of
// `Tile::run<MR, NR>(a, b, ldb, sink, words, k)` (NR <= kNR; A is an a_rows.h
// operand). The tile hands its dot products to the sink: the epilogue is a
// template parameter, so the fused kernel compares and packs the tile's sums
// in registers. Internal to each ISA file that includes it.
//
// Blocking: a block of B rows stays in L2; within it a block of A rows stays
// in L1 while kNR-row tiles of B (also in L1) sweep it. Misaligned operands
// are copied block by block into aligned scratch when reused enough to pay.
#pragma once

#include "../scratch.h"
#include "../tail.h"
#include "a_rows.h"

namespace pbn {
namespace {

constexpr std::size_t kL2Bytes = 512 * 1024;  // B rows kept in L2
constexpr std::size_t kL1Bytes = 16 * 1024;   // A rows kept in L1

// NR rows of B against rows [0, m) of A.
template <class Tile, int NR, class A, class Sink>
void column_panel(const A& a, const word_t* b, std::size_t ldb, const Sink& out, std::size_t m, std::size_t words,
                  std::int64_t k) {
  std::size_t i = 0;
  for (; i + Tile::kMR <= m; i += Tile::kMR)
    Tile::template run<Tile::kMR, NR>(a.row(i), b, ldb, out.at(i, 0), words, k);
  for (; i < m; ++i) Tile::template run<1, NR>(a.row(i), b, ldb, out.at(i, 0), words, k);
}

template <class Tile, class A, class Sink>
void blocked_xnor_gemm(const A& a, const word_t* b, std::size_t ldb, const Sink& out, std::size_t m, std::size_t n,
                       std::size_t words, std::int64_t k) {
  constexpr std::size_t kMR = Tile::kMR, kNR = Tile::kNR;
  const std::size_t row_bytes = max_sz(words * sizeof(word_t), 1);
  const std::size_t nb = max_sz(kNR, kL2Bytes / row_bytes / kNR * kNR);
  const std::size_t mb = max_sz(kMR, kL1Bytes / (A::kPlanes * row_bytes) / kMR * kMR);
  const std::size_t ld_copy = aligned_ld(words);
  const bool copy_a = words > 0 && !a.aligned() && n >= 4 * kNR;  // k = 0: nothing to copy
  const bool copy_b = words > 0 && !aligned_rows(b, ldb) && m >= 4 * kMR;
  AlignedScratch a_scratch(copy_a ? A::kPlanes * mb * ld_copy : 0), b_scratch(copy_b ? min_sz(nb, n) * ld_copy : 0);
  for (std::size_t j0 = 0; j0 < n; j0 += nb) {
    const std::size_t nj = min_sz(nb, n - j0);
    std::size_t ldbb = ldb;
    const word_t* bb = copy_b ? copy_rows(b + j0 * ldb, ldb, nj, words, b_scratch.data, ldbb = ld_copy) : b + j0 * ldb;
    for (std::size_t i0 = 0; i0 < m; i0 += mb) {
      const std::size_t mi = min_sz(mb, m - i0);
      const A ai = copy_a ? a.row(i0).copy(mi, words, a_scratch.data, ld_copy) : a.row(i0);
      std::size_t j = 0;
      for (; j + kNR <= nj; j += kNR)
        column_panel<Tile, Tile::kNR>(ai, bb + j * ldbb, ldbb, out.at(i0, j0 + j), mi, words, k);
      with_count<Tile::kNR - 1>(nj - j, [&](auto nr) {
        column_panel<Tile, decltype(nr)::value>(ai, bb + j * ldbb, ldbb, out.at(i0, j0 + j), mi, words, k);
      });
    }
  }
}

}  // namespace
}  // namespace pbn
