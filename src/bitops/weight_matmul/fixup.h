// Fix-ups that keep the weight matmuls' NaN/Inf behaviour that of the float
// product.
//
// Exact-order fallback for the binary-weight SIMD kernels.
//
// Those kernels use sum_c s_c x_c = sum_c x_c - 2 * sum_{s_c = -1} x_c, which
// differs from the float product when a partial sum is not finite: +Inf at a
// -1 weight gives Inf - 2*Inf = NaN where the product gives -Inf, and a row sum
// can overflow where +x - x cancels. Any such row ends with a non-finite
// output (Inf never turns finite again), so after the fast pass the rows with a
// non-finite output are recomputed here, term by term, with the float
// product's semantics. Finite rows are untouched. Everything is internal
// (anonymous namespace), so no copy compiled with ISA flags leaks to the linker.
#pragma once

#include <cstring>

#include "../bits.h"

namespace pbn {
namespace {

inline bool is_finite_f32(float v) {
  std::uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  return (u & 0x7f800000u) != 0x7f800000u;
}

inline bool bit_at(const word_t* row, std::size_t c) { return (row[c / kWordBits] >> (c % kWordBits)) & 1; }

// The largest exponent field of the row, so the loop vectorizes (a bool `&=` did not: this scan
// was 60% of binary_weight_matmul_t at 4096x4x4096).
inline bool row_finite(const float* v, std::size_t len) {
  std::uint32_t top = 0;
  for (std::size_t q = 0; q < len; ++q) {
    std::uint32_t u;
    std::memcpy(&u, v + q, sizeof u);
    u &= 0x7f800000u;
    top = u > top ? u : top;
  }
  return top != 0x7f800000u;
}

// y[i, j] = sum_c +-x[i, c] over rows i < m whose outputs are not all finite.
inline void fix_nonfinite_forward(const float* x, std::size_t ldx, const word_t* s, std::size_t lds, float* y,
                                  std::size_t ldy, std::size_t m, std::size_t n, std::size_t k) {
  for (std::size_t i = 0; i < m; ++i) {
    if (row_finite(y + i * ldy, n)) continue;
    for (std::size_t j = 0; j < n; ++j) {
      float acc = 0.0f;
      for (std::size_t c = 0; c < k; ++c)
        acc = bit_at(s + j * lds, c) ? acc - x[i * ldx + c] : acc + x[i * ldx + c];
      y[i * ldy + j] = acc;
    }
  }
}

// z[i, c] = sum_j +-g[i, j] over rows i < m whose outputs are not all finite; with `nz`
// (ternary weights) the terms of zero weights are skipped.
inline void fix_nonfinite_transposed(const float* g, std::size_t ldg, const word_t* s, std::size_t lds, float* z,
                                     std::size_t ldz, std::size_t m, std::size_t n, std::size_t k,
                                     const word_t* nz = nullptr, std::size_t ldnz = 0) {
  for (std::size_t i = 0; i < m; ++i) {
    if (row_finite(z + i * ldz, k)) continue;
    for (std::size_t c = 0; c < k; ++c) z[i * ldz + c] = 0.0f;
    for (std::size_t j = 0; j < n; ++j) {
      const float v = g[i * ldg + j];
      for (std::size_t c = 0; c < k; ++c) {
        if (nz && !bit_at(nz + j * ldnz, c)) continue;
        z[i * ldz + c] = bit_at(s + j * lds, c) ? z[i * ldz + c] - v : z[i * ldz + c] + v;
      }
    }
  }
}

// Ternary kernels skip zero weights, but in the float product 0 * Inf and
// 0 * NaN are NaN. Rows of x holding a non-finite value get NaN wherever such a
// value meets a zero weight; finite rows (the normal case) cost one scan of x.
inline void fix_zero_weights_forward(const float* x, std::size_t ldx, const word_t* nz, std::size_t ldnz, float* y,
                                     std::size_t ldy, std::size_t m, std::size_t n, std::size_t k) {
  for (std::size_t i = 0; i < m; ++i) {
    if (row_finite(x + i * ldx, k)) continue;
    for (std::size_t j = 0; j < n; ++j)
      for (std::size_t c = 0; c < k; ++c)
        if (!is_finite_f32(x[i * ldx + c]) && !bit_at(nz + j * ldnz, c)) {
          y[i * ldy + j] = __builtin_nanf("");
          break;
        }
  }
}

inline void fix_zero_weights_transposed(const float* g, std::size_t ldg, const word_t* nz, std::size_t ldnz,
                                        float* z, std::size_t ldz, std::size_t m, std::size_t n, std::size_t k) {
  for (std::size_t i = 0; i < m; ++i) {
    if (row_finite(g + i * ldg, n)) continue;
    for (std::size_t j = 0; j < n; ++j) {
      if (is_finite_f32(g[i * ldg + j])) continue;
      for (std::size_t c = 0; c < k; ++c)
        if (!bit_at(nz + j * ldnz, c)) z[i * ldz + c] = __builtin_nanf("");
    }
  }
}

}  // namespace
}  // namespace pbn
