// The training batch norm's row passes, compiled per ISA (batch_norm__<isa>.cpp)
// for a block of rows [r0, r1) and channels [c0, c1) (kernels.h):
// - the sums stage adds each channel's terms over the block's rows in row order,
//   in float64 (forward: the shifted x - x0 and its square, x0 the first row: no
//   cancellation for a large mean; backward: g and g * xhat);
// - the apply stage does the elementwise steps, each rounded to float32 as
//   numpy's passes (pybitnet/nn/norm.py) did: forward xhat = (x - mean) * inv,
//   y = xhat * gamma + beta; backward dx = (g - (xhat * a + c)) * scale.
// The driver (driver.cpp) cuts the rows into fixed blocks, adds the blocks' sums
// in block order and computes the per-channel statistics once: the result does
// not depend on the threads.
#pragma once

#include "../kernels.h"

// Channels per pass: the float64 sums of a pass (8 KB) stay in L1.
#define PBN_BN_BLOCK 512

namespace pbn {
namespace {

// The sums stage of channels [b0, b0 + nb) over rows [r0, r1), the reference: each channel's float64 terms
// added in row order (forward: d = x - x0 and d * d; backward: g and g * xhat), into sums[j] and sums[ld + j].
// An ISA file may define PBN_BN_TRAIN_SUMS before including this header to use its own forward sums, which
// must add the same terms in the same order (same bits).
inline void bn_train_sums_plain(const BatchNormTrainArgs& a, std::size_t r0, std::size_t r1, std::size_t b0,
                                std::size_t nb) {
  const std::size_t ld = a.ld;
  double s1[PBN_BN_BLOCK] = {}, s2[PBN_BN_BLOCK] = {};
  float x0[PBN_BN_BLOCK];
  for (std::size_t j = 0; j < nb; ++j) x0[j] = a.x0[b0 + j];
  for (std::size_t r = r0; r < r1; ++r) {
    const float* xr = a.x + r * ld + b0;
    for (std::size_t j = 0; j < nb; ++j) {
      const double d = double(xr[j]) - double(x0[j]);
      s1[j] += d;
      s2[j] += d * d;
    }
  }
  for (std::size_t j = 0; j < nb; ++j) a.sums[b0 + j] = s1[j], a.sums[ld + b0 + j] = s2[j];
}

inline void bn_backward_sums_plain(const BatchNormBackwardArgs& a, std::size_t r0, std::size_t r1, std::size_t b0,
                                   std::size_t nb) {
  const std::size_t ld = a.ld;
  double sg[PBN_BN_BLOCK] = {}, sgh[PBN_BN_BLOCK] = {};
  for (std::size_t r = r0; r < r1; ++r) {
    const float* gr = a.g + r * ld + b0;
    const float* hr = a.xhat + r * ld + b0;
    for (std::size_t j = 0; j < nb; ++j) {
      sg[j] += double(gr[j]);
      sgh[j] += double(gr[j]) * double(hr[j]);
    }
  }
  for (std::size_t j = 0; j < nb; ++j) a.sums[b0 + j] = sg[j], a.sums[ld + b0 + j] = sgh[j];
}

}  // namespace
}  // namespace pbn

#ifndef PBN_BN_TRAIN_SUMS
#define PBN_BN_TRAIN_SUMS bn_train_sums_plain
#endif

#define PBN_BATCH_NORM_VARIANTS(isa)                                                                           \
  void batch_norm_train__##isa(const BatchNormTrainArgs& a, std::size_t r0, std::size_t r1, std::size_t c0,    \
                               std::size_t c1) {                                                                \
    const std::size_t ld = a.ld;                                                                                \
    for (std::size_t b0 = c0; b0 < c1; b0 += PBN_BN_BLOCK) {                                                    \
      const std::size_t nb = c1 - b0 < PBN_BN_BLOCK ? c1 - b0 : PBN_BN_BLOCK;                                   \
      if (a.sums) {                                                                                             \
        PBN_BN_TRAIN_SUMS(a, r0, r1, b0, nb);                                                                   \
        continue;                                                                                               \
      }                                                                                                         \
      float mu[PBN_BN_BLOCK], is[PBN_BN_BLOCK], gamma[PBN_BN_BLOCK], beta[PBN_BN_BLOCK];                        \
      for (std::size_t j = 0; j < nb; ++j) /* locals: the stores below cannot alias them */                     \
        mu[j] = a.mean[b0 + j], is[j] = a.inv[b0 + j], gamma[j] = a.gamma[b0 + j], beta[j] = a.beta[b0 + j];    \
      const float* x = a.x;                                                                                     \
      float *xhat = a.xhat, *y = a.y;                                                                           \
      for (std::size_t r = r0; r < r1; ++r) {                                                                   \
        const float* xr = x + r * ld + b0;                                                                      \
        float* hr = xhat + r * ld + b0;                                                                         \
        float* yr = y + r * ld + b0;                                                                            \
        for (std::size_t j = 0; j < nb; ++j) {                                                                  \
          const float h = (xr[j] - mu[j]) * is[j];                                                              \
          hr[j] = h;                                                                                            \
          yr[j] = h * gamma[j] + beta[j];                                                                       \
        }                                                                                                       \
      }                                                                                                         \
    }                                                                                                           \
  }                                                                                                             \
  void batch_norm_backward__##isa(const BatchNormBackwardArgs& a, std::size_t r0, std::size_t r1,               \
                                  std::size_t c0, std::size_t c1) {                                             \
    const std::size_t ld = a.ld;                                                                                \
    for (std::size_t b0 = c0; b0 < c1; b0 += PBN_BN_BLOCK) {                                                    \
      const std::size_t nb = c1 - b0 < PBN_BN_BLOCK ? c1 - b0 : PBN_BN_BLOCK;                                   \
      if (a.sums) {                                                                                             \
        bn_backward_sums_plain(a, r0, r1, b0, nb);                                                                \
        continue;                                                                                               \
      }                                                                                                         \
      float ac[PBN_BN_BLOCK], cc[PBN_BN_BLOCK], sc[PBN_BN_BLOCK];                                               \
      for (std::size_t j = 0; j < nb; ++j) ac[j] = a.a[b0 + j], cc[j] = a.c[b0 + j], sc[j] = a.scale[b0 + j];   \
      const float *g = a.g, *xhat = a.xhat;                                                                     \
      float* dx = a.dx;                                                                                         \
      for (std::size_t r = r0; r < r1; ++r) {                                                                   \
        const float* gr = g + r * ld + b0;                                                                      \
        const float* hr = xhat + r * ld + b0;                                                                   \
        float* dr = dx + r * ld + b0;                                                                           \
        for (std::size_t j = 0; j < nb; ++j) dr[j] = (gr[j] - (hr[j] * ac[j] + cc[j])) * sc[j];                 \
      }                                                                                                         \
    }                                                                                                           \
  }
