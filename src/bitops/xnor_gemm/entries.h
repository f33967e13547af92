// The SIMD variants of the xnor_gemm family, written once over an ISA's tile
// (tile_*.h) with the epilogues of sinks.h: an ISA file includes its tile and
// this, and defines its variants with PBN_XNOR_GEMM_VARIANTS(isa, Tile).
#pragma once

#include "blocked.h"
#include "sinks.h"

namespace pbn {
namespace {

template <class Tile>
void run_xnor_gemm(const word_t* a, std::size_t lda, const word_t* b, std::size_t ldb, std::int32_t* c,
                   std::size_t ldc, std::size_t m, std::size_t n, std::size_t words, std::int64_t k) {
  with_sign_rows(a, lda, m, [&](auto rows) { blocked_xnor_gemm<Tile>(rows, b, ldb, Int32Sink{c, ldc}, m, n, words, k); });
}

template <class Tile>
void run_xnor_gemm_masked(const word_t* a, std::size_t lda, const word_t* mask, std::size_t ldm, const word_t* b,
                          std::size_t ldb, std::int32_t* c, std::size_t ldc, std::size_t m, std::size_t n,
                          std::size_t words) {
  AlignedScratch kept(m);
  const MaskedRows rows{a, lda, mask, ldm, row_popcounts(mask, ldm, m, words, kept.data)};
  blocked_xnor_gemm<Tile>(rows, b, ldb, Int32Sink{c, ldc}, m, n, words, 0);
}

template <class Tile>
void run_xnor_gemm_threshold(const word_t* a, std::size_t lda, const word_t* b, std::size_t ldb, word_t* c,
                             std::size_t ldc, std::size_t m, std::size_t n, std::size_t words, std::int64_t k,
                             const std::int32_t* thresholds, const word_t* flips) {
  const std::size_t out_words = words_for(n);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t w = 0; w < out_words; ++w) c[i * ldc + w] = 0;  // padding bits past n stay zero
  with_sign_rows(a, lda, m, [&](auto rows) {
    blocked_xnor_gemm<Tile>(rows, b, ldb, BitsSink::of(c, ldc, thresholds, flips), m, n, words, k);
  });
}

}  // namespace
}  // namespace pbn

#define PBN_XNOR_GEMM_VARIANTS(isa, Tile)                                                                         \
  void xnor_gemm__##isa(const word_t* a, std::size_t lda, const word_t* b, std::size_t ldb, std::int32_t* c,      \
                        std::size_t ldc, std::size_t m, std::size_t n, std::size_t words, std::int64_t k) {       \
    run_xnor_gemm<Tile>(a, lda, b, ldb, c, ldc, m, n, words, k);                                                  \
  }                                                                                                               \
  void xnor_gemm_masked__##isa(const word_t* a, std::size_t lda, const word_t* mask, std::size_t ldm,             \
                               const word_t* b, std::size_t ldb, std::int32_t* c, std::size_t ldc, std::size_t m, \
                               std::size_t n, std::size_t words) {                                                \
    run_xnor_gemm_masked<Tile>(a, lda, mask, ldm, b, ldb, c, ldc, m, n, words);                                   \
  }                                                                                                               \
  void xnor_gemm_threshold__##isa(const word_t* a, std::size_t lda, const word_t* b, std::size_t ldb, word_t* c,  \
                                  std::size_t ldc, std::size_t m, std::size_t n, std::size_t words,               \
                                  std::int64_t k, const std::int32_t* thresholds, const word_t* flips) {          \
    run_xnor_gemm_threshold<Tile>(a, lda, b, ldb, c, ldc, m, n, words, k, thresholds, flips);                     \
  }
