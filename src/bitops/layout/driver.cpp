#include "driver.h"

#include "../threads.h"

namespace pbn {
namespace driver {

namespace {
// Cost model (threads.h): a read and a write per element, cache-missing on both sides
// (51200 x 128: ~2.4 ms on one core, AVX-512).
constexpr double kNsPerElement = 0.35;
constexpr std::size_t kAlign = 16;  // whole tiles of the AVX-512 kernel, whole cache lines of out
}  // namespace

void transpose(const Target& t, const float* a, std::size_t lda, float* out, std::size_t ldo, std::size_t m,
               std::size_t n) {
  transpose_fn* kernel = pbn::kernel<OpId::transpose>(t, {m, n, 0});
  split_1d(int(OpId::transpose), m, double(m) * double(n) * kNsPerElement, kAlign,
           [&](std::size_t i0, std::size_t i1) { kernel(a, lda, out, ldo, n, i0, i1); });
}

}  // namespace driver
}  // namespace pbn
