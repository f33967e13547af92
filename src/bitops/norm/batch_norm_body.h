// The training batch norm of rows (rows, C), compiled per ISA
// (batch_norm_*__<isa>.cpp), over a range of channels [c0, c1): a channel's
// sums run over every row in row order, so the result does not depend on how
// the driver splits the channels over threads.
//
// Forward: per channel, the shifted sums S1 = sum(x - x0), S2 = sum((x - x0)^2)
// in float64 (x0 the first row: no cancellation for a large mean), then
// mean = float32(x0 + S1 / n) (the float64 mean, correctly rounded but for
// double-rounding ties), var = float32(S2 / n - (S1 / n)^2) (biased),
// inv = 1 / sqrt(var + eps) in float32 (what numpy computes from var), then per
// element xhat = (x - mean) * inv and y = xhat * gamma + beta, each operation
// rounded to float32 as numpy's elementwise passes do.
// Backward: dgamma = sum(g * xhat), dbeta = sum(g) (float64, rounded once), then
// dx = (g - (xhat * (dgamma / n) + dbeta / n)) * scale, each step rounded to
// float32 (the order of the numpy passes in pybitnet/nn/norm.py).
#pragma once

#include <cmath>

#include "../kernels.h"

// Channels per block: whole rows of a conv layer (<= 512 channels) stream by once per pass, and the
// float64 sums of a block (8 KB) stay in L1.
#define PBN_BN_BLOCK 512

#define PBN_BATCH_NORM_VARIANTS(isa)                                                                           \
  void batch_norm_train__##isa(const float* x, std::size_t rows, std::size_t ld, const float* gamma,           \
                               const float* beta, float eps, float* y, float* xhat, float* mean, float* var,     \
                               float* inv, std::size_t c0, std::size_t c1) {                                    \
    for (std::size_t b0 = c0; b0 < c1; b0 += PBN_BN_BLOCK) {                                                    \
      const std::size_t nb = c1 - b0 < PBN_BN_BLOCK ? c1 - b0 : PBN_BN_BLOCK;                                   \
      double s1[PBN_BN_BLOCK] = {}, s2[PBN_BN_BLOCK] = {};                                                      \
      float x0[PBN_BN_BLOCK], mu[PBN_BN_BLOCK], is[PBN_BN_BLOCK];                                               \
      for (std::size_t j = 0; j < nb; ++j) x0[j] = x[b0 + j];                                                   \
      for (std::size_t r = 0; r < rows; ++r) {                                                                  \
        const float* xr = x + r * ld + b0;                                                                      \
        for (std::size_t j = 0; j < nb; ++j) {                                                                  \
          const double d = double(xr[j]) - double(x0[j]);                                                       \
          s1[j] += d;                                                                                           \
          s2[j] += d * d;                                                                                       \
        }                                                                                                       \
      }                                                                                                         \
      const double n = double(rows);                                                                            \
      for (std::size_t j = 0; j < nb; ++j) {                                                                    \
        const double m1 = s1[j] / n, v = s2[j] / n - m1 * m1;                                                   \
        mu[j] = float(double(x0[j]) + m1);                                                                      \
        const float vf = float(v > 0.0 ? v : 0.0);                                                              \
        is[j] = 1.0f / std::sqrt(vf + eps);                                                                     \
        mean[b0 + j] = mu[j];                                                                                   \
        var[b0 + j] = vf;                                                                                       \
        inv[b0 + j] = is[j];                                                                                    \
      }                                                                                                         \
      for (std::size_t r = 0; r < rows; ++r) {                                                                  \
        const float* xr = x + r * ld + b0;                                                                      \
        float* hr = xhat + r * ld + b0;                                                                         \
        float* yr = y + r * ld + b0;                                                                            \
        for (std::size_t j = 0; j < nb; ++j) {                                                                  \
          const float h = (xr[j] - mu[j]) * is[j];                                                              \
          hr[j] = h;                                                                                            \
          yr[j] = h * gamma[b0 + j] + beta[b0 + j];                                                             \
        }                                                                                                       \
      }                                                                                                         \
    }                                                                                                           \
  }                                                                                                             \
  void batch_norm_backward__##isa(const float* g, const float* xhat, std::size_t rows, std::size_t ld,          \
                                  const float* scale, float* dgamma, float* dbeta, float* dx, std::size_t c0,   \
                                  std::size_t c1) {                                                             \
    for (std::size_t b0 = c0; b0 < c1; b0 += PBN_BN_BLOCK) {                                                    \
      const std::size_t nb = c1 - b0 < PBN_BN_BLOCK ? c1 - b0 : PBN_BN_BLOCK;                                   \
      double sg[PBN_BN_BLOCK] = {}, sgh[PBN_BN_BLOCK] = {};                                                     \
      float a[PBN_BN_BLOCK], c[PBN_BN_BLOCK];                                                                   \
      for (std::size_t r = 0; r < rows; ++r) {                                                                  \
        const float* gr = g + r * ld + b0;                                                                      \
        const float* hr = xhat + r * ld + b0;                                                                   \
        for (std::size_t j = 0; j < nb; ++j) {                                                                  \
          sg[j] += double(gr[j]);                                                                               \
          sgh[j] += double(gr[j]) * double(hr[j]);                                                              \
        }                                                                                                       \
      }                                                                                                         \
      const float n = float(rows);                                                                              \
      for (std::size_t j = 0; j < nb; ++j) {                                                                    \
        dgamma[b0 + j] = float(sgh[j]);                                                                         \
        dbeta[b0 + j] = float(sg[j]);                                                                           \
        a[j] = float(sgh[j]) / n;                                                                               \
        c[j] = float(sg[j]) / n;                                                                                \
      }                                                                                                         \
      if (!dx) continue;                                                                                        \
      for (std::size_t r = 0; r < rows; ++r) {                                                                  \
        const float* gr = g + r * ld + b0;                                                                      \
        const float* hr = xhat + r * ld + b0;                                                                   \
        float* dr = dx + r * ld + b0;                                                                           \
        for (std::size_t j = 0; j < nb; ++j) dr[j] = (gr[j] - (hr[j] * a[j] + c[j])) * scale[b0 + j];          \
      }                                                                                                         \
    }                                                                                                           \
  }
