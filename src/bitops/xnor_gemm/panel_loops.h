// The loop nest of the column-panel kernels, written once over a micro-kernel
// `Tile` (panels_avx512.h, panels_avx2.h): Tile::kMR A rows x Tile::kNP panels
// of 8 columns per call of Tile::run<MR, NP>(a, lda, bp, words, row, col, k,
// sink), which hands each panel's 8 dot products of its rows to the sink. One
// group of kNP panels (words * 64 bytes each) stays in L1 while the A rows
// stream past. Internal to each ISA file that includes it.
#pragma once

#include "../bits.h"
#include "../tail.h"

namespace pbn {
namespace {

template <class Tile, int NP, class Sink>
void panel_column(const word_t* a, std::size_t lda, const word_t* bp, std::size_t words, std::size_t col,
                  std::size_t m, std::int64_t k, const Sink& out) {
  std::size_t i = 0;
  for (; i + Tile::kMR <= m; i += Tile::kMR)
    Tile::template run<Tile::kMR, NP>(a + i * lda, lda, bp, words, i, col, k, out);
  for (; i < m; ++i) Tile::template run<1, NP>(a + i * lda, lda, bp, words, i, col, k, out);
}

// Every output of rows [0, m) x columns [0, n) through `out`.
template <class Tile, class Sink>
void panels_gemm(const word_t* a, std::size_t lda, const word_t* bp, std::size_t m, std::size_t n, std::size_t words,
                 std::int64_t k, const Sink& out) {
  const std::size_t panels = (n + 7) / 8;
  std::size_t p = 0;
  for (; p + Tile::kNP <= panels; p += Tile::kNP)
    panel_column<Tile, Tile::kNP>(a, lda, bp + p * words * 8, words, p * 8, m, k, out);
  with_count<Tile::kNP - 1>(panels - p, [&](auto np) {
    panel_column<Tile, decltype(np)::value>(a, lda, bp + p * words * 8, words, p * 8, m, k, out);
  });
}

}  // namespace
}  // namespace pbn
