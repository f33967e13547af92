// The weight gradient of a layer with packed ±1 / ternary inputs fused into
// its optimizer update (pybind-free): dW = gt @ X, computed slice of rows by
// slice of rows into a per-thread buffer that stays in the core's L2, each
// slice applied to w, m, v at once (optimizer_step) and, optionally, the new
// rows' signs packed (pack_signs) while they are in cache. dW never reaches
// memory and the next forward need not read w to pack it: the same kernels,
// the same sums bit for bit (the transposed table kernel computes each 8-row
// pass alone), two fewer passes over the weights. Slices run in parallel, one
// thread each, instead of each call split over threads.
#pragma once

#include "../registry.h"
#include "../weight_matmul/driver.h"

namespace pbn {
namespace driver {

// gt: f rows of x.n floats (stride ldg); x: x.n packed rows of k (the layer's
// inputs); w, m, v: f x k, contiguous (m, v null where the optimizer keeps
// none); signs: null, or f rows of words_for(k) words for w's new signs.
// Returns true if the update was not finite (a gradient NaN or +-Inf, a new weight NaN) or a NaN was packed.
bool weight_grad_update(const Target& t, const float* gt, std::size_t ldg, const WeightBits& x, std::size_t k,
                        float* w, float* m, float* v, std::size_t f, const OptimStep& s, word_t* signs);

}  // namespace driver
}  // namespace pbn
