// Binarization / ternarization samplers for BinaryConnect and ternary connect.
//
// Counter-based randomness: the draw for element `index` of a call with seed
// `seed` is splitmix64(seed + (index + 1) * golden), a pure function of
// (seed, index). Any split of the work across threads, and any ISA, gives the
// same bits for the same seed. One portable implementation (no ISA variants):
// sampling is a single pass over the weights, memory-bound and far cheaper
// than the matmuls that use its output.
#pragma once

#include <cstddef>
#include <cstdint>

#include "../bits.h"

namespace pbn {

// w is (rows, k) float32 with row stride ldw; out rows are words_for(k) words.
// Fills rows [r0, r1). Returns false if a NaN was seen.
//
// binarize: bit = 1 (-1) where w < 0 (deterministic), or with probability
//   1 - hard_sigmoid(w / scale), hard_sigmoid(v) = clip((v + 1) / 2, 0, 1).
bool binarize_rows(const float* w, std::size_t ldw, std::size_t k, float scale, bool stochastic,
                   std::uint64_t seed, word_t* out, std::size_t r0, std::size_t r1);
// ternarize: nonzero with probability clip(|w| / scale, 0, 1) (stochastic) or
//   where |w| / scale > 1/2 (deterministic); sign bit where nonzero and w < 0.
bool ternarize_rows(const float* w, std::size_t ldw, std::size_t k, float scale, bool stochastic,
                    std::uint64_t seed, word_t* sign, word_t* nonzero, std::size_t r0, std::size_t r1);

}  // namespace pbn
