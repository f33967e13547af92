// Copying B's rows into column panels (the layout of kernels.h's
// xnor_gemm_threshold_panels_fn): for the drivers (driver::to_panels) and, into a
// per-thread buffer kept between calls, the *_repanel variants; `block8` copies
// one full 8-row x 8-word block (the ISA file's fastest way: AVX-512 transposes
// it in registers).
#pragma once

#include "../bits.h"
#include "../scratch.h"

namespace pbn {
namespace {

// dst[q * 8 + l] = src[l * ldb + q] for q, l < 8, one word at a time.
PBN_INLINE void copy_block8(const word_t* src, std::size_t ldb, word_t* dst) {
  for (std::size_t q = 0; q < 8; ++q)
    for (std::size_t l = 0; l < 8; ++l) dst[q * 8 + l] = src[l * ldb + q];
}

// B rows (n, words, stride ldb) -> panels at bp ((n + 7) / 8 * words * 8 words); columns
// past n read as zero words.
template <class Block8>
void fill_panels(const word_t* b, std::size_t ldb, std::size_t n, std::size_t words, word_t* bp, Block8 block8) {
  const std::size_t panels = (n + 7) / 8;
  for (std::size_t p = 0; p < panels; ++p) {
    word_t* dst = bp + p * words * 8;
    const std::size_t live = n - 8 * p < 8 ? n - 8 * p : 8;
    if (live == 8) {  // 8 x 8 blocks, then the last words
      std::size_t q = 0;
      for (; q + 8 <= words; q += 8) block8(b + 8 * p * ldb + q, ldb, dst + q * 8);
      for (; q < words; ++q)
        for (std::size_t l = 0; l < 8; ++l) dst[q * 8 + l] = b[(8 * p + l) * ldb + q];
      continue;
    }
    for (std::size_t l = 0; l < 8; ++l) {
      const word_t* src = b + (8 * p + l) * ldb;
      if (l < live)
        for (std::size_t q = 0; q < words; ++q) dst[q * 8 + l] = src[q];
      else
        for (std::size_t q = 0; q < words; ++q) dst[q * 8 + l] = 0;
    }
  }
}

thread_local ThreadBuffer t_panels;  // the *_repanel variants' panels, per thread (scratch.h)

// fill_panels into this thread's buffer; nullptr if it could not be allocated.
template <class Block8>
const word_t* to_panels(const word_t* b, std::size_t ldb, std::size_t n, std::size_t words, Block8 block8) {
  auto* bp = static_cast<word_t*>(t_panels.get((n + 7) / 8 * words * 8 * sizeof(word_t)));
  if (bp) fill_panels(b, ldb, n, words, bp, block8);
  return bp;
}

}  // namespace
}  // namespace pbn
