#include "driver.h"

#include <cmath>
#include <vector>

#include "../threads.h"

namespace pbn {
namespace driver {

namespace {
// Cost model (threads.h): ns per element of each array a stage streams, on one core (Zen 5, 51200 x 128 from
// DRAM: train 4.5 ms for 4 streams, backward 4.8 ms for 5). Each stage is estimated by its own streams (train:
// sums 1, apply 3; backward: sums 2, apply 3), so a stage's wall time per estimated ns is the same for both and
// the pool's measurements of one stage are a fair guide for the other.
constexpr double kNsPerElementStream = 0.16;
double stage_ns(std::size_t rows, std::size_t c, double streams) {
  return double(rows) * double(c) * streams * kNsPerElementStream;
}
// Rows per block of sums: fixed (not per thread), so the blocks and the order their sums are added in, hence
// the result, do not depend on the threads. A block of fewer rows than this (every MLP batch) sums its rows
// in order, as one pass did.
constexpr std::size_t kRowBlock = 1024;
// Channel chunks at whole passes of the body (PBN_BN_BLOCK) for the sums; the apply stage at whole vectors.
constexpr Cut kSumsCut{1, 512, true};
constexpr Cut kApplyCut{1, 16, true};

std::size_t blocks_of(std::size_t rows) { return (rows + kRowBlock - 1) / kRowBlock; }

// The sums stage: `kernel` on every block of rows (its own partial sums, 2 * c doubles) x channel chunk.
template <class Args, class Kernel>
std::vector<double> block_sums(int key, Kernel* kernel, const Args& a, std::size_t rows, std::size_t c,
                               double streams) {
  std::vector<double> part(blocks_of(rows) * 2 * c);
  split_2d(key, blocks_of(rows), c, stage_ns(rows, c, streams), kSumsCut,
           [&](std::size_t b0, std::size_t b1, std::size_t c0, std::size_t c1) {
             for (std::size_t b = b0; b < b1; ++b) {
               Args ab = a;
               ab.sums = part.data() + b * 2 * c;
               kernel(ab, b * kRowBlock, std::min(rows, (b + 1) * kRowBlock), c0, c1);
             }
           });
  return part;
}

// Channel j's two sums over all rows: the blocks' partial sums added in block order.
void add_blocks(const std::vector<double>& part, std::size_t blocks, std::size_t c, std::size_t j, double* s1,
                double* s2) {
  *s1 = part[j], *s2 = part[c + j];
  for (std::size_t b = 1; b < blocks; ++b) *s1 += part[b * 2 * c + j], *s2 += part[b * 2 * c + c + j];
}
}  // namespace

void batch_norm_train(const Target& t, const float* x, std::size_t rows, std::size_t c, const float* gamma,
                      const float* beta, float eps, float* y, float* xhat, float* mean, float* var, float* inv) {
  batch_norm_train_fn* kernel = pbn::kernel<OpId::batch_norm_train>(t, {rows, 0, c});
  const std::size_t blocks = blocks_of(rows);
  const BatchNormTrainArgs a{x, c, x, nullptr, mean, inv, gamma, beta, y, xhat};
  const std::vector<double> part = block_sums(int(OpId::batch_norm_train), kernel, a, rows, c, 1);
  // mean = float32(x0 + S1 / n) (the float64 mean, correctly rounded but for double-rounding ties),
  // var = float32(S2 / n - (S1 / n)^2) (biased), inv = 1 / sqrt(var + eps) in float32 (numpy's from var)
  const double n = double(rows);
  for (std::size_t j = 0; j < c; ++j) {
    double s1, s2;
    add_blocks(part, blocks, c, j, &s1, &s2);
    const double m1 = s1 / n, v = s2 / n - m1 * m1;
    mean[j] = float(double(x[j]) + m1);
    var[j] = float(v > 0.0 ? v : 0.0);
    inv[j] = 1.0f / std::sqrt(var[j] + eps);
  }
  split_2d(int(OpId::batch_norm_train), rows, c, stage_ns(rows, c, 3), kApplyCut,
           [&](std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1) { kernel(a, r0, r1, c0, c1); });
}

void batch_norm_backward(const Target& t, const float* g, const float* xhat, std::size_t rows, std::size_t c,
                         const float* scale, float* dgamma, float* dbeta, float* dx) {
  batch_norm_backward_fn* kernel = pbn::kernel<OpId::batch_norm_backward>(t, {rows, 0, c});
  const std::size_t blocks = blocks_of(rows);
  std::vector<float> ac(c), cc(c);
  const BatchNormBackwardArgs a{g, xhat, c, nullptr, ac.data(), cc.data(), scale, dx};
  const std::vector<double> part = block_sums(int(OpId::batch_norm_backward), kernel, a, rows, c, 2);
  const float n = float(rows);
  for (std::size_t j = 0; j < c; ++j) {  // dgamma = sum(g * xhat), dbeta = sum(g): float64, rounded once
    double sg, sgh;
    add_blocks(part, blocks, c, j, &sg, &sgh);
    dgamma[j] = float(sgh);
    dbeta[j] = float(sg);
    ac[j] = dgamma[j] / n;
    cc[j] = dbeta[j] / n;
  }
  if (!dx) return;
  split_2d(int(OpId::batch_norm_backward), rows, c, stage_ns(rows, c, 3), kApplyCut,
           [&](std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1) { kernel(a, r0, r1, c0, c1); });
}

}  // namespace driver
}  // namespace pbn
