// bitplane_combine (kernels.h), written once as plain loops and compiled by each ISA's file
// (PBN_BITPLANE_COMBINE_VARIANT), which the compiler vectorizes with that file's flags. The
// shifts are on uint32: a left shift of a negative int32 is undefined in C++17, and the bits
// are the same.
#pragma once

#include <cstdint>

#include "../kernels.h"

namespace pbn {
namespace {

static void bitplane_combine_body(const std::int32_t* c, std::size_t ldc, std::size_t plane_stride,
                                  const std::int32_t* w_sums, std::int32_t* out, std::size_t ldo, std::size_t rows,
                                  std::size_t cols) {
  for (std::size_t i = 0; i < rows; ++i) {
    const std::int32_t* ci = c + i * ldc;
    std::int32_t* oi = out + i * ldo;
    for (std::size_t j = 0; j < cols; ++j) {
      const std::uint32_t ws = std::uint32_t(w_sums[j]);
      std::uint32_t s = (ws << 8) - ws;  // 255 * sum(w)
      for (std::size_t p = 0; p < 8; ++p) s += std::uint32_t(ci[p * plane_stride + j]) << p;
      oi[j] = std::int32_t(s) >> 1;  // exact: the sum is even (x . w = (s) / 2)
    }
  }
}

}  // namespace
}  // namespace pbn

#define PBN_BITPLANE_COMBINE_VARIANT(name)                                                                     \
  void name(const std::int32_t* c, std::size_t ldc, std::size_t plane_stride, const std::int32_t* w_sums,      \
            std::int32_t* out, std::size_t ldo, std::size_t rows, std::size_t cols) {                          \
    bitplane_combine_body(c, ldc, plane_stride, w_sums, out, ldo, rows, cols);                                \
  }
