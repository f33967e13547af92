// The counter-based generator of the samplers and dropout: the draw for
// element `index` of a call with seed `seed` is a pure function of the two
// (splitmix64 of seed + (index + 1) * golden), so any split of the work over
// threads, and any CPU, gives the same bits. Internal linkage: this header is
// compiled under each ISA's flags (dropout__avx512.cpp), and an inline function
// with external linkage could be linked from the AVX-512 file into the scalar
// path (one definition chosen for all).
#pragma once

#include <cstdint>

namespace pbn {
namespace {

inline std::uint64_t splitmix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

inline std::uint64_t counter_draw(std::uint64_t seed, std::uint64_t index) {
  return splitmix64(seed + (index + 1) * 0x9E3779B97F4A7C15ull);
}

// A uniform draw in [0, 1) with 24 bits, for element `index`.
inline float uniform24(std::uint64_t seed, std::uint64_t index) {
  return float(counter_draw(seed, index) >> 40) * (1.0f / 16777216.0f);  // exact: 24-bit integer times 2**-24
}

}  // namespace
}  // namespace pbn
