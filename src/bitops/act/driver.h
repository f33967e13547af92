// The sign activation's driver (pybind-free): picks the variant (registry.h),
// splits the elements over threads in whole gate words (threads.h), calls the kernel.
#pragma once

#include "../registry.h"

namespace pbn {
namespace driver {

// y = sign(x) (+1 at 0), gate bits |x| <= 1 (or < 1) of n floats: gate holds words_for(n) words.
void ste_sign(const Target& t, const float* x, float* y, word_t* gate, std::size_t n, bool inclusive);

// dx = g * gate (0 or 1) of n floats.
void ste_sign_backward(const Target& t, const float* g, const word_t* gate, float* dx, std::size_t n);

}  // namespace driver
}  // namespace pbn
