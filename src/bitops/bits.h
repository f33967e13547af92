// The bit contract shared by every kernel and by the Python layer.
//
// - A packed row is an array of 64-bit words (word_t), little-endian.
// - Element i of a row lives in word i / 64, bit i % 64 (LSB first).
// - A set bit means the element is negative (x < 0): +1 <-> 0, -1 <-> 1.
//   Zero and -0.0 pack as +1.
// - Bits past the logical length k are always 0 ("zero padding").
//
// Because padding is zero in both operands, XOR is zero there, so for two
// packed rows of logical length k:
//     dot(a, b) = k - 2 * popcount(a XOR b)
// with no masking of the last word. Every GEMM relies on this identity.
#pragma once

#include <cstddef>
#include <cstdint>

// For micro-kernel helpers whose register arrays must be scalarized.
#define PBN_INLINE inline __attribute__((always_inline))
// The same for a lambda handed to such a helper (after its parameter list):
// the accumulators it captures stay in registers only if it is inlined too.
#define PBN_INLINE_LAMBDA __attribute__((always_inline))
// For a micro-kernel tile (the innermost loop nest): a function of its own, so
// its accumulators get the registers rather than the loops around it, starting
// on a cache line, so its loops sit at the same place in their 64-byte lines
// whatever the linker puts before it. (On Zen 5 the same machine code of the
// AVX2 ternary_weight_matmul_t tile ran 24% slower with its loop starting on a
// 64-byte boundary than 16, 32 or 48 bytes in: one link in four.)
#define PBN_TILE __attribute__((noinline, aligned(64)))

namespace pbn {

using word_t = std::uint64_t;
constexpr int kWordBits = 64;

// Helpers are `static` (internal linkage) on purpose: an inline function or
// std:: template emitted by a file compiled with AVX-512 flags could be the
// copy the linker keeps for every file, and crash a CPU without AVX-512. So
// the ISA files use only these and intrinsics, never std::min and friends.
static constexpr std::size_t words_for(std::size_t k) { return (k + kWordBits - 1) / kWordBits; }

// Mask of the valid (non-padding) bits of the last word of a row of length k.
static constexpr word_t last_word_mask(std::size_t k) {
  return (k % kWordBits) == 0 ? ~word_t(0) : (word_t(1) << (k % kWordBits)) - 1;
}

static inline std::size_t min_sz(std::size_t x, std::size_t y) { return x < y ? x : y; }
static inline std::size_t max_sz(std::size_t x, std::size_t y) { return x > y ? x : y; }

}  // namespace pbn
