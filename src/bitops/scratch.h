// Aligned scratch copies for micro-kernels. numpy guarantees only 16-byte
// alignment, and a 32- or 64-byte load that straddles cache lines costs a
// second access: copying a reused block of rows into 64-byte-aligned scratch
// is cheaper than splitting every load (measured: 25% on the AVX-512 GEMM).
// Static functions, and the per-thread buffer in an anonymous namespace: safe to
// include in any ISA's file.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "bits.h"

namespace pbn {

static inline bool aligned_rows(const word_t* p, std::size_t ld) {
  return reinterpret_cast<std::uintptr_t>(p) % 64 == 0 && ld % 8 == 0;
}

// Row stride (in words) that keeps every row of a copy 64-byte aligned.
static inline std::size_t aligned_ld(std::size_t words) { return (words + 7) & ~std::size_t(7); }

static inline const word_t* copy_rows(const word_t* src, std::size_t ld, std::size_t rows, std::size_t words,
                                      word_t* dst, std::size_t ld_dst) {
  for (std::size_t r = 0; r < rows; ++r) std::memcpy(dst + r * ld_dst, src + r * ld, words * sizeof(word_t));
  return dst;
}

struct AlignedScratch {
  // aligned_alloc wants a size that is a multiple of the alignment (C11; ASan enforces it).
  explicit AlignedScratch(std::size_t words)
      : data(words ? static_cast<word_t*>(std::aligned_alloc(64, (words * sizeof(word_t) + 63) / 64 * 64)) : nullptr) {}
  ~AlignedScratch() { std::free(data); }
  AlignedScratch(const AlignedScratch&) = delete;
  AlignedScratch& operator=(const AlignedScratch&) = delete;
  word_t* data;
};

namespace {  // internal: each ISA file gets its own copy (and its own per-thread buffer)

// Per-thread storage kept between calls, grown when a call needs more: a fresh
// MB-sized allocation per call is an mmap whose page faults (serialized on the
// process's memory map) cost as much as the work and stop a kernel from scaling
// over threads. Users: the shift-add tables, the xnor_gemm panels, the weight
// matmuls' wide-panel tables.
struct ThreadBuffer {
  void* p = nullptr;
  std::size_t bytes = 0;
  ~ThreadBuffer() { std::free(p); }
  void* get(std::size_t n) {
    if (n > bytes) {
      std::free(p);
      p = std::aligned_alloc(64, (n + 63) / 64 * 64);  // C11: size a multiple of the alignment
      bytes = p ? n : 0;
    }
    return p;
  }
};

}  // namespace

}  // namespace pbn
