// Reference of pack_scaled_ternary: element by element, sign and nonzero bits
// of x where |x| == s or x == 0; anything else (another magnitude, NaN) flagged.
#include "../kernels.h"

namespace pbn {

unsigned pack_scaled_ternary__scalar(const float* x, std::size_t k, float s, word_t* signs, word_t* nonzero,
                                     std::size_t r0, std::size_t r1) {
  const std::size_t words = words_for(k);
  unsigned flags = 0;
  for (std::size_t r = r0; r < r1; ++r)
    for (std::size_t w = 0; w < words; ++w) {
      word_t neg = 0, nz = 0;
      for (std::size_t b = 0; b < 64 && w * 64 + b < k; ++b) {
        const float v = x[r * k + w * 64 + b];
        if (v == 0.0f) {
          flags |= kHasZero;
          continue;
        }
        if (!(v == s || v == -s)) flags |= kOtherValue;
        nz |= word_t(1) << b;
        neg |= word_t(v < 0.0f) << b;
      }
      signs[r * words + w] = neg;
      nonzero[r * words + w] = nz;
    }
  return flags;
}

}  // namespace pbn
