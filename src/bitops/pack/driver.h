// pack_signs' driver (pybind-free): picks the variant (registry.h), splits
// the work over threads (threads.h), calls the kernel.
#pragma once

#include "../registry.h"

namespace pbn {
namespace driver {

// x C-contiguous, viewed as (outer, k, inner) of `dtype` -> out (outer,
// words_for(k), inner) packed along k. Returns true if a NaN was seen.
bool pack_signs(const Target& t, const void* x, DType dtype, std::size_t outer, std::size_t k, std::size_t inner,
                word_t* out);

// A layer input of +-s and 0 values (x: rows x k, C-contiguous) -> sign and
// nonzero bits (rows x words_for(k) each). s is the magnitude of the first
// nonzero element (0 if none), found here; returns the kernels' flags (kernels.h).
struct ScaledTernary {
  float s = 0.0f;
  unsigned flags = 0;
};
ScaledTernary pack_scaled_ternary(const Target& t, const float* x, std::size_t rows, std::size_t k, word_t* signs,
                                  word_t* nonzero);

// x (rows x k uint8, C-contiguous) -> its 8 bit planes as packed ±1 rows (8 * rows x words_for(k)):
// plane p of row i at row p * rows + i (first_layer.pack_bit_planes).
void pack_bit_planes(const Target& t, const std::uint8_t* x, std::size_t rows, std::size_t k, word_t* out);

}  // namespace driver
}  // namespace pbn
