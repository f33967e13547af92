#include "driver.h"

#include "../threads.h"

namespace pbn {
namespace driver {

namespace {
// Cost model (threads.h): ns per element on one core (two passes over memory).
constexpr double kNsPerElement = 0.5;
constexpr std::size_t kAlign = 512;  // whole blocks of channels (batch_norm_body.h): rows of <= 512 channels stay on one thread
}  // namespace

void batch_norm_train(const Target& t, const float* x, std::size_t rows, std::size_t c, const float* gamma,
                      const float* beta, float eps, float* y, float* xhat, float* mean, float* var, float* inv) {
  batch_norm_train_fn* kernel = pbn::kernel<OpId::batch_norm_train>(t, {rows, 0, c});
  split_1d(int(OpId::batch_norm_train), c, double(rows) * double(c) * kNsPerElement, kAlign,
           [&](std::size_t c0, std::size_t c1) { kernel(x, rows, c, gamma, beta, eps, y, xhat, mean, var, inv, c0, c1); });
}

void batch_norm_backward(const Target& t, const float* g, const float* xhat, std::size_t rows, std::size_t c,
                         const float* scale, float* dgamma, float* dbeta, float* dx) {
  batch_norm_backward_fn* kernel = pbn::kernel<OpId::batch_norm_backward>(t, {rows, 0, c});
  split_1d(int(OpId::batch_norm_backward), c, double(rows) * double(c) * kNsPerElement, kAlign,
           [&](std::size_t c0, std::size_t c1) { kernel(g, xhat, rows, c, scale, dgamma, dbeta, dx, c0, c1); });
}

}  // namespace driver
}  // namespace pbn
