// The fused optimizer update's driver (pybind-free): picks the variant
// (registry.h), splits the n elements over threads (threads.h), calls the kernel.
#pragma once

#include "../registry.h"

namespace pbn {
namespace driver {

void optimizer_step(const Target& t, float* w, const float* g, float* m, float* v, std::size_t n, const OptimStep& s);

}  // namespace driver
}  // namespace pbn
