// Reference of the first conv layer: one pixel at a time with the filters
// innermost, summing in tap order as kernels.h specifies.
#include "taps.h"

namespace pbn {

void first_conv_threshold__scalar(const float* x, const ConvShape& s, const word_t* wpos, std::size_t ldw,
                                  std::size_t n, const float* thresholds, const word_t* flips, word_t* out,
                                  std::size_t ldo, std::size_t r0, std::size_t r1) {
  float pos[kFirstConvMaxFilters];
  const std::size_t out_words = words_for(n);
  for (std::size_t r = r0; r < r1; ++r) {
    for (std::size_t f = 0; f < n; ++f) pos[f] = 0.0f;
    float all = 0.0f;
    for_each_tap(x, s, r, [&](const float* px, std::size_t j) {
      for (std::size_t ch = 0; ch < s.words; ++ch) {
        const word_t* plus = wpos + (j + ch) * ldw;
        const float xv = px[ch];
        all += xv;
        for (std::size_t f = 0; f < n; ++f)
          if ((plus[f / 64] >> (f % 64)) & 1) pos[f] += xv;
      }
    });
    word_t* o = out + r * ldo;
    for (std::size_t q = 0; q < out_words; ++q) o[q] = 0;
    for (std::size_t f = 0; f < n; ++f) {
      const float y = (pos[f] + pos[f]) - all;
      const bool flip = (flips[f / 64] >> (f % 64)) & 1;
      const bool negative = flip ? y > thresholds[f] : y < thresholds[f];
      o[f / 64] |= word_t(negative) << (f % 64);
    }
  }
}

}  // namespace pbn
