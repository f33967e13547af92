#include "driver.h"

#include <atomic>

#include "../threads.h"

namespace pbn {
namespace driver {

namespace {
// Cost model (threads.h): 4096 x 4096 float32 (64 MiB read) packs in ~3 ms on one core (read ceiling ~2).
constexpr double kNsPerElement = 0.18;
}  // namespace

bool pack_signs(const Target& t, const void* x, DType dtype, std::size_t outer, std::size_t k, std::size_t inner,
                word_t* out) {
  pack_signs_fn* kernel = pbn::kernel<OpId::pack_signs>(t, {outer, inner, k});
  std::atomic<bool> nan{false};
  // Outer rows first; else inner columns in whole cache lines of output words.
  split_2d(int(OpId::pack_signs), outer, inner, double(outer) * double(k) * double(inner) * kNsPerElement, Cut{1, 8, true},
           [&](std::size_t o0, std::size_t o1, std::size_t i0, std::size_t i1) {
             if (kernel(x, dtype, outer, k, inner, out, o0, o1, i0, i1)) nan = true;
           });
  return nan;
}

}  // namespace driver
}  // namespace pbn
