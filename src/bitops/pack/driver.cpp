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

ScaledTernary pack_scaled_ternary(const Target& t, const float* x, std::size_t rows, std::size_t k, word_t* signs,
                                  word_t* nonzero) {
  ScaledTernary out;
  const std::size_t n = rows * k;
  std::size_t first = 0;
  while (first < n && x[first] == 0.0f) ++first;  // usually element 0 (dropout zeros are a fraction)
  if (first < n) out.s = x[first] < 0.0f ? -x[first] : x[first];  // NaN stays NaN: flagged below
  pack_scaled_ternary_fn* kernel = pbn::kernel<OpId::pack_scaled_ternary>(t, {rows, 0, k});
  std::atomic<unsigned> flags{first > 0 ? kHasZero : 0u};
  split_1d(int(OpId::pack_scaled_ternary), rows, double(n) * kNsPerElement, 1, [&](std::size_t r0, std::size_t r1) {
    flags |= kernel(x, k, out.s, signs, nonzero, r0, r1);
  });
  out.flags = flags;
  return out;
}

void pack_bit_planes(const Target& t, const std::uint8_t* x, std::size_t rows, std::size_t k, word_t* out) {
  pack_bit_planes_fn* kernel = pbn::kernel<OpId::pack_bit_planes>(t, {rows, 0, k});
  const std::size_t words = words_for(k);
  // Each pixel is read once and 8 bits written: cheaper per element than pack_signs' float.
  split_1d(int(OpId::pack_bit_planes), rows, double(rows) * double(k) * kNsPerElement, 1,
           [&](std::size_t r0, std::size_t r1) {
             kernel(x + r0 * k, k, r1 - r0, k, out + r0 * words, words, rows * words);
           });
}

}  // namespace driver
}  // namespace pbn
