// The samplers (their rules: driver.h): one portable implementation each.
#include "../kernels.h"
#include "counter_rng.h"

namespace pbn {
namespace {

inline float clip01(float v) { return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v); }

}  // namespace

bool binarize__scalar(const float* w, std::size_t ldw, std::size_t k, float scale, bool stochastic,
                   std::uint64_t seed, word_t* out, std::size_t r0, std::size_t r1) {
  const std::size_t words = words_for(k);
  bool nan = false;
  for (std::size_t r = r0; r < r1; ++r) {
    for (std::size_t q = 0; q < words; ++q) {
      word_t bits = 0;
      for (std::size_t b = 0; b < kWordBits && q * kWordBits + b < k; ++b) {
        const std::size_t c = q * kWordBits + b;
        const float v = w[r * ldw + c];
        nan |= v != v;
        bool neg;
        if (stochastic) {
          const float p_plus = clip01((v / scale + 1.0f) * 0.5f);
          neg = !(uniform24(seed, std::uint64_t(r) * k + c) < p_plus);
        } else {
          neg = v < 0.0f;
        }
        bits |= word_t(neg) << b;
      }
      out[r * words + q] = bits;
    }
  }
  return !nan;
}

bool ternarize__scalar(const float* w, std::size_t ldw, std::size_t k, float scale, bool stochastic,
                    std::uint64_t seed, word_t* sign, word_t* nonzero, std::size_t r0, std::size_t r1) {
  const std::size_t words = words_for(k);
  bool nan = false;
  for (std::size_t r = r0; r < r1; ++r) {
    for (std::size_t q = 0; q < words; ++q) {
      word_t s_bits = 0, nz_bits = 0;
      for (std::size_t b = 0; b < kWordBits && q * kWordBits + b < k; ++b) {
        const std::size_t c = q * kWordBits + b;
        const float v = w[r * ldw + c];
        nan |= v != v;
        const float mag = (v < 0.0f ? -v : v) / scale;
        const bool nz = stochastic ? uniform24(seed, std::uint64_t(r) * k + c) < clip01(mag) : mag > 0.5f;
        nz_bits |= word_t(nz) << b;
        s_bits |= word_t(nz && v < 0.0f) << b;
      }
      sign[r * words + q] = s_bits;
      nonzero[r * words + q] = nz_bits;
    }
  }
  return !nan;
}

}  // namespace pbn
