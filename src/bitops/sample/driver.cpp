#include "driver.h"

#include <atomic>

#include "../threads.h"

namespace pbn {
namespace driver {

namespace {
constexpr double kNsPerWeight = 0.5;  // cost model (threads.h): a hash and a compare per weight
constexpr double kNsPerDropout = 0.4;  // a hash per pair, a compare and a multiply per element
}

bool binarize(const Target& t, const float* w, std::size_t ldw, std::size_t rows, std::size_t k, float scale,
              bool stochastic, std::uint64_t seed, word_t* out) {
  binarize_fn* kernel = pbn::kernel<OpId::binarize>(t, {rows, 0, k});
  std::atomic<bool> ok{true};
  split_1d(int(OpId::binarize), rows, double(rows) * double(k) * kNsPerWeight, 1, [&](std::size_t r0, std::size_t r1) {
    if (!kernel(w, ldw, k, scale, stochastic, seed, out, r0, r1)) ok = false;
  });
  return ok;
}

bool ternarize(const Target& t, const float* w, std::size_t ldw, std::size_t rows, std::size_t k, float scale,
               bool stochastic, std::uint64_t seed, word_t* sign, word_t* nonzero) {
  ternarize_fn* kernel = pbn::kernel<OpId::ternarize>(t, {rows, 0, k});
  std::atomic<bool> ok{true};
  split_1d(int(OpId::ternarize), rows, double(rows) * double(k) * kNsPerWeight, 1, [&](std::size_t r0, std::size_t r1) {
    if (!kernel(w, ldw, k, scale, stochastic, seed, sign, nonzero, r0, r1)) ok = false;
  });
  return ok;
}

void dropout(const Target& t, const float* x, float* y, float* scale, std::size_t n, double p, std::uint64_t seed) {
  dropout_fn* kernel = pbn::kernel<OpId::dropout>(t, {0, 0, n});
  // numpy's rule, rounded alike: u >= p with p rounded to float32; mask / np.float32(1 - p)
  const float pf = float(p), keep_scale = 1.0f / float(1.0 - p);
  // chunks of whole pairs: one hash serves both elements of a pair
  split_1d(int(OpId::dropout), n, double(n) * kNsPerDropout, 16,
           [&](std::size_t i0, std::size_t i1) { kernel(x, y, scale, i0, i1, pf, keep_scale, seed); });
}

}  // namespace driver
}  // namespace pbn
