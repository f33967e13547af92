// The loop nest of the column-panel kernels, written once over a micro-kernel
// `Tile` (panels_avx512.h, panels_avx2.h): Tile::kMR A rows x Tile::kNP panels
// of 8 columns per call of Tile::run<MR, NP>(a, lda, bp, words, row, col, k,
// sink), which hands each panel's 8 dot products of its rows to the sink. One
// group of kNP panels (words * 64 bytes each) stays in L1 while the A rows
// stream past. Internal to each ISA file that includes it, which defines its
// variants with PBN_PANEL_VARIANTS (below).
#pragma once

#include "../bits.h"
#include "../tail.h"
#include "repanel.h"

namespace pbn {
namespace {

template <class Tile, int NP, class Sink>
void panel_column(const word_t* a, std::size_t lda, const word_t* bp, std::size_t words, std::size_t col,
                  std::size_t m, std::int64_t k, const Sink& out) {
  std::size_t i = 0;
  for (; i + Tile::kMR <= m; i += Tile::kMR)
    Tile::template run<Tile::kMR, NP>(a + i * lda, lda, bp, words, i, col, k, out);
  // the last m % kMR rows as one shorter tile: row by row, each row reloaded every panel word
  with_count<Tile::kMR - 1>(m - i, [&](auto mr) {
    Tile::template run<decltype(mr)::value, NP>(a + i * lda, lda, bp, words, i, col, k, out);
  });
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

// The panel variants of an ISA, over its Tile and sinks: the fused layer on B already in
// panels (the conv driver), and xnor_gemm / xnor_gemm_threshold that copy their B rows into
// this thread's panels first with `block8` (the *_repanel variants), falling back to the row
// kernels if the panels cannot be allocated.
#define PBN_PANEL_VARIANTS(isa, Tile, Int32Sink, BitsSink, block8)                                                 \
  void xnor_gemm_threshold_panels__##isa(const word_t* a, std::size_t lda, const word_t* bp, word_t* c,            \
                                         std::size_t ldc, std::size_t m, std::size_t n, std::size_t words,        \
                                         std::int64_t k, const std::int32_t* thresholds, const word_t* flips) {   \
    const std::size_t out_words = words_for(n);                                                                    \
    for (std::size_t i = 0; i < m; ++i)                                                                            \
      for (std::size_t w = 0; w < out_words; ++w) c[i * ldc + w] = 0; /* bytes past n stay zero */                 \
    const BitsSink out{reinterpret_cast<std::uint8_t*>(c), ldc * sizeof(word_t), n, thresholds,                    \
                       reinterpret_cast<const std::uint8_t*>(flips)};                                              \
    panels_gemm<Tile>(a, lda, bp, m, n, words, k, out);                                                            \
  }                                                                                                                \
  void xnor_gemm_repanel__##isa(const word_t* a, std::size_t lda, const word_t* b, std::size_t ldb,                \
                                std::int32_t* c, std::size_t ldc, std::size_t m, std::size_t n, std::size_t words, \
                                std::int64_t k) {                                                                  \
    const word_t* bp = to_panels(b, ldb, n, words, block8);                                                        \
    if (!bp) return xnor_gemm__##isa(a, lda, b, ldb, c, ldc, m, n, words, k);                                      \
    panels_gemm<Tile>(a, lda, bp, m, n, words, k, Int32Sink{c, ldc, n});                                           \
  }                                                                                                                \
  void xnor_gemm_threshold_repanel__##isa(const word_t* a, std::size_t lda, const word_t* b, std::size_t ldb,      \
                                          word_t* c, std::size_t ldc, std::size_t m, std::size_t n,               \
                                          std::size_t words, std::int64_t k, const std::int32_t* thresholds,       \
                                          const word_t* flips) {                                                   \
    const word_t* bp = to_panels(b, ldb, n, words, block8);                                                        \
    if (!bp) return xnor_gemm_threshold__##isa(a, lda, b, ldb, c, ldc, m, n, words, k, thresholds, flips);         \
    xnor_gemm_threshold_panels__##isa(a, lda, bp, c, ldc, m, n, words, k, thresholds, flips);                      \
  }
