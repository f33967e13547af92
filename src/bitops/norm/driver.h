// The training batch norm's driver (pybind-free): picks the variant
// (registry.h), sums fixed blocks of rows over threads (threads.h), adds the
// blocks' sums in block order (the result does not depend on the threads),
// computes the per-channel statistics, then splits the elementwise pass.
#pragma once

#include "../registry.h"

namespace pbn {
namespace driver {

// x (rows, c) C-contiguous -> y, xhat (rows, c); mean, var, inv (c).
void batch_norm_train(const Target& t, const float* x, std::size_t rows, std::size_t c, const float* gamma,
                      const float* beta, float eps, float* y, float* xhat, float* mean, float* var, float* inv);

// g, xhat (rows, c) -> dgamma, dbeta (c) and, when dx is not null, dx (rows, c).
void batch_norm_backward(const Target& t, const float* g, const float* xhat, std::size_t rows, std::size_t c,
                         const float* scale, float* dgamma, float* dbeta, float* dx);

}  // namespace driver
}  // namespace pbn
