#include "driver.h"

#include <atomic>

#include "../threads.h"

namespace pbn {
namespace driver {

namespace {
constexpr double kNsPerWeight = 0.5;  // cost model (threads.h): a hash and a compare per weight
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

}  // namespace driver
}  // namespace pbn
