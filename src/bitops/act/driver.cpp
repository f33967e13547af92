#include "driver.h"

#include "../threads.h"

namespace pbn {
namespace driver {

namespace {
constexpr double kNsPerElement = 0.15;  // a read and a write per element (26 MB: ~4 ms on one core)
constexpr std::size_t kAlign = 64 * 16;  // whole gate words, whole cache lines of them
}  // namespace

void ste_sign(const Target& t, const float* x, float* y, word_t* gate, std::size_t n, bool inclusive) {
  ste_sign_fn* kernel = pbn::kernel<OpId::ste_sign>(t, {0, 0, n});
  split_1d(int(OpId::ste_sign), n, double(n) * kNsPerElement, kAlign,
           [&](std::size_t i0, std::size_t i1) { kernel(x, y, gate, i0, i1, inclusive); });
}

void ste_sign_backward(const Target& t, const float* g, const word_t* gate, float* dx, std::size_t n) {
  ste_sign_backward_fn* kernel = pbn::kernel<OpId::ste_sign_backward>(t, {0, 0, n});
  split_1d(int(OpId::ste_sign_backward), n, double(n) * kNsPerElement, kAlign,
           [&](std::size_t i0, std::size_t i1) { kernel(g, gate, dx, i0, i1); });
}

}  // namespace driver
}  // namespace pbn
