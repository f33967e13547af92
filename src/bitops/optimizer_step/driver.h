// The fused optimizer update's driver (pybind-free): picks the variant
// (registry.h), splits the n elements over threads (threads.h), calls the kernel.
#pragma once

#include "../registry.h"

namespace pbn {
namespace driver {

// True if a gradient was NaN or +-Inf or a new weight is NaN (the update is written all the same).
bool optimizer_step(const Target& t, float* w, const float* g, float* m, float* v, std::size_t n, const OptimStep& s);

// Single-thread time of an update of n weights from memory, for the cost model.
double optimizer_step_ns(std::size_t n);

}  // namespace driver
}  // namespace pbn
