// The sign activation with the straight-through gate, compiled per ISA
// (ste_sign__<isa>.cpp), over elements [i0, i1) of a flat array (i0 a multiple
// of 64: whole gate words per chunk).
// Forward: y = -1 where x < 0, else +1 (sign(0) = +1; NaN -> +1, as np.where(x < 0, -1, 1));
// gate bit i = |x| <= 1 (inclusive) or |x| < 1 (exclusive); NaN -> 0. Bit i of
// word i / 64, the bit contract's order; bits past the last element are zero.
// Backward: dx = g * (gate ? 1 : 0): numpy's grad * mask, bit for bit (Inf or NaN
// times 0 is NaN, -g * 0 is -0).
#pragma once

#include "../kernels.h"

#define PBN_STE_SIGN_VARIANTS(isa)                                                                               \
  void ste_sign__##isa(const float* x, float* y, word_t* gate, std::size_t i0, std::size_t i1, bool inclusive) { \
    for (std::size_t w0 = i0; w0 < i1; w0 += 64) {                                                              \
      const std::size_t n = i1 - w0 < 64 ? i1 - w0 : 64;                                                        \
      const float* xw = x + w0;                                                                                 \
      float* yw = y + w0;                                                                                       \
      word_t bits = 0;                                                                                          \
      if (inclusive) {                                                                                          \
        for (std::size_t j = 0; j < n; ++j) bits |= word_t(xw[j] >= -1.0f && xw[j] <= 1.0f) << j;               \
      } else {                                                                                                  \
        for (std::size_t j = 0; j < n; ++j) bits |= word_t(xw[j] > -1.0f && xw[j] < 1.0f) << j;                 \
      }                                                                                                         \
      for (std::size_t j = 0; j < n; ++j) yw[j] = xw[j] < 0.0f ? -1.0f : 1.0f;                                  \
      gate[w0 / 64] = bits;                                                                                     \
    }                                                                                                           \
  }                                                                                                             \
  void ste_sign_backward__##isa(const float* g, const word_t* gate, float* dx, std::size_t i0, std::size_t i1) { \
    for (std::size_t w0 = i0; w0 < i1; w0 += 64) {                                                              \
      const std::size_t n = i1 - w0 < 64 ? i1 - w0 : 64;                                                        \
      const word_t bits = gate[w0 / 64];                                                                        \
      for (std::size_t j = 0; j < n; ++j) dx[w0 + j] = g[w0 + j] * float((bits >> j) & 1);                      \
    }                                                                                                           \
  }
