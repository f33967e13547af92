// Inverted dropout (its rule: driver.h), written once as plain loops and
// compiled by each ISA's file (PBN_DROPOUT_VARIANT): a hash per pair of
// elements, then an integer compare and a multiply per element, without
// branches (a 50 % keep is a coin flip no predictor learns: a branch per
// element cost 8 ns). AVX-512's 64-bit multiply lets the compiler hash 8
// pairs at once.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>

#include "../kernels.h"
#include "counter_rng.h"

namespace pbn {
namespace {

// The 24-bit uniform (as an integer) of the even / odd element of draw d.
inline std::uint32_t u24_even(std::uint64_t d) { return std::uint32_t(d >> 40); }
inline std::uint32_t u24_odd(std::uint64_t d) { return std::uint32_t(d >> 16) & 0xFFFFFFu; }

inline float kept_scale(std::uint32_t u, std::uint32_t threshold, std::uint32_t keep_bits) {
  const std::uint32_t bits = keep_bits & (0u - std::uint32_t(u >= threshold));  // keep_scale or +0
  float s;
  std::memcpy(&s, &bits, 4);
  return s;
}

static void dropout_body(const float* x, float* y, float* scale, std::size_t i0, std::size_t i1, float p,
                         float keep_scale, std::uint64_t seed) {
  // u * 2**-24 >= p  <=>  u >= ceil(p * 2**24) (the product is exact: a power-of-two scaling)
  const std::uint32_t threshold = std::uint32_t(std::ceil(double(p) * 16777216.0));
  std::uint32_t keep_bits;
  std::memcpy(&keep_bits, &keep_scale, 4);
  std::size_t i = i0;
  if (i < i1 && (i & 1)) {  // an odd start: the second half of its pair
    scale[i] = kept_scale(u24_odd(counter_draw(seed, i / 2)), threshold, keep_bits);
    y[i] = x[i] * scale[i];
    ++i;
  }
  const std::size_t j0 = i / 2, j1 = i1 / 2;
  for (std::size_t j = j0; j < j1; ++j) {
    const std::uint64_t d = counter_draw(seed, j);
    const float se = kept_scale(u24_even(d), threshold, keep_bits), so = kept_scale(u24_odd(d), threshold, keep_bits);
    scale[2 * j] = se;
    scale[2 * j + 1] = so;
    y[2 * j] = x[2 * j] * se;
    y[2 * j + 1] = x[2 * j + 1] * so;
  }
  i = std::max(i, 2 * j1);
  if (i < i1) {  // an odd end: the first half of its pair
    scale[i] = kept_scale(u24_even(counter_draw(seed, i / 2)), threshold, keep_bits);
    y[i] = x[i] * scale[i];
  }
}

}  // namespace
}  // namespace pbn

#define PBN_DROPOUT_VARIANT(name)                                                                             \
  void name(const float* x, float* y, float* scale, std::size_t i0, std::size_t i1, float p, float keep_scale, \
            std::uint64_t seed) {                                                                             \
    dropout_body(x, y, scale, i0, i1, p, keep_scale, seed);                                                   \
  }
