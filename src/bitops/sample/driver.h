// The samplers' driver (pybind-free): binarization / ternarization for
// BinaryConnect and ternary connect, rows split over threads.
//
// Counter-based randomness: the draw for element `index` of a call with seed
// `seed` is splitmix64(seed + (index + 1) * golden), a pure function of
// (seed, index). Any split of the work across threads, and any ISA, gives the
// same bits for the same seed. One portable implementation (no ISA variants):
// sampling is a single pass over the weights, memory-bound and far cheaper
// than the matmuls that use its output.
//
// w is (rows, k) float32 with row stride ldw; out rows are words_for(k) words.
// binarize: bit = 1 (-1) where w < 0 (deterministic), or with probability
//   1 - hard_sigmoid(w / scale), hard_sigmoid(v) = clip((v + 1) / 2, 0, 1).
// ternarize: nonzero with probability clip(|w| / scale, 0, 1) (stochastic) or
//   where |w| / scale > 1/2 (deterministic); sign bit where nonzero and w < 0.
// Both return false if a NaN was seen.
#pragma once

#include "../registry.h"

namespace pbn {
namespace driver {

bool binarize(const Target& t, const float* w, std::size_t ldw, std::size_t rows, std::size_t k, float scale,
              bool stochastic, std::uint64_t seed, word_t* out);
bool ternarize(const Target& t, const float* w, std::size_t ldw, std::size_t rows, std::size_t k, float scale,
               bool stochastic, std::uint64_t seed, word_t* sign, word_t* nonzero);
// Inverted dropout of n elements: scale[i] = 1 / (1 - p) (float32) where element i's
// 24-bit uniform u_i >= p (so kept with probability 1 - p), else 0; y[i] = x[i] * scale[i].
// Element i's uniform is the draw of pair i / 2: bits 40..63 (even i) or 16..39 (odd i).
void dropout(const Target& t, const float* x, float* y, float* scale, std::size_t n, double p, std::uint64_t seed);

}  // namespace driver
}  // namespace pbn
