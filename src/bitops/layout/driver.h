// The transpose's driver (pybind-free): picks the variant (registry.h), splits
// a's rows over threads in whole 16-row tiles (threads.h), calls the kernel.
#pragma once

#include "../registry.h"

namespace pbn {
namespace driver {

// out (n x m, row stride ldo) = a.T, a (m x n, row stride lda) float32.
void transpose(const Target& t, const float* a, std::size_t lda, float* out, std::size_t ldo, std::size_t m,
               std::size_t n);

}  // namespace driver
}  // namespace pbn
