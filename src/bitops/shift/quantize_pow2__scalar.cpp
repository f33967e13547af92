// Scalar reference of the power-of-two quantizer: pow2_encode per element.
#include "../kernels.h"
#include "pow2_code.h"

namespace pbn {

bool quantize_pow2__scalar(const float* x, std::int8_t* codes, std::size_t i0, std::size_t i1, bool stochastic,
                           int lo, int hi, std::uint64_t seed) {
  const Pow2Key key = pow2_key(seed);
  bool nan = false;
  for (std::size_t i = i0; i < i1; ++i) {
    codes[i] = pow2_encode(x[i], stochastic, lo, hi, key, i);
    nan |= codes[i] == kPow2Invalid;
  }
  return nan;
}

}  // namespace pbn
