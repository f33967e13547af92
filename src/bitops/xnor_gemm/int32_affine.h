// The SIMD body of int32_affine (kernels.h), for S = Avx2 or Avx512
// (simd/*.h): each int32 lane converted, multiplied by the scale, then the
// bias added, as two rounded float ops (no FMA: the bits of numpy's
// astype(float32), * scale, += bias), stored as float over the int32 it read.
// Include only in the matching ISA's file.
#pragma once

#include "../kernels.h"

namespace pbn {
namespace {

template <class S, bool kScaled>
PBN_INLINE typename S::Vec affine_lanes(typename S::VecI c, typename S::Vec scale, const float* bias, std::size_t j,
                                        std::size_t n) {
  typename S::Vec y = S::as_float(S::float_bits_of(c));
  if (kScaled) y = S::mul(y, scale);
  if (bias) y = S::add(y, n == std::size_t(S::kLanes) ? S::load(bias + j) : S::load_tail(bias + j, n));
  return y;
}

template <class S, bool kScaled>
void int32_affine_rows(std::int32_t* c, std::size_t ldc, std::size_t rows, std::size_t cols, float scale,
                       const float* bias) {
  const typename S::Vec s = S::set1(scale);
  constexpr std::size_t kLanes = S::kLanes;
  for (std::size_t i = 0; i < rows; ++i) {
    std::int32_t* row = c + i * ldc;
    std::size_t j = 0;
    for (; j + kLanes <= cols; j += kLanes)
      S::store(reinterpret_cast<float*>(row + j), affine_lanes<S, kScaled>(S::load_i(row + j), s, bias, j, kLanes));
    if (j < cols) {
      const std::size_t n = cols - j;
      S::store_tail(reinterpret_cast<float*>(row + j),
                    affine_lanes<S, kScaled>(S::load_i(row + j, S::lanes((long long)n)), s, bias, j, n), n);
    }
  }
}

// A scale of 1 is not multiplied by (the same bits; the op counts say no multiplication).
template <class S>
void int32_affine_simd(std::int32_t* c, std::size_t ldc, std::size_t rows, std::size_t cols, float scale,
                       const float* bias) {
  if (scale == 1.0f)
    int32_affine_rows<S, false>(c, ldc, rows, cols, scale, bias);
  else
    int32_affine_rows<S, true>(c, ldc, rows, cols, scale, bias);
}

}  // namespace
}  // namespace pbn
