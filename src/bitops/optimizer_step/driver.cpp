#include "driver.h"

#include <atomic>

#include "../threads.h"

namespace pbn {
namespace driver {

namespace {
// Cost model (threads.h): Adam ~0.25 ns per weight in cache (256K: 0.065 ms), ~0.6 from memory (16M: 10 ms).
constexpr double kNsPerElement = 0.6;
constexpr std::size_t kAlign = 16;  // whole vectors per chunk
}  // namespace

double optimizer_step_ns(std::size_t n) { return double(n) * kNsPerElement; }

bool optimizer_step(const Target& t, float* w, const float* g, float* m, float* v, std::size_t n, const OptimStep& s) {
  optimizer_step_fn* kernel = pbn::kernel<OpId::optimizer_step>(t, {0, 0, n});
  std::atomic<bool> bad{false};
  split_1d(int(OpId::optimizer_step), n, optimizer_step_ns(n), kAlign, [&](std::size_t i0, std::size_t i1) {
    if (kernel(w, g, m, v, i0, i1, s)) bad = true;
  });
  return bad;
}

}  // namespace driver
}  // namespace pbn
