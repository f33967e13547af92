// The A operand of the blocked loop nest (blocked.h) and the micro-kernels
// (tile_*.h): a policy type, so the masked GEMM reuses the tiles and the loop
// nest and the unmasked code is unchanged (kMasked is a compile-time constant;
// `bias` is k). Internal to each file that includes it (anonymous namespace).
//
// SignRows: packed +-1 rows; dot = k - 2 * popcount(a ^ b) (SignRowsOf<true>: one row).
// MaskedRows: ternary rows as sign bits plus a keep mask with its popcount per
// row; dot = popcount(m) - 2 * popcount((a ^ b) & m). The mask travels with
// its rows through row offsets and aligned copies (two planes per row, which
// is also why an L1 block holds half the rows).
#pragma once

#include <cstdint>

#include "../bits.h"
#include "../scratch.h"

namespace pbn {
namespace {

// kOneRow: the kernel call (a thread's share of the product) has one row of A (batch 1).
// The tiles then read the B rows one after another rather than in lockstep, so that weights
// from DRAM stream in address order (tile_avx512.h); with more rows the lockstep tile reuses
// each B load and is faster.
// With one row of A each B row is read once, in address order: the tiles prefetch the lines of the row
// kStreamAhead bytes past the one they start on. Zen 5 (1 thread, 1x4096x4096, 2 MiB of rows after a
// 128 MiB flush): 26-33 GB/s on the hardware prefetchers alone, 39-43 GB/s with this (the read probe,
// scripts/read_bandwidth.cpp: 37-45); from L3 90-101 -> 107-110 GB/s. 1-2 KiB ahead gained less, 8 KiB
// the same. On Zen 4 software prefetch changed nothing (tile_avx512.h).
constexpr std::size_t kStreamAhead = 4096;

PBN_INLINE void prefetch_ahead(const word_t* row, std::size_t words) {
  const std::uintptr_t start = (reinterpret_cast<std::uintptr_t>(row) + kStreamAhead) & ~std::uintptr_t(63);
  const std::uintptr_t end = reinterpret_cast<std::uintptr_t>(row) + kStreamAhead + words * sizeof(word_t);
  for (std::uintptr_t p = start; p < end; p += 64) __builtin_prefetch(reinterpret_cast<const void*>(p));
}

template <bool kOne>
struct SignRowsOf {
  static constexpr bool kMasked = false;
  static constexpr bool kOneRow = kOne;
  static constexpr std::size_t kPlanes = 1;
  const word_t* a;
  std::size_t lda;
  SignRowsOf row(std::size_t i) const { return {a + i * lda, lda}; }
  bool aligned() const { return aligned_rows(a, lda); }
  SignRowsOf copy(std::size_t rows, std::size_t words, word_t* dst, std::size_t ld) const {
    return {copy_rows(a, lda, rows, words, dst, ld), ld};
  }
  PBN_INLINE std::int64_t bias(int, std::int64_t k) const { return k; }
};
using SignRows = SignRowsOf<false>;

// f(rows): the SignRows of a (m rows), as the one-row type when m == 1.
template <class F>
PBN_INLINE void with_sign_rows(const word_t* a, std::size_t lda, std::size_t m, F&& f) {
  if (m == 1)
    f(SignRowsOf<true>{a, lda});
  else
    f(SignRows{a, lda});
}

struct MaskedRows {
  static constexpr bool kMasked = true;
  static constexpr bool kOneRow = false;
  static constexpr std::size_t kPlanes = 2;
  const word_t* a;
  std::size_t lda;
  const word_t* m;
  std::size_t ldm;
  const std::int64_t* kept;  // popcount(m) of each row
  MaskedRows row(std::size_t i) const { return {a + i * lda, lda, m + i * ldm, ldm, kept + i}; }
  bool aligned() const { return aligned_rows(a, lda) && aligned_rows(m, ldm); }
  // dst holds 2 * rows rows of ld words: the signs, then the masks.
  MaskedRows copy(std::size_t rows, std::size_t words, word_t* dst, std::size_t ld) const {
    return {copy_rows(a, lda, rows, words, dst, ld), ld, copy_rows(m, ldm, rows, words, dst + rows * ld, ld), ld,
            kept};
  }
  PBN_INLINE std::int64_t bias(int i, std::int64_t) const { return kept[i]; }
};

// kept[i] = popcount of mask row i, into scratch of m words.
static inline const std::int64_t* row_popcounts(const word_t* mask, std::size_t ldm, std::size_t m, std::size_t words,
                                                word_t* scratch) {
  auto* kept = reinterpret_cast<std::int64_t*>(scratch);
  for (std::size_t i = 0; i < m; ++i) {
    std::int64_t s = 0;
    for (std::size_t w = 0; w < words; ++w) s += __builtin_popcountll(mask[i * ldm + w]);
    kept[i] = s;
  }
  return kept;
}

}  // namespace
}  // namespace pbn
