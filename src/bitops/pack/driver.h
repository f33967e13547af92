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

}  // namespace driver
}  // namespace pbn
